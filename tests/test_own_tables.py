"""problem=table: a study answered from a table tunebench built (python -m harness.tabulate),
exactly as the real study of the same seed, and refused when the table does not fit it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.engine.study import prepare, run
from harness.errors import UsageError
from harness.tabulate import study_overrides
from tests.helpers import assert_refused, compose_config, run_inline, stored_studies

PROTOCOL = ("protocol.repeats=2", "protocol.outer_folds=2", "protocol.inner_folds=2")
GRID = ("strategy=grid", "strategy.adapter.resolution=3", "budget.n_trials=24")
# the study's labels, where each came from, and when: all else must be equal
NOT_COMPARED = {
    "study_key", "problem", "cache", "fit_seconds", "score_seconds", "cpu_seconds",
    "eval_seconds", "choose_seconds", "elapsed_seconds", "start", "end", "worker",
    "search_seconds", "wall_seconds", "default_inner_cache", "default_test_cache",
    "tuned_test_cache",
}  # fmt: skip


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, pd.DataFrame]:
    """logreg on breast_cancer, the grid of resolution 3 (24 points, the defaults among them),
    2 repeats x 2 outer folds: its store, its key and its trials."""
    store = tmp_path_factory.mktemp("tables")
    design = ["design.kind=grid", "design.resolution=3", "design.n=24", *PROTOCOL]
    study = prepare(compose_config(*study_overrides([*design, f"run.store={store}"])))
    trials, _ = run(study, study.home)
    return store, study.key, trials


def _run(*overrides: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    study = prepare(compose_config(*overrides))
    return run(study, study.home)


def _compared(frame: pd.DataFrame) -> pd.DataFrame:
    kept = frame.drop(columns=[c for c in frame if c in NOT_COMPARED])
    return kept.sort_values(["repeat", "outer_fold", *(["trial"] if "trial" in kept else [])])


def test_a_grid_study_on_a_grid_table_is_the_real_grid_study_exactly(table, tmp_path) -> None:
    """The oracle: the same trials, inner scores, chosen configurations and outer-test scores
    (and gains over the defaults) as the grid study run for real, fold by fold."""
    store, key, tabulated = table
    answered = _run("problem=table", f"problem.table={key}", *GRID, *PROTOCOL,
                    f"run.store={store}")  # fmt: skip
    real = _run(*GRID, *PROTOCOL, f"run.store={tmp_path}")  # its own store and cache
    assert len(answered[0]) == 4 * 24 and (answered[0]["status"] == "ok").all()
    for ours, theirs in zip(answered, real, strict=True):
        pd.testing.assert_frame_equal(
            _compared(ours).reset_index(drop=True), _compared(theirs).reset_index(drop=True)
        )
    # the simulated clock's seconds are the table's, as a cached answer's are
    recorded = tabulated.set_index(["repeat", "outer_fold", "params"])["eval_seconds"]
    looked_up = answered[0].set_index(["repeat", "outer_fold", "params"])["eval_seconds"]
    assert looked_up.equals(recorded.loc[looked_up.index])


def test_a_configuration_outside_the_design_is_a_failed_trial_that_says_so(table) -> None:
    store, key, _ = table
    trials, folds = _run("problem=table", f"problem.table={key}", "strategy=random",
                         "budget.n_trials=2", *PROTOCOL, f"run.store={store}")  # fmt: skip
    assert (trials["status"] == "failed").all()
    assert trials["error"].str.contains(f"NotInTable: configuration .* is not in table {key}").all()
    assert folds["default_test"].notna().all()  # the defaults are in every table


def _refused(tmp_path: Path, store: Path, message: str, *overrides: str) -> None:
    before = sorted(p.name for p in store.iterdir())
    done = run_inline(*overrides, f"run.store={store}", cwd=tmp_path)
    assert_refused(done, message, tmp_path)
    assert sorted(p.name for p in store.iterdir()) == before  # nothing written in the store


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ((), "was built with another protocol (protocol.inner_folds: 2 in the table, 3 here; "),
        ((*PROTOCOL, "model.space.C.high=100"), "was built with another model (model.space.C"),
        ((*PROTOCOL, "seed=1"), "was built with another seed (seed: 0 in the table, 1 here)"),
        ((*PROTOCOL, "metric=balanced_accuracy"), "was built with another metric"),
        ((*PROTOCOL, "dataset=iris"), "was built from other data (fingerprint"),
    ],
)
def test_a_table_built_from_other_data_protocol_or_space_is_refused(
    table, tmp_path, overrides, message
) -> None:
    store, key, _ = table
    _refused(tmp_path, store, message, "problem=table", f"problem.table={key}", *GRID,
             *overrides)  # fmt: skip


def test_a_missing_or_damaged_table_is_refused(table, tmp_path) -> None:
    store, key, _ = table
    study = ("problem=table", *GRID, *PROTOCOL)
    _refused(tmp_path, store, f"problem=table: no table of breast_cancer/logreg in {store} was "
             f"built with this data, seed, protocol, model and metric (1 built otherwise: "
             f"{key}); build one: python -m harness.tabulate", *study, "seed=1")  # fmt: skip
    _refused(tmp_path, store, "problem.table=0123456789abcdef: no table in", *study,
             "problem.table=0123456789abcdef")  # fmt: skip
    damaged = tmp_path / "damaged"
    shutil.copytree(store / key, damaged / key)
    (damaged / key / "trials.parquet").write_bytes(b"not parquet")
    _refused(tmp_path, damaged, f"problem.table={key}: the table is damaged (", *study,
             f"problem.table={key}")  # fmt: skip
    meta = json.loads((damaged / key / "study.json").read_text())
    (damaged / key / "study.json").write_text(json.dumps(meta | {"status": "running"}))
    _refused(tmp_path, damaged, "the table is running, not finished", *study,
             f"problem.table={key}")  # fmt: skip
    assert [p.name for p in stored_studies(damaged)] == [key]


def test_with_no_key_named_the_one_table_that_fits_answers(table, tmp_path) -> None:
    """A sweep over datasets and models cannot name each table: with no problem.table the
    store's one fitting table answers, and the study is the one that names it (same key)."""
    store, key, _ = table
    study = ("problem=table", *GRID, *PROTOCOL, f"run.store={store}")
    named, unnamed = (prepare(compose_config(*study, *k)) for k in ([f"problem.table={key}"], []))
    assert unnamed.key == named.key and unnamed.config.problem.table == key
    twin = tmp_path / "twin"
    shutil.copytree(store / key, twin / key)
    shutil.copytree(store / key, twin / "0123456789abcdef")
    both = ", ".join(sorted([key, "0123456789abcdef"]))
    _refused(tmp_path, twin, f"problem=table: 2 tables of breast_cancer/logreg in {twin} fit "
             f"this study ({both}); choose one with problem.table=<key>", *study[:-1])  # fmt: skip


def test_a_strategy_that_needs_a_fidelity_the_table_lacks_is_refused(table, tmp_path) -> None:
    store, key, _ = table
    _refused(tmp_path, store, f"strategy hyperband is multi-fidelity, and table {key} holds "
             "full evaluations only; build one with rungs: python -m harness.tabulate "
             "dataset=breast_cancer model=logreg design.n=200 design.rungs=true", "problem=table",
             f"problem.table={key}", "strategy=hyperband", *PROTOCOL)  # fmt: skip
    _refused(tmp_path, store, "strategy st_pbt trains a population step by step", "problem=table",
             f"problem.table={key}", "strategy=st_pbt", *PROTOCOL)  # fmt: skip


def test_rungs_need_a_model_with_a_fidelity(tmp_path) -> None:
    (tmp_path / "store").mkdir()
    _refused(tmp_path, tmp_path / "store", "design.rungs=true tabulates the rungs of the "
             "model's fidelity, and model cash declares none; leave design.rungs out",
             "strategy=design", "strategy.adapter.rungs=true", "model=cash",
             "budget.n_trials=4")  # fmt: skip


def test_rungs_of_rows_are_fitted_from_scratch_and_answered_as_they_are(tmp_path) -> None:
    """knn's fidelity is a fraction of the rows, which no fit continues: each rung of the
    table is fitted from scratch, as a study fits it, so every row equals a real evaluation at
    that rung, and a successive-halving study on the table pays each rung whole and takes that
    rung's own seconds."""
    from tests.helpers import first_inner_cv

    common = ("model=knn", "dataset=breast_cancer", "dataset.max_rows=120",
              "protocol.repeats=1", "protocol.outer_folds=2", "protocol.inner_folds=2",
              f"run.store={tmp_path}")  # fmt: skip
    tabulating = prepare(compose_config(*study_overrides(["design.n=6", "design.rungs=true",
                                                          *common])))  # fmt: skip
    trials, _ = run(tabulating, tabulating.home)
    fold = trials[trials.outer_fold == 0].sort_values("trial")
    assert sorted(set(fold.fidelity)) == pytest.approx([0.3, 1 / 3, 0.6, 0.9, 1.0], abs=0.005)
    assert len(fold) == 6 * 5 and not fold.continued.any()
    inner = first_inner_cv(*common)
    for row in fold.itertuples():
        if row.status != "ok":  # more neighbours than a small rung's rows: it fails for real
            with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
                inner.evaluate(json.loads(row.params), row.fidelity)
            continue
        scratch = inner.evaluate(json.loads(row.params), row.fidelity)
        assert scratch.scores.tolist() == list(row.inner_scores)
    answered, _ = _run("problem=table", f"problem.table={tabulating.key}",
                       "strategy=successive_halving", "budget.n_trials=3",
                       "problem.surrogate=nearest", *common)  # fmt: skip
    answered = answered[answered.outer_fold == 0].sort_values("trial")
    assert (answered.status == "ok").all() and (answered.fidelity < 1).any()
    assert not answered.continued.any()
    assert answered.full_evaluations.diff().dropna().tolist() == pytest.approx(
        answered.fidelity.iloc[1:].tolist()
    )
    rows = {(r.params, r.fidelity): r for r in fold.itertuples()}
    for t in answered.itertuples():
        if t.surrogate != "nearest":  # a design point: its own row, seconds included
            row = rows[(t.params, t.fidelity)]
            assert (t.inner_mean, t.eval_seconds) == (row.inner_mean, row.eval_seconds)


def test_a_table_with_rungs_holds_what_each_rung_scores_and_hyperband_reads_them(
    tmp_path,
) -> None:
    """hgb: training continued up to a rung gives the model a fit of that length from scratch
    gives (scikit-learn tests it), so each rung of a table built with rungs, climbed by
    continued training as the engine climbs it, equals a from-scratch evaluation at that rung.
    A hyperband study on the table reads the rows of the rungs it asks for, pays a continued
    rung's increment, and takes the tabulated seconds of the rungs climbed."""
    from adapters.design import rung_fractions
    from tests.helpers import first_inner_cv

    common = ("model=hgb", "dataset=breast_cancer", "dataset.max_rows=120",
              "protocol.repeats=1", "protocol.outer_folds=2", "protocol.inner_folds=2",
              f"run.store={tmp_path}")  # fmt: skip
    design = ["design.n=2", "design.rungs=true", *common]
    tabulating = prepare(compose_config(*study_overrides(design)))
    trials, _ = run(tabulating, tabulating.home)
    fold = trials[trials.outer_fold == 0].sort_values("trial")
    rungs = [round(f, 9) for f in rung_fractions(0.1)]
    assert rungs == [0.1, 0.111111111, 0.2, 0.3, 0.333333333, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]
    assert sorted(set(fold.fidelity)) == [
        0.1,
        0.11,
        0.2,
        0.3,
        0.33,
        *[k / 10 for k in range(4, 11)],
    ]
    assert len(fold) == 2 * 12 and fold.continued.sum() == 2 * 11  # each climb continues
    assert fold.outer_test.notna().sum() == 2  # a full evaluation is refit on the outer test
    inner = first_inner_cv(*common)
    for row in fold.itertuples():
        scratch = inner.evaluate(json.loads(row.params), row.fidelity)
        assert scratch.scores.tolist() == list(row.inner_scores)

    answered, _ = _run("problem=table", f"problem.table={tabulating.key}", "strategy=hyperband",
                       "budget.n_trials=6", "problem.surrogate=nearest", *common)  # fmt: skip
    answered = answered[answered.outer_fold == 0].sort_values("trial")
    assert (answered.status == "ok").all() and answered.continued.any()
    table = {(r.params, r.fidelity): r for r in fold.itertuples()}
    seconds = {r.fidelity: r.eval_seconds for r in fold.itertuples() if r.trial < 12}
    last: dict[str, float] = {}
    for t in answered.itertuples():
        nearest = t.surrogate == "nearest"
        if not nearest:
            assert t.inner_mean == table[(t.params, t.fidelity)].inner_mean
        start = last.get(t.params, 0.0)
        start = start if start < t.fidelity else 0.0  # the same rung again starts afresh
        assert t.continued == (start > 0)
        cost = t.full_evaluations - (answered.full_evaluations[answered.trial < t.trial].max()
                                     if t.trial else 0.0)  # fmt: skip
        assert cost == pytest.approx(t.fidelity - start)
        if t.params == fold.params.iloc[0]:  # the defaults, a design point: its climb's seconds
            climbed = [s for at, s in seconds.items() if start < at <= t.fidelity]
            assert t.eval_seconds == pytest.approx(sum(climbed))
        last[t.params] = t.fidelity


def test_off_the_design_the_nearest_design_point_answers(table) -> None:
    """problem.surrogate=nearest: a random configuration reads the row of the fold's design
    point nearest to it in the searched unit cube (found here by scipy's cdist), the defaults
    and design points their own rows."""
    from scipy.spatial.distance import cdist

    from harness.problem.surrogate import encode

    store, key, tabulated = table
    overrides = ("problem=table", f"problem.table={key}", "problem.surrogate=nearest",
                 "strategy=random", "budget.n_trials=4", *PROTOCOL)  # fmt: skip
    study = prepare(compose_config(*overrides, f"run.store={store}"))
    trials, folds = run(study, study.home)
    assert (trials["status"] == "ok").all() and set(trials["surrogate"]) == {"nearest"}
    space = study.own_table.space
    for t in trials.itertuples():
        rows = tabulated[(tabulated.repeat == t.repeat) & (tabulated.outer_fold == t.outer_fold)]
        designs = [json.loads(p) for p in rows.params]
        distance = cdist(encode(space, [json.loads(t.params)]), encode(space, designs))[0]
        assert t.inner_mean == rows.inner_mean.iloc[int(distance.argmin())]
    assert folds["tuned_test"].notna().all()


def test_off_the_design_a_forest_answers_and_says_so(table) -> None:
    store, key, _ = table
    trials, folds = _run("problem=table", f"problem.table={key}", "problem.surrogate=forest",
                         "strategy=random", "budget.n_trials=3", *PROTOCOL,
                         f"run.store={store}")  # fmt: skip
    assert (trials["status"] == "ok").all() and set(trials["surrogate"]) == {"forest"}
    assert trials["inner_mean"].between(0, 1).all() and folds["tuned_test"].between(0, 1).all()


def test_an_unknown_surrogate_is_refused(table, tmp_path) -> None:
    store, key, _ = table
    _refused(tmp_path, store, "problem.surrogate=knn: choose null (the design's configurations "
             "only), nearest or forest", "problem=table", f"problem.table={key}",
             "problem.surrogate=knn", *GRID, *PROTOCOL)  # fmt: skip


def test_validation_compares_each_surrogate_with_real_evaluations_of_the_same_proposals(
    table,
) -> None:
    """Random search proposes alike whether evaluated or answered: the validation's figures
    are scipy's Spearman and the absolute errors of the real study's inner means against the
    table's answers, trial by trial."""
    from scipy.stats import spearmanr

    from harness.tabulate.validate import validate

    store, key, _ = table
    common = (*PROTOCOL, f"run.store={store}")
    found, figures = validate(5, [*common])  # the store's one table: no key needed
    assert found == key
    real, _ = _run("strategy=random", "budget.n_trials=5", *common)  # the study it ran: read
    for kind in ("nearest", "forest"):
        answered, _ = _run("problem=table", f"problem.table={key}", f"problem.surrogate={kind}",
                           "strategy=random", "budget.n_trials=5", *common)  # fmt: skip
        assert answered.params.tolist() == real.params.tolist()
        assert figures[kind]["configurations"] == 20 and figures[kind]["in_design"] == 0
        rho = spearmanr(real.inner_mean, answered.inner_mean).statistic
        assert figures[kind]["spearman"] == pytest.approx(rho)
        error = (real.inner_mean - answered.inner_mean).abs()
        assert figures[kind]["mean_abs_error"] == pytest.approx(error.mean())


def test_validation_options_are_checked_in_one_line(tmp_path) -> None:
    from harness.tabulate.validate import split_options

    for bad, message in [
        (["validate.n=1"], "validate.n=1: a whole number >= 2"),
        (["validate.m=3", "problem.table=x"], "unknown option validate.m"),
        (["strategy=tpe", "problem.table=x"], "strategy: the validation sets it"),
    ]:
        with pytest.raises(UsageError, match=message):
            split_options(bad)


def test_rankings_compare_strategies_fold_by_fold_and_the_report_shows_the_figures(
    table, tmp_path
) -> None:
    """Three strategies run for real and answered by the table (nearest design point): the
    rankings figure is Kendall's tau between mean ranks computed here another way (scipy's
    rankdata per instance); both figures are kept beside the table and the report of the table
    studies says them beside its verdict."""
    from scipy.stats import friedmanchisquare, kendalltau, rankdata

    from harness.report.build import build_report, recommendation_lines
    from harness.store import validation
    from harness.tabulate.rankings import compare
    from harness.tabulate.validate import validate

    shared, key, _ = table
    store = tmp_path / "store"  # the table alone: other tests' studies would be instances too
    shutil.copytree(shared / key, store / key)
    common = (*PROTOCOL, "budget.n_trials=5", f"run.store={store}")
    answered = ("problem=table", "problem.surrogate=nearest")  # the store's one table: no key
    scores = {}
    for strategy in ("random", "qmc", "tpe"):
        for way, extra in (("real", ()), ("table", answered)):
            _, folds = _run(f"strategy={strategy}", *common, *extra)
            scores[(way, strategy)] = folds.sort_values(["repeat", "outer_fold"]).tuned_test
    found = compare(store, store)
    assert (found["instances"], found["strategies"], found["tables"]) == (4, 3, 1)
    mean = {way: [] for way in ("real", "table")}
    for way in mean:
        matrix = pd.DataFrame({s: scores[(way, s)].to_numpy() for s in ("random", "qmc", "tpe")})
        ranks = [rankdata(-row) for row in matrix.to_numpy()]
        mean[way] = pd.DataFrame(ranks, columns=matrix.columns).mean()
    assert found["kendall_tau"] == pytest.approx(kendalltau(mean["real"], mean["table"]).statistic)
    assert found["mean_rank_real"] == pytest.approx(mean["real"].round(4).to_dict())
    real = [scores[("real", s)].to_numpy() for s in ("random", "qmc", "tpe")]
    assert found["friedman_real_p"] == pytest.approx(friedmanchisquare(*real).pvalue)
    validate(5, [f"problem.table={key}", *PROTOCOL, f"run.store={store}"])
    kept = validation.read(store / key)
    assert kept["rankings"] == found and set(kept["surrogates"]) == {"nearest", "forest"}

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    for home in store.iterdir():  # the table studies only, as a sweep folder links them
        meta = json.loads((home / "study.json").read_text())
        if meta["config"]["problem"]["name"] == "table":
            (sweep / home.name).symlink_to(home)
    lines = recommendation_lines(build_report(sweep))
    spearman = kept["surrogates"]["nearest"]["spearman"]
    assert any(
        f"nearest surrogate's answers against real evaluations outside the design: "
        f"Spearman {spearman:.3f} over 20 configurations of 1 table" in x
        for x in lines
    )
    tau = f"Kendall's tau {found['kendall_tau']:.2f} (3 strategies, 4 instances)"
    assert any(tau in line for line in lines), lines
    report = (sweep / "report" / "report.md").read_text()
    assert tau in report and "own_table_trust" in report
    # two table studies of one strategy on one instance (two surrogates): which would pair?
    _run("strategy=random", *common, "problem=table", "problem.surrogate=forest")
    with pytest.raises(UsageError, match="holds 2 table studies of strategy random on breast"):
        compare(store, store)


def test_an_unvalidated_table_is_named_beside_the_verdict(table, tmp_path) -> None:
    from harness.report.build import build_report, recommendation_lines

    store, key, _ = table
    copy = tmp_path / "store"
    shutil.copytree(store / key, copy / key)
    (copy / key / "validation.json").unlink(missing_ok=True)
    for strategy in ("random", "qmc"):
        _run(f"strategy={strategy}", "problem=table", "problem.surrogate=forest", *PROTOCOL,
             "budget.n_trials=4", f"run.store={copy}")  # fmt: skip
    lines = recommendation_lines(build_report(copy))
    assert any(f"Not validated against real evaluations: {key}; run python -m harness.tabulate"
               ".validate" in line for line in lines), lines  # fmt: skip
    assert any(f"No real-vs-table ranking comparison for: {key}" in line for line in lines)


def test_rankings_arguments_are_checked_in_one_line(table, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from harness.tabulate.rankings import compare
    from tests.helpers import ROOT

    store, key, _ = table
    for arguments in ([str(store)], [str(store), str(tmp_path / "none")]):
        done = subprocess.run(
            [sys.executable, "-m", "harness.tabulate.rankings", *arguments], cwd=tmp_path,
            capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert_refused(
            done, "give two results folders: python -m harness.tabulate.rankings", tmp_path
        )
    copy = tmp_path / "only-the-table"
    shutil.copytree(store / key, copy / key)
    with pytest.raises(UsageError, match=r"no instance .* has two strategies or more both in"):
        compare(copy, copy)


@pytest.mark.parametrize(
    ("friedman", "caveat"), [(0.76, True), (0.01, False), (float("nan"), False)]
)
def test_the_report_says_tau_says_little_when_the_real_studies_do_not_separate(
    friedman, caveat
) -> None:
    """Beside the verdict: Kendall's tau with its caveat exactly when the real studies did not
    separate the strategies (Friedman p >= 0.05); none when they did, or when it is unknown (a
    comparison recorded before the test was)."""
    from harness.aggregate.table_trust import COLUMNS, trust_sentences

    row = {"table": "k", "dataset": "d", "model": "m", "surrogate": "forest", "spearman": 0.9,
           "configurations": 60, "mean_abs_error": 0.01, "kendall_tau": -0.69, "instances": 36,
           "strategies": 6, "friedman_real_p": friedman}  # fmt: skip
    lines = trust_sentences(pd.DataFrame([row], columns=COLUMNS))
    tau = [line for line in lines if "Kendall's tau -0.69 (6 strategies, 36 instances)." in line]
    assert len(tau) == 1
    said = "The real studies did not separate those strategies (Friedman p = 0.76)"
    assert (said in tau[0]) == caveat
