"""How a study shares the machine: studies at once, inner-CV workers and BLAS threads.

Either a sweep runs several studies at once (the joblib launcher, one study per core by
default; submitit, one per allocation), or one study spreads its inner CV over
`protocol.n_jobs` processes, or (a single run's default, `protocol.n_jobs` null) one study
runs its outer folds at once, a fold per core (harness.engine.folds). Either way every
process runs its BLAS/OpenMP work on one thread (`THREADS`), whatever the launcher and the
cores: results then never depend on how a study was run (a GP fitted with 2 BLAS threads
differs at 1e-9 from one fitted with 1), and a study never spins threads against other
processes on a shared machine. The plan, with the thread count actually in force, goes into
`study.json`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from hydra.types import RunMode
from threadpoolctl import threadpool_info, threadpool_limits

from harness import environment
from harness.engine.lifeline import die_with_parent
from harness.errors import UsageError

THREADS = 1  # BLAS/OpenMP threads per process, so results never depend on the parallelism
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)  # fmt: skip


@dataclass(frozen=True)
class Parallelism:
    launcher: str  # Hydra's launcher: basic, joblib, submitit_local, slurm, ray, ...
    cpus: int  # cores this job may use (its CPU affinity, e.g. a Slurm allocation)
    studies_at_once: int  # studies sharing those cores
    inner_n_jobs: int  # processes for one configuration's inner CV
    blas_threads: int  # per-process BLAS/OpenMP threads: always THREADS
    workers: int = 1  # worker processes evaluating one study's trials at once (real clock)
    outer_folds_at_once: int = 1  # outer folds run at once, each in a process of its own

    def record(self) -> dict[str, Any]:
        """The plan, plus the BLAS/OpenMP threads actually in force, for `study.json`."""
        found = [lib["num_threads"] for lib in threadpool_info()]
        return asdict(self) | {"blas_threads_in_force": max(found, default=None)}


def plan(
    hydra: Any, n_jobs: int | None, workers: int = 1, folds: int = 1, in_workers: bool = False
) -> Parallelism:
    """The plan for this job, from its Hydra runtime config, `protocol.n_jobs`, the real
    clock's `budget.workers` (1 for the simulated clock, which evaluates here), the study's
    independent searches `folds` (repeats x outer folds; a table study's 1) and whether its
    trials run `in_workers` (worker processes: k real workers or the per-trial limits).

    A single run with `protocol.n_jobs` null runs up to a fold per core at once, unless its
    trials run in worker processes (then, as with an explicit `protocol.n_jobs` and in every
    job of a sweep, one fold at a time): results are the same either way, only sooner."""
    cpus = usable_cores()
    launcher = hydra.runtime.choices.get("hydra/launcher") or "basic"
    at_once = 1
    outer = 1
    if hydra.mode != RunMode.MULTIRUN:
        launcher = "none (single run)"
        if n_jobs is None and not in_workers:
            outer = max(1, min(cpus, folds))
    elif "cpus_per_task" in hydra.launcher:
        cpus = hydra.launcher.cpus_per_task or cpus  # submitit, ray: each job has its own cores
    elif "n_jobs" in hydra.launcher:
        requested = int(hydra.launcher.n_jobs)
        at_once = requested if requested > 0 else max(1, cpus + 1 + requested)
    inner = cpus if n_jobs is not None and n_jobs < 0 else (n_jobs or 1)
    if at_once * inner > cpus:
        raise UsageError(
            f"{at_once} studies at once x protocol.n_jobs={n_jobs} would oversubscribe "
            f"{cpus} cores; set hydra.launcher.n_jobs=1 to parallelise inner CV instead, "
            "or protocol.n_jobs=null"
        )
    if workers > 1:
        if at_once * workers > cpus:
            raise UsageError(
                f"{at_once} studies at once x budget.workers={workers} real workers would "
                f"oversubscribe {cpus} cores; set hydra.launcher.n_jobs=1 to run a study at a "
                "time, or budget.clock=simulated"
            )
        inner = inner_jobs(n_jobs, workers, cpus)
    return Parallelism(launcher, cpus, at_once, inner, THREADS, workers, outer)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity: a Slurm allocation, a taskset), not
    the machine's: what k real workers must not exceed."""
    return len(os.sched_getaffinity(0))


def inner_jobs(n_jobs: int | None, workers: int = 1, cores: int | None = None) -> int:
    """Processes for one configuration's inner CV while `workers` configurations are evaluated
    at once: `protocol.n_jobs` (None: 1; negative: every core), capped at the workers' share
    of the cores (at least 1), so workers x inner jobs never exceed the cores. Results do not
    depend on it: each inner split is fitted alike whichever process fits it."""
    share = max(1, (usable_cores() if cores is None else cores) // workers)
    wanted = share if n_jobs is not None and n_jobs < 0 else (n_jobs or 1)
    return min(wanted, share)


def split_processes(cores: int, splits: int) -> int:
    """Processes for one configuration's `splits` inner splits given `cores` of its own: one
    per split once it has two cores or more (at most two per core), so the splits share the
    cores evenly: 3 splits on 2 cores then take 1.5 splits' time, where 2 processes take 2
    (a second round with a core idle). One core: one process."""
    return 1 if cores <= 1 else min(splits, 2 * cores)


@contextmanager
def limits(parallelism: Parallelism) -> Iterator[None]:
    """Cap BLAS/OpenMP threads here and, through the environment, in processes started here."""
    threads = parallelism.blas_threads
    with (
        environment.variables(dict.fromkeys(THREAD_VARIABLES, str(threads))),
        threadpool_limits(limits=threads),
    ):
        yield


@contextmanager
def tied_workers() -> Iterator[None]:
    """Inner-CV processes (joblib's loky workers) started here meanwhile die with this process,
    whatever kills it (harness.engine.lifeline): loky's own would outlive a `kill -9` of it
    until their idle timeout (300 s)."""
    from joblib import parallel_config  # here: joblib imports numpy, and the CLI's checks
    # import this module before any heavy library (tests/test_bad_input.py)

    with parallel_config(backend="loky", initializer=die_with_parent, initargs=(os.getpid(),)):
        yield
