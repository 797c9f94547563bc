"""The Hydra callback that builds a sweep's report when the multirun ends.

Configured in conf/config.yaml under `hydra.callbacks.report`; its options are the fields of
harness.aggregate.settings.Settings, added with `+`, e.g. `+hydra.callbacks.report.baseline=tpe`.
A report that cannot be built is logged, never raised: the studies are safe on disk and
`python -m harness.report <sweep folder>` rebuilds it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.errors import UsageError

log = logging.getLogger("harness")


class BuildReport(Callback):
    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        from harness.aggregate.settings import Settings
        from harness.report.build import build_report, recommendation_lines

        try:
            out = build_report(sweep, settings=Settings(**self.settings))
        except UsageError as e:
            log.warning("no report: %s", e)
            return
        except Exception:
            log.exception("report failed; rebuild it with `python -m harness.report %s`", sweep)
            return
        print("\n".join(recommendation_lines(out)))
        print(f"report: {out / 'report.html'}")
