"""What a config sets for a nested-CV problem (the protocol's fold counts, the dataset's task,
source, rows and file, the model's task against the dataset's), checked from the config alone.

No data is read and nothing heavy is imported here, so the CLI runs these checks on every
composed combination before scikit-learn and pandas are imported; loading the problem
(harness.problem.protocol, data, models) calls the same functions, so the messages are one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness import checks
from harness.errors import UsageError

TASKS = ("classification", "regression")  # a dataset's
CLUSTERING = "clustering"  # a model task: no target; any dataset's rows can be clustered
SOURCES = ("sklearn", "openml", "file")  # where a dataset's rows come from
MAX_FOLDS = 1000  # more folds than this is a typo, and would take for ever


def protocol(cfg: Any) -> dict[str, Any]:
    """The protocol's counts (repeats, outer_folds, inner_folds, n_jobs), each checked."""
    n_jobs = cfg.get("n_jobs")
    if n_jobs == 0 or isinstance(n_jobs, bool) or not isinstance(n_jobs, int | None):
        raise UsageError(
            f"protocol.n_jobs is {n_jobs!r}; set it to a number of processes >= 1, -1 for "
            "every core, or null for none"
        )
    counts = {
        key: checks.number(f"protocol.{key}", cfg[key], low=low, high=MAX_FOLDS)
        for key, low in (("repeats", 1), ("outer_folds", 2), ("inner_folds", 2))
    }
    return counts | {"n_jobs": n_jobs}


def dataset(cfg: Any, local: bool = True) -> int | None:
    """A dataset config's task, source and `max_rows` (returned), and with `local` (the data
    is read on this machine) a file source's path; UsageError, one line, otherwise."""
    name, task = cfg.name, cfg.task
    if task not in TASKS:
        raise UsageError(f"dataset {name}: task is {task!r}; set task to one of {list(TASKS)}")
    if cfg.source not in SOURCES:
        raise UsageError(f"dataset {name}: source is {cfg.source!r}; use one of {list(SOURCES)}")
    max_rows = checks.number("dataset.max_rows", cfg.get("max_rows"), low=1, optional=True)
    if local and cfg.source == "file":
        data_file(cfg)
    return max_rows


def data_file(cfg: Any) -> Path:
    """A file source's path, if it is a file; UsageError naming a folder or a missing file."""
    path = Path(cfg.path).expanduser()
    if path.is_dir():
        raise UsageError(
            f"dataset {cfg.name}: {path} is a folder, not a file; set dataset.path to the "
            "data file in it (CSV, parquet or ARFF)"
        )
    if not path.is_file():
        raise UsageError(f"dataset {cfg.name}: file {path} does not exist; set dataset.path")
    return path


def is_cash(model: Any) -> bool:
    """Whether a model config chooses among families (`model=cash`)."""
    return isinstance(model, DictConfig) and "families" in model


def model_task(cfg: Any, task: str) -> None:
    """A (single) model config's task against the dataset's: UsageError if it cannot fit it.
    A clustering model fits any dataset: its target is ignored."""
    if cfg.task not in (task, CLUSTERING):
        raise UsageError(
            f"model {cfg.name} is for {cfg.task} but the dataset is a {task} task; "
            f"choose a {task} model (see conf/model/)"
        )
