"""`python -m harness.tabulate`: a table of a model's space on a dataset, built by tunebench's
own nested CV (docs/guides/own-tables.md).

A table is a study whose strategy is a fixed design (`strategy=design`, adapters.design): the
model's defaults, then a grid or a scrambled Sobol sample, `design.n` configurations in all.
Its records are the table: per repeat, outer fold and configuration, the inner mean, sd and
per-fold scores, the fit and score seconds, and (a tabulating study's own column) the
configuration refit on the outer-training rows and scored on the outer test. Since it is a
study, it is stored, resumed after a kill, cached and launched (joblib, Slurm, Ray) as every
study is; study.json holds the data fingerprint, protocol and space it was built from.

This module only turns the design's options into the study's: `design.n` is the budget
(`budget.n_trials`), `design.kind`, `design.resolution` and `design.rungs` (each configuration
at every rung of the model's fidelity too) the strategy's options.
"""

from __future__ import annotations

DESIGN = {  # design.<option> on the command line: the study's key it sets
    "design.n": "budget.n_trials",
    "design.kind": "strategy.adapter.kind",
    "design.resolution": "strategy.adapter.resolution",
    "design.rungs": "strategy.adapter.rungs",
}
USAGE = "python -m harness.tabulate dataset=credit-g model=logreg design.n=200"


def study_overrides(overrides: list[str]) -> list[str]:
    """The `python -m harness` overrides of a tabulate command; UsageError (one line) for a
    design size that is not a whole number >= 1, or a strategy given (the design is it)."""
    from harness.errors import UsageError

    out = ["strategy=design"]
    for text in overrides:
        key, _, value = text.partition("=")
        if key.lstrip("+~") in ("strategy", "budget.n_trials") or key.startswith("strategy."):
            raise UsageError(
                f"{key}: a table's strategy is its design; set design.n, design.kind "
                f"(grid or sobol), design.resolution and design.rungs instead, e.g. {USAGE}"
            )
        if key == "design.n" and not all(v.isdigit() and int(v) >= 1 for v in value.split(",")):
            raise UsageError(
                f"design.n={value}: a design holds a whole number >= 1 of configurations "
                f"(the model's defaults among them), e.g. {USAGE}"
            )
        if key.startswith("design.") and key not in DESIGN:
            raise UsageError(f"unknown design option {key}; choose one of: {', '.join(DESIGN)}")
        out.append(f"{DESIGN[key]}={value}" if key in DESIGN else text)
    return out
