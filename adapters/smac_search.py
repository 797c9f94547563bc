"""SMAC3's facades (random-forest HPO, Gaussian-process black-box) by SMAC's ask/tell.

Space: `configspace(space)`, the neutral space as a ConfigSpace: float and int -> `Float` /
`Integer` with `log`; categorical -> `Categorical` (its choices as they are, None and booleans
included); a condition -> an `EqualsCondition` (one value) or `InCondition` (several), joined
by an `AndConjunction` when a parameter has several parents. SMAC models conditional spaces
natively (inactive parameters are imputed in its surrogate).

The facade is made with no target function (SMAC's pure ask-and-tell use, which starts no
runner) on a `Scenario` with `deterministic=True` (an evaluation's loss depends on its
configuration alone, so SMAC's intensifier runs each configuration once), the strategy's seed,
`n_trials` the budget and `n_workers` the harness's k: k trials asked before their results are
told, as SMAC's own parallel runner asks whenever a worker is free. SMAC writes its run
history to a temporary folder, deleted when the search ends.

A failed trial is told `StatusType.CRASHED`, as SMAC's own runner tells a target function
that raised, but with the worst loss told so far as its cost rather than the scenario's
`crash_cost`: its default (inf) turns the surrogate's training targets into NaN (the
encoders scale costs by their range), and no finite crash cost fits every metric's scale.
Failures before any success wait until one arrives (as in the scikit-optimize adapter).
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

try:
    import smac
    from ConfigSpace import (
        AndConjunction,
        Categorical,
        ConfigurationSpace,
        EqualsCondition,
        Float,
        InCondition,
        Integer,
    )
    from smac.acquisition.maximizer.local_search import LocalSearch
    from smac.runhistory.dataclasses import TrialValue
    from smac.runhistory.enumerations import StatusType
except ImportError:  # the smac extra: SmacSearch refuses the study without it
    smac = None
else:
    # Quirk: SMAC's local search starts from `list(set(points))`, and a Configuration hashes
    # its repr, so that order (and every proposal after the initial design) follows Python's
    # string hashing, which differs from one process to the next (PYTHONHASHSEED): the same
    # seed and losses gave other trials in another process. The same start points, in one
    # order (their reprs'), make the same seed give the same trials everywhere.
    _unordered = LocalSearch._get_initial_points
    LocalSearch._get_initial_points = lambda *args: sorted(_unordered(*args), key=repr)


class SmacSearch(Strategy):
    """`facade` is the name of one of SMAC's facades, made with its own defaults."""

    facades: tuple[str, ...] = ("HyperparameterOptimizationFacade", "BlackBoxFacade")

    def __init__(
        self, space: SearchSpace, seed: int, facade: str = "HyperparameterOptimizationFacade"
    ) -> None:
        require("smac", "SMAC3", "smac")
        super().__init__(space, seed)
        if facade not in self.facades:
            raise ValueError(f"facade is {facade!r}; set it to one of {', '.join(self.facades)}")
        self.facade = facade

    def start(self, handle: SearchHandle) -> None:
        folder = tempfile.TemporaryDirectory(prefix="tunebench-smac-")
        weakref.finalize(self, folder.cleanup)  # SMAC's files go when the strategy does
        scenario = smac.Scenario(
            configspace(self.space),
            deterministic=True,
            n_workers=handle.workers,
            seed=self.seed,
            output_directory=Path(folder.name),
            **self.scenario_options(handle),
        )
        facade = getattr(smac, self.facade)
        options = self.facade_options(facade, scenario)
        self.smac = facade(scenario, None, overwrite=True, logging_level=logging.WARNING, **options)
        self.worst = -math.inf  # the worst loss told so far
        self.failed: list[Any] = []  # failed trials waiting for a first success

    def scenario_options(self, handle: SearchHandle) -> dict[str, Any]:
        """What the `Scenario` gets beyond the space, seed, workers and folder."""
        return {"n_trials": handle.n_trials}

    def facade_options(self, facade: type, scenario: Any) -> dict[str, Any]:
        """What the facade gets beyond SMAC's defaults: nothing here."""
        return {}

    def ask(self, n: int) -> list[Proposal]:
        with warnings.catch_warnings():
            # SMAC's local search logs the mean time of its steps at debug level, computed even
            # when it took none: numpy's "Mean of empty slice" and "invalid value" warnings.
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            infos = [self.smac.ask() for _ in range(n)]
        return [Proposal(self._params(info.config), info.budget, token=info) for info in infos]

    def tell(self, proposal: Proposal, loss: float) -> None:
        if math.isnan(loss):
            self.failed.append(proposal.token)
        else:
            self.smac.tell(proposal.token, TrialValue(cost=loss), save=False)
            self.worst = max(self.worst, loss)
        if self.worst > -math.inf:
            crashed = TrialValue(cost=self.worst, status=StatusType.CRASHED)
            for info in self.failed:
                self.smac.tell(info, crashed, save=False)
            self.failed = []

    def _params(self, config: Any) -> dict[str, Any]:
        values = dict(config)
        return plain({name: values[name] for name in self.space.names if name in values})


def configspace(space: SearchSpace, seed: int | None = None) -> Any:
    """The neutral space as a ConfigSpace `ConfigurationSpace`, conditions included."""
    cs = ConfigurationSpace(seed=seed)
    cs.add([_hyperparameter(p) for p in space.params])
    conditions = []
    for p in space.params:
        parts = [
            EqualsCondition(cs[p.name], cs[parent], values[0])
            if len(values) == 1
            else InCondition(cs[p.name], cs[parent], list(values))
            for parent, values in p.condition.items()
        ]
        if parts:
            conditions.append(parts[0] if len(parts) == 1 else AndConjunction(*parts))
    cs.add(conditions)
    return cs


def _hyperparameter(p: Param) -> Any:
    if p.type == "categorical":
        return Categorical(p.name, list(p.choices))
    kind = Integer if p.type == "int" else Float
    return kind(p.name, (p.low, p.high), log=p.log)
