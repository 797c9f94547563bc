"""The one exception type for bad input: the CLI turns it into a one-line message and exit 2."""


class UsageError(Exception):
    """Bad input a user can fix; the message names the problem and the fix."""
