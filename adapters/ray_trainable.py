"""What runs in Ray Tune's workers: one Ray trial, a configuration evaluated rung by rung with
the search's picklable Evaluator (harness.engine.port), each rung reported to Tune.

A rung continues the models the trial's last rung fitted (the fitted estimators of its inner
splits, harness.engine.continuation) where the model's fidelity continues training. With
`checkpoints` (population-based training) every report carries them as the trial's
checkpoint, with the rung reached and the trial that fitted them: a trial Tune pauses resumes
from its own, and one PBT exploits resumes from another trial's, with new hyperparameters set
on the copied estimators before they train on. Each report holds the evaluation's outcome (an
Evaluation without its models, or the exception it raised), when it ran and in which process,
for the driver (adapters.ray_tune) to record; a failed evaluation ends the trial.

The evaluation cache answers a first rung, and a rung that continues the trial's own models
(whose history its question holds: the same parameters from the start); a PBT member's
continued step is always computed, as its models may have been trained under a donor's
hyperparameters, which the cache's question does not hold.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ray import tune

from harness.engine.port import Evaluator, Start
from harness.problem.space import Param, SearchSpace

STATE = "state.pkl"


def run_trial(
    config: dict[str, Any],
    evaluator: Evaluator,
    space: SearchSpace,
    schedule: tuple[float | None, ...],
    checkpoints: bool,
    cwd: str,
) -> None:
    """Evaluate `config` at each fraction of `schedule` from the checkpoint's rung on."""
    os.chdir(cwd)  # Ray quirk: a trial starts in its trial folder; a relative run.store is not
    me = tune.get_context().get_trial_id()
    params = active(space, config)
    step, start, owner = 0, None, None
    if (checkpoint := tune.get_checkpoint()) is not None:
        with checkpoint.as_directory() as folder:
            saved = pickle.loads((Path(folder) / STATE).read_bytes())
        step, owner = saved["step"], saved["trial"]
        if saved["models"]:  # PBT's new hyperparameters, set on the models it copied
            models = tuple(m.set_params(**estimator_params(params)) for m in saved["models"])
            start = Start(saved["fraction"], models)
    for step in range(step, len(schedule)):  # noqa: B020 (the loop resumes where it stopped)
        fraction = schedule[step]
        began = time.time()
        try:
            if start is None:
                outcome = evaluator(params, fraction)
            elif checkpoints:  # models PBT may have trained under other hyperparameters:
                outcome = evaluator.evaluate(params, fraction, start)  # never cached
            else:
                outcome = evaluator(params, fraction, start)
        except Exception as e:  # recorded as the trial's failure by the driver
            outcome = e
        ended = time.time()
        failed = isinstance(outcome, Exception)
        models = None if failed else outcome.models
        metrics = {
            "loss": math.nan if failed else -float(outcome.scores.mean()),
            "step": step + 1,
            "units": round((fraction or 1) / (schedule[0] or 1)),
            "fraction": fraction,
            "continued_from": start.fraction if start else None,
            "exploited_from": owner if owner != me else None,
            "outcome": outcome if failed else stripped(outcome, ended - began),
            "began": began,
            "ended": ended,
            "pid": os.getpid(),
        }
        reached = fraction if fraction is None else evaluator.fidelity.fraction(fraction)
        report(metrics, {"step": step + 1, "trial": me, "fraction": reached, "models": models},
               checkpoints)  # fmt: skip
        if failed:
            return
        start = Start(reached, models) if models else None
        owner = me


def report(metrics: dict[str, Any], state: dict[str, Any], checkpoints: bool) -> None:
    if not checkpoints:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / STATE).write_bytes(pickle.dumps(state))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def stripped(evaluation: Any, seconds: float) -> Any:
    """The evaluation as recorded: no models (they stay here), and the seconds it took in
    this worker (a cached one keeps the seconds it took when it was computed)."""
    return replace(evaluation, models=None, seconds=evaluation.seconds or seconds)


def active(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """The active parameters of a Tune config (which holds a value for every parameter)."""
    return space.walk(lambda p: value(p, config[p.name]))


def value(p: Param, x: Any) -> Any:
    """`x` as a value of `p`. Ray quirk: PBT perturbs a number by a factor (1.2 or 0.8)
    without its bounds, so a perturbed value is clipped into the space here."""
    if p.type == "categorical":
        return x
    x = min(max(x, p.low), p.high)
    return round(x) if p.type == "int" else float(x)


def estimator_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a fitted estimator takes (the preprocessing's are not continued)."""
    return {k: v for k, v in params.items() if not k.startswith("prep__")}
