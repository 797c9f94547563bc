"""The outside check of clustering tuned by an internal index: did the index lead to real
structure?

A clustering study (metric: an internal index of harness.problem.indices) tunes without labels;
where the dataset has labels, each trial records the ARI of its held-out inner assignment
against them (never shown to the strategy) and each outer fold the ARI and AMI of the tuned
and default configurations on the outer test. Per run (study x outer fold) this module derives
whether the tuned configuration beat the defaults on ARI, whether tuning improved the index but
worsened ARI (misled), the rank correlation between the index and ARI over the run's scored
full-fidelity trials (Spearman's rho, scipy.stats.spearmanr), and how many trials were
degenerate (one cluster or all noise: status `undefined`); then per budget, strategy and model
the shares and means with 95% percentile-bootstrap intervals over runs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from harness.aggregate.gain import mean_interval
from harness.aggregate.load import RUN, Records
from harness.aggregate.settings import Settings
from harness.problem.indices import INDICES
from harness.store.schema import LABELS

COLLAPSED = "all noise|one cluster"  # what an undefined trial's reason says when it collapsed
OUTSIDE = ["tuned_ari", "default_ari", "tuned_ami", "default_ami", "n_undefined"]
MIN_TRIALS = 3  # scored trials a rank correlation needs
FIGURES = (
    "ari_gain", "beat_defaults_ari", "misled", "trials", "undefined", "collapsed",
    "rank_correlation", "correlated_trials",
)  # fmt: skip


def clustering_runs(records: Records) -> pd.DataFrame:
    """Per run of a clustering study: index gain, ARI and AMI of tuned and default, misled,
    rank correlation of index and ARI over its trials, and its degenerate trials."""
    folds = records.folds.assign(**{c: np.nan for c in OUTSIDE if c not in records.folds})
    folds = folds[folds.metric.isin(INDICES)]
    numeric = ["gain", *OUTSIDE]  # NaN comes back from the journals as None
    folds = folds.assign(**{c: pd.to_numeric(folds[c], errors="coerce") for c in numeric})
    columns = list(dict.fromkeys([*RUN, *LABELS, "gain", *OUTSIDE[:4], *FIGURES]))
    if folds.empty:
        return pd.DataFrame(columns=columns)
    trials = records.trials[records.trials.study_key.isin(folds.study_key)]
    per_run = trials.groupby(RUN).apply(_trial_figures, include_groups=False).reset_index()
    runs = folds.merge(per_run, on=RUN, how="left")
    runs["ari_gain"] = runs.tuned_ari - runs.default_ari
    labelled = runs.ari_gain.notna()
    runs["beat_defaults_ari"] = (runs.ari_gain > 0).where(labelled)
    runs["misled"] = ((runs.gain > 0) & (runs.ari_gain < 0)).where(labelled & runs.gain.notna())
    return runs[columns].sort_values([*LABELS, "repeat", "outer_fold"]).reset_index(drop=True)


def _trial_figures(trials: pd.DataFrame) -> pd.Series:
    """A run's trial counts and Spearman's rho between index and ARI over its scored trials."""
    reason = trials.error.fillna("").astype(str)
    undefined = trials.status == "undefined"
    full = trials.fidelity.fillna(1.0) >= 1 if "fidelity" in trials else True
    ari = trials.inner_ari if "inner_ari" in trials else pd.Series(np.nan, trials.index)
    scored = trials[full & np.isfinite(trials.inner_mean) & np.isfinite(ari)]
    rho = np.nan
    if len(scored) >= MIN_TRIALS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant index or ARI: rho undefined (NaN)
            rho = float(spearmanr(scored.inner_mean, ari[scored.index]).statistic)
    return pd.Series(
        {
            "trials": len(trials),
            "undefined": int(undefined.sum()),
            "collapsed": int((undefined & reason.str.contains(COLLAPSED)).sum()),
            "rank_correlation": rho,
            "correlated_trials": len(scored),
        }
    )


def clustering_table(runs: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget, strategy and model: share of runs whose tuned configuration beat the
    defaults on ARI, mean ARI and index gains, mean rank correlation of index and ARI, share
    of runs misled, share of degenerate trials; means with bootstrap intervals over runs."""
    rows = []
    for (budget, strategy, model), group in runs.groupby(["budget", "strategy", "model"]):
        row = {"budget": budget, "strategy": strategy, "model": model, "runs": len(group),
               "labelled_runs": int(group.ari_gain.notna().sum())}  # fmt: skip
        for name, column in MEASURES.items():
            mean, low, high = mean_interval(group[column].to_numpy(dtype=float), settings)
            row |= {name: mean, f"{name}_low": low, f"{name}_high": high}
        row["degenerate_share"] = group.undefined.sum() / max(group.trials.sum(), 1)
        rows.append(row)
    return pd.DataFrame(rows)


MEASURES = {  # a column of clustering_table: the run column it averages
    "beat_defaults_ari": "beat_defaults_ari",
    "ari_gain": "ari_gain",
    "rank_correlation": "rank_correlation",
    "misled": "misled",
    "index_gain": "gain",
}
