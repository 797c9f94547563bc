"""What `+key=`, `++key=` and `~key` may do, checked against conf/ before any job starts.

Hydra adds any key given with `+` and removes any key given with `~`, so a misspelt
`+budget.ntrials=5` would run a study with the budget it meant to change left as it was, and
`~seed` would end in a traceback. The rule here:

- `+`/`++` add keys only where the config has an open place for them: OPEN (a model's
  estimator arguments and search space, a strategy's adapter and library options, each checked
  later by what takes them), a config group (`+tracking=mlflow`), Hydra's own `hydra.*`, or a
  key some option of the same group declares (`+model.fidelity.continue=true` on a model
  whose fidelity lacks it). Any other key is refused, naming the nearest known key.
- `~` removes keys only inside OPEN (an estimator argument goes back to the library's
  default), an optional group (`~sweep`) or `hydra.*`; every other key is read by every study.

This module reads only the YAML files under conf/, so a refusal costs no heavy import.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.types import Override

from harness.errors import UsageError

OPEN = ("model.estimator", "model.space", "strategy.adapter")
WHERE = (
    "`+` adds keys only under model.estimator, model.space or strategy.adapter, "
    "or a group such as +tracking=mlflow"
)


def check_added(overrides: list[Override], conf: Path) -> None:
    """Refuse a `+`/`++` key the config has no place for, naming the nearest known key."""
    for o in overrides:
        key = o.key_or_group
        if not (o.is_add() or o.is_force_add()) or is_free(key, conf):
            continue
        if key not in Keys.of(conf).known:
            raise UsageError(f"{o.input_line}: {unknown(key, conf)} ({WHERE})")


def check_deleted(overrides: list[Override], conf: Path, values: dict[str, Any]) -> None:
    """Refuse `~key` of a key every study reads; `values` holds what each key is set to now."""
    for o in overrides:
        key = o.key_or_group
        if not o.is_delete() or key.split(".")[0] == "hydra" or key.startswith("hydra/"):
            continue
        if key in Keys.of(conf).groups:
            if key in Keys.of(conf).required:
                options = ", ".join(Keys.of(conf).options(key))
                raise UsageError(
                    f"~{key}: every study needs a {key}; choose one instead: {key}=<one of "
                    f"{options}>"
                )
            continue
        inside = any(key.startswith(place + ".") for place in OPEN)
        if inside and not key.rsplit(".", 1)[-1].startswith("_"):
            continue
        if key in values:
            raise UsageError(
                f"~{key}: {key} cannot be removed, every study reads it; set it instead "
                f"(now {key}={_yaml(values[key])}); `~` removes keys only under "
                f"{', '.join(OPEN)}, or an optional group such as ~sweep"
            )


def unknown(key: str, conf: Path) -> str:
    """Why a key is unknown and the nearest known one: "budget has no key 'ntrials'; did you
    mean budget.n_trials?" for +budget.ntrials."""
    keys = Keys.of(conf)
    parent, _, leaf = key.rpartition(".")
    siblings = sorted(k for k in keys.known if k.rpartition(".")[0] == parent)
    where = f"{parent} has no key '{leaf}'" if parent else f"the config has no key '{key}'"
    near = difflib.get_close_matches(key, siblings or sorted(keys.known), n=1, cutoff=0.6)
    if near:
        return f"{where}; did you mean {near[0]}?"
    if siblings:
        return f"{where}; its keys are {', '.join(siblings)}"
    return f"{where}; the top-level keys are {', '.join(sorted(keys.top))}"


def is_free(key: str, conf: Path) -> bool:
    """Keys Hydra or a later check owns: open places, groups, Hydra's own config."""
    if key.split(".")[0] == "hydra" or key.startswith("hydra/") or key in Keys.of(conf).groups:
        return True
    return any(key.startswith(place + ".") for place in OPEN)


def _yaml(value: Any) -> str:
    """A value as it is written on the command line."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


class Keys:
    """Every key conf/ declares: config.yaml's own and, for each group, the union of its
    options' keys (so a key one model has is known for every model)."""

    def __init__(self, conf: Path) -> None:
        primary = _load(conf / "config.yaml")
        self.groups = {p.name for p in conf.iterdir() if p.is_dir() and p.name != "hydra"}
        defaults = [d for d in primary.get("defaults", []) if isinstance(d, dict)]
        self.required = {g for d in defaults for g, v in d.items() if g in self.groups and v}
        self.conf = conf
        own = {k: v for k, v in primary.items() if k not in ("defaults", "hydra")}
        self.known = set(_flatten(own)) | self.groups
        for group in self.groups:
            for path in (conf / group).glob("*.yaml"):
                if not path.read_text().startswith("# @package _global_"):
                    self.known |= set(_flatten(_load(path), group))
        self.top = set(own) | self.groups

    def options(self, group: str) -> list[str]:
        return sorted(p.stem for p in (self.conf / group).glob("*.yaml"))

    @classmethod
    @cache
    def of(cls, conf: Path) -> Keys:
        return cls(conf)


def _load(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader) or {}


def _flatten(node: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping, inner nodes included."""
    keys = []
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        keys.append(full)
        if isinstance(value, dict):
            keys += _flatten(value, full)
    return keys
