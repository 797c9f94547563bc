"""Loading for analysis: finished studies under a results folder, read into the three tables
the aggregates start from (harness.store.records writes them).

A study folder is any folder with a `study.json`; only finished ones (status `finished` and
both parquet tables written) are read, so a sweep still running or killed mid-way can be
reported on. A damaged file (an unreadable `study.json`, a finished study's missing or
unreadable table) leaves its study out and is named in `Records.damaged`; running the
study's command again rebuilds it (harness.store.resume).

Every row carries the labels its study wrote (harness.store.schema.LABELS), among them `budget`
(e.g. "20 trials") and `problem` (what it was tuned on: studies with the same problem share
their outer folds, so (problem, repeat, outer_fold) is one problem instance on which
strategies can be compared). Studies written before the labels were recorded get them
from their config by the same code.

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
from harness.problem import tables
from harness.store import validation
from harness.store.finished import damage_text, study_dirs
from harness.store.provenance import declared_versions, installed
from harness.store.records import FOLDS, STUDY, TRIALS, Damaged, read_json, read_table
from harness.store.schema import LABELS, study_labels

INSTANCE = ["problem", "repeat", "outer_fold"]
RUN = ["study_key", "repeat", "outer_fold"]
STUDY_COLUMNS = ["study_dir", "n_trials_budget"]  # per study, added to its records' rows
NUMBERS = (
    "inner_mean", "inner_std", "inner_ari", "best_inner", "default_inner", "tuned_test",
    "default_test", "gain", "tuned_ari", "default_ari", "tuned_ami", "default_ami",
    "fit_seconds", "score_seconds", "cpu_seconds", "full_evaluations", "fidelity",
    "true_score",
)  # fmt: skip
# a table study's study.json has "table": {benchmark, task, best, worst, size} (best and worst
# true score over the whole table); its studies row gets them as table_<name> (no such
# columns when no study searched a table)
TABLE_FIELDS = ("benchmark", "task", "best", "worst", "size")
SWEEP_CONFIG = "multirun.yaml"  # Hydra writes it at the top of every sweep folder


@dataclass(frozen=True)
class Records:
    """Studies (one row each), their trials and their outer folds, labelled alike."""

    studies: pd.DataFrame
    trials: pd.DataFrame
    folds: pd.DataFrame
    sweeps: dict[str, str] = field(default_factory=dict)  # folder -> its multirun.yaml
    unfinished: list[str] = field(default_factory=list)  # study folders not (yet) finished
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # study key -> config
    damaged: list[str] = field(default_factory=list)  # "<folder>/<file> is ...", left out
    # problem=table: each answering table's key -> what is known of its trust (its
    # validation.json beside it in the store, harness.store.validation; {} when none)
    validations: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_records(root: Path) -> Records:
    """Every finished study under `root`; raises UsageError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; give a results folder, e.g. results/multirun")
    metas, unfinished, damaged, tables, validations = [], [], [], {}, {}
    for directory in study_dirs(root):
        folder = os.path.relpath(directory, root)
        try:
            found = _finished(directory)
        except Damaged as e:
            damaged.append(f"{os.path.join(folder, str(e))}")
            continue
        if found is None:
            unfinished.append(folder)
        else:
            meta, tables[folder] = found
            metas.append(meta | {"study_dir": folder})
            if key := own_table_key(meta["config"]):  # the table sits beside it in the store
                validations[key] = validation.read(directory.resolve().parent / key)
    if not metas:
        raise UsageError(
            f"no finished study under {root} (a study folder holds study.json, trials.parquet "
            "and folds.parquet)" + (f"; damaged: {damage_text(damaged)}" if damaged else "")
        )
    studies = _study_table(metas)
    trials, folds = (_read(studies, tables, i) for i in (0, 1))
    sweeps = {
        os.path.relpath(p.parent, root): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob(SWEEP_CONFIG))
    }
    configs = {meta["study_key"]: meta["config"] for meta in metas}
    return Records(
        studies, trials, folds, sweeps, unfinished, configs, damaged=damaged,
        validations=validations,
    )  # fmt: skip


def own_table_key(config: dict[str, Any]) -> str | None:
    """The key of the table tunebench built that answered a study (problem=table); None for
    any other study."""
    if tables.problem_name(config) != tables.OWN_TABLE:
        return None
    return config["problem"].get("table")


def versions_table(studies: pd.DataFrame) -> pd.DataFrame:
    """Per package: the versions the studies ran with and the one building this report."""
    recorded: dict[str, set[str]] = {}
    for text in studies.versions:
        for package, version in json.loads(text).items():
            recorded.setdefault(package, set()).add(version)
    packages = sorted(set(recorded) | set(declared_versions()), key=str.lower)
    return pd.DataFrame(
        {
            "package": packages,
            "studies": [", ".join(sorted(recorded.get(p, []))) for p in packages],
            "report": [installed(p) or "" for p in packages],
        }
    )


def budget_order(studies: pd.DataFrame) -> list[str]:
    """Budget labels from the smallest to the largest."""
    ordered = studies.sort_values(["n_trials_budget", "time_budget"], na_position="first")
    return list(dict.fromkeys(ordered.budget))


def _finished(directory: Path) -> tuple[dict[str, Any], tuple[pd.DataFrame, ...]] | None:
    """A finished study's metadata and tables; None if it is not finished; Damaged naming a
    file that cannot be read (as `<file> is missing` or `<file> is unreadable (why)`)."""
    meta = read_json(directory / STUDY)
    if meta.get("status") != "finished":
        return None
    return meta, tuple(read_table(directory / f"{n}.parquet") for n in (TRIALS, FOLDS))


def _study_table(metas: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for meta in metas:
        config = meta["config"]
        budget = config["budget"]
        labels = meta.get("labels") or study_labels(
            config, meta["study_key"], meta.get("scorer"), meta.get("data_fingerprint")
        )
        rows.append(
            labels
            | {
                "study_dir": meta["study_dir"],
                "library": config["strategy"].get("library"),
                "n_trials_budget": int(budget["n_trials"]),
                "time_budget": budget.get("time_s"),
                "compute_budget": budget.get("compute_s"),
                "space_size": len(config["model"].get("space") or {}),
                "task": meta.get("task"),
                "rows": meta.get("rows"),
                "features": meta.get("features"),
                "finished": meta.get("finished"),
                "versions": json.dumps(meta.get("versions", {}), sort_keys=True),
            }
            | {f"table_{k}": meta["table"].get(k) for k in TABLE_FIELDS if meta.get("table")}
        )
    studies = pd.DataFrame(rows).sort_values(["finished", "study_dir"])
    return studies.drop_duplicates("study_key", keep="last").reset_index(drop=True)


def _read(studies: pd.DataFrame, tables: dict[str, tuple], which: int) -> pd.DataFrame:
    """One table (0: trials, 1: folds) of every kept study; each row has its study's labels
    (as recorded, or from the study's config for records older than the labels) and folder
    and trial budget."""
    frames = []
    for study in studies.itertuples():
        frame = tables[study.study_dir][which]
        if len(frame):
            missing = [c for c in LABELS if c not in frame]
            own = {c: getattr(study, c) for c in [*missing, *STUDY_COLUMNS]}
            frames.append(frame.assign(**own))
    columns = [*LABELS, *STUDY_COLUMNS]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    # A number that is NaN in every row of a study (scores and fit seconds when every trial's
    # clustering index was undefined, say) is read back from its journal as None: numbers, so
    # that tables can compare and add them.
    return table.astype({c: float for c in NUMBERS if c in table})
