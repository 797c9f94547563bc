"""hyperopt's algorithms (TPE, random search, simulated annealing) driven as its `fmin` drives
them: on a `Domain` and a `Trials`, `algo(new_ids, domain, trials, seed)` for each new trial,
with `rstate.integers(2**31 - 1)` as the seed, the trials inserted and refreshed, and each
result written into its trial document, so the same seed and losses give what `fmin` gives
(tests/test_native.py). With k workers the trials in flight are hyperopt's queue of pending
(running) trials, as in its asynchronous mode (`max_queue_len`): the algorithms propose
without their results.

Space: float -> `hp.uniform` / `hp.loguniform`; int -> `hp.uniformint` / an int-cast
`hp.qloguniform` with q=1 (rounding gives the end points half the weight of the others);
categorical -> `hp.choice`. Conditional parameters take hyperopt's documented nested form: one
`hp.choice` over the combinations of the condition parents (`SearchSpace.subspaces()`, so each
combination is as likely as in random search), each branch a dict of the parameters active
under it. A parameter active in several branches is one shared node, so it is modelled once,
but the parents are modelled jointly as that one choice rather than each on its own.

A failed trial is told STATUS_FAIL, which hyperopt's algorithms leave out of their models.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import (
    JOB_STATE_DONE,
    JOB_STATE_RUNNING,
    STATUS_FAIL,
    STATUS_OK,
    Domain,
    Trials,
    anneal,
    hp,
)
from hyperopt.base import spec_from_misc
from hyperopt.pyll import rec_eval, scope

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import Param, SearchSpace

logging.getLogger("hyperopt").setLevel(logging.WARNING)  # the harness reports every trial


class HyperoptSearch(Strategy):
    """`algo` is e.g. `tpe.suggest` or a partial of it with options such as `n_startup_jobs`;
    the random state is `default_rng(seed)`, as `fmin(..., rstate=default_rng(seed))`."""

    def __init__(self, space: SearchSpace, seed: int, algo: Callable[..., Any]) -> None:
        super().__init__(space, seed)
        self.algo = algo

    def start(self, handle: SearchHandle) -> None:
        self.domain = Domain(_never_called, hyperopt_space(self.space))
        self.trials = Trials()
        self.rstate = np.random.default_rng(self.seed)

    def ask(self, n: int) -> list[Proposal]:
        """One call of the algorithm for the n free workers, as fmin's queue asks; anneal
        proposes one trial per call (its suggest takes a single id), so it is called n times."""
        one_by_one = getattr(self.algo, "func", self.algo) is anneal.suggest
        docs = [doc for size in ([1] * n if one_by_one else [n]) for doc in self._suggest(size)]
        proposals = []
        for doc in docs:
            doc["state"] = JOB_STATE_RUNNING
            memo = self.domain.memo_from_config(spec_from_misc(doc["misc"]))
            sample = rec_eval(self.domain.expr, memo=memo)
            params = {n: sample[n] for n in self.space.names if n in sample}
            proposals.append(Proposal(params, token=doc))
        return proposals

    def _suggest(self, n: int) -> list[dict[str, Any]]:
        new_ids = self.trials.new_trial_ids(n)
        self.trials.refresh()
        docs = self.algo(new_ids, self.domain, self.trials, self.rstate.integers(2**31 - 1))
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        return docs

    def tell(self, proposal: Proposal, loss: float) -> None:
        doc = proposal.token
        doc["state"] = JOB_STATE_DONE
        ok = not math.isnan(loss)
        doc["result"] = {"loss": loss, "status": STATUS_OK} if ok else {"status": STATUS_FAIL}
        self.trials.refresh()


def _never_called(sample: dict[str, Any]) -> None:
    """The Domain's objective: the harness evaluates, so hyperopt never calls it."""
    raise AssertionError("hyperopt called its objective")


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
