"""Keras Tuner's oracles (random search, Gaussian-process Bayesian optimisation, Hyperband),
driven by their own `create_trial` / `update_trial` / `end_trial`, without training Keras models.

Space: `hyperparameters(space)`, the neutral space as a `keras_tuner.HyperParameters`: float and
int -> `Float` / `Int` with `sampling="log"` or `"linear"`; categorical -> `Choice`; a condition
-> `conditional_scope(parent, values)`, nested when a parameter has several parents. A `Choice`
holds values of one type among int, float, str and bool (it stores booleans as 0 and 1 and
refuses None), so a categorical whose choices are not all strings is a `Choice` of their reprs,
read back on the way out; the oracles sample a choice by its position, so the labels change
nothing they propose.

Each of the k workers is a Keras Tuner `tuner_id`: an oracle hands every tuner one trial at a
time and proposes while others run (the Bayesian oracle scores trials in flight by its Gaussian
process's upper bound; Hyperband answers IDLE while a bracket's next round waits for its
results), as it does for parallel tuners. The oracle keeps its trials in a temporary folder,
deleted when the search ends.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import tempfile
import weakref
from typing import Any

from adapters.base import Strategy
from adapters.extras import require
from adapters.optuna_pruned import rungs_below
from harness.engine.asktell import Proposal, SearchHandle
from harness.problem.models import plain
from harness.problem.space import Param, SearchSpace

# The Keras backend, set here only. Keras Tuner imports Keras, which imports a backend, though
# the oracles use none of it. numpy is the lightest Keras 3.15 has; its numpy backend imports
# jax's FFT at import, so the kerastuner extra installs jax, which nothing here starts. A
# backend already set in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "numpy")

try:
    import keras_tuner as kt
    from keras_tuner.engine.trial import TrialStatus
except ImportError:  # the kerastuner extra: KerasTunerSearch refuses the study without it
    kt = None

LOSS = "loss"  # the oracle's objective: the harness's loss, minimised


class KerasTunerSearch(Strategy):
    """`keras_tuner.oracles.<oracle>(objective, max_trials, seed, **options)`, `max_trials`
    the budget; `options` are the oracle's own (e.g. `beta` for the Bayesian one)."""

    oracles: tuple[str, ...] = ("RandomSearchOracle", "BayesianOptimizationOracle")

    def __init__(
        self, space: SearchSpace, seed: int, oracle: str = "RandomSearchOracle", **options: Any
    ) -> None:
        for module in ("keras_tuner", "six", "jax"):  # six and jax: see pyproject's extra
            require(module, "Keras Tuner", "kerastuner")
        super().__init__(space, seed)
        if oracle not in self.oracles:
            raise ValueError(f"oracle is {oracle!r}; set it to one of {', '.join(self.oracles)}")
        self.oracle_class, self.options = getattr(kt.oracles, oracle), options
        inspect.signature(self.oracle_class).bind_partial(**options)  # TypeError: not its option
        self.hyperparameters = hyperparameters(space)
        self.highs = {p.name: p.high for p in space.params if p.type == "int"}
        self.choices = {
            p.name: {label(p, c): c for c in p.choices}
            for p in space.params
            if p.type == "categorical"
        }

    def start(self, handle: SearchHandle) -> None:
        folder = tempfile.TemporaryDirectory(prefix="tunebench-kerastuner-")
        weakref.finalize(self, folder.cleanup)  # the oracle's files go when the strategy does
        self.oracle = self.oracle_class(
            objective=kt.Objective(LOSS, "min"),
            hyperparameters=self.hyperparameters.copy(),
            # Keras Tuner reads seed 0 as no seed (`seed or random.randint(1, 10000)`): 0 becomes
            # 2**32 - 1, the largest seed its numpy RandomState takes.
            seed=self.seed or 2**32 - 1,
            # Keras Tuner ends a search after 3 failed trials in a row by raising; here a
            # failed trial is recorded and the search goes on, as with every strategy.
            max_consecutive_failed_trials=math.inf,
            **self._budget(handle),
            **self.options,
        )
        self.oracle._set_project_dir(folder.name, "oracle")  # what a Tuner does for its oracle
        self.oracle.verbose = 0  # no trial tables on stdout
        self.free = [f"worker{i}" for i in reversed(range(handle.workers))]  # tuner_ids

    def _budget(self, handle: SearchHandle) -> dict[str, Any]:
        return {"max_trials": handle.n_trials}

    def ask(self, n: int) -> list[Proposal]:
        proposals = []
        while self.free and len(proposals) < n:
            trial = self.oracle.create_trial(self.free[-1])
            if trial.status != TrialStatus.RUNNING:  # IDLE: waiting for results; STOPPED: done
                break
            values = trial.hyperparameters.values
            for name in values.keys() & self.highs:
                # An Int maps a probability of exactly 1 (where the Bayesian oracle's optimiser
                # may stop: its bounds are closed) to max_value + 1; clipped in the trial kept.
                values[name] = min(values[name], self.highs[name])
            params = {k: self.choices[k][v] if k in self.choices else v for k, v in values.items()}
            params = plain({name: params[name] for name in self.space.names if name in params})
            proposals.append(Proposal(params, self._fidelity(values), (self.free.pop(), trial)))
        return proposals

    def _fidelity(self, values: dict[str, Any]) -> float | None:
        return None

    def tell(self, proposal: Proposal, loss: float) -> None:
        tuner_id, trial = proposal.token
        if math.isnan(loss):
            trial.status = TrialStatus.FAILED
        else:
            self.oracle.update_trial(trial.trial_id, {LOSS: loss})
            trial.status = TrialStatus.COMPLETED
        self.oracle.end_trial(trial)
        self.free.append(tuner_id)


class KerasTunerHyperband(KerasTunerSearch):
    """`HyperbandOracle(factor, hyperband_iterations)` over the model's fidelity: a trial's
    `tuner/epochs` out of `max_epochs` is its fraction of the resource, `max_epochs` being
    factor^K with factor^-K the lowest rung at or above the fidelity's `low` (1/9, 1/3, 1 for a
    `low` down to 1/9 with factor 3). A trial a bracket promotes has its predecessor's
    parameters, so the harness continues that trial's models (`tuner/initial_epoch` on) where
    the model's fidelity continues training. `hyperband_iterations: null` repeats Hyperband
    until the budget is spent."""

    multi_fidelity = True
    oracles = ("HyperbandOracle",)

    def __init__(
        self, space: SearchSpace, seed: int, factor: int = 3, hyperband_iterations: Any = None
    ) -> None:
        if type(factor) is not int:
            raise ValueError(f"factor is {factor!r}; set it to an integer >= 2")
        options = {"factor": factor, "hyperband_iterations": hyperband_iterations}
        super().__init__(space, seed, "HyperbandOracle", **options)

    def _budget(self, handle: SearchHandle) -> dict[str, Any]:
        factor = self.options["factor"]
        self.max_epochs = factor ** rungs_below(handle.fidelity_low, factor)
        return {"max_epochs": self.max_epochs}

    def _fidelity(self, values: dict[str, Any]) -> float | None:
        return values["tuner/epochs"] / self.max_epochs


def hyperparameters(space: SearchSpace) -> Any:
    """The neutral space as a `keras_tuner.HyperParameters`, conditions included."""
    hp = kt.HyperParameters()
    for p in space.params:
        with contextlib.ExitStack() as scopes:
            for parent, labels in _scopes(space, p):
                scopes.enter_context(hp.conditional_scope(parent, labels))
            if p.type == "categorical":
                hp.Choice(p.name, [label(p, c) for c in p.choices])
            else:
                kind = hp.Int if p.type == "int" else hp.Float
                kind(p.name, p.low, p.high, sampling="log" if p.log else "linear")
    return hp


def _scopes(space: SearchSpace, p: Param) -> list[tuple[str, list[Any]]]:
    """The conditional scopes `p` is declared in: its parent's, then its parent's own. Keras
    Tuner opens a scope on a parent only inside the parent's scopes, so one parent a level."""
    if not p.condition:
        return []
    if len(p.condition) > 1:
        raise ValueError(
            f"'{p.name}' has conditions on {', '.join(p.condition)}; Keras Tuner's "
            "conditional_scope takes one parent: condition it on one parameter"
        )
    [(parent, values)] = p.condition.items()
    return [*_scopes(space, space[parent]), (parent, [label(space[parent], v) for v in values])]


def label(p: Param, choice: Any) -> Any:
    """A choice as a `Choice` holds it: itself among strings, else its repr."""
    return choice if all(isinstance(c, str) for c in p.choices) else repr(choice)
