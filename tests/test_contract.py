"""The CLI's contract, tried on random input: random small data files (valid and broken) and
random overrides (valid and not). Every run either finishes (exit 0, nothing on stderr but its
progress lines, complete records) or is refused (exit 2, one line on stderr, no traceback,
nothing written). A run with only valid overrides on a sound table (at least 30 rows, a feature,
a target of 2 or more classes or a continuous one) must finish, and 200 cases hold at least 5.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import besides_progress, run_inline, written

# Each key: values that suit any generated table, and the typos and out-of-range values users
# make. Models and metrics depend on the task, so they are drawn with it.
OPTIONS = {
    "budget.n_trials": (["1", "2", "3"], ["0", "-1", "abc", "1.5", "null", "9" * 30]),
    "budget.time_s": (["null", "5"], ["0", "-1", "abc"]),
    "protocol.repeats": (["1", "2"], ["0"]),
    "protocol.outer_folds": (["2", "3"], ["1", "abc", "50"]),
    "protocol.inner_folds": (["2", "3"], ["1", "30"]),
    "protocol.n_jobs": (["null", "1"], ["0", "abc", "true"]),
    "dataset.max_rows": (["null", "40", "100000"], ["0", "-3", "abc", "3"]),
    "dataset.target": (["y"], ["nope"]),
    "strategy": (["random", "grid", "default", "tpe"], ["nope"]),
    "seed": (["0", "7"], ["-1", "abc", "4294967296"]),
    "run.store": (["store"], ["/proc/x"]),
    "budget.n_trails": ([], ["3"]),  # a misspelt key
    "+budget.ntrials": ([], ["5"]),  # a misspelt key added: no place for it (issue 19)
    "+protocol.outer_fold": ([], ["3"]),
    "+foo": ([], ["1"]),
    "~seed": ([], ["0"]),  # a key every study reads, removed
    "+model.estimator.bogus": ([], ["1"]),  # no estimator takes it
}
MODELS = {"classification": ["logreg", "tree", "knn"], "regression": ["ridge", "knn_reg"]}
METRICS = {"classification": ["null", "accuracy", "f1_macro"], "regression": ["null", "r2", "mae"]}
ANY_MODEL, ANY_METRIC = ["logreg", "ridge", "svc", "nope"], ["roc_auc", "log_loss", "rmse", "x"]


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, bytes, str, bool]:
    """A small table as CSV or parquet, or a broken file: (suffix, bytes, task, sound), where
    a sound table is one any valid study must run on."""
    kind = draw(st.sampled_from(["csv"] * 4 + ["parquet"] * 2 + ["garbage", "ragged", "empty"]))
    if kind == "garbage":
        return ".csv", draw(st.binary(min_size=1, max_size=300)), "classification", False
    if kind == "empty":
        return draw(st.sampled_from([".csv", ".parquet", ".arff"])), b"", "classification", False
    if kind == "ragged":
        return ".csv", b"a,b,y\n1,2,0\n3,4,5,6\n7,8,1\n", "classification", False
    rows = draw(st.sampled_from([0, 1, 3, 8, 20, 30, 45, 60, 80]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns = draw(st.integers(0, 3))
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(columns)})
    if draw(st.booleans()):
        frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    if draw(st.booleans()):
        frame["empty"] = np.nan
    if draw(st.booleans()) and rows:
        frame["holes"] = np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows))
    target = draw(
        st.sampled_from(["classes"] * 3 + ["labels"] * 2 + ["continuous"] * 2 + ["constant"])
    )
    classes = draw(st.sampled_from([2, 2, 3, 1]))
    frame["y"] = {
        "classes": np.arange(rows) % classes,
        "labels": rng.choice(["no", "yes", "maybe"][:classes], size=rows),
        "continuous": rng.normal(size=rows),
        "constant": np.ones(rows),
    }[target]
    task = "regression" if target == "continuous" else "classification"
    features = columns > 0 or "colour" in frame or "holes" in frame
    sound = (
        rows >= 30
        and features
        and (target == "continuous" or (target != "constant" and classes > 1))
    )
    if kind == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return ".parquet", buffer.getvalue(), task, sound
    return ".csv", frame.to_csv(index=False).encode(), task, sound


def _try_generated_runs(examples: int) -> list[tuple[bool, int]]:
    """`examples` generated runs, each checked; (whether it had to finish, its exit code)."""
    outcomes = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=bool(os.environ.get("CI")),  # the same cases on every CI run
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=data_files(), clean=st.booleans(), draws=st.data())
    def check(data, clean, draws) -> None:
        outcomes.append((clean and data[3], _run_generated(data, clean, draws)))

    check()
    return outcomes


def _run_generated(data: tuple, clean: bool, draws: st.DataObject) -> int:
    suffix, content, task, sound = data
    options = {key: valid + ([] if clean else wrong) for key, (valid, wrong) in OPTIONS.items()}
    options["model"] = MODELS[task] + ([] if clean else ANY_MODEL)
    options["metric"] = METRICS[task] + ([] if clean else ANY_METRIC)
    options["dataset.task"] = [task] + ([] if clean else ["regression", "clustering"])
    keys = draws.draw(st.sets(st.sampled_from(sorted(k for k, v in options.items() if v))))
    overrides = [f"{key}={draws.draw(st.sampled_from(options[key]))}" for key in sorted(keys)]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        path = cwd / f"data{suffix}"
        path.write_bytes(content)
        defaults = {
            "dataset.target": "y", "dataset.task": task, "model": MODELS[task][0],
            "budget.n_trials": "2", "dataset.path": str(path),
        }  # fmt: skip
        base = [f"{k}={v}" for k, v in defaults.items() if k not in keys]
        done = run_inline("dataset=vehicle", "dataset.name=generated", *base, *overrides, cwd=cwd)
        assert "Traceback" not in done.stderr, done.stderr
        event("finished" if done.returncode == 0 else "refused")  # --hypothesis-show-statistics
        if clean and sound:  # nothing wrong with it: it must run
            assert done.returncode == 0, (overrides, done.stderr)
        if done.returncode == 0:
            assert besides_progress(done.stderr) == [], done.stderr
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
    return done.returncode


@pytest.mark.slow
def test_every_run_finishes_whole_or_is_refused_in_one_line() -> None:
    outcomes = _try_generated_runs(200)
    assert sum(must for must, _ in outcomes) >= 5  # runs that had to finish were tried
    assert sum(code == 0 for _, code in outcomes) >= 5


def test_a_few_runs_finish_whole_or_are_refused_in_one_line() -> None:
    """The same checks on 15 cases: the fast representative for `pytest -m "not slow"`."""
    _try_generated_runs(15)
