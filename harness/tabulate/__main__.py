import sys

from harness.cli import fail, main
from harness.errors import UsageError
from harness.tabulate import study_overrides

flags = [a for a in sys.argv[1:] if a.startswith("-")]
try:
    overrides = study_overrides([a for a in sys.argv[1:] if not a.startswith("-")])
except UsageError as e:
    fail(str(e))
sys.argv[1:] = [*flags, *overrides]
main()
