"""Answers for configurations a table's design does not hold: a model fitted, per outer fold,
on the table's rows (issue 22). Two kinds, both scikit-learn's:

- `nearest`: the row of the nearest design point (KNeighborsRegressor, one neighbour), as
  syne-tune answers a tabulated blackbox off its grid. Every column of the answer comes from
  one real evaluation, so inner scores, outer-test score and seconds stay consistent.
- `forest`: a random forest per column set (RandomForestRegressor), as HPOBench's surrogate
  benchmarks. Smoother between design points, but its answer is no evaluation that was run.

A configuration is placed in the unit cube the strategies search: a numeric parameter at
`Param.to_unit` (log scale where the space says log), a categorical one as one column per
choice (one-hot: choices have no order), an inactive parameter as -1 or all zeros, so
configurations of different branches of a conditional space lie apart. A model's defaults may
lie outside its space: a number beyond a range at the range's nearer end, anything else in a
numeric range (rf's `max_depth` None, no limit; its `max_features` "sqrt") at -1, apart, as an
inactive parameter.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.problem.space import SearchSpace
from harness.problem.tables import SURROGATES as KINDS

INACTIVE = -1.0  # a numeric parameter's coordinate when its condition does not hold


def encode(space: SearchSpace, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Configurations as rows of unit-cube coordinates (module docstring)."""
    columns = []
    for p in space.params:
        if p.type == "categorical":
            for choice in p.choices:
                columns.append([float(p.name in c and c[p.name] == choice) for c in configs])
        else:  # not a number (rf's max_depth None, max_features "sqrt"): apart, as inactive
            columns.append([p.to_unit(c[p.name]) if _number(c.get(p.name)) else INACTIVE
                            for c in configs])  # fmt: skip
    return np.array(columns, dtype=float).T


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Surrogate:
    """A fitted surrogate of one outer fold: `predict` gives the table's numeric columns."""

    kind: str
    space: SearchSpace
    model: Any

    def predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One row of the fitted columns per configuration."""
        return self.model.predict(encode(self.space, configs)).reshape(len(configs), -1)


def fit(
    kind: str,
    space: SearchSpace,
    configs: Sequence[Mapping[str, Any]],
    values: np.ndarray,
    seed: int = 0,
) -> Surrogate:
    """A surrogate of `kind` fitted on the design's `configs` and their `values` (one row per
    configuration, one column per answered quantity); `seed` fixes the forest."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neighbors import KNeighborsRegressor

    if kind not in KINDS:
        raise ValueError(f"unknown surrogate {kind!r}; choose one of: {', '.join(KINDS)}")
    model = (
        KNeighborsRegressor(n_neighbors=1)
        if kind == "nearest"
        else RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
    )
    return Surrogate(kind, space, model.fit(encode(space, configs), np.asarray(values)))
