"""One record schema: a study writes its labels once into study.json and onto every record,
in the declared column order, and analysis reads them back from there."""

from __future__ import annotations

import json

from harness.aggregate.load import load_records, versions_table
from harness.engine.study import prepare, run
from harness.store import schema
from tests.helpers import compose_config


def test_labels_are_written_once_and_read_back(tmp_path) -> None:
    study = prepare(compose_config("dataset=iris", "budget.n_trials=3", "protocol.outer_folds=2"))
    home = tmp_path / "studies" / study.key
    trials, folds = run(study, home)
    meta = json.loads((home / "study.json").read_text())
    labels = meta["labels"]
    assert set(labels) == set(schema.LABELS) and labels["study_key"] == study.key
    assert labels["budget"] == "3 trials" and labels["strategy"] == "random"
    assert labels["problem"] == schema.problem_key(meta["config"], meta["data_fingerprint"])
    for table, columns in ((trials, schema.TRIAL), (folds, schema.FOLD)):
        assert list(table.columns[: len(columns)]) == list(columns)
        assert (table[list(schema.LABELS)] == [labels[c] for c in schema.LABELS]).all().all()
    records = load_records(tmp_path)
    assert records.studies.loc[0, list(schema.LABELS)].to_dict() == labels
    assert records.trials.budget.eq("3 trials").all() and records.folds.problem.nunique() == 1


def test_versions_come_from_the_declared_dependencies(tmp_path) -> None:
    study = prepare(compose_config("dataset=iris", "budget.n_trials=1", "protocol.outer_folds=2"))
    run(study, tmp_path / study.key)
    versions = json.loads((tmp_path / study.key / "study.json").read_text())["versions"]
    assert {"python", "cmaes", "optuna", "hyperopt", "scikit-optimize"} <= set(versions)
    assert "pytest" not in versions  # the test extra says nothing about results
    table = versions_table(load_records(tmp_path).studies)
    assert (table.set_index("package").loc["cmaes", "studies"]) == versions["cmaes"]
