"""Evaluation: what scoring one configuration gives (`Evaluation`), and the two problems
that compute it behind one interface (`Problem`): inner CV on the outer-training rows
(`InnerCV`, here) and a lookup in a published table (harness.problem.tables).

The objective (harness.engine.objective), the loop and the clocks only see an `Evaluation`:
scores, the seconds the evaluation took (or would have taken), and any columns the problem
adds to the trial record; they never know which problem answered.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from harness.engine.continuation import Models, Rung, Start, kept
from harness.problem.fidelity import Fidelity
from harness.problem.hypergradient import Hypergradient
from harness.problem.indices import single_metric
from harness.problem.models import (
    pipeline_defaults,
    pipeline_name,
    pipeline_params,
    plain,
)
from harness.store.cache import Scope
from harness.store.records import canonical

T = TypeVar("T")


class Problem(Protocol):
    """What an objective evaluates on: `evaluate(params, fidelity, start)` gives an
    `Evaluation` (or raises what the evaluation raised); `fidelity` is the resource partial
    evaluations ration (None: none), `hypergradient` set when evaluations are differentiated.
    A problem whose answers depend on the trial's number (a table's seeded noise) says
    `numbered = True` and is called with `trial=` too."""

    fidelity: Fidelity | None
    hypergradient: Hypergradient | None
    defaults: dict[str, Any]  # the model's defaults by space name ({} where there are none)

    def evaluate(self, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any: ...


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
    columns: Mapping[str, Any] | None = None  # what the problem adds to the trial record

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
        return pipeline_defaults(self.pipeline)

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
