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
from typing import Any

import numpy as np
import optuna
import pytest
from hyperopt import JOB_STATE_DONE, JOB_STATE_RUNNING, STATUS_OK, Domain, Trials, tpe
from hyperopt.fmin import space_eval

from harness.engine.clocks import Job, Simulated
from harness.engine.objective import Budget, Objective
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
