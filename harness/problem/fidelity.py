"""The resource multi-fidelity strategies ration, declared per model in its config.

Two forms, under `fidelity:` in conf/model/<name>.yaml::

    fidelity: {resource: max_iter, low: 10}   # an integer estimator parameter, from `low` up
                                              # to the value the estimator is configured with
    fidelity: {resource: rows, low: 0.1}      # the fraction of each inner-training fold the
                                              # model is fitted on (validation rows stay whole)
    fidelity: {resource: max_iter, low: 10, continue: true}  # a rung continues the last one's
                                              # fitted models (harness.engine.continuation)

A strategy asks for a fraction of the full resource (`objective(params, fidelity=1/9)`). A
fraction of 1 is exactly the ordinary evaluation, so full-fidelity scores compare with every
other strategy's and the configuration chosen from them is refit just as it was evaluated. A
partial evaluation costs its fraction in full-evaluation equivalents (it refits from scratch),
unless `continue: true` lets it continue the models of a lower rung: then it costs the increment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from sklearn.pipeline import Pipeline

from harness.errors import UsageError
from harness.paths import CONF
from harness.problem.models import ModelSpec, pipeline_params

ROWS = "rows"
TRAINING_LENGTHS = ("max_iter", "n_estimators")  # the resources a warm start can continue
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Fidelity:
    resource: str  # an estimator parameter, or "rows"
    low: float  # the smallest fraction of the full resource a strategy may ask for
    full: int | float  # the estimator's configured value of the parameter, or 1 (all rows)
    stratify: bool = False  # rows: keep each class's share in every subsample
    seed: int = 0  # rows: which rows a subsample keeps
    continues: bool = False  # a rung continues the previous rung's fitted models

    @classmethod
    def from_config(cls, cfg: Any, model: ModelSpec, seed: int) -> Fidelity | None:
        """Validate a model's `fidelity:` declaration; None when it declares none."""
        if cfg is None:
            return None
        where = f"conf/model/{model.name}.yaml: fidelity"
        body = OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg
        keys = set(body) if isinstance(body, Mapping) else set()
        if not {"resource", "low"} <= keys <= {"resource", "low", "continue"}:
            raise UsageError(
                f"{where} is {body!r}; write {{resource: <integer estimator parameter> or rows, "
                "low: <smallest value>}, optionally with continue: true or false"
            )
        resource, low = body["resource"], body["low"]
        continues = _continues(body.get("continue", False), resource, model, where)
        if resource == ROWS:
            if isinstance(low, bool) or not isinstance(low, int | float) or not 0 < low < 1:
                raise UsageError(f"{where}: low is {low!r}; for rows give a fraction in (0, 1)")
            return cls(ROWS, float(low), 1, model.task == "classification", seed)
        full = _trained_up_to(resource, model, where)
        if isinstance(low, bool) or not isinstance(low, int) or not 1 <= low < full:
            raise UsageError(
                f"{where}: low is {low!r}; give an integer from 1 to below {resource}={full}, "
                "the estimator's own value (the full fidelity)"
            )
        return cls(resource, low / full, full, continues=continues)

    def value(self, fraction: float) -> int | float:
        """The resource, in the model's own units, at `fraction` of the full fidelity."""
        if not self.low - 1e-9 <= fraction <= 1 + 1e-9:
            raise ValueError(f"fidelity {fraction} is outside [{self.low}, 1]")
        if self.resource == ROWS:
            return min(float(fraction), 1.0)
        return max(1, round(fraction * self.full))

    def fraction(self, fraction: float) -> float:
        """The fraction actually used once the resource is rounded to whole units."""
        return self.value(fraction) / self.full

    def apply(
        self, fraction: float, pipeline: Pipeline, splits: list[Split], y: pd.Series
    ) -> tuple[Pipeline, list[Split]]:
        """The pipeline and inner splits of an evaluation at `fraction` of the full fidelity."""
        if self.fraction(fraction) == 1:
            return pipeline, splits
        if self.resource != ROWS:
            return pipeline.set_params(
                **pipeline_params({self.resource: self.value(fraction)})
            ), splits
        return pipeline, [(self._subsample(train, fraction, y), test) for train, test in splits]

    def _subsample(self, train: np.ndarray, fraction: float, y: pd.Series) -> np.ndarray:
        """A prefix of one fixed shuffled order of the training rows, so a smaller fraction's
        rows are always among a larger one's; stratified orders interleave the classes so every
        prefix keeps their shares."""
        order = np.random.default_rng(self.seed).permutation(train)
        if self.stratify:
            labels = pd.Series(y.to_numpy()[order])
            share = (labels.groupby(labels).cumcount() + 0.5) / labels.map(labels.value_counts())
            order = order[np.argsort(share.to_numpy(), kind="stable")]
        return np.sort(order[: max(1, round(fraction * len(train)))])


def stepwise_models(task: str) -> list[str]:
    """The shipped models of `task` whose fidelity continues training (`continue: true` in
    conf/model/<name>.yaml): those population-based training can train step by step."""
    configs = (OmegaConf.load(path) for path in sorted((CONF / "model").glob("*.yaml")))
    return [
        c.name for c in configs
        if c.get("task") == task and OmegaConf.select(c, "fidelity.continue", default=False) is True
    ]  # fmt: skip


def _continues(value: Any, resource: str, model: ModelSpec, where: str) -> bool:
    """Whether a declaration may continue training across rungs: a true `continue` needs a
    training length the estimator continues itself when warm-started."""
    if not isinstance(value, bool):
        raise UsageError(f"{where}: continue is {value!r}; set it to true or false")
    if not value:
        return False
    estimator = type(model.estimator).__name__
    if resource not in TRAINING_LENGTHS:
        raise UsageError(
            f"{where}: continue: true needs a training length ({' or '.join(TRAINING_LENGTHS)}) "
            f"as the resource, not {resource!r}; set continue: false or change the resource"
        )
    if "warm_start" not in model.estimator.get_params(deep=False):
        raise UsageError(
            f"{where}: continue: true, but {estimator} has no warm_start parameter, so it cannot "
            "continue training; set continue: false"
        )
    return True


def _trained_up_to(resource: str, model: ModelSpec, where: str) -> int:
    """The estimator's own value of an integer fidelity parameter: the full fidelity."""
    params = model.estimator.get_params(deep=False)
    estimator = type(model.estimator).__name__
    if resource not in params:
        raise UsageError(
            f"{where}: {estimator} has no parameter {resource!r}; name an integer parameter it "
            f"trains up to (e.g. max_iter, n_estimators) or rows"
        )
    if resource in model.space.names:
        raise UsageError(
            f"{where}: {resource!r} is also in the search space; a fidelity must not be searched, "
            "so use another resource (e.g. rows)"
        )
    full = params[resource]
    if isinstance(full, bool) or not isinstance(full, int) or full < 2:
        raise UsageError(
            f"{where}: {estimator}'s {resource} is {full!r}, not an integer >= 2 to train up to; "
            "set it under estimator: or use another resource"
        )
    return full
