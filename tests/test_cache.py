"""The evaluation cache: every evaluation computed once, across strategies, studies and
processes, its answer bit-identical to a fresh one and its measured seconds kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import pytest

from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.store.cache import CACHE, EvaluationCache
from harness.store.records import StudyRecords
from tests.helpers import ROOT, compose_config, run_cli, run_inline, untimed, written

TINY = ("budget.n_trials=3", "protocol.outer_folds=2")
FLAGS = ["cache", "default_inner_cache", "default_test_cache", "tuned_test_cache"]  # untimed: none
RUN = ["hydra.launcher.n_jobs=1", "~hydra.callbacks.report"]


def test_strategies_of_one_problem_share_the_defaults_and_match_a_run_without_cache(
    tmp_path: Path,
) -> None:
    cache = EvaluationCache(tmp_path / CACHE)
    folds = {}
    for strategy in ("grid", "random", "default"):
        study = prepare(compose_config(f"strategy={strategy}", *TINY))
        trials, folds[strategy] = run(study, tmp_path / strategy, cache=cache)
        plain_trials, plain_folds = run(study, tmp_path / f"{strategy}-uncached")
        if strategy == "default":  # no trial: only its folds (the defaults) to compare
            assert trials.empty and plain_trials.empty
        else:
            assert len(trials) == 6
            pd.testing.assert_frame_equal(untimed(trials), untimed(plain_trials))
            assert set(trials["cache"]) == {"miss"} and plain_trials["cache"].isna().all()
        pd.testing.assert_frame_equal(untimed(folds[strategy]), untimed(plain_folds))
    defaults = ["default_inner_cache", "default_test_cache"]
    assert (folds["grid"][defaults] == "miss").all().all()  # computed by the first study ...
    for later in ("random", "default"):
        assert (folds[later][defaults] == "hit").all().all()  # ... and read by the others


def test_a_cached_evaluation_is_bit_identical_and_keeps_its_seconds(tmp_path: Path) -> None:
    cache = EvaluationCache(tmp_path / CACHE)
    study = prepare(compose_config("strategy=random", *TINY))
    (first, _), (again, again_folds) = (
        run(study, tmp_path / name, cache=cache) for name in ("first", "again")
    )
    assert set(first["cache"]) == {"miss"} and set(again["cache"]) == {"hit"}
    same = ["params", "status", "inner_mean", "inner_std", "warning", "fit_seconds",
            "score_seconds", "eval_seconds"]  # fmt: skip
    pd.testing.assert_frame_equal(first[same], again[same], check_exact=True)
    assert (again_folds[FLAGS[1:]] == "hit").all().all()
    for _, fold in again.groupby("outer_fold"):  # the search took as long as the evaluations
        assert (fold["elapsed_seconds"] >= fold["eval_seconds"].cumsum()).all()
    evaluating = again.groupby("outer_fold")["eval_seconds"].sum()
    assert (again_folds["search_seconds"] >= evaluating).all()


def _ask(directory: Path, marker: Path) -> tuple[dict, str]:
    def compute() -> dict:
        with marker.open("a") as f:
            f.write("computed\n")
        time.sleep(0.5)  # long enough for every process to ask while it runs
        return {"score": 0.1 + 0.2}

    answer = EvaluationCache(directory).scope(problem="p").once({"params": {"C": 1}}, compute)
    return answer.value, answer.source


def test_processes_asking_the_same_question_at_once_compute_it_once(tmp_path: Path) -> None:
    marker = tmp_path / "computed.txt"
    with ProcessPoolExecutor(4, mp_context=get_context("fork")) as pool:
        answers = list(pool.map(_ask, [tmp_path / CACHE] * 4, [marker] * 4))
    assert marker.read_text() == "computed\n"
    assert sorted(source for _, source in answers) == ["hit", "hit", "hit", "miss"]
    assert {value["score"] for value, _ in answers} == {0.1 + 0.2}  # the exact float
    assert [p.suffix for p in (tmp_path / CACHE).rglob("*") if p.is_file()] == [".json"]


def test_an_entry_cut_short_is_computed_again(tmp_path: Path) -> None:
    marker = tmp_path / "computed.txt"
    _ask(tmp_path / CACHE, marker)
    (entry,) = (tmp_path / CACHE).rglob("*.json")
    entry.write_text('{"value": {"sco')  # as a crash before the data reached the disk leaves it
    assert _ask(tmp_path / CACHE, marker) == ({"score": 0.1 + 0.2}, "miss")
    assert marker.read_text().count("computed") == 2 and json.loads(entry.read_text())


@pytest.mark.slow  # two sweeps in subprocesses
def test_two_concurrent_sweeps_sharing_a_store_and_cache_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    # Both sweeps run `random` (one computes it, the other waits and reads it) and share the
    # defaults' inner CV and refit of every outer fold with `grid` and `default`.
    concurrent, sequential = tmp_path / "concurrent", tmp_path / "sequential"
    concurrent.mkdir()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    commands = [
        [sys.executable, "-m", "harness", "-m", sweep, *TINY, *RUN]
        for sweep in ("strategy=grid,random", "strategy=random,default")
    ]
    processes = [subprocess.Popen(c, cwd=concurrent, env=env, **pipes) for c in commands]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    sequential.mkdir()
    done = run_cli("-m", "strategy=grid,random,default", *TINY, *RUN, "run.cache=false",
                   cwd=sequential)  # fmt: skip
    assert done.returncode == 0, done.stderr

    tables = {}
    for root in (concurrent, sequential):
        store = root / "results" / "studies"
        studies = {p.name: StudyRecords(p) for p in store.iterdir() if p.name != CACHE}
        tables[root] = {key: records.read_tables() for key, records in studies.items()}
        for records in studies.values():
            trials, folds = records.read_tables()
            assert len(trials) == len(records.trials.read()) and len(folds) == 2
            assert not trials.duplicated(["repeat", "outer_fold", "trial"]).any()
    assert not (sequential / "results" / "studies" / CACHE).exists()  # run.cache=false
    assert tables[concurrent].keys() == tables[sequential].keys() and len(tables[sequential]) == 3
    for key, (trials, folds) in tables[concurrent].items():
        expected_trials, expected_folds = tables[sequential][key]
        pd.testing.assert_frame_equal(untimed(trials), untimed(expected_trials))
        pd.testing.assert_frame_equal(untimed(folds), untimed(expected_folds))

    # Every question asked was computed exactly once and stored once: one entry per question.
    trials = pd.concat(t for t, _ in tables[concurrent].values())
    folds = pd.concat(f for _, f in tables[concurrent].values())
    for fold in (0, 1):
        assert (folds[folds["outer_fold"] == fold]["default_inner_cache"] == "miss").sum() == 1
    inner = set(zip(trials["outer_fold"], trials["params"], strict=True))
    inner |= {(fold, "{}") for fold in folds["outer_fold"]}
    refits = {(fold, "{}") for fold in folds["outer_fold"]}
    refits |= {(f, p) for f, p in zip(folds["outer_fold"], folds["best_params"], strict=True)
               if p not in ("null", "{}")}  # fmt: skip
    entries = list((concurrent / "results" / "studies" / CACHE).rglob("*.json"))
    assert len(entries) == len(inner) + len(refits)
    tuned = ~folds["best_params"].isin(["null", "{}"])  # else the defaults' refit, counted once
    tuned_misses = (folds["tuned_test_cache"] == "miss") & tuned
    misses = (trials["cache"] == "miss").sum() + tuned_misses.sum()
    misses += (folds[["default_inner_cache", "default_test_cache"]] == "miss").sum().sum()
    assert misses == len(entries)
    assert not [p for p in (concurrent / "results").rglob("*.tmp")]


def test_a_bad_cache_option_stops_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"run\.cache is 'sometimes'; set it to true or false"):
        prepare(compose_config("run.cache=sometimes"))
    done = run_inline("run.cache=1", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "run.cache is 1; set it to true or false" in done.stderr
    assert not written(tmp_path)
