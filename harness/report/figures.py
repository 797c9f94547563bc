"""The report's seaborn figures, each drawn from aggregate tables only.

Every function takes the tables and the strategies' colours and returns a matplotlib Figure
made without pyplot (no global state, no display needed), or None when it has nothing to
show. A panel with nothing to show says why; a figure none of whose panels has data is left
out of the report (`has_data`). Text is sized so that it renders at MIN_PX pixels or more at
the HTML's content width (`readable`), whatever the figure's width.
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
from matplotlib.text import Text
from matplotlib.ticker import FormatStrFormatter, NullFormatter

from harness.aggregate.load import RUN
from harness.aggregate.speedup import parallel_runs
from harness.aggregate.targets import same_as_best
from harness.aggregate.timing import PARTS
from harness.aggregate.verdict import MIN_UNITS

Tables = dict[str, pd.DataFrame]
Palette = dict[str, tuple[float, float, float]]
PANEL = (5.2, 3.4)  # inches per panel
SPENT = "trials (full-evaluation equivalents)"
COMPUTE = "compute seconds (fit + score, all workers)"
NO_TRIALS = "no strategy with trials at this budget"
MEDIAN_CI = {"estimator": "median", "errorbar": ("ci", 95), "n_boot": 500, "seed": 0}
DPI = 110  # the PNGs' resolution (harness.report.build)
HTML_WIDTH = 1150  # px: the widest a figure is shown in report.html (its content width)
MIN_PX = 9  # the smallest text at that width
REGRET = "median normalised regret (linear to 1, log above)"
SMALL = (3.0, 2.3)  # inches per small-multiple panel
COLUMNS = 4  # small-multiple panels per row
SAME_AS_BEST = 0.5  # a target equal to the best known on more instances than this is dropped


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


def convergence(tables: Tables, colours: Palette) -> Figure | None:
    """Small multiples: per budget, one panel per strategy, its median regret against trials
    (95% bootstrap band over runs), the baseline in grey behind it."""
    return _small_multiples(tables, tables["curves"], "spent", "regret", SPENT, REGRET, colours)


def convergence_compute(tables: Tables, colours: Palette) -> Figure | None:
    """The same against compute seconds (log scale)."""
    return _small_multiples(
        tables, tables["curves_compute"], "seconds", "regret", f"{COMPUTE}, log scale", REGRET,
        colours, log_x=True,
    )  # fmt: skip


def normalised_score(tables: Tables, colours: Palette) -> Figure | None:
    return _small_multiples(
        tables, tables["curves"], "spent", "normalised_score", SPENT,
        "median normalised score (linear to 1, log above)", colours,
    )  # fmt: skip


def _small_multiples(
    tables: Tables,
    data: pd.DataFrame,
    x: str,
    y: str,
    xlabel: str,
    ylabel: str,
    colours: Palette,
    log_x: bool = False,
) -> Figure | None:
    """Per budget, a row (or more) of panels, one per strategy but the baseline: its median
    with a 95% bootstrap band over runs, the baseline's in grey behind it."""
    data = _all_started(data[data[y].notna()], x)
    baseline = _baseline(tables)
    layout = []
    for budget in _budgets(tables):
        present = [s for s in colours if s in set(data.strategy[data.budget == budget])]
        layout.append((budget, [s for s in present if s != baseline] or present))
    rows = sum(-(-len(shown) // COLUMNS) for _, shown in layout)
    if rows == 0:
        return None
    fig, axes = _grid(rows, COLUMNS, *SMALL)
    first = 0
    for budget, shown in layout:
        block = data[data.budget == budget]
        top = float(block.groupby(["strategy", x])[y].median().max()) if len(block) else 1.0
        last_row = (len(shown) - 1) // COLUMNS
        for i, strategy in enumerate(shown):
            ax = axes[first + i // COLUMNS, i % COLUMNS]
            if strategy != baseline and baseline in set(block.strategy):
                sns.lineplot(
                    data=block[block.strategy == baseline], x=x, y=y, color="0.6", ax=ax,
                    label=f"{baseline} (baseline)", **MEDIAN_CI,
                )  # fmt: skip
            sns.lineplot(
                data=block[block.strategy == strategy], x=x, y=y, color=colours[strategy],
                ax=ax, label=strategy, **MEDIAN_CI,
            )  # fmt: skip
            ax.axhline(1, color="grey", lw=0.8, ls="--")
            ax.set(
                title=f"{budget}: {strategy}",
                xlabel="",
                ylabel="",
                ylim=(0, max(top, 1.05) * 1.05),
            )  # fmt: skip
            _symlog_y(ax)
            if log_x:
                _log_x(ax)
            ax.legend(fontsize="small", loc="upper right")
        for i in range(len(shown), (last_row + 1) * COLUMNS):
            axes[first + i // COLUMNS, i % COLUMNS].set_axis_off()
        first += last_row + 1
    fig.supylabel(ylabel)  # once: a panel is too short for it
    fig.supxlabel(xlabel)
    return _finish(fig, axes, legend_everywhere=True)


def _all_started(data: pd.DataFrame, x: str) -> pd.DataFrame:
    """Each strategy's points from where every one of its runs has a first result: before
    that, the median would be over a growing set of runs and could rise, though each run's
    best-so-far only improves. On the trials axis every run starts at trial 1."""
    first = data.groupby([*RUN, "strategy", "budget"])[x].min().groupby(
        ["strategy", "budget"]).max().rename("_start")  # fmt: skip
    data = data.merge(first.reset_index(), on=["strategy", "budget"], how="left")
    return data[data[x] >= data._start].drop(columns="_start")


def forest(tables: Tables, colours: Palette) -> Figure | None:
    """Per budget: each strategy's outer-test score minus the baseline's, mean and 95%
    bootstrap interval over instances, one row per strategy; the baseline at zero, the ROPE
    shaded. Fewer than MIN_UNITS instances: points only."""
    baseline = _baseline(tables)
    return draw_forest(tables, tables["decision"], colours, f"outer-test score minus {baseline}'s")


def draw_forest(
    tables: Tables, decision: pd.DataFrame, colours: Palette, difference: str
) -> Figure | None:
    """The forest plot of a decision table (recommend.decision_table's columns): per budget,
    each strategy's `estimate` with its interval, the baseline at zero, the ROPE shaded;
    `difference` names what the x axis measures."""
    if decision.empty:  # no such studies (an empty frame may have no columns)
        return None
    decision = decision.dropna(subset=["estimate"])
    budgets = [b for b in _budgets(tables) if b in set(decision.budget)]
    if not budgets:
        return None
    baseline = _baseline(tables)
    most = int(decision.groupby("budget").size().max())
    fig, axes = _grid(len(budgets), 1, 9.0, max(2.2, 0.36 * most + 1.3))
    for (ax,), budget in zip(axes, budgets, strict=True):
        block = decision[decision.budget == budget].sort_values("estimate").reset_index()
        rope = float(block.claimed_low.iloc[0])
        ax.axvspan(-rope, rope, color="0.88", zorder=0, label=f"ROPE (+-{rope:g})")
        ax.axvline(0, color="0.35", lw=1.2, zorder=1, label=f"{baseline} (baseline)")
        n = int(block.instances.max())
        for y, row in block.iterrows():
            colour = colours.get(row.strategy, "black")
            if row.instances >= MIN_UNITS and np.isfinite(row.low):
                ax.plot([row.low, row.high], [y, y], color=colour, lw=2.2, zorder=2)
            ax.plot(row.estimate, y, "o", color=colour, ms=7, zorder=3)
            ax.annotate(row.verdict, (1.01, y), xycoords=ax.get_yaxis_transform(),
                        va="center", fontsize="small")  # fmt: skip
        labels = [f"{r.strategy} *" if r.flag else r.strategy for r in block.itertuples()]
        ax.set_yticks(range(len(block)), labels)
        ax.set_ylim(-0.6, len(block) - 0.4)
        interval = "95% bootstrap interval" if n >= MIN_UNITS else (
            f"no interval: fewer than {MIN_UNITS} instances")  # fmt: skip
        ax.set(
            xlabel=f"{difference} (mean over {n} instances, {interval})",
            title=f"{budget}: each strategy against {baseline}; * budget not equal (see table)",
        )  # fmt: skip
        ax.legend(loc="lower right", fontsize="small")
    return _finish(fig, axes, legend_everywhere=True)


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
    goals = discriminating_targets(tables)
    if not goals or ecdf.empty:
        return None
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


def discriminating_targets(tables: Tables) -> list[float]:
    """The targets that do not mean "the best known" on more than SAME_AS_BEST of the
    instances (harness.aggregate.targets.same_as_best); the others are dropped with a note."""
    share = same_as_best(tables["targets"], tables["curves"])
    return [float(t) for t, same in share.items() if same <= SAME_AS_BEST]


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
            wide = means.folds >= MIN_UNITS  # fewer folds: the mean alone, no interval
            ax.errorbar(
                np.arange(len(order))[wide], means.gain[wide],
                yerr=[(means.gain - means.gain_low)[wide], (means.gain_high - means.gain)[wide]],
                fmt="D", color="black", capsize=4, label="mean, 95% bootstrap CI",
            )  # fmt: skip
            ax.plot(np.arange(len(order))[~wide], means.gain[~wide], "D", color="black",
                    label=f"mean (under {MIN_UNITS} folds: no interval)")  # fmt: skip
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
        matrix = pd.DataFrame(1.0, index=mean.index, columns=mean.index)
        for pair in pairs.itertuples():  # each pair listed once: fill both halves
            matrix.loc[pair.strategy, pair.other] = matrix.loc[pair.other, pair.strategy] = (
                pair.p_value
            )
        sp.critical_difference_diagram(
            mean, matrix, ax=ax, color_palette=colours,
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
    high = pd.to_numeric(pairs.crossover_high, errors="coerce")  # all-None reads as objects
    pairs = pairs[(pairs.unit == "trials") & np.isfinite(high)]
    if pairs.empty:
        return None  # the report says so in a sentence
    empty = "no crossover with a finite interval at this budget"
    fig, axes, panels = _panels(tables, pairs, empty, height=max(PANEL[1], 0.3 * len(pairs)))
    for ax, budget, block in panels:
        block = block.sort_values(["crossover", "leader", "other"]).reset_index(drop=True)
        end = float(tables["runs"].loc[tables["runs"].budget == budget, "n_trials_budget"].max())
        for y, row in block.iterrows():
            ax.plot([row.crossover_low, row.crossover_high], [y, y], color=colours[row.leader],
                    lw=2)  # fmt: skip
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
    Plot("forest", "Each strategy against the baseline", "Outer-test score of each strategy "
         "minus the baseline's, mean over instances with its 95% percentile-bootstrap interval "
         "(scipy), one row per strategy; the baseline is the line at zero, the region of "
         "practical equivalence (ROPE) is shaded. The verdict at the right is on the claim "
         "that the strategy beats the baseline by at least the ROPE: supported only when the "
         "whole interval lies above the ROPE. With fewer than 5 instances no interval is "
         "given (points only). * marks a strategy whose budget was not really equal (fewer "
         "trials, or much more compute): see the decision table.", forest),
    Plot("convergence", "Convergence", "One panel per strategy, the baseline in grey behind "
         "it: median normalised regret of the best-so-far inner score (0 = best known on the "
         "instance, 1 = the defaults; above 1 is worse than the defaults) against trials, "
         "95% bootstrap bands over runs. Best-so-far starts at the first trial (the defaults "
         "are not a trial) and only improves. The y axis is linear from 0 to 1 and "
         "logarithmic above.", convergence),
    Plot("convergence_compute", "Convergence against compute", "The same against compute "
         "seconds (fit + score over all workers, log scale): a strategy that spends more "
         "compute per trial moves right. Each curve starts where all its runs have a first "
         "result, so that its median is over the same runs throughout.", convergence_compute),
    Plot("normalised_score", "Normalised score", "Bayesmark-style, one panel per strategy, "
         "median over runs: 0 = best known, 1 = random search's expected best after the same "
         "number of trials; below 1 beats random search. 95% bootstrap bands; linear to 1, "
         "log above.", normalised_score),
    Plot("rank_over_time", "Mean rank over time", "Mean rank of each strategy's best-so-far "
         "inner score across instances after each trial, and after each amount of compute "
         "seconds (1 = best).", rank_over_time),
    Plot("ttt_ecdf", "Trials to target", "Fraction of runs whose best-so-far reached each "
         "target within t trials (censored runs never count, so a curve ends at the success "
         "rate). Targets that mean the same as the best known score on most instances are "
         "not drawn (see the text).", ttt_ecdf),
    Plot("ttt_compute", "Compute to target", "Fraction of runs whose best-so-far reached each "
         "target within c compute seconds (fit + score over all workers, log scale).",
         ttt_compute),
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
         "defaults', per outer fold (dots) and mean (diamonds) with its 95% bootstrap "
         "interval where there are 5 folds or more.", gain),
    Plot("time_decomposition", "Time decomposition", "Mean seconds per study spent "
         "evaluating configurations, in the optimiser (its ask and tell of each trial), in "
         "harness bookkeeping and refitting on the outer folds. Bookkeeping is the rest of "
         "the search: journaling each trial, and the optimiser's thinking no trial carries "
         "(the ask the budget refused and the last tell); for a Gaussian process that is one "
         "more model fit and acquisition search per outer fold.", time_decomposition),
    Plot("overhead_growth", "Optimiser overhead growth", "Seconds the strategy spent choosing "
         "each trial's configuration against trial number (median and interquartile "
         "range, log scale).", overhead_growth),
    Plot("critical_difference", "Critical-difference diagram", "Mean ranks of outer-test "
         "score; strategies joined by a bar are not significantly different (Nemenyi "
         "post-hoc test after Friedman).", critical_difference),
    Plot("rank_heatmap", "Rank heatmap", "Mean rank of outer-test score per dataset and over "
         "all instances.", rank_heatmap),
    Plot("crossover", "Budget crossover", "For each pair of strategies whose crossover has a "
         "finite 95% bootstrap interval over instances: the trial from which the leader's "
         "median normalised regret stays below the other's until the end of the budget "
         "(dot) and that interval; the dashed line is the budget.", crossover),
    Plot("performance_profile", "Performance profiles", "Fraction of runs whose improvement "
         "(1 - final normalised regret) exceeds tau, with 95% bootstrap bands (the score "
         "distributions of rliable).", performance_profile),
]  # fmt: skip


def _baseline(tables: Tables) -> str:
    """The baseline the tables were computed against."""
    for name in ("power", "versus_baseline"):
        if len(tables[name]):
            return str(tables[name].baseline.iloc[0])
    return "random"


def has_data(fig: Figure | None) -> bool:
    """Whether some panel of the figure shows data (not only a note)."""
    return fig is not None and any(ax.axison and ax.has_data() for ax in fig.axes)


def smallest_text_px(fig: Figure) -> float:
    """The smallest text of the figure, in pixels, as report.html shows it (HTML_WIDTH)."""
    scale = min(1.0, HTML_WIDTH / (fig.get_figwidth() * DPI))
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    return min(sizes) * DPI / 72 * scale if sizes else np.inf


def readable(fig: Figure) -> Figure:
    """Enlarge every text below MIN_PX pixels at the HTML's width (figures wider than it
    are scaled down there)."""
    scale = min(1.0, HTML_WIDTH / (fig.get_figwidth() * DPI))
    points = MIN_PX / scale * 72 / DPI
    for ax in fig.axes:
        ax.tick_params(labelsize=max(points, 9.0))
    for text in fig.findobj(Text):
        if text.get_fontsize() < points:
            text.set_fontsize(points)
    return fig


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
