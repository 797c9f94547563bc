"""What every kind of study shares (nested CV in harness.engine.study, a published table in
harness.engine.table_study): where its records live and how its strategy is made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from harness.engine import options
from harness.engine.asktell import Searcher
from harness.errors import UsageError
from harness.problem.space import SearchSpace
from harness.store.provenance import declared_versions


class StudyKind:
    """A base for the frozen study dataclasses, which give `key`, `config` and `space`."""

    key: str
    config: DictConfig
    seed: int
    space: SearchSpace

    def labels(self) -> dict[str, Any]: ...

    @property
    def home(self) -> Path:
        """Where its records live: `run.store`/<key>, the same folder for every re-run."""
        return Path(self.config.run.store) / self.key

    @property
    def searches(self) -> int:
        """Independent searches a single run may spread over the cores (its outer folds); a
        table study's one search runs in its process."""
        return 1

    def make_strategy(self, seed: int) -> Searcher:
        factory = instantiate(self.config.strategy.adapter, _partial_=True)
        return factory(space=self.space, seed=seed)

    def resolved(self) -> dict[str, Any]:
        """The study's config as plain values (a kind that holds it already says so)."""
        return OmegaConf.to_container(self.config, resolve=True)

    def started_meta(self) -> dict[str, Any]:
        """What study.json says of every kind of study when it starts; each kind adds its own."""
        return {
            "study_key": self.key,
            "labels": self.labels(),
            "seed": self.seed,
            "started": now(),
            "config": self.resolved(),
            "versions": declared_versions(),
        }

    def check_strategy(self, n_trials: int) -> Searcher:
        """The study's strategy, made once to check it: UsageError, one line, if it cannot be
        made from its options, passes a library an argument it does not take, or cannot run
        `n_trials` here."""
        name = self.config.strategy.name
        try:
            strategy = self.make_strategy(self.seed)
        except (InstantiationException, TypeError, ValueError, AttributeError) as e:
            raise UsageError(
                f"strategy {name}: {first_line(e)}; check the strategy.adapter options against "
                f"conf/strategy/{name}.yaml"
            ) from None
        options.check_arguments(self.config.strategy.adapter)  # what it makes when searching
        why = strategy.cannot_run(n_trials) if hasattr(strategy, "cannot_run") else None
        if why:
            raise UsageError(f"strategy {name}: {why}")
        return strategy


def first_line(e: BaseException) -> str:
    return next(iter(str(e).strip().splitlines()), type(e).__name__)


def now() -> str:
    """A record's timestamp: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
