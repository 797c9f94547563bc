"""Helpers for tests: compose a config in-process, or run the CLI in a subprocess."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from harness.engine.objective import InnerCV
from harness.engine.study import Study, prepare
from harness.problem.models import build_pipeline

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


def run_inline(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m harness` in this process (about 20x faster than a subprocess), in `cwd`.

    Exit code, stdout and stderr as a subprocess would give them; an exception that escapes
    the CLI is reported as Python would (a traceback on stderr, exit code 1), so a test of the
    one-line contract sees it.
    """
    from hydra.core.global_hydra import GlobalHydra

    from harness import cli

    out, err, code = io.StringIO(), io.StringIO(), 0
    here, argv = Path.cwd(), sys.argv
    os.chdir(cwd)
    sys.argv = ["harness", *overrides]
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            # Warnings print to stderr, as in a real run, not into pytest's records.
            warnings.showwarning = _print_warning
            try:
                cli.main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
        GlobalHydra.instance().clear()
    return subprocess.CompletedProcess(list(overrides), code, out.getvalue(), err.getvalue())


TIMING = [
    "fit_seconds", "score_seconds", "cpu_seconds", "eval_seconds", "choose_seconds",
    "elapsed_seconds", "search_seconds", "wall_seconds", "worker", "start", "end",
    # and where an evaluation's seconds come from: which study computed it first varies
    "cache", "default_inner_cache", "default_test_cache", "tuned_test_cache",
    "outer_test_cache",
]  # fmt: skip


def untimed(table: pd.DataFrame) -> pd.DataFrame:
    """A trial or fold table without its timing columns (and cache flags), which differ from
    run to run."""
    return table.drop(columns=[c for c in TIMING if c in table]).reset_index(drop=True)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def stored_studies(store: Path) -> list[Path]:
    """The study folders of a results store, in key order (not its `.cache`)."""
    return sorted(store.glob("[!.]*"))


def assert_refused(done: subprocess.CompletedProcess, message: str, cwd: Path) -> None:
    """The bad-input contract: exit 2, one `error:` line holding `message`, no traceback,
    nothing written under `cwd`/results."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in lines[0]
    assert written(cwd) == []


def besides_progress(stderr: str) -> list[str]:
    """The lines of a run's stderr other than its progress lines (harness.engine.progress)."""
    return [line for line in stderr.splitlines() if not line.startswith("progress: ")]


def written(cwd: Path) -> list[Path]:
    """Every file a run left under `cwd`/results."""
    results = cwd / "results"
    return [p for p in results.rglob("*") if p.is_file()] if results.exists() else []


def first_inner_cv(*overrides: str) -> InnerCV:
    """What a strategy searches in the first outer fold of a study (its fidelity included)."""
    study = prepare(compose_config(*overrides))
    X, y, task = study.dataset.X, study.target, study.split_task
    split = next(study.protocol.outer_splits(X, y, task, study.seed))
    X, y = X.iloc[split.train], y.iloc[split.train]
    splits = list(study.protocol.inner_splitter(task, study.seed).split(X, y))
    pipeline = build_pipeline(study.model)
    return InnerCV(pipeline, X, y, splits, study.scorer, fidelity=study.fidelity)


def engine_missing(message: str) -> NoReturn:
    """Skip a test whose engine (a browser, a server, an optional extra) is absent here; fail
    in CI (CI=true), where .ci/run installs every engine and extra, so that CI runs these tests
    rather than skipping."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI installs it: see .ci/run)")
    pytest.skip(message, allow_module_level=True)  # at a module's top: its every test


def need_extra(module: str, extra: str) -> ModuleType:
    """`module` of the optional `extra`, imported: pytest.importorskip, but a failure under
    CI=true (engine_missing)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        engine_missing(f"the {extra} extra is not installed")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(command: list[str], ready: str, log: Path, timeout_s: float = 180) -> Iterator[None]:
    """A server (its own process group) that is up once `ready` answers 200; the whole group
    is stopped on exit, whatever happened inside."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not _answers(ready):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} did not start: {log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def misbehaving_study(strategy: str, space: dict, *overrides: str) -> Study:
    """A study of tests.misbehaving's model over `space` (its `behaviour` and `seconds`), 2
    outer x 2 inner folds."""
    cfg = compose_config(f"strategy={strategy}", "protocol.outer_folds=2",
                         "protocol.inner_folds=2", *overrides)  # fmt: skip
    with open_dict(cfg):
        cfg.model = {
            "name": "misbehaving",
            "task": "classification",
            "scale": False,
            "estimator": {"_target_": "tests.misbehaving.Misbehaving"},
            "space": space,
        }
    return prepare(cfg)
