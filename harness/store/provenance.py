"""What records say about where they came from: digests of configs, versions of packages."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement

PROJECT = "tunebench"  # the distribution name in pyproject.toml


def digest(value: Any, length: int) -> str:
    """A stable hex digest of a JSON-able value (a config, or part of one)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def installed(package: str) -> str | None:
    """The installed version of a package ("python" for the interpreter), None if absent."""
    if package == "python":
        return platform.python_version()
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def declared_versions() -> dict[str, str]:
    """The interpreter and every installed package the project declares (pyproject.toml's
    dependencies and optional extras, read from the installed distribution's metadata), so a
    strategy's libraries (cmaes, torch, ...) are listed without a hand-kept list. The `test`
    extra (pytest, ruff) says nothing about results and is left out. Read once per process
    (50 packages' metadata: 70 ms, which a process running hundreds of table studies pays
    once): what a process has imported does not change under it."""
    return dict(_declared_versions())


@functools.cache
def _declared_versions() -> dict[str, str]:
    try:
        declared = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        declared = []
    names = [
        requirement.name
        for requirement in map(Requirement, declared)
        if not (requirement.marker and requirement.marker.evaluate({"extra": "test"}))
    ]
    found = {name: installed(name) for name in ("python", *sorted(set(names), key=str.lower))}
    return {name: version for name, version in found.items() if version is not None}
