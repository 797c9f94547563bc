"""What a strategy class declares about itself (`multi_fidelity`, `stepwise`, `told`, ...),
read from its source without importing it.

Refusing a strategy on a published table names the strategies that can run there; importing
every adapter to read one class attribute would import every optimisation library (about 40 s
here), so the class bodies are read instead: a literal class attribute, looked up through the
class's bases as Python would (bases defined in the same module or imported from another).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent  # where `adapters/` lives
MISSING = object()


def declared(target: str, attribute: str, default: Any = None) -> Any:
    """The literal value class `target` ("module.Class") gives `attribute`, through its bases;
    `default` when no class on the way sets it."""
    value = _lookup(target, attribute)
    return default if value is MISSING else value


def defined_by(target: str, method: str) -> str | None:
    """The class ("module.Class") whose body defines `method` for class `target`, through its
    bases; None if none on the way does."""
    found = _class(target)
    if found is None:
        return None
    where, cls = found
    if any(isinstance(n, ast.FunctionDef) and n.name == method for n in cls.body):
        return where
    module = where.rpartition(".")[0]
    for base in cls.bases:
        if isinstance(base, ast.Name) and (owner := defined_by(f"{module}.{base.id}", method)):
            return owner
    return None


def _class(target: str) -> tuple[str, ast.ClassDef] | None:
    """Where class `target` is defined ("module.Class", following imports) and its body."""
    module, _, name = target.rpartition(".")
    tree = _parse(module)
    if tree is None:
        return None
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    if cls is None:  # imported into this module from another
        origin = _imported(tree, name)
        return _class(origin) if origin else None
    return target, cls


def _lookup(target: str, attribute: str) -> Any:
    found = _class(target)
    if found is None:
        return MISSING
    target, cls = found
    module = target.rpartition(".")[0]
    for node in cls.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == attribute for t in targets) and node.value:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return MISSING
    for base in cls.bases:
        if isinstance(base, ast.Name):
            found = _lookup(f"{module}.{base.id}", attribute)
            if found is not MISSING:
                return found
    return MISSING


def _imported(tree: ast.Module, name: str) -> str | None:
    """Where a module's `from x import name` takes `name` from ("x.name"), if it does."""
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        for alias in node.names:
            if (alias.asname or alias.name) == name:
                return f"{node.module}.{alias.name}"
    return None


@functools.cache
def _parse(module: str) -> ast.Module | None:
    path = ROOT / (module.replace(".", "/") + ".py")
    return ast.parse(path.read_text()) if path.is_file() else None
