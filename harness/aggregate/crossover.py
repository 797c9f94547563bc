"""Budget crossover: from which budget on does one strategy stay ahead of another?

For a pair of strategies at one budget, on the instances both ran (and where some trial beat
the defaults), take each one's median normalised regret across instances after each trial
(and at each point of wall-clock time). The *leader* is the one with the lower median at the
end; the *crossover* is the first point from which the leader stays strictly ahead until the
end: 1 (or the first time point) when it led throughout. No leader (equal at the end), no
crossover. Its 95% interval is a percentile bootstrap over instances (scipy.stats.bootstrap),
the leader held fixed; a resample in which the leader is not ahead at the end counts as
"beyond the budget" (shown as inf).

Before its first full-fidelity trial a run has the defaults: regret 1.

The verdict (harness.aggregate.verdict) is on the claim "the leader takes the lead for good
within the budget": the crossover's interval against [first point, last point]. An interval
that runs past the budget (inf) is inconclusive at best; the report draws a crossover only
where its interval is finite.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from harness.aggregate import guard, verdict
from harness.aggregate.gain import interval
from harness.aggregate.load import INSTANCE
from harness.aggregate.settings import Settings

METHOD = "median regret across instances; percentile bootstrap over instances (scipy)"
AXES = {"trials": "spent", "seconds": "seconds"}  # unit -> the curves' column


def first_lead(leader: np.ndarray, other: np.ndarray, axis: int = -2) -> np.ndarray:
    """1-based index of the first point from which the median of `leader` stays below the
    median of `other` (instances on `axis`, points on the last axis); points + 1 if it is
    not ahead at the end."""
    ahead = np.median(leader, axis=axis) < np.median(other, axis=axis)
    points = ahead.shape[-1]
    trailing = np.cumprod(ahead[..., ::-1], axis=-1).sum(axis=-1)  # points ahead at the end
    return (points - trailing + 1).astype(float)


def _resampled(lead: np.ndarray, trail: np.ndarray, axis: int) -> np.ndarray:
    """first_lead in scipy.stats.bootstrap's layout: (points, resamples, instances)."""
    return first_lead(np.moveaxis(lead, 0, -1), np.moveaxis(trail, 0, -1), axis=axis - 1)


def _curves_by_instance(curves: pd.DataFrame, x: str) -> dict[str, pd.DataFrame]:
    """Per strategy: instances x points of regret (the defaults' 1 before any result)."""
    wide = curves.pivot_table(index=[*INSTANCE, "strategy"], columns=x, values="regret")
    wide = wide.ffill(axis=1).fillna(1.0)  # a run's last value holds; before any, the defaults
    return {s: block.droplevel("strategy") for s, block in wide.groupby(level="strategy")}


def crossover_table(
    curves: pd.DataFrame, seconds: pd.DataFrame, matrices: dict, settings: Settings
) -> pd.DataFrame:
    """Per budget, pair of strategies and unit (trials, seconds): leader, crossover, interval."""
    rows = []
    for unit, x in AXES.items():
        table = curves if unit == "trials" else seconds
        for budget, block in table.groupby("budget", sort=False):
            if budget not in matrices or not guard.runnable(guard.CROSSOVER, matrices[budget], ""):
                continue
            scaled = block.regret.notna().groupby([block[c] for c in INSTANCE]).transform("any")
            by_strategy = _curves_by_instance(block[scaled], x)
            for a, b in combinations(sorted(by_strategy), 2):
                rows.append(_pair(by_strategy, a, b, settings) | {"budget": budget, "unit": unit})
    columns = ["budget", "unit", "leader", "other", "instances", "crossover", "crossover_low",
               "crossover_high", "leads_throughout", *verdict.COLUMNS, "instances_needed",
               "why", "method"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


def _pair(by_strategy: dict[str, pd.DataFrame], a: str, b: str, settings: Settings) -> dict:
    both = by_strategy[a].index.intersection(by_strategy[b].index)
    ra, rb = by_strategy[a].loc[both].to_numpy(), by_strategy[b].loc[both].to_numpy()
    points = np.asarray(by_strategy[a].columns, dtype=float)
    end_a, end_b = np.median(ra[:, -1]), np.median(rb[:, -1])
    row = {"instances": len(both), "method": METHOD}
    span = (float(points[0]), float(points[-1])) if len(points) else (np.nan, np.nan)
    if len(both) == 0 or end_a == end_b:
        judged = verdict.row(np.nan, np.nan, np.nan, *span, len(both))
        judged["why"] = "no leader: equal median regret at the end"
        return row | judged | {"leader": a, "other": b, "leads_throughout": False}
    (leader, lead), (other, trail) = sorted(
        [(a, ra), (b, rb)], key=lambda p: np.median(p[1][:, -1])
    )
    at = int(first_lead(lead, trail))
    low, high = interval((lead, trail), _resampled, settings)
    value = _point(points)
    found = value(at), value(np.floor(low)), value(np.ceil(high))
    return row | verdict.row(*found, *span, len(both)) | {
        "leader": leader, "other": other, "crossover": found[0], "crossover_low": found[1],
        "crossover_high": found[2], "leads_throughout": at == 1,
    }  # fmt: skip


def _point(points: np.ndarray):
    """A 1-based point index as the curves' value there (trials or seconds); inf past the end."""

    def value(index: float) -> float:
        if not np.isfinite(index):
            return np.nan
        index = int(index)
        return float(points[index - 1]) if index <= len(points) else np.inf

    return value
