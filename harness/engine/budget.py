"""What a search may spend and when it stops: the budget (trials, time, compute, workers,
clock) and the exception that ends a search once it is spent.

Shared by every problem a study can serve (nested CV, a published table): the budget counts
full-evaluation equivalents and evaluation seconds, whoever computed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import checks
from harness.engine.clocks import CLOCKS, Clock, Sequential, Simulated
from harness.engine.parallel import usable_cores
from harness.errors import UsageError


class StopSearch(Exception):
    """The budget is spent; raised by the objective, caught by the harness."""


class TrialStopped(Exception):
    """A limit stopped the trial's evaluation; `status` says which ("timeout" or "memory")."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Budget:
    n_trials: int
    time_s: float | None = None
    trial_timeout_s: float | None = None
    trial_memory_mb: int | None = None
    workers: int = 1
    clock: str = "real"
    compute_s: float | None = None

    @classmethod
    def from_config(cls, cfg: Any, local: bool = True) -> Budget:
        """The budget a config sets, checked; `local`: its real-time workers run on this
        machine, so they must fit its cores (a sweep on a Ray cluster's nodes: not checked)."""
        budget = cls(
            checks.number(
                "budget.n_trials", cfg.n_trials, low=1, high=MAX_TRIALS,
                why=" (a larger budget could never finish: taken for a typo)",
            ),
            checks.number("budget.time_s", cfg.get("time_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_timeout_s", cfg.get("trial_timeout_s"), **POSITIVE_SECONDS),
            checks.number("budget.trial_memory_mb", cfg.get("trial_memory_mb"), **POSITIVE_MB),
            checks.number("budget.workers", cfg.get("workers", 1), low=1, high=MAX_WORKERS),
            cfg.get("clock", "real"),
            checks.number("budget.compute_s", cfg.get("compute_s"), **POSITIVE_SECONDS),
        )  # fmt: skip
        if budget.clock not in CLOCKS:
            raise UsageError(
                f"budget.clock is {budget.clock!r}; set it to real (worker processes on this "
                "machine) or simulated (virtual workers, evaluations one at a time)"
            )
        cores = usable_cores()
        if local and budget.clock == "real" and budget.workers > cores:
            raise UsageError(
                f"budget.workers is {budget.workers} with budget.clock=real, and this machine "
                f"has {cores} cores; set budget.workers to at most {cores}, or "
                "budget.clock=simulated to study more workers than cores"
            )
        return budget

    @property
    def limits_trials(self) -> bool:
        """Whether trials need a killable process of their own (a timeout or memory cap)."""
        return self.trial_timeout_s is not None or self.trial_memory_mb is not None

    def make_clock(self) -> Clock:
        """The budget's clock, evaluating in this process (real time needs one worker)."""
        if self.clock == "simulated":
            return Simulated(self.workers)
        if self.workers > 1:
            raise ValueError("real-time workers run in worker processes: pass their clock")
        return Sequential()


MAX_TRIALS = 1_000_000
MAX_WORKERS = 4096  # more virtual workers than any cluster a study would model
POSITIVE_SECONDS = {"integer": False, "low": 0, "above": True, "optional": True, "unit": "seconds"}
POSITIVE_MB = POSITIVE_SECONDS | {"integer": True, "unit": "megabytes"}
