"""Compute: the fit + score seconds a search spent on evaluations, summed over its workers.

Trials do not cost alike (a large forest against a small one, a partial multi-fidelity fit
against a full one), so a comparison at equal trials can favour a strategy that proposes
expensive configurations. Every table that compares strategies at a budget therefore shows
each strategy's mean compute per run beside it (`compute_seconds`), and the curves, ranks
and targets come against compute seconds as well as trials (harness.aggregate.anytime,
targets). A budget in compute seconds (`budget.compute_s`, label "... s compute") stops every
search at the same compute: at such a budget the recommendation ranks on compute.
"""

from __future__ import annotations

import pandas as pd

from harness.aggregate.gain import mean_interval
from harness.aggregate.settings import Settings

TRIALS, COMPUTE = "trials", "compute"  # the axes a budget compares strategies on


def compute_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget and strategy: runs, mean compute seconds per run with its 95% bootstrap
    interval, median, and mean compute seconds per trial."""
    rows = []
    searched = runs[runs.n_trials > 0]
    for (budget, strategy), group in searched.groupby(["budget", "strategy"], sort=True):
        seconds = group.compute_seconds.to_numpy(dtype=float)
        mean, low, high = mean_interval(seconds, settings)
        rows.append(
            {
                "budget": budget, "strategy": strategy, "runs": len(group),
                "compute_seconds": mean, "compute_low": low, "compute_high": high,
                "compute_median": float(group.compute_seconds.median()),
                "compute_per_trial": float(seconds.sum() / group.n_trials.sum()),
            }
        )  # fmt: skip
    columns = ["budget", "strategy", "runs", "compute_seconds", "compute_low", "compute_high",
               "compute_median", "compute_per_trial"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def beside(table: pd.DataFrame, compute: pd.DataFrame) -> pd.DataFrame:
    """A per (budget, strategy) comparison table with each strategy's mean compute seconds
    per run added as its last column (NaN for a strategy that ran no trials)."""
    if table.empty:
        return table.assign(compute_seconds=pd.Series(dtype=float))
    spent = compute[["budget", "strategy", "compute_seconds"]]
    return table.drop(columns="compute_seconds", errors="ignore").merge(
        spent, on=["budget", "strategy"], how="left"
    )


def budget_axes(studies: pd.DataFrame, budgets: list[str]) -> dict[str, str]:
    """Per budget label, in the order given: "compute" when its studies stopped at a compute
    budget (every strategy got the same compute), else "trials"."""
    limits = studies.get("compute_budget", pd.Series(index=studies.index, dtype=float))
    capped = limits.notna().groupby(studies.budget).all()
    return {budget: COMPUTE if capped.get(budget, False) else TRIALS for budget in budgets}
