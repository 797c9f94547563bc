"""How the pipeline and the records name a search space's parameters: part of the strategy
contract, so an adapter that hands a library the pipeline (scikit-learn's searchers) or
records plain values needs nothing else of the problem.

A tuned parameter `C` is the estimator step's `model__C`; a name starting with `prep__` tunes
the preprocessing step and is already a pipeline name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

STEP = "model"  # the pipeline step that tuned parameters address, as in `model__C`
PREP = "prep"  # the preprocessing step; a space parameter named `prep__...` tunes it


def pipeline_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Search-space names to pipeline parameter names: `C` is the estimator's `model__C`; a
    name starting with `prep__` is a preprocessing parameter, already a pipeline name."""
    return {pipeline_name(name): value for name, value in params.items()}


def pipeline_name(name: str) -> str:
    return name if is_prep(name) else f"{STEP}__{name}"


def space_name(name: str) -> str:
    """A pipeline parameter name back to its search-space name."""
    return name.removeprefix(f"{STEP}__")


def is_prep(name: str) -> bool:
    """Whether a search-space parameter tunes the preprocessing step."""
    return name.startswith(f"{PREP}__")


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as plain Python values (numpy scalars unwrapped) for records and JSON."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
