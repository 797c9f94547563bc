"""Repeated nested cross-validation: which rows each tuning run may see, and with what seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

from harness.errors import UsageError


@dataclass(frozen=True)
class OuterSplit:
    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class Protocol:
    repeats: int
    outer_folds: int
    inner_folds: int
    n_jobs: int | None

    @classmethod
    def from_config(cls, cfg: Any) -> Protocol:
        for key, least in (("repeats", 1), ("outer_folds", 2), ("inner_folds", 2)):
            value = cfg[key]
            if not isinstance(value, int) or value < least:
                raise UsageError(f"protocol.{key} is {value!r}; set it to an integer >= {least}")
        return cls(cfg.repeats, cfg.outer_folds, cfg.inner_folds, cfg.get("n_jobs"))

    def outer_splitter(self, task: str, seed: int) -> RepeatedKFold | RepeatedStratifiedKFold:
        """Stratified for classification; each repeat reshuffles with a new seed."""
        kind = RepeatedStratifiedKFold if task == "classification" else RepeatedKFold
        return kind(n_splits=self.outer_folds, n_repeats=self.repeats, random_state=seed)

    def inner_splitter(self, task: str, seed: int) -> KFold | StratifiedKFold:
        """The same inner splitter object for every outer fold, as GridSearchCV(cv=...) has."""
        kind = StratifiedKFold if task == "classification" else KFold
        return kind(n_splits=self.inner_folds, shuffle=True, random_state=derive_seed(seed))

    def outer_splits(
        self, X: pd.DataFrame, y: pd.Series, task: str, seed: int
    ) -> Iterator[OuterSplit]:
        splits = self.outer_splitter(task, seed).split(X, y)
        for i, (train, test) in enumerate(splits):
            yield OuterSplit(i // self.outer_folds, i % self.outer_folds, train, test)


def derive_seed(seed: int, *path: int) -> int:
    """An independent 32-bit seed for a place in the study (e.g. a repeat and an outer fold)."""
    return int(np.random.SeedSequence([seed, *(p + 1 for p in path)]).generate_state(1)[0])
