"""The folklore of hyperparameter tuning, each claim stated as a measurable figure, measured
on the sweep and judged.

Every claim names a figure, the range the claim puts it in, and how the figure is computed;
its 95% interval is a percentile bootstrap over the units it averages (instances or runs,
`counted` says which; scipy.stats.bootstrap). The verdict is the one rule of
harness.aggregate.verdict: supported only when the whole interval lies inside the claimed
range, contradicted only when it lies wholly outside, otherwise inconclusive, with the
instances that would decide it; a claim whose strategies, budgets or metric did not run is
inconclusive, and `why` says what it needs.

Comparisons are made within a budget, on the instances both sides ran. The claims name
kinds of strategy; the families below say which strategies of conf/strategy/ count as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.aggregate import verdict
from harness.aggregate.gain import interval
from harness.aggregate.load import INSTANCE
from harness.aggregate.settings import Settings

FAMILIES = {
    "random search": ("random", "optuna_random", "hyperopt_random", "sklearn_random"),
    "Bayesian optimisation": (
        "tpe", "hyperopt_tpe", "gp", "skopt_gp", "skopt_rf", "skopt_et", "skopt_gbrt",
    ),
    "grid search": ("grid", "sklearn_grid"),
    "Hyperband": ("hyperband",),
}  # fmt: skip
SELECT_FIRST = "select_then_tune_"  # select_then_tune_<inner> is paired with <inner>'s runs
EARLY = 50  # trials, in "the first 50 trials find 90% of the improvement"
CHEAP_SECONDS = 1.0  # a cheap model: its median trial (inner CV of one configuration) is faster
BIG = 1e12  # stands for an infinite ratio (no success) inside the bootstrap
PAIRED = ["budget", *INSTANCE]
Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Finding:
    estimate: float = np.nan
    low: float = np.nan
    high: float = np.nan
    units: int = 0
    untestable: str = ""  # why the claim cannot be tested here, if it cannot
    counted: str = "instances"  # what the units are


@dataclass(frozen=True)
class Claim:
    name: str
    statement: str  # the folklore, as it is usually said
    measure: str  # the figure computed on the sweep
    claimed: tuple[float, float]  # the range the claim puts the figure in
    compute: Callable[[Tables, Settings], Finding]


def folklore_table(tables: Tables, settings: Settings) -> pd.DataFrame:
    """One row per claim: statement, figure, interval, claimed range, verdict and why."""
    rows = []
    for claim in claims(settings):
        found = claim.compute(tables, settings)
        judged = verdict.row(found.estimate, found.low, found.high, *claim.claimed, found.units)
        if found.untestable:
            judged |= {"verdict": verdict.INCONCLUSIVE, "instances_needed": np.nan,
                       "why": f"not testable on this sweep: {found.untestable}"}  # fmt: skip
        judged["n"] = judged.pop("instances")
        rows.append(
            {"claim": claim.name, "statement": claim.statement, "measure": claim.measure}
            | judged
            | {"counted": found.counted, "method": "percentile bootstrap (scipy.stats.bootstrap)"}
        )
    columns = ["claim", "statement", "measure", *verdict.COLUMNS, "n", "counted",
               "instances_needed", "why", "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def claims(settings: Settings) -> list[Claim]:
    target = f"{settings.recommend_target:g}"
    return [
        Claim(
            "bo_fewer_trials",
            "Bayesian optimisation needs 30-50% fewer trials than random search",
            f"ERT in trials to the {target} target of Bayesian optimisation over random search's",
            (0.5, 0.7),
            lambda t, s: ert_ratio(t, s, "Bayesian optimisation", "trials"),
        ),
        Claim(
            "first_50_trials",
            f"The first {EARLY} trials find 90% of the improvement",
            f"mean share of a run's final inner-score improvement over the defaults reached "
            f"after {EARLY} trials (runs with budgets above {EARLY})",
            (0.9, 1.0),
            early_share,
        ),
        Claim(
            "hyperband_cheaper",
            "Hyperband is 5-10x cheaper than random search at equal quality",
            f"ERT in full-evaluation equivalents to the {target} target of Hyperband over "
            "random search's",
            (0.1, 0.2),
            lambda t, s: ert_ratio(t, s, "Hyperband", "cost"),
        ),
        Claim(
            "gain_3_to_15_points",
            "Tuning gains 3-15 accuracy points over the defaults",
            "mean outer-test accuracy gain of tuned over default, in points, per instance "
            "(every searching strategy)",
            (3.0, 15.0),
            accuracy_points,
        ),
        Claim(
            "grid_wastes_budget",
            "Grid search wastes its budget",
            "grid search's final normalised regret minus random search's at equal budget "
            "(> 0: grid ends further from the best)",
            (0.0, np.inf),
            lambda t, s: paired_difference(t, s, "grid search", "random search", "regret"),
        ),
        Claim(
            "cheap_models_random_enough",
            "For cheap models random search is as good as Bayesian optimisation",
            f"Bayesian optimisation's outer-test score minus random search's on problems whose "
            f"median trial takes under {CHEAP_SECONDS:g} s (within the ROPE: as good)",
            (-settings.rope, settings.rope),
            lambda t, s: paired_difference(
                t, s, "Bayesian optimisation", "random search", "score", cheap=True
            ),
        ),
        Claim(
            "select_family_first",
            "Select the model family before tuning its hyperparameters",
            "select_then_tune's outer-test score minus the joint search's by the same inner "
            "strategy (select_then_tune_<inner> against <inner>, model=cash), per paired "
            "instance (above -ROPE: selecting first loses nothing)",
            (-settings.rope, np.inf),
            select_first,
        ),
        Claim(
            "indices_misleading",
            "Internal clustering indices can be misleading",
            "share of clustering instances (datasets with labels) where tuning improved the "
            "internal index on the outer test but worsened the ARI against the hidden labels "
            "(mean over strategies per instance); 'can be': at least one in ten",
            (0.1, 1.0),
            misled_share,
        ),
        Claim(
            "dbscan_collapses",
            "DBSCAN collapses into one cluster or all noise when poorly calibrated",
            "share of DBSCAN's trials whose held-out assignment was one cluster or all noise "
            "(mean over runs); 'collapses': at least one trial in ten of its search space",
            (0.1, 1.0),
            dbscan_collapse_share,
        ),
    ]


def _family(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    return frame[frame.strategy.isin(FAMILIES[family])]


def _missing(frame: pd.DataFrame, *families: str) -> str:
    absent = [f for f in families if _family(frame, f).empty]
    if not absent:
        return ""
    names = "; ".join(f"{f} ({', '.join(FAMILIES[f])})" for f in absent)
    return f"no run of {names}"


def ert_ratio(tables: Tables, settings: Settings, family: str, unit: str) -> Finding:
    """ERT of `family` over random search's, pooled over paired (budget, instance) units."""
    hits = tables["trials_to_target"]
    hits = hits[hits.target == settings.recommend_target]
    if why := _missing(hits, family, "random search"):
        return Finding(untestable=why)
    sides = [
        _family(hits, f).groupby(PAIRED).agg(spent=(f"{unit}_spent", "sum"), hit=("reached", "sum"))
        for f in (family, "random search")
    ]
    paired = sides[0].merge(sides[1], left_index=True, right_index=True, suffixes=("_a", "_b"))
    if len(paired) < 2:
        return Finding(units=len(paired), untestable="fewer than 2 instances ran both sides")
    data = tuple(paired[c].to_numpy(dtype=float) for c in ("spent_a", "hit_a", "spent_b", "hit_b"))

    def ratio(a, b, c, d, axis=-1):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (a.sum(axis) / b.sum(axis)) / (c.sum(axis) / d.sum(axis))
        return np.nan_to_num(value, nan=BIG, posinf=BIG)

    estimate = float(ratio(*data))
    low, high = (np.inf if v >= BIG else v for v in interval(data, ratio, settings))
    if estimate >= BIG:
        return Finding(np.inf, low, high, len(paired), "no run of one side reached the target")
    return Finding(estimate, low, high, len(paired))


def early_share(tables: Tables, settings: Settings) -> Finding:
    """Per run with a budget above EARLY: (best after EARLY - defaults) / (final - defaults)."""
    curves, runs = tables["curves"], tables["runs"]
    long = runs[(runs.n_trials_budget > EARLY) & (runs.n_trials > 0)]
    if long.empty:
        largest = int(runs.n_trials_budget.max()) if len(runs) else 0
        return Finding(untestable=f"needs budgets above {EARLY} trials; the largest here is "
                                  f"{largest}")  # fmt: skip
    keys = ["study_key", "repeat", "outer_fold"]
    at = curves[curves.spent == EARLY][[*keys, "best_so_far"]].rename(
        columns={"best_so_far": "early"}
    )
    end = curves.sort_values("spent").drop_duplicates(keys, keep="last")[[*keys, "best_so_far"]]
    merged = long.merge(at, on=keys, how="left").merge(end, on=keys, how="left")
    improvement = merged.best_so_far - merged.default_inner
    share = (merged.early.fillna(merged.default_inner) - merged.default_inner) / improvement
    values = share[improvement > 0].to_numpy(dtype=float)
    if len(values) < 2:
        return Finding(units=len(values), untestable="fewer than 2 long runs improved at all",
                       counted="runs")  # fmt: skip
    mean = float(values.mean())
    return Finding(mean, *interval((values,), np.mean, settings), len(values), counted="runs")


def accuracy_points(tables: Tables, settings: Settings) -> Finding:
    """Mean over instances of the searching strategies' mean outer-test gain, x 100."""
    runs = tables["runs"]
    runs = runs[(runs.metric == "accuracy") & (runs.n_trials > 0)]
    per_instance = runs.groupby(PAIRED).gain.mean().dropna().to_numpy(dtype=float) * 100
    if len(per_instance) < 2:
        return Finding(units=len(per_instance), untestable="fewer than 2 instances scored "
                                                           "by accuracy")  # fmt: skip
    mean = float(per_instance.mean())
    return Finding(mean, *interval((per_instance,), np.mean, settings), len(per_instance))


def paired_difference(
    tables: Tables, settings: Settings, first: str, second: str, on: str, cheap: bool = False
) -> Finding:
    """Mean over paired (budget, instance) units of `first`'s value minus `second`'s: final
    normalised regret (`on="regret"`) or outer-test score (`on="score"`)."""
    runs = tables["runs"]
    column = "final_regret" if on == "regret" else "tuned_test"
    if cheap:
        runs = runs[runs.problem.isin(cheap_problems(tables["trials_per_problem"]))]
        if runs.empty:
            return Finding(untestable=f"no problem whose median trial takes under "
                                      f"{CHEAP_SECONDS:g} s")  # fmt: skip
    if why := _missing(runs, first, second):
        return Finding(untestable=why)
    sides = [_family(runs, f).groupby(PAIRED)[column].mean() for f in (first, second)]
    diff = (sides[0] - sides[1]).dropna().to_numpy(dtype=float)
    if len(diff) < 2:
        return Finding(units=len(diff), untestable="fewer than 2 instances ran both sides")
    return Finding(float(diff.mean()), *interval((diff,), np.mean, settings), len(diff))


def select_first(tables: Tables, settings: Settings) -> Finding:
    """Mean over paired (budget, instance) units, pooled over inner strategies, of
    select_then_tune_<inner>'s outer-test score minus the joint search <inner>'s."""
    runs = tables["runs"]
    labels = sorted(s for s in runs.strategy.unique() if s.startswith(SELECT_FIRST))
    if not labels:
        return Finding(untestable=f"no run of select_then_tune ({SELECT_FIRST}<inner>)")
    diffs = []
    for label in labels:
        sides = [
            runs[runs.strategy == s].groupby(PAIRED).tuned_test.mean()
            for s in (label, label.removeprefix(SELECT_FIRST))
        ]
        diffs.append((sides[0] - sides[1]).dropna())
    diff = pd.concat(diffs).to_numpy(dtype=float)
    if len(diff) < 2:
        return Finding(
            units=len(diff),
            untestable="fewer than 2 instances ran both select_then_tune and its inner search",
        )
    return Finding(float(diff.mean()), *interval((diff,), np.mean, settings), len(diff))


def cheap_problems(per_problem: pd.DataFrame) -> list[str]:
    return per_problem.loc[per_problem.median_eval_seconds < CHEAP_SECONDS, "problem"].tolist()


def trials_per_problem(trials: pd.DataFrame) -> pd.DataFrame:
    """Per problem: how long its median full-fidelity trial took (inner CV of one config)."""
    full = trials if "fidelity" not in trials else trials[trials.fidelity.fillna(1.0) >= 1]
    return full.groupby(["problem", "model", "dataset"], as_index=False).agg(
        trials=("eval_seconds", "size"), median_eval_seconds=("eval_seconds", "median")
    )


def misled_share(tables: Tables, settings: Settings) -> Finding:
    """Per (budget, instance) of a clustering with labels: the share of its runs where the
    index gained and ARI lost (harness.aggregate.outside); their mean over instances."""
    runs = tables["clustering_runs"]
    runs = runs[runs.misled.notna()]
    per_instance = runs.groupby(PAIRED).misled.mean().to_numpy(dtype=float)
    if len(per_instance) < 2:
        return Finding(units=len(per_instance), untestable="fewer than 2 clustering instances "
                                                           "with labels")  # fmt: skip
    mean = float(per_instance.mean())
    return Finding(mean, *interval((per_instance,), np.mean, settings), len(per_instance))


def dbscan_collapse_share(tables: Tables, settings: Settings) -> Finding:
    """Per run of DBSCAN: the share of its trials that collapsed; their mean over runs."""
    runs = tables["clustering_runs"]
    runs = runs[(runs.model == "dbscan") & (runs.trials > 0)]
    shares = (runs.collapsed / runs.trials).to_numpy(dtype=float)
    if len(shares) < 2:
        return Finding(units=len(shares), untestable="fewer than 2 runs of DBSCAN")
    return Finding(float(shares.mean()), *interval((shares,), np.mean, settings), len(shares))
