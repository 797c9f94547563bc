"""A model config becomes a preprocessing + estimator pipeline and its search space.

Preprocessing lives inside the pipeline, so every fit (inner or outer) learns imputation,
scaling and encoding from its own training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from harness import checks
from harness.errors import UsageError
from harness.problem import settings
from harness.problem.family import Variants, variant

# The names a pipeline gives the search space's parameters: their home is harness.problem.names
# (the strategy contract's side); imported from here too.
from harness.problem.names import (  # noqa: F401
    PREP,
    STEP,
    is_prep,
    pipeline_name,
    pipeline_params,
    plain,
    space_name,
)
from harness.problem.space import SearchSpace


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    estimator: BaseEstimator
    space: SearchSpace
    scale: bool
    families: tuple[str, ...] = ()  # model=cash: the families its estimator chooses among
    # The default configurations: the study's baseline is the one that scores best on inner
    # CV (one for a single model, its library defaults; one per family for model=cash).
    defaults: tuple[dict[str, Any], ...] = field(default=({},))


def load_model(cfg: Any, task: str) -> ModelSpec:
    """Validate a model config against the dataset's task and build its space. A clustering
    model fits any dataset: its target is ignored (and, if it holds classes, kept for ARI)."""
    where = f"conf/model/{cfg.name}.yaml"
    settings.model_task(cfg, task)
    space_cfg = OmegaConf.to_container(cfg.space, resolve=True) if cfg.get("space") else {}
    space = SearchSpace.from_config(space_cfg, where)
    checks.arguments(cfg.estimator._target_, cfg.estimator, "model.estimator")
    try:
        estimator = instantiate(cfg.estimator)
    except InstantiationException as e:
        first = str(e).strip().splitlines()[0]
        raise UsageError(f"{where}: model.estimator: {first}; fix model.estimator") from None
    spec = ModelSpec(cfg.name, cfg.task, estimator, space, bool(cfg.get("scale", True)))
    known = estimator.get_params(deep=False)
    unknown = [name for name in space.names if name not in known and not is_prep(name)]
    if unknown:
        raise UsageError(
            f"{where}: {type(estimator).__name__} has no parameter(s) {unknown}; "
            "fix the search space"
        )
    steps = build_pipeline(spec).get_params()
    unknown = [name for name in space.names if is_prep(name) and name not in steps]
    if unknown:
        raise UsageError(
            f"{where}: the preprocessing has no parameter(s) {unknown}; name one of its "
            "parameters, e.g. prep__numeric__simpleimputer__strategy "
            "(see harness/problem/models.py)"
        )
    return spec


def build_pipeline(spec: ModelSpec) -> Pipeline:
    """Impute, scale numeric and one-hot encode other columns, then the estimator; for
    model=cash, each preprocessing its families need (harness.problem.family)."""
    if spec.families:
        scales = sorted({name == variant(True) for _, name in spec.estimator.preprocessing})
        prep = Variants([(variant(scale), preprocessing(scale)) for scale in scales])
        return Pipeline([(PREP, prep), (STEP, spec.estimator)])
    return Pipeline([(PREP, preprocessing(spec.scale)), (STEP, spec.estimator)])


def pipeline_defaults(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's own parameter values by search-space name (`C`, `prep__...`): what the
    baseline is evaluated with, and what a strategy may start from (SearchHandle.defaults)."""
    params = pipeline.get_params(deep=True)
    return {space_name(k): v for k, v in params.items() if pipeline_name(space_name(k)) == k}


def preprocessing(scale: bool) -> ColumnTransformer:
    """Impute, scale numeric (if `scale`) and one-hot encode other columns."""
    numeric = [SimpleImputer(strategy="median", add_indicator=True)]
    if scale:
        numeric.append(StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=32, sparse_output=False),
    )
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(*numeric), make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ],
        verbose_feature_names_out=False,
    )
