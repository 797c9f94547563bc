"""The CLI's contract, tried on random input: random small data files (valid and broken) and
random overrides (valid and not). Every run either finishes (exit 0, nothing on stderr,
complete records) or is refused (exit 2, one line on stderr, no traceback, nothing written).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import run_inline, written

# Each key's values mix valid ones with the typos and out-of-range values users make.
OPTIONS = {
    "budget.n_trials": ["1", "2", "3", "0", "-1", "abc", "1.5", "null", "9" * 30],
    "budget.time_s": ["null", "5", "0", "-1", "abc"],
    "protocol.repeats": ["1", "2", "0"],
    "protocol.outer_folds": ["2", "3", "5", "1", "abc"],
    "protocol.inner_folds": ["2", "3", "10", "1"],
    "protocol.n_jobs": ["null", "1", "0", "abc", "true"],
    "dataset.max_rows": ["null", "10", "30", "0", "-3", "abc", "100000"],
    "dataset.task": ["classification", "regression", "clustering"],
    "dataset.target": ["y", "nope"],
    "metric": ["null", "accuracy", "f1_macro", "roc_auc", "log_loss", "r2", "rmse", "nope"],
    "model": ["logreg", "tree", "knn", "ridge", "svc", "nope"],
    "strategy": ["random", "grid", "default", "tpe", "nope"],
    "seed": ["0", "7", "-1", "abc", "4294967296"],
    "run.store": ["store", "/proc/x"],
    "budget.n_trails": ["3"],  # a misspelt key
}


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A small table as CSV (or parquet), or a broken file: (suffix, bytes)."""
    kind = draw(st.sampled_from(["csv", "csv", "csv", "parquet", "garbage", "ragged", "empty"]))
    if kind == "garbage":
        return ".csv", draw(st.binary(min_size=1, max_size=300))
    if kind == "empty":
        return draw(st.sampled_from([".csv", ".parquet", ".arff"])), b""
    if kind == "ragged":
        return ".csv", b"a,b,y\n1,2,0\n3,4,5,6\n7,8,1\n"
    rows = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(draw(st.integers(0, 3)))})
    if draw(st.booleans()):
        frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    if draw(st.booleans()):
        frame["empty"] = np.nan
    if draw(st.booleans()) and rows:
        frame["holes"] = np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows))
    target = draw(st.sampled_from(["classes", "labels", "continuous", "constant"]))
    classes = draw(st.integers(1, 4))
    frame["y"] = {
        "classes": rng.integers(0, classes, size=rows),
        "labels": rng.choice(["no", "yes", "maybe"][: max(classes, 1)], size=rows),
        "continuous": rng.normal(size=rows),
        "constant": np.ones(rows),
    }[target]
    if kind == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return ".parquet", buffer.getvalue()
    return ".csv", frame.to_csv(index=False).encode()


@settings(
    max_examples=200,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),  # the same 200 cases on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=data_files(),
    chosen=st.dictionaries(
        st.sampled_from(sorted(OPTIONS)), st.integers(0, 100), max_size=len(OPTIONS)
    ),
)
def test_every_run_finishes_whole_or_is_refused_in_one_line(data, chosen) -> None:
    suffix, content = data
    overrides = [f"{key}={OPTIONS[key][i % len(OPTIONS[key])]}" for key, i in chosen.items()]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        path = cwd / f"data{suffix}"
        path.write_bytes(content)
        base = ["dataset=vehicle", "dataset.name=generated", "dataset.target=y"]
        if not any(o.startswith("budget.n_trials=") for o in overrides):
            base.append("budget.n_trials=2")
        done = run_inline(*base, f"dataset.path={path}", *overrides, cwd=cwd)
        assert "Traceback" not in done.stderr, done.stderr
        event("finished" if done.returncode == 0 else "refused")  # --hypothesis-show-statistics
        if done.returncode == 0:
            assert done.stderr == "", done.stderr
            (home,) = {p.parent.resolve() for p in cwd.rglob("study.json")}
            meta = json.loads((home / "study.json").read_text())
            assert meta["status"] == "finished"
            protocol = meta["config"]["protocol"]
            folds = pd.read_parquet(home / "folds.parquet")
            assert len(folds) == protocol["repeats"] * protocol["outer_folds"]
            assert (home / "trials.parquet").exists()
        else:
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
            assert written(cwd) == [] and not (cwd / "store").exists()
