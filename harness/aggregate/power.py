"""Power: which differences could this sweep detect, and how many instances would a given one
need?

From the observed spread of the paired differences in outer-test score between a strategy
and the baseline (their standard deviation across instances), the power of a two-sided
paired t-test at `alpha` (statsmodels.stats.power.TTestPower, 80% power): `detectable` is
the smallest mean difference this many instances detect; `needed_instances` is how many
instances it takes to detect a mean difference of `settings.detect`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.power import TTestPower

from harness.aggregate import guard
from harness.aggregate.settings import Settings

POWER = 0.8
METHOD = "statsmodels TTestPower (paired t-test, two-sided, 80% power) on the observed spread"


def power_table(matrices: dict[str, pd.DataFrame], settings: Settings) -> pd.DataFrame:
    """Per budget and strategy: sd of the paired differences, the detectable difference and
    the instances needed for `settings.detect`."""
    rows = []
    for budget, matrix in matrices.items():
        if not guard.runnable(guard.POWER, matrix, settings.baseline):
            continue
        for strategy in matrix.columns.drop(settings.baseline):
            diff = (matrix[strategy] - matrix[settings.baseline]).to_numpy(dtype=float)
            sd = float(np.std(diff, ddof=1))
            detectable = needed = np.nan
            if sd > 0:
                d = TTestPower().solve_power(nobs=len(diff), alpha=settings.alpha, power=POWER)
                detectable = float(d) * sd
                needed = TTestPower().solve_power(
                    effect_size=settings.detect / sd, alpha=settings.alpha, power=POWER
                )
                needed = math.ceil(float(needed))
            rows.append(
                {
                    "budget": budget, "strategy": strategy, "baseline": settings.baseline,
                    "instances": len(diff), "sd_difference": sd, "detectable": detectable,
                    "detect": settings.detect, "needed_instances": needed, "method": METHOD,
                }
            )  # fmt: skip
    columns = ["budget", "strategy", "baseline", "instances", "sd_difference", "detectable",
               "detect", "needed_instances", "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def sentence(row: pd.Series | None) -> str:
    """The power note printed beside a recommendation."""
    if row is None or pd.isna(row.detectable):
        return "power not estimated (needs the baseline, 2+ instances and some spread)"
    return (
        f"this sweep could detect differences of {row.detectable:.3g} against "
        f"{row.baseline}; to detect {row.detect:g} you need about {row.needed_instances:.0f} "
        "instances"
    )
