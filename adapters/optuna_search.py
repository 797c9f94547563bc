"""optuna's samplers, and its pruners over the model's fidelity, behind the strategy interface.

The space is suggested define-by-run, parameter by parameter in declaration order, skipping
the inactive ones: optuna's own form for conditional spaces. Samplers that model only part of
a space hand the rest to their `independent_sampler` (RandomSampler by default), as optuna
documents: CMA-ES samples categorical and conditional parameters that way, QMC those not in
the first trial, GP and NSGA-II (whose first generation and mutations are random anyway) the
conditional ones. TPE models every parameter: jointly those every trial has (optuna 5's
multivariate default), the conditional ones one by one.

The study runs by ask-and-tell, which suggests exactly what `study.optimize` would with the
same seed and values (tests/test_native.py checks it). With k workers, trials are asked while
others run, as `study.optimize(n_jobs=k)` does: the samplers see them as running (TPE's
`constant_liar` option gives them a pessimistic value meanwhile, strategy `tpe_cl`). A failed
trial (NaN loss) is told as failed, as optuna does with a NaN objective value, and its samplers
leave it out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.optuna_space import suggest
from harness.problem.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the harness reports every trial itself


class OptunaSearch(Strategy):
    """One optuna sampler, made with the strategy's seed (`sampler` is its partial)."""

    def __init__(self, space: SearchSpace, seed: int, sampler: Callable[..., BaseSampler]) -> None:
        super().__init__(space, seed)
        self.sampler = sampler

    def start(self, handle: SearchHandle) -> None:
        self.optuna = self.study()

    def ask(self, n: int) -> list[Proposal]:
        proposals = []
        for _ in range(n):
            trial = self.optuna.ask()
            proposals.append(Proposal(suggest(trial, self.space), token=trial))
        return proposals

    def tell(self, proposal: Proposal, loss: float) -> None:
        self.optuna.tell(proposal.token, **told(loss))

    def study(self, pruner: BasePruner | None = None) -> optuna.Study:
        with warnings.catch_warnings():  # e.g. "QMCSampler is experimental", once per search
            warnings.simplefilter("ignore", ExperimentalWarning)
            sampler = self.sampler(seed=self.seed)
        # A fixed name: Hyperband assigns trials to brackets by hashing it.
        return optuna.create_study(sampler=sampler, pruner=pruner, study_name="tunebench")


class OptunaGP(OptunaSearch):
    """optuna's GPSampler. It needs PyTorch, an optional extra: a study without it is refused
    before it starts, with the command that installs it."""

    def __init__(self, space: SearchSpace, seed: int, sampler: Callable[..., BaseSampler]) -> None:
        require("torch", "PyTorch", "gp")
        super().__init__(space, seed, sampler)


def told(loss: float) -> dict[str, Any]:
    """How optuna is told a loss: a NaN (a failed trial) as a failed state, the way
    `study.optimize` records it, minus the warning it prints each time."""
    return {"state": TrialState.FAIL} if math.isnan(loss) else {"values": loss}
