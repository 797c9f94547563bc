"""Robust aggregates across runs, with interval estimates, as rliable recommends (Agarwal et
al. 2021, "Deep RL at the edge of the statistical precipice").

Each run's outcome is scored two ways: `improvement`, 1 minus its final normalised regret
(0 = the defaults' inner score, 1 = the best known on the instance), and `gain` (outer-test
score minus the defaults'). The interquartile mean (IQM, the mean of the middle 50%) resists
a few extreme runs as a mean does not and is tighter than a median; performance profiles
give the fraction of runs whose improvement exceeds each threshold tau.

rliable itself cannot be installed beside pandas 3 (it pins arch < 8, and arch 7 fails to
import with pandas 3), so the same computations come from scipy: the IQM is
scipy.stats.trim_mean(x, 0.25), exactly what rliable.metrics.aggregate_iqm calls, and the
95% intervals are percentile bootstraps over runs (scipy.stats.bootstrap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from harness.aggregate import guard
from harness.aggregate.gain import interval
from harness.aggregate.settings import Settings

TAUS = np.round(np.linspace(0, 1, 11), 2)
METHOD = "IQM: scipy.stats.trim_mean(0.25) as rliable; percentile bootstrap over runs (scipy)"
PROFILE_METHOD = "share of runs above tau (rliable's score distribution); bootstrap (scipy)"
MEASURES = {"improvement": "1 - final normalised regret", "gain": "outer-test gain"}


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the values left after cutting 25% off each end."""
    return trim_mean(values, 0.25, axis=axis)


def _scores(runs: pd.DataFrame, matrices: dict) -> pd.DataFrame:
    """Searching runs with their improvement, at budgets that have enough instances."""
    scored = runs[runs.n_trials > 0]
    ok = [b for b, m in matrices.items() if guard.runnable(guard.ROBUST, m, "")]
    return scored[scored.budget.isin(ok)].assign(improvement=1 - scored.final_regret)


def iqm_table(runs: pd.DataFrame, matrices: dict, settings: Settings) -> pd.DataFrame:
    """Per budget, strategy and measure: runs, IQM and its 95% interval."""
    rows = []
    for (budget, strategy), group in _scores(runs, matrices).groupby(
        ["budget", "strategy"], sort=False
    ):
        for measure, meaning in MEASURES.items():
            values = group[measure].dropna().to_numpy(dtype=float)
            if len(values) == 0:
                continue
            low, high = interval((values,), iqm, settings)
            rows.append(
                {
                    "budget": budget, "strategy": strategy, "measure": measure,
                    "meaning": meaning, "runs": len(values), "iqm": float(iqm(values)),
                    "iqm_low": low, "iqm_high": high, "method": METHOD,
                }
            )  # fmt: skip
    columns = ["budget", "strategy", "measure", "meaning", "runs", "iqm", "iqm_low",
               "iqm_high", "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def profile_table(runs: pd.DataFrame, matrices: dict, settings: Settings) -> pd.DataFrame:
    """Per budget, strategy and tau: the share of runs whose improvement exceeds tau, with
    95% bootstrap bounds."""
    frames = []
    for (budget, strategy), group in _scores(runs, matrices).groupby(
        ["budget", "strategy"], sort=False
    ):
        values = group.improvement.dropna().to_numpy(dtype=float)
        if len(values) == 0:
            continue
        bounds = [
            interval((values,), lambda v, axis, t=tau: (v > t).mean(axis=axis), settings)
            for tau in TAUS
        ]
        frames.append(
            pd.DataFrame(
                {
                    "budget": budget, "strategy": strategy, "tau": TAUS,
                    "fraction": [(values > tau).mean() for tau in TAUS],
                    "low": [b[0] for b in bounds], "high": [b[1] for b in bounds],
                    "method": PROFILE_METHOD,
                }
            )
        )  # fmt: skip
    columns = ["budget", "strategy", "tau", "fraction", "low", "high", "method"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
