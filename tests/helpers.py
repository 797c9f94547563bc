"""Helpers for tests: compose a config in-process, or run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from harness.models import build_pipeline
from harness.objective import InnerCV
from harness.study import prepare

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TUNEBENCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("TUNEBENCH_DATASETS", str(SHARED / "datasets"))


def compose_config(*overrides: str) -> DictConfig:
    """The config `python -m harness <overrides>` would run, composed by Hydra in-process."""
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


def run_cli(
    *overrides: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m harness` in a subprocess, run in `cwd` so its results/ lands there."""
    full_env = (
        os.environ
        | {
            "OPENML_SKIP_PARQUET": "true",
            "MPLBACKEND": "Agg",
            "TUNEBENCH_DATASETS": str(SHARED / "datasets"),
        }
        | (env or {})
    )
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "harness", *overrides],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def first_inner_cv(*overrides: str) -> InnerCV:
    """What a strategy searches in the first outer fold of a study (its fidelity included)."""
    study = prepare(compose_config(*overrides))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    split = next(study.protocol.outer_splits(X, y, task, study.seed))
    X, y = X.iloc[split.train], y.iloc[split.train]
    splits = list(study.protocol.inner_splitter(task, study.seed).split(X, y))
    pipeline = build_pipeline(study.model)
    return InnerCV(pipeline, X, y, splits, study.metric.scorer, fidelity=study.fidelity)


def engine_missing(message: str) -> NoReturn:
    """Skip a test whose engine (a browser, a server) is absent here; fail in CI (CI=true),
    where .ci/run installs every engine, so that CI runs these tests rather than skipping."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI installs it: see .ci/run)")
    pytest.skip(message)
