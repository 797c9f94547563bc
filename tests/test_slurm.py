"""Sweeps through a real Slurm controller (scripts/local-slurm.sh start): sbatch, sacct, requeue.

Skipped when no controller answers; in CI (where .ci/run starts one) that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store.records import StudyRecords
from tests.helpers import ROOT, run_cli, stored_studies
from tests.test_resume import assert_same_results

pytestmark = [pytest.mark.alone, pytest.mark.slow]  # the local Slurm cluster has the cores

TINY = ("budget.n_trials=3", "protocol.outer_folds=2")
LONG = ("strategy=random", "budget.n_trials=20", "protocol.outer_folds=2")  # ~10 s on 1 core
SMALL_JOB = ("hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1")


@pytest.fixture(scope="module")
def partition() -> str:
    """The default partition of the Slurm controller this machine reaches."""
    problem = _controller_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; .ci/run starts one with scripts/local-slurm.sh start")
        pytest.skip(f"{problem} (start one: sudo scripts/local-slurm.sh start)")
    partitions = _slurm("sinfo", "-h", "-o", "%P").split()
    return next((p.rstrip("*") for p in partitions if p.endswith("*")), partitions[0])


def _controller_problem() -> str | None:
    if not shutil.which("sbatch"):
        return "no Slurm client (sbatch) installed"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return "no Slurm controller answers `scontrol ping`"
    return None


def _slurm(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def _accounted(job: str, timeout: float = 60) -> list[str]:
    """Every run `sacct` recorded for a job (a requeued job has one per start), once it ended."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _slurm("sacct", "-n", "-X", "-D", "-P", "-o", "State", "-j", job).split()
        if (runs and runs[-1] == "COMPLETED") or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def _job_ids(sweep: Path) -> list[str]:
    """The Slurm job ids submitit gave the sweep's studies (array tasks: <array>_<index>)."""
    pickles = sweep.glob(".submitit/*/*_submitted.pkl")
    return sorted(p.name.removesuffix("_submitted.pkl") for p in pickles)


def _studies(cwd: Path) -> list[StudyRecords]:
    return [StudyRecords(p) for p in stored_studies(cwd / "results" / "studies")]  # not .cache


def test_a_two_study_sweep_runs_as_slurm_jobs_and_sacct_shows_them(tmp_path, partition) -> None:
    done = run_cli("-m", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}",
                   *SMALL_JOB, "strategy=grid,random", *TINY, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    studies = _studies(tmp_path)
    assert len(studies) == 2
    for records in studies:
        meta = records.read_meta()
        assert meta["status"] == "finished"
        assert meta["parallel"]["launcher"] == "slurm" and meta["parallel"]["cpus"] == 1
        assert len(records.read_tables()[0]) == 6
    (sweep,) = (tmp_path / "results" / "multirun").glob("*/*")
    assert (sweep / "report" / "report.html").is_file()
    jobs = _job_ids(sweep)
    assert len(jobs) == 2
    assert [_accounted(job) for job in jobs] == [["COMPLETED"], ["COMPLETED"]]


def test_a_job_requeued_mid_study_resumes_from_its_journal(tmp_path, partition) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    harness = [sys.executable, "-m", "harness"]
    whole = subprocess.Popen(  # the same study, uninterrupted, beside the Slurm job
        [*harness, *LONG, "run.store=whole"], cwd=tmp_path, env=env, **pipes
    )
    sweep = subprocess.Popen(
        [*harness, "-m", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}",
         *SMALL_JOB, *LONG, "run.store=cut", "~hydra.callbacks.report"],
        cwd=tmp_path, env=env, **pipes,
    )  # fmt: skip
    journal = _wait_for_trials(tmp_path / "cut", at_least=5)
    before = journal.read_text().splitlines()
    (job,) = _job_ids(next((tmp_path / "results" / "multirun").glob("*/*")))
    _slurm("scontrol", "requeue", job)
    _start_now_when_pending(job)
    for process in (sweep, whole):
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err

    assert _accounted(job) == ["REQUEUED", "COMPLETED"]  # two starts: cut off, then resumed
    (cut,) = stored_studies(tmp_path / "cut")
    after = (cut / "trials.jsonl").read_text().splitlines()
    n_trials = 20 * 2
    assert len(before) < n_trials and len(after) == n_trials
    # The trials journaled before the requeue were read back, not run again (same timings).
    assert [json.loads(line) for line in after[: len(before) - 1]] == [
        json.loads(line) for line in before[:-1]
    ]
    (uncut,) = stored_studies(tmp_path / "whole")
    assert cut.name == uncut.name  # the same study key
    assert_same_results(StudyRecords(cut).read_tables(), StudyRecords(uncut).read_tables())


def _start_now_when_pending(job: str, timeout: float = 60) -> None:
    """A requeued job becomes eligible only two minutes later; make it eligible at once."""
    deadline = time.monotonic() + timeout
    while _slurm("squeue", "-h", "-o", "%T", "-j", job).strip() != "PENDING":
        assert time.monotonic() < deadline, f"job {job} was not requeued"
        time.sleep(0.2)
    _slurm("scontrol", "update", f"JobId={job}", "StartTime=now")


def _wait_for_trials(store: Path, at_least: int, timeout: float = 300) -> Path:
    """The journal of the one study under `store`, once it holds `at_least` trials."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for journal in store.glob("*/trials.jsonl"):
            if len(journal.read_text().splitlines()) >= at_least:
                return journal
        time.sleep(0.2)
    raise AssertionError(f"no study under {store} journaled {at_least} trials in {timeout} s")
