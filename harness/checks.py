"""Checks of what a user sets, with one message form for every key.

Every number a user sets (budget, protocol, dataset, seed, strategy options) goes through
`number`, so a bad value always reads "<key> is <value>; set it to <what fits>". Every
argument a config passes to a library callable (an estimator, an optuna sampler) can go through
`arguments` before the callable is called, so a misspelt one reads "<key>: <callable> takes no
argument '<name>'; did you mean <nearest>?" before anything is written.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from hydra.utils import get_object

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


def arguments(target: str, node: Mapping[str, Any], where: str) -> None:
    """UsageError for the first key of `node` (a config node, `_target_` and the like aside)
    that the callable named `target` takes no argument of.

    A target that cannot be imported (a missing extra) or inspected is left to its call.
    """
    hydra_log = logging.getLogger("hydra.utils")  # it logs an error before raising one
    hydra_log.disabled, was = True, hydra_log.disabled
    try:
        parameters = inspect.signature(get_object(target)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return
    finally:
        hydra_log.disabled = was
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    names = [n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL]
    for name in (str(k) for k in node if not str(k).startswith("_")):
        if name in names:
            continue
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"did you mean {where}.{near[0]}?" if near else f"it takes {', '.join(names)}"
        raise UsageError(f"{where}.{name}: {target} takes no argument '{name}'; {hint}")
