"""python -m harness.tabulate: a table is a study whose strategy is a fixed design; its trials
hold each configuration's inner scores and its outer-test score, resumable as any study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from harness.engine.asktell import SearchHandle
from harness.engine.study import prepare, run
from harness.problem.models import build_pipeline, pipeline_params
from harness.store.records import StudyRecords
from harness.tabulate import study_overrides
from tests.helpers import (
    ROOT,
    assert_refused,
    compose_config,
    first_inner_cv,
    run_inline,
    stored_studies,
    untimed,
)

SMALL = ("protocol.outer_folds=2", "protocol.inner_folds=2")


def _design(*args: str) -> list[dict]:
    """The configurations a tabulate command's design proposes, in order."""
    overrides = study_overrides(list(args))
    study = prepare(compose_config(*overrides))
    strategy = study.make_strategy(study.seed)
    defaults = first_inner_cv(*overrides).defaults
    strategy.start(SearchHandle.of(study.budget.n_trials, 1, None, defaults))
    return [proposal.params for proposal in strategy.ask(10_000)]


def test_a_grid_design_is_the_defaults_then_the_grid_strategys_grid() -> None:
    design = _design("design.kind=grid", "design.resolution=3", "design.n=17")
    study = prepare(compose_config())
    grid = list(ParameterGrid(study.space.sklearn_grid(3)))  # 6 lbfgs + 18 saga points
    defaults = {"C": 1.0, "class_weight": None, "solver": "lbfgs"}
    assert design[0] == defaults  # logreg's library defaults, by space name
    assert len(design) == 17 and all(p in grid for p in design[1:])
    assert len({str(sorted(p.items())) for p in design}) == 17  # none twice


def test_a_sobol_design_is_the_defaults_then_scipys_scrambled_sobol_points() -> None:
    design = _design("design.n=9")
    study = prepare(compose_config())
    points = qmc.Sobol(d=len(study.space), rng=0).random(8)  # seed=0: the study's
    C = study.space["C"]
    assert [p["C"] for p in design[1:]] == [C.from_unit(u) for u in points[:, 0]]
    assert design[0]["C"] == 1.0 and len(design) == 9


def test_each_trial_holds_its_inner_scores_and_its_outer_test_score(tmp_path) -> None:
    """The outer-test column against a hand-written refit: the pipeline with the trial's
    parameters fitted on the outer-training rows, scored (accuracy) on the outer test."""
    overrides = study_overrides(["design.n=4", *SMALL, f"run.store={tmp_path}"])
    study = prepare(compose_config(*overrides))
    trials, folds = run(study, study.home)
    assert len(trials) == 8 and trials["outer_test"].notna().all()
    X, y = study.dataset.X, study.dataset.y
    for split in study.protocol.outer_splits(X, y, "classification", study.seed):
        fold = trials[trials["outer_fold"] == split.fold]
        assert fold["params"].tolist() == trials[trials["outer_fold"] == 0]["params"].tolist()
        for params, outer_test in zip(fold["params"], fold["outer_test"], strict=True):
            chosen = pipeline_params(json.loads(params))  # stored as JSON text
            pipeline = clone(build_pipeline(study.model)).set_params(**chosen)
            pipeline.fit(X.iloc[split.train], y.iloc[split.train])
            assert outer_test == pipeline.score(X.iloc[split.test], y.iloc[split.test])
        assert all(len(scores) == 2 for scores in fold["inner_scores"])
        assert np.allclose(fold["inner_scores"].map(np.mean), fold["inner_mean"])
        # the fold's defaults and chosen configuration are the table's own rows
        record = folds[folds["outer_fold"] == split.fold].iloc[0]
        assert record["default_test"] == fold.iloc[0]["outer_test"]  # trial 0: the defaults
        best = fold[fold["trial"] == record["best_trial"]].iloc[0]
        assert record["tuned_test"] == best["outer_test"]


def test_a_study_of_another_strategy_has_no_outer_test_column(tmp_path) -> None:
    study = prepare(compose_config("budget.n_trials=2", *SMALL, f"run.store={tmp_path}"))
    trials, _ = run(study, study.home)
    assert not {"outer_test", "inner_scores"} & set(trials.columns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("design.n=0",), "design.n=0: a design holds a whole number >= 1 of configurations"),
        (("design.n=-3",), "design.n=-3: a design holds a whole number >= 1"),
        (("strategy=tpe",), "strategy: a table's strategy is its design"),
        (("design.size=5",), "unknown design option design.size"),
    ],
)
def test_a_bad_design_is_refused_before_anything_runs(tmp_path, args, message) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.tabulate", *args], cwd=tmp_path, capture_output=True,
        text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    assert_refused(done, message, tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("design.kind=lhs",), "strategy design: design kind 'lhs' is not one of grid, sobol"),
        (("design.kind=grid", "design.resolution=0"), "strategy.adapter.resolution"),
        (("design.rungs=maybe",), "strategy.adapter.rungs is 'maybe'; set it to true or false"),
    ],
)
def test_a_bad_design_option_is_refused(tmp_path, args, message) -> None:
    assert_refused(run_inline(*study_overrides(["design.n=5", *args]), cwd=tmp_path), message,
                   tmp_path)  # fmt: skip


def test_a_design_beyond_its_grid_is_refused(tmp_path) -> None:
    # logreg at resolution 2: 2 x 2 lbfgs + 2 x 2 x 2 saga points, and the defaults
    args = ["design.kind=grid", "design.resolution=2", "design.n=14"]
    assert_refused(
        run_inline(*study_overrides(args), cwd=tmp_path),
        "design.n=14 is beyond the grid: design.resolution=2 gives 13 configurations",
        tmp_path,
    )
    ok = run_inline(*study_overrides([*args[:2], "design.n=13", *SMALL]), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    # at resolution 3 the defaults (C=1) are a grid point: 6 + 18 configurations in all
    (tmp_path / "results").rename(tmp_path / "done")
    assert_refused(
        run_inline(*study_overrides(["design.kind=grid", "design.resolution=3", "design.n=25"]),
                   cwd=tmp_path),
        "design.n=25 is beyond the grid: design.resolution=3 gives 24 configurations",
        tmp_path,
    )  # fmt: skip


def _tables(cwd: Path) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    homes = stored_studies(cwd / "results" / "studies")
    return {home.name: StudyRecords(home).read_tables() for home in homes}


@pytest.mark.slow  # 200 configurations of credit-g, twice, in subprocesses
def test_sigkill_mid_table_then_the_same_command_gives_the_uninterrupted_table(
    tmp_path, openml_cache
) -> None:
    """The issue's acceptance: logreg on credit-g, 200 configurations, 2 outer folds (2 inner
    folds, the protocol's least, to keep it short); killed mid-way, the same command completes
    the table, equal to an uninterrupted run's but for its timing columns."""
    command = [sys.executable, "-m", "harness.tabulate", "dataset=credit-g", "model=logreg",
               "design.n=200", *SMALL]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "OPENML_SKIP_PARQUET": "true"}
    for name in ("whole", "crashed"):
        (tmp_path / name).mkdir()
    done = subprocess.run(command, cwd=tmp_path / "whole", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    process = subprocess.Popen(
        command, cwd=tmp_path / "crashed", env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    store = tmp_path / "crashed" / "results" / "studies"
    while sum(len(p.read_bytes().splitlines()) for p in store.glob("*/trials.jsonl")) < 150:
        assert process.poll() is None, "the table was done before it could be killed"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the study and its helper processes
    process.wait()
    rerun = subprocess.run(command, cwd=tmp_path / "crashed", env=env, capture_output=True,
                           text=True)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    whole, resumed = _tables(tmp_path / "whole"), _tables(tmp_path / "crashed")
    assert list(resumed) == list(whole) and len(whole) == 1
    for key in whole:
        trials = resumed[key][0]
        assert len(trials) == 400  # no row lost, none twice
        assert trials.groupby("outer_fold")["trial"].nunique().tolist() == [200, 200]
        for ours, theirs in zip(resumed[key], whole[key], strict=True):
            pd.testing.assert_frame_equal(untimed(ours), untimed(theirs))
