"""A table as the problem a study's objective evaluates. A published one: each trial reads
one of the table's recorded seeds, drawn from the study's seed and the trial's number (the
engine's side of harness.problem.table_lookup, which only reads the table). One tunebench
built (problem=table): each outer fold reads its own rows (harness.problem.own_table)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.engine.evaluation import Evaluation
from harness.problem.fidelity import Fidelity
from harness.problem.own_table import NotInTable, OwnTable
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


class OwnTableFold:
    """Evaluation by lookup in one outer fold of a table tunebench built (problem=table,
    harness.problem.own_table): a configuration's inner scores, warning and seconds as the
    tabulating study recorded them, and (`refit`) its outer-test score. A configuration the
    table lacks raises NotInTable, which the objective records as a failed trial.

    A table built with rungs answers partial evaluations too, at the rungs it holds: its
    `fidelity` is then the model's. Where that fidelity continues training, a rung's answer
    says it kept models (none: a table has no models) so that the configuration's next rung
    continues it and costs only what it adds, as in the real study; its seconds, reached from
    `start` (or from nothing), are the tabulated seconds of every rung climbed on the way,
    since the table's climb trained each increment; its scores are the rung's own, as a
    from-scratch fit of that length gives them exactly for ensembles
    (harness.engine.continuation) and closely for solvers. Where it does not (a fraction of
    the rows), every rung was fitted from scratch, in the table as in a study: its row is the
    answer, seconds included."""

    hypergradient = None

    def __init__(
        self, table: OwnTable, repeat: int, fold: int, fidelity: Fidelity | None = None
    ) -> None:
        self.table, self.repeat, self.fold = table, repeat, fold
        self.fidelity = fidelity if len(table.rungs) > 1 else None  # full evaluations only
        self.defaults = dict(table.row(repeat, fold, {})["params"])

    def evaluate(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Any = None
    ) -> Evaluation:
        fraction = 1.0 if fidelity is None else self._rung(fidelity)
        row = self.table.row(self.repeat, self.fold, params, fraction)
        if row["status"] != "ok":
            raise TableFailure(f"{row['status']} when tabulated: {row['error']}")
        continues = self.fidelity is not None and self.fidelity.continues
        below = 0.0 if start is None else start.fraction
        climbed = [
            self.table.row(self.repeat, self.fold, params, at) if at != fraction else row
            for at in self.table.rungs
            if below < at <= fraction and (continues or at == fraction)
        ]
        return Evaluation(
            scores=np.asarray(row["inner_scores"], dtype=float),
            fit_seconds=sum(r["fit_seconds"] for r in climbed),
            score_seconds=row["score_seconds"],
            warning=row["warning"],
            seconds=sum(r["eval_seconds"] for r in climbed),  # as long as it took tabulated
            cpu_seconds=sum(r["cpu_seconds"] for r in climbed),
            models=() if continues and fraction < 1 else None,  # the next rung continues it
            columns={"surrogate": row.get("surrogate")} if self.table.surrogate else None,
        )

    def _rung(self, fidelity: float) -> float:
        """The tabulated fraction an evaluation at `fidelity` reads; NotInTable if none."""
        fraction = self.fidelity.fraction(fidelity)
        for at in self.table.rungs:
            if math.isclose(at, fraction, abs_tol=1e-9):
                return at
        resource = self.fidelity.resource
        held = ", ".join(str(self.fidelity.value(at)) for at in self.table.rungs)
        raise NotInTable(
            f"rung {resource}={self.fidelity.value(fidelity)} is not in table "
            f"{self.table.key}, which holds {resource} = {held}"
        )

    def refit(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """As harness.engine.study's refit: score, error, warning, ARI, AMI, cache flag."""
        row = self.table.row(self.repeat, self.fold, params)
        return (
            row["outer_test"], row["outer_error"], row["outer_warning"], math.nan, math.nan, None
        )  # fmt: skip


class TableFailure(RuntimeError):
    """A configuration whose evaluation failed when the table was built."""
