"""The recommendation: for each budget, the strategy a team should use by default, and how
sure the sweep is of it.

The pick is the strategy with the best mean rank on outer-test score across the instances
of that budget (ties: the larger mean gain, then the name). The claim checked for it is
"the pick scores at least the ROPE higher than the baseline on the outer test": the mean
paired difference over instances with its 95% bootstrap interval, judged by the one rule of
harness.aggregate.verdict against [ROPE, inf). Beside it: the exact Wilcoxon test's Holm p
and the smallest Holm p this many instances could give (harness.aggregate.power), baycomp's
P(equivalent) (harness.aggregate.equivalence), its mean gain over the defaults, ERT at the
recommended target, and what it used (harness.aggregate.equal_budget: trials, fit + score
and optimiser seconds, and a flag when the budgets were not really equal).

`sentence` says it in one plain sentence that starts with whether the sweep could decide at
all. "As good as" or "equivalent" appears only when baycomp's P(equivalent) exceeds
equivalence.DECIDED with the ROPE stated. `axis`: what the strategies were compared at equal
amounts of: "compute" where the budget was in compute seconds (every search stopped at the
same fit + score seconds), else "trials".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.aggregate import verdict
from harness.aggregate.equal_budget import SHOWN
from harness.aggregate.equivalence import DECIDED, probabilities
from harness.aggregate.power import cannot_separate, p_floor
from harness.aggregate.power import sentence as power_sentence
from harness.aggregate.settings import Settings

COLUMNS = [
    "budget", "axis", "strategy", "mean_rank", "strategies", *verdict.COLUMNS, "decidable",
    "instances", "instances_needed", "p_holm", "p_floor", "p_equivalent", "gain", "gain_low",
    "gain_high", "ert_trials", "success_rate", *SHOWN, "sentence", "why", "power",
]  # fmt: skip


def recommendation_table(
    ranks: pd.DataFrame,
    gains: pd.DataFrame,
    erts: pd.DataFrame,
    versus: pd.DataFrame,
    powers: pd.DataFrame,
    used: pd.DataFrame,
    matrices: dict[str, pd.DataFrame],
    decision: pd.DataFrame,
    axes: dict[str, str],
    settings: Settings,
) -> pd.DataFrame:
    """One row per budget (in the order of `axes`, budget -> axis); inputs are per (budget,
    strategy) tables, `used` harness.aggregate.equal_budget's, `decision` decision_table's."""
    at_target = erts[erts.target == settings.recommend_target]
    table = (
        ranks.drop(columns=["compute_seconds", *SHOWN], errors="ignore")
        .merge(gains[["budget", "strategy", "gain", "gain_low", "gain_high"]], how="left")
        .merge(at_target[["budget", "strategy", "ert_trials", "success_rate"]], how="left")
        .merge(versus[["budget", "strategy", "p_holm"]], how="left")
        .merge(powers[["budget", "strategy", "p_floor"]], how="left")
        .merge(used[["budget", "strategy", *SHOWN]], how="left")
    )
    rows = []
    for budget, axis in axes.items():
        block = table[table.budget == budget]
        if block.empty:
            continue
        best = block.sort_values(["mean_rank", "gain", "strategy"], ascending=[True, False, True])
        pick = best.iloc[0]
        here = powers[powers.budget == budget].set_index("strategy")
        claim = _claim(pick.strategy, matrices.get(budget), settings)
        row = pick.to_dict() | claim | {"axis": axis, "strategies": len(best)}
        row["power"] = power_sentence(_power_row(best, here), settings.alpha)
        runner = decision[decision.budget == budget]
        row["sentence"] = f"{budget}, ranked at equal {axis}: " + _sentence(
            row, best, here, used[used.budget == budget], runner, settings
        )
        rows.append(row)
    target = f"ert_trials_{settings.recommend_target:g}"
    return pd.DataFrame(rows).reindex(columns=COLUMNS).rename(columns={"ert_trials": target})


DECISION = [
    "budget", "strategy", "mean_rank", *verdict.COLUMNS, "decidable", "instances",
    "instances_needed",
    "p_holm", "p_equivalent", *SHOWN, "why",
]  # fmt: skip


def decision_table(
    ranks: pd.DataFrame,
    versus: pd.DataFrame,
    matrices: dict[str, pd.DataFrame],
    settings: Settings,
) -> pd.DataFrame:
    """Per budget and strategy but the baseline, best mean rank first: the claim "beats the
    baseline by at least the ROPE" judged by the verdict rule, the Holm p, baycomp's
    P(equivalent), and what the strategy used (`ranks` carries equal_budget.SHOWN)."""
    table = ranks.merge(versus[["budget", "strategy", "p_holm"]], how="left")
    table = table.sort_values(["budget", "mean_rank", "strategy"], kind="stable")
    rows = [
        row._asdict() | _claim(row.strategy, matrices.get(row.budget), settings)
        for row in table[table.strategy != settings.baseline].itertuples(index=False)
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=DECISION)


def _claim(strategy: str, matrix: pd.DataFrame | None, settings: Settings) -> dict:
    """The verdict columns of "`strategy` beats the baseline by at least the ROPE"."""
    empty = verdict.row(np.nan, np.nan, np.nan, settings.rope, np.inf, 0)
    if matrix is None or settings.baseline not in matrix or strategy == settings.baseline:
        return empty | {"p_equivalent": np.nan, "why": f"{settings.baseline} is the pick or "
                        "did not run"}  # fmt: skip
    scores, base = matrix[strategy].to_numpy(), matrix[settings.baseline].to_numpy()
    nonzero, tested = int(np.count_nonzero(scores - base)), matrix.shape[1] - 1
    floor = p_floor(nonzero, tested)
    undecidable = cannot_separate(
        len(scores), nonzero, strategy, settings.baseline, floor, settings.alpha
    )
    row = verdict.paired_difference(scores, base, settings.rope, np.inf, settings, undecidable)
    same = np.nan
    if len(scores) >= 2:
        same = probabilities(matrix[strategy].to_numpy(), matrix[settings.baseline].to_numpy(),
                             settings)[1]  # fmt: skip
    return row | {"p_equivalent": same}


def _power_row(best: pd.DataFrame, here: pd.DataFrame) -> pd.Series | None:
    """The pick's power row against the baseline (the runner-up's, if the pick is it)."""
    rows = here.reset_index()
    for strategy in best.strategy:
        match = rows[rows.strategy == strategy]
        if len(match):
            return match.iloc[0]
    return None


def _sentence(
    row: dict,
    best: pd.DataFrame,
    here: pd.DataFrame,
    used: pd.DataFrame,
    others: pd.DataFrame,
    settings: Settings,
) -> str:
    """The recommendation in one sentence. It starts with whether the sweep could decide:
    "cannot decide anything" (no strategy's test could reach alpha with these instances),
    "decides" (the claim is supported or contradicted) or "leaves it open" (inconclusive);
    then the pick and the figure behind the verdict; then the budgets that were not equal."""
    baseline, rope, alpha = settings.baseline, settings.rope, settings.alpha
    pick, n = row["strategy"], len(best)
    if n == 1:
        return f"only {pick} ran at this budget; nothing to compare."
    flags = used[used.flag.fillna("") != ""]
    flagged = "".join(
        [" Budgets not equal: ", "; ".join(f"{r.strategy} {r.flag}" for r in flags.itertuples()),
         "."] if len(flags) else []
    )  # fmt: skip
    claim = row if pick != baseline else (others.iloc[0].to_dict() if len(others) else None)
    if claim is None:
        return f"{baseline} (the baseline) ranks best of {n}; no other strategy to judge.{flagged}"
    reachable = bool(here.can_reach_alpha.any()) if len(here) else False
    if not reachable:
        head = (
            f"this sweep cannot decide anything: no strategy can reach p < {alpha:g} against "
            f"{baseline} with these instances."
        )
    elif claim["verdict"] == verdict.INCONCLUSIVE:
        head = "this sweep leaves it open."
    else:
        head = "this sweep decides."
    other = claim["strategy"]
    figure = (
        f"{other}'s outer-test score minus {baseline}'s is {claim['estimate']:.3g} "
        f"[{claim['low']:.3g}, {claim['high']:.3g}]"
        if np.isfinite(claim["low"])
        else f"{other}'s outer-test score minus {baseline}'s is {claim['estimate']:.3g} (no "
        f"interval over {claim['instances']} instances)"
    )
    if pick == baseline:
        ranked = f"{baseline} (the baseline) ranks best of {n}; the next is {other}"
    else:
        ranked = (
            f"{pick} ranks best of {n} (mean rank {row['mean_rank']:.2f} over "
            f"{int(best.iloc[0].instances)} instances)"
        )
    judged = {
        verdict.SUPPORTED: f"{other} beats {baseline} by at least the ROPE ({rope:g}), "
        f"Holm p = {claim['p_holm']:.3g}",
        verdict.CONTRADICTED: f"{other} does not beat {baseline} by the ROPE ({rope:g}): the "
        "interval lies wholly below it",
        verdict.INCONCLUSIVE: f"whether {other} beats {baseline} by the ROPE ({rope:g}) is "
        f"inconclusive: {claim['why']}",
    }[claim["verdict"]]
    use = f" Use {pick}." if pick != baseline and claim["verdict"] == verdict.SUPPORTED else ""
    equivalent = (
        f" baycomp gives P(within the ROPE of {rope:g}) = {claim['p_equivalent']:.2f}, above "
        f"{DECIDED:g}: {other} and {baseline} are practically equivalent."
        if claim["p_equivalent"] > DECIDED
        else ""
    )
    said = "cannot separate" in str(claim["why"])  # its why already says the test cannot decide
    power = f" {row['power'][:1].upper()}{row['power'][1:]}." if claim["verdict"] == (
        verdict.INCONCLUSIVE) and not said else ""  # fmt: skip
    below = supported_below(others, other, baseline, rope)
    return f"{head} {ranked}; {figure}: {judged}.{use}{equivalent}{power}{below}{flagged}"


def supported_below(decision: pd.DataFrame, judged: str, baseline: str, rope: float) -> str:
    """The strategies ranked below the one a sentence judged whose claim "beats the baseline
    by at least the ROPE" is supported, with their figures: a first screen that names only the
    best mean rank would hide a strategy the evidence does single out. `decision`: one
    budget's decision_table rows; empty when there are none."""
    rows = decision[(decision.strategy != judged) & (decision.verdict == verdict.SUPPORTED)]
    if rows.empty:
        return ""
    figures = "; ".join(
        f"{r.strategy} {r.estimate:.3g} [{r.low:.3g}, {r.high:.3g}], Holm p = {r.p_holm:.3g}"
        for r in rows.itertuples()
    )
    names = f"{', '.join(rows.strategy)} {'beats' if len(rows) == 1 else 'beat'}"
    return f" Ranked below it, {names} {baseline} by at least the ROPE ({rope:g}): {figures}."
