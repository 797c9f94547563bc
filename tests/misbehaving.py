"""A test-only estimator that hangs, hogs memory, dies, raises or takes its time on request,
and a strategy that crashes on request.

It lives in an importable module (not a test file) so the worker process that evaluates
trials under `budget.trial_timeout_s` / `budget.trial_memory_mb` can unpickle it, and a
strategy config can name it.
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_info

from adapters.sklearn_sampling import RandomSearch
from harness.engine.objective import Objective

HANG_S = 600.0
HOG_MB = 8000
SLOW_S = 0.3
FIT_LOG = "TUNEBENCH_TEST_FIT_LOG"  # where "slow" fits log their process, start, end, threads


class Misbehaving(ClassifierMixin, BaseEstimator):
    """Predicts the majority class, after doing what `behaviour` says in `fit`."""

    def __init__(self, behaviour: str = "fine", seconds: float = SLOW_S) -> None:
        self.behaviour = behaviour
        self.seconds = seconds  # how long a "slow" fit takes

    def fit(self, X, y):
        if self.behaviour == "hang":
            time.sleep(HANG_S)
        elif self.behaviour == "hog":
            np.ones(HOG_MB * 2**20 // 8).sum()
        elif self.behaviour == "die":
            os._exit(3)
        elif self.behaviour == "raise":
            raise ValueError("a model bug")
        elif self.behaviour == "slow":
            _slow_fit(self.seconds)
        values, counts = np.unique(np.asarray(y), return_counts=True)
        self.classes_, self.majority_ = values, values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def _slow_fit(seconds: float) -> None:
    """Sleep `seconds`; if FIT_LOG names a file, append "pid start end blas-threads" to it, on
    the machine-wide monotonic clock, so fits in different processes can be compared."""
    start = time.monotonic()
    time.sleep(seconds)
    if path := os.environ.get(FIT_LOG):
        threads = max((lib["num_threads"] for lib in threadpool_info()), default=0)
        with open(path, "a") as log:
            log.write(f"{os.getpid()} {start} {time.monotonic()} {threads}\n")


class CrashingRandomSearch(RandomSearch):
    """Random search with a bug: it raises at the trial `TUNEBENCH_TEST_CRASH_AT` says (the
    environment, not the config, so a fixed run has the same study key)."""

    def search(self, objective: Objective) -> None:
        crash_at = int(os.environ.get("TUNEBENCH_TEST_CRASH_AT", "-1"))
        for trial, params in enumerate(self.candidates(objective.n_trials)):
            if trial == crash_at:
                raise RuntimeError("a strategy bug")
            objective(params)
