"""`python -m harness.report <results folder>`: rebuild a report from finished studies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from harness.aggregate.settings import Settings
from harness.errors import UsageError

DEFAULTS = Settings()


class OneLineParser(argparse.ArgumentParser):
    """argparse, whose errors are one line (not its usage block) and exit 2 like the harness's."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(
        prog="python -m harness.report",
        description="Aggregate every finished study under a results folder (searched "
        "recursively) into report.html, report.md, figures/ and tables/.",
    )
    parser.add_argument("results", type=Path, help="a sweep folder, results/, or any folder")
    parser.add_argument("--out", type=Path, help="report folder (default: <results>/report)")
    parser.add_argument(
        "--targets", type=float, nargs="+", default=list(DEFAULTS.targets),
        help="fractions of the way from the defaults' to the best inner score",
    )  # fmt: skip
    parser.add_argument(
        "--recommend-target", type=float, default=DEFAULTS.recommend_target,
        help="the target the recommendation quotes ERT for (one of --targets)",
    )  # fmt: skip
    parser.add_argument("--baseline", default=DEFAULTS.baseline, help="strategy to test against")
    parser.add_argument("--alpha", type=float, default=DEFAULTS.alpha)
    parser.add_argument("--resamples", type=int, default=DEFAULTS.resamples)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument(
        "--rope", type=float, default=DEFAULTS.rope,
        help="region of practical equivalence, in outer-test score units",
    )  # fmt: skip
    parser.add_argument(
        "--detect", type=float, default=DEFAULTS.detect,
        help="difference in outer-test score the power analysis sizes a sweep for",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        settings = Settings(
            targets=tuple(args.targets),
            recommend_target=args.recommend_target,
            baseline=args.baseline,
            alpha=args.alpha,
            resamples=args.resamples,
            seed=args.seed,
            rope=args.rope,
            detect=args.detect,
        )
        from harness.report.build import build_report, recommendation_lines

        out = build_report(args.results, args.out, settings)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(recommendation_lines(out)))
    print(f"report: {out / 'report.html'}")


if __name__ == "__main__":
    main()
