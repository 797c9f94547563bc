"""Which tests a budget's data can carry, and a note for each one it cannot.

A test comparing strategies needs enough of them and enough problem instances on which all
of them ran; one against the baseline needs the baseline there too. Every analysis asks
`runnable` before it computes, and `skipped_table` lists what was left out and why, so a
small sweep (two strategies, one instance) gets a report with notes instead of a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Needs:
    strategies: int
    instances: int
    baseline: bool = False


NEEDS = {
    "Friedman test (scipy)": Needs(3, 2),
    "Nemenyi post-hoc test (scikit-posthocs)": Needs(3, 2),
    "Bayesian signed-rank test with ROPE (baycomp)": Needs(2, 2, baseline=True),
    "power of the exact Wilcoxon test (scipy, simulated)": Needs(2, 2, baseline=True),
    "interquartile mean and performance profiles (scipy bootstrap)": Needs(1, 2),
    "budget crossover (scipy bootstrap)": Needs(2, 2),
}
FRIEDMAN, NEMENYI, ROPE, POWER, ROBUST, CROSSOVER = NEEDS


def missing(test: str, matrix: pd.DataFrame, baseline: str) -> str | None:
    """Why `test` cannot run on an instances x strategies matrix, or None if it can."""
    needs = NEEDS[test]
    strategies, instances = matrix.shape[1], len(matrix)
    if strategies < needs.strategies:
        return f"needs at least {needs.strategies} strategies, {strategies} ran"
    if instances < needs.instances:
        return f"needs at least {needs.instances} instances all strategies ran, {instances} here"
    if needs.baseline and baseline not in matrix.columns:
        return f"needs the baseline {baseline}, which did not run at this budget"
    return None


def runnable(test: str, matrix: pd.DataFrame, baseline: str) -> bool:
    return missing(test, matrix, baseline) is None


def skipped_table(matrices: dict[str, pd.DataFrame], baseline: str) -> pd.DataFrame:
    """Per budget and test that could not run: the reason."""
    rows = [
        {"budget": budget, "test": test, "reason": reason}
        for budget, matrix in matrices.items()
        for test in NEEDS
        if (reason := missing(test, matrix, baseline))
    ]
    return pd.DataFrame(rows, columns=["budget", "test", "reason"])
