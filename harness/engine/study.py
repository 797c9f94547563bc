"""One study: a strategy tuned and judged by repeated nested cross-validation.

`prepare` turns a composed config into a validated Study before anything is written;
`run` walks the outer folds. In each, the strategy searches through an Objective that holds
only the outer-training rows; the best configuration and the defaults are then refit on those
rows and scored once on the outer-test rows.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from harness.engine import options, settings, table_study
from harness.engine.asktell import SearchHandle
from harness.engine.budget import Budget, StopSearch
from harness.engine.evaluation import Evaluation, InnerCV, quietly
from harness.engine.folds import run_all as run_folds_at_once
from harness.engine.kinds import StudyKind, now
from harness.engine.objective import Objective
from harness.engine.parallel import Parallelism, inner_jobs, split_processes, tied_workers
from harness.engine.progress import StudyProgress
from harness.engine.settings import PROGRESS_S
from harness.engine.table_problem import OwnTableFold
from harness.engine.table_study import TableStudy
from harness.engine.workers import Pooled, WorkerPool
from harness.errors import UsageError, error_text
from harness.paths import CONF
from harness.problem import cash, own_table, tables
from harness.problem.clusterers import check_cluster_counts
from harness.problem.data import Dataset, load_dataset
from harness.problem.family import FAMILY
from harness.problem.fidelity import Fidelity, stepwise_models
from harness.problem.hypergradient import Hypergradient
from harness.problem.indices import outer_scores
from harness.problem.metrics import Metric, get_metric
from harness.problem.models import (
    ModelSpec,
    build_pipeline,
    load_model,
    pipeline_defaults,
    pipeline_params,
    plain,
)
from harness.problem.own_table import OwnTable
from harness.problem.preprocessing import Prepared, fallback, once_per_split
from harness.problem.protocol import OuterSplit, Protocol, derive_seed
from harness.problem.settings import CLUSTERING
from harness.problem.space import SearchSpace
from harness.store import resume
from harness.store.cache import CACHE, EvaluationCache, Scope, split_digest
from harness.store.provenance import digest
from harness.store.records import StudyRecords, canonical
from harness.store.schema import study_labels

REFIT = ("score", "error", "warning")  # what a refit on the outer-training rows gives
OUTSIDE = ("ari", "ami")  # and, for a clustering, its agreement with the labels, if any
NO_LABELS = (
    "the dataset is a regression task: its target is ignored, and no ARI or AMI is reported "
    "(there are no classes to compare the clusterings with)"
)


@dataclass(frozen=True)
class Study(StudyKind):
    """Everything a run needs, validated."""

    key: str
    config: DictConfig
    dataset: Dataset
    model: ModelSpec
    metric: Metric
    budget: Budget
    protocol: Protocol
    seed: int
    retry: frozenset[str] = frozenset()  # trial statuses whose folds a re-run redoes
    fidelity: Fidelity | None = None  # the model's resource for multi-fidelity strategies
    hypergradient: Hypergradient | None = None  # for a strategy told hypergradients
    progress_s: float = PROGRESS_S  # run.progress_s: seconds between progress lines at most
    own_table: OwnTable | None = None  # problem=table: the table that answers its evaluations

    @property
    def space(self) -> SearchSpace:
        return self.model.space

    @property
    def homes(self) -> list[Path]:
        """Every study folder this run writes (one here; a table study's `run.seeds` more)."""
        return [self.home]

    @property
    def cache(self) -> EvaluationCache | None:
        """The store's evaluation cache (`run.cache`), shared with every study in the store."""
        if not self.config.run.get("cache", True) or self.own_table is not None:
            return None  # a lookup is cheaper than the cache's question
        return EvaluationCache(self.home.parent / CACHE)

    @cached_property
    def declared(self) -> dict[str, Any]:
        """What its strategy declares, read from one strategy made for the purpose (each
        search makes its own): plain values, so the study still pickles to a fold's process."""
        strategy = self.make_strategy(self.seed)
        low = self.fidelity.low if self.fidelity else None
        planned = getattr(strategy, "planned", None)
        return {
            "tabulates": getattr(strategy, "tabulates", False),
            "trials_per_fold": planned(self.budget.n_trials, low)
            if planned
            else self.budget.n_trials,
            "multi_fidelity": strategy.multi_fidelity,
        }

    @property
    def tabulates(self) -> bool:
        """Whether its strategy is a design whose trials make a table (adapters.design): each
        trial is then also refit and scored on the outer test (`outer_test`)."""
        return self.declared["tabulates"]

    @property
    def trials_per_fold(self) -> int:
        """The trials a fold's progress counts to: its budget, or a design's configurations
        at each of its rungs (adapters.design)."""
        return self.declared["trials_per_fold"]

    @cached_property
    def whole_pipeline(self) -> str | None:
        """Why every trial refits the preprocessing too; None: it is fitted once per split."""
        multi_fidelity = self.declared["multi_fidelity"]
        return fallback(self.model.space, multi_fidelity, self.fidelity)

    @property
    def split_task(self) -> str:
        """The task that decides the folds: a clustering's are never stratified by the labels."""
        return CLUSTERING if self.model.task == CLUSTERING else self.dataset.task

    @property
    def hidden_labels(self) -> pd.Series | None:
        """A clustering's labels for the outside check (ARI, AMI); never given to a fit."""
        clustering = self.model.task == CLUSTERING
        return self.dataset.y if clustering and self.dataset.task == "classification" else None

    @property
    def target(self) -> pd.Series:
        """The target every fit gets: the dataset's, or for a clustering a constant, so that
        no fit, split or strategy sees a label."""
        if self.model.task == CLUSTERING:
            return pd.Series(0, index=self.dataset.X.index)
        return self.dataset.y

    @property
    def scorer(self) -> Any:
        """What scores a fitted pipeline: the metric's scorer, which for a clustering also
        reports the ARI against the hidden labels (recorded; a strategy sees only the index)."""
        return self.metric.hiding(self.hidden_labels)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.dataset.notes)

    @property
    def n_jobs(self) -> int | None:
        return self.protocol.n_jobs

    @property
    def searches(self) -> int:
        """Its outer folds (repeats x folds): independent searches a run may spread over cores."""
        return self.protocol.repeats * self.protocol.outer_folds

    @property
    def scorer_name(self) -> str:
        return self.metric.scorer_name

    def labels(self) -> dict[str, Any]:
        """The columns that say which study a record belongs to (harness.store.schema.LABELS)."""
        return study_labels(
            OmegaConf.to_container(self.config, resolve=True),
            self.key,
            self.metric.name,
            self.dataset.fingerprint,
        )


def prepare(cfg: DictConfig) -> Study | TableStudy:
    """Validate the config and load the data; raises UsageError on anything a user can fix.
    A config whose `problem` is a published table is a table study (harness.engine.table_study)."""
    if tables.is_table(cfg):
        return table_study.prepare(cfg)
    checked = settings.check(cfg)  # what the CLI checked before the heavy imports, again
    budget, protocol = checked.budget, Protocol(**checked.protocol)
    if cash.is_cash(cfg.model):  # its families' configs, read now: part of the study key
        with open_dict(cfg):
            cfg.model = cash.compose(cfg.model, CONF / "model")
    dataset = load_dataset(cfg.dataset)
    clustering = cfg.model.get("task") == CLUSTERING
    protocol.check_rows(dataset.y, CLUSTERING if clustering else dataset.task)
    model = (cash.load_cash if cash.is_cash(cfg.model) else load_model)(cfg.model, dataset.task)
    metric = get_metric(cfg.get("metric"), model.task, dataset.n_classes, model.estimator)
    if clustering:
        rows = protocol.fewest_inner_training_rows(len(dataset.X))
        if why := check_cluster_counts(model.space, model.estimator, rows):
            raise UsageError(f"model {model.name} on {dataset.name}: {why}")
        if dataset.task == "regression":
            dataset = replace(dataset, notes=(*dataset.notes, NO_LABELS))
    fidelity = Fidelity.from_config(cfg.model.get("fidelity"), model, int(cfg.seed))
    answered = None
    if tables.problem_name(cfg) == tables.OWN_TABLE:
        if not cfg.problem.get("table"):  # the one table that fits: part of the study key
            with open_dict(cfg):
                cfg.problem.table = own_table.find(
                    OmegaConf.to_container(cfg, resolve=True), dataset.fingerprint
                )
        answered = own_table.load(OmegaConf.to_container(cfg, resolve=True), dataset.fingerprint)
    key = study_key(cfg, dataset.fingerprint)
    study = Study(
        key, cfg, dataset, model, metric, budget, protocol, checked.seed, checked.retry,
        fidelity, progress_s=checked.progress_s, own_table=answered,
    )  # fmt: skip
    strategy = study.check_strategy(budget.n_trials)
    if answered is not None and strategy.multi_fidelity and len(answered.rungs) == 1:
        raise UsageError(
            f"strategy {cfg.strategy.name} is multi-fidelity, and table {answered.key} holds "
            "full evaluations only; build one with rungs: "
            + own_table.BUILD.format(dataset=cfg.dataset.name, model=cfg.model.name)
            + " design.rungs=true"
        )
    if getattr(strategy, "rungs", False) and fidelity is None:
        raise UsageError(
            f"design.rungs=true tabulates the rungs of the model's fidelity, and model "
            f"{model.name} declares none; leave design.rungs out, or add a fidelity to "
            f"conf/model/{model.name}.yaml"
        )
    if study.tabulates:  # a design's size counts the model's defaults once: known now
        defaults = pipeline_defaults(build_pipeline(model))
        strategy.start(SearchHandle.of(budget.n_trials, 1, fidelity, defaults))
        if why := strategy.cannot_run(budget.n_trials):
            raise UsageError(f"strategy {cfg.strategy.name}: {why}")
    if strategy.multi_fidelity and fidelity is None:
        raise UsageError(
            f"strategy {cfg.strategy.name} needs a fidelity, and model {model.name} declares "
            f"none; add one to conf/model/{model.name}.yaml, e.g. "
            "fidelity: {resource: rows, low: 0.1}"
        )
    if getattr(strategy, "stepwise", False) and not (fidelity and fidelity.continues):
        raise UsageError(
            f"strategy {cfg.strategy.name} trains models step by step, and model {model.name} "
            "has no step-wise training resource (a fidelity with continue: true); use a model "
            f"that has one: {', '.join(stepwise_models(model.task))}"
        )
    if "hypergradient" in getattr(strategy, "told", ()):
        return replace(study, hypergradient=_hypergradient(cfg, study))
    return study


def _hypergradient(cfg: DictConfig, study: Study) -> Hypergradient:
    """What a strategy that follows hypergradients is told; it refuses what it cannot run:
    a model without differentiable hyperparameters, or more than one worker (each step
    follows the last gradient, so there is nothing to run in parallel)."""
    hypergradient = Hypergradient.of(study.model, study.metric.name, cfg.strategy.name)
    if study.budget.workers > 1:
        raise UsageError(
            f"strategy {cfg.strategy.name} is sequential (each step follows the last "
            f"gradient) and budget.workers is {study.budget.workers}; set budget.workers=1"
        )
    return hypergradient


def study_key(cfg: DictConfig, data_fingerprint: str) -> str:
    """A stable hash of the resolved config and of the data it loaded.

    File paths, which differ between machines, and the `run` options and `protocol.n_jobs`,
    which say how to run a study, not what it computes, are left out; the data's fingerprint
    stands in for the path, so the same data resumes wherever it lives and other data is
    another study.
    """
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if tables.problem_name(resolved) == tables.NESTED_CV:  # the default: keys as before
        resolved.pop("problem", None)  # problems existed
    resolved.get("dataset", {}).pop("path", None)
    resolved.pop("run", None)
    resolved.get("protocol", {}).pop("n_jobs", None)  # processes, not results
    strategy = resolved.get("strategy", {})
    if isinstance(strategy.get("adapter"), dict):  # renamed options: the keys they had
        strategy["adapter"] = options.keyed_as_before(strategy["adapter"])
    return digest(resolved | {"data": data_fingerprint}, 16)


def run(
    study: Study | TableStudy,
    directory: Path,
    parallelism: Parallelism | None = None,
    cache: EvaluationCache | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every outer fold, journaling as it goes; returns the trial and fold tables.

    What an earlier run of the same study left in `directory` is kept: finished folds are
    skipped, an interrupted fold is resumed (see harness.store.resume), a finished study is read.
    Damaged records are recovered first (harness.store.resume): a table that cannot be read
    is rebuilt from the journals by the run that skips every fold they hold.
    A run that raises marks the study `failed` (or `interrupted`) with the error in
    `study.json` before the exception goes on, so no study is left marked running.
    Evaluations `cache` holds are read from it, and the others stored in it (harness.store.cache).
    A table study runs its one search (harness.engine.table_study.run).
    """
    if isinstance(study, TableStudy):  # and the other seeds run.seeds asks for, if any
        return (
            table_study.run_seeds(study)
            if directory == study.home
            else table_study.run(study, directory)
        )
    records = StudyRecords(directory, study.key)
    with records.lock():
        done = resume.load(records, study.key, study.retry)
        if done.finished:
            return done.tables
        meta = _meta(study) | {"parallel": parallelism.record() if parallelism else None}
        meta["started"] = records.read_meta().get("started", meta["started"])
        records.write_meta(meta | {"status": "running"})
        try:
            trials, folds = _run_folds(study, records, done, directory, cache, parallelism)
        except BaseException as e:  # recorded, then raised on: never left "running"
            status = "failed" if isinstance(e, Exception) else "interrupted"
            records.write_meta(meta | {"status": status, "error": error_text(e), "ended": now()})
            raise
        records.write_meta(meta | {"status": "finished", "finished": now()})
    return trials, folds


def _run_folds(
    study: Study,
    records: StudyRecords,
    done: resume.Progress,
    directory: Path,
    cache: EvaluationCache | None,
    parallelism: Parallelism | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outer folds not done yet, each journaled as it ends; then the parquet tables.
    Several at once (harness.engine.folds) when the plan says so (`outer_folds_at_once`)."""
    data = study.dataset
    splits = list(study.protocol.outer_splits(data.X, data.y, study.split_task, study.seed))
    bar = StudyProgress(
        study.labels(), len(splits), study.trials_per_fold, directory.parent, study.progress_s
    )
    at_once = parallelism.outer_folds_at_once if parallelism else 1
    todo = [s for s in splits if (s.repeat, s.fold) not in done.folds]
    if at_once > 1 and len(todo) > 1 and not evaluates_in_workers(study.budget):
        try:
            _folds_at_once(study, records, done, todo, bar, cache, at_once, parallelism.cpus)
        finally:
            bar.close()
        return records.write_tables()
    pool = worker_pool(study.budget)
    try:
        for i, split in enumerate(splits):
            place = (split.repeat, split.fold)
            if place not in done.folds:
                replay = done.trials.get(place, [])
                labels = fold_place(study, split)
                journal = resume.journal(records, labels)

                def on_trial(trial: dict[str, Any], journal: Any = journal) -> None:
                    journal(trial)
                    bar.trial(trial)

                forget = resume.forget(records, labels)
                fold = run_fold(study, split, on_trial, forget, replay, pool, cache)
                records.folds.append(fold)
            bar.fold_done(i + 1)
    finally:
        bar.close()
        if pool:
            pool.close()
    return records.write_tables()


def _folds_at_once(
    study: Study,
    records: StudyRecords,
    done: resume.Progress,
    todo: list[OuterSplit],
    bar: StudyProgress,
    cache: EvaluationCache | None,
    at_once: int,
    cores: int,
) -> None:
    """`todo`'s folds, `at_once` at a time over `cores` (harness.engine.folds), journaled here
    as their records arrive."""
    places = [fold_place(study, split) for split in todo]
    journals = [resume.journal(records, place) for place in places]
    forgets = [resume.forget(records, place) for place in places]
    told = [0] * len(todo)  # trials each fold told this run, while it runs
    finished = [False] * len(todo)
    folds_done = bar.folds - len(todo)
    bar.fold_done(folds_done)  # the folds an earlier run finished
    started: set[int] = set()

    class Journaled:  # harness.engine.folds.Sink
        def started(self, i: int) -> None:
            started.add(i)
            bar.at_once = len(started) - sum(finished)

        def trial(self, i: int, record: dict[str, Any]) -> None:
            journals[i](record)
            told[i] += 1
            bar.trial(record)

        def stale(self, i: int, n: int) -> None:
            forgets[i](n)

        def fold(self, i: int, record: dict[str, Any]) -> None:
            nonlocal folds_done
            records.folds.append(record)
            finished[i], folds_done = True, folds_done + 1
            running = sum(n for n, end in zip(told, finished, strict=True) if not end)
            bar.fold_done(folds_done, running, told[i])
            bar.at_once = max(1, len(started) - sum(finished))

    tasks = [(split, done.trials.get((split.repeat, split.fold), [])) for split in todo]
    run_folds_at_once(tasks, fold_task, (study, cache), at_once, cores, Journaled())


def fold_task(
    study: Study,
    cache: EvaluationCache | None,
    split: OuterSplit,
    replay: list[dict[str, Any]],
    on_trial: Callable[[dict[str, Any]], None],
    on_stale: Callable[[int], None],
    share: Callable[[], int],
) -> dict[str, Any]:
    """One outer fold as harness.engine.folds runs it, here or in a helper process: trials
    evaluated in this process, its inner CV on `share()` processes, which die with it."""
    with tied_workers():
        return run_fold(study, split, on_trial, on_stale, replay, None, cache, share)


def evaluates_in_workers(budget: Budget) -> bool:
    """Whether trials run in worker processes: k real-time workers, or one killable worker
    for the per-trial limits (else here, one at a time or on the simulated clock)."""
    return budget.clock == "real" and (budget.workers > 1 or budget.limits_trials)


def worker_pool(budget: Budget) -> WorkerPool | None:
    """The study's worker processes, started before any search's clock: k for real-time
    workers, or one killable worker for the per-trial limits; None when trials are evaluated
    here (one at a time without limits, or on the simulated clock, which runs them here)."""
    if not evaluates_in_workers(budget):
        return None
    return WorkerPool(budget.workers, budget.trial_timeout_s, budget.trial_memory_mb)


def fold_place(study: Study, split: OuterSplit) -> dict[str, Any]:
    """The labels of an outer fold's records: the study's, its repeat and fold."""
    return study.labels() | {"repeat": split.repeat, "outer_fold": split.fold}


def run_fold(
    study: Study,
    split: OuterSplit,
    on_trial: Callable[[dict[str, Any]], None],
    on_stale: Callable[[int], None],
    replay: list[dict[str, Any]] = (),
    pool: WorkerPool | None = None,
    cache: EvaluationCache | None = None,
    share: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Tune on the outer-training rows, then score tuned and default on the outer-test rows.

    Each trial record goes to `on_trial` as it is recorded; `on_stale(n)`: the journaled
    trials from proposal n on are stale (harness.engine.objective.Objective). `share()`, if
    given, says how many processes each evaluation's inner CV may use now.

    The problem is the fold's inner CV (`nested_cv`), or with problem=table the fold's rows of
    a table tunebench built, which answer the trials and the outer-test scores alike.
    """
    started = time.perf_counter()
    place = fold_place(study, split)
    if study.own_table is not None:  # problem=table: this fold's rows answer
        inner = OwnTableFold(study.own_table, split.repeat, split.fold, study.fidelity)
        answers, refit = None, inner.refit
    else:
        inner, answers, refit = nested_cv(study, split, pool, cache)

    def told(trial: dict[str, Any]) -> None:
        tabulated = outer_test(trial, refit) if study.tabulates else {}
        on_trial(trial | family_of(study.model, trial["params"]) | tabulated)

    def shared(*args: Any) -> Evaluation:  # the inner CV on the cores free now
        return replace(inner, n_jobs=split_processes(share(), len(inner.splits))).evaluate(*args)

    share = share if study.own_table is None else None  # a lookup runs on no processes
    objective = Objective(
        inner, study.budget, told, evaluate=shared if share else None, replay=replay,
        cache=answers, clock=Pooled(pool) if pool else None, on_stale=on_stale,
        per_fold=study.tabulates, designed=study.tabulates,
    )  # fmt: skip
    if pool:  # its workers evaluate what the objective would, evaluation cache included
        pool.bind(objective.evaluator)
    # a design is drawn from the study's seed: every outer fold of a table holds the same one
    seed = study.seed if study.tabulates else derive_seed(study.seed, split.repeat, split.fold)
    with contextlib.suppress(StopSearch):
        study.make_strategy(seed).search(objective)
    search_seconds = objective.elapsed()
    objective.continuation.clear()  # the models rungs continued are not needed after the search

    best = objective.best()

    default_params, default_inner, default_inner_cache = baseline(
        study.model.defaults, pool or objective
    )
    default = refit(default_params)
    default_test, default_error, default_warning, default_ari, default_ami, default_cache = default
    tuned = default
    if best is not None and best["params"] != default_params:
        tuned = refit(best["params"])
    tuned_test, tuned_error, tuned_warning, tuned_ari, tuned_ami, tuned_cache = tuned
    chosen = family_of(study.model, best["params"] if best else {})
    defaulted = {f"default_{k}": v for k, v in family_of(study.model, default_params).items()}
    labelled = place | chosen | defaulted
    return labelled | {
        "best_params": best["params"] if best else None,
        "best_trial": best["trial"] if best else None,
        "best_inner": best["inner_mean"] if best else float("nan"),
        "default_inner": float(default_inner),
        "tuned_test": tuned_test,
        "default_test": default_test,
        "gain": tuned_test - default_test,
        "tuned_error": tuned_error,
        "tuned_warning": tuned_warning,
        "default_error": default_error,
        "default_warning": default_warning,
        "n_trials": len(objective.trials),
        "n_failed": sum(t["status"] != "ok" for t in objective.trials),
        "full_evaluations": objective.spent,
        "search_seconds": search_seconds,
        "wall_seconds": time.perf_counter() - started + (answers.credit if answers else 0.0),
        "default_inner_cache": default_inner_cache,
        "default_test_cache": default_cache,
        "tuned_test_cache": tuned_cache,
        "n_undefined": sum(t["status"] == "undefined" for t in objective.trials),
        "tuned_ari": tuned_ari,
        "default_ari": default_ari,
        "tuned_ami": tuned_ami,
        "default_ami": default_ami,
    }


def nested_cv(
    study: Study, split: OuterSplit, pool: WorkerPool | None, cache: EvaluationCache | None
) -> tuple[InnerCV, Scope | None, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """One outer fold's inner CV on its outer-training rows, the evaluation cache's answers
    for it, and `refit`: a configuration refit on the outer-training rows and scored on the
    outer test (score, error, warning, ARI, AMI, cache flag), cached as kind `refit`.

    The preprocessing is fitted once per inner split and once on the outer-training rows
    (harness.problem.preprocessing) unless the study needs the whole pipeline refitted every trial.
    """
    X, y = study.dataset.X, study.target
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    splitter = study.protocol.inner_splitter(study.split_task, study.seed)
    inner_splits = list(splitter.split(X_train, y_train))
    outer_split = [(split.train, split.test)]
    pipeline = build_pipeline(study.model)
    prepared = Prepared if study.whole_pipeline else once_per_split
    tuning = prepared(pipeline, X_train, y_train, inner_splits)
    outer = prepared(pipeline, X, y, outer_split)
    n_jobs = inner_jobs(study.protocol.n_jobs, pool.k) if pool else study.protocol.n_jobs
    inner = InnerCV(
        tuning.pipeline, tuning.X, tuning.y, tuning.splits, study.scorer, n_jobs,
        study.fidelity, study.hypergradient,
    )  # fmt: skip
    answers = cache and fold_scope(cache, study, outer_split, inner_splits)

    def refit(params: dict[str, Any]) -> tuple[Any, ...]:
        def compute() -> dict[str, Any]:
            scored = refit_and_score(outer.pipeline, params, *outer.part(0), study)
            return dict(zip(REFIT + OUTSIDE, scored, strict=True))

        if answers is None:
            return (*compute().values(), None)
        answer = answers.once({"kind": "refit", "params": canonical(plain(params))}, compute)
        outside = (answer.value.get(k, math.nan) for k in OUTSIDE)  # older answers: none
        return (*(answer.value[k] for k in REFIT), *outside, answer.source)

    return inner, answers, refit


def outer_test(
    trial: dict[str, Any], refit: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> dict[str, Any]:
    """A tabulating study's columns of a trial (harness.store.schema.DESIGN_TRIAL): its
    configuration refit on the outer-training rows and scored on the outer test, as the fold's
    chosen configuration and defaults are (and cached alike); NaN for a trial that failed."""
    if trial["status"] != "ok" or trial["fidelity"] != 1:
        return {
            "outer_test": math.nan, "outer_error": None, "outer_warning": None,
            "outer_test_cache": None,
        }  # fmt: skip
    score, error, warning, *_outside, source = refit(trial["params"])
    return {
        "outer_test": score, "outer_error": error, "outer_warning": warning,
        "outer_test_cache": source,
    }  # fmt: skip


def baseline(
    defaults: tuple[dict[str, Any], ...], evaluator: Any
) -> tuple[dict[str, Any], float, str | None]:
    """The default configuration scoring best on inner CV (under the limits, if any), its inner
    score and cache flag: a model's library defaults, or with model=cash the best family's.
    Defaults that crash or time out score NaN, as their failed refit does."""
    scored = []
    for params in defaults:
        try:
            evaluation = evaluator.evaluate(params)
            scored.append((params, float(evaluation.scores.mean()), evaluation.cache))
        except Exception:
            scored.append((params, math.nan, None))
    finite = [s for s in scored if not math.isnan(s[1])]
    return max(finite, key=lambda s: s[1]) if finite else scored[0]


def family_of(model: ModelSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    """`{"family": ...}`, the family a configuration chose, with model=cash; else nothing."""
    return {FAMILY: (params or {}).get(FAMILY)} if model.families else {}


def fold_scope(
    cache: EvaluationCache, study: Study, outer: list[tuple], inner: list[tuple]
) -> Scope:
    """The cache's answers for one outer fold of this problem, whatever the strategy: the
    same data, outer and inner splits, pipeline (the model config without its space),
    scorer and seed."""
    model = OmegaConf.to_container(study.config.model, resolve=True)
    model.pop("space", None)
    for member in (model.get("members") or {}).values():  # model=cash: its families' too
        member.pop("space", None)
    # Whether rungs continue changes no evaluation from scratch, and a continued evaluation's
    # question says which rung it continued from (Objective.evaluate): both share answers.
    (model.get("fidelity") or {}).pop("continue", None)
    return cache.scope(
        data=study.dataset.fingerprint, outer=split_digest(outer), inner=split_digest(inner),
        model=model, metric=study.metric.scorer_name, seed=study.seed,
    )  # fmt: skip


def refit_and_score(
    pipeline: Pipeline, params: dict[str, Any], train: tuple, test: tuple, study: Study
) -> tuple[float, str | None, str | None, float, float]:
    """Refit a configuration on all outer-training rows; score it once on the outer test.

    Returns the score (NaN if the refit failed, or a clustering's index is undefined), the
    error text, any warning text, and a clustering's ARI and AMI against the labels (NaN
    without labels, and for supervised models).
    """
    estimator = clone(pipeline).set_params(**pipeline_params(params))

    def fit_and_score() -> tuple[float, str | None, float, float]:
        fitted = estimator.fit(*train)
        if study.metric.clustering:
            return outer_scores(study.metric.name, fitted, test[0], study.hidden_labels)
        return float(study.metric.scorer(fitted, *test)), None, math.nan, math.nan

    try:
        (score, undefined, ari, ami), warning = quietly(fit_and_score)
        return score, undefined, warning, ari, ami
    except Exception as e:
        return float("nan"), error_text(e), None, math.nan, math.nan


def _meta(study: Study) -> dict[str, Any]:
    return study.started_meta() | {
        "task": study.dataset.task,
        "data_fingerprint": study.dataset.fingerprint,
        "notes": list(study.dataset.notes),
        "rows": len(study.dataset.X),
        "features": study.dataset.X.shape[1],
        "scorer": study.metric.scorer_name,
        "preprocessing": {
            "once_per_split": study.whole_pipeline is None,
            "fallback": study.whole_pipeline,
        },
    }
