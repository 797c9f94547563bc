"""Budgets in compute: every strategy stops once its evaluations' fit + score seconds reach
`budget.compute_s`, within the evaluations already running."""

from __future__ import annotations

import pytest

from harness.engine.study import prepare, run
from tests.helpers import compose_config

COMPUTE_S = 1.0


@pytest.mark.parametrize(
    ("strategy", "workers", "n_trials"),
    [("random", 1, 10**5), ("tpe", 1, 10**5), ("hyperband", 1, 10**5), ("tpe_cl", 4, 10**5),
     ("sklearn_random", 1, 500)],  # it draws its n_trials candidates up front
)  # fmt: skip
def test_a_compute_budget_stops_the_search_within_the_trials_in_flight(
    tmp_path, strategy: str, workers: int, n_trials: int
) -> None:
    config = compose_config(
        f"strategy={strategy}", f"budget.compute_s={COMPUTE_S}", f"budget.n_trials={n_trials}",
        f"budget.workers={workers}", "budget.clock=simulated", "protocol.outer_folds=2",
        f"run.store={tmp_path}",
    )  # fmt: skip
    study = prepare(config)
    trials, _ = run(study, tmp_path / study.key)
    for _, fold in trials.sort_values("end").groupby("outer_fold"):  # in the order told
        compute = (fold.fit_seconds + fold.score_seconds).fillna(0)
        assert compute.sum() >= COMPUTE_S  # it spent the budget...
        # ...and proposed nothing once it was spent: only the evaluations then running (at
        # most one per worker) end past it.
        told_before = compute.cumsum() - compute
        assert (told_before >= COMPUTE_S).sum() <= workers - 1
        assert len(fold) < n_trials
