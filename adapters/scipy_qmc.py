"""scipy's quasi-Monte Carlo designs (Latin hypercube, Sobol, Halton) over the space."""

from __future__ import annotations

from itertools import islice
from typing import Any

from scipy.stats import qmc

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace


class ScipyQMC(Strategy):
    """One point of a scrambled design per trial, one unit-cube axis per parameter. A
    conditional parameter has an axis too, and is passed only when active."""

    def __init__(self, space: SearchSpace, seed: int, engine: str = "LatinHypercube") -> None:
        super().__init__(space, seed)
        self.engine = getattr(qmc, engine)  # any scipy.stats.qmc engine

    def start(self, handle: SearchHandle) -> None:
        design = self.engine(d=len(self.space), rng=self.seed).random(handle.n_trials)
        self.points = iter(design)

    def ask(self, n: int) -> list[Proposal]:
        return [Proposal(self._params(point)) for point in islice(self.points, n)]

    def _params(self, point: Any) -> dict[str, Any]:
        axis = dict(zip(self.space.names, point, strict=True))
        return self.space.walk(lambda p: p.from_unit(axis[p.name]))
