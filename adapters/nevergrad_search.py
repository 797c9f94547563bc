"""Nevergrad's optimisers (NGOpt, TwoPointsDE, PSO, OnePlusOne, ...) by its ask/tell interface.

Space: the neutral space in Nevergrad's own parametrization, an `ng.p.Dict`: float ->
`ng.p.Scalar` / `ng.p.Log` with bounds; int -> the same with `set_integer_casting()`;
categorical -> `ng.p.Choice`. Conditional parameters take Nevergrad's nested form: one
`ng.p.Choice` over sub-dicts, one per combination of the condition parents
(`SearchSpace.subspaces()`, as the hyperopt adapter nests them), each holding the parameters
active under it (a parameter active in several branches is a separate variable in each).

Seeded as Nevergrad documents, through the parametrization's random state
(`parametrization.random_state.seed(seed)`). With k workers the optimiser is made with
`num_workers=k`, Nevergrad's parallel mode: up to k candidates are asked before their losses
are told, each told as its evaluation ends. A failed trial (NaN) is told `float("inf")`:
Nevergrad's `tell` turns a non-finite loss into its own worst value (5e20), which every
optimiser ranks below any real loss; the warning it prints each time is silenced.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

try:
    import nevergrad as ng
    from nevergrad.common.errors import NevergradWarning
except ImportError:  # the nevergrad extra: NevergradSearch refuses the study without it
    ng = None


class NevergradSearch(Strategy):
    """`ng.optimizers.registry[optimizer](parametrization, budget, num_workers)`."""

    def __init__(self, space: SearchSpace, seed: int, optimizer: str = "NGOpt") -> None:
        require("nevergrad", "Nevergrad", "nevergrad")
        super().__init__(space, seed)
        if optimizer not in ng.optimizers.registry:
            raise ValueError(
                f"optimizer is {optimizer!r}, not one of Nevergrad's optimizers; set it to a "
                "name in nevergrad.optimizers.registry, e.g. NGOpt"
            )
        self.optimizer = optimizer

    def start(self, handle: SearchHandle) -> None:
        parametrization = nevergrad_space(self.space)
        parametrization.random_state.seed(self.seed)
        self.ng = ng.optimizers.registry[self.optimizer](
            parametrization=parametrization, budget=handle.n_trials, num_workers=handle.workers
        )

    def ask(self, n: int) -> list[Proposal]:
        candidates = [self.ng.ask() for _ in range(n)]
        return [Proposal(flat(c.value, self.space), token=c) for c in candidates]

    def tell(self, proposal: Proposal, loss: float) -> None:
        with warnings.catch_warnings():  # a failed trial's inf: "Clipping very high value"
            warnings.simplefilter("ignore", NevergradWarning)
            self.ng.tell(proposal.token, math.inf if math.isnan(loss) else loss)


def nevergrad_space(space: SearchSpace) -> Any:
    """The space as an `ng.p.Dict`, or a Choice of them when there are conditions: either way a
    candidate's value is a dict."""
    branches = []
    for fixed, free in space.subspaces():
        entries = fixed | {p.name: _parameter(p) for p in free}
        # In declaration order: a Dict lays its parameters out in the order it is given them.
        branches.append(ng.p.Dict(**{n: entries[n] for n in space.names if n in entries}))
    return branches[0] if len(branches) == 1 else ng.p.Choice(branches)


def flat(value: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A candidate's value (the chosen branch's dict) as a configuration: in declaration order,
    plain Python values."""
    return plain({name: value[name] for name in space.names if name in value})


def _parameter(p: Param) -> Any:
    if p.type == "categorical":
        return ng.p.Choice(list(p.choices))
    kind = ng.p.Log if p.log else ng.p.Scalar
    scalar = kind(lower=p.low, upper=p.high)
    return scalar.set_integer_casting() if p.type == "int" else scalar
