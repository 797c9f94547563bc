"""scikit-optimize's `Optimizer`, ask-and-tell, with a GP, random-forest, extra-trees or
gradient-boosted-trees surrogate (what gp_minimize, forest_minimize and gbrt_minimize run).

Space: float and int -> `Real` / `Integer` with prior "log-uniform" or "uniform";
categorical -> `Categorical`. skopt has no conditional parameters: the optimiser sees every
parameter, always, and the objective gets only those active under the parents' values, so an
inactive parameter is a dimension the surrogate learns makes no difference.

A failed trial (NaN loss) cannot be told as NaN, since the surrogate needs a number for every
point. It is told the worst loss seen so far: the value skopt's own constant liar
(`ask(strategy="cl_max")`) gives a point without a result. Failures before any success wait
until one arrives; until a point is told, skopt keeps drawing initial points at random.
With k workers skopt proposes k points at once, `ask(n_points=k, strategy=liar)` (its
constant liar, cl_min by default as in skopt), and the next batch once all k are told.
"""

from __future__ import annotations

import math
from typing import Any

from skopt import Optimizer
from skopt.learning import GradientBoostingQuantileRegressor
from skopt.space import Categorical, Dimension, Integer, Real
from skopt.utils import cook_estimator

from adapters.base import Strategy
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

LIARS = ("cl_min", "cl_mean", "cl_max")  # skopt's constant-liar strategies for a batch
STD_QUANTILES = (0.16, 0.5, 0.84)  # skopt's GBRT: its spread (0.84 - 0.16) / 2 is the sd


class SkoptSearch(Strategy):
    """`Optimizer(dimensions, base_estimator, random_state=seed, **options)`; `options` are
    any of Optimizer's keywords (n_initial_points, acq_func, acq_optimizer, ...)."""

    parallel = "batch"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        base_estimator: str = "GP",
        liar: str = "cl_min",
        **options: Any,
    ) -> None:
        super().__init__(space, seed)
        if liar not in LIARS:
            raise ValueError(f"liar is {liar!r}; set it to one of {', '.join(LIARS)}")
        self.base_estimator = base_estimator
        self.liar = liar  # how a batch's points are proposed: cl_min, cl_mean or cl_max
        self.options = options

    def start(self, handle: SearchHandle) -> None:
        self.optimizer = Optimizer(
            [_dimension(p) for p in self.space.params],
            base_estimator=self._surrogate(),
            random_state=self.seed,
            **self.options,
        )
        self.asked = 0  # points of the batch in flight, not told yet
        self.pending: list[tuple[list[Any], float]] = []  # told us, not skopt; failures NaN

    def ask(self, n: int) -> list[Proposal]:
        """One point, or with k workers a batch of k by skopt's constant liar, once the last
        batch is told: skopt's documented parallel mode."""
        if self.asked:
            return []
        points = [self.optimizer.ask()] if n == 1 else self.optimizer.ask(n, self.liar)
        self.asked = len(points)
        return [Proposal(self._active(x), token=x) for x in points]

    def tell(self, proposal: Proposal, loss: float) -> None:
        self.pending.append((proposal.token, loss))
        self.asked -= 1
        known = [*self.optimizer.yi, *(y for _, y in self.pending if not math.isnan(y))]
        if known and not self.asked:
            worst = max(known)
            points = [x for x, _ in self.pending]
            self.optimizer.tell(points, [worst if math.isnan(y) else y for _, y in self.pending])
            self.pending = []

    def _active(self, x: list[Any]) -> dict[str, Any]:
        """The parameters active under the point's own parent values, in declaration order."""
        point = plain(dict(zip(self.space.names, x, strict=True)))
        return self.space.walk(lambda p: point[p.name])

    def _surrogate(self) -> Any:
        if self.base_estimator != "GBRT":
            return self.base_estimator
        gbrt = cook_estimator("GBRT", random_state=self.seed)
        return _QuantileGBRT(**gbrt.get_params(deep=False))


class _QuantileGBRT(GradientBoostingQuantileRegressor):
    """skopt 0.10.2's GBRT surrogate (what `base_estimator="GBRT"` builds), mended for the
    libraries pinned here: tagged as the regressor it is, which its mixin order hides from
    scikit-learn >= 1.6's tags (so Optimizer refused it), and its standard deviation read
    without `np.in1d`, which numpy 2.4 removed."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        return tags

    def predict(self, X: Any, return_std: bool = False, return_quantiles: bool = False) -> Any:
        if not return_std or return_quantiles:
            return super().predict(X, return_quantiles=return_quantiles)
        low, mean, high = (
            self.regressors_[self.quantiles.index(q)].predict(X) for q in STD_QUANTILES
        )
        return mean, (high - low) / 2.0


def _dimension(p: Param) -> Dimension:
    if p.type == "categorical":
        return Categorical(list(p.choices), name=p.name)
    prior = "log-uniform" if p.log else "uniform"
    kind = Integer if p.type == "int" else Real
    return kind(p.low, p.high, prior=prior, name=p.name)
