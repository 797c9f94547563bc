"""Repeated nested cross-validation: which rows each tuning run may see, and with what seed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

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

    def outer_splitter(self, task: str, seed: int) -> RepeatedKFold | RepeatedStratifiedKFold:
        """Stratified for classification (not for clustering, whose splits never read the
        labels); each repeat reshuffles with a new seed."""
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

    def fewest_inner_training_rows(self, rows: int) -> int:
        """The fewest rows any inner-training part of `rows` rows gets (unstratified folds)."""
        return _training_rows(_training_rows(rows, self.outer_folds), self.inner_folds)

    def check_rows(self, y: pd.Series, task: str) -> None:
        """Refuse fold counts the data cannot fill, naming the counts that would work.

        Stratified folds need a row of every class in each test fold, so `outer_folds` rows
        of every class, and every outer-training part `inner_folds` of them. Regression scores
        (r2) need 2 rows in a test fold, so twice as many rows. A fold count the data cannot
        fill would leave test folds without a class, or fail in every trial.
        """
        classification = task == "classification"
        counts = y.value_counts() if classification else pd.Series({"": len(y)})
        label, rows = str(counts.idxmin()), int(counts.min())
        what = f"rows of class {label!r}" if classification else "rows"
        per_fold = 1 if classification else 2
        fits = partial(_fits, per_fold=per_fold)
        outer, inner = self.outer_folds, self.inner_folds
        if fits(rows, outer, inner):
            return
        if not fits(rows, outer, 0):
            needs = f"protocol.outer_folds={outer} needs {per_fold * outer}"
            problem = f"{needs} {what}, and the data has {rows}"
        else:
            needs = f"protocol.inner_folds={inner} needs {per_fold * inner}"
            problem = (
                f"{needs} {what} in every outer-training part, and with {outer} outer folds "
                f"some have {_training_rows(rows, outer)}"
            )
        fixes = [
            f"protocol.{key} <= {best}"
            for key, fit in (
                ("outer_folds", lambda k: fits(rows, k, inner)),
                ("inner_folds", lambda k: fits(rows, outer, k)),
            )
            if (best := next((k for k in range(rows, 1, -1) if fit(k)), None))
        ]
        needed = next(n for n in itertools.count(rows) if fits(n, outer, inner))
        fix = f"set {' or '.join(fixes)}" if fixes else f"use data with {needed} {what} or more"
        raise UsageError(f"{problem}; {fix}")


def _fits(rows: int, outer: int, inner: int, per_fold: int) -> bool:
    """Whether `rows` give every one of `outer` test folds, and then of `inner` validation
    folds in each outer-training part, `per_fold` rows."""
    return rows >= per_fold * outer and _training_rows(rows, outer) >= per_fold * inner


def _training_rows(rows: int, folds: int) -> int:
    """The fewest of `rows` left for training when k-fold CV takes out its largest test fold."""
    return rows - -(-rows // folds)


def derive_seed(seed: int, *path: int) -> int:
    """An independent 32-bit seed for a place in the study (e.g. a repeat and an outer fold)."""
    return int(np.random.SeedSequence([seed, *(p + 1 for p in path)]).generate_state(1)[0])
