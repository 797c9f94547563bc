"""The trial loop: ask the strategy for as many proposals as there are free workers, evaluate
them on the objective's clock, tell each loss as its evaluation ends; until the budget is
spent or the strategy has nothing more to propose.

One loop serves every strategy, every worker count and both clocks, so budget, time limits,
replay after a crash, timing and records are handled once, in the objective it drives. With
one worker it asks, evaluates and tells in turn: exactly a library's own sequential loop.
"""

from __future__ import annotations

import time
from typing import Protocol

from harness.engine.asktell import Proposal, SearchHandle
from harness.engine.clocks import Clock
from harness.engine.objective import Objective, StopSearch


class AskTell(Protocol):
    def start(self, handle: SearchHandle) -> None: ...
    def ask(self, n: int) -> list[Proposal]: ...
    def tell(self, proposal: Proposal, loss: float, **told: object) -> None: ...


def drive(strategy: AskTell, objective: Objective) -> None:
    """Run `strategy` on `objective` until its budget is spent or it proposes nothing more.

    A strategy may propose fewer than asked for (none while it waits for results in flight);
    the search ends when it proposes nothing and nothing is in flight. Proposals the budget
    cannot pay for are dropped, and the evaluations in flight are told before it returns.
    The strategy's time in `ask` and `tell` is its thinking time (`choose_seconds`). A
    strategy that declares `told` (adapters.base) is told those columns of its trial's record.
    """
    clock = objective.clock
    clock.start()
    strategy.start(objective.handle)
    in_flight: dict[int, Proposal] = {}
    thinking, stopping = 0.0, False
    while True:
        if not stopping and clock.idle():
            started = time.perf_counter()
            proposals = strategy.ask(clock.idle())
            thinking += _thought(clock, started)
            for proposal in proposals:
                try:
                    job = objective.admit(proposal, thinking / len(proposals))
                except StopSearch:
                    stopping = True
                    break
                in_flight[job.number] = proposal
                clock.submit(job)
            if proposals:
                thinking = 0.0
        if not in_flight:
            return
        done = clock.next()
        proposal = in_flight.pop(done.job.number)
        loss = objective.record(done, proposal)
        record = objective.trials[-1]  # what else the strategy asked to be told of it
        told = {name: record[name] for name in getattr(strategy, "told", ())}
        started = time.perf_counter()
        strategy.tell(proposal, loss, **told)
        thinking += _thought(clock, started)


def _thought(clock: Clock, started: float) -> float:
    """Seconds the strategy thought since `started`; they pass on the clock too."""
    seconds = time.perf_counter() - started
    clock.think(seconds)
    return seconds
