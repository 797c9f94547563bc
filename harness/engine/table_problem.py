"""A published table as the problem a study's objective evaluates: each trial reads one of
the table's recorded seeds, drawn from the study's seed and the trial's number (the engine's
side of harness.problem.table_lookup, which only reads the table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.engine.evaluation import Evaluation
from harness.problem.table_lookup import Table


class TableProblem:
    """Evaluation by lookup for one study: the seed each trial reads is drawn from the
    study's seed and the trial's number; the seconds are the table's training seconds for
    that seed, so the clocks, k workers and `budget.compute_s` count them as real ones."""

    numbered = True  # evaluate is called with the trial's number (harness.engine.objective)
    fidelity = None  # final results only: no learning curve to ration
    hypergradient = None
    defaults: dict[str, Any] = {}  # noqa: RUF012  (a table has no model defaults)

    def __init__(self, table: Table, seed: int, n_trials: int) -> None:
        self.table = table
        rng = np.random.default_rng(np.random.SeedSequence([seed, table.size]))
        self._draws = rng.random(n_trials).tolist()  # trial's seed: draw x the row's seeds
        self._scores = table.scores
        self._seconds = table.seconds
        self._counts = table.counts.tolist()
        self._truth = table.truth

    def evaluate(
        self, params: Mapping[str, Any], fidelity: Any = None, start: Any = None, *, trial: int
    ) -> Evaluation:
        row = self.table.row(params)
        seed = int(self._draws[trial] * self._counts[row])
        seconds = float(self._seconds[row, seed])
        return Evaluation(
            scores=self._scores[row, seed : seed + 1],
            fit_seconds=seconds,
            score_seconds=0.0,
            seconds=seconds,
            columns={"true_score": float(self._truth[row]), "table_seed": seed},
        )
