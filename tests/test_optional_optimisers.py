"""The optional optimisers (Nevergrad, SMAC3, Keras Tuner): their space translations on every
shipped model space, and the refusal of a study whose extra is missing or whose options are wrong.
Their search behaviour is checked by tests/test_conformance.py and tests/test_native.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

# Imported before a test hides a library, so that they bind it where it is installed.
from adapters import kerastuner_search, nevergrad_search, smac_search
from harness.engine.asktell import SearchHandle
from harness.problem.space import SearchSpace
from tests.helpers import ROOT, assert_refused, run_inline

MODELS = sorted((ROOT / "conf" / "model").glob("*.yaml"))
DRAWS = 40


def _space(path: Path) -> SearchSpace:
    space = OmegaConf.to_container(OmegaConf.load(path).space, resolve=True)
    return SearchSpace.from_config(space, str(path))


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_configspace_keeps_every_shipped_space(path: Path) -> None:
    pytest.importorskip("smac", reason="the smac extra is not installed")
    space = _space(path)
    cs = smac_search.configspace(space, seed=0)
    assert set(cs) == set(space.names)
    for p in space.params:
        hp = cs[p.name]
        if p.type == "categorical":
            assert list(hp.choices) == list(p.choices)
        else:
            assert (hp.lower, hp.upper, hp.log) == (p.low, p.high, p.log)
        assert {parent.name for parent in cs.parents_of[p.name]} == set(p.condition)
    for config in cs.sample_configuration(DRAWS):
        assert space.validate_config(dict(config)) == []


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_nevergrad_space_keeps_every_shipped_space(path: Path) -> None:
    ng = pytest.importorskip("nevergrad", reason="the nevergrad extra is not installed")
    space = _space(path)
    parametrization = nevergrad_search.nevergrad_space(space)
    parametrization.random_state.seed(0)
    optimizer = ng.optimizers.RandomSearch(parametrization=parametrization, budget=DRAWS)
    configs = [nevergrad_search.flat(optimizer.ask().value, space) for _ in range(DRAWS)]
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:  # every choice is drawn, and the numbers span their range
        values = [c[p.name] for c in configs if p.name in c]
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
        else:
            assert min(values) < p.low + (p.high - p.low) / 2 < max(values) or p.log


@pytest.mark.parametrize(
    ("strategy", "module", "extra"),
    [
        ("ng_ngopt", "nevergrad", "nevergrad"),
        ("smac", "smac", "smac"),
        ("kt_bayes", "keras_tuner", "kerastuner"),
        ("kt_hyperband", "jax", "kerastuner"),  # Keras's numpy backend imports it
    ],
)
def test_a_missing_extra_stops_the_study_with_its_install_command(
    strategy: str, module: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    done = run_inline(f"strategy={strategy}", "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, f'pip install -e ".[{extra}]"', tmp_path)


@pytest.mark.parametrize(
    ("module", "overrides", "message"),
    [
        ("nevergrad", ["strategy=ng_de", "strategy.adapter.optimizer=DEE"], "not one of Nevergrad"),
        ("smac", ["strategy=smac", "strategy.adapter.facade=Random"], "set it to one of"),
        (
            "keras_tuner",
            ["strategy=kt_random", "strategy.adapter.oracle=GridSearchOracle"],
            "oracle is 'GridSearchOracle'; set it to one of RandomSearchOracle, Bayesian",
        ),
        (
            "keras_tuner",
            ["strategy=kt_hyperband", "model=logreg", "strategy.adapter.factor=2.5"],
            "factor is 2.5; set it to an integer >= 2",
        ),
        (
            "keras_tuner",
            ["strategy=kt_bayes", "+strategy.adapter.acquisition=ei"],
            "unexpected keyword argument 'acquisition'",
        ),
        (
            "keras_tuner",
            [
                "strategy=kt_random",
                "model=logreg",
                "+model.space.tol={type:float,low:1e-5,high:1e-2,"
                "condition:{solver:saga,class_weight:balanced}}",
            ],
            "'tol' has conditions on solver, class_weight; Keras Tuner's conditional_scope",
        ),
    ],
)
def test_an_unknown_optimiser_is_refused(
    module: str, overrides: list[str], message: str, tmp_path: Path
) -> None:
    if module == "keras_tuner" and kerastuner_search.kt is None:  # import needs its backend
        pytest.skip("the kerastuner extra is not installed")
    pytest.importorskip(module, reason=f"the {module} extra is not installed")
    done = run_inline(*overrides, "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["strategy=kt_bayes", "strategy.adapter.num_initial_points=-1"], "integer >= 0, or null"),
        (["strategy=kt_bayes", "strategy.adapter.alpha=0"], "alpha is 0; set it to a number > 0"),
        (["strategy=kt_bayes", "strategy.adapter.beta=-1"], "beta is -1; set it to a number >= 0"),
        (
            ["strategy=kt_hyperband", "strategy.adapter.hyperband_iterations=0"],
            "hyperband_iterations is 0; set it to an integer >= 1, or null",
        ),
    ],
)
def test_a_keras_tuner_option_out_of_range_is_refused(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    done = run_inline(*overrides, "budget.n_trials=2", cwd=tmp_path)  # checked before the import
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_keras_tuner_hyperparameters_keep_every_shipped_space(path: Path) -> None:
    kt = kerastuner_search.kt
    if kt is None:
        pytest.skip("the kerastuner extra is not installed")
    space = _space(path)
    hps = kerastuner_search.hyperparameters(space).space
    assert [hp.name for hp in hps] == space.names
    for p, hp in zip(space.params, hps, strict=True):
        if p.type == "categorical":
            assert isinstance(hp, kt.engine.hyperparameters.Choice)
            assert hp.values == [kerastuner_search.label(p, c) for c in p.choices]
            assert len(set(hp.values)) == len(p.choices)
        else:
            kind = {"int": kt.engine.hyperparameters.Int, "float": kt.engine.hyperparameters.Float}
            assert isinstance(hp, kind[p.type])
            sampling = "log" if p.log else "linear"
            assert (hp.min_value, hp.max_value, hp.sampling) == (p.low, p.high, sampling)
        assert {c.name for c in hp.conditions} == set(p.condition)
    # The random oracle, through the adapter, proposes valid configurations: every choice is
    # drawn, read back as the space's own value.
    strategy = kerastuner_search.KerasTunerSearch(space, seed=0)
    strategy.start(SearchHandle(DRAWS))
    configs = []
    for _ in range(DRAWS):
        [proposal] = strategy.ask(1)
        strategy.tell(proposal, 0.0)
        configs.append(proposal.params)
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:
        values = [c[p.name] for c in configs if p.name in c]
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
