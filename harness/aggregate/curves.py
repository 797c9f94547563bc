"""Runs, problem instances, trajectories and curves: the tables every metric reads.

A *run* is one outer fold of one study: one strategy searching one problem instance with
one budget. An *instance* is (problem, repeat, outer_fold); its reference points are the
defaults' inner score and the best inner score any run reached on it (or the defaults',
if no trial beat them).

A run's *trajectory* is its trials in the order their results arrived (by the wall-clock
second each ended, `elapsed_seconds`: with k workers a trial asked for later can end sooner;
with one worker this is the order they were asked for), with the budget spent so far in
full-evaluation equivalents (`spent`: a partial evaluation of a multi-fidelity strategy at
fidelity f costs f, or what it added to the rung it continued, harness.engine.continuation;
any other trial 1), the compute spent so far (`compute_spent`: fit +
score seconds, summed over workers) and the best-so-far score. Only full-fidelity trials
count towards the best so far, as only they can be chosen
(harness.engine.objective.Objective.best). A *curve* samples a trajectory at spent = 1, 2,
... up to the budget, carrying the last value forward when a search stopped early (a grid
smaller than the budget, a time limit), because that is the configuration the user is left
with. For ordinary strategies `spent` is the trial count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate.load import INSTANCE, RUN, Records
from harness.store.schema import LABELS as STUDY_LABELS

LABELS = [c for c in STUDY_LABELS if c != "study_key"]  # RUN holds the study key
SLACK = 1e-9  # float slack when summing fractional costs


def run_table(records: Records, trajectories: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the fold record, its optimism gap, its time and cost totals."""
    runs = records.folds.assign(optimism=lambda f: f.best_inner - f.tuned_test)
    totals = trajectories.groupby(RUN, as_index=False).agg(
        eval_seconds=("eval_seconds", "sum"),
        choose_seconds=("choose_seconds", "sum"),
        cost=("spent", "max"),
        compute_seconds=("compute_spent", "max"),
    )
    runs = runs.merge(totals, on=RUN, how="left")
    columns = [
        *RUN, *LABELS, "n_trials_budget", "n_trials", "n_failed", "cost", "best_inner",
        "default_inner", "tuned_test", "default_test", "gain", "optimism",
        "search_seconds", "wall_seconds", "eval_seconds", "choose_seconds", "compute_seconds",
    ]  # fmt: skip
    return runs[columns].sort_values([*LABELS, "repeat", "outer_fold"]).reset_index(drop=True)


def trajectory_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per trial of every run, in the order results arrived: its place in that order, budget
    and compute spent so far, and best so far."""
    columns = [*RUN, *LABELS, "trial", "cost", "spent", "compute_spent", "inner_mean",
               "best_so_far", "elapsed_seconds", "eval_seconds", "choose_seconds"]  # fmt: skip
    ordered = trials.sort_values([*RUN, "elapsed_seconds", "trial"]).reset_index(drop=True)
    fidelity = ordered["fidelity"] if "fidelity" in ordered else pd.Series(1.0, ordered.index)
    fidelity = fidelity.fillna(1.0).astype(float)
    group = ordered.groupby(RUN, sort=False)
    ordered["trial"] = group.cumcount() + 1
    ordered["cost"] = fidelity
    if "continued" in ordered:  # a continued rung cost what it added: the budget it spent
        continued = ordered.continued.astype("boolean").fillna(False).astype(bool)
        paid = ordered.groupby(RUN, sort=False).full_evaluations.diff()
        ordered["cost"] = fidelity.where(~continued, paid)
    ordered["spent"] = ordered.groupby(RUN, sort=False).cost.cumsum()
    compute = (ordered.fit_seconds + ordered.score_seconds).fillna(0.0)  # 0: failed before
    ordered["compute_spent"] = compute.groupby([ordered[c] for c in RUN], sort=False).cumsum()
    full = ordered.inner_mean.where(fidelity >= 1 - SLACK)
    ordered["best_so_far"] = full.groupby([ordered[c] for c in RUN], sort=False).cummax()
    ordered["best_so_far"] = ordered.groupby(RUN, sort=False).best_so_far.ffill()
    return ordered[columns]


def instance_table(runs: pd.DataFrame, trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per instance: the defaults' inner score, the best known inner score, the span between.

    `best_known` is the best full-fidelity inner score any trial of any run reached on the
    instance, or the defaults' score when no trial beat it; then `span` is 0 and every target
    equals the defaults' score.
    """
    table = runs.groupby(INSTANCE, as_index=False).agg(
        dataset=("dataset", "first"),
        model=("model", "first"),
        metric=("metric", "first"),
        seed=("seed", "first"),
        default_inner=("default_inner", "first"),
    )
    reached = trajectories.groupby(INSTANCE).best_so_far.max().rename("best_trial_inner")
    table = table.merge(reached.reset_index(), on=INSTANCE, how="left")
    table["best_known"] = np.fmax(table.default_inner, table.best_trial_inner)
    table["span"] = table.best_known - table.default_inner
    return table.drop(columns="best_trial_inner")


def regret(frame: pd.DataFrame, instances: pd.DataFrame) -> pd.Series:
    """Normalised regret of `frame.best_so_far`: 0 at the best known score, 1 at the defaults'
    (NaN on instances where no trial beat the defaults, which have no scale)."""
    scale = frame[INSTANCE].merge(instances[[*INSTANCE, "best_known", "span"]], how="left")
    span = scale.span.where(scale.span > 0)
    return pd.Series(
        ((scale.best_known - frame.best_so_far.to_numpy()) / span).to_numpy(), index=frame.index
    )


def curve_table(
    trajectories: pd.DataFrame, runs: pd.DataFrame, instances: pd.DataFrame
) -> pd.DataFrame:
    """Each searching run's best-so-far and regret at spent = 1, 2, ... up to its budget."""
    searched = runs[runs.n_trials > 0]
    horizon = np.maximum(searched.n_trials_budget, np.ceil(searched.cost - SLACK)).astype(int)
    grid = searched.loc[searched.index.repeat(horizon), [*RUN, *LABELS]].assign(
        spent=np.concatenate([np.arange(1, h + 1) for h in horizon]) if len(horizon) else []
    )
    steps = trajectories[[*RUN, "spent", "best_so_far", "elapsed_seconds"]]
    curves = pd.merge_asof(
        grid.assign(spent=grid.spent.astype(float) + SLACK).sort_values("spent"),
        steps.sort_values("spent"),
        on="spent",
        by=RUN,
        direction="backward",
    )
    curves["spent"] = np.round(curves.spent).astype(int)
    curves = curves.sort_values([*RUN, "spent"]).reset_index(drop=True)
    curves["regret"] = regret(curves, instances)
    return curves
