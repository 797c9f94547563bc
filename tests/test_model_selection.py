"""Model selection as part of tuning: model=cash, and the recipes select_then_tune and
tune_each, with real estimators on real (small) data.

Oracles: a family's trial under model=cash scores what the family's own pipeline scores
(scikit-learn's cross_validate on the same rows and splits), with the preprocessing fitted
once per split or with every fit; the default configuration is the family whose own pipeline
scores best by cross_validate; select_then_tune tunes the family its defaults' trials rank
first, and tune_each gives each family its share.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.base import clone
from sklearn.model_selection import cross_validate

from harness.aggregate.folklore import select_first
from harness.aggregate.settings import Settings
from harness.engine.study import prepare, run
from harness.problem.models import build_pipeline, load_model, pipeline_params
from harness.problem.preprocessing import Prepared, once_per_split
from harness.sweep import sweep_jobs
from tests.helpers import ROOT, assert_refused, compose_config, first_inner_cv, run_inline

SMALL = ["dataset.max_rows=200", "protocol.outer_folds=2", "protocol.inner_folds=2"]
FAMILIES = "model.families=[logreg,svc,knn,rf,hgb]"
SVC = {"family": "svc", "svc__C": 3.0, "svc__kernel": "rbf", "svc__gamma": 0.02}
RF = {"family": "rf", "rf__n_estimators": 20, "rf__max_depth": 4, "rf__max_features": 0.5,
      "rf__min_samples_leaf": 2, "rf__criterion": "entropy"}  # fmt: skip


def test_the_space_is_the_families_spaces_under_a_top_level_choice() -> None:
    space = prepare(compose_config("model=cash", "dataset=iris")).model.space
    assert space.names[0] == "family" and space["family"].choices == (
        "logreg", "svc", "knn", "rf", "hgb",
    )  # fmt: skip
    svc = load_model(compose_config("model=svc").model, "classification").space
    assert [n for n in space.names if n.startswith("svc__")] == [f"svc__{n}" for n in svc.names]
    assert dict(space["svc__C"].condition) == {"family": ("svc",)}
    assert dict(space["svc__gamma"].condition) == {"svc__kernel": ("rbf",)}  # nested, renamed
    assert space.validate_config(SVC) == [] and space.validate_config(RF) == []
    assert space.fixed("family", "svc").names == ["svc__C", "svc__kernel", "svc__gamma"]


@pytest.mark.parametrize("params", [SVC, RF], ids=["svc-scaled", "rf-unscaled"])
def test_a_family_scores_what_its_own_pipeline_scores(params: dict, openml_cache) -> None:
    # credit-g: numeric and categorical columns, so scaling and one-hot encoding both count
    cash = first_inner_cv("model=cash", "dataset=credit-g", "dataset.max_rows=300")
    family = params["family"]
    own = load_model(compose_config(f"model={family}").model, "classification")
    plain = {k.removeprefix(f"{family}__"): v for k, v in params.items() if k != "family"}
    oracle = cross_validate(
        clone(build_pipeline(own)).set_params(**pipeline_params(plain)),
        cash.X, cash.y, cv=cash.splits, scoring=cash.scorer,
    )["test_score"]  # fmt: skip
    whole = Prepared(cash.pipeline, cash.X, cash.y, cash.splits)
    for prepared in (whole, once_per_split(cash.pipeline, cash.X, cash.y, cash.splits)):
        estimator = clone(prepared.pipeline).set_params(**pipeline_params(params))
        scores = cross_validate(
            estimator, prepared.X, prepared.y, cv=prepared.splits, scoring=cash.scorer
        )["test_score"]
        np.testing.assert_array_equal(scores, oracle)


@pytest.mark.slow
def test_the_records_say_which_family_and_the_defaults_are_the_best_family(tmp_path) -> None:
    cfg = compose_config(
        "model=cash", "model.families=[knn,rf,logreg]", "dataset=breast_cancer",
        "strategy=select_then_tune", "budget.n_trials=5", *SMALL,
    )  # fmt: skip
    study = prepare(cfg)
    trials, folds = run(study, tmp_path / study.key)
    assert study.labels()["strategy"] == "select_then_tune_random"
    params = trials.params.map(json.loads)
    assert (trials.family == params.map(lambda p: p["family"])).all()
    X, y = study.dataset.X, study.dataset.y
    for fold in folds.itertuples():
        split = list(study.protocol.outer_splits(X, y, "classification", study.seed))[
            fold.outer_fold
        ]
        X_train, y_train = X.iloc[split.train], y.iloc[split.train]
        inner = list(
            study.protocol.inner_splitter("classification", study.seed).split(X_train, y_train)
        )
        own = {
            f: cross_validate(
                build_pipeline(load_model(cfg.model.members[f], "classification")),
                X_train, y_train, cv=inner, scoring=study.metric.scorer,
            )["test_score"].mean()
            for f in ("knn", "rf", "logreg")
        }  # fmt: skip
        assert fold.default_family == max(own, key=own.get)
        assert fold.default_inner == pytest.approx(max(own.values()))
        mine = trials[trials.outer_fold == fold.outer_fold].sort_values("trial")
        # select_then_tune: the three defaults first, then only the family they ranked first
        assert list(mine.params.iloc[:3].map(json.loads)) == [
            {"family": f} for f in ("knn", "rf", "logreg")
        ]
        assert set(mine.family.iloc[3:]) == {fold.default_family}
        assert len(mine) == 5 and fold.family == json.loads(fold.best_params)["family"]
        assert np.isfinite(fold.tuned_test) and np.isfinite(fold.default_test)


def test_tune_each_gives_every_family_its_share(tmp_path) -> None:
    cfg = compose_config(
        "model=cash", "model.families=[knn,logreg,svc]", "dataset=iris", "strategy=tune_each",
        "budget.n_trials=8", *SMALL,
    )  # fmt: skip
    study = prepare(cfg)
    trials, _ = run(study, tmp_path / study.key)
    for _, mine in trials.groupby("outer_fold"):
        assert mine.family.value_counts().to_dict() == {"knn": 3, "logreg": 3, "svc": 2}
        assert all(len(json.loads(p)) > 1 for p in mine.params)  # every trial is tuned


BAD = [
    (["model.families=[logreg,boosted]"], "model.families names unknown model(s) ['boosted']"),
    (["model.families=[]"], "model.families is empty"),
    (["model.families=[logreg,ridge]"], "model.families mixes tasks"),
    (["model.families=[logreg,logreg]"], "lists ['logreg'] more than once"),
    (["strategy=select_then_tune", "budget.n_trials=4"], "fewer than its 5 families"),
    (["strategy=tune_each", "budget.n_trials=2"], "fewer than its 5 families"),
    (["strategy=tune_each", "strategy@strategy.inner=hyperband"], "must propose full"),
    (["dataset=diabetes"], "set model.families to regression models"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD)
def test_bad_cash_input_is_refused(tmp_path, overrides: list[str], message: str) -> None:
    done = run_inline("model=cash", "budget.n_trials=5", *overrides, cwd=tmp_path)
    assert_refused(done, message, tmp_path)


def test_a_recipe_on_a_model_without_families_is_refused(tmp_path) -> None:
    done = run_inline("model=logreg", "strategy=select_then_tune", cwd=tmp_path)
    assert_refused(done, "this space starts with none; use model=cash", tmp_path)


def test_the_folklore_claim_pairs_each_recipe_with_its_inner_search() -> None:
    def runs(strategy: str, scores: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {"budget": "20 trials", "problem": [f"p{i}" for i in range(len(scores))],
             "repeat": 0, "outer_fold": 0, "strategy": strategy, "tuned_test": scores}
        )  # fmt: skip

    table = pd.concat(
        [
            runs("random", [0.80, 0.70, 0.90]),
            runs("select_then_tune_random", [0.82, 0.71, 0.93]),
            runs("tpe", [0.85, 0.75, 0.95]),
            runs("select_then_tune_tpe", [0.84, 0.74, 0.94]),
            runs("tune_each_random", [0.0, 0.0, 0.0]),  # another recipe: not in this claim
        ]
    )
    found = select_first({"runs": table}, Settings())
    expected = np.array([0.02, 0.01, 0.03, -0.01, -0.01, -0.01])
    assert found.units == 6 and found.estimate == pytest.approx(expected.mean())
    assert found.low <= found.estimate <= found.high
    assert "no run" in select_first({"runs": runs("random", [0.8, 0.7])}, Settings()).untestable


def test_the_selection_preset_composes_every_study() -> None:
    preset = OmegaConf.load(ROOT / "conf" / "sweep" / "selection.yaml").hydra.sweeper.params
    jobs = sweep_jobs(preset, [])
    assert len(jobs) == 18
    for job in jobs:  # each composes, and the recipes get their inner search
        assert compose_config(*job).model.name == "cash"
