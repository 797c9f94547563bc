"""A model config becomes a preprocessing + estimator pipeline and its search space.

Preprocessing lives inside the pipeline, so every fit (inner or outer) learns imputation,
scaling and encoding from its own training rows only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from harness.errors import UsageError
from harness.space import SearchSpace

STEP = "model"  # the pipeline step that tuned parameters address, as in `model__C`


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    estimator: BaseEstimator
    space: SearchSpace
    scale: bool


def load_model(cfg: Any, task: str) -> ModelSpec:
    """Validate a model config against the dataset's task and build its space."""
    where = f"conf/model/{cfg.name}.yaml"
    if cfg.task != task:
        raise UsageError(
            f"model {cfg.name} is for {cfg.task} but the dataset is a {task} task; "
            f"choose a {task} model (see conf/model/)"
        )
    space_cfg = OmegaConf.to_container(cfg.space, resolve=True) if cfg.get("space") else {}
    space = SearchSpace.from_config(space_cfg, where)
    estimator = instantiate(cfg.estimator)
    known = estimator.get_params(deep=False)
    unknown = [name for name in space.names if name not in known]
    if unknown:
        raise UsageError(
            f"{where}: {type(estimator).__name__} has no parameter(s) {unknown}; "
            "fix the search space"
        )
    return ModelSpec(cfg.name, cfg.task, estimator, space, bool(cfg.get("scale", True)))


def build_pipeline(spec: ModelSpec) -> Pipeline:
    """Impute, scale numeric and one-hot encode other columns, then the estimator."""
    numeric = [SimpleImputer(strategy="median", add_indicator=True)]
    if spec.scale:
        numeric.append(StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=32, sparse_output=False),
    )
    prep = ColumnTransformer(
        [
            ("numeric", make_pipeline(*numeric), make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("prep", prep), (STEP, spec.estimator)])


def pipeline_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Search-space names to pipeline parameter names."""
    return {f"{STEP}__{name}": value for name, value in params.items()}


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as plain Python values (numpy scalars unwrapped) for records and JSON."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
