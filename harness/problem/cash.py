"""`model=cash`: the model family chosen together with its hyperparameters (combined algorithm
selection and hyperparameter optimisation), composed from the families' own model configs.

`model.families` names configs of conf/model/, read when a study is prepared (never copied):
the space is a top-level categorical `family`, and each family's parameters, renamed
`<family>__<name>` so that no two collide, active only when `family` takes its value (through
the neutral space's conditions; a family's own conditions keep their renamed parents). The
estimator (harness.problem.family) fits the chosen family's estimator on the rows its own
config preprocesses (scaled or not); its defaults are `{family: f}`, every other parameter at
the library's default, and a study's default configuration is the family whose defaults score
best on inner CV (harness.engine.study).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from harness.errors import UsageError
from harness.problem.family import FAMILY, family_estimator
from harness.problem.models import PREP, ModelSpec, load_model
from harness.problem.settings import (
    cash_members,
    cash_task,
    is_cash,  # noqa: F401  (cash.is_cash: where it is read)
)
from harness.problem.space import SearchSpace

WHERE = "conf/model/cash.yaml"


def compose(model: DictConfig, models_dir: Any) -> dict[str, Any]:
    """The model config with each family's config read from `models_dir` (conf/model/) under
    `members` and the joint space under `space`: what the study key and study.json hold, so
    that editing a family's config forks its CASH studies too. Interpolations (`${seed}`)
    are left for the whole config to resolve."""
    members = cash_members(model, models_dir)  # checked: known families, one task
    families = list(members)
    tasks = {name: member.get("task") for name, member in members.items()}
    space: dict[str, Any] = {FAMILY: {"type": "categorical", "choices": list(families)}}
    for name, member in members.items():
        for param, body in (OmegaConf.to_container(member.get("space") or {})).items():
            if param.startswith(f"{PREP}__"):
                raise UsageError(
                    f"conf/model/{name}.yaml tunes the preprocessing ({param}), which model=cash "
                    "shares between trials of each family's preprocessing; leave it out of "
                    "model.families"
                )
            condition = body.get("condition") or {}
            renamed = {f"{name}__{parent}": values for parent, values in condition.items()}
            space[f"{name}__{param}"] = body | {"condition": renamed or {FAMILY: [name]}}
    config = OmegaConf.to_container(model) | {"families": list(families)}
    return config | {
        "task": next(iter(tasks.values())),
        "members": {name: OmegaConf.to_container(m) for name, m in members.items()},
        "space": space,
    }


def load_cash(cfg: Any, task: str) -> ModelSpec:
    """The composed config (`compose`) as a model: each family loaded and checked as a model
    of its own, then one estimator choosing among them over the joint space."""
    cash_task(cfg.families, cfg.task, task)
    specs = [load_model(cfg.members[name], task) for name in cfg.families]
    space_cfg = OmegaConf.to_container(cfg.space, resolve=True)
    space = SearchSpace.from_config(space_cfg, WHERE)
    estimator = family_estimator(task, [(s.name, s.estimator, s.scale) for s in specs])
    return ModelSpec(
        cfg.name, task, estimator, space, scale=False, families=tuple(cfg.families),
        defaults=tuple({FAMILY: name} for name in cfg.families),
    )  # fmt: skip
