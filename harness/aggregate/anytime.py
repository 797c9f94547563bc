"""Anytime performance: how good the best configuration so far is, after t trials or s seconds.

Three views of the same curves:

- *normalised regret* (curves.py): 0 at the best known inner score, 1 at the defaults';
- *normalised score*, as in Bayesmark: 0 at the best known score, 1 at random search with
  the same number of trials. Random search's expected best of t trials is computed from all
  of the baseline's trials on the instance, as the expected maximum of t draws from their
  empirical distribution (Dodge et al., 2019, "Show your work"), so one random-search run
  per instance gives a smooth reference instead of one noisy draw;
- *mean rank* of each strategy's best-so-far score across instances, after each trial.

Each comes against trials, and the regret and rank also against seconds: of wall-clock
(`elapsed_seconds`, virtual with the simulated clock) and of compute (`compute_spent`, the
fit + score seconds summed over workers: what the search cost, however many workers ran it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate.curves import LABELS, regret
from harness.aggregate.load import INSTANCE, RUN

SECONDS_GRID = 40  # log-spaced points per budget for curves against wall-clock time


def random_reference(trajectories: pd.DataFrame, baseline: str, horizon: int) -> pd.DataFrame:
    """Per instance and t = 1..horizon: the baseline's expected best inner score of t trials."""
    rows = []
    own = trajectories[(trajectories.strategy == baseline) & (trajectories.cost >= 1)]
    scored = own.dropna(subset=["inner_mean"])
    steps = np.arange(1, horizon + 1)
    for key, group in scored.groupby(INSTANCE):
        values = np.sort(group.inner_mean.to_numpy())
        below = np.arange(len(values) + 1) / len(values)  # P(one draw <= i-th smallest)
        weights = np.diff(below[None, :] ** steps[:, None], axis=1)  # P(max of t draws is i-th)
        rows.append(
            pd.DataFrame(dict(zip(INSTANCE, key, strict=True)) | {"spent": steps}).assign(
                random_expected=weights @ values
            )
        )
    columns = [*INSTANCE, "spent", "random_expected"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def normalised_score(
    curves: pd.DataFrame, instances: pd.DataFrame, reference: pd.DataFrame
) -> pd.Series:
    """(best known - best so far) / (best known - random search's expected best so far).

    NaN where the baseline has no trials on the instance, or where its expected best already
    equals the best known score (no room to normalise by).
    """
    keys = [*INSTANCE, "spent"]
    merged = curves[[*keys, "best_so_far"]].merge(
        instances[[*INSTANCE, "best_known"]], on=INSTANCE, how="left"
    )
    merged = merged.merge(reference, on=keys, how="left")
    room = merged.best_known - merged.random_expected
    score = (merged.best_known - merged.best_so_far) / room.where(room > 0)
    return pd.Series(score.to_numpy(), index=curves.index)


def rank_table(curves: pd.DataFrame, x: str = "spent") -> pd.DataFrame:
    """Per run and point `x` (trials spent, or seconds): the rank of its best-so-far score
    among the strategies on that instance and budget (1 = best, ties share the average rank,
    no score yet ranks last).

    Only instances on which every strategy of the budget has a run are ranked.
    """
    keys = ["budget", *INSTANCE, x]
    group = curves.groupby([*keys, "strategy"])
    wide = group.best_so_far.mean().unstack("strategy")
    present = group.size().unstack("strategy", fill_value=0)
    ranked = []
    for _, block in wide.groupby(level="budget"):
        strategies = present.loc[block.index].columns[present.loc[block.index].sum() > 0]
        complete = (present.loc[block.index, strategies] > 0).all(axis=1)
        block = block.loc[complete, strategies]
        ranks = block.rank(axis=1, ascending=False, method="average", na_option="bottom")
        ranked.append(ranks.stack().rename("rank"))
    columns = [*keys, "strategy", "rank"]
    return pd.concat(ranked).reset_index() if ranked else pd.DataFrame(columns=columns)


def seconds_table(
    trajectories: pd.DataFrame, instances: pd.DataFrame, clock: str = "elapsed_seconds"
) -> pd.DataFrame:
    """Each run's best-so-far and regret on a log-spaced grid of seconds (`clock`: the
    trajectories' column of wall-clock or compute seconds spent).

    Best-so-far is defined as on the trials axis: from the first full-fidelity trial on
    (NaN before it ends), so it only improves; the defaults are not a trial. After its search
    ends, the last value holds.
    """
    frames = []
    for _, block in trajectories.groupby("budget", sort=False):
        low = max(block[clock].min(), 1e-3)
        high = max(block[clock].max(), low * 1.01)
        grid = np.geomspace(low, high, SECONDS_GRID)
        runs = block.drop_duplicates(RUN)[[*RUN, *LABELS]]
        points = runs.merge(pd.DataFrame({"seconds": grid}), how="cross")
        steps = block[[*RUN, clock, "best_so_far"]].rename(columns={clock: "seconds"})
        frames.append(
            pd.merge_asof(
                points.sort_values("seconds"),
                steps.sort_values("seconds"),
                on="seconds",
                by=RUN,
                direction="backward",
            )
        )
    columns = [*RUN, *LABELS, "seconds", "best_so_far"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table = table.sort_values([*RUN, "seconds"]).reset_index(drop=True)
    table["regret"] = regret(table, instances)
    return table


def anytime_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per budget, strategy and budget spent: median and mean normalised regret and score
    (a few terrible first trials can dominate a mean), and mean rank."""
    return curves.groupby(["budget", "strategy", "spent"], as_index=False).agg(
        runs=("study_key", "size"),
        regret_median=("regret", "median"),
        regret_mean=("regret", "mean"),
        score_median=("normalised_score", "median"),
        score_mean=("normalised_score", "mean"),
        rank=("rank", "mean"),
    )
