"""scikit-learn's successive-halving searchers, HalvingGridSearchCV and HalvingRandomSearchCV,
run on the objective's inner CV as the other scikit-learn searchers are (adapters.sklearn_search).

The halving searchers ration the model's declared fidelity (`resource`: n_samples for `rows`,
else the estimator parameter), from its `low` up to the full resource. scikit-learn's last
iteration reaches the full resource only when `min_resources * factor**k` lands on it, so the
configuration it picks (`best_params_`) is then scored once at full fidelity, the counterpart
of its own refit, for the harness chooses from full-fidelity evaluations only. The number of
candidates is the most whose whole schedule, that last evaluation included, fits the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

from adapters.base import LibraryLoop
from adapters.sklearn_sampling import GridSearch, RandomSearch
from adapters.sklearn_search import named, points, search_with, space_params
from harness.engine.port import OwnLoop
from harness.problem.fidelity import ROWS
from harness.problem.names import pipeline_name
from harness.problem.space import SearchSpace

if TYPE_CHECKING:
    from sklearn.model_selection._search import BaseSearchCV


class HalvingGrid(LibraryLoop, GridSearch):
    """HalvingGridSearchCV over the `grid` strategy's candidates, as many as the budget pays."""

    multi_fidelity = True

    def __init__(
        self, space: SearchSpace, seed: int, resolution: int | None = None, factor: int = 3
    ) -> None:
        super().__init__(space, seed, resolution)
        self.factor = factor

    def run(self, port: OwnLoop) -> None:
        plan = Halving.of(port, self.factor)
        candidates = self.candidates(plan.capacity(port.n_trials))
        # random_state picks the rows of each n_samples subsample
        plan.run(HalvingGridSearchCV, port, param_grid=points(candidates), random_state=self.seed)


class HalvingRandom(LibraryLoop, RandomSearch):
    """HalvingRandomSearchCV with as many candidates as the budget pays for."""

    multi_fidelity = True

    def __init__(self, space: SearchSpace, seed: int, factor: int = 3) -> None:
        super().__init__(space, seed)
        self.factor = factor

    def run(self, port: OwnLoop) -> None:
        plan = Halving.of(port, self.factor)
        plan.run(
            HalvingRandomSearchCV,
            port,
            param_distributions=named(self.space.sklearn_distributions()),
            n_candidates=plan.capacity(port.n_trials),
            random_state=self.seed,
        )


@dataclass(frozen=True)
class Halving:
    """The successive-halving schedule over the objective's fidelity."""

    resource: str
    min_resources: int
    max_resources: int
    factor: int

    @classmethod
    def of(cls, port: OwnLoop, factor: int) -> Halving:
        fidelity = port.fidelity
        if fidelity.resource == ROWS:
            resource, full = "n_samples", port.n_rows
        else:
            resource, full = pipeline_name(fidelity.resource), fidelity.full
        return cls(resource, math.ceil(fidelity.low * full - 1e-9), full, factor)

    def run(self, kind: type[BaseSearchCV], port: OwnLoop, **options: Any) -> None:
        searcher = search_with(
            kind,
            port,
            single_metric=True,
            resource=self.resource,
            min_resources=self.min_resources,
            max_resources=self.max_resources,
            factor=self.factor,
            **options,
        )
        if searcher.n_resources_[-1] < self.max_resources:
            port.evaluate(space_params(searcher.best_params_, self.resource), fidelity=1.0)

    def cost(self, n_candidates: int) -> float:
        """Full-evaluation equivalents of scikit-learn's schedule for `n_candidates`, and of
        the full-fidelity evaluation of its pick when its last iteration falls short."""
        f, low, full = self.factor, self.min_resources, self.max_resources
        iterations = min(
            1 + math.floor(math.log(n_candidates, f)), 1 + math.floor(math.log(full // low, f))
        )
        spent, n, resources = 0.0, n_candidates, low
        for i in range(iterations):
            resources = min(int(f**i * low), full)
            spent += n * resources / full
            n = math.ceil(n / f)
        return spent + (resources < full)

    def capacity(self, budget: int) -> int:
        """The most candidates whose schedule fits the budget (at least one)."""
        n = 1
        while self.cost(n + 1) <= budget:
            n += 1
        return n
