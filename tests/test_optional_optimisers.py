"""The optional optimisers (Nevergrad, SMAC3, HEBO, Ax, syne-tune, Keras Tuner): their space
translations on every shipped model space, and the refusal of a study whose extra is missing
or whose options are wrong.
Their search behaviour is checked by tests/test_conformance.py and tests/test_native.py."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

# Imported before a test hides a library, so that they bind it where it is installed.
from adapters import (  # noqa: F401
    ax_search,
    flaml_search,
    hebo_search,
    kerastuner_search,
    nevergrad_search,
    smac_fidelity,
    smac_search,
    synetune_pbt,
    synetune_search,
)
from harness.engine.asktell import SearchHandle
from harness.problem import cash
from harness.problem.space import SearchSpace
from tests.helpers import ROOT, assert_refused, engine_missing, need_extra, run_inline

MODELS = sorted((ROOT / "conf" / "model").glob("*.yaml"))
# `pytest -m "not slow"` translates one model's space per library (logreg: log floats,
# conditions, categoricals); the others are slow (docs/testing.md).
MODEL_PARAMS = [
    pytest.param(p, id=p.stem, marks=() if p.stem == "logreg" else pytest.mark.slow) for p in MODELS
]
DRAWS = 40


def _space(path: Path) -> SearchSpace:
    """The model's space; model=cash's composed from its default families' configs."""
    model = OmegaConf.load(path)
    if cash.is_cash(model):
        model = OmegaConf.create(cash.compose(model, path.parent))
    space = OmegaConf.to_container(model.space, resolve=True)
    return SearchSpace.from_config(space, str(path))


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_configspace_keeps_every_shipped_space(path: Path) -> None:
    need_extra("smac", "smac")
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


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_nevergrad_space_keeps_every_shipped_space(path: Path) -> None:
    ng = need_extra("nevergrad", "nevergrad")
    space = _space(path)
    parametrization = nevergrad_search.nevergrad_space(space)
    parametrization.random_state.seed(0)
    draws = DRAWS * len(list(space.subspaces()))  # so that each branch gets about DRAWS
    optimizer = ng.optimizers.RandomSearch(parametrization=parametrization, budget=draws)
    configs = [nevergrad_search.flat(optimizer.ask().value, space) for _ in range(draws)]
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:  # every choice is drawn, and the numbers span their range: both
        values = [c[p.name] for c in configs if p.name in c]  # sides of its middle, on its scale
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
        else:
            middle = math.sqrt(p.low * p.high) if p.log else p.low + (p.high - p.low) / 2
            assert min(values) < middle < max(values), (p.name, middle, min(values), max(values))


def _unique_draws(space: SearchSpace) -> int:
    """DRAWS, or 3/4 of a small discrete space's points (kmeans: 19 x 2 = 38) for the searches
    that never repeat a point and give up near the last ones."""
    if any(p.type == "float" or p.condition for p in space.params):
        return DRAWS
    size = math.prod(
        len(p.choices) if p.type == "categorical" else p.high - p.low + 1 for p in space.params
    )
    return min(DRAWS, size * 3 // 4)


def _every_choice_and_condition_drawn(
    space: SearchSpace, configs: list[dict], draws: int = DRAWS
) -> None:
    """For libraries that search every parameter (no conditions of their own): the drawn
    configurations are valid, every choice is drawn, conditional ones both active and not."""
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:  # every choice is drawn; conditional ones both active and not
        values = [c[p.name] for c in configs if p.name in c]
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
        assert (0 < len(values) < draws) if p.condition else len(values) == draws


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_hebo_design_space_keeps_every_shipped_space(path: Path) -> None:
    """HEBO has no conditions: it draws every parameter, and a configuration keeps those
    active under its parents' values (svc's gamma only for the rbf kernel, ...)."""
    need_extra("hebo", "hebo")
    space = _space(path)
    design = hebo_search.design_space(space)
    assert sorted(design.para_names) == sorted(space.names)
    np.random.seed(0)
    draws = design.sample(DRAWS)
    configs = [hebo_search.active(draws.iloc[[i]], space) for i in range(DRAWS)]
    _every_choice_and_condition_drawn(space, configs)


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_synetune_space_keeps_every_shipped_space(path: Path) -> None:
    np = pytest.importorskip("numpy")
    need_extra("syne_tune", "synetune")
    space = _space(path)
    domains = synetune_search.synetune_space(space)
    assert list(domains) == space.names  # every parameter, conditional ones too
    random = np.random.RandomState(0)
    configs = [
        synetune_search.decode(
            space, {k: d.sample(random_state=random) for k, d in domains.items()}
        )
        for _ in range(DRAWS)
    ]
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:  # every choice is drawn, in its own type, and ints stay ints
        values = [c[p.name] for c in configs if p.name in c]
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
        else:
            assert all(type(v) is (int if p.type == "int" else float) for v in values)


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_ax_space_keeps_every_shipped_space(path: Path) -> None:
    """Ax has no conditions here (docstring of adapters/ax_search.py): its Sobol draws cover
    every parameter, and a configuration keeps those active under its parents' values."""
    need_extra("ax", "ax")
    space = _space(path)
    client = ax_search.client(space, seed=0)
    client.configure_generation_strategy(method="random_search")
    n = _unique_draws(space)  # Ax's random search never repeats a point
    draws = client.get_next_trials(max_trials=n).values()
    assert all(set(point) == set(space.names) for point in draws)
    configs = [ax_search.active(dict(point), space) for point in draws]
    assert len(configs) == n
    _every_choice_and_condition_drawn(space, configs, n)


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_flaml_space_keeps_every_shipped_space(path: Path) -> None:
    """FLAML's own random sampler over the translated space (conditional parameters inside
    their parent's choice of dicts) draws valid configurations: every choice, conditional
    parameters both active and not."""
    need_extra("flaml", "flaml")
    from flaml.tune.searcher.blendsearch import RandomSearch

    space = _space(path)
    searcher = RandomSearch(
        metric="loss", mode="min", space=flaml_search.flaml_space(space), seed=0
    )
    configs = [flaml_search.flat(searcher.suggest(str(i)), space) for i in range(DRAWS)]
    _every_choice_and_condition_drawn(space, configs)
    for p in space.params:  # in its own type
        kind = {"int": int, "float": float}.get(p.type)
        assert kind is None or all(type(c[p.name]) is kind for c in configs if p.name in c)


@pytest.mark.parametrize(
    ("strategy", "module", "extra"),
    [
        ("ng_ngopt", "nevergrad", "nevergrad"),
        ("smac", "smac", "smac"),
        ("smac_mf", "smac", "smac"),
        (
            "hebo",
            "hebo",
            'pip install -e ".[hebo]" && pip install --no-deps "hebo>=0.3.6" "pymoo==0.6.0"',
        ),
        ("st_asha", "syne_tune", "synetune"),
        ("st_pbt", "syne_tune", "synetune"),
        ("st_mobster", "syne_tune", "synetune"),  # its first need
        # and with syne-tune installed, its second (without it, the first is asked first)
        ("st_mobster", "botorch", "synetune-gp"),
        ("kt_bayes", "keras_tuner", "kerastuner"),
        ("kt_hyperband", "jax", "kerastuner"),  # Keras's numpy backend imports it
        ("ax", "ax", 'pip install torch==2.13.0 && pip install -e ".[ax]"'),
        ("flaml_cfo", "flaml", "flaml"),
        ("flaml_bs", "flaml", "flaml"),
        ("hypergrad", "jaxopt", "hypergrad"),
        ("hypergrad", "optax", "hypergrad"),
    ],
)
def test_a_missing_extra_stops_the_study_with_its_install_command(
    strategy: str, module: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if module == "botorch":  # its second need is asked only with syne-tune installed
        need_extra("syne_tune", "synetune")
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    done = run_inline(f"strategy={strategy}", "budget.n_trials=2", cwd=tmp_path)
    command = extra if extra.startswith("pip ") else f'pip install -e ".[{extra}]"'
    assert_refused(done, command, tmp_path)


@pytest.mark.parametrize(
    ("module", "overrides", "message"),
    [
        ("nevergrad", ["strategy=ng_de", "strategy.adapter.optimizer=DEE"], "not one of Nevergrad"),
        ("smac", ["strategy=smac", "strategy.adapter.facade=Random"], "set it to one of"),
        (
            "smac",
            ["strategy=smac_hb", "strategy.adapter.facade=BlackBoxFacade"],
            "set it to one of HyperbandFacade, MultiFidelityFacade",
        ),
        ("hebo", ["strategy=hebo", "strategy.adapter.model_name=gpx"], "one of HEBO's surrogates"),
        ("syne_tune", ["strategy=st_asha", "strategy.adapter.searcher=nope"], "set it to one of"),
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
        ("ax", ["strategy=ax", "strategy.adapter.method=best"], "set it to one of fast, quality"),
        (
            "flaml",
            ["strategy=flaml_cfo", "strategy.adapter.searcher=BOHB"],
            "searcher is 'BOHB'; set it to one of CFO, BlendSearch",
        ),
        (
            "flaml",
            ["strategy=flaml_bs", "strategy.adapter.cost=seconds"],
            "cost is 'seconds'; set it to fit_seconds or null",
        ),
        (
            "flaml",
            ["strategy=flaml_cfo", "strategy.adapter.low_cost_partial_config={l1_ratio:0.5}"],
            "low_cost_partial_config gives l1_ratio=0.5; give values inside the space for "
            "unconditional numeric parameters: C",
        ),
        (
            "flaml",
            [
                "strategy=flaml_cfo",
                "+model.space.tol={type:float,low:1e-5,high:1e-2,"
                "condition:{solver:saga,class_weight:balanced}}",
            ],
            "'tol' has conditions on solver, class_weight; FLAML nests a conditional parameter",
        ),
    ],
)
def test_an_unknown_optimiser_is_refused(
    module: str, overrides: list[str], message: str, tmp_path: Path
) -> None:
    if module == "keras_tuner" and kerastuner_search.kt is None:  # import needs its backend
        engine_missing("the kerastuner extra is not installed")
    need_extra(module, module)
    done = run_inline(*overrides, "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_smac_gets_every_rung_the_lowest_fidelity_allows(eta: int) -> None:
    """SMAC floors log(1 / min_budget) / log(eta) to count its rungs; a lowest fraction that is
    a power of 1/eta must not lose a rung to floating point (1/243 would, for eta 3)."""
    smac = need_extra("smac", "smac")
    rungs = smac.intensifier.successive_halving.SuccessiveHalving._get_max_iterations
    for k in range(1, 8):
        for low, expected in ((eta**-k, k), (7 / (7 * eta**k), k), (1.01 * eta**-k, k - 1)):
            assert rungs(eta, 1.0, smac_fidelity.lowest_budget(low)) == expected
            assert eta**-expected >= low - 1e-9  # the harness takes SMAC's lowest rung


@pytest.mark.slow
def test_hebo_runs_its_own_example_here_and_beats_random_search() -> None:
    """HEBO's README example (a quadratic in one variable, batches of 4) on this project's
    numpy 2 and pymoo 0.6.0, installed without HEBO's numpy pin: it must find the minimum
    better than random search of the same size usually does."""
    need_extra("hebo", "hebo")
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    def obj(params: pd.DataFrame) -> np.ndarray:
        return ((params.values - 0.37) ** 2).sum(axis=1).reshape(-1, 1)

    np.random.seed(0)
    torch.manual_seed(0)
    space = DesignSpace().parse([{"name": "x", "type": "num", "lb": -3, "ub": 3}])
    opt = HEBO(space, scramble_seed=0)
    for _ in range(3):
        rec = opt.suggest(n_suggestions=4)
        opt.observe(rec, obj(rec))
    draws = np.random.default_rng(0).uniform(-3, 3, size=(1000, len(opt.y)))
    random_best = ((draws - 0.37) ** 2).min(axis=1)
    assert len(opt.y) == 12 and opt.y.min() < np.quantile(random_best, 0.1), opt.y.min()


def test_hebo_and_nevergrads_cma_run_in_one_venv() -> None:
    """pymoo 0.6.0 pins cma==3.2.2, which calls np.Inf (gone in numpy 2) and so breaks
    nevergrad's CMA; installed without its pins (pyproject's hebo extra) pymoo leaves
    nevergrad's cma, and HEBO, which never uses pymoo's CMA-ES, suggests beside it."""
    need_extra("hebo", "hebo")
    ng = need_extra("nevergrad", "nevergrad")
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    space = DesignSpace().parse([{"name": "x", "type": "num", "lb": -3, "ub": 3}])
    assert len(HEBO(space, scramble_seed=0).suggest(n_suggestions=2)) == 2
    optimizer = ng.optimizers.CMA(parametrization=2, budget=6)
    optimizer.parametrization.random_state.seed(0)
    for _ in range(6):
        candidate = optimizer.ask()
        optimizer.tell(candidate, float((candidate.value**2).sum()))
    assert optimizer.num_tell == 6


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


def _ancestors(space: SearchSpace, p) -> set[str]:
    """The parameters `p`'s condition names, theirs, and so on: Keras Tuner's nested scopes
    (model=cash: `logreg__l1_ratio` under `logreg__solver` under `family`)."""
    return {a for parent in p.condition for a in {parent} | _ancestors(space, space[parent])}


@pytest.mark.parametrize("path", MODEL_PARAMS)
def test_keras_tuner_hyperparameters_keep_every_shipped_space(path: Path) -> None:
    kt = kerastuner_search.kt
    if kt is None:
        engine_missing("the kerastuner extra is not installed")
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
        assert {c.name for c in hp.conditions} == _ancestors(space, p)
    # The random oracle, through the adapter, proposes valid configurations: every choice is
    # drawn, read back as the space's own value.
    strategy = kerastuner_search.KerasTunerSearch(space, seed=0)
    n = _unique_draws(space)  # nor does Keras Tuner's random oracle
    strategy.start(SearchHandle(n))
    configs = []
    for _ in range(n):
        [proposal] = strategy.ask(1)
        strategy.tell(proposal, 0.0)
        configs.append(proposal.params)
    assert all(space.validate_config(c) == [] for c in configs)
    for p in space.params:
        values = [c[p.name] for c in configs if p.name in c]
        if p.type == "categorical":
            assert {repr(v) for v in values} == {repr(v) for v in p.choices}
