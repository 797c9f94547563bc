"""Surrogates of a table (harness.problem.surrogate) on the svc space (log-scaled C, a
categorical kernel, gamma only under rbf): placement in the unit cube, and the nearest design
point's row as the answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.problem import surrogate
from harness.problem.space import SearchSpace

ROOT = Path(__file__).resolve().parents[1]
SPACE = SearchSpace.from_config(
    yaml.safe_load((ROOT / "conf/model/svc.yaml").read_text())["space"], "conf/model/svc.yaml"
)


def _design(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [SPACE.walk(lambda p: p.from_unit(rng.random())) for _ in range(n)]


def test_a_configuration_sits_where_the_strategies_search_it():
    """C at its log-scale coordinate, kernel one-hot, gamma at -1 when linear."""
    rows = surrogate.encode(SPACE, [{"C": 1.0, "kernel": "linear"}, {"C": 1e3, "kernel": "rbf",
                                                                     "gamma": 1e-4}])  # fmt: skip
    assert rows.shape == (2, 4)  # C, kernel=rbf, kernel=linear, gamma
    assert rows[0].tolist() == pytest.approx([0.5, 0.0, 1.0, surrogate.INACTIVE])
    assert rows[1].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])


def test_a_library_default_outside_the_space_sits_at_its_end_or_apart() -> None:
    """A table's first row is the model's defaults, which the space need not hold: hgb's
    l2_regularization 0 on a log range from 1e-6 sits at the range's start; rf's max_depth
    None (no limit) and max_features "sqrt" at -1, apart from every value the strategies
    propose."""
    spaces = {
        name: SearchSpace.from_config(
            yaml.safe_load((ROOT / f"conf/model/{name}.yaml").read_text())["space"], name
        )
        for name in ("hgb", "rf")
    }
    l2 = [p.name for p in spaces["hgb"].params].index("l2_regularization")
    low = surrogate.encode(spaces["hgb"], [{"l2_regularization": 0.0}, {"l2_regularization": 1e-6}])
    assert low[0, l2] == low[1, l2] == pytest.approx(0.0)
    depth = [p.name for p in spaces["rf"].params].index("max_depth")
    features = [p.name for p in spaces["rf"].params].index("max_features")
    defaults = {"max_depth": None, "max_features": "sqrt"}
    rows = surrogate.encode(spaces["rf"], [defaults, {"max_depth": 2, "max_features": 0.5}])
    assert rows[0, depth] == rows[0, features] == surrogate.INACTIVE
    assert rows[1, depth] >= 0 and rows[1, features] >= 0


def test_nearest_answers_a_design_point_with_its_own_row_and_a_nudged_one_with_it_too():
    design = _design(60, 0)
    values = np.random.default_rng(1).normal(size=(60, 3))
    fitted = surrogate.fit("nearest", SPACE, design, values)
    assert np.array_equal(fitted.predict(design), values)
    nudged = [dict(c, C=c["C"] * 1.0001) if c["C"] * 1.0001 <= 1e3 else c for c in design]
    assert np.array_equal(fitted.predict(nudged), values)


def test_nearest_never_answers_across_a_branch_of_the_space():
    """A linear-kernel configuration is answered from a linear design point, however close an
    rbf point's C is."""
    design = _design(80, 2)
    values = np.array([[float(c["kernel"] == "linear")] for c in design])
    fitted = surrogate.fit("nearest", SPACE, design, values)
    probes = [{"C": float(c), "kernel": "linear"} for c in np.geomspace(1e-3, 1e3, 25)]
    assert fitted.predict(probes).ravel().tolist() == [1.0] * 25


def test_the_forest_is_fixed_by_its_seed_and_an_unknown_kind_is_refused():
    design, values = _design(40, 3), np.random.default_rng(4).normal(size=(40, 2))
    probes = _design(10, 5)
    a = surrogate.fit("forest", SPACE, design, values, seed=7).predict(probes)
    b = surrogate.fit("forest", SPACE, design, values, seed=7).predict(probes)
    assert np.array_equal(a, b) and a.shape == (10, 2)
    with pytest.raises(ValueError, match="unknown surrogate 'knn'; choose one of: nearest"):
        surrogate.fit("knn", SPACE, design, values)
