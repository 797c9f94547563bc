"""The `run.*` values the store reads (`run.store`, `run.retry`, `run.cache`), checked without
the store's own imports (pandas, pyarrow): the CLI checks them before anything heavy is
imported, and a study checks them again, with the same functions, when it is prepared.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from harness.errors import UsageError

STATUSES = ("failed", "timeout", "memory")  # what a trial can end as besides "ok"


def check_store(store: str | Path) -> Path:
    """The results store, if it is (or can be made) a writable directory; else UsageError.

    Checked before a study writes anything: the nearest existing folder on its path must
    take a new folder, which is tried and removed again.
    """
    path = Path(store).expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(
            f"run.store is {store}, and {existing} is a file, not a folder; point run.store "
            "at a folder"
        )
    try:
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as e:
        raise UsageError(
            f"run.store is {store}, and {existing} cannot be written ({e.strerror}); point "
            "run.store at a folder you can write"
        ) from None
    return path


def retry_statuses(value: Any) -> frozenset[str]:
    """`run.retry` validated: a list of trial statuses (or one)."""
    wanted = [value] if isinstance(value, str) else list(value or [])
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise UsageError(
            f"run.retry has {unknown}; list trial statuses to retry from {list(STATUSES)}, "
            "e.g. run.retry=[timeout,memory]"
        )
    return frozenset(wanted)


def cache_flag(value: Any) -> bool:
    """`run.cache` validated: whether evaluations are kept in the store's cache."""
    if not isinstance(value, bool):
        raise UsageError(f"run.cache is {value!r}; set it to true or false")
    return value
