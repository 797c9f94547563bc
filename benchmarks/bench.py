"""tunebench's performance benchmark: run by hand, never in CI; writes benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench.py                 # every figure (~15 minutes, 2 cores)
    .venv/bin/python benchmarks/bench.py grid bookkeeping # some of them

Each figure is a ratio of two things measured side by side in this one run, alternating
between the two sides so that a change in machine load hits both alike: the harness against
the same work written directly with scikit-learn or optuna, late trials against early ones,
a parallel sweep against the same studies in sequence. Timings are wall-clock.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from hydra import compose, initialize_config_dir
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, cross_validate
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.sklearn_sampling import RandomSearch  # noqa: E402
from harness.engine.objective import Budget, InnerCV, Objective  # noqa: E402
from harness.engine.progress import StudyProgress  # noqa: E402
from harness.engine.study import Study, prepare, run  # noqa: E402
from harness.engine.workers import WorkerPool  # noqa: E402
from harness.problem.models import PREP, STEP, build_pipeline, pipeline_params  # noqa: E402
from harness.problem.optuna_space import suggest  # noqa: E402
from harness.problem.preprocessing import Prepared, once_per_split  # noqa: E402
from harness.problem.protocol import derive_seed  # noqa: E402
from harness.store import resume  # noqa: E402
from harness.store.records import StudyRecords  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
STORE = ROOT / "benchmarks" / "results.json"  # every figure's latest run, RESULTS.md's source
NOTES = "## Notes"
SHARED = Path(os.environ.get("TUNEBENCH_SHARED", ROOT.parent / "shared"))
ROUNDS = 3  # each side-by-side comparison, alternated this many times; the median ratio counts
CORES = len(os.sched_getaffinity(0))
optuna.logging.set_verbosity(optuna.logging.WARNING)


def config(*overrides: str) -> Any:
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


def seconds(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of this process (BLAS threads included) spent in `fn`."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def figure(what: str, measured: float, bound: str, met: bool, config: tuple, **more: Any) -> dict:
    """One row of RESULTS.md; `more` may hold ours_s, theirs_s (seconds) and a note."""
    row = {"what": what, "ratio": float(measured), "bound": bound, "ok": bool(met)}
    return row | {"config": config} | more


def side_by_side(
    ours: Callable[[], Any], theirs: Callable[[], Any], rounds: int = ROUNDS, cpu: bool = False
) -> dict[str, float]:
    """Median over alternated rounds of ours / theirs in wall-clock seconds, with the median
    seconds of each, and the same ratio in CPU seconds (which other processes on a shared
    machine disturb less) as a note; `cpu` swaps the two (the ratio in CPU seconds, the
    wall-clock one in the note)."""
    pairs = [(seconds(ours), seconds(theirs)) for _ in range(rounds)]
    counted, other = (1, 0) if cpu else (0, 1)
    noted = statistics.median(a[other] / b[other] for a, b in pairs)
    kind = "wall-clock seconds" if cpu else "CPU seconds of the benchmark process"
    return {
        "ratio": statistics.median(a[counted] / b[counted] for a, b in pairs),
        "ours_s": statistics.median(a[counted] for a, _ in pairs),
        "theirs_s": statistics.median(b[counted] for _, b in pairs),
        "note": f"the same in {kind}: {noted:.3f}",
    }


def harness_study(study: Study) -> Callable[[], Any]:
    """The whole study through the harness, in a fresh folder each time (never resumed)."""
    return lambda: run(study, Path(tempfile.mkdtemp(prefix="bench-")))


def outer_folds(study: Study) -> Iterator[tuple[Any, pd.DataFrame, pd.Series, list]]:
    """Each outer split of the study, its training rows and their inner splits."""
    X, y, task, seed = study.dataset.X, study.dataset.y, study.dataset.task, study.seed
    for split in study.protocol.outer_splits(X, y, task, seed):
        X_train, y_train = X.iloc[split.train], y.iloc[split.train]
        inner = list(study.protocol.inner_splitter(task, seed).split(X_train, y_train))
        yield split, X_train, y_train, inner


def by_hand(study: Study, tune: Callable[[Any, Any, list, int], dict]) -> Callable[[], None]:
    """The same nested CV written directly: per outer fold `tune` on the outer-training rows
    (with the fold's seed, as the harness derives it) returns the best parameters, which are
    refit and scored; the defaults are scored by inner CV and refit too, as the harness does
    for its fold table."""
    X, y, seed = study.dataset.X, study.dataset.y, study.seed
    pipeline, scorer = build_pipeline(study.model), study.metric.scorer

    def nested() -> None:
        for split, X_train, y_train, inner in outer_folds(study):
            fold_seed = derive_seed(seed, split.repeat, split.fold)
            for params in (tune(X_train, y_train, inner, fold_seed), {}):
                model = clone(pipeline).set_params(**pipeline_params(params)).fit(X_train, y_train)
                scorer(model, X.iloc[split.test], y.iloc[split.test])
            cross_validate(clone(pipeline), X_train, y_train, cv=inner, scoring=scorer)

    return nested


def nested_gridsearchcv(study: Study, resolution: int) -> Callable[[], None]:
    """The study's nested CV by hand, tuned by GridSearchCV over the `grid` strategy's grid
    on the whole pipeline."""
    grid = study.model.space.sklearn_grid(resolution, prefix=f"{STEP}__")
    pipeline, scorer = build_pipeline(study.model), study.metric.scorer

    def gridsearchcv(X, y, inner, seed):
        searcher = GridSearchCV(pipeline, grid, cv=inner, scoring=scorer, refit=False)
        return {k.removeprefix(f"{STEP}__"): v for k, v in searcher.fit(X, y).best_params_.items()}

    return by_hand(study, gridsearchcv)


def grid_vs_sklearn() -> dict[str, Any]:
    overrides = ("strategy=grid", "strategy.adapter.resolution=4", "model=svc", "dataset=digits",
                 "budget.n_trials=20", "protocol.outer_folds=3")  # fmt: skip
    study = prepare(config(*overrides))
    timed = side_by_side(harness_study(study), nested_gridsearchcv(study, 4))
    what = "harness `strategy=grid` study / nested GridSearchCV by hand"
    ratio = timed.pop("ratio")
    return figure(what, ratio, "<= 1.05", ratio <= 1.05, overrides, **timed)


def estimator_only(study: Study, resolution: int) -> Callable[[], None]:
    """The estimator's own work in `nested_gridsearchcv`, alone: the same fits and scores, on
    rows preprocessed beforehand (not timed). Any code that gives the same scores does at
    least this much, so its ratio to the hand-written CPU seconds is the floor of the harness's."""
    X, y = study.dataset.X, study.dataset.y
    grid = list(ParameterGrid(study.model.space.sklearn_grid(resolution, prefix=f"{STEP}__")))
    pipeline, scorer = build_pipeline(study.model), study.metric.scorer
    folds = [
        (once_per_split(pipeline, X_train, y_train, inner),
         once_per_split(pipeline, X, y, [(split.train, split.test)]))
        for split, X_train, y_train, inner in outer_folds(study)
    ]  # fmt: skip
    for prepared in (p for fold in folds for p in fold):
        blocks = prepared.pipeline.named_steps[PREP].blocks
        for k in range(len(prepared.splits)):
            blocks.block(k)  # preprocessed now, so that the timing leaves it out

    def scores(prepared: Prepared, params: dict) -> float:
        model = clone(prepared.pipeline).set_params(**params)
        return cross_validate(model, prepared.X, prepared.y, cv=prepared.splits, scoring=scorer)[
            "test_score"
        ].mean()

    def work() -> None:
        for tuning, refit in folds:
            best = grid[int(np.argmax([scores(tuning, params) for params in grid]))]
            scores(tuning, {})  # the defaults' inner CV
            for params in (best, {}):
                scores(refit, params)

    return work


PREPROCESSED = (  # model, dataset, grid resolution (20-24 configurations), options, bound
    ("logreg", "credit-g", 3, (), 0.5),
    # C up to 10 (not 1,000): a linear-kernel SVC at C=1,000 fits for minutes on credit-g,
    # which would make the figure a measure of that one fit
    ("svc", "credit-g", 4, ("model.space.C.high=10.0",), 0.5),
    ("knn", "spambase", 6, (), 0.6),
    ("logreg", "adult", 3, (), 0.6),
)  # fmt: skip


def preprocessing_once() -> list[dict[str, Any]]:
    """Preprocessing fitted once per split: the harness's grid study against the same nested
    GridSearchCV over the whole pipeline, in process CPU seconds, BLAS on one thread."""
    openml_copy()
    rows = []
    for model, dataset, resolution, options, bound in PREPROCESSED:
        overrides = ("strategy=grid", f"strategy.adapter.resolution={resolution}",
                     f"model={model}", *options, f"dataset={dataset}", "dataset.max_rows=5000",
                     "budget.n_trials=100", "protocol.outer_folds=3")  # fmt: skip
        study = prepare(config(*overrides))
        with threadpool_limits(1):
            timed = side_by_side(harness_study(study), nested_gridsearchcv(study, resolution),
                                 cpu=True)  # fmt: skip
            floor = statistics.median(
                seconds(estimator_only(study, resolution))[1] for _ in range(ROUNDS)
            )
        what = f"harness `strategy=grid` study / nested GridSearchCV by hand, CPU s ({model})"
        ratio = timed.pop("ratio")
        timed["floor"] = floor / timed["theirs_s"]
        timed["note"] += (
            f"; the estimator's own fits and scores alone (rows preprocessed beforehand) take "
            f"{floor:.4g} CPU s, {timed['floor']:.3f} of the hand-written: no code giving the "
            "same scores goes below that ratio"
        )
        rows.append(figure(what, ratio, f"<= {bound}", ratio <= bound, overrides, **timed))
    return rows


def tpe_vs_optuna() -> dict[str, Any]:
    overrides = ("strategy=tpe", "model=svc", "dataset=digits", "budget.n_trials=30",
                 "protocol.outer_folds=3")  # fmt: skip
    study = prepare(config(*overrides))
    pipeline, scorer, space = build_pipeline(study.model), study.metric.scorer, study.model.space
    startup = study.config.strategy.adapter.sampler.n_startup_trials

    def optimize(X, y, inner, seed):
        def objective(trial: optuna.Trial) -> float:
            model = clone(pipeline).set_params(**pipeline_params(suggest(trial, space)))
            return -cross_validate(model, X, y, cv=inner, scoring=scorer)["test_score"].mean()

        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
        native = optuna.create_study(sampler=sampler)
        native.optimize(objective, n_trials=study.budget.n_trials)
        return native.best_params

    timed = side_by_side(harness_study(study), by_hand(study, optimize))
    what = "harness `strategy=tpe` study / optuna `study.optimize` by hand"
    ratio = timed.pop("ratio")
    return figure(what, ratio, "<= 1.05", ratio <= 1.05, overrides, **timed)


def objective_for(study: Study, directory: Path, n_trials: int) -> tuple[Objective, list]:
    """An Objective wired as a study wires it (journal, progress bar), timing its evaluations."""
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    splits = list(study.protocol.inner_splitter(task, 0).split(X, y))
    inner = InnerCV(build_pipeline(study.model), X, y, splits, study.metric.scorer)
    evaluating: list[float] = []

    def evaluate(params, fidelity=None):
        started = time.perf_counter()
        try:
            return inner.evaluate(params, fidelity)
        finally:
            evaluating.append(time.perf_counter() - started)

    place = study.labels() | {"repeat": 0, "outer_fold": 0}
    journal = resume.journal(StudyRecords(directory), place)
    bar = StudyProgress(study.labels(), 1, n_trials, directory)

    def on_trial(trial: dict) -> None:
        journal(trial)
        bar.trial(trial)

    budget = Budget(n_trials)
    return Objective(inner, budget, on_trial, evaluate=evaluate), evaluating


def bookkeeping() -> dict[str, Any]:
    """Per-trial time the harness adds around an evaluation (the call minus the evaluation:
    budget checks, the trial record, the journal append with its fsync, the progress bar)."""
    n, overrides = 10_000, ("model=tree", "dataset=iris", "protocol.inner_folds=2")
    study = prepare(config(*overrides))
    objective, evaluating = objective_for(study, Path(tempfile.mkdtemp(prefix="bench-")), n)
    calls: list[float] = []
    for params in RandomSearch(study.model.space, 0).candidates(n):
        started = time.perf_counter()
        objective(params)
        calls.append(time.perf_counter() - started)
    extra = np.array(calls) - np.array(evaluating)
    early, late = float(np.median(extra[50:150])), float(np.median(extra[-100:]))
    what = "bookkeeping per trial at trial 10,000 / at trial 100 (decision tree, iris)"
    ratio, shown = late / early, (*overrides, f"({n} trials)")
    return figure(what, ratio, "<= 2", ratio <= 2, shown, ours_s=late, theirs_s=early)


def isolation_overhead() -> dict[str, Any]:
    """A trial evaluated in the killable worker (what budget.trial_timeout_s switches on)
    against the same trial in-process, alternating trial by trial so that machine load hits
    both alike: a pipe round trip and pickling, per trial."""
    n, overrides = 300, ("model=tree", "dataset=iris", "protocol.inner_folds=2")
    study = prepare(config(*overrides))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    splits = list(study.protocol.inner_splitter(task, 0).split(X, y))
    inner = InnerCV(build_pipeline(study.model), X, y, splits, study.metric.scorer)
    started = time.perf_counter()
    worker = WorkerPool(1, timeout_s=60).bind(inner.evaluate)
    start_up = time.perf_counter() - started
    times: dict[str, list[float]] = {"isolated": [], "plain": []}
    try:
        for params in RandomSearch(study.model.space, 0).candidates(n):
            for name, evaluate in (("isolated", worker.evaluate), ("plain", inner.evaluate)):
                started = time.perf_counter()
                evaluate(params)
                times[name].append(time.perf_counter() - started)
    finally:
        worker.close()
    isolated, plain = (statistics.median(times[k]) for k in ("isolated", "plain"))
    what = "trial in the killable worker / in-process (median seconds a trial, tree on iris)"
    bound = f"reported: {(isolated - plain) * 1e3:+.2f} ms a trial, {start_up:.2f} s a worker start"
    shown = (*overrides, "budget.trial_timeout_s=60", f"({n} trials each)")
    return figure(what, isolated / plain, bound, True, shown, ours_s=isolated, theirs_s=plain)


WORKERS = ("strategy=random", "model=svc", "dataset=spambase")  # 4,601 rows, OpenML 44


def workers() -> list[dict[str, Any]]:
    """k=2 against k=1 real workers: the pool alone, then whole studies."""
    return [worker_pool(), worker_studies()]


def worker_studies() -> dict[str, Any]:
    """The same random-search study (svc on spambase, 8 trials, 2 outer folds, no evaluation
    cache) with `budget.workers=2 budget.clock=real` against `budget.workers=1` (evaluated in
    the study's process), alternated, each in a fresh folder: the seconds its searches took
    (the folds' `search_seconds`; the refits and the defaults' inner CV aside)."""
    openml_copy()
    base = (*WORKERS, "budget.n_trials=8", "protocol.outer_folds=2", "run.cache=false")
    real = ("budget.clock=real",)
    studies = {k: prepare(config(*base, f"budget.workers={k}", *real)) for k in (2, 1)}
    pairs = [tuple(_search_seconds(studies[k]) for k in (2, 1)) for _ in range(ROUNDS)]
    ratio = statistics.median(a / b for a, b in pairs)
    what = f"random-search study on 2 / 1 real workers (search wall seconds, {CORES} cores)"
    shown = ("python -m harness", *base, "budget.workers=2,1", *real)
    return figure(what, ratio, "<= 0.6", ratio <= 0.6, shown,
                  ours_s=statistics.median(a for a, _ in pairs),
                  theirs_s=statistics.median(b for _, b in pairs))  # fmt: skip


def _search_seconds(study: Study) -> float:
    _, folds = run(study, Path(tempfile.mkdtemp(prefix="bench-")))
    return float(folds["search_seconds"].sum())


def worker_pool() -> dict[str, Any]:
    """The same 8 random-search configurations (svc on spambase: an evaluation, 3 inner fits,
    takes 1-4 s) evaluated through the worker pool of the real clock with k=2 against k=1,
    alternated: each time a worker frees up it gets the next configuration, as the loop
    does. Both pools are started and bound before the clock starts (a worker start is paid
    once per study); the figure is the wall seconds of the 8 evaluations."""
    openml_copy()
    study = prepare(config(*WORKERS))
    X, y, task = study.dataset.X, study.dataset.y, study.dataset.task
    splits = list(study.protocol.inner_splitter(task, 0).split(X, y))
    inner = InnerCV(build_pipeline(study.model), X, y, splits, study.metric.scorer)
    configs = list(RandomSearch(study.model.space, 0).candidates(8))
    pools = {k: WorkerPool(k).bind(inner.evaluate) for k in (2, 1)}
    spent: dict[int, list[float]] = {2: [], 1: []}  # fit + score seconds of each evaluation
    try:
        pairs = [
            tuple(seconds(lambda k=k: spent[k].extend(evaluate_all(pools[k], configs)))[0]
                  for k in (2, 1))
            for _ in range(ROUNDS)
        ]  # fmt: skip
    finally:
        for pool in pools.values():
            pool.close()
    ratio = statistics.median(a / b for a, b in pairs)
    one = spent[1][: len(configs)]  # the first k=1 round, in the configurations' order
    note = (
        f"fit + score seconds of an evaluation at k=1: median {statistics.median(spent[1]):.2f}, "
        f"{min(spent[1]):.2f} to {max(spent[1]):.2f}; the same at k=2 / at k=1: "
        f"{statistics.mean(spent[2]) / statistics.mean(spent[1]):.2f} (above 1: the two workers "
        f"did not have a core each); k=2 / k=1 if they had, given these seconds and the order "
        f"the configurations go out in: {makespan(one, 2) / sum(one):.2f}; {CORES} cores"
    )
    what = f"8 evaluations through the worker pool, k=2 / k=1 (wall seconds, {CORES} cores)"
    shown = (*WORKERS, "(8 configurations, WorkerPool)")
    return figure(what, ratio, "<= 0.6", ratio <= 0.6, shown,
                  ours_s=statistics.median(a for a, _ in pairs),
                  theirs_s=statistics.median(b for _, b in pairs), note=note)  # fmt: skip


def makespan(costs: list[float], k: int) -> float:
    """Seconds until `costs`, handed in order to whichever of k workers frees up first, are
    all done."""
    free = [0.0] * k
    for cost in costs:
        free[free.index(min(free))] += cost
    return max(free)


def evaluate_all(pool: WorkerPool, configs: list[dict[str, Any]]) -> list[float]:
    """Every configuration through `pool`, the next to whichever worker is idle; the fit +
    score seconds of each evaluation."""
    queue, spent = list(configs), []
    while queue or pool.running():
        for worker in pool.idle()[: len(queue)]:
            pool.submit(worker, None, queue.pop(0))
        for _, _, outcome in pool.wait():
            if isinstance(outcome, BaseException):
                raise outcome
            spent.append(outcome.fit_seconds + outcome.score_seconds)
    return spent


SWEEP_ROUNDS = 1  # a round is ~2 minutes on 2 cores
SWEEP = ("-m", "strategy=grid,random", "seed=0,1", "model=svc", "dataset=digits",
         "budget.n_trials=80", "protocol.outer_folds=3", "~hydra.callbacks.report")  # fmt: skip


def cli(*overrides: str, cwd: Path, env: dict | None = None, session: bool = False) -> float:
    """`python -m harness` in `cwd` (so a fresh results store): its wall seconds. `session`:
    in a session of its own, as a command typed in a terminal (Linux shares the CPU out by
    session when its autogroups are on, so a session holds one share on a loaded machine)."""
    full_env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"} | (env or {})
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", *overrides], cwd=cwd, env=full_env,
                   check=True, capture_output=True, start_new_session=session)  # fmt: skip
    return time.perf_counter() - started


def sweep() -> list[dict[str, Any]]:
    """A 4-study sweep, the joblib launcher (a study per core) against one study at a time."""
    pairs, utilisation = [], []
    for _ in range(SWEEP_ROUNDS):
        parallel_dir, sequence_dir = (Path(tempfile.mkdtemp(prefix="bench-")) for _ in "ab")
        wall = cli(*SWEEP, cwd=parallel_dir)
        pairs.append((wall, cli(*SWEEP, "hydra.launcher.n_jobs=1", cwd=sequence_dir)))
        utilisation.append(model_seconds(parallel_dir / "results" / "studies") / (wall * CORES))
    ratio, used = statistics.median(a / b for a, b in pairs), statistics.median(utilisation)
    command = ("python -m harness", *SWEEP)
    speed = f"4-study sweep on {CORES} cores (joblib launcher) / the same in sequence"
    use = "sweep CPU use: model fit-and-score seconds / (wall seconds x cores)"
    return [
        figure(speed, ratio, "<= 0.55", ratio <= 0.55, command,
               ours_s=statistics.median(a for a, _ in pairs),
               theirs_s=statistics.median(b for _, b in pairs)),
        figure(use, used, ">= 0.9", used >= 0.9, command),
    ]  # fmt: skip


def model_seconds(store: Path) -> float:
    """Seconds spent fitting and scoring models: every trial's inner CV, plus per outer fold
    what follows the search (the defaults' inner CV, the refits and their outer scoring)."""
    trials = [pd.read_parquet(p) for p in store.glob("*/trials.parquet")]
    folds = [pd.read_parquet(p) for p in store.glob("*/folds.parquet")]
    searched = sum((t["fit_seconds"] + t["score_seconds"]).sum() for t in trials)
    return searched + sum((f["wall_seconds"] - f["search_seconds"]).sum() for f in folds)


PROBE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_maxrss, r.ru_utime + r.ru_stime)"
)  # the peak resident set (Linux: in KiB) and CPU seconds of the processes it runs


def openml_copy() -> dict[str, str]:
    """A fresh copy of the shared OpenML cache, for this process and the environment of the
    commands it runs (openml writes into its cache)."""
    import openml

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    shutil.copytree(SHARED / "openml-cache" / "org", work / "openml" / "org")
    openml.config.set_root_cache_directory(work / "openml")
    env = {"OPENML_CACHE_DIR": str(work / "openml"), "OPENML_SKIP_PARQUET": "true"}
    os.environ.update(env)
    return env


def probed(*overrides: str, cwd: Path) -> tuple[float, float, float]:
    """`python -m harness` in `cwd`: wall seconds, CPU seconds (every process it started
    included), peak resident MB of its largest process."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    command = [sys.executable, "-c", PROBE, sys.executable, "-m", "harness", *overrides]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    peak_kb, cpu = done.stdout.split()[-2:]
    return time.perf_counter() - started, float(cpu), int(peak_kb) / 1024


def peak_memory() -> dict[str, Any]:
    """Peak resident memory of a `dataset=adult` study (OpenML, from a copy of the cache)."""
    openml_copy()
    overrides = ("strategy=random", "dataset=adult", "budget.n_trials=10")
    wall, _, peak_mb = probed(*overrides, cwd=Path(tempfile.mkdtemp(prefix="bench-")))
    what = "peak memory of a `dataset=adult` study (largest process, MB)"
    return figure(what, peak_mb, "reported", True, ("python -m harness", *overrides), ours_s=wall)


MISSION = ("strategy=tpe", "dataset=adult")  # the mission's command: 5 outer folds x 20 trials
CORES_SMALL = (*MISSION, "budget.n_trials=4")
ONE_CORE = ("protocol.n_jobs=1",)  # the default before outer folds ran at once


def cores(*overrides: str, rounds: int) -> dict[str, Any]:
    """A single study at its default (outer folds at once, harness.engine.folds) against
    `protocol.n_jobs=1` (one core, the default before), each in a fresh store and a session of
    its own, alternated `rounds` times (the first side swapped each round): wall seconds. The
    note has the 1-minute load average before each side, whether both sides gave the same
    fold results, and the floor of folds at once on idle cores given the one-core run's folds
    (each fold's wall seconds handed, in order, to whichever core frees up first)."""
    env = openml_copy()
    pairs, loads, floors, same = [], [], [], True
    for n in range(rounds):
        runs = {}
        for extra in ((), ONE_CORE) if n % 2 == 0 else (ONE_CORE, ()):
            cwd = Path(tempfile.mkdtemp(prefix="bench-"))
            loads.append((extra, os.getloadavg()[0]))
            wall = cli(*overrides, *extra, cwd=cwd, env=env, session=True)
            (folds,) = (pd.read_parquet(p) for p in cwd.glob("results/studies/*/folds.parquet"))
            runs[extra] = wall, folds
        (at_once, by_default), (one, by_one) = runs[()], runs[ONE_CORE]
        same = same and _comparable(by_default).equals(_comparable(by_one))
        walls = list(by_one["wall_seconds"])
        floors.append(makespan(walls, CORES) / sum(walls))
        pairs.append((at_once, one))
    ratio = statistics.median(a / b for a, b in pairs)
    what = f"a single study at its default (outer folds at once) / on one core, {CORES} cores"
    note = (
        "1-minute load before each side: "
        + ", ".join(f"{'one core' if extra else 'default'} {load:.1f}" for extra, load in loads)
        + f"; the same fold results both ways: {'yes' if same else 'NO'}; folds at once on "
        + "idle cores, given the one-core runs' fold seconds (median over rounds; without the "
        + f"inner CV spread at the end): {statistics.median(floors):.2f}"
    )
    return figure(what, ratio, "<= 0.6", ratio <= 0.6 and same, ("python -m harness", *overrides),
                  ours_s=statistics.median(a for a, _ in pairs),
                  theirs_s=statistics.median(b for _, b in pairs), note=note)  # fmt: skip


CORES_ROUNDS = 2  # cores-small: about 7 minutes a round on 2 idle cores
MISSION_ROUNDS = 1  # the mission's command takes about 17 minutes on one idle core


BUSY = "while True: pass"  # another CPU-bound process: one core's worth of load


def under_load() -> dict[str, Any]:
    """The default study beside one other CPU-bound process / on its own, alternated. A study
    holds its BLAS threads to one, so it neither spins against the other process nor slows
    down more than the second core's share (the ratio was 5 with the libraries' default
    threads, 30 s against 6 s)."""
    pairs = []
    for _ in range(ROUNDS):
        alone = cli(cwd=Path(tempfile.mkdtemp(prefix="bench-")))
        busy = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            loaded = cli(cwd=Path(tempfile.mkdtemp(prefix="bench-")))
        finally:
            busy.kill()
            busy.wait()
        pairs.append((loaded, alone))
    ratio = statistics.median(a / b for a, b in pairs)
    what = "the default study beside another CPU-bound process / alone"
    return figure(what, ratio, "<= 1.5", ratio <= 1.5, ("python -m harness",),
                  ours_s=statistics.median(a for a, _ in pairs),
                  theirs_s=statistics.median(b for _, b in pairs))  # fmt: skip


QUICK = ("-m", "sweep=quick", "~hydra.callbacks.report")


def evaluation_cache() -> dict[str, Any]:
    """The quick sweep with the evaluation cache against `run.cache=false`, each in a fresh
    store: CPU seconds of every process of the sweep; the note says how often the defaults'
    inner CV was computed per problem instance and whether the tables are the same."""
    openml_copy()
    cached, uncached = (Path(tempfile.mkdtemp(prefix="bench-")) for _ in "ab")
    ours = probed(*QUICK, cwd=cached)
    theirs = probed(*QUICK, "run.cache=false", cwd=uncached)
    stores = [d / "results" / "studies" for d in (cached, uncached)]
    folds = pd.concat(pd.read_parquet(p) for p in stores[0].glob("*/folds.parquet"))
    computed = folds[folds.default_inner_cache == "miss"].groupby(["dataset", "outer_fold"]).size()
    instances = folds.groupby(["dataset", "outer_fold"]).ngroups
    same = all(
        _comparable(pd.read_parquet(path)).equals(
            _comparable(pd.read_parquet(stores[1] / path.relative_to(stores[0])))
        )
        for path in stores[0].glob("*/*.parquet")
    )
    note = (
        f"the defaults' inner CV computed {computed.sum()} times on {instances} problem "
        f"instances ({len(folds)} outer folds); tables equal to the uncached run's, timing "
        f"columns and cache flags aside: {'yes' if same else 'NO'}; wall seconds "
        f"{ours[0]:.1f} / {theirs[0]:.1f}; stores kept in {cached} and {uncached}"
    )
    what = "quick sweep CPU seconds: evaluation cache on / run.cache=false"
    ratio = ours[1] / theirs[1]
    return figure(what, ratio, "reported", True, ("python -m harness", *QUICK),
                  ours_s=ours[1], theirs_s=theirs[1], note=note)  # fmt: skip


CONTINUATION = ("strategy=hyperband", "model=hgb", "dataset=credit-g", "budget.n_trials=8",
                "protocol.outer_folds=2", "run.cache=false")  # fmt: skip


def continuation() -> list[dict[str, Any]]:
    """`strategy=hyperband model=hgb` with rungs that continue the last rung's models against
    the same study with rungs that refit (`model.fidelity.continue=false`), at the same budget
    (full-evaluation equivalents, a continued rung charged its increment): total evaluation
    seconds, the fit + score seconds of every trial, alternated rounds in fresh stores.

    The continued study spends what it saves on more trials, so a second row compares the
    trials both studies ran: the same configurations at the same rungs in the same order
    (hgb's continued models equal refitted ones, so the strategy decides alike), up to where
    the refitting study's budget ran out."""
    openml_copy()
    studies = {flag: prepare(config(*CONTINUATION, f"model.fidelity.continue={flag}"))
               for flag in ("true", "false")}  # fmt: skip
    rounds = []
    for r in range(ROUNDS):
        order = ("true", "false") if r % 2 == 0 else ("false", "true")
        with threadpool_limits(1):
            runs = {flag: run(studies[flag], Path(tempfile.mkdtemp(prefix="bench-")))[0]
                    for flag in order}  # fmt: skip
        rounds.append(_continued_seconds(runs["true"], runs["false"]))
    rows = []
    for i, what in enumerate(("at the same budget", "over the trials both ran")):
        ours, theirs = (statistics.median(found[i][side] for found in rounds) for side in (0, 1))
        ratio = statistics.median(found[i][0] / found[i][1] for found in rounds)
        trials = rounds[-1][2]
        note = (f"trials {trials[0]} continued ({trials[2]} of them continuing a rung) / "
                f"{trials[1]} refitting, {trials[3]} in common with equal inner scores: "
                f"{'yes' if trials[4] else 'NO'}; boosting iterations trained over the common "
                f"trials, continued / refitting: {trials[5]:.3f} (what the seconds would show "
                "if an iteration cost the same in both and a fit cost nothing else); "
                f"uptime load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        rows.append(figure(
            f"hyperband hgb evaluation seconds, continue: true / false, {what}", ratio,
            "<= 0.6", ratio <= 0.6, CONTINUATION, ours_s=ours, theirs_s=theirs, note=note,
        ))  # fmt: skip
    return rows


def _continued_seconds(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple:
    """(all seconds continued, refitting), (the same over common trials), trial counts."""
    key = ["repeat", "outer_fold", "trial"]
    both = ours.merge(theirs, on=key, suffixes=("", "_r"))
    same = (both.params.astype(str) == both.params_r.astype(str)) & (
        both.fidelity == both.fidelity_r
    )
    common = both[same.groupby([both.repeat, both.outer_fold]).cummin()]
    equal = bool((common.inner_mean == common.inner_mean_r).all())
    work = _trained(common).sum() / common.resource_r.sum()
    counts = (len(ours), len(theirs), int(ours.continued.sum()), len(common), equal, work)
    return (
        (_evaluation_seconds(ours), _evaluation_seconds(theirs)),
        (_evaluation_seconds(common), _evaluation_seconds(common, "_r")),
        counts,
    )


def _trained(trials: pd.DataFrame) -> pd.Series:
    """The resource each trial trained: its rung's, less the rung it continued from."""
    reached = trials.groupby(["repeat", "outer_fold", trials.params.astype(str)]).resource.shift()
    return trials.resource - reached.where(trials.continued, 0).fillna(0)


def _evaluation_seconds(trials: pd.DataFrame, suffix: str = "") -> float:
    return float((trials[f"fit_seconds{suffix}"] + trials[f"score_seconds{suffix}"]).sum())


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    flags = ("cache", "default_inner_cache", "default_test_cache", "tuned_test_cache")
    return table.drop(columns=[c for c in table if c.endswith("_seconds") or c in flags])


REFUSED = (
    ("+budget.ntrials=5",), ("+protocol.outer_fold=3",), ("+run.bogus=1",), ("+foo=1",),
    ("~seed",), ("budget.n_trails=3",), ("strategy=nope",),
)  # fmt: skip
FLOORS = {
    "python -c pass": "pass",
    "importing Hydra": "import hydra.core.override_parser.overrides_parser",
    "one Hydra compose": "from hydra import compose, initialize_config_dir\n"
    f"with initialize_config_dir({str(ROOT / 'conf')!r}, version_base=None):\n"
    "    compose('config')",
}
VALUES = (  # refused from the composed config (harness/engine/settings.py)
    ("budget.n_trials=0",), ("budget.workers=0",), ("seed=-1",), ("protocol.repeats=0",),
    ("run.progress_s=0",), ("model=ridge",), ("dataset=vehicle", "dataset.path=."),
)  # fmt: skip
NEEDS_DATA = ("dataset.max_rows=4",)  # 5 outer folds need 5 rows of each class: the data says
REFUSAL_ROUNDS = 5


def refusal() -> list[dict[str, Any]]:
    """Wall seconds of `python -m harness` refusing a bad override (REFUSED: a key conf/ has
    no place for) and a bad value (VALUES: checked from the composed config, harness/engine/
    settings.py), each of which must exit 2 with one line and write nothing, against `python
    -c pass`, and the floors under them: importing Hydra (any Hydra CLI pays it) and one
    compose of the config (a value check composes the command's config). Rounds alternate the
    order of the commands. A value only the data can refuse (NEEDS_DATA: fold counts the rows
    cannot fill, past scikit-learn's and pandas' import and the data's loading) is reported
    for contrast: every refusal cost that before the checks ran ahead of the heavy imports."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    cwd = Path(tempfile.mkdtemp(prefix="bench-"))
    commands = {name: [sys.executable, "-c", code] for name, code in FLOORS.items()}
    harness = (*REFUSED, *VALUES, NEEDS_DATA)
    commands |= {o: [sys.executable, "-m", "harness", *o] for o in harness}
    times: dict[Any, list[float]] = {name: [] for name in commands}
    cpu: dict[Any, list[float]] = {name: [] for name in commands}  # user + sys, less load-bound
    for r in range(REFUSAL_ROUNDS):
        for name, command in list(commands.items())[:: 1 if r % 2 == 0 else -1]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            wanted = 0 if name in FLOORS else 2
            assert done.returncode == wanted and len(done.stderr.splitlines()) == wanted // 2, (
                name, done.stderr,
            )  # fmt: skip
    assert not any(p.is_file() for p in cwd.rglob("*"))  # nothing written
    median = {name: statistics.median(t) for name, t in times.items()}
    cpus = {name: statistics.median(t) for name, t in cpu.items()}
    base, base_cpu = median["python -c pass"], cpus["python -c pass"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    for kind, group, floor in (("bad override", REFUSED, "importing Hydra"),
                               ("bad value", VALUES, "one Hydra compose")):  # fmt: skip
        wall = statistics.median(median[o] for o in group)
        slowest = max(median[o] for o in group)
        note = (
            f"each {kind}'s median wall s: "
            + ", ".join(f"{' '.join(o)} {median[o]:.3f}" for o in group)
            + f"; the slowest {slowest:.3f}; {REFUSAL_ROUNDS} rounds; uptime load {load}"
        )
        config = ("python -m harness", f"<{kind}>")
        what = f"a refused {kind} / `python -c pass` (wall s, median of {len(group)} commands)"
        rows.append(figure(what, wall / base, "reported; the refusal < 1 s", slowest < 1.0,
                           config, ours_s=wall, theirs_s=base, note=note))  # fmt: skip
        in_cpu = statistics.median(cpus[o] for o in group)
        slowest_cpu = max(cpus[o] for o in group)
        rows.append(figure(f"a refused {kind}, the same in CPU seconds (user + sys; what the wall "
                           "time is on an idle core)", in_cpu / base_cpu, "reported; < 1 s",
                           slowest_cpu < 1.0, config, ours_s=in_cpu, theirs_s=base_cpu,
                           note=f"the slowest {kind} {slowest_cpu:.3f} CPU s; floors in CPU s: "
                           f"importing Hydra {cpus['importing Hydra']:.3f}, one Hydra compose "
                           f"{cpus['one Hydra compose']:.3f}"))  # fmt: skip
        rows.append(figure(f"a refused {kind} / {floor}", wall / median[floor], "reported", True,
                           config, ours_s=wall, theirs_s=median[floor]))  # fmt: skip
    for name in ("importing Hydra", "one Hydra compose"):
        rows.append(figure(f"floor: {name} / `python -c pass`", median[name] / base,
                           "reported", True, ("python -c", name), ours_s=median[name],
                           theirs_s=base))  # fmt: skip
    rows.append(figure("a value only the data can refuse / `python -c pass` (scikit-learn, pandas "
                       "& co imported and the data loaded first)", median[NEEDS_DATA] / base,
                       "reported", True, ("python -m harness", *NEEDS_DATA),
                       ours_s=median[NEEDS_DATA], theirs_s=base,
                       note=f"{cpus[NEEDS_DATA]:.3f} CPU s"))  # fmt: skip
    return rows


def tables() -> list[dict[str, Any]]:
    """Issue 21: table studies. The harness's random search on FCNet (naval_propulsion), the
    whole study (loop, records, batched journal, parquet), against optuna's in-memory
    RandomSampler ask/tell over the same indexed lookup, and with 4 simulated workers against
    syne-tune's simulator backend over the same table; the harness's own overhead per trial
    (wall seconds minus the strategy's thinking, per trial) at 100 to 100,000 trials; and the
    command a researcher types for 4 FCNet tasks x 100 seeds x 200 trials, then its report."""
    from harness.engine import table_study
    from harness.engine.table_problem import TableProblem
    from harness.problem.table_lookup import load

    table = load("fcnet", "naval_propulsion")
    distributions = {
        p.name: optuna.distributions.IntDistribution(0, int(p.high)) if p.type == "int"
        else optuna.distributions.CategoricalDistribution(list(p.choices))
        for p in table.space.params
    }  # fmt: skip

    def study(n: int, *more: str) -> Any:
        store = tempfile.mkdtemp(prefix="bench-tables-")
        overrides = ("problem=fcnet", "strategy=random", f"budget.n_trials={n}", *more)
        return table_study.prepare(config(*overrides, f"run.store={store}"))

    def ours(n: int, *more: str) -> Callable[[], Any]:
        return lambda: table_study.run(made := study(n, *more), made.home)

    def optuna_loop(n: int) -> Callable[[], None]:
        def loop() -> None:
            problem = TableProblem(table, 0, n)
            native = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
            for i in range(n):
                trial = native.ask(distributions)
                native.tell(trial, -problem.evaluate(trial.params, trial=i).scores[0])

        return loop

    rows = []
    n = 10_000
    timed = side_by_side(ours(n), optuna_loop(n), rounds=1)
    ratio = timed.pop("ratio")
    rows.append(figure(
        "harness random-search table study / optuna in-memory RandomSampler ask/tell over the "
        "same lookup", ratio, "<= 0.33 (issue 21: 3x faster)", ratio <= 1 / 3,
        ("problem=fcnet", "strategy=random", f"budget.n_trials={n}"), **timed,
    ))  # fmt: skip
    rows.append(_against_synetune(table, ours))
    overhead = {}
    for n in (100, 1_000, 10_000, 100_000):
        made = study(n, "budget.clock=simulated")
        wall, _ = seconds(lambda made=made: table_study.run(made, made.home))
        trials = pd.read_parquet(made.home / "trials.parquet")
        overhead[n] = wall - trials.choose_seconds.sum()
    per = {n: seconds / n for n, seconds in overhead.items()}
    rows.append(figure(
        "harness overhead per trial (wall minus the strategy's ask/tell), microseconds, at "
        "100,000 trials / at 100", per[100_000] / per[100], "<= 1.2 (flat); <= 100 us at "
        "100,000", per[100_000] / per[100] <= 1.2 and per[100_000] <= 100e-6,
        ("problem=fcnet", "strategy=random", "budget.clock=simulated"),
        ours_s=per[100_000] * 1e6, theirs_s=per[100] * 1e6,
        note=f"{per[100_000] * 1e6:.0f} us a trial at 100,000 trials, "
        f"{per[10_000] * 1e6:.0f} at 10,000, {per[1_000] * 1e6:.0f} at 1,000, "
        f"{per[100] * 1e6:.0f} at 100 (a study's fixed cost spread over its trials; goal: "
        "<= 100 us); each further trial from 10,000 to 100,000 costs "
        f"{(overhead[100_000] - overhead[10_000]) / 90_000 * 1e6:.0f} us, from 1,000 to "
        f"10,000 {(overhead[10_000] - overhead[1_000]) / 9_000 * 1e6:.0f} us",
    ))  # fmt: skip
    rows += _many_seeds()
    return rows


FCNET_TASKS = ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
               "slice_localization")  # fmt: skip


def _many_seeds() -> list[dict[str, Any]]:
    """The sweep a researcher types for 4 FCNet tasks x 100 seeds x 200 trials of random
    search (80,000 trials; the joblib launcher, a job per task, 100 seeds each in its
    process), in a fresh store, then `python -m harness.report` on it: wall seconds of each
    command, Hydra's start and the report's own start included."""
    work = Path(tempfile.mkdtemp(prefix="bench-seeds-"))
    overrides = ("-m", "problem=fcnet", f"problem.task={','.join(FCNET_TASKS)}",
                 "strategy=random", "budget.n_trials=200", "run.seeds=100",
                 f"hydra.sweep.dir={work / 'sweep'}", "~hydra.callbacks.report")  # fmt: skip
    wall = cli(*overrides, cwd=work)
    env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.report", str(work / "sweep")], cwd=work,
                   env=env, check=True, capture_output=True)  # fmt: skip
    report = time.perf_counter() - started
    studies = len(list((work / "results" / "studies").iterdir()))
    config = ("python -m harness", *overrides[:-2])
    return [
        figure("4 FCNet tasks x 100 seeds x 200 trials of random search (80,000 trials), "
               "seconds, the whole command", wall, "< 60 (issue 21)", wall < 60, config,
               ours_s=wall, note=f"{studies} studies in {work / 'results' / 'studies'}"),
        figure("its report (python -m harness.report on the sweep), seconds", report,
               "< 120 (issue 21)", report < 120, ("python -m harness.report",), ours_s=report),
    ]  # fmt: skip


def _against_synetune(table: Any, ours: Callable[..., Callable[[], Any]]) -> dict[str, Any]:
    """Random search with 4 simulated workers on FCNet naval_propulsion: the harness's whole
    table study against syne-tune 0.16's simulator backend (UserBlackboxBackend over a
    BlackboxTabular of the same table, exact lookups: no surrogate; RandomSearch; the
    SimulatorCallback), the same number of trials each."""
    n = 5_000
    config = ("problem=fcnet", "strategy=random", f"budget.n_trials={n}", "budget.workers=4",
              "budget.clock=simulated")  # fmt: skip
    what = "harness k=4 simulated random search / syne-tune's simulator backend, same table"
    try:
        synetune = _synetune_loop(table, n)
    except ImportError as e:
        return figure(
            what,
            math.nan,
            "<= 0.1 (issue 21: 10x faster)",
            False,
            config,
            note=f"not measured: {e} (pip install -e '.[synetune]' huggingface_hub)",
        )
    timed = side_by_side(ours(n, *config[3:]), synetune, rounds=1)
    ratio = timed.pop("ratio")
    return figure(what, ratio, "<= 0.1 (issue 21: 10x faster)", ratio <= 0.1, config, **timed)


def _synetune_loop(table: Any, n: int) -> Callable[[], None]:
    """syne-tune's own simulated loop over `table` (ImportError without syne-tune or the
    huggingface_hub its blackbox repository imports)."""
    os.environ.setdefault("SYNETUNE_FOLDER", tempfile.mkdtemp(prefix="bench-synetune-"))
    import logging

    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.config_space import choice, randint
    from syne_tune.optimizer.baselines import RandomSearch
    from syne_tune.tuner_logger import TunerLogger

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    quiet = {name: lambda *_, **__: None for name in dir(TunerLogger) if name.startswith("print")}
    silent = type("Silent", (TunerLogger,), quiet)()  # its line per trial is not its loop
    rows = np.arange(table.size)  # every configuration, as the grid positions the table holds
    grid = pd.DataFrame({
        name: (rows // stride) % len(choices)
        for name, choices, stride in zip(table.names, table.choices, table._strides, strict=True)
    })  # fmt: skip
    space = {
        name: choice(list(range(len(c))))
        for name, c in zip(table.names, table.choices, strict=True)
    }
    values = np.stack([-table.scores, table.seconds], axis=-1)[:, :, None, :]  # 1 fidelity
    blackbox = BlackboxTabular(grid, space, {"epoch": randint(1, 1)}, values,
                               fidelity_values=np.array([1]),
                               objectives_names=["valid_mse", "train_time"])  # fmt: skip

    def loop() -> None:
        Tuner(
            trial_backend=UserBlackboxBackend(blackbox, elapsed_time_attr="train_time", seed=0),
            scheduler=RandomSearch(space, metrics=["valid_mse"], do_minimize=True,
                                   random_seed=0),
            stop_criterion=StoppingCriterion(max_num_trials_completed=n), n_workers=4,
            sleep_time=0, callbacks=[SimulatorCallback()], results_update_interval=1e9,
            print_update_interval=1e9, save_tuner=False, tuner_name="bench",
            trial_backend_path=tempfile.mkdtemp(prefix="bench-synetune-"), output_logger=silent,
        ).run()  # fmt: skip

    return loop


FIGURES = {
    "grid": grid_vs_sklearn, "tpe": tpe_vs_optuna, "bookkeeping": bookkeeping,
    "isolation": isolation_overhead, "sweep": sweep, "memory": peak_memory, "load": under_load,
    "preprocessing": preprocessing_once, "cache": evaluation_cache,
    "continuation": continuation, "workers": workers, "refusal": refusal, "tables": tables,
    "cores": lambda: cores(*MISSION, rounds=MISSION_ROUNDS),
    "cores-small": lambda: cores(*CORES_SMALL, rounds=CORES_ROUNDS),
}  # fmt: skip


def main(names: list[str]) -> None:
    """Run the figures asked for (all by default) one after another; each replaces its own
    earlier result in results.json, and RESULTS.md is written afresh from all of them."""
    for name in names or list(FIGURES):
        print(f"running {name} ...", flush=True)
        before, started = os.getloadavg()[0], time.perf_counter()
        found = FIGURES[name]()
        saved = json.loads(STORE.read_text()) if STORE.exists() else {}  # another run's too
        saved[name] = {
            "rows": found if isinstance(found, list) else [found],
            "command": f".venv/bin/python benchmarks/bench.py {name}",
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "load": [before, os.getloadavg()[0]],
            "minutes": (time.perf_counter() - started) / 60,
        }
        print(json.dumps(saved[name], default=str), flush=True)
        STORE.write_text(json.dumps(saved, indent=1, default=str) + "\n")
    write({name: saved[name] for name in FIGURES if name in saved})


def write(saved: dict[str, dict]) -> None:
    """The table, above whatever `## Notes` (written by hand) the file already has."""
    notes = RESULTS.read_text().partition(NOTES)[2] if RESULTS.exists() else ""
    lines = [
        "# Performance benchmark results",
        "",
        f"Machine: {CORES} cores, Python {platform.python_version()}. Each figure is a ratio "
        "measured side by side in one run of the command in its row (`.venv/bin/python "
        "benchmarks/bench.py` runs them all); timed comparisons alternate the two sides "
        f"{ROUNDS} times (the sweep {SWEEP_ROUNDS}) and report the median. Load is the "
        "1-minute load average before and after the figure (the benchmark itself counts about 1).",
        "",
        "| figure | measured | harness s | reference s | bound | met | command, date, load |",
        "|---|---|---|---|---|---|---|",
    ]
    for figure_run in saved.values():
        command, date, (before, after) = (figure_run[k] for k in ("command", "date", "load"))
        when = f"`{command}`, {date}, load {before:.1f} / {after:.1f}"
        for r in figure_run["rows"]:
            cells = [
                f"{r['what']} ({' '.join(r['config'])})", f"{r['ratio']:.4g}",
                _s(r.get("ours_s")), _s(r.get("theirs_s")), r["bound"],
                "yes" if r["ok"] else "**no**", when,
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    rows = [r for figure_run in saved.values() for r in figure_run["rows"]]
    lines += [""] + [f"- {r['what']}: {r['note']}" for r in rows if r.get("note")]
    RESULTS.write_text("\n".join(lines) + "\n\n" + NOTES + notes.rstrip("\n") + "\n")
    print(f"wrote {RESULTS}")


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


if __name__ == "__main__":
    main(sys.argv[1:])
