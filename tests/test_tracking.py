"""MLflow tracking against a real `mlflow server` on 127.0.0.1 (sqlite backend store, local
artifact root): a two-study sweep logs a parent run and a child run per study with their
params, tags, metrics and artifacts; running it again, or one of its studies alone, adds no
run and no metric point."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import engine_missing, free_port, run_cli, serving

SWEEP = (
    "-m", "+tracking=mlflow", "strategy=random,grid,default", "dataset=iris", "budget.n_trials=4",
    "protocol.outer_folds=2", "protocol.inner_folds=2",
)  # fmt: skip
EXPERIMENT = "tunebench-test"


def _client_or_missing() -> None:
    try:
        import mlflow  # noqa: F401  (the client the harness logs with)
    except ImportError:
        engine_missing('the MLflow client is not installed: pip install -e ".[mlflow]"')


def _server_command() -> str:
    """The `mlflow` of a full MLflow install: TUNEBENCH_MLFLOW_SERVER (what .ci/run sets, a venv
    of its own) or one on PATH that has the `server` command."""
    for exe in (os.environ.get("TUNEBENCH_MLFLOW_SERVER"), "mlflow"):
        if not exe:
            continue
        try:
            probe = subprocess.run([exe, "server", "--help"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return exe
    engine_missing(
        "no MLflow server: install mlflow in a venv of its own and set "
        "TUNEBENCH_MLFLOW_SERVER=<venv>/bin/mlflow (docs/guides/tracking.md)"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A real tracking server on a free loopback port, stopped at teardown."""
    _client_or_missing()
    exe, home, port = _server_command(), tmp_path_factory.mktemp("mlflow"), free_port()
    command = [
        exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination", str(home / "artifacts"),
    ]  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    with serving(command, f"{uri}/health", home / "server.log"):
        yield uri


def _tracked(*overrides: str, cwd: Path, uri: str) -> subprocess.CompletedProcess:
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": EXPERIMENT}
    done = run_cli(*overrides, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _runs(uri: str) -> pd.DataFrame:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return pd.DataFrame(
        {"run": r, "id": r.info.run_id, "parent": r.data.tags.get("mlflow.parentRunId")}
        for r in client.search_runs([experiment.experiment_id])
    )


@pytest.fixture(scope="module")
def swept(server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, pd.DataFrame]:
    cwd = tmp_path_factory.mktemp("tracked")
    _tracked(*SWEEP, cwd=cwd, uri=server)
    return server, cwd, _runs(server)


def _history(uri: str, run_id: str) -> dict[str, list[tuple[int, float]]]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    return {
        key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
    }


@pytest.mark.slow  # an MLflow server and a sweep
def test_a_sweep_is_a_parent_run_with_a_child_run_per_study(swept):
    uri, _, runs = swept
    parents = runs[runs.parent.isna()]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents.run.iloc[0]
    assert "tunebench.sweep_key" in parent.data.tags and parent.info.status == "FINISHED"
    children = runs[runs.parent == parent.info.run_id]
    strategies = {c.data.tags["tunebench.strategy"] for c in children.run}
    assert strategies == {"random", "grid", "default"}  # default: no trial, fold metrics only

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    report = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/figures", "report/tables"} <= report


@pytest.mark.slow  # an MLflow server and a sweep
def test_each_study_run_holds_its_config_tags_metrics_and_tables(swept):
    uri, cwd, runs = swept
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(uri)
    for run in runs[runs.parent.notna()].run:
        key = run.data.tags["tunebench.study_key"]
        home = cwd / "results" / "studies" / key
        meta = json.loads((home / "study.json").read_text())
        config = meta["config"]
        tags = run.data.tags
        assert (tags["tunebench.dataset"], tags["tunebench.model"]) == ("iris", "logreg")
        assert tags["tunebench.strategy"] == config["strategy"]["name"]
        assert tags["tunebench.budget"] == "4 trials"
        params = run.data.params
        assert params["protocol.outer_folds"] == "2" and params["budget.n_trials"] == "4"
        assert (
            params["model.space.C.log"] == "true"
            and params["strategy.name"] == tags["tunebench.strategy"]
        )

        history = _history(uri, run.info.run_id)
        folds = pd.read_parquet(home / "folds.parquet")
        trials = pd.read_parquet(home / "trials.parquet")
        for fold in folds.itertuples():
            place = f"r{fold.repeat}f{fold.outer_fold}"
            for name in ("tuned_test", "default_test", "gain"):
                assert history[f"{name}/{place}"] == [(0, pytest.approx(getattr(fold, name)))]
            ok = (
                trials.query(f"outer_fold == {fold.outer_fold} and status == 'ok'")
                if len(trials)
                else trials
            )  # strategy default: no trial at all
            assert history.get(f"inner_score/{place}", []) == [
                (t.trial, pytest.approx(t.inner_mean)) for t in ok.itertuples()
            ]
        assert history["gain"] == [(0, pytest.approx(folds.gain.mean()))]

        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "study")}
        assert artifacts == {"study/trials.parquet", "study/folds.parquet", "study/study.json"}
        copy = download_artifacts(
            run_id=run.info.run_id, artifact_path="study/trials.parquet", tracking_uri=uri
        )
        pd.testing.assert_frame_equal(pd.read_parquet(copy), trials)


@pytest.mark.slow  # an MLflow server and a sweep
def test_running_the_sweep_or_one_of_its_studies_again_adds_no_run_and_no_metric(swept):
    uri, cwd, runs = swept
    before = {run_id: _history(uri, run_id) for run_id in runs.id}
    _tracked(*SWEEP, cwd=cwd, uri=uri)  # a new sweep folder; the studies are read back
    alone = [o for o in SWEEP if o != "-m"]
    alone[alone.index("strategy=random,grid,default")] = "strategy=grid"
    done = _tracked(*alone, cwd=cwd, uri=uri)  # one study, no sweep
    assert "study" in done.stderr  # its log line: "study ... finished earlier"
    again = _runs(uri)
    assert sorted(again.id) == sorted(runs.id)
    assert {run_id: _history(uri, run_id) for run_id in again.id} == before
    assert len(list((cwd / "results" / "multirun").glob("*/*/.mlflow-run-id"))) == 2


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "needs MLFLOW_TRACKING_URI"),  # empty: unset
        ("http://127.0.0.1:{port}", "cannot reach MLflow"),  # nothing listens there
        ("nosuchscheme://x", "cannot reach MLflow"),
    ],
)
def test_tracking_to_no_server_stops_before_any_study(tmp_path, uri, message):
    _client_or_missing()
    env = {"MLFLOW_TRACKING_URI": uri.format(port=free_port())}
    done = run_cli("+tracking=mlflow", "budget.n_trials=2", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "results").exists()
