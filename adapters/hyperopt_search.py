"""hyperopt's fmin with one of its algorithms: TPE, random search or simulated annealing.

Space: float -> `hp.uniform` / `hp.loguniform`; int -> `hp.uniformint` / an int-cast
`hp.qloguniform` with q=1 (rounding gives the end points half the weight of the others);
categorical -> `hp.choice`. Conditional parameters take hyperopt's documented nested form: one
`hp.choice` over the combinations of the condition parents (`SearchSpace.subspaces()`, so each
combination is as likely as in random search), each branch a dict of the parameters active
under it. A parameter active in several branches is one shared node, so it is modelled once,
but the parents are modelled jointly as that one choice rather than each on its own.

A failed trial returns STATUS_FAIL, which hyperopt's algorithms leave out of their models.
The harness's StopSearch ends fmin through `early_stop_fn`, hyperopt's own stopping hook.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, hp
from hyperopt.exceptions import AllTrialsFailed
from hyperopt.pyll import scope

from adapters.base import Strategy
from harness.engine.objective import Objective, StopSearch
from harness.problem.space import Param, SearchSpace

logging.getLogger("hyperopt").setLevel(logging.WARNING)  # the harness reports every trial


class HyperoptSearch(Strategy):
    """`fmin(..., algo=algo, rstate=default_rng(seed))`; `algo` is e.g. `tpe.suggest` or a
    partial of it with options such as `n_startup_jobs`."""

    def __init__(self, space: SearchSpace, seed: int, algo: Callable[..., Any]) -> None:
        super().__init__(space, seed)
        self.algo = algo

    def search(self, objective: Objective) -> None:
        stopped: list[StopSearch] = []

        def evaluate(sample: dict[str, Any]) -> dict[str, Any]:
            try:
                loss = objective({n: sample[n] for n in self.space.names if n in sample})
            except StopSearch as e:
                stopped.append(e)
                return {"status": STATUS_FAIL}
            return (
                {"status": STATUS_FAIL} if math.isnan(loss) else {"loss": loss, "status": STATUS_OK}
            )

        # fmin ends by looking up the best trial, which raises when every trial failed; the
        # search is over by then, and the harness picks the best itself.
        with contextlib.suppress(AllTrialsFailed):
            fmin(
                evaluate,
                hyperopt_space(self.space),
                algo=self.algo,
                max_evals=objective.n_trials,
                trials=Trials(),
                rstate=np.random.default_rng(self.seed),
                early_stop_fn=lambda _, *args: (bool(stopped), args),
                show_progressbar=False,
            )
        if stopped:
            raise stopped[0]


def hyperopt_space(space: SearchSpace) -> dict[str, Any] | Any:
    """The space in hyperopt's form: a dict, or a choice of dicts when there are conditions."""
    subspaces = list(space.subspaces())
    searched = {p.name: p for _, free in subspaces for p in free}
    nodes = {name: _node(p) for name, p in searched.items()}  # one node each, shared
    branches = [fixed | {p.name: nodes[p.name] for p in free} for fixed, free in subspaces]
    if len(branches) == 1:
        return branches[0]
    parents = {parent for p in space.params for parent in p.condition}
    return hp.choice("|".join(n for n in space.names if n in parents), branches)


def _node(p: Param) -> Any:
    if p.type == "categorical":
        return hp.choice(p.name, list(p.choices))
    if p.type == "float":
        if p.log:
            return hp.loguniform(p.name, math.log(p.low), math.log(p.high))
        return hp.uniform(p.name, p.low, p.high)
    if p.log:
        return scope.int(hp.qloguniform(p.name, math.log(p.low), math.log(p.high), 1))
    return hp.uniformint(p.name, p.low, p.high)
