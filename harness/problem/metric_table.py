"""The metrics a study can score by, by name: the task each is for, scikit-learn's scorer
names (binary or regression, multiclass), and whether it needs predicted probabilities.

A table without scikit-learn's import, so that `metric=` is checked against the model's task
from the config alone, before the heavy imports (harness.engine.settings); the scorers
themselves are harness.problem.metrics'.
"""

from __future__ import annotations

from harness.errors import UsageError

# name -> (task, scorer for binary or regression, scorer for multiclass, needs predict_proba)
METRICS: dict[str, tuple[str, str, str, bool]] = {
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


def metric_name(name: str | None, task: str) -> str:
    """The metric a study of a `task` model scores by (its default if `name` is None);
    UsageError, one line, for a name that is unknown or for another task."""
    name = name or DEFAULT_METRIC[task]
    if name not in METRICS:
        raise UsageError(f"metric {name!r} is unknown; use one of {sorted(METRICS)}")
    metric_task = METRICS[name][0]
    if metric_task != task:
        fits = sorted(m for m, spec in METRICS.items() if spec[0] == task)
        if "clustering" in (task, metric_task):
            model = "a clustering model" if task == "clustering" else f"a {task} model"
            wanted = "clustering" if metric_task == "clustering" else "supervised"
            raise UsageError(
                f"metric {name} is a {wanted} metric and the model is {model}; use one of "
                f"{fits}, or a {metric_task} model with metric {name}"
            )
        raise UsageError(f"metric {name} is for {metric_task} but the task is {task}; use {fits}")
    return name
