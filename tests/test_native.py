"""Adapters are faithful: given the same seed and the same objective values, they suggest what
the library's own loop suggests, in the same order.

The native side is what a user of each library would write by hand for this space (SVC with a
log-scaled C, a kernel choice, gamma for rbf and poly only, degree for poly only, a class weight
choice with None, and a log-scaled integer), driven by the library's own loop: optuna's
`study.optimize`, hyperopt's `fmin`, scikit-optimize's `Optimizer.ask/tell`, Nevergrad's
and SMAC3's `ask`/`tell`, HEBO's `suggest`/`observe`, Ax's `Client`, Ray Tune's `Tuner`,
syne-tune's schedulers, Keras Tuner's tuners and FLAML's `tune.run`. Both sides score
configurations on the same inner CV of real data; startup phases are shortened so most of the
trials come from each library's model, not its random start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
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
from harness.problem.fidelity import Fidelity
from harness.problem.models import ModelSpec, build_pipeline, plain
from harness.problem.protocol import Protocol
from harness.problem.space import SearchSpace
from tests.helpers import compose_config, engine_missing, need_extra

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


ROWS = Fidelity("rows", 0.1, 1, stratify=True)  # for the multi-fidelity strategies


def _loss(params: dict, fidelity: float | None = None) -> float:
    """What the harness's objective returns for a configuration (at a fraction of the rows),
    computed directly."""
    inner = _inner() if fidelity is None else dataclasses.replace(_inner(), fidelity=ROWS)
    return -float(np.mean(inner.evaluate(params, fidelity).scores))


def _adapter_run(
    *overrides: str, objective: Objective | None = None, space: SearchSpace = SPACE
) -> list[dict]:
    """The strategy's trials, in the order it proposed them."""
    adapter = compose_config(*overrides).strategy.adapter
    strategy = instantiate(adapter, _partial_=True)(space=space, seed=SEED)
    objective = objective or Objective(_inner(), Budget(N_TRIALS), on_trial=lambda _: None)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return sorted(objective.trials, key=lambda t: t["trial"])


def _adapter_trials(
    *overrides: str, objective: Objective | None = None, space: SearchSpace = SPACE
) -> list[dict]:
    """What the strategy proposed, in the order it proposed them."""
    return [t["params"] for t in _adapter_run(*overrides, objective=objective, space=space)]


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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ng_ngopt", "ng_de"])
def test_nevergrad_suggests_what_its_ask_and_tell_does(name: str) -> None:
    ng = need_extra("nevergrad", "nevergrad")
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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smac"])
def test_smac_suggests_what_its_ask_and_tell_does(name: str, tmp_path: Path) -> None:
    smac = need_extra("smac", "smac")
    from smac.runhistory.dataclasses import TrialValue

    # SMAC's loop as the adapter runs it: with the adapter's one workaround (its local search's
    # start points in one order, not in string-hash order; see adapters/smac_search.py)
    import adapters.smac_search  # noqa: F401

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


@pytest.mark.slow
def test_smac_proposes_the_same_in_another_process() -> None:
    # Two runs of one study are two processes, whose string hashing differs (PYTHONHASHSEED):
    # the same seed and losses must still give the same proposals (adapters/smac_search.py).
    need_extra("smac", "smac")
    script = (
        "import json; from tests.test_native import _adapter_trials; "
        "print(json.dumps(_adapter_trials('strategy=smac')))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent.parent, env=os.environ | {"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]  # fmt: skip
    assert json.loads(runs[0]) == json.loads(runs[1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smac_hb", "smac_mf"])
def test_smac_multi_fidelity_proposes_what_its_ask_and_tell_does(name: str, tmp_path: Path) -> None:
    smac = need_extra("smac", "smac")
    from smac.intensifier.hyperband_utils import determine_hyperband_for_multifidelity
    from smac.runhistory.dataclasses import TrialValue

    budget = 4  # full evaluations, spent on rungs of 1/9, 1/3 and all of the rows
    inner = dataclasses.replace(_inner(), fidelity=ROWS)
    objective = Objective(inner, Budget(budget), on_trial=lambda _: None)
    ours = [
        (t["params"], t["fidelity"]) for t in _adapter_run(f"strategy={name}", objective=objective)
    ]

    def target(config: object, seed: int = 0, budget: float = 1.0) -> float:
        return _loss(dict(config), budget)

    plan = determine_hyperband_for_multifidelity(budget, ROWS.low, 1.0, eta=3)
    scenario = smac.Scenario(
        smac_configspace(),
        deterministic=True,
        n_trials=plan["n_trials"],
        min_budget=ROWS.low,
        max_budget=1.0,
        seed=SEED,
        output_directory=tmp_path,
    )
    facade = getattr(smac, compose_config(f"strategy={name}").strategy.adapter.facade)
    optimizer = facade(scenario, target, overwrite=True, logging_level=logging.WARNING)
    native = []
    for _ in range(len(ours)):
        info = optimizer.ask()
        native.append((plain(dict(info.config)), info.budget))
        optimizer.tell(info, TrialValue(cost=target(info.config, budget=info.budget)))
    assert ours == native
    assert {fidelity for _, fidelity in ours} == {1 / 9, 1 / 3, 1.0}  # every rung was reached


# HEBO's model proposals take tens of seconds each here (its NSGA-II acquisition search runs
# in pure-Python pymoo), so its loop is compared on a smaller space, with one condition, for
# two Sobol points and one proposal of its model.
HEBO_SPACE = SearchSpace.from_config(
    yaml.safe_load("""
        C: {type: float, low: 1.0e-2, high: 1.0e+2, log: true}
        kernel: {type: categorical, choices: [rbf, linear]}
        gamma: {type: float, low: 1.0e-4, high: 1.0, log: true, condition: {kernel: rbf}}
    """),
    "tests/test_native.py",
)


@pytest.mark.slow
def test_hebo_suggests_what_its_suggest_and_observe_does() -> None:
    need_extra("hebo", "hebo")
    import pandas as pd
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    n_trials, startup = 3, 2
    np.random.seed(SEED)  # HEBO draws from the global generators: a HEBO user seeds them
    torch.manual_seed(SEED)
    space = DesignSpace().parse(
        [
            {"name": "C", "type": "pow", "lb": 1e-2, "ub": 1e2},
            {"name": "gamma", "type": "pow", "lb": 1e-4, "ub": 1.0},
            {"name": "kernel", "type": "cat", "categories": ["rbf", "linear"]},
        ]
    )
    optimizer = HEBO(space, rand_sample=startup, scramble_seed=SEED)
    native = []
    for _ in range(n_trials):
        rows: pd.DataFrame = optimizer.suggest(n_suggestions=1)
        params = plain(rows.iloc[0].to_dict())
        params = {
            k: params[k]
            for k in ("C", "kernel", "gamma")
            if k != "gamma" or params["kernel"] == "rbf"
        }
        native.append(params)
        state = np.random.get_state()  # SVC draws libsvm's seed from numpy's global generator;
        loss = _loss(params)  # the adapter's generators are its own, so the evaluations here
        np.random.set_state(state)  # leave them as they were too
        optimizer.observe(rows, np.array([[loss]]))
    np.random.seed(0)  # the adapter keeps generators of its own, whatever the process's say
    objective = Objective(_inner(), Budget(n_trials), on_trial=lambda _: None)
    options = ("strategy=hebo", f"strategy.adapter.rand_sample={startup}")
    assert _adapter_trials(*options, objective=objective, space=HEBO_SPACE) == native


@pytest.mark.slow
def test_ray_random_proposes_what_tunes_basic_variant_generator_does(ray_instance) -> None:
    """Ray Tune's own loop (`tune.Tuner` with BasicVariantGenerator, the same seed) over the
    space as a Ray user writes it: every parameter a domain, the inactive ones dropped."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    def trainable(config: dict) -> None:  # random search proposes without looking at losses
        from ray import tune

        tune.report({"loss": 0.0})

    space = {
        "C": tune.loguniform(1e-2, 1e2),
        "kernel": tune.choice(["rbf", "poly", "linear"]),
        "gamma": tune.loguniform(1e-4, 1.0),
        "degree": tune.randint(2, 5),
        "class_weight": tune.choice([None, "balanced"]),
        "max_iter": tune.lograndint(50, 5001),
    }
    with tempfile.TemporaryDirectory() as store:
        results = tune.Tuner(
            tune.with_resources(trainable, {"cpu": ray_instance.cluster_resources()["CPU"]}),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="loss", mode="min", num_samples=N_TRIALS,
                search_alg=BasicVariantGenerator(random_state=SEED),
            ),
            run_config=tune.RunConfig(storage_path=store, verbose=0),
        ).fit()  # fmt: skip
    native = [_active(result.config) for result in results]
    _same(_adapter_trials("strategy=ray_random"), native)


def synetune_space(cs: ModuleType) -> dict:
    """The space as a syne-tune user writes it: every parameter always (syne-tune has no
    conditions; gamma and degree are passed only where the kernel uses them)."""
    return {
        "C": cs.loguniform(1e-2, 1e2),
        "kernel": cs.choice(["rbf", "poly", "linear"]),
        "gamma": cs.loguniform(1e-4, 1.0),
        "degree": cs.randint(2, 4),
        "class_weight": cs.choice(["none", "balanced"]),  # its choices share one type
        "max_iter": cs.lograndint(50, 5000),
    }


@pytest.mark.slow
def test_synetune_bore_suggests_what_its_ask_and_tell_does() -> None:
    need_extra("syne_tune", "synetune")
    from syne_tune import config_space as cs
    from syne_tune.optimizer.baselines import BORE
    from syne_tune.optimizer.schedulers.ask_tell_scheduler import AskTellScheduler

    scheduler = AskTellScheduler(BORE(synetune_space(cs), "loss", random_seed=SEED))
    np.random.seed(SEED)  # BORE's differential evolution draws from numpy's global state
    native = []
    for _ in range(N_TRIALS):
        trial = scheduler.ask()
        weight = {"none": None}.get(trial.config["class_weight"], "balanced")
        native.append(_active(trial.config | {"class_weight": weight}))
        drawn = np.random.get_state()  # SVC's fit (random_state=None) draws from it too:
        loss = _loss(native[-1])  # the adapter keeps syne-tune's draws apart from the model's
        np.random.set_state(drawn)
        scheduler.tell(trial, {"loss": loss})
    _same(_adapter_trials("strategy=st_bore"), native)


SGD_FULL = 30  # SGDClassifier's epochs: the fidelity's full value; its low is a tenth
SGD_SPACE = SearchSpace.from_config(
    yaml.safe_load("""
        alpha: {type: float, low: 1.0e-6, high: 1.0e-1, log: true}
        loss: {type: categorical, choices: [log_loss, modified_huber]}
        n_iter_no_change: {type: int, low: 2, high: 10}
    """),
    "tests/test_native.py",
)


@functools.cache
def _sgd_inner() -> InnerCV:
    from sklearn.linear_model import SGDClassifier

    from harness.problem.fidelity import Fidelity

    inner = _inner()
    estimator = SGDClassifier(max_iter=SGD_FULL, tol=None, random_state=0)
    pipeline = build_pipeline(ModelSpec("sgd", "classification", estimator, SGD_SPACE, True))
    fidelity = Fidelity("max_iter", 0.1, SGD_FULL)  # refits each rung: a loss per (params, f)
    return InnerCV(pipeline, inner.X, inner.y, inner.splits, inner.scorer, fidelity=fidelity)


def _asha_by_hand(brackets: int, n_trials: int) -> list[tuple[dict, float]]:
    """syne-tune's ASHA driven as its simulator drives it with one worker: each trial reports
    after every epoch of the fidelity (a tenth of the full one) until the scheduler stops it
    or it trained fully; then the next trial starts. Each trial's config and how far it went."""
    from syne_tune import config_space as cs
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.scheduler import SchedulerDecision
    from syne_tune.optimizer.schedulers.asha import AsynchronousSuccessiveHalving

    space = {
        "alpha": cs.loguniform(1e-6, 1e-1),
        "loss": cs.choice(["log_loss", "modified_huber"]),
        "n_iter_no_change": cs.randint(2, 10),
    }
    scheduler = AsynchronousSuccessiveHalving(
        space, "loss", time_attr="epoch", max_t=10, grace_period=1, reduction_factor=3,
        brackets=brackets, random_seed=SEED,
    )  # fmt: skip
    np.random.seed(SEED)  # its brackets and random configurations: numpy's global state
    native: list[tuple[dict, float]] = []
    for trial_id in range(n_trials):
        trial = Trial(trial_id, scheduler.suggest().config, creation_time=None)
        scheduler.on_trial_add(trial)
        for epoch in range(1, 11):
            loss = -float(np.mean(_sgd_inner().evaluate(trial.config, epoch / 10).scores))
            decision = scheduler.on_trial_result(trial, {"loss": loss, "epoch": epoch})
            if decision != SchedulerDecision.CONTINUE:
                break
        native.append((plain(trial.config), epoch / 10))
    return native


@pytest.mark.slow
@pytest.mark.parametrize("name", ["st_asha", "st_hyperband"])
def test_synetune_asha_decides_as_its_scheduler_driven_by_hand(name: str) -> None:
    """The adapter reports only where ASHA decides (its rungs, and the full fidelity): the
    same trials, each stopped or trained fully where the scheduler driven by hand left it."""
    need_extra("syne_tune", "synetune")
    objective = Objective(_sgd_inner(), Budget(N_TRIALS), on_trial=lambda _: None)
    adapter = compose_config(f"strategy={name}").strategy.adapter
    strategy = instantiate(adapter, _partial_=True)(space=SGD_SPACE, seed=SEED)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    reached: dict[str, tuple[dict, float]] = {}  # each trial's config, how far it went
    for t in sorted(objective.trials, key=lambda t: t["trial"]):
        reached[str(t["params"])] = (t["params"], t["fidelity"])
    ours = list(reached.values())[:-1]  # the last one the budget may have cut short
    native = _asha_by_hand(3 if name == "st_hyperband" else 1, len(ours))  # 3: rungs 1, 3, 9
    assert ours == native
    assert {f for _, f in native} >= {0.1, 1.0}  # some stopped at the first rung, some not


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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kt_random", "kt_bayes"])
def test_keras_tuner_suggests_what_its_tuner_does(name: str, tmp_path: Path) -> None:
    from adapters.kerastuner_search import kt  # imported with the Keras backend it sets

    if kt is None:
        engine_missing("the kerastuner extra is not installed")

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


@pytest.mark.slow
def test_ax_proposes_what_its_client_loop_does() -> None:
    """Ax's Client as its tutorial drives it, on the small space of HEBO's test (Ax's GP takes
    seconds a proposal here): a Sobol start of 2, then 2 proposals of its GP."""
    need_extra("ax", "ax")
    from ax.api import ChoiceParameterConfig, Client, RangeParameterConfig

    n_trials, startup = 4, 2
    client = Client(random_seed=SEED)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig("C", (1e-2, 1e2), "float", scaling="log"),
            ChoiceParameterConfig("kernel", ["rbf", "linear"], "str", is_ordered=False),
            RangeParameterConfig("gamma", (1e-4, 1.0), "float", scaling="log"),
        ]
    )
    client.configure_optimization(objective="-loss")
    client.configure_generation_strategy(initialization_budget=startup)
    native = []
    for _ in range(n_trials):
        [(index, point)] = client.get_next_trials(max_trials=1).items()
        params = {k: point[k] for k in ("C", "kernel", "gamma")}
        if params["kernel"] != "rbf":
            del params["gamma"]
        native.append(params)
        client.complete_trial(index, raw_data={"loss": _loss(params)})
    objective = Objective(_inner(), Budget(n_trials), on_trial=lambda _: None)
    options = ("strategy=ax", f"strategy.adapter.initialization_budget={startup}")
    assert _adapter_trials(*options, objective=objective, space=HEBO_SPACE) == native


def flaml_space(tune: ModuleType) -> dict:
    """The space as a FLAML user writes it: the kernel a choice of dicts, each holding the
    parameters that kernel uses; integer upper bounds exclusive."""
    return {
        "C": tune.loguniform(1e-2, 1e2),
        "kernel": tune.choice(
            [
                {"kernel": "rbf", "gamma": tune.loguniform(1e-4, 1.0)},
                {
                    "kernel": "poly",
                    "gamma": tune.loguniform(1e-4, 1.0),
                    "degree": tune.randint(2, 5),
                },
                {"kernel": "linear"},
            ]
        ),
        "class_weight": tune.choice([None, "balanced"]),
        "max_iter": tune.lograndint(50, 5001),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["flaml_cfo", "flaml_bs"])
def test_flaml_proposes_what_its_tune_run_does(name: str) -> None:
    """`flaml.tune.run` with the searcher made as a FLAML user makes it (same seed, the yaml's
    cost), each configuration scored on the same inner CV; its fit seconds are its own, so CFO's
    equal proposals also show that its search does not depend on the cost it is told."""
    need_extra("flaml", "flaml")
    from flaml import tune
    from flaml.tune.searcher import CFO, BlendSearch

    adapter = compose_config(f"strategy={name}").strategy.adapter
    searcher = {"CFO": CFO, "BlendSearch": BlendSearch}[adapter.searcher]
    space = flaml_space(tune)
    native: list[dict] = []

    def evaluate(config: dict) -> dict:
        params = {k: v for k, v in config.items() if k != "kernel"} | config["kernel"]
        native.append({k: params[k] for k in SPACE.names if k in params})
        started = time.perf_counter()
        loss = _loss(native[-1])
        return {"loss": loss, "fit_seconds": time.perf_counter() - started}

    algorithm = searcher(metric="loss", mode="min", space=space, seed=SEED, cost_attr=adapter.cost)
    tune.run(evaluate, config=space, metric="loss", mode="min", num_samples=N_TRIALS,
             search_alg=algorithm, verbose=0)  # fmt: skip
    _same(_adapter_trials(f"strategy={name}"), native)
