"""The one port of a strategy whose library runs its own loop (scikit-learn's searchers, Ray
Tune's Tuner): what its adapter may read of the search, and how it reports what ran.

The harness's trial loop (harness.engine.loop) asks and tells; a library with a loop of its
own cannot be asked, so its adapter (adapters.base.LibraryLoop) gets an `OwnLoop`, never the
objective. Through it the adapter reads what the library may know (the budget in full
evaluations, the workers and whether the clock is real, the clock's reading, the model's
fidelity, the number of outer-training rows), hands the library the inner CV to fit without
holding the rows (`fit`), and reports each evaluation the library ran (`observe`, `report`),
which the engine checks against the budget, times and records. The adapter never reads the
data, starts or replaces the clock, or writes the engine's state: the port does, here.

The names such an adapter speaks come with the port: `Evaluation` (what an evaluation the
library ran returns), `StopSearch` (the budget is spent), `Evaluator` (the picklable
evaluation a library's own workers run), `Start` (the models a rung continues, rebuilt in such
a worker from its checkpoint), `quietly` (a call with its warnings kept as text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from harness.engine.asktell import Proposal, SearchHandle
from harness.engine.clocks import Done, Job, attempt
from harness.engine.continuation import Start
from harness.engine.objective import Evaluation, Evaluator, Objective, StopSearch, quietly
from harness.problem.fidelity import Fidelity

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Evaluation", "Evaluator", "OwnLoop", "Start", "StopSearch", "quietly"]

S = TypeVar("S")


class OwnLoop:
    """A search a library runs itself, seen through the engine: read-only but for `report`,
    `observe` and `evaluate`, which go through the budget and the records."""

    def __init__(self, objective: Objective) -> None:
        self._objective = objective

    @property
    def n_trials(self) -> int:
        """The budget in full evaluations."""
        return self._objective.n_trials

    @property
    def handle(self) -> SearchHandle:
        """What any strategy knows of its search: budget, workers, the fidelity's low end."""
        return self._objective.handle

    @property
    def real_clock(self) -> bool:
        """Whether evaluations run on the real clock (else: virtual workers, one at a time)."""
        return self._objective.budget.clock == "real"

    @property
    def limits_trials(self) -> bool:
        """Whether the budget sets per-trial time or memory limits (which a library's own
        evaluations escape: its adapter says so)."""
        return self._objective.budget.limits_trials

    @property
    def fidelity(self) -> Fidelity | None:
        """The model's declared fidelity (None: none), which multi-fidelity libraries ration."""
        return self._objective.inner.fidelity

    @property
    def n_rows(self) -> int:
        """The outer-training rows: the full resource of a fidelity over rows."""
        return len(self._objective.inner.X)

    @property
    def evaluator(self) -> Evaluator:
        """The picklable evaluation of one configuration, for a library's own workers."""
        return self._objective.evaluator

    def out_of_time(self) -> bool:
        """Whether the budget's time limit has passed on the search's clock."""
        limit = self._objective.budget.time_s
        return limit is not None and self._objective.clock.now() >= limit

    def fit(
        self,
        make: Callable[[Any, list[tuple[np.ndarray, np.ndarray]], Callable, int | None], S],
        single_metric: bool = False,
    ) -> S:
        """A scikit-learn searcher made by `make(pipeline, splits, scorer, n_jobs)` on the
        inner CV, fitted on the outer-training rows; the search's time limit counts from the
        fit. `single_metric`: the searcher takes one metric (successive halving), so a
        clustering's candidates are scored by their index alone."""
        inner = self._objective.inner
        scorer = inner.single_scorer if single_metric else inner.scorer
        searcher = make(inner.pipeline, inner.splits, scorer, inner.n_jobs)
        self._objective.clock.start()
        searcher.fit(inner.X, inner.y)
        return searcher

    def observe(
        self, batch: Sequence[tuple[Mapping[str, Any] | Proposal, Callable[[], Any], Any]]
    ) -> None:
        """Record a batch the library evaluates itself (harness.engine.objective's `observe`):
        each `(params, evaluate, fidelity)` checked against the budget, timed and recorded.
        Raises StopSearch once the budget stops the batch."""
        self._objective.observe(batch)

    def evaluate(self, params: Mapping[str, Any], fidelity: float | None = None) -> float:
        """One more evaluation the harness runs and records (the loss), as `objective(params)`."""
        return self._objective(params, fidelity)

    def own_workers(self, workers: int) -> None:
        """The library's own workers evaluate on the real clock: the search's clock becomes
        what they report (`report`'s times and processes)."""
        self._objective.clock = Reported(workers)

    def report(
        self,
        proposal: Proposal,
        outcome: Callable[[], Evaluation],
        *,
        began: float,
        ended: float,
        pid: int,
        continued_from: float | None = None,
    ) -> None:
        """Record one evaluation a library's worker ran: `outcome()` returns it (or raises
        what it raised), `began`/`ended` its wall times, `pid` its process. `continued_from`:
        the fraction of the rung whose models it continued, paid for already. Raises
        StopSearch once the budget stops the search (this one is then not recorded)."""
        if continued_from is not None:
            self._objective.continuation.keep(proposal.params, continued_from, ())
        clock = self._objective.clock
        if isinstance(clock, Reported):
            clock.at(began, ended, pid)
        self._objective.observe([(proposal, outcome, proposal.fidelity)])


class Reported:
    """The real clock of a search whose library's workers evaluate (harness.engine.clocks'
    Clock): each report says when its evaluation ran (wall time) and in which process; times
    count from the first evaluation's start (the library's start-up is not search time)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._origin: float | None = None  # the first evaluation's start
        self._report: tuple[float, float, int] | None = None
        self._queue: list[Job] = []
        self._pids: dict[int, int] = {}

    def start(self) -> None:
        self._origin = None

    def at(self, began: float, ended: float, pid: int) -> None:
        """The report about to be recorded: its job starts when its evaluation began."""
        self._origin = began if self._origin is None else self._origin
        self._report = (began, ended, pid)

    def now(self) -> float:
        if self._report is not None:
            return self._report[0] - self._origin
        return 0.0 if self._origin is None else time.time() - self._origin

    def idle(self) -> int:
        return 0 if self._queue else 1

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def next(self) -> Done:
        job, (began, ended, pid), self._report = self._queue.pop(), self._report, None
        outcome, _ = attempt(job.run)
        worker = self._pids.setdefault(pid, len(self._pids))
        start, end = began - self._origin, ended - self._origin
        return Done(job, outcome, worker, start, end, end - start)

    def think(self, seconds: float) -> None:
        """The library's own thinking happens in its loop, between the workers' reports."""

    def close(self) -> None:
        pass
