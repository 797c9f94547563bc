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

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from harness.aggregate import TABLES, aggregate
from harness.aggregate.friedman_power import sentence as friedman_sentence
from harness.aggregate.load import Records, damage_text, load_records
from harness.aggregate.power import sentence as power_sentence
from harness.aggregate.settings import Settings
from harness.aggregate.verdict import MIN_UNITS
from harness.report.document import Image, Section, Table, render_html, render_markdown
from harness.report.figures import (
    DPI,
    PLOTS,
    discriminating_targets,
    has_data,
    palette,
    readable,
)
from harness.report.table_figures import TABLE_PLOTS
from harness.store.records import notice, write_atomic

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
# the decision table as the first screen shows it (tables/decision.* hold every column)
DECISION_SHOWN = [
    "budget", "strategy", "mean_rank", "estimate", "low", "high", "verdict", "instances_needed",
    "p_holm", "p_equivalent", "trials_used", "compute_seconds", "optimiser_seconds", "flag",
]  # fmt: skip
ALWAYS = ("Summary",)
# long text columns the open tables leave to the text beside them (the files keep them)
LONG = (
    "sentence",
    "why",
    "power",
    "method",
    "measure",
    "statement",
)  # sections shown even without tables or figures


def build_report(source: Path, out: Path | None = None, settings: Settings | None = None) -> Path:
    """Aggregate the finished studies under `source` and write the report; returns its folder."""
    settings = settings or Settings()
    source = Path(source)
    out = Path(out) if out else source / REPORT
    records = load_records(source)
    if records.damaged:
        notice(f"warning: left out of the report, damaged: {damage_text(records.damaged)}")
    tables = aggregate(records, settings)
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_tables(tables, staging / "tables")
        drawn = _write_figures(tables, staging / "figures")
        sections = outline(records, tables, settings, drawn)
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
    return [str(row.sentence) for row in table.itertuples()]


def outline(
    records: Records,
    tables: dict[str, pd.DataFrame],
    settings: Settings,
    drawn: set[str] | None = None,
) -> list[Section]:
    """The report's sections, in reading order: the decision first (a sentence per budget,
    the forest plot, the decision table), then the evidence, then collapsed data tables and
    provenance. Every table and figure appears once; empty tables, figures not drawn
    (`drawn`: the figures written; None: all) and sections left with nothing are omitted
    (those of ONLY_WITH_WORKERS show only when studies differ only in workers, of
    ONLY_WITH_PBT only when some ran population-based training)."""
    t = {name: Table(name, TABLES[name], frame) for name, frame in tables.items()}
    t["friedman"] = Table(  # its method is in the text above
        "friedman", TABLES["friedman"], tables["friedman"].drop(columns="method", errors="ignore")
    )
    wrapped = {  # verdict tables, open; long text columns (in the text above) left out
        name: Table(
            name,
            TABLES[name],
            tables[name].drop(columns=list(LONG), errors="ignore"),
            wrap=True,
            shut=False,
        )
        for name in ("recommendation", "folklore", "equal_budget", "choice", "power")
    }
    fig = {plot.name: Image(plot.name, plot.title, plot.caption) for plot in [*PLOTS, *TABLE_PLOTS]}
    at_checkpoints = {
        name: Table(
            name,
            TABLES[name] + f"; at {column} in {CHECKPOINTS[:5]}... and the budget here, "
            "every step in the file",
            _at_checkpoints(tables[name], column),
        )
        for name, column in (("anytime", "spent"), ("overhead", "trial"))
    }
    appendix = [Table(n, TABLES[n], _short(tables[n]), full=len(tables[n]) <= 60) for n in APPENDIX]
    target = f"{settings.recommend_target:g}"
    workers = _workers_section(t, fig) if len(tables["workers_speedup"]) else []
    population = _population_section(t, fig) if len(tables["pbt_schedule"]) else []
    decision = tables["decision"]
    shown = [c for c in DECISION_SHOWN if c != "budget" or decision.budget.nunique() > 1]
    sections = [
        Section(
            "Decision",
            [str(row.sentence) for row in tables["recommendation"].itertuples()],
            [
                fig["forest"],
                Table("decision", TABLES["decision"], decision[shown], wrap=True, shut=False),
            ],
            lead=True,
        ),
        Section("Summary", _summary(records, tables, settings)),
        Section(
            "Recommendation",
            [
                "Per budget, the strategy with the best mean rank of outer-test score across "
                "problem instances, and the claim that it beats the baseline "
                f"({settings.baseline}) by at least the ROPE ({settings.rope:g}): `estimate` is "
                "its mean outer-test score minus the baseline's, `low` and `high` the 95% "
                "bootstrap interval over instances, `verdict` the one rule (supported only when "
                "the whole interval lies above the ROPE, contradicted only when wholly below, "
                "else inconclusive, with `instances_needed` to decide it). Beside it: the exact "
                "Wilcoxon test's Holm p (`p_holm`) and the smallest Holm p these instances "
                "could give (`p_floor`), baycomp's probability that the two are within the ROPE "
                "(`p_equivalent`; above 0.95 the report calls them practically equivalent), its "
                f"mean gain over the defaults, ERT to the {target} target, and what it used.",
                *[
                    f"{row.budget}: ranked at equal {row.axis}."
                    for row in tables["recommendation"].itertuples()
                ],
            ],
            [wrapped["recommendation"]],
        ),
        Section(
            "Were the budgets equal",
            [
                "Strategies are ranked at equal trials (or at equal fit + score seconds under a "
                "compute budget), but grid search can run out of grid before the budget, a "
                "multi-fidelity strategy runs many partial trials, and an optimiser can spend "
                "more seconds choosing than the models spend fitting. Per strategy: trials "
                "run, full-evaluation equivalents, fit + score seconds and the optimiser's own "
                f"seconds per run, against {settings.baseline}'s. `flag`: fewer trials than "
                "the budget, partial trials, or more than 1.5x the baseline's seconds. Ranks "
                "use trials (or fit + score seconds); the optimiser's seconds are shown, not "
                "ranked on.",
            ],
            [wrapped["equal_budget"]],
        ),
        Section("Skipped tests", _skipped_text(tables["skipped"]), [t["skipped"]]),
        Section(
            "Folklore, checked",
            [
                "Each claim is stated as a figure measured on this sweep, with its 95% "
                "percentile-bootstrap interval (scipy) and the range the claim puts it in, "
                "judged by one rule: supported only when the whole interval lies inside the "
                "claimed range, contradicted only when it lies wholly outside, otherwise "
                f"inconclusive (also with fewer than {MIN_UNITS} instances, or when what the "
                "claim needs did not run), with the instances that would decide it.",
                *_folklore_lines(tables["folklore"]),
            ],
            [wrapped["folklore"]],
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
                'above 0.95 is a decision. Beside it, the verdict rule on "as good as the '
                'baseline": the whole 95% interval of the difference within the ROPE.',
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
                "ahead, with a 95% bootstrap interval; inf: in some resamples it is not ahead "
                "at the end.",
                *_crossover_lines(tables["crossover"]),
            ],
            [
                fig["crossover"],
                Table("crossover", TABLES["crossover"], tables["crossover"], full=False),
            ],
        ),
        Section(
            "Power",
            [
                "The test run against the baseline is the exact Wilcoxon signed-rank test "
                "(scipy; zero differences dropped) with Holm's correction. `p_floor` is the "
                "smallest Holm p the non-zero differences at hand could give; where it is not "
                f"below alpha = {settings.alpha:g}, no outcome could have been significant. "
                "`detectable` is the shift of the differences that test detects with 80% "
                "power on these instances, and `needed_instances` the instances it needs for "
                f"{settings.detect:g}, both by simulating that test (ties kept at their "
                "observed share).",
                *[f"{row.budget}: {row.power}." for row in tables["recommendation"].itertuples()],
            ],
            [wrapped["power"]],
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
                f"rank, baycomp's decision against {settings.baseline}, and the verdict rule "
                "on its beating the baseline by at least the ROPE."
            ],
            [wrapped["choice"]],
        ),
        Section(
            "Trials to target",
            [
                "Targets lie a fraction of the way from the defaults' inner score to the best "
                "inner score any strategy reached on the instance. A run is censored when its "
                "best-so-far never reaches a target. ERT (expected running time, as in COCO) "
                "is everything all runs spent divided by the number that succeeded: infinite "
                "when none did. `ert_cost` counts full-evaluation equivalents (multi-fidelity), "
                "`ert_compute` compute seconds (fit + score over all workers).",
                *_target_lines(tables),
            ],
            [fig["ttt_ecdf"], fig["ttt_compute"], t["ert"]],
        ),
        Section(
            "Anytime performance",
            [
                "Best-so-far inner score as budget is spent (`spent`: trials, or full-evaluation "
                "equivalents for multi-fidelity strategies), from the first trial on."
            ],
            [
                fig["convergence"],
                fig["convergence_compute"],
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
                "workers (wall-clock with k workers is shorter; compute is not). The "
                "optimiser's own seconds are in the budgets table above and in the wall-clock "
                "section."
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
                "test (scipy), Nemenyi post-hoc (scikit-posthocs; each pair once), and exact "
                f"Wilcoxon signed-rank tests against {settings.baseline} with Holm's "
                f"correction (statsmodels), at alpha = {settings.alpha:g}. Friedman's "
                "`p_floor` is the smallest p it can give with these instances and strategies "
                "(every instance ranking them alike), `detectable` the shift of one strategy "
                "it detects with 80% power here, and `needed_instances` the instances it "
                f"needs for {settings.detect:g}, by simulating that test. `flag`, "
                "`trials_used` and the seconds: what each strategy really used.",
                *[
                    friedman_sentence(row, settings.alpha) + "."
                    for _, row in tables["friedman"].dropna(subset=["p_floor"]).iterrows()
                ],
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
                "(the strategy's ask and tell of each trial), harness bookkeeping (journaling, "
                "and the optimiser's thinking no trial carries: the ask the budget refused and "
                "the last tell), and refitting on the outer folds."
            ],
            [
                fig["time_decomposition"],
                fig["overhead_growth"],
                t["time_summary"],
                at_checkpoints["overhead"],
            ],
        ),
        Section(
            "Sweep",
            _sweep_text(records),
            [*_sweep_configs(records), t["versions"]],
            collapsed=True,
        ),
        Section(
            "Data tables",
            ["Per-run and per-step tables the sections above are computed from."],
            appendix,
            collapsed=True,
        ),
    ]
    if len(tables["table_final"]):
        sections = _with_table_sections(sections, records, tables, t, fig, settings)
    return _present(sections, drawn)


# nested-CV sections that do not apply when every study searched a published table, and why
RAW = (
    "it compares raw outer-test scores, which for a table study are true scores in each "
    "table's own units (a percentage on NAS-Bench-201, a negated loss on FCNet), so their "
    "differences cannot be averaged across tasks; the decision over table instances above "
    "compares normalised regret"
)
NOT_FOR_TABLES = {
    "Decision": RAW,
    "Recommendation": RAW,
    "Power": RAW,
    "Accuracy gain": "a table study has no defaults to gain over (default_test is NaN)",
    "Trials to target": "its targets lie between the defaults' score and the best, and a "
    "table study has no defaults; normalised regret against the table's exact best replaces "
    "it",
}
TABLE_DECISION_SHOWN = [c for c in DECISION_SHOWN if c not in ("compute_seconds",)]
TABLE_APPENDIX = (
    "table_final", "table_regret", "table_regret_time", "table_bayesmark", "table_rank",
    "table_rank_time", "table_curves", "table_curves_time",
)  # fmt: skip


def _with_table_sections(
    sections: list[Section],
    records: Records,
    tables: dict[str, pd.DataFrame],
    t: dict[str, Table],
    fig: dict[str, Image],
    settings: Settings,
) -> list[Section]:
    """The sections for table studies (docs/tables-report.md): their decision first, then
    their curves and tests after the nested-CV decision; when every study searched a table,
    the nested-CV sections of NOT_FOR_TABLES are left out with a line saying why."""
    final = tables["table_final"]
    decision = tables["table_decision"]
    shown = [c for c in TABLE_DECISION_SHOWN if c != "budget" or decision.budget.nunique() > 1]
    studies = records.studies
    only = bool(studies.get("table_best", pd.Series(dtype=float)).notna().all())
    omitted = [f"Section '{name}' left out: {why}." for name, why in NOT_FOR_TABLES.items()]
    lead = Section(
        "Decision over table instances",
        [str(row.sentence) for row in tables["table_sentences"].itertuples()],
        [
            fig["table_forest"],
            Table(
                "table_decision", TABLES["table_decision"], decision[shown], wrap=True, shut=False
            ),
        ],
        lead=True,
    )
    benchmarks = final.groupby("model").dataset.nunique()
    evidence = Section(
        "Table benchmarks",
        [
            f"{final.study_key.nunique()} table studies on {len(benchmarks)} benchmark(s) ("
            + ", ".join(f"{b}: {n} task(s)" for b, n in benchmarks.items())
            + f"), {final.groupby(['model', 'dataset', 'seed']).ngroups} (task, seed) "
            "instances. A table study looks each configuration up in a published table: the "
            "search sees one recorded seed's score (noisy); the report judges the "
            "configuration it would pick (the best noisy score so far, the incumbent) by its "
            "seed-averaged score over the table's recorded seeds (its true score).",
            "Normalised regret = (table's best - incumbent's true score) / (table's best - "
            "worst), best and worst over the whole table: exact, no estimate of the optimum. "
            "Curves are means over (task, seed) instances with 95% t intervals; over time, "
            "seconds are fractions of each task's simulated horizon, as tasks' training times "
            "differ by orders of magnitude. Bayesmark's normalised mean score puts random "
            "search at 1 at every trial and the table's best at 0.",
            f"Decisions: each strategy against {settings.baseline} on its final normalised "
            "regret per instance, with the tests, power analysis and verdict rule of the "
            "nested-CV report (exact Wilcoxon with Holm, Friedman, baycomp with the ROPE "
            f"{settings.rope:g}, detect {settings.detect:g}): ROPE and detect are fractions of "
            "the table's best-to-worst span here.",
            *_table_power_lines(tables, settings),
            *(omitted if only else []),
        ],
        [
            fig["table_regret"],
            fig["table_bayesmark"],
            fig["table_rank"],
            Table(
                "table_power",
                TABLES["table_power"],
                tables["table_power"].drop(columns=["method"], errors="ignore"),
                wrap=True,
                shut=False,
            ),
            t["table_ranks"],
            t["table_versus"],
            Table(
                "table_friedman",
                TABLES["table_friedman"],
                tables["table_friedman"].drop(columns="method", errors="ignore"),
            ),
            t["table_equivalence"],
        ],
    )
    data = Section(
        "Table data",
        ["Per-run and per-step tables of the table studies."],
        [Table(n, TABLES[n], tables[n], full=len(tables[n]) <= 60) for n in TABLE_APPENDIX],
        collapsed=True,
    )
    kept = [s for s in sections if not (only and s.title in NOT_FOR_TABLES)]
    if only:
        kept = [_without(s, "risk") if s.title == "Risk and equivalence" else s for s in kept]
    after = next(i for i, s in enumerate(kept) if s.title == "Summary") + 1
    last = next(i for i, s in enumerate(kept) if s.collapsed)
    return [lead, *kept[:after], evidence, *kept[after:last], data, *kept[last:]]


def _without(section: Section, name: str) -> Section:
    """The section without its table `name` (harm against the defaults: none for tables)."""
    items = [i for i in section.items if not (isinstance(i, Table) and i.name == name)]
    return Section(section.title, section.text, items, section.lead, section.collapsed)


def _table_power_lines(tables: dict[str, pd.DataFrame], settings: Settings) -> list[str]:
    """Per budget, the power of the test run for the table decision's pick."""
    lines = []
    powers = tables["table_power"]
    for row in tables["table_sentences"].itertuples():
        match = powers[(powers.budget == row.budget) & (powers.strategy == row.strategy)]
        text = power_sentence(match.iloc[0] if len(match) else None, settings.alpha)
        lines.append(f"{row.budget}: {text}.")
    return lines


def _present(sections: list[Section], drawn: set[str] | None) -> list[Section]:
    """The sections without empty tables and undrawn figures; a section left with no table
    or figure is dropped (but those in ALWAYS, and lead sections)."""
    kept = []
    for section in sections:
        items = [
            item
            for item in section.items
            if not (isinstance(item, Table) and item.frame.empty)
            and not (isinstance(item, Image) and drawn is not None and item.name not in drawn)
        ]
        if items or section.lead or section.title in ALWAYS or _only_text(section):
            kept.append(Section(section.title, section.text, items, section.lead,
                                section.collapsed))  # fmt: skip
    return kept


def _only_text(section: Section) -> bool:
    """Sections whose text is what they say (e.g. why every crossover was left out)."""
    return section.title == "Budget crossover" and len(section.text) > 1


def _short(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for the page: JSON columns (the studies' package versions) as a short note."""
    if "versions" not in frame:
        return frame
    count = frame.versions.map(lambda v: f"{str(v).count(':')} packages (versions table)")
    return frame.assign(versions=count)


def _crossover_lines(crossover: pd.DataFrame) -> list[str]:
    finite = crossover[np.isfinite(crossover.crossover_high.astype(float))]
    if crossover.empty or len(finite):
        return []
    return [
        f"No crossover has a finite interval here: for each of the {len(crossover)} pairs, "
        "some resamples of the instances do not have the leader ahead at the end of the "
        "budget, so this sweep cannot say from which trial on one strategy stays ahead. "
        "The figure is left out; the table has the point estimates."
    ]


def _target_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    kept = discriminating_targets(tables)
    dropped = [t for t in sorted(tables["targets"].target.unique()) if t not in kept]
    if not dropped:
        return []
    return [
        f"Target(s) {', '.join(f'{t:g}' for t in dropped)} not drawn: on most instances they "
        "mean the same as the best known score (no run's best-so-far ever lay between the "
        "target and the best; scores are discrete), so their curves would repeat the "
        "highest target's. Their numbers stay in the tables."
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
    if records.damaged:
        lines.append(
            f"{len(records.damaged)} study folder(s) with a damaged file left out: "
            + damage_text(records.damaged)
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
    """One line per claim in words; the table beside them holds the figures."""
    return [
        f'`{row.claim}`, "{row.statement}": {row.measure}. *{row.verdict}*: {row.why}.'
        for row in folklore.itertuples()
    ]


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


def _write_figures(tables: dict[str, pd.DataFrame], folder: Path) -> set[str]:
    """Every figure with data, its text readable at the HTML's width; returns their names."""
    folder.mkdir(parents=True)
    colours = palette(sorted(tables["studies"].strategy.unique()))
    drawn = set()
    for plot in [*PLOTS, *TABLE_PLOTS]:
        figure = plot.draw(tables, colours)
        if not has_data(figure):
            continue
        readable(figure)
        for suffix in ("png", "svg"):
            figure.savefig(folder / f"{plot.name}.{suffix}", dpi=DPI)
        drawn.add(plot.name)
    return drawn


def _swap_in(staging: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
