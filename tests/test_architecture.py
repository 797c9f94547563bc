"""The layout keeps its promises (docs/architecture.md): imports only go down the layers,
none runs in a circle, adapters import only the strategy contract, and an adapter stays a
thin translation of its library.

The import graph is read from the source with `ast` (every import, at module level or inside
a function, TYPE_CHECKING included) and checked against rules over where a module lives, not
a list of known cases: a new module is checked as soon as it exists.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

MAX_ADAPTER_LINES = 120  # of code: docstrings and comments aside

# The layers of harness/, bottom to top: a module may import its own layer and those below.
# A module file directly in harness/ (errors, paths, checks, sweep) is a leaf; a folder is
# the layer it names; every other folder (cli, report, tracking, export) is an entry point,
# as is harness/__main__.py.
LAYERS = ("leaves", "store", "problem", "engine", "aggregate", "entry")
# The strategy contract: all an adapter (other than adapters.base, which is the contract's
# own side) may import from harness/, besides the leaves: proposals and the handle, the port
# of a strategy whose library runs its own loop, and the description of the space (and of
# the fidelity) that those speak of.
CONTRACT = {
    "harness.engine.asktell",
    "harness.engine.port",
    "harness.problem.space",
    "harness.problem.optuna_space",
    "harness.problem.names",
    "harness.problem.fidelity",
}
# adapters.base bridges a strategy to the harness's own trial loop (`drive`), and names the
# objective it is handed.
BASE = CONTRACT | {"harness.engine.loop", "harness.engine.objective"}


def modules() -> dict[str, Path]:
    """Every module of harness/ and adapters/, by dotted name."""
    found = {}
    for top in ("harness", "adapters"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The project modules `name` imports, with the line of each import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            while target and target not in known:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    edges: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, path in known.items():
        for target, line in imports(name, path, known):
            edges[name].setdefault(target, line)
    return edges


def layer(name: str) -> str:
    """A module's layer, from where it lives."""
    parts = name.split(".")
    if parts[0] == "adapters":
        return "adapters"
    if len(parts) == 1:
        return "leaves"  # harness/__init__.py
    if parts[1] in LAYERS:
        return parts[1]
    folder = (ROOT / "harness" / parts[1]).is_dir()
    return "entry" if folder or parts[1] == "__main__" else "leaves"


def upward() -> list[str]:
    """Every import that breaks a rule, as `module:line -> module (why)`."""
    broken = []
    for name, targets in graph().items():
        for target, line in targets.items():
            here, there = layer(name), layer(target)
            if here == "adapters":
                allowed = BASE if name == "adapters.base" else CONTRACT
                ok = there in ("adapters", "leaves") or target in allowed
                why = "an adapter imports only the strategy contract"
            elif there == "adapters":
                ok, why = False, "the harness never imports an adapter"
            else:
                ok = LAYERS.index(there) <= LAYERS.index(here)
                why = f"{here} imports {there}, a layer above it"
            if not ok:
                broken.append(f"{name}:{line} -> {target} ({why})")
    return sorted(broken)


def circles() -> list[list[str]]:
    """The import graph's strongly connected components of more than one module (Tarjan)."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_imports_only_go_down_the_layers() -> None:
    assert upward() == []


def test_no_import_circle() -> None:
    assert circles() == []


def test_every_module_has_a_layer() -> None:
    """The rule reaches every module: a harness folder is a layer or an entry point."""
    assert {layer(name) for name in modules()} <= {*LAYERS, "adapters"}
    assert layer("harness.cli") == layer("harness.report.build") == "entry"
    assert layer("harness.errors") == "leaves" and layer("harness.store.records") == "store"


def test_the_check_finds_an_upward_import_and_a_circle(tmp_path, monkeypatch) -> None:
    """The check itself can fail: a store module importing the engine, and two engine
    modules importing each other, are both found."""
    import tests.test_architecture as arch

    for folder in ("harness/store", "harness/engine", "adapters"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "harness/errors.py").write_text("")
    (tmp_path / "harness/store/a.py").write_text("from harness.engine import b\n")
    (tmp_path / "harness/engine/b.py").write_text("from harness.engine.c import x\n")
    (tmp_path / "harness/engine/c.py").write_text("import harness.engine.b\n")
    (tmp_path / "adapters/d.py").write_text("from harness.engine.b import y\n")
    monkeypatch.setattr(arch, "ROOT", tmp_path)
    assert arch.upward() == [
        "adapters.d:1 -> harness.engine.b (an adapter imports only the strategy contract)",
        "harness.store.a:1 -> harness.engine.b (store imports engine, a layer above it)",
    ]
    assert arch.circles() == [["harness.engine.b", "harness.engine.c"]]


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


if __name__ == "__main__":  # python -m tests.test_architecture: the graph's rule breaks
    for line in upward():
        print("upward:", line)
    for circle in circles():
        print("circle:", " -> ".join(circle))
    print(f"{len(modules())} modules: {len(upward())} upward imports, {len(circles())} circles")
