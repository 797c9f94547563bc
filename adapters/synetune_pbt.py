"""Population-based training: syne-tune's `PopulationBasedTraining` decides, the harness trains.

A population of `population_size` members trains step by step: each member's trial reports
after every unit of the model's fidelity (its `low`, see adapters.synetune_search), each report
going to `on_trial_result`. Every `perturbation_interval` units the scheduler ranks the
members that reported; one in the bottom `quantile_fraction` is stopped and syne-tune pushes an
exploit decision (a strong member's trial to continue from, and that member's configuration
perturbed: `_explore`). Its next `suggest()` returns it as a new trial started from that
trial's checkpoint, which here is the other member's fitted models: the member's next
evaluation says `continues=<the other member's configuration>`, and the harness trains a copy
of that member's last models (the estimators of its inner folds) with the new hyperparameters
(harness.engine.continuation). A member that reaches the full resource ends, and a new one,
drawn at random by the scheduler, takes its place, until the budget is spent.

Members are numbered as they start (`member` in the records); a trial that continues another
member's models after an exploit replaces the stopped one under the same number
(`exploited_from`: the trial whose models it continued). The population trains in turns, a
replacement first, then round-robin, as many at once as there are workers (up to the
population): so with one worker it is still a population, time-sliced.

Quirks: syne-tune's PBT perturbs every parameter of the space, but a warm-started network
keeps its shape (scikit-learn's MLP ignores a new `hidden_layer_sizes` once fitted), so the
parameters listed in `keep_on_exploit` keep the copied member's values. A new trial from a
checkpoint would start with no perturbation time of its own (see `_join`).
"""

from __future__ import annotations

import datetime
import itertools
import math
from dataclasses import dataclass
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from adapters.synetune_search import (
    METRIC,
    RESOURCE,
    OwnRandom,
    decode,
    max_units,
    synetune_space,
)
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace

try:
    import syne_tune
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.scheduler import SchedulerDecision
    from syne_tune.optimizer.schedulers.pbt import PopulationBasedTraining
except ImportError:  # the synetune extra: SyneTunePBT refuses the study without it
    syne_tune = None


@dataclass
class Member:
    trial: Any  # its current syne-tune trial
    units: int  # of the resource its models have trained
    turn: int  # when it last had a turn (or joined): the population trains round-robin
    continues: dict[str, Any] | None = None  # its first evaluation grows this config's models
    busy: bool = False


class SyneTunePBT(Strategy):
    """`PopulationBasedTraining(config_space, ...)` with syne-tune's defaults, except
    `perturbation_interval` (in units of the fidelity's low: syne-tune's 60 counts seconds)."""

    multi_fidelity = True
    stepwise = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        population_size: int = 4,
        perturbation_interval: int = 2,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        keep_on_exploit: tuple[str, ...] = ("hidden_layer_sizes",),
    ) -> None:
        require("syne_tune", "syne-tune", "synetune")
        super().__init__(space, seed)
        self.population_size = population_size
        self.options = {
            "population_size": population_size,
            "perturbation_interval": perturbation_interval,
            "quantile_fraction": quantile_fraction,
            "resample_probability": resample_probability,
        }
        self.keep = [name for name in keep_on_exploit if name in space.names]

    def start(self, handle: SearchHandle) -> None:
        self.max_t = max_units(handle.fidelity_low)
        self.scheduler = PopulationBasedTraining(
            synetune_space(self.space), METRIC, RESOURCE, max_t=self.max_t,
            random_seed=self.seed, **self.options,
        )  # fmt: skip
        self.ids, self.numbers, self.turns = itertools.count(), itertools.count(), itertools.count()
        self.members: dict[int, Member] = {}
        self.stopped: list[int] = []  # members stopped by an exploit, as syne-tune stacks them
        self.reached: dict[int, tuple[dict[str, Any], int]] = {}  # trial: its config, units
        self.numpy = OwnRandom(self.seed)

    def ask(self, n: int) -> list[Proposal]:
        with self.numpy:  # its new members' configurations: adapters.synetune_search.OwnRandom
            while len(self.members) < self.population_size:
                self._join(self.scheduler.suggest())
        # A replacement first, so it copies the other member's models as they were reported
        # (syne-tune's checkpoint), before that member trains on; then round-robin.
        idle = [
            (m.continues is None, m.turn, number)
            for number, m in self.members.items()
            if not m.busy
        ]
        return [self._next(number) for *_, number in sorted(idle)[:n]]

    def tell(self, proposal: Proposal, loss: float) -> None:
        number, trial, units = proposal.member, *proposal.token
        if math.isnan(loss):  # the member's training failed: it ends
            self.scheduler.on_trial_error(trial)
            del self.members[number]
            return
        member = self.members[number]
        member.busy, member.units = False, units
        self.reached[trial.trial_id] = (trial.config, units)
        decision = self.scheduler.on_trial_result(trial, {METRIC: loss, RESOURCE: units})
        if decision == SchedulerDecision.STOP:
            del self.members[number]
            if units < self.max_t:  # an exploit: its replacement is syne-tune's next suggestion
                self.stopped.append(number)

    def _join(self, suggestion: Any) -> None:
        """A new member, or a stopped one's replacement continuing another member's models."""
        config, units, continues = suggestion.config, 0, None
        if suggestion.checkpoint_trial_id is not None:
            source, units = self.reached[suggestion.checkpoint_trial_id]
            config = config | {name: source[name] for name in self.keep}
            continues = decode(self.space, source)
            number = self.stopped.pop()  # syne-tune pops its decisions last-in, first-out
        else:
            number = next(self.numbers)
        trial = Trial(next(self.ids), config, datetime.datetime.now())
        self.scheduler.on_trial_add(trial)
        # Quirk: syne-tune's new trial from a checkpoint starts with no perturbation time, so
        # the scheduler would rank it again after one unit, against members' older scores, and
        # a weak member would be replaced over and over. Ray Tune's PBT, which syne-tune's
        # adapts, keeps the time of the last perturbation: set it to the checkpoint's units.
        self.scheduler.trial_state[trial.trial_id].last_perturbation_time = units
        self.members[number] = Member(trial, units, next(self.turns), continues)

    def _next(self, number: int) -> Proposal:
        """The member's next unit of training."""
        member = self.members[number]
        member.busy, member.turn, units = True, next(self.turns), member.units + 1
        params = decode(self.space, member.trial.config)
        continues, member.continues = member.continues, None
        return Proposal(
            params, min(1.0, units / self.max_t), token=(member.trial, units), member=number,
            continues=continues,
        )  # fmt: skip
