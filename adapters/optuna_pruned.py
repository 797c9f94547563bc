"""optuna's pruners (successive halving, Hyperband) over the model's fidelity, with any of its
samplers: each trial climbs the fidelity's rungs, reporting each, until the pruner stops it.
With k workers the trials climb at once and the pruner decides on the rungs reported so far
(asynchronous successive halving, as optuna does with parallel workers)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.trial import Trial, TrialState

from adapters.optuna_search import OptunaSearch, told
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.optuna_space import suggest
from harness.problem.space import SearchSpace


class OptunaPruned(OptunaSearch):
    """An optuna sampler with a pruner (successive halving, Hyperband) over the fidelity.

    Each trial climbs the rungs eta^-K, ..., 1/eta, 1 of the model's declared resource, K the
    most that keeps the lowest rung at or above the declared `low`; it reports each rung's loss
    and stops when the pruner says so, exactly as optuna's own pruning loop. A rung costs its
    fraction of a full evaluation, or only what it adds where the model's fidelity continues
    training (harness.engine.continuation). Optuna does not tell a trial which
    Hyperband bracket it is in, so a trial of a bracket that starts higher still climbs the
    lower rungs (which that bracket never prunes at): at most 1/(eta - 1) extra per trial.
    """

    multi_fidelity = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        sampler: Callable[..., BaseSampler],
        pruner: Callable[..., BasePruner],
        reduction_factor: int = 3,
    ) -> None:
        super().__init__(space, seed, sampler)
        self.pruner = pruner
        self.reduction_factor = reduction_factor

    def start(self, handle: SearchHandle) -> None:
        self.top = rungs_below(handle.fidelity_low, self.reduction_factor)
        eta = self.reduction_factor
        self.optuna = self.study(self.pruner(min_resource=1, reduction_factor=eta))
        self.climbing: deque[Proposal] = deque()  # trials told a rung, not pruned: next rung

    def ask(self, n: int) -> list[Proposal]:
        """The next rungs of trials going on first (as optuna's own loop finishes a trial
        before it asks for the next), then new trials at their first rung."""
        proposals = [self.climbing.popleft() for _ in range(min(n, len(self.climbing)))]
        for _ in range(n - len(proposals)):
            trial = self.optuna.ask()
            proposals.append(self._rung(trial, suggest(trial, self.space), 0))
        return proposals

    def tell(self, proposal: Proposal, loss: float) -> None:
        trial, rung = proposal.token
        if math.isnan(loss):
            self.optuna.tell(trial, **told(loss))
            return
        trial.report(loss, step=self.reduction_factor**rung)
        if trial.should_prune():
            self.optuna.tell(trial, state=TrialState.PRUNED)
        elif rung == self.top:
            self.optuna.tell(trial, **told(loss))
        else:
            self.climbing.append(self._rung(trial, proposal.params, rung + 1))

    def _rung(self, trial: Trial, params: dict[str, Any], rung: int) -> Proposal:
        fidelity = float(self.reduction_factor ** (rung - self.top))
        return Proposal(params, fidelity, token=(trial, rung))


def rungs_below(low: float, eta: int) -> int:
    """K, the number of rungs below full fidelity: the largest with eta^-K >= low."""
    top = 0
    while eta ** -(top + 1) >= low - 1e-12:
        top += 1
    return top
