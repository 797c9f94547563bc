"""Decisions over (task, seed) instances for table studies: the tests, power and verdicts of
the nested-CV report, computed by the same code on final normalised regret.

harness.aggregate.regret.instance_runs gives one row per table run whose `tuned_test` is
1 - final normalised regret, with its instance (benchmark/task/seed) as the problem; from it
this module builds the same instances x strategies matrices as significance.score_matrices
and hands them to significance (ranks, Friedman, exact Wilcoxon + Holm against the
baseline), power and friedman_power (the floor, the detectable difference and the instances
needed, by simulating the test run), equivalence (baycomp with the ROPE) and
recommend.decision_table (the claim "beats the baseline by at least the ROPE", judged by
the one rule of harness.aggregate.verdict). A difference is the baseline's final normalised
regret minus the strategy's: positive when the strategy ends nearer the table's best, in
units of the table's best-to-worst span, so the ROPE and `detect` of Settings are fractions of
that span (0.01: one percent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate import (
    equal_budget,
    equivalence,
    friedman_power,
    power,
    recommend,
    significance,
    verdict,
)
from harness.aggregate.settings import Settings

MEASURE = "1 - final normalised regret"


def verdict_tables(
    runs: pd.DataFrame, used: pd.DataFrame, settings: Settings
) -> dict[str, pd.DataFrame]:
    """The decision tables over instances: `runs` from regret.instance_runs, `used` the
    equal_budget table of the same studies."""
    matrices = significance.score_matrices(runs)
    ranked = significance.instance_ranks(matrices, runs)
    ranks = equal_budget.beside(significance.mean_ranks(ranked, ["budget", "strategy"]), used)
    versus = significance.baseline_table(matrices, settings.baseline, settings.alpha)
    powers = power.power_table(matrices, settings)
    decision = recommend.decision_table(ranks, versus, matrices, settings)
    friedman = significance.friedman_table(matrices).merge(
        friedman_power.friedman_power_table(matrices, settings), on="budget", how="left"
    )
    return {
        "table_decision": decision,
        "table_ranks": ranks,
        "table_versus": versus,
        "table_power": powers,
        "table_friedman": friedman,
        "table_equivalence": equivalence.equivalence_table(runs, settings),
        "table_sentences": sentences(decision, powers, settings),
    }


def sentences(decision: pd.DataFrame, powers: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per budget, one sentence: the strategy with the best mean rank of final normalised
    regret, its regret reduction against the baseline with its interval and verdict, and,
    when inconclusive, the power of the test that was run; then any strategy ranked below it
    that is supported."""
    rows = []
    for budget, block in decision.groupby("budget", sort=False):
        pick = block.iloc[0]  # decision_table: best mean rank first, the baseline left out
        here = powers[(powers.budget == budget) & (powers.strategy == pick.strategy)]
        text = sentence(pick, here.iloc[0] if len(here) else None, settings)
        text += recommend.supported_below(block, pick.strategy, settings.baseline, settings.rope)
        rows.append({"budget": budget, "strategy": pick.strategy, "sentence": text})
    return pd.DataFrame(rows, columns=["budget", "strategy", "sentence"])


def sentence(pick: pd.Series, powered: pd.Series | None, settings: Settings) -> str:
    baseline, rope = settings.baseline, settings.rope
    figure = (
        f"{baseline}'s final normalised regret minus {pick.strategy}'s is {pick.estimate:.3g} "
        + (
            f"[{pick.low:.3g}, {pick.high:.3g}]"
            if np.isfinite(pick.low)
            else f"(no interval over {pick.instances} instances)"
        )
    )
    head = f"{pick.budget}, over {pick.instances} (task, seed) instances: {pick.strategy} ranks "
    head += f"best of those against {baseline} (mean rank {pick.mean_rank:.2f}); {figure}"
    judged = {
        verdict.SUPPORTED: f"it beats {baseline} by at least the ROPE ({rope:g} of the table's "
        f"span), Holm p = {pick.p_holm:.3g}. Use {pick.strategy}.",
        verdict.CONTRADICTED: f"it does not beat {baseline} by the ROPE ({rope:g}): the "
        "interval lies wholly below it.",
        verdict.INCONCLUSIVE: f"whether it beats {baseline} by the ROPE ({rope:g}) is "
        f"inconclusive: {pick.why}.",
    }[pick.verdict]
    more = ""
    if pick.verdict == verdict.INCONCLUSIVE and "cannot separate" not in str(pick.why):
        text = power.sentence(powered, settings.alpha)
        more = f" {text[:1].upper()}{text[1:]}."
    return f"{head}: {judged}{more}"
