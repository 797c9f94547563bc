"""Picking a study up where a crash (or a `kill -9`) left it.

A study lives in a folder named by its key, so running the same config again finds it. Its
journals say what is done: outer folds in `folds.jsonl` are skipped; trials in `trials.jsonl`
of an unfinished fold are replayed to the same deterministic strategy (the objective returns
their recorded loss instead of re-evaluating, in the order they were told), so at most the
trials in flight are redone.
`run.retry` names trial statuses whose folds are redone from scratch (e.g. after a timeout
caused by a loaded machine).

Damage is recovered here too (the guarantee is stated in harness.store.records): the intact
prefix of each journal is replayed, its damaged lines are set aside and recomputed, an outer
fold whose trials the damage cut short is redone, a missing or unreadable table of a finished
study is rebuilt from the journals, and an unreadable `study.json` from the config; each in
one line on stderr.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UsageError
from harness.store.records import (
    DAMAGED,
    FOLDS,
    STUDY,
    TRIALS,
    Damaged,
    Reading,
    StudyRecords,
    notice,
    set_aside,
)

Place = tuple[int, int]  # (repeat, outer fold)
log = logging.getLogger("harness")


@dataclass
class Progress:
    """What the records of an earlier run hold."""

    finished: bool = False
    folds: dict[Place, dict[str, Any]] = field(default_factory=dict)
    trials: dict[Place, list[dict[str, Any]]] = field(default_factory=dict)
    tables: tuple | None = None  # a finished study's (trials, folds) tables, as read


def load(records: StudyRecords, key: str, retry: frozenset[str]) -> Progress:
    """Read an earlier run's records, recovering damage; drop those of folds `retry` redoes."""
    meta = _meta(records, key)
    readings = {TRIALS: records.trials.recover(), FOLDS: records.folds.recover()}
    trials: dict[Place, list[dict[str, Any]]] = defaultdict(list)
    for trial in readings[TRIALS].records:
        trials[_place(trial)].append(_numbers(trial))
    redo = {place for place, ts in trials.items() if any(t["status"] in retry for t in ts)}
    folds = {_place(f): f for f in readings[FOLDS].records if _place(f) not in redo}
    # A fold whose journaled trials the damage cut short is redone (its trials replayed).
    short = {p for p, f in folds.items() if len(trials.get(p, ())) < f.get("n_trials", 0)}
    if redo or short:
        records.trials.keep(lambda r: _place(r) not in redo)
        records.folds.keep(lambda r: _place(r) not in redo | short)
    folds = {p: f for p, f in folds.items() if p not in short}
    progress = Progress(
        finished=meta.get("status") == "finished" and not redo,
        folds=folds,
        trials={p: ts for p, ts in trials.items() if p not in folds and p not in redo},
    )
    if progress.finished:  # its tables are what it computed: kept if they read
        try:
            progress.tables = records.read_tables()
        except Damaged as e:
            progress.finished = False  # the run skips every fold it holds, writes the tables
            journals = f"{TRIALS}.jsonl and {FOLDS}.jsonl"
            notice(f"note: study {key}: {e}; rebuilt from its journals ({journals})")
    if any(r.first_damaged is not None for r in readings.values()):
        notice(_damage_line(key, readings, sorted(short), progress.finished))
    legacy = [f"{name}.jsonl" for name, r in readings.items() if r.legacy and r.records]
    if legacy:
        notice(
            f"note: study {key}: {' and '.join(legacy)} were written before journal lines "
            "carried checksums; their lines are accepted as they are and now carry one"
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


def _meta(records: StudyRecords, key: str) -> dict[str, Any]:
    """`study.json` of an earlier run, checked to be this study's; {} if there is none.

    Everything it holds but its timestamps is derived from the config, so an unreadable one
    is set aside and written again by this run."""
    path = records.directory / STUDY
    try:
        meta = records.read_meta()
    except Damaged as e:
        set_aside(path)
        notice(
            f"note: study {key}: {e}; moved to {STUDY}{DAMAGED} and written again from the "
            "study's config"
        )
        return {}
    if meta and meta.get("study_key") != key:
        raise UsageError(
            f"{records.directory} holds study {meta.get('study_key')}, not {key}; "
            "point run.store at another folder"
        )
    journaled = [j.path for j in (records.trials, records.folds) if j.path.exists()]
    if not meta and any(p.stat().st_size for p in journaled):
        notice(f"note: study {key}: {STUDY} is missing; written again from the study's config")
    return meta


def _damage_line(key: str, readings: dict[str, Reading], short: list[Place], finished: bool) -> str:
    """One line: how many lines of which journal were damaged, and what is recomputed."""
    parts = []
    for name, r in readings.items():
        if r.first_damaged is not None:
            parts.append(
                f"{r.failing} damaged line(s) of {r.lines} in {name}.jsonl (first: line "
                f"{r.first_damaged}); lines {r.first_damaged}-{r.lines} moved to "
                f"{name}.jsonl{DAMAGED}"
            )
    if finished:
        then = "the finished study's tables read intact and are kept: nothing is recomputed"
    else:
        moved = [
            f"{r.moved} {'trial(s)' if name == TRIALS else 'outer-fold record(s)'}"
            for name, r in readings.items()
            if r.moved
        ]
        then = "recomputing their " + " and ".join(moved)
        if short:
            then += (
                ", and redoing outer fold(s) "
                + ", ".join(f"{f} of repeat {r}" for r, f in short)
                + " from their intact trials"
            )
    return f"warning: study {key}: " + "; ".join(parts) + "; " + then


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
