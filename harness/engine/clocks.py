"""Where and when evaluations run: on this process one at a time, on k virtual workers, or on
k worker processes; each says which worker ran a trial and when it started and ended.

Times are seconds since the search started: real ones, or virtual ones for the simulated
clock. The simulated clock runs every evaluation here, one at a time, then places it on the
virtual worker that frees up first, from the virtual moment it was proposed, for as long as
it took; results come back in virtual completion order, as they would on k machines
(syne-tune's simulator backend does the same). So a 2-core machine can study 32 workers.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Outcome = Any  # an Evaluation, or the exception an evaluation raised
CLOCKS = ("real", "simulated")


@dataclass(frozen=True)
class Job:
    """An evaluation to run: `evaluate(params, fidelity)` computes it (here, or in a worker
    process that was given the same evaluator); `known` is its record when an earlier run of
    the search journaled it (replayed, not run again)."""

    number: int
    params: dict[str, Any]
    fidelity: float | None
    evaluate: Callable[..., Outcome]
    known: dict[str, Any] | None = None
    start: Any = None  # the models of the rung it continues (harness.engine.continuation)
    admitted: float | None = None  # the clock's reading when the time limit let it start

    def run(self) -> Outcome:
        resumed = () if self.start is None else (self.start,)
        return self.evaluate(self.params, self.fidelity, *resumed)


@dataclass(frozen=True)
class Done:
    job: Job
    outcome: Outcome
    worker: int
    start: float
    end: float
    seconds: float  # what the evaluation itself took (measured, or as journaled)


class Clock(Protocol):
    workers: int

    def start(self) -> None: ...
    def now(self) -> float: ...
    def idle(self) -> int: ...
    def submit(self, job: Job) -> None: ...
    def next(self) -> Done: ...
    def think(self, seconds: float) -> None: ...
    def close(self) -> None: ...


def attempt(run: Callable[[], Outcome]) -> tuple[Outcome, float]:
    """Run an evaluation; its outcome (result or exception) and the seconds it took."""
    started = time.perf_counter()
    try:
        outcome = run()
    except Exception as e:  # recorded as the trial's failure by the objective
        outcome = e
    return outcome, time.perf_counter() - started


def duration(outcome: Outcome, seconds: float) -> float:
    """An evaluation from the cache counts as long as it took when it was computed."""
    measured = getattr(outcome, "seconds", None)
    return seconds if measured is None else measured


class Sequential:
    """One worker, this process (or its one killable worker process), real time."""

    workers = 1

    def __init__(self) -> None:
        self.start()
        self._queue: list[Job] = []

    def start(self) -> None:
        """The search starts now: its time limit counts from here."""
        self._origin = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._origin

    def idle(self) -> int:
        return 0 if self._queue else 1

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def next(self) -> Done:
        job = self._queue.pop()
        if job.known is not None:  # as journaled: the clock goes on from its end
            end, seconds = job.known["elapsed_seconds"], job.known["eval_seconds"]
            self._origin = time.perf_counter() - end
            return Done(job, None, 0, end - seconds, end, seconds)
        # it starts when admitted, so none starts past the time limit: not when this process
        # next gets the CPU (a garbage collection or a loaded machine may come in between)
        start = self.now() if job.admitted is None else job.admitted
        outcome, took = attempt(job.run)
        seconds = duration(outcome, took)
        self._origin -= seconds - took  # a cached evaluation counts as long as it took
        return Done(job, outcome, 0, start, self.now(), seconds)

    def think(self, seconds: float) -> None:
        """The strategy's thinking time has passed on the real clock already."""

    def close(self) -> None:
        pass


class Simulated:
    """k virtual workers; evaluations run here one at a time (see the module docstring).

    `timing(job, outcome)`, if given, replaces each evaluation's measured seconds, and the
    strategy's thinking then takes no virtual time: a simulation with fixed costs, which
    gives the same order of results on any machine (the tests' deterministic model)."""

    def __init__(self, workers: int, timing: Callable[[Job, Outcome], float] | None = None):
        self.workers = workers
        self._now = 0.0
        self._free = [0.0] * workers  # when each worker is next free
        self._running: list[tuple[float, int, int, Done]] = []  # (end, order, worker, done)
        self._order = itertools.count()
        self._timing = timing

    def start(self) -> None:
        """Virtual time starts at 0 when the clock is made."""

    def now(self) -> float:
        return self._now

    def idle(self) -> int:
        return self.workers - len(self._running)

    def submit(self, job: Job) -> None:
        busy = {worker for *_, worker, _ in self._running}
        worker = min((w for w in range(self.workers) if w not in busy), key=self._free.__getitem__)
        if job.known is not None:
            known = job.known
            worker, start, end = known["worker"], known["start"], known["end"]
            done = Done(job, None, worker, start, end, known["eval_seconds"])
        else:
            outcome, took = attempt(job.run)
            seconds = self._timing(job, outcome) if self._timing else duration(outcome, took)
            start = max(self._now, self._free[worker])
            done = Done(job, outcome, worker, start, start + seconds, seconds)
        heapq.heappush(self._running, (done.end, next(self._order), worker, done))

    def next(self) -> Done:
        end, _, worker, done = heapq.heappop(self._running)
        self._now = max(self._now, end)
        self._free[worker] = end
        return done

    def think(self, seconds: float) -> None:
        """The strategy's own thinking time passes on the virtual clock too: it proposes on
        one machine, as a real search does, while the workers evaluate."""
        if self._timing is None:
            self._now += seconds

    def close(self) -> None:
        pass
