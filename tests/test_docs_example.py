"""The strategy guide's example (docs/examples/coordinate_descent.py, in
docs/guides/adding-a-strategy.md) runs a whole study as the guide says, starts at the model's
defaults, and its option's range is checked; the conformance suite runs it too
(`python -m pytest -k coordinate_descent`). The helpers it uses: a parameter's [0, 1] axis and
centre (harness/problem/space.py) and the model's defaults as a proposal
(harness/engine/asktell.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from harness.engine.objective import Budget, Objective
from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.problem.space import Param, SearchSpace
from tests.helpers import ROOT, compose_config, first_inner_cv

EXAMPLE = (
    f"hydra.searchpath=[file://{ROOT / 'docs' / 'examples' / 'conf'}]",
    "strategy=coordinate_descent",
)
SMALL = (
    "model=logreg",
    "dataset=breast_cancer",
    "dataset.max_rows=150",
    "protocol.outer_folds=2",
    "protocol.inner_folds=2",
    "budget.n_trials=8",
)
MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml") if p.stem != "cash")


def test_the_guide_strategy_runs_a_study_from_the_model_defaults(tmp_path) -> None:
    study = prepare(compose_config(*EXAMPLE, *SMALL, f"run.store={tmp_path}"))
    trials, folds = run(study, tmp_path / "study")
    assert len(folds) == 2 and (trials.groupby("outer_fold").size() == 8).all()
    assert set(trials.status) == {"ok"}
    defaults = LogisticRegression(random_state=0).get_params()  # scikit-learn's own defaults
    for _, fold in folds.iterrows():
        first = trials[trials.outer_fold == fold.outer_fold].sort_values("trial").iloc[0]
        assert json.loads(first.params) == {k: defaults[k] for k in ("C", "solver", "class_weight")}
        # its first trial is the baseline's configuration: the same inner-CV score
        assert first.inner_mean == pytest.approx(fold.default_inner, abs=1e-12)
        assert fold.best_inner >= fold.default_inner  # descent keeps the best point


def test_the_guide_strategy_option_is_range_checked() -> None:
    with pytest.raises(UsageError) as refused:
        prepare(compose_config(*EXAMPLE, *SMALL, "strategy.adapter.step=-5"))
    assert str(refused.value) == "strategy.adapter.step is -5; set it to a number > 0 and <= 1"
    assert "\n" not in str(refused.value)


def test_the_defaults_proposal_is_the_model_defaults() -> None:
    inner = first_inner_cv("model=logreg", "dataset=breast_cancer", "dataset.max_rows=150")
    space = prepare(compose_config("model=logreg")).model.space
    handle = Objective(inner, Budget(5), on_trial=lambda _: None).handle
    proposal = handle.defaults_proposal(space)
    defaults = LogisticRegression(random_state=0).get_params()
    # every parameter active under the defaults (l1_ratio is not: lbfgs), at sklearn's value
    assert proposal.params == {k: defaults[k] for k in ("C", "solver", "class_weight")}
    assert proposal.fidelity is None
    ours, baseline = inner.evaluate(proposal.params), inner.evaluate({})
    assert np.array_equal(ours.scores, baseline.scores)


def test_the_defaults_proposal_leaves_out_what_the_model_lacks() -> None:
    space = prepare(compose_config("model=cash")).model.space
    inner = first_inner_cv("model=svc", "dataset=breast_cancer", "dataset.max_rows=150")
    handle = Objective(inner, Budget(5), on_trial=lambda _: None).handle
    assert "family" not in handle.defaults_proposal(space).params
    svc = handle.defaults_proposal(prepare(compose_config("model=svc")).model.space).params
    assert svc["gamma"] == "scale"  # SVC's default: outside the space's range, as stated


def prepare_space(model: str) -> SearchSpace:
    path = ROOT / "conf" / "model" / f"{model}.yaml"
    return SearchSpace.from_config(yaml.safe_load(path.read_text())["space"], str(path))


@pytest.fixture(scope="module")
def params() -> list[Param]:
    return [p for model in MODELS for p in prepare_space(model).params]


def test_a_value_goes_to_its_unit_coordinate_and_back(params: list[Param]) -> None:
    rng = np.random.default_rng(0)
    for p in params:
        values = p.grid(9) + [p.from_unit(u) for u in rng.random(50)]
        for v in values:
            u = p.to_unit(v)
            assert 0 <= u <= 1, (p, v, u)
            back = p.from_unit(u)
            if p.type == "float":
                assert back == pytest.approx(v, rel=1e-9), (p, v)
            else:
                assert back == v and type(back) is type(v), (p, v, back)
        for u in np.linspace(0, 1, 101):
            assert p.contains(p.from_unit(u)), (p, u)


def test_the_unit_axis_is_uniform_or_log_uniform_with_equal_shares() -> None:
    c = Param("C", "float", 1e-4, 1e4, log=True)
    assert c.from_unit(0.0) == pytest.approx(1e-4) and c.from_unit(1.0) == pytest.approx(1e4)
    assert c.from_unit(0.5) == pytest.approx(1.0) == c.centre()  # the geometric middle
    assert c.to_unit(1e-2) == pytest.approx(0.25)
    x = Param("x", "float", -2.0, 6.0)
    assert x.from_unit(0.25) == 0.0 and x.centre() == 2.0 and x.to_unit(4.0) == 0.75
    k = Param("k", "int", 1, 5)  # five integers, a fifth of the axis each
    drawn = [k.from_unit(u) for u in (np.arange(10_000) + 0.5) / 10_000]
    assert np.bincount(drawn)[1:].tolist() == [2000] * 5
    assert k.centre() == 3 and k.to_unit(3) == 0.5
    n = Param("n", "int", 1, 1000, log=True)  # log ints: shares of log(1001)
    assert n.from_unit(0.5) == math.floor(math.sqrt(1001)) and n.centre() == round(math.sqrt(1000))
    kernel = Param("kernel", "categorical", choices=("rbf", "linear", None))
    assert [kernel.from_unit(u) for u in (0, 0.34, 0.99, 1)] == ["rbf", "linear", None, None]
    assert kernel.to_unit(None) == pytest.approx(5 / 6) and kernel.centre() == "linear"


def test_a_one_point_grid_is_the_centre(params: list[Param]) -> None:
    for p in params:
        if p.is_numeric:
            assert p.grid(1) == [p.centre()]
