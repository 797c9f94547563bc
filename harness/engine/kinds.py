"""What every kind of study shares (nested CV in harness.engine.study, a published table in
harness.engine.table_study): where its records live and how its strategy is made."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from harness.engine.asktell import Searcher
from harness.problem.space import SearchSpace


class StudyKind:
    """A base for the frozen study dataclasses, which give `key`, `config` and `space`."""

    key: str
    config: DictConfig
    space: SearchSpace

    @property
    def home(self) -> Path:
        """Where its records live: `run.store`/<key>, the same folder for every re-run."""
        return Path(self.config.run.store) / self.key

    def make_strategy(self, seed: int) -> Searcher:
        factory = instantiate(self.config.strategy.adapter, _partial_=True)
        return factory(space=self.space, seed=seed)
