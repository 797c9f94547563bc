"""Studies and sweeps as MLflow runs, logged from the files a finished study wrote.

A study is one run, found again by its `tunebench.study_key` tag, so running a study again
(resumed, or read back finished) continues the same run and logs only what it lacks:

- params: the study's resolved config, flattened (`model.space.C.low`, `protocol.outer_folds`);
- tags: dataset, model, strategy, budget and study key (`tunebench.*`);
- metrics, per outer fold `r<repeat>f<fold>`: `tuned_test/...`, `default_test/...`,
  `gain/...`, and `inner_score/...` at step = trial number (completed trials); the means over
  folds as `tuned_test`, `default_test` and `gain`;
- artifacts under `study/`: trials.parquet, folds.parquet, study.json.

A sweep is a parent run, found again by `tunebench.sweep_key` (a digest of the jobs it runs),
with its studies as child runs and the report under `report/`. Where runs go is MLflow's own
business: MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import environment
from harness.errors import UsageError
from harness.store.finished import FinishedStudy
from harness.store.records import FOLDS, STUDY, TRIALS

STUDY_TAG, SWEEP_TAG = "tunebench.study_key", "tunebench.sweep_key"
PARENT_TAG, RUN_NAME = "mlflow.parentRunId", "mlflow.runName"  # MLflow's own tags
BATCH = 100  # params per log_batch call; MLflow's limit (metrics: 1000)
SERVER_HINT = (
    "start one (docs/guides/tracking.md: mlflow server --host 127.0.0.1 --port 5000 "
    "--backend-store-uri sqlite:///mlflow.db) and export MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
)


def client() -> Any:
    """An MLflow client for MLFLOW_TRACKING_URI; UsageError if MLflow is not installed."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise UsageError(
            "tracking=mlflow needs the MLflow client, which is not installed; install the extra: "
            'pip install -e ".[mlflow]"'
        ) from None
    return MlflowClient()


def check_server() -> None:
    """Fail fast, before any study runs, when the tracking URI is unset, malformed or down."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise UsageError(f"tracking=mlflow needs MLFLOW_TRACKING_URI; {SERVER_HINT}")
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        client()  # says which extra to install
    try:
        with _no_retries():
            client().search_experiments(max_results=1)
    except (MlflowException, OSError, ValueError) as e:
        text = " ".join(str(e).split()) or type(e).__name__
        reason = text if len(text) <= 160 else text[:159] + "…"
        raise UsageError(
            f"cannot reach MLflow at MLFLOW_TRACKING_URI={uri} ({reason}); {SERVER_HINT}"
        ) from None


def log_study(
    tracker: Any, experiment: str, study: FinishedStudy, parent: str | None = None
) -> str:
    """Log a finished study into its run (made if none has its key); returns the run id."""
    labels = study.labels()
    tags = {f"tunebench.{k}": str(v) for k, v in labels.items() if k != "study_key"}
    tags[RUN_NAME] = (
        f"{labels['strategy']} {labels['dataset']}/{labels['model']} {labels['budget']}"
    )
    if parent:
        tags[PARENT_TAG] = parent
    run, new = open_run(tracker, experiment, STUDY_TAG, study.key, tags)
    params = flatten(study.config)
    if not new:
        params = {k: v for k, v in params.items() if k not in run.data.params}
    metrics = _missing_metrics(tracker, run, new, study_metrics(study))
    _log_batches(tracker, run.info.run_id, params, metrics)
    for name in (f"{TRIALS}.parquet", f"{FOLDS}.parquet", STUDY):
        tracker.log_artifact(run.info.run_id, str(study.directory / name), "study")
    tracker.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def sweep_run(tracker: Any, experiment: str, sweep_key: str, name: str) -> str:
    """The parent run of a sweep: the one with this key, or a new one; returns its id."""
    run, _ = open_run(tracker, experiment, SWEEP_TAG, sweep_key, {RUN_NAME: name})
    return run.info.run_id


def finish_sweep(tracker: Any, run_id: str, report: Path | None) -> None:
    """Attach the sweep's report (if it was built) and mark the parent run finished."""
    if report is not None and report.is_dir():
        tracker.log_artifacts(run_id, str(report), "report")
    tracker.set_terminated(run_id, "FINISHED")


def open_run(
    tracker: Any, experiment: str, tag: str, value: str, tags: Mapping[str, str]
) -> tuple[Any, bool]:
    """The run whose `tag` is `value` (the oldest, should several exist), or a new one with
    `tags`; returns it and whether it is new."""
    experiment_id = _experiment_id(tracker, experiment)
    found = tracker.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag}` = '{value}'",
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    if found:
        return found[0], False
    return tracker.create_run(experiment_id, tags={tag: value, **tags}), True


def study_metrics(study: FinishedStudy) -> list[tuple[str, float, int]]:
    """(key, value, step) of every metric a study's run holds."""
    metrics = []
    folds = study.folds
    for row in folds.itertuples():
        place = f"r{row.repeat}f{row.outer_fold}"
        for name in ("tuned_test", "default_test", "gain"):
            metrics.append((f"{name}/{place}", getattr(row, name), 0))
    for name in ("tuned_test", "default_test", "gain"):
        metrics.append((name, folds[name].mean(), 0))
    trials = study.trials  # none at all for strategy `default`
    ok = trials[trials.status == "ok"] if len(trials) else trials
    for row in ok.itertuples():
        metrics.append((f"inner_score/r{row.repeat}f{row.outer_fold}", row.inner_mean, row.trial))
    return [(k, float(v), int(s)) for k, v, s in metrics if v == v]  # NaN: a failed refit


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow params: dotted keys, lists as JSON, values as text."""
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            params |= flatten(value, f"{name}.")
        else:
            params[name] = value if isinstance(value, str) else json.dumps(value)
    return params


def _missing_metrics(
    tracker: Any, run: Any, new: bool, metrics: list[tuple[str, float, int]]
) -> list[tuple[str, float, int]]:
    """What a continued run lacks: keys it has not logged, steps its histories do not hold."""
    if new:
        return metrics
    logged: dict[str, set[int]] = {}
    for key in {k for k, _, _ in metrics} & set(run.data.metrics):
        logged[key] = {m.step for m in tracker.get_metric_history(run.info.run_id, key)}
    return [(k, v, s) for k, v, s in metrics if s not in logged.get(k, set())]


def _log_batches(
    tracker: Any, run_id: str, params: dict[str, str], metrics: list[tuple[str, float, int]]
) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    params_list = [Param(k, v) for k, v in params.items()]
    metric_list = [Metric(k, v, now, s) for k, v, s in metrics]
    for i in range(0, max(len(params_list), len(metric_list)), BATCH):
        tracker.log_batch(
            run_id, metrics=metric_list[i : i + BATCH], params=params_list[i : i + BATCH]
        )


def _experiment_id(tracker: Any, name: str) -> str:
    """The experiment's id, made on first use (jobs racing to make it find the winner's)."""
    from mlflow.exceptions import MlflowException

    found = tracker.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return tracker.create_experiment(name)
    except MlflowException:
        return tracker.get_experiment_by_name(name).experiment_id


@contextmanager
def _no_retries() -> Iterator[None]:
    """MLflow retries a refused connection for minutes; a pre-flight check asks once."""
    wanted = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    with environment.variables(wanted):
        yield
