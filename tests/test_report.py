"""Sweeps and reports end to end: a small real sweep through the `quick` preset builds its
report when the multirun ends; `python -m harness.report` rebuilds it; a config file added to
conf/ shows up in the next report with no code change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from harness.aggregate import TABLES
from harness.aggregate.verdict import VERDICTS, violations
from harness.report.__main__ import main as report_main
from harness.report.build import ONLY_WITH_PBT, ONLY_WITH_WORKERS
from harness.report.figures import PLOTS
from tests.helpers import ROOT, run_cli
from tests.test_verdicts import VERDICT_TABLES

HIDDEN = (*ONLY_WITH_WORKERS, *ONLY_WITH_PBT)  # shown only when some studies call for them

TINY = ("budget.n_trials=4", "protocol.outer_folds=2", "protocol.inner_folds=2")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick preset cut down to 3 strategies x 2 bundled datasets x 4 trials: command-line
    sweeps replace the preset's lists. `default` (no search) makes a third competitor on
    outer-test score, enough for Friedman's test and a critical-difference diagram."""
    cwd = tmp_path_factory.mktemp("sweep")
    done = run_cli(
        "-m", "sweep=quick", "strategy=random,grid,default", "dataset=iris,wine",
        "budget.n_trials=4", "protocol.outer_folds=2", cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (cwd / "results" / "multirun").glob("*/*")
    assert f"report: {folder.relative_to(cwd) / 'report' / 'report.html'}" in done.stdout
    return folder


def test_preset_sets_what_to_run(sweep):
    studies = pd.read_parquet(sweep / "report" / "tables" / "studies.parquet")
    assert set(studies.strategy) == {"random", "grid", "default"}
    assert set(studies.dataset) == {"iris", "wine"} and set(studies.model) == {"logreg"}
    config = json.loads((sweep / studies.study_dir[0] / "study.json").read_text())["config"]
    assert config["protocol"]["inner_folds"] == 3  # from the preset
    assert config["protocol"]["outer_folds"] == 2  # the command line wins


def drawn(report: Path) -> set[str]:
    """The figures a report drew: those with data."""
    return {png.stem for png in (report / "figures").glob("*.png")}


def test_every_figure_is_a_non_empty_image(sweep):
    made = drawn(sweep / "report")
    assert {"forest", "convergence", "gain", "critical_difference"} <= made
    assert not made & set(HIDDEN)
    for plot in [p for p in PLOTS if p.name in made]:
        png = sweep / "report" / "figures" / f"{plot.name}.png"
        pixels = imread(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100, plot.name
        assert pixels[..., :3].std() > 0.01, f"{plot.name} is blank"
        svg = ET.parse(sweep / "report" / "figures" / f"{plot.name}.svg").getroot()
        assert svg.tag.endswith("svg") and len(svg) > 0, plot.name


def test_every_table_is_written(sweep):
    for name in TABLES:
        for suffix in ("parquet", "csv"):
            assert (sweep / "report" / "tables" / f"{name}.{suffix}").stat().st_size > 0
    ert = pd.read_parquet(sweep / "report" / "tables" / "ert.parquet")
    assert set(ert.strategy) == {"random", "grid"}  # `default` has no trials to reach targets
    assert set(ert.target) == {0.5, 0.9, 0.99}
    friedman = pd.read_parquet(sweep / "report" / "tables" / "friedman.parquet")
    assert friedman.strategies.tolist() == [3] and friedman.instances.tolist() == [4]


class Page(HTMLParser):
    """Every tag, id and resource reference of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.refs: list[str] = []
        self.images: dict[str, str] = {}
        self.figure: str | None = None
        self.style = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        self.tags.append(tag)
        self.ids.add(attrs.get("id", ""))
        self.refs += [attrs[k] for k in ("src", "href", "srcset", "data") if k in attrs]
        if tag == "figure":
            self.figure = attrs.get("id")
        if tag == "img" and self.figure:
            self.images[self.figure] = attrs["src"]

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1] == "style":
            self.style += data


def test_html_holds_every_figure_and_table_and_needs_no_network(sweep):
    """Every figure and table but those about studies that differ only in workers: this
    sweep has none (tests/test_report_workers.py has)."""
    page = Page()
    page.feed((sweep / "report" / "report.html").read_text(encoding="utf-8"))
    made = drawn(sweep / "report")
    for name in made:
        assert page.images[f"figure-{name}"].startswith("data:image/png;base64,")
    assert set(page.images) == {f"figure-{name}" for name in made}  # no placeholders
    filled = {
        n for n in TABLES if len(pd.read_parquet(sweep / "report" / "tables" / f"{n}.parquet"))
    }
    assert {f"table-{name}" for name in filled} <= page.ids
    assert not {f"table-{name}" for name in set(TABLES) - filled} & page.ids  # none empty
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert all(ref.startswith(("data:", "#")) for ref in page.refs)
    assert "url(" not in page.style and "@import" not in page.style


def test_markdown_links_every_figure_and_shows_the_sweep(sweep):
    text = (sweep / "report" / "report.md").read_text(encoding="utf-8")
    made = drawn(sweep / "report")
    for plot in PLOTS:
        assert (f"(figures/{plot.name}.png)" in text) == (plot.name in made)
    for name in TABLES:
        rows = len(pd.read_parquet(sweep / "report" / "tables" / f"{name}.parquet"))
        assert (f"### `{name}`" in text) == (rows > 0), name
    assert "sweep=quick" in text and "## Recommendation" in text


def test_report_cli_rebuilds_from_any_results_folder(sweep, tmp_path, capsys):
    out = tmp_path / "again"
    report_main([str(sweep.parent.parent.parent), "--out", str(out), "--targets", "0.5", "0.8",
                 "--recommend-target", "0.8"])  # fmt: skip
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    ert = pd.read_parquet(out / "tables" / "ert.parquet")
    assert set(ert.target) == {0.5, 0.8}
    studies = pd.read_parquet(out / "tables" / "studies.parquet")
    assert len(studies) == 6  # the store and the sweep's links name the same studies once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder"], "is not a folder"),
        ([], "no finished study"),
        (["--targets", "0.5", "2"], "fractions in (0, 1]"),
    ],
)
def test_report_cli_bad_input(tmp_path, capsys, args, message):
    if not args or args[0].startswith("--"):
        args = [str(tmp_path), *args]
    with pytest.raises(SystemExit) as stop:
        report_main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not list(tmp_path.iterdir())


@pytest.mark.slow  # a sweep of its own
def test_new_strategy_and_dataset_configs_appear_with_no_code_change(tmp_path):
    """A copy of the project with one YAML added to conf/strategy and one to conf/dataset."""
    project = tmp_path / "project"
    for part in ("harness", "adapters", "conf"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    random = (project / "conf" / "strategy" / "random.yaml").read_text()
    (project / "conf" / "strategy" / "my_random.yaml").write_text(
        random.replace("name: random", "name: my_random")
    )
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(tmp_path / "flowers.csv", index=False)
    (project / "conf" / "dataset" / "flowers.yaml").write_text(
        f"name: flowers\nsource: file\npath: {tmp_path / 'flowers.csv'}\ntarget: target\n"
        "task: classification\nmax_rows: null\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    env = os.environ | {"PYTHONPATH": str(project), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-m", "strategy=random,my_random", "dataset=flowers",
         *TINY],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = (work / "results" / "multirun").glob("*/*/report")
    ranks = pd.read_parquet(report / "tables" / "ranks.parquet")
    assert set(ranks.strategy) == {"random", "my_random"}
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "my_random" in html and "flowers" in html


@pytest.mark.slow  # a sweep of its own
def test_two_strategy_sweep_notes_the_tests_it_skips(tmp_path):
    """Two strategies on one dataset: no Friedman or Nemenyi test (they need three), yet every
    table, figure and the new sections are there, and the report says what was skipped."""
    done = run_cli("-m", "strategy=random,grid", "dataset=iris", *TINY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = (tmp_path / "results" / "multirun").glob("*/*/report")
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "Friedman test (scipy) skipped: needs at least 3 strategies, 2 ran" in text
    assert "Nemenyi post-hoc test (scikit-posthocs) skipped" in text
    for section in ("Folklore, checked", "Risk and equivalence", "Budget crossover", "Power",
                    "What matters in a space", "How to choose"):  # fmt: skip
        assert f"## {section}" in text
    folklore = pd.read_parquet(report / "tables" / "folklore.parquet")
    assert len(folklore) >= 6 and folklore.verdict.notna().all()
    assert set(folklore.verdict) <= set(VERDICTS) and folklore.why.str.len().gt(0).all()
    for name in VERDICT_TABLES:  # every verdict of every table by the one rule
        frame = pd.read_parquet(report / "tables" / f"{name}.parquet")
        assert violations(frame).empty, name
    importance = pd.read_parquet(report / "tables" / "importance.parquet")
    assert set(importance.parameter) <= {"C", "solver", "l1_ratio", "class_weight"}
    assert importance.groupby("dataset").importance.sum().to_numpy() == pytest.approx([1.0])
    for name in ("risk", "equivalence", "power", "crossover", "choice"):
        assert len(pd.read_parquet(report / "tables" / f"{name}.parquet")), name
