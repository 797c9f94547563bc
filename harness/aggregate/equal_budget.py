"""Were the budgets really equal? Strategies are ranked at an equal number of trials (or of
compute seconds), but a strategy can use fewer trials than the budget (grid search
exhausting a grid smaller than it), many more partial trials (multi-fidelity: Hyperband runs
partial fits that add up to the budget in full-evaluation equivalents) or much more compute
per trial, and an optimiser can spend more seconds choosing than the models spend fitting.

Per budget and strategy this table puts what each one really used beside each other: trials
run, full-evaluation equivalents, compute (fit + score seconds over all workers), the
optimiser's own seconds (ask + tell) and their sum, each against the baseline's. A strategy
is flagged when it ran fewer trials than the budget, ran partial trials, or used more than
FLAG_RATIO times the baseline's fit + score seconds or of fit + score + optimiser seconds.
Ranks at a trial budget compare strategies at equal trials; ranks at a compute budget
(budget.compute_s) at equal fit + score seconds: the optimiser's seconds are shown, not
ranked on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate.settings import Settings

FLAG_RATIO = 1.5
COLUMNS = [
    "budget", "strategy", "runs", "trials_budget", "trials_used", "evaluations",
    "compute_seconds", "optimiser_seconds", "total_seconds", "compute_ratio", "total_ratio",
    "flag",
]  # fmt: skip
SHOWN = ["trials_used", "compute_seconds", "optimiser_seconds", "flag"]  # beside a ranking


def budget_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget and searching strategy: what it used, against the baseline, and its flag."""
    searched = runs[runs.n_trials > 0]
    table = searched.groupby(["budget", "strategy"], as_index=False, sort=True).agg(
        runs=("n_trials", "size"),
        trials_budget=("n_trials_budget", "max"),
        trials_used=("n_trials", "mean"),
        evaluations=("cost", "mean"),
        compute_seconds=("compute_seconds", "mean"),
        optimiser_seconds=("choose_seconds", "mean"),
    )
    table["optimiser_seconds"] = table.optimiser_seconds.fillna(0.0)
    table["total_seconds"] = table.compute_seconds + table.optimiser_seconds
    base = table[table.strategy == settings.baseline].set_index("budget")
    for column, ratio in (("compute_seconds", "compute_ratio"), ("total_seconds", "total_ratio")):
        reference = table.budget.map(base[column]) if len(base) else np.nan
        table[ratio] = table[column] / pd.Series(reference, index=table.index).where(
            lambda r: r > 0
        )
    table["flag"] = [_flag(row, settings.baseline) for row in table.itertuples()]
    return table.reindex(columns=COLUMNS)


def _flag(row, baseline: str) -> str:
    notes = []
    if row.trials_used < row.trials_budget - 0.5:
        notes.append(f"ran {row.trials_used:.3g} of {row.trials_budget} trials")
    elif row.trials_used > row.trials_budget + 0.5:
        notes.append(
            f"ran {row.trials_used:.3g} partial trials ({row.evaluations:.3g} full-evaluation "
            "equivalents)"
        )
    if row.compute_ratio > FLAG_RATIO:
        notes.append(f"{row.compute_ratio:.2g}x {baseline}'s fit + score seconds")
    elif row.total_ratio > FLAG_RATIO:
        notes.append(f"{row.total_ratio:.2g}x {baseline}'s seconds with its optimiser's")
    return "; ".join(notes)


def beside(table: pd.DataFrame, used: pd.DataFrame) -> pd.DataFrame:
    """A per (budget, strategy) ranking with what each strategy used (SHOWN) beside it."""
    shown = used[["budget", "strategy", *SHOWN]]
    merged = table.drop(columns=[c for c in SHOWN if c in table], errors="ignore")
    merged = merged.merge(shown, on=["budget", "strategy"], how="left")
    merged["flag"] = merged.flag.fillna("")
    return merged
