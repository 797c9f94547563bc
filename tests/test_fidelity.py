"""Multi-fidelity: the declared resource, partial evaluations, and their cost.

A full-fidelity evaluation is the ordinary one; a partial one fits on part of the resource
(fewer iterations, or a nested, stratified part of each inner-training fold) and costs that
fraction of the budget; the best configuration is chosen from full-fidelity evaluations only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.base import clone
from sklearn.metrics import get_scorer

from harness.engine.objective import Budget, InnerCV, Objective, StopSearch
from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.problem.fidelity import Fidelity
from harness.problem.models import load_model
from tests.helpers import ROOT, compose_config, first_inner_cv

# model=cash declares no fidelity (its families' resources differ): a fidelity is per model
MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml") if p.stem != "cash")


def _inner(*overrides: str) -> InnerCV:
    return first_inner_cv("dataset.max_rows=150", *overrides)


SCRATCH = "model.fidelity.continue=false"  # every rung refits from scratch and costs its fraction
PARAMS = {"C": 10.0, "solver": "saga", "l1_ratio": 0.5, "class_weight": None}  # logreg


def test_every_shipped_model_declares_a_fidelity() -> None:
    for name in MODELS:
        cfg = compose_config(f"model={name}").model
        fidelity = Fidelity.from_config(cfg.fidelity, load_model(cfg, cfg.task), seed=0)
        assert fidelity is not None and 0 < fidelity.low < 1, name


def test_full_fidelity_is_the_ordinary_evaluation() -> None:
    for inner in (_inner(), _inner("model=svc")):
        params = PARAMS if inner.fidelity.resource == "max_iter" else {"C": 1.0, "kernel": "linear"}
        np.testing.assert_array_equal(
            inner.evaluate(params, fidelity=1.0).scores, inner.evaluate(params).scores
        )


def test_an_iteration_fidelity_sets_the_parameter() -> None:
    # logreg: max_iter from 10 up to its own 100; log loss tells apart what accuracy may not.
    inner = replace(_inner(), scorer=get_scorer("neg_log_loss"))
    assert (inner.fidelity.resource, inner.fidelity.full, inner.fidelity.low) == (
        "max_iter",
        100,
        0.1,
    )
    fixed = replace(inner, pipeline=clone(inner.pipeline).set_params(model__max_iter=33))
    third = inner.evaluate(PARAMS, fidelity=1 / 3).scores
    np.testing.assert_array_equal(third, fixed.evaluate(PARAMS).scores)
    assert not np.array_equal(third, inner.evaluate(PARAMS).scores)


def test_a_row_fidelity_fits_on_a_nested_stratified_part_of_each_training_fold() -> None:
    inner = _inner("model=svc")
    fidelity = inner.fidelity
    assert (fidelity.resource, fidelity.low, fidelity.stratify) == ("rows", 0.1, True)
    for train, test in inner.splits:
        small, large = (fidelity._subsample(train, f, inner.y) for f in (0.2, 0.5))
        assert len(small) == round(0.2 * len(train)) and len(large) == round(0.5 * len(train))
        assert set(small) <= set(large) <= set(train)
        assert not set(large) & set(test)
        shares = inner.y.iloc[train].value_counts(normalize=True)
        for part in (small, large):
            counts = inner.y.iloc[part].value_counts()
            expected = shares * len(part)
            assert (abs(counts - expected) <= 1).all()
    _, splits = fidelity.apply(0.2, inner.pipeline, inner.splits, inner.y)
    assert [len(t) for t, _ in splits] == [round(0.2 * len(t)) for t, _ in inner.splits]
    assert [list(v) for _, v in splits] == [list(v) for _, v in inner.splits]  # scored on all


@pytest.mark.parametrize(
    ("fidelity", "message"),
    [
        ({"resource": "rows"}, "write {resource"),
        ({"resource": "rows", "low": 1.5}, "fraction in \\(0, 1\\)"),
        ({"resource": "max_iters", "low": 10}, "no parameter 'max_iters'"),
        ({"resource": "max_iter", "low": 100}, "below max_iter=100"),
        ({"resource": "solver", "low": 1}, "also in the search space"),
        ({"resource": "tol", "low": 1}, "not an integer >= 2"),
    ],
)
def test_bad_declarations_stop_with_the_fix(fidelity: dict, message: str) -> None:
    cfg = compose_config().model
    with pytest.raises(UsageError, match=message):
        Fidelity.from_config(OmegaConf.create(fidelity), load_model(cfg, cfg.task), seed=0)


def test_the_budget_counts_full_evaluation_equivalents() -> None:
    trials: list[dict] = []  # rungs refit from scratch (tests/test_continuation.py: continued)
    objective = Objective(_inner(SCRATCH), Budget(3), trials.append)
    for fidelity in (1 / 9, 1 / 3, 1.0):
        objective(PARAMS, fidelity=fidelity)
    assert objective.best()["trial"] == 2  # partial evaluations never win
    objective({"C": 1.0, "solver": "lbfgs", "class_weight": None})
    with pytest.raises(StopSearch):  # 2.44 spent: a full evaluation would overrun 3 ...
        objective(PARAMS)
    objective(PARAMS, fidelity=1 / 3)  # ... a third of one still fits
    assert [t["resource"] for t in trials] == [11, 33, 100, None, 33]
    assert [t["fidelity"] for t in trials] == [0.11, 0.33, 1.0, 1.0, 0.33]
    spent = [t["full_evaluations"] for t in trials]
    np.testing.assert_allclose(spent, [0.11, 0.44, 1.44, 2.44, 2.77])
    with pytest.raises(ValueError, match="outside"):  # below the declared low
        Objective(_inner(), Budget(2), trials.append)(PARAMS, fidelity=0.05)


def test_only_partial_evaluations_choose_nothing() -> None:
    objective = Objective(_inner(), Budget(2), lambda _: None)
    objective(PARAMS, fidelity=1 / 3)
    assert objective.best() is None


def test_a_multi_fidelity_study_records_every_rung(tmp_path: Path) -> None:
    study = prepare(
        compose_config("strategy=hyperband", "budget.n_trials=5", "protocol.outer_folds=2",
                       "dataset.max_rows=150", SCRATCH)
    )  # fmt: skip
    trials, folds = run(study, tmp_path)
    assert set(trials["resource"].dropna()) <= {11, 33, 100} and (trials["fidelity"] < 1).any()
    for _, fold in folds.iterrows():
        ours = trials[trials["outer_fold"] == fold["outer_fold"]]
        assert 4 < fold["full_evaluations"] <= 5
        assert fold["full_evaluations"] == pytest.approx(ours["fidelity"].sum())
        best = ours[ours["trial"] == fold["best_trial"]].iloc[0]
        assert best["fidelity"] == 1 and best["inner_mean"] == fold["best_inner"]
        full = ours[(ours["fidelity"] == 1) & (ours["status"] == "ok")]
        assert fold["best_inner"] == full["inner_mean"].max()
        assert json.loads(fold["best_params"]) == json.loads(best["params"])


def test_a_multi_fidelity_strategy_needs_a_declared_fidelity() -> None:
    with pytest.raises(UsageError, match=r"declares none; add one to conf/model/logreg\.yaml"):
        prepare(compose_config("strategy=bohb", "model.fidelity=null"))


def test_gp_without_its_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(UsageError, match=r'pip install -e "\.\[gp\]"') as caught:
        prepare(compose_config("strategy=gp"))
    assert "\n" not in str(caught.value)


def test_gp_without_its_extra_exits_2_with_one_line(tmp_path: Path) -> None:
    # The CLI in a process where PyTorch cannot be imported, whether it is installed or not
    # (scipy.stats first: its array-API helpers look torch up in sys.modules as it loads).
    blocked = "import sys, scipy.stats; sys.modules['torch'] = None; import runpy; runpy.run_module"
    script = f"{blocked}('harness', run_name='__main__', alter_sys=True)"
    result = subprocess.run(
        [sys.executable, "-c", script, "strategy=gp"],
        cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and '.[gp]"' in result.stderr
    assert not list(tmp_path.rglob("*.json*"))  # nothing written


def test_fidelity_fractions_round_to_whole_units() -> None:
    fidelity = Fidelity("max_iter", 0.1, 100)
    assert [fidelity.value(f) for f in (0.1, 1 / 9, 1 / 3, 1.0)] == [10, 11, 33, 100]
    rows = Fidelity("rows", 0.1, 1)
    assert rows.value(0.25) == 0.25 and rows.fraction(1.0) == 1.0
    assert fidelity.fraction(1 / 3) == 0.33
