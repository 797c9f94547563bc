"""Hydra launcher: each job of a multirun is one Ray task, on a local instance or a cluster.

Hydra's own `hydra-ray-launcher` (1.2.2) pins `cloudpickle<3`, which the joblib launcher's
joblib (>= 1.5) refuses, and joblib's Ray backend cannot be used through the joblib launcher
(it hard-codes loky). So this launcher submits each job with Ray's task API (`ray.remote`)
and runs it with the joblib launcher's own `execute_job`, exactly as that launcher does.

Without an address (and without `RAY_ADDRESS`) it starts a private Ray instance bound to
127.0.0.1, without dashboard or usage stats, and shuts it down when the jobs end; with one it
connects to that cluster and only disconnects. Each job holds `cpus_per_task` Ray CPUs, the
cores harness.engine.parallel fits the study's inner-CV workers in.
"""

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)

LOCAL_ONLY = {  # read when ray is imported, so set before that
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # on Linux too: a one-node instance on 127.0.0.1
}


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.tunebench_ray_launcher.ray_launcher.RayLauncher"
    address: str | None = None  # a running cluster (ray.init's address); null: RAY_ADDRESS or local
    cpus_per_task: int = 1  # Ray CPUs each study holds: room for its inner-CV workers
    num_cpus: int | None = None  # a local instance's CPUs; null: every core


ConfigStore.instance().store(
    group="hydra/launcher", name="ray", node=RayLauncherConf, provider="tunebench"
)


class RayLauncher(Launcher):
    """Hydra's Launcher interface over Ray tasks, configured by RayLauncherConf."""

    def __init__(self, address: str | None, cpus_per_task: int, num_cpus: int | None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.cpus_per_task = cpus_per_task
        self.num_cpus = num_cpus
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run every job as a Ray task and wait for all of them, in order."""
        assert self.config and self.hydra_context and self.task_function
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        ray = self.start()
        try:
            from hydra_plugins.hydra_joblib_launcher._core import execute_job

            task = ray.remote(num_cpus=self.cpus_per_task)(execute_job)
            state = Singleton.get_state()
            refs = []
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                refs.append(
                    task.remote(
                        idx, overrides, self.hydra_context, self.config, self.task_function, state
                    )
                )
            return ray.get(refs)
        finally:
            ray.shutdown()  # a local instance stops; a cluster is only disconnected from

    def start(self) -> Any:
        """Ray, connected to the cluster or to a new local instance on 127.0.0.1."""
        host = (self.address or "127.0.0.1").removeprefix("ray://").rsplit(":", 1)[0]
        if host in ("127.0.0.1", "localhost"):  # else Ray takes this node's network address
            for name, value in LOCAL_ONLY.items():
                os.environ.setdefault(name, value)
        import ray

        if self.address:
            log.info("Ray: connecting to %s", self.address)
            ray.init(address=self.address)
            return ray

        ray.init(
            address="local",
            num_cpus=self.num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
        )
        log.info("Ray: a local instance with %s CPUs", ray.cluster_resources().get("CPU"))
        return ray
