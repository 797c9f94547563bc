"""The report's seaborn figures, each drawn from aggregate tables only.

Every function takes the tables and the strategies' colours and returns a matplotlib Figure
made without pyplot (no global state, no display needed). A figure that has nothing to show
(e.g. a critical-difference diagram with fewer than three strategies) says why in its
panel instead of being left out, so a report always has the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs as sp
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, NullFormatter

from harness.aggregate.timing import PARTS
from harness.aggregate.workers import parallel_runs

Tables = dict[str, pd.DataFrame]
Palette = dict[str, tuple[float, float, float]]
PANEL = (5.2, 3.4)  # inches per panel
SPENT = "trials (full-evaluation equivalents)"
COMPUTE = "compute seconds (fit + score, all workers)"
NO_TRIALS = "no strategy with trials at this budget"
MEDIAN_CI = {"estimator": "median", "errorbar": ("ci", 95), "n_boot": 500, "seed": 0}


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    caption: str
    draw: Callable[[Tables, Palette], Figure]


def palette(strategies: list[str]) -> Palette:
    """One colour per strategy, the same in every figure."""
    colours = sns.color_palette("tab10" if len(strategies) <= 10 else "husl", len(strategies))
    return dict(zip(strategies, colours, strict=True))


def convergence(tables: Tables, colours: Palette) -> Figure:
    curves, seconds, compute = tables["curves"], tables["curves_seconds"], tables["curves_compute"]
    budgets = _budgets(tables)
    fig, axes = _grid(len(budgets), 3)
    for row, budget in zip(axes, budgets, strict=True):
        views = (
            (row[0], curves, "spent"),
            (row[1], seconds, "seconds"),
            (row[2], compute, "seconds"),
        )
        for ax, data, x in views:
            block = data[(data.budget == budget) & data.regret.notna()]
            if block.empty:
                _empty(ax, "no instance where tuning beat the defaults")
                continue
            _lines(ax, block, x, "regret", colours, **MEDIAN_CI)
            ax.axhline(1, color="grey", lw=0.8, ls="--")
            ax.set(ylabel="median normalised regret", title=budget)
            _symlog_y(ax)
        row[0].set(xlabel=SPENT)
        row[1].set(xlabel="wall-clock seconds of search")
        row[2].set(xlabel=COMPUTE)
        _log_x(row[1])
        _log_x(row[2])
    return _finish(fig, axes)


def normalised_score(tables: Tables, colours: Palette) -> Figure:
    curves = tables["curves"]
    scored = curves[curves.normalised_score.notna()]
    empty = "needs baseline trials on instances where tuning beat the defaults"
    fig, axes, panels = _panels(tables, scored, empty)
    for ax, budget, block in panels:
        _lines(ax, block, "spent", "normalised_score", colours, **MEDIAN_CI)
        ax.axhline(1, color="grey", lw=0.8, ls="--")
        ax.set(xlabel=SPENT, ylabel="median normalised score", title=budget)
        _symlog_y(ax)
    return _finish(fig, axes)


def rank_over_time(tables: Tables, colours: Palette) -> Figure:
    anytime, compute = tables["anytime"], tables["curves_compute"]
    budgets = _budgets(tables)
    fig, axes = _grid(len(budgets), 2)
    for row, budget in zip(axes, budgets, strict=True):
        for ax, data, x, label in (
            (row[0], anytime, "spent", SPENT),
            (row[1], compute, "seconds", COMPUTE),
        ):
            block = data[(data.budget == budget) & data["rank"].notna()]
            if block.empty:
                _empty(ax, f"{budget}: {NO_TRIALS}")
                continue
            _lines(ax, block, x, "rank", colours, errorbar=None)
            ax.set(xlabel=label, ylabel="mean rank of best-so-far (1 best)", title=budget)
            ax.invert_yaxis()
            if x == "seconds":
                _log_x(ax)
    return _finish(fig, axes)


def ttt_ecdf(tables: Tables, colours: Palette) -> Figure:
    return _ecdf(tables, colours, tables["ttt_ecdf"], "spent")


def ttt_compute(tables: Tables, colours: Palette) -> Figure:
    return _ecdf(tables, colours, tables["ttt_ecdf_compute"], "seconds")


def _ecdf(tables: Tables, colours: Palette, ecdf: pd.DataFrame, x: str) -> Figure:
    """Fraction of runs at each target (columns) per budget (rows), against `x`: trials
    spent or compute seconds (log scale)."""
    budgets = _budgets(tables)
    goals = sorted(tables["targets"].target.unique()) or [np.nan]
    fig, axes = _grid(len(budgets), len(goals))
    for row, budget in zip(axes, budgets, strict=True):
        for ax, goal in zip(row, goals, strict=True):
            block = ecdf[(ecdf.budget == budget) & (ecdf.target == goal)]
            if block.empty:
                _empty(ax, NO_TRIALS)
                continue
            _lines(ax, block, x, "fraction", colours, drawstyle="steps-post", errorbar=None)
            ax.set(
                ylim=(0, 1.02), xlabel=SPENT if x == "spent" else COMPUTE,
                ylabel="fraction of runs at target",
                title=f"{budget}: {goal:.0%} of the way from defaults to best",
            )  # fmt: skip
            if x == "seconds":
                _log_x(ax)
    return _finish(fig, axes)


def workers_convergence(tables: Tables, colours: Palette) -> Figure:
    """Per budget, strategy and clock whose studies differ only in workers: median regret
    against wall-clock seconds, one line per worker count k."""
    parallel = parallel_runs(tables["runs"])[["study_key", "reference_workers"]]
    seconds = tables["curves_seconds"].merge(parallel.drop_duplicates(), on="study_key")
    seconds = seconds[seconds.regret.notna()]
    groups = list(seconds.groupby(["budget", "strategy", "clock"], sort=True))
    if not groups:
        fig, axes = _grid(1, 1)
        _empty(axes[0, 0], "no studies that differ only in workers")
        return fig
    cols = min(len(groups), 3)
    rows = -(-len(groups) // cols)
    fig, axes = _grid(rows, cols)
    counts = sorted(seconds.workers.unique())
    shades = dict(zip(counts, sns.color_palette("viridis", len(counts)), strict=True))
    for ax, ((budget, strategy, clock), block) in zip(axes.flat, groups, strict=False):
        sns.lineplot(
            data=block, x="seconds", y="regret", hue="workers", palette=shades, ax=ax,
            hue_order=[k for k in counts if k in set(block.workers)], **MEDIAN_CI,
        )  # fmt: skip
        ax.axhline(1, color="grey", lw=0.8, ls="--")
        ax.set(
            xlabel=f"wall-clock seconds of search ({clock} clock)",
            ylabel="median normalised regret", title=f"{budget}: {strategy}",
        )  # fmt: skip
        _symlog_y(ax)
        _log_x(ax)
    for ax in axes.flat[len(groups) :]:
        ax.set_axis_off()
    return _finish(fig, axes)


def pbt_schedule(tables: Tables, colours: Palette) -> Figure:
    """Per population-based-training study (its first outer fold) and numeric
    hyperparameter: each member's value against the fidelity it reached, a step per
    evaluation; a cross where the member continued another's models after an exploit."""
    schedule = tables["pbt_schedule"]
    first = schedule.groupby("study_key")[["repeat", "outer_fold"]].transform("min")
    schedule = schedule[
        (schedule.repeat == first.repeat) & (schedule.outer_fold == first.outer_fold)
    ]
    groups = list(schedule.groupby(["study_key", "parameter"], sort=False))
    if not groups:
        fig, axes = _grid(1, 1)
        _empty(axes[0, 0], "no population-based training")
        return fig
    cols = min(len(groups), 3)
    fig, axes = _grid(-(-len(groups) // cols), cols)
    members = sorted(schedule.member.unique())  # one colour per member, in every panel
    shades = dict(zip(map(str, members), sns.color_palette("tab10", len(members)), strict=True))
    for ax, ((_, parameter), block) in zip(axes.flat, groups, strict=False):
        block = block.assign(member=block.member.astype(str))
        sns.lineplot(
            data=block, x="fidelity", y="value", hue="member", units="member", palette=shades,
            hue_order=[m for m in shades if m in set(block.member)], estimator=None,
            drawstyle="steps-post", marker="o", markersize=3, ax=ax,
        )  # fmt: skip
        jumps = block[block.exploited]
        ax.scatter(jumps.fidelity, jumps.value, marker="x", color="black", zorder=3)
        row = block.iloc[0]
        ax.set(
            xlabel="fidelity reached (fraction of the resource)", ylabel=parameter,
            title=f"{row.strategy} {row.dataset}/{row.model} {row.budget}",
        )  # fmt: skip
        if (block.value > 0).all() and block.value.max() / block.value.min() > 100:
            ax.set_yscale("log")
    for ax in axes.flat[len(groups) :]:
        ax.set_axis_off()
    return _finish(fig, axes, legend_everywhere=True)


def gain(tables: Tables, colours: Palette) -> Figure:
    runs, summary = tables["runs"], tables["gain_by_model"]
    budgets = _budgets(tables)
    models = sorted(runs.model.unique())
    fig, axes = _grid(len(budgets), len(models))
    for row, budget in zip(axes, budgets, strict=True):
        for ax, model in zip(row, models, strict=True):
            block = runs[(runs.budget == budget) & (runs.model == model)]
            means = summary[(summary.budget == budget) & (summary.model == model)]
            if block.empty:
                _empty(ax, f"no {model} study at this budget")
                continue
            order = sorted(block.strategy.unique())
            sns.stripplot(
                data=block, x="strategy", y="gain", hue="strategy", order=order,
                palette=colours, alpha=0.35, size=3, legend=False, ax=ax,
            )  # fmt: skip
            means = means.set_index("strategy").reindex(order)
            ax.errorbar(
                np.arange(len(order)), means.gain,
                yerr=[means.gain - means.gain_low, means.gain_high - means.gain],
                fmt="D", color="black", capsize=4, label="mean, 95% bootstrap CI",
            )  # fmt: skip
            ax.axhline(0, color="grey", lw=0.8, ls="--")
            ax.set(ylabel="outer-test gain over defaults", title=f"{budget}: {model}")
            ax.tick_params(axis="x", rotation=30)
    return _finish(fig, axes)


def time_decomposition(tables: Tables, colours: Palette) -> Figure:
    fig, axes, panels = _panels(tables, tables["time_split"].sort_values("strategy"), "no study")
    for ax, budget, block in panels:
        mean = block.groupby(["strategy", "part"], as_index=False, sort=False).seconds.mean()
        sns.histplot(
            data=mean, y="strategy", hue="part", hue_order=PARTS, weights="seconds",
            multiple="stack", discrete=True, shrink=0.8, palette="Set2", ax=ax,
        )  # fmt: skip
        ax.set(xlabel="mean seconds per study", ylabel="", title=budget)
    return _finish(fig, axes)


def overhead_growth(tables: Tables, colours: Palette) -> Figure:
    overhead = tables["overhead"]
    fig, axes, panels = _panels(tables, overhead[overhead["median"] > 0], NO_TRIALS)
    for ax, budget, block in panels:
        _lines(ax, block, "trial", "median", colours, errorbar=None)
        for strategy, line in block.groupby("strategy"):
            ax.fill_between(line.trial, line.q25, line.q75, color=colours[strategy], alpha=0.2)
        ax.set(
            yscale="log", xlabel="trial number", title=budget,
            ylabel="optimiser seconds per trial (median, IQR)",
        )  # fmt: skip
    return _finish(fig, axes)


def critical_difference(tables: Tables, colours: Palette) -> Figure:
    ranks, friedman = tables["ranks"], tables["friedman"]
    empty = "needs >= 3 strategies on >= 2 shared instances"
    fig, axes, panels = _panels(tables, tables["nemenyi"], empty, width=8, height=2.4)
    for ax, budget, pairs in panels:
        mean = ranks[ranks.budget == budget].set_index("strategy").mean_rank
        matrix = pairs.pivot(index="strategy", columns="other", values="p_value")
        sp.critical_difference_diagram(
            mean, matrix.loc[mean.index, mean.index], ax=ax, color_palette=colours,
            label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        )  # fmt: skip
        test = friedman[friedman.budget == budget].iloc[0]
        ax.set_title(
            f"{budget}: {test.instances} instances, Friedman p = {test.p_value:.3g}", fontsize=10
        )
    return _finish(fig, axes, legend_everywhere=True)


def rank_heatmap(tables: Tables, colours: Palette) -> Figure:
    overall = tables["ranks"]
    empty = "no instance with every strategy"
    fig, axes, panels = _panels(tables, tables["ranks_by_dataset"], empty)
    for ax, budget, block in panels:
        wide = block.pivot(index="strategy", columns="dataset", values="mean_rank")
        wide["all"] = overall[overall.budget == budget].set_index("strategy").mean_rank
        wide = wide.sort_values("all")
        sns.heatmap(
            wide, annot=True, fmt=".2f", cmap="viridis_r", vmin=1, vmax=len(wide),
            cbar_kws={"label": "mean rank (1 best)"}, ax=ax,
        )  # fmt: skip
        ax.set(title=f"{budget}: mean rank of outer-test score", xlabel="", ylabel="")
    return _finish(fig, axes, legend_everywhere=True)


def crossover(tables: Tables, colours: Palette) -> Figure:
    pairs = tables["crossover"]
    pairs = pairs[(pairs.unit == "trials") & pairs.crossover.notna()]
    empty = "needs >= 2 strategies on >= 2 instances where tuning beat the defaults"
    fig, axes, panels = _panels(tables, pairs, empty, height=max(PANEL[1], 0.3 * len(pairs)))
    for ax, budget, block in panels:
        block = block.sort_values(["crossover", "leader", "other"]).reset_index(drop=True)
        end = float(tables["runs"].loc[tables["runs"].budget == budget, "n_trials_budget"].max())
        high = block.crossover_high.clip(upper=end + 1)
        for y, row in block.iterrows():
            ax.plot([row.crossover_low, high[y]], [y, y], color=colours[row.leader], lw=2)
            ax.plot(row.crossover, y, "o", color=colours[row.leader])
        ax.axvline(end, color="grey", lw=0.8, ls="--")
        ax.set_yticks(range(len(block)), [f"{r.leader} over {r.other}" for r in block.itertuples()])
        ax.set(xlabel="trial from which the leader stays ahead", title=budget, xlim=(0, end + 1.5))
    return _finish(fig, axes, legend_everywhere=True)


def performance_profile(tables: Tables, colours: Palette) -> Figure:
    profile = tables["performance_profile"]
    fig, axes, panels = _panels(tables, profile, "needs >= 2 instances")
    for ax, budget, block in panels:
        _lines(ax, block, "tau", "fraction", colours, errorbar=None)
        for strategy, line in block.groupby("strategy"):
            ax.fill_between(line.tau, line.low, line.high, color=colours[strategy], alpha=0.15)
        ax.set(
            xlabel="tau: improvement, 1 - final normalised regret", ylim=(0, 1.02),
            ylabel="fraction of runs above tau", title=budget,
        )  # fmt: skip
    return _finish(fig, axes)


PLOTS = [
    Plot("convergence", "Convergence", "Median normalised regret of the best-so-far inner "
         "score (0 = best known on the instance, 1 = the defaults; above 1 is worse than the "
         "defaults) against trials, against wall-clock seconds and against compute seconds "
         "(fit + score over all workers), with 95% bootstrap confidence bands over runs.",
         convergence),
    Plot("normalised_score", "Normalised score", "Bayesmark-style, median over runs: 0 = best "
         "known, 1 = random search's expected best after the same number of trials; below 1 "
         "beats random search. 95% bootstrap bands.", normalised_score),
    Plot("rank_over_time", "Mean rank over time", "Mean rank of each strategy's best-so-far "
         "inner score across instances after each trial, and after each amount of compute "
         "seconds (1 = best).", rank_over_time),
    Plot("ttt_ecdf", "Trials to target", "Fraction of runs whose best-so-far reached each "
         "target within t trials (censored runs never count, so a curve ends at the success "
         "rate).", ttt_ecdf),
    Plot("ttt_compute", "Compute to target", "Fraction of runs whose best-so-far reached each "
         "target within c compute seconds (fit + score over all workers).", ttt_compute),
    Plot("workers_convergence", "Best-so-far against wall-clock, per worker count",
         "For studies that differ only in workers: median normalised regret of the "
         "best-so-far inner score against wall-clock seconds of search, one line per worker "
         "count k, 95% bootstrap bands over runs. A line further left reaches the same "
         "regret sooner; a line that ends higher found less in its trials.",
         workers_convergence),
    Plot("pbt_schedule", "Population-based training: each member's hyperparameters",
         "For each population-based-training study, its first outer fold: every member's "
         "value of each numeric hyperparameter against the fidelity it had reached, a step "
         "per evaluation; a cross marks a step that continued another member's fitted models "
         "after an exploit, with perturbed hyperparameters.", pbt_schedule),
    Plot("gain", "Accuracy gain", "Outer-test score of the tuned configuration minus the "
         "defaults', per outer fold (dots) and mean with 95% bootstrap interval "
         "(diamonds).", gain),
    Plot("time_decomposition", "Time decomposition", "Mean seconds per study spent "
         "evaluating configurations, in the optimiser, in harness bookkeeping and refitting "
         "on the outer folds.", time_decomposition),
    Plot("overhead_growth", "Optimiser overhead growth", "Seconds the strategy spent choosing "
         "each trial's configuration against trial number (median and interquartile "
         "range).", overhead_growth),
    Plot("critical_difference", "Critical-difference diagram", "Mean ranks of outer-test "
         "score; strategies joined by a bar are not significantly different (Nemenyi "
         "post-hoc test after Friedman).", critical_difference),
    Plot("rank_heatmap", "Rank heatmap", "Mean rank of outer-test score per dataset and over "
         "all instances.", rank_heatmap),
    Plot("crossover", "Budget crossover", "For each pair of strategies, the trial from which "
         "the leader's median normalised regret stays below the other's until the end of the "
         "budget (dot), with its 95% bootstrap interval over instances; an interval past the "
         "dashed line (the budget) means some resamples never see the leader ahead.",
         crossover),
    Plot("performance_profile", "Performance profiles", "Fraction of runs whose improvement "
         "(1 - final normalised regret) exceeds tau, with 95% bootstrap bands (the score "
         "distributions of rliable).", performance_profile),
]  # fmt: skip


def _budgets(tables: Tables) -> list[str]:
    return list(dict.fromkeys(tables["runs"].budget)) or ["no runs"]


def _panels(
    tables: Tables, frame: pd.DataFrame, empty: str, **size: float
) -> tuple[Figure, np.ndarray, list[tuple[Axes, str, pd.DataFrame]]]:
    """One panel per budget, and (panel, budget, the frame's rows of that budget) for each
    budget with rows; a panel without rows says `empty`."""
    budgets = _budgets(tables)
    fig, axes = _grid(len(budgets), 1, **size)
    panels = []
    for (ax,), budget in zip(axes, budgets, strict=True):
        block = frame[frame.budget == budget]
        if block.empty:
            _empty(ax, f"{budget}: {empty}")
        else:
            panels.append((ax, budget, block))
    return fig, axes, panels


def _grid(
    rows: int, cols: int, width: float = PANEL[0], height: float = PANEL[1]
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    with sns.axes_style("whitegrid"):
        axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _lines(ax: Axes, block: pd.DataFrame, x: str, y: str, colours: Palette, **style) -> None:
    """One line per strategy present, coloured and ordered as in every other figure."""
    present = set(block.strategy)
    order = [s for s in colours if s in present]
    sns.lineplot(
        data=block, x=x, y=y, hue="strategy", palette=colours, hue_order=order, ax=ax, **style
    )


def _symlog_y(ax: Axes) -> None:
    """From 0 up: linear to 1 (the reference line), logarithmic above, plain tick labels."""
    top = ax.get_ylim()[1]
    ax.set_yscale("symlog", linthresh=1)
    ax.set_yticks([t for t in (0, 0.25, 0.5, 0.75, 1, 2, 5, 10, 20, 50, 100, 1000) if t <= top])
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_ylim(0, max(top, 1.05))


def _log_x(ax: Axes) -> None:
    """A log x axis labelled with plain numbers, major ticks only."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def _finish(fig: Figure, axes: np.ndarray, legend_everywhere: bool = False) -> Figure:
    """One legend per figure, right of the panels; or every panel keeps its own."""
    if legend_everywhere:
        return fig
    legends = [ax.get_legend() for ax in axes.flat if ax.get_legend() is not None]
    if legends:
        first = legends[0]
        labels = [text.get_text() for text in first.get_texts()]
        title = first.get_title().get_text()
        fig.legend(first.legend_handles, labels, title=title, loc="outside right upper")
        for legend in legends:
            legend.remove()
    return fig
