"""A study interrupted at any point and run again ends with the tables of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.engine.clocks import Simulated
from harness.engine.folds import AFTER_VARIABLE
from harness.engine.objective import Budget, Objective
from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.store.records import StudyRecords
from tests.helpers import (
    ROOT,
    compose_config,
    misbehaving_study,
    run_cli,
    stored_studies,
    untimed,
)

STUDY = ("budget.n_trials=4", "protocol.outer_folds=3")


def assert_same_results(got: tuple, expected: tuple) -> None:
    for ours, theirs in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(untimed(ours), untimed(theirs))


def _crash_copy(source: Path, target: Path, trials: int, folds: int, cut: str = "") -> None:
    """The records a run killed mid-trial leaves: the first journal lines, maybe half a line."""
    target.mkdir()
    lines = (source / "trials.jsonl").read_text().splitlines(keepends=True)
    (target / "trials.jsonl").write_text("".join(lines[:trials]) + cut)
    fold_lines = (source / "folds.jsonl").read_text().splitlines(keepends=True)
    (target / "folds.jsonl").write_text("".join(fold_lines[:folds]))
    meta = json.loads((source / "study.json").read_text()) | {"status": "running"}
    (target / "study.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The study run once, whole: its Study, its folder and its tables."""
    study, home = prepare(compose_config(*STUDY)), tmp_path_factory.mktemp("whole")
    return study, home, run(study, home)


def test_an_interrupted_fold_replays_its_journal_and_redoes_only_the_trial_in_flight(
    tmp_path, uninterrupted
) -> None:
    study, home, whole = uninterrupted
    # Killed while writing fold 1's third trial: fold 0 done, two trials of fold 1 journaled.
    cut = (home / "trials.jsonl").read_text().splitlines()[6][:40]
    _crash_copy(home, tmp_path / "crashed", trials=6, folds=1, cut=cut)

    resumed = run(study, tmp_path / "crashed")

    assert_same_results(resumed, whole)
    # Journaled trials keep their recorded timings (not re-evaluated); the one in flight is redone.
    recorded, again = whole[0]["eval_seconds"], resumed[0]["eval_seconds"]
    assert (again[:6] == recorded[:6]).all()
    assert again[6] != recorded[6]
    journal = StudyRecords(tmp_path / "crashed", study.key).trials.read()
    assert len(journal) == len(whole[0]) == 12  # no lost or duplicated rows


def test_a_strategy_that_goes_another_way_after_a_crash_gets_fresh_trials(
    tmp_path, uninterrupted
) -> None:
    study, home, whole = uninterrupted
    _crash_copy(home, tmp_path / "crashed", trials=6, folds=1)
    journal = StudyRecords(tmp_path / "crashed", study.key).trials
    records = journal.read()
    records[5]["params"]["C"] = 123.0  # fold 1, trial 1: not what the strategy proposes
    journal.path.write_text("".join(json.dumps(r) + "\n" for r in records))

    resumed = run(study, tmp_path / "crashed")

    assert_same_results(resumed, whole)
    assert len(journal.read()) == 12
    assert resumed[0]["eval_seconds"][4] == whole[0]["eval_seconds"][4]
    assert resumed[0]["eval_seconds"][5] != whole[0]["eval_seconds"][5]


def test_a_finished_study_is_read_back_and_retry_redoes_only_the_asked_statuses(tmp_path) -> None:
    # A model that raises when asked: with this seed outer fold 0's two trials are fine and
    # folds 1 and 2 each hold a failure (asserted), so a retry must redo 1 and 2, never 0.
    space = {"behaviour": {"type": "categorical", "choices": ["fine", "raise"]},
             "seconds": {"type": "float", "low": 0.1, "high": 0.2}}  # fmt: skip
    failing = ("budget.n_trials=2", "protocol.outer_folds=3", "seed=5")
    first = run(misbehaving_study("random", space, *failing), tmp_path)
    failed = first[0].groupby("outer_fold")["status"].apply(lambda s: (s == "failed").any())
    assert failed.to_dict() == {0: False, 1: True, 2: True}

    again = run(
        misbehaving_study("random", space, *failing, "run.retry=[timeout,memory]"), tmp_path
    )
    pd.testing.assert_frame_equal(again[0], first[0])  # read back, timings and all
    pd.testing.assert_frame_equal(again[1], first[1])

    retried = run(misbehaving_study("random", space, *failing, "run.retry=failed"), tmp_path)
    assert_same_results(retried, first)
    for fold, trials in retried[0].groupby("outer_fold"):
        before = first[0].loc[first[0]["outer_fold"] == fold, "eval_seconds"].to_numpy()
        if failed[fold]:  # redone from scratch: every trial evaluated again
            assert (trials["eval_seconds"].to_numpy() != before).all(), fold
        else:  # kept as recorded: every trial's timing as it was
            assert (trials["eval_seconds"].to_numpy() == before).all(), fold


def test_retry_names_known_statuses() -> None:
    with pytest.raises(UsageError, match=r"run.retry has \['crashed'\]"):
        prepare(compose_config("run.retry=[crashed]"))


def _cli_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def _tables(cwd: Path) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    homes = stored_studies(cwd / "results" / "studies")
    return {home.name: StudyRecords(home).read_tables() for home in homes}


@pytest.mark.slow  # two sweeps in subprocesses
def test_sigkill_mid_sweep_then_the_same_command_gives_the_uninterrupted_tables(tmp_path) -> None:
    sweep = ("-m", "strategy=grid,random", "budget.n_trials=8", "protocol.outer_folds=3",
             "~hydra.callbacks.report")  # fmt: skip
    (tmp_path / "whole").mkdir()
    (tmp_path / "crashed").mkdir()
    done = run_cli(*sweep, cwd=tmp_path / "whole")
    assert done.returncode == 0, done.stderr
    _assert_a_study_per_core_with_blas_capped(done, tmp_path / "whole")

    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *sweep],
        cwd=tmp_path / "crashed",
        env=_cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    journals = tmp_path / "crashed" / "results" / "studies"
    while sum(len(p.read_bytes().splitlines()) for p in journals.glob("*/trials.jsonl")) < 6:
        assert process.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the whole sweep: launcher, workers, everything
    process.wait()
    states = [json.loads(p.read_text())["status"] for p in journals.glob("*/study.json")]
    assert "finished" not in states or len(states) < 2

    rerun = run_cli(*sweep, cwd=tmp_path / "crashed")
    assert rerun.returncode == 0, rerun.stderr

    whole, resumed = _tables(tmp_path / "whole"), _tables(tmp_path / "crashed")
    assert list(resumed) == list(whole) and len(whole) == 2
    for key in whole:
        assert_same_results(resumed[key], whole[key])  # same rows: none lost, none twice


def in_proposal_order(tables: tuple) -> tuple:
    """With k workers results are told (and journaled) as they end, which depends on how long
    each took: compare trials in the order they were proposed, without what the telling order
    decides (the budget spent when each was told)."""
    trials, folds = tables
    trials = trials.sort_values(["repeat", "outer_fold", "trial"]).drop(columns="full_evaluations")
    return trials, folds


def test_k_workers_replay_in_the_order_results_were_told(tmp_path) -> None:
    """Simulated clock, fixed virtual seconds: a resumed search tells the journaled results in
    their recorded order, so an adaptive strategy proposes what it proposed before the crash."""
    from tests.test_conformance import _fixed_seconds
    from tests.test_native import _adapter_trials, _inner

    def search(replay: list[dict], evaluated: list[dict]) -> list[dict]:
        budget = Budget(9, workers=4, clock="simulated")
        inner = _inner()

        def evaluate(params, fidelity=None):
            evaluated.append(params)
            return inner.evaluate(params, fidelity)

        told: list[dict] = []
        objective = Objective(
            inner, budget, told.append, evaluate=evaluate, replay=replay,
            clock=Simulated(4, _fixed_seconds),
        )  # fmt: skip
        _adapter_trials("strategy=tpe_cl", "strategy.adapter.sampler.n_startup_trials=3",
                        objective=objective)  # fmt: skip
        return objective.trials

    whole = search([], [])
    assert [t["trial"] for t in whole] != sorted(t["trial"] for t in whole)  # told out of order
    evaluated: list[dict] = []
    resumed = search(whole[:5], evaluated)  # killed once five results were journaled
    assert [t["params"] for t in resumed] == [t["params"] for t in whole]
    assert [(t["worker"], t["start"], t["end"]) for t in resumed] == [
        (t["worker"], t["start"], t["end"]) for t in whole
    ]
    assert len(evaluated) == 9 - 5  # the journaled ones were not evaluated again


@pytest.mark.parametrize(
    ("clock", "study", "kill_after", "rows"),
    [
        ("simulated", ("budget.workers=4", "budget.n_trials=8", "protocol.outer_folds=3"), 11, 24),
        # the study process killed; its worker processes die with it
        ("real", ("budget.workers=2", "budget.n_trials=6", "protocol.outer_folds=2"), 8, 12),
    ],
)
@pytest.mark.slow  # studies in subprocesses
def test_sigkill_during_a_k_worker_study_then_the_same_command_gives_its_tables(
    tmp_path, clock, study, kill_after, rows
) -> None:
    study = ("strategy=random", f"budget.clock={clock}", *study)
    for name in ("whole", "crashed"):
        (tmp_path / name).mkdir()
    done = run_cli(*study, cwd=tmp_path / "whole")
    assert done.returncode == 0, done.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *study], cwd=tmp_path / "crashed", env=_cli_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    store = tmp_path / "crashed" / "results" / "studies"
    while sum(len(p.read_bytes().splitlines()) for p in store.glob("*/trials.jsonl")) < kill_after:
        assert process.poll() is None, "the study ended before it could be killed"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    rerun = run_cli(*study, cwd=tmp_path / "crashed")
    assert rerun.returncode == 0, rerun.stderr
    whole, resumed = _tables(tmp_path / "whole"), _tables(tmp_path / "crashed")
    assert list(resumed) == list(whole) and len(whole) == 1
    for key in whole:
        assert len(resumed[key][0]) == rows  # no row lost, none twice
        assert_same_results(in_proposal_order(resumed[key]), in_proposal_order(whole[key]))


def _processes_in(cwd: Path) -> list[str]:
    """Command lines of the processes running in `cwd` (a study's and all it started)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "cwd").resolve() == cwd.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_sigkill_while_outer_folds_run_at_once_then_the_same_command_gives_its_tables(
    tmp_path,
) -> None:
    """The default single run: folds in helper processes, whose trials the study's process
    journals as they arrive. A kill -9 takes the helpers with it and loses only what was in
    flight."""
    study = ("strategy=tpe", "budget.n_trials=6", "protocol.outer_folds=3")
    at_once = {AFTER_VARIABLE: "0"}  # helpers at once: this tiny study would not wait for them
    for name in ("whole", "crashed"):
        (tmp_path / name).mkdir()
    done = run_cli(*study, cwd=tmp_path / "whole", env=at_once)
    assert done.returncode == 0, done.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *study], cwd=tmp_path / "crashed",
        env=_cli_env() | at_once, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    journal = tmp_path / "crashed" / "results" / "studies"
    while sum(len(p.read_bytes().splitlines()) for p in journal.glob("*/trials.jsonl")) < 8:
        assert process.poll() is None, "the study ended before it could be killed"
        time.sleep(0.01)
    assert any("harness.engine.folds" in p for p in _processes_in(tmp_path / "crashed"))
    os.killpg(process.pid, signal.SIGKILL)  # the study's group: its helpers are not in it
    process.wait()
    time.sleep(1.0)
    assert _processes_in(tmp_path / "crashed") == []  # the helpers died with the study
    assert "Traceback" not in process.stderr.read().decode()

    rerun = run_cli(*study, cwd=tmp_path / "crashed", env=at_once)
    assert rerun.returncode == 0, rerun.stderr
    whole, resumed = _tables(tmp_path / "whole"), _tables(tmp_path / "crashed")
    assert list(resumed) == list(whole) and len(whole) == 1
    for key in whole:
        assert len(resumed[key][0]) == 18  # no row lost, none twice
        assert_same_results(resumed[key], whole[key])


def test_a_study_folder_holding_another_study_is_refused(uninterrupted) -> None:
    _, home, _ = uninterrupted
    with pytest.raises(UsageError, match=r"holds study \w+, not "):
        run(prepare(compose_config(*STUDY, "seed=1")), home)


def _assert_a_study_per_core_with_blas_capped(done: subprocess.CompletedProcess, cwd: Path) -> None:
    """The default launcher (joblib) runs a study per core, BLAS capped at 1 thread, on record."""
    cores = len(os.sched_getaffinity(0))
    for home in stored_studies(cwd / "results" / "studies"):
        parallel = StudyRecords(home).read_meta()["parallel"]
        assert parallel["launcher"] == "joblib"
        assert parallel["studies_at_once"] == cores
        assert parallel["blas_threads"] == parallel["blas_threads_in_force"] == 1
    assert "\r" not in done.stderr and "trial/s" not in done.stderr  # no bars off a terminal
    links = list((cwd / "results" / "multirun").glob("*/*/*/study"))
    assert len(links) == 2 and all((link / "study.json").exists() for link in links)
