"""The risk of tuning: how often it leaves a model worse than its defaults, and how bad the
worst outcomes are.

- *harm rate*: the share of outer folds where the tuned configuration scores below the
  defaults on the outer test (gain < 0), with Wilson's 95% score interval
  (statsmodels.stats.proportion.proportion_confint);
- *tail risk*: CVaR at 10%, the mean of the worst 10% of outcomes (the worst
  ceil(0.1 n) of n runs): of the gain (lowest gains) and of the final normalised regret
  (highest regrets), with 95% percentile-bootstrap intervals over runs (scipy).

Each comes per budget, strategy and model, and per budget and strategy over all models
(model "all").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from harness.aggregate.gain import interval
from harness.aggregate.load import INSTANCE, RUN
from harness.aggregate.settings import Settings

TAIL = 0.1  # CVaR level: the worst 10%
ALL = "all"  # the model label of rows pooled over models
METHOD = (
    "harm: Wilson interval (statsmodels proportion_confint); CVaR 10%: mean of the worst "
    "ceil(0.1 n) runs, percentile bootstrap (scipy.stats.bootstrap)"
)


def final_regret(curves: pd.DataFrame, instances: pd.DataFrame) -> pd.DataFrame:
    """Per run: normalised regret at the end of its budget; 1 (the defaults) when no
    full-fidelity trial finished, NaN on instances where no trial beat the defaults."""
    last = curves.sort_values([*RUN, "spent"]).drop_duplicates(RUN, keep="last")
    last = last.merge(instances[[*INSTANCE, "span"]], on=INSTANCE, how="left")
    nothing = last.best_so_far.isna() & (last.span > 0)
    last["final_regret"] = last.regret.mask(nothing, 1.0)
    return last[[*RUN, "final_regret"]].reset_index(drop=True)


def pooled(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs per model and, when there are several models, all together as model "all"."""
    if runs.model.nunique() < 2:
        return runs
    return pd.concat([runs, runs.assign(model=ALL)], ignore_index=True)


def cvar(values: np.ndarray, worst: str, axis: int = -1) -> np.ndarray:
    """Mean of the worst ceil(TAIL n) values along `axis`: the lowest (worst="low") or the
    highest (worst="high")."""
    ordered = np.sort(values, axis=axis)
    if worst == "high":
        ordered = np.flip(ordered, axis=axis)
    k = max(1, math.ceil(TAIL * values.shape[axis]))
    return np.take(ordered, np.arange(k), axis=axis).mean(axis=axis)


def risk_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget, strategy and model: harm rate and CVaR of gain and of final regret."""
    searched = runs[runs.n_trials > 0]
    rows = []
    for (budget, strategy, model), group in pooled(searched).groupby(
        ["budget", "strategy", "model"], sort=True
    ):
        gains = group.gain.dropna().to_numpy(dtype=float)
        regrets = group.final_regret.dropna().to_numpy(dtype=float)
        row = {"budget": budget, "strategy": strategy, "model": model, "runs": len(gains)}
        harmed = int((gains < 0).sum())
        low, high = proportion_confint(harmed, len(gains), method="wilson") if len(gains) else (
            np.nan, np.nan
        )  # fmt: skip
        row |= {
            "harmed": harmed,
            "harm_rate": harmed / len(gains) if len(gains) else np.nan,
            "harm_low": low,
            "harm_high": high,
        }
        for name, values, worst in (("gain", gains, "low"), ("regret", regrets, "high")):
            estimate = float(cvar(values, worst)) if len(values) else np.nan
            bounds = interval((values,), lambda v, axis, w=worst: cvar(v, w, axis), settings)
            row |= {f"{name}_cvar": estimate, f"{name}_cvar_low": bounds[0],
                    f"{name}_cvar_high": bounds[1]}  # fmt: skip
        rows.append(row | {"method": METHOD})
    return pd.DataFrame(rows)
