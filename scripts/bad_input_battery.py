"""Count the bad-input battery: every refusal case the tests hold, run through the CLI.

    PYTHONPATH=. python scripts/bad_input_battery.py

Each case of tests/test_cli.py (BAD_INPUT) and tests/test_bad_input.py (bad files, values,
overrides, flags, published tables, unquoted values, a folder or a file where a folder or a
file belongs, the report's arguments) is run in-process as the tests run it, and its outcome
counted: refused in one line (exit 2, one `error:` line holding the expected text, nothing
written), a traceback, silently accepted (exit 0), or other (a wrong message, more lines).
The tests assert each case; this prints the total the issue asks for. tests/test_contract.py
adds random inputs.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import test_bad_input as bad  # noqa: E402
from tests import test_cli  # noqa: E402
from tests.helpers import run_inline, written  # noqa: E402


def cases(files: Path, scratch: Path) -> list[tuple[str, list[str], str]]:
    """(kind, argv, expected text) of every case."""
    found = [("cli", o, m) for o, m in test_cli.BAD_INPUT]
    found += [
        ("cli", [*bad.CSV, *bad.SMALL, f"dataset.path={files / n}"], m) for n, m in bad.BAD_FILES
    ]
    found += [("cli", ["budget.n_trials=2", *o], m) for o, m in bad.BAD_VALUES]
    found += [("cli", [*o, "budget.n_trials=2"], m) for o, m in bad.BAD_OVERRIDES]
    found += [("cli", a, m) for a, m in bad.BAD_FLAGS]
    found += [("cli", o, m) for o, m in bad.BAD_TABLES]
    found += [("cli", [*bad.CSV, *o], m) for o, m in bad.UNQUOTED]
    found.append(("cli", ["budget.n_trials=2", f"run.store={files / 'a-file'}"], "is a file"))
    found.append(("cli", [*bad.CSV, *bad.SMALL, f"dataset.path={scratch}"], "is a folder"))
    found += [("report", a, m.removeprefix("error: ")) for a, m in bad.REPORT_ARGS]
    return found


def report(argv: list[str]) -> tuple[int, str]:
    """`python -m harness.report argv` in-process: exit code and stderr."""
    from harness.report.__main__ import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except Exception:  # counted as a traceback
            import traceback

            traceback.print_exc()
            code = 1
    return code, err.getvalue()


def outcome(code: int, stderr: str, expected: str, cwd: Path) -> str:
    lines = stderr.strip().splitlines()
    if "Traceback" in stderr:
        return "traceback"
    if code == 0:
        return "silently accepted"
    one = code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    return "refused in one line" if one and expected in lines[0] and not written(cwd) else "other"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "files").mkdir()
        files = bad.make_files(Path(tmp) / "files")
        counts: Counter[str] = Counter()
        for i, (kind, argv, expected) in enumerate(cases(files, Path(tmp))):
            cwd = Path(tmp) / f"case-{i}"
            cwd.mkdir()
            if kind == "report":
                code, stderr = report(argv)
            else:
                done = run_inline(*argv, cwd=cwd)
                code, stderr = done.returncode, done.stderr
            found = outcome(code, stderr, expected, cwd)
            counts[found] += 1
            if found != "refused in one line":
                print(f"{found}: {kind} {' '.join(argv)}\n  {stderr.strip()[-500:]}")
    total = sum(counts.values())
    print(
        f"{total} cases: {counts['refused in one line']} refused in one line, "
        f"{counts['traceback']} tracebacks, {counts['silently accepted']} silently accepted, "
        f"{counts['other']} other"
    )
    sys.exit(0 if counts["refused in one line"] == total else 1)


if __name__ == "__main__":
    main()
