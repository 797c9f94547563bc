"""Finished studies as their files hold them, for the tools that read a study after it ran
(MLflow tracking, the optuna export): `study.json`, `trials.parquet` and `folds.parquet`.

Reading the files a study wrote, rather than hooking into the engine, keeps data flowing one
way: these tools never change what a study computes, and work the same on a study run
yesterday, on another machine or by a Slurm job.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.store.records import FOLDS, STUDY, TRIALS, Damaged, notice, read_json, read_table
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
    """The study in `directory`, or None if it is not (yet) finished or not a study; Damaged
    if one of its files cannot be read."""
    directory = Path(directory)
    if not (directory / STUDY).is_file():
        return None
    meta = read_json(directory / STUDY)
    if meta.get("status") != "finished":
        return None
    trials, folds = (read_table(directory / f"{name}.parquet") for name in (TRIALS, FOLDS))
    for frame, column in ((trials, "params"), (folds, "best_params")):
        if column in frame:
            frame[column] = [json.loads(v) if isinstance(v, str) else v for v in frame[column]]
    return FinishedStudy(directory, meta, trials, folds)


def finished_studies(root: Path) -> list[FinishedStudy]:
    """Every finished study under `root` (a store, a sweep folder, or one study's folder),
    each study key once; damaged ones named on stderr and left out; raises UsageError when
    there is none."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; give a results store or a sweep folder")
    found: dict[str, FinishedStudy] = {}
    damaged = []
    for directory in study_dirs(root):
        try:
            study = read_finished(directory)
        except Damaged as e:
            damaged.append(os.path.join(os.path.relpath(directory, root), str(e)))
            continue
        if study is not None:
            found.setdefault(study.key, study)
    if not found:
        raise UsageError(
            f"no finished study under {root} (a study folder holds study.json, trials.parquet "
            "and folds.parquet)" + (f"; damaged: {damage_text(damaged)}" if damaged else "")
        )
    if damaged:
        notice(f"warning: left out, damaged: {damage_text(damaged)}")
    return list(found.values())


def study_dirs(root: Path) -> list[Path]:
    """Folders holding a study.json under `root`, following links (a sweep's job folders
    link to the studies they ran), each study folder once."""
    found: dict[Path, Path] = {}
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = Path(folder).resolve()
        if STUDY in files:
            found.setdefault(real, Path(folder))
            subfolders.clear()  # a study folder holds no other study
    return sorted(found.values())


def damage_text(damaged: list[str]) -> str:
    """Damaged files on one line, with the fix that works."""
    return (
        "; ".join(damaged) + " (run each study's command again: it rebuilds its tables from "
        "its journals and its study.json from its config; or move the folder away)"
    )
