"""Power of the test the report actually runs against the baseline: the exact two-sided
Wilcoxon signed-rank test (scipy.stats.wilcoxon, method="exact", zero differences dropped)
with Holm's correction over the strategies of a budget.

- `p_floor`: the smallest Holm-adjusted p these data could give: scipy's exact p of `nonzero`
  differences all of one sign (2 / 2^n), times the m strategies tested (Holm's first step).
  When it is not below alpha, no result of this sweep could have been significant: the
  verdict says "n instances cannot separate these strategies".
- `detectable`: the smallest shift of the non-zero differences the same test, at the same
  level (alpha / m), detects with 80% power on this many instances, by simulation: each
  simulated instance is a tie (zero difference: both ended on the same score) with the
  observed share of ties, otherwise one of the observed non-zero differences, centred,
  drawn with replacement and shifted (the shift model of the signed-rank test); each
  simulated sweep is tested exactly as the report tests. Ties are kept because the test
  drops them: a sweep whose strategies often end on the same configuration has fewer pairs
  to test than instances.
- `needed_instances`: how many instances the same simulation needs to detect a mean
  difference of `settings.detect` with 80% power (capped at MAX_INSTANCES).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from harness.aggregate import guard
from harness.aggregate.settings import Settings

POWER = 0.8
SIMULATIONS = 400
MAX_INSTANCES = 500
METHOD = (
    "exact Wilcoxon signed-rank (scipy), Holm over the strategies; power by simulating that "
    f"test on the observed differences shifted ({SIMULATIONS} resamples, 80% power)"
)


@cache
def smallest_p(nonzero: int) -> float:
    """The smallest two-sided p the exact Wilcoxon test can give on `nonzero` differences
    (scipy's exact null distribution, at its most extreme statistic); 1 with none."""
    if nonzero == 0:
        return 1.0
    return float(wilcoxon(np.arange(1.0, nonzero + 1), method="exact").pvalue)


def p_floor(nonzero: int, tested: int) -> float:
    """The smallest Holm-adjusted p: the smallest raw p times the m strategies tested."""
    return min(1.0, smallest_p(nonzero) * tested)


def cannot_separate(
    instances: int,
    nonzero: int,
    strategy: str,
    baseline: str,
    floor: float,
    alpha: float,
    holm: bool = True,
) -> str:
    """Why the exact Wilcoxon test on these pairs cannot decide (empty when it can): the
    smallest p it can give, `floor` (Holm-adjusted when `holm`), is not below alpha."""
    if floor < alpha:
        return ""
    return (
        f"{instances} instances ({nonzero} with a non-zero difference) cannot separate "
        f"{strategy} from {baseline}: the smallest {'Holm p' if holm else 'p'} they can give "
        f"is {floor:.3g}"
    )


def instances_text(needed: float) -> str:
    """Instances needed, as the report words them (capped at MAX_INSTANCES)."""
    if np.isfinite(needed):
        return f"about {needed:.0f} instances"
    return f"more than {MAX_INSTANCES} instances"


def simulated_power(
    diff: np.ndarray, shift: float, instances: int, level: float, rng: np.random.Generator
) -> float:
    """Share of simulated sweeps of `instances` instances (ties at their observed share, the
    observed non-zero differences centred, resampled and shifted by `shift`) in which the
    exact Wilcoxon test gives p < level."""
    nonzero = diff[diff != 0]
    centred = nonzero - nonzero.mean()
    samples = rng.choice(centred, size=(SIMULATIONS, instances), replace=True) + shift
    tied = rng.random((SIMULATIONS, instances)) >= len(nonzero) / len(diff)
    samples[tied] = 0.0
    method = "exact" if instances <= 200 else "approx"  # exact beyond 200 takes seconds
    with np.errstate(all="ignore"):
        p = wilcoxon(samples, axis=1, zero_method="wilcox", method=method).pvalue
    return float(np.mean(np.nan_to_num(p, nan=1.0) < level))


def smallest_shift(power_at: Callable[[float], float], scale: float) -> float:
    """The smallest shift whose power (`power_at`, simulated on the same draws for every
    shift) reaches POWER, by bisection between 0 and 20 `scale`s; inf when even 20 do not.
    Shared by every test whose power the report simulates."""
    low, high = 0.0, 20 * scale
    if power_at(high) < POWER:
        return math.inf
    for _ in range(14):
        middle = (low + high) / 2
        if power_at(middle) < POWER:
            low = middle
        else:
            high = middle
    return high


def fewest_instances(enough: Callable[[int], bool]) -> float:
    """The fewest instances for which `enough` holds (doubling from 5, then bisection);
    inf beyond MAX_INSTANCES. Shared by every test whose power the report simulates."""
    high = 5
    while not enough(high):
        if high >= MAX_INSTANCES:
            return math.inf
        high = min(2 * high, MAX_INSTANCES)
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle
    return float(high)


def detectable_difference(
    diff: np.ndarray, level: float, seed: int, instances: int | None = None
) -> float:
    """The smallest shift detected with POWER (bisection on the simulated power); inf when
    even a shift of 20 spreads is not."""
    n = instances or len(diff)
    nonzero = diff[diff != 0]
    sd = float(np.std(nonzero)) or float(np.abs(nonzero).mean())  # all alike: their size
    return smallest_shift(  # the same draws for each shift
        lambda shift: simulated_power(diff, shift, n, level, np.random.default_rng(seed)), sd
    )


def needed_instances(diff: np.ndarray, shift: float, level: float, seed: int) -> float:
    """The fewest instances at which the simulated power to detect `shift` reaches POWER
    (doubling, then bisection); inf beyond MAX_INSTANCES."""

    def enough(n: int) -> bool:
        if smallest_p(n) >= level:
            return False
        rng = np.random.default_rng(seed)
        return simulated_power(diff, shift, n, level, rng) >= POWER

    return fewest_instances(enough)


def power_table(matrices: dict[str, pd.DataFrame], settings: Settings) -> pd.DataFrame:
    """Per budget and strategy: instances, non-zero differences, the Holm p floor and
    whether it can reach alpha, the detectable difference, and the instances needed."""
    rows = []
    for budget, matrix in matrices.items():
        if not guard.runnable(guard.POWER, matrix, settings.baseline):
            continue
        tested = matrix.shape[1] - 1
        level = settings.alpha / tested
        for strategy in matrix.columns.drop(settings.baseline):
            diff = (matrix[strategy] - matrix[settings.baseline]).to_numpy(dtype=float)
            nonzero = int(np.count_nonzero(diff))
            floor = p_floor(nonzero, tested)
            sd = float(np.std(diff, ddof=1))
            detectable = needed = np.nan
            if nonzero:  # something to resample
                detectable = detectable_difference(diff, level, settings.seed)
                needed = needed_instances(diff, settings.detect, level, settings.seed)
            rows.append(
                {
                    "budget": budget, "strategy": strategy, "baseline": settings.baseline,
                    "instances": len(diff), "nonzero": nonzero, "tested": tested,
                    "p_floor": floor, "can_reach_alpha": bool(floor < settings.alpha),
                    "sd_difference": sd, "detectable": detectable, "detect": settings.detect,
                    "needed_instances": needed, "method": METHOD,
                }
            )  # fmt: skip
    columns = ["budget", "strategy", "baseline", "instances", "nonzero", "tested", "p_floor",
               "can_reach_alpha", "sd_difference", "detectable", "detect", "needed_instances",
               "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def sentence(row: pd.Series | None, alpha: float) -> str:
    """The power note printed beside a recommendation."""
    if row is None:
        return "power not estimated (needs the baseline and 2+ instances)"
    if not row.can_reach_alpha:
        return (
            f"{row.instances} instances ({row.nonzero} with a non-zero difference) cannot "
            f"separate {row.strategy} from {row.baseline}: the smallest Holm p they can give "
            f"is {row.p_floor:.3g}, not below {alpha:g}"
        )
    if pd.isna(row.detectable):
        return f"no spread in the differences against {row.baseline}: power not estimated"
    detectable = (
        f"differences of {row.detectable:.3g} or more"
        if np.isfinite(row.detectable)
        else "no difference within 20 spreads"
    )
    needed = instances_text(row.needed_instances)
    return (
        f"the test run (exact Wilcoxon, Holm) detects {detectable} against {row.baseline} with "
        f"80% power on {row.instances} instances; to detect {row.detect:g} it needs {needed}"
    )
