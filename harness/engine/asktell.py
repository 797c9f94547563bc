"""What a strategy and the trial loop say to each other: proposals, and the little a strategy
may know about its search.

A strategy proposes (`ask`) and is told losses (`tell`); the loop (harness.engine.loop)
decides when, so budget, time limits, workers, replay and records live in one place. A
strategy sees a `SearchHandle`, never the data, so it cannot peek at rows or time anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.problem.fidelity import Fidelity
from harness.problem.space import SearchSpace


@dataclass(frozen=True)
class Proposal:
    """One configuration to evaluate. `fidelity` (a fraction of the model's declared resource,
    None for all of it) asks for a partial evaluation; `token` is the strategy's own handle on
    it (an optuna trial, a hyperopt trial id), handed back with the loss.

    Population-based training says more: `member`, the population member the evaluation
    belongs to (recorded), and `continues`, the configuration (params) whose last fitted models
    this evaluation trains on with its own hyperparameters: another member's, after an exploit
    step (harness.engine.continuation). Without `continues` a rung continues its own models.
    A library that keeps members' models itself (Ray Tune's checkpoints) says instead whose
    fitted models it continued, `exploited_from` (a trial number)."""

    params: dict[str, Any]
    fidelity: float | None = None
    token: Any = field(default=None, compare=False)
    member: int | None = field(default=None, compare=False)
    continues: dict[str, Any] | None = field(default=None, compare=False)
    exploited_from: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SearchHandle:
    """What a strategy may know of the search it runs: how many full evaluations it may spend,
    how many workers evaluate at once, the fidelity's lowest fraction (None: no fidelity), and
    the model's defaults (its library's value of each parameter it has, by search-space name),
    so that a strategy can start where the baseline stands (`defaults_proposal`)."""

    n_trials: int
    workers: int = 1
    fidelity_low: float | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(
        cls,
        n_trials: int,
        workers: int,
        fidelity: Fidelity | None,
        defaults: Mapping[str, Any] | None = None,
    ) -> SearchHandle:
        return cls(n_trials, workers, fidelity.low if fidelity else None, dict(defaults or {}))

    def defaults_proposal(self, space: SearchSpace) -> Proposal:
        """The model's defaults as a proposal: every parameter of `space` active under them, at
        the library's default value (which may lie outside the space's range, as SVC's
        `gamma='scale'`: it is the baseline, not a point of the search). A parameter the model
        does not have (a model-selection space's `family`) is left out, as in the baseline."""
        params: dict[str, Any] = {}
        for p in space.params:
            if p.name in self.defaults and space.is_active(p, params):
                params[p.name] = self.defaults[p.name]
        return Proposal(params)


class Searcher(Protocol):
    """What the harness needs of a strategy (adapters.base.Strategy is one): whether it
    proposes partial evaluations, and a search on an objective (the harness's loop, unless
    its library runs its own)."""

    multi_fidelity: bool

    def search(self, objective: Any) -> None: ...
