"""The record schema, declared once: the columns of trial, fold and study records, and the
labels that say which study a row belongs to.

The labels are computed from the resolved config when a study is prepared, written into its
`study.json` and onto every trial and fold record (harness.engine.study); analysis reads them back
from there (harness.aggregate.load) instead of deriving them again. `problem` hashes what a
study was tuned on (everything but the strategy and the budget), so studies with the same
problem share their outer folds and can be compared fold by fold; `budget` names the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.store.provenance import digest

LABELS = (
    "study_key", "problem", "budget", "strategy", "model", "dataset", "metric", "seed",
    "workers", "clock",
)  # fmt: skip
PLACE = ("repeat", "outer_fold")  # which outer split of the study a record belongs to
TRIAL = (
    *LABELS, *PLACE, "trial", "params", "status", "error", "warning", "inner_mean",
    "inner_std", "fit_seconds", "score_seconds", "cpu_seconds", "eval_seconds", "choose_seconds",
    "elapsed_seconds", "worker", "start", "end", "fidelity", "resource", "full_evaluations",
    "continued", "member", "exploited_from", "cache", "inner_ari",
)  # fmt: skip
# A table study's trials (harness.engine.table_study) add: the configuration's seed-averaged
# score (a score: higher is better) and which recorded seed the trial read.
TABLE_TRIAL = ("true_score", "table_seed")
# A tabulating study's trials (strategy=design, harness.tabulate) add: each inner fold's score,
# and the configuration refit on the outer-training rows and scored on the outer test.
DESIGN_TRIAL = (
    "inner_scores", "outer_test", "outer_error", "outer_warning", "outer_test_cache",
)  # fmt: skip
# A study answered from such a table with a surrogate (problem.surrogate) adds which answered
# a trial: nearest or forest, or None where the design holds the configuration.
OWN_TABLE_TRIAL = ("surrogate",)
FOLD = (
    *LABELS, *PLACE, "best_params", "best_trial", "best_inner", "default_inner",
    "tuned_test", "default_test", "gain", "tuned_error", "tuned_warning", "default_error",
    "default_warning", "n_trials", "n_failed", "full_evaluations", "search_seconds",
    "wall_seconds", "default_inner_cache", "default_test_cache", "tuned_test_cache",
    "n_undefined", "tuned_ari", "default_ari", "tuned_ami", "default_ami",
)  # fmt: skip
TABLE_FOLD = ("best_values",)  # and its fold record: the chosen configuration, table values
STUDY = (
    "study_key", "labels", "status", "started", "finished", "seed", "config", "versions",
    "task", "data_fingerprint", "notes", "rows", "features", "scorer", "parallel", "error",
    "ended", "preprocessing", "table",
)  # fmt: skip


def study_labels(
    config: Mapping[str, Any], key: str, metric: str, data: str | None
) -> dict[str, Any]:
    """The labels of a study with this resolved config, key, metric name and data fingerprint.
    On a published table (`problem=<family>`) the model is the table family and the dataset
    its task, so aggregations group table studies as they group nested-CV ones."""
    table = _table(config)
    return {
        "study_key": key,
        "problem": problem_key(config, data),
        "budget": budget_label(config["budget"]),
        "strategy": config["strategy"]["name"],
        "model": table["name"] if table else config["model"]["name"],
        "dataset": table["task"] if table else config["dataset"]["name"],
        "metric": metric,
        "seed": config.get("seed"),
        "workers": int(config["budget"].get("workers", 1)),
        "clock": config["budget"].get("clock", "real"),
    }


def problem_key(config: Mapping[str, Any], data: str | None) -> str:
    """A hash of what a study was tuned on: its config minus strategy, budget and paths, and
    the fingerprint of the data it loaded (other data at the same path is another problem).
    Whether a model's rungs continue (`fidelity.continue`) changes how it is tuned, not the
    problem, so studies with and without continuation compare fold by fold. A table study's
    problem is its table, task and seed (the seed draws its noise); a study answered from a
    table tunebench built (problem=table) is nested CV's problem, that table's key and the
    surrogate that answers off its design."""
    table = _table(config)
    if table:
        return digest(
            {"table": table["name"], "task": table["task"], "seed": config.get("seed")}, 12
        )
    dataset = {k: v for k, v in config["dataset"].items() if k != "path"}
    protocol = config["protocol"]
    model = dict(config["model"])
    if isinstance(model.get("fidelity"), Mapping):  # continuing rungs is how, not what, to tune
        model["fidelity"] = {k: v for k, v in model["fidelity"].items() if k != "continue"}
    problem = {
        "dataset": dataset,
        "model": model,
        "metric": config.get("metric"),
        "seed": config.get("seed"),
        "folds": [protocol["outer_folds"], protocol["inner_folds"]],
        "data": data,
    }
    answered = config.get("problem") or {}
    if answered.get("name") == "table":  # answered from a tunebench table: its own problem
        problem["table"] = answered.get("table")
        problem["surrogate"] = answered.get("surrogate")  # off the design, the answers differ
    return digest(problem, 12)


def _table(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `problem` config of a table study; None for nested CV (the default)."""
    problem = config.get("problem") or {}
    return problem if problem.get("name", "nested_cv") not in ("nested_cv", "table") else None


def budget_label(budget: Mapping[str, Any]) -> str:
    """E.g. "20 trials", "20 trials, 60 s" with a time limit, "20 trials, 30 s compute" with a
    compute limit. Workers are a label of their own: the same budget spent by k workers."""
    label = f"{int(budget['n_trials'])} trials"
    if budget.get("time_s"):
        label += f", {budget['time_s']:g} s"
    if budget.get("compute_s"):
        label += f", {budget['compute_s']:g} s compute"
    return label


def ordered(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The schema's columns first, in its order; columns it does not declare (yet) after."""
    known = [c for c in columns if c in frame]
    return frame[known + [c for c in frame.columns if c not in columns]]
