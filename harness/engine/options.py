"""The library options the strategy configs set, checked before a study.

Ranges: the libraries take most numeric options without complaint when they are out of range
(optuna's TPE runs with `n_startup_trials: -1`), so a typo would silently change the method.
One table, keyed by option name, serves every library: a name means the same wherever it
appears. Names: a library object the adapter makes only when its search starts (a `_partial_`
node: an optuna sampler or pruner, hyperopt's `suggest`) would meet a misspelt argument only
then, after records are written; `check_arguments` binds them to its signature first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness import checks
from harness.errors import UsageError

COUNT = {"integer": True, "low": 0}
SHARE = {"integer": False, "low": 0, "high": 1}
POSITIVE = {"integer": False, "low": 0, "above": True}

RANGES: dict[str, dict[str, Any]] = {
    "n_startup_trials": COUNT,  # optuna samplers
    "population_size": {"integer": True, "low": 2},  # optuna's NSGA-II, PBT (syne-tune, Ray)
    "crossover_prob": SHARE,
    "swapping_prob": SHARE,
    "reduction_factor": {"integer": True, "low": 2},  # optuna pruners
    "eta": {"integer": True, "low": 2},  # SMAC3's Hyperband intensifier
    "min_early_stopping_rate": COUNT,
    "n_startup_jobs": COUNT,  # hyperopt
    "n_EI_candidates": {"integer": True, "low": 1},
    "gamma": SHARE | {"above": True},
    "avg_best_idx": POSITIVE,
    "shrink_coef": POSITIVE,
    "n_initial_points": COUNT,  # scikit-optimize
    "rand_sample": {"integer": True, "low": 2, "optional": True},  # HEBO (it takes >= 2)
    "initialization_budget": {"integer": True, "low": 1, "optional": True},  # Ax
    "factor": {"integer": False, "low": 1, "above": True},  # scikit-learn's halving searchers
    "resolution": {"integer": True, "low": 1, "optional": True},  # grid
    "grace_period": {"integer": True, "low": 1},  # syne-tune's schedulers
    "brackets": {"integer": True, "low": 1, "optional": True},  # syne-tune, Ray Tune
    "perturbation_interval": {"integer": True, "low": 1},
    "quantile_fraction": {"integer": False, "low": 0, "high": 0.5, "above": True},
    "resample_probability": SHARE,
    "num_initial_points": COUNT | {"optional": True},  # Keras Tuner
    "alpha": POSITIVE,
    "beta": {"integer": False, "low": 0},
    "hyperband_iterations": {"integer": True, "low": 1, "optional": True},
    "learning_rate": POSITIVE,  # hypergrad's Adam
    "step": SHARE | {"above": True},  # coordinate descent (docs/examples/coordinate_descent.py)
}

FLAGS = {"rungs"}  # options that are true or false (the design's), never a truthy string

# Options renamed so that one name means one thing across libraries, per adapter: the old
# name is refused naming the new one, and a study key is still computed with the old name,
# so that a study run before the rename keeps its key (and resumes).
RENAMED: dict[str, dict[str, str]] = {
    "adapters.ray_schedulers.RayPBT": {
        "population": "population_size",
        "keep": "keep_on_exploit",
    },
}


# Options added to an adapter after studies were keyed without them: at this default value
# an option is left out of the study key, so those studies keep their keys (and resume).
ADDED: dict[str, dict[str, Any]] = {
    "adapters.design.Design": {"rungs": False},
}


def keyed_as_before(adapter: dict[str, Any]) -> dict[str, Any]:
    """The adapter's options under the names its study keys were first computed with, less
    the options added since that are at their default."""
    target = adapter.get("_target_")
    old = {new: name for name, new in RENAMED.get(target, {}).items()}
    added = ADDED.get(target, {})
    return {
        old.get(key, key): value
        for key, value in adapter.items()
        if not (key in added and value == added[key])
    }


def check(options: Mapping[str, Any], prefix: str = "strategy.adapter") -> None:
    """Raise UsageError for the first option, at any depth, outside its range (or renamed)."""
    renamed = RENAMED.get(options.get("_target_"), {})
    for key, value in options.items():
        if key in renamed:
            raise UsageError(
                f"{prefix}.{key} is now called {renamed[key]}; set {prefix}.{renamed[key]}"
            )
        if isinstance(value, Mapping):
            check(value, f"{prefix}.{key}")
        elif key in RANGES:
            checks.number(f"{prefix}.{key}", value, **RANGES[key])
        elif key in FLAGS and not isinstance(value, bool):
            raise UsageError(f"{prefix}.{key} is {value!r}; set it to true or false")


def check_arguments(adapter: Mapping[str, Any], prefix: str = "strategy.adapter") -> None:
    """Raise UsageError for an argument, at any depth, that its `_partial_` target does not take."""
    for key, node in adapter.items():
        if not isinstance(node, Mapping):
            continue
        if node.get("_partial_") and "_target_" in node:
            checks.arguments(node["_target_"], node, f"{prefix}.{key}")
        check_arguments(node, f"{prefix}.{key}")
