"""Aggregate metrics on hand-built trial tables, every expected number worked out by hand.

Two problem instances (outer folds 0 and 1 of dataset "d") and one more on dataset "flat"
where no trial beats the defaults. Strategy A and B search, C never reaches a target, and
`random` is the baseline. Trial k (1-based) of every run ends at k seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy.stats import friedmanchisquare

from harness.aggregate import TABLES, aggregate
from harness.aggregate.anytime import random_reference
from harness.aggregate.curves import trajectory_table
from harness.aggregate.gain import mean_interval
from harness.aggregate.load import Records
from harness.aggregate.settings import Settings
from harness.errors import UsageError

SETTINGS = Settings(targets=(0.5, 0.9, 0.99), recommend_target=0.9, resamples=1000)
NAN = float("nan")

# (strategy, dataset, outer fold) -> (inner scores per trial, default_inner, tuned, default test)
RUNS = {
    ("A", "d", 0): ([0.70, 0.85, 0.90], 0.80, 0.88, 0.86),
    ("B", "d", 0): ([0.82, 0.84, 0.86], 0.80, 0.87, 0.86),
    ("C", "d", 0): ([0.50, NAN, 0.50], 0.80, 0.80, 0.86),
    ("random", "d", 0): ([0.75, 0.83, 0.81], 0.80, 0.87, 0.86),
    ("A", "d", 1): ([0.65, 0.62, 0.61], 0.60, 0.70, 0.66),
    ("B", "d", 1): ([0.70, 0.70, 0.70], 0.60, 0.71, 0.66),
    ("C", "d", 1): ([0.50, 0.50, 0.50], 0.60, 0.60, 0.66),
    ("random", "d", 1): ([0.64, 0.66, 0.68], 0.60, 0.69, 0.66),
    ("A", "flat", 0): ([0.85, 0.90, 0.80], 0.90, 0.91, 0.92),
    ("B", "flat", 0): ([0.70, 0.70, 0.70], 0.90, 0.90, 0.92),
    ("C", "flat", 0): ([0.50, 0.50, 0.50], 0.90, 0.89, 0.92),
    ("random", "flat", 0): ([0.80, 0.85, 0.88], 0.90, 0.90, 0.92),
}


def make_records(runs: dict, fidelity: dict | None = None, budget: int = 3) -> Records:
    """Records as load_records would return them for these runs (budget: 3 trials)."""
    studies, trials, folds = {}, [], []
    for (strategy, dataset, fold), (scores, default_inner, tuned, default_test) in runs.items():
        key = f"{strategy}-{dataset}"
        labels = {
            "study_key": key, "dataset": dataset, "model": "m", "strategy": strategy,
            "metric": "accuracy", "seed": 0, "repeat": 0, "outer_fold": fold,
            "budget": f"{budget} trials", "n_trials_budget": budget, "problem": f"p-{dataset}",
            "study_dir": f"/x/{key}", "workers": 1, "clock": "real",
        }  # fmt: skip
        studies[key] = {
            k: labels[k] for k in ("study_key", "study_dir", "strategy", "dataset", "model")
        } | {
            "budget": f"{budget} trials", "n_trials_budget": budget, "time_budget": None,
            "problem": f"p-{dataset}", "versions": '{"numpy": "2"}', "rows": 500,
            "space_size": 2,
        }  # fmt: skip
        fractions = (fidelity or {}).get((strategy, dataset, fold), [1.0] * len(scores))
        for i, (score, share) in enumerate(zip(scores, fractions, strict=True)):
            trials.append(
                labels | {
                    "trial": i, "inner_mean": score, "status": "failed" if math.isnan(score)
                    else "ok", "eval_seconds": 0.8, "choose_seconds": 0.1 * (i + 1),
                    "fit_seconds": 0.5, "score_seconds": 0.25,
                    "elapsed_seconds": float(i + 1), "fidelity": share,
                }
            )  # fmt: skip
        full = [s for s, f in zip(scores, fractions, strict=True) if f == 1]
        folds.append(
            labels | {
                "best_inner": np.nanmax(full), "default_inner": default_inner,
                "tuned_test": tuned, "default_test": default_test,
                "gain": tuned - default_test, "n_trials": len(scores),
                "n_failed": int(np.isnan(scores).sum()), "search_seconds": len(scores) + 0.5,
                "wall_seconds": len(scores) + 1.5,
            }
        )  # fmt: skip
    return Records(pd.DataFrame(list(studies.values())), pd.DataFrame(trials), pd.DataFrame(folds))


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return aggregate(make_records(RUNS), SETTINGS)


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.logical_and.reduce([table[k] == v for k, v in where.items()])
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return table[mask].iloc[0]


def test_every_table_is_built(tables):
    assert list(tables) == list(TABLES)


def test_instances_span_from_defaults_to_best_trial(tables):
    d0 = row(tables["instances"], problem="p-d", outer_fold=0)
    assert (d0.default_inner, d0.best_known) == (0.80, 0.90)
    assert d0.span == pytest.approx(0.10)
    flat = row(tables["instances"], problem="p-flat")
    assert (flat.best_known, flat.span) == (0.90, 0.0)  # no trial beat the defaults


def test_targets_between_defaults_and_best(tables):
    goals = tables["targets"]
    assert row(goals, problem="p-d", outer_fold=0, target=0.5).target_score == pytest.approx(0.85)
    assert row(goals, problem="p-d", outer_fold=1, target=0.9).target_score == pytest.approx(0.69)
    # The default is already the best: every target is the defaults' own score.
    assert set(goals[goals.problem == "p-flat"].target_score) == {0.90}


@pytest.mark.parametrize(
    ("strategy", "dataset", "fold", "target", "trials"),
    [
        ("A", "d", 0, 0.5, 2),  # 0.85 reaches 0.85 exactly: a tie counts
        ("A", "d", 0, 0.9, 3),
        ("A", "d", 0, 0.99, 3),
        ("B", "d", 0, 0.5, 3),
        ("B", "d", 0, 0.9, None),  # best 0.86 < 0.89: censored
        ("A", "d", 1, 0.5, 1),
        ("A", "d", 1, 0.9, None),
        ("B", "d", 1, 0.99, 1),
        ("A", "flat", 0, 0.99, 2),  # matches the defaults at trial 2
        ("B", "flat", 0, 0.5, None),
        ("C", "d", 0, 0.5, None),  # a failed trial in between changes nothing
    ],
)
def test_first_trial_reaching_each_target(tables, strategy, dataset, fold, target, trials):
    hit = row(
        tables["trials_to_target"], strategy=strategy, dataset=dataset, outer_fold=fold,
        target=target,
    )  # fmt: skip
    if trials is None:
        assert not hit.reached and math.isnan(hit.trials) and math.isnan(hit.seconds)
        assert hit.trials_spent == 3 and hit.seconds_spent == 3.5  # the whole search
    else:
        assert hit.reached and hit.trials == trials and hit.seconds == trials
        assert hit.trials_spent == trials and hit.cost == trials


def test_expected_running_time_counts_censored_runs(tables):
    ert = tables["ert"]
    # A at 0.5: hits at 2 (d/0), 1 (d/1), 2 (flat): 5 trials over 3 successes.
    a50 = row(ert, strategy="A", target=0.5)
    assert (a50.runs, a50.successes) == (3, 3) and a50.ert_trials == pytest.approx(5 / 3)
    # A at 0.9: hit at 3, censored after 3, hit at 2: 8 trials over 2 successes.
    a90 = row(ert, strategy="A", target=0.9)
    assert a90.success_rate == pytest.approx(2 / 3) and a90.ert_trials == pytest.approx(4.0)
    assert a90.ert_seconds == pytest.approx((3 + 3.5 + 2) / 2) and a90.ert_cost == 4.0
    # B at 0.9: censored (3), hit at 1, censored (3): 7 over 1.
    assert row(ert, strategy="B", target=0.9).ert_trials == pytest.approx(7.0)


def test_ert_with_zero_successes_is_infinite(tables):
    c = tables["ert"][tables["ert"].strategy == "C"]
    assert len(c) == 3 and (c.successes == 0).all() and (c.success_rate == 0).all()
    assert np.isinf(c.ert_trials).all() and np.isinf(c.ert_seconds).all()
    assert c.median_trials.isna().all()


def test_ecdf_ends_at_the_success_rate(tables):
    ecdf = tables["ttt_ecdf"]
    a90 = ecdf[(ecdf.strategy == "A") & (ecdf.target == 0.9)].set_index("spent").fraction
    assert a90.to_dict() == pytest.approx({1: 0, 2: 1 / 3, 3: 2 / 3})
    c = ecdf[ecdf.strategy == "C"]
    assert (c.fraction == 0).all()


def test_regret_is_normalised_between_best_and_defaults(tables):
    curves = tables["curves"]
    b = curves[(curves.strategy == "B") & (curves.problem == "p-d") & (curves.outer_fold == 0)]
    assert b.regret.tolist() == pytest.approx([0.8, 0.6, 0.4])  # (0.90 - bsf) / 0.10
    flat = curves[curves.problem == "p-flat"]
    assert flat.regret.isna().all()  # nothing to normalise by
    c = curves[(curves.strategy == "C") & (curves.problem == "p-d") & (curves.outer_fold == 0)]
    assert c.best_so_far.tolist() == [0.5, 0.5, 0.5]  # the failed trial 2 keeps trial 1's best


def test_random_reference_is_the_expected_best_of_t_draws():
    trials = trajectory_table(make_records({("random", "d", 0): ([0.2, 0.4], 0.1, 0, 0)}).trials)
    reference = random_reference(trials, "random", 3).random_expected.tolist()
    # t draws from {0.2, 0.4}: the max is 0.2 only if every draw is 0.2.
    assert reference == pytest.approx([0.3, 0.2 / 4 + 0.4 * 3 / 4, 0.2 / 8 + 0.4 * 7 / 8])


def test_normalised_score_reads_against_random_search(tables):
    curves = tables["curves"]
    a = curves[(curves.strategy == "A") & (curves.problem == "p-d") & (curves.outer_fold == 0)]
    # random's trials on d/0 are 0.75, 0.83, 0.81: expected best of 1 draw = 0.79667.
    first = (0.90 - 0.70) / (0.90 - (0.75 + 0.83 + 0.81) / 3)
    assert a.normalised_score.iloc[0] == pytest.approx(first)
    assert a.normalised_score.iloc[2] == 0  # A found the best known score


def test_ranks_over_time_share_ties(tables):
    curves = tables["curves"]
    d1 = curves[(curves.problem == "p-d") & (curves.outer_fold == 1) & (curves.spent == 3)]
    ranks = d1.set_index("strategy")["rank"].to_dict()
    # best so far after 3: A 0.65, B 0.70, C 0.50, random 0.68
    assert ranks == {"B": 1.0, "random": 2.0, "A": 3.0, "C": 4.0}


def test_ranks_and_ties_on_outer_test(tables):
    ranked = tables["instance_ranks"]
    flat = ranked[ranked.problem == "p-flat"].set_index("strategy")["rank"].to_dict()
    # tuned test: A 0.91, B 0.90, random 0.90, C 0.89 -> B and random share 2.5
    assert flat == {"A": 1.0, "B": 2.5, "random": 2.5, "C": 4.0}
    a = row(tables["ranks"], strategy="A")
    assert a.instances == 3 and a.mean_rank == pytest.approx((1 + 2 + 1) / 3)


def test_versus_baseline_counts_and_corrects(tables):
    versus = tables["versus_baseline"].set_index("strategy")
    # tuned test vs random: A +0.01, +0.01, +0.01; C -0.07, -0.09, -0.01
    assert (versus.loc["A", ["wins", "ties", "losses"]] == [3, 0, 0]).all()
    assert (versus.loc["C", ["wins", "ties", "losses"]] == [0, 0, 3]).all()
    assert (versus.loc["B", ["wins", "ties", "losses"]] == [1, 2, 0]).all()  # 0.87, 0.90 tie
    # three instances: the smallest two-sided exact Wilcoxon p is 2 / 2**3 = 0.25
    assert versus.loc["A", "p_value"] == pytest.approx(0.25)
    assert (versus.p_holm >= versus.p_value).all() and not versus.beats_baseline.any()


def test_friedman_and_posthoc_come_from_the_packages(tables):
    # The oracle: the packages on the instances x strategies table of tuned test scores, built
    # here from RUNS. Ranks by hand: A 1, 2, 1; B 2.5, 1, 2.5; random 2.5, 3, 2.5; C 4, 4, 4 (sums
    # 4, 6, 8, 12): chi2 = 12 / (3 x 4 x 5) x 260 - 45 = 7, over 1 - 2 x 6 / 180 for the ties.
    strategies = ["A", "B", "C", "random"]
    table = np.array(
        [[RUNS[(s, d, f)][2] for s in strategies] for d, f in (("d", 0), ("d", 1), ("flat", 0))]
    )
    expected = friedmanchisquare(*table.T)
    assert expected.statistic == pytest.approx(7 / (1 - 12 / 180))
    test = row(tables["friedman"], budget="3 trials")
    assert (test.strategies, test.instances) == (4, 3)
    assert (test.statistic, test.p_value) == pytest.approx((expected.statistic, expected.pvalue))
    nemenyi = sp.posthoc_nemenyi_friedman(table)
    pairs = tables["nemenyi"]  # each pair of the 4 strategies once, none with itself
    assert len(pairs) == 6 and (pairs.strategy < pairs.other).all()
    for pair in pairs.itertuples():
        i, j = strategies.index(pair.strategy), strategies.index(pair.other)
        assert pair.p_value == pytest.approx(nemenyi.iloc[i, j]), (pair.strategy, pair.other)


def test_gain_and_optimism(tables):
    a = row(tables["gain"], strategy="A", dataset="d")
    assert a.folds == 2 and a.gain == pytest.approx((0.02 + 0.04) / 2)
    assert a.optimism == pytest.approx(((0.90 - 0.88) + (0.65 - 0.70)) / 2)
    assert a.gain_low <= a.gain <= a.gain_high
    flat = row(tables["gain"], strategy="A", dataset="flat")
    assert math.isnan(flat.gain_low)  # one fold: no interval


def test_bootstrap_interval():
    mean, low, high = mean_interval(np.array([0.01, 0.01, 0.01]), SETTINGS)
    assert (mean, low, high) == (0.01, 0.01, 0.01)
    # Two folds, 0 and 1: resampled means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% percentiles are 0 and 1.
    assert mean_interval(np.array([0.0, 1.0]), SETTINGS) == (0.5, 0.0, 1.0)


def test_recommendation_names_the_best_ranked_strategy(tables):
    best = row(tables["recommendation"], budget="3 trials")
    assert best.strategy == "A" and best["ert_trials_0.9"] == pytest.approx(4.0)
    assert best.success_rate == pytest.approx(2 / 3) and best.verdict == "inconclusive"
    # 3 instances: the exact Wilcoxon test's smallest p is 0.25, x 3 strategies (Holm)
    assert best.p_floor == pytest.approx(0.75)
    assert "cannot decide anything" in best.sentence
    assert "3 instances (3 with a non-zero difference) cannot separate A from random" in (
        best.sentence
    )


def test_time_split_adds_up_to_wall_time(tables):
    split = tables["time_split"]
    a = split[split.study_key == "A-d"].set_index("part").seconds
    # two folds: 3 trials x 0.8 s evaluating, 0.1 + 0.2 + 0.3 choosing, 3.5 s search, 4.5 wall
    assert a.to_dict() == pytest.approx(
        {"evaluation": 4.8, "optimiser": 1.2, "bookkeeping": 1.0, "refit": 2.0}
    )
    overhead = row(tables["overhead"], strategy="A", trial=3)
    assert overhead["median"] == pytest.approx(0.3)


def test_partial_evaluations_cost_their_fidelity_and_never_count_as_best():
    runs = {("H", "d", 0): ([0.95, 0.70, 0.88, 0.90], 0.80, 0.9, 0.86)}
    fidelity = {("H", "d", 0): [1 / 3, 1 / 3, 1.0, 1.0]}
    tables = aggregate(make_records(runs, fidelity), SETTINGS)
    curve = tables["curves"].set_index("spent").best_so_far
    # spent after each trial: 1/3, 2/3, 5/3, 8/3; the 0.95 was a partial evaluation
    assert curve.to_dict() == pytest.approx({1: NAN, 2: 0.88, 3: 0.90}, nan_ok=True)
    hit = row(tables["trials_to_target"], target=0.5)  # target 0.85, reached by trial 3
    assert (hit.trials, hit.cost) == (3, pytest.approx(5 / 3))


def test_settings_refuse_bad_targets():
    with pytest.raises(UsageError, match="fractions in"):
        Settings(targets=(0.5, 1.5))
    with pytest.raises(UsageError, match="recommend_target"):
        Settings(targets=(0.5,), recommend_target=0.9)


def test_studies_without_trials_cannot_be_compared():
    only = make_records({("A", "d", 0): RUNS[("A", "d", 0)]})
    empty = Records(only.studies, only.trials.iloc[:0], only.folds.assign(n_trials=0))
    with pytest.raises(UsageError, match="ran no trials"):
        aggregate(empty, SETTINGS)
