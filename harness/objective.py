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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from harness.errors import UsageError
from harness.models import pipeline_params, plain


class StopSearch(Exception):
    """The budget is spent; raised by the objective, caught by the harness."""


@dataclass(frozen=True)
class Budget:
    n_trials: int
    time_s: float | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> Budget:
        n_trials, time_s = cfg.n_trials, cfg.get("time_s")
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise UsageError(f"budget.n_trials is {n_trials!r}; set it to an integer >= 1")
        if time_s is not None and (isinstance(time_s, bool) or not time_s > 0):
            raise UsageError(f"budget.time_s is {time_s!r}; set it to seconds > 0, or null")
        return cls(n_trials, time_s)


@dataclass(frozen=True)
class Evaluation:
    scores: np.ndarray
    fit_seconds: float
    score_seconds: float
    warning: str | None = None


@dataclass(frozen=True)
class InnerCV:
    """What tuning may see: outer-training rows, their inner splits, the pipeline and scorer."""

    pipeline: Pipeline
    X: pd.DataFrame
    y: pd.Series
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorer: Callable[..., float]
    n_jobs: int | None = None

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        """Score one configuration on every inner split; raises what the model raises.

        Warnings (convergence and the like) are kept with the trial, not printed.
        """
        estimator = clone(self.pipeline).set_params(**pipeline_params(params))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = cross_validate(
                estimator,
                self.X,
                self.y,
                cv=self.splits,
                scoring=self.scorer,
                n_jobs=self.n_jobs,
                error_score="raise",
            )
        return Evaluation(
            scores=result["test_score"],
            fit_seconds=float(result["fit_time"].sum()),
            score_seconds=float(result["score_time"].sum()),
            warning=_first_warning(caught),
        )


class Objective:
    """Call with a configuration; get its loss. Every call becomes one trial record."""

    def __init__(
        self,
        inner: InnerCV,
        budget: Budget,
        on_trial: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.trials: list[dict[str, Any]] = []
        self._on_trial = on_trial
        self._clock = clock
        self._start = self._last = clock()

    @property
    def n_trials(self) -> int:
        return self.budget.n_trials

    def elapsed(self) -> float:
        return self._clock() - self._start

    def __call__(self, params: Mapping[str, Any]) -> float:
        called = self._clock()
        if len(self.trials) >= self.budget.n_trials:
            raise StopSearch(f"{self.budget.n_trials} trials done")
        if self.budget.time_s is not None and called - self._start >= self.budget.time_s:
            raise StopSearch(f"{self.budget.time_s} s spent")
        try:
            evaluation, error = self.inner.evaluate(params), None
            if not np.isfinite(evaluation.scores).all():
                evaluation, error = None, f"non-finite inner scores {evaluation.scores.tolist()}"
        except Exception as e:
            evaluation, error = None, _error_text(e)
        done = self._clock()
        record = {
            "trial": len(self.trials),
            "params": plain(params),
            "status": "ok" if error is None else "failed",
            "error": error,
            "warning": evaluation.warning if evaluation else None,
            "inner_mean": float(np.mean(evaluation.scores)) if evaluation else math.nan,
            "inner_std": float(np.std(evaluation.scores)) if evaluation else math.nan,
            "fit_seconds": evaluation.fit_seconds if evaluation else math.nan,
            "score_seconds": evaluation.score_seconds if evaluation else math.nan,
            "eval_seconds": done - called,
            "choose_seconds": called - self._last,
            "elapsed_seconds": done - self._start,
        }
        self.trials.append(record)
        self._on_trial(record)
        self._last = self._clock()
        return -record["inner_mean"]

    def best(self) -> dict[str, Any] | None:
        """The first trial with the highest inner mean, as GridSearchCV's `best_index_`."""
        ok = [t for t in self.trials if t["status"] == "ok"]
        return max(ok, key=lambda t: t["inner_mean"], default=None)


def _first_warning(caught: list[warnings.WarningMessage]) -> str | None:
    if not caught:
        return None
    first = caught[0]
    more = f" (+{len(caught) - 1} more)" if len(caught) > 1 else ""
    return f"{first.category.__name__}: {str(first.message).strip()}{more}"


def _error_text(error: BaseException) -> str:
    """The exception's own line, as a user would want it in a table."""
    return "".join(traceback.format_exception_only(error)).strip()
