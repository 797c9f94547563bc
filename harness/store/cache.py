"""Evaluations computed once: inner CVs and refits, kept in the results store for every study.

Studies of one problem (dataset, model, metric, seed, folds) under different strategies ask
many of the same questions: the defaults' inner CV and refit in every outer fold, grid points,
configurations a resumed or extended sweep already evaluated. An answer is stored under a key
that digests everything it depends on: the data's fingerprint, the outer split's and the inner
splits' row indices, the model config without its search space, the scorer, the versions of
the libraries that compute it, and the question (the configuration and its fidelity, or a
refit); so the same key always means the same answer, and a stored answer is bit-identical to
a fresh one (floats go through JSON as Python's shortest exact repr).

One JSON file per entry in `<run.store>/.cache/`, written under a temporary name and
hard-linked into place: a reader never sees half an entry, and the first entry written stays
(two processes never store two versions). While a process computes an entry it holds a lock
on `<entry>.lock`, so another process asking the same question at the same time waits and
reads the answer instead of computing it again. Only answers are stored: an evaluation that
raised or was stopped by a limit is computed again next time. An answer keeps the seconds it
took when it was computed, so wall-clock comparisons stay true whether or not it came from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.store.provenance import digest, installed

CACHE = ".cache"  # under run.store
LIBRARIES = ("scikit-learn", "numpy", "scipy")  # what computes an answer
HIT, MISS = "hit", "miss"


@dataclass(frozen=True)
class Answer:
    value: dict[str, Any]
    seconds: float  # what computing it took, when it was computed
    source: str  # HIT or MISS


class EvaluationCache:
    """The store's answers; `scope` narrows it to one outer fold of one problem."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.versions = {p: installed(p) for p in LIBRARIES}

    def scope(self, **context: Any) -> Scope:
        """The answers of one context (data, splits, pipeline, scorer), library versions added."""
        return Scope(self, digest(_plain(context) | {"versions": self.versions}, 32))

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[Path]:
        """Hold `key` for this process while it computes the entry; yields the entry's path."""
        path = self.directory / key[:2] / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_suffix(".lock")
        with lock.open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield path
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def read(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # cut short (e.g. a crash before the data reached disk)
            path.unlink(missing_ok=True)
            return None

    def write(self, path: Path, entry: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
        path.with_suffix(".lock").unlink(missing_ok=True)


class Scope:
    """Answers of one context, each computed once across every process sharing the store."""

    def __init__(self, cache: EvaluationCache, context: str) -> None:
        self.cache = cache
        self.context = context
        self.credit = 0.0  # seconds the answers read took when computed, minus reading them

    def once(self, question: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> Answer:
        """The stored answer to `question`, or `compute()`'s, stored; what it raises propagates."""
        key = digest({"context": self.context, "question": _plain(question)}, 40)
        started = time.perf_counter()
        path = self.cache.directory / key[:2] / f"{key}.json"
        entry = self.cache.read(path)
        if entry is None:
            with self.cache.claim(key) as path:
                entry = self.cache.read(path)
                if entry is None:
                    value = compute()
                    seconds = time.perf_counter() - started
                    self.cache.write(path, {"value": value, "seconds": seconds})
                    return Answer(value, seconds, MISS)
        self.credit += entry["seconds"] - (time.perf_counter() - started)
        return Answer(entry["value"], entry["seconds"], HIT)


def split_digest(splits: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """The row indices of (train, test) splits, digested."""
    sha = hashlib.sha256()
    for split in splits:
        for part in split:
            rows = np.asarray(part, dtype=np.int64)
            sha.update(len(rows).to_bytes(8, "little") + rows.tobytes())
    return sha.hexdigest()[:32]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=_default))


def _default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)
