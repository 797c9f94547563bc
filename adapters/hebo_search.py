"""HEBO (Huawei's heteroscedastic evolutionary Bayesian optimisation, NeurIPS 2020 black-box
challenge winner) by its own ask/tell, `HEBO(space).suggest(n)` / `observe(X, y)`.

Space: HEBO's `DesignSpace`: float -> `num`, log float -> `pow`; int -> `int`, log int ->
`pow_int`; categorical -> `cat` over the choices' positions (HEBO encodes a category by its
position anyway, and positions survive the pandas frames HEBO keeps, where None would not).
HEBO has no conditional parameters: it searches every parameter always and the objective gets
only those active under the parents' values (as scikit-optimize here), so an inactive
parameter is a dimension its surrogate learns makes no difference.

Seeded: `scramble_seed` seeds HEBO's Sobol initial design; everything else HEBO draws (its GP's
fit, its evolutionary acquisition search through pymoo, its pick among the candidates) comes
from numpy's and torch's global generators, so the strategy keeps its own pair, seeded once,
and swaps them in around each `suggest` (`_isolated`): its proposals depend on the seed and
the losses alone, whatever else the process draws. With k workers HEBO suggests a batch,
`suggest(n_suggestions=k)`, and observes it once all k are told (HEBO's documented batch
mode). A failed trial is observed as NaN, which HEBO's `observe` drops (its own handling of
non-finite results).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from adapters.base import Strategy
from adapters.extras import require
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.names import plain
from harness.problem.space import Param, SearchSpace

try:
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.models.model_factory import model_dict
    from hebo.optimizers.hebo import HEBO
    from pymoo.config import Config as PymooConfig

    # pymoo prints a notice on every run that its compiled modules are not in use (numpy 2
    # cannot load them): the pure-Python ones compute the same.
    PymooConfig.warnings["not_compiled"] = False
except ImportError:  # the hebo extra: HeboSearch refuses the study without it
    HEBO = None

INSTALL = 'pip install -e ".[hebo]" && pip install --no-deps "hebo>=0.3.6" "pymoo==0.6.0"'


class HeboSearch(Strategy):
    """`HEBO(space, model_name, rand_sample, scramble_seed=seed)`; `rand_sample` is the number
    of Sobol points before the surrogate proposes (None: HEBO's 1 + the number of parameters)."""

    parallel = "batch"

    def __init__(
        self, space: SearchSpace, seed: int, model_name: str = "gp", rand_sample: int | None = None
    ) -> None:
        require("hebo", "HEBO", "hebo", INSTALL)
        super().__init__(space, seed)
        if model_name not in model_dict:
            raise ValueError(
                f"model_name is {model_name!r}; set it to one of HEBO's surrogates: "
                + ", ".join(model_dict)
            )
        self.model_name = model_name
        self.rand_sample = rand_sample

    def start(self, handle: SearchHandle) -> None:
        self.hebo = HEBO(
            design_space(self.space),
            model_name=self.model_name,
            rand_sample=self.rand_sample,
            scramble_seed=self.seed,
        )
        self.numpy_state = np.random.RandomState(self.seed).get_state()
        self.torch_state = torch.Generator().manual_seed(self.seed).get_state()
        self.batch: list[tuple[pd.DataFrame, float | None]] = []  # in the order suggested

    def ask(self, n: int) -> list[Proposal]:
        """A batch of n suggestions, once the last batch is observed."""
        if self.batch:
            return []
        with self._isolated():
            rows = self.hebo.suggest(n_suggestions=n)
        self.batch = [(rows.iloc[[i]], None) for i in range(len(rows))]
        return [Proposal(active(row, self.space), token=i) for i, (row, _) in enumerate(self.batch)]

    def tell(self, proposal: Proposal, loss: float) -> None:
        self.batch[proposal.token] = (self.batch[proposal.token][0], loss)
        if all(loss is not None for _, loss in self.batch):
            rows = pd.concat([row for row, _ in self.batch])
            self.hebo.observe(rows, np.array([[loss] for _, loss in self.batch]))
            self.batch = []

    @contextlib.contextmanager
    def _isolated(self) -> Iterator[None]:
        """HEBO's quirks, in one place: numpy's and torch's global generators are set to this
        strategy's own state (the process's are put back after); its warnings (numpy 2's
        deprecation of `row_stack`, torch's speed hints, a division by a zero spread of equal
        losses, which it catches) are silenced, and so are the lines its GP prints when a fit
        needs more jitter (it then goes on with what it has)."""
        outer = np.random.get_state(), torch.get_rng_state()
        np.random.set_state(self.numpy_state)
        torch.set_rng_state(self.torch_state)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore", (DeprecationWarning, UserWarning, RuntimeWarning))
                yield
        finally:
            self.numpy_state, self.torch_state = np.random.get_state(), torch.get_rng_state()
            np.random.set_state(outer[0])
            torch.set_rng_state(outer[1])


def active(row: pd.DataFrame, space: SearchSpace) -> dict[str, Any]:
    """A row HEBO suggested as a configuration: the parameters active under the row's own
    parent values, in declaration order."""
    values = row.iloc[0].to_dict()
    point = {p.name: _value(p, values[p.name]) for p in space.params}
    return plain(space.walk(lambda p: point[p.name]))


def design_space(space: SearchSpace) -> Any:
    """The space as HEBO's `DesignSpace`, every parameter in it."""
    return DesignSpace().parse([_parameter(p) for p in space.params])


def _parameter(p: Param) -> dict[str, Any]:
    if p.type == "categorical":
        return {"name": p.name, "type": "cat", "categories": list(range(len(p.choices)))}
    kinds = {("float", False): "num", ("float", True): "pow", ("int", False): "int"}
    return {
        "name": p.name,
        "type": kinds.get((p.type, p.log), "pow_int"),
        "lb": p.low,
        "ub": p.high,
    }


def _value(p: Param, value: Any) -> Any:
    """A value from HEBO's frame as the parameter's own (a log parameter's power of 10 can
    land a rounding error outside its bounds: clipped)."""
    if p.type == "categorical":
        return p.choices[int(value)]
    return min(max((int if p.type == "int" else float)(value), p.low), p.high)
