"""What is known of how far a table tunebench built can be trusted: `validation.json` in the
table's study folder, written by `python -m harness.tabulate.validate` (its surrogates against
real evaluations) and `python -m harness.tabulate.rankings` (strategy rankings from its studies
against real ones), read by the report beside the verdict of studies the table answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.store.records import write_atomic

VALIDATION = "validation.json"


def read(home: Path) -> dict[str, Any]:
    """The table's figures so far (`{}`: never validated, or the file unreadable)."""
    try:
        found = json.loads((Path(home) / VALIDATION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def record(home: Path, part: str, figures: dict[str, Any]) -> None:
    """Keep `figures` as the table's `part` (`surrogates` or `rankings`), the other kept."""
    write_atomic(Path(home) / VALIDATION, json.dumps(read(home) | {part: figures}, indent=1))
