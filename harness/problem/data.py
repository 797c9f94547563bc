"""Load a dataset config into one frame of features and one target series.

Three sources: scikit-learn's bundled sets, OpenML by id (through openml-python and its
cache, so an offline machine works from `OPENML_CACHE_DIR`), and local CSV, parquet or ARFF.
Rows keep their original positions as index labels, so tests can tell which rows tuning saw.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import arff
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from harness.errors import UsageError
from harness.problem import settings

MAX_CLASSES = 100  # a numeric target with more distinct values is continuous


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    X: pd.DataFrame
    y: pd.Series
    notes: tuple[str, ...] = ()  # what loading changed, e.g. columns dropped

    @property
    def n_classes(self) -> int:
        return int(self.y.nunique()) if self.task == "classification" else 0

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the rows, columns, dtypes and values loaded: other data, other study.

        Taken after cleaning and subsampling, so another file, another `max_rows` or another
        version of an OpenML dataset gives another fingerprint, and the same data the same.
        """
        digest = hashlib.sha256()
        for frame in (self.X, self.y.to_frame("__target__")):
            digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
            digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        return digest.hexdigest()[:16]


def load_dataset(cfg: Any) -> Dataset:
    """Load, check and (if `max_rows` is set) subsample the dataset a config describes."""
    name, task = cfg.name, cfg.task
    max_rows = settings.dataset(cfg)  # task, source, max_rows, file: checked from the config
    loaders = {"sklearn": _from_sklearn, "openml": _from_openml, "file": _from_file}
    X, y = loaders[cfg.source](cfg)
    if len(X) == 0:
        raise UsageError(f"dataset {name}: no rows were loaded; point it at a file with data")
    empty = [str(c) for c in X.columns[X.isna().all()]]
    X = _clean_features(X.drop(columns=empty).reset_index(drop=True))
    if X.shape[1] == 0:
        raise UsageError(
            f"dataset {name}: no feature column has a value; point it at data with features"
        )
    y = _clean_target(y.reset_index(drop=True), task, name)
    if max_rows and len(X) > max_rows:
        X, y = _subsample(X, y, max_rows, task, name)
    notes = (f"dropped columns with no values: {', '.join(empty)}",) if empty else ()
    return Dataset(name=name, task=task, X=X, y=y, notes=notes)


def _from_sklearn(cfg: Any) -> tuple[pd.DataFrame, pd.Series]:
    import sklearn.datasets

    loader = getattr(sklearn.datasets, f"load_{cfg.loader}", None)
    if loader is None:
        raise UsageError(
            f"dataset {cfg.name}: scikit-learn has no bundled loader load_{cfg.loader}; "
            "use e.g. breast_cancer, wine, digits, iris or diabetes"
        )
    return loader(return_X_y=True, as_frame=True)


def _from_openml(cfg: Any) -> tuple[pd.DataFrame, pd.Series]:
    import openml
    import requests

    # Fail fast when offline: a missing file is a missing file, not a flaky network.
    openml.config.set_retry_policy("human", 1)
    logging.disable(logging.INFO)  # openml logs each request on the root logger: not ours
    try:
        dataset = openml.datasets.get_dataset(
            int(cfg.openml_id),
            download_data=True,
            download_qualities=False,
            download_features_meta_data=True,
        )
        target = cfg.get("target") or dataset.default_target_attribute
        X, y, _, _ = dataset.get_data(target=target, dataset_format="dataframe")
    except (requests.RequestException, openml.exceptions.OpenMLServerException, OSError) as e:
        cache = openml.config.get_cache_directory()
        raise UsageError(
            f"dataset {cfg.name}: OpenML dataset {cfg.openml_id} is not in the OpenML cache "
            f"({cache}) and OpenML could not be reached ({type(e).__name__}); point "
            "OPENML_CACHE_DIR at a cache that holds it (see docs/concepts/problems.md) or go online"
        ) from None
    finally:
        logging.disable(logging.NOTSET)
    return X, y


def _from_file(cfg: Any) -> tuple[pd.DataFrame, pd.Series]:
    path = settings.data_file(cfg)
    frame = _read_table(path, cfg.name)
    if cfg.target not in frame.columns:
        raise UsageError(
            f"dataset {cfg.name}: target column {cfg.target!r} is not in {path} "
            f"(columns: {list(frame.columns)}); set dataset.target"
        )
    return frame.drop(columns=[cfg.target]), frame[cfg.target]


def _read_table(path: Path, name: str) -> pd.DataFrame:
    """The file parsed by its suffix's reader; any parse failure is the file's, told as such."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    kind = next((k for k, ends in READERS if suffixes.endswith(ends)), None)
    if kind is None:
        raise UsageError(
            f"dataset {name}: cannot read {path}; use a .csv, .parquet or .arff(.gz) file"
        )
    try:
        if kind == "CSV":
            return pd.read_csv(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        opener = gzip.open if suffixes.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return _arff_frame(arff.load(f))
    except Exception as e:  # every reader has its own errors; all mean "not a valid file"
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise UsageError(
            f"dataset {name}: {path} is not a valid {kind} file ({reason}); fix the file or "
            "point dataset.path at another"
        ) from None


READERS = (("CSV", ".csv"), ("parquet", (".parquet", ".pq")), ("ARFF", (".arff", ".arff.gz")))


def _arff_frame(loaded: dict[str, Any]) -> pd.DataFrame:
    """ARFF nominal attributes become categoricals, numeric ones floats."""
    names = [attr for attr, _ in loaded["attributes"]]
    frame = pd.DataFrame(loaded["data"], columns=names)
    for attr, kind in loaded["attributes"]:
        if isinstance(kind, list):
            frame[attr] = pd.Categorical(frame[attr], categories=kind)
        elif kind.upper() in ("NUMERIC", "REAL", "INTEGER"):
            frame[attr] = pd.to_numeric(frame[attr], errors="coerce").astype(float)
    return frame


def _clean_features(X: pd.DataFrame) -> pd.DataFrame:
    """Non-numeric columns (strings, bools, categoricals) as categoricals with string labels.

    One kind of categorical column: the imputer and encoder then never meet a mix of bool and
    string categories, which numpy cannot put in one array.
    """
    other = X.select_dtypes(exclude="number").columns
    return X.astype({c: "category" for c in other}).apply(
        lambda col: col.cat.rename_categories(str) if col.name in other else col
    )


def _clean_target(y: pd.Series, task: str, name: str) -> pd.Series:
    if y.isna().any():
        raise UsageError(f"dataset {name}: target has {int(y.isna().sum())} missing values")
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if task == "regression":
        if not numeric:
            raise UsageError(
                f"dataset {name}: task is regression but the target is not numeric; "
                "set task: classification"
            )
        if y.nunique() < 2:
            raise UsageError(
                f"dataset {name}: the target has a single value ({y.iloc[0]:g}); a regression "
                "target must vary: point dataset.target at another column"
            )
        return y.astype(float)
    if y.nunique() < 2:
        raise UsageError(
            f"dataset {name}: the target has a single class ({str(y.iloc[0])!r}); classification "
            "needs at least 2: point dataset.target at another column or use other rows"
        )
    if numeric and (not np.allclose(y, np.round(y)) or y.nunique() > MAX_CLASSES):
        raise UsageError(
            f"dataset {name}: task is classification but the target is continuous "
            f"({y.nunique()} distinct values); set task: regression"
        )
    # Class labels as plain values: category dtypes from ARFF/OpenML confuse some scorers.
    return y.astype(int) if numeric else y.astype(str)


def _subsample(X: pd.DataFrame, y: pd.Series, rows: int, task: str, name: str) -> tuple[Any, Any]:
    """A fixed stratified subsample: the same rows for every seed, so instances stay fixed."""
    stratify = y if task == "classification" else None
    try:
        X_sub, _, y_sub, _ = train_test_split(
            X, y, train_size=rows, stratify=stratify, random_state=0
        )
    except ValueError as e:  # e.g. fewer rows kept, or left out, than there are classes
        raise UsageError(
            f"dataset.max_rows is {rows}; {name} ({len(y)} rows) cannot be subsampled to it "
            f"({e}); set another dataset.max_rows, or null for all rows"
        ) from None
    return X_sub.sort_index().reset_index(drop=True), y_sub.sort_index().reset_index(drop=True)
