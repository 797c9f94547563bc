"""How Ray Tune's results become the harness's records (adapters.ray_tune runs the search).

`Recorder` is a Tune Stopper: Tune calls it in the study's process with each result it
processes, before its scheduler sees it, so every evaluation is recorded through
`objective.observe` (budget, time limit, record) in the order Tune goes on from, and every
trial is stopped once the budget or the time limit stops the search. `RayWorkers` is the real
clock of such a search: Ray's workers evaluate, and each result says when and where.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from ray import tune

from adapters.ray_trainable import active
from harness.engine.asktell import Proposal
from harness.engine.clocks import Done, Job, attempt
from harness.engine.objective import Objective, StopSearch
from harness.problem.space import SearchSpace


class Recorder(tune.Stopper):
    """A Tune Stopper that records each result in the driver, in the order Tune processes
    them, and stops every trial once the budget or the time limit stops the search."""

    def __init__(self, objective: Objective, space: SearchSpace) -> None:
        self.objective, self.space = objective, space
        self.members: dict[str, int] = {}  # Ray trial id -> population member, as first seen
        self.seen: set[tuple[str, float]] = set()
        self.stopped = False

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        # Tune hands a finished trial's last result over again (marked done, not duplicate)
        if self.stopped or (trial_id, result["began"]) in self.seen:
            return self.stopped
        self.seen.add((trial_id, result["began"]))
        member = self.members.setdefault(trial_id, len(self.members))
        params, fraction = active(self.space, result["config"]), result["fraction"]
        if result["continued_from"] is not None:  # what it continued was paid for already
            self.objective.continuation.keep(params, result["continued_from"], ())
        donor = self.members.get(result["exploited_from"])
        proposal = Proposal(params, fraction, member=member, exploited_from=donor)
        if isinstance(self.objective.clock, RayWorkers):
            self.objective.clock.at(result)
        try:
            self.objective.observe([(proposal, partial(outcome, result["outcome"]), fraction)])
        except StopSearch:
            self.stopped = True
        return self.stopped

    def stop_all(self) -> bool:
        limit = self.objective.budget.time_s
        return self.stopped or (limit is not None and self.objective.clock.now() >= limit)


def outcome(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


class RayWorkers:
    """The real clock of a search Ray Tune runs (harness.engine.clocks.Clock): each result
    says when its evaluation ran (wall time) and in which worker process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._origin: float | None = None  # the first evaluation's start
        self._result: dict[str, Any] | None = None
        self._queue: list[Job] = []
        self._pids: dict[int, int] = {}

    def start(self) -> None:
        self._origin = None

    def at(self, result: dict[str, Any]) -> None:
        """The result about to be recorded: its job starts when its evaluation began."""
        self._origin = result["began"] if self._origin is None else self._origin
        self._result = result

    def now(self) -> float:
        if self._result is not None:
            return self._result["began"] - self._origin
        return 0.0 if self._origin is None else time.time() - self._origin

    def idle(self) -> int:
        return 0 if self._queue else 1

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def next(self) -> Done:
        job, result, self._result = self._queue.pop(), self._result, None
        outcome, _ = attempt(job.run)
        worker = self._pids.setdefault(result["pid"], len(self._pids))
        start, end = result["began"] - self._origin, result["ended"] - self._origin
        return Done(job, outcome, worker, start, end, end - start)

    def think(self, seconds: float) -> None:
        """Ray Tune's own thinking happens in its loop, between the workers' results."""

    def close(self) -> None:
        pass
