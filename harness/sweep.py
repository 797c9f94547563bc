"""The jobs a multirun makes, worked out the way Hydra's basic sweeper does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser


def sweep_jobs(preset: Mapping[str, Any], overrides: Sequence[str]) -> list[list[str]]:
    """Every job's overrides: a preset's `hydra.sweeper.params` first, the command line winning.

    `glob(...)` over config groups is expanded when Hydra is initialised (it needs the loader).
    """
    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None
    lines = [*(f"{k}={v}" for k, v in preset.items()), *overrides]
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(lines)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
