"""Every value a composed config sets that can be checked without its data or a heavy library:
the seed, the store, the budget, the protocol, the strategy's option ranges, the dataset's
task, source, rows and file, the model's task and the metric's, `run.*`, and a table study's
own rules.

`check` runs in the CLI on each combination a command composes, before scikit-learn, pandas
& co are imported (so a refusal takes a fraction of a second and writes nothing), and again,
the same function, when a study is prepared (harness.engine.study, table_study). What needs
the data or a library (the fold counts the rows can fill, the search space, the estimator's
and the strategy's library arguments, whether the estimator gives the probabilities a metric
needs) is checked there, after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import checks
from harness.engine import options
from harness.engine.budget import Budget
from harness.paths import CONF
from harness.problem import settings, tables
from harness.problem.metric_table import metric_name
from harness.store.run_options import cache_flag, check_store, retry_statuses

PROGRESS_S = 30.0  # run.progress_s: the default seconds between two lines during a search
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Settings:
    """What `check` validated, for a study to use as is."""

    seed: int
    budget: Budget
    progress_s: float
    protocol: dict[str, Any] | None = None  # nested CV's fold counts (problem.settings.protocol)
    retry: frozenset[str] = frozenset()
    cache: bool = True


def check(cfg: Any, local: bool = True) -> Settings:
    """A composed config's values, checked in the order a study reads them; UsageError (one
    line) on the first a user must fix. `local`: the study runs on this machine (False for a
    sweep a Ray cluster runs), so its cores, store and data file can be checked here."""
    seed = checks.number("seed", cfg.seed, low=0, high=MAX_SEED)
    if local:
        check_store(cfg.run.store)
    tables.check(cfg)
    budget = Budget.from_config(cfg.budget, local=local)
    if tables.is_table(cfg):
        options.check(cfg.strategy.adapter)
        return Settings(int(seed), budget, progress_seconds(cfg))
    protocol = settings.protocol(cfg.protocol)
    options.check(cfg.strategy.adapter)
    settings.dataset(cfg.dataset, local)
    if settings.is_cash(cfg.model):  # its families' configs read from conf/model/
        members = settings.cash_members(cfg.model, CONF / "model")
        model_task = next(iter(members.values())).get("task")
        settings.cash_task(list(members), model_task, cfg.dataset.task)
    else:
        settings.model_task(cfg.model, cfg.dataset.task)
        model_task = cfg.model.task
    metric_name(cfg.get("metric"), model_task)
    run = cfg.get("run", {})
    retry = retry_statuses(run.get("retry"))
    cache = cache_flag(run.get("cache", True))
    return Settings(int(seed), budget, progress_seconds(cfg), protocol, retry, cache)


def progress_seconds(cfg: Any) -> float:
    """run.progress_s, checked: seconds between progress lines at most."""
    seconds = checks.number(
        "run.progress_s", cfg.get("run", {}).get("progress_s", PROGRESS_S), integer=False,
        low=0, above=True, unit="seconds",
    )  # fmt: skip
    return float(seconds)
