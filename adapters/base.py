"""The one interface every tuning strategy implements.

A strategy gets the search space and a seed when it is made, and an objective when it
searches. It proposes configurations by calling the objective, which evaluates them by inner
cross-validation, times them and records them; it returns a loss to minimise (NaN for a
failed trial) and raises StopSearch when the budget is spent. A strategy never sees data,
never measures time and never writes records.

A multi-fidelity strategy also asks for partial evaluations, `objective(params, fidelity=f)`
with f a fraction of the model's declared resource; the budget then counts full-evaluation
equivalents. It says so with `multi_fidelity = True`, so a study whose model declares no
fidelity is refused before it starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from harness.engine.objective import Objective
from harness.problem.space import SearchSpace


class Strategy(ABC):
    multi_fidelity: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.seed = seed

    @abstractmethod
    def search(self, objective: Objective) -> None:
        """Propose configurations until `objective.n_trials` full evaluations are spent (the
        objective raises StopSearch) or the strategy has nothing left to try."""
