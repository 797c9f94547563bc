"""Parallel workers: what k workers buy in wall-clock time, and what they cost in trials.

Studies that differ only in `budget.workers` (same problem, budget, strategy and clock) form
a group; the fewest workers in it (k = 1 when it ran) is the reference. Per budget, strategy,
clock and k:

- *wall-clock speed-up*: on each problem instance, the reference run's search seconds over
  the k-worker run's (virtual seconds with the simulated clock), averaged over instances as
  the gain is (mean, 95% percentile bootstrap); `efficiency` is the speed-up per added
  worker, speed-up / (k / reference k): 1 when k workers finish k times sooner;
- *trials-to-target at each k*: ERT in trials, wall-clock and compute seconds (targets.py),
  and `trials_ratio`, ERT in trials at k over the reference's. Above 1 is the sample
  efficiency lost to parallelism: k workers propose before the results in flight are known,
  so they may need more trials to reach the same target, though each trial ends sooner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate.gain import mean_interval
from harness.aggregate.load import INSTANCE
from harness.aggregate.settings import Settings
from harness.aggregate.targets import ert_table

GROUP = ["problem", "budget", "strategy", "clock"]  # what studies differing in workers share
BY = ["budget", "strategy", "clock", "workers"]


def parallel_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The searching runs whose study has a sibling differing only in workers, each with the
    reference worker count of its group (`reference_workers`)."""
    searched = runs[runs.n_trials > 0]
    if searched.empty:
        return searched.assign(reference_workers=pd.Series(dtype=int))
    counts = searched.groupby(GROUP).workers.transform("nunique")
    grouped = searched[counts > 1]
    return grouped.assign(reference_workers=grouped.groupby(GROUP).workers.transform("min"))


def speedup_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget, strategy, clock and k: instances, mean search seconds, the wall-clock
    speed-up over the reference k with its interval, and the parallel efficiency."""
    parallel = parallel_runs(runs)
    place = [*GROUP, "repeat", "outer_fold"]
    reference = parallel[parallel.workers == parallel.reference_workers]
    paired = parallel.merge(
        reference[[*place, "search_seconds"]], on=place, suffixes=("", "_reference")
    )
    paired["speedup"] = paired.search_seconds_reference / paired.search_seconds
    rows = []
    for key, group in paired.groupby(BY, sort=True):
        speedup, low, high = mean_interval(group.speedup.to_numpy(dtype=float), settings)
        ratio = group.workers.iloc[0] / group.reference_workers.iloc[0]
        rows.append(
            dict(zip(BY, key, strict=True)) | {
                "reference_workers": int(group.reference_workers.iloc[0]),
                "instances": len(group.drop_duplicates(INSTANCE)),
                "search_seconds": group.search_seconds.mean(),
                "reference_seconds": group.search_seconds_reference.mean(),
                "speedup": speedup, "speedup_low": low, "speedup_high": high,
                "efficiency": speedup / ratio,
            }
        )  # fmt: skip
    columns = [*BY, "reference_workers", "instances", "search_seconds", "reference_seconds",
               "speedup", "speedup_low", "speedup_high", "efficiency"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def ert_by_workers(hits: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per budget, strategy, clock, k and target: success rate, ERT in trials, wall-clock
    and compute seconds, and ERT in trials relative to the reference k (`trials_ratio`)."""
    parallel = parallel_runs(runs)
    keys = ["study_key", "repeat", "outer_fold"]
    own = hits.merge(parallel[[*keys, "reference_workers"]], on=keys)
    columns = [*BY, "target", "runs", "successes", "median_trials", "success_rate",
               "ert_trials", "ert_seconds", "ert_compute", "trials_ratio"]  # fmt: skip
    if own.empty:
        return pd.DataFrame(columns=columns)
    table = ert_table(own, [*BY, "reference_workers"])
    reference = table[table.workers == table.reference_workers]
    table = table.merge(
        reference[["budget", "strategy", "clock", "target", "ert_trials"]],
        on=["budget", "strategy", "clock", "target"],
        suffixes=("", "_reference"),
        how="left",
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["trials_ratio"] = table.ert_trials / table.ert_trials_reference
    return table[columns]
