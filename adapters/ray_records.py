"""How Ray Tune's results become the harness's records (adapters.ray_tune runs the search).

`Recorder` is a Tune Stopper: Tune calls it in the study's process with each result it
processes, before its scheduler sees it, so every evaluation is reported through the engine's
port (`OwnLoop.report`, harness.engine.port: budget, time limit, record) in the order Tune
goes on from, and every trial is stopped once the budget or the time limit stops the search.
On the real clock each result says when and in which Ray worker its evaluation ran, and the
port's clock takes those times.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ray import tune

from adapters.ray_trainable import active
from harness.engine.asktell import Proposal
from harness.engine.port import OwnLoop, StopSearch
from harness.problem.space import SearchSpace


class Recorder(tune.Stopper):
    """A Tune Stopper that records each result in the driver, in the order Tune processes
    them, and stops every trial once the budget or the time limit stops the search."""

    def __init__(self, port: OwnLoop, space: SearchSpace) -> None:
        self.port, self.space = port, space
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
        donor = self.members.get(result["exploited_from"])
        proposal = Proposal(params, fraction, member=member, exploited_from=donor)
        try:
            self.port.report(
                proposal, partial(outcome, result["outcome"]), began=result["began"],
                ended=result["ended"], pid=result["pid"],
                continued_from=result["continued_from"],  # paid for already
            )  # fmt: skip
        except StopSearch:
            self.stopped = True
        return self.stopped

    def stop_all(self) -> bool:
        return self.stopped or self.port.out_of_time()


def outcome(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value
