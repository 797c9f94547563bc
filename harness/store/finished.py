"""Finished studies as their files hold them, for the tools that read a study after it ran
(MLflow tracking, the optuna export): `study.json`, `trials.parquet` and `folds.parquet`.

Reading the files a study wrote, rather than hooking into the engine, keeps data flowing one
way: these tools never change what a study computes, and work the same on a study run
yesterday, on another machine or by a Slurm job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.aggregate.load import study_dirs
from harness.errors import UsageError
from harness.store.records import FOLDS, STUDY, TRIALS
from harness.store.schema import budget_label


@dataclass(frozen=True)
class FinishedStudy:
    """One finished study: its metadata and its two tables (params as dicts)."""

    directory: Path
    meta: dict[str, Any]
    trials: pd.DataFrame
    folds: pd.DataFrame

    @property
    def key(self) -> str:
        return self.meta["study_key"]

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    def labels(self) -> dict[str, str]:
        """What a person looks a study up by: dataset, model, strategy, budget, study key."""
        return {
            "dataset": self.config["dataset"]["name"],
            "model": self.config["model"]["name"],
            "strategy": self.config["strategy"]["name"],
            "budget": budget_label(self.config["budget"]),
            "study_key": self.key,
        }


def read_finished(directory: Path) -> FinishedStudy | None:
    """The study in `directory`, or None if it is not (yet) finished."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / STUDY).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    tables = [directory / f"{name}.parquet" for name in (TRIALS, FOLDS)]
    if meta.get("status") != "finished" or not all(t.is_file() for t in tables):
        return None
    trials, folds = (pd.read_parquet(t) for t in tables)
    for frame, column in ((trials, "params"), (folds, "best_params")):
        if column in frame:
            frame[column] = [json.loads(v) if isinstance(v, str) else v for v in frame[column]]
    return FinishedStudy(directory, meta, trials, folds)


def finished_studies(root: Path) -> list[FinishedStudy]:
    """Every finished study under `root` (a store, a sweep folder, or one study's folder),
    each study key once; raises UsageError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; give a results store or a sweep folder")
    found: dict[str, FinishedStudy] = {}
    for directory in study_dirs(root):
        study = read_finished(directory)
        if study is not None:
            found.setdefault(study.key, study)
    if not found:
        raise UsageError(
            f"no finished study under {root} (a study folder holds study.json, trials.parquet "
            "and folds.parquet); run a study or a sweep first"
        )
    return list(found.values())
