"""Picking a study up where a crash (or a `kill -9`) left it.

A study lives in a folder named by its key, so running the same config again finds it. Its
journals say what is done: outer folds in `folds.jsonl` are skipped; trials in `trials.jsonl`
of an unfinished fold are replayed to the same deterministic strategy (the objective returns
their recorded loss instead of re-evaluating, in the order they were told), so at most the
trials in flight are redone.
`run.retry` names trial statuses whose folds are redone from scratch (e.g. after a timeout
caused by a loaded machine).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UsageError
from harness.store.records import StudyRecords

STATUSES = ("failed", "timeout", "memory")  # what a trial can end as besides "ok"
Place = tuple[int, int]  # (repeat, outer fold)
log = logging.getLogger("harness")


@dataclass
class Progress:
    """What the records of an earlier run hold."""

    finished: bool = False
    folds: dict[Place, dict[str, Any]] = field(default_factory=dict)
    trials: dict[Place, list[dict[str, Any]]] = field(default_factory=dict)


def retry_statuses(value: Any) -> frozenset[str]:
    """`run.retry` validated: a list of trial statuses (or one)."""
    wanted = [value] if isinstance(value, str) else list(value or [])
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise UsageError(
            f"run.retry has {unknown}; list trial statuses to retry from {list(STATUSES)}, "
            "e.g. run.retry=[timeout,memory]"
        )
    return frozenset(wanted)


def load(records: StudyRecords, key: str, retry: frozenset[str]) -> Progress:
    """Read an earlier run's records; drop those of folds `retry` asks to redo."""
    meta = records.read_meta()
    if meta and meta.get("study_key") != key:
        raise UsageError(
            f"{records.directory} holds study {meta.get('study_key')}, not {key}; "
            "point run.store at another folder"
        )
    records.trials.repair()
    records.folds.repair()
    trials: dict[Place, list[dict[str, Any]]] = defaultdict(list)
    for trial in records.trials.read():
        trials[_place(trial)].append(_numbers(trial))
    redo = {place for place, ts in trials.items() if any(t["status"] in retry for t in ts)}
    if redo:
        records.trials.keep(lambda r: _place(r) not in redo)
        records.folds.keep(lambda r: _place(r) not in redo)
    folds = {_place(f): f for f in records.folds.read()}
    progress = Progress(
        finished=meta.get("status") == "finished" and not redo,
        folds=folds,
        trials={p: ts for p, ts in trials.items() if p not in folds and p not in redo},
    )
    if progress.finished:
        log.info("study %s finished earlier: its records are read, not rerun", key)
    elif meta:
        journaled = sum(map(len, progress.trials.values()))
        log.info(
            "resuming study %s: %d outer folds done, %d trials of unfinished folds journaled, "
            "%d folds to redo for run.retry", key, len(folds), journaled, len(redo),
        )  # fmt: skip
    return progress


def journal(records: StudyRecords, labels: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """The objective's `on_trial`: append each new trial to the journal, in the order the
    strategy is told them (with k workers, not the order they were proposed)."""
    return lambda trial: records.trials.append(labels | trial)


def forget(records: StudyRecords, labels: dict[str, Any]) -> Callable[[int], None]:
    """The objective's `on_stale`: the strategy went another way than before the crash at
    proposal n, so this fold's journaled trials from n on are dropped."""
    place = _place(labels)
    return lambda n: records.trials.keep(lambda r: _place(r) != place or r["trial"] < n)


def _place(record: dict[str, Any]) -> Place:
    return record["repeat"], record["outer_fold"]


def _numbers(trial: dict[str, Any]) -> dict[str, Any]:
    """JSON null back to NaN, so a replayed trial reads as the live one did."""
    return {
        k: math.nan if v is None and k.endswith(("_mean", "_std", "_seconds")) else v
        for k, v in trial.items()
    }
