"""Ray Tune's schedulers over the model's fidelity, on Ray Tune's own loop (adapters.ray_tune):
ASHA (asynchronous successive halving) stops trials early at its rungs; population-based
training (PBT) trains a population step by step and, at each perturbation interval, has its
weak members continue a strong member's fitted models with perturbed hyperparameters.

Both draw their trials with BasicVariantGenerator (seeded) and spend the budget in
full-evaluation equivalents: a rung that continues the models of a lower one costs only what
it adds (harness.engine.continuation), and the search stops once the next evaluation cannot
be paid.
"""

from __future__ import annotations

import math
from typing import Any

from adapters.optuna_pruned import rungs_below
from adapters.ray_tune import RayTune, domain
from harness.problem.space import SearchSpace


class RayASHA(RayTune):
    """`ASHAScheduler` with Ray's defaults (`reduction_factor=4`, one bracket). Each trial
    climbs the rungs eta^-K, ..., 1/eta, 1 of the resource (K the most that keeps the lowest
    at or above the model's `low`); Tune's time attribute is the resource in units of the
    lowest rung (1, eta, eta^2, ...), so ASHA's milestones (grace period 1) are the rungs."""

    multi_fidelity = True

    def __init__(
        self, space: SearchSpace, seed: int, reduction_factor: int = 4, brackets: int = 1
    ) -> None:
        super().__init__(space, seed)
        self.reduction_factor, self.brackets = reduction_factor, brackets

    def schedule(self, low: float | None) -> tuple[float | None, ...]:
        eta, top = self.reduction_factor, rungs_below(low, self.reduction_factor)
        return tuple(float(eta ** (rung - top)) for rung in range(top + 1))

    def scheduler(self, schedule: tuple[float | None, ...]) -> Any:
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(
            time_attr="units", max_t=round(1 / schedule[0]), grace_period=1,
            reduction_factor=self.reduction_factor, brackets=self.brackets,
        )  # fmt: skip


class RayPBT(RayTune):
    """`PopulationBasedTraining` (asynchronous, Ray's defaults for `quantile_fraction`,
    `resample_probability` and `perturbation_factors`). Each member trains in steps of the
    model's lowest fidelity up to the full resource; the perturbation interval counts steps
    (Ray's default counts seconds, which no two runs share). `population_size` members train
    at once (time-multiplexed on the workers, as Ray's PBT does), a finished or failed member
    making room for a new one while the budget lasts. Every parameter is perturbed except
    those in `keep_on_exploit`, which shape the fitted model (an MLP's layers cannot change
    mid-training): an exploiting member takes those with the models it copies. The options
    bear syne-tune's names (adapters.synetune_pbt), one name per option across libraries."""

    multi_fidelity = True
    stepwise = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        population_size: int = 4,
        perturbation_interval: int = 2,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        keep_on_exploit: tuple[str, ...] = ("hidden_layer_sizes",),
    ) -> None:
        super().__init__(space, seed)
        if not perturbation_factors or any(
            isinstance(f, bool) or not isinstance(f, int | float) or f <= 0
            for f in perturbation_factors
        ):
            raise ValueError(
                f"perturbation_factors is {list(perturbation_factors)!r}; give positive "
                "numbers to multiply a parameter by, e.g. [1.2, 0.8]"
            )
        self.population, self.interval = population_size, perturbation_interval
        self.options = {
            "quantile_fraction": quantile_fraction,
            "resample_probability": resample_probability,
            "perturbation_factors": tuple(perturbation_factors),
        }
        self.mutations = {
            p.name: list(p.choices) if p.type == "categorical" else domain(p)
            for p in space.params
            if p.name not in keep_on_exploit
        }

    def schedule(self, low: float | None) -> tuple[float | None, ...]:
        steps = math.floor(1 / low + 1e-9)
        return tuple((step + 1) / steps for step in range(steps))

    def scheduler(self, schedule: tuple[float | None, ...]) -> Any:
        from ray.tune.schedulers import PopulationBasedTraining

        return PopulationBasedTraining(
            time_attr="step", perturbation_interval=self.interval,
            hyperparam_mutations=self.mutations, log_config=False, **self.options,
        )  # fmt: skip

    def live(self) -> int:
        return self.population
