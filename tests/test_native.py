"""Adapters are faithful: given the same seed and the same objective values, they suggest what
the library's own loop suggests, in the same order.

The native side is what a user of each library would write by hand for this space (SVC with a
log-scaled C, a kernel choice, gamma for rbf and poly only, degree for poly only, a class weight
choice with None, and a log-scaled integer), driven by the library's own loop: optuna's
`study.optimize`, hyperopt's `fmin`, scikit-optimize's `Optimizer.ask/tell`, Nevergrad's
and SMAC3's `ask`/`tell`. Both sides score configurations on the same inner CV of real data; startup
phases are shortened so most of the trials come from each library's model, not its random
start.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import optuna
import pytest
import yaml
from hydra.utils import instantiate
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.pyll import scope
from sklearn.metrics import get_scorer
from sklearn.svm import SVC
from skopt import Optimizer
from skopt.space import Categorical, Integer, Real

from harness.engine.objective import Budget, InnerCV, Objective, StopSearch
from harness.problem.data import load_dataset
from harness.problem.models import ModelSpec, build_pipeline, plain
from harness.problem.protocol import Protocol
from harness.problem.space import SearchSpace
from tests.helpers import compose_config

N_TRIALS = 9
STARTUP = 4  # so five of the nine come from each library's model
SEED = 7

SPACE = SearchSpace.from_config(
    yaml.safe_load("""
        C: {type: float, low: 1.0e-2, high: 1.0e+2, log: true}
        kernel: {type: categorical, choices: [rbf, poly, linear]}
        gamma: {type: float, low: 1.0e-4, high: 1.0, log: true, condition: {kernel: [rbf, poly]}}
        degree: {type: int, low: 2, high: 4, condition: {kernel: poly}}
        class_weight: {type: categorical, choices: [null, balanced]}
        max_iter: {type: int, low: 50, high: 5000, log: true}
    """),
    "tests/test_native.py",
)


@functools.cache
def _inner() -> InnerCV:
    dataset = load_dataset(compose_config("dataset.max_rows=120").dataset)
    X, y = dataset.X, dataset.y
    splits = list(Protocol(1, 3, 3, None).inner_splitter("classification", 0).split(X, y))
    pipeline = build_pipeline(ModelSpec("svc", "classification", SVC(), SPACE, scale=True))
    return InnerCV(pipeline, X, y, splits, get_scorer("accuracy"))


def _loss(params: dict) -> float:
    """What the harness's objective returns for a configuration, computed directly."""
    return -float(np.mean(_inner().evaluate(params).scores))


def _adapter_trials(*overrides: str, objective: Objective | None = None) -> list[dict]:
    """What the strategy proposed, in the order it proposed them."""
    adapter = compose_config(*overrides).strategy.adapter
    strategy = instantiate(adapter, _partial_=True)(space=SPACE, seed=SEED)
    objective = objective or Objective(_inner(), Budget(N_TRIALS), on_trial=lambda _: None)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return [t["params"] for t in sorted(objective.trials, key=lambda t: t["trial"])]


def _active(params: dict) -> dict:
    """The hand-written conditions of this space."""
    drop = {"gamma": params["kernel"] == "linear", "degree": params["kernel"] != "poly"}
    return {k: v for k, v in params.items() if not drop.get(k, False)}


def _same(adapter: list[dict], native: list[dict]) -> None:
    assert len(adapter) == len(native) == N_TRIALS
    for ours, theirs in zip(adapter, native, strict=True):
        assert ours == plain(theirs)


def optuna_params(trial: optuna.Trial) -> dict:
    """The space, define-by-run, as an optuna user writes it."""
    params = {
        "C": trial.suggest_float("C", 1e-2, 1e2, log=True),
        "kernel": trial.suggest_categorical("kernel", ["rbf", "poly", "linear"]),
    }
    if params["kernel"] in ("rbf", "poly"):
        params["gamma"] = trial.suggest_float("gamma", 1e-4, 1.0, log=True)
    if params["kernel"] == "poly":
        params["degree"] = trial.suggest_int("degree", 2, 4)
    params["class_weight"] = trial.suggest_categorical("class_weight", [None, "balanced"])
    params["max_iter"] = trial.suggest_int("max_iter", 50, 5000, log=True)
    return params


def hyperopt_space() -> object:
    """The space in hyperopt's nested form, as a hyperopt user writes it."""
    C = hp.loguniform("C", math.log(1e-2), math.log(1e2))
    gamma = hp.loguniform("gamma", math.log(1e-4), math.log(1.0))
    class_weight = hp.choice("class_weight", [None, "balanced"])
    max_iter = scope.int(hp.qloguniform("max_iter", math.log(50), math.log(5000), 1))
    common = {"C": C, "class_weight": class_weight, "max_iter": max_iter}
    return hp.choice(
        "kernel",
        [
            {"kernel": "rbf", "gamma": gamma, **common},
            {"kernel": "poly", "gamma": gamma, "degree": hp.uniformint("degree", 2, 4), **common},
            {"kernel": "linear", **common},
        ],
    )


def skopt_optimizer() -> Optimizer:
    """The space and GP optimiser as a scikit-optimize user writes them."""
    return Optimizer(
        [
            Real(1e-2, 1e2, prior="log-uniform"),
            Categorical(["rbf", "poly", "linear"]),
            Real(1e-4, 1.0, prior="log-uniform"),
            Integer(2, 4),
            Categorical([None, "balanced"]),
            Integer(50, 5000, prior="log-uniform"),
        ],
        base_estimator="GP",
        n_initial_points=STARTUP,
        acq_func="gp_hedge",
        acq_optimizer="auto",
        random_state=SEED,
    )


def test_optuna_tpe_suggests_what_study_optimize_does() -> None:
    def objective(trial: optuna.Trial) -> float:
        return _loss(optuna_params(trial))

    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(n_startup_trials=STARTUP, seed=SEED)
    )
    study.optimize(objective, n_trials=N_TRIALS)
    native = [t.params for t in study.trials]
    _same(
        _adapter_trials("strategy=tpe", f"strategy.adapter.sampler.n_startup_trials={STARTUP}"),
        native,
    )


def test_hyperopt_tpe_suggests_what_fmin_does() -> None:
    space = hyperopt_space()
    native: list[dict] = []

    def objective(params: dict) -> dict:
        native.append(params)
        return {"loss": _loss(params), "status": STATUS_OK}

    algo = functools.partial(tpe.suggest, n_startup_jobs=STARTUP)
    fmin(objective, space, algo=algo, max_evals=N_TRIALS, trials=Trials(),
         rstate=np.random.default_rng(SEED), show_progressbar=False)  # fmt: skip
    ours = _adapter_trials(
        "strategy=hyperopt_tpe", f"strategy.adapter.algo.n_startup_jobs={STARTUP}"
    )
    _same(ours, native)


def test_skopt_gp_suggests_what_ask_and_tell_does() -> None:
    optimizer = skopt_optimizer()
    native = []
    for _ in range(N_TRIALS):
        x = optimizer.ask()
        params = _active(dict(zip(SPACE.names, x, strict=True)))
        native.append(params)
        optimizer.tell(x, _loss(params))
    ours = _adapter_trials("strategy=skopt_gp", f"strategy.adapter.n_initial_points={STARTUP}")
    _same(ours, native)


def nevergrad_parametrization(ng: ModuleType) -> object:
    """The space in Nevergrad's own form, as a Nevergrad user writes it: a Choice of one
    dict per kernel, each with the parameters that kernel uses."""

    def branch(kernel: str, **conditional: object) -> object:
        return ng.p.Dict(
            C=ng.p.Log(lower=1e-2, upper=1e2),
            kernel=kernel,
            **conditional,
            class_weight=ng.p.Choice([None, "balanced"]),
            max_iter=ng.p.Log(lower=50, upper=5000).set_integer_casting(),
        )

    gamma = ng.p.Log(lower=1e-4, upper=1.0)
    degree = ng.p.Scalar(lower=2, upper=4).set_integer_casting()
    return ng.p.Choice(
        [
            branch("rbf", gamma=gamma),
            branch("poly", gamma=gamma.copy(), degree=degree),
            branch("linear"),
        ]
    )


@pytest.mark.parametrize("name", ["ng_ngopt", "ng_de"])
def test_nevergrad_suggests_what_its_ask_and_tell_does(name: str) -> None:
    ng = pytest.importorskip("nevergrad", reason="the nevergrad extra is not installed")
    parametrization = nevergrad_parametrization(ng)
    parametrization.random_state.seed(SEED)
    optimizer_name = compose_config(f"strategy={name}").strategy.adapter.optimizer
    optimizer = ng.optimizers.registry[optimizer_name](
        parametrization=parametrization, budget=N_TRIALS, num_workers=1
    )
    native = []
    for _ in range(N_TRIALS):
        candidate = optimizer.ask()
        native.append(candidate.value)
        optimizer.tell(candidate, _loss(candidate.value))
    _same(_adapter_trials(f"strategy={name}"), native)


def smac_configspace() -> object:
    """The space as a ConfigSpace, as a SMAC user writes it: gamma for rbf and poly, degree for
    poly."""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        EqualsCondition,
        Float,
        InCondition,
        Integer,
    )

    kernel = Categorical("kernel", ["rbf", "poly", "linear"])
    gamma = Float("gamma", (1e-4, 1.0), log=True)
    degree = Integer("degree", (2, 4))
    space = ConfigurationSpace()
    space.add(
        [
            Float("C", (1e-2, 1e2), log=True),
            kernel,
            gamma,
            degree,
            Categorical("class_weight", [None, "balanced"]),
            Integer("max_iter", (50, 5000), log=True),
            InCondition(gamma, kernel, ["rbf", "poly"]),
            EqualsCondition(degree, kernel, "poly"),
        ]
    )
    return space


@pytest.mark.parametrize("name", ["smac"])
def test_smac_suggests_what_its_ask_and_tell_does(name: str, tmp_path: Path) -> None:
    smac = pytest.importorskip("smac", reason="the smac extra is not installed")
    from smac.runhistory.dataclasses import TrialValue

    def target(config: object, seed: int = 0) -> float:
        return _loss(dict(config))

    scenario = smac.Scenario(
        smac_configspace(),
        deterministic=True,
        n_trials=N_TRIALS,
        seed=SEED,
        output_directory=tmp_path,
    )
    facade = getattr(smac, compose_config(f"strategy={name}").strategy.adapter.facade)
    optimizer = facade(scenario, target, overwrite=True, logging_level=logging.WARNING)
    native = []
    for _ in range(N_TRIALS):
        info = optimizer.ask()
        native.append(dict(info.config))
        optimizer.tell(info, TrialValue(cost=target(info.config)))
    _same(_adapter_trials(f"strategy={name}"), native)


def keras_tuner_hyperparameters(kt: ModuleType) -> object:
    """The space as a Keras Tuner user declares it: gamma in the scope of rbf and poly, degree
    in poly's; a `Choice` cannot hold None, so class_weight's is the string "none"."""
    hp = kt.HyperParameters()
    hp.Float("C", 1e-2, 1e2, sampling="log")
    hp.Choice("kernel", ["rbf", "poly", "linear"])
    with hp.conditional_scope("kernel", ["rbf", "poly"]):
        hp.Float("gamma", 1e-4, 1.0, sampling="log")
    with hp.conditional_scope("kernel", ["poly"]):
        hp.Int("degree", 2, 4)
    hp.Choice("class_weight", ["none", "balanced"])
    hp.Int("max_iter", 50, 5000, sampling="log")
    return hp


# One trial from the Gaussian process: each of its proposals runs 50 L-BFGS restarts of its
# acquisition function, seconds apiece.
KT_STARTUP = N_TRIALS - 1


@pytest.mark.parametrize("name", ["kt_random", "kt_bayes"])
def test_keras_tuner_suggests_what_its_tuner_does(name: str, tmp_path: Path) -> None:
    from adapters.kerastuner_search import kt  # imported with the Keras backend it sets

    if kt is None:
        pytest.skip("the kerastuner extra is not installed")

    native = []

    class Loop(kt.Tuner):
        """Keras Tuner's own loop (`search`) on a tuner that scores without Keras, as its
        guide to tuning anything does."""

        def run_trial(self, trial: object, *args: object, **kwargs: object) -> float:
            params = dict(trial.hyperparameters.values)
            params["class_weight"] = {"none": None}.get(params["class_weight"], "balanced")
            native.append(params)
            return _loss(params)

    adapter = compose_config(f"strategy={name}").strategy.adapter
    options = {k: v for k, v in adapter.items() if k not in ("_target_", "oracle")}
    if "num_initial_points" in options:
        options["num_initial_points"] = KT_STARTUP
    oracle = getattr(kt.oracles, adapter.oracle)(
        objective=kt.Objective("loss", "min"),
        max_trials=N_TRIALS,
        seed=SEED,
        hyperparameters=keras_tuner_hyperparameters(kt),
        **options,
    )
    Loop(oracle=oracle, directory=tmp_path, project_name="native").search(verbose=0)
    overrides = (
        [f"strategy.adapter.num_initial_points={KT_STARTUP}"]
        if "num_initial_points" in options
        else []
    )
    _same(_adapter_trials(f"strategy={name}", *overrides), native)
