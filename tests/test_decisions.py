"""Risk, equivalence, robust aggregates, crossover, power and the folklore on hand-built
records (tests/test_aggregate.py's RUNS and a few more), every expected number worked out by
hand. Intervals are checked where every resample gives the same answer, or where the chance
of each answer can be counted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from baycomp import SignedRankTest

from harness.aggregate import aggregate
from harness.aggregate.risk import cvar
from harness.aggregate.robust import iqm
from harness.aggregate.settings import Settings
from harness.errors import UsageError
from harness.report.__main__ import main as report_main
from tests.test_aggregate import RUNS, SETTINGS, make_records, row


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return aggregate(make_records(RUNS), SETTINGS)


def test_harm_rate_counts_folds_below_the_defaults_with_wilson_bounds(tables):
    # A's gains: +0.02, +0.04, -0.01 (flat): harmed once in 3.
    a = row(tables["risk"], strategy="A", model="m")
    assert (a.runs, a.harmed, a.harm_rate) == (3, 1, pytest.approx(1 / 3))
    # Wilson: centre (p + z^2/2n) / (1 + z^2/n), half-width z sqrt(p(1-p)/n + z^2/4n^2) / (...)
    z, n, p = 1.959964, 3, 1 / 3
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert (a.harm_low, a.harm_high) == pytest.approx((centre - half, centre + half), abs=1e-5)
    c = row(tables["risk"], strategy="C", model="m")  # C loses every fold
    assert c.harm_rate == 1 and c.harm_high == 1


def test_cvar_is_the_mean_of_the_worst_tenth():
    values = np.arange(1.0, 21.0)  # 20 runs: the worst 10% are 2 of them
    assert cvar(values, "low") == 1.5 and cvar(values, "high") == 19.5
    assert cvar(np.array([0.3, -0.2, 0.1]), "low") == -0.2  # fewer than 10: the single worst


def test_cvar_of_gain_and_regret_in_the_risk_table(tables):
    a = row(tables["risk"], strategy="A", model="m")
    assert a.gain_cvar == pytest.approx(-0.01)  # the worst of +0.02, +0.04, -0.01
    # final regrets: d/0 best 0.90 = best known: 0; d/1 0.65 of [0.60, 0.70]: 0.5; flat: none
    assert a.regret_cvar == pytest.approx(0.5)
    assert a.gain_cvar_low <= a.gain_cvar <= a.gain_cvar_high
    b = row(tables["runs"], strategy="B", dataset="d", outer_fold=0)
    assert b.final_regret == pytest.approx(0.4)  # (0.90 - 0.86) / 0.10


def test_iqm_drops_a_quarter_at_each_end():
    assert iqm(np.arange(1.0, 9.0)) == 4.5  # mean of 3, 4, 5, 6


# Four instances; `fast` sits at 0.9 from the first trial, `slow` climbs to 1.0 (the best
# known; defaults 0.5). Regret: fast 0.2 throughout; slow 0.8, 0.6, 0.1, 0 (0.3 at trial 3 on
# fold 2).
CROSS = {
    ("fast", "d", 0): ([0.9, 0.9, 0.9, 0.9], 0.5, 0.81, 0.80),
    ("fast", "d", 1): ([0.9, 0.9, 0.9, 0.9], 0.5, 0.85, 0.80),
    ("fast", "d", 2): ([0.9, 0.9, 0.9, 0.9], 0.5, 0.82, 0.80),
    ("fast", "d", 3): ([0.9, 0.9, 0.9, 0.9], 0.5, 0.77, 0.80),
    ("slow", "d", 0): ([0.6, 0.7, 0.95, 1.0], 0.5, 0.80, 0.80),
    ("slow", "d", 1): ([0.6, 0.7, 0.95, 1.0], 0.5, 0.80, 0.80),
    ("slow", "d", 2): ([0.6, 0.7, 0.85, 1.0], 0.5, 0.80, 0.80),
    ("slow", "d", 3): ([0.6, 0.7, 0.95, 1.0], 0.5, 0.80, 0.80),
}


@pytest.fixture(scope="module")
def crossing() -> dict[str, pd.DataFrame]:
    return aggregate(make_records(CROSS, budget=4), SETTINGS)


def test_crossover_where_the_slow_starter_overtakes_for_good(crossing):
    pair = row(crossing["crossover"], unit="trials")
    assert (pair.leader, pair.other, pair.instances) == ("slow", "fast", 4)
    # medians of slow: 0.8, 0.6, 0.1, 0 against 0.2: ahead from trial 3 on.
    assert pair.crossover == 3 and not pair.leads_throughout
    # A resample with 2+ draws of fold 2 (chance 1 - (3/4)^4 - 4 (1/4)(3/4)^3 = 0.26) has
    # median 0.2 or more at trial 3, so slow is ahead only from trial 4: bounds 3 and 4.
    assert (pair.crossover_low, pair.crossover_high) == (3, 4)


def test_iqm_of_gain_across_instances(crossing):
    fast = row(crossing["iqm"], strategy="fast", measure="gain")
    # gains -0.03, 0.01, 0.02, 0.05: the middle two average 0.015
    assert fast.runs == 4 and fast.iqm == pytest.approx(0.015)
    assert fast.iqm_low <= fast.iqm <= fast.iqm_high
    improvement = row(crossing["iqm"], strategy="fast", measure="improvement")
    assert improvement.iqm == pytest.approx(0.8) and improvement.iqm_low == pytest.approx(0.8)
    profile = crossing["performance_profile"]
    fast = profile[profile.strategy == "fast"].set_index("tau").fraction
    assert fast[0.7] == 1 and fast[0.8] == 0  # every run at 0.8: above 0.7, not above 0.8


def test_equivalence_and_power_against_the_baseline(tables):
    eq = tables["equivalence"].set_index("strategy")
    assert set(eq.index) == {"A", "B", "C"} and (eq.rope == 0.005).all()
    probabilities = eq[["p_better", "p_equivalent", "p_worse"]].sum(axis=1)
    assert probabilities.to_numpy() == pytest.approx([1, 1, 1])
    # A beats random by 0.01 on all 3 instances, C loses by 0.01 to 0.09 on all 3.
    assert eq.loc["A", "decision"] == "practically better"
    assert eq.loc["C", "decision"] == "practically worse"
    # baycomp's own numbers on the same paired outer-test scores, ROPE, samples and seed
    instances = (("d", 0), ("d", 1), ("flat", 0))
    random = [RUNS[("random", d, f)][2] for d, f in instances]
    for strategy in ("A", "B", "C"):
        scores = [RUNS[(strategy, d, f)][2] for d, f in instances]
        expected = SignedRankTest.probs(
            np.array(scores), np.array(random), rope=SETTINGS.rope,
            nsamples=SETTINGS.resamples, random_state=SETTINGS.seed,
        )  # fmt: skip
        got = eq.loc[strategy, ["p_better", "p_equivalent", "p_worse"]].to_numpy(float)
        assert got == pytest.approx(np.asarray(expected, float), abs=1e-12), strategy
    assert "baycomp" in eq.loc["A", "method"]
    power = tables["power"].set_index("strategy")
    # B - random on outer test: 0, +0.02, 0: sd 0.011547, one non-zero difference, whose
    # smallest exact Wilcoxon p is 1 (2 / 2^1): no result could be significant
    assert power.loc["B", "sd_difference"] == pytest.approx(0.011547, abs=1e-6)
    assert power.loc["B", "nonzero"] == 1 and power.loc["B", "p_floor"] == 1
    assert power.loc["A", "detectable"] == math.inf  # 3 instances: never below 0.05 / 3
    # 3 instances: 2 / 2^3 = 0.25 raw, x 3 strategies (Holm's first step) = 0.75
    assert power.loc["A", "p_floor"] == pytest.approx(0.75)
    assert not power.can_reach_alpha.any()
    assert power.loc["B", "detectable"] == math.inf  # 3 instances never reach 0.05 / 3
    assert 5 < power.loc["B", "needed_instances"] < math.inf
    note = row(tables["recommendation"], budget="3 trials").power
    assert note == (
        "3 instances (3 with a non-zero difference) cannot separate A from random: the "
        "smallest Holm p they can give is 0.75, not below 0.05"
    )


# tpe reaches the 0.9 target (0.95: defaults 0.5, best 1.0) at trial 2, random at trial 3,
# grid never (best 0.8). Outer-test gain 0.05, 0.07, ... 0.13 on folds 0-4 for everyone.
# Five instances: the fewest on which the verdict rule gives an interval.
FOLK = {
    (strategy, "d", fold): (scores, 0.5, 0.85 + 0.04 * fold, 0.80 + 0.02 * fold)
    for fold in range(5)
    for strategy, scores in (
        ("tpe", [0.6, 1.0, 1.0]),
        ("random", [0.6, 0.7, 1.0]),
        ("grid", [0.6, 0.7, 0.8]),
    )
}


@pytest.fixture(scope="module")
def folklore() -> pd.DataFrame:
    return aggregate(make_records(FOLK), SETTINGS)["folklore"].set_index("claim")


def test_ratio_claim_bayesian_optimisation_needs_fewer_trials(folklore):
    claim = folklore.loc["bo_fewer_trials"]
    # ERT: tpe 2 trials per success, random 3: ratio 2/3 on each of the 5 instances.
    assert claim.estimate == pytest.approx(2 / 3) and (claim.n, claim.counted) == (5, "instances")
    assert (claim.low, claim.high) == pytest.approx((2 / 3, 2 / 3))  # identical instances
    assert claim.verdict == "supported"  # 30-50% fewer: a ratio in [0.5, 0.7]


def test_distribution_claim_gain_in_accuracy_points(folklore):
    claim = folklore.loc["gain_3_to_15_points"]
    # 5, 7, 9, 11, 13 points: mean 9; resampled means lie in [5, 13], inside [3, 15].
    assert claim.estimate == pytest.approx(9.0)
    assert 5 <= claim.low < 9 < claim.high <= 13
    assert claim.verdict == "supported"


def test_too_few_instances_are_inconclusive_whatever_the_estimate():
    two = {k: v for k, v in FOLK.items() if k[2] < 2}  # 2 instances: gain 6 points, in range
    claims = aggregate(make_records(two), SETTINGS)["folklore"].set_index("claim")
    claim = claims.loc["gain_3_to_15_points"]
    assert claim.estimate == pytest.approx(6.0) and claim.verdict == "inconclusive"
    assert "fewer than 5" in claim.why and claim.instances_needed == 5


def test_difference_claims_grid_and_cheap_models(folklore):
    grid = folklore.loc["grid_wastes_budget"]
    # grid ends at 0.8: regret (1.0 - 0.8) / 0.5 = 0.4; random ends at the best: 0
    assert grid.estimate == pytest.approx(0.4) and grid.verdict == "supported"
    cheap = folklore.loc["cheap_models_random_enough"]  # every trial takes 0.8 s here
    assert cheap.estimate == pytest.approx(0.0) and cheap.verdict == "supported"


def test_claims_without_what_they_need_are_not_testable(folklore):
    hyperband = folklore.loc["hyperband_cheaper"]
    assert hyperband.verdict == "inconclusive"
    assert "not testable on this sweep: no run of Hyperband" in hyperband.why
    early = folklore.loc["first_50_trials"]
    assert early.verdict == "inconclusive" and "above 50 trials" in early.why
    assert len(folklore) >= 6 and folklore.statement.str.len().gt(0).all()


def test_fraction_claim_first_50_trials():
    # 60 trials: 0.8 for the first 50, 1.0 from trial 51; defaults 0.5. After 50 trials a run
    # has (0.8 - 0.5) / (1.0 - 0.5) = 60% of its improvement.
    scores = [0.8] * 50 + [1.0] * 10
    runs = {("random", "d", fold): (scores, 0.5, 0.9, 0.8) for fold in range(5)}
    claims = aggregate(make_records(runs, budget=60), SETTINGS)["folklore"].set_index("claim")
    claim = claims.loc["first_50_trials"]
    assert claim.estimate == pytest.approx(0.6) and (claim.n, claim.counted) == (5, "runs")
    assert claim.verdict == "contradicted"  # the interval [0.6, 0.6] lies below [0.9, 1]


def test_contradicted_claim_when_the_interval_lies_outside():
    # tpe reaches the target at trial 3, random at trial 1: ratio 3, far above [0.5, 0.7].
    runs = {
        (strategy, "d", fold): (scores, 0.5, 0.9, 0.8)
        for fold in range(5)
        for strategy, scores in (("tpe", [0.6, 0.7, 1.0]), ("random", [1.0, 1.0, 1.0]))
    }
    claims = aggregate(make_records(runs), SETTINGS)["folklore"].set_index("claim")
    assert claims.loc["bo_fewer_trials", "estimate"] == pytest.approx(3.0)
    assert claims.loc["bo_fewer_trials", "verdict"] == "contradicted"


def test_two_strategies_skip_the_tests_that_need_three():
    two = {k: v for k, v in RUNS.items() if k[0] in ("A", "random")}
    tables = aggregate(make_records(two), SETTINGS)
    skipped = tables["skipped"]
    assert set(skipped.test) == {
        "Friedman test (scipy)",
        "Nemenyi post-hoc test (scikit-posthocs)",
    }
    assert skipped.reason.str.contains("at least 3 strategies, 2 ran").all()
    assert tables["friedman"].p_value.isna().all() and tables["nemenyi"].empty
    assert len(tables["equivalence"]) == 1 and len(tables["crossover"]) == 2


def test_one_instance_skips_every_test_across_instances():
    one = {k: v for k, v in RUNS.items() if k[1:] == ("d", 0)}
    tables = aggregate(make_records(one), SETTINGS)
    reasons = tables["skipped"].set_index("test").reason
    assert len(reasons) == 6 and reasons.str.contains("at least 2 instances").all()
    for name in ("equivalence", "power", "iqm", "crossover"):
        assert tables[name].empty, name
    assert tables["recommendation"].power.str.startswith("power not estimated").all()


@pytest.mark.parametrize(
    ("field", "value", "message"), [("rope", 0, "rope is 0"), ("detect", 1.5, "detect is 1.5")]
)
def test_settings_refuse_bad_rope_and_detect(field, value, message):
    with pytest.raises(UsageError, match=message):
        Settings(**{field: value})


@pytest.mark.parametrize(("args", "message"), [(["--rope", "-1"], "rope is -1.0"),
                                               (["--detect", "0"], "detect is 0.0")])  # fmt: skip
def test_report_cli_bad_rope_and_detect(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        report_main([str(tmp_path), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not list(tmp_path.iterdir())
