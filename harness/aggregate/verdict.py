"""The one verdict rule every table with a verdict uses (folklore, recommendation, how to
choose, equivalence, crossover). This docstring is its reference.

A claim puts a figure in a closed range [claimed_low, claimed_high] (either end may be
infinite). The sweep measures the figure (`estimate`) with a 95% interval [low, high]:

- **supported**: the whole interval lies inside the claimed range
  (claimed_low <= low and high <= claimed_high);
- **contradicted**: the whole interval lies outside it (high < claimed_low or
  low > claimed_high);
- **inconclusive**: anything else: the interval straddles a bound, or there is no interval
  (fewer than MIN_UNITS instances, or the figure is undefined). Where the interval exists, the
  row says how many instances would decide it (`instances_needed`): the interval's half-width
  on the side facing the nearest bound shrinks as 1 / sqrt(instances), so
  n * (half-width / distance to the bound)^2 instances bring it clear of the bound if the
  estimate and the spread stay what they are. An estimate on a bound cannot be decided.

A claim that the report also puts to a significance test (a strategy beating the baseline:
the exact Wilcoxon test with Holm's correction) is inconclusive too when that test could not
reach alpha with the instances at hand whatever they showed (`decidable` False: e.g. 5
non-zero differences, whose smallest two-sided p is 0.0625): "n instances cannot separate
these strategies".

Where the estimate lies is never enough: an estimate inside the range with an interval that
reaches outside it is inconclusive, and so is the mirror case. A claim of "better than" is
stated with a margin that matters (better by at least the ROPE), so that no difference at all
never supports it; a claim of "as good as" or "equivalent" is the range [-ROPE, ROPE], so it
is supported only when the whole interval lies within the ROPE (as TOST would decide it with
a 95% interval), never because a test failed to find a difference.

Every verdict table keeps the columns of COLUMNS; `violations` lists the rows that break the
rule, so a test can check a whole report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.aggregate.gain import interval
from harness.aggregate.settings import Settings

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
COLUMNS = ["estimate", "low", "high", "claimed_low", "claimed_high", "verdict"]
MIN_UNITS = 5  # fewer instances than this: a bootstrap interval is not given, no decision


@dataclass(frozen=True)
class Judgement:
    verdict: str
    why: str
    instances_needed: float = np.nan  # inconclusive only: instances that would decide it


def judge(
    estimate: float,
    low: float,
    high: float,
    claimed_low: float,
    claimed_high: float,
    instances: int,
    undecidable: str = "",
) -> Judgement:
    """The verdict on a figure measured on `instances` instances, against the claimed range;
    `undecidable`: why the test run on it could not decide (empty: it could)."""
    claimed = f"[{claimed_low:g}, {claimed_high:g}]"
    if instances < MIN_UNITS:
        return Judgement(
            INCONCLUSIVE,
            f"{instances} instance(s): fewer than {MIN_UNITS}, so no interval is given",
            _needed_without_interval(instances),
        )
    if not (np.isfinite(low) and np.isfinite(high) and np.isfinite(estimate)):
        return Judgement(INCONCLUSIVE, "the figure or its interval is undefined here")
    span = f"[{low:.3g}, {high:.3g}]"
    if undecidable:
        return Judgement(INCONCLUSIVE, f"{undecidable} (interval {span})")
    if claimed_low <= low and high <= claimed_high:
        return Judgement(SUPPORTED, f"the whole interval {span} lies inside {claimed}")
    if high < claimed_low or low > claimed_high:
        return Judgement(CONTRADICTED, f"the whole interval {span} lies outside {claimed}")
    needed = instances_needed(estimate, low, high, claimed_low, claimed_high, instances)
    more = (
        f"about {needed:.0f} instances would decide it if the estimate and spread hold"
        if np.isfinite(needed)
        else "the estimate lies on a bound: more instances cannot decide it"
    )
    return Judgement(
        INCONCLUSIVE, f"the interval {span} straddles a bound of {claimed}; {more}", needed
    )


def instances_needed(
    estimate: float,
    low: float,
    high: float,
    claimed_low: float,
    claimed_high: float,
    instances: int,
) -> float:
    """Instances at which the interval would clear every bound it now straddles (inf when
    the estimate lies on one), scaling its half-width on each side by 1 / sqrt(instances)."""
    factors = []
    for bound in (claimed_low, claimed_high):
        if not np.isfinite(bound) or not low <= bound <= high:
            continue  # this bound is already clear of the interval
        distance = abs(estimate - bound)
        half = (estimate - low) if bound < estimate else (high - estimate)
        if distance == 0 or half <= 0:
            return math.inf
        factors.append((half / distance) ** 2)
    if not factors:
        return np.nan
    return float(max(instances + 1, math.ceil(instances * max(factors))))


def _needed_without_interval(instances: int) -> float:
    return float(MIN_UNITS) if instances < MIN_UNITS else np.nan


def row(
    estimate: float,
    low: float,
    high: float,
    claimed_low: float,
    claimed_high: float,
    instances: int,
    undecidable: str | None = None,
) -> dict:
    """The verdict columns of a table row: COLUMNS, `instances`, `instances_needed`, `why`,
    and `decidable` when a significance test was asked (`undecidable` not None)."""
    judged = judge(estimate, low, high, claimed_low, claimed_high, instances, undecidable or "")
    decidable = {} if undecidable is None else {"decidable": not undecidable}
    return {
        "estimate": estimate, "low": low, "high": high, "claimed_low": claimed_low,
        "claimed_high": claimed_high, "instances": instances, "verdict": judged.verdict,
        "instances_needed": judged.instances_needed, "why": judged.why,
    } | decidable  # fmt: skip


def paired_difference(
    scores: np.ndarray,
    baseline: np.ndarray,
    claimed_low: float,
    claimed_high: float,
    settings: Settings,
    undecidable: str | None = None,
) -> dict:
    """`row` for the claim that the mean paired difference scores - baseline lies in the
    claimed range, with its 95% percentile-bootstrap interval over instances (scipy)."""
    diff = np.asarray(scores, dtype=float) - np.asarray(baseline, dtype=float)
    if len(diff) == 0:
        return row(np.nan, np.nan, np.nan, claimed_low, claimed_high, 0, undecidable)
    low, high = interval((diff,), np.mean, settings)
    return row(float(diff.mean()), low, high, claimed_low, claimed_high, len(diff), undecidable)


def expected(frame: pd.DataFrame) -> pd.Series:
    """The verdict rule 1 gives each row of a verdict table, from its own columns."""
    inside = (frame.claimed_low <= frame.low) & (frame.high <= frame.claimed_high)
    outside = (frame.high < frame.claimed_low) | (frame.low > frame.claimed_high)
    count = frame["instances"] if "instances" in frame else frame.get("n")
    few = count < MIN_UNITS if count is not None else False
    verdict = np.where(inside, SUPPORTED, np.where(outside, CONTRADICTED, INCONCLUSIVE))
    if "decidable" in frame:  # a significance test that could not reach alpha decides nothing
        few = few | ~frame.decidable.astype("boolean").fillna(True).astype(bool)
    return pd.Series(np.where(few, INCONCLUSIVE, verdict), index=frame.index)


def violations(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a verdict table whose verdict is not the one rule 1 gives them."""
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"a verdict table needs the columns {COLUMNS}; missing {missing}")
    return frame[frame.verdict != expected(frame)]
