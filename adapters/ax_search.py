"""Ax (Meta's adaptive experimentation platform: a Sobol start, then BoTorch's Gaussian process
with expected improvement) by its own ask/tell, the `ax.api.Client` of Ax 1.x:
`get_next_trials(max_trials=k)` / `complete_trial(index, raw_data)` / `mark_trial_failed`.

Space: `RangeParameterConfig` for floats and ints (log ones with `scaling="log"`);
`ChoiceParameterConfig` over the choices' positions, unordered (Ax's choices are of one type,
str, int, float or bool, and the shipped ones mix None with strings or numbers). Ax's own form
of conditions (`dependent_parameters`, a hierarchical search space) must be a tree with one
root, and the shipped spaces have several independent parents (loss and penalty), so Ax
searches every parameter always and the objective gets only those active under the parents'
values (as HEBO and scikit-optimize here): an inactive one is a dimension its GP learns makes
no difference.

Seeded: `Client(random_seed=seed)`, which Ax sets around every generation (its Sobol start,
the GP's fit and the acquisition's optimisation). Asynchronous: Ax proposes new trials while
others run, treating those as pending points; it may propose fewer than asked for (none
while its GP waits for the start's results), and the loop asks again when one returns. A
failed trial (NaN) is marked failed, Ax's documented way, and its model leaves it out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

try:
    from ax.api import ChoiceParameterConfig, Client, RangeParameterConfig
    from ax.utils.common.logger import set_ax_logger_levels
except ImportError:  # the ax extra: AxSearch refuses the study without it
    Client = None

INSTALL = 'pip install torch==2.13.0 && pip install -e ".[ax]"'
METRIC = "loss"
METHODS = ("fast", "quality", "random_search")


class AxSearch(Strategy):
    """`Client(random_seed=seed)` with `configure_generation_strategy(method,
    initialization_budget)`; None keeps Ax's default start size."""

    parallel = "asynchronous"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        method: str = "fast",
        initialization_budget: int | None = None,
    ) -> None:
        require("ax", "Ax", "ax", INSTALL)
        super().__init__(space, seed)
        if method not in METHODS:
            raise ValueError(f"method is {method!r}; set it to one of " + ", ".join(METHODS))
        self.method = method
        self.initialization_budget = initialization_budget

    def start(self, handle: SearchHandle) -> None:
        with quiet():
            self.client = client(self.space, self.seed)
            self.client.configure_generation_strategy(
                method=self.method, initialization_budget=self.initialization_budget
            )

    def ask(self, n: int) -> list[Proposal]:
        with quiet():
            trials = self.client.get_next_trials(max_trials=n)
        return [Proposal(active(point, self.space), token=i) for i, point in trials.items()]

    def tell(self, proposal: Proposal, loss: float) -> None:
        with quiet():
            if math.isnan(loss):
                self.client.mark_trial_failed(proposal.token, failed_reason="the trial failed")
            else:
                self.client.complete_trial(proposal.token, raw_data={METRIC: loss})


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Ax's quirks, in one place: it logs every trial it makes and completes (INFO), warns
    whenever it makes fewer trials than asked for (which the asynchronous loop does by design)
    or the losses are all equal, calls what pandas 3 deprecates, and GPyTorch warns when a fit
    needs more jitter (it then goes on with what it has): its loggers are set to errors only,
    those warnings silenced."""
    set_ax_logger_levels(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (UserWarning, RuntimeWarning, DeprecationWarning))
        warnings.simplefilter("ignore", FutureWarning)
        yield


def client(space: SearchSpace, seed: int) -> Any:
    """An Ax `Client` over the space, minimising the loss."""
    ax = Client(random_seed=seed)
    ax.configure_experiment(parameters=[parameter(p) for p in space.params])
    ax.configure_optimization(objective=f"-{METRIC}")
    return ax


def parameter(p: Param) -> Any:
    """One parameter as Ax's config: a range, or an unordered choice of positions."""
    if p.type == "categorical":
        return ChoiceParameterConfig(
            name=p.name,
            values=list(range(len(p.choices))),
            parameter_type="int",
            is_ordered=False,
        )
    return RangeParameterConfig(
        name=p.name,
        bounds=(p.low, p.high),
        parameter_type=p.type,
        scaling="log" if p.log else "linear",
    )


def active(point: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A point Ax proposed as a configuration: the parameters active under its own parent
    values, in declaration order, choices back from their positions."""

    def value(p: Param) -> Any:
        return p.choices[int(point[p.name])] if p.type == "categorical" else point[p.name]

    return plain(space.walk(value))
