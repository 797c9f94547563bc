"""`python -m harness` as a user runs it: a table on success; one line and exit 2 on bad input."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, assert_refused, run_cli, run_inline, written


def test_default_study_prints_its_table_and_writes_records(tmp_path) -> None:
    done = run_cli("budget.n_trials=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("random on breast_cancer / logreg: outer-test accuracy")
    assert lines[1].split()[:3] == ["tuned", "default", "gain"]
    assert sum(line.startswith("r0 f") for line in lines) == 5
    assert any(line.startswith("mean +- sd") for line in lines)
    names = {p.name for p in written(tmp_path)}
    assert {"trials.parquet", "folds.parquet", "study.json"} <= names


def test_adult_from_the_openml_cache(tmp_path, openml_cache) -> None:
    done = run_cli(
        "strategy=random", "dataset=adult", "dataset.max_rows=3000", "budget.n_trials=3",
        "protocol.outer_folds=3", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("random on adult / logreg")
    assert sum(line.startswith("r0 f") for line in done.stdout.splitlines()) == 3


BAD_INPUT = [
    (["dataset=nope"], "unknown dataset 'nope'; choose one of: adult,"),
    (["model=nope"], "unknown model 'nope'; choose one of:"),
    (["strategy=nope"], "unknown strategy 'nope'; choose one of:"),
    (["-m", "strategy=random,nope"], "unknown strategy 'nope'"),
    (["budget.n_trials=0"], "budget.n_trials is 0; set it to an integer from 1 to 1,000,000"),
    (["budget.n_trials=-3"], "budget.n_trials is -3"),
    (["budget.time_s=-1"], "budget.time_s is -1"),
    (["protocol.outer_folds=1"], "protocol.outer_folds is 1"),
    (["budget.n_trails=3"], "budget has no key 'n_trails'; did you mean budget.n_trials?"),
    (["seed=abc"], "seed is 'abc'; set it to an integer from 0 to 4,294,967,295"),
    (["dataset=[1,2"], "no viable alternative at input"),
    (["model.space.C.low=1e5"], "conf/model/logreg.yaml: search space parameter 'C': low"),
    (["++model.space.l1_ratio.condition={penalty:l1}"], "unknown parameter 'penalty'"),
    (["metric=rmse"], "metric rmse is for regression but the task is classification"),
    (["metric=log_loss", "model=svc"], "metric log_loss needs predicted probabilities"),
    (["model=ridge"], "model ridge is for regression but the dataset is a classification task"),
    (["dataset=vehicle", "dataset.target=nope"], "target column 'nope' is not in"),
    (
        ["dataset=vehicle", "dataset.path=/nonexistent.arff"],
        "file /nonexistent.arff does not exist",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "message"), BAD_INPUT, ids=[" ".join(o) for o, _ in BAD_INPUT]
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, overrides, message) -> None:
    assert_refused(run_cli(*overrides, cwd=tmp_path), message, tmp_path)


def test_openml_id_missing_from_the_cache_while_offline(tmp_path, openml_cache) -> None:
    empty_cache = tmp_path / "empty-cache"
    empty_cache.mkdir()
    done = run_cli("dataset=credit-g", cwd=tmp_path, env={"OPENML_CACHE_DIR": str(empty_cache)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "OpenML dataset 31 is not in the OpenML cache" in line
    assert "OPENML_CACHE_DIR" in line
    assert written(tmp_path) == []


def test_help_is_this_tools_with_every_group_and_option_of_conf(tmp_path) -> None:
    """`--help`: what the tool does, each config group with the options conf/ holds (Hydra
    lists them from the folders, so a new option shows up by itself), five example commands,
    where the docs are, and Hydra's own help one flag away; no config dump."""
    done = run_inline("--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    text = done.stdout
    assert text.startswith("tunebench: hyperparameter-tuning strategies compared under repeated")
    conf = ROOT / "conf"
    for group in sorted(p for p in conf.iterdir() if p.is_dir() and p.name != "hydra"):
        options = ", ".join(sorted(f.stem for f in group.glob("*.yaml")))
        assert f"\n{group.name}: {options}\n" in text
    section = text.split("== Examples ==\n")[1].split("\n\n")[0].splitlines()
    examples = [line for line in section if line.startswith("python -m harness")]
    assert len(examples) == 5 and "python -m harness --hydra-help" in text
    for shown in ("sweep=quick", "budget.workers=2", "hydra/launcher=slurm", "harness.report"):
        assert sum(shown in line for line in examples) == 1, shown
    assert "README.md" in text and "docs/" in text and "_target_" not in text
    hydras = run_inline("--hydra-help", cwd=tmp_path)
    assert hydras.returncode == 0 and "== Flags ==" in hydras.stdout
    assert written(tmp_path) == []
