"""Clustering tuned by an internal index: the harness equals a hand-written scikit-learn loop,
degenerate clusterings are recorded as undefined (never a crash, never a score), no fit sees a
label, and a regression dataset is clustered with its target ignored."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from harness.engine.study import prepare, run
from harness.problem.clusterers import DBSCAN, NOISE, AgglomerativeClustering
from tests.helpers import compose_config, run_inline

KMEANS = ["model=kmeans", "dataset=iris", "metric=silhouette", "~model.space.init"]
SEEN_TARGETS: list[np.ndarray] = []


class LabelSpy(KMeans):
    """KMeans that notes every target a fit is given."""

    def fit(self, X, y=None, sample_weight=None):
        SEEN_TARGETS.append(None if y is None else np.asarray(y))
        return super().fit(X, sample_weight=sample_weight)


def test_grid_over_n_clusters_equals_a_hand_written_loop(tmp_path) -> None:
    ks = list(range(2, 8))
    study = prepare(
        compose_config(
            *KMEANS,
            "strategy=grid",
            f"budget.n_trials={len(ks)}",
            "model.space.n_clusters.high=7",
            "protocol.outer_folds=3",
        )
    )
    trials, folds = run(study, tmp_path)
    X, labels = study.dataset.X.to_numpy(), study.dataset.y.to_numpy()
    outer = list(study.protocol.outer_splitter("clustering", study.seed).split(X))
    inner = study.protocol.inner_splitter("clustering", study.seed)

    def fitted(k: int, rows: np.ndarray):
        return make_pipeline(StandardScaler(), KMeans(n_clusters=k, random_state=0)).fit(rows)

    def scored(model, rows: np.ndarray) -> tuple[float, np.ndarray]:
        assigned = model.predict(rows)  # KMeans' own assignment of held-out rows
        return silhouette_score(model[:-1].transform(rows), assigned), assigned

    assert len(folds) == len(outer) == 3
    for i, (train, test) in enumerate(outer):
        means, aris = [], []
        for k in ks:
            splits = [(train[a], train[b]) for a, b in inner.split(X[train])]
            results = [scored(fitted(k, X[a]), X[b]) for a, b in splits]
            means.append(np.mean([score for score, _ in results]))
            truth = [labels[b] for _, b in splits]
            aris.append(
                np.mean(
                    [adjusted_rand_score(t, a) for t, (_, a) in zip(truth, results, strict=True)]
                )
            )
        ours = trials[(trials.repeat == i // 3) & (trials.outer_fold == i % 3)].sort_values("trial")
        assert [json.loads(p) for p in ours.params] == [{"n_clusters": k} for k in ks]
        np.testing.assert_allclose(ours.inner_mean, means, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours.inner_ari, aris, rtol=0, atol=1e-12)
        best = ks[int(np.argmax(means))]
        fold = folds.iloc[i]
        assert json.loads(fold.best_params) == {"n_clusters": best}
        score, assigned = scored(fitted(best, X[train]), X[test])
        assert fold.tuned_test == pytest.approx(score, abs=1e-12)
        assert fold.tuned_ari == pytest.approx(adjusted_rand_score(labels[test], assigned))
        assert fold.tuned_ami == pytest.approx(adjusted_mutual_info_score(labels[test], assigned))
        score, assigned = scored(fitted(8, X[train]), X[test])  # KMeans' default: 8 clusters
        assert fold.default_test == pytest.approx(score, abs=1e-12)
        assert fold.default_ari == pytest.approx(adjusted_rand_score(labels[test], assigned))


def test_a_degenerate_dbscan_is_recorded_undefined_and_the_study_goes_on(tmp_path) -> None:
    # eps from a hundredth of the rows' spacing (all noise) to 50 spacings (one cluster): on
    # iris, only the grid point 1.66 of 6 leaves several clusters
    study = prepare(
        compose_config(
            "model=dbscan",
            "dataset=iris",
            "strategy=grid",
            "budget.n_trials=6",
            "model.space.eps.low=0.01",
            "model.space.eps.high=50",
            "~model.space.min_samples",
            "protocol.outer_folds=2",
        )
    )
    trials, folds = run(study, tmp_path)
    assert len(trials) == 12 and set(trials.status) == {"ok", "undefined"}
    undefined = trials[trials.status == "undefined"]
    assert undefined.inner_mean.isna().all() and undefined.inner_ari.isna().all()
    eps = np.array([json.loads(p)["eps"] for p in trials.params])
    assert (trials.status[eps > 5] == "undefined").all() and (
        trials.status[eps < 0.5] == "undefined"
    ).all()
    assert trials.error[eps < 0.5].str.contains("degenerate clustering: all noise").all()
    assert trials.error[eps > 5].str.contains("degenerate clustering: one cluster").all()
    assert undefined.error.str.contains("silhouette needs at least 2 clusters").all()
    ok = trials[trials.status == "ok"]
    assert len(ok) == 2 and np.isfinite(ok.inner_mean).all() and ok.inner_ari.between(-1, 1).all()
    assert (folds.n_undefined == 5).all() and folds.tuned_test.notna().all()
    best = trials.loc[folds.best_trial.astype(int) + [0, 6]]  # noqa: RUF005
    assert (best.status == "ok").all()  # an undefined index never wins


def test_no_fit_sees_a_label(tmp_path) -> None:
    SEEN_TARGETS.clear()
    study = prepare(
        compose_config(
            *KMEANS,
            "model.estimator._target_=tests.test_clustering.LabelSpy",
            "budget.n_trials=3",
            "protocol.outer_folds=2",
        )
    )
    trials, folds = run(study, tmp_path)
    assert len(SEEN_TARGETS) >= 2 * (3 * 3 + 2)  # per outer fold: 3 trials x 3 splits, 2 refits
    assert all(y is None or set(y) == {0} for y in SEEN_TARGETS)
    assert trials.inner_ari.notna().all() and folds.tuned_ari.notna().all()


def test_a_regression_dataset_is_clustered_without_ari(tmp_path) -> None:
    done = run_inline("model=kmeans", "dataset=diabetes", "budget.n_trials=2",
                      "protocol.outer_folds=2", "protocol.inner_folds=2", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "note: the dataset is a regression task: its target is ignored, and no ARI or AMI is "
        "reported (there are no classes to compare the clusterings with)"
    )
    assert "tuned ARI" not in done.stdout and "outer-test silhouette" in done.stdout
    (home,) = (tmp_path / "results" / "studies").glob("[!.]*")
    folds = pd.read_parquet(home / "folds.parquet")
    assert folds.tuned_test.notna().all() and folds[["tuned_ari", "default_ari"]].isna().all().all()


def test_the_assignment_rules_of_models_without_predict() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (40, 2)), rng.normal(5, 0.3, (40, 2))])
    dbscan = DBSCAN(eps=3.0, min_samples=4).fit(X)
    spacing = np.median(np.sort(np.linalg.norm(X[:, None] - X[None], axis=-1), axis=1)[:, 1])
    assert dbscan.eps_ == pytest.approx(3.0 * spacing)
    cores = dbscan.core_sample_indices_
    np.testing.assert_array_equal(dbscan.predict(X[cores]), dbscan.labels_[cores])
    far = np.array([[100.0, 100.0]])  # beyond every core point's radius: noise
    near = X[cores[:1]] + dbscan.eps_ / 2  # within a core point's radius: its cluster
    assert dbscan.predict(far)[0] == NOISE
    assert dbscan.predict(near)[0] == dbscan.labels_[cores[0]]
    assert (DBSCAN(eps=1e-4).fit(X).predict(X) == NOISE).all()  # no core point: all noise
    agglomerative = AgglomerativeClustering(n_clusters=2).fit(X)
    np.testing.assert_array_equal(agglomerative.predict(X), agglomerative.labels_)
    new = np.array([[0.1, -0.1], [4.9, 5.2]])
    nearest = np.linalg.norm(X[None] - new[:, None], axis=-1).argmin(axis=1)
    np.testing.assert_array_equal(agglomerative.predict(new), agglomerative.labels_[nearest])
    assert not math.isclose(agglomerative.labels_[0], agglomerative.labels_[-1])
