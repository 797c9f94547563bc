"""Where a study's records go: append-only journals while it runs, parquet when it ends.

Each trial and each outer fold is appended to a JSON-lines journal and flushed as soon as it
exists, so a run killed at any moment loses at most the trial in flight. The parquet tables
and `study.json` are written to a temporary name and renamed, so no reader ever sees half a
file.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.store import schema

TRIALS, FOLDS, STUDY, LOCK = "trials", "folds", "study.json", ".lock"
JSON_COLUMNS = ("params", "best_params", "hypergradient")


class Journal:
    """One JSON object per line, flushed and synced per append."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(_jsonable(record)) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every complete line; a line cut short by a crash is ignored."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def repair(self) -> None:
        """Cut a last line left half-written by a crash, so later appends start on a new line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with self.path.open("r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())

    def keep(self, wanted: Callable[[dict[str, Any]], bool]) -> None:
        """Atomically rewrite the journal with only the records `wanted` accepts."""
        kept = [r for r in self.read() if wanted(r)]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))


class StudyRecords:
    """The files of one study directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.trials = Journal(directory / f"{TRIALS}.jsonl")
        self.folds = Journal(directory / f"{FOLDS}.jsonl")

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_atomic(self.directory / STUDY, json.dumps(_jsonable(meta), indent=2, sort_keys=True))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study for this process; another process running it waits here."""
        with (self.directory / LOCK).open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def read_meta(self) -> dict[str, Any]:
        path = self.directory / STUDY
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def read_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return tuple(pd.read_parquet(self.directory / f"{n}.parquet") for n in (TRIALS, FOLDS))

    def write_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Compact the journals into `trials.parquet` and `folds.parquet`, in study order."""
        tables = []
        for name, journal, columns in (
            (TRIALS, self.trials, schema.TRIAL),
            (FOLDS, self.folds, schema.FOLD),
        ):
            table = schema.ordered(to_frame(sorted(journal.read(), key=_place)), columns)
            write_parquet(table, self.directory / f"{name}.parquet")
            tables.append(table)
        return tables[0], tables[1]


def to_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records as a table; nested values (parameter dicts) as canonical JSON strings."""
    frame = pd.DataFrame(records)
    for column in JSON_COLUMNS:
        if column in frame:
            frame[column] = [json.dumps(v, sort_keys=True) for v in frame[column]]
    return frame


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


def link_study(job_dir: Path, home: Path) -> None:
    """A relative `study` link from a Hydra job folder (logs) to the study's records."""
    job_dir.mkdir(parents=True, exist_ok=True)
    link = job_dir / "study"
    if not link.is_symlink():
        link.symlink_to(
            os.path.relpath(home.resolve(), job_dir.resolve()), target_is_directory=True
        )


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def canonical(value: Any) -> Any:
    """A value as it reads back from a journal, so live and journaled values compare equal."""
    return json.loads(json.dumps(_jsonable(value)))


def _place(record: dict[str, Any]) -> tuple[int, int, int]:
    """Where a record sits in a study: repeat, outer fold, trial (-1 for a fold record)."""
    return tuple(record.get(k, -1) for k in ("repeat", "outer_fold", "trial"))


def _jsonable(value: Any) -> Any:
    """Plain JSON: NaN becomes null, numpy scalars and paths become Python values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
