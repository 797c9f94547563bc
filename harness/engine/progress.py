"""Live progress: a study's progress as it runs, and a count of the sweep's finished studies.

On a terminal that draws (a width in columns), a tqdm bar per study. Anywhere else (a pipe, a
file, a pseudo-terminal without a size as under `script` or in CI logs, a Slurm output file)
plain lines: one per finished outer fold, and during a long search one every `run.progress_s`
seconds at most. Both go to stderr, so stdout holds only results. Jobs of a sweep may run in
other processes or on other machines, so the sweep count lives in a journal in the sweep
directory that every job appends to when it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, Any, TextIO

from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm import tqdm

from harness.engine.settings import PROGRESS_S
from harness.store.records import Journal, write_atomic
from harness.sweep import sweep_jobs

SWEEP_TOTAL, SWEEP_DONE = ".jobs-total", ".jobs-done.jsonl"
PREFIX = "progress: "  # begins every progress line, so logs can be filtered on it


def drawn(stream: TextIO) -> bool:
    """Whether a bar can be drawn on `stream`: a terminal with a width. A pseudo-terminal
    nobody sized (`script`, CI runners) reports 0 columns, where tqdm draws nothing."""
    try:
        return stream.isatty() and os.get_terminal_size(stream.fileno()).columns > 0
    except (OSError, ValueError, AttributeError):  # no file descriptor (e.g. a StringIO)
        return False


class StudyProgress:
    """Trials done of the study's budget, best inner score of the current fold, elapsed, ETA:
    a bar on a terminal, else lines (see the module's docstring).

    Studies running at once on one terminal (a joblib sweep) each take a line of their own:
    the lowest free slot, held by a lock file in `slots` while the bar lives.
    """

    def __init__(
        self,
        labels: dict[str, Any],
        folds: int,
        n_trials: int,
        slots: Path,
        every_s: float = PROGRESS_S,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.name = f"{labels['strategy']} {labels['dataset']}/{labels['model']}"
        self.folds, self.per_fold, self.every_s = folds, n_trials, every_s
        self.n = 0  # the position in folds x n_trials, as the bar shows it
        self.ran = 0  # of which this run did (not folds finished by an earlier run)
        self.folds_done = 0
        self.fold_trials = 0  # trials of the current fold (folds running at once) this run told
        self.at_once = 1  # folds running at once (harness.engine.folds): the lines say which
        self.best = -math.inf
        self.started = self.said = time.monotonic()
        self._slot = free_slot(slots) if drawn(self.stream) else None
        self.bar = None
        if self._slot:
            self.bar = tqdm(
                total=folds * n_trials, desc=self.name, unit="trial", dynamic_ncols=True,
                file=self.stream, position=self._slot[0],
            )  # fmt: skip

    def trial(self, record: dict[str, Any]) -> None:
        self.n, self.ran, self.fold_trials = self.n + 1, self.ran + 1, self.fold_trials + 1
        if record["status"] == "ok" and record["inner_mean"] > self.best:
            self.best = record["inner_mean"]
            if self.bar:
                self.bar.set_postfix(best=f"{self.best:.4f}", refresh=False)
        if self.bar:
            self.bar.update(1)
        elif time.monotonic() - self.said >= self.every_s:
            first, last = self.folds_done + 1, min(self.folds, self.folds_done + self.at_once)
            which = f"fold {first}" if first == last else f"folds {first}-{last}"
            trials = f"{self.fold_trials}/{(last - first + 1) * self.per_fold} trials"
            self._say(f"{which}/{self.folds}: {trials}, {self._best()}")

    def fold_done(self, folds_done: int, running: int = 0, told: int | None = None) -> None:
        """A fold may stop short of its budget (a small grid, a time limit): move to its end.
        With folds at once (harness.engine.folds): `running`, the trials told by the folds
        still running (counted on), and `told`, the finished fold's own."""
        end = folds_done * self.per_fold + running
        told = self.fold_trials if told is None else told
        if self.bar:
            self.bar.update(end - self.n)
        if told:  # run now, not finished by an earlier run
            self.ran += end - self.n
            if not self.bar:
                trials = f"{told} trials"
                self._say(f"fold {folds_done}/{self.folds} done: {trials}, {self._best()}")
        self.n, self.folds_done, self.fold_trials = end, folds_done, running
        if not running:  # else kept: the best told may be a running fold's
            self.best = -math.inf

    def close(self) -> None:
        if self.bar:
            self.bar.close()
        if self._slot:
            release(self._slot)

    def _best(self) -> str:
        return "no trial scored yet" if self.best == -math.inf else f"best inner {self.best:.4f}"

    def _say(self, what: str) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        timing = f"{_clock(elapsed)} elapsed"
        if self.ran:  # at the pace of what this run did (folds an earlier run finished aside)
            timing += (
                f", about {_clock((self.folds * self.per_fold - self.n) * elapsed / self.ran)} left"
            )
        print(f"{PREFIX}{self.name}: {what}; {timing}", file=self.stream, flush=True)
        self.said = now


def _clock(seconds: float) -> str:
    """1h02m, 3m05s, 12s."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def free_slot(directory: Path) -> tuple[int, IO]:
    """The lowest-numbered `.bar-<n>` lock no other bar holds, and its open (locked) file."""
    directory.mkdir(parents=True, exist_ok=True)
    number = 0
    while True:
        path = directory / f".bar-{number}"
        f = path.open("a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another bar holds it
            f.close()
            number += 1
            continue
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                return number, f
        f.close()  # its holder released and removed it after this opened it: try it again


def release(slot: tuple[int, IO]) -> None:
    """Free a slot and remove its lock file, so no lock is left in the store: removed while
    still locked, so a process that opened it meanwhile sees it gone (`free_slot`)."""
    _, f = slot
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f.name)
    f.close()


class SweepProgress(Callback):
    """Hydra callback: after each job, `k/N jobs done` for the whole sweep (a line). A job is
    a sweep point (its study, or its seeds' studies); a sweep re-run into its folder (a resume)
    counts afresh, as each of its jobs runs again and reads its finished studies."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        (sweep / SWEEP_DONE).unlink(missing_ok=True)
        write_atomic(sweep / SWEEP_TOTAL, str(sweep_size(config) or "?"))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if not (sweep / SWEEP_TOTAL).exists():
            return
        done = Journal(sweep / SWEEP_DONE)
        done.append({"job": config.hydra.job.num})
        total = (sweep / SWEEP_TOTAL).read_text()
        jobs = {record["job"] for record in done.read()}
        line = f"sweep {sweep}: {len(jobs)}/{total} jobs done"
        if drawn(sys.stderr):
            tqdm.write(line, file=sys.stderr)
        else:
            print(PREFIX + line, file=sys.stderr, flush=True)


def sweep_size(config: DictConfig) -> int | None:
    """How many jobs the sweep makes; None if it cannot tell."""
    try:
        preset = config.hydra.sweeper.get("params") or {}
        return len(sweep_jobs(preset, config.hydra.overrides.task))
    except HydraException:
        return None
