"""Finished studies as optuna studies in an optuna storage, for optuna's own tools
(`optuna-dashboard <URL>`, `optuna.load_study`, `optuna.visualization`).

One optuna study per tunebench study and outer fold: each outer fold's search is one
optimisation with its own seed and history, which is what optuna's plots (history, parameter
importances, slices) assume. Each is named `<strategy> <dataset>/<model> <budget> <study key>
repeat <r> fold <f>`, maximises the inner-CV score, and carries the study's labels, the fold's
tuned and default outer-test scores and gain as user attributes. Each tunebench trial becomes
one optuna trial, written with optuna's API (`create_trial` + `add_trial`):

- params with the distributions of the model's search space, as the optuna adapters suggest
  them (harness.problem.optuna_space.suggest, replayed on a FixedTrial), whatever strategy ran;
- value: the inner-CV mean score; state COMPLETE, or FAIL for a failed, timed-out or
  out-of-memory trial (no value);
- user attributes: repeat, outer fold, status, error, inner-CV sd, fidelity and the seconds
  columns of trials.parquet.

Exporting again replaces the optuna studies of the same name, so a storage can be refreshed
after a sweep grows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.trial import FixedTrial, FrozenTrial, TrialState
from sqlalchemy.exc import SQLAlchemyError

from harness.errors import UsageError
from harness.problem.optuna_space import suggest
from harness.problem.space import SearchSpace, parents_first
from harness.store.finished import FinishedStudy, finished_studies

TRIAL_ATTRS = ("repeat", "outer_fold", "status", "error", "inner_std", "fidelity")
FOLD_ATTRS = ("tuned_test", "default_test", "gain", "best_trial", "default_inner")


def export(results: Path, url: str) -> list[str]:
    """Write every finished study under `results` into the storage at `url`; returns the
    optuna study names. Bad input raises UsageError before anything is written."""
    studies = finished_studies(results)
    storage = open_storage(url)
    existing = {s.study_name for s in storage.get_all_studies()}
    names = []
    for study in studies:
        space = SearchSpace.from_config(parents_first(study.config["model"].get("space") or {}),
                                        f"{study.directory}/study.json")  # fmt: skip
        for (repeat, fold), trials in _by_fold(study):
            name = optuna_name(study, repeat, fold)
            if name in existing:  # exported before: replaced by the records as they are now
                optuna.delete_study(study_name=name, storage=storage)
            target = optuna.create_study(storage=storage, study_name=name, direction="maximize")
            for attr, value in _fold_attrs(study, repeat, fold).items():
                target.set_user_attr(attr, value)
            target.add_trials([frozen_trial(row, space) for row in trials.itertuples()])
            names.append(name)
    return names


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An optuna RDB storage (SQLAlchemy URL), or a one-line UsageError saying what is wrong."""
    try:
        return optuna.storages.RDBStorage(url)
    except (SQLAlchemyError, ValueError, ImportError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"cannot open optuna storage {url!r} ({reason}); give an SQLAlchemy URL such as "
            "--storage sqlite:///tunebench.db"
        ) from None


def optuna_name(study: FinishedStudy, repeat: int, fold: int) -> str:
    labels = study.labels()
    return (
        f"{labels['strategy']} {labels['dataset']}/{labels['model']} {labels['budget']} "
        f"{study.key} repeat {repeat} fold {fold}"
    )


def frozen_trial(row: Any, space: SearchSpace) -> FrozenTrial:
    """One trial of trials.parquet as an optuna trial."""
    fixed = FixedTrial(row.params)
    params = suggest(fixed, space)
    distributions: dict[str, BaseDistribution] = fixed.distributions
    ok = row.status == "ok" and not _missing(row.inner_mean)
    attrs = {name: getattr(row, name) for name in TRIAL_ATTRS if hasattr(row, name)}
    attrs |= {name: value for name, value in row._asdict().items() if name.endswith("_seconds")}
    return optuna.trial.create_trial(
        state=TrialState.COMPLETE if ok else TrialState.FAIL,
        value=float(row.inner_mean) if ok else None,
        params=params,
        distributions=distributions,
        user_attrs={k: _plain(v) for k, v in attrs.items()},
    )


def _by_fold(study: FinishedStudy) -> list[tuple[tuple[int, int], pd.DataFrame]]:
    """Each outer fold's trials in trial order (folds without trials, and studies without
    any, such as strategy `default`'s, are left out)."""
    if study.trials.empty:
        return []
    trials = study.trials.sort_values(["repeat", "outer_fold", "trial"])
    return [(place, frame) for place, frame in trials.groupby(["repeat", "outer_fold"])]


def _fold_attrs(study: FinishedStudy, repeat: int, fold: int) -> dict[str, Any]:
    folds = study.folds
    row = folds[(folds.repeat == repeat) & (folds.outer_fold == fold)].iloc[0]
    attrs = study.labels() | {"metric": study.meta.get("scorer"), "seed": study.meta.get("seed")}
    attrs |= {"repeat": int(repeat), "outer_fold": int(fold)}
    return attrs | {name: _plain(row[name]) for name in FOLD_ATTRS if name in row}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A JSON-able user attribute: numpy scalars unwrapped, NaN as None."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return None if _missing(value) else value
