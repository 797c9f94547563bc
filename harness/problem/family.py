"""The estimator of `model=cash`: one of several model families, chosen by a parameter, each
fitted on the rows its own config preprocesses.

Each family's preprocessing differs (svc, knn and logreg scale numeric features; trees do
not), so the pipeline's preprocessing step is `Variants`: every preprocessing the families
need, side by side, handing the estimator `{variant: rows}`; the chosen family reads its own.
Fitted once per split (harness.problem.preprocessing) or with every fit, the family thus gets
exactly the rows its own pipeline would give it, and scores what it scores.

Parameters are scikit-learn's nested form: `family`, and `<family>__<parameter>` for the
family's estimator (as a VotingClassifier's `<name>__<parameter>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin, clone
from sklearn.utils.metaestimators import _BaseComposition, available_if

FAMILY = "family"  # the top-level choice of the space, and the estimator's parameter


def variant(scale: bool) -> str:
    """The name of the preprocessing a family reads: its config's `scale`."""
    return "scaled" if scale else "unscaled"


class Variants(TransformerMixin, BaseEstimator):
    """Several preprocessings of the same rows, each fitted on them; `transform` gives
    `{name: rows}`. `variants`: (name, transformer) pairs."""

    def __init__(self, variants: Sequence[tuple[str, Any]] = ()) -> None:
        self.variants = variants

    def fit(self, X: Any, y: Any = None) -> Variants:
        self.fitted_ = [(name, clone(step).fit(X, y)) for name, step in self.variants]
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> dict[str, Any]:
        """As each transformer's own fit_transform, as a pipeline of one family calls it."""
        self.fitted_ = [(name, clone(step)) for name, step in self.variants]
        return {name: step.fit_transform(X, y) for name, step in self.fitted_}

    def transform(self, X: Any) -> dict[str, Any]:
        return {name: step.transform(X) for name, step in self.fitted_}


def _chosen_has(method: str) -> Any:
    """Whether the family that predicts has `method` (every family, before one is chosen)."""

    def check(self: FamilyChoice) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, method)
        chosen = [e for name, e in self.estimators if self.family in (None, name)]
        return bool(chosen) and all(hasattr(e, method) for e in chosen)

    return check


class FamilyChoice(_BaseComposition):
    """`family`'s estimator of `estimators` ((name, estimator) pairs), fitted on the rows of
    its preprocessing (`preprocessing`: (name, variant) pairs, see `Variants`)."""

    def __init__(
        self,
        family: str | None = None,
        estimators: Sequence[tuple[str, Any]] = (),
        preprocessing: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.family = family
        self.estimators = estimators
        self.preprocessing = preprocessing

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params: Any) -> FamilyChoice:
        self._set_params("estimators", **params)
        return self

    def fit(self, X: dict[str, Any], y: Any, **fit_params: Any) -> FamilyChoice:
        names = [name for name, _ in self.estimators]
        if self.family not in names:
            raise ValueError(f"family is {self.family!r}; choose one of {names}")
        self.variant_ = dict(self.preprocessing)[self.family]
        estimator = clone(dict(self.estimators)[self.family])
        self.estimator_ = estimator.fit(X[self.variant_], y, **fit_params)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X: dict[str, Any]) -> Any:
        return self.estimator_.predict(X[self.variant_])

    @available_if(_chosen_has("predict_proba"))
    def predict_proba(self, X: dict[str, Any]) -> Any:
        return self.estimator_.predict_proba(X[self.variant_])

    @available_if(_chosen_has("predict_log_proba"))
    def predict_log_proba(self, X: dict[str, Any]) -> Any:
        return self.estimator_.predict_log_proba(X[self.variant_])

    @available_if(_chosen_has("decision_function"))
    def decision_function(self, X: dict[str, Any]) -> Any:
        return self.estimator_.decision_function(X[self.variant_])


class FamilyClassifier(ClassifierMixin, FamilyChoice):
    """A FamilyChoice among classifiers."""


class FamilyRegressor(RegressorMixin, FamilyChoice):
    """A FamilyChoice among regressors."""


def family_estimator(task: str, families: Sequence[tuple[str, Any, bool]]) -> FamilyChoice:
    """The estimator choosing among `families`: (name, estimator, scale) triples."""
    kind = FamilyClassifier if task == "classification" else FamilyRegressor
    return kind(
        None,
        [(name, estimator) for name, estimator, _ in families],
        [(name, variant(scale)) for name, _, scale in families],
    )
