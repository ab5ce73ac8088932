"""starter.plotting: whisker lengths from 95% intervals, points and bars drawn from estimates."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from starter.plotting import estimate_bars, estimate_points, interval_errors  # noqa: E402
from starter.stats import Estimate  # noqa: E402

WITH = Estimate(0.6, (0.4, 0.9), 5, 10)  # whiskers 0.2 below, 0.3 above
WITHOUT = Estimate(0.25, None, 1, 4)  # one cluster: no interval, no whisker
EMPTY = Estimate(math.nan, None, 0, 0)  # nothing to average


@pytest.fixture
def ax():
    fig, axis = plt.subplots()
    yield axis
    plt.close(fig)


def test_interval_errors_are_the_distances_to_the_interval_ends():
    below, above = interval_errors([WITH, WITHOUT])
    assert below == pytest.approx([0.2, 0.0])
    assert above == pytest.approx([0.3, 0.0])


def test_interval_errors_never_negative_and_nan_for_no_value():
    off = Estimate(1.0, (1.0 + 1e-12, 1.0 + 1e-12), 3, 3)  # rounding puts the interval above
    below, above = interval_errors([off, EMPTY])
    assert below[0] == 0.0 and above[0] == pytest.approx(1e-12)
    assert math.isnan(below[1]) and math.isnan(above[1])


def test_points_sit_at_the_values_with_whiskers_to_the_interval(ax):
    drawn = estimate_points(ax, [1, 2], [WITH, WITHOUT], color="C3", label="arm")
    line, caps, (whiskers,) = drawn.lines
    assert list(line.get_xdata()) == [1, 2]
    assert list(line.get_ydata()) == pytest.approx([0.6, 0.25])
    assert line.get_marker() == "o" and drawn.get_label() == "arm"
    segments = whiskers.get_segments()
    assert [tuple(s[:, 1]) for s in segments] == [pytest.approx((0.4, 0.9)),
                                                  pytest.approx((0.25, 0.25))]
    assert caps, "whiskers are capped"


def test_points_keep_a_format_string_marker(ax):
    drawn = estimate_points(ax, [0], [WITH], fmt="s-")
    assert drawn.lines[0].get_marker() == "s"


def test_bars_are_as_tall_as_the_values_and_nan_draws_nothing(ax):
    bars = estimate_bars(ax, [0, 1, 2], [WITH, WITHOUT, EMPTY], 0.5, color=["C0", "C1", "C2"])
    heights = [b.get_height() for b in bars]
    assert heights[:2] == pytest.approx([0.6, 0.25]) and math.isnan(heights[2])
    assert bars[0].get_width() == 0.5
    whiskers = bars.errorbar.lines[2][0].get_segments()
    assert tuple(whiskers[0][:, 1]) == pytest.approx((0.4, 0.9))
    assert np.isfinite(ax.get_ylim()).all(), "a NaN bar leaves the limits alone"


def test_horizontal_bars_put_the_whiskers_on_x(ax):
    bars = estimate_bars(ax, [0], [WITH], horizontal=True)
    assert bars[0].get_width() == pytest.approx(0.6)
    whiskers = bars.errorbar.lines[2][0].get_segments()
    assert tuple(whiskers[0][:, 0]) == pytest.approx((0.4, 0.9))


def test_positions_and_estimates_must_pair_up(ax):
    with pytest.raises(ValueError, match="2 positions for 1 estimates"):
        estimate_bars(ax, [0, 1], [WITH])
