"""Training that continues across rungs: a configuration's next rung grows its last rung's models.

A model whose fidelity is a training length its estimator can warm-start declares
`fidelity: {resource: max_iter or n_estimators, low: ..., continue: true}`
(harness.problem.fidelity). A partial evaluation then fits each inner split itself (not by
`cross_validate`, which clones and so cannot continue) and keeps the fitted estimator of every
split; the same configuration's next, higher rung on the same outer fold starts from them with
`warm_start=True` and trains only the increment, which is all it costs in full-evaluation
equivalents. The preprocessing is not part of what is kept: it is fitted once per split
(harness.problem.preprocessing) or, when a study refits the whole pipeline, refitted as it was.

What a continued rung equals:

- Ensembles (`n_estimators` of forests and gradient boosting, `max_iter` of
  HistGradientBoosting): the resource counts the whole model, and a warm-started fit adds only
  the missing trees or iterations. With an integer `random_state` (every shipped model has
  one) the result is the model a from-scratch fit of the same size gives: scikit-learn tests it
  (forests draw the random states of the trees already grown first; HistGradientBoosting's
  `test_warm_start_yields_identical_results`), and tests/test_continuation.py checks it here.
- Iterative solvers (`max_iter` of logistic regression, MLP, elastic net): each fit runs up to
  `max_iter` iterations from the previous solution, so a continued rung runs the increment.
  The solver restarts from the coefficients it reached (L-BFGS's curvature pairs and Adam's
  moments are not kept), so the model is a valid one of that length, close to but not
  guaranteed equal to a from-scratch fit.

The state (`Continuation`) holds, per configuration of one outer fold's search, the rung it
reached and its fitted estimators, as its last record left them: a later rung gets a copy, so
they stay as recorded while it trains; a failed, cached or full-fidelity evaluation leaves
nothing behind, and nothing is kept after the search. It is never journaled nor cached: a
replayed or cached rung has no models, so the next rung of that configuration fits from scratch
and its record says it did not continue.

Population-based training continues another configuration's models: after an exploit step a
member trains a copy of a stronger member's last models with its own, perturbed
hyperparameters (`Proposal.continues`), set on the copied estimators before they train on.
Such models (and every later rung grown from them) are `foreign`: what they score depends on a
history of configurations, not on one, so their evaluations are never cached.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from harness.problem.fidelity import Fidelity
from harness.problem.models import STEP, plain
from harness.store.records import canonical

Models = tuple[BaseEstimator, ...]  # one fitted final estimator per inner split
GROWN_BY_MAX_ITER = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


@dataclass(frozen=True)
class Start:
    """What a rung continues from: the fraction of the resource reached and its models; the
    trial that fitted them, and whether another configuration's training is in their history."""

    fraction: float
    models: Models
    trial: int | None = None
    foreign: bool = False


class Continuation:
    """The last rung's fitted models of each configuration, within one outer fold's search."""

    def __init__(self) -> None:
        self._last: dict[str, Start] = {}

    def reached(self, params: Mapping[str, Any], fraction: float) -> float:
        """The rung an evaluation of `params` at `fraction` would continue from; 0: none."""
        start = self._last.get(_key(params))
        return start.fraction if start is not None and start.fraction < fraction else 0.0

    def take(self, params: Mapping[str, Any], fraction: float) -> Start | None:
        """A copy of the models to continue for `params` at `fraction` (the kept ones stay as
        recorded: another member may copy them too, or the evaluation may fail)."""
        start = self._last.get(_key(params))
        if start is None or start.fraction >= fraction:
            return None
        return Start(start.fraction, copy.deepcopy(start.models), start.trial, start.foreign)

    def keep(
        self,
        params: Mapping[str, Any],
        fraction: float,
        models: Models | None,
        *,
        trial: int | None = None,
        foreign: bool = False,
    ) -> None:
        """Remember the models `params` reached at `fraction` in `trial`, unless that is the
        full fidelity; without models (failed, cached), forget what `params` had."""
        if models is not None and fraction < 1:
            self._last[_key(params)] = Start(fraction, models, trial, foreign)
        elif self._last:  # nothing kept (every full evaluation, a table's): no key to compute
            self._last.pop(_key(params), None)

    def clear(self) -> None:
        self._last.clear()

    def __len__(self) -> int:
        return len(self._last)


@dataclass(frozen=True)
class Rung:
    """One evaluation at `fraction` of a continuing fidelity, per inner split: continue split
    k's model from `start`, or fit a fresh one warm-startable; a picklable call for joblib."""

    fidelity: Fidelity
    fraction: float
    start: Start | None = None

    def __call__(
        self,
        k: int,
        pipeline: Pipeline,
        X: pd.DataFrame,
        y: pd.Series,
        split: tuple[np.ndarray, np.ndarray],
        scorer: Any,
    ) -> dict[str, Any]:
        """cross_validate's result for one split (fit and score seconds of what was trained
        here), with the fitted estimator under "estimator" when a later rung may continue it."""
        pipeline = clone(pipeline)
        if self.start is not None:  # the configuration's hyperparameters on the models it grows
            configured = pipeline[-1].get_params(deep=False)
            pipeline.set_params(**{STEP: self.start.models[k].set_params(**configured)})
        model = pipeline[-1]
        model.set_params(warm_start=True, **{self.fidelity.resource: self._length(model)})
        train, test = split
        started = time.perf_counter()
        pipeline.fit(X.iloc[train], y.iloc[train])
        fitted = time.perf_counter()
        score = scorer(pipeline, X.iloc[test], y.iloc[test])
        scores = score if isinstance(score, dict) else {"score": score}  # a clustering's: + ari
        result = {f"test_{name}": np.array([value], dtype=float) for name, value in scores.items()}
        result |= {
            "fit_time": np.array([fitted - started]),
            "score_time": np.array([time.perf_counter() - fitted]),
        }
        return result | ({"estimator": model} if self.fraction < 1 else {})

    def _length(self, model: BaseEstimator) -> int:
        """The resource to set: the rung's whole length for a model that counts what it has
        grown, the increment for a solver whose every fit runs up to that many iterations."""
        total = self.fidelity.value(self.fraction)
        if self.start is None or counts_total(model, self.fidelity.resource):
            return total
        return total - self.fidelity.value(self.start.fraction)


def counts_total(model: BaseEstimator, resource: str) -> bool:
    """Whether a warm-started fit of `model` trains up to `resource` in all (ensembles: it
    adds only the missing trees or iterations) rather than that much more (solvers)."""
    return resource == "n_estimators" or isinstance(model, GROWN_BY_MAX_ITER)


def kept(results: list[dict[str, Any]]) -> Models | None:
    """The fitted estimators of a rung's splits, if it kept them for the next rung."""
    if not results or any("estimator" not in r for r in results):
        return None
    return tuple(r["estimator"] for r in results)


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(canonical(plain(params)), sort_keys=True)
