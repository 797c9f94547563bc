"""Clustering estimators that can assign rows they were not fitted on, by a stated rule.

The protocol scores a configuration on held-out rows, so every clustering model must assign new
rows. KMeans, GaussianMixture and Birch do it with their own `predict`. DBSCAN and
AgglomerativeClustering have none; these subclasses add one, implemented with scikit-learn's
nearest-neighbour search, and otherwise are the scikit-learn estimators (same parameters, same
fit):

- `DBSCAN`: a new row joins the cluster of its nearest core point when that point lies within
  the radius, and is noise (-1) otherwise: DBSCAN's own definition of a border point, so
  noise stays noise. Its `eps` is relative to the data's scale (below).
- `AgglomerativeClustering`: a new row takes the cluster of its nearest training row
  (KNeighborsClassifier with n_neighbors=1 on the training assignment).

DBSCAN's `eps` here multiplies the median distance from a training row to its nearest other
training row (rows as the model sees them: imputed, scaled); the absolute radius used is
`eps_`. One relative space then fits every dataset, where an absolute radius would depend on
the number of features and their units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import cluster
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

NOISE = -1  # the label of rows that belong to no cluster


class DBSCAN(cluster.DBSCAN):
    """scikit-learn's DBSCAN with a relative `eps` and a `predict` by nearest core point."""

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> DBSCAN:
        self.eps_ = self.eps * typical_spacing(X, self.metric, self.p, self.metric_params)
        fitted = cluster.DBSCAN(**(self.get_params() | {"eps": self.eps_})).fit(
            X, sample_weight=sample_weight
        )
        self.labels_ = fitted.labels_
        self.core_sample_indices_ = fitted.core_sample_indices_
        self.components_ = fitted.components_
        self.n_features_in_ = fitted.n_features_in_
        self.cores_ = None
        if len(self.components_):
            self.cores_ = NearestNeighbors(
                n_neighbors=1, metric=self.metric, p=self.p, metric_params=self.metric_params
            ).fit(self.components_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The cluster of the nearest core point within `eps_`; noise beyond it."""
        if self.cores_ is None:  # no core point: every row is noise
            return np.full(X.shape[0], NOISE)
        distance, nearest = self.cores_.kneighbors(X)
        labels = self.labels_[self.core_sample_indices_][nearest[:, 0]]
        return np.where(distance[:, 0] <= self.eps_, labels, NOISE)


class AgglomerativeClustering(cluster.AgglomerativeClustering):
    """scikit-learn's AgglomerativeClustering with a `predict` by nearest training row."""

    def fit(self, X: Any, y: Any = None) -> AgglomerativeClustering:
        super().fit(X)
        self.nearest_ = KNeighborsClassifier(n_neighbors=1).fit(X, self.labels_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.nearest_.predict(X)


def typical_spacing(X: Any, metric: str = "euclidean", p: float | None = None,
                    metric_params: dict | None = None) -> float:  # fmt: skip
    """The median distance from a row to its nearest other row (duplicates left out; 1 when
    every row is the same)."""
    if X.shape[0] < 2:
        return 1.0
    search = NearestNeighbors(n_neighbors=2, metric=metric, p=p, metric_params=metric_params)
    distances = search.fit(X).kneighbors(X)[0][:, 1]
    distinct = distances[distances > 0]
    return float(np.median(distinct)) if len(distinct) else 1.0


SIZES = ("n_clusters", "n_components")  # parameters that count clusters


def check_cluster_counts(space: Any, estimator: Any, rows: int) -> str | None:
    """Why a clustering space cannot fit every inner-training part of `rows` rows (None if it
    can): a cluster count above the rows a fit gets fails in every such trial."""
    params = estimator.get_params(deep=False)
    for name in SIZES:
        if name in space.names:
            param = space[name]
            most = max(param.choices) if param.type == "categorical" else param.high
            what = f"the search space's {name} goes up to"
        elif isinstance(params.get(name), int):
            most, what = params[name], f"the estimator's {name} is"
        else:
            continue
        if most > rows:
            fix = f"model.space.{name}.high" if name in space.names else f"model.estimator.{name}"
            return (
                f"{what} {most:g}, and the smallest inner-training part has {rows} rows; set "
                f"{fix} to at most {rows}, or use more rows or fewer folds"
            )
    return None
