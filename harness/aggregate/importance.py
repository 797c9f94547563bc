"""What matters in a space: which hyperparameters moved the score, and how much tuning a model
family gains at all.

- *Importance*: per model and dataset, every full-fidelity trial that scored (all strategies,
  budgets and outer folds pooled) is handed to optuna as a finished trial of an in-memory
  study, over the model's search space, and optuna's PED-ANOVA evaluator
  (PedAnovaImportanceEvaluator, Watanabe et al. 2023) says how much each parameter explains
  the top trials (fANOVA, the other choice, takes minutes per table on a busy machine).
  Conditional parameters are measured the way optuna's PED-ANOVA handles them (on the trials
  where they are set).
- *Tunability* (Probst, Boulesteix and Bischl 2019, "Tunability: importance of
  hyperparameters of machine learning algorithms"): per model, the outer-test gain of the
  best strategy over the defaults on each dataset at the largest budget, averaged over
  datasets, with a 95% bootstrap interval over datasets (scipy); and `inner_span`, the mean
  gap between the defaults' and the best known inner score.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

from harness.aggregate.gain import mean_interval
from harness.aggregate.load import Records
from harness.aggregate.settings import Settings
from harness.problem.space import Param, SearchSpace, parents_first

MAX_TRIALS = 2000  # per model and dataset, a seeded sample beyond this
METHOD = "optuna PedAnovaImportanceEvaluator on the recorded trials"
TUNABILITY = "Probst et al. 2019: best strategy's mean gain per dataset; bootstrap (scipy)"


def distribution(p: Param) -> BaseDistribution:
    """A parameter of the neutral space as an optuna distribution."""
    if p.type == "categorical":
        return CategoricalDistribution(p.choices)
    if p.type == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log)
    return FloatDistribution(p.low, p.high, log=p.log)


def importance_table(records: Records, settings: Settings) -> pd.DataFrame:
    """Per model, dataset and parameter: its importance (summing to 1 per model and dataset)."""
    trials = records.trials
    if "fidelity" in trials:
        trials = trials[trials.fidelity.fillna(1.0) >= 1]
    trials = trials[(trials.status == "ok") & trials.inner_mean.notna()]
    rows = []
    for (model, dataset), group in trials.groupby(["model", "dataset"], sort=True):
        config = next((records.configs[k] for k in group.study_key.unique()
                       if k in records.configs), None)  # fmt: skip
        if config is None:
            continue
        space = SearchSpace.from_config(parents_first(config["model"]["space"]), f"model {model}")
        if len(group) > MAX_TRIALS:
            group = group.sample(MAX_TRIALS, random_state=settings.seed)
        for name, value in _importances(space, group, settings).items():
            rows.append(
                {"model": model, "dataset": dataset, "parameter": name,
                 "importance": value, "trials": len(group), "method": METHOD}
            )  # fmt: skip
    columns = ["model", "dataset", "parameter", "importance", "trials", "method"]
    return pd.DataFrame(rows, columns=columns)


def _importances(space: SearchSpace, trials: pd.DataFrame, settings: Settings) -> dict:
    distributions = {p.name: distribution(p) for p in space.params}
    finished = []
    for params_text, value in zip(trials.params, trials.inner_mean, strict=True):
        params: dict[str, Any] = json.loads(params_text)
        known = {k: v for k, v in params.items() if k in distributions}
        if any(not space[k].contains(v) for k, v in known.items()):
            continue
        finished.append(
            optuna.trial.create_trial(
                params=known, distributions={k: distributions[k] for k in known}, value=value
            )
        )
    if len(finished) < 2:
        return {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    study.add_trials(finished)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PED-ANOVA is marked experimental
        try:
            found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
        except (ValueError, RuntimeError):  # e.g. no parameter common to all trials
            return {}
    return {name: float(value) for name, value in found.items()}


def importance_by_model(importance: pd.DataFrame) -> pd.DataFrame:
    """Per model and parameter: mean importance over the datasets it was measured on."""
    table = importance.groupby(["model", "parameter"], as_index=False).agg(
        importance=("importance", "mean"), datasets=("dataset", "nunique")
    )
    table["method"] = METHOD
    return table.sort_values(["model", "importance"], ascending=[True, False])


def tunability_table(
    runs: pd.DataFrame, instances: pd.DataFrame, budgets: list[str], settings: Settings
) -> pd.DataFrame:
    """Per model: mean over datasets of the best strategy's mean gain at the largest budget."""
    searched = runs[runs.n_trials > 0]
    rows = []
    for model, block in searched.groupby("model", sort=True):
        largest = max(block.budget.unique(), key=budgets.index)
        at = block[block.budget == largest]
        best = at.groupby(["dataset", "strategy"]).gain.mean().groupby("dataset").max()
        gain, low, high = mean_interval(best.to_numpy(dtype=float), settings)
        span = instances[instances.model == model].span.mean()
        rows.append(
            {"model": model, "budget": largest, "datasets": len(best), "tunability": gain,
             "tunability_low": low, "tunability_high": high, "inner_span": span,
             "method": TUNABILITY}
        )  # fmt: skip
    columns = ["model", "budget", "datasets", "tunability", "tunability_low",
               "tunability_high", "inner_span", "method"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
