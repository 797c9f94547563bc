"""A fixed design of the space for tabulating (python -m harness.tabulate): the model's
defaults, then a grid at a resolution or a scrambled Sobol sample, proposed in order.

The grid is the grid strategy's (adapters.sklearn_sampling.GridSearch: scikit-learn's
ParameterGrid, cut to a seeded subset when larger than the design), the Sobol sample is drawn
as the qmc strategies draw it (adapters.scipy_qmc.ScipyQMC with scipy's scrambled Sobol
engine). Both are drawn from the strategy's seed, which for a tabulating study is the study's
seed, not the outer fold's (harness.engine.study.run_fold), so every outer fold of a table
holds the same configurations.

With `rungs`, each configuration is proposed at every rung of `rung_fractions` from the lowest
up, so that where the model's fidelity continues training each rung continues the models of
the one below (a fraction of the rows is fitted from scratch at each rung): the table then
answers multi-fidelity strategies too (harness.problem.own_table).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from itertools import islice
from typing import Any

from adapters.scipy_qmc import ScipyQMC
from adapters.sklearn_sampling import CandidateSearch, GridSearch
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.space import SearchSpace

KINDS = ("grid", "sobol")


class Design(CandidateSearch):
    """The design's `n_trials` configurations (the budget is the design's size): the model's
    defaults first, then the grid's or the Sobol sample's points, none twice. A grid at
    `resolution: null` is the finest that fits, as the grid strategy picks it; a grid at a
    given resolution that holds fewer points than asked is refused (`cannot_run`)."""

    without_replacement = True
    tabulates = True  # each trial is also refit on the outer-training rows and scored on the test

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        kind: str = "sobol",
        resolution: int | None = None,
        rungs: bool = False,
    ) -> None:
        super().__init__(space, seed)
        if kind not in KINDS:
            raise ValueError(f"design kind {kind!r} is not one of {', '.join(KINDS)}")
        self.kind, self.resolution, self.rungs = kind, resolution, rungs
        self.multi_fidelity = rungs  # a model without a fidelity is refused
        self._defaults: dict[str, Any] = {}
        self._proposals: Iterator[Proposal] = iter(())

    def start(self, handle: SearchHandle) -> None:
        self._defaults = handle.defaults_proposal(self.space).params
        super().start(handle)
        fractions = rung_fractions(handle.fidelity_low) if self.rungs else [None]
        self._proposals = (Proposal(p, f) for p in self._left for f in fractions)

    def planned(self, n_trials: int, low: float | None) -> int:
        """The trials the design proposes: each configuration at each of its rungs."""
        return n_trials * (len(rung_fractions(low)) if self.rungs else 1)

    def ask(self, n: int) -> list[Proposal]:
        """Each configuration in turn; with rungs, at each rung from the lowest up, so each
        rung continues the models of the one below (harness.engine.continuation)."""
        return list(islice(self._proposals, n))

    def candidates(self, n_trials: int) -> list[dict[str, Any]]:
        unique, kept = [self._defaults], {_key(self._defaults)}
        for params in self._points(n_trials):
            if (key := _key(params)) not in kept:
                kept.add(key)
                unique.append(params)
        return unique[:n_trials]

    def _points(self, n_trials: int) -> list[dict[str, Any]]:
        """The design's points besides the defaults: one more than room is left for, in case
        the defaults are one of them (a grid's), cut after the defaults are put first."""
        if self.kind == "grid":
            search = GridSearch(self.space, self.seed, self.resolution)
            return search.candidates(n_trials if self.resolution else n_trials - 1)
        if n_trials < 2:
            return []
        sobol = ScipyQMC(self.space, self.seed, engine="Sobol")
        with warnings.catch_warnings():  # "balance properties ... power of 2": any n is asked
            warnings.simplefilter("ignore", UserWarning)
            sobol.start(SearchHandle(n_trials - 1))
        return [proposal.params for proposal in sobol.ask(n_trials - 1)]

    def cannot_run(self, n_trials: int) -> str | None:
        """A grid at a given resolution smaller than the design asked for."""
        if self.kind != "grid" or self.resolution is None:
            return None
        # all the grid holds with the defaults (before `start` tells them: counted as one more)
        size = len(self.candidates(n_trials + 1))
        if n_trials > size:
            return (
                f"design.n={n_trials} is beyond the grid: design.resolution={self.resolution} "
                f"gives {size} configurations with the defaults; set design.n={size} or less, "
                "or a finer design.resolution"
            )
        return None


def rung_fractions(low: float | None) -> list[float]:
    """The rungs a table tabulates, as fractions of the full resource: every rung the shipped
    multi-fidelity strategies ask for at their default settings, for a fidelity whose lowest
    fraction is `low`: 3^-k (optuna's pruners, SMAC's Hyperband, eta = 3) and the multiples of
    `low` (syne-tune's and Ray Tune's schedulers count the resource in units of `low`), up to 1."""
    if low is None:
        raise ValueError("a design with rungs needs the model's fidelity")
    found = {1.0}
    k = 1
    while 3.0**-k >= low - 1e-9:
        found.add(round(3.0**-k, 9))
        k += 1
    found |= {round(j * low, 9) for j in range(1, math.floor(1 / low + 1e-9) + 1)}
    return sorted(found)


def _key(params: dict[str, Any]) -> str:
    """A configuration as comparable text: the same values however they were typed."""
    return json.dumps(params, sort_keys=True, default=lambda v: v.item())  # numpy scalars
