"""Statistics every starter shares: estimates with n and a 95% interval that respects clustering.

The unit of independence is the *problem*: steps within a trace, continuations within a chain and chains of
one problem are not independent draws, so an interval that treats them as such is too narrow. Every
estimate here is computed from items tagged with their cluster (usually the problem id) and its interval
comes from resampling whole clusters (the cluster bootstrap), or from the Wilson score interval when each
cluster holds exactly one yes/no item.

- `mean_ci(values, clusters)`: a mean over items, its 95% cluster-bootstrap interval, n clusters and items.
- `proportion_ci(successes, n)`: Wilson's interval for k of n independent yes/no items.
- `difference_ci(a, a_clusters, b, b_clusters)`: mean(a) - mean(b), resampling the union of clusters
  jointly, so a condition and its control measured on the same problems are compared pair by pair.
- `describe(estimate)`: "0.62 (95% CI 0.48 to 0.75; n=12 problems)", or "3/5" for fewer than 10 items.

Intervals are percentile intervals over `N_BOOT` resamples drawn from a seeded generator: the same data
always give the same interval. With fewer than 2 clusters no interval exists and `ci` is None. A
proportion that is 0 or 1 on every cluster gets Wilson's interval over its clusters instead (the
bootstrap would say [0, 0]), and a difference with such a side is widened to match.

>>> est = mean_ci([1, 0, 1, 1, 0, 1], clusters=["p1", "p1", "p2", "p2", "p3", "p3"])
>>> round(est.value, 3), est.n, est.n_items, est.unit
(0.667, 3, 6, 'problem')
>>> wilson = proportion_ci(8, 10)
>>> [round(x, 3) for x in wilson.ci]
[0.49, 0.943]
>>> describe(mean_ci([1.0, 0.0, 1.0], clusters=["a", "b", "c"]))
'2/3 (n=3 problems)'
>>> diff = difference_ci([1, 1, 1, 0], ["a", "b", "c", "d"], [0, 0, 1, 0], ["a", "b", "c", "d"])
>>> round(diff.value, 2)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 4000  # bootstrap resamples: the interval's ends move by < 0.01 between seeds at this size
LEVEL = 0.95  # every interval in the kit is a 95% interval
SMALL_N = 10  # below this many items a proportion is shown as counts ("3/5"), never as a percentage


@dataclass(frozen=True)
class Estimate:
    """A number with its uncertainty and its sample size."""

    value: float  # the point estimate (nan when there are no items)
    ci: tuple[float, float] | None  # 95% interval; None when it cannot be estimated (< 2 clusters)
    n: int  # independent units (clusters), e.g. problems
    n_items: int  # items averaged, e.g. continuations; >= n
    unit: str = "problem"  # what one independent unit is: problem | chain | trace | step
    successes: int | None = None  # for a proportion of 0/1 items: how many were 1

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below zero (False without an interval)."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    def to_dict(self) -> dict:
        return {"value": _finite_or_none(self.value), "ci": _ci_list(self.ci), "n": self.n,
                "n_items": self.n_items, "unit": self.unit}


def mean_ci(values: Sequence[float], clusters: Sequence[Hashable], unit: str = "problem",
            seed: int = 0) -> Estimate:
    """The mean of `values` with a 95% interval from resampling whole clusters.

    `clusters[i]` names the independent unit item i belongs to (its problem id). NaN values are dropped
    with their cluster tag. The mean weights every item equally (a cluster with more items counts more),
    as a pooled rate does; the interval accounts for items of one cluster moving together.

    >>> mean_ci([0.2, 0.4], clusters=["p", "p"]).ci is None  # one problem: no interval
    True
    """
    x, groups = _clean(values, clusters)
    if x.size == 0:
        return Estimate(math.nan, None, 0, 0, unit)
    sums, counts = _per_cluster(x, groups)
    value = float(x.mean())
    successes = int(x.sum()) if np.isin(x, (0.0, 1.0)).all() else None
    if len(sums) < 2:
        return Estimate(value, None, len(sums), int(x.size), unit, successes)
    if _all_same_binary(x):  # every resample is the same: the bootstrap would say [v, v]
        wilson = proportion_ci(len(sums) if value == 1 else 0, len(sums)).ci
        return Estimate(value, wilson, len(sums), int(x.size), unit, successes)
    idx = _resample_indices(len(sums), seed)
    boot = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return Estimate(value, _percentiles(boot), len(sums), int(x.size), unit, successes)


def proportion_ci(successes: int, n: int, unit: str = "problem") -> Estimate:
    """Wilson's 95% score interval for `successes` of `n` independent yes/no items.

    Use it only when the items are independent (one per problem); otherwise use `mean_ci` with clusters.

    >>> est = proportion_ci(0, 5)
    >>> est.value, [round(x, 3) for x in est.ci]
    (0.0, [0.0, 0.434])
    """
    if n <= 0:
        return Estimate(math.nan, None, 0, 0, unit, 0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie between 0 and n={n}")
    z = 1.959963984540054  # the normal quantile for a two-sided 95% interval
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact ends at 0/n and n/n (rounding would otherwise leave the value a hair outside)
    lo = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    hi = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return Estimate(p, (lo, hi), n, n, unit, successes)


def difference_ci(a: Sequence[float], a_clusters: Sequence[Hashable], b: Sequence[float],
                  b_clusters: Sequence[Hashable], unit: str = "problem", seed: int = 0) -> Estimate:
    """mean(a) - mean(b) with a 95% interval, resampling the union of both sides' clusters together.

    When condition and control are measured on the same problems, one resample keeps each problem's pair
    together (a paired comparison); clusters present on one side only still count as units. `n` is the
    number of clusters in the union. Replicates in which one side has no items are skipped.

    >>> d = difference_ci([1, 1], ["p", "q"], [0, 1], ["p", "q"])
    >>> d.value, d.n
    (0.5, 2)
    """
    xa, ga = _clean(a, a_clusters)
    xb, gb = _clean(b, b_clusters)
    if xa.size == 0 or xb.size == 0:
        return Estimate(math.nan, None, 0, 0, unit)
    names = sorted(set(ga) | set(gb), key=str)
    sums_a, counts_a = _per_cluster(xa, ga, names)
    sums_b, counts_b = _per_cluster(xb, gb, names)
    value = float(xa.mean() - xb.mean())
    n_items = int(xa.size + xb.size)
    if len(names) < 2:
        return Estimate(value, None, len(names), n_items, unit)
    idx = _resample_indices(len(names), seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (sums_a[idx].sum(axis=1) / counts_a[idx].sum(axis=1)
                - sums_b[idx].sum(axis=1) / counts_b[idx].sum(axis=1))
    boot = boot[np.isfinite(boot)]
    ci = _percentiles(boot) if boot.size >= N_BOOT // 2 else None
    if ci is not None and (_all_same_binary(xa) or _all_same_binary(xb)):
        # A side that is all 0 or all 1 looks certain to the bootstrap (0/5 resamples to 0/5
        # every time). Widen to the difference of the two sides' own intervals, that side's being
        # Wilson's over its clusters: conservative, and honest about small all-or-nothing counts.
        side_a = mean_ci(xa, ga, unit, seed).ci
        side_b = mean_ci(xb, gb, unit, seed).ci
        if side_a is not None and side_b is not None:
            ci = (min(ci[0], side_a[0] - side_b[1]), max(ci[1], side_a[1] - side_b[0]))
    return Estimate(value, ci, len(names), n_items, unit)


def n_needed(estimate: Estimate) -> int | None:
    """Roughly how many clusters an interval of this width would need to exclude zero.

    Interval half-widths shrink like 1/sqrt(n), so n * (half-width / |value|)^2 clusters would put the
    interval's end at zero; None when the value is zero or there is no interval.

    >>> n_needed(Estimate(0.1, (-0.1, 0.3), n=10, n_items=10))
    40
    """
    if estimate.ci is None or not estimate.value or not math.isfinite(estimate.value):
        return None
    half = (estimate.ci[1] - estimate.ci[0]) / 2
    return max(estimate.n + 1, math.ceil(estimate.n * (half / abs(estimate.value)) ** 2))


def describe(estimate: Estimate, digits: int = 2) -> str:
    """The estimate in words for a summary: value, interval and n, or counts below `SMALL_N` items.

    >>> describe(proportion_ci(30, 40))
    '0.75 (95% CI 0.60 to 0.86; n=40 problems)'
    >>> describe(Estimate(float("nan"), None, 0, 0))
    'no data'
    """
    if estimate.n_items == 0 or not math.isfinite(estimate.value):
        return "no data"
    units = _plural(estimate.unit, estimate.n)
    items = f"; {estimate.n_items} items" if estimate.n_items != estimate.n else ""
    if estimate.successes is not None and estimate.n_items < SMALL_N:
        return f"{estimate.successes}/{estimate.n_items} (n={estimate.n} {units}{items})"
    value = f"{estimate.value:.{digits}f}"
    if estimate.ci is None:
        return f"{value} (no interval with n={estimate.n} {units}{items})"
    lo, hi = estimate.ci
    return f"{value} (95% CI {lo:.{digits}f} to {hi:.{digits}f}; n={estimate.n} {units}{items})"


# --- helpers ------------------------------------------------------------------------------------


def _all_same_binary(x: np.ndarray) -> bool:
    """All items 0, or all items 1: a proportion whose clusters the bootstrap cannot vary."""
    return x.size > 0 and bool(np.isin(x, (0.0, 1.0)).all()) and bool((x == x[0]).all())


def _clean(values: Sequence[float], clusters: Sequence[Hashable]) -> tuple[np.ndarray, list]:
    if len(values) != len(clusters):
        raise ValueError(f"{len(values)} values but {len(clusters)} cluster labels; give one label per value")
    x = np.asarray([float(v) for v in values], dtype=float)
    keep = np.isfinite(x)
    return x[keep], [c for c, k in zip(clusters, keep) if k]


def _per_cluster(x: np.ndarray, groups: list, names: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and item counts, in the order of `names` (default: first appearance)."""
    names = list(dict.fromkeys(groups)) if names is None else names
    where = {name: i for i, name in enumerate(names)}
    sums = np.zeros(len(names))
    counts = np.zeros(len(names))
    for value, group in zip(x, groups):
        sums[where[group]] += value
        counts[where[group]] += 1
    return sums, counts


def _resample_indices(n_clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_clusters, size=(N_BOOT, n_clusters))  # [N_BOOT, n_clusters]


def _percentiles(boot: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - LEVEL) / 2
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return float(lo), float(hi)


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _ci_list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def _plural(unit: str, n: int) -> str:
    return unit if n == 1 else unit + "s"
