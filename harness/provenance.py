"""What records say about where they came from: digests of configs, versions of packages."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from typing import Any


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
