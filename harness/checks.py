"""Type and range checks of numeric options, with one message form for every key.

Every number a user sets (budget, protocol, dataset, seed, strategy options) goes through
`number`, so a bad value always reads "<key> is <value>; set it to <what fits>".
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError


def number(
    key: str,
    value: Any,
    *,
    integer: bool = True,
    low: float | None = None,
    high: float | None = None,
    above: bool = False,
    optional: bool = False,
    unit: str | None = None,
    why: str = "",
) -> Any:
    """`value` if it is a number in range, else UsageError naming `key` and the range.

    `above`: the value must exceed `low` rather than reach it; `optional`: null is allowed;
    `unit`: what the number counts, named in the message (e.g. "seconds"); `why`: a reason
    the range has its bounds, added to the message.
    """
    if value is None and optional:
        return None
    kind = int if integer else int | float
    fits = not isinstance(value, bool) and isinstance(value, kind)
    if fits and low is not None:
        fits = value > low if above else value >= low
    if fits and high is not None:
        fits = value <= high
    if fits:
        return value
    wanted = unit or ("an integer" if integer else "a number")
    if low is not None and high is not None and not above:
        wanted += f" from {low:,} to {high:,}"
    else:
        wanted += f" {'>' if above else '>='} {low}" if low is not None else ""
        wanted += f" and <= {high:,}" if high is not None else ""
    raise UsageError(
        f"{key} is {value!r}; set it to {wanted}{', or null' if optional else ''}{why}"
    )
