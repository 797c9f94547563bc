"""Grid and random search must equal scikit-learn's own searchers, nested the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate

from harness.engine.study import prepare, run
from harness.problem.models import STEP, build_pipeline
from harness.problem.protocol import derive_seed
from tests.helpers import compose_config


def _unprefixed(params: dict) -> dict:
    return {k.removeprefix(f"{STEP}__"): v for k, v in params.items()}


def _harness(tmp_path, *overrides):
    study = prepare(compose_config(*overrides))
    trials, folds = run(study, tmp_path)
    return study, trials, folds


def test_grid_equals_nested_gridsearchcv(tmp_path) -> None:
    # svc's space is conditional (gamma only with kernel=rbf): 3 C x (3 gamma + linear) = 12.
    study, trials, folds = _harness(
        tmp_path, "strategy=grid", "strategy.adapter.resolution=3", "model=svc",
        "budget.n_trials=12", "protocol.outer_folds=4",
    )  # fmt: skip
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    searcher = GridSearchCV(
        build_pipeline(study.model),
        study.model.space.sklearn_grid(3, prefix=f"{STEP}__"),
        cv=study.protocol.inner_splitter(task, study.seed),
        scoring=study.metric.scorer,
    )
    outer = list(study.protocol.outer_splitter(task, study.seed).split(X, y))
    expected = cross_validate(
        searcher, X, y, cv=outer, scoring=study.metric.scorer, return_estimator=True
    )

    assert len(folds) == len(outer) == 4
    np.testing.assert_allclose(folds["tuned_test"], expected["test_score"], rtol=0, atol=1e-12)
    for i, fitted in enumerate(expected["estimator"]):
        fold = folds.iloc[i]
        assert json.loads(fold["best_params"]) == _unprefixed(fitted.best_params_)
        assert fold["best_inner"] == pytest.approx(fitted.best_score_, abs=1e-12)
        ours = trials[trials["outer_fold"] == i].sort_values("trial")
        assert len(ours) == 12
        assert [json.loads(p) for p in ours["params"]] == [
            _unprefixed(p) for p in fitted.cv_results_["params"]
        ]
        np.testing.assert_allclose(
            ours["inner_mean"], fitted.cv_results_["mean_test_score"], rtol=0, atol=1e-12
        )


@pytest.mark.slow  # the grid oracle above is the fast one
def test_random_equals_nested_randomizedsearchcv(tmp_path) -> None:
    n = 8
    study, trials, folds = _harness(
        tmp_path, "strategy=random", "model=logreg", "dataset=wine",
        f"budget.n_trials={n}", "protocol.outer_folds=3", "protocol.repeats=2",
    )  # fmt: skip
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    splits = study.protocol.outer_splits(X, y, task, study.seed)
    assert len(folds) == 6
    for split, (_, fold) in zip(splits, folds.iterrows(), strict=True):
        searcher = RandomizedSearchCV(
            build_pipeline(study.model),
            study.model.space.sklearn_distributions(prefix=f"{STEP}__"),
            n_iter=n,
            random_state=derive_seed(study.seed, split.repeat, split.fold),
            cv=study.protocol.inner_splitter(task, study.seed),
            scoring=study.metric.scorer,
        ).fit(X.iloc[split.train], y.iloc[split.train])
        ours = trials[(trials["repeat"] == split.repeat) & (trials["outer_fold"] == split.fold)]
        assert [json.loads(p) for p in ours["params"]] == [
            _unprefixed(p) for p in searcher.cv_results_["params"]
        ]
        np.testing.assert_allclose(
            ours["inner_mean"], searcher.cv_results_["mean_test_score"], rtol=0, atol=1e-12
        )
        assert json.loads(fold["best_params"]) == _unprefixed(searcher.best_params_)
        test_score = study.metric.scorer(searcher, X.iloc[split.test], y.iloc[split.test])
        assert fold["tuned_test"] == pytest.approx(test_score, abs=1e-12)
