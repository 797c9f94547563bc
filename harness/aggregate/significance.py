"""Ranks of strategies across problem instances, and how sure we can be about them.

Per budget, strategies are compared on the outer-test score of their tuned configuration
(what a user ends up with), on the instances where every strategy of that budget has a run.
Rank 1 is the best; ties share the average rank. The tests come from maintained packages:
Friedman's test (scipy), the Nemenyi post-hoc test (scikit-posthocs, which also draws the
critical-difference diagram), and, against the baseline, Wilcoxon signed-rank tests (scipy)
with Holm's correction for the number of strategies tested (statsmodels).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy.stats import friedmanchisquare, wilcoxon
from statsmodels.stats.multitest import multipletests

from harness.aggregate import guard
from harness.aggregate.load import INSTANCE

MEASURE = "tuned_test"


def score_matrices(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per budget: instances x strategies of outer-test scores, complete instances only."""
    matrices = {}
    for budget, block in runs.groupby("budget", sort=False):
        wide = block.pivot_table(index=INSTANCE, columns="strategy", values=MEASURE, aggfunc="mean")
        wide = wide.dropna(axis=1, how="all").dropna(axis=0, how="any")
        if len(wide) and wide.shape[1]:
            matrices[budget] = wide
    return matrices


def instance_ranks(matrices: dict[str, pd.DataFrame], runs: pd.DataFrame) -> pd.DataFrame:
    """Per budget, instance and strategy: the strategy's rank on that instance."""
    frames = []
    for budget, matrix in matrices.items():
        ranks = matrix.rank(axis=1, ascending=False, method="average")
        frames.append(ranks.stack().rename("rank").reset_index().assign(budget=budget))
    if not frames:
        return pd.DataFrame(columns=["budget", *INSTANCE, "strategy", "rank", "dataset", "model"])
    names = runs.drop_duplicates(INSTANCE)[[*INSTANCE, "dataset", "model"]]
    return pd.concat(frames, ignore_index=True).merge(names, on=INSTANCE, how="left")


def mean_ranks(ranks: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean rank and number of instances per group."""
    return ranks.groupby(by, as_index=False).agg(
        mean_rank=("rank", "mean"), instances=("rank", "size")
    )


def friedman_table(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per budget: Friedman's test that all strategies rank alike (needs >= 3 strategies)."""
    rows = []
    for budget, matrix in matrices.items():
        statistic = p_value = np.nan
        if guard.runnable(guard.FRIEDMAN, matrix, "") and matrix.nunique(axis=1).max() > 1:
            statistic, p_value = friedmanchisquare(*(matrix[c] for c in matrix.columns))
        rows.append(
            {
                "budget": budget,
                "strategies": matrix.shape[1],
                "instances": len(matrix),
                "statistic": float(statistic),
                "p_value": float(p_value),
            }
        )
    return pd.DataFrame(rows)


def nemenyi_table(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per budget and pair of strategies (each pair once, no strategy with itself): the
    Nemenyi post-hoc p-value."""
    frames = []
    for budget, matrix in matrices.items():
        if not guard.runnable(guard.NEMENYI, matrix, ""):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-tied rows: p = 1
            p = sp.posthoc_nemenyi_friedman(matrix.to_numpy())
        p.index = p.columns = matrix.columns
        long = p.rename_axis(index="strategy", columns="other").stack().rename("p_value")
        long = long.fillna(1.0).reset_index()
        frames.append(long[long.strategy < long.other].assign(budget=budget))  # each pair once
    columns = ["strategy", "other", "p_value", "budget"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def baseline_table(matrices: dict[str, pd.DataFrame], baseline: str, alpha: float) -> pd.DataFrame:
    """Per budget and strategy: paired comparison with the baseline on outer-test scores.

    Wins, ties and losses count instances; `p_holm` is the two-sided exact Wilcoxon
    signed-rank p-value (zero differences dropped; 1 when every difference is zero) after Holm's
    correction over the strategies of that budget. `beats_baseline` needs `p_holm < alpha`
    and a positive mean difference.
    """
    rows = []
    for budget, matrix in matrices.items():
        if baseline not in matrix.columns:
            continue
        block = []
        for strategy in matrix.columns.drop(baseline):
            diff = (matrix[strategy] - matrix[baseline]).to_numpy()
            block.append(
                {
                    "budget": budget,
                    "strategy": strategy,
                    "baseline": baseline,
                    "instances": len(diff),
                    "wins": int((diff > 0).sum()),
                    "ties": int((diff == 0).sum()),
                    "losses": int((diff < 0).sum()),
                    "mean_difference": float(diff.mean()),
                    "p_value": _wilcoxon(diff),
                }
            )
        if block:
            p = [row["p_value"] for row in block]
            holm = multipletests(p, alpha=alpha, method="holm")[1]
            for row, adjusted in zip(block, holm, strict=True):
                row["p_holm"] = float(adjusted)
                row["beats_baseline"] = bool(adjusted < alpha and row["mean_difference"] > 0)
            rows.extend(block)
    columns = ["budget", "strategy", "baseline", "instances", "wins", "ties", "losses",
               "mean_difference", "p_value", "p_holm", "beats_baseline"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _wilcoxon(diff: np.ndarray) -> float:
    if not np.any(diff != 0):
        return 1.0
    return float(
        wilcoxon(diff, zero_method="wilcox", alternative="two-sided", method="exact").pvalue
    )
