"""Sweeps: launchers, one results tree shared by many processes, parallelism on record, progress."""

from __future__ import annotations

import ast
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.types import RunMode
from omegaconf import OmegaConf

from harness.engine.folds import AFTER_VARIABLE
from harness.engine.parallel import plan
from harness.engine.progress import sweep_size
from harness.errors import UsageError
from harness.problem.declared import declared
from harness.store.records import StudyRecords
from tests.helpers import ROOT, run_cli, stored_studies, untimed

TINY = ("budget.n_trials=3", "protocol.outer_folds=2")
NO_REPORT = "~hydra.callbacks.report"  # the end-of-sweep report is not under test here


def _studies(cwd: Path) -> dict[str, StudyRecords]:
    return {p.name: StudyRecords(p) for p in stored_studies(cwd / "results" / "studies")}


@pytest.mark.slow  # sweeps in subprocesses
def test_two_processes_sharing_one_results_tree_lose_and_duplicate_nothing(tmp_path) -> None:
    # The same studies, started in opposite orders: each process meets the other's finished
    # and running studies.
    sweeps = ["strategy=grid,random", "strategy=random,grid"]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    commands = [
        [sys.executable, "-m", "harness", "-m", sweep, *TINY, "hydra.launcher.n_jobs=1", NO_REPORT]
        for sweep in sweeps
    ]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = [subprocess.Popen(c, cwd=tmp_path, env=env, **pipes) for c in commands]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]

    studies = _studies(tmp_path)
    assert len(studies) == 2
    for records in studies.values():
        assert records.read_meta()["status"] == "finished"
        trials, folds = records.read_tables()
        assert len(trials) == len(records.trials.read()) == 6
        assert not trials.duplicated(["repeat", "outer_fold", "trial"]).any()
        assert len(folds) == len(records.folds.read()) == 2
    for out, _ in outputs:  # each process reports both studies, wherever they ran
        assert set(re.findall(r"results: (\S+)", out)) == {f"results/studies/{k}" for k in studies}


@pytest.mark.slow  # sweeps in subprocesses
def test_submitit_local_launcher_runs_a_two_study_sweep(tmp_path) -> None:
    done = run_cli("-m", "hydra/launcher=submitit_local", "strategy=grid,random", *TINY,
                   NO_REPORT, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    studies = _studies(tmp_path)
    assert len(studies) == 2
    for records in studies.values():
        meta = records.read_meta()
        assert meta["status"] == "finished"
        assert meta["parallel"]["launcher"] == "submitit_local"
        assert len(records.read_tables()[0]) == 6
    assert list((tmp_path / "results" / "multirun").glob("*/*/.submitit/*/*_result.pkl"))


def _hydra(mode: RunMode, launcher: str, **options) -> OmegaConf:
    return OmegaConf.create(
        {"mode": mode, "runtime": {"choices": {"hydra/launcher": launcher}}, "launcher": options}
    )


def test_parallelism_plan_never_oversubscribes_and_always_uses_one_blas_thread() -> None:
    cores = len(os.sched_getaffinity(0))
    single = plan(_hydra(RunMode.RUN, "joblib", n_jobs=-1), None)
    assert (single.studies_at_once, single.inner_n_jobs, single.blas_threads) == (1, 1, 1)
    inner = plan(_hydra(RunMode.RUN, "joblib", n_jobs=-1), -1)
    assert inner.inner_n_jobs == cores and inner.blas_threads == 1
    sweep = plan(_hydra(RunMode.MULTIRUN, "joblib", n_jobs=-1), None)
    assert sweep.studies_at_once == cores and sweep.blas_threads == 1
    slurm = plan(_hydra(RunMode.MULTIRUN, "slurm", cpus_per_task=8), 2)
    assert (slurm.cpus, slurm.studies_at_once, slurm.blas_threads) == (8, 1, 1)
    ray = plan(_hydra(RunMode.MULTIRUN, "ray", cpus_per_task=1), None)
    assert (ray.cpus, ray.studies_at_once, ray.blas_threads) == (1, 1, 1)
    with pytest.raises(UsageError, match="would oversubscribe"):
        plan(_hydra(RunMode.MULTIRUN, "joblib", n_jobs=cores), 2)


def test_a_single_run_runs_outer_folds_at_once_unless_told_or_swept() -> None:
    cores = len(os.sched_getaffinity(0))
    single = _hydra(RunMode.RUN, "joblib", n_jobs=-1)
    assert plan(single, None, folds=5).outer_folds_at_once == min(cores, 5)
    assert plan(single, None, folds=15).outer_folds_at_once == cores  # a fold per core
    assert plan(single, None, folds=1).outer_folds_at_once == 1
    # An explicit protocol.n_jobs wins (1: the one core of earlier versions); trials in worker
    # processes (k real workers, per-trial limits) use the cores already; a sweep's studies too.
    for n_jobs in (1, 2, -1):
        assert plan(single, n_jobs, folds=5).outer_folds_at_once == 1
    assert plan(single, None, folds=5, in_workers=True).outer_folds_at_once == 1
    sweep = plan(_hydra(RunMode.MULTIRUN, "joblib", n_jobs=-1), None, folds=5)
    assert (sweep.outer_folds_at_once, sweep.inner_n_jobs) == (1, 1)


def _imports_ray(module: str, seen: set[str]) -> bool:
    """Whether adapter `module` imports Ray, itself or through another adapter module."""
    seen.add(module)
    for node in ast.walk(ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.split(".")[0] == "ray":
                return True
            if name.startswith("adapters.") and name not in seen and _imports_ray(name, seen):
                return True
    return False


def test_every_strategy_running_ray_declares_its_own_workers() -> None:
    """Ray Tune's workers take the cores: its studies run one fold at a time, because the
    adapter class says `own_workers = True` (read without importing it); a new Ray adapter
    that forgets it is caught here, and no other strategy gives up folds at once."""
    ray, other = [], []
    for path in sorted((ROOT / "conf" / "strategy").glob("*.yaml")):
        target = OmegaConf.load(path).get("adapter", {}).get("_target_")
        if target:
            module = target.rpartition(".")[0]
            owns = declared(target, "own_workers", False)
            (ray if _imports_ray(module, set()) else other).append((path.stem, owns))
    assert len(ray) >= 3 and all(owns for _, owns in ray), ray
    assert not any(owns for _, owns in other), other


WAYS_TO_RUN = {
    "single run on one core": ["protocol.n_jobs=1"],
    "single run, outer folds at once (its default)": [],
    "a study at a time": ["-m", "hydra.launcher.n_jobs=1"],
    "a study per core": ["-m"],
    "inner CV on 2 processes": ["-m", "hydra.launcher.n_jobs=1", "protocol.n_jobs=2"],
}


@pytest.mark.slow  # sweeps in subprocesses
def test_the_same_study_gives_the_same_trials_however_it_is_run(tmp_path) -> None:
    # skopt_gp's Gaussian process is the most thread-sensitive step: its proposals differed at
    # 1e-9 between 1 and 2 BLAS threads before every process was held to one.
    study = ["strategy=skopt_gp", "budget.n_trials=12", "protocol.outer_folds=2", NO_REPORT]
    tables = {}
    for way, how in WAYS_TO_RUN.items():
        cwd = tmp_path / str(len(tables))
        cwd.mkdir()
        done = run_cli(*how, *study, cwd=cwd, env={AFTER_VARIABLE: "0"})  # helpers at once
        assert done.returncode == 0, done.stderr
        (records,) = _studies(cwd).values()
        parallel = records.read_meta()["parallel"]
        assert parallel["blas_threads_in_force"] == 1
        folds_at_once = min(2, len(os.sched_getaffinity(0))) if how == [] else 1
        assert parallel["outer_folds_at_once"] == folds_at_once
        tables[way] = untimed(records.read_tables()[0])
    first, *others = tables.values()
    for other in others:
        pd.testing.assert_frame_equal(first, other, check_exact=True)


def test_a_terminal_gets_a_live_progress_bar(tmp_path) -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *TINY], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    while chunk := _read(controller):
        shown += chunk
    assert process.wait(timeout=120) == 0
    text = shown.decode(errors="replace")
    assert "random breast_cancer/logreg" in text
    assert "6/6" in text and "best=0." in text and "<00:00" in text  # done, best, ETA


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the other side closed
        return b""


def test_a_sweep_run_again_into_its_folder_counts_its_jobs_afresh(tmp_path) -> None:
    # a resume re-runs every job (each reads its finished studies): it once said "4/2"
    sweep = ["-m", "seed=0,1", *TINY, f"hydra.sweep.dir={tmp_path / 'sweep'}", NO_REPORT]
    for _ in range(2):
        done = run_cli(*sweep, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        counts = re.findall(r"(\d+)/(\d+) jobs done", done.stderr)
        assert sorted(counts) == [("1", "2"), ("2", "2")], counts


def test_sweep_progress_counts_the_jobs_hydras_sweeper_makes() -> None:
    task = ["strategy=grid,random", "seed=0,1,2", "budget.n_trials=3"]
    sweep = {"overrides": {"task": task}, "sweeper": {"params": {"model": "logreg,svc"}}}
    assert sweep_size(OmegaConf.create({"hydra": sweep})) == 12
    sweep["sweeper"]["params"]["seed"] = "0,1,2,3,4"  # the command line wins
    assert sweep_size(OmegaConf.create({"hydra": sweep})) == 12
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):  # glob(...) needs Hydra
        sweep["overrides"]["task"] = ["strategy=glob(*)"]
        assert sweep_size(OmegaConf.create({"hydra": sweep})) == 10 * len(
            list((ROOT / "conf" / "strategy").glob("*.yaml"))
        )
    alone = {"overrides": {"task": []}, "sweeper": {}}
    assert sweep_size(OmegaConf.create({"hydra": alone})) == 1


def test_slurm_launcher_config_composes_onto_submitits_slurm_launcher() -> None:
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", ["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.cpus_per_task, launcher.max_num_timeout) == (4, 3)
