"""How far the verdicts of studies answered by tables tunebench built (problem=table) hold:
per table, its validation figures (harness.store.validation, beside the table in the store),
and the sentence the report shows beside its verdict.

Two figures: Spearman's rank correlation of the surrogate's answers with real evaluations of
configurations outside the design (`python -m harness.tabulate.validate`; a table that
answered only its design's configurations answered exactly, and needs none), and Kendall's
tau between strategy rankings from table studies and from real ones (`python -m
harness.tabulate.rankings`). A table without them is said to be unvalidated, with the command
that validates it.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.aggregate.load import Records, own_table_key

ALPHA = 0.05  # below it, the real studies separate the strategies their ranking orders
COLUMNS = [
    "table", "dataset", "model", "surrogate", "spearman", "configurations", "mean_abs_error",
    "kendall_tau", "instances", "strategies", "friedman_real_p",
]  # fmt: skip


def trust_table(records: Records) -> pd.DataFrame:
    """One row per (table, surrogate) that answered a finished study."""
    used = {}
    for study in records.studies.itertuples():
        config = records.configs.get(study.study_key, {})
        if (key := own_table_key(config)) is not None:
            used[(key, str(config["problem"].get("surrogate")))] = (study.dataset, study.model)
    rows = []
    for (key, surrogate), (dataset, model) in sorted(used.items()):
        found = records.validations.get(key, {})
        answers = found.get("surrogates", {}).get(surrogate, {})
        ranking = found.get("rankings", {})
        if ranking.get("surrogate") != surrogate:  # another surrogate's studies: not these
            ranking = {}
        rows.append({
            "table": key, "dataset": dataset, "model": model,
            "surrogate": "exact" if surrogate == "None" else surrogate,
            "spearman": answers.get("spearman", math.nan),
            "configurations": answers.get("configurations", 0),
            "mean_abs_error": answers.get("mean_abs_error", math.nan),
            "kendall_tau": ranking.get("kendall_tau", math.nan),
            "instances": ranking.get("instances", 0),
            "strategies": ranking.get("strategies", 0),
            "friedman_real_p": ranking.get("friedman_real_p", math.nan),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def trust_sentences(table: pd.DataFrame) -> list[str]:
    """What the report says beside its verdict when tables answered its studies."""
    if table.empty:
        return []
    n = table.table.nunique()
    surrogates = ", ".join(sorted(table.surrogate.unique()))
    lines = [
        f"These studies were answered by {n} table(s) tunebench built (problem=table, "
        f"surrogate {surrogates}), not evaluated: the verdict holds for the real models to the "
        "extent the tables stand for them."
    ]
    answered = table[table.surrogate != "exact"]
    for surrogate, valid in answered.dropna(subset=["spearman"]).groupby("surrogate"):
        lines.append(
            f"The {surrogate} surrogate's answers against real evaluations outside the design: "
            f"Spearman {_spread(valid.spearman)} over {int(valid.configurations.sum())} "
            f"configurations of {len(valid)} table(s) (mean absolute error "
            f"{_spread(valid.mean_abs_error)})."
        )
    ranked = table.dropna(subset=["kendall_tau"]).drop_duplicates("kendall_tau")
    for row in ranked.itertuples():
        line = (
            f"Strategy rankings from table studies against real studies: Kendall's tau "
            f"{row.kendall_tau:.2f} ({row.strategies} strategies, {row.instances} instances)."
        )
        if row.friedman_real_p >= ALPHA:  # the real ranking itself is chance (NaN: unknown)
            line += (
                f" The real studies did not separate those strategies (Friedman p = "
                f"{row.friedman_real_p:.2g}), so that tau says little either way."
            )
        lines.append(line)
    missing = sorted(set(answered.table[answered.spearman.isna()]))
    unranked = sorted(set(table.table[table.kendall_tau.isna()]))
    if missing:
        lines.append(
            f"Not validated against real evaluations: {', '.join(missing)}; run python -m "
            "harness.tabulate.validate problem.table=<key> with the table's dataset and model."
        )
    if unranked:
        lines.append(
            f"No real-vs-table ranking comparison for: {', '.join(unranked)}; run the same "
            "sweep for real and python -m harness.tabulate.rankings <real> <table>."
        )
    return lines


def _spread(values: pd.Series) -> str:
    """A figure over tables: the one value, or the median and range."""
    if len(values) == 1:
        return f"{values.iloc[0]:.3f}"
    return f"{values.median():.3f} (median; {values.min():.3f} to {values.max():.3f})"
