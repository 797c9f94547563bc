"""How to choose, from data: the practitioner's rule of thumb ("few parameters, small data:
grid; many: random; expensive model, small budget: Bayesian; iterative training: Hyperband"),
filled in from the sweep instead of from lore.

Instances are grouped by the situation a user is in: model family, size of its search space
(parameters), dataset size band (rows) and budget, and any further axis the studies record
(e.g. `workers`, when studies record it). In each group the table names the strategy with
the best mean rank of outer-test score, and whether it is practically better than the
baseline there (baycomp's Bayesian signed-rank test with the ROPE, as in `equivalence`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate import verdict
from harness.aggregate.equivalence import METHOD, decision, probabilities
from harness.aggregate.load import INSTANCE
from harness.aggregate.power import cannot_separate, smallest_p
from harness.aggregate.settings import Settings

AXES = ["model", "space_size", "rows_band", "budget"]
OPTIONAL_AXES = ["workers"]  # grouped by too when the studies record them
BANDS = [0, 1_000, 10_000, 100_000, np.inf]
BAND_NAMES = ["< 1k rows", "1k-10k rows", "10k-100k rows", ">= 100k rows"]


def choice_table(
    ranks: pd.DataFrame, runs: pd.DataFrame, studies: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    """Per situation: the best-ranked strategy, its mean rank, and its decision vs baseline."""
    situation = studies.drop_duplicates("problem").copy()
    situation["rows_band"] = pd.cut(
        situation["rows"].astype(float), BANDS, right=False, labels=BAND_NAMES
    ).astype(str)
    axes = AXES + [a for a in OPTIONAL_AXES if a in studies]
    extra = [a for a in axes if a not in ranks and a != "budget"]
    ranked = ranks.drop(columns=[a for a in extra if a in ranks]).merge(
        situation[["problem", *extra]], on="problem", how="left"
    )
    scores = runs.pivot_table(
        index=["budget", *INSTANCE], columns="strategy", values="tuned_test", aggfunc="mean"
    )
    rows = []
    for key, group in ranked.groupby(axes, sort=True, dropna=False):
        means = group.groupby("strategy")["rank"].mean().sort_values(kind="stable")
        best = means.index[0]
        instances = group.drop_duplicates(["budget", *INSTANCE])
        row = dict(zip(axes, key, strict=True)) | {
            "strategies": len(means), "strategy": best,
            "mean_rank": float(means.iloc[0]), "baseline": settings.baseline,
        }  # fmt: skip
        row |= _against_baseline(best, instances, scores, settings)
        rows.append(row)
    columns = [*axes, "instances", "strategies", "strategy", "mean_rank", "baseline",
               "p_better", "decision", *verdict.COLUMNS, "decidable", "instances_needed", "why",
               "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _against_baseline(
    best: str, instances: pd.DataFrame, scores: pd.DataFrame, settings: Settings
) -> dict:
    unjudged = verdict.row(np.nan, np.nan, np.nan, settings.rope, np.inf, len(instances))
    if best == settings.baseline:
        return unjudged | {"p_better": np.nan, "decision": "is the baseline", "method": "",
                           "why": "the baseline ranks best: nothing to claim"}  # fmt: skip
    if settings.baseline not in scores:
        return unjudged | {"p_better": np.nan, "decision": "baseline did not run", "method": "",
                           "why": "the baseline did not run"}  # fmt: skip
    keys = pd.MultiIndex.from_frame(instances[["budget", *INSTANCE]])
    pair = scores.reindex(keys)[[best, settings.baseline]].dropna()
    ours, base = pair[best].to_numpy(), pair[settings.baseline].to_numpy()
    nonzero = int(np.count_nonzero(ours - base))
    floor = smallest_p(nonzero)  # one test here: the best against the baseline
    undecidable = cannot_separate(
        len(pair), nonzero, best, settings.baseline, floor, settings.alpha, holm=False
    )
    judged = verdict.paired_difference(ours, base, settings.rope, np.inf, settings, undecidable)
    if len(pair) < 2:
        return judged | {"p_better": np.nan, "decision": "too few instances (< 2)", "method": ""}
    p = probabilities(ours, base, settings)
    return judged | {"p_better": p[0], "decision": decision(*p), "method": METHOD}
