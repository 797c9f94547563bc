"""Practical equivalence: is a strategy better than the baseline, the same, or worse, by more
than a difference that matters (the region of practical equivalence, ROPE)?

"Not significantly different" may only mean too few instances. baycomp's Bayesian
signed-rank test (Benavoli et al. 2014) gives, from the paired outer-test scores on the
instances both ran, the posterior probabilities that the strategy is better by more than the
ROPE, within it, or worse by more than it. A probability above 0.95 is a decision; otherwise
the data leave it open.

Beside the probabilities, the verdict of harness.aggregate.verdict on the claim "the
strategy is as good as the baseline": the mean paired difference and its 95% bootstrap
interval against [-ROPE, ROPE]. The two agree in spirit; the table shows both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from baycomp import SignedRankTest

from harness.aggregate import guard, verdict
from harness.aggregate.risk import pooled
from harness.aggregate.settings import Settings
from harness.aggregate.significance import score_matrices

DECIDED = 0.95
METHOD = "baycomp SignedRankTest (Bayesian signed-rank, Benavoli et al. 2014)"


def probabilities(
    scores: np.ndarray, baseline: np.ndarray, settings: Settings
) -> tuple[float, float, float]:
    """P(better by more than the ROPE), P(within it), P(worse by more than it)."""
    better, same, worse = SignedRankTest.probs(
        scores, baseline, rope=settings.rope, nsamples=settings.resamples,
        random_state=settings.seed,
    )  # fmt: skip
    return float(better), float(same), float(worse)


def decision(better: float, same: float, worse: float) -> str:
    if better > DECIDED:
        return "practically better"
    if same > DECIDED:
        return "practically equivalent"
    if worse > DECIDED:
        return "practically worse"
    return "undecided"


def equivalence_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget, model (and "all") and strategy: the three probabilities against the
    baseline, on outer-test scores."""
    rows = []
    everything = pooled(runs)
    for model, block in everything.groupby("model", sort=True):
        for budget, matrix in score_matrices(block).items():
            if not guard.runnable(guard.ROPE, matrix, settings.baseline):
                continue
            base = matrix[settings.baseline].to_numpy()
            for strategy in matrix.columns.drop(settings.baseline):
                scores = matrix[strategy].to_numpy()
                p = probabilities(scores, base, settings)
                judged = verdict.paired_difference(
                    scores, base, -settings.rope, settings.rope, settings
                )
                rows.append(
                    {
                        "budget": budget, "model": model, "strategy": strategy,
                        "baseline": settings.baseline, "rope": settings.rope, "p_better": p[0],
                        "p_equivalent": p[1], "p_worse": p[2], "decision": decision(*p),
                        "method": METHOD,
                    } | judged
                )  # fmt: skip
    columns = ["budget", "model", "strategy", "baseline", "instances", "rope", "p_better",
               "p_equivalent", "p_worse", "decision", *verdict.COLUMNS, "instances_needed",
               "why", "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
