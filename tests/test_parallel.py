"""With k workers, adapters propose what their library's own parallel API proposes.

Four virtual workers; each evaluation takes a fixed virtual time given by its proposal's
number, so results come back out of order, the same way on any machine. The native side is a
hand-written loop over the same virtual workers using each library's documented parallel
mode: optuna asks a trial whenever a worker frees up (TPE with `constant_liar`), hyperopt's
algorithm proposes for the free workers with the running trials pending, scikit-optimize asks
a batch of k points by its constant liar and is told the batch. Losses are the same real inner
CV as tests/test_native.py's.
"""

from __future__ import annotations

import functools
import heapq
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from hyperopt import JOB_STATE_DONE, JOB_STATE_RUNNING, STATUS_OK, Domain, Trials, tpe
from hyperopt.fmin import space_eval

from harness.engine.clocks import Job, Simulated
from harness.engine.folds import AFTER_VARIABLE
from harness.engine.objective import Budget, Objective
from harness.engine.parallel import THREADS, Parallelism
from harness.engine.study import prepare, run
from harness.store.records import StudyRecords
from tests.helpers import ROOT, compose_config, misbehaving_study, untimed
from tests.misbehaving import FIT_LOG
from tests.test_native import (
    N_TRIALS,
    SEED,
    SPACE,
    STARTUP,
    _active,
    _adapter_trials,
    _inner,
    _loss,
    _same,
    hyperopt_space,
    optuna_params,
    skopt_optimizer,
)

K = 4
SECONDS = (1.0, 2.5, 1.7, 3.1, 0.6, 2.2, 1.3)  # virtual seconds of proposal n: SECONDS[n % 7]


class VirtualWorkers:
    """k workers a user simulates by hand: each proposal runs from the moment it is proposed
    for its fixed time; results come back in order of their end (then of proposal)."""

    def __init__(self) -> None:
        self.now, self.proposed = 0.0, 0
        self.running: list[tuple[float, int, Any]] = []

    def free(self) -> int:
        return K - len(self.running)

    def start(self, item: Any) -> None:
        end = self.now + SECONDS[self.proposed % len(SECONDS)]
        heapq.heappush(self.running, (end, self.proposed, item))
        self.proposed += 1

    def finish(self) -> Any:
        self.now, _, item = heapq.heappop(self.running)
        return item


def _fixed(job: Job, outcome: object) -> float:
    return SECONDS[job.number % len(SECONDS)]


def _harness(*overrides: str) -> list[dict]:
    budget = Budget(N_TRIALS, workers=K, clock="simulated")
    objective = Objective(_inner(), budget, lambda _: None, clock=Simulated(K, _fixed))
    return _adapter_trials(*overrides, objective=objective)


def test_optuna_tpe_constant_liar_asks_as_a_worker_frees_up() -> None:
    sampler = optuna.samplers.TPESampler(n_startup_trials=STARTUP, seed=SEED, constant_liar=True)
    study = optuna.create_study(sampler=sampler)
    workers, native = VirtualWorkers(), []
    while workers.proposed < N_TRIALS or workers.running:
        while workers.free() and workers.proposed < N_TRIALS:
            trial = study.ask()
            native.append(optuna_params(trial))
            workers.start((trial, native[-1]))
        trial, params = workers.finish()
        study.tell(trial, _loss(params))
    ours = _harness("strategy=tpe_cl", f"strategy.adapter.sampler.n_startup_trials={STARTUP}")
    _same(ours, native)


def test_hyperopt_tpe_proposes_for_free_workers_with_running_trials_pending() -> None:
    space = hyperopt_space()
    domain, trials, rstate = Domain(lambda _: 0.0, space), Trials(), np.random.default_rng(SEED)
    algo = functools.partial(tpe.suggest, n_startup_jobs=STARTUP)
    workers, native = VirtualWorkers(), []
    while workers.proposed < N_TRIALS or workers.running:
        n = min(workers.free(), N_TRIALS - workers.proposed)
        if n:
            ids = trials.new_trial_ids(n)
            trials.refresh()
            docs = algo(ids, domain, trials, rstate.integers(2**31 - 1))
            trials.insert_trial_docs(docs)
            trials.refresh()
            for doc in docs:
                doc["state"] = JOB_STATE_RUNNING
                vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
                native.append(space_eval(space, vals))
                workers.start((doc, native[-1]))
        doc, params = workers.finish()
        doc["state"], doc["result"] = JOB_STATE_DONE, {"loss": _loss(params), "status": STATUS_OK}
        trials.refresh()
    ours = _harness("strategy=hyperopt_tpe", f"strategy.adapter.algo.n_startup_jobs={STARTUP}")
    _same(ours, native)


@pytest.mark.slow
def test_skopt_gp_asks_a_batch_by_its_constant_liar_and_is_told_the_batch() -> None:
    optimizer, native = skopt_optimizer(), []
    while len(native) < N_TRIALS:
        batch = optimizer.ask(n_points=K, strategy="cl_min")[: N_TRIALS - len(native)]
        first = len(native)
        native += [_active(dict(zip(SPACE.names, x, strict=True))) for x in batch]
        order = sorted(range(len(batch)), key=lambda i: SECONDS[(first + i) % len(SECONDS)])
        optimizer.tell([batch[i] for i in order], [_loss(native[first + i]) for i in order])
    ours = _harness("strategy=skopt_gp", f"strategy.adapter.n_initial_points={STARTUP}")
    _same(ours, native)


# Outer folds at once (harness.engine.folds): a single study's default on a machine with more
# than one core. Outer folds are independent, so running them in helper processes, with the
# last folds' inner CV spread over the cores the others freed, must give the records of one
# core, the thread-sensitive Gaussian process of skopt_gp included.


def _fold_plan(at_once: int) -> Parallelism:
    return Parallelism("none (single run)", 2, 1, 1, THREADS, outer_folds_at_once=at_once)


def test_outer_folds_at_once_give_the_records_of_one_core(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(AFTER_VARIABLE, "0")  # helpers at once: a tiny study would not wait
    # 2 random points, then 2 proposals from the Gaussian process in every fold (its
    # acquisition optimised by sampling, the quick way: the GP's fit is the sensitive step).
    study = prepare(compose_config(
        "strategy=skopt_gp", "strategy.adapter.n_initial_points=2",
        "strategy.adapter.acq_optimizer=sampling", "budget.n_trials=4", "protocol.outer_folds=2",
    ))  # fmt: skip
    one = run(study, tmp_path / "one-core")
    at_once = run(study, tmp_path / "at-once", _fold_plan(2))
    for serial, parallel in zip(one, at_once, strict=True):
        pd.testing.assert_frame_equal(untimed(serial), untimed(parallel), check_exact=True)
    assert StudyRecords(tmp_path / "at-once").read_meta()["parallel"]["outer_folds_at_once"] == 2


def test_outer_folds_at_once_run_in_two_processes_at_the_same_time(tmp_path, monkeypatch) -> None:
    log = tmp_path / "fits.log"
    monkeypatch.setenv(FIT_LOG, str(log))  # helper processes inherit it
    monkeypatch.setenv(AFTER_VARIABLE, "0")
    # Fits of about a second (sleeps, no CPU): the helper is ready long before this process
    # runs out of folds, even on a loaded machine where its start-up takes many seconds.
    space = {"behaviour": {"type": "categorical", "choices": ["slow"]},
             "seconds": {"type": "float", "low": 0.8, "high": 1.2}}  # fmt: skip
    study = misbehaving_study("random", space, "budget.n_trials=2", "protocol.outer_folds=3")
    trials, folds = run(study, tmp_path / "study", _fold_plan(2))
    assert len(folds) == 3 and (trials["status"] == "ok").all() and len(trials) == 6

    fits = [line.split() for line in log.read_text().splitlines()]
    spans = [(int(pid), float(s), float(e)) for pid, s, e, _ in fits]
    assert len({pid for pid, _, _ in spans}) >= 2  # this process and a helper (and the tail's)
    assert any(p1 != p2 and s1 < e2 and s2 < e1 for p1, s1, e1 in spans for p2, s2, e2 in spans)


KILLED_WITH_WORKERS = """
import os, signal
from joblib import Parallel, delayed
from harness.engine.parallel import tied_workers
with tied_workers():
    pids = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(8)))
print(*pids, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (not gone, not a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_inner_cv_processes_of_folds_at_once_die_with_their_process(tmp_path) -> None:
    """A fold's inner CV spread over freed cores (joblib's loky workers) must not outlive the
    study or helper process that started them when it is killed with SIGKILL: loky's own
    workers would wait for their idle timeout, 300 s."""
    out = tmp_path / "pids.txt"
    with out.open("w") as pids:  # a file, not a pipe: a pipe would wait for the workers too
        code = subprocess.call([sys.executable, "-c", KILLED_WITH_WORKERS], stdout=pids,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert code == -signal.SIGKILL
    workers = {int(pid) for pid in out.read_text().split()}
    assert len(workers) >= 1 and os.getpid() not in workers
    deadline = time.monotonic() + 0.5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(_alive(pid) for pid in workers)
