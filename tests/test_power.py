"""Power of the Friedman test the report runs (harness.aggregate.friedman_power), on cases
whose answer is known: its floor from the chi-square law, a clear shift on 30 instances,
the test's size under the simulated null, and strategies that always tie."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from harness.aggregate.friedman_power import (
    centred,
    detectable_difference,
    friedman_power_table,
    needed_instances,
    sentence,
    simulated_power,
    smallest_p,
)
from harness.aggregate.power import MAX_INSTANCES
from tests.test_aggregate import SETTINGS, row
from tests.test_verdicts import sweep

FEW = 100  # simulated sweeps per power estimate: enough for these margins, and fast


def shifted(instances: int, shift: float, seed: int = 1) -> np.ndarray:
    """instances x 3 scores: a common instance effect, noise of sd 0.01 per strategy, and
    the first strategy `shift` higher."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.8, 0.03, (instances, 1)) + rng.normal(0, 0.01, (instances, 3))
    scores[:, 0] += shift
    return scores


def test_the_friedman_floor_follows_the_chi_square_law():
    # every instance ranking k strategies alike gives the statistic n (k - 1), df k - 1;
    # with 2 df the chi-square survival function is exp(-x / 2)
    assert smallest_p(2, 3) == pytest.approx(math.exp(-2))  # 0.135: 2 instances never reach 0.05
    assert smallest_p(3, 3) == pytest.approx(math.exp(-3))  # 0.0498: 3 instances just can
    assert smallest_p(2, 4) == pytest.approx(chi2.sf(6, 3))  # 0.112
    matrices = {"3 trials": pd.DataFrame(shifted(2, 0.05), columns=["A", "B", "random"])}
    table = friedman_power_table(matrices, SETTINGS, simulations=FEW).iloc[0]
    assert table.p_floor == pytest.approx(math.exp(-2)) and not table.can_reach_alpha
    assert table.detectable == math.inf  # no shift can be significant on 2 instances


def test_the_simulated_null_rejects_at_about_alpha():
    """Strategies exchanged within each instance: no strategy better, so the share of
    simulated sweeps the test calls significant is its size, near alpha."""
    scores = centred(shifted(30, 0.05))
    size = simulated_power(scores, 0.0, 30, 0.05, np.random.default_rng(0), simulations=400)
    assert 0.01 < size < 0.1


def test_a_clear_shift_on_30_instances_is_detectable():
    scores = shifted(30, 0.05)
    detectable = detectable_difference(scores, 0.05, seed=0, simulations=FEW)
    assert 0 < detectable < 0.05
    assert needed_instances(scores, 0.05, 0.05, seed=0, simulations=FEW) <= 30
    # a shift of half the noise needs more instances than a shift of five times it
    assert needed_instances(scores, 0.005, 0.05, seed=0, simulations=FEW) > 30


def test_strategies_that_always_tie_need_more_than_the_cap():
    same = np.tile(np.linspace(0.7, 0.9, 9)[:, None], (1, 3))  # 3 strategies tie on 9 instances
    assert needed_instances(same, 0.01, 0.05, seed=0, simulations=FEW) == math.inf
    assert detectable_difference(same, 0.05, seed=0, simulations=FEW) == math.inf
    assert MAX_INSTANCES == 500  # the cap the inf stands for


def test_the_report_shows_friedman_power_beside_its_result():
    scores = shifted(30, 0.05)
    tables = sweep({name: list(scores[:, i]) for i, name in enumerate(["A", "B", "random"])})
    test = row(tables["friedman"], budget="3 trials")
    assert test.p_value < 0.05 and test.instances == 30 and test.strategies == 3
    assert test.p_floor == pytest.approx(chi2.sf(60, 2)) and test.can_reach_alpha
    assert 0 < test.detectable < 0.05 and test.needed_instances <= 30
    assert test.detect == SETTINGS.detect and "Friedman" in test.method


def test_centring_takes_out_each_strategys_effect_and_keeps_ties():
    scores = shifted(30, 0.05)
    free = centred(scores)  # no ties: every strategy's mean is the grand mean
    assert free.mean(axis=0) == pytest.approx([scores.mean()] * 3)
    # column means 2, 2.5, 3.5, grand mean 8/3; the tie on the first instance stays a tie
    tied = centred(np.array([[1.0, 1.0, 2.0], [3.0, 4.0, 5.0]]))
    assert tied[0] == pytest.approx([17 / 12, 17 / 12, 7 / 6])
    assert tied[1] == pytest.approx([11 / 3, 25 / 6, 25 / 6])


def test_two_instances_say_the_friedman_test_cannot_be_significant():
    tables = sweep({"A": [0.9, 0.8], "B": [0.85, 0.75], "random": [0.8, 0.7]})
    test = row(tables["friedman"], budget="3 trials")
    assert test.p_value == pytest.approx(math.exp(-2))  # the floor, reached: all rank alike
    assert sentence(test, 0.05) == (
        "3 trials: Friedman over 3 strategies and 2 instances cannot be significant: the "
        "smallest p they can give is 0.135, not below 0.05"
    )
