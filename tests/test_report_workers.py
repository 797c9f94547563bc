"""The report's worker and compute axes, end to end: small real sweeps through the CLI on the
simulated clock (k in {1, 4}); every figure checked against the trial and fold records the
studies wrote, recomputed here the plain way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.aggregate import aggregate
from harness.aggregate.load import load_records
from harness.aggregate.settings import Settings
from harness.report.build import ONLY_WITH_WORKERS, outline
from tests.helpers import run_cli
from tests.test_report import Page

pytestmark = pytest.mark.slow  # a four-worker sweep; tests/test_report.py is the fast report

# knn on wine: fast, and on both outer folds some trial beats the defaults (targets apart)
PROBLEM = ("model=knn", "dataset=wine", "protocol.outer_folds=2", "protocol.inner_folds=2")
QUICK_REPORT = "+hydra.callbacks.report.resamples=200"


def sweep_report(cwd: Path, *overrides: str) -> Path:
    done = run_cli("-m", *PROBLEM, QUICK_REPORT, *overrides, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = (cwd / "results" / "multirun").glob("*/*/report")
    return report


def table(report: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(report / "tables" / f"{name}.parquet")


def records(report: Path, name: str) -> pd.DataFrame:
    """Every study's trials or folds, as the studies wrote them."""
    studies = table(report, "studies")
    sweep = report.parent
    return pd.concat(
        [pd.read_parquet(sweep / d / f"{name}.parquet") for d in studies.study_dir],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """random and tpe_cl, each with 1 and 4 simulated workers, 8 trials per outer fold."""
    return sweep_report(
        tmp_path_factory.mktemp("workers"), "strategy=random,tpe_cl", "budget.workers=1,4",
        "budget.clock=simulated", "budget.n_trials=8",
    )  # fmt: skip


def test_four_workers_ran_at_once(workers):
    """...and results arrived out of the order they were asked for (which the report's
    trajectories follow), in some run at least."""
    trials = records(workers, "trials")
    four = trials[trials.workers == 4]
    assert set(four.worker) == {0, 1, 2, 3}
    shuffled = []
    for _, run in four.groupby(["study_key", "outer_fold"]):
        run = run.sort_values("start")
        assert (run.start.to_numpy()[1:] < run.end.cummax().to_numpy()[:-1]).any()
        shuffled.append((run.sort_values("end").trial.diff() < 0).any())
    assert any(shuffled)


def test_speedup_is_the_ratio_of_search_seconds(workers):
    folds = records(workers, "folds")
    wide = folds.pivot_table(
        index=["strategy", "repeat", "outer_fold"], columns="workers", values="search_seconds"
    )
    expected = (wide[1] / wide[4]).groupby("strategy").mean()
    speedup = table(workers, "workers_speedup").set_index(["strategy", "workers"])
    assert set(speedup.index) == {(s, k) for s in ("random", "tpe_cl") for k in (1, 4)}
    for strategy, ratio in expected.items():
        four = speedup.loc[(strategy, 4)]
        assert four.speedup == pytest.approx(ratio)
        assert four.efficiency == pytest.approx(ratio / 4)
        assert four.speedup_low <= four.speedup <= four.speedup_high
        assert four.speedup > 1  # four virtual workers finish sooner than one
        assert speedup.loc[(strategy, 1)].speedup == pytest.approx(1.0)
    assert (speedup.reference_workers == 1).all() and (speedup.instances == 2).all()


def first_hits(report: Path) -> pd.DataFrame:
    """Per run and target: trials told, wall-clock end and compute spent until the best so far
    first reached the target, from the trial records in the order their results arrived."""
    trials = records(report, "trials")
    folds = records(report, "folds")
    goals = table(report, "targets")
    rows = []
    for (key, repeat, fold), run in trials.groupby(["study_key", "repeat", "outer_fold"]):
        run = run.sort_values(["end", "trial"])
        best = run.inner_mean.cummax().to_numpy()
        compute = (run.fit_seconds + run.score_seconds).fillna(0.0).cumsum().to_numpy()
        labels = run.iloc[0]
        place = (goals.problem == labels.problem) & (goals.repeat == repeat)
        here = goals[place & (goals.outer_fold == fold)]
        own = (folds.study_key == key) & (folds.repeat == repeat) & (folds.outer_fold == fold)
        total = folds[own].iloc[0]
        for goal in here.itertuples():
            reached = np.flatnonzero(best >= goal.target_score - 1e-9)
            i = reached[0] if len(reached) else None
            rows.append(
                {
                    "strategy": labels.strategy, "workers": labels.workers,
                    "target": goal.target, "reached": i is not None,
                    "trials": i + 1 if i is not None else len(run),
                    "seconds": run.end.iloc[i] if i is not None else total.search_seconds,
                    "compute": compute[i] if i is not None else compute[-1],
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_trials_to_target_follows_the_trajectories(workers):
    hits = first_hits(workers)
    spent = hits.groupby(["strategy", "workers", "target"]).agg(
        successes=("reached", "sum"),
        trials=("trials", "sum"),
        seconds=("seconds", "sum"),
        compute=("compute", "sum"),
    )
    ert = table(workers, "workers_ert").set_index(["strategy", "workers", "target"])
    assert set(ert.index) == set(spent.index)
    for key, row in spent.iterrows():
        got = ert.loc[key]
        assert got.successes == row.successes and got.runs == 2
        if row.successes:
            assert got.ert_trials == pytest.approx(row.trials / row.successes)
            assert got.ert_seconds == pytest.approx(row.seconds / row.successes)
            assert got.ert_compute == pytest.approx(row.compute / row.successes)
        else:
            assert np.isinf(got.ert_trials)
    for (strategy, _, target), got in ert.iterrows():
        one = ert.loc[(strategy, 1, target)]
        assert got.trials_ratio == pytest.approx(got.ert_trials / one.ert_trials)


def test_compute_is_fit_plus_score_beside_each_comparison(workers):
    trials = records(workers, "trials")
    per_run = (
        (trials.fit_seconds + trials.score_seconds)
        .groupby([trials.strategy, trials.study_key, trials.outer_fold])
        .sum()
    )
    expected = per_run.groupby("strategy").mean()
    compute = table(workers, "compute").set_index("strategy").compute_seconds
    assert compute.to_dict() == pytest.approx(expected.to_dict())
    for name in ("ranks", "gain_overall", "versus_baseline", "ert", "iqm", "power"):
        beside = table(workers, name).dropna(subset=["compute_seconds"])
        assert len(beside), name
        assert beside.compute_seconds.to_numpy() == pytest.approx(
            compute[beside.strategy].to_numpy()
        ), name
    recommendation = table(workers, "recommendation").iloc[0]
    assert recommendation.axis == "trials"
    assert ", ranked at equal trials: " in recommendation.sentence
    assert recommendation.compute_seconds == pytest.approx(compute[recommendation.strategy])


def test_html_shows_the_worker_figure_and_tables(workers):
    page = Page()
    page.feed((workers / "report.html").read_text(encoding="utf-8"))
    assert page.images["figure-workers_convergence"].startswith("data:image/png;base64,")
    assert page.images["figure-ttt_compute"].startswith("data:image/png;base64,")
    assert {"table-workers_speedup", "table-workers_ert", "table-compute"} <= page.ids
    text = (workers / "report.md").read_text(encoding="utf-8")
    assert "## Parallel workers" in text and "ranked at equal trials" in text
    assert set(ONLY_WITH_WORKERS) == {"workers_convergence", "workers_speedup", "workers_ert"}


def test_a_compute_budget_ranks_on_compute(tmp_path):
    """Studies stopped by budget.compute_s: the recommendation says it ranked at equal
    compute, in its table and its text. (Tables only: the figures are tested above.)"""
    done = run_cli(
        "-m", *PROBLEM, "strategy=random", "budget.compute_s=0.5", "budget.n_trials=200",
        "~hydra.callbacks.report", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = load_records(tmp_path / "results" / "studies")
    assert (found.folds.n_trials < 200).all()  # the compute budget stopped every search
    settings = Settings(resamples=200)
    tables = aggregate(found, settings)
    recommendation = tables["recommendation"].iloc[0]
    assert recommendation.budget == "200 trials, 0.5 s compute"
    assert recommendation.axis == "compute"
    assert ", ranked at equal compute: " in recommendation.sentence
    (section,) = [s for s in outline(found, tables, settings) if s.title == "Recommendation"]
    assert "200 trials, 0.5 s compute: ranked at equal compute." in section.text
    assert tables["workers_speedup"].empty and tables["workers_ert"].empty
    assert "Parallel workers" not in {s.title for s in outline(found, tables, settings)}
