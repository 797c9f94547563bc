"""The table a study prints when it ends: per outer fold, then mean +- sd."""

from __future__ import annotations

import pandas as pd

COLUMNS = {
    "tuned_test": "tuned",
    "default_test": "default",
    "gain": "gain",
    "best_trial": "best at trial",
    "n_trials": "trials",
    "search_seconds": "search s",  # the search's wall-clock: virtual with budget.clock=simulated
    "wall_seconds": "wall s",
}
# A clustering's outside check, shown when the dataset has labels: the tuned and default
# configurations' agreement with them on the outer-test rows
OUTSIDE = {
    "tuned_ari": "tuned ARI",
    "default_ari": "default ARI",
    "tuned_ami": "tuned AMI",
    "default_ami": "default AMI",
}


FAMILIES = {"family": "family", "default_family": "default family"}  # model=cash's choices


def fold_table(folds: pd.DataFrame) -> str:
    """Outer-test scores of the tuned and default configurations, fold by fold; with
    model=cash, the family each chose; for a clustering with labels, ARI and AMI."""
    columns = COLUMNS | (OUTSIDE if folds.get("tuned_ari", pd.Series()).notna().any() else {})
    table = folds.set_index(["repeat", "outer_fold"])[list(columns)].rename(columns=columns)
    table = table.astype(float)
    mean, sd = table.mean(), table.std()
    rows = [[_fmt(v, c) for c, v in row.items()] for _, row in table.iterrows()]
    rows.append([f"{_fmt(mean[c], c)} +- {_fmt(sd[c], c, signed=False)}" for c in table.columns])
    index = [f"r{r} f{f}" for r, f in table.index] + ["mean +- sd"]
    shown = pd.DataFrame(rows, index=index, columns=table.columns)
    for column, title in FAMILIES.items():
        if column in folds:
            shown[title] = [*folds[column].fillna("-"), ""]
    return shown.to_string()


def _fmt(value: float, column: str, signed: bool = True) -> str:
    if pd.isna(value):
        return "-"
    if column in ("best at trial", "trials"):
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if column in ("search s", "wall s"):
        return f"{value:.1f}"
    return f"{value:+.4f}" if column == "gain" and signed else f"{value:.4f}"


def headline(labels: dict, scorer_name: str) -> str:
    return (
        f"{labels['strategy']} on {labels['dataset']} / {labels['model']}: "
        f"outer-test {scorer_name} (higher is better)"
    )
