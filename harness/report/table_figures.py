"""The report's figures for table studies (harness.aggregate.regret, table_verdicts), drawn
like harness.report.figures': from aggregate tables only, without pyplot, None when there is
nothing to show."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report.figures import (
    Palette,
    Plot,
    Tables,
    _baseline,
    _budgets,
    _finish,
    _grid,
    _log_x,
    draw_forest,
)

TRIALS = "trials"
HORIZON = "fraction of the task's simulated horizon (log scale)"


def table_forest(tables: Tables, colours: Palette) -> Figure | None:
    baseline = _baseline(tables)
    return draw_forest(
        tables,
        tables["table_decision"],
        colours,
        f"{baseline}'s final normalised regret minus the strategy's",
    )


def table_regret(tables: Tables, colours: Palette) -> Figure | None:
    """Per budget: mean normalised regret with its band, against trials and against the
    fraction of the simulated horizon, one line per strategy."""
    return _two_axes(
        tables, "table_regret", "table_regret_time", "mean", colours,
        "mean normalised regret", band=True,
    )  # fmt: skip


def table_rank(tables: Tables, colours: Palette) -> Figure | None:
    return _two_axes(
        tables, "table_rank", "table_rank_time", "rank", colours,
        "average rank (1 best)", invert=True,
    )  # fmt: skip


def table_bayesmark(tables: Tables, colours: Palette) -> Figure | None:
    data = tables["table_bayesmark"]
    budgets = [b for b in _budgets(tables) if len(data) and b in set(data.budget)]
    if not budgets:
        return None
    fig, axes = _grid(len(budgets), 1, 7.0, 3.6)
    for (ax,), budget in zip(axes, budgets, strict=True):
        _bands(ax, data[data.budget == budget], "trial", "score", colours, band=True)
        ax.axhline(1, color="0.35", lw=1, ls="--", label="random search (= 1)")
        ax.set(xlabel=TRIALS, ylabel="normalised mean score (Bayesmark)", title=budget)
        ax.legend(fontsize="small")
    return _finish(fig, axes)


def _two_axes(
    tables: Tables,
    over_trials: str,
    over_time: str,
    y: str,
    colours: Palette,
    ylabel: str,
    band: bool = False,
    invert: bool = False,
) -> Figure | None:
    first, second = tables[over_trials], tables[over_time]
    budgets = [b for b in _budgets(tables) if len(first) and b in set(first.budget)]
    if not budgets:
        return None
    fig, axes = _grid(len(budgets), 2)
    for row, budget in zip(axes, budgets, strict=True):
        for ax, data, x, label in ((row[0], first, "trial", TRIALS),
                                   (row[1], second, "fraction", HORIZON)):  # fmt: skip
            _bands(ax, data[data.budget == budget], x, y, colours, band)
            ax.set(xlabel=label, ylabel=ylabel, title=budget)
            if x == "fraction":
                _log_x(ax)
            if invert:
                ax.invert_yaxis()
            ax.legend(fontsize="small")
    return _finish(fig, axes)


def _bands(ax: Axes, block: pd.DataFrame, x: str, y: str, colours: Palette, band: bool) -> None:
    """One line per strategy, its 95% interval shaded (`band`), in the report's colours."""
    for strategy in [s for s in colours if s in set(block.strategy)]:
        line = block[block.strategy == strategy].sort_values(x)
        ax.plot(line[x], line[y], color=colours[strategy], label=strategy)
        if band:
            ax.fill_between(line[x], line.low, line.high, color=colours[strategy], alpha=0.2)


TABLE_PLOTS = [
    Plot("table_forest", "Each strategy against the baseline, over (task, seed) instances",
         "The baseline's final normalised regret minus each strategy's (positive: the "
         "strategy ends nearer the table's best), mean over (task, seed) instances with its "
         "95% percentile-bootstrap interval (scipy); the baseline is the line at zero, the "
         "ROPE (a fraction of the table's best-to-worst span) is shaded. The verdict at the "
         "right is on the claim that the strategy beats the baseline by at least the ROPE. "
         "* marks a strategy whose budget was not really equal.", table_forest),
    Plot("table_regret", "Normalised regret over trials and over simulated time",
         "Normalised regret of the incumbent (the best noisy score so far, judged by its "
         "seed-averaged true score): (table's best - true score) / (best - worst); mean over "
         "(task, seed) instances with its 95% t interval (scipy) shaded, one line per "
         "strategy. Right: against the fraction of each task's simulated horizon (the latest "
         "simulated end of any run on the task), log scale; before its first result a run's "
         "regret is 1.", table_regret),
    Plot("table_bayesmark", "Bayesmark's normalised score", "Bayesmark's normalised mean "
         "score over trials: 0 is the table's best, random search is 1 at every trial (the "
         "dashed line), below 1 beats random search; 95% t interval over tasks shaded.",
         table_bayesmark),
    Plot("table_rank", "Average rank over trials and over simulated time", "Per (task, seed) "
         "instance and point in time, the strategies ranked by normalised regret (scipy "
         "rankdata, 1 best, ties averaged), then averaged over instances.", table_rank),
]  # fmt: skip
