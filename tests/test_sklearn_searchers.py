"""scikit-learn's searchers behind the interface: the real GridSearchCV, RandomizedSearchCV and
their halving versions, with each candidate recorded by the harness.

Oracles: `sklearn_grid` and `sklearn_random` propose and score exactly what the harness's own
`grid` and `random` do (which tests/test_oracle.py checks against nested scikit-learn); the
halving searchers, run one candidate at a time through the objective, evaluate exactly what the
same scikit-learn searcher run on its own evaluates, iteration by iteration.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

from adapters.sklearn_sampling import GridSearch
from harness.engine.objective import Budget, Objective, StopSearch
from harness.engine.study import prepare, run
from harness.problem.models import STEP, plain
from tests.helpers import compose_config, first_inner_cv

SMALL = ("budget.n_trials=6", "protocol.outer_folds=2", "dataset.max_rows=150")
SAME = ["repeat", "outer_fold", "trial", "params", "status", "inner_mean", "inner_std"]


@pytest.mark.parametrize("workers", [1, 4])  # 4: a scikit-learn batch on 4 virtual workers
@pytest.mark.parametrize(
    ("ours", "theirs"), [("grid", "sklearn_grid"), ("random", "sklearn_random")]
)
@pytest.mark.slow
def test_searchers_match_the_harness_sampling(
    tmp_path: Path, ours: str, theirs: str, workers: int
) -> None:
    parallel = (f"budget.workers={workers}", "budget.clock=simulated")
    harness = [
        run(prepare(compose_config(f"strategy={s}", *SMALL, *parallel)), tmp_path / s)
        for s in (ours, theirs)
    ]
    (trials_a, folds_a), (trials_b, folds_b) = harness
    pd.testing.assert_frame_equal(trials_a[SAME], trials_b[SAME], rtol=0, atol=1e-12)
    columns = ["best_params", "best_trial", "best_inner", "tuned_test"]
    pd.testing.assert_frame_equal(folds_a[columns], folds_b[columns], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("strategy", "model", "resource"),
    [
        ("halving_random", "logreg", "model__max_iter"),  # an iteration fidelity
        ("halving_grid", "svc", "n_samples"),  # a row fidelity
    ],
)
def test_halving_evaluates_what_scikit_learn_does(strategy: str, model: str, resource: str) -> None:
    inner = first_inner_cv(f"model={model}", "dataset.max_rows=150")
    space, seed, budget = prepare(compose_config(f"model={model}")).model.space, 3, 5
    adapter = instantiate(compose_config(f"strategy={strategy}").strategy.adapter, _partial_=True)
    objective = Objective(inner, Budget(budget), lambda _: None)
    with contextlib.suppress(StopSearch):
        adapter(space=space, seed=seed).search(objective)
    *schedule, final = objective.trials
    assert objective.spent <= budget

    full = len(inner.X) if resource == "n_samples" else 100
    options = dict(
        resource=resource, min_resources=math.ceil(0.1 * full), max_resources=full, factor=3,
        cv=inner.splits, scoring=inner.scorer, refit=False, error_score="raise",
        random_state=seed,
    )  # fmt: skip
    first = [t["params"] for t in schedule if t["fidelity"] == schedule[0]["fidelity"]]
    if strategy == "halving_random":
        distributions = space.sklearn_distributions(f"{STEP}__")
        native = HalvingRandomSearchCV(
            inner.pipeline, distributions, n_candidates=len(first), **options
        )
    else:
        assert first == GridSearch(space, seed).candidates(len(first))
        grid = [{f"{STEP}__{k}": [v] for k, v in c.items()} for c in first]
        native = HalvingGridSearchCV(inner.pipeline, grid, **options)
    native.fit(inner.X, inner.y)

    results = native.cv_results_
    expected = [
        {k.removeprefix(f"{STEP}__"): v for k, v in p.items() if k != resource}
        for p in results["params"]
    ]
    assert [t["params"] for t in schedule] == [plain(p) for p in expected]
    np.testing.assert_allclose(
        [t["inner_mean"] for t in schedule], results["mean_test_score"], atol=1e-12
    )
    np.testing.assert_allclose([t["fidelity"] for t in schedule], results["n_resources"] / full)
    assert max(results["n_resources"]) < full  # so scikit-learn's pick is scored in full, once
    best = {k.removeprefix(f"{STEP}__"): v for k, v in native.best_params_.items() if k != resource}
    assert (final["params"], final["fidelity"]) == (plain(best), 1.0)
