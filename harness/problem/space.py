"""The library-neutral search space every strategy reads.

A model config declares its space as a mapping of parameter name to a spec::

    C:      {type: float, low: 1e-3, high: 1e3, log: true}
    degree: {type: int, low: 2, high: 5}
    kernel: {type: categorical, choices: [rbf, poly, linear]}
    gamma:  {type: float, low: 1e-4, high: 1, log: true, condition: {kernel: [rbf, poly]}}

A condition makes a parameter active only when categorical parents take the listed values.
Adapters translate this one format into their library's own; scikit-learn's ParameterGrid and
ParameterSampler get it as a list of flat sub-spaces, one per combination of parent values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from harness.errors import UsageError

Value = Any


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a numeric range or a set of choices, maybe conditional."""

    name: str
    type: str  # "float" | "int" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()
    condition: Mapping[str, tuple[Value, ...]] = field(default_factory=dict)

    @property
    def is_numeric(self) -> bool:
        return self.type in ("float", "int")

    def contains(self, value: Value) -> bool:
        if self.type == "categorical":
            return any(_same(value, c) for c in self.choices)
        if self.type == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def grid(self, resolution: int) -> list[Value]:
        """`resolution` evenly spaced points (log-spaced if log); every choice if categorical."""
        if self.type == "categorical":
            return list(self.choices)
        if resolution == 1:
            return [self.centre()]
        if self.log:
            points = np.geomspace(self.low, self.high, resolution)
        else:
            points = np.linspace(self.low, self.high, resolution)
        return list(dict.fromkeys(self._cast(p) for p in points))

    def distribution(self) -> Any:
        """A scipy-like distribution (or list) in ParameterSampler's format."""
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "float":
            if self.log:
                return stats.loguniform(self.low, self.high)
            return stats.uniform(self.low, self.high - self.low)
        if self.log:
            return _LogUniformInt(int(self.low), int(self.high))
        return _UniformInt(int(self.low), int(self.high))

    def centre(self) -> Value:
        """The middle of a numeric range (geometric if `log`, rounded for an int): a one-point
        grid, or a strategy's start; for a categorical, the choice at the axis' middle."""
        if self.type == "categorical":
            return self.from_unit(0.5)
        if self.log:
            return self._cast(math.sqrt(self.low * self.high))
        return self._cast((self.low + self.high) / 2)

    def from_unit(self, u: float) -> Value:
        """A coordinate in [0, 1] as a value of the parameter: uniform, or log-uniform if `log`;
        every integer and every choice gets an equal share of the axis (so a design or a step
        over [0, 1] treats every kind of parameter alike)."""
        if self.type == "categorical":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        top = self.high + 1 if self.type == "int" else self.high
        low, high = (math.log(self.low), math.log(top)) if self.log else (self.low, top)
        x = low + u * (high - low)
        x = min(max(math.exp(x) if self.log else x, self.low), top)
        return min(math.floor(x), self.high) if self.type == "int" else float(x)

    def to_unit(self, value: Value) -> float:
        """A value's coordinate in [0, 1], the inverse of `from_unit`: an integer or a choice
        maps to the middle of its share, so `from_unit(to_unit(v)) == v` for every value in
        the space (up to rounding for a float); a value outside the range (the estimator's own
        default, say 0 on a log scale) maps to the nearer end."""
        if self.type == "categorical":
            index = next(i for i, c in enumerate(self.choices) if _same(value, c))
            return (index + 0.5) / len(self.choices)
        top = self.high + 1 if self.type == "int" else self.high
        t = math.log if self.log else float
        value = min(max(value, self.low), self.high)  # outside (a library default): its end
        # an integer: the middle of its share [v, v + 1) on the axis' scale
        at = (t(value) + t(value + 1)) / 2 if self.type == "int" else t(value)
        u = (at - t(self.low)) / (t(top) - t(self.low))
        return min(max(u, 0.0), 1.0)

    def _cast(self, value: float) -> Value:
        return int(np.rint(value)) if self.type == "int" else float(value)


class _UniformInt:
    """scipy's `randint(low, high + 1)` as ParameterSampler draws it, the same draws from the
    same stream (tests/test_space.py checks), without scipy's per-call argument checks: about
    1 microsecond a draw instead of 60, which a table study's thousands of trials notice."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def rvs(self, random_state: Any = None) -> int:
        return int(random_state.randint(self.low, self.high + 1, dtype=np.int64))


class _LogUniformInt:
    """Integers whose logarithm is uniform on [log low, log(high + 1)), as optuna's log ints."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self._log_uniform = stats.loguniform(low, high + 1)  # frozen once: freezing is slow

    def rvs(self, random_state: Any = None) -> int:
        draw = self._log_uniform.rvs(random_state=random_state)
        return min(math.floor(draw), self.high)


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of parameters; conditions refer to categorical parameters only."""

    params: tuple[Param, ...]

    @classmethod
    def from_config(cls, spec: Mapping[str, Mapping[str, Any]], where: str) -> SearchSpace:
        """Build and validate a space; `where` names the config file in error messages."""
        params = tuple(_parse_param(name, dict(body), where) for name, body in spec.items())
        space = cls(params)
        space._validate_conditions(where)
        return space

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def __len__(self) -> int:
        return len(self.params)

    def is_active(self, param: Param, assignment: Mapping[str, Value]) -> bool:
        """True when every condition of `param` holds under `assignment`."""
        return all(
            parent in assignment and any(_same(assignment[parent], v) for v in values)
            for parent, values in param.condition.items()
        )

    def walk(self, value_of: Callable[[Param], Value]) -> dict[str, Value]:
        """A configuration built parameter by parameter in declaration order, each active one
        given `value_of(param)`, inactive ones never asked: every adapter's one way through a
        conditional space (a define-by-run suggestion, or a point read off a full vector)."""
        params: dict[str, Value] = {}
        for p in self.params:
            if self.is_active(p, params):
                params[p.name] = value_of(p)
        return params

    def active(self, assignment: Mapping[str, Value]) -> list[Param]:
        """Parameters active under a (partial) assignment, in declaration order."""
        return [p for p in self.params if self.is_active(p, assignment)]

    def validate_config(self, config: Mapping[str, Value]) -> list[str]:
        """Problems with a proposed configuration (empty when it is valid)."""
        problems = []
        active = {p.name for p in self.active(config)}
        for name, value in config.items():
            if name not in active:
                problems.append(f"{name} is not active (or not in the space)")
            elif not self[name].contains(value):
                problems.append(f"{name}={value!r} is outside the space")
        problems += [f"{name} is active but missing" for name in active - set(config)]
        return problems

    def subspaces(self) -> Iterator[tuple[dict[str, Value], list[Param]]]:
        """Each combination of condition parents with the parameters active under it.

        Only parents that some condition names are fixed; the others stay free. Combinations
        under which a parent itself is inactive are folded into one, so no two are alike.
        """
        parents = [p for p in self.params if any(p.name in q.condition for q in self.params)]
        seen = []
        for values in itertools.product(*(p.choices for p in parents)):
            fixed = dict(zip((p.name for p in parents), values, strict=True))
            active = self._active_under(fixed)
            fixed = {k: v for k, v in fixed.items() if k in {p.name for p in active}}
            if fixed not in seen:
                seen.append(fixed)
                yield fixed, [p for p in active if p.name not in fixed]

    def sklearn_grid(self, resolution: int, prefix: str = "") -> list[dict[str, list[Value]]]:
        """The space as a ParameterGrid / GridSearchCV `param_grid`."""
        return [
            {prefix + k: [v] for k, v in fixed.items()}
            | {prefix + p.name: p.grid(resolution) for p in free}
            for fixed, free in self.subspaces()
        ]

    def sklearn_distributions(self, prefix: str = "") -> list[dict[str, Any]]:
        """The space as ParameterSampler / RandomizedSearchCV `param_distributions`.

        One dict per combination of parent values, so each combination is equally likely,
        just as each choice of an unconditional categorical is.
        """
        return [
            {prefix + k: [v] for k, v in fixed.items()}
            | {prefix + p.name: p.distribution() for p in free}
            for fixed, free in self.subspaces()
        ]

    def fixed(self, name: str, value: Value) -> SearchSpace:
        """The space left once unconditional `name` takes `value`: the parameters active under
        it, without `name` and without their condition on it (model=cash: one family's space,
        its parameters still `<family>__<name>`)."""
        assignment = {name: value}
        kept = []
        for p in self.params:
            if p.name == name or not all(
                parent in assignment or parent in {q.name for q in kept} for parent in p.condition
            ):
                continue
            if name in p.condition and not self.is_active(p, assignment):
                continue
            condition = {k: v for k, v in p.condition.items() if k != name}
            kept.append(replace(p, condition=condition))
        return SearchSpace(tuple(kept))

    def _active_under(self, fixed: Mapping[str, Value]) -> list[Param]:
        # A parent only counts if it is itself active: resolve conditions in declaration order.
        assignment: dict[str, Value] = {}
        active = []
        for p in self.params:
            if self.is_active(p, assignment):
                active.append(p)
                if p.name in fixed:
                    assignment[p.name] = fixed[p.name]
        return active

    def _validate_conditions(self, where: str) -> None:
        names = self.names
        for p in self.params:
            for parent, values in p.condition.items():
                if parent not in names:
                    raise UsageError(
                        f"{where}: condition of '{p.name}' names unknown parameter '{parent}'; "
                        f"use one of {names}"
                    )
                if names.index(parent) > names.index(p.name):
                    raise UsageError(
                        f"{where}: '{p.name}' is conditional on '{parent}', declared after it; "
                        "declare parents first"
                    )
                parent_param = self[parent]
                if parent_param.type != "categorical":
                    raise UsageError(
                        f"{where}: condition of '{p.name}' is on '{parent}', which is not "
                        "categorical; conditions may only name categorical parameters"
                    )
                bad = [v for v in values if not parent_param.contains(v)]
                if bad:
                    raise UsageError(
                        f"{where}: condition of '{p.name}' lists {bad}, not choices of "
                        f"'{parent}' {list(parent_param.choices)}"
                    )


def parents_first(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A space spec with every parameter after those its condition names, as `from_config`
    requires (study.json stores config keys sorted, not in declaration order)."""

    def depth(name: str) -> int:
        parents = (spec[name].get("condition") or {}).keys()
        return 1 + max((depth(p) for p in parents if p in spec), default=-1)

    return dict(sorted(spec.items(), key=lambda item: depth(item[0])))


def _parse_param(name: str, body: dict[str, Any], where: str) -> Param:
    prefix = f"{where}: search space parameter '{name}'"
    kind = body.pop("type", None)
    condition = {k: _as_tuple(v) for k, v in dict(body.pop("condition", None) or {}).items()}
    if kind == "categorical":
        choices = tuple(body.pop("choices", None) or ())
        _reject_extra(body, prefix)
        if not choices:
            raise UsageError(f"{prefix}: choices is empty; list at least one value")
        return Param(name, "categorical", choices=choices, condition=condition)
    if kind not in ("float", "int"):
        raise UsageError(f"{prefix}: type is {kind!r}; use float, int or categorical")
    low, high, log = body.pop("low", None), body.pop("high", None), bool(body.pop("log", False))
    _reject_extra(body, prefix)
    if low is None or high is None:
        raise UsageError(f"{prefix}: needs both low and high")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise UsageError(f"{prefix}: int bounds must be whole numbers, got {low} and {high}")
    if low >= high:
        raise UsageError(f"{prefix}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise UsageError(f"{prefix}: log scale needs low > 0, got low={low}")
    cast = int if kind == "int" else float
    return Param(name, kind, low=cast(low), high=cast(high), log=log, condition=condition)


def _reject_extra(body: Mapping[str, Any], prefix: str) -> None:
    if body:
        raise UsageError(f"{prefix}: unknown keys {sorted(body)}")


def _as_tuple(value: Any) -> tuple[Value, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _same(a: Value, b: Value) -> bool:
    # True == 1 in Python; a choice list [1, true] must keep them apart.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b
