"""Where a study's wall-clock time goes, and how the optimiser's share grows with trials.

Each outer fold's wall time splits into four parts that add up to it:
- `evaluation`: the objective evaluating configurations (inner-CV fits and scores);
- `optimiser`: the strategy choosing the next configuration (`choose_seconds`);
- `bookkeeping`: the rest of the search (the harness journaling trials, stopping the search);
- `refit`: after the search, refitting the chosen and default configurations on the outer
  training rows, scoring them on the outer test rows, and scoring the defaults by inner CV.
"""

from __future__ import annotations

import pandas as pd

PARTS = ["evaluation", "optimiser", "bookkeeping", "refit"]
STUDY = ["study_key", "budget", "strategy", "dataset", "model"]


def time_split(runs: pd.DataFrame) -> pd.DataFrame:
    """Per study and part: seconds summed over its outer folds, and the part's share."""
    parts = runs.assign(
        evaluation=runs.eval_seconds.fillna(0),
        optimiser=runs.choose_seconds.fillna(0),
        refit=runs.wall_seconds - runs.search_seconds,
    )
    parts["bookkeeping"] = (parts.search_seconds - parts.evaluation - parts.optimiser).clip(0)
    per_study = parts.groupby(STUDY, as_index=False)[[*PARTS, "n_trials"]].sum()
    long = per_study.melt(
        id_vars=[*STUDY, "n_trials"], value_vars=PARTS, var_name="part", value_name="seconds"
    )
    total = long.groupby("study_key").seconds.transform("sum")
    long["share"] = long.seconds / total.where(total > 0)
    return long.sort_values([*STUDY, "part"]).reset_index(drop=True)


def overhead_by_trial(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per budget, strategy and trial number: quartiles of the optimiser's seconds per trial."""
    group = trajectories.dropna(subset=["choose_seconds"]).groupby(["budget", "strategy", "trial"])
    quartiles = group.choose_seconds.quantile([0.25, 0.5, 0.75]).unstack()
    table = quartiles.rename(columns={0.25: "q25", 0.5: "median", 0.75: "q75"})
    return table.join(group.size().rename("runs")).reset_index()


def time_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Per budget, strategy and part: mean seconds per study and the part's share of them."""
    table = split.groupby(["budget", "strategy", "part"], as_index=False, sort=False).agg(
        studies=("study_key", "nunique"), seconds=("seconds", "mean")
    )
    total = table.groupby(["budget", "strategy"]).seconds.transform("sum")
    table["share"] = table.seconds / total.where(total > 0)
    return table
