"""The objective a strategy optimises: inner CV on the outer-training rows, nothing else.

The harness owns evaluation, timing and records here, so adapters only propose
configurations. Strategies minimise: the objective returns the negated inner mean score
(NaN for a failed trial), and raises StopSearch once the budget is spent.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from harness import checks
from harness.engine.asktell import Proposal, SearchHandle
from harness.engine.clocks import CLOCKS, Clock, Done, Job, Sequential, Simulated
from harness.engine.continuation import Continuation, Models, Rung, Start, kept
from harness.engine.parallel import usable_cores
from harness.errors import UsageError, error_text
from harness.problem.fidelity import Fidelity
from harness.problem.hypergradient import Hypergradient
from harness.problem.indices import UndefinedIndex, single_metric
from harness.problem.models import pipeline_name, pipeline_params, plain, space_name
from harness.store.cache import Scope
from harness.store.records import canonical

T = TypeVar("T")


class StopSearch(Exception):
    """The budget is spent; raised by the objective, caught by the harness."""


class TrialStopped(Exception):
    """A limit stopped the trial's evaluation; `status` says which ("timeout" or "memory")."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Budget:
    n_trials: int
    time_s: float | None = None
    trial_timeout_s: float | None = None
    trial_memory_mb: int | None = None
    workers: int = 1
    clock: str = "real"
    compute_s: float | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> Budget:
        budget = cls(
            checks.number(
                "budget.n_trials", cfg.n_trials, low=1, high=MAX_TRIALS,
                why=" (a larger budget could never finish: taken for a typo)",
            ),
            checks.number("budget.time_s", cfg.get("time_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_timeout_s", cfg.get("trial_timeout_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_memory_mb", cfg.get("trial_memory_mb"), **POSITIVE_MB),
            checks.number("budget.workers", cfg.get("workers", 1), low=1, high=MAX_WORKERS),
            cfg.get("clock", "real"),
            checks.number("budget.compute_s", cfg.get("compute_s"), **POSITIVE_SECONDS),
        )  # fmt: skip
        if budget.clock not in CLOCKS:
            raise UsageError(
                f"budget.clock is {budget.clock!r}; set it to real (worker processes on this "
                "machine) or simulated (virtual workers, evaluations one at a time)"
            )
        cores = usable_cores()
        if budget.clock == "real" and budget.workers > cores:
            raise UsageError(
                f"budget.workers is {budget.workers} with budget.clock=real, and this machine "
                f"has {cores} cores; set budget.workers to at most {cores}, or "
                "budget.clock=simulated to study more workers than cores"
            )
        return budget

    @property
    def limits_trials(self) -> bool:
        """Whether trials need a killable process of their own (a timeout or memory cap)."""
        return self.trial_timeout_s is not None or self.trial_memory_mb is not None

    def make_clock(self) -> Clock:
        """The budget's clock, evaluating in this process (real time needs one worker)."""
        if self.clock == "simulated":
            return Simulated(self.workers)
        if self.workers > 1:
            raise ValueError("real-time workers run in worker processes: pass their clock")
        return Sequential()


MAX_TRIALS = 1_000_000
MAX_WORKERS = 4096  # more virtual workers than any cluster a study would model
POSITIVE_SECONDS = {"integer": False, "low": 0, "above": True, "optional": True, "unit": "seconds"}
POSITIVE_MB = POSITIVE_SECONDS | {"integer": True, "unit": "megabytes"}


@dataclass(frozen=True)
class Evaluation:
    scores: np.ndarray
    fit_seconds: float
    score_seconds: float
    warning: str | None = None
    cache: str | None = None  # "hit" or "miss" when the evaluation cache answered
    seconds: float | None = None  # then: the seconds it took when it was computed
    models: Models | None = None  # fitted per split, for the next rung to continue; not stored
    cpu_seconds: float = math.nan  # CPU time of the fits and scoring, in the processes they ran
    hypergradient: dict[str, Any] | None = None  # when the study differentiates its loss
    ari: np.ndarray | None = None  # a clustering's ARI per split against hidden labels, if any

    def stored(self) -> dict[str, Any]:
        return (
            {
                "scores": self.scores.tolist(),
                "fit_seconds": self.fit_seconds,
                "score_seconds": self.score_seconds,
                "warning": self.warning,
                "cpu_seconds": self.cpu_seconds,
            }
            | ({"hypergradient": self.hypergradient} if self.hypergradient else {})
            | ({} if self.ari is None else {"ari": self.ari.tolist()})
        )

    @classmethod
    def answered(cls, value: dict[str, Any], cache: str, seconds: float) -> Evaluation:
        ari = value.get("ari")
        return cls(
            np.array(value["scores"], dtype=float), value["fit_seconds"], value["score_seconds"],
            value["warning"], cache, seconds, cpu_seconds=value.get("cpu_seconds", math.nan),
            hypergradient=value.get("hypergradient"),
            ari=None if ari is None else np.array(ari, dtype=float),
        )  # fmt: skip

    @property
    def mean_ari(self) -> float:
        """The outside check of a clustering trial (NaN without labels): recorded, never
        returned to a strategy."""
        return math.nan if self.ari is None else float(np.mean(self.ari))


@dataclass(frozen=True)
class InnerCV:
    """What tuning may see: outer-training rows, their inner splits, the pipeline and scorer."""

    pipeline: Pipeline
    X: pd.DataFrame
    y: pd.Series
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorer: Callable[..., float]
    n_jobs: int | None = None
    fidelity: Fidelity | None = None  # the model's declared resource, for partial evaluations
    hypergradient: Hypergradient | None = None  # set: every evaluation is differentiated too

    @property
    def defaults(self) -> dict[str, Any]:
        """The pipeline's own parameter values by search-space name (`C`, `prep__...`): what
        the baseline is evaluated with."""
        params = self.pipeline.get_params(deep=True)
        return {space_name(k): v for k, v in params.items() if pipeline_name(space_name(k)) == k}

    @property
    def single_scorer(self) -> Callable[..., float]:
        """The scorer as one number (a clustering's index without its ARI), for searchers
        that take a single metric (scikit-learn's successive halving)."""
        return single_metric(self.scorer)

    def evaluate(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Start | None = None
    ) -> Evaluation:
        """Score one configuration on every inner split; raises what the model raises.

        Warnings (convergence and the like) are kept with the trial, not printed. `fidelity`
        (a fraction of `self.fidelity`) gives a partial evaluation; a fidelity declared to
        continue fits each split as a `Rung` (harness.engine.continuation), from `start`'s models.
        With `hypergradient` each split's fitted pipeline is differentiated too (`differentiated`).
        """
        estimator = clone(self.pipeline).set_params(**pipeline_params(params))
        splits = self.splits
        if fidelity is not None:
            estimator, splits = self.fidelity.apply(fidelity, estimator, splits, self.y)
        # One job per split, so each worker process keeps its own warnings and returns them:
        # a warning raised in a worker would otherwise be printed, not recorded.
        if fidelity is not None and self.fidelity.continues:
            rung = Rung(self.fidelity, self.fidelity.fraction(fidelity), start)
            jobs = (
                delayed(measured)(rung, k, estimator, self.X, self.y, split, self.scorer)
                for k, split in enumerate(splits)
            )
        elif self.hypergradient is not None and fidelity is None:
            jobs = (
                delayed(measured)(
                    differentiated, self.hypergradient, estimator, self.X, self.y, split,
                    self.scorer,
                )
                for split in splits
            )  # fmt: skip
        else:
            jobs = (
                delayed(measured)(
                    cross_validate, estimator, self.X, self.y, cv=[split], scoring=self.scorer,
                    error_score="raise",
                )
                for split in splits
            )  # fmt: skip
        done = Parallel(n_jobs=self.n_jobs)(jobs)
        results = [result for result, *_ in done]
        hypergradient = None
        if self.hypergradient is not None and fidelity is None:
            at = estimator.get_params()
            hypergradient = self.hypergradient.combine(
                [r.pop("hypergradient") for r in results],
                {n: at[pipeline_name(n)] for n in self.hypergradient.names},
            )
        return Evaluation(
            scores=np.concatenate([r["test_score"] for r in results]),
            fit_seconds=float(sum(r["fit_time"].sum() for r in results)),
            score_seconds=float(sum(r["score_time"].sum() for r in results)),
            warning=warning_text([w for _, ws, _ in done for w in ws]),
            models=kept(results),
            cpu_seconds=float(sum(cpu for *_, cpu in done)),
            hypergradient=hypergradient,
            ari=np.concatenate([r["test_ari"] for r in results])
            if "test_ari" in results[0]
            else None,
        )


def differentiated(
    hypergradient: Hypergradient,
    estimator: Pipeline,
    X: pd.DataFrame,
    y: pd.Series,
    split: tuple[np.ndarray, np.ndarray],
    scorer: Callable[..., float],
) -> dict[str, Any]:
    """`cross_validate` on one split, as for any trial, and the hypergradient of the pipeline
    it fitted there (harness.problem.hypergradient), with the seconds it took."""
    result = cross_validate(
        estimator, X, y, cv=[split], scoring=scorer, error_score="raise", return_estimator=True
    )
    started = time.perf_counter()
    train, test = ((X.iloc[rows], y.iloc[rows]) for rows in split)
    result["hypergradient"] = hypergradient.split(result.pop("estimator")[0], train, test)
    result["hypergradient"]["seconds"] = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class Evaluator:
    """One configuration's inner CV, answered by the evaluation cache when it holds it (and
    kept there when it did not): what runs for a trial, here or in a worker process, so it is
    picklable when `evaluate` is (InnerCV.evaluate is)."""

    evaluate: Callable[..., Evaluation]
    cache: Scope | None = None
    fidelity: Fidelity | None = None
    differentiated: str | None = None  # the loss whose hypergradient evaluations carry

    def __call__(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Start | None = None
    ) -> Evaluation:
        """`start`: the models of the rung this evaluation continues (asked only then)."""
        resumed = () if start is None else (start,)
        if self.cache is None or (start is not None and start.foreign):
            return self.evaluate(params, fidelity, *resumed)  # foreign: history, not params
        computed: list[Evaluation] = []

        def compute() -> dict[str, Any]:
            computed.append(self.evaluate(params, fidelity, *resumed))
            return computed[0].stored()

        question = {
            "kind": "inner CV",
            "params": canonical(plain(params)),
            "fidelity": 1.0 if fidelity is None else self.fidelity.fraction(fidelity),
        } | ({"continued_from": start.fraction} if start else {})
        if self.differentiated:  # an answer without the hypergradient would not do
            question["hypergradient"] = self.differentiated
        answer = self.cache.once(question, compute)
        return replace(  # a cached answer has no models: the next rung starts afresh
            Evaluation.answered(answer.value, answer.source, answer.seconds),
            models=computed[0].models if computed else None,
        )


class Objective:
    """Evaluates what a strategy proposes, under the budget, on a clock; every evaluation
    becomes one trial record. The trial loop (harness.engine.loop) drives it; a strategy may
    also call it with one configuration at a time (`objective(params)`)."""

    def __init__(
        self,
        inner: InnerCV,
        budget: Budget,
        on_trial: Callable[[dict[str, Any]], None],
        evaluate: Callable[..., Evaluation] | None = None,
        replay: Sequence[dict[str, Any]] = (),
        cache: Scope | None = None,
        clock: Clock | None = None,
        on_stale: Callable[[int], None] | None = None,
    ) -> None:
        """`evaluate` defaults to `inner.evaluate` (in-process); `replay` holds the trials a
        crashed run of this search journaled, answered again instead of re-evaluated while
        the strategy proposes the same configurations in the same order (`on_stale(n)` is
        called once if it goes another way at proposal n: journaled trials from n on are
        stale); `cache`, this outer fold's evaluation cache (harness.store.cache), answers
        what was evaluated before; `clock` defaults to the budget's (harness.engine.clocks)."""
        self.inner = inner
        differentiated = inner.hypergradient.surrogate if inner.hypergradient else None
        self.evaluator = Evaluator(
            evaluate or inner.evaluate, cache, inner.fidelity, differentiated
        )
        self.budget = budget
        self.clock = clock or budget.make_clock()
        self.trials: list[dict[str, Any]] = []  # in the order they were told
        self._on_trial = on_trial
        self._on_stale = on_stale
        self._replay = {t["trial"]: t for t in replay}
        self.asked = 0  # proposals admitted so far; a trial's number is its place among them
        self.spent = 0.0  # full-evaluation equivalents: a partial evaluation costs its fidelity
        self.computed = 0.0  # fit + score seconds of the evaluations told
        self._flying = 0.0  # full-evaluation equivalents in flight
        self._costs: dict[int, float] = {}  # what each proposal in flight costs
        self.continuation = Continuation()  # models a configuration's next rung continues
        self._thinking: dict[int, float] = {}

    @property
    def n_trials(self) -> int:
        return self.budget.n_trials

    @property
    def handle(self) -> SearchHandle:
        return SearchHandle.of(
            self.budget.n_trials, self.clock.workers, self.inner.fidelity, self.inner.defaults
        )

    def elapsed(self) -> float:
        return self.clock.now()

    def __call__(self, params: Mapping[str, Any], fidelity: float | None = None) -> float:
        """Score `params` by inner CV now; returns the loss to minimise (NaN if the trial
        failed). Raises StopSearch if the budget cannot pay for it.

        `fidelity`, a fraction of the model's declared resource (see harness.problem.fidelity),
        asks for a partial evaluation, which spends that fraction of the budget.
        """
        proposal = Proposal(dict(params), fidelity)
        self.clock.submit(self.admit(proposal))
        return self.record(self.clock.next(), proposal)

    def observe(
        self, batch: Sequence[tuple[Mapping[str, Any] | Proposal, Callable[[], Any], Any]]
    ) -> None:
        """Record a batch of evaluations a library runs itself on `self.inner` (scikit-learn's
        searchers, Ray Tune's trials), each `(params, evaluate, fidelity)` (params may be a
        whole Proposal): up to k at a time on the clock, in batch order, each checked against
        the budget first, timed and recorded. Raises StopSearch once the budget stops the
        batch (after recording what ran). Never replayed after a crash: the library needs its
        own results to go on, so it runs them again."""
        self._stale()
        running: dict[int, Proposal] = {}
        try:
            for params, evaluate, fidelity in batch:
                if not self.clock.idle():
                    self._finish(running)
                proposal = (
                    params if isinstance(params, Proposal) else Proposal(dict(params), fidelity)
                )
                number = self.admit(proposal).number
                running[number] = proposal
                self.clock.submit(
                    Job(number, proposal.params, fidelity, lambda *_, e=evaluate: e())
                )
        finally:
            while running:
                self._finish(running)

    def _finish(self, running: dict[int, Proposal]) -> None:
        done = self.clock.next()
        self.record(done, running.pop(done.job.number))

    def admit(self, proposal: Proposal, thinking: float = 0.0) -> Job:
        """Number a proposal and make it a job; raise StopSearch if the budget cannot pay.

        A rung that continues the models of the configuration's last rung costs only what it
        adds (harness.engine.continuation); a journaled trial replayed was paid for already."""
        params, fidelity = proposal.params, proposal.fidelity
        known = self._replay.get(self.asked)
        if known is not None and not self._same(known, params, fidelity):
            self._stale(self.asked)
            known = None
        fraction = self._fraction(fidelity)
        start = None
        if fidelity is not None and not known:  # its own models, or a copy of another's
            start = self.continuation.take(proposal.continues or params, fraction)
            if start is not None and proposal.continues is not None:
                start = replace(start, foreign=True)
        cost = fraction - (start.fraction if start else 0.0)
        if known is None:
            self._check_budget(cost)
        number, self.asked = self.asked, self.asked + 1
        self._flying += cost
        self._costs[number] = cost
        self._thinking[number] = thinking
        return Job(number, params, fidelity, self.evaluator, known, start)

    def _check_budget(self, cost: float) -> None:
        if self.spent + self._flying + cost > self.budget.n_trials + 1e-9:
            raise StopSearch(f"{self.budget.n_trials} full evaluations spent")
        if self.budget.time_s is not None and self.clock.now() >= self.budget.time_s:
            raise StopSearch(f"{self.budget.time_s} s spent")
        if self.budget.compute_s is not None and self.computed >= self.budget.compute_s:
            raise StopSearch(f"{self.budget.compute_s} s of evaluation spent")

    def _same(self, known: dict[str, Any], params: Mapping[str, Any], fidelity: Any) -> bool:
        return known["params"] == canonical(plain(params)) and known["fidelity"] == (
            self._fraction(fidelity)
        )

    def _stale(self, number: int = 0) -> None:
        """The strategy went another way than before the crash, at proposal `number`."""
        if self._replay:
            self._replay = {}
            if self._on_stale:
                self._on_stale(number)

    def evaluate(self, params: Mapping[str, Any], fidelity: float | None = None) -> Evaluation:
        """Inner CV of `params`, from the evaluation cache if it holds it; not recorded."""
        return self.evaluator(params, fidelity)

    def _fraction(self, fidelity: float | None) -> float:
        return 1.0 if fidelity is None else self.inner.fidelity.fraction(fidelity)

    def record(self, done: Done, proposal: Proposal) -> float:
        """The trial record of a finished job (journaled unless replayed); its loss."""
        cost = self._costs.pop(done.job.number)
        self._flying -= cost
        if done.job.known is not None:  # replayed: it counts again as it was, cost included
            record = done.job.known
            cost = record["full_evaluations"] - self.spent
        else:
            record = self._new_record(done, proposal, cost)
            fraction = record["fidelity"]
            start = done.job.start
            self.continuation.keep(
                proposal.params, fraction, getattr(done.outcome, "models", None),
                trial=done.job.number, foreign=start is not None and start.foreign,
            )  # fmt: skip
        self.spent += cost
        self.computed += _compute(record)
        self.trials.append(record)
        if done.job.known is None:
            self._on_trial(record)
        return -record["inner_mean"]

    def _new_record(self, done: Done, proposal: Proposal, cost: float) -> dict[str, Any]:
        fraction = self._fraction(proposal.fidelity)
        status, error, evaluation = "ok", None, done.outcome
        if isinstance(evaluation, TrialStopped):
            evaluation, status, error = None, evaluation.status, str(evaluation)
        elif isinstance(evaluation, UndefinedIndex):  # a degenerate clustering: no score
            evaluation, status, error = None, "undefined", error_text(evaluation)
        elif isinstance(evaluation, Exception):
            evaluation, status, error = None, "failed", error_text(evaluation)
        elif not np.isfinite(evaluation.scores).all():
            error = f"non-finite inner scores {evaluation.scores.tolist()}"
            evaluation, status = None, "failed"
        fidelity = proposal.fidelity
        exploited = proposal.continues is not None and done.job.start is not None
        return {
            "trial": done.job.number,
            "params": plain(proposal.params),
            "status": status,
            "error": error,
            "warning": evaluation.warning if evaluation else None,
            "inner_mean": float(np.mean(evaluation.scores)) if evaluation else math.nan,
            "inner_std": float(np.std(evaluation.scores)) if evaluation else math.nan,
            "fit_seconds": evaluation.fit_seconds if evaluation else math.nan,
            "score_seconds": evaluation.score_seconds if evaluation else math.nan,
            "cpu_seconds": evaluation.cpu_seconds if evaluation else math.nan,
            "eval_seconds": done.seconds,
            "choose_seconds": self._thinking.pop(done.job.number, 0.0),
            "elapsed_seconds": done.end,
            "worker": done.worker,
            "start": done.start,
            "end": done.end,
            "fidelity": fraction,
            "resource": None if fidelity is None else self.inner.fidelity.value(fidelity),
            "full_evaluations": self.spent + cost,
            "continued": cost < fraction,
            "member": proposal.member,
            "exploited_from": (done.job.start.trial if exploited else proposal.exploited_from),
            "cache": getattr(done.outcome, "cache", None),
            "inner_ari": evaluation.mean_ari if evaluation else math.nan,
        } | (  # a differentiated study's trials say which loss, its value and its gradient
            {"hypergradient": evaluation.hypergradient if evaluation else None}
            if self.inner.hypergradient
            else {}
        )

    def best(self) -> dict[str, Any] | None:
        """The first proposed full-fidelity trial with the highest inner mean, as
        GridSearchCV's `best_index_`: partial evaluations only guide a search, never win it."""
        ok = [t for t in self.trials if t["status"] == "ok" and t["fidelity"] == 1]
        ok.sort(key=lambda t: t["trial"])
        return max(ok, key=lambda t: t["inner_mean"], default=None)


def _compute(record: dict[str, Any]) -> float:
    """Fit + score seconds of a trial (0 for one that never got that far)."""
    seconds = record["fit_seconds"] + record["score_seconds"]
    return 0.0 if math.isnan(seconds) else seconds


def quietly(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, str | None]:
    """Call `fn`, keeping its warnings (convergence and the like) as text instead of printing."""
    result, kept = caught(fn, *args, **kwargs)
    return result, warning_text(kept)


def measured(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str], float]:
    """`caught`, and the CPU seconds the call took in the process that ran it (an inner-CV
    worker's own, so summing them over splits counts every process's share)."""
    started = time.process_time()
    result, kept = caught(fn, *args, **kwargs)
    return result, kept, time.process_time() - started


def caught(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str]]:
    """Call `fn`; return its result and its warnings, each as "Category: message"."""
    with warnings.catch_warnings(record=True) as kept:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [f"{w.category.__name__}: {str(w.message).strip()}" for w in kept]


def warning_text(kept: Sequence[str]) -> str | None:
    """The first warning, and how many more there were: one line for a table."""
    if not kept:
        return None
    return kept[0] + (f" (+{len(kept) - 1} more)" if len(kept) > 1 else "")
