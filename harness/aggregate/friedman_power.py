"""Power of the Friedman test the report runs over all strategies of a budget
(scipy.stats.friedmanchisquare on the instances x strategies outer-test scores, one test at
alpha: no correction), beside the Wilcoxon power of harness.aggregate.power.

- `p_floor`: the smallest p the test can give with these instances and strategies: scipy's
  p on the most extreme table, every instance ranking the strategies identically. When it
  is not below alpha, no result of this sweep could have been significant.
- `detectable`: the smallest shift of one strategy against the rest, in the score's units,
  that the test at alpha detects with 80% power on this many instances, by simulation: each
  simulated instance is one of the observed instances, centred (each strategy's mean
  effect taken out, so that no strategy is better; scores tied on the instance kept tied),
  drawn with replacement, its scores exchanged at random among the strategies, then one
  strategy's score shifted, except where it ties another strategy (both ended on the same
  score, as power.py keeps Wilcoxon's ties); each simulated sweep is tested as the report
  tests. Without the centring, the observed differences would count as noise.
- `needed_instances`: how many instances the same simulation needs to detect a shift of
  `settings.detect` with 80% power (capped at power.MAX_INSTANCES).
The searches over shifts and instances are power.py's.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare

from harness.aggregate import guard
from harness.aggregate.power import (
    POWER,
    SIMULATIONS,
    fewest_instances,
    instances_text,
    smallest_shift,
)
from harness.aggregate.settings import Settings

METHOD = (
    "Friedman chi-square (scipy); power by simulating that test on the observed instances "
    f"resampled, strategies exchanged and one shifted ({SIMULATIONS} resamples, 80% power)"
)
COLUMNS = ["budget", "p_floor", "can_reach_alpha", "detectable", "detect", "needed_instances",
           "method"]  # fmt: skip


@cache
def smallest_p(instances: int, strategies: int) -> float:
    """The smallest p scipy's Friedman test gives on `instances` x `strategies` (3 or more):
    every instance ranking the strategies the same way."""
    extreme = np.tile(np.arange(float(strategies)), (instances, 1))
    return float(friedmanchisquare(*extreme.T).pvalue)


def centred(matrix: np.ndarray) -> np.ndarray:
    """Instances x strategies scores less each strategy's mean effect (no strategy better on
    average); scores that tie on an instance get their mean, so they still tie."""
    free = matrix - matrix.mean(axis=0) + matrix.mean()
    out = np.empty_like(free)
    for i, scores in enumerate(matrix):
        _, group = np.unique(scores, return_inverse=True)
        out[i] = (np.bincount(group, free[i]) / np.bincount(group))[group]
    return out


def simulated_power(
    matrix: np.ndarray,
    shift: float,
    instances: int,
    level: float,
    rng: np.random.Generator,
    simulations: int = SIMULATIONS,
) -> float:
    """Share of simulated sweeps of `instances` instances (rows of `matrix`, already
    centred, resampled, their scores exchanged among the strategies, the first strategy
    shifted by `shift` where it ties no other) in which the Friedman test gives p < level."""
    rows = rng.integers(len(matrix), size=(simulations, instances))
    sweeps = rng.permuted(matrix[rows], axis=2)  # (simulations, instances, strategies)
    first = sweeps[..., 0]
    alone = (sweeps == first[..., None]).sum(axis=2) == 1
    sweeps[..., 0] = first + np.where(alone, shift, 0.0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-tied sweeps: p is nan
        p = friedmanchisquare(*np.moveaxis(sweeps, 2, 0), axis=1).pvalue
    return float(np.mean(np.nan_to_num(p, nan=1.0) < level))


def _spread(matrix: np.ndarray) -> float:
    """The scale of the differences between strategies on an instance (0 if none differ:
    then no shift moves a strategy and the detectable difference is inf)."""
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    nonzero = centred[centred != 0]
    return float(np.std(nonzero)) or float(np.abs(nonzero).mean()) if nonzero.size else 0.0


def detectable_difference(
    matrix: np.ndarray, level: float, seed: int, simulations: int = SIMULATIONS
) -> float:
    """The smallest shift of one strategy the test detects with POWER on this many instances
    (power.smallest_shift, the same draws for every shift); inf when it never does."""
    n, k = matrix.shape
    if smallest_p(n, k) >= level:
        return np.inf
    matrix = centred(matrix)
    return smallest_shift(
        lambda shift: simulated_power(
            matrix, shift, n, level, np.random.default_rng(seed), simulations
        ),
        _spread(matrix),
    )


def needed_instances(
    matrix: np.ndarray, shift: float, level: float, seed: int, simulations: int = SIMULATIONS
) -> float:
    """The fewest instances at which the simulated power to detect `shift` reaches POWER
    (power.fewest_instances); inf beyond power.MAX_INSTANCES."""
    k, matrix = matrix.shape[1], centred(matrix)

    def enough(n: int) -> bool:
        if smallest_p(n, k) >= level:
            return False
        rng = np.random.default_rng(seed)
        return simulated_power(matrix, shift, n, level, rng, simulations) >= POWER

    return fewest_instances(enough)


def friedman_power_table(
    matrices: dict[str, pd.DataFrame], settings: Settings, simulations: int = SIMULATIONS
) -> pd.DataFrame:
    """Per budget the Friedman test can run on: its p floor and whether it can reach alpha,
    the detectable shift of one strategy, and the instances needed for `settings.detect`."""
    rows = []
    for budget, matrix in matrices.items():
        if not guard.runnable(guard.FRIEDMAN, matrix, ""):
            continue
        scores = matrix.to_numpy(dtype=float)
        floor = smallest_p(*scores.shape)
        # strategies tied on every instance: no shift moves them (ties kept), both are inf
        detectable = detectable_difference(scores, settings.alpha, settings.seed, simulations)
        needed = needed_instances(
            scores, settings.detect, settings.alpha, settings.seed, simulations
        )
        rows.append(
            {
                "budget": budget, "p_floor": floor, "can_reach_alpha": bool(floor < settings.alpha),
                "detectable": detectable, "detect": settings.detect, "needed_instances": needed,
                "method": METHOD,
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def sentence(row: pd.Series, alpha: float) -> str:
    """The Friedman test's power in one line, for the report's significance section."""
    head = f"{row.budget}: Friedman over {row.strategies} strategies and {row.instances} instances"
    if not row.can_reach_alpha:
        return (
            f"{head} cannot be significant: the smallest p they can give is {row.p_floor:.3g}, "
            f"not below {alpha:g}"
        )
    detectable = (
        f"detects one strategy {row.detectable:.3g} or more apart from the rest"
        if np.isfinite(row.detectable)
        else "detects no shift of one strategy (they tie on every instance)"
    )
    needed = instances_text(row.needed_instances)
    return f"{head} {detectable} with 80% power; to detect {row.detect:g} it needs {needed}"
