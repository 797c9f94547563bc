"""What an override may name, checked against conf/'s YAML files before Hydra composes anything.

Hydra adds any key given with `+` and removes any key given with `~`, so a misspelt
`+budget.ntrials=5` would run a study with the budget it meant to change left as it was, and
`~seed` would end in a traceback. The rule here:

- `key=value` and `+key=value` / `++key=value` name a key conf/ declares: in config.yaml, or
  in some option of the key's group (so `+model.fidelity.continue=true` is known for a model
  whose fidelity lacks it). Only the OPEN places take keys conf/ does not declare: a model's
  estimator arguments and search space, a strategy's adapter and library options (each is
  checked later by what takes it: the estimator's and the library's signatures, the space).
  Config groups (`+tracking=mlflow`) and Hydra's own `hydra.*` are left to Hydra. Any other key
  is refused, naming the nearest known key.
- `~key` removes a key only inside OPEN (an estimator argument goes back to the library's
  default), an optional group (`~sweep`) or `hydra.*`; every other key is read by every study.

Only YAML is read, and only the files of the groups an override names, so a refusal costs
neither a heavy import nor a Hydra compose: it returns at the cost of importing Hydra.
"""

from __future__ import annotations

import difflib
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.errors import UsageError

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override

OPEN = ("model.estimator", "model.space", "strategy.adapter")
ADD = (
    "`+` adds keys only under model.estimator, model.space or strategy.adapter, "
    "or a group such as +tracking=mlflow"
)
DELETE = "`~` removes keys only under model.estimator, model.space or strategy.adapter, or ~sweep"


def check(overrides: list[Override], conf: Path) -> None:
    """Raise UsageError for the first override naming a key conf/ has no place for."""
    conf_keys = Keys.of(conf)
    for o in overrides:
        key = o.key_or_group
        if o.package is not None or key.split(".")[0] == "hydra" or key.startswith("hydra/"):
            continue
        if o.is_delete():
            _check_delete(o, overrides, conf_keys)
        elif key in conf_keys.groups:
            _check_option(o, conf_keys)
        elif not is_free(key, conf) and key not in conf_keys.known(key):
            rule = f" ({ADD})" if o.is_add() or o.is_force_add() else ""
            raise UsageError(f"{o.input_line}: {unknown(key, conf)}{rule}")


def _check_delete(o: Override, overrides: list[Override], conf_keys: Keys) -> None:
    key = o.key_or_group
    if key in conf_keys.groups:
        if key in conf_keys.required:
            raise UsageError(
                f"~{key}: every study needs a {key}; choose one instead: {key}=<one of "
                f"{', '.join(conf_keys.options(key))}>"
            )
        return
    inside = any(key.startswith(place + ".") for place in OPEN)
    if inside and not key.rpartition(".")[2].startswith("_"):
        return
    found, value = conf_keys.default(key, _choices(overrides))
    if found:  # else Hydra says the key does not exist
        raise UsageError(
            f"~{key}: {key} cannot be removed, every study reads it; set it instead (its "
            f"default: {key}={_text(value)}); {DELETE}"
        )


def _check_option(o: Override, conf_keys: Keys) -> None:
    """`strategy=nope` (or one of a sweep's `strategy=random,nope`): the options conf/ holds."""
    value, group = o.value(), o.key_or_group
    options = conf_keys.options(group)
    if value is None:  # Hydra would raise a ValueError
        fix = f"choose one of: {', '.join(options)}"
        if group not in conf_keys.required:
            fix = f"leave {group} out for none (or ~{group}), or {fix}"
        raise UsageError(f"{group}=null: a group takes an option's name; {fix}")
    names = [value] if isinstance(value, str) else getattr(value, "list", [])
    for name in names:
        if isinstance(name, str) and name not in options:
            raise UsageError(f"unknown {group} '{name}'; choose one of: {', '.join(options)}")


def unknown(key: str, conf: Path) -> str:
    """Why a key is unknown and the nearest known one: "budget has no key 'ntrials'; did you
    mean budget.n_trials?" for +budget.ntrials."""
    keys = Keys.of(conf)
    root, dot, rest = key.partition(".")
    if dot and root not in keys.groups and key not in keys.known(key):  # a misspelt group?
        group = difflib.get_close_matches(root, sorted(keys.groups), n=1, cutoff=0.6)
        if group and f"{group[0]}.{rest}" in keys.known(group[0]):
            return f"the config has no group '{root}'; did you mean {group[0]}.{rest}?"
    known = keys.known(key)
    parent, _, leaf = key.rpartition(".")
    siblings = sorted(k for k in known if k.rpartition(".")[0] == parent)
    where = f"{parent} has no key '{leaf}'" if parent else f"the config has no key '{key}'"
    near = difflib.get_close_matches(key, siblings or sorted(known), n=1, cutoff=0.6)
    if near:
        return f"{where}; did you mean {near[0]}?"
    if siblings:
        return f"{where}; its keys are {', '.join(siblings)}"
    return where


def is_free(key: str, conf: Path) -> bool:
    """Keys Hydra or a later check owns: open places, groups, Hydra's own config."""
    if key.split(".")[0] == "hydra" or key.startswith("hydra/") or key in Keys.of(conf).groups:
        return True
    return any(key.startswith(place + ".") for place in OPEN)


def _choices(overrides: list[Override]) -> dict[str, str]:
    """The group options a command chooses (`model=knn`), sweeps aside."""
    return {
        o.key_or_group: o.value()
        for o in overrides
        if not (o.is_delete() or o.is_sweep_override()) and isinstance(o.value(), str)
    }


def _text(value: Any) -> str:
    """A value as it is written on the command line."""
    if isinstance(value, str):
        return value
    return (
        yaml.safe_dump(value, default_flow_style=True, sort_keys=False)
        .strip()
        .removesuffix("\n...")
    )


class Keys:
    """The keys conf/ declares: config.yaml's own and, for a group, the union of its options'
    keys (a key one model has is known for every model). Each group's files are read once, when
    an override first names the group."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        self.groups = {p.name for p in conf.iterdir() if p.is_dir() and p.name != "hydra"}

    @cached_property
    def primary(self) -> dict[str, Any]:
        return _load(self.conf / "config.yaml")

    @cached_property
    def required(self) -> set[str]:
        """The groups config.yaml chooses an option of (not `sweep: null`)."""
        entries = [d for d in self.primary.get("defaults", []) if isinstance(d, dict)]
        return {g for d in entries for g, v in d.items() if g in self.groups and v}

    def known(self, key: str) -> set[str]:
        """The dotted keys declared where `key` would live: its group's, else config.yaml's."""
        root = key.split(".")[0]
        if root in self.groups:
            return self._group(root)
        own = {k: v for k, v in self.primary.items() if k not in ("defaults", "hydra")}
        return set(_flatten(own)) | self.groups

    def options(self, group: str) -> list[str]:
        return sorted(p.stem for p in (self.conf / group).glob("*.yaml"))

    def default(self, key: str, choices: dict[str, str]) -> tuple[bool, Any]:
        """(found, value) of `key` in config.yaml or in the option of its group chosen by
        `choices` (else config.yaml's default option)."""
        root, _, rest = key.partition(".")
        node: Any = self.primary
        if root in self.groups:
            defaults = [d for d in self.primary.get("defaults", []) if isinstance(d, dict)]
            option = choices.get(root) or next((d[root] for d in defaults if root in d), None)
            path = self.conf / root / f"{option}.yaml"
            if not rest or option is None or not path.is_file():
                return False, None
            node, key = _load(path), rest
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False, None
            node = node[part]
        return True, node

    @cache  # noqa: B019 (one instance per conf/ folder, kept for the process)
    def _group(self, group: str) -> set[str]:
        keys = {group}
        for path in (self.conf / group).glob("*.yaml"):
            if not path.read_text().startswith("# @package _global_"):
                keys |= set(_flatten(_load(path), group))
        return keys

    @classmethod
    @cache
    def of(cls, conf: Path) -> Keys:
        return cls(conf)


def _load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def _flatten(node: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping, inner nodes included."""
    keys = []
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        keys.append(full)
        if isinstance(value, dict):
            keys += _flatten(value, full)
    return keys
