"""Every dataset config loads with the declared task and trains through the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.model_selection import train_test_split

from harness.errors import UsageError
from harness.problem.data import load_dataset
from harness.problem.models import build_pipeline, load_model
from tests.helpers import ROOT, compose_config

DATASETS = sorted(p.stem for p in (ROOT / "conf" / "dataset").glob("*.yaml"))
FAST_MODEL = {"classification": "tree", "regression": "ridge"}


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_loads_and_fits(name, openml_cache) -> None:
    cfg = compose_config(f"dataset={name}")
    data = load_dataset(cfg.dataset)
    assert len(data.X) == len(data.y) > 100
    assert data.y.notna().all()
    assert cfg.dataset.get("target") not in data.X.columns
    if data.task == "classification":
        assert 2 <= data.n_classes <= 10
    else:
        assert data.y.dtype == float and data.y.nunique() > 20
    # Categorical columns, strings and missing values all go through the pipeline.
    model = load_model(compose_config(f"model={FAST_MODEL[data.task]}").model, data.task)
    stratify = data.y if data.task == "classification" else None
    X_fit, X_score, y_fit, y_score = train_test_split(
        data.X, data.y, train_size=min(600, len(data.X) // 2), test_size=min(300, len(data.X) // 3),
        stratify=stratify, random_state=0,
    )  # fmt: skip
    pipeline = build_pipeline(model).fit(X_fit, y_fit)
    assert pipeline.score(X_score, y_score) > (
        0.0 if data.task == "regression" else 1 / data.n_classes
    )


def test_adult_matches_openml(openml_cache) -> None:
    data = load_dataset(compose_config("dataset=adult").dataset)
    assert data.X.shape == (48842, 14)
    assert data.y.value_counts().to_dict() == {"<=50K": 37155, ">50K": 11687}
    assert data.X["workclass"].isna().sum() > 0  # real missing values reach the pipeline


def test_max_rows_is_a_fixed_stratified_subsample() -> None:
    cfg = compose_config("dataset=digits", "dataset.max_rows=500")
    first, again = load_dataset(cfg.dataset), load_dataset(cfg.dataset)
    assert len(first.X) == 500 and first.X.equals(again.X)
    full = load_dataset(compose_config("dataset=digits").dataset)
    shares = first.y.value_counts(normalize=True).sort_index()
    assert shares.to_numpy() == pytest.approx(
        full.y.value_counts(normalize=True).sort_index(), abs=0.01
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_local_csv_and_parquet(tmp_path: Path, suffix) -> None:
    frame = load_dataset(compose_config("dataset=wine").dataset)
    table = frame.X.assign(label=frame.y.map({0: "a", 1: "b", 2: "c"}))
    path = tmp_path / f"wine.{suffix}"
    table.to_csv(path, index=False) if suffix == "csv" else table.to_parquet(path)
    cfg = compose_config("dataset=vehicle", f"dataset.path={path}", "dataset.target=label")
    loaded = load_dataset(cfg.dataset)
    assert loaded.X.shape == frame.X.shape
    assert sorted(loaded.y.unique()) == ["a", "b", "c"]


def test_task_must_match_the_target() -> None:
    cfg = compose_config("dataset=diabetes", "dataset.task=classification")
    with pytest.raises(
        UsageError, match=r"target is continuous \(214 distinct values\); set task: regression"
    ):
        load_dataset(cfg.dataset)
