"""The one interface every tuning strategy implements: ask and tell.

A strategy gets the search space and a seed when it is made, and a `SearchHandle` (budget,
workers, fidelity bounds) when its search starts. The trial loop (harness.engine.loop) asks it
for up to n proposals, n being the workers free, and tells it each loss (NaN for a failed
trial) as its evaluation ends; the harness evaluates, times, records and enforces the budget.
A strategy never sees data, never measures time and never writes records.

A multi-fidelity strategy proposes partial evaluations too, `Proposal(params, fidelity=f)`
with f a fraction of the model's declared resource; the budget then counts full-evaluation
equivalents. It says so with `multi_fidelity = True`, so a study whose model declares no
fidelity is refused before it starts. `parallel` says how it uses k workers: `asynchronous`
(a proposal whenever a worker frees up), `batch` (k proposals once the last batch is told),
or `none` (its library evaluates one at a time). Population-based training trains models step
by step and copies them between members: it says so with `stepwise = True`, so a
study whose model's fidelity does not continue training (`continue: true`) is refused.

A strategy that needs more of a trial than its loss names the trial-record columns it wants in
`told` (FLAML's searchers: `fit_seconds`, a trial's cost; `hypergrad`: `hypergradient`, which
the problem then computes with each evaluation); `tell` gets them as keyword arguments.

A strategy whose library runs its own loop (scikit-learn's searchers, Ray Tune) cannot be
asked: it subclasses `LibraryLoop` and its `run` gets the engine's one port for it
(harness.engine.port.OwnLoop) instead of the objective. The strategy contract is this module,
harness.engine.asktell, harness.engine.port and the space's description (harness.problem's
space, optuna_space, names and fidelity): an adapter imports nothing else of the harness
(docs/architecture.md; tests/test_architecture.py checks it). One whose library evaluates in
worker processes of its own (Ray Tune's) says `own_workers = True`: they take the study's
cores and are sent the evaluator, so its study runs one outer fold at a time (read from the
class body without importing it, harness.problem.declared).

On a published table (harness.engine.table_study) a strategy that never proposes a
configuration twice says `without_replacement = True`, so a budget beyond the table's size is
refused; one that only picks a model's defaults says `defaults_only = True` (a table has none).
A design that tabulates (adapters.design, python -m harness.tabulate) says `tabulates = True`:
its study also refits each trial's configuration on the outer-training rows and scores it on
the outer test, and keeps each inner fold's score; the strategy is told none of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from harness.engine.asktell import Proposal, SearchHandle
from harness.engine.loop import drive
from harness.engine.objective import Objective
from harness.engine.port import OwnLoop
from harness.problem.space import SearchSpace


class Searching(ABC):
    """What every strategy is: made from the space and a seed, it runs a search on an
    objective, and says what it proposes (the class variables the module docstring names)."""

    multi_fidelity: ClassVar[bool] = False
    needs_continuation: ClassVar[bool] = False
    parallel: ClassVar[str] = "asynchronous"
    stepwise: ClassVar[bool] = False
    told: ClassVar[tuple[str, ...]] = ()
    without_replacement: ClassVar[bool] = False
    defaults_only: ClassVar[bool] = False
    tabulates: ClassVar[bool] = False
    own_workers: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.seed = seed

    @abstractmethod
    def search(self, objective: Objective) -> None:
        """Run a whole search on `objective`."""


class Strategy(Searching):
    """A strategy the harness's trial loop drives: it proposes (`ask`) and is told losses."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        # Here too, so that a misspelt option reads "Strategy.__init__() got an unexpected
        # keyword argument", as it always has (tests/test_bad_input.py).
        super().__init__(space, seed)

    def start(self, handle: SearchHandle) -> None:
        """A new search begins (called once, before the first `ask`)."""
        self.handle = handle

    @abstractmethod
    def ask(self, n: int) -> list[Proposal]:
        """Up to `n` new proposals; none while waiting for results, or when done."""

    def tell(self, proposal: Proposal, loss: float, **told: object) -> None:
        """The loss of an evaluated proposal (NaN: the trial failed), and the record's columns
        named in `told`; ignored by default, as grid, random and quasi-random designs propose
        without looking."""

    def search(self, objective: Objective) -> None:
        """Run a whole search on `objective` through the harness's trial loop."""
        drive(self, objective)


class LibraryLoop(Searching):
    """A strategy whose library runs its own loop (scikit-learn's searchers, Ray Tune): it
    cannot be asked, so its search gets the engine's one port for it (harness.engine.port),
    never the objective: it reads through the port what the library may know and reports
    what the library evaluated, and never reads the data, starts the clock or writes engine
    state. A subclass of a Strategy too (an oracle of it, as GridSearchCV of `grid`) lists
    LibraryLoop first, so that this `search` is the one that runs."""

    def search(self, objective: Objective) -> None:
        self.run(OwnLoop(objective))

    @abstractmethod
    def run(self, port: OwnLoop) -> None:
        """Run the library's whole search through `port`."""
