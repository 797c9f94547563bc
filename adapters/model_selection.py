"""The two model-selection recipes the tuning guides give, as strategies on model=cash's space:
`select_then_tune` (choose the family by its defaults' inner-CV score, then spend the rest of
the budget tuning it) and `tune_each` (the budget split evenly across families, each tuned; the
best inner score wins, as in any study).

The families are the choices of the space's first parameter (`family` with model=cash; any
space whose first parameter is categorical runs the same way, e.g. sgd's `loss`). The tuning
itself is delegated to an inner strategy (`inner`: any ask/tell strategy's adapter config,
random search by default), made on one family's space (`SearchSpace.fixed`), seeded, and
given its share of the budget; its proposals are told back to it. A family's defaults are the
proposal `{family: f}`, every other parameter at the library's default: a trial like any
other, so select_then_tune spends one trial per family before it tunes (the budget counts
them), and its trial table shows them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from hydra.utils import instantiate

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace


class Recipe(Strategy):
    """A recipe over the families: an inner strategy per family it tunes."""

    def __init__(self, space: SearchSpace, seed: int, inner: Any) -> None:
        super().__init__(space, seed)
        self.inner = inner  # the inner strategy's adapter config (`_target_` and options)
        self.told = getattr(instantiate(inner, _partial_=True).func, "told", ())  # passed on
        first = space.params[0] if len(space) else None
        self.choice = first.name if first is not None and first.type == "categorical" else None

    @property
    def families(self) -> list[Any]:
        return list(self.space[self.choice].choices) if self.choice else []

    def cannot_run(self, n_trials: int) -> str | None:
        """Why this search cannot run (one line for the user); None when it can."""
        if self.choice is None:
            return (
                "it chooses among the values of the space's first parameter, a categorical "
                "(model=cash's family), and this space starts with none; use model=cash"
            )
        kind = instantiate(self.inner, _partial_=True).func
        if kind.multi_fidelity or kind.search is not Strategy.search:
            return (
                f"its inner strategy ({kind.__name__}) must propose full evaluations through "
                "ask/tell (random, tpe, smac, ...); choose another with strategy@strategy.inner="
            )
        if n_trials < len(self.families):
            return (
                f"budget.n_trials is {n_trials}, fewer than its {len(self.families)} families "
                f"({', '.join(map(str, self.families))}); set budget.n_trials >= "
                f"{len(self.families)} or list fewer families"
            )
        return None

    def tuner(self, family: Any, k: int, n_trials: int) -> Strategy:
        """The inner strategy on `family`'s space, seeded apart for each family `k`, started
        with `n_trials` of the budget."""
        seed = int(np.random.SeedSequence([self.seed, k]).generate_state(1)[0])
        factory = instantiate(self.inner, _partial_=True)
        strategy = factory(space=self.space.fixed(self.choice, family), seed=seed)
        strategy.start(SearchHandle(n_trials, self.handle.workers))
        return strategy

    def wrap(self, family: Any, proposal: Proposal) -> Proposal:
        """The inner proposal as a configuration of the whole space; the token says whose."""
        return Proposal({self.choice: family} | proposal.params, token=(family, proposal))

    def tell(self, proposal: Proposal, loss: float, **told: object) -> None:
        family, inner = proposal.token
        if inner is not None:
            self.tuners[family].tell(inner, loss, **told)


class SelectThenTune(Recipe):
    """Each family's defaults first (one trial each), then the family whose defaults scored
    best on inner CV (the first on ties; a failed one never wins) tuned with the rest."""

    defaults_first: ClassVar[bool] = True  # proposes {family: f} alone, once per family

    def start(self, handle: SearchHandle) -> None:
        super().start(handle)
        self.tuners: dict[Any, Strategy] = {}
        self.waiting = list(self.families)  # defaults not yet proposed
        self.scores: dict[Any, float] = {}

    def ask(self, n: int) -> list[Proposal]:
        if self.waiting:
            asked, self.waiting = self.waiting[:n], self.waiting[n:]
            return [Proposal({self.choice: f}, token=(f, None)) for f in asked]
        if len(self.scores) < len(self.families):
            return []  # defaults still in flight
        if not self.tuners:
            best = min(self.families, key=lambda f: _worst_if_nan(self.scores[f]))
            left = self.handle.n_trials - len(self.families)
            self.tuners[best] = self.tuner(best, 0, left)
        [(family, tuner)] = self.tuners.items()
        return [self.wrap(family, p) for p in tuner.ask(n)]

    def tell(self, proposal: Proposal, loss: float, **told: object) -> None:
        family, inner = proposal.token
        if inner is None:
            self.scores[family] = loss
        super().tell(proposal, loss, **told)


class TuneEach(Recipe):
    """Every family tuned by its own inner strategy with an even share of the budget (the
    first n_trials % families get one more), proposals taken from the families in turn."""

    def start(self, handle: SearchHandle) -> None:
        super().start(handle)
        shares = np.array_split(np.arange(handle.n_trials), len(self.families))
        self.left = {f: len(s) for f, s in zip(self.families, shares, strict=True)}
        self.tuners = {f: self.tuner(f, k, self.left[f]) for k, f in enumerate(self.families)}
        self.turn = 0

    def ask(self, n: int) -> list[Proposal]:
        proposals: list[Proposal] = []
        idle = 0  # families in a row that proposed nothing
        while len(proposals) < n and idle < len(self.families):
            family = self.families[self.turn % len(self.families)]
            self.turn += 1
            asked = self.tuners[family].ask(1) if self.left[family] > 0 else []
            idle = 0 if asked else idle + 1
            for p in asked:
                self.left[family] -= 1
                proposals.append(self.wrap(family, p))
        return proposals


def _worst_if_nan(loss: float) -> float:
    return math.inf if math.isnan(loss) else loss
