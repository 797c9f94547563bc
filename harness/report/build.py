"""Build a report folder from every finished study under a results folder.

    <out>/report.html       self-contained: figures embedded, tables, sweep config, versions
    <out>/report.md         the same in Markdown, figures linked from figures/
    <out>/figures/<name>.png and .svg
    <out>/tables/<name>.parquet and .csv    every aggregate table (harness.aggregate.TABLES)

The folder is assembled under a temporary name and swapped in at the end, so a failed or
interrupted build leaves the previous report as it was.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

from harness.aggregate import TABLES, aggregate
from harness.aggregate.friedman_power import sentence as friedman_sentence
from harness.aggregate.load import Records, damage_text, load_records
from harness.aggregate.power import sentence as power_sentence
from harness.aggregate.settings import Settings
from harness.aggregate.table_trust import trust_sentences
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
SECTIONS = Path(__file__).with_name("sections.yaml")  # the sections' texts
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
    """The report's first screen in a line per budget, for the console: the decision over
    table instances for table studies, the recommendation for nested-CV ones. When every study
    searched a table the recommendation is left out, as in the report (outline): it compares
    raw outer-test scores in each table's own units."""
    tables = out / "tables"
    best = pd.read_parquet(tables / "studies.parquet").get("table_best", pd.Series(dtype=float))
    lines = []
    if (tables / "table_sentences.parquet").exists():
        table = pd.read_parquet(tables / "table_sentences.parquet")
        lines += [str(row.sentence) for row in table.itertuples()]
    if not (len(best) and best.notna().all()):
        table = pd.read_parquet(tables / "recommendation.parquet")
        lines += [str(row.sentence) for row in table.itertuples()]
        if (tables / "own_table_trust.parquet").exists():  # reports built before it: none
            lines += trust_sentences(pd.read_parquet(tables / "own_table_trust.parquet"))
    return lines


@functools.cache
def section_texts() -> dict[str, list[str]]:
    """Each section's texts by title (sections.yaml): prose kept apart from the code that
    places it, and shown as it is in the docs (docs/reading-the-report/sections.md)."""
    return yaml.safe_load(SECTIONS.read_text())


def prose(title: str, settings: Settings | None = None) -> list[str]:
    """A section's texts, their {baseline}, {rope}, {alpha}, {detect}, {target} and
    {min_units} filled from the report's settings."""
    values = {}
    if settings is not None:
        values = {
            "baseline": settings.baseline,
            "rope": settings.rope,
            "alpha": settings.alpha,
            "detect": settings.detect,
            "target": f"{settings.recommend_target:g}",
            "min_units": MIN_UNITS,
        }
    return [text.format(**values) for text in section_texts()[title]]


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
    workers = _workers_section(t, fig) if len(tables["workers_speedup"]) else []
    population = _population_section(t, fig) if len(tables["pbt_schedule"]) else []
    decision = tables["decision"]
    shown = [c for c in DECISION_SHOWN if c != "budget" or decision.budget.nunique() > 1]
    sections = [
        Section(
            "Decision",
            [
                *[str(row.sentence) for row in tables["recommendation"].itertuples()],
                *trust_sentences(tables["own_table_trust"]),
            ],
            [
                fig["forest"],
                Table("decision", TABLES["decision"], decision[shown], wrap=True, shut=False),
                t["own_table_trust"],
            ],
            lead=True,
        ),
        Section("Summary", _summary(records, tables, settings)),
        Section(
            "Recommendation",
            [
                *prose("Recommendation", settings),
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
                *prose("Were the budgets equal", settings),
            ],
            [wrapped["equal_budget"]],
        ),
        Section("Skipped tests", _skipped_text(tables["skipped"]), [t["skipped"]]),
        Section(
            "Folklore, checked",
            [
                *prose("Folklore, checked", settings),
                *_folklore_lines(tables["folklore"]),
            ],
            [wrapped["folklore"]],
        ),
        Section(
            "Tuning without labels",
            [
                *prose("Tuning without labels", settings),
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
                *prose("Risk and equivalence", settings),
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
                *prose("Budget crossover", settings),
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
                *prose("Power", settings),
                *[f"{row.budget}: {row.power}." for row in tables["recommendation"].itertuples()],
            ],
            [wrapped["power"]],
        ),
        Section(
            "What matters in a space",
            [
                *prose("What matters in a space", settings),
            ],
            [t["importance_by_model"], t["tunability"], t["importance"]],
        ),
        Section(
            "How to choose",
            [
                *prose("How to choose", settings),
            ],
            [wrapped["choice"]],
        ),
        Section(
            "Trials to target",
            [
                *prose("Trials to target", settings),
                *_target_lines(tables),
            ],
            [fig["ttt_ecdf"], fig["ttt_compute"], t["ert"]],
        ),
        Section(
            "Anytime performance",
            [
                *prose("Anytime performance", settings),
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
                *prose("Compute", settings),
            ],
            [t["compute"]],
        ),
        Section(
            "Accuracy gain",
            [
                *prose("Accuracy gain", settings),
            ],
            [fig["gain"], t["gain_overall"], t["gain_by_model"], t["gain"]],
        ),
        Section(
            "Ranks and significance",
            [
                *prose("Ranks and significance", settings),
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
                *prose("Wall-clock time", settings),
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
            prose("Data tables"),
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
                *prose("Parallel workers"),
            ],
            [fig["workers_convergence"], t["workers_speedup"], t["workers_ert"]],
        )
    ]


def _population_section(t: dict[str, Table], fig: dict[str, Image]) -> list[Section]:
    return [
        Section(
            "Population-based training",
            [
                *prose("Population-based training"),
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
