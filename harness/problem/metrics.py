"""Metric names users write, mapped once to scikit-learn scorers (greater is always better).

Scores are stored as the scorer returns them: accuracy as is, rmse as its negative
(`neg_root_mean_squared_error`), so "higher is better" and "gain > 0 is an improvement" hold
for every metric and no other module thinks about direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.metrics import get_scorer

from harness.errors import UsageError
from harness.problem.indices import INDICES, ClusterScorer
from harness.problem.metric_table import METRICS, metric_name


@dataclass(frozen=True)
class Metric:
    name: str
    scorer_name: str

    @property
    def clustering(self) -> bool:
        """An internal clustering index (harness.problem.indices), scored without labels."""
        return self.name in INDICES

    @property
    def scorer(self) -> Callable[..., Any]:
        """scikit-learn's scorer; for an index, one that returns {"score", "ari"} and has no
        labels to compare with (`hiding` gives it some)."""
        return ClusterScorer(self.name) if self.clustering else get_scorer(self.scorer_name)

    def hiding(self, labels: Any) -> Callable[..., Any]:
        """The scorer, which for an index also reports the ARI against `labels` (None: none)."""
        return ClusterScorer(self.name, labels) if self.clustering else self.scorer


def get_metric(name: str | None, task: str, n_classes: int, estimator: Any) -> Metric:
    """The metric for a study, refusing one the task or the model cannot produce."""
    name = metric_name(name, task)  # known, and for the model's task
    _, binary, multiclass, needs_proba = METRICS[name]
    multi = task == "classification" and n_classes > 2
    if (needs_proba or (name == "roc_auc" and multi)) and not hasattr(estimator, "predict_proba"):
        raise UsageError(
            f"metric {name} needs predicted probabilities and {type(estimator).__name__} has "
            "no predict_proba; choose another metric or model"
        )
    return Metric(name, multiclass if multi else binary)
