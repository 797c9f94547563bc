"""The recommendation: for each budget, the strategy a team should use by default.

The pick is the strategy with the best mean rank on outer-test score across the instances
of that budget (ties: the larger mean gain, then the name). Next to it: its mean gain over
the defaults with its bootstrap interval, its trials-to-target at the recommended target
(ERT and success rate), and whether it beats the baseline (random search) significantly
after Holm's correction. `verdict` says the same in words, and `power` what differences
the sweep could detect against the baseline (harness.aggregate.power).

`axis` says what the strategies were compared at equal amounts of, and the verdict says it
too: "compute" where the budget was in compute seconds (every search stopped at the same fit
+ score seconds, so the ranks compare strategies at equal compute), else "trials". Beside
the pick: its mean compute seconds per run and its ERT in compute seconds, so an equal-trial
pick that cost more compute shows it.
"""

from __future__ import annotations

import pandas as pd

from harness.aggregate.power import sentence
from harness.aggregate.settings import Settings


def recommendation_table(
    ranks: pd.DataFrame,
    gains: pd.DataFrame,
    erts: pd.DataFrame,
    versus: pd.DataFrame,
    powers: pd.DataFrame,
    compute: pd.DataFrame,
    axes: dict[str, str],
    settings: Settings,
) -> pd.DataFrame:
    """One row per budget (in the order of `axes`, budget -> axis); inputs are per (budget,
    strategy) tables."""
    at_target = erts[erts.target == settings.recommend_target]
    ert = ["ert_trials", "ert_compute", "success_rate"]
    table = (
        ranks.drop(columns="compute_seconds", errors="ignore")
        .merge(gains[["budget", "strategy", "gain", "gain_low", "gain_high"]], how="left")
        .merge(at_target[["budget", "strategy", *ert]], how="left")
        .merge(versus[["budget", "strategy", "p_holm", "beats_baseline"]], how="left")
        .merge(compute[["budget", "strategy", "compute_seconds"]], how="left")
    )
    rows = []
    for budget, axis in axes.items():
        block = table[table.budget == budget]
        if block.empty:
            continue
        best = block.sort_values(["mean_rank", "gain", "strategy"], ascending=[True, False, True])
        pick = best.iloc[0]
        # the pick's power against the baseline (the runner-up's, if the pick is the baseline)
        here = powers[powers.budget == budget].set_index("strategy")
        own = here.reindex([s for s in best.strategy if s in here.index]).dropna(
            subset=["detectable"]
        )
        verdict = f"at equal {axis}: {_verdict(best, settings)}"
        rows.append(
            pick.to_dict() | {"axis": axis, "verdict": verdict, "power": sentence(_first(own))}
        )
    columns = [
        "budget", "axis", "strategy", "mean_rank", "instances", "gain", "gain_low", "gain_high",
        "compute_seconds", "ert_trials", "ert_compute", "success_rate", "p_holm",
        "beats_baseline", "verdict", "power",
    ]  # fmt: skip
    target = f"{settings.recommend_target:g}"
    return pd.DataFrame(rows, columns=columns).rename(
        columns={"ert_trials": f"ert_trials_{target}", "ert_compute": f"ert_compute_{target}"}
    )


def _first(frame: pd.DataFrame) -> pd.Series | None:
    return frame.iloc[0] if len(frame) else None


def _verdict(ranked: pd.DataFrame, settings: Settings) -> str:
    best = ranked.iloc[0]
    baseline = settings.baseline
    others = len(ranked) - 1
    if others == 0:
        return f"only {best.strategy} ran at this budget; nothing to compare"
    if best.strategy == baseline:
        return f"{baseline} ranks best of {others + 1}; no strategy improves on it here"
    if pd.isna(best.p_holm):
        return f"best mean rank of {others + 1}; {baseline} did not run here, so untested"
    if best.beats_baseline:
        return f"best mean rank of {others + 1}; beats {baseline} (Holm p = {best.p_holm:.3g})"
    return (
        f"best mean rank of {others + 1}, but not significantly better than {baseline} "
        f"(Holm p = {best.p_holm:.3g}); {baseline} is as safe a default"
    )
