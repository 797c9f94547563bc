"""The neutral search space: validation on load, and its scikit-learn forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import ParameterGrid, ParameterSampler

from harness.errors import UsageError
from harness.problem.space import SearchSpace

SVC_LIKE = {
    "C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True},
    "kernel": {"type": "categorical", "choices": ["rbf", "poly", "linear"]},
    "gamma": {"type": "float", "low": 1e-4, "high": 1.0, "log": True,
              "condition": {"kernel": ["rbf", "poly"]}},
    "degree": {"type": "int", "low": 2, "high": 5, "condition": {"kernel": "poly"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"a": {"type": "float", "low": 2.0, "high": 1.0}}, r"low \(2.0\) must be below high"),
        ({"a": {"type": "int", "low": 3, "high": 3}}, "must be below high"),
        ({"a": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0"),
        ({"a": {"type": "int", "low": -1, "high": 8, "log": True}}, "log scale needs low > 0"),
        ({"a": {"type": "categorical", "choices": []}}, "choices is empty"),
        ({"a": {"type": "float", "low": 0, "high": 1, "condition": {"b": "x"}}},
         "unknown parameter 'b'"),
        ({"a": {"type": "int", "low": 1, "high": 3},
          "b": {"type": "float", "low": 0, "high": 1, "condition": {"a": 2}}}, "not categorical"),
        ({"a": {"type": "categorical", "choices": ["x"]},
          "b": {"type": "float", "low": 0, "high": 1, "condition": {"a": "y"}}},
         "not choices of 'a'"),
        ({"a": {"type": "double", "low": 0, "high": 1}}, "use float, int or categorical"),
        ({"a": {"type": "float", "low": 0}}, "needs both low and high"),
        ({"a": {"type": "int", "low": 0.5, "high": 4}}, "whole numbers"),
        ({"a": {"type": "float", "low": 0, "high": 1, "step": 0.1}}, r"unknown keys \['step'\]"),
    ],
)  # fmt: skip
def test_invalid_spaces_are_refused_with_the_file_named(spec, message) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        SearchSpace.from_config(spec, "conf/model/x.yaml")
    assert str(caught.value).startswith("conf/model/x.yaml: ")
    assert "\n" not in str(caught.value)


def test_conditional_space_expands_into_one_subspace_per_parent_value() -> None:
    space = SearchSpace.from_config(SVC_LIKE, "here")
    subspaces = [(fixed, [p.name for p in free]) for fixed, free in space.subspaces()]
    assert subspaces == [
        ({"kernel": "rbf"}, ["C", "gamma"]),
        ({"kernel": "poly"}, ["C", "gamma", "degree"]),
        ({"kernel": "linear"}, ["C"]),
    ]


def test_grid_has_every_combination_and_respects_conditions() -> None:
    space = SearchSpace.from_config(SVC_LIKE, "here")
    grid = list(ParameterGrid(space.sklearn_grid(3)))
    # rbf: 3 C x 3 gamma; poly: 3 C x 3 gamma x 3 degrees; linear: 3 C.
    assert all(space.validate_config(c) == [] for c in grid)
    assert sum(c["kernel"] == "rbf" for c in grid) == 9
    assert sum(c["kernel"] == "linear" for c in grid) == 3
    assert len(grid) == 9 + 27 + 3
    assert sorted({c["C"] for c in grid}) == pytest.approx([1e-3, 1.0, 1e3])
    assert {c["degree"] for c in grid if c["kernel"] == "poly"} == {2, 4, 5}  # 3.5 rounds to 4


def test_random_draws_stay_in_the_space_and_follow_log_scale() -> None:
    space = SearchSpace.from_config(SVC_LIKE, "here")
    draws = list(ParameterSampler(space.sklearn_distributions(), n_iter=3000, random_state=0))
    assert all(space.validate_config(d) == [] for d in draws)
    kernels = [d["kernel"] for d in draws]
    assert {k: kernels.count(k) / 3000 for k in set(kernels)} == pytest.approx(
        {"rbf": 1 / 3, "poly": 1 / 3, "linear": 1 / 3}, abs=0.04
    )
    logs = np.log10([d["C"] for d in draws])
    assert np.mean(logs < 0) == pytest.approx(0.5, abs=0.04)  # log-uniform, not uniform
    degrees = [d["degree"] for d in draws if "degree" in d]
    assert set(degrees) == {2, 3, 4, 5}


def test_int_draws_are_scipys_randint_draws_from_the_same_stream() -> None:
    """The space's integer distribution is its own (scipy's argument checks cost 60 us a draw),
    so ParameterSampler over it must propose what it proposes over scipy's `randint`."""
    spec = {
        "a": {"type": "int", "low": 0, "high": 1},
        "b": {"type": "int", "low": -5, "high": 900},
        "c": {"type": "categorical", "choices": ["x", "y", "z"]},
        "d": {"type": "int", "low": 3, "high": 2**40},
        "e": {"type": "float", "low": 0.0, "high": 1.0},
    }
    space = SearchSpace.from_config(spec, "x")
    ints = {p.name: stats.randint(p.low, p.high + 1) for p in space.params if p.type == "int"}
    scipys = [d | ints for d in space.sklearn_distributions()]
    for seed in range(20):
        ours = list(ParameterSampler(space.sklearn_distributions(), 50, random_state=seed))
        theirs = list(ParameterSampler(scipys, 50, random_state=seed))
        assert ours == theirs
        assert {type(d["b"]) for d in ours} == {type(d["b"]) for d in theirs} == {int}


def test_log_int_draws_cover_the_range_log_uniformly() -> None:
    space = SearchSpace.from_config({"n": {"type": "int", "low": 1, "high": 100, "log": True}}, "x")
    draws = np.array(
        [d["n"] for d in ParameterSampler(space.sklearn_distributions(), 4000, random_state=1)]
    )
    assert draws.min() == 1 and draws.max() <= 100
    assert np.mean(draws < 10) == pytest.approx(np.log(10) / np.log(101), abs=0.04)


def test_validate_config_names_each_problem() -> None:
    space = SearchSpace.from_config(SVC_LIKE, "here")
    problems = space.validate_config({"C": 1e6, "kernel": "linear", "gamma": 0.1})
    assert problems == [
        "C=1000000.0 is outside the space",
        "gamma is not active (or not in the space)",
    ]
    assert space.validate_config({"C": 1.0, "kernel": "poly", "gamma": 0.1}) == [
        "degree is active but missing"
    ]


def test_nested_conditions_fold_inactive_parents() -> None:
    spec = {
        "kind": {"type": "categorical", "choices": ["a", "b"]},
        "mode": {"type": "categorical", "choices": ["x", "y"], "condition": {"kind": "a"}},
        "depth": {"type": "int", "low": 1, "high": 4, "condition": {"mode": "y"}},
    }
    subspaces = [
        (f, [p.name for p in free]) for f, free in SearchSpace.from_config(spec, "x").subspaces()
    ]
    assert subspaces == [
        ({"kind": "a", "mode": "x"}, []),
        ({"kind": "a", "mode": "y"}, ["depth"]),
        ({"kind": "b"}, []),
    ]
