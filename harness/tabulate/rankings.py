"""`python -m harness.tabulate.rankings <real results> <table results>`: do studies answered
by tables rank strategies as real studies do (issue 22, item 3)?

An instance is one (dataset, model, budget, seed, repeat, outer fold) run both ways: for real
(nested CV) and answered by the table of that dataset and model (problem=table). On each, the
strategies run both ways are ranked by the outer-test score of the configuration they chose
(1 the best, ties sharing their mean rank), as the report ranks them; the figure is Kendall's
tau (scipy's tau-b) between the strategies' mean ranks from real studies and from table
studies, over the instances where every one of them ran both ways, with the number of
instances and strategies behind it. It is kept beside each table that answered
(harness.store.validation), where the report of the table's studies reads it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

INSTANCE = ["dataset", "model", "budget", "seed", "repeat", "outer_fold"]
USAGE = "python -m harness.tabulate.rankings <real sweep folder> <table sweep folder>"


def paired(real: Any, table: Any, roots: tuple[Path, Path]) -> Any:
    """The outer-test score of each (instance, strategy) run both ways (columns `real` and
    `table`), complete instances only; UsageError when a folder holds two studies of one
    strategy on one instance (say two surrogates, or two worker counts): which would pair?"""
    import pandas as pd

    from harness.aggregate.load import own_table_key
    from harness.errors import UsageError

    def chosen(records: Any, answered: bool, root: Path) -> pd.DataFrame:
        keys = {k for k, c in records.configs.items() if own_table_key(c) is not None}
        folds = records.folds[records.folds.study_key.isin(keys) == answered]
        twice = folds[folds.duplicated([*INSTANCE, "strategy"], keep=False)]
        if len(twice):
            first = twice.iloc[0]
            raise UsageError(
                f"{root} holds {twice.study_key.nunique()} {'table' if answered else 'real'} "
                f"studies of strategy {first.strategy} on {first.dataset}/{first.model} with "
                f"budget {first.budget} and seed {first.seed}; give folders that hold one sweep "
                f"each (a sweep folder, hydra.sweep.dir)"
            )
        return folds[[*INSTANCE, "strategy", "tuned_test"]]

    both = (
        chosen(real, False, roots[0])
        .merge(
            chosen(table, True, roots[1]), on=[*INSTANCE, "strategy"], suffixes=("_real", "_table")
        )
        .rename(columns={"tuned_test_real": "real", "tuned_test_table": "table"})
    )
    both = both.dropna(subset=["real", "table"])
    strategies = both.groupby(INSTANCE).strategy.transform("nunique")
    return both[strategies == both.strategy.nunique()]


def figures(both: Any) -> dict[str, Any]:
    """Kendall's tau between the two mean-rank orders, and what it stands on: the instances
    and strategies; whether each way's studies separate the strategies at all (Friedman's
    test, scipy; NaN for two strategies), for a ranking the real studies cannot separate is
    chance, and no other ranking can agree with it beyond chance; and the instance-level
    agreement, Spearman's correlation of the chosen configurations' outer-test scores."""
    import math

    from scipy.stats import friedmanchisquare, kendalltau, spearmanr

    ranks = both.groupby(INSTANCE)[["real", "table"]].rank(ascending=False)
    mean = ranks.assign(strategy=both.strategy).groupby("strategy").mean()
    tau = kendalltau(mean.real, mean.table)
    separated = {}
    for way in ("real", "table"):
        matrix = both.pivot_table(index=INSTANCE, columns="strategy", values=way)
        enough = matrix.shape[1] >= 3 and len(matrix) >= 2
        p = friedmanchisquare(*matrix.T.to_numpy()).pvalue if enough else math.nan
        separated[f"friedman_{way}_p"] = float(p)
    return {
        "kendall_tau": float(tau.statistic),
        "p_value": float(tau.pvalue),
        "instances": int(both.groupby(INSTANCE).ngroups),
        "strategies": len(mean),
        **separated,
        "outer_spearman": float(spearmanr(both.real, both.table).statistic),
        "outer_mean_abs_difference": float((both.real - both.table).abs().mean()),
        "mean_rank_real": mean.real.round(4).to_dict(),
        "mean_rank_table": mean.table.round(4).to_dict(),
    }


def compare(real_root: Path, table_root: Path) -> dict[str, Any]:
    """The figures of two results folders, kept beside every table that answered; UsageError
    when no instance was run both ways by two strategies or more."""
    from harness.aggregate.load import load_records, own_table_key
    from harness.errors import UsageError
    from harness.store import validation

    real, table = load_records(real_root), load_records(table_root)
    both = paired(real, table, (real_root, table_root))
    if both.strategy.nunique() < 2:
        raise UsageError(
            f"no instance (dataset, model, budget, seed, outer fold) has two strategies or more "
            f"both in {real_root} (for real) and in {table_root} (answered by tables); run the "
            f"same sweep both ways, e.g. python -m harness -m sweep=own_tables [problem=table]"
        )
    found = figures(both)
    homes = set()
    for study in table.studies.itertuples():
        key = own_table_key(table.configs[study.study_key])
        if key is not None:
            homes.add((Path(table_root) / study.study_dir).resolve().parent / key)
    answered = [c for c in table.configs.values() if own_table_key(c) is not None]
    surrogates = {str(c["problem"].get("surrogate")) for c in answered}
    found |= {"surrogate": ", ".join(sorted(surrogates)), "tables": len(homes)}
    for home in homes:
        validation.record(home, "rankings", found)
    return found


def report(found: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    lines = [
        f"strategy rankings from table studies (problem.surrogate={found['surrogate']}, "
        f"{found['tables']} tables) against real studies: Kendall's tau {found['kendall_tau']:.3f} "
        f"(p = {found['p_value']:.2g}) between mean ranks of the chosen configuration's "
        f"outer-test score over {found['instances']} instances, {found['strategies']} strategies",
        separation(found),
        f"the chosen configurations' outer-test scores, table against real: Spearman "
        f"{found['outer_spearman']:.3f}, mean absolute difference "
        f"{found['outer_mean_abs_difference']:.4f}, over every (instance, strategy)",
        f"{'strategy':<16}{'real':>7}{'table':>7}",
    ]
    for name, rank in sorted(found["mean_rank_real"].items(), key=lambda kv: kv[1]):
        lines.append(f"{name:<16}{rank:>7.2f}{found['mean_rank_table'][name]:>7.2f}")
    return "\n".join(lines)


def separation(found: dict[str, Any]) -> str:
    """Whether the real studies separate the strategies, and so whether tau can say much: at
    the level the report's caveat beside tau uses (harness.aggregate.table_trust.ALPHA)."""
    from harness.aggregate.table_trust import ALPHA

    p = found.get("friedman_real_p", float("nan"))
    if not p < ALPHA:  # NaN (two strategies) included
        return (
            f"the real studies do not separate these strategies (Friedman p = {p:.2g}): their "
            "ranking is chance at this size, so no ranking can agree with it beyond chance and "
            "tau says little; more instances (repeats, datasets) would decide"
        )
    return f"the real studies separate these strategies (Friedman p = {p:.2g})"


def main(arguments: list[str]) -> None:
    """The command: figures on stdout; a bad argument in one line (exit 2)."""
    from harness.cli import fail
    from harness.errors import UsageError

    if len(arguments) != 2 or not all(Path(a).is_dir() for a in arguments):
        fail(f"give two results folders: {USAGE}")
    try:
        print(report(compare(Path(arguments[0]), Path(arguments[1]))))
    except UsageError as e:
        fail(str(e))


if __name__ == "__main__":
    main(sys.argv[1:])
