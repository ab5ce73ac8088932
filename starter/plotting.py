"""Estimates drawn the kit's way: a point or bar at the value, whiskers over its 95% interval.

Every starter's figure shows `starter.stats.Estimate`s; these helpers are the one place that turns
an estimate's interval into matplotlib's error-bar lengths, so every figure draws an interval the
same way:

- whiskers span the 95% interval (capped, `capsize` 3 unless a figure asks otherwise);
- an estimate without an interval (fewer than two clusters) is a bare point or bar, no whisker;
- an estimate with no value (NaN: nothing to average) draws nothing, and leaves the axis limits
  alone (matplotlib skips NaN);
- a whisker is never negative: a percentile interval of near-constant data can sit a rounding
  error off its own mean, and matplotlib refuses negative lengths.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> from starter.stats import proportion_ci
>>> fig, ax = plt.subplots()
>>> estimates = [proportion_ci(3, 4), proportion_ci(1, 4)]
>>> _ = estimate_bars(ax, [0, 1], estimates, color=["C3", "C7"])
>>> _ = estimate_points(ax, [0, 1], estimates, color="k")
>>> plt.close(fig)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from starter.stats import Estimate


def interval_errors(estimates: Sequence[Estimate]) -> list[list[float]]:
    """Whisker lengths [below, above] from the estimates' 95% intervals, as matplotlib's `yerr`.

    0 where an estimate has no interval; never negative; NaN where the value is NaN (no whisker).

    >>> from starter.stats import Estimate
    >>> interval_errors([Estimate(0.5, (0.25, 0.75), 4, 4), Estimate(1.0, None, 1, 1)])
    [[0.25, 0.0], [0.25, 0.0]]
    >>> interval_errors([Estimate(0.5, (0.5000001, 0.9), 4, 4)])[0]  # rounding: clipped to 0
    [0.0]
    """
    below, above = [], []
    for e in estimates:
        if not math.isfinite(e.value):
            below.append(math.nan)
            above.append(math.nan)
        elif e.ci is None:
            below.append(0.0)
            above.append(0.0)
        else:
            below.append(max(0.0, e.value - e.ci[0]))
            above.append(max(0.0, e.ci[1] - e.value))
    return [below, above]


def estimate_points(ax: Any, xs: Sequence[float], estimates: Sequence[Estimate],
                    **style: Any) -> Any:
    """Points at `xs` with their 95% intervals as capped whiskers (`ax.errorbar`); returns its
    container. `style` passes to matplotlib (`fmt`, `color`, `label`, ...; a marker "o" and
    `capsize=3` unless given).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from starter.stats import Estimate
    >>> fig, ax = plt.subplots()
    >>> drawn = estimate_points(ax, [0, 1], [Estimate(0.5, (0.25, 0.75), 4, 4),
    ...                                      Estimate(1.0, None, 1, 1)], fmt="s-", label="base")
    >>> [float(y) for y in drawn.lines[0].get_ydata()]
    [0.5, 1.0]
    >>> plt.close(fig)
    """
    if len(xs) != len(estimates):
        raise ValueError(f"{len(xs)} positions for {len(estimates)} estimates")
    style.setdefault("capsize", 3)
    if "fmt" not in style and "marker" not in style:
        style["marker"] = "o"
    values = [e.value for e in estimates]
    return ax.errorbar(list(xs), values, yerr=interval_errors(estimates), **style)


def estimate_bars(ax: Any, xs: Sequence[float], estimates: Sequence[Estimate],
                  width: float = 0.8, *, horizontal: bool = False, **style: Any) -> Any:
    """Bars at `xs` as tall as the estimates, whiskers over their 95% intervals (`ax.bar`, or
    `ax.barh` when `horizontal`); returns the bar container. A NaN estimate draws no bar.
    `style` passes to matplotlib (`color` may be one per bar; `capsize=3` unless given).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from starter.stats import Estimate
    >>> fig, ax = plt.subplots()
    >>> bars = estimate_bars(ax, [0, 1], [Estimate(0.5, (0.25, 0.75), 4, 4),
    ...                                  Estimate(float("nan"), None, 0, 0)], 0.6)
    >>> [float(b.get_height()) for b in bars]
    [0.5, nan]
    >>> plt.close(fig)
    """
    if len(xs) != len(estimates):
        raise ValueError(f"{len(xs)} positions for {len(estimates)} estimates")
    style.setdefault("capsize", 3)
    values = [e.value for e in estimates]
    errors = interval_errors(estimates)
    if horizontal:
        return ax.barh(list(xs), values, width, xerr=errors, **style)
    return ax.bar(list(xs), values, width, yerr=errors, **style)
