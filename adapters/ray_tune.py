"""Ray Tune's own loop (`tune.Tuner`) on a local Ray instance: its search algorithm proposes,
its scheduler stops (ASHA) or exploits (PBT), its workers evaluate (adapters.ray_trainable),
and the harness records every evaluation as it is reported.

Each result Ray Tune processes first goes to `Recorder`, a Tune Stopper in the driver, which
reports it through the engine's port (harness.engine.port), as the scikit-learn searchers
do: the budget, the time limit, the record. Once the budget cannot pay for an evaluation (or
the time limit has passed), that one is not recorded and the Stopper stops every trial.
`n_trials` is the number of Ray trials (`num_samples`) for a search over full evaluations; for
ASHA and PBT the budget is in full-evaluation equivalents as elsewhere, and `num_samples` the
most trials it could pay.

Clocks. On the real clock Ray Tune runs k trials at once, one CPU share each, and the records
take each evaluation's start and end as its Ray worker measured them, from the first
evaluation's start (Ray's and Tune's start-up is not search time). Which trial reports first
then depends on timing, so ASHA's and PBT's decisions (and random search's order) can differ
between runs with k > 1. On the simulated clock Ray Tune runs one trial at a time (the
resources of a trial are all of the instance's CPUs), so the same seed gives the same trials,
and the virtual clock counts each evaluation's measured seconds on one worker at a time.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import tempfile
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from adapters.base import LibraryLoop
from adapters.extras import require
from harness import environment
from harness.engine.port import OwnLoop
from harness.problem.space import Param, SearchSpace

log = logging.getLogger("harness")


class RayTune(LibraryLoop):
    """Ray Tune's BasicVariantGenerator (random search, `random_state=seed`) with its FIFO
    scheduler: every trial one full evaluation. The schedulers over the model's fidelity
    (adapters.ray_schedulers) change `schedule`, `scheduler` and `samples`."""

    own_workers = True  # Ray's workers evaluate: the study runs one outer fold at a time

    def __init__(self, space: SearchSpace, seed: int) -> None:
        require("ray", "Ray Tune", "raytune")
        super().__init__(space, seed)

    def schedule(self, low: float | None) -> tuple[float | None, ...]:
        """The fidelities each trial climbs, in order (None: the full evaluation)."""
        return (None,)

    def scheduler(self, schedule: tuple[float | None, ...]) -> Any:
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()

    def samples(self, n_trials: int, schedule: tuple[float | None, ...]) -> int:
        """`num_samples`: as many trials as the budget pays for at their first rung."""
        return n_trials if schedule[0] is None else int(n_trials / schedule[0]) + n_trials

    def live(self) -> int:
        """How many trials may be live (running or paused) at once: 0, any number."""
        return 0

    def run(self, port: OwnLoop) -> None:
        with environment.variables(ray_environment()):  # for this search, not at import
            self._tune(port)

    def _tune(self, port: OwnLoop) -> None:
        from ray import tune
        from ray.tune.search.basic_variant import BasicVariantGenerator

        from adapters.ray_records import Recorder
        from adapters.ray_trainable import run_trial

        if port.limits_trials:
            log.warning("Ray Tune evaluates in its own workers: budget.trial_timeout_s and "
                        "trial_memory_mb do not apply to its trials")  # fmt: skip
        at_once = port.handle.workers if port.real_clock else 1
        cpus = local_ray(at_once)
        if port.real_clock:  # Ray's workers say when and where each evaluation ran
            port.own_workers(at_once)
        schedule = self.schedule(port.handle.fidelity_low)
        trainable = tune.with_parameters(
            partial(run_trial, schedule=schedule, checkpoints=self.stepwise, cwd=os.getcwd()),
            evaluator=port.evaluator, space=self.space,
        )  # fmt: skip
        recorder = Recorder(port, self.space)  # adapters.ray_records
        with tempfile.TemporaryDirectory() as store, seeded(self.seed):
            tune.Tuner(
                tune.with_resources(trainable, {"cpu": cpus / at_once}),
                param_space={p.name: domain(p) for p in self.space.params},
                tune_config=tune.TuneConfig(
                    metric="loss", mode="min", reuse_actors=True,
                    search_alg=BasicVariantGenerator(
                        random_state=self.seed, max_concurrent=self.live()
                    ),
                    scheduler=self.scheduler(schedule),
                    num_samples=self.samples(port.n_trials, schedule),
                ),
                run_config=tune.RunConfig(storage_path=store, name="search", stop=recorder,
                                          verbose=0, log_to_file=False),
            ).fit()  # fmt: skip


def ray_environment() -> dict[str, str]:
    """What Ray reads from the environment, set while a search runs (a user's own values of
    the first two kept): a private instance is bound to this machine (127.0.0.1), as the Ray
    launcher's, without usage reports. Ray quirk: Tune's default loggers would write every
    result (which holds the evaluation's Python objects) to files, and Tune prints a table of
    its trials; both are off."""
    kept = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    return {name: os.environ.get(name, value) for name, value in kept.items()} | {
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
        "RAY_AIR_NEW_OUTPUT": "0",
    }


def domain(p: Param) -> Any:
    """A parameter as a Tune search space domain (its sampler draws from it)."""
    from ray import tune

    if p.type == "categorical":
        return tune.choice(list(p.choices))
    if p.type == "int":
        return (tune.lograndint if p.log else tune.randint)(int(p.low), int(p.high) + 1)
    return (tune.loguniform if p.log else tune.uniform)(p.low, p.high)


def local_ray(at_once: int) -> float:
    """The CPUs of the Ray instance this process uses: a running one (a test's, or the Ray
    launcher's), else a private local one with a CPU per concurrent trial, bound to this
    machine and stopped when the process exits."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=at_once, include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level=logging.ERROR)  # fmt: skip
        atexit.register(ray.shutdown)
    return ray.cluster_resources()["CPU"]


@contextmanager
def seeded(seed: int):
    """Ray quirk: PBT perturbs with Python's global `random` and resamples with numpy's
    global generator, and takes no seed; both are seeded for the search, then restored."""
    state, legacy = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
        np.random.set_state(legacy)
