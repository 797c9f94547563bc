"""Hypergradients: the derivative of a model's inner-CV validation loss with respect to the
logarithm of its continuous hyperparameters, which strategy hypergrad descends.

The problem computes them, never the strategy (it sees no data). On each inner split the
pipeline is fitted by scikit-learn as for any trial (its score is the trial's score), and at
that fitted solution θ the hypergradient follows by implicit differentiation of the training
objective's optimality condition ∇θ f(θ, λ) = 0 (jaxopt's `root_vjp`): JAX differentiates the
objective and the validation loss as written below, no derivative is derived by hand. The
linear system is solved densely (least squares: a multinomial model's intercepts are defined up
to a common shift, which no loss sees).

Models: scikit-learn's Ridge (`alpha`; its objective ||y - Xw - b||² + alpha ||w||²) and
LogisticRegression with an L2 penalty (`C`; C Σ log-loss + ½ ||w||², binary or multinomial),
the intercept unpenalised. The loss is the study's metric where it is smooth (r2, rmse,
log_loss: then the hypergradient is that of the trial's own loss) and otherwise a smooth
surrogate of it (squared error for mae, log-loss for accuracy and the other classification
metrics), named in every trial record (`hypergradient.surrogate`). The gradient is exact at
the solution scikit-learn returns: a solver stopped early (LogisticRegression's default
`tol=1e-4`) gives a gradient as close as its solution, which the record shows as
`stationarity` (the largest entry of ∇θ f at the fitted θ).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from harness.errors import UsageError
from harness.problem.models import STEP, ModelSpec

SMOOTH = {"r2": "r2", "rmse": "rmse", "log_loss": "log_loss"}  # metric -> itself
SURROGATE = {"regression": "squared_error", "classification": "log_loss"}  # for the others


@dataclass(frozen=True)
class Kind:
    """One differentiable estimator: its shipped model, hyperparameters, and what makes its
    fitted solution the minimum of the objective below (else a reason it is not)."""

    model: str
    hyperparameters: tuple[str, ...]
    problem: Callable[[BaseEstimator], str | None]


def _ridge_problem(ridge: Ridge) -> str | None:
    return "positive=True constrains its solution" if ridge.positive else None


def _logreg_problem(logreg: LogisticRegression) -> str | None:
    if logreg.l1_ratio not in (0, 0.0, None) or logreg.penalty not in ("deprecated", "l2"):
        return "its penalty is not L2 (l1_ratio must be 0)"
    if logreg.class_weight is not None:
        return "class_weight reweights its loss (set it to null)"
    if logreg.solver == "liblinear":
        return "liblinear penalises the intercept"
    return None


KINDS: dict[type, Kind] = {
    Ridge: Kind("ridge", ("alpha",), _ridge_problem),
    LogisticRegression: Kind("logreg", ("C",), _logreg_problem),
}


def differentiable_models() -> str:
    """The shipped models hypergrad runs on, with their differentiable hyperparameters."""
    return " or ".join(f"{k.model} ({', '.join(k.hyperparameters)})" for k in KINDS.values())


@dataclass(frozen=True)
class Hypergradient:
    """How a study's evaluations are differentiated: the hyperparameters (names in the
    space), the loss (`surrogate`) and the task. Picklable, for worker processes."""

    names: tuple[str, ...]
    surrogate: str
    task: str

    @classmethod
    def of(cls, model: ModelSpec, metric: str, strategy: str) -> Hypergradient:
        """The hypergradient of a study, or UsageError naming the models that have one."""
        kind = KINDS.get(type(model.estimator))
        names = tuple(n for n in (kind.hyperparameters if kind else ()) if n in model.space.names)
        if not names:
            raise UsageError(
                f"strategy {strategy} needs a model whose inner-CV loss is differentiable in "
                f"a continuous hyperparameter of its search space, and model {model.name} has "
                f"none; use model={differentiable_models()}"
            )
        problem = kind.problem(model.estimator)
        if problem:
            raise UsageError(
                f"strategy {strategy} differentiates model {model.name} at its optimum, and "
                f"{problem}; fix conf/model/{model.name}.yaml or choose another strategy"
            )
        for name in names:
            if not model.space[name].log:
                raise UsageError(
                    f"strategy {strategy} descends in log space and {name} is not log-scaled "
                    f"in model {model.name}'s space; set log: true on it"
                )
        return cls(names, SMOOTH.get(metric, SURROGATE[model.task]), model.task)

    def split(
        self, fitted: Pipeline, train: tuple[Any, Any], test: tuple[Any, Any]
    ) -> dict[str, Any]:
        """On one inner split: the validation loss of the pipeline fitted on its training
        rows, its gradient with respect to log hyperparameters, and how far from stationary
        the fitted solution is. The rows go through the pipeline's own fitted preprocessing."""
        import jax

        estimator = fitted.named_steps[STEP]
        X_train, X_test = (_dense(fitted[:-1].transform(X)) for X, _ in (train, test))
        kind = "ridge" if isinstance(estimator, Ridge) else "logistic"
        log_hyper = {n: np.log(float(estimator.get_params()[n])) for n in self.names}
        y_train, y_test = (_targets(estimator, y, self.task) for _, y in (train, test))
        with jax.enable_x64(True):  # scikit-learn's solutions are float64
            value, gradient, residual = _compiled()(
                _solution(estimator, self.task), log_hyper, X_train, y_train, X_test, y_test,
                kind=kind, surrogate=self.surrogate,
            )  # fmt: skip
        return {
            "loss": float(value),
            "gradient": {n: float(g) for n, g in gradient.items()},
            "stationarity": float(residual),
        }

    def combine(self, splits: Sequence[Mapping[str, Any]], at: Mapping[str, Any]) -> dict:
        """The inner-CV hypergradient: means over splits, as the inner-CV loss is a mean."""
        return {
            "surrogate": self.surrogate,
            "loss": float(np.mean([s["loss"] for s in splits])),
            "gradient": {n: float(np.mean([s["gradient"][n] for s in splits])) for n in self.names},
            "at": {n: float(at[n]) for n in self.names},
            "stationarity": max(s["stationarity"] for s in splits),
            "seconds": float(sum(s["seconds"] for s in splits)),
        }


def _solution(estimator: BaseEstimator, task: str) -> dict[str, np.ndarray]:
    """θ, the fitted coefficients (one row for a binary classifier) and intercept."""
    coef, intercept = np.asarray(estimator.coef_), np.asarray(estimator.intercept_)
    if task == "classification" and coef.shape[0] == 1:
        coef, intercept = coef[0], intercept[0]
    return {"w": coef} | ({"b": intercept} if estimator.fit_intercept else {})


def _targets(estimator: BaseEstimator, y: Any, task: str) -> np.ndarray:
    """y as numbers: values to predict, or class indices (into the fitted `classes_`)."""
    if task == "regression":
        return np.asarray(y, dtype=float)
    index = {c: i for i, c in enumerate(estimator.classes_)}
    return np.array([index[v] for v in np.asarray(y)])


@functools.cache
def _compiled() -> Callable[..., Any]:
    """`_hypergradient`, compiled once per process (and per shape of the splits' rows)."""
    import jax

    return jax.jit(_hypergradient, static_argnames=("kind", "surrogate"))


def _hypergradient(
    theta: Any, log_hyper: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any,
    kind: str, surrogate: str,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """The validation loss at θ, its gradient in the log hyperparameters by implicit
    differentiation of ∇θ f(θ, λ) = 0 (jaxopt), and max |∇θ f| at θ."""
    import jax
    import jax.numpy as jnp
    from jaxopt.implicit_diff import root_vjp

    def loss(theta: Any) -> Any:
        return LOSSES[surrogate](_predict(theta, X_test), y_test)

    optimality = jax.grad(OBJECTIVES[kind])
    value, cotangent = jax.value_and_grad(loss)(theta)
    args = (log_hyper, X_train, y_train)
    gradient = root_vjp(optimality, theta, args, cotangent, solve=_least_squares)[0]
    residual = jax.tree_util.tree_leaves(optimality(theta, *args))
    return value, gradient, jnp.max(jnp.stack([jnp.max(jnp.abs(r)) for r in residual]))


def _predict(theta: Mapping[str, Any], X: Any) -> Any:
    """Predictions (regression) or logits: one column (binary) or one per class."""
    w = theta["w"]
    return X @ (w.T if w.ndim == 2 else w) + theta.get("b", 0.0)


def _ridge(theta: Mapping[str, Any], log_hyper: Mapping[str, Any], X: Any, y: Any) -> Any:
    """Ridge's objective, ||y - Xw - b||² + alpha ||w||²."""
    import jax.numpy as jnp

    w = theta["w"]
    return jnp.sum((y - _predict(theta, X)) ** 2) + jnp.exp(log_hyper["alpha"]) * jnp.sum(w**2)


def _logistic(theta: Mapping[str, Any], log_hyper: Mapping[str, Any], X: Any, y: Any) -> Any:
    """L2 logistic regression's objective, C Σ log-loss + ½ ||w||² (binomial or multinomial)."""
    import jax.numpy as jnp

    data = _log_loss(_predict(theta, X), y) * len(y)
    return jnp.exp(log_hyper["C"]) * data + 0.5 * jnp.sum(theta["w"] ** 2)


OBJECTIVES = {"ridge": _ridge, "logistic": _logistic}


def _r2(z: Any, y: Any) -> Any:
    """-r2 (a loss), as sklearn.metrics.r2_score defines r2."""
    import jax.numpy as jnp

    return jnp.sum((y - z) ** 2) / jnp.sum((y - jnp.mean(y)) ** 2) - 1.0


def _squared_error(z: Any, y: Any) -> Any:
    import jax.numpy as jnp

    return jnp.mean((y - z) ** 2)


def _log_loss(z: Any, y: Any) -> Any:
    import optax

    if z.ndim == 1:
        return optax.losses.sigmoid_binary_cross_entropy(z, y).mean()
    return optax.losses.softmax_cross_entropy_with_integer_labels(z, y).mean()


LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    "r2": _r2,
    "rmse": lambda z, y: _squared_error(z, y) ** 0.5,
    "squared_error": _squared_error,
    "log_loss": _log_loss,
}


def _least_squares(matvec: Callable, b: Any) -> Any:
    """Solve A x = b for the pytree b by least squares on the dense A (min-norm when the
    solution is defined up to a direction no loss sees)."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(b)
    A = jax.jacfwd(lambda x: ravel_pytree(matvec(unravel(x)))[0])(flat)
    return unravel(jnp.linalg.lstsq(A, flat)[0])


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if sparse.issparse(X) else X, dtype=float)
