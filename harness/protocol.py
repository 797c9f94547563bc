"""Repeated nested cross-validation: which rows each tuning run may see, and with what seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

from harness import checks
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
        n_jobs = cfg.get("n_jobs")
        if n_jobs == 0 or isinstance(n_jobs, bool) or not isinstance(n_jobs, int | None):
            raise UsageError(
                f"protocol.n_jobs is {n_jobs!r}; set it to a number of processes >= 1, -1 for "
                "every core, or null for none"
            )
        return cls(
            checks.number("protocol.repeats", cfg.repeats, low=1, high=MAX_FOLDS),
            checks.number("protocol.outer_folds", cfg.outer_folds, low=2, high=MAX_FOLDS),
            checks.number("protocol.inner_folds", cfg.inner_folds, low=2, high=MAX_FOLDS),
            n_jobs,
        )

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

    def check_rows(self, y: pd.Series, task: str) -> None:
        """Refuse fold counts the data cannot fill, naming the counts that would work.

        Stratified folds need `outer_folds` rows of every class, and every outer-training
        part `inner_folds` of them (for regression: rows of any kind). A fold count the data
        cannot fill would leave test folds without a class, or fail in every trial.
        """
        counts = y.value_counts() if task == "classification" else pd.Series({"": len(y)})
        label, rows = str(counts.idxmin()), int(counts.min())
        what = f"rows of class {label!r}" if task == "classification" else "rows"
        outer, inner = self.outer_folds, self.inner_folds
        if _fits(rows, outer, inner):
            return
        if rows < outer:
            problem = f"protocol.outer_folds={outer} needs {outer} {what}, and the data has {rows}"
        else:
            problem = (
                f"protocol.inner_folds={inner} needs {inner} {what} in every outer-training "
                f"part, and with {outer} outer folds some have {_training_rows(rows, outer)}"
            )
        fixes = [
            f"protocol.{key} <= {best}"
            for key, fits in (
                ("outer_folds", lambda k: _fits(rows, k, inner)),
                ("inner_folds", lambda k: _fits(rows, outer, k)),
            )
            if (best := next((k for k in range(rows, 1, -1) if fits(k)), None))
        ]
        needed = next(n for n in range(rows, rows + outer * (inner + 1)) if _fits(n, outer, inner))
        fix = f"set {' or '.join(fixes)}" if fixes else f"use data with {needed} {what} or more"
        raise UsageError(f"{problem}; {fix}")


MAX_FOLDS = 1000  # more folds than this is a typo, and would take for ever


def _fits(rows: int, outer: int, inner: int) -> bool:
    """Whether `rows` of the smallest class fill `outer` folds and then `inner` folds."""
    return rows >= outer and _training_rows(rows, outer) >= inner


def _training_rows(rows: int, folds: int) -> int:
    """The fewest of `rows` left for training when k-fold CV takes out its largest test fold."""
    return rows - -(-rows // folds)


def derive_seed(seed: int, *path: int) -> int:
    """An independent 32-bit seed for a place in the study (e.g. a repeat and an outer fold)."""
    return int(np.random.SeedSequence([seed, *(p + 1 for p in path)]).generate_state(1)[0])
