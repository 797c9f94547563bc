"""Training that continues across rungs (harness.engine.continuation).

A rung of a model declared `continue: true` grows the models its configuration's last rung
fitted, one per inner split, and costs only the increment. Where scikit-learn guarantees it
(forests grown by warm start, HistGradientBoosting with an integer seed) the continued models
equal a from-scratch fit, so scores are asserted equal; solvers (logreg) only restart from
the coefficients they reached, so only what they train is asserted. How much time it saves is
a benchmark figure (benchmarks/bench.py continuation), never a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import get_scorer
from threadpoolctl import threadpool_limits

from harness.aggregate.curves import trajectory_table
from harness.engine.continuation import Start
from harness.engine.objective import Budget, Evaluation, InnerCV, Objective
from harness.engine.study import prepare, run
from harness.engine.workers import WorkerPool
from harness.store.cache import CACHE, EvaluationCache
from tests.helpers import (
    assert_refused,
    compose_config,
    engine_missing,
    first_inner_cv,
    run_inline,
)

RUNGS = (1 / 9, 1 / 3, 1.0)  # hyperband's rungs for low <= 1/9: 11, 33 and 100 trees/iterations
FOREST = {"max_depth": 6, "max_features": 0.5, "min_samples_leaf": 2, "criterion": "gini"}
HGB = {"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 5, "l2_regularization": 0.1}
LOGREG = {"C": 1.0, "solver": "lbfgs", "class_weight": None}
SMALL = "dataset.max_rows=200"
SCRATCH = "model.fidelity.continue=false"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP thread, as a study runs (harness.engine.parallel): hgb's threads would
    otherwise spin against the other processes of a shared machine, ten times slower."""
    with threadpool_limits(1):
        yield


def _inner(*overrides: str) -> InnerCV:
    """The first outer fold's inner CV; log loss, which tells apart what accuracy may not."""
    return replace(first_inner_cv(SMALL, *overrides), scorer=get_scorer("neg_log_loss"))


def _climb(inner: InnerCV, params: dict) -> list[Evaluation]:
    """Every rung of one configuration, each continuing the last one's models."""
    done: list[Evaluation] = []
    for below, fraction in zip((None, *RUNGS), RUNGS, strict=False):
        start = Start(below, done[-1].models) if done else None
        done.append(inner.evaluate(params, fidelity=fraction, start=start))
    return done


def _scratch(inner: InnerCV, params: dict) -> list[np.ndarray]:
    return [inner.evaluate(params, fidelity=fraction).scores for fraction in RUNGS]


def test_a_forest_grown_by_warm_start_equals_one_grown_from_scratch() -> None:
    inner = _inner("model=rf_trees")
    assert (inner.fidelity.resource, inner.fidelity.full, inner.fidelity.continues) == (
        "n_estimators",
        100,
        True,
    )
    first = inner.evaluate(FOREST, fidelity=1 / 9)
    trees = [list(forest.estimators_) for forest in first.models]
    second = inner.evaluate(FOREST, fidelity=1 / 3, start=Start(1 / 9, first.models))
    for k, forest in enumerate(second.models):  # the same forests, grown (not refitted)
        assert forest is first.models[k] and forest.estimators_[:11] == trees[k]
        assert len(forest.estimators_) == 33
    climbed = _climb(inner, FOREST)
    assert climbed[-1].models is None  # nothing is kept past the full fidelity
    scratch = _scratch(_inner("model=rf_trees", SCRATCH), FOREST)
    for evaluation, scores in zip(climbed, scratch, strict=True):
        np.testing.assert_array_equal(evaluation.scores, scores)
    # the full rung equals the ordinary evaluation other strategies' scores come from
    np.testing.assert_array_equal(climbed[-1].scores, inner.evaluate(FOREST).scores)


def test_a_continued_hist_gradient_boosting_equals_a_fit_from_scratch() -> None:
    # scikit-learn tests this (test_warm_start_yields_identical_results) with an integer seed
    # and no early stop inside the run; on 200 rows early stopping is off ("auto": > 10000).
    climbed = _climb(_inner("model=hgb"), HGB)
    for evaluation, scores in zip(
        climbed, _scratch(_inner("model=hgb", SCRATCH), HGB), strict=True
    ):
        np.testing.assert_array_equal(evaluation.scores, scores)


def test_a_solver_runs_only_the_increment_from_the_solution_it_reached() -> None:
    # logreg's every fit runs up to max_iter iterations from the last coefficients, so the
    # 1/3 rung (33 iterations in all) runs 22 more; the restarted solver is not guaranteed
    # equal to an uninterrupted one, so only its length and its validity are checked.
    inner = _inner()
    first = inner.evaluate(LOGREG, fidelity=1 / 9)
    coefficients = [m.coef_.copy() for m in first.models]
    second = inner.evaluate(LOGREG, fidelity=1 / 3, start=Start(1 / 9, first.models))
    for k, model in enumerate(second.models):
        assert model.max_iter == 22 and model.warm_start and model.n_iter_[0] <= 22
        assert not np.array_equal(model.coef_, coefficients[k])
    assert np.isfinite(second.scores).all()


def test_the_budget_charges_a_continued_rung_its_increment() -> None:
    trials: list[dict] = []
    objective = Objective(_inner(), Budget(3), trials.append)
    for fraction in RUNGS:
        objective(LOGREG, fidelity=fraction)
    assert len(objective.continuation) == 0  # dropped once evaluated at full fidelity
    objective(LOGREG | {"C": 0.1}, fidelity=1 / 9)  # pruned here: kept until the search ends
    assert len(objective.continuation) == 1
    assert [t["continued"] for t in trials] == [False, True, True, False]
    assert [t["resource"] for t in trials] == [11, 33, 100, 11]
    np.testing.assert_allclose([t["full_evaluations"] for t in trials], [0.11, 0.33, 1.0, 1.11])
    assert objective.best()["trial"] == 2


def test_a_replayed_rung_leaves_no_models_so_the_next_one_refits() -> None:
    trials: list[dict] = []
    objective = Objective(_inner(), Budget(1), trials.append)
    for fraction in RUNGS:  # the whole budget: one climb to full fidelity
        objective(LOGREG, fidelity=fraction)
    # replayed, each journaled rung costs what it cost, so the climb fits the same budget
    replayed = Objective(_inner(), Budget(1), trials.append, replay=trials)
    for fraction in RUNGS:
        replayed(LOGREG, fidelity=fraction)
    assert replayed.trials == trials and replayed.spent == pytest.approx(1.0)
    again: list[dict] = []
    resumed = Objective(_inner(), Budget(3), again.append, replay=trials[:2])
    for fraction in RUNGS:
        resumed(LOGREG, fidelity=fraction)
    assert [t["continued"] for t in resumed.trials] == [False, True, False]
    assert again[0]["full_evaluations"] == pytest.approx(1.33)  # the refit pays its fraction


def test_a_cached_continued_answer_never_stands_for_a_scratch_one(tmp_path: Path) -> None:
    def climb() -> list[dict]:
        scope = EvaluationCache(tmp_path / CACHE).scope(problem="continuation")
        trials: list[dict] = []
        objective = Objective(_inner("model=hgb"), Budget(3), trials.append, cache=scope)
        for fraction in RUNGS:
            objective(HGB, fidelity=fraction)
        return trials

    first, second = climb(), climb()
    assert [t["cache"] for t in first] == ["miss"] * 3
    assert [t["continued"] for t in first] == [False, True, True]
    # the answered first rung has no models, so the second refits: another question
    assert [t["cache"] for t in second] == ["hit", "miss", "hit"]
    assert [t["continued"] for t in second] == [False, False, True]
    assert [t["inner_mean"] for t in second] == [t["inner_mean"] for t in first]  # hgb: equal


def test_models_travel_to_and_from_the_killable_worker() -> None:
    inner = _inner("model=rf_trees")
    evaluator = WorkerPool(1, timeout_s=120, memory_mb=None).bind(inner.evaluate)
    try:
        trials: list[dict] = []
        objective = Objective(inner, Budget(3), trials.append, evaluate=evaluator.evaluate)
        objective(FOREST, fidelity=1 / 9)
        assert len(objective.continuation) == 1  # the worker's models came back
        for fraction in RUNGS[1:]:
            objective(FOREST, fidelity=fraction)
    finally:
        evaluator.close()
    assert evaluator.starts == 1
    assert [t["continued"] for t in trials] == [False, True, True]
    here = _climb(inner, FOREST)
    assert [t["inner_mean"] for t in trials] == [float(np.mean(e.scores)) for e in here]


def test_a_hyperband_study_continues_rungs_and_decides_as_one_that_refits(tmp_path: Path) -> None:
    base = (
        "strategy=hyperband",
        "model=hgb",
        SMALL,
        "budget.n_trials=4",
        "protocol.outer_folds=2",
        "+model.estimator.max_iter=30",
        "model.fidelity.low=3",
    )  # rungs of 3, 10, 30: quick
    continued, refitted = (prepare(compose_config(*base, *more)) for more in ((), (SCRATCH,)))
    assert continued.key != refitted.key  # the model config is in the study key ...
    assert continued.labels()["problem"] == refitted.labels()["problem"]  # ... not the problem
    ours, _ = run(continued, tmp_path / "continued")
    theirs, _ = run(refitted, tmp_path / "refitted")
    assert ours.continued.any() and not theirs.continued.any()
    assert (ours[ours.continued].fidelity > 1 / 9).all()
    # hgb continued equals hgb refitted, so the strategy proposes and prunes alike; the
    # continuing study pays less per climb and so goes on further with the same budget
    key = ["repeat", "outer_fold", "trial"]
    both = ours.merge(theirs, on=key, suffixes=("", "_r"))
    assert len(both) == len(theirs) < len(ours)
    assert (both.params.astype(str) == both.params_r.astype(str)).all()
    assert (both.inner_mean == both.inner_mean_r).all()
    for _, fold in ours.groupby("outer_fold"):
        reached: dict[str, float] = {}  # the rung each configuration last reached
        paid = 0.0
        for trial in fold.itertuples():
            params = str(trial.params)
            paid += trial.fidelity - (reached.get(params, 0.0) if trial.continued else 0.0)
            reached[params] = trial.fidelity
        assert fold.full_evaluations.iloc[-1] == pytest.approx(paid)
        assert 3 < paid <= 4  # stopped where the next rung's increment could not be paid
    # the report's trajectories count the same budget, and continued full rungs as chosen ones
    paths = trajectory_table(ours).groupby("outer_fold")
    spent = ours.groupby("outer_fold").full_evaluations.max()
    np.testing.assert_allclose(paths.spent.last(), spent)
    best = ours[ours.fidelity == 1].groupby("outer_fold").inner_mean.max()
    np.testing.assert_array_equal(paths.best_so_far.last(), best)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+model.fidelity.continue=true", "model=knn"], "needs a training length"),
        (
            [
                "model=svc",
                "model.fidelity.resource=max_iter",
                "model.fidelity.low=10",
                "+model.fidelity.continue=true",
            ],
            "SVC has no warm_start parameter, so it cannot continue training; set continue: false",
        ),
        (["model=hgb", "model.fidelity.continue=maybe"], "continue is 'maybe'; set it to true"),
    ],
)
def test_continuation_a_model_cannot_do_is_refused(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    done = run_inline("strategy=hyperband", "budget.n_trials=2", *overrides, cwd=tmp_path)
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize(
    ("model", "dataset", "resource"),
    [
        ("hgb", "breast_cancer", "max_iter"),
        ("hgb_reg", "diabetes", "max_iter"),
        ("mlp", "breast_cancer", "max_iter"),
        ("logreg", "breast_cancer", "max_iter"),
        ("elasticnet", "diabetes", "max_iter"),
        ("rf_trees", "breast_cancer", "n_estimators"),
    ],
)
def test_shipped_models_that_can_continue_do(model: str, dataset: str, resource: str) -> None:
    fidelity = prepare(compose_config(f"model={model}", f"dataset={dataset}")).fidelity
    assert (fidelity.resource, fidelity.continues) == (resource, True)


@pytest.mark.slow
def test_keras_tuners_hyperband_promotes_trials_that_continue_their_models(tmp_path: Path) -> None:
    from adapters.kerastuner_search import kt  # imported with the Keras backend it sets

    if kt is None:
        engine_missing("the kerastuner extra is not installed")
    study = prepare(
        compose_config(
            "strategy=kt_hyperband",
            "model=hgb",
            SMALL,
            "budget.n_trials=4",
            "protocol.outer_folds=2",
            "+model.estimator.max_iter=30",
            "model.fidelity.low=3",
        )
    )  # rungs of 3, 10, 30: quick
    trials, _ = run(study, tmp_path)
    rungs = [3, 10, 30]
    assert set(trials.resource) == set(rungs)
    for _, fold in trials.groupby("outer_fold"):
        reached: dict[str, int] = {}  # the rung each configuration last reached
        for trial in fold.itertuples():
            params = str(trial.params)
            # A trial its bracket promotes starts where its predecessor stopped (Keras Tuner's
            # tuner/initial_epoch) and grows those models; any other trial fits afresh.
            assert trial.continued == (params in reached)
            if trial.continued:
                assert trial.resource == rungs[rungs.index(reached[params]) + 1]
            reached[params] = trial.resource
    assert trials.continued.sum() >= 2
