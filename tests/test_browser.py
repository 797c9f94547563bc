"""The report as a person sees it: report.html of a tiny sweep opened in headless Chromium
(Debian's chromium and chromium-driver, driven by selenium). Every figure must decode, every
in-page link must lead somewhere, the first screen must answer the question (the verdict
sentence and the forest plot, nothing wider than the window), and the report must print to
at most MAX_PAGES pages (Chromium's DevTools Page.printToPDF).

TUNEBENCH_REPORT=<report.html> runs the same checks on a report built elsewhere, e.g. the
quick sweep's (`python -m harness -m sweep=quick`, about 5-15 minutes: too long for a test)."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from matplotlib.image import imread

from harness.report.build import ONLY_WITH_PBT, ONLY_WITH_WORKERS
from harness.report.figures import PLOTS
from tests.helpers import engine_missing, run_cli

pytestmark = pytest.mark.slow  # a sweep, its report, and Chromium

HIDDEN = (*ONLY_WITH_WORKERS, *ONLY_WITH_PBT)  # shown only when some studies call for them

WINDOW = (1200, 900)
MAX_PAGES = 25


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium under chromedriver, both from the system (never downloaded)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        engine_missing('selenium is not installed: pip install -e ".[browser]"')
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        engine_missing("no chromium/chromedriver on PATH: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={WINDOW[0]},{WINDOW[1]}"):  # fmt: skip
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of a two-strategy sweep on iris, built by the end-of-sweep callback (or
    the report TUNEBENCH_REPORT names)."""
    if os.environ.get("TUNEBENCH_REPORT"):
        return Path(os.environ["TUNEBENCH_REPORT"]).resolve()
    cwd = tmp_path_factory.mktemp("browser")
    done = run_cli(
        "-m", "strategy=random,grid", "dataset=iris", "budget.n_trials=4",
        "protocol.outer_folds=2", "protocol.inner_folds=2", cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (html,) = (cwd / "results" / "multirun").glob("*/*/report/report.html")
    return html


@pytest.fixture(scope="module")
def page(browser, report):
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    browser.report = report
    return browser


def test_every_figure_decodes(page):
    images = page.execute_script(
        "return Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth])"
    )
    # every figure drawn (those with data) is on the page; this sweep's studies do not
    # differ only in workers: no worker figure
    drawn = {png.stem for png in (page.report.parent / "figures").glob("*.png")}
    assert {alt for alt, _, _ in images} == {p.title for p in PLOTS if p.name in drawn}
    assert "forest" in drawn and not drawn & set(HIDDEN)
    for alt, complete, width in images:
        assert complete and width > 0, f"figure {alt!r} did not decode"


def test_every_in_page_link_leads_to_an_element(page):
    links = page.execute_script(
        "return Array.from(document.querySelectorAll('a[href^=\"#\"]'), a => "
        "[a.getAttribute('href'), !!document.getElementById("
        "decodeURIComponent(a.getAttribute('href').slice(1)))])"
    )
    assert len(links) >= 5  # the contents: one per section
    dangling = [href for href, found in links if not found]
    assert not dangling, f"links to nothing: {dangling}"


def test_first_screen_is_not_blank(page):
    page.execute_script("window.scrollTo(0, 0)")
    png = page.get_screenshot_as_png()
    pixels = imread(io.BytesIO(png))[..., :3]
    viewport = page.execute_script("return [window.innerHeight, window.innerWidth]")
    assert list(pixels.shape[:2]) == viewport  # the first screen, nothing more or less
    ink = (pixels < 0.9).any(axis=2).mean()  # share of pixels that are not near-white
    assert pixels.std() > 0.05 and ink > 0.01, f"first screen blank (std {pixels.std():.3f})"


def test_first_screen_answers_the_question(page):
    """The verdict sentence and the forest plot are on the first screen, and nothing on it
    is wider than the window (no horizontal scroll bar, none inside a table either)."""
    page.execute_script("window.scrollTo(0, 0)")
    height, width = page.execute_script("return [window.innerHeight, window.innerWidth]")
    sentence = page.execute_script(
        "const p = document.querySelector('#decision p.verdict');"
        "return p && [p.innerText, p.getBoundingClientRect().top]"
    )
    assert sentence and sentence[1] < height / 2, "no verdict sentence at the top"
    assert re.search(r"this sweep (cannot decide anything|decides|leaves it open)", sentence[0])
    figure = page.execute_script(
        "const i = document.querySelector('#figure-forest img');"
        "return i && [i.getBoundingClientRect().top, i.complete, i.naturalWidth]"
    )
    assert figure and figure[0] < height and figure[1] and figure[2] > 0, "no forest plot"
    assert page.execute_script("return document.documentElement.scrollWidth") <= width
    wide = page.execute_script(
        "return Array.from(document.querySelectorAll('.scroll'))"
        ".filter(e => e.getBoundingClientRect().top < window.innerHeight"
        " && e.getClientRects().length && e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.parentElement.id)"
    )
    assert not wide, f"scrolls sideways on the first screen: {wide}"
    assert "`" not in page.execute_script("return document.body.innerText.slice(0, 3000)")


def test_report_prints_to_few_pages(page):
    pdf = base64.b64decode(page.execute_cdp_cmd("Page.printToPDF", {})["data"])
    pages = pdf_pages(pdf)
    assert 1 <= pages <= MAX_PAGES, f"{pages} pages"


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium printed: its page objects (`/Type /Page`, not `/Pages`)."""
    return len(re.findall(rb"/Type\s*/Page\b", pdf))
