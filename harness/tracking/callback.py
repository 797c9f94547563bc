"""The Hydra callback behind `+tracking=mlflow` (conf/tracking/mlflow.yaml).

conf/config.yaml declares it switched off, before the report's callback: Hydra ends callbacks
in reverse order, so the sweep's report exists when this one ends. When on, it runs where
Hydra runs callbacks: `on_job_end` in each job's process (a joblib worker, a Slurm node) logs
that job's study from the folder its `study` link points to; the sweep's start and end, in
the launching process, open the parent run (its id left in the sweep folder for the jobs)
and attach the report. A tracking failure is logged, never
raised: the studies are safe on disk, and running the same command again logs what is
missing into the same runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.store.provenance import digest
from harness.store.records import write_atomic
from harness.sweep import sweep_jobs

PARENT_FILE = ".mlflow-run-id"  # in the sweep folder: the parent run the jobs log under
log = logging.getLogger("harness")


class MlflowTracking(Callback):
    def __init__(self, enabled: bool = False, experiment: str = "tunebench") -> None:
        self.enabled = enabled
        self.experiment = experiment

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        from harness.tracking import mlflow_runs

        sweep = Path(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        task = list(config.hydra.overrides.task)
        try:
            run_id = mlflow_runs.sweep_run(
                mlflow_runs.client(), self.experiment, sweep_key(config), "sweep " + " ".join(task)
            )
        except Exception:
            log.exception(
                "MLflow: no parent run for sweep %s; its studies log as runs alone", sweep
            )
            return
        write_atomic(sweep / PARENT_FILE, run_id)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if not self.enabled:
            return
        from harness.store.finished import read_finished
        from harness.store.records import Damaged

        try:
            study = read_finished(Path(config.hydra.runtime.output_dir) / "study")
        except Damaged as e:  # its next run rebuilds it (harness.store.resume)
            log.warning("MLflow: study not logged: %s; run the same command again", e)
            return
        if study is None:  # skipped (bad input) or failed: nothing finished to log yet
            return
        from harness.tracking import mlflow_runs

        parent = None
        if config.hydra.mode == RunMode.MULTIRUN:
            marker = Path(config.hydra.sweep.dir) / PARENT_FILE
            parent = marker.read_text().strip() if marker.exists() else None
        try:
            run_id = mlflow_runs.log_study(mlflow_runs.client(), self.experiment, study, parent)
        except Exception:
            log.exception("MLflow: study %s not logged; run the same command again", study.key)
            return
        log.info("MLflow run %s: study %s", run_id, study.key)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        marker = sweep / PARENT_FILE
        if not self.enabled or not marker.exists():
            return
        from harness.tracking import mlflow_runs

        try:
            mlflow_runs.finish_sweep(
                mlflow_runs.client(), marker.read_text().strip(), sweep / "report"
            )
        except Exception:
            log.exception("MLflow: sweep %s not finished; run the same command again", sweep)


def sweep_key(config: DictConfig) -> str:
    """A digest of the jobs a sweep runs, whatever the order they were listed in: the same
    command (or the same jobs listed otherwise) finds the same parent run."""
    task = list(config.hydra.overrides.task)
    try:
        jobs = sweep_jobs(config.hydra.sweeper.get("params") or {}, task)
    except HydraException:
        jobs = [task]
    return digest(sorted(sorted(job) for job in jobs), 16)
