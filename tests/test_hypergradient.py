"""The hypergradient the problem computes (harness.problem.hypergradient) is the derivative of the
inner-CV loss the harness computes: checked against a central finite difference of that loss,
each side fitted by scikit-learn on the same inner splits of real data with the same
preprocessing (fitted once per split, as a study fits it). And strategy hypergrad, descending it
on ridge/diabetes from the defaults, reaches the best of a 200-point grid over alpha."""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import pytest

from harness.engine.objective import Budget, InnerCV, Objective, StopSearch
from harness.engine.study import Study, prepare
from harness.problem.models import build_pipeline
from harness.problem.preprocessing import once_per_split
from tests.helpers import compose_config, need_extra


@pytest.fixture(autouse=True)
def _hypergrad_extra() -> None:
    need_extra("jaxopt", "hypergrad")


# The study's metric is smooth in each case, so the loss differentiated is the trial's own. A
# logistic regression's gradient is as exact as its solution: Newton's method to tol 1e-10.
EXACT = ("+model.estimator.solver=newton-cholesky", "+model.estimator.tol=1e-10")
CASES = {
    "ridge-diabetes": (("model=ridge", "dataset=diabetes"), "alpha", "r2"),
    "logreg-breast_cancer": (
        ("model=logreg", "dataset=breast_cancer", "metric=log_loss", *EXACT),
        "C",
        "log_loss",
    ),
    "logreg-wine (multinomial)": (
        ("model=logreg", "dataset=wine", "metric=log_loss", *EXACT),
        "C",
        "log_loss",
    ),
}
STEP = 1e-4  # in log units: a central difference's error is O(STEP**2)


@functools.cache
def _inner(*overrides: str) -> tuple[Study, InnerCV]:
    """The inner CV of the study's first outer fold, exactly as harness.engine.study builds it
    (preprocessing once per split), differentiated as a hypergrad study's is."""
    study = prepare(compose_config("strategy=hypergrad", *overrides))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    split = next(study.protocol.outer_splits(X, y, task, study.seed))
    X, y = X.iloc[split.train], y.iloc[split.train]
    splits = list(study.protocol.inner_splitter(task, study.seed).split(X, y))
    prepared = once_per_split(build_pipeline(study.model), X, y, splits)
    inner = InnerCV(
        prepared.pipeline, prepared.X, prepared.y, prepared.splits, study.metric.scorer,
        hypergradient=study.hypergradient,
    )  # fmt: skip
    return study, inner


def _loss(inner: InnerCV, params: dict) -> float:
    """The inner-CV loss a trial of `params` gets, computed without differentiating."""
    plain = InnerCV(inner.pipeline, inner.X, inner.y, inner.splits, inner.scorer)
    return -float(np.mean(plain.evaluate(params).scores))


@pytest.mark.parametrize(("overrides", "name", "surrogate"), CASES.values(), ids=CASES)
@pytest.mark.parametrize("value", [1.0, 20.0])
def test_the_hypergradient_is_a_central_difference_of_the_inner_cv_loss(
    overrides: tuple[str, ...], name: str, surrogate: str, value: float
) -> None:
    _, inner = _inner(*overrides)
    evaluation = inner.evaluate({name: value})
    hypergradient = evaluation.hypergradient
    assert hypergradient["surrogate"] == surrogate and hypergradient["at"] == {name: value}
    assert math.isclose(hypergradient["loss"], -np.mean(evaluation.scores), rel_tol=1e-12)
    up = _loss(inner, {name: value * math.exp(STEP)})
    down = _loss(inner, {name: value * math.exp(-STEP)})
    difference = (up - down) / (2 * STEP)
    assert math.isclose(hypergradient["gradient"][name], difference, rel_tol=1e-5), (
        hypergradient, difference,
    )  # fmt: skip
    assert hypergradient["stationarity"] < 1e-6  # the fitted solution is the optimum


def test_a_logistic_regressions_solution_stopped_early_is_said_so() -> None:
    """The shipped logreg (lbfgs, tol 1e-4) stops short of its optimum: its hypergradient is
    recorded with that distance, and the loss differentiated is accuracy's surrogate."""
    _, inner = _inner("model=logreg", "dataset=breast_cancer")
    hypergradient = inner.evaluate({"C": 1.0}).hypergradient
    assert hypergradient["surrogate"] == "log_loss" and hypergradient["stationarity"] > 1e-6


def test_hypergrad_on_ridge_reaches_the_best_of_a_200_point_grid() -> None:
    study, inner = _inner("model=ridge", "dataset=diabetes")
    objective = Objective(inner, Budget(15), on_trial=lambda _: None)
    with contextlib.suppress(StopSearch):
        study.make_strategy(0).search(objective)
    found = -objective.best()["inner_mean"]
    alpha = study.model.space["alpha"]
    grid = [_loss(inner, {"alpha": float(a)}) for a in np.geomspace(alpha.low, alpha.high, 200)]
    assert found <= min(grid) + 0.01 * abs(min(grid))  # within 1% of the grid's best
    assert found <= min(grid) + 1e-6 * abs(min(grid))  # and, here, as good to 1e-6
    assert found < -objective.trials[0]["inner_mean"]  # better than the defaults it started at
