"""syne-tune's schedulers (ASHA, asynchronous Hyperband, BO + Hyperband, BORE), driven as its
simulator backend drives them: `suggest()` starts a trial, `on_trial_add` registers it, and each
report of it goes to `on_trial_result`, whose decision (continue or stop) says whether it
trains on.

Resource: the model's fidelity, counted in units of its lowest fraction (`low`, e.g. 20 of
mlp's 200 iterations), so `max_t` = 1 / low units (rounded up). A trial reports at the rungs
of its bracket and at `max_t`: where ASHA decides (syne-tune's simulator reports after every
epoch, and ASHA continues every report between rungs). A trial that goes on continues its
models where the model's fidelity continues training (each report then costs what it adds),
or refits at the next rung (costing its fraction). ASHA's rungs are `grace_period` x
`reduction_factor`^k units; `brackets: null` gives it as many brackets as rungs (syne-tune
0.16's asynchronous Hyperband: it has no `HyperbandScheduler` any more, and ASHA with
several brackets is what replaced it). BORE is
single-fidelity: one full evaluation per trial, told by `on_trial_complete`, as syne-tune's
`AskTellScheduler` tells it.

Space: float -> `uniform` / `loguniform`, int -> `randint` / `lograndint` (bounds included),
categorical -> `choice` over the positions of the choices, as strings (a syne-tune choice
holds values of one type, so None beside strings cannot be one). syne-tune has no conditional
parameters: the scheduler searches every parameter always and the model gets only the active
ones. A failed trial goes to `on_trial_error` and ends. With k workers, k trials (or reports
of running trials) are in flight, as on the simulator's k workers.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections import deque
from typing import Any

import numpy as np

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

try:
    import syne_tune
    from syne_tune import config_space as cs
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import BORE
    from syne_tune.optimizer.scheduler import SchedulerDecision
    from syne_tune.optimizer.schedulers.asha import AsynchronousSuccessiveHalving
    from syne_tune.optimizer.schedulers.searchers.searcher_factory import searchers
except ImportError:  # the synetune extra: the strategies refuse the study without it
    syne_tune = None

METRIC, RESOURCE = "loss", "resource"  # what each report holds: the loss, the units trained


class SyneTuneScheduler(Strategy):
    """syne-tune's `AsynchronousSuccessiveHalving` with one of its searchers (`random_search`:
    ASHA; `botorch`: a Gaussian process on each trial's last result, BO + Hyperband)."""

    multi_fidelity = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        searcher: str = "random_search",
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int | None = 1,
    ) -> None:
        require("syne_tune", "syne-tune", "synetune")
        if searcher == "botorch":
            require("botorch", "BoTorch", "synetune-gp")
        super().__init__(space, seed)
        if searcher not in searchers:
            raise ValueError(f"searcher is {searcher!r}; set it to one of {', '.join(searchers)}")
        self.options = {"grace_period": grace_period, "reduction_factor": reduction_factor}
        self.searcher, self.brackets = searcher, brackets

    def start(self, handle: SearchHandle) -> None:
        self.max_t = max_units(handle.fidelity_low)
        self.scheduler = self.make(synetune_space(self.space))
        self.ids = itertools.count()
        self.going_on: deque[Proposal] = deque()  # running trials told to continue
        self.numpy = OwnRandom(self.seed)

    def make(self, config_space: dict[str, Any]) -> Any:
        eta, grace = self.options["reduction_factor"], self.options["grace_period"]
        rungs = int(math.log(self.max_t / grace) / math.log(eta)) + 1
        return AsynchronousSuccessiveHalving(
            config_space, METRIC, searcher=self.searcher, time_attr=RESOURCE, max_t=self.max_t,
            brackets=self.brackets or rungs, random_seed=self.seed, **self.options,
        )  # fmt: skip

    def ask(self, n: int) -> list[Proposal]:
        """The next reports of trials going on first (the simulator runs a trial on until it
        is stopped), then new trials."""
        proposals = [self.going_on.popleft() for _ in range(min(n, len(self.going_on)))]
        with self.numpy:
            while len(proposals) < n and (suggestion := self.scheduler.suggest()) is not None:
                trial = Trial(next(self.ids), suggestion.config, datetime.datetime.now())
                self.scheduler.on_trial_add(trial)
                proposals.append(self.report(trial, self.next_report(trial, 0)))
        return proposals

    def tell(self, proposal: Proposal, loss: float) -> None:
        trial, units = proposal.token
        with self.numpy:
            if math.isnan(loss):
                self.scheduler.on_trial_error(trial)
                return
            decision = self.scheduler.on_trial_result(trial, {METRIC: loss, RESOURCE: units})
        if decision == SchedulerDecision.CONTINUE and units < self.max_t:
            self.going_on.append(self.report(trial, self.next_report(trial, units)))

    def next_report(self, trial: Any, units: int) -> int:
        """The next units at which ASHA decides on `trial`: its bracket's next rung, or max_t.
        (Reports in between, which syne-tune's simulator makes every epoch, always continue;
        skipping them spares their evaluations. Read from ASHA's record of the trial's
        bracket, `trial_info`, which its API does not expose.)"""
        rungs = [m for m, _ in self.scheduler.trial_info[trial.trial_id].rungs if m > units]
        return min([math.ceil(m) for m in rungs if m < self.max_t] + [self.max_t])

    def report(self, trial: Any, units: int, **more: Any) -> Proposal:
        """The evaluation after which `trial` reports having trained `units` units."""
        fidelity = min(1.0, units / self.max_t) if self.multi_fidelity else None
        params = decode(self.space, trial.config)
        return Proposal(params, fidelity, token=(trial, units), **more)


class SyneTuneBORE(SyneTuneScheduler):
    """syne-tune's `BORE` baseline (its classifier-based density-ratio BO), single-fidelity."""

    multi_fidelity = False

    def __init__(self, space: SearchSpace, seed: int) -> None:
        super().__init__(space, seed)

    def make(self, config_space: dict[str, Any]) -> Any:
        return BORE(config_space, METRIC, random_seed=self.seed)

    def next_report(self, trial: Any, units: int) -> int:
        return 1  # its one full evaluation

    def tell(self, proposal: Proposal, loss: float) -> None:
        trial, _ = proposal.token
        with self.numpy:
            if math.isnan(loss):
                self.scheduler.on_trial_error(trial)
            else:
                self.scheduler.on_trial_complete(trial, {METRIC: loss})


class OwnRandom:
    """numpy's global random state, swapped for a seeded one of the strategy's own while it
    calls its scheduler (`with`), and left as it was afterwards.

    Quirk: syne-tune 0.16 draws from numpy's global random state where its seeds do not reach:
    its RandomSearcher samples with `Domain.sample()` (ASHA's and PBT's new configurations),
    ASHA picks each trial's bracket with `np.random.choice`, and BORE's differential evolution
    uses `np.random`. Without this a seeded search would not repeat itself."""

    def __init__(self, seed: int) -> None:
        self.state = np.random.RandomState(seed).get_state()

    def __enter__(self) -> None:
        self.saved = np.random.get_state()
        np.random.set_state(self.state)

    def __exit__(self, *exc: object) -> None:
        self.state = np.random.get_state()
        np.random.set_state(self.saved)


def max_units(low: float | None) -> int:
    """The full resource in units of its lowest fraction (1: no fidelity, one report)."""
    return 1 if low is None else math.ceil(1 / low - 1e-9)


def synetune_space(space: SearchSpace) -> dict[str, Any]:
    """The neutral space as a syne-tune config space, every parameter unconditional."""
    return {p.name: _domain(p) for p in space.params}


def decode(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """A syne-tune config as a configuration: the active parameters, in declaration order."""
    return plain(
        space.walk(lambda p: p.choices[int(config[p.name])] if p.type == "categorical" else
                   config[p.name])
    )  # fmt: skip


def _domain(p: Param) -> Any:
    if p.type == "categorical":
        return cs.choice([str(i) for i in range(len(p.choices))])
    if p.type == "int":
        return (cs.lograndint if p.log else cs.randint)(int(p.low), int(p.high))
    return (cs.loguniform if p.log else cs.uniform)(p.low, p.high)
