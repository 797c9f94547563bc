"""Internal clustering indices as scorers: how a clustering configuration is scored without labels.

A clustering pipeline is scored on rows it was not fitted on: its preprocessing transforms
them, its estimator assigns them (`predict`: the model's own, or the rule of
harness.problem.clusterers), and scikit-learn computes the index on the transformed rows and
their assignment. Indices are stored so that higher is better (Davies-Bouldin negated, as rmse
is), like every other metric.

Noise rows (-1, from DBSCAN) count as one group of their own: scattered noise then lowers the
index, where dropping it would let a configuration that calls every hard row noise score
excellently on the few it kept. An assignment with fewer than two clusters besides noise (one
cluster, all noise), or with as many groups as rows, has no index: `UndefinedIndex` says why,
and the trial is recorded with status `undefined` and that reason, never with a score.

The scorer also returns the adjusted Rand index of the assignment against the dataset's labels
when it has them (`labels`, looked up by row label). That is the outside check, recorded with
each trial: the objective returns only the index to a strategy, and its fits never see a label
(the objective's target is a constant).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.pipeline import Pipeline

from harness.problem.clusterers import NOISE

# name -> (scikit-learn's function, sign that makes higher better)
INDICES: dict[str, tuple[Callable[..., float], int]] = {
    "silhouette": (silhouette_score, 1),
    "davies_bouldin": (davies_bouldin_score, -1),
    "calinski_harabasz": (calinski_harabasz_score, 1),
}


class UndefinedIndex(ValueError):
    """The index is undefined for this assignment (a degenerate clustering); the text says why."""


def assign(pipeline: Pipeline, X: pd.DataFrame) -> tuple[Any, np.ndarray]:
    """Rows as the fitted pipeline's estimator sees them, and the clusters it assigns them."""
    rows = pipeline[:-1].transform(X)
    return rows, np.asarray(pipeline[-1].predict(rows))


def index(name: str, rows: Any, assigned: np.ndarray) -> float:
    """The index `name` of an assignment, higher is better; UndefinedIndex if degenerate."""
    clusters = np.unique(assigned[assigned != NOISE])
    noise = int((assigned == NOISE).sum())
    if len(clusters) < 2:
        found = "all noise" if len(clusters) == 0 else "one cluster"
        raise UndefinedIndex(
            f"degenerate clustering: {found} ({len(clusters)} cluster(s), {noise} of "
            f"{len(assigned)} rows noise); {name} needs at least 2 clusters"
        )
    groups = len(np.unique(assigned))
    if groups >= len(assigned):
        raise UndefinedIndex(
            f"degenerate clustering: {groups} groups for {len(assigned)} rows (a row per group); "
            f"{name} needs fewer groups than rows"
        )
    function, sign = INDICES[name]
    return sign * float(function(rows, assigned))


@dataclass(frozen=True)
class ClusterScorer:
    """A scorer (`scorer(pipeline, X, y)`) returning the index as "score" and, as "ari", the
    adjusted Rand index against `labels` (NaN without labels); `y` is ignored."""

    index: str
    labels: pd.Series | None = None
    single: bool = False  # the index alone, for searchers that take one metric

    def __call__(
        self, pipeline: Pipeline, X: pd.DataFrame, y: Any = None
    ) -> dict[str, float] | float:
        rows, assigned = assign(pipeline, X)
        score = index(self.index, rows, assigned)
        if self.single:
            return score
        ari = math.nan
        if self.labels is not None:
            ari = float(adjusted_rand_score(self.labels.loc[X.index], assigned))
        return {"score": score, "ari": ari}


def single_metric(scorer: Callable[..., Any]) -> Callable[..., Any]:
    """A scorer that returns one number: a ClusterScorer without its ARI, others as they are
    (scikit-learn's successive halving takes a single metric only)."""
    return replace(scorer, single=True) if isinstance(scorer, ClusterScorer) else scorer


def outer_scores(
    name: str, pipeline: Pipeline, X: pd.DataFrame, labels: pd.Series | None
) -> tuple[float, str | None, float, float]:
    """A refit configuration on the outer-test rows: its index (NaN if undefined), why it is
    undefined, and its ARI and AMI against `labels` (NaN without labels)."""
    rows, assigned = assign(pipeline, X)
    try:
        score, why = index(name, rows, assigned), None
    except UndefinedIndex as e:
        score, why = math.nan, f"UndefinedIndex: {e}"
    if labels is None:
        return score, why, math.nan, math.nan
    truth = labels.loc[X.index]
    ari = float(adjusted_rand_score(truth, assigned))
    return score, why, ari, float(adjusted_mutual_info_score(truth, assigned))
