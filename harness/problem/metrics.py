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


# name -> (task, scorer for binary or regression, scorer for multiclass, needs predict_proba)
_METRICS: dict[str, tuple[str, str, str, bool]] = {
    "accuracy": ("classification", "accuracy", "accuracy", False),
    "balanced_accuracy": ("classification", "balanced_accuracy", "balanced_accuracy", False),
    "f1_macro": ("classification", "f1_macro", "f1_macro", False),
    "roc_auc": ("classification", "roc_auc", "roc_auc_ovr", False),
    "log_loss": ("classification", "neg_log_loss", "neg_log_loss", True),
    "r2": ("regression", "r2", "r2", False),
    "rmse": ("regression", "neg_root_mean_squared_error", "", False),
    "mae": ("regression", "neg_mean_absolute_error", "", False),
    # internal indices of a clustering (harness.problem.indices), stored higher-is-better
    "silhouette": ("clustering", "silhouette", "silhouette", False),
    "davies_bouldin": ("clustering", "neg_davies_bouldin", "neg_davies_bouldin", False),
    "calinski_harabasz": ("clustering", "calinski_harabasz", "calinski_harabasz", False),
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}


def get_metric(name: str | None, task: str, n_classes: int, estimator: Any) -> Metric:
    """The metric for a study, refusing one the task or the model cannot produce."""
    name = name or DEFAULT_METRIC[task]
    if name not in _METRICS:
        raise UsageError(f"metric {name!r} is unknown; use one of {sorted(_METRICS)}")
    metric_task, binary, multiclass, needs_proba = _METRICS[name]
    if metric_task != task:
        fits = sorted(m for m, spec in _METRICS.items() if spec[0] == task)
        if "clustering" in (task, metric_task):
            model = "a clustering model" if task == "clustering" else f"a {task} model"
            wanted = "clustering" if metric_task == "clustering" else "supervised"
            raise UsageError(
                f"metric {name} is a {wanted} metric and the model is {model}; use one of "
                f"{fits}, or a {metric_task} model with metric {name}"
            )
        raise UsageError(f"metric {name} is for {metric_task} but the task is {task}; use {fits}")
    multi = task == "classification" and n_classes > 2
    if (needs_proba or (name == "roc_auc" and multi)) and not hasattr(estimator, "predict_proba"):
        raise UsageError(
            f"metric {name} needs predicted probabilities and {type(estimator).__name__} has "
            "no predict_proba; choose another metric or model"
        )
    return Metric(name, multiclass if multi else binary)
