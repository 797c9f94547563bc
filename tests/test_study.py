"""A study end to end in-process: failures recorded, results reproducible, defaults scored."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from harness.engine.study import prepare, run
from harness.problem.models import build_pipeline, pipeline_params
from tests.helpers import compose_config, untimed


def _run(tmp_path, *overrides):
    return run(prepare(compose_config(*overrides)), tmp_path)


def test_invalid_configurations_fail_as_trials_and_the_study_completes(tmp_path) -> None:
    # Without its condition, l1_ratio > 0 reaches the lbfgs solver, which only does L2.
    trials, folds = _run(
        tmp_path, "model.space.l1_ratio.condition=null", "budget.n_trials=12",
        "protocol.outer_folds=3",
    )  # fmt: skip
    failed = trials[trials["status"] == "failed"]
    assert len(trials) == 36 and 0 < len(failed) < 36
    assert all(json.loads(p)["solver"] == "lbfgs" for p in failed["params"])
    assert failed["error"].str.contains("l1_ratio|elasticnet|penalty").all()
    assert failed["inner_mean"].isna().all()
    assert (folds["n_failed"] == failed.groupby("outer_fold").size()).all()
    assert folds["tuned_test"].notna().all()
    assert (trials.loc[trials["status"] == "ok", "error"].isna()).all()


def test_defaults_that_crash_score_nan_and_the_study_completes(tmp_path) -> None:
    # lbfgs cannot do l1_ratio > 0: the defaults fail; trials that pick saga succeed.
    _, folds = _run(
        tmp_path, "+model.estimator.l1_ratio=0.5", "budget.n_trials=6", "protocol.outer_folds=2"
    )
    assert folds["default_inner"].isna().all() and folds["default_test"].isna().all()
    assert folds["default_error"].str.contains("l1_ratio|elasticnet|penalty").all()
    assert folds["tuned_test"].notna().all()


@pytest.mark.slow  # three studies; the conformance checks hold the fast seed tests
def test_same_seed_same_trials_other_seed_other_trials(tmp_path) -> None:
    overrides = ("budget.n_trials=5", "protocol.outer_folds=3", "model=rf", "dataset=wine")
    first, folds1 = _run(tmp_path / "a", *overrides)
    again, folds2 = _run(tmp_path / "b", *overrides)
    other, _ = _run(tmp_path / "c", *overrides, "seed=1")
    pd.testing.assert_frame_equal(untimed(first), untimed(again))
    scores = ["best_params", "best_inner", "default_inner", "tuned_test", "default_test", "gain"]
    pd.testing.assert_frame_equal(folds1[scores], folds2[scores])
    assert list(first["params"]) != list(other["params"])


def test_defaults_strategy_runs_no_trials_and_scores_the_defaults(tmp_path) -> None:
    trials, folds = _run(tmp_path, "strategy=default", "protocol.outer_folds=3")
    assert trials.empty
    assert (folds["tuned_test"] == folds["default_test"]).all()
    assert (folds["gain"] == 0).all() and (folds["n_trials"] == 0).all()


def test_time_limit_ends_the_search(tmp_path) -> None:
    trials, folds = _run(
        tmp_path, "model=rf", "budget.n_trials=1000", "budget.time_s=2.0", "protocol.outer_folds=2"
    )
    assert ((folds["n_trials"] >= 1) & (folds["n_trials"] < 1000)).all()
    # A trial may start just before the limit; none starts after it.
    started = trials["elapsed_seconds"] - trials["eval_seconds"]
    assert (started < 2.0).all()


def test_grid_smaller_than_the_budget_ends_early_and_a_larger_one_is_cut(tmp_path) -> None:
    trials, _ = _run(
        tmp_path / "a", "strategy=grid", "model=knn", "strategy.adapter.resolution=2",
        "budget.n_trials=50", "protocol.outer_folds=2",
    )  # fmt: skip
    assert (trials.groupby("outer_fold").size() == 2 * 2 * 2).all()
    trials, _ = _run(
        tmp_path / "b", "strategy=grid", "model=knn", "strategy.adapter.resolution=5",
        "budget.n_trials=7", "protocol.outer_folds=2",
    )  # fmt: skip
    assert (trials.groupby("outer_fold").size() == 7).all()


def test_records_are_written_as_parquet_beside_the_config(tmp_path) -> None:
    _run(tmp_path, "budget.n_trials=3", "protocol.outer_folds=2")
    meta = json.loads((tmp_path / "study.json").read_text())
    assert meta["status"] == "finished"
    assert meta["config"]["strategy"]["name"] == "random"
    assert {"scikit-learn", "optuna", "hyperopt", "scikit-optimize"} <= set(meta["versions"])
    trials = pd.read_parquet(tmp_path / "trials.parquet")
    folds = pd.read_parquet(tmp_path / "folds.parquet")
    assert len(trials) == 6 and len(folds) == 2
    expected = {"study_key", "repeat", "outer_fold", "trial", "params", "inner_mean", "inner_std",
                "fit_seconds", "score_seconds", "choose_seconds", "status", "error"}  # fmt: skip
    assert expected <= set(trials.columns)
    assert {
        "best_params",
        "best_inner",
        "tuned_test",
        "default_test",
        "gain",
        "wall_seconds",
    } <= set(folds.columns)
    assert (folds["gain"] == folds["tuned_test"] - folds["default_test"]).all()


# Each metric recomputed by scikit-learn's own function on the same outer folds, from the same
# fitted pipelines' predictions: the study's scores (errors negated: higher is better).
CLASSIFICATION = {
    "balanced_accuracy": lambda y, fitted, X: balanced_accuracy_score(y, fitted.predict(X)),
    "roc_auc": lambda y, fitted, X: roc_auc_score(y, fitted.predict_proba(X)[:, 1]),
    "log_loss": lambda y, fitted, X: -log_loss(y, fitted.predict_proba(X)),
    "f1_macro": lambda y, fitted, X: f1_score(y, fitted.predict(X), average="macro"),
}
REGRESSION = {
    "r2": lambda y, fitted, X: r2_score(y, fitted.predict(X)),
    "rmse": lambda y, fitted, X: -root_mean_squared_error(y, fitted.predict(X)),
    "mae": lambda y, fitted, X: -mean_absolute_error(y, fitted.predict(X)),
}


def _assert_outer_scores_are(oracle, study, folds) -> None:
    """tuned_test and default_test of every outer fold equal `oracle` on that fold's test
    rows, the pipeline refit on its training rows with the best (or default) parameters."""
    X, y = study.dataset.X, study.target
    splits = list(study.protocol.outer_splits(X, y, study.split_task, study.seed))
    assert len(splits) == len(folds) == 2
    for split, (_, fold) in zip(splits, folds.iterrows(), strict=True):
        train, test = (
            (X.iloc[split.train], y.iloc[split.train]),
            (X.iloc[split.test], y.iloc[split.test]),
        )
        for column, params in (
            ("tuned_test", json.loads(fold["best_params"])),
            ("default_test", {}),
        ):
            fitted = clone(build_pipeline(study.model)).set_params(**pipeline_params(params))
            expected = oracle(test[1], fitted.fit(*train), test[0])
            assert fold[column] == pytest.approx(expected, rel=1e-12, abs=1e-12), column


@pytest.mark.parametrize("metric", CLASSIFICATION)
def test_classification_metrics(tmp_path, metric) -> None:
    study = prepare(
        compose_config(f"metric={metric}", "budget.n_trials=2", "protocol.outer_folds=2")
    )
    _, folds = run(study, tmp_path)
    _assert_outer_scores_are(CLASSIFICATION[metric], study, folds)


@pytest.mark.parametrize("metric", REGRESSION)
def test_regression_metrics(tmp_path, metric) -> None:
    study = prepare(compose_config(
        "dataset=diabetes", "model=ridge", f"metric={metric}", "budget.n_trials=3",
        "protocol.outer_folds=2",
    ))  # fmt: skip
    _, folds = run(study, tmp_path)
    _assert_outer_scores_are(REGRESSION[metric], study, folds)
