"""`python -m harness.export optuna <store or sweep folder> --storage <URL>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import UsageError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m harness.export",
        description="Write the trials of every finished study under a folder into another tool.",
    )
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    to_optuna = formats.add_parser(
        "optuna",
        help="an optuna storage, one optuna study per study and outer fold "
        "(browse it with optuna-dashboard)",
    )
    to_optuna.add_argument("results", type=Path, help="a results store, sweep or study folder")
    to_optuna.add_argument(
        "--storage", required=True, help="an optuna storage URL, e.g. sqlite:///tunebench.db"
    )
    args = parser.parse_args(argv)
    try:
        from harness.export.optuna_storage import export

        names = export(args.results, args.storage)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{len(names)} optuna studies in {args.storage}")


if __name__ == "__main__":
    main()
