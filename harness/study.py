"""One study: a strategy tuned and judged by repeated nested cross-validation.

`prepare` turns a composed config into a validated Study before anything is written;
`run` walks the outer folds. In each, the strategy searches through an Objective that holds
only the outer-training rows; the best configuration and the defaults are then refit on those
rows and scored once on the outer-test rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from sklearn.base import clone

from adapters.base import Strategy
from harness.data import Dataset, load_dataset
from harness.errors import UsageError
from harness.metrics import Metric, get_metric
from harness.models import ModelSpec, build_pipeline, load_model, pipeline_params
from harness.objective import Budget, InnerCV, Objective, StopSearch
from harness.protocol import OuterSplit, Protocol, derive_seed
from harness.records import StudyRecords

LIBRARIES = (
    "scikit-learn", "optuna", "hyperopt", "scikit-optimize", "openml",
    "pandas", "numpy", "scipy", "hydra-core",
)  # fmt: skip


@dataclass(frozen=True)
class Study:
    """Everything a run needs, validated."""

    key: str
    config: DictConfig
    dataset: Dataset
    model: ModelSpec
    metric: Metric
    budget: Budget
    protocol: Protocol
    seed: int

    def make_strategy(self, seed: int) -> Strategy:
        factory = instantiate(self.config.strategy.adapter, _partial_=True)
        return factory(space=self.model.space, seed=seed)

    def labels(self) -> dict[str, Any]:
        """The columns that say which study a record belongs to."""
        return {
            "study_key": self.key,
            "dataset": self.dataset.name,
            "model": self.model.name,
            "strategy": self.config.strategy.name,
            "metric": self.metric.name,
            "seed": self.seed,
        }


def prepare(cfg: DictConfig) -> Study:
    """Validate the config and load the data; raises UsageError on anything a user can fix."""
    budget = Budget.from_config(cfg.budget)
    protocol = Protocol.from_config(cfg.protocol)
    dataset = load_dataset(cfg.dataset)
    model = load_model(cfg.model, dataset.task)
    metric = get_metric(cfg.get("metric"), dataset.task, dataset.n_classes, model.estimator)
    study = Study(study_key(cfg), cfg, dataset, model, metric, budget, protocol, int(cfg.seed))
    try:
        study.make_strategy(study.seed)
    except (InstantiationException, TypeError) as e:
        raise UsageError(f"strategy {cfg.strategy.name}: {e}") from None
    return study


def study_key(cfg: DictConfig) -> str:
    """A stable hash of the resolved config, minus file paths that differ between machines."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.get("dataset", {}).pop("path", None)
    text = json.dumps(resolved, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run(study: Study, directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every outer fold, journaling as it goes; returns the trial and fold tables."""
    records = StudyRecords(directory)
    meta = _meta(study)
    records.write_meta(meta | {"status": "running"})
    data = study.dataset
    for split in study.protocol.outer_splits(data.X, data.y, data.task, study.seed):
        records.folds.append(run_fold(study, split, records))
    trials, folds = records.write_tables()
    records.write_meta(meta | {"status": "finished", "finished": _now()})
    return trials, folds


def run_fold(study: Study, split: OuterSplit, records: StudyRecords) -> dict[str, Any]:
    """Tune on the outer-training rows, then score tuned and default on the outer-test rows."""
    started = time.perf_counter()
    X, y = study.dataset.X, study.dataset.y
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    X_test, y_test = X.iloc[split.test], y.iloc[split.test]
    pipeline = build_pipeline(study.model)
    inner = InnerCV(
        pipeline,
        X_train,
        y_train,
        list(study.protocol.inner_splitter(study.dataset.task, study.seed).split(X_train, y_train)),
        study.metric.scorer,
        study.protocol.n_jobs,
    )
    place = study.labels() | {"repeat": split.repeat, "outer_fold": split.fold}
    objective = Objective(inner, study.budget, lambda t: records.trials.append(place | t))
    with contextlib.suppress(StopSearch):
        study.make_strategy(derive_seed(study.seed, split.repeat, split.fold)).search(objective)
    search_seconds = objective.elapsed()

    best = objective.best()
    score = _outer_scorer(pipeline, X_train, y_train, X_test, y_test, study.metric)
    default_test, _ = score({})
    if best is None or not best["params"]:
        tuned_test, tuned_error = default_test, None
    else:
        tuned_test, tuned_error = score(best["params"])
    default_inner = inner.evaluate({}).scores.mean()
    return place | {
        "best_params": best["params"] if best else None,
        "best_trial": best["trial"] if best else None,
        "best_inner": best["inner_mean"] if best else float("nan"),
        "default_inner": float(default_inner),
        "tuned_test": tuned_test,
        "default_test": default_test,
        "gain": tuned_test - default_test,
        "refit_error": tuned_error,
        "n_trials": len(objective.trials),
        "n_failed": sum(t["status"] != "ok" for t in objective.trials),
        "search_seconds": search_seconds,
        "wall_seconds": time.perf_counter() - started,
    }


def _outer_scorer(pipeline, X_train, y_train, X_test, y_test, metric: Metric):
    """Refit a configuration on all outer-training rows; score it once on the outer test."""

    def score(params: dict[str, Any]) -> tuple[float, str | None]:
        estimator = clone(pipeline).set_params(**pipeline_params(params))
        try:
            estimator.fit(X_train, y_train)
            return float(metric.scorer(estimator, X_test, y_test)), None
        except Exception as e:
            return float("nan"), f"{type(e).__name__}: {e}"

    return score


def _meta(study: Study) -> dict[str, Any]:
    return {
        "study_key": study.key,
        "seed": study.seed,
        "started": _now(),
        "config": OmegaConf.to_container(study.config, resolve=True),
        "versions": {"python": platform.python_version()} | _versions(),
        "task": study.dataset.task,
        "rows": len(study.dataset.X),
        "features": study.dataset.X.shape[1],
        "scorer": study.metric.scorer_name,
    }


def _versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
