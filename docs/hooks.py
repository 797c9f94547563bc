"""mkdocs hook: the reference pages written from the code at every build, so they cannot drift.

- reference/strategies.md: the hand-written page's `<!-- strategies -->` marker becomes a table
  of every `conf/strategy/*.yaml` (name, library, method, options with their YAML comments,
  how it uses workers) and a section per adapter class with its docstring. An adapter without
  a docstring stops the build (tests/test_docs.py adds one to check it).
- reference/config.md: every config group of `conf/` and its options, and the keys of
  `config.yaml`, `budget` and `protocol` with their comments.
- reference/cli.md: the `--help` text of `python -m harness`, `harness.report`, `harness.export`.
- reference/results.md: `benchmarks/RESULTS.md`.
- reading-the-report/sections.md: the report's section texts, `harness/report/sections.yaml`.
- `<!-- include path as language -->` on a line of its own: that repository file as a code
  block (the strategy guide's example, a model's YAML).

Only YAML and source text are read (`ast`), never an adapter imported, so a build needs none
of the optional libraries. Register in mkdocs.yml: `hooks: [docs/hooks.py]`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.engine.options import RANGES

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- strategies -->"
HIDDEN = {"_target_", "_partial_", "_recursive_"}


class MissingDocstring(ValueError):
    """A strategy's adapter class says nothing of itself: the reference would be empty."""


# --- strategies -------------------------------------------------------------------------


def adapter_class(target: str, root: Path = ROOT) -> ast.ClassDef | None:
    """The class `target` (`adapters.module.Class`) names, read from its source file."""
    module, _, name = target.rpartition(".")
    paths = [r.joinpath(*module.split(".")).with_suffix(".py") for r in (root, ROOT)]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        return None
    tree = ast.parse(path.read_text())
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)


def _class_value(node: ast.ClassDef, attribute: str) -> Any:
    for statement in node.body:
        targets = []
        if isinstance(statement, ast.Assign):
            targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            targets = [statement.target.id]
        if attribute in targets and statement.value is not None:
            try:
                return ast.literal_eval(statement.value)
            except ValueError:
                return None
    return None


def _comments(text: str) -> dict[str, str]:
    """Each key's trailing `# comment` in a YAML file, by dotted path."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        m = re.match(r"^(\s*)([\w@/-]+):(.*)$", line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if "#" in rest:
            found[path] = rest.split("#", 1)[1].strip()
    return found


def _options(node: Any, prefix: str, comments: dict[str, str]) -> list[str]:
    out: list[str] = []
    if not isinstance(node, dict):
        return out
    for key, value in node.items():
        path = f"{prefix}.{key}"
        if key in HIDDEN:
            continue
        if isinstance(value, dict):
            out += _options(value, path, comments)
            continue
        note = comments.get(path)
        text = f"`{path.removeprefix('adapter.')}: {_yaml_value(value)}`"
        out.append(f"{text} ({note})" if note else text)
    return out


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def strategies(folder: Path = ROOT / "conf" / "strategy", root: Path = ROOT) -> list[dict]:
    """One entry per YAML file in `folder`: its labels, options and adapter's docstring.
    Raises MissingDocstring for an adapter class without one (or not found)."""
    rows = []
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text()
        config = yaml.safe_load(text)
        target = config["adapter"]["_target_"]
        node = adapter_class(target, root)
        doc = ast.get_docstring(node) if node is not None else None
        if not doc:
            raise MissingDocstring(
                f"{path.relative_to(root)}: its adapter {target} has no docstring; say in "
                "one what the strategy does (the strategies reference shows it)"
            )
        rows.append(
            {
                "name": path.stem,
                "library": config.get("library", ""),
                "method": " ".join(str(config.get("method", "")).split()),
                "options": _options(config["adapter"], "adapter", _comments(text)),
                "target": target,
                "doc": doc,
                "parallel": _class_value(node, "parallel") or "asynchronous",
                "multi_fidelity": bool(_class_value(node, "multi_fidelity")),
            }
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def strategies_markdown(folder: Path = ROOT / "conf" / "strategy", root: Path = ROOT) -> str:
    rows = strategies(folder, root)
    lines = [
        f"{len(rows)} strategies, one per file of `conf/strategy/`.",
        "",
        "| name | library | method | options (defaults as shipped) | workers |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        options = "<br>".join(_cell(o) for o in r["options"]) or "none"
        method = _cell(r["method"]) + (" (multi-fidelity)" if r["multi_fidelity"] else "")
        lines.append(
            f"| [`{r['name']}`](#{r['name']}) | {_cell(r['library'])} | {method} | {options} "
            f"| {r['parallel']} |"
        )
    lines += ["", "## Adapters", ""]
    for r in rows:
        lines += [f"### {r['name']}", "", f"`{r['target']}`", "", r["doc"], ""]
    return "\n".join(lines)


# --- config groups ----------------------------------------------------------------------


def _summary(path: Path) -> str:
    """An option file in one line: its leading comment, else its labels."""
    text = path.read_text()
    head = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        head.append(line.lstrip("# ").strip())
    if head:
        return " ".join(head)
    config = yaml.safe_load(text) or {}
    parts = []
    for key in ("method", "task", "source", "openml_id", "loader", "path", "target"):
        if key in config and not isinstance(config[key], dict):
            parts.append(f"{key}: {config[key]}")
    if isinstance(config.get("estimator"), dict):
        parts.append(f"estimator: `{config['estimator'].get('_target_')}`")
    if isinstance(config.get("space"), dict):
        parts.append("space: " + ", ".join(f"`{k}`" for k in config["space"]))
    if isinstance(config.get("fidelity"), dict):
        parts.append("fidelity: " + _yaml_value(config["fidelity"]))
    return "; ".join(parts)


def _keys_table(path: Path, prefix: str = "") -> list[str]:
    text = path.read_text()
    config = yaml.safe_load(text) or {}
    comments = _comments(text)
    lines = ["| key | default | meaning |", "|---|---|---|"]

    def walk(node: dict, at: str) -> None:
        for key, value in node.items():
            path_ = f"{at}.{key}" if at else key
            if key in ("defaults", "hydra"):
                continue
            if isinstance(value, dict):
                walk(value, path_)
                continue
            shown = f"{prefix}{path_}"
            note = _cell(comments.get(path_, ""))
            lines.append(f"| `{shown}` | `{_cell(_yaml_value(value))}` | {note} |")

    walk(config, "")
    return lines


def _range(rule: dict[str, Any]) -> str:
    kind = "an integer" if rule.get("integer") else "a number"
    low = f"> {rule['low']}" if rule.get("above") else f">= {rule['low']}"
    high = f", <= {rule['high']}" if "high" in rule else ""
    return f"{kind} {low}{high}" + (", or null" if rule.get("optional") else "")


def config_markdown(conf: Path = ROOT / "conf") -> str:
    lines = [
        "# Config groups and keys",
        "",
        "Generated from `conf/` at every build. A group is a folder; an option is a YAML file",
        "in it, chosen with `group=option` (e.g. `model=svc`); any key can be set with",
        "`key=value` (see [the command line](../cli.md)). `python -m harness --cfg job` prints",
        "the composed config of a command.",
        "",
        "## Top-level keys (`conf/config.yaml`)",
        "",
        *_keys_table(conf / "config.yaml"),
        "",
    ]
    for group in ("budget", "protocol"):
        for path in sorted((conf / group).glob("*.yaml")):
            lines += [f"## `{group}={path.stem}`", "", *_keys_table(path, f"{group}."), ""]
    for group in sorted(p for p in conf.iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(group.glob("*.yaml"))
        lines += [f"## `{group.name}`", "", f"{len(options)} options.", ""]
        lines += ["| option | what |", "|---|---|"]
        lines += [f"| `{p.stem}` | {_cell(_summary(p))} |" for p in options]
        lines.append("")
    lines += [
        "## Ranges of the strategies' options",
        "",
        "A strategy's numeric options, by name in any adapter, are checked against one table,",
        "`RANGES` in `harness/engine/options.py`; a value outside its range stops the study",
        "before it starts, in one line ([Adding a strategy](../guides/adding-a-strategy.md)).",
        "",
        "| option | range |",
        "|---|---|",
        *[f"| `{name}` | {_range(rule)} |" for name, rule in sorted(RANGES.items())],
        "",
    ]
    launchers = sorted((conf / "hydra" / "launcher").glob("*.yaml"))
    lines += ["## `hydra/launcher`", "", "| option | what |", "|---|---|"]
    lines += ["| `joblib` | Hydra's joblib launcher (the default): one study per core |"]
    lines += [f"| `{p.stem}` | {_cell(_summary(p))} |" for p in launchers]
    lines += ["| `ray` | `hydra_plugins/tunebench_ray_launcher`: one Ray task per study |", ""]
    return "\n".join(lines)


# --- command line, benchmark results -----------------------------------------------------


def help_text(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
    )
    return done.stdout.rstrip()


def cli_markdown() -> str:
    lines = [
        "# Command-line help",
        "",
        "Generated at every build from each command's `--help`. How overrides are checked,",
        "and the flags: [the command line](../cli.md).",
        "",
    ]
    for module in ("harness", "harness.report", "harness.export"):
        lines += [f"## `python -m {module} --help`", "", "```text", help_text(module), "```", ""]
    return "\n".join(lines)


def results_markdown() -> str:
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    return (
        text.replace("# Performance benchmark results", "# Benchmark results", 1)
        + "\n\nCopied at every build from `benchmarks/RESULTS.md`, which "
        "`python benchmarks/bench.py` writes.\n"
    )


# --- the report's sections ----------------------------------------------------------------

SETTING = {
    "baseline": "the baseline (`--baseline`, default random)",
    "rope": "`--rope` (default 0.005)",
    "alpha": "`--alpha` (default 0.05)",
    "detect": "`--detect` (default 0.01)",
    "target": "`--recommend-target` (default 0.9)",
    "min_units": "5",
}


def _filled(template: str) -> str:
    text = re.sub(r"(?<!\{)\{(\w+)(:[^}]*)?\}(?!\})", lambda m: SETTING[m.group(1)], template)
    return text.replace("{{", "{").replace("}}", "}")


def sections_markdown(path: Path = ROOT / "harness" / "report" / "sections.yaml") -> str:
    texts = yaml.safe_load(path.read_text())
    lines = [
        "# The report's sections",
        "",
        "`report.html` and `report.md` read top to bottom as a decision document. First the",
        "**Decision** (one sentence per budget, the forest plot, the decision table:",
        "[how to read the verdicts](index.md)) and a **Summary** of what the sweep holds; then",
        "the sections below, each opening with the text shown here (from",
        "`harness/report/sections.yaml`, which the report reads, with the report's options",
        "filled in) and followed by its tables and figures; then, collapsed, the **Sweep** (each",
        "sweep's command and config, package versions) and the **Data tables**. A section with",
        "nothing to show is left out; *Parallel workers* and *Population-based training* appear",
        "only when the studies hold such runs. Every table and figure:",
        "[What the report measures](measures.md).",
        "",
    ]
    for title, paragraphs in texts.items():
        lines += [f"## {title}", ""]
        for paragraph in paragraphs:
            lines += [_filled(paragraph), ""]
    return "\n".join(lines)


# --- mkdocs events ------------------------------------------------------------------------

GENERATED = {
    "reference/config.md": config_markdown,
    "reference/cli.md": cli_markdown,
    "reference/results.md": results_markdown,
    "reading-the-report/sections.md": sections_markdown,
}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, make in GENERATED.items():
        files.append(File.generated(config, uri, content=make()))
    return files


INCLUDE = re.compile(r"^<!-- include (\S+) as (\w+) -->$", re.M)


def include(match: re.Match) -> str:
    """A repository file as a code block (a page shows the file a test runs, never a copy);
    a file that is gone fails the build."""
    path, language = ROOT / match.group(1), match.group(2)
    return f"```{language}\n{path.read_text().rstrip()}\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, strategies_markdown())
    return INCLUDE.sub(include, markdown)
