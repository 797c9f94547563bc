"""Tuning never receives a row of the outer-test fold.

Every inner evaluation goes through sklearn's cross_validate inside harness.engine.evaluation; the
test wraps it to record the index labels of every row handed to it (rows keep their dataset
positions as labels) and checks each call against the outer splits.
"""

from __future__ import annotations

import numpy as np
import pytest

import harness.engine.evaluation
from harness.engine.study import prepare, run
from tests.helpers import compose_config


def _spy_on_tuning(monkeypatch: pytest.MonkeyPatch) -> list[set[int]]:
    seen: list[set[int]] = []
    real = harness.engine.evaluation.cross_validate

    def recording(estimator, X, y, *args, cv, **kwargs):
        labels = set(X.index)
        for train, test in cv:  # every row the splits can reach
            labels |= set(X.index[train]) | set(X.index[test])
        seen.append(labels)
        return real(estimator, X, y, *args, cv=cv, **kwargs)

    monkeypatch.setattr(harness.engine.evaluation, "cross_validate", recording)
    return seen


def _assert_no_leak(seen: list[set[int]], outer: list[tuple[set[int], set[int]]]) -> None:
    """Each tuning call must see exactly one fold's training rows, folds in order."""
    fold = 0
    for labels in seen:
        while fold < len(outer) and labels != outer[fold][0]:
            fold += 1
        assert fold < len(outer), "tuning saw rows that are no fold's training part"
        assert not labels & outer[fold][1], "tuning saw outer-test rows"


@pytest.mark.slow  # the conformance checks keep the fast ones
def test_tuning_never_sees_outer_test_rows(tmp_path, monkeypatch) -> None:
    seen = _spy_on_tuning(monkeypatch)
    study = prepare(compose_config("budget.n_trials=4", "protocol.repeats=2"))
    _, folds = run(study, tmp_path)
    X, y = study.dataset.X, study.dataset.y
    outer = [
        (set(X.index[s.train]), set(X.index[s.test]))
        for s in study.protocol.outer_splits(X, y, study.dataset.task, study.seed)
    ]
    assert len(folds) == len(outer) == 10
    # 4 trials and the defaults' inner score per fold, each a call per inner split
    assert len(seen) == 10 * (4 + 1) * study.protocol.inner_folds
    _assert_no_leak(seen, outer)

    # The check can fail: one call given all rows (a leak) is caught.
    with pytest.raises(AssertionError, match="no fold's training part"):
        _assert_no_leak([*seen[:3], set(X.index)], outer)


def test_outer_test_rows_are_each_used_once_per_repeat(tmp_path) -> None:
    study = prepare(compose_config("protocol.repeats=2", "protocol.outer_folds=3"))
    X, y = study.dataset.X, study.dataset.y
    splits = list(study.protocol.outer_splits(X, y, study.dataset.task, study.seed))
    for repeat in (0, 1):
        tests = [s.test for s in splits if s.repeat == repeat]
        assert sorted(np.concatenate(tests)) == list(range(len(X)))
    assert [list(s.test) for s in splits[:3]] != [list(s.test) for s in splits[3:]]
