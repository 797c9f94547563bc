"""scipy's quasi-Monte Carlo designs (Latin hypercube, Sobol, Halton) over the space."""

from __future__ import annotations

import math
from itertools import islice
from typing import Any

from scipy.stats import qmc

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import Param, SearchSpace


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
        return self.space.walk(lambda p: scale(p, axis[p.name]))


def scale(p: Param, u: float) -> Any:
    """A coordinate in [0, 1) as a value of the parameter: uniform, or log-uniform if `log`;
    every integer and every choice gets an equal share of the axis."""
    if p.type == "categorical":
        return p.choices[min(int(u * len(p.choices)), len(p.choices) - 1)]
    top = p.high + 1 if p.type == "int" else p.high
    low, high = (math.log(p.low), math.log(top)) if p.log else (p.low, top)
    x = low + u * (high - low)
    x = min(max(math.exp(x) if p.log else x, p.low), top)
    return min(math.floor(x), p.high) if p.type == "int" else float(x)
