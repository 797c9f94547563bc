"""Figures a reader can read, drawn from hand-built records (tests/test_aggregate.py's RUNS):
text at least 9 px at the HTML's width, best-so-far that only improves on every axis, no
figure for data that are not there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.aggregate import aggregate
from harness.aggregate.load import RUN
from harness.report.figures import (
    MIN_PX,
    PLOTS,
    discriminating_targets,
    has_data,
    palette,
    readable,
    smallest_text_px,
)
from tests.test_aggregate import RUNS, SETTINGS, make_records


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return aggregate(make_records(RUNS), SETTINGS)


def test_every_drawn_figure_has_text_of_9_px_or_more(tables):
    colours = palette(sorted(tables["studies"].strategy.unique()))
    drawn = []
    for plot in PLOTS:
        figure = plot.draw(tables, colours)
        if not has_data(figure):
            continue
        drawn.append(plot.name)
        assert smallest_text_px(readable(figure)) >= MIN_PX - 1e-9, plot.name
    assert {"forest", "convergence", "gain", "critical_difference"} <= set(drawn)
    # no studies that differ only in workers, no population-based training: not drawn
    assert not {"workers_convergence", "pbt_schedule"} & set(drawn)


def test_best_so_far_only_improves_on_every_axis(tables):
    for name in ("curves", "curves_seconds", "curves_compute"):
        curve = tables[name].dropna(subset=["best_so_far"])
        x = "spent" if name == "curves" else "seconds"
        steps = curve.sort_values([*RUN, x]).groupby(RUN).best_so_far.diff().dropna()
        assert (steps >= 0).all(), name
        assert curve.regret.notna().any(), name
        regret = curve.sort_values([*RUN, x]).groupby(RUN).regret.diff().dropna()
        assert (regret <= 1e-12).all(), name  # never back up to the defaults' 1


def test_a_target_that_means_the_best_known_is_not_drawn():
    # every run jumps from 0.6 straight to the best known (1.0): the 0.9 and 0.99 targets
    # both mean "reached the best"; 0.5 (0.75) is passed at 0.8 on the way by `slow`
    runs = {("random", "d", fold): ([0.6, 1.0, 1.0], 0.5, 0.8, 0.8) for fold in range(3)} | {
        ("slow", "d", fold): ([0.6, 0.8, 1.0], 0.5, 0.8, 0.8) for fold in range(3)
    }
    tables = aggregate(make_records(runs), SETTINGS)
    assert discriminating_targets(tables) == [0.5]
    assert np.isclose(tables["targets"].target.unique(), [0.5, 0.9, 0.99]).all()
