"""Population-based training: a member continues another member's fitted models after an
exploit step, with hyperparameters that changed mid-training, and the chosen configuration is
refit and scored on the outer test like any strategy's.

The engine's part is checked against scikit-learn by hand (the copied estimators of each inner
fold, the new hyperparameters set on them, trained on); the decisions are syne-tune's own, in a
real study on real data."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from harness.aggregate.settings import Settings
from harness.engine.asktell import Proposal
from harness.engine.objective import Budget, InnerCV, Objective
from harness.engine.study import prepare, run
from harness.problem.models import STEP, pipeline_params
from harness.report.build import build_report
from tests.helpers import compose_config, first_inner_cv, need_extra

SGD = ("model=sgd", "dataset=breast_cancer", "dataset.max_rows=200", "protocol.outer_folds=2")
STRONG = {"loss": "log_loss", "penalty": "l2", "alpha": 1e-4, "learning_rate": "optimal"}
WEAK = {"loss": "hinge", "penalty": "l1", "alpha": 0.05, "learning_rate": "optimal"}


def _run(objective: Objective, proposal: Proposal) -> dict:
    objective.clock.submit(objective.admit(proposal))
    objective.record(objective.clock.next(), proposal)
    return objective.trials[-1]


def _by_hand(inner: InnerCV, steps: list[tuple[dict, float]]) -> float:
    """Inner mean score of training each inner fold's model through `steps` (configuration,
    fraction reached), each step warm-starting the last step's fitted estimator with its own
    hyperparameters for the epochs it adds: scikit-learn alone."""
    scores = []
    for train, test in inner.splits:
        model, reached = None, 0.0
        for params, fraction in steps:
            pipeline = clone(inner.pipeline).set_params(**pipeline_params(params))
            if model is not None:  # the copy of the last step's estimator, hyperparameters set
                configured = pipeline[-1].get_params(deep=False)
                pipeline.set_params(**{STEP: copy.deepcopy(model).set_params(**configured)})
            epochs = inner.fidelity.value(fraction) - (
                inner.fidelity.value(reached) if reached else 0
            )
            pipeline[-1].set_params(warm_start=True, max_iter=epochs)
            pipeline.fit(inner.X.iloc[train], inner.y.iloc[train])
            model, reached = pipeline[-1], fraction
        scores.append(inner.scorer(pipeline, inner.X.iloc[test], inner.y.iloc[test]))
    return float(np.mean(scores))


def test_a_member_trains_on_a_copy_of_another_members_models() -> None:
    inner = first_inner_cv(*SGD)
    objective = Objective(inner, Budget(3), on_trial=lambda _: None)
    strong = _run(objective, Proposal(STRONG, 0.2, member=0))
    _run(objective, Proposal(WEAK, 0.2, member=1))
    # the exploit: member 1 goes on from member 0's models with perturbed hyperparameters
    perturbed = STRONG | {"alpha": 1.2e-4, "learning_rate": "adaptive", "eta0": 0.01}
    exploited = _run(objective, Proposal(perturbed, 0.3, member=1, continues=STRONG))
    assert exploited["member"] == 1 and exploited["exploited_from"] == strong["trial"] == 0
    assert exploited["continued"] and exploited["cache"] is None  # a history, not a config
    assert math.isclose(exploited["full_evaluations"] - 0.4, 0.1)  # it paid one step
    expected = _by_hand(inner, [(STRONG, 0.2), (perturbed, 0.3)])
    assert exploited["inner_mean"] == pytest.approx(expected, abs=1e-12)
    # the member it copied goes on from its own models, untouched by the copy's training
    going_on = _run(objective, Proposal(STRONG, 0.4, member=0))
    assert going_on["continued"] and going_on["exploited_from"] is None
    assert going_on["inner_mean"] == pytest.approx(
        _by_hand(inner, [(STRONG, 0.2), (STRONG, 0.4)]), abs=1e-12
    )
    # and the exploited member's next step continues its own (copied, grown) models
    after = _run(objective, Proposal(perturbed, 0.4, member=1))
    assert after["continued"] and after["exploited_from"] is None
    assert after["inner_mean"] == pytest.approx(
        _by_hand(inner, [(STRONG, 0.2), (perturbed, 0.3), (perturbed, 0.4)]), abs=1e-12
    )


@pytest.mark.slow
def test_syne_tune_pbt_exploits_and_the_chosen_configuration_is_scored(tmp_path: Path) -> None:
    """One worker, so the order of results (and every decision) is the same on any machine;
    tests/test_conformance.py runs st_pbt with four."""
    need_extra("syne_tune", "synetune")
    study = prepare(compose_config(*SGD, "strategy=st_pbt", "budget.n_trials=4"))
    trials, folds = run(study, tmp_path / "studies" / study.key)
    trials["params"] = trials.params.map(json.loads)
    assert trials.member.notna().all()
    exploits = trials[trials.exploited_from.notna()]
    assert len(exploits), "no member was ever replaced"
    for _, step in exploits.iterrows():
        fold = trials[trials.outer_fold == step.outer_fold].set_index("trial")
        source = fold.loc[int(step.exploited_from)]
        assert source.member != step.member and step.continued
        assert step.fidelity == pytest.approx(source.fidelity + 0.1)  # one step further
        before = fold[(fold.member == step.member) & (fold.index < step.trial)].params
        assert len(before) and all(p != step.params for p in before)  # changed mid-training
        assert step.params["alpha"] != source.params["alpha"]  # the copied one's, perturbed
    # the chosen configuration was evaluated at full fidelity and scored on the outer test
    assert len(folds) == 2 and folds.tuned_test.notna().all()
    for _, fold in folds.iterrows():
        best = trials[(trials.outer_fold == fold.outer_fold) & (trials.trial == fold.best_trial)]
        assert best.fidelity.item() == 1.0
    # the report plots each member's schedule: only because a study ran PBT
    other = prepare(compose_config(*SGD, "strategy=random", "budget.n_trials=4"))
    run(other, tmp_path / "studies" / other.key)
    report = build_report(tmp_path / "studies", settings=Settings(resamples=200))
    text = (report / "report.md").read_text()
    assert "## Population-based training" in text and "(figures/pbt_schedule.png)" in text
    schedule = pd.read_parquet(report / "tables" / "pbt_schedule.parquet")
    assert set(schedule.strategy) == {"st_pbt"} and schedule.exploited.any()
    assert set(schedule.parameter) >= {"alpha"} and schedule.member.nunique() >= 4
