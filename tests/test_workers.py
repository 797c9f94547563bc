"""k worker processes evaluate at once; a limit or a failure on one leaves the others running."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from sklearn.metrics import get_scorer

from harness.engine.clocks import Job
from harness.engine.objective import Evaluation, InnerCV, TrialStopped
from harness.engine.parallel import inner_jobs, plan
from harness.engine.study import Study, run
from harness.engine.workers import Pooled, WorkerPool
from harness.errors import UsageError
from harness.problem.data import load_dataset
from harness.problem.models import ModelSpec, build_pipeline
from harness.problem.protocol import Protocol
from harness.problem.space import SearchSpace
from tests.helpers import ROOT, compose_config, misbehaving_study
from tests.misbehaving import FIT_LOG, Misbehaving

pytestmark = pytest.mark.alone  # two worker processes must run at the same time, on both cores

SPACE = SearchSpace.from_config(
    {"behaviour": {"type": "categorical", "choices": ["fine", "slow", "hang", "hog", "die"]}},
    "tests/test_workers.py",
)


@functools.cache
def _inner() -> InnerCV:
    """Two inner folds of 60 rows of breast_cancer, for the misbehaving model."""
    dataset = load_dataset(compose_config("dataset.max_rows=60").dataset)
    X, y = dataset.X, dataset.y
    splits = list(Protocol(1, 2, 2, None).inner_splitter("classification", 0).split(X, y))
    model = ModelSpec("misbehaving", "classification", Misbehaving(), SPACE, scale=False)
    return InnerCV(build_pipeline(model), X, y, splits, get_scorer("accuracy"))


def _all(pool: WorkerPool) -> dict[object, tuple[int, object, float]]:
    """Wait for every running submission: token -> (worker, outcome, when it came back)."""
    done = {}
    while pool.running():
        for worker, token, outcome in pool.wait():
            done[token] = (worker, outcome, time.monotonic())
    return done


def test_two_workers_evaluate_at_the_same_time(tmp_path, monkeypatch) -> None:
    log = tmp_path / "fits.log"
    monkeypatch.setenv(FIT_LOG, str(log))  # the workers inherit it
    with WorkerPool(2) as pool:  # no limits: still a process per worker
        pool.bind(_inner().evaluate)
        assert pool.idle() == [0, 1]
        started = {}
        for worker, token in enumerate("ab"):
            started[token] = time.monotonic()
            pool.submit(worker, token, {"behaviour": "slow"})
        assert pool.idle() == []
        with pytest.raises(ValueError, match="worker 0 is not idle"):
            pool.submit(0, "c", {"behaviour": "fine"})
        done = _all(pool)
        pids = set(pool.pids())

    assert {token: worker for token, (worker, _, _) in done.items()} == {"a": 0, "b": 1}
    assert all(isinstance(outcome, Evaluation) for _, outcome, _ in done.values())
    # Measured here, as a loop measures start and end: each submission's span holds the other's
    # start; and in the workers, on the machine-wide monotonic clock, fits of the two
    # processes (neither of them this one) overlap in time.
    assert started["b"] < done["a"][2] and started["a"] < done["b"][2]
    fits = [line.split() for line in log.read_text().splitlines()]
    assert len(fits) == 4 and {int(pid) for pid, *_ in fits} == pids and os.getpid() not in pids
    first, second = ([(float(s), float(e)) for p, s, e, _ in fits if int(p) == pid] for pid in pids)
    assert any(s1 < e2 and s2 < e1 for s1, e1 in first for s2, e2 in second)
    assert {int(threads) for *_, threads in fits} == {1}  # BLAS on one thread per worker


def test_a_hanging_trial_times_out_and_restarts_while_the_other_worker_finishes() -> None:
    # 10 s: far beyond what the slow trial takes (two 0.3 s fits), however loaded the machine.
    with WorkerPool(2, timeout_s=10) as pool:
        pool.bind(_inner().evaluate)
        hung_pid = pool.pids()[0]
        pool.submit(0, "hang", {"behaviour": "hang"})
        pool.submit(1, "slow", {"behaviour": "slow"})
        assert pool.wait(timeout=0.01) == []  # neither is done yet

        [(worker, token, outcome)] = pool.wait()
        assert (worker, token, type(outcome)) == (1, "slow", Evaluation)
        assert pool.idle() == [1]

        [(worker, token, outcome)] = pool.wait()
        assert (worker, token) == (0, "hang")
        assert isinstance(outcome, TrialStopped) and outcome.status == "timeout"
        assert "budget.trial_timeout_s=10" in str(outcome)
        # The hung worker is gone; its replacement is ready and has this fold's inner CV.
        assert pool.idle() == [0, 1] and pool.starts == 3
        assert pool.pids()[0] != hung_pid and _gone(hung_pid)
        assert isinstance(pool.evaluate({"behaviour": "fine"}), Evaluation)


def test_a_memory_hog_hits_the_cap_and_the_other_worker_goes_on() -> None:
    with WorkerPool(2, memory_mb=300) as pool:
        pool.bind(_inner().evaluate)
        pool.submit(0, "hog", {"behaviour": "hog"})
        pool.submit(1, "fine", {"behaviour": "fine"})
        done = _all(pool)
    hog, fine = done["hog"][1], done["fine"][1]
    assert isinstance(hog, TrialStopped) and hog.status == "memory"
    assert "budget.trial_memory_mb=300" in str(hog)
    assert isinstance(fine, Evaluation)


def test_what_the_model_raises_or_a_dead_worker_comes_back_as_the_outcome() -> None:
    with WorkerPool(2) as pool:
        pool.bind(_inner().evaluate)
        dying_pid = pool.pids()[1]
        pool.submit(0, "raise", {"behaviour": "raise"})
        pool.submit(1, "die", {"behaviour": "die"})
        done = _all(pool)
        raised, died = done["raise"][1], done["die"][1]
        assert isinstance(raised, ValueError) and str(raised) == "a model bug"
        assert isinstance(died, RuntimeError) and "exit code 3" in str(died)
        assert pool.starts == 3 and _gone(dying_pid)
        pool.submit(1, "after", {"behaviour": "fine"})
        assert isinstance(_all(pool)["after"][1], Evaluation)
        with pytest.raises(ValueError, match="a model bug"):
            pool.evaluate({"behaviour": "raise"})


def test_close_leaves_no_process_behind() -> None:
    pool = WorkerPool(2, timeout_s=60)
    pool.bind(_inner().evaluate)
    pool.submit(0, "hang", {"behaviour": "hang"})  # one busy, one idle
    pids = pool.pids()
    pool.close()
    assert all(_gone(pid) for pid in pids)


def _gone(pid: int) -> bool:
    """No process is left in the process group `pid` led (the worker and its children)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    ("n_jobs", "workers", "cores", "expected"),
    [
        (None, 1, 2, 1),
        (-1, 1, 2, 2),  # every core for one worker
        (-1, 2, 2, 1),  # a core each for two
        (4, 1, 2, 2),  # never above the cores
        (2, 4, 2, 1),  # more workers than cores: one process each
        (3, 2, 8, 3),
    ],
)
def test_inner_jobs_keep_workers_within_the_cores(n_jobs, workers, cores, expected) -> None:
    assert inner_jobs(n_jobs, workers, cores) == expected


def _slow_study(*overrides: str) -> Study:
    """Random search over a model whose every fit sleeps 0.2-0.4 s: 2 outer x 2 inner folds."""
    space = {
        "behaviour": {"type": "categorical", "choices": ["slow"]},
        "seconds": {"type": "float", "low": 0.2, "high": 0.4},
    }
    return misbehaving_study("random", space, *overrides)


def test_a_real_clock_study_evaluates_on_two_workers_at_once(tmp_path, monkeypatch) -> None:
    log = tmp_path / "fits.log"
    monkeypatch.setenv(FIT_LOG, str(log))
    study = _slow_study("budget.n_trials=4", "budget.workers=2", "budget.clock=real")
    trials, folds = run(study, tmp_path / "study")

    assert (trials["status"] == "ok").all() and (folds["n_trials"] == 4).all()
    for _, fold in trials.groupby("outer_fold"):
        assert sorted(fold["trial"]) == [0, 1, 2, 3] and set(fold["worker"]) == {0, 1}
        spans = list(zip(fold["worker"], fold["start"], fold["end"], strict=True))
        assert any(w1 != w2 and s1 < e2 and s2 < e1 for w1, s1, e1 in spans for w2, s2, e2 in spans)
    # In the workers (not this process, which refits the best one): fits at the same time.
    fits = [line.split() for line in log.read_text().splitlines()]
    spans = [(int(pid), float(s), float(e)) for pid, s, e, _ in fits if int(pid) != os.getpid()]
    assert len({pid for pid, _, _ in spans}) == 2 and len(spans) == 16  # 8 trials x 2 folds
    assert any(p1 != p2 and s1 < e2 and s2 < e1 for p1, s1, e1 in spans for p2, s2, e2 in spans)


def _hydra(mode: RunMode, **launcher: int) -> DictConfig:
    """What parallel.plan reads of Hydra's runtime config, for the joblib launcher."""
    choices = {"hydra/launcher": "joblib"}
    return OmegaConf.create({"mode": mode, "runtime": {"choices": choices}, "launcher": launcher})


def test_real_workers_share_the_cores_with_studies_run_at_once() -> None:
    cores = len(os.sched_getaffinity(0))
    one = plan(_hydra(RunMode.RUN), -1, workers=2)
    assert (one.workers, one.inner_n_jobs) == (2, inner_jobs(-1, 2))
    with pytest.raises(UsageError, match=f"{cores} studies at once x budget.workers=2 real"):
        plan(_hydra(RunMode.MULTIRUN, n_jobs=cores), None, workers=2)


def test_the_real_clock_hands_back_replayed_trials_first_then_live_ones() -> None:
    evaluate = _inner().evaluate
    known = {"worker": 1, "start": 4.0, "end": 5.0, "eval_seconds": 1.0}  # as journaled
    with WorkerPool(2) as pool:
        clock = Pooled(pool.bind(evaluate))
        clock.start()
        clock.submit(Job(0, {"behaviour": "fine"}, None, evaluate, known))  # not run again
        assert clock.idle() == 1  # it holds a worker's place until handed back
        clock.submit(Job(1, {"behaviour": "slow"}, None, evaluate))
        assert clock.idle() == 0

        replayed, live = clock.next(), clock.next()
        assert (replayed.job.number, replayed.outcome) == (0, None)
        assert (replayed.worker, replayed.start, replayed.end, replayed.seconds) == (1, 4, 5, 1)
        assert live.job.number == 1 and isinstance(live.outcome, Evaluation)
        assert 5.0 <= live.end <= clock.now() and live.start < live.end
        assert clock.idle() == 2


PR_SET_CHILD_SUBREAPER = 36
STUDY_MARK = "TUNEBENCH_TEST_STUDY"  # in the study's environment, so in its workers'


def _marked(mark: str) -> set[int]:
    """Processes whose environment holds STUDY_MARK=mark (a zombie's environment is empty)."""
    found = set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and f"{STUDY_MARK}={mark}".encode() in (
                (entry / "environ").read_bytes().split(b"\0")
            ):
                found.add(int(entry.name))
    return found


@contextlib.contextmanager
def _adopting_orphans() -> Iterator[None]:
    """This process adopts the orphans of its descendants (as init, a shell or a job manager
    would), so the test can reap the study's workers and see how each ended."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; adopts orphans by prctl")
@pytest.mark.parametrize("moment", ["mid-search", "while the workers start"])
def test_sigkill_of_a_real_clock_study_takes_its_workers_with_it(tmp_path, moment) -> None:
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    study = ("strategy=random", "budget.clock=real", "budget.workers=2", "budget.n_trials=300",
             "protocol.outer_folds=2")  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "OPENML_SKIP_PARQUET": "true", STUDY_MARK: mark}
    journals = tmp_path / "results" / "studies"
    stderr = tmp_path / "stderr.txt"
    with _adopting_orphans(), stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness", *study], cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        workers: set[int] = set()
        while len(workers) < 2 or (
            moment == "mid-search"
            and sum(len(p.read_bytes().splitlines()) for p in journals.glob("*/trials.jsonl")) < 4
        ):
            assert process.poll() is None, "the study ended before it could be killed"
            workers = _marked(mark) - {process.pid}
            time.sleep(0.005)
        process.kill()  # SIGKILL, to the study process only: its workers have groups of their own
        process.wait()
        killed = time.monotonic()
        ended = {}  # worker -> wait status, once it exited and this process reaped it
        while len(ended) < len(workers) and time.monotonic() - killed < 0.5:
            for pid in workers - set(ended):
                with contextlib.suppress(ChildProcessError):  # not adopted yet
                    reaped, status = os.waitpid(pid, os.WNOHANG)
                    if reaped:
                        ended[pid] = status
            time.sleep(0.005)
        left = _marked(mark)
    assert len(workers) == 2 and set(ended) == workers and not left, (workers, ended, left)
    signals = {os.WTERMSIG(s) if os.WIFSIGNALED(s) else None for s in ended.values()}
    # Mid-search the kernel kills them (the parent-death signal); at their start, one may find
    # its parent gone before that signal was set, and leave at once.
    assert (
        signals == {signal.SIGKILL} if moment == "mid-search" else signals <= {signal.SIGKILL, None}
    )
    assert "Traceback" not in stderr.read_text() and "BrokenPipe" not in stderr.read_text()
