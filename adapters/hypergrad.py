"""Gradient descent on the inner-CV loss in the logarithms of the model's differentiable
hyperparameters (strategy hypergrad), stepped by optax's Adam.

The strategy declares that it wants hypergradients (`told`), so the problem computes one with
every evaluation, by implicit differentiation (harness.problem.hypergradient): the strategy
sees no data, only the loss it descends (the smooth surrogate of the study's metric, the
metric itself where that is smooth), its gradient, and the point it was taken at. It starts at
the model's defaults (the first proposal is `{}`, which also tells it which hyperparameters
are differentiable and their default values); each further trial is one Adam step from the
last, projected onto the space's bounds. Other parameters of the space stay at the defaults.

Sequential: one proposal at a time (a study with more workers is refused before it starts).
Deterministic: it starts at the defaults and Adam draws nothing, so the seed changes nothing.
A failed trial has no gradient: the search goes back to the best point so far, Adam restarted
at half its learning rate; with no point to go back to, it stops.
"""

from __future__ import annotations

import math
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace

INSTALL = ("jax", "jaxopt", "optax")  # the hypergrad extra


class HyperGradient(Strategy):
    """`optax.adam(learning_rate)` on the log hyperparameters, from the model's defaults."""

    parallel = "none"
    told = ("hypergradient",)

    def __init__(self, space: SearchSpace, seed: int, learning_rate: float = 0.5) -> None:
        for module in INSTALL:
            require(module, "JAX, jaxopt and optax", "hypergrad")
        super().__init__(space, seed)
        self.learning_rate = float(learning_rate)  # > 0: harness.engine.options checks it

    def start(self, handle: SearchHandle) -> None:
        self.point: dict[str, float] | None = None  # log hyperparameters next; None: defaults
        self.best: tuple[float, dict[str, float]] | None = None  # (loss, log point)
        self.rate, self.adam, self.waiting, self.done = self.learning_rate, None, False, False

    def ask(self, n: int) -> list[Proposal]:
        if self.waiting or self.done:
            return []
        self.waiting = True
        point = self.point or {}
        return [Proposal({name: math.exp(x) for name, x in point.items()})]

    def tell(self, proposal: Proposal, loss: float, hypergradient: Any = None) -> None:
        self.waiting = False
        if hypergradient is None or math.isnan(loss):  # failed: back to the best point
            if self.best is None:
                self.done = True
            else:
                self.point, self.rate, self.adam = dict(self.best[1]), self.rate / 2, None
            return
        x = {name: math.log(value) for name, value in hypergradient["at"].items()}
        if self.best is None or hypergradient["loss"] < self.best[0]:
            self.best = (hypergradient["loss"], x)
        self.point = self._step(x, hypergradient["gradient"])

    def _step(self, x: dict[str, float], gradient: dict[str, float]) -> dict[str, float]:
        """One Adam step from x (in float64), projected onto the space's log bounds."""
        import jax
        import optax

        with jax.enable_x64(True):
            if self.adam is None:
                self.optimizer = optax.adam(self.rate)
                self.adam = self.optimizer.init(x)
            updates, self.adam = self.optimizer.update(gradient, self.adam, x)
            moved = optax.apply_updates(x, updates)
        return {
            name: min(
                max(float(v), math.log(self.space[name].low)), math.log(self.space[name].high)
            )
            for name, v in moved.items()
        }
