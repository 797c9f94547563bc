"""Ray Tune's population-based training (ray_pbt) in a whole study, and the refusals of the
Ray Tune strategies. Their search contract is checked by tests/test_conformance.py, random
search against Tune's own loop by tests/test_native.py. Every test here shares the session's
Ray instance (tests/conftest.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters import ray_tune  # noqa: F401 (bound before a test hides Ray)
from harness.engine.continuation import Start
from harness.store.records import StudyRecords
from tests.helpers import (
    assert_refused,
    first_inner_cv,
    need_extra,
    run_inline,
    stored_studies,
)

pytestmark = [pytest.mark.alone, pytest.mark.slow]  # Ray's workers take every core

PBT = (
    "strategy=ray_pbt", "model=mlp", "dataset=breast_cancer", "dataset.max_rows=200",
    "budget.n_trials=10", "protocol.outer_folds=2", "strategy.adapter.population_size=3",
)  # fmt: skip


@pytest.fixture(scope="module")
def pbt_study(ray_instance, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    cwd = tmp_path_factory.mktemp("pbt")
    done = run_inline(*PBT, cwd=cwd)
    assert done.returncode == 0, done.stderr
    (home,) = stored_studies(cwd / "results" / "studies")
    return StudyRecords(home).read_tables()


def _replay(inner, records: pd.DataFrame) -> tuple:
    """The models a member's records fitted, refitted here rung by rung as they say (from
    scratch, or continuing the last rung's models): (fraction reached, models)."""
    start = None
    for record in records.itertuples():
        params = json.loads(record.params)
        evaluation = inner.evaluate(params, record.fidelity, *([start] if record.continued else []))
        assert np.mean(evaluation.scores) == pytest.approx(record.inner_mean, abs=1e-12)
        start = Start(record.fidelity, evaluation.models)
    return start


def test_a_pbt_member_continues_another_members_models_with_new_hyperparameters(
    pbt_study: tuple,
) -> None:
    every, folds = pbt_study
    trials = every[every.outer_fold == 0].sort_values("trial")
    exploits = trials[trials.exploited_from.notna()]
    assert len(exploits), "PBT never exploited a member"
    # An exploit whose donor had trained on its own hyperparameters up to its checkpoint.
    for exploit in exploits.itertuples():
        donor = trials[(trials.member == exploit.exploited_from) & (trials.trial < exploit.trial)]
        if donor.exploited_from.isna().all() and exploit.member != exploit.exploited_from:
            break
    else:
        pytest.fail("no exploit of a member that trained on its own hyperparameters")
    step = trials.fidelity.min()
    checkpoint = donor[np.isclose(donor.fidelity, exploit.fidelity - step)].iloc[-1]
    changed = json.loads(exploit.params)
    assert changed != json.loads(checkpoint.params)  # PBT perturbed the donor's hyperparameters
    assert exploit.continued  # and paid only the step it trained
    # The record's score is that of the donor's models, trained on with the new hyperparameters.
    inner = first_inner_cv(*PBT)
    chain = donor[donor.trial <= checkpoint.trial]
    start = _replay(inner, chain[chain.fidelity <= checkpoint.fidelity + 1e-9])
    models = tuple(model.set_params(**changed) for model in start.models)
    evaluation = inner.evaluate(changed, exploit.fidelity, Start(start.fraction, models))
    assert np.mean(evaluation.scores) == pytest.approx(exploit.inner_mean, abs=1e-12)
    # The records show each member's schedule of hyperparameters; the fold's result is scored
    # on the outer test like any strategy's, from a full-fidelity evaluation.
    assert trials.member.notna().all() and trials.member.nunique() >= 2
    assert folds.tuned_test.notna().all() and all(math.isfinite(g) for g in folds.gain)
    chosen = folds.dropna(subset=["best_trial"])
    assert len(chosen)
    for fold in chosen.itertuples():
        best = every[(every.outer_fold == fold.outer_fold) & (every.trial == fold.best_trial)]
        assert (best.fidelity == 1).all() and fold.best_inner == best.inner_mean.iloc[0]


def test_ray_pbt_refuses_a_model_that_cannot_continue_training(tmp_path: Path) -> None:
    need_extra("ray.tune", "raytune")  # without it, the missing extra is said first
    done = run_inline("strategy=ray_pbt", "model=svc", "budget.n_trials=2", cwd=tmp_path)
    message = "model svc has no step-wise training resource (a fidelity with continue: true); "
    assert_refused(
        done, message + "use a model that has one: hgb, logreg, mlp, rf_trees, sgd", tmp_path
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("strategy.adapter.population_size=1", "population_size is 1; set it to an integer >= 2"),
        ("strategy.adapter.perturbation_interval=0", "perturbation_interval is 0; set it"),
        ("strategy.adapter.quantile_fraction=0.7", "quantile_fraction is 0.7; set it"),
        ("strategy.adapter.resample_probability=2", "resample_probability is 2; set it"),
        ("strategy.adapter.perturbation_factors=[1.2,-1]", "perturbation_factors is [1.2, -1]"),
    ],
)
def test_bad_pbt_options_are_refused(override: str, message: str, tmp_path: Path) -> None:
    need_extra("ray.tune", "raytune")
    done = run_inline("strategy=ray_pbt", "model=mlp", override, "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("strategy.adapter.brackets=0", "brackets is 0; set it to an integer >= 1"),
        ("strategy.adapter.reduction_factor=1", "reduction_factor is 1; set it"),
    ],
)
def test_bad_asha_options_are_refused(override: str, message: str, tmp_path: Path) -> None:
    need_extra("ray.tune", "raytune")
    done = run_inline("strategy=ray_asha", override, "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize("strategy", ["ray_random", "ray_asha", "ray_pbt"])
def test_a_missing_ray_stops_the_study_with_its_install_command(
    strategy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    done = run_inline(f"strategy={strategy}", "model=mlp", "budget.n_trials=2", cwd=tmp_path)
    assert_refused(done, 'pip install -e ".[raytune]"', tmp_path)
