"""Accuracy gain of tuning on data the tuner never saw, and the optimism of its inner score.

`gain` = outer-test score of the tuned configuration minus the defaults' (> 0: tuning
helped). `optimism` = best inner score minus the tuned configuration's outer-test score: how
much the validation folds flattered the winner (over-tuning shows as a large gap). Both come
with 95% percentile-bootstrap intervals over outer folds (scipy.stats.bootstrap); a group of
one fold has no interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

from harness.aggregate.settings import Settings

BATCH = 1000  # resamples evaluated at once: bounds memory for statistics over whole curves


def gain_table(runs: pd.DataFrame, by: list[str], settings: Settings) -> pd.DataFrame:
    """Per group: number of outer folds, mean gain and optimism with bootstrap intervals."""
    rows = []
    for key, group in runs.groupby(by, sort=True):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["folds"] = len(group)
        for measure in ("gain", "optimism"):
            mean, low, high = mean_interval(group[measure].to_numpy(dtype=float), settings)
            row |= {measure: mean, f"{measure}_low": low, f"{measure}_high": high}
        row["tuned_test"] = group.tuned_test.mean()
        row["default_test"] = group.default_test.mean()
        rows.append(row)
    return pd.DataFrame(rows)


def mean_interval(values: np.ndarray, settings: Settings) -> tuple[float, float, float]:
    """The mean and its 95% percentile-bootstrap interval, ignoring NaN."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    return float(values.mean()), *interval((values,), np.mean, settings)


def interval(
    data: tuple[np.ndarray, ...], statistic: Callable[..., Any], settings: Settings
) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval (scipy.stats.bootstrap) of a statistic of paired
    samples (rows resampled together); NaN for fewer than two rows. `statistic` takes the
    samples and an `axis` keyword, as numpy reductions do."""
    if len(data[0]) < 2:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate resample distribution is fine here
        result = bootstrap(
            data,
            statistic,
            paired=True,
            confidence_level=0.95,
            n_resamples=settings.resamples,
            batch=BATCH,
            method="percentile",
            rng=np.random.default_rng(settings.seed),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
