"""`python -m harness.export optuna`: a sweep's studies in an optuna storage, read back with
optuna's own `load_study`: every trial with its value, parameters, distributions and state."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from harness.export.__main__ import main as export_main
from tests.helpers import engine_missing, free_port, run_cli, serving


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Studies of k-nearest neighbours on iris. n_neighbors reaches past the ~37 rows an inner
    fold trains on, so some trials fail; `default` runs no trial, so it exports nothing; no
    report (not needed here)."""
    cwd = tmp_path_factory.mktemp("export")
    done = run_cli(
        "-m", "strategy=random,tpe,default", "model=knn", "dataset=iris", "budget.n_trials=6",
        "model.space.n_neighbors.high=200", "protocol.outer_folds=2", "protocol.inner_folds=2",
        "~hydra.callbacks.report", cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (cwd / "results" / "multirun").glob("*/*")
    return folder


def _export(source: Path, url: str, capsys) -> str:
    export_main(["optuna", str(source), "--storage", url])
    return capsys.readouterr().out


def test_load_study_returns_every_trial_with_its_value_and_parameters(sweep, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert "4 optuna studies" in _export(sweep, url, capsys)  # 2 studies x 2 outer folds
    names = optuna.get_all_study_names(url)
    homes = sorted({p.resolve() for p in sweep.glob("*/study")})
    homes = [
        h
        for h in homes
        if json.loads((h / "study.json").read_text())["config"]["strategy"]["name"] != "default"
    ]
    assert len(homes) == 2 and len(names) == 4
    states = set()
    for home in homes:
        meta = json.loads((home / "study.json").read_text())
        trials = pd.read_parquet(home / "trials.parquet")
        folds = pd.read_parquet(home / "folds.parquet")
        for fold in folds.itertuples():
            (name,) = [
                n for n in names if meta["study_key"] in n and n.endswith(f"fold {fold.outer_fold}")
            ]
            study = optuna.load_study(study_name=name, storage=url)
            assert study.direction == optuna.study.StudyDirection.MAXIMIZE
            attrs = study.user_attrs
            assert (
                attrs["study_key"] == meta["study_key"] and attrs["outer_fold"] == fold.outer_fold
            )
            assert attrs["strategy"] == meta["config"]["strategy"]["name"]
            assert attrs["gain"] == pytest.approx(fold.gain)
            ours = trials[trials.outer_fold == fold.outer_fold].sort_values("trial")
            theirs = study.get_trials(deepcopy=False)
            assert len(theirs) == len(ours) == 6
            for row, trial in zip(ours.itertuples(), theirs, strict=True):
                assert trial.params == json.loads(row.params)
                assert trial.user_attrs["status"] == row.status
                assert trial.user_attrs["eval_seconds"] == pytest.approx(row.eval_seconds)
                if row.status == "ok":
                    assert trial.state == TrialState.COMPLETE
                    assert trial.value == pytest.approx(row.inner_mean)
                else:
                    assert trial.state == TrialState.FAIL and trial.value is None
                states.add(trial.state)
                assert trial.distributions["n_neighbors"] == IntDistribution(1, 200, log=True)
                assert trial.distributions["weights"] == CategoricalDistribution(
                    ("uniform", "distance")
                )
    assert states == {TrialState.COMPLETE, TrialState.FAIL}  # both kinds were exported


def test_exporting_again_replaces_rather_than_duplicates(sweep, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _export(sweep.parent.parent.parent / "studies", url, capsys)  # the store: the same studies
    _export(sweep, url, capsys)
    counts = [s.n_trials for s in optuna.get_all_study_summaries(url)]
    assert counts == [6, 6, 6, 6]


def test_a_float_space_exports_as_float_distributions(tmp_path, capsys):
    cwd = tmp_path / "one"
    cwd.mkdir()
    done = run_cli("budget.n_trials=3", "protocol.outer_folds=2", "dataset=iris", cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    url = f"sqlite:///{tmp_path / 'y.db'}"
    _export(cwd / "results", url, capsys)
    (name, _) = optuna.get_all_study_names(url)
    trial = optuna.load_study(study_name=name, storage=url).trials[0]
    assert trial.distributions["C"] == FloatDistribution(1e-4, 1e4, log=True)


@pytest.mark.slow  # optuna-dashboard's server
def test_optuna_dashboard_serves_every_exported_study(sweep, tmp_path, capsys):
    """The real optuna-dashboard on a free loopback port lists the studies and their trials."""
    dashboard = shutil.which("optuna-dashboard")
    if dashboard is None:
        engine_missing('optuna-dashboard is not installed: pip install -e ".[dashboard]"')
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _export(sweep, url, capsys)
    base = f"http://127.0.0.1:{free_port()}"
    port = base.rsplit(":", 1)[1]
    command = [dashboard, url, "--host", "127.0.0.1", "--port", port]
    with serving(command, f"{base}/api/studies", tmp_path / "dashboard.log"):
        with urllib.request.urlopen(f"{base}/api/studies", timeout=30) as answer:
            listed = json.load(answer)["study_summaries"]
        assert sorted(s["study_name"] for s in listed) == sorted(optuna.get_all_study_names(url))
        for summary in listed:
            with urllib.request.urlopen(f"{base}/api/studies/{summary['study_id']}") as answer:
                assert len(json.load(answer)["trials"]) == 6


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("no studies", "no finished study"),
        ("sqlite:////no/such/folder/x.db", "cannot open optuna storage"),
        ("nosuchdb://x", "cannot open optuna storage"),
        ("not a url", "cannot open optuna storage"),
    ],
)
def test_bad_input_exits_2_with_one_line(sweep, tmp_path, capsys, what, message):
    source, url = (
        (tmp_path, f"sqlite:///{tmp_path / 'x.db'}") if what == "no studies" else (sweep, what)
    )
    with pytest.raises(SystemExit) as stop:
        export_main(["optuna", str(source), "--storage", url])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())  # nothing written
