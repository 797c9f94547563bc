"""FLAML's searchers, CFO (cost-frugal randomised direct search) and BlendSearch (optuna's TPE
blended with CFO's local threads), by the interface `flaml.tune.run` drives them with:
`suggest(trial_id)`, then `on_trial_result` and `on_trial_complete` with the trial's result.

Space, as a FLAML user writes it: float -> `tune.uniform` / `tune.loguniform`; int ->
`tune.randint` / `tune.lograndint` (upper bound exclusive: high + 1); categorical ->
`tune.choice`. A conditional parameter goes inside its parent's choice, FLAML's form for
hierarchical spaces: the parent becomes a `tune.choice` of dicts, one per value, each holding the
value and the parameters active under it (nested again for a conditional parent). A parameter
conditional on two parents has no such form: the study is refused in one line. FLAML's values
come back as its own numbers (a float at a bound as an int, numpy scalars): read back as the
parameter's type, ints rounded and clipped into range.

Seeded with the strategy's seed (`seed`; BlendSearch seeds its optuna sampler from it). No
`low_cost_partial_config` by default: the neutral space says nothing of which values are cheap,
so FLAML starts from a point drawn from its seed, as it documents; `low_cost_partial_config`
names start values of unconditional numeric parameters (e.g. `{n_estimators: 10}`). Cost: each
result carries the trial's recorded fit seconds (`fit_seconds`); `cost: fit_seconds` makes it
FLAML's `cost_attr`. CFO uses cost only to raise a resource dimension, which tunebench does not
give it, so its proposals do not depend on it; BlendSearch weighs its threads by cost per gain,
so with measured seconds the same seed would give other trials: `flaml_bs` counts each trial as
cost 1 (`cost: null`, FLAML's own default under a trial budget), and `cost=fit_seconds` is there
for whoever prefers FLAML's cost-frugality to reproducibility.

A `None` from `suggest` (a configuration already tried, or the local search restarting) is asked
again, up to 100 times in a row as `flaml.tune.run` does (its `max_failure`), then the search
ends; with trials in flight the strategy waits for them instead. With k workers up to k
suggestions are in flight, as with `flaml.tune.run(use_ray=True)`. A failed trial is told as Ray
Tune tells a searcher of an errored one, `on_trial_complete(trial_id, None, error=True)`: never
a result, and its configuration is not proposed again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import Param, SearchSpace

try:
    from flaml import tune
    from flaml.tune.searcher import CFO, BlendSearch

    SEARCHERS = {"CFO": CFO, "BlendSearch": BlendSearch}
    # FLAML logs that no low-cost config was given, and BlendSearch's optuna study its creation.
    logging.getLogger("flaml.tune.searcher.blendsearch").setLevel(logging.WARNING)
except ImportError:  # the flaml extra: FlamlSearch refuses the study without it
    tune = None

METRIC = "loss"
MAX_FAILURE = 100  # flaml.tune.run's default: None suggestions in a row before it stops
COSTS = ("fit_seconds", None)


class FlamlSearch(Strategy):
    """`searcher(metric="loss", mode="min", space, seed, low_cost_partial_config, cost_attr)`,
    searcher CFO or BlendSearch."""

    told = ("fit_seconds",)

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        searcher: str = "CFO",
        cost: str | None = "fit_seconds",
        low_cost_partial_config: Mapping[str, Any] | None = None,
    ) -> None:
        require("flaml", "FLAML", "flaml")
        super().__init__(space, seed)
        if searcher not in SEARCHERS:
            raise ValueError(f"searcher is {searcher!r}; set it to one of {', '.join(SEARCHERS)}")
        if cost not in COSTS:
            raise ValueError(f"cost is {cost!r}; set it to fit_seconds or null")
        self.searcher, self.cost = SEARCHERS[searcher], cost
        self.start_config = start_values(space, dict(low_cost_partial_config or {}))
        self.flaml_space = flaml_space(space)

    def start(self, handle: SearchHandle) -> None:
        self.flaml = self.searcher(
            metric=METRIC, mode="min", space=self.flaml_space, seed=self.seed,
            low_cost_partial_config=self.start_config or None, cost_attr=self.cost,
            num_samples=handle.n_trials,  # as flaml.tune.run tells it (BlendSearch weighs it)
        )  # fmt: skip
        self.asked = 0
        self.in_flight = 0

    def ask(self, n: int) -> list[Proposal]:
        proposals = []
        for _ in range(n):
            config = self._suggest()
            if config is None:
                break
            proposals.append(Proposal(flat(config, self.space), token=(self.trial_id, config)))
        self.in_flight += len(proposals)
        return proposals

    def _suggest(self) -> dict[str, Any] | None:
        """FLAML's next configuration, asked again after a None as flaml.tune.run does (only
        while nothing is in flight: then the searcher is waiting for results)."""
        for _ in range(MAX_FAILURE if self.in_flight == 0 else 1):
            self.trial_id = str(self.asked)
            self.asked += 1
            config = self.flaml.suggest(self.trial_id)
            if config is not None:
                return config
        return None

    def tell(self, proposal: Proposal, loss: float, fit_seconds: float = math.nan) -> None:
        trial_id, config = proposal.token
        self.in_flight -= 1
        if math.isnan(loss):
            self.flaml.on_trial_complete(trial_id, None, error=True)
            return
        # As flaml.tune.run reports a result: its one report is training iteration 0.
        result = {METRIC: loss, "fit_seconds": fit_seconds, "config": config}
        result["training_iteration"] = 0
        self.flaml.on_trial_result(trial_id, result)
        self.flaml.on_trial_complete(trial_id, result)


def flaml_space(space: SearchSpace, parent: tuple[str, Any] | None = None) -> dict[str, Any]:
    """The parameters conditional on `parent` (name, value), or the unconditional ones, as a
    FLAML space: a parent of conditional parameters as a choice of one dict per value."""
    for p in space.params:
        if len(p.condition) > 1:
            raise ValueError(
                f"'{p.name}' has conditions on {', '.join(p.condition)}; FLAML nests a "
                "conditional parameter in one parent's choice: condition it on one parameter"
            )
    if parent is None:
        return {p.name: _domain(p, space) for p in space.params if not p.condition}
    under = dict([parent])
    return {
        p.name: _domain(p, space)
        for p in space.params
        if parent[0] in p.condition and space.is_active(p, under)
    }


def _domain(p: Param, space: SearchSpace) -> Any:
    children = [q for q in space.params if p.name in q.condition]
    if p.type == "categorical":
        if not children:
            return tune.choice(list(p.choices))
        return tune.choice([{p.name: c} | flaml_space(space, (p.name, c)) for c in p.choices])
    if p.type == "int":
        return (tune.lograndint if p.log else tune.randint)(int(p.low), int(p.high) + 1)
    return (tune.loguniform if p.log else tune.uniform)(p.low, p.high)


def flat(config: Mapping[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A FLAML configuration (nested dicts for conditional parameters) as a configuration of
    the space: the active parameters in declaration order, each of its own type."""
    values: dict[str, Any] = {}

    def collect(node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            if isinstance(value, Mapping):
                collect(value)
            else:
                values[name] = value

    collect(config)
    return space.walk(lambda p: value_of(p, values[p.name]))


def value_of(p: Param, value: Any) -> Any:
    """FLAML's value as the parameter's own."""
    if p.type == "categorical":
        return value
    if p.type == "int":
        return min(max(round(float(value)), int(p.low)), int(p.high))
    return min(max(float(value), p.low), p.high)


def start_values(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """`low_cost_partial_config`, checked: start values of unconditional numeric parameters."""
    for name, value in config.items():
        p = next((q for q in space.params if q.name == name), None)
        if p is None or p.condition or not p.is_numeric or not p.contains(value):
            numeric = [q.name for q in space.params if q.is_numeric and not q.condition]
            raise ValueError(
                f"low_cost_partial_config gives {name}={value!r}; give values inside the "
                f"space for unconditional numeric parameters: {', '.join(numeric) or 'none'}"
            )
    return config
