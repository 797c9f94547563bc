"""Trials-to-target and expected running time, in the sense of the COCO platform.

On each instance, the target for a fraction q is `best_known - (1 - q) * span`: q of the way
from the defaults' inner score to the best inner score any strategy reached (all targets
equal the defaults' score when no trial beat it). A run reaches a target at the first trial
whose best-so-far score is at least the target (ties count; 1e-9 absolute slack absorbs
float rounding); a run that never does is censored. The expected running time (ERT) of a
group of runs is everything they spent, successful or not, divided by their successes:
infinite when none succeeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate.anytime import SECONDS_GRID
from harness.aggregate.curves import LABELS, SLACK
from harness.aggregate.load import INSTANCE, RUN

TOLERANCE = 1e-9
UNITS = ("trials", "cost", "seconds", "compute")  # what ERT is counted in


def target_table(instances: pd.DataFrame, fractions: tuple[float, ...]) -> pd.DataFrame:
    """One row per instance and target fraction, with the score that reaches it."""
    table = instances.merge(pd.DataFrame({"target": list(fractions)}), how="cross")
    table["target_score"] = table.best_known - (1 - table.target) * table.span
    return table[[*INSTANCE, "dataset", "model", "target", "target_score", "span"]]


def same_as_best(goals: pd.DataFrame, curves: pd.DataFrame) -> pd.Series:
    """Per target: the share of instances on which it means the same as "the best known": no
    run's best-so-far ever lay at or above the target yet below the best known (scores are
    discrete, e.g. accuracy on a few hundred rows, so a near target can equal the best)."""
    scores = curves[[*INSTANCE, "best_so_far"]].dropna().drop_duplicates()
    merged = goals.merge(scores, on=INSTANCE, how="left")
    best = merged.target_score + (1 - merged.target) * merged.span
    between = (merged.best_so_far >= merged.target_score - TOLERANCE) & (
        merged.best_so_far < best - TOLERANCE
    )
    per_instance = merged.assign(between=between).groupby([*INSTANCE, "target"]).between.any()
    return 1 - per_instance.groupby("target").mean()


def hit_table(
    trajectories: pd.DataFrame, runs: pd.DataFrame, targets: pd.DataFrame
) -> pd.DataFrame:
    """Per run and target: reached or censored, and what it spent until then.

    `trials`, `cost` (full-evaluation equivalents), `seconds` (wall-clock) and `compute` (fit +
    score seconds over all workers) are what a successful run spent up to and including the
    trial that reached the target (NaN when censored); the
    `*_spent` columns are those for a success and the whole search for a censored run: the
    numerators of ERT.
    """
    scored = trajectories.merge(targets[[*INSTANCE, "target", "target_score"]], on=INSTANCE)
    scored = scored[scored.best_so_far >= scored.target_score - TOLERANCE]
    first = scored.groupby([*RUN, "target"], as_index=False).agg(
        trials=("trial", "min"),
        cost=("spent", "min"),
        seconds=("elapsed_seconds", "min"),
        compute=("compute_spent", "min"),
    )
    totals = ["n_trials", "cost", "search_seconds", "compute_seconds"]
    searched = runs.loc[runs.n_trials > 0, [*RUN, *LABELS, *totals]]
    hits = searched.merge(targets[[*INSTANCE, "target"]], on=INSTANCE)
    hits = hits.merge(first, on=[*RUN, "target"], how="left", suffixes=("_total", ""))
    hits["reached"] = hits.trials.notna()
    hits["trials_spent"] = hits.trials.fillna(hits.n_trials)
    hits["cost_spent"] = hits.cost.fillna(hits.cost_total)
    hits["seconds_spent"] = hits.seconds.fillna(hits.search_seconds)
    hits["compute_spent"] = hits.compute.fillna(hits.compute_seconds)
    return hits.drop(columns=["n_trials", "cost_total", "search_seconds", "compute_seconds"])


def ert_table(hits: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Success rate and expected running time per group and target.

    ERT comes in trials, in full-evaluation equivalents (`ert_cost`, which differs from
    trials only for multi-fidelity strategies), in wall-clock seconds and in compute seconds.
    """
    groups = hits.groupby([*by, "target"], as_index=False, sort=True)
    table = groups.agg(
        runs=("reached", "size"),
        successes=("reached", "sum"),
        trials_spent=("trials_spent", "sum"),
        cost_spent=("cost_spent", "sum"),
        seconds_spent=("seconds_spent", "sum"),
        compute_spent=("compute_spent", "sum"),
        median_trials=("trials", "median"),
    )
    table["success_rate"] = table.successes / table.runs
    with np.errstate(divide="ignore"):
        successes = table.successes.to_numpy(dtype=float)
        for unit in UNITS:
            table[f"ert_{unit}"] = table[f"{unit}_spent"].to_numpy(dtype=float) / successes
    return table.drop(columns=[f"{unit}_spent" for unit in UNITS])


def ecdf_table(hits: pd.DataFrame, runs: pd.DataFrame, unit: str = "cost") -> pd.DataFrame:
    """Fraction of runs that reached each target within a budget spent: of t full-evaluation
    equivalents (`unit` "cost": t trials for ordinary strategies) for t up to the budget, in
    column `spent`; or of compute seconds (`unit` "compute") on a log-spaced grid up to the
    most any run spent, in column `seconds`.

    Censored runs count in the denominator, so a curve ends at the success rate, not at 1.
    """
    horizon = runs.groupby("budget").n_trials_budget.max()
    x = "spent" if unit == "cost" else "seconds"
    rows = []
    for (budget, strategy, target), group in hits.groupby(["budget", "strategy", "target"]):
        if unit == "cost":
            steps = np.arange(1, int(horizon[budget]) + 1)
        else:
            spent = hits.loc[hits.budget == budget, f"{unit}_spent"]
            low = max(spent.min(), 1e-3)
            steps = np.geomspace(low, max(spent.max(), low * 1.01), SECONDS_GRID)
        solved = np.searchsorted(np.sort(group[unit].dropna()), steps + SLACK, side="right")
        rows.append(
            pd.DataFrame(
                {
                    "budget": budget,
                    "strategy": strategy,
                    "target": target,
                    x: steps,
                    "fraction": solved / len(group),
                }
            )
        )
    columns = ["budget", "strategy", "target", x, "fraction"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
