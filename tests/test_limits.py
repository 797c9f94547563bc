"""A hanging, memory-hungry or dying model is stopped and recorded; the study goes on."""

from __future__ import annotations

import json
import time

import pytest

from harness.engine.study import Study, prepare, run
from harness.errors import UsageError
from tests import helpers
from tests.helpers import compose_config
from tests.misbehaving import HANG_S

BEHAVIOURS = ["fine", "hang", "hog", "die"]  # grid order: one trial each per outer fold


def misbehaving_study(*overrides: str) -> Study:
    space = {"behaviour": {"type": "categorical", "choices": BEHAVIOURS}}
    return helpers.misbehaving_study("grid", space, *overrides)


@pytest.mark.slow  # ~30 s; test_workers' hanging trial stays in the fast set
def test_hang_hog_and_death_are_stopped_recorded_and_the_study_goes_on(tmp_path) -> None:
    # The timeout is 10 s, 200 times what a "fine" trial (a majority-class model) takes, so a
    # loaded machine cannot time it out; the hang (600 s) cannot end before it.
    study = misbehaving_study(
        "budget.n_trials=4", "budget.trial_timeout_s=10", "budget.trial_memory_mb=300"
    )
    started = time.perf_counter()
    trials, folds = run(study, tmp_path)

    assert time.perf_counter() - started < HANG_S / 4
    assert [json.loads(p)["behaviour"] for p in trials["params"]] == BEHAVIOURS * 2
    # After each kill a fresh worker serves the next trial: fold 1 starts "ok" again.
    assert list(trials["status"]) == ["ok", "timeout", "memory", "failed"] * 2
    stopped = trials[trials["status"] != "ok"]
    assert stopped["inner_mean"].isna().all()
    assert stopped["error"].str.contains("trial_timeout_s=10|trial_memory_mb=300|died").all()
    assert trials.loc[trials["status"] == "failed", "error"].str.contains("exit code 3").all()
    assert [json.loads(p) for p in folds["best_params"]] == [{"behaviour": "fine"}] * 2
    assert folds["tuned_test"].notna().all() and folds["default_inner"].notna().all()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("budget.trial_timeout_s=0", "budget.trial_timeout_s is 0; set it to seconds > 0"),
        ("budget.trial_memory_mb=-5", "budget.trial_memory_mb is -5; set it to megabytes > 0"),
        ("budget.trial_memory_mb=1.5", "budget.trial_memory_mb is 1.5"),
    ],
)
def test_bad_limits_are_refused_with_the_fix(override, message) -> None:
    with pytest.raises(UsageError, match=message):
        prepare(compose_config(override))
