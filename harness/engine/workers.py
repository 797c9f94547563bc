"""k killable worker processes evaluating trials at once: the execution of the real clock.

Each worker is a harness.engine.isolation process (own process group, killed with its
children; dies with the study; optional address-space cap). A submission to an idle worker
returns at once; `wait` hands back every submission that finished, so a loop tells a result
and asks for the next configuration as soon as any worker frees up. Each submission has its
own deadline (`timeout_s` from its submit time). A submission stopped by a limit, or whose
worker died, has its worker killed and a replacement started while the other workers go on;
its outcome is handed back once the replacement is ready, so the restart is charged to the
trial that caused it. With no limits set the workers still run in processes of their own:
that is what lets k evaluations run in parallel.

Every worker runs BLAS/OpenMP on one thread (harness.engine.parallel.THREADS), and the study
gives it an inner CV on `inner_jobs(protocol.n_jobs, k)` processes, so k workers x inner jobs
never exceed the cores: a busy process per core at most. More would make evaluations
time-share the cores, so each trial's measured seconds (and its start and end on the real
clock) would grow with the number of workers instead of measuring the configuration.

    pool = WorkerPool(2, timeout_s=60, memory_mb=None)   # starts 2 workers
    pool.bind(evaluate)        # this outer fold's evaluate(params, fidelity) -> Evaluation
    pool.submit(0, "a", params_a); pool.submit(1, "b", params_b)
    pool.wait()  # [(worker, token, Evaluation | TrialStopped | exception)], >= 1 of them
    pool.close()

`Pooled(pool)` is the real clock over it, for the trial loop (harness.engine.clocks).
"""

from __future__ import annotations

import heapq
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_readers
from typing import Any

from harness.engine.budget import TrialStopped
from harness.engine.clocks import Done, Job, attempt, duration
from harness.engine.continuation import Start
from harness.engine.evaluation import Evaluation
from harness.engine.isolation import READY_TIMEOUT_S, Worker
from harness.engine.parallel import THREAD_VARIABLES, THREADS

Outcome = Evaluation | BaseException


@dataclass
class _Submission:
    token: Any
    deadline: float | None  # time.monotonic() past which it is stopped


@dataclass
class _Slot:
    """One worker and what it is doing: starting (not ready), idle, or running a submission.
    `held` is a stopped submission's token and outcome, handed back when the replacement
    worker is ready."""

    worker: Worker
    ready: bool = False
    running: _Submission | None = None
    held: tuple[Any, BaseException] | None = None

    @property
    def pending(self) -> bool:
        return not self.ready or self.running is not None


class WorkerPool:
    """k worker processes; submit to idle ones, wait for whatever finished."""

    def __init__(self, k: int, timeout_s: float | None = None, memory_mb: int | None = None):
        """Starts the k workers (at once) and returns when all of them are ready."""
        if k < 1:
            raise ValueError(f"a pool needs at least one worker, not {k}")
        self.k = k
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.starts = 0  # worker processes started: k + one per kill
        self.bound: Callable[..., Evaluation] | None = None  # what the workers evaluate with
        self._env = os.environ | dict.fromkeys(THREAD_VARIABLES, str(THREADS))
        self._slots: list[_Slot] = []
        try:
            self._slots = [self._spawn() for _ in range(k)]
            while self.wait():  # nothing is submitted yet: returns once every worker is ready
                pass
        except BaseException:
            self.close()
            raise

    def bind(self, evaluate: Callable[..., Evaluation]) -> WorkerPool:
        """Evaluate with `evaluate(params, fidelity)` from now on: this outer fold's inner CV
        (`InnerCV.evaluate`, or the objective's Evaluator, which asks the evaluation cache
        first). It must pickle; each worker receives it once. Workers must not be running a
        submission."""
        if any(slot.running for slot in self._slots):
            raise RuntimeError("bind() while submissions are running: wait() for them first")
        self.bound = evaluate
        for slot in self._slots:
            if slot.ready:  # a worker still starting gets it once ready
                slot.worker.send(("load", evaluate))
        return self

    def idle(self) -> list[int]:
        """Workers ready for a submission."""
        return [i for i, slot in enumerate(self._slots) if slot.ready and slot.running is None]

    def running(self) -> int:
        """Submissions not handed back by `wait` yet."""
        return sum(slot.running is not None or slot.held is not None for slot in self._slots)

    def submit(
        self,
        worker: int,
        token: Any,
        params: Mapping[str, Any],
        fidelity: float | None = None,
        start: Start | None = None,
    ) -> None:
        """Start evaluating `params` on `worker` (idle); `token` comes back with its outcome.
        `start`: the models a continued rung grows (harness.engine.continuation); they go to
        the worker and the grown ones come back with the Evaluation."""
        if worker not in self.idle():
            raise ValueError(f"worker {worker} is not idle (idle: {self.idle()})")
        if self.bound is None:
            raise RuntimeError("submit() before bind(): the workers have nothing to evaluate")
        slot = self._slots[worker]
        resumed = () if start is None else (start,)
        slot.worker.send(("evaluate", (dict(params), fidelity, *resumed)))
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        slot.running = _Submission(token, deadline)

    def wait(self, timeout: float | None = None) -> list[tuple[int, Any, Outcome]]:
        """(worker, token, outcome) of every submission that finished; blocks until one did,
        or `timeout` seconds passed (then []). [] at once when nothing is running.

        The outcome is the Evaluation; TrialStopped("timeout" or "memory") when a limit
        stopped it; what the model raised; or RuntimeError when the worker died.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while any(slot.pending for slot in self._slots):
            due = [end] if end is not None else []
            for slot in self._slots:
                if not slot.ready:
                    due.append(slot.worker.started + READY_TIMEOUT_S)
                elif slot.running and slot.running.deadline is not None:
                    due.append(slot.running.deadline)
            left = max(0.0, min(due) - time.monotonic()) if due else None
            pending = [slot.worker.reader for slot in self._slots if slot.pending]
            readable = wait_for_readers(pending, left)
            finished: list[tuple[int, Any, Outcome]] = []
            for i, slot in enumerate(self._slots):
                if slot.pending and slot.worker.reader in readable:
                    finished += self._read(i)
                elif slot.running and _past(slot.running.deadline):
                    stopped = f"stopped after budget.trial_timeout_s={self.timeout_s} s"
                    self._replace(i, TrialStopped("timeout", stopped))
                elif not slot.ready and _past(slot.worker.started + READY_TIMEOUT_S):
                    raise RuntimeError(f"a trial worker did not start in {READY_TIMEOUT_S} s")
            if finished or _past(end):
                return finished
        return []

    def evaluate(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Start | None = None
    ) -> Evaluation:
        """One evaluation with the bound `evaluate`, in a worker, waited for (nothing else may
        be running): under the limits, for what is evaluated outside the trial loop. Raises
        the outcome if it is an exception."""
        if self.running():
            raise RuntimeError("evaluate() while submissions are running")
        self.submit(self.idle()[0], None, params, fidelity, start)
        while not (finished := self.wait()):
            pass
        [(_, _, outcome)] = finished
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def pids(self) -> list[int]:
        """The workers' process ids (each leads its process group)."""
        return [slot.worker.process.pid for slot in self._slots]

    def close(self) -> None:
        """Kill every worker and its children; running submissions are dropped."""
        slots, self._slots = self._slots, []
        for slot in slots:
            slot.worker.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, held: tuple[Any, BaseException] | None = None) -> _Slot:
        self.starts += 1
        return _Slot(Worker.spawn(self.memory_mb, self._env), held=held)

    def _read(self, i: int) -> list[tuple[int, Any, Outcome]]:
        """The message worker `i` sent: its "ready", or its running submission's outcome."""
        slot = self._slots[i]
        try:
            message = slot.worker.reader.recv()
        except (EOFError, OSError):
            code = slot.worker.kill()
            if not slot.ready:
                raise RuntimeError(f"a trial worker did not start (exit code {code})") from None
            self._replace(i, self._death(code))
            return []
        if not slot.ready:  # "ready": give it the evaluator, then what it was started for
            slot.ready = True
            if self.bound is not None:
                slot.worker.send(("load", self.bound))
            held, slot.held = slot.held, None
            return [] if held is None else [(i, *held)]
        token, slot.running = slot.running.token, None
        kind, payload = message
        if kind == "memory":  # a MemoryError inside the worker, which stays usable
            cap = f"over budget.trial_memory_mb={self.memory_mb}: {payload}"
            payload = TrialStopped("memory", cap) if self.memory_mb else MemoryError(payload)
        return [(i, token, payload)]

    def _replace(self, i: int, outcome: BaseException) -> None:
        """Kill worker `i` and start its replacement, which hands `outcome` back when ready."""
        slot = self._slots[i]
        slot.worker.kill()
        self._slots[i] = self._spawn(held=(slot.running.token, outcome))

    def _death(self, code: int) -> BaseException:
        """A worker killed by a signal under a memory cap most likely ran out (the kernel's
        OOM killer, or abort() on a failed C++ allocation); any other death is a failure."""
        if code < 0 and self.memory_mb is not None:
            return TrialStopped("memory", f"worker killed by signal {-code} under the memory cap")
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return RuntimeError(f"the trial's worker process died ({how})")


def _past(moment: float | None) -> bool:
    return moment is not None and time.monotonic() >= moment


class Pooled:
    """The real clock on k worker processes (harness.engine.clocks.Clock): the trial loop
    submits jobs, and `next` hands back each finished one with its worker and real start and
    end, in completion order.

    A job replayed from the journal after a crash is not run: it holds a worker's place until
    it is handed back, before any live result, smallest recorded end first, with its recorded
    worker and times; the clock then moves on to that end. A job that does not evaluate with
    what the workers were given (a library that scores its own candidates, recorded through
    `Objective.observe`) runs here, at once, as on the sequential clock.
    """

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.workers = pool.k
        self.start()
        self._held: list[tuple[float, int, Job]] = []  # replayed: (recorded end, number, job)
        self._started: dict[int, tuple[Job, float]] = {}  # running: number -> (job, start)
        self._finished: deque[Done] = deque()  # handed back by the pool, not by `next` yet

    def start(self) -> None:
        """The search starts now: its time limit counts from here."""
        self._origin = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._origin

    def idle(self) -> int:
        return max(0, len(self.pool.idle()) - len(self._held))

    def submit(self, job: Job) -> None:
        if job.known is not None:
            heapq.heappush(self._held, (job.known["end"], job.number, job))
        elif job.evaluate is not self.pool.bound:
            start = self.now()
            outcome, took = attempt(job.run)
            self._finished.append(Done(job, outcome, 0, start, self.now(), duration(outcome, took)))
        else:
            self._started[job.number] = (job, time.perf_counter())
            self.pool.submit(self.pool.idle()[0], job.number, job.params, job.fidelity, job.start)

    def next(self) -> Done:
        """The next finished job: replayed ones first, then live ones as they finish (blocks
        until one does)."""
        if self._held:
            end, _, job = heapq.heappop(self._held)
            known = job.known
            if self.now() < end:
                self._origin = time.perf_counter() - end
            return Done(job, None, known["worker"], known["start"], end, known["eval_seconds"])
        while not self._finished:
            if not self.pool.running():
                raise RuntimeError("next() with no job submitted")
            finished = self.pool.wait()
            ended = time.perf_counter()
            for worker, number, outcome in finished:
                job, started = self._started.pop(number)
                start, end = started - self._origin, ended - self._origin
                seconds = duration(outcome, ended - started)
                self._finished.append(Done(job, outcome, worker, start, end, seconds))
        return self._finished.popleft()

    def think(self, seconds: float) -> None:
        """The strategy's thinking time has passed on the real clock already."""

    def close(self) -> None:
        """The pool outlives the search (one per study); nothing to stop here."""
