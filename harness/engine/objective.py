"""The objective a strategy optimises: inner CV on the outer-training rows, nothing else.

The harness owns evaluation, timing and records here, so adapters only propose
configurations. Strategies minimise: the objective returns the negated inner mean score
(NaN for a failed trial), and raises StopSearch once the budget is spent.
"""

from __future__ import annotations

import math
import time
import traceback
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
from harness.engine.continuation import Continuation, Models, Rung, Start, kept
from harness.problem.fidelity import Fidelity
from harness.problem.models import pipeline_params, plain
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

    @classmethod
    def from_config(cls, cfg: Any) -> Budget:
        return cls(
            checks.number(
                "budget.n_trials", cfg.n_trials, low=1, high=MAX_TRIALS,
                why=" (a larger budget could never finish: taken for a typo)",
            ),
            checks.number("budget.time_s", cfg.get("time_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_timeout_s", cfg.get("trial_timeout_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_memory_mb", cfg.get("trial_memory_mb"), **POSITIVE_MB),
        )  # fmt: skip

    @property
    def limits_trials(self) -> bool:
        """Whether trials need a killable process of their own (a timeout or memory cap)."""
        return self.trial_timeout_s is not None or self.trial_memory_mb is not None


MAX_TRIALS = 1_000_000
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

    def stored(self) -> dict[str, Any]:
        return {
            "scores": self.scores.tolist(),
            "fit_seconds": self.fit_seconds,
            "score_seconds": self.score_seconds,
            "warning": self.warning,
        }

    @classmethod
    def answered(cls, value: dict[str, Any], cache: str, seconds: float) -> Evaluation:
        return cls(
            np.array(value["scores"], dtype=float), value["fit_seconds"], value["score_seconds"],
            value["warning"], cache, seconds,
        )  # fmt: skip


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

    def evaluate(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Start | None = None
    ) -> Evaluation:
        """Score one configuration on every inner split; raises what the model raises.

        Warnings (convergence and the like) are kept with the trial, not printed. `fidelity`
        (a fraction of `self.fidelity`) gives a partial evaluation; a fidelity declared to
        continue fits each split as a `Rung` (harness.engine.continuation), from `start`'s models.
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
                delayed(caught)(rung, k, estimator, self.X, self.y, split, self.scorer)
                for k, split in enumerate(splits)
            )
        else:
            jobs = (
                delayed(caught)(
                    cross_validate, estimator, self.X, self.y, cv=[split], scoring=self.scorer,
                    error_score="raise",
                )
                for split in splits
            )  # fmt: skip
        done = Parallel(n_jobs=self.n_jobs)(jobs)
        results = [result for result, _ in done]
        return Evaluation(
            scores=np.concatenate([r["test_score"] for r in results]),
            fit_seconds=float(sum(r["fit_time"].sum() for r in results)),
            score_seconds=float(sum(r["score_time"].sum() for r in results)),
            warning=warning_text([w for _, ws in done for w in ws]),
            models=kept(results),
        )


class Objective:
    """Call with a configuration; get its loss. Every call becomes one trial record."""

    def __init__(
        self,
        inner: InnerCV,
        budget: Budget,
        on_trial: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.perf_counter,
        evaluate: Callable[..., Evaluation] | None = None,
        replay: Sequence[dict[str, Any]] = (),
        cache: Scope | None = None,
    ) -> None:
        """`evaluate` defaults to `inner.evaluate` (in-process); `replay` holds the trials a
        crashed run of this search already journaled, returned again instead of re-evaluated
        while the strategy proposes the same configurations in the same order; `cache`, this
        outer fold's evaluation cache (harness.store.cache), answers what was evaluated before."""
        self.inner = inner
        self._cache = cache
        self.budget = budget
        self.trials: list[dict[str, Any]] = []
        self._on_trial = on_trial
        self._evaluate = evaluate or inner.evaluate
        self._replay = replay
        self._clock = clock
        self._start = self._last = clock()
        self.spent = 0.0  # full-evaluation equivalents: a partial evaluation costs its fidelity
        self.continuation = Continuation()  # models a configuration's next rung continues

    @property
    def n_trials(self) -> int:
        return self.budget.n_trials

    def elapsed(self) -> float:
        return self._clock() - self._start

    def __call__(self, params: Mapping[str, Any], fidelity: float | None = None) -> float:
        """Score `params` by inner CV; returns the loss to minimise (NaN if the trial failed).

        `fidelity`, a fraction of the model's declared resource (see harness.problem.fidelity), asks
        for a partial evaluation, which spends that fraction of the budget.
        """
        called = self._stop_if_spent(self._cost(params, fidelity))
        known = self._known(params, fidelity)
        if known is not None:
            return self._resume(known)
        self._replay = ()  # the strategy went another way (or the journal ended): evaluate
        return self._record(called, params, fidelity, lambda: self.evaluate(params, fidelity))

    def evaluate(self, params: Mapping[str, Any], fidelity: float | None = None) -> Evaluation:
        """Inner CV of `params`, from the evaluation cache if it holds it; not recorded."""
        fraction = self._fraction(fidelity)
        start = None if fidelity is None else self.continuation.take(params, fraction)
        resumed = () if start is None else (start,)  # a start only where one is continued
        computed: list[Evaluation] = []

        def compute() -> dict[str, Any]:
            computed.append(self._evaluate(params, fidelity, *resumed))
            return computed[0].stored()

        if self._cache is None:
            evaluation = self._evaluate(params, fidelity, *resumed)
        else:
            question = {
                "kind": "inner CV",
                "params": canonical(plain(params)),
                "fidelity": fraction,
            } | ({"continued_from": start.fraction} if start else {})
            answer = self._cache.once(question, compute)
            evaluation = replace(  # a cached answer has no models: the next rung starts afresh
                Evaluation.answered(answer.value, answer.source, answer.seconds),
                models=computed[0].models if computed else None,
            )
        self.continuation.keep(params, fraction, evaluation.models)
        return evaluation

    def observe(
        self,
        params: Mapping[str, Any],
        evaluate: Callable[[], Evaluation],
        fidelity: float | None = None,
    ) -> float:
        """Record an evaluation a library runs itself on `self.inner` (scikit-learn's searchers).

        As a call: the budget is checked first, then `evaluate()` is timed and becomes one
        trial record, and its loss is returned. Never replayed after a crash: the library
        needs its own results to go on, so it runs them again.
        """
        called = self._stop_if_spent(self._cost(params, fidelity))
        self._replay = ()
        return self._record(called, params, fidelity, evaluate)

    def _stop_if_spent(self, cost: float) -> float:
        """Raise StopSearch if the budget cannot pay for this evaluation; else the time now."""
        called = self._clock()
        if self.spent + cost > self.budget.n_trials + 1e-9:
            raise StopSearch(f"{self.budget.n_trials} full evaluations spent")
        if self.budget.time_s is not None and called - self._start >= self.budget.time_s:
            raise StopSearch(f"{self.budget.time_s} s spent")
        return called

    def _fraction(self, fidelity: float | None) -> float:
        return 1.0 if fidelity is None else self.inner.fidelity.fraction(fidelity)

    def _known(self, params: Mapping[str, Any], fidelity: float | None) -> dict[str, Any] | None:
        """The journaled trial this call repeats, if the strategy still follows the journal."""
        if len(self.trials) >= len(self._replay):
            return None
        known = self._replay[len(self.trials)]
        same = known["params"] == canonical(plain(params))
        return known if same and known["fidelity"] == self._fraction(fidelity) else None

    def _cost(self, params: Mapping[str, Any], fidelity: float | None) -> float:
        """Full-evaluation equivalents: the fraction, less the rung it continues from, if any;
        a journaled trial costs what it cost (it may have continued models no longer here)."""
        known = self._known(params, fidelity)
        if known is not None:
            return known["full_evaluations"] - self.spent
        fraction = self._fraction(fidelity)
        return fraction - (0.0 if fidelity is None else self.continuation.reached(params, fraction))

    def _record(
        self,
        called: float,
        params: Mapping[str, Any],
        fidelity: float | None,
        evaluate: Callable[[], Evaluation],
    ) -> float:
        status, error, cache, measured = "ok", None, None, None
        cost = self._cost(params, fidelity)
        try:
            evaluation = evaluate()
            cache, measured = evaluation.cache, evaluation.seconds
            if not np.isfinite(evaluation.scores).all():
                error = f"non-finite inner scores {evaluation.scores.tolist()}"
                evaluation, status = None, "failed"
        except TrialStopped as e:
            evaluation, status, error = None, e.status, str(e)
        except Exception as e:
            evaluation, status, error = None, "failed", error_text(e)
        done = self._clock()
        seconds = done - called
        if measured is not None:  # from the cache: it counts as long as it took when computed
            self._start -= measured - seconds
            seconds = measured
        self.spent += cost
        record = {
            "trial": len(self.trials),
            "params": plain(params),
            "status": status,
            "error": error,
            "warning": evaluation.warning if evaluation else None,
            "inner_mean": float(np.mean(evaluation.scores)) if evaluation else math.nan,
            "inner_std": float(np.std(evaluation.scores)) if evaluation else math.nan,
            "fit_seconds": evaluation.fit_seconds if evaluation else math.nan,
            "score_seconds": evaluation.score_seconds if evaluation else math.nan,
            "eval_seconds": seconds,
            "choose_seconds": called - self._last,
            "elapsed_seconds": done - self._start,
            "fidelity": self._fraction(fidelity),
            "resource": None if fidelity is None else self.inner.fidelity.value(fidelity),
            "full_evaluations": self.spent,
            "continued": cost < self._fraction(fidelity),
            "cache": cache,
        }
        self.trials.append(record)
        self._on_trial(record)
        self._last = self._clock()
        return -record["inner_mean"]

    def _resume(self, known: dict[str, Any]) -> float:
        """A journaled trial counts again as it was, time included, without being re-run."""
        self.trials.append(known)
        self.spent = known["full_evaluations"]
        now = self._clock()
        self._start, self._last = now - known["elapsed_seconds"], now
        return -known["inner_mean"]

    def best(self) -> dict[str, Any] | None:
        """The first full-fidelity trial with the highest inner mean, as GridSearchCV's
        `best_index_`: partial evaluations only guide a search, they never win it."""
        ok = [t for t in self.trials if t["status"] == "ok" and t["fidelity"] == 1]
        return max(ok, key=lambda t: t["inner_mean"], default=None)


def quietly(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, str | None]:
    """Call `fn`, keeping its warnings (convergence and the like) as text instead of printing."""
    result, kept = caught(fn, *args, **kwargs)
    return result, warning_text(kept)


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


def error_text(error: BaseException) -> str:
    """The exception's own line, as a user would want it in a table."""
    return "".join(traceback.format_exception_only(error)).strip()
