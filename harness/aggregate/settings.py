"""What a report may be asked to vary: targets, baseline, significance level, bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError


@dataclass(frozen=True)
class Settings:
    """Report settings; the same fields are options of the multirun callback and the CLI.

    `targets` are fractions of the way from the defaults' inner score to the best inner
    score any strategy reached on an instance; `recommend_target` is the one the
    recommendation quotes. `baseline` is the strategy every other one is tested against.
    `rope` is the region of practical equivalence: two strategies whose outer-test scores
    differ by less than this (in the metric's units) are practically the same. `detect` is
    the difference in outer-test score the power analysis asks a sweep to be able to detect.
    """

    targets: tuple[float, ...] = (0.5, 0.9, 0.99)
    recommend_target: float = 0.9
    baseline: str = "random"
    alpha: float = 0.05
    resamples: int = 9999
    seed: int = 0
    rope: float = 0.005
    detect: float = 0.01

    def __post_init__(self) -> None:
        targets = tuple(sorted(float(t) for t in self.targets))
        object.__setattr__(self, "targets", targets)
        if not targets or not all(0 < t <= 1 for t in targets):
            raise UsageError(f"targets are {list(targets)}; give fractions in (0, 1], e.g. 0.5 0.9")
        if float(self.recommend_target) not in targets:
            raise UsageError(
                f"recommend_target {self.recommend_target} is not one of the targets "
                f"{list(targets)}; add it to the targets or pick one of them"
            )
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha is {self.alpha}; set it in (0, 1), e.g. 0.05")
        if self.resamples < 100:
            raise UsageError(f"resamples is {self.resamples}; use at least 100 (default 9999)")
        if not 0 < self.rope < 1:
            raise UsageError(f"rope is {self.rope}; set it in (0, 1), e.g. 0.005 (half a point)")
        if not 0 < self.detect < 1:
            raise UsageError(f"detect is {self.detect}; set it in (0, 1), e.g. 0.01 (one point)")
