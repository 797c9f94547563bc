"""What a config sets for a nested-CV problem (the protocol's fold counts, the dataset's task,
source, rows and file, the model's task against the dataset's, `model=cash`'s families read
from conf/model/ and their task), checked from the config alone.

No data is read and nothing heavy is imported here, so the CLI runs these checks on every
composed combination before scikit-learn and pandas are imported; loading the problem
(harness.problem.protocol, data, models, cash) calls the same functions, so the messages are
one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

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


def cash_members(model: Any, models_dir: Path) -> dict[str, DictConfig]:
    """`model=cash`'s families, each its config read from `models_dir` (conf/model/); UsageError
    for `model.families` that is not a list of known models, lists one twice, or mixes tasks."""
    families = _family_names(model.get("families"), models_dir)
    members = {name: OmegaConf.load(models_dir / f"{name}.yaml") for name in families}
    tasks = {name: member.get("task") for name, member in members.items()}
    if len(set(tasks.values())) > 1:
        listed = ", ".join(f"{name} ({task})" for name, task in tasks.items())
        raise UsageError(
            f"model.families mixes tasks: {listed}; list models of one task, e.g. "
            "model.families=[logreg,svc,knn,rf,hgb] or [ridge,svr,knn_reg,rf_reg,hgb_reg]"
        )
    return members


def cash_task(families: Any, families_task: str, task: str) -> None:
    """`model=cash`'s families' task against the dataset's: UsageError if they cannot fit it."""
    if families_task != task:
        raise UsageError(
            f"model cash's families ({', '.join(families)}) are for {families_task} but the "
            f"dataset is a {task} task; set model.families to {task} models (see conf/model/)"
        )


def _family_names(families: Any, models_dir: Any) -> list[str]:
    shipped = sorted(p.stem for p in models_dir.glob("*.yaml") if p.stem != "cash")
    if not isinstance(families, ListConfig | list) or not all(isinstance(f, str) for f in families):
        raise UsageError(
            f"model.families is {families!r}; set it to a list of models from conf/model/, "
            "e.g. model.families=[logreg,svc,knn,rf,hgb]"
        )
    if not families:
        raise UsageError(
            "model.families is empty; list at least one model from conf/model/, e.g. "
            "model.families=[logreg,svc,knn,rf,hgb]"
        )
    unknown = [f for f in families if f not in shipped]
    if unknown:
        raise UsageError(
            f"model.families names unknown model(s) {unknown}; use models of conf/model/: "
            f"{', '.join(shipped)}"
        )
    twice = sorted({f for f in families if list(families).count(f) > 1})
    if twice:
        raise UsageError(f"model.families lists {twice} more than once; list each family once")
    return list(families)


def model_task(cfg: Any, task: str) -> None:
    """A (single) model config's task against the dataset's: UsageError if it cannot fit it.
    A clustering model fits any dataset: its target is ignored."""
    if cfg.task not in (task, CLUSTERING):
        raise UsageError(
            f"model {cfg.name} is for {cfg.task} but the dataset is a {task} task; "
            f"choose a {task} model (see conf/model/)"
        )
