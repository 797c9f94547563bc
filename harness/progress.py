"""Live progress: a tqdm bar per study and a count of the sweep's finished studies.

Both write to stderr and only when it is a terminal, so logs and CI output stay clean. Jobs
of a sweep may run in other processes or on other machines, so the sweep count lives in a
journal in the sweep directory that every job appends to when it ends.
"""

from __future__ import annotations

import fcntl
import itertools
import math
import sys
from pathlib import Path
from typing import IO, Any

from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm import tqdm

from harness.store.records import Journal, write_atomic
from harness.sweep import sweep_jobs

SWEEP_TOTAL, SWEEP_DONE = ".studies-total", ".studies-done.jsonl"


class StudyBar:
    """Trials done of the study's budget, best inner score of the current fold, elapsed, ETA.

    Studies running at once on one terminal (a joblib sweep) each take a line of their own:
    the lowest free slot, held by a lock file in `slots` while the bar lives.
    """

    def __init__(self, labels: dict[str, Any], folds: int, n_trials: int, slots: Path) -> None:
        self.per_fold = n_trials
        shown = sys.stderr.isatty()
        self._slot = free_slot(slots) if shown else None
        self.bar = tqdm(
            total=folds * n_trials,
            desc=f"{labels['strategy']} {labels['dataset']}/{labels['model']}",
            unit="trial",
            disable=not shown,
            dynamic_ncols=True,
            file=sys.stderr,
            position=self._slot[0] if self._slot else None,
        )
        self.best = -math.inf

    def trial(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok" and record["inner_mean"] > self.best:
            self.best = record["inner_mean"]
            self.bar.set_postfix(best=f"{self.best:.4f}", refresh=False)
        self.bar.update(1)

    def fold_done(self, folds_done: int) -> None:
        """A fold may stop short of its budget (a small grid, a time limit): move to its end."""
        self.best = -math.inf
        self.bar.update(folds_done * self.per_fold - self.bar.n)

    def close(self) -> None:
        self.bar.close()
        if self._slot:
            self._slot[1].close()  # releases its lock


def free_slot(directory: Path) -> tuple[int, IO]:
    """The lowest-numbered `.bar-<n>` lock no other bar holds, and its open (locked) file."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in itertools.count():
        f = (directory / f".bar-{number}").open("a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return number, f
        except OSError:
            f.close()


class SweepProgress(Callback):
    """Hydra callback: after each job, `studies done k/N` for the whole sweep."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        write_atomic(sweep / SWEEP_TOTAL, str(sweep_size(config) or "?"))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if not sys.stderr.isatty() or not (sweep / SWEEP_TOTAL).exists():
            return
        done = Journal(sweep / SWEEP_DONE)
        done.append({"job": config.hydra.job.num})
        total = (sweep / SWEEP_TOTAL).read_text()
        tqdm.write(f"sweep {sweep}: {len(done.read())}/{total} studies done", file=sys.stderr)


def sweep_size(config: DictConfig) -> int | None:
    """How many jobs the sweep makes; None if it cannot tell."""
    try:
        preset = config.hydra.sweeper.get("params") or {}
        return len(sweep_jobs(preset, config.hydra.overrides.task))
    except HydraException:
        return None
