"""The objective a strategy optimises, and the trial records it keeps.

The harness owns evaluation, timing and records here, so adapters only propose
configurations. Strategies minimise: the objective returns the negated inner mean score
(NaN for a failed trial), and raises StopSearch once the budget is spent. What it evaluates
on is a `Problem` (harness.engine.evaluation): inner CV on the outer-training rows, or a
lookup in a published table; the budget and its stopping rule are harness.engine.budget.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from harness.engine.asktell import Proposal, SearchHandle
from harness.engine.budget import (  # noqa: F401  (re-exported: the names callers import)
    MAX_TRIALS,
    MAX_WORKERS,
    Budget,
    StopSearch,
    TrialStopped,
)
from harness.engine.clocks import Clock, Done, Job
from harness.engine.continuation import Continuation
from harness.engine.evaluation import (  # noqa: F401  (re-exported, as above)
    Evaluation,
    Evaluator,
    InnerCV,
    Problem,
    caught,
    measured,
    quietly,
    warning_text,
)
from harness.errors import error_text
from harness.problem.indices import UndefinedIndex
from harness.problem.models import plain
from harness.store.cache import Scope
from harness.store.records import canonical


class Objective:
    """Evaluates what a strategy proposes, under the budget, on a clock; every evaluation
    becomes one trial record. The trial loop (harness.engine.loop) drives it; a strategy may
    also call it with one configuration at a time (`objective(params)`)."""

    def __init__(
        self,
        inner: Problem,
        budget: Budget,
        on_trial: Callable[[dict[str, Any]], None],
        evaluate: Callable[..., Evaluation] | None = None,
        replay: Sequence[dict[str, Any]] = (),
        cache: Scope | None = None,
        clock: Clock | None = None,
        on_stale: Callable[[int], None] | None = None,
        per_fold: bool = False,
        designed: bool = False,
    ) -> None:
        """`evaluate` defaults to `inner.evaluate` (in-process); `replay` holds the trials a
        crashed run of this search journaled, answered again instead of re-evaluated while
        the strategy proposes the same configurations in the same order (`on_stale(n)` is
        called once if it goes another way at proposal n: journaled trials from n on are
        stale); `cache`, this outer fold's evaluation cache (harness.store.cache), answers
        what was evaluated before; `clock` defaults to the budget's (harness.engine.clocks).
        `inner` is the problem (harness.engine.evaluation.Problem): inner CV, or a table.
        `per_fold`: each record keeps every inner fold's score too (`inner_scores`), as a
        tabulating study's table needs them (harness.tabulate). `designed`: the strategy
        proposes a fixed design of `n_trials` configurations (adapters.design), each at each of
        its rungs, and ends the search itself; the budget counts its configurations, not full
        evaluations, so a rung that could not continue (replayed after a crash, cached) does
        not cut the design short."""
        self.inner = inner
        self._numbered = getattr(inner, "numbered", False)
        differentiated = inner.hypergradient.surrogate if inner.hypergradient else None
        self.evaluator = Evaluator(
            evaluate or inner.evaluate, cache, inner.fidelity, differentiated
        )
        self.budget = budget
        self.clock = clock or budget.make_clock()
        self.trials: list[dict[str, Any]] = []  # in the order they were told
        self._on_trial = on_trial
        self._on_stale = on_stale
        self._replay = {t["trial"]: t for t in replay}
        self.asked = 0  # proposals admitted so far; a trial's number is its place among them
        self.spent = 0.0  # full-evaluation equivalents: a partial evaluation costs its fidelity
        self.computed = 0.0  # fit + score seconds of the evaluations told
        self._flying = 0.0  # full-evaluation equivalents in flight
        self._costs: dict[int, float] = {}  # what each proposal in flight costs
        self.continuation = Continuation()  # models a configuration's next rung continues
        self._thinking: dict[int, float] = {}
        self._per_fold = per_fold
        self._designed = designed

    @property
    def n_trials(self) -> int:
        return self.budget.n_trials

    @property
    def handle(self) -> SearchHandle:
        return SearchHandle.of(
            self.budget.n_trials, self.clock.workers, self.inner.fidelity, self.inner.defaults
        )

    def elapsed(self) -> float:
        return self.clock.now()

    def __call__(self, params: Mapping[str, Any], fidelity: float | None = None) -> float:
        """Score `params` by inner CV now; returns the loss to minimise (NaN if the trial
        failed). Raises StopSearch if the budget cannot pay for it.

        `fidelity`, a fraction of the model's declared resource (see harness.problem.fidelity),
        asks for a partial evaluation, which spends that fraction of the budget.
        """
        proposal = Proposal(dict(params), fidelity)
        self.clock.submit(self.admit(proposal))
        return self.record(self.clock.next(), proposal)

    def observe(
        self, batch: Sequence[tuple[Mapping[str, Any] | Proposal, Callable[[], Any], Any]]
    ) -> None:
        """Record a batch of evaluations a library runs itself on `self.inner` (scikit-learn's
        searchers, Ray Tune's trials), each `(params, evaluate, fidelity)` (params may be a
        whole Proposal): up to k at a time on the clock, in batch order, each checked against
        the budget first, timed and recorded. Raises StopSearch once the budget stops the
        batch (after recording what ran). Never replayed after a crash: the library needs its
        own results to go on, so it runs them again."""
        self._stale()
        running: dict[int, Proposal] = {}
        try:
            for params, evaluate, fidelity in batch:
                if not self.clock.idle():
                    self._finish(running)
                proposal = (
                    params if isinstance(params, Proposal) else Proposal(dict(params), fidelity)
                )
                number = self.admit(proposal).number
                running[number] = proposal
                self.clock.submit(
                    Job(number, proposal.params, fidelity, lambda *_, e=evaluate: e())
                )
        finally:
            while running:
                self._finish(running)

    def _finish(self, running: dict[int, Proposal]) -> None:
        done = self.clock.next()
        self.record(done, running.pop(done.job.number))

    def admit(self, proposal: Proposal, thinking: float = 0.0) -> Job:
        """Number a proposal and make it a job; raise StopSearch if the budget cannot pay.

        A rung that continues the models of the configuration's last rung costs only what it
        adds (harness.engine.continuation); a journaled trial replayed was paid for already."""
        params, fidelity = proposal.params, proposal.fidelity
        known = self._replay.get(self.asked)
        if known is not None and not self._same(known, params, fidelity):
            self._stale(self.asked)
            known = None
        fraction = self._fraction(fidelity)
        start = None
        if fidelity is not None and not known:  # its own models, or a copy of another's
            start = self.continuation.take(proposal.continues or params, fraction)
            if start is not None and proposal.continues is not None:
                start = replace(start, foreign=True)
        cost = fraction - (start.fraction if start else 0.0)
        now = self.clock.now()  # the moment it is admitted: the limit's and its start's
        if known is None:
            self._check_budget(cost, now)
        number, self.asked = self.asked, self.asked + 1
        self._flying += cost
        self._costs[number] = cost
        self._thinking[number] = thinking
        evaluate = (
            functools.partial(self.inner.evaluate, trial=number)
            if self._numbered
            else self.evaluator
        )
        return Job(number, params, fidelity, evaluate, known, start, admitted=now)

    def _check_budget(self, cost: float, now: float) -> None:
        if not self._designed and self.spent + self._flying + cost > self.budget.n_trials + 1e-9:
            raise StopSearch(f"{self.budget.n_trials} full evaluations spent")
        if self.budget.time_s is not None and now >= self.budget.time_s:
            raise StopSearch(f"{self.budget.time_s} s spent")
        if self.budget.compute_s is not None and self.computed >= self.budget.compute_s:
            raise StopSearch(f"{self.budget.compute_s} s of evaluation spent")

    def _same(self, known: dict[str, Any], params: Mapping[str, Any], fidelity: Any) -> bool:
        return known["params"] == canonical(plain(params)) and known["fidelity"] == (
            self._fraction(fidelity)
        )

    def _stale(self, number: int = 0) -> None:
        """The strategy went another way than before the crash, at proposal `number`."""
        if self._replay:
            self._replay = {}
            if self._on_stale:
                self._on_stale(number)

    def evaluate(self, params: Mapping[str, Any], fidelity: float | None = None) -> Evaluation:
        """Inner CV of `params`, from the evaluation cache if it holds it; not recorded."""
        return self.evaluator(params, fidelity)

    def _fraction(self, fidelity: float | None) -> float:
        return 1.0 if fidelity is None else self.inner.fidelity.fraction(fidelity)

    def record(self, done: Done, proposal: Proposal) -> float:
        """The trial record of a finished job (journaled unless replayed); its loss."""
        cost = self._costs.pop(done.job.number)
        self._flying -= cost
        if done.job.known is not None:  # replayed: it counts again as it was, cost included
            record = done.job.known
            cost = record["full_evaluations"] - self.spent
        else:
            record = self._new_record(done, proposal, cost)
            fraction = record["fidelity"]
            start = done.job.start
            self.continuation.keep(
                proposal.params, fraction, getattr(done.outcome, "models", None),
                trial=done.job.number, foreign=start is not None and start.foreign,
            )  # fmt: skip
        self.spent += cost
        self.computed += _compute(record)
        self.trials.append(record)
        if done.job.known is None:
            self._on_trial(record)
        return -record["inner_mean"]

    def _new_record(self, done: Done, proposal: Proposal, cost: float) -> dict[str, Any]:
        fraction = self._fraction(proposal.fidelity)
        status, error, evaluation = "ok", None, done.outcome
        if isinstance(evaluation, TrialStopped):
            evaluation, status, error = None, evaluation.status, str(evaluation)
        elif isinstance(evaluation, UndefinedIndex):  # a degenerate clustering: no score
            evaluation, status, error = None, "undefined", error_text(evaluation)
        elif isinstance(evaluation, Exception):
            evaluation, status, error = None, "failed", error_text(evaluation)
        elif not _finite(evaluation.scores):
            error = f"non-finite inner scores {evaluation.scores.tolist()}"
            evaluation, status = None, "failed"
        fidelity = proposal.fidelity
        exploited = proposal.continues is not None and done.job.start is not None
        return (
            {
                "trial": done.job.number,
                "params": plain(proposal.params),
                "status": status,
                "error": error,
                "warning": evaluation.warning if evaluation else None,
                "inner_mean": _mean(evaluation.scores) if evaluation else math.nan,
                "inner_std": _std(evaluation.scores) if evaluation else math.nan,
                "fit_seconds": evaluation.fit_seconds if evaluation else math.nan,
                "score_seconds": evaluation.score_seconds if evaluation else math.nan,
                "cpu_seconds": evaluation.cpu_seconds if evaluation else math.nan,
                "eval_seconds": done.seconds,
                "choose_seconds": self._thinking.pop(done.job.number, 0.0),
                "elapsed_seconds": done.end,
                "worker": done.worker,
                "start": done.start,
                "end": done.end,
                "fidelity": fraction,
                "resource": None if fidelity is None else self.inner.fidelity.value(fidelity),
                "full_evaluations": self.spent + cost,
                "continued": cost < fraction,
                "member": proposal.member,
                "exploited_from": (done.job.start.trial if exploited else proposal.exploited_from),
                "cache": getattr(done.outcome, "cache", None),
                "inner_ari": evaluation.mean_ari if evaluation else math.nan,
            }
            | (  # a differentiated study's trials say which loss, its value and its gradient
                {"hypergradient": evaluation.hypergradient if evaluation else None}
                if self.inner.hypergradient
                else {}
            )
            | (evaluation.columns if evaluation and evaluation.columns else {})
            | (
                {"inner_scores": evaluation.scores.tolist() if evaluation else None}
                if self._per_fold
                else {}
            )
        )

    def best(self) -> dict[str, Any] | None:
        """The first proposed full-fidelity trial with the highest inner mean, as
        GridSearchCV's `best_index_`: partial evaluations only guide a search, never win it."""
        ok = [t for t in self.trials if t["status"] == "ok" and t["fidelity"] == 1]
        ok.sort(key=lambda t: t["trial"])
        return max(ok, key=lambda t: t["inner_mean"], default=None)


def _finite(scores: np.ndarray) -> bool:
    """Whether every score is finite; one score (a table's) without numpy's reduction."""
    return math.isfinite(scores[0]) if len(scores) == 1 else bool(np.isfinite(scores).all())


def _mean(scores: np.ndarray) -> float:
    return float(scores[0]) if len(scores) == 1 else float(np.mean(scores))


def _std(scores: np.ndarray) -> float:
    return 0.0 if len(scores) == 1 else float(np.std(scores))


def _compute(record: dict[str, Any]) -> float:
    """Fit + score seconds of a trial (0 for one that never got that far)."""
    seconds = record["fit_seconds"] + record["score_seconds"]
    return 0.0 if math.isnan(seconds) else seconds
