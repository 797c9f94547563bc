"""Build a report folder from every finished study under a results folder.

    <out>/report.html       self-contained: figures embedded, tables, sweep config, versions
    <out>/report.md         the same in Markdown, figures linked from figures/
    <out>/figures/<name>.png and .svg
    <out>/tables/<name>.parquet and .csv    every aggregate table (harness.aggregate.TABLES)

The folder is assembled under a temporary name and swapped in at the end, so a failed or
interrupted build leaves the previous report as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from harness.aggregate import TABLES, aggregate
from harness.aggregate.load import Records, load_records
from harness.aggregate.settings import Settings
from harness.report.document import Image, Section, Table, render_html, render_markdown
from harness.report.figures import PLOTS, palette
from harness.store.records import write_atomic

REPORT = "report"
CHECKPOINTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # budget spent shown in summaries
APPENDIX = (
    "runs", "studies", "instances", "targets", "trials_to_target", "ert_by_problem",
    "instance_ranks", "ttt_ecdf", "ttt_ecdf_compute", "curves", "curves_seconds",
    "curves_compute", "time_split", "trials_per_problem",
)  # fmt: skip
# tables and figures about studies that differ only in workers: shown only when there are some
ONLY_WITH_WORKERS = ("workers_convergence", "workers_speedup", "workers_ert")
# the schedule of population-based training's members: shown only for studies that ran it
ONLY_WITH_PBT = ("pbt_schedule",)


def build_report(source: Path, out: Path | None = None, settings: Settings | None = None) -> Path:
    """Aggregate the finished studies under `source` and write the report; returns its folder."""
    settings = settings or Settings()
    source = Path(source)
    out = Path(out) if out else source / REPORT
    records = load_records(source)
    tables = aggregate(records, settings)
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_tables(tables, staging / "tables")
        _write_figures(tables, staging / "figures")
        sections = outline(records, tables, settings)
        title = f"tunebench report: {source.resolve().name}"
        write_atomic(staging / "report.md", render_markdown(title, sections))
        write_atomic(staging / "report.html", render_html(title, sections, staging / "figures"))
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def recommendation_lines(out: Path) -> list[str]:
    """The recommendation in a line per budget, for the console."""
    table = pd.read_parquet(out / "tables" / "recommendation.parquet")
    return [f"{row.budget}: {row.strategy}; {row.verdict}" for row in table.itertuples()]


def outline(records: Records, tables: dict[str, pd.DataFrame], settings: Settings) -> list[Section]:
    """The report's sections, in reading order; every table and figure appears once (those
    of ONLY_WITH_WORKERS only when studies differ only in workers, of ONLY_WITH_PBT only
    when some ran population-based training)."""
    t = {name: Table(name, TABLES[name], frame) for name, frame in tables.items()}
    fig = {plot.name: Image(plot.name, plot.title, plot.caption) for plot in PLOTS}
    at_checkpoints = {
        name: Table(
            name,
            TABLES[name] + f"; at {column} in {CHECKPOINTS[:5]}... and the budget here, "
            "every step in the file",
            _at_checkpoints(tables[name], column),
        )
        for name, column in (("anytime", "spent"), ("overhead", "trial"))
    }
    appendix = [Table(n, TABLES[n], tables[n], full=len(tables[n]) <= 60) for n in APPENDIX]
    target = f"{settings.recommend_target:g}"
    workers = _workers_section(t, fig) if len(tables["workers_speedup"]) else []
    population = _population_section(t, fig) if len(tables["pbt_schedule"]) else []
    return [
        Section("Summary", _summary(records, tables, settings)),
        Section(
            "Recommendation",
            [
                "Per budget, the strategy with the best mean rank of outer-test score across "
                f"problem instances; its mean gain over the defaults (95% bootstrap CI), its "
                "mean compute per run (fit + score seconds over all workers), its expected "
                f"running time to the {target} target in trials and in compute seconds and "
                f"success rate, and the Holm-corrected Wilcoxon p-value against "
                f"{settings.baseline}. `axis`: what the strategies were given equal amounts "
                "of: compute where the budget was in compute seconds (budget.compute_s), "
                "trials otherwise (then compare `compute_seconds` too).",
                *[
                    f"{row.budget}: ranked at equal {row.axis}."
                    for row in tables["recommendation"].itertuples()
                ],
            ],
            [t["recommendation"]],
        ),
        Section("Skipped tests", _skipped_text(tables["skipped"]), [t["skipped"]]),
        Section(
            "Folklore, checked",
            [
                "Each claim is stated as a figure measured on this sweep, with its 95% "
                "percentile-bootstrap interval (scipy) and the range the claim puts it in. "
                "Supported: the estimate lies in the range; contradicted: the whole interval "
                "lies outside it; not testable on this sweep: what it needs did not run, or the "
                "interval is too wide to tell (the `why` column says which).",
                *_folklore_lines(tables["folklore"]),
            ],
            [t["folklore"]],
        ),
        Section(
            "Tuning without labels",
            [
                "Clustering studies tune by an internal index of held-out inner rows; where the "
                "dataset has labels (hidden from tuning), the outer test also scores the tuned "
                "and default configurations by ARI. Per strategy and model: the share of runs "
                "whose tuned configuration beat the defaults on ARI, the ARI and index gains, "
                "Spearman's rank correlation of index and ARI over each run's trials (scipy), "
                "the share of runs misled (index up, ARI down) and of degenerate trials (one "
                "cluster or all noise). Empty when no clustering study ran (docs/clustering.md).",
            ],
            [
                t["clustering"],
                Table(
                    "clustering_runs",
                    TABLES["clustering_runs"],
                    tables["clustering_runs"],
                    full=False,
                ),
            ],
        ),
        Section(
            "Risk and equivalence",
            [
                "Harm rate: the share of outer folds where tuning scored below the defaults "
                "on the outer test, with Wilson's interval (statsmodels). CVaR 10%: the mean of "
                "the worst 10% of runs, of the gain and of the final normalised regret, with "
                "bootstrap intervals (scipy). Model `all` pools the models.",
                "Practical equivalence: baycomp's Bayesian signed-rank test gives the "
                f"probabilities that each strategy is better than {settings.baseline} by more "
                f"than the ROPE ({settings.rope:g}), within it, or worse, on outer-test scores; "
                "above 0.95 is a decision.",
                "Robust aggregates (as rliable recommends): the interquartile mean with "
                "bootstrap intervals, and performance profiles of each run's improvement.",
            ],
            [
                t["risk"],
                t["equivalence"],
                t["iqm"],
                fig["performance_profile"],
                Table(
                    "performance_profile",
                    TABLES["performance_profile"],
                    tables["performance_profile"],
                    full=False,
                ),
            ],
        ),
        Section(
            "Budget crossover",
            [
                "For each pair of strategies: which one ends ahead (lower median normalised "
                "regret across instances), and from which trial (or second) on it stays "
                "ahead; inf: in some resamples it is not ahead at the end."
            ],
            [fig["crossover"], t["crossover"]],
        ),
        Section(
            "Power",
            [
                "From the spread of the paired outer-test differences against "
                f"{settings.baseline}, the smallest mean difference this sweep detects with "
                f"80% power at alpha = {settings.alpha:g}, and the instances needed to detect "
                f"{settings.detect:g} (statsmodels TTestPower, paired t-test).",
                *[f"{row.budget}: {row.power}." for row in tables["recommendation"].itertuples()],
            ],
            [t["power"]],
        ),
        Section(
            "What matters in a space",
            [
                "Hyperparameter importance per model from the recorded trials (optuna's "
                "PED-ANOVA evaluator, all strategies' full-fidelity trials pooled per dataset), "
                "and tunability per model family (Probst et al. 2019): how much tuning gained "
                "over the defaults on the datasets run."
            ],
            [t["importance_by_model"], t["tunability"], t["importance"]],
        ),
        Section(
            "How to choose",
            [
                "The rule of thumb, filled from this sweep: per model, search-space size "
                "(parameters), dataset size band and budget, the strategy with the best mean "
                f"rank, and whether it is practically better than {settings.baseline} "
                "(baycomp, ROPE as above)."
            ],
            [t["choice"]],
        ),
        Section(
            "Trials to target",
            [
                "Targets lie a fraction of the way from the defaults' inner score to the best "
                "inner score any strategy reached on the instance. A run is censored when its "
                "best-so-far never reaches a target. ERT (expected running time, as in COCO) "
                "is everything all runs spent divided by the number that succeeded: infinite "
                "when none did. `ert_cost` counts full-evaluation equivalents (multi-fidelity), "
                "`ert_compute` compute seconds (fit + score over all workers)."
            ],
            [fig["ttt_ecdf"], fig["ttt_compute"], t["ert"]],
        ),
        Section(
            "Anytime performance",
            [
                "Best-so-far inner score as budget is spent (`spent`: trials, or full-evaluation "
                "equivalents for multi-fidelity strategies)."
            ],
            [
                fig["convergence"],
                fig["normalised_score"],
                fig["rank_over_time"],
                at_checkpoints["anytime"],
            ],
        ),
        *workers,
        *population,
        Section(
            "Compute",
            [
                "Compute is what the evaluations cost: their fit + score seconds, summed over "
                "workers (wall-clock with k workers is shorter; compute is not). Tables that "
                "compare strategies at a budget show each one's mean compute per run "
                "(`compute_seconds`) beside its other figures; convergence, mean rank and "
                "targets are drawn against compute seconds as well as trials."
            ],
            [t["compute"]],
        ),
        Section(
            "Accuracy gain",
            [
                "Gain is the outer-test score of the tuned configuration minus the defaults' "
                "on the same outer fold: data the tuner never saw. Optimism is the best inner "
                "score minus the tuned outer-test score; a large optimism means the search "
                "over-fitted its validation folds."
            ],
            [fig["gain"], t["gain_overall"], t["gain_by_model"], t["gain"]],
        ),
        Section(
            "Ranks and significance",
            [
                "Strategies ranked per problem instance by outer-test score (1 = best, ties "
                "averaged), on instances where every strategy of the budget ran. Friedman's "
                "test (scipy), Nemenyi post-hoc (scikit-posthocs), and Wilcoxon signed-rank "
                f"tests against {settings.baseline} with Holm's correction (statsmodels), at "
                f"alpha = {settings.alpha:g}."
            ],
            [
                fig["critical_difference"],
                fig["rank_heatmap"],
                t["ranks"],
                t["friedman"],
                t["versus_baseline"],
                t["nemenyi"],
                t["ranks_by_dataset"],
            ],
        ),
        Section(
            "Wall-clock time",
            [
                "Each study's time split into model evaluation (inner CV), optimiser overhead "
                "(the strategy choosing configurations), harness bookkeeping, and refitting "
                "on the outer folds."
            ],
            [
                fig["time_decomposition"],
                fig["overhead_growth"],
                t["time_summary"],
                at_checkpoints["overhead"],
            ],
        ),
        Section("Sweep", _sweep_text(records), [*_sweep_configs(records), t["versions"]]),
        Section(
            "Data tables",
            ["Per-run and per-step tables the sections above are computed from."],
            appendix,
        ),
    ]


def _workers_section(t: dict[str, Table], fig: dict[str, Image]) -> list[Section]:
    return [
        Section(
            "Parallel workers",
            [
                "Studies that differ only in workers (same problem, budget, strategy and "
                "clock), compared with the fewest workers that ran (k = 1 when it did). "
                "Speed-up: per instance, the reference's search seconds over the k-worker "
                "search's (virtual seconds with the simulated clock), mean and 95% bootstrap CI; "
                "efficiency: speed-up / (k / reference k). Trials-to-target at each k: "
                "`trials_ratio` above 1 is the sample efficiency lost to parallelism (proposals "
                "made before the results in flight were known).",
            ],
            [fig["workers_convergence"], t["workers_speedup"], t["workers_ert"]],
        )
    ]


def _population_section(t: dict[str, Table], fig: dict[str, Image]) -> list[Section]:
    return [
        Section(
            "Population-based training",
            [
                "Each member of a population trains step by step; at each perturbation "
                "interval the library has weak members continue a strong member's fitted "
                "models with its hyperparameters perturbed. Every trial record says its "
                "`member` and, after an exploit, the trial whose models it continued "
                "(`exploited_from`), so each member's schedule of hyperparameters reads off "
                "the records. The configuration chosen (the best at full fidelity) is refit "
                "from scratch and scored on the outer test like any strategy's.",
            ],
            [fig["pbt_schedule"], t["pbt_schedule"]],
        )
    ]


def _summary(records: Records, tables: dict[str, pd.DataFrame], settings: Settings) -> list[str]:
    studies, runs = records.studies, tables["runs"]
    budgets = list(dict.fromkeys(runs.budget))
    kinds = {
        ("strategy", "strategies"): sorted(studies.strategy.unique()),
        ("dataset", "datasets"): sorted(studies.dataset.unique()),
        ("model", "models"): sorted(studies.model.unique()),
        ("budget", "budgets"): budgets,
    }
    count = ", ".join(f"{len(v)} {k[len(v) != 1]} ({', '.join(v)})" for k, v in kinds.items())
    lines = [
        f"{len(studies)} finished studies: {count}. {len(tables['instances'])} problem "
        f"instances, {len(runs)} runs.",
        f"Targets {', '.join(f'{x:g}' for x in settings.targets)} of the way from defaults "
        f"to best known; baseline {settings.baseline}; alpha {settings.alpha:g}; "
        f"{settings.resamples} bootstrap resamples, seed {settings.seed}.",
    ]
    flat = int((tables["instances"].span == 0).sum())
    if flat:
        lines.append(
            f"On {flat} instance(s) no trial beat the defaults' inner score: every target there "
            "is the defaults' own score, and normalised regret is undefined (left out of the "
            "curves)."
        )
    if records.unfinished:
        lines.append(
            f"{len(records.unfinished)} study folder(s) not finished and left out: "
            + ", ".join(records.unfinished[:5])
            + (" ..." if len(records.unfinished) > 5 else "")
        )
    return lines


def _skipped_text(skipped: pd.DataFrame) -> list[str]:
    if skipped.empty:
        return ["Every test had the strategies and instances it needs."]
    return [f"{row.budget}: {row.test} skipped: {row.reason}." for row in skipped.itertuples()]


def _folklore_lines(folklore: pd.DataFrame) -> list[str]:
    lines = []
    for row in folklore.itertuples():
        figure = (
            f"{row.estimate:.3g} [{row.low:.3g}, {row.high:.3g}]"
            if pd.notna(row.estimate)
            else "not measured"
        )
        lines.append(
            f'"{row.statement}": {row.measure}; claimed [{row.claimed_low:g}, '
            f"{row.claimed_high:g}]; measured {figure}: {row.verdict} ({row.why})."
        )
    return lines


def _sweep_text(records: Records) -> list[str]:
    if not records.sweeps:
        return ["No Hydra sweep folder (multirun.yaml) under the results folder."]
    return [f"{len(records.sweeps)} sweep(s); each one's command and config follows."]


def _sweep_configs(records: Records) -> list[str]:
    blocks = []
    for folder, text in records.sweeps.items():
        config = OmegaConf.create(text)
        hydra = config.get("hydra", {})
        task = " ".join(OmegaConf.select(hydra, "overrides.task", default=[]) or [])
        params = OmegaConf.select(hydra, "sweeper.params", default=None) or {}
        swept = "\n".join(f"  {k}={v}" for k, v in params.items()) or "  (none)"
        body = OmegaConf.to_yaml({k: v for k, v in config.items() if k != "hydra"})
        blocks.append(
            f"sweep folder: {folder} (relative to the results folder)\n"
            f"command: python -m harness -m {task}\nsweeper params:\n{swept}\n\n"
            f"base config, before each job's overrides:\n{body}"
        )
    return blocks


def _at_checkpoints(table: pd.DataFrame, column: str) -> pd.DataFrame:
    if table.empty:
        return table
    last = table.groupby("budget")[column].transform("max")
    return table[table[column].isin(CHECKPOINTS) | (table[column] == last)]


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        frame.to_csv(folder / f"{name}.csv", index=False)


def _write_figures(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True)
    colours = palette(sorted(tables["studies"].strategy.unique()))
    for plot in PLOTS:
        figure = plot.draw(tables, colours)
        for suffix in ("png", "svg"):
            figure.savefig(folder / f"{plot.name}.{suffix}", dpi=110)


def _swap_in(staging: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
