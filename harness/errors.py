"""The one exception type for bad input (the CLI turns it into a one-line message and exit 2),
and an exception as the one line a table or a message shows."""

import traceback


class UsageError(Exception):
    """Bad input a user can fix; the message names the problem and the fix."""


def error_text(error: BaseException) -> str:
    """The exception's own line, as a user would want it in a table."""
    return "".join(traceback.format_exception_only(error)).strip()
