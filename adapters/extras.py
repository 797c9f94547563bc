"""Strategies whose library is an optional extra: a study that needs a missing one is refused
before it starts, in one line naming the command that installs it."""

from __future__ import annotations

import importlib.util

from harness.errors import UsageError


def require(module: str, library: str, extra: str, command: str | None = None) -> None:
    """Raise UsageError unless `module` (the import name of `library`) can be imported;
    `command` installs it where the extra alone does not (default: pip install the extra)."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(
            f"this strategy needs {library}, which is not installed; install the extra: "
            + (command or f'pip install -e ".[{extra}]"')
        )
