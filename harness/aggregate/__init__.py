"""Records of finished studies in, tidy tables out: every number a report shows.

`aggregate(load_records(folder), Settings())` returns the tables named in TABLES, in that
order; each module here computes one family of them from the ones before it, so data flows
one way: records -> runs, instances, curves -> metrics -> recommendation. Each table that
comes from a statistical test names the library and test in its `method` column.
"""

from __future__ import annotations

import pandas as pd

from harness.aggregate import (
    anytime,
    choose,
    compute,
    crossover,
    curves,
    equal_budget,
    equivalence,
    folklore,
    friedman_power,
    gain,
    guard,
    importance,
    outside,
    population,
    power,
    recommend,
    regret,
    risk,
    robust,
    significance,
    speedup,
    table_trust,
    table_verdicts,
    targets,
    timing,
)
from harness.aggregate.load import RUN, Records, budget_order, versions_table
from harness.aggregate.recommend import recommendation_table
from harness.aggregate.settings import Settings
from harness.errors import UsageError

TABLES = {
    "recommendation": "per budget: the strategy to use by default, the axis compared on (trials "
    "or compute), its difference to the baseline with interval and verdict (rule of "
    "harness.aggregate.verdict), tests, what it used, and the sentence that says it",
    "own_table_trust": "per table tunebench built that answered studies (problem=table) and "
    "surrogate: Spearman of its answers with real evaluations outside its design, Kendall's tau "
    "of strategy rankings from its studies with real ones, and what each stands on",
    "decision": "per budget, strategy: outer-test score minus the baseline's, 95% bootstrap "
    "interval, verdict on beating it by the ROPE, Holm p, P(equivalent), trials and seconds used",
    "equal_budget": "per budget, strategy: trials, fit + score and optimiser seconds actually "
    "used, against the baseline's, and a flag where the budgets were not really equal",
    "folklore": "per claim: the figure measured, its 95% interval, the claimed range, verdict",
    "choice": "per model, space size, data size band, budget: best-ranked strategy, vs baseline",
    "skipped": "per budget: tests the data cannot carry (too few strategies or instances), why",
    "risk": "per budget, strategy, model: harm rate (Wilson CI) and CVaR 10% of gain and regret",
    "equivalence": "per budget, model, strategy: P(better, within ROPE, worse) than the "
    "baseline, baycomp's Bayesian signed-rank test",
    "iqm": "per budget, strategy, measure: interquartile mean with 95% bootstrap CI",
    "performance_profile": "per budget, strategy, tau: share of runs with improvement > tau",
    "crossover": "per budget, pair of strategies, unit: where the leader's median regret "
    "overtakes for good, 95% bootstrap CI",
    "power": "per budget, strategy: difference detectable vs the baseline, instances needed",
    "importance_by_model": "per model, parameter: mean importance over datasets (optuna PED-ANOVA)",
    "importance": "per model, dataset, parameter: importance (optuna PED-ANOVA)",
    "tunability": "per model: mean gain of the best strategy over datasets (Probst et al. 2019)",
    "workers_speedup": "per budget, strategy, clock, workers k: wall-clock speed-up over the "
    "fewest workers (k = 1), 95% bootstrap CI, parallel efficiency",
    "workers_ert": "per budget, strategy, clock, workers k, target: ERT in trials and seconds, "
    "trials relative to the fewest workers",
    "clustering": "per budget, strategy, clustering model: share of runs whose tuned "
    "configuration beat the defaults on ARI, ARI and index gains, Spearman rank correlation of "
    "index and ARI over trials, share misled, share of degenerate trials; 95% bootstrap CIs",
    "clustering_runs": "per clustering run: index gain, ARI and AMI of tuned and default, "
    "misled (index up, ARI down), rank correlation of index and ARI, degenerate trials",
    "pbt_schedule": "per population-based-training trial and numeric hyperparameter: member, "
    "fidelity reached, value, whether it followed an exploit step",
    "compute": "per budget, strategy: compute (fit + score seconds over all workers) per run",
    "ert": "per budget, strategy, target: success rate, ERT in trials, seconds and compute",
    "ert_by_problem": "the same per dataset and model",
    "anytime": "per budget, strategy, budget spent: mean normalised regret, score and rank",
    "gain_overall": "per budget, strategy: mean gain and optimism with 95% bootstrap CIs",
    "gain_by_model": "the same per model",
    "gain": "the same per model and dataset",
    "ranks": "per budget, strategy: mean rank of outer-test score across instances",
    "ranks_by_dataset": "the same per dataset",
    "friedman": "per budget: Friedman test over strategies, the smallest p it can give, the "
    "shift of one strategy it detects with 80% power, instances needed",
    "nemenyi": "per budget, pair of strategies: Nemenyi post-hoc p-value",
    "versus_baseline": "per budget, strategy: Wilcoxon test against the baseline, Holm-corrected",
    "time_summary": "per budget, strategy: mean seconds per study in each part, and share",
    "time_split": "per study: seconds in evaluation, optimiser, bookkeeping and refit",
    "overhead": "per budget, strategy, trial: quartiles of optimiser seconds per trial",
    "ttt_ecdf": "per budget, strategy, target, budget spent: fraction of runs at the target",
    "ttt_ecdf_compute": "per budget, strategy, target, compute seconds: fraction of runs at "
    "the target",
    "trials_to_target": "per run and target: reached or censored, trials and seconds spent",
    "targets": "per instance and target: the inner score that reaches it",
    "instances": "per instance: defaults' inner score, best known inner score, span",
    "instance_ranks": "per budget, instance, strategy: rank of outer-test score",
    "curves": "per run and budget spent: best-so-far, normalised regret and score, rank",
    "curves_seconds": "per run and point in time: best-so-far and normalised regret",
    "curves_compute": "per run and compute seconds spent: best-so-far, normalised regret, rank",
    "runs": "per run (study x outer fold): scores, gain, optimism, final regret, seconds",
    "trials_per_problem": "per problem: trials and the median seconds of one trial",
    "table_sentences": "table studies, per budget: the verdict over (task, seed) instances in "
    "one sentence",
    "table_decision": "table studies, per budget, strategy: the baseline's final normalised "
    "regret minus the strategy's over (task, seed) instances, 95% bootstrap interval, verdict "
    "on beating it by the ROPE (a fraction of the table's span), Holm p, P(equivalent)",
    "table_regret": "table studies, per budget, strategy, trial: mean normalised regret of the "
    "incumbent's true score over (task, seed) instances, 95% t interval",
    "table_regret_time": "table studies, per budget, strategy, fraction of the task's "
    "simulated horizon: mean normalised regret, 95% t interval",
    "table_bayesmark": "table studies, per budget, strategy, trial: Bayesmark's normalised mean "
    "score (random search = 1, 0 = the table's best), 95% t interval over tasks",
    "table_rank": "table studies, per budget, strategy, trial: mean rank of normalised regret "
    "(scipy rankdata per instance and trial)",
    "table_rank_time": "table studies, the same per fraction of the task's simulated horizon",
    "table_ranks": "table studies, per budget, strategy: mean rank of final normalised regret "
    "over (task, seed) instances, and what each strategy used",
    "table_versus": "table studies, per budget, strategy: exact Wilcoxon test of final "
    "normalised regret against the baseline, Holm-corrected",
    "table_power": "table studies, per budget, strategy: the same power analysis on final "
    "normalised regret (Holm p floor, detectable difference, instances needed)",
    "table_friedman": "table studies, per budget: Friedman test on final normalised regret "
    "over instances, its floor, detectable shift and instances needed",
    "table_equivalence": "table studies, per budget, benchmark, strategy: baycomp's P(better, "
    "within the ROPE, worse) on final normalised regret",
    "table_final": "per table run: normalised regret and true score of its incumbent at the "
    "end of its budget",
    "table_curves": "per table run and trial: normalised regret of the incumbent",
    "table_curves_time": "per table run and fraction of its task's simulated horizon: "
    "normalised regret of the incumbent",
    "studies": "per finished study: strategy, dataset, model, budget, problem, folder",
    "versions": "per package: versions the studies ran with, and the report's",
}


def aggregate(records: Records, settings: Settings) -> dict[str, pd.DataFrame]:
    """Every table in TABLES, computed from the records."""
    if records.trials.empty:
        raise UsageError(
            "the finished studies ran no trials (only the `default` strategy?); "
            "a report compares strategies that search, e.g. strategy=random,tpe"
        )
    budgets = budget_order(records.studies)
    trajectories = curves.trajectory_table(records.trials)
    runs = curves.run_table(records, trajectories)
    instances = curves.instance_table(runs, trajectories)
    sampled = curves.curve_table(trajectories, runs, instances)
    horizon = int(sampled.spent.max()) if len(sampled) else 0
    reference = anytime.random_reference(trajectories, settings.baseline, horizon)
    sampled["normalised_score"] = anytime.normalised_score(sampled, instances, reference)
    sampled = sampled.merge(anytime.rank_table(sampled), how="left")
    runs = runs.merge(risk.final_regret(sampled, instances), on=RUN, how="left")
    seconds = anytime.seconds_table(trajectories, instances)
    computed = anytime.seconds_table(trajectories, instances, "compute_spent")
    computed = computed.merge(anytime.rank_table(computed, "seconds"), how="left")

    goals = targets.target_table(instances, settings.targets)
    hits = targets.hit_table(trajectories, runs, goals)
    matrices = significance.score_matrices(runs)
    ranked = significance.instance_ranks(matrices, runs)
    ranks = significance.mean_ranks(ranked, ["budget", "strategy"])
    versus = significance.baseline_table(matrices, settings.baseline, settings.alpha)
    gain_overall = gain.gain_table(runs, ["budget", "strategy"], settings)
    split = timing.time_split(runs)
    ert = targets.ert_table(hits, ["budget", "strategy"])
    powers = power.power_table(matrices, settings)
    importances = importance.importance_table(records, settings)
    clustered = outside.clustering_runs(records)
    spent = compute.compute_table(runs, settings)
    used = equal_budget.budget_table(runs, settings)
    axes = compute.budget_axes(records.studies, budgets)
    ranked_used = equal_budget.beside(ranks, used)
    decision = recommend.decision_table(ranked_used, versus, matrices, settings)
    tables = {
        "recommendation": recommendation_table(
            ranked_used,
            gain_overall,
            ert,
            versus,
            powers,
            used,
            matrices,
            decision,
            axes,
            settings,
        ),
        "decision": decision,
        "own_table_trust": table_trust.trust_table(records),
        "equal_budget": used,
        "choice": choose.choice_table(ranked, runs, records.studies, settings),
        "skipped": guard.skipped_table(matrices, settings.baseline),
        "risk": risk.risk_table(runs, settings),
        "equivalence": equivalence.equivalence_table(runs, settings),
        "iqm": compute.beside(robust.iqm_table(runs, matrices, settings), spent),
        "performance_profile": robust.profile_table(runs, matrices, settings),
        "crossover": crossover.crossover_table(sampled, seconds, matrices, settings),
        "power": compute.beside(powers, spent),
        "importance_by_model": importance.importance_by_model(importances),
        "importance": importances,
        "tunability": importance.tunability_table(runs, instances, budgets, settings),
        "workers_speedup": speedup.speedup_table(runs, settings),
        "workers_ert": speedup.ert_by_workers(hits, runs),
        "clustering": outside.clustering_table(clustered, settings),
        "clustering_runs": clustered,
        "pbt_schedule": population.schedule_table(records.trials),
        "compute": spent,
        "ert": compute.beside(ert, spent),
        "ert_by_problem": targets.ert_table(hits, ["budget", "strategy", "dataset", "model"]),
        "anytime": anytime.anytime_summary(sampled),
        "gain_overall": compute.beside(gain_overall, spent),
        "gain_by_model": gain.gain_table(runs, ["budget", "strategy", "model"], settings),
        "gain": gain.gain_table(runs, ["budget", "strategy", "model", "dataset"], settings),
        "ranks": ranked_used,
        "ranks_by_dataset": significance.mean_ranks(ranked, ["budget", "strategy", "dataset"]),
        "friedman": significance.friedman_table(matrices).merge(
            friedman_power.friedman_power_table(matrices, settings), on="budget", how="left"
        ),
        "nemenyi": significance.nemenyi_table(matrices),
        "versus_baseline": equal_budget.beside(versus, used),
        "time_summary": timing.time_summary(split),
        "time_split": split,
        "overhead": timing.overhead_by_trial(trajectories),
        "ttt_ecdf": targets.ecdf_table(hits, runs),
        "ttt_ecdf_compute": targets.ecdf_table(hits, runs, "compute"),
        "trials_to_target": hits,
        "targets": goals,
        "instances": instances,
        "instance_ranks": ranked,
        "curves": sampled,
        "curves_seconds": seconds,
        "curves_compute": computed,
        "runs": runs,
        "trials_per_problem": folklore.trials_per_problem(records.trials),
        "studies": records.studies,
        "versions": versions_table(records.studies),
    }
    tables |= table_tables(records, runs, used, settings)
    tables["folklore"] = folklore.folklore_table(tables, settings)  # reads the tables above
    return {name: _in_budget_order(tables[name], budgets) for name in TABLES}


def table_tables(
    records: Records, runs: pd.DataFrame, used: pd.DataFrame, settings: Settings
) -> dict[str, pd.DataFrame]:
    """The tables of table studies (harness.aggregate.regret, table_verdicts); empty when no
    study searched a published table."""
    if regret.table_studies(records.studies).empty:
        return {name: pd.DataFrame() for name in TABLES if name.startswith("table_")}
    trajectories = regret.trajectory_table(records.trials, records.studies)
    trials = regret.over_trials(trajectories, records.studies)
    seconds = regret.over_time(trajectories)
    final = regret.final_table(trials)
    own = regret.instance_runs(final, runs)
    return {
        "table_regret": regret.regret_summary(trials, "trial"),
        "table_regret_time": regret.regret_summary(seconds, "fraction"),
        "table_bayesmark": regret.bayesmark_score(trials, settings.baseline),
        "table_rank": regret.rank_over(trials, "trial"),
        "table_rank_time": regret.rank_over(seconds, "fraction"),
        "table_final": final,
        "table_curves": trials,
        "table_curves_time": seconds,
    } | table_verdicts.verdict_tables(own, used[used.strategy.isin(own.strategy)], settings)


def _in_budget_order(table: pd.DataFrame, budgets: list[str]) -> pd.DataFrame:
    """Rows sorted by budget (smallest first), keeping the order within each budget."""
    if "budget" not in table or table.empty:
        return table.reset_index(drop=True)
    order = table.budget.map({b: i for i, b in enumerate(budgets)})
    return table.iloc[order.argsort(kind="stable")].reset_index(drop=True)
