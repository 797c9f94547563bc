"""The one interface every tuning strategy implements.

A strategy gets the search space and a seed when it is made, and an objective when it
searches. It proposes configurations by calling the objective, which evaluates them by inner
cross-validation, times them and records them; it returns a loss to minimise (NaN for a
failed trial) and raises StopSearch when the budget is spent. A strategy never sees data,
never measures time and never writes records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from harness.objective import Objective
from harness.space import SearchSpace


class Strategy(ABC):
    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.seed = seed

    @abstractmethod
    def search(self, objective: Objective) -> None:
        """Call `objective(params)` for up to `objective.n_trials` configurations."""
