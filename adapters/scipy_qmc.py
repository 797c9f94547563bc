"""scipy's quasi-Monte Carlo designs (Latin hypercube, Sobol, Halton) over the space."""

from __future__ import annotations

import math
from typing import Any

from scipy.stats import qmc

from adapters.base import Strategy
from harness.engine.objective import Objective
from harness.problem.space import Param, SearchSpace


class ScipyQMC(Strategy):
    """One point of a scrambled design per trial, one unit-cube axis per parameter. A
    conditional parameter has an axis too, and is passed only when active."""

    def __init__(self, space: SearchSpace, seed: int, engine: str = "LatinHypercube") -> None:
        super().__init__(space, seed)
        self.engine = getattr(qmc, engine)  # any scipy.stats.qmc engine

    def search(self, objective: Objective) -> None:
        design = self.engine(d=len(self.space), rng=self.seed).random(objective.n_trials)
        for point in design:
            params: dict[str, Any] = {}
            for p, u in zip(self.space.params, point, strict=True):
                if self.space.is_active(p, params):
                    params[p.name] = scale(p, u)
            objective(params)


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
