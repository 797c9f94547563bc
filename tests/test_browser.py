"""The report as a person sees it: report.html of a tiny sweep opened in headless Chromium
(Debian's chromium and chromium-driver, driven by selenium). Every figure must decode, every
in-page link must lead somewhere, and the first screen must show something."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from matplotlib.image import imread

from harness.report.build import ONLY_WITH_PBT, ONLY_WITH_WORKERS
from harness.report.figures import PLOTS
from tests.helpers import engine_missing, run_cli

HIDDEN = (*ONLY_WITH_WORKERS, *ONLY_WITH_PBT)  # shown only when some studies call for them

WINDOW = (1200, 900)


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
    """report.html of a two-strategy sweep on iris, built by the end-of-sweep callback."""
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
    return browser


def test_every_figure_decodes(page):
    images = page.execute_script(
        "return Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth])"
    )
    # this sweep's studies do not differ only in workers: no worker figure
    assert len(images) == len([p for p in PLOTS if p.name not in HIDDEN])
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
