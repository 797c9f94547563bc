"""The layout keeps its promises: the harness never imports an adapter (adapters depend on
the harness's ask/tell contract, not the other way round), and an adapter stays a thin
translation of its library."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

MAX_ADAPTER_LINES = 120  # of code: docstrings and comments aside


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_the_harness_never_imports_an_adapter() -> None:
    for path in (ROOT / "harness").rglob("*.py"):
        assert not any(m.split(".")[0] == "adapters" for m in _imports(path)), path


def test_an_adapter_is_a_thin_translation_of_its_library() -> None:
    for path in (ROOT / "adapters").glob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            line
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
            for line in range(n.body[0].value.lineno, n.body[0].value.end_lineno + 1)
        }  # fmt: skip
        lines = path.read_text().splitlines()
        code = [
            line for i, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("#") and i not in docstrings
        ]  # fmt: skip
        assert len(code) <= MAX_ADAPTER_LINES, (path.name, len(code))
