"""scikit-learn's own searchers: GridSearchCV, RandomizedSearchCV and their successive-halving
versions, run on the objective's inner CV (its rows, splits, pipeline and scorer).

The searcher gets the objective's pipeline, rows and splits as they are: with preprocessing
fitted once per split (harness.problem.preprocessing), its first step hands each fit the split's
preprocessed rows, so it fits only the estimator, and scores what the whole pipeline scores.
Its evaluations are its own: they neither read nor fill the evaluation cache.

Each runs its real schedule, `_run_search` (the hook scikit-learn documents for searchers),
but hands each batch of candidates to the engine's port (`OwnLoop.observe`,
harness.engine.port), which runs them through
`evaluate_candidates` one by one: the harness checks the budget before each, times it and
records it from its row of the searcher's `cv_results_`, and a run killed mid-search loses at
most the candidates in flight. A batch is scikit-learn's parallel unit: with k workers on the
simulated clock its candidates take k virtual workers; with real workers they still run in
this process, one at a time (scikit-learn's fits are not the harness's to send elsewhere).
Fits that fail raise (error_score="raise"), as in the harness's own inner CV: the candidate is
recorded as failed and the search goes on without it. Candidates are the `grid` and `random`
strategies' own (same seed, same order), so these are oracles for them and vice versa. As
scikit-learn runs the fits, the budget's per-trial time and memory limits (which need a
worker process per trial) do not apply; a search with them set logs a warning saying so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from adapters.base import LibraryLoop
from adapters.sklearn_sampling import GridSearch, RandomSearch
from harness.engine.port import Evaluation, OwnLoop, StopSearch, quietly
from harness.problem.names import pipeline_name, space_name

if TYPE_CHECKING:
    from sklearn.model_selection._search import BaseSearchCV

log = logging.getLogger("harness")


class SklearnGrid(LibraryLoop, GridSearch):
    """GridSearchCV over the `grid` strategy's candidates."""

    def run(self, port: OwnLoop) -> None:
        search_with(GridSearchCV, port, param_grid=points(self.candidates(port.n_trials)))


class SklearnRandom(LibraryLoop, RandomSearch):
    """RandomizedSearchCV: `n_iter` = the budget, `random_state` = the seed."""

    def run(self, port: OwnLoop) -> None:
        search_with(
            RandomizedSearchCV,
            port,
            param_distributions=named(self.space.sklearn_distributions()),
            n_iter=port.n_trials,
            random_state=self.seed,
        )


def search_with(
    kind: type[BaseSearchCV], port: OwnLoop, single_metric: bool = False, **options: Any
) -> BaseSearchCV:
    """Run a scikit-learn searcher on the objective's inner CV, each candidate recorded.

    `single_metric`: the searcher takes one metric (successive halving), so a clustering's
    trials are scored by their index alone, without the ARI recorded beside it."""
    if port.limits_trials:
        log.warning(
            "%s fits in this process: budget.trial_timeout_s and trial_memory_mb do not "
            "apply to its candidates (use grid, random or another strategy for that)",
            kind.__name__,
        )

    def make(pipeline: Any, splits: Any, scorer: Any, n_jobs: int | None) -> BaseSearchCV:
        searcher = _recorded(kind)(
            pipeline, cv=splits, scoring=scorer, n_jobs=n_jobs, refit=False,
            error_score="raise", **options,
        )  # fmt: skip
        searcher.port = port
        return searcher

    return port.fit(make, single_metric)  # the search's time limit counts from the fit


def _recorded(kind: type[BaseSearchCV]) -> type[BaseSearchCV]:
    return type(f"Recorded{kind.__name__}", (_OneAtATime, kind), {})


class _OneAtATime:
    """A searcher's own schedule, its candidates evaluated one by one through the port."""

    port: OwnLoop
    _results: dict[str, Any] | None = None

    def _run_search(self, evaluate_candidates: Callable, *, callback_ctx: Any = None) -> None:
        super()._run_search(partial(self._each, evaluate_candidates), callback_ctx=callback_ctx)

    def _each(
        self,
        evaluate_candidates: Callable,
        candidates: Any,
        cv: Any = None,
        more_results: dict[str, list] | None = None,
        callback_ctx: Any = None,
    ) -> dict[str, Any]:
        resource = getattr(self, "resource", None)
        batch = []
        for i, candidate in enumerate(candidates):
            more = {k: v[i : i + 1] for k, v in more_results.items()} if more_results else None
            batch.append((
                space_params(candidate, resource),
                partial(self._evaluate, evaluate_candidates, candidate, cv, more),
                more["n_resources"][0] / self.max_resources_ if more else None,
            ))  # fmt: skip
        self.port.observe(batch)
        if self._results is None:
            raise StopSearch("every candidate failed: nothing to go on from")
        return self._results

    def _evaluate(
        self, evaluate_candidates: Callable, candidate: dict, cv: Any, more: dict | None
    ) -> Evaluation:
        """One candidate through scikit-learn, read back from its row of `cv_results_` (CPU
        seconds: this process's, as scikit-learn fits here unless its n_jobs spreads them)."""
        cpu = time.process_time()
        self._results, warning = quietly(evaluate_candidates, [candidate], cv, more)
        cpu = time.process_time() - cpu
        row = {key: values[-1] for key, values in self._results.items()}
        n = self.n_splits_
        return Evaluation(
            scores=np.array([row[f"split{k}_test_score"] for k in range(n)]),
            fit_seconds=float(row["mean_fit_time"] * n),
            score_seconds=float(row["mean_score_time"] * n),
            warning=warning,
            cpu_seconds=cpu,
            ari=np.array([row[f"split{k}_test_ari"] for k in range(n)]) if "split0_test_ari" in row
            else None,  # a clustering's outside check: recorded, not used by the searcher
        )  # fmt: skip


def points(candidates: list[dict[str, Any]]) -> list[dict[str, list[Any]]]:
    """Candidates as a `param_grid` that yields exactly them, in order."""
    return named([{k: [v] for k, v in c.items()} for c in candidates])


def named(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `param_grid` / `param_distributions` with search-space names as pipeline names."""
    return [{pipeline_name(k): v for k, v in points.items()} for points in grid]


def space_params(candidate: dict[str, Any], resource: str | None) -> dict[str, Any]:
    return {space_name(k): v for k, v in candidate.items() if k != resource}
