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

import importlib.util
import math
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.trial import Trial, TrialState

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.errors import UsageError
from harness.problem.space import Param, SearchSpace

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
        if importlib.util.find_spec("torch") is None:
            raise UsageError(
                "strategy gp (optuna's GPSampler) needs PyTorch, which is not installed; "
                'install the extra: pip install -e ".[gp]"'
            )
        super().__init__(space, seed, sampler)


class OptunaPruned(OptunaSearch):
    """An optuna sampler with a pruner (successive halving, Hyperband) over the fidelity.

    Each trial climbs the rungs eta^-K, ..., 1/eta, 1 of the model's declared resource, K the
    most that keeps the lowest rung at or above the declared `low`; it reports each rung's loss
    and stops when the pruner says so, exactly as optuna's own pruning loop. A rung refits from
    scratch and costs its fraction of a full evaluation. Optuna does not tell a trial which
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


def told(loss: float) -> dict[str, Any]:
    """How optuna is told a loss: a NaN (a failed trial) as a failed state, the way
    `study.optimize` records it, minus the warning it prints each time."""
    return {"state": TrialState.FAIL} if math.isnan(loss) else {"values": loss}


def rungs_below(low: float, eta: int) -> int:
    """K, the number of rungs below full fidelity: the largest with eta^-K >= low."""
    top = 0
    while eta ** -(top + 1) >= low - 1e-12:
        top += 1
    return top


def suggest(trial: Trial, space: SearchSpace) -> dict[str, Any]:
    """Define-by-run: each active parameter in declaration order, inactive ones never asked."""

    def value(p: Param) -> Any:
        if p.type == "categorical":
            return trial.suggest_categorical(p.name, p.choices)
        if p.type == "int":
            return trial.suggest_int(p.name, p.low, p.high, log=p.log)
        return trial.suggest_float(p.name, p.low, p.high, log=p.log)

    return space.walk(value)
