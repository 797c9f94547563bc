"""Where a study's records go: append-only journals while it runs, parquet when it ends.

Each trial and each outer fold is appended to a JSON-lines journal and flushed as soon as it
exists, so a run killed at any moment loses at most the trial in flight. The parquet tables
and `study.json` are written to a temporary name and renamed, so no reader ever sees half a
file.

The journals' guarantee: every line carries a checksum of its record and of the study key
(`checksum`), so a damaged line (garbled bytes, an edited value, a line copied from another
study) is found when the journal is read. Reading keeps the intact lines up to the first
damaged one; `Journal.recover` moves that line and every line after it to
`<journal>.damaged`, and the study recomputes what they held (its trials are deterministic
under its key; harness.store.resume says so in one line). A last line without its newline is
a write a crash cut short, not damage: it is cut off without a word, and its trial is
redone. A journal in which no line has a checksum was written before they existed: its
lines are accepted as they are, with a one-line note, and rewritten with checksums. The
parquet tables are derived from the journals and rebuilt from them when missing or
unreadable (`Damaged`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from harness.store import schema
from harness.store.provenance import digest

TRIALS, FOLDS, STUDY, LOCK = "trials", "folds", "study.json", ".lock"
JSON_COLUMNS = ("params", "best_params", "hypergradient", "best_values")
CHECKSUM = "checksum"  # the key of every journal line's checksum
DAMAGED = ".damaged"  # damaged lines are moved to <journal>.damaged, a damaged study.json too


class Damaged(Exception):
    """A store file that is missing or cannot be read; the message names it and why."""


@dataclass
class Reading:
    """What a journal holds: the intact records up to the first damaged line, and the rest."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0  # complete lines (a torn last line is not one)
    first_damaged: int | None = None  # 1-based line number of the first damaged line
    failing: int = 0  # lines from the first damaged one on that fail their check
    torn: bool = False  # a last line without its newline: a crash mid-write
    legacy: bool = False  # lines without checksums, written before journals carried them

    @property
    def moved(self) -> int:
        """Lines set aside: the first damaged one and every line after it."""
        return 0 if self.first_damaged is None else self.lines - self.first_damaged + 1


class Journal:
    """One JSON object per line, each with its checksum, flushed and synced per append.

    `key` (the study key) goes into every checksum, so a line of another study's journal is
    damaged here."""

    def __init__(self, path: Path, key: str = "") -> None:
        self.path = path
        self.key = key

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(self._line(record))
            f.flush()
            os.fsync(f.fileno())

    def extend(self, records: list[dict[str, Any]]) -> None:
        """Append many records with one write and one sync (a table study's batches)."""
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(map(self._line, records)))
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        """The intact records, up to the first damaged line (see the module's docstring)."""
        return self.scan().records

    def scan(self) -> Reading:
        """Every complete line checked; nothing changed on disk."""
        lines, torn = self._lines()
        parsed = [_parse(line) for line in lines]
        reading = Reading(lines=len(lines), torn=torn)
        reading.legacy = bool(lines) and not any(p and CHECKSUM in p for p in parsed)
        pairs = list(zip(parsed, lines, strict=True))
        for number, (record, line) in enumerate(pairs, 1):
            if not self._intact(record, reading.legacy, line):
                reading.first_damaged = number
                break
            record.pop(CHECKSUM, None)
            reading.records.append(record)
        if reading.first_damaged is not None:
            rest = pairs[reading.first_damaged - 1 :]
            reading.failing = sum(not self._intact(p, reading.legacy, ln) for p, ln in rest)
        return reading

    def recover(self) -> Reading:
        """Set the damaged lines aside (appended to `<journal>.damaged`) and cut a torn last
        line, so that the journal holds only intact, checksummed lines; what it found."""
        reading = self.scan()
        if reading.first_damaged is not None:
            rest = self._lines()[0][reading.first_damaged - 1 :]
            with self.path.with_name(self.path.name + DAMAGED).open("ab") as f:
                f.write(b"".join(line + b"\n" for line in rest))
                f.flush()
                os.fsync(f.fileno())
        if reading.first_damaged is not None or reading.torn or reading.legacy:
            write_atomic(self.path, "".join(map(self._line, reading.records)))
        return reading

    def keep(self, wanted: Callable[[dict[str, Any]], bool]) -> None:
        """Atomically rewrite the journal with only the records `wanted` accepts."""
        kept = [r for r in self.read() if wanted(r)]
        write_atomic(self.path, "".join(map(self._line, kept)))

    def _lines(self) -> tuple[list[bytes], bool]:
        """The complete lines, and whether a torn one follows them."""
        data = self.path.read_bytes() if self.path.exists() else b""
        *lines, tail = data.split(b"\n")
        return lines, tail != b""

    def _line(self, record: dict[str, Any]) -> str:
        """The record as compact JSON, keys sorted, its checksum last (`_sum`: a digest of the
        line's own text, so neither writing nor reading it serialises anything twice)."""
        body = orjson.dumps(record, default=_plain, option=_OPTIONS).decode()
        return f"{body[:-1]}{_TAIL.format(_sum(body, self.key))}\n"

    def _intact(self, record: dict[str, Any] | None, legacy: bool, line: bytes = b"") -> bool:
        """Whether a parsed line's checksum holds: read off the line's text when `_line` wrote
        it, else recomputed from the record (`checksum`: a line an earlier version wrote)."""
        if record is None:
            return False
        if legacy:
            return True
        expected = record.get(CHECKSUM)
        tail = _TAIL.format(expected).encode()
        body = line[: -len(tail)].decode("utf-8") + "}" if line.endswith(tail) else None
        if isinstance(expected, str) and body and _sum(body, self.key) == expected:
            return True
        body = {k: v for k, v in record.items() if k != CHECKSUM}
        return expected == checksum(body, self.key)


def checksum(record: dict[str, Any], key: str) -> str:
    """The checksum journal lines carried before `_sum`: a digest of the record as the
    standard library's JSON, keys sorted, and of the study key; still read."""
    return digest({"study": key, "record": record}, 16)


def _sum(body: str, key: str) -> str:
    """The checksum of a journal line whose record's text is `body`, under study `key`."""
    text = f'{{"record":{body},"study":"{key}"}}'  # a study key is hex: its own JSON
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_TAIL = ',"' + CHECKSUM + '":"{}"}}'  # how `_line` ends a line: its checksum, last
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _plain(value: Any) -> Any:
    """What orjson does not write itself (a path, a numpy value), as `_jsonable` makes it."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def notice(message: str) -> None:
    """One line on stderr about the records (damage found, a table rebuilt)."""
    print(message, file=sys.stderr, flush=True)


def set_aside(path: Path) -> Path:
    """Move a damaged file to `<name>.damaged`, where a person can look at it."""
    target = path.with_name(path.name + DAMAGED)
    os.replace(path, target)
    return target


def read_table(path: Path) -> pd.DataFrame:
    """A parquet table of the store; Damaged, naming it and why, if it cannot be read."""
    if not path.is_file():
        raise Damaged(f"{path.name} is missing")
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises assorted types for a damaged file
        reason = next(iter(str(e).strip().splitlines()), type(e).__name__)
        raise Damaged(f"{path.name} is unreadable ({reason})") from None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file of the store (`study.json`); Damaged if it is missing or unreadable."""
    if not path.is_file():
        raise Damaged(f"{path.name} is missing")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Damaged(f"{path.name} is unreadable ({e})") from None
    if not isinstance(value, dict):
        raise Damaged(f"{path.name} is unreadable (not a JSON object)")
    return value


class StudyRecords:
    """The files of one study directory."""

    def __init__(self, directory: Path, key: str | None = None) -> None:
        """`key`, the study key its journals' checksums hold, defaults to the folder's name
        (a store keeps each study in `<run.store>/<study key>`)."""
        self.directory = directory
        self.key = key or directory.name
        directory.mkdir(parents=True, exist_ok=True)
        self.trials = Journal(directory / f"{TRIALS}.jsonl", self.key)
        self.folds = Journal(directory / f"{FOLDS}.jsonl", self.key)

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
        """`study.json`, {} if there is none; Damaged if it cannot be read."""
        path = self.directory / STUDY
        return read_json(path) if path.exists() else {}

    def read_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Both tables; Damaged naming every one that is missing or unreadable."""
        tables, damaged = [], []
        for name in (TRIALS, FOLDS):
            try:
                tables.append(read_table(self.directory / f"{name}.parquet"))
            except Damaged as e:
                damaged.append(str(e))
        if damaged:
            raise Damaged(" and ".join(damaged))
        return tables[0], tables[1]

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


def link_study(job_dir: Path, home: Path, name: str = "study") -> None:
    """A relative link `name` from a Hydra job folder (logs) to the study's records."""
    job_dir.mkdir(parents=True, exist_ok=True)
    link = job_dir / name
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


def _parse(line: bytes) -> dict[str, Any] | None:
    """A journal line as a record; None if it is not a JSON object."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:  # not JSON, or not UTF-8
        return None
    return record if isinstance(record, dict) else None


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
