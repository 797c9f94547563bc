"""Preprocessing fitted once per split, so that a trial fits and scores only the estimator.

No parameter a strategy tunes touches the pipeline's preprocessing (imputation, missing
indicators, scaling, one-hot encoding) unless the search space names one, yet the whole
pipeline refits it identically for every trial. Here each split's preprocessing is fitted once
on its training rows and applied to its validation rows (on first use, so an outer fold whose
evaluations all come from the cache never fits it); the pipeline a trial fits starts with
`Precomputed`, which hands the estimator those rows. The estimator thus gets exactly the
matrices the whole pipeline would give it (same transformers, same rows, same order, dense or
sparse as the encoder makes them): scores are identical.

The splits are laid end to end, split k's training rows then its validation rows, in a frame of
row positions whose index keeps the original row labels; scikit-learn's `cross_validate` and
its searchers run on that frame and those splits unchanged, every fit landing inside one
split. Warnings the preprocessing raises are raised again where the whole pipeline raises them
(when fitting, and when scoring the validation rows), so trial records read the same.

With model=cash the preprocessing step is `Variants` (each family's preprocessing, side by
side): each variant is fitted once per split the same way, and the chosen family reads its own.

A study falls back to the whole pipeline (`fallback`) when its search space tunes a
preprocessing parameter, or when a multi-fidelity strategy subsamples the rows a fit sees
(`fidelity: {resource: rows}`), since the preprocessing is then fitted on those rows alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import Pipeline

from harness.problem.family import Variants
from harness.problem.fidelity import ROWS, Fidelity
from harness.problem.models import PREP, STEP, pipeline_name
from harness.problem.space import SearchSpace

POSITION = "position"  # the one column of the frame the pipeline is given
Split = tuple[np.ndarray, np.ndarray]


def fallback(space: SearchSpace, multi_fidelity: bool, fidelity: Fidelity | None) -> str | None:
    """Why a study must refit the whole pipeline every trial; None when it need not."""
    tuned = [name for name in space.names if not pipeline_name(name).startswith(f"{STEP}__")]
    if tuned:
        return f"the search space tunes preprocessing parameters {tuned}"
    if multi_fidelity and fidelity is not None and fidelity.resource == ROWS:
        return "the strategy's partial evaluations fit the preprocessing on a subsample of rows"
    return None


@dataclass(frozen=True)
class Prepared:
    """What to cross-validate instead of (pipeline, X, y, splits): the same fits and scores."""

    pipeline: Pipeline
    X: pd.DataFrame
    y: pd.Series
    splits: list[Split]

    def part(self, k: int) -> tuple[tuple[pd.DataFrame, pd.Series], tuple[pd.DataFrame, pd.Series]]:
        """Split k's training and validation parts, as (X, y) pairs."""
        return tuple((self.X.iloc[rows], self.y.iloc[rows]) for rows in self.splits[k])


def once_per_split(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, splits: Sequence[Split]
) -> Prepared:
    """`pipeline`'s preprocessing fitted once per split of X; its estimator fitted per call."""
    prep = pipeline.named_steps[PREP]
    if isinstance(prep, Variants):  # model=cash: each variant's blocks, the same row layout
        variants = [(name, Blocks(step, X, y, list(splits))) for name, step in prep.variants]
        blocks = variants[0][1]
        step = Variants([(name, Precomputed(b)) for name, b in variants])
    else:
        blocks = Blocks(prep, X, y, list(splits))
        step = Precomputed(blocks)
    order = np.concatenate([np.concatenate(split) for split in splits])
    frame = pd.DataFrame({POSITION: np.arange(len(order))}, index=X.index[order])
    positions = [
        (np.arange(start, middle), np.arange(middle, end))
        for start, middle, end in zip(
            blocks.starts[:-1], blocks.starts[:-1] + [len(train) for train, _ in splits],
            blocks.starts[1:], strict=True,
        )
    ]  # fmt: skip
    steps = [(PREP, step), (STEP, pipeline.named_steps[STEP])]
    return Prepared(Pipeline(steps), frame, y.iloc[order], positions)


@dataclass
class Block:
    """One split's rows after its preprocessing: training rows first, then validation rows."""

    rows: np.ndarray | sparse.spmatrix
    n_train: int
    fit_warnings: list[warnings.WarningMessage]
    test_warnings: list[warnings.WarningMessage]


class Blocks:
    """Each split's preprocessed rows, computed on first use and shared by every clone."""

    def __init__(self, prep: Any, X: pd.DataFrame, y: pd.Series, splits: list[Split]) -> None:
        self.prep, self.X, self.y, self.splits = prep, X, y, splits
        self.starts = np.cumsum([0] + [len(train) + len(test) for train, test in splits])
        self._done: dict[int, Block] = {}

    def __repr__(self) -> str:
        return f"Blocks({len(self.splits)} splits of {len(self.X)} rows)"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to joblib's workers for `protocol.n_jobs`, or to the trial worker) with
        every block computed, so that no receiving process computes them again."""
        for k in range(len(self.splits)):
            self.block(k)
        return self.__dict__

    def locate(self, positions: np.ndarray) -> tuple[int, np.ndarray]:
        """The split rows at these positions belong to, and their places in its block."""
        k = int(np.searchsorted(self.starts, positions.min(), side="right")) - 1
        if positions.max() >= self.starts[k + 1]:
            raise ValueError("rows of different splits in one fit; fit within one split")
        return k, positions - self.starts[k]

    def block(self, k: int) -> Block:
        if k not in self._done:
            train, test = self.splits[k]
            prep = clone(self.prep)
            fitted, fit_warnings = _caught(
                prep.fit_transform, self.X.iloc[train], self.y.iloc[train]
            )
            tested, test_warnings = _caught(prep.transform, self.X.iloc[test])
            if sparse.issparse(fitted):
                rows = sparse.vstack([fitted, tested], format="csr")
            else:
                rows = np.vstack([fitted, tested])
            self._done[k] = Block(rows, len(train), fit_warnings, test_warnings)
        return self._done[k]


class Precomputed(TransformerMixin, BaseEstimator):
    """The preprocessing step, already fitted on each split: `fit` learns which split its rows
    come from, `transform` returns their preprocessed rows."""

    def __init__(self, blocks: Blocks | None = None) -> None:
        self.blocks = blocks

    def __sklearn_clone__(self) -> Precomputed:
        return type(self)(self.blocks)  # shares the blocks: a clone costs nothing

    def fit(self, X: pd.DataFrame, y: Any = None) -> Precomputed:
        self.split_, _ = self.blocks.locate(X[POSITION].to_numpy())
        _replay(self.blocks.block(self.split_).fit_warnings)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray | sparse.spmatrix:
        k, places = self.blocks.locate(X[POSITION].to_numpy())
        if k != self.split_:
            raise ValueError(f"rows of split {k} given to a step fitted on split {self.split_}")
        block = self.blocks.block(k)
        if (places >= block.n_train).any():
            _replay(block.test_warnings)
        return block.rows[places]


def _caught(fn: Any, *args: Any) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    return result, caught


def _replay(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn(w.message, stacklevel=2)
