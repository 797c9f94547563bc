"""Loading for analysis: finished studies under a results folder, read into the three tables
the aggregates start from (harness.store writes them).

A study folder is any folder with a `study.json`; only finished ones (status `finished` and
both parquet tables written) are read, so a sweep still running or killed mid-way can be
reported on. Each study gets two labels the aggregates group by:

- `budget`: the trial budget (and time limit, if any) it was given, e.g. "20 trials";
- `problem`: what it was tuned on, i.e. everything in its config except the strategy and the
  budget (dataset, model and its space, metric, seed, outer and inner folds). Studies with
  the same problem share their outer folds, so (problem, repeat, outer_fold) is one problem
  instance on which strategies can be compared.

The same study run twice (same study key) counts once: the latest finished copy is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.provenance import digest, installed
from harness.store import FOLDS, STUDY, TRIALS

INSTANCE = ["problem", "repeat", "outer_fold"]
RUN = ["study_key", "repeat", "outer_fold"]
LABELS = ["study_dir", "budget", "n_trials_budget", "problem"]
SWEEP_CONFIG = "multirun.yaml"
REPORT_PACKAGES = (
    "python", "pandas", "numpy", "scipy", "matplotlib", "seaborn", "scikit-posthocs",
    "statsmodels",
)  # fmt: skip  # Hydra writes it at the top of every sweep folder


@dataclass(frozen=True)
class Records:
    """Studies (one row each), their trials and their outer folds, labelled alike."""

    studies: pd.DataFrame
    trials: pd.DataFrame
    folds: pd.DataFrame
    sweeps: dict[str, str] = field(default_factory=dict)  # folder -> its multirun.yaml
    unfinished: list[str] = field(default_factory=list)  # study folders not (yet) finished


def load_records(root: Path) -> Records:
    """Every finished study under `root`; raises UsageError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; give a results folder, e.g. results/multirun")
    metas, unfinished = [], []
    for directory in study_dirs(root):
        meta = _finished_meta(directory, root)
        if meta is None:
            unfinished.append(os.path.relpath(directory, root))
        else:
            metas.append(meta)
    if not metas:
        raise UsageError(
            f"no finished study under {root} (a study folder holds study.json, trials.parquet "
            "and folds.parquet); run a study or a sweep first"
        )
    studies = _study_table(metas)
    trials, folds = (_read(studies, root, name) for name in (TRIALS, FOLDS))
    sweeps = {
        os.path.relpath(p.parent, root): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob(SWEEP_CONFIG))
    }
    return Records(studies, trials, folds, sweeps, unfinished)


def versions_table(studies: pd.DataFrame) -> pd.DataFrame:
    """Per package: the versions the studies ran with and the one building this report."""
    recorded: dict[str, set[str]] = {}
    for text in studies.versions:
        for package, version in json.loads(text).items():
            recorded.setdefault(package, set()).add(version)
    packages = sorted(set(recorded) | set(REPORT_PACKAGES))
    return pd.DataFrame(
        {
            "package": packages,
            "studies": [", ".join(sorted(recorded.get(p, []))) for p in packages],
            "report": [installed(p) or "" for p in packages],
        }
    )


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


def budget_order(studies: pd.DataFrame) -> list[str]:
    """Budget labels from the smallest to the largest."""
    ordered = studies.sort_values(["n_trials_budget", "time_budget"], na_position="first")
    return list(dict.fromkeys(ordered.budget))


def _finished_meta(directory: Path, root: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((directory / STUDY).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    tables_exist = all((directory / f"{n}.parquet").is_file() for n in (TRIALS, FOLDS))
    if meta.get("status") != "finished" or not tables_exist:
        return None
    return meta | {"study_dir": os.path.relpath(directory, root)}


def _study_table(metas: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for meta in metas:
        config = meta["config"]
        budget = config["budget"]
        rows.append(
            {
                "study_key": meta["study_key"],
                "study_dir": meta["study_dir"],
                "strategy": config["strategy"]["name"],
                "library": config["strategy"].get("library"),
                "dataset": config["dataset"]["name"],
                "model": config["model"]["name"],
                "metric": meta.get("scorer"),
                "seed": config.get("seed"),
                "budget": _budget_label(budget),
                "n_trials_budget": int(budget["n_trials"]),
                "time_budget": budget.get("time_s"),
                "problem": problem_key(config),
                "task": meta.get("task"),
                "rows": meta.get("rows"),
                "features": meta.get("features"),
                "finished": meta.get("finished"),
                "versions": json.dumps(meta.get("versions", {}), sort_keys=True),
            }
        )
    studies = pd.DataFrame(rows).sort_values(["finished", "study_dir"])
    return studies.drop_duplicates("study_key", keep="last").reset_index(drop=True)


def problem_key(config: dict[str, Any]) -> str:
    """A hash of what a study was tuned on: its config minus strategy, budget and paths."""
    dataset = {k: v for k, v in config["dataset"].items() if k != "path"}
    protocol = config["protocol"]
    problem = {
        "dataset": dataset,
        "model": config["model"],
        "metric": config.get("metric"),
        "seed": config.get("seed"),
        "folds": [protocol["outer_folds"], protocol["inner_folds"]],
    }
    return digest(problem, 12)


def _budget_label(budget: dict[str, Any]) -> str:
    label = f"{int(budget['n_trials'])} trials"
    return f"{label}, {budget['time_s']:g} s" if budget.get("time_s") else label


def _read(studies: pd.DataFrame, root: Path, name: str) -> pd.DataFrame:
    """One table of every kept study, each row labelled with its study's budget and problem."""
    frames = []
    for study in studies.itertuples():
        frame = pd.read_parquet(root / study.study_dir / f"{name}.parquet")
        if len(frame):
            frames.append(frame.assign(**{c: getattr(study, c) for c in LABELS}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LABELS)
