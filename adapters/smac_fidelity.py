"""SMAC3's multi-fidelity facades (Hyperband, and BOHB-style Hyperband with a random-forest
surrogate) over the model's fidelity, by SMAC's ask/tell.

Everything but the budgets is `adapters.smac_search.SmacSearch`: the same ConfigSpace with its
conditions, seed, workers, temporary folder and handling of failed trials. SMAC's budgets are
the harness's fidelity fractions: the `Scenario` gets `min_budget` (the model's lowest
fraction) and `max_budget` 1 (the full resource), and every `TrialInfo.budget` SMAC asks for
becomes `Proposal(params, fidelity=budget)`. SMAC's Hyperband intensifier places its rungs at
`eta`^-k of the full resource, the lowest at or above `min_budget` (1/9, 1/3 and 1 for a lowest
fraction of 0.1); a configuration it promotes is proposed again at the next rung, so a model
whose fidelity continues training grows its last rung's models (harness.engine.continuation).

SMAC counts trials, the harness full evaluations: the `Scenario`'s `n_trials` (which sizes
the initial design) is the number of trials that `budget.n_trials` full evaluations pay for,
as SMAC's own `determine_hyperband_for_multifidelity` works it out; the harness stops the
search once the budget cannot pay for the next proposal. With k workers SMAC's intensifier
proposes whatever it can while trials are running: the rest of a rung, and new brackets while
a rung waits for its results (SMAC's own parallel mode).
"""

from __future__ import annotations

from typing import Any

from adapters.smac_search import SmacSearch, smac
from harness.engine.asktell import SearchHandle
from harness.problem.space import SearchSpace

if smac is not None:
    from smac.intensifier.hyperband_utils import determine_hyperband_for_multifidelity


class SmacMultiFidelity(SmacSearch):
    """`facade` is HyperbandFacade (random configurations) or MultiFidelityFacade (random
    forest, BOHB-style); `eta` is their intensifier's reduction factor (SMAC's default 3)."""

    multi_fidelity = True
    facades = ("HyperbandFacade", "MultiFidelityFacade")

    def __init__(
        self, space: SearchSpace, seed: int, facade: str = "MultiFidelityFacade", eta: int = 3
    ) -> None:
        super().__init__(space, seed, facade)
        self.eta = eta

    def scenario_options(self, handle: SearchHandle) -> dict[str, Any]:
        low = lowest_budget(handle.fidelity_low)
        plan = determine_hyperband_for_multifidelity(handle.n_trials, low, 1.0, self.eta)
        return {"min_budget": low, "max_budget": 1.0, "n_trials": max(1, plan["n_trials"])}

    def facade_options(self, facade: type, scenario: Any) -> dict[str, Any]:
        return {"intensifier": facade.get_intensifier(scenario, eta=self.eta)}


def lowest_budget(low: float) -> float:
    """SMAC's `min_budget` for the model's lowest fraction `low`: `low` less a relative 1e-9.
    SMAC counts its rungs as floor(log(1 / min_budget) / log(eta)), which floating point puts
    just below an integer when `low` is a power of 1/eta (1/243 would lose its lowest rung);
    the rungs themselves are powers of 1/eta, so none falls below `low` by more than that."""
    return low * (1 - 1e-9)
