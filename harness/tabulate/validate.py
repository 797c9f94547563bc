"""`python -m harness.tabulate.validate dataset=... model=... [problem.table=<key>]`:
how well a table's surrogates answer configurations outside its design (issue 22, item 3).

Random search proposes without looking at scores, so the same random study (same seed, same
protocol) proposes the same configurations whether it is evaluated for real or answered by
the table. The command runs it both ways: for real (nested CV, in the table's store, so the
evaluation cache keeps the evaluations) and from the table with each surrogate, then compares
the inner-CV means trial by trial: Spearman's rank correlation (scipy) and the absolute error,
over every outer fold's trials. Configurations the design holds (the table answers them
exactly) are left out of the comparison, and counted. The figures are kept beside the table
(harness.store.validation), where the report of the studies it answers reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.errors import UsageError

N = 50  # validate.n: random configurations per outer fold
USAGE = "python -m harness.tabulate.validate dataset=credit-g model=logreg validate.n=50"


def split_options(arguments: list[str]) -> tuple[int, list[str]]:
    """`validate.n` and the studies' own overrides; UsageError (one line) for a bad one."""
    n, rest = N, []
    for text in arguments:
        key, _, value = text.partition("=")
        if key == "validate.n":
            if not (value.isdigit() and int(value) >= 2):
                raise UsageError(f"validate.n={value}: a whole number >= 2, e.g. {USAGE}")
            n = int(value)
        elif key.startswith("validate."):
            raise UsageError(f"unknown option {key}; choose validate.n")
        elif key in ("strategy", "budget.n_trials", "problem", "problem.surrogate"):
            raise UsageError(f"{key}: the validation sets it (random search, each surrogate)")
        else:
            rest.append(text)
    return n, rest


def compare(real: Any, answered: Any) -> dict[str, Any]:
    """The figures of one surrogate: trial tables of the real and the answered random study,
    joined on (repeat, outer fold, trial); the same configuration in both is required."""
    import numpy as np
    from scipy.stats import spearmanr

    on = ["repeat", "outer_fold", "trial"]
    if "surrogate" not in answered:  # no answer at all came from a surrogate: every one failed
        answered = answered.assign(surrogate=None)
    both = real[[*on, "params", "inner_mean"]].merge(
        answered[[*on, "params", "inner_mean", "surrogate", "status"]], on=on,
        suffixes=("_real", "_table"),
    )  # fmt: skip
    if not (both.params_real == both.params_table).all():
        raise RuntimeError("the real and the table's random studies proposed differently")
    off = both[both.surrogate.notna() & (both.status == "ok")]
    error = (off.inner_mean_table - off.inner_mean_real).abs()
    return {
        "configurations": len(off),
        "in_design": int((both.surrogate.isna() & (both.status == "ok")).sum()),
        "failed": int((both.status != "ok").sum()),  # the surrogate could not answer
        "spearman": float(spearmanr(off.inner_mean_real, off.inner_mean_table).statistic),
        "mean_abs_error": float(error.mean()),
        "max_abs_error": float(error.max()),
        "real_sd": float(np.std(off.inner_mean_real, ddof=1)),
    }


def validate(n: int, overrides: list[str]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The table's key, and each surrogate's figures against `n` real random configurations
    per outer fold; with no `problem.table`, the store's one table that fits the study."""
    from hydra import compose, initialize_config_dir

    from harness.engine.study import prepare, run
    from harness.paths import CONF
    from harness.problem.tables import SURROGATES
    from harness.store import validation

    table = [a for a in overrides if a.startswith("problem.table=")]
    common = [a for a in overrides if not a.startswith("problem.table=")]
    search = ["strategy=random", f"budget.n_trials={n}"]
    with initialize_config_dir(str(CONF), version_base=None):
        real_cfg = compose(config_name="config", overrides=[*common, *search])
        answering = [*common, *search, "problem=table", *table]
        answered_cfgs = {
            kind: compose(config_name="config", overrides=[*answering, f"problem.surrogate={kind}"])
            for kind in SURROGATES
        }
    answered_studies = {kind: prepare(cfg) for kind, cfg in answered_cfgs.items()}  # checks
    real_study = prepare(real_cfg)
    real, _ = run(real_study, real_study.home)
    figures = {
        kind: compare(real, run(study, study.home)[0]) for kind, study in answered_studies.items()
    }
    key = next(iter(answered_studies.values())).own_table.key
    validation.record(Path(real_study.config.run.store) / key, "surrogates", figures)
    return key, figures


def report(figures: dict[str, dict[str, Any]], key: str) -> str:
    """The figures as a few lines of text."""
    lines = [
        f"table {key}: its surrogates against real nested-CV evaluations of random "
        "configurations outside its design (inner-CV mean, over every outer fold)",
        f"{'surrogate':<10}{'n':>6}{'spearman':>10}{'mean |err|':>12}{'max |err|':>11}"
        f"{'real sd':>9}",
    ]
    for kind, f in figures.items():
        lines.append(
            f"{kind:<10}{f['configurations']:>6}{f['spearman']:>10.3f}"
            f"{f['mean_abs_error']:>12.4f}{f['max_abs_error']:>11.4f}{f['real_sd']:>9.4f}"
        )
    for kind, f in figures.items():
        if f.get("failed"):
            lines.append(f"({f['failed']} answers of {kind} failed: its study's trials say why)")
    some = next(iter(figures.values()))
    if some["in_design"]:
        lines.append(f"({some['in_design']} configurations were in the design: left out)")
    return "\n".join(lines)


def main(arguments: list[str]) -> None:
    """The command: figures on stdout, a bad option in one line (exit 2)."""
    from harness.cli import fail

    try:
        n, overrides = split_options(arguments)
        key, figures = validate(n, overrides)
        print(report(figures, key))
    except UsageError as e:
        fail(str(e))


if __name__ == "__main__":
    main(sys.argv[1:])
