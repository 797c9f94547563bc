"""The outside check of clustering studies, recomputed by hand from their records: which runs
beat the defaults on ARI, the rank correlation of index and ARI over trials (scipy), and the
two folklore figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from harness.aggregate import folklore, outside
from harness.aggregate.load import load_records
from harness.aggregate.settings import Settings
from harness.engine.study import prepare, run
from tests.helpers import compose_config

SMALL = ["dataset=iris", "metric=silhouette", "budget.n_trials=6", "protocol.outer_folds=2"]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("store")
    for model in ("kmeans", "dbscan"):
        for strategy in ("random", "tpe"):
            study = prepare(compose_config(*SMALL, f"model={model}", f"strategy={strategy}"))
            run(study, store / study.key)
    return load_records(store)


def test_runs_are_judged_on_ari_from_their_own_records(records) -> None:
    runs = outside.clustering_runs(records)
    assert len(runs) == len(records.folds) == 8
    for row in runs.itertuples():
        fold = records.folds[(records.folds.study_key == row.study_key)
                             & (records.folds.outer_fold == row.outer_fold)].iloc[0]  # fmt: skip
        assert row.beat_defaults_ari == (fold.tuned_ari > fold.default_ari)
        trials = records.trials[(records.trials.study_key == row.study_key)
                                & (records.trials.outer_fold == row.outer_fold)]  # fmt: skip
        assert row.trials == 6 and row.undefined == (trials.status == "undefined").sum()
        scored = trials[trials.status == "ok"]
        if len(scored) >= 3:
            rho = spearmanr(scored.inner_mean, scored.inner_ari).statistic
            assert row.rank_correlation == pytest.approx(rho, nan_ok=True)
        else:
            assert np.isnan(row.rank_correlation)
    kmeans = runs[runs.model == "kmeans"]
    assert kmeans.rank_correlation.notna().all() and (kmeans.undefined == 0).all()
    table = outside.clustering_table(runs, Settings(resamples=200))
    assert len(table) == 4  # 2 strategies x 2 models
    for row in table.itertuples():
        group = runs[(runs.strategy == row.strategy) & (runs.model == row.model)]
        assert row.beat_defaults_ari == pytest.approx(group.beat_defaults_ari.astype(float).mean())
        assert row.index_gain == pytest.approx(group.gain.mean(), nan_ok=True)


def test_the_folklore_figures_are_the_shares_counted_by_hand(records) -> None:
    tables = {"clustering_runs": outside.clustering_runs(records)}
    settings = Settings(resamples=200)
    dbscan = records.trials[records.trials.model == "dbscan"]
    collapsed = dbscan.error.fillna("").str.contains("all noise|one cluster")
    per_run = collapsed.groupby([dbscan.study_key, dbscan.outer_fold]).mean()
    found = folklore.dbscan_collapse_share(tables, settings)
    assert found.units == 4 and found.estimate == pytest.approx(per_run.mean())
    folds = records.folds[records.folds.gain.notna()]  # defaults with an index
    misled = (folds.gain > 0) & (folds.tuned_ari < folds.default_ari)
    per_instance = misled.groupby([folds.problem, folds.outer_fold]).mean()
    found = folklore.misled_share(tables, settings)
    assert found.units == len(per_instance) >= 2
    assert found.estimate == pytest.approx(per_instance.mean())
