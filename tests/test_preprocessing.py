"""Preprocessing fitted once per split: the same scores and warnings as the whole pipeline.

Real data with missing values and categorical columns (titanic), the shipped models; and the
fallback to the whole pipeline where a study tunes the preprocessing, checked against nested
GridSearchCV.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, cross_validate

from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.problem.models import build_pipeline, pipeline_name, space_name
from harness.problem.preprocessing import once_per_split
from tests.helpers import compose_config, first_inner_cv

TITANIC = ("dataset=titanic", "dataset.max_rows=300")
PARAMS = {
    "logreg": {"C": 0.5, "solver": "saga", "l1_ratio": 0.3, "class_weight": "balanced"},
    "svc": {"C": 3.0, "kernel": "rbf", "gamma": 0.05},
    "knn": {"n_neighbors": 7, "weights": "distance", "p": 1},
    "rf": {"n_estimators": 20, "max_depth": 5, "max_features": 0.5, "min_samples_leaf": 2,
           "criterion": "entropy"},
}  # fmt: skip


@pytest.mark.parametrize("model", sorted(PARAMS))
def test_once_per_split_scores_what_the_whole_pipeline_scores(openml_cache, model: str) -> None:
    whole = first_inner_cv(*TITANIC, f"model={model}")
    prepared = once_per_split(whole.pipeline, whole.X, whole.y, whole.splits)
    once = replace(whole, pipeline=prepared.pipeline, X=prepared.X, y=prepared.y,
                   splits=prepared.splits)  # fmt: skip
    for params in ({}, PARAMS[model]):
        ours, theirs = once.evaluate(params), whole.evaluate(params)
        np.testing.assert_array_equal(ours.scores, theirs.scores)  # bit for bit
        assert ours.warning == theirs.warning
    for train, test in prepared.splits:  # row labels: each split's own rows, in order
        assert set(prepared.X.index[train]).isdisjoint(prepared.X.index[test])


def test_a_sparse_encoding_stays_sparse_and_scores_the_same() -> None:
    inner = first_inner_cv("dataset=bank-marketing", "dataset.max_rows=400")
    sparse_prep = {"prep__sparse_threshold": 1.0,
                   "prep__categorical__onehotencoder__sparse_output": True}  # fmt: skip
    whole = replace(inner, pipeline=inner.pipeline.set_params(**sparse_prep),
                    scorer=get_scorer("neg_log_loss"))  # fmt: skip
    prepared = once_per_split(whole.pipeline, whole.X, whole.y, whole.splits)
    once = replace(whole, pipeline=prepared.pipeline, X=prepared.X, y=prepared.y,
                   splits=prepared.splits)  # fmt: skip
    params = PARAMS["logreg"]
    np.testing.assert_array_equal(once.evaluate(params).scores, whole.evaluate(params).scores)
    assert sparse.issparse(prepared.pipeline.named_steps["prep"].blocks.block(0).rows)


def test_rows_sent_to_joblibs_workers_score_the_same() -> None:
    whole = replace(first_inner_cv("dataset.max_rows=150", "model=svc"), n_jobs=2)
    prepared = once_per_split(whole.pipeline, whole.X, whole.y, whole.splits)
    once = replace(whole, pipeline=prepared.pipeline, X=prepared.X, y=prepared.y,
                   splits=prepared.splits)  # fmt: skip
    params = PARAMS["svc"]
    np.testing.assert_array_equal(once.evaluate(params).scores, whole.evaluate(params).scores)


def test_preprocessing_warnings_come_where_the_whole_pipeline_gives_them() -> None:
    inner = first_inner_cv("dataset.max_rows=90")
    whole = replace(inner, X=inner.X.assign(empty=np.nan))  # nothing to impute it from
    prepared = once_per_split(whole.pipeline, whole.X, whole.y, whole.splits)
    once = replace(whole, pipeline=prepared.pipeline, X=prepared.X, y=prepared.y,
                   splits=prepared.splits)  # fmt: skip
    theirs = whole.evaluate({}).warning
    assert "Skipping features without any observed values" in theirs
    assert once.evaluate({}).warning == theirs
    assert once.evaluate({}).warning == theirs  # and again, from the fitted preprocessing


def test_a_fit_never_mixes_splits() -> None:
    whole = first_inner_cv("dataset.max_rows=90")
    prepared = once_per_split(whole.pipeline, whole.X, whole.y, whole.splits)
    (train, _), (_, other) = prepared.splits[:2]
    fitted = prepared.pipeline.fit(prepared.X.iloc[train], prepared.y.iloc[train])
    with pytest.raises(ValueError, match="split 1 given to a step fitted on split 0"):
        fitted.predict(prepared.X.iloc[other])


@pytest.mark.slow
def test_a_tuned_preprocessing_parameter_falls_back_and_matches_its_oracle(tmp_path) -> None:
    tuned = "prep__numeric__standardscaler__with_std"
    study = prepare(
        compose_config(
            "strategy=grid", "strategy.adapter.resolution=2", "model=svc", "dataset=wine",
            f"+model.space.{tuned}={{type: categorical, choices: [true, false]}}",
            "budget.n_trials=12", "protocol.outer_folds=3",
        )
    )  # fmt: skip
    trials, folds = run(study, tmp_path)
    meta = json.loads((tmp_path / "study.json").read_text())
    assert meta["preprocessing"]["once_per_split"] is False
    assert tuned in meta["preprocessing"]["fallback"]

    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    grid = [
        {pipeline_name(k): v for k, v in points.items()}
        for points in study.model.space.sklearn_grid(2)
    ]
    searcher = GridSearchCV(build_pipeline(study.model), grid, scoring=study.metric.scorer,
                            cv=study.protocol.inner_splitter(task, study.seed))  # fmt: skip
    outer = list(study.protocol.outer_splitter(task, study.seed).split(X, y))
    expected = cross_validate(
        searcher, X, y, cv=outer, scoring=study.metric.scorer, return_estimator=True
    )
    np.testing.assert_allclose(folds["tuned_test"], expected["test_score"], rtol=0, atol=1e-12)
    for i, fitted in enumerate(expected["estimator"]):
        ours = trials[trials["outer_fold"] == i].sort_values("trial")
        assert [json.loads(p) for p in ours["params"]] == [
            {space_name(k): v for k, v in p.items()} for p in fitted.cv_results_["params"]
        ]
        assert {json.loads(p)[tuned] for p in ours["params"]} == {True, False}
        np.testing.assert_allclose(
            ours["inner_mean"], fitted.cv_results_["mean_test_score"], rtol=0, atol=1e-12
        )


def test_a_row_fidelity_strategy_falls_back_and_others_do_not() -> None:
    row_fidelity = prepare(compose_config("strategy=hyperband", "model=svc"))
    assert "subsample of rows" in row_fidelity.whole_pipeline
    for overrides in (("strategy=hyperband",), ("strategy=grid", "model=svc")):
        assert prepare(compose_config(*overrides)).whole_pipeline is None  # max_iter; no fidelity


def test_an_unknown_preprocessing_parameter_stops_with_the_fix() -> None:
    cfg = compose_config("model=tree", "+model.space.prep__numeric__standardscaler__with_std="
                         "{type: categorical, choices: [true, false]}")  # fmt: skip
    with pytest.raises(UsageError, match=r"preprocessing has no parameter.*standardscaler"):
        prepare(cfg)  # tree does not scale: that step is not in its pipeline
