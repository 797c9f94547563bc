"""Coordinate descent: the strategy of the "Adding a strategy" guide (docs/guides/).

The docs include this file as it is, and tests/test_docs_example.py runs it through a study
and the conformance suite (`python -m pytest -k coordinate_descent`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import Param, SearchSpace


class CoordinateDescent(Strategy):
    """Coordinate descent on each parameter's [0, 1] axis, from the model's defaults (the
    centre of a range that does not hold them): try one parameter a `step` up and down (a
    categorical: its other choices), move to the best of them, and halve the step after a
    round of every parameter without progress. The seed orders the parameters."""

    parallel = "batch"  # one parameter's moves at once; the next once all are told

    def __init__(self, space: SearchSpace, seed: int, step: float = 0.25) -> None:
        super().__init__(space, seed)
        self.step = step  # its range, (0, 1], is declared in harness/engine/options.py

    def start(self, handle: SearchHandle) -> None:
        super().start(handle)
        defaults = handle.defaults_proposal(self.space).params
        self.best = self.space.walk(
            lambda p: (
                defaults[p.name]
                if p.name in defaults and _inside(p, defaults[p.name])
                else p.centre()
            )
        )
        self.best_loss = math.inf
        self.order = list(np.random.default_rng(self.seed).permutation(self.space.names))
        self.at, self.improved = -1, False  # -1: the start itself is evaluated first
        self.batch: list[dict[str, Any]] = [self.best]
        self.asked, self.results = 0, []
        self.tried = {frozenset(self.best.items())}  # never propose a point twice

    def ask(self, n: int) -> list[Proposal]:
        if self.asked == len(self.batch) and not self.results:  # all told: the next parameter
            self.batch, self.asked = self._moves(), 0
        first = self.asked
        self.asked = min(first + n, len(self.batch))
        return [Proposal(self.batch[i], token=i) for i in range(first, self.asked)]

    def tell(self, proposal: Proposal, loss: float, **told: object) -> None:
        self.results.append((math.inf if math.isnan(loss) else loss, proposal.token))
        if len(self.results) == len(self.batch):  # the batch is complete: keep the best move
            loss, i = min(self.results)  # ties: the earlier move, whatever order results came in
            if loss < self.best_loss:
                self.best, self.best_loss, self.improved = self.batch[i], loss, True
            self.results = []

    def _moves(self) -> list[dict[str, Any]]:
        """The next parameter's untried moves from the best point. A round of every parameter
        without progress halves the step; below a step of 1e-6 nothing is left to try."""
        while self.step >= 1e-6:
            self.at = (self.at + 1) % len(self.order)
            if self.at == 0:  # a new round
                self.step, self.improved = (self.step if self.improved else self.step / 2), False
            p = self.space[self.order[self.at]]
            if p.name not in self.best:  # inactive under the best point's parents
                continue
            moves = [self._moved(p, v) for v in self._values(p) if v != self.best[p.name]]
            moves = [m for m in moves if frozenset(m.items()) not in self.tried]
            if moves:
                self.tried.update(frozenset(m.items()) for m in moves)
                return moves
        return []

    def _values(self, p: Param) -> list[Any]:
        if p.type == "categorical":
            return list(p.choices)
        u = p.to_unit(self.best[p.name])
        return list(
            dict.fromkeys(p.from_unit(min(max(u + d, 0.0), 1.0)) for d in (self.step, -self.step))
        )

    def _moved(self, p: Param, value: Any) -> dict[str, Any]:
        """The best point with `p` at `value`; parameters it activates start at their centre."""
        return self.space.walk(lambda q: value if q is p else self.best.get(q.name, q.centre()))


def _inside(p: Param, value: Any) -> bool:
    """Whether a default is a value of the parameter (SVC's gamma='scale' is not)."""
    try:
        return p.contains(value)
    except TypeError:  # a string or None against a numeric range
        return False
