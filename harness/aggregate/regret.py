"""Table studies (a published table as the problem, harness issue 21): exact normalised regret
over trials and over simulated time, Bayesmark's normalised score, average rank over time, and
the instances x strategies matrices the verdict machinery decides on.

A table study is one fold of one (task, seed) with one strategy. Its trial records carry the
noisy score the search saw (`inner_mean`) and the configuration's seed-averaged score
(`true_score`, noise free); both are scores (higher is better). Its study.json's `table`
gives the best and worst true score over the whole table (load.py puts them on the studies
as `table_best`, `table_worst`). So regret is exact, no estimate of the optimum needed.

- The *incumbent* after t results (in the order they arrived, by `end`, the simulated time a
  trial finished) is the trial with the best noisy score so far, as the search itself would
  pick it; it is judged by its true score (what the user would get).
- *Normalised regret* = (best - true score of the incumbent) / (best - worst): 0 at the
  table's best, 1 at its worst (syne-tune's normalisation, (y - best) / (worst - best) for a
  loss). Before a run's first result it is 1 (nothing found yet is no better than the worst).
- *Over time*, seconds are divided by the task's horizon (the latest `end` of any run of
  that task and budget): tasks differ in training seconds by orders of magnitude, so curves
  are averaged across tasks at equal fractions of the horizon, on a log-spaced grid.
- Curves are *aggregated* across tasks and seeds: the mean over (task, seed) instances with a
  95% t interval (scipy.stats.t; not the bootstrap: there are hundreds of curve points per
  strategy, and hundreds of instances make the mean's t interval adequate).
- *Bayesmark's normalised mean score* (Bayesmark's docs, "How scoring works", `NORMED_MEAN`;
  github.com/uber/bayesmark docs/scoring.rst), in scores rather than losses: per problem p
  (task), clip_p is the median over the random-search runs of the incumbent's true score
  after one trial; each run's incumbent true score is clipped from below at clip_p; per
  strategy, t and p, norm = (best_p - mean over seeds of the clipped score) / (best_p -
  clip_p) (Bayesmark's opt_p is our exact best); per strategy and t, the mean over problems,
  divided by random search's own value of that mean at t. So random search scores exactly 1
  at every t, 0 is the table's best, below 1 beats random search. Bayesmark estimates random
  search's curve by pooling its evaluations (an efficiency device); here it is the mean of
  random search's runs, as Bayesmark defines it. Its interval: a t interval over problems of
  norm / random's value (the reference held fixed, as Bayesmark's error bars do).
- *Average rank over time*: per instance and point in time (trials, or fraction of the
  horizon), the strategies ranked by normalised regret with scipy.stats.rankdata (1 best,
  ties averaged), on instances where every strategy of the budget ran; then the mean.
- *Decisions*: `instance_runs` gives one row per run whose `tuned_test` is 1 - final
  normalised regret, indexed by instance (problem = benchmark/task/seed, repeat 0, fold 0),
  so significance.py, power.py, friedman_power.py, equivalence.py and recommend.py decide on
  (task, seed) instances by the one rule of verdict.py, unchanged: a strategy's difference
  to the baseline is the baseline's final regret minus its own (> 0: it ends nearer the best).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from scipy.stats import t as student

TABLE = ["table_benchmark", "table_task", "table_best", "table_worst", "table_size"]
INSTANCE = ["model", "dataset", "seed"]  # benchmark, task, seed
KEYS = ["budget", *INSTANCE, "strategy", "study_key"]
TIME_GRID = 40  # log-spaced fractions of the task's horizon
FIRST_FRACTION = 1e-3
CONFIDENCE = 0.95
INTERVAL = "mean over (task, seed) instances, 95% t interval (scipy.stats.t)"


def table_studies(studies: pd.DataFrame) -> pd.DataFrame:
    """The studies that searched a published table (their study.json has `table`)."""
    if "table_best" not in studies:
        return studies.iloc[:0]
    return studies[studies.table_best.notna()]


def trajectory_table(trials: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Per trial of every table study, in the order results arrived: the trial count, the
    simulated time, the incumbent (best noisy score so far) and its true score and regret."""
    tables = table_studies(studies)
    columns = [*KEYS, "trial", "end", "incumbent", "incumbent_true", "regret"]
    if tables.empty:
        return pd.DataFrame(columns=columns)
    own = trials[trials.study_key.isin(tables.study_key)]
    ordered = own.sort_values(["study_key", "end", "trial"]).reset_index(drop=True)
    group = ordered.groupby("study_key", sort=False)
    ordered["trial"] = group.cumcount() + 1
    best_so_far = group.inner_mean.cummax()
    previous = best_so_far.groupby(ordered.study_key).shift()
    improved = ordered.inner_mean.notna() & ~(ordered.inner_mean <= previous)  # first max kept
    ordered["incumbent"] = ordered.trial.where(improved)
    ordered["incumbent_true"] = ordered.true_score.where(improved)
    for column in ("incumbent", "incumbent_true"):
        ordered[column] = ordered.groupby("study_key", sort=False)[column].ffill()
    scale = ordered[["study_key"]].merge(
        tables[["study_key", "table_best", "table_worst"]], how="left"
    )
    ordered["regret"] = normalised_regret(
        ordered.incumbent_true.to_numpy(), scale.table_best.to_numpy(), scale.table_worst.to_numpy()
    )
    return ordered[columns]


def normalised_regret(true: np.ndarray, best: np.ndarray, worst: np.ndarray) -> np.ndarray:
    """(best - true) / (best - worst); 1 where nothing has been found yet (true is NaN)."""
    span = np.where(best > worst, best - worst, np.nan)
    return np.where(np.isnan(true), 1.0, (best - true) / span)


def over_trials(trajectories: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Each table run's regret at t = 1 .. its trial budget (the last value carried forward
    when a search stopped early: that is what the user is left with)."""
    columns = [*KEYS, "trial", "regret", "incumbent_true", "best", "worst"]
    if trajectories.empty:
        return pd.DataFrame(columns=columns)
    tables = table_studies(studies).set_index("study_key")
    budgets = tables.n_trials_budget
    runs = trajectories.drop_duplicates("study_key")[KEYS]
    horizon = runs.study_key.map(budgets).astype(int).to_numpy()
    grid = runs.loc[runs.index.repeat(horizon)].assign(
        trial=np.concatenate([np.arange(1, h + 1) for h in horizon])
    )
    steps = trajectories[["study_key", "trial", "regret", "incumbent_true"]]
    curves = pd.merge_asof(
        grid.sort_values("trial"), steps.sort_values("trial"), on="trial", by="study_key"
    )
    curves["best"] = curves.study_key.map(tables.table_best)
    curves["worst"] = curves.study_key.map(tables.table_worst)
    return curves.sort_values(["study_key", "trial"]).reset_index(drop=True)[columns]


def over_time(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Each table run's regret at log-spaced fractions of its task's horizon (the latest
    simulated `end` of any run of that task and budget); 1 before its first result."""
    columns = [*KEYS, "fraction", "seconds", "regret"]
    if trajectories.empty:
        return pd.DataFrame(columns=columns)
    task = ["budget", "model", "dataset"]
    horizon = trajectories.groupby(task).end.transform("max")
    steps = trajectories.assign(fraction=trajectories.end / horizon.where(horizon > 0))
    fractions = np.geomspace(FIRST_FRACTION, 1.0, TIME_GRID)
    runs = trajectories.drop_duplicates("study_key")[KEYS]
    points = runs.merge(pd.DataFrame({"fraction": fractions}), how="cross")
    curves = pd.merge_asof(
        points.sort_values("fraction"),
        steps[["study_key", "fraction", "regret"]].sort_values("fraction"),
        on="fraction",
        by="study_key",
    )
    curves["regret"] = curves.regret.fillna(1.0)  # no result yet
    seconds = trajectories.groupby(task).end.max().rename("horizon").reset_index()
    curves = curves.merge(seconds, on=task, how="left")
    curves["seconds"] = curves.fraction * curves.horizon
    return curves.sort_values(["study_key", "fraction"]).reset_index(drop=True)[columns]


def mean_interval(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Per group: the mean of `value`, its 95% t interval (scipy.stats.t) and the count."""
    stats = frame.groupby(by, as_index=False, sort=True)[value].agg(
        mean="mean", sd="std", instances="count"
    )
    half = (
        student.ppf((1 + CONFIDENCE) / 2, stats.instances - 1) * stats.sd / np.sqrt(stats.instances)
    )
    stats["low"], stats["high"] = stats["mean"] - half, stats["mean"] + half
    return stats.drop(columns="sd")[[*by, "instances", "mean", "low", "high"]]


def regret_summary(curves: pd.DataFrame, x: str) -> pd.DataFrame:
    """Per budget, strategy and point `x` (trial, or fraction of the horizon): mean
    normalised regret over (task, seed) instances with its 95% t interval."""
    return mean_interval(curves, ["budget", "strategy", x], "regret").assign(method=INTERVAL)


def bayesmark_score(curves: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per budget, strategy and trial: Bayesmark's normalised mean score (see the module's
    docstring; random search = 1 at every trial), its 95% t interval over problems, and the
    number of problems. Only problems (tasks) on which the baseline ran count."""
    columns = ["budget", "strategy", "trial", "problems", "score", "low", "high", "method"]
    if curves.empty or baseline not in set(curves.strategy):
        return pd.DataFrame(columns=columns)
    task = ["budget", "model", "dataset"]
    data = curves
    own = data[data.strategy == baseline]
    clip = own[own.trial == 1].groupby(task).incumbent_true.median().rename("floor")
    data = data.merge(clip.reset_index(), on=task, how="inner")
    data = data[data.best > data["floor"]]  # no room between the first random pick and the best
    clipped = np.fmax(data.incumbent_true, data["floor"])
    data = data.assign(norm=(data.best - clipped) / (data.best - data["floor"]))
    per_problem = data.groupby([*task, "strategy", "trial"], as_index=False).norm.mean()
    reference = (
        per_problem[per_problem.strategy == baseline]
        .groupby(["budget", "trial"]).norm.mean().rename("reference")
    )  # fmt: skip
    per_problem = per_problem.merge(reference.reset_index(), on=["budget", "trial"])
    per_problem["relative"] = per_problem.norm / per_problem.reference.where(
        per_problem.reference > 0
    )
    stats = mean_interval(per_problem, ["budget", "strategy", "trial"], "relative")
    method = (
        "Bayesmark's normalised mean score (random search = 1), 95% t interval over problems "
        "(scipy.stats.t), the random-search reference held fixed"
    )
    return stats.rename(columns={"instances": "problems", "mean": "score"}).assign(method=method)[
        columns
    ]


def rank_over(curves: pd.DataFrame, x: str) -> pd.DataFrame:
    """Per budget, strategy and point `x`: the mean rank of its normalised regret among the
    strategies (scipy.stats.rankdata per instance and point, 1 best, ties averaged), over
    the instances where every strategy of the budget ran."""
    columns = ["budget", "strategy", x, "instances", "rank"]
    frames = []
    for budget, block in curves.groupby("budget", sort=False):
        wide = block.pivot_table(index=[*INSTANCE, x], columns="strategy", values="regret")
        wide = wide.dropna(how="any")
        if wide.empty or wide.shape[1] < 2:
            continue
        ranks = pd.DataFrame(
            rankdata(wide.to_numpy(), axis=1, method="average"),
            index=wide.index,
            columns=wide.columns,
        )
        mean = ranks.groupby(level=x).agg(["mean", "count"])
        long = mean.stack(level=0, future_stack=True).reset_index()
        long = long.rename(columns={"level_1": "strategy", "mean": "rank", "count": "instances"})
        frames.append(long.assign(budget=budget))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per table run: its normalised regret and its incumbent's true score at the end of
    its budget."""
    last = curves.sort_values("trial").groupby("study_key", sort=False).tail(1)
    return last.rename(columns={"trial": "trials"}).sort_values(KEYS).reset_index(drop=True)


def instance_runs(final: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table of the table studies with `tuned_test` = 1 - final normalised regret
    and the instance as `problem` (benchmark/task/seed, repeat 0, outer fold 0), so that the
    decision machinery (significance, power, equivalence, recommend) reads it unchanged."""
    scored = final[["study_key", "regret"]]
    own = runs.merge(scored, on="study_key", how="inner")
    return own.assign(
        tuned_test=1.0 - own.regret,
        problem=own.model + "/" + own.dataset + "/seed " + own.seed.astype(str),
        repeat=0,
        outer_fold=0,
    ).drop(columns="regret")
