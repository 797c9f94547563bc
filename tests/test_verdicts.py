"""The verdict rule (harness.aggregate.verdict) on hand-built record sets whose right verdict
is known: identical strategies, a wide margin, an interval straddling its bound, a grid that
ran out of grid, and the exact Wilcoxon test's floor. Every verdict table of every record set
here must obey the rule row by row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.aggregate import aggregate, table_verdicts, verdict
from harness.aggregate.power import p_floor, smallest_p
from harness.aggregate.verdict import CONTRADICTED, INCONCLUSIVE, SUPPORTED, judge
from tests.test_aggregate import SETTINGS, make_records, row

VERDICT_TABLES = ("folklore", "recommendation", "decision", "choice", "equivalence", "crossover")
CLIMB = [0.6, 0.7, 0.8]  # inner scores of 3 trials; defaults 0.5


def sweep(outer: dict[str, list[float]], trials: dict[str, list[float]] | None = None) -> dict:
    """Tables of one budget (3 trials) on len(scores) instances of one dataset: each
    strategy's outer-test score per instance (defaults 0.5 everywhere)."""
    runs = {
        (strategy, "d", fold): ((trials or {}).get(strategy, CLIMB), 0.5, score, 0.5)
        for strategy, scores in outer.items()
        for fold, score in enumerate(scores)
    }
    return aggregate(make_records(runs), SETTINGS)


def obeys_rule(tables: dict[str, pd.DataFrame]) -> None:
    for name in VERDICT_TABLES:
        frame = tables[name]
        assert set(verdict.COLUMNS) <= set(frame.columns), name
        broken = verdict.violations(frame)
        assert broken.empty, f"{name} breaks the verdict rule:\n{broken.to_string()}"
        assert set(frame.verdict.dropna()) <= set(verdict.VERDICTS), name


@pytest.fixture(scope="module")
def identical() -> dict[str, pd.DataFrame]:
    """Two strategies drawing outer-test scores from one distribution, 9 instances."""
    rng = np.random.default_rng(7)
    scores = {s: list(0.8 + rng.normal(0, 0.01, 9).round(3)) for s in ("A", "random")}
    return sweep(scores)


def test_identical_strategies_on_9_instances_are_inconclusive(identical):
    obeys_rule(identical)
    decision = row(identical["decision"], strategy="A")
    assert decision.verdict == INCONCLUSIVE
    equivalence = row(identical["equivalence"], strategy="A")
    assert equivalence.verdict == INCONCLUSIVE  # interval not inside the ROPE
    assert equivalence.decision != "practically equivalent" and equivalence.p_equivalent < 0.95
    sentence = identical["recommendation"].iloc[0].sentence
    for overclaim in ("equivalent", "as good", "as safe", "Use "):
        assert overclaim not in sentence, sentence
    # 9 non-zero differences could reach p = 2 / 2^9: the sweep could decide, and did not
    assert sentence.startswith("3 trials, ranked at equal trials: this sweep leaves it open.")
    assert "whether A beats random by the ROPE (0.005) is inconclusive" in sentence


@pytest.fixture(scope="module")
def margin() -> dict[str, pd.DataFrame]:
    """A beats random by 0.05 (+- 0.004) on each of 30 instances."""
    rng = np.random.default_rng(3)
    base = 0.7 + rng.normal(0, 0.02, 30).round(4)
    return sweep({"A": list(base + 0.05 + rng.uniform(-0.004, 0.004, 30)), "random": list(base)})


def test_a_wide_margin_on_30_instances_is_significant_and_supported(margin):
    obeys_rule(margin)
    versus = row(margin["versus_baseline"], strategy="A")
    # 30 wins: the exact two-sided Wilcoxon p is 2 / 2^30
    assert versus.p_value == pytest.approx(2 / 2**30) and versus.beats_baseline
    decision = row(margin["decision"], strategy="A")
    assert decision.verdict == SUPPORTED and decision.low > SETTINGS.rope
    best = margin["recommendation"].iloc[0]
    assert best.strategy == "A" and best.verdict == SUPPORTED
    assert best.sentence.startswith("3 trials, ranked at equal trials: this sweep decides.")
    assert "A beats random by at least the ROPE (0.005), Holm p = " in best.sentence
    assert "Use A." in best.sentence


@pytest.fixture(scope="module")
def hidden() -> dict[str, pd.DataFrame]:
    """30 instances. B beats random by 0.002 on every one, so it ranks first wherever C does
    not; C beats random by 0.05 on 18 and loses by 0.01 on 12, so it ranks lower (mean rank
    1.8 against B's 1.6) but its mean gain, 0.026, clears the ROPE with its whole interval."""
    rng = np.random.default_rng(5)
    base = 0.7 + rng.normal(0, 0.02, 30).round(4)
    c = base + np.where(np.arange(30) < 18, 0.05, -0.01)
    return sweep({"B": list(base + 0.002), "C": list(c), "random": list(base)})


def test_the_first_screen_names_a_supported_strategy_ranked_below_the_pick(hidden, margin):
    obeys_rule(hidden)
    decision = hidden["decision"].set_index("strategy")
    assert decision.loc["B", "mean_rank"] < decision.loc["C", "mean_rank"]
    assert decision.loc["B", "verdict"] == CONTRADICTED  # 0.002: wholly below the ROPE
    assert decision.loc["C", "verdict"] == SUPPORTED
    best = hidden["recommendation"].iloc[0]
    assert best.strategy == "B" and "Use " not in best.sentence
    c = decision.loc["C"]
    figures = f"C {c.estimate:.3g} [{c.low:.3g}, {c.high:.3g}], Holm p = {c.p_holm:.3g}"
    said = f"Ranked below it, C beats random by at least the ROPE (0.005): {figures}."
    assert said in best.sentence
    # the table studies' first screen says it by the same code, from a decision table
    table = table_verdicts.sentences(hidden["decision"], pd.DataFrame(columns=["budget",
                                     "strategy"]), SETTINGS).sentence.iloc[0]  # fmt: skip
    assert table.startswith("3 trials, over 30 (task, seed) instances: B ranks best")
    assert table.endswith(said)
    # where the pick is the supported one, nothing is added
    assert "Ranked below it" not in margin["recommendation"].iloc[0].sentence


def test_an_interval_straddling_a_bound_is_inconclusive():
    # the cases: "grid wastes its budget" [0, inf) and "as good as" +-0.005
    grid = judge(0.287, -0.021, 0.65, 0, math.inf, 9)
    assert grid.verdict == INCONCLUSIVE and "straddles" in grid.why
    # the half-width below the estimate (0.308) must shrink under 0.287: 9 (0.308/0.287)^2
    assert grid.instances_needed == math.ceil(9 * (0.308 / 0.287) ** 2)
    mirror = judge(-0.01, -0.03, 0.01, 0, math.inf, 9)  # estimate outside, interval reaching in
    assert mirror.verdict == INCONCLUSIVE
    cheap = judge(0.0025, -0.0024, 0.0073, -0.005, 0.005, 9)
    assert cheap.verdict == INCONCLUSIVE and np.isfinite(cheap.instances_needed)
    assert judge(0.3, 0.1, 0.5, 0, math.inf, 9).verdict == SUPPORTED
    assert judge(-0.3, -0.5, -0.1, 0, math.inf, 9).verdict == CONTRADICTED
    assert judge(0.3, 0.1, 0.5, 0, math.inf, 4).verdict == INCONCLUSIVE  # under 5 instances
    assert judge(0.0, -0.1, 0.1, 0, math.inf, 9).instances_needed == math.inf  # on the bound


def test_a_straddling_folklore_claim_is_inconclusive():
    # grid ends further from the best than random on some instances, nearer on others
    outer = {"grid": [0.8] * 6, "random": [0.8] * 6}
    trials = {"grid": [0.6, 0.7, 0.8], "random": [0.6, 0.7, 0.8]}
    runs = {
        (s, "d", fold): (
            [0.6, 0.7, 0.8 if (s == "grid") == (fold % 2 == 0) else 0.75],
            0.5, outer[s][fold], 0.5,
        )
        for s in trials for fold in range(6)
    }  # fmt: skip
    tables = aggregate(make_records(runs), SETTINGS)
    obeys_rule(tables)
    claim = tables["folklore"].set_index("claim").loc["grid_wastes_budget"]
    # regret 0 or 1/6 of the span... the mean difference is 0 with an interval around it
    assert claim.low < 0 < claim.high and claim.verdict == INCONCLUSIVE


@pytest.fixture(scope="module")
def unequal() -> dict[str, pd.DataFrame]:
    """grid runs 2 of its 3 trials; hb 9 partial trials (a third of a fit each, the last
    full), 3x random's compute; 6 instances."""
    runs = {}
    for fold in range(6):
        runs[("random", "d", fold)] = (CLIMB, 0.5, 0.80 + 0.01 * fold, 0.5)
        runs[("grid", "d", fold)] = ([0.6, 0.7], 0.5, 0.79 + 0.01 * fold, 0.5)
        runs[("hb", "d", fold)] = ([0.6] * 8 + [0.8], 0.5, 0.81 + 0.01 * fold, 0.5)
    fidelity = {("hb", "d", fold): [1 / 3] * 8 + [1.0] for fold in range(6)}
    return aggregate(make_records(runs, fidelity=fidelity), SETTINGS)


def test_unequal_budgets_are_flagged_with_trials_and_compute(unequal):
    obeys_rule(unequal)
    used = unequal["equal_budget"].set_index("strategy")
    assert used.loc["grid", "trials_used"] == 2
    assert used.loc["grid", "flag"] == "ran 2 of 3 trials"
    assert used.loc["hb", "compute_ratio"] == pytest.approx(3.0)  # 9 x 0.75 s over 3 x 0.75 s
    assert used.loc["hb", "flag"] == (
        "ran 9 partial trials (3.67 full-evaluation equivalents); 3x random's fit + score seconds"
    )
    assert used.loc["random", "flag"] == ""
    # optimiser seconds (0.1 k for trial k) are shown beside fit + score
    assert used.loc["random", "optimiser_seconds"] == pytest.approx(0.6)
    decision = unequal["decision"].set_index("strategy")
    assert decision.loc["grid", "flag"] == "ran 2 of 3 trials"
    assert decision.loc["hb", "trials_used"] == 9
    ranks = unequal["ranks"].set_index("strategy")
    assert ranks.loc["grid", "flag"] == "ran 2 of 3 trials"
    sentence = unequal["recommendation"].iloc[0].sentence
    assert "Budgets not equal: grid ran 2 of 3 trials; hb ran 9 partial trials" in sentence


def test_the_wilcoxon_floor_of_5_nonzero_pairs():
    assert smallest_p(5) == pytest.approx(2 / 2**5)  # 0.0625: never below 0.05
    assert smallest_p(6) == pytest.approx(2 / 2**6) and p_floor(6, 2) == pytest.approx(0.0625)
    # A beats random by 0.05 on 5 of 9 instances and ties on the other 4
    tables = sweep({"A": [0.85] * 5 + [0.8] * 4, "random": [0.8] * 9})
    obeys_rule(tables)
    assert row(tables["versus_baseline"], strategy="A").p_value == pytest.approx(0.0625)
    power = row(tables["power"], strategy="A")
    assert (power.nonzero, power.p_floor, power.can_reach_alpha) == (5, 0.0625, False)
    decision = row(tables["decision"], strategy="A")
    # the interval lies above the ROPE, yet the test run could not have decided
    assert decision.low > SETTINGS.rope and not decision.decidable
    assert decision.verdict == INCONCLUSIVE
    sentence = tables["recommendation"].iloc[0].sentence
    assert "9 instances (5 with a non-zero difference) cannot separate A from random" in sentence
    assert "cannot decide anything" in sentence
