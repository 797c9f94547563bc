"""The baseline strategies: a model's defaults, grid search and random search.

Grid and random use scikit-learn's ParameterGrid and ParameterSampler on the space's
sklearn form, so they propose exactly what GridSearchCV and RandomizedSearchCV would.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from itertools import islice
from typing import Any

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace


class Defaults(Strategy):
    """No trials: the model's library defaults are the chosen configuration."""

    defaults_only = True

    def ask(self, n: int) -> list[Proposal]:
        return []


class CandidateSearch(Strategy):
    """Proposes a list of candidates fixed in advance, in order, as scikit-learn's searchers do."""

    @abstractmethod
    def candidates(self, n_trials: int) -> Iterable[dict[str, Any]]:
        """Up to `n_trials` configurations, in the order they are evaluated."""

    def start(self, handle: SearchHandle) -> None:
        self._left = iter(self.candidates(handle.n_trials))

    def ask(self, n: int) -> list[Proposal]:
        return [Proposal(params) for params in islice(self._left, n)]


class GridSearch(CandidateSearch):
    """ParameterGrid over the space, numeric ranges cut into `resolution` points each.

    `resolution: null` picks the finest resolution whose grid fits the trial budget. A grid
    larger than the budget is cut to a seeded random subset, evaluated in grid order; a grid
    smaller than the budget ends the search early.
    """

    without_replacement = True

    def __init__(self, space: SearchSpace, seed: int, resolution: int | None = None) -> None:
        super().__init__(space, seed)
        self.resolution = resolution

    def candidates(self, n_trials: int) -> list[dict]:
        grid = ParameterGrid(self.space.sklearn_grid(self.resolution or self._fit(n_trials)))
        if len(grid) <= n_trials:
            return list(grid)
        keep = np.random.default_rng(self.seed).choice(len(grid), n_trials, replace=False)
        return [grid[i] for i in sorted(keep)]

    def _fit(self, n_trials: int) -> int:
        resolution, grid = 1, self.space.sklearn_grid(1)
        while True:
            finer = self.space.sklearn_grid(resolution + 1)
            # Stop when finer exceeds the budget, or adds nothing (categoricals, exhausted ints).
            if finer == grid or len(ParameterGrid(finer)) > n_trials:
                return resolution
            resolution, grid = resolution + 1, finer


class RandomSearch(CandidateSearch):
    """ParameterSampler: each subspace equally likely, then independent draws within it."""

    def candidates(self, n_trials: int) -> ParameterSampler:
        """Drawn lazily, one per iteration, so a time limit is not spent drawing ahead."""
        return ParameterSampler(
            self.space.sklearn_distributions(), n_iter=n_trials, random_state=self.seed
        )
