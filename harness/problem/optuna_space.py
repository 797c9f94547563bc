"""The search space in optuna's define-by-run form: what the optuna strategies suggest, and
what an export to optuna's storage declares as each parameter's distribution."""

from __future__ import annotations

from typing import Any

from optuna.trial import BaseTrial

from harness.problem.space import Param, SearchSpace


def suggest(trial: BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Define-by-run: each active parameter in declaration order, inactive ones never asked."""

    def value(p: Param) -> Any:
        if p.type == "categorical":
            return trial.suggest_categorical(p.name, p.choices)
        if p.type == "int":
            return trial.suggest_int(p.name, p.low, p.high, log=p.log)
        return trial.suggest_float(p.name, p.low, p.high, log=p.log)

    return space.walk(value)
