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
- `ratio_ci(a, b, clusters)`: mean(a) / mean(b) over the same items (e.g. what a method saves
  as a share of what an oracle saves), the clusters resampled together.
- `auroc_ci`, `auroc_difference_ci`: an AUROC (or two scores' AUROC difference on the same
  items) with the cluster bootstrap.
- `seeds_difference_ci`: a difference whose method was trained once per seed, the seeds
  resampled inside the interval too.
- `crossed_difference_ci`: a difference over problems crossed with templates (paraphrases),
  both resampled (templates as a random effect).
- `constant(value, n)`: a control that is exact by construction (a rate that cannot be anything but
  0): a number, not a sample, so it carries no sampling error and never widens a difference.
- `minus_constant(a, clusters, value)`: mean(a) - an exact control: a's own interval, shifted.
- `p_value(estimate)`, `interval_at(estimate, level)`, `holm(p_values)`: what `starter.findings`
  needs to adjust the secondary claims of a run for multiplicity (Holm's step-down).

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
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

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
    # True for a value fixed by construction (a control that cannot be anything else): not a sample
    exact: bool = False
    # level -> this estimate's interval at that level, from the same resamples (None: no interval);
    # set by mean_ci/difference_ci/proportion_ci so findings can adjust an interval for multiplicity
    at_level: Callable[[float], tuple[float, float] | None] | None = field(
        default=None, compare=False, repr=False)

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below zero (False without an interval)."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    def to_dict(self) -> dict:
        return {"value": _finite_or_none(self.value), "ci": _ci_list(self.ci), "n": self.n,
                "n_items": self.n_items, "unit": self.unit}


def mean_ci(values: Sequence[float] | np.ndarray, clusters: Sequence[Hashable] | np.ndarray,
            unit: str = "problem", seed: int = 0, level: float = LEVEL) -> Estimate:
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
        k = len(sums) if value == 1 else 0
        wilson = proportion_ci(k, len(sums), level=level).ci
        return Estimate(value, wilson, len(sums), int(x.size), unit, successes,
                        at_level=lambda lv: proportion_ci(k, len(sums), level=lv).ci)
    idx = _resample_indices(len(sums), seed)
    boot = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return Estimate(value, _percentiles(boot, level), len(sums), int(x.size), unit, successes,
                    at_level=lambda lv: _percentiles(boot, lv))


def proportion_ci(successes: int, n: int, unit: str = "problem",
                  level: float = LEVEL) -> Estimate:
    """Wilson's 95% score interval (or at `level`) for `successes` of `n` independent yes/no items.

    Use it only when the items are independent (one per problem); otherwise use `mean_ci` with clusters.

    >>> est = proportion_ci(0, 5)
    >>> est.value, [round(x, 3) for x in est.ci]
    (0.0, [0.0, 0.434])
    """
    if n <= 0:
        return Estimate(math.nan, None, 0, 0, unit, 0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie between 0 and n={n}")
    z = _z(level)  # the normal quantile of a two-sided interval (1.95996 at 95%)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact ends at 0/n and n/n (rounding would otherwise leave the value a hair outside)
    lo = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    hi = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return Estimate(p, (lo, hi), n, n, unit, successes,
                    at_level=lambda lv: proportion_ci(successes, n, unit, lv).ci)


def difference_ci(a: Sequence[float], a_clusters: Sequence[Hashable], b: Sequence[float],
                  b_clusters: Sequence[Hashable], unit: str = "problem", seed: int = 0,
                  level: float = LEVEL) -> Estimate:
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
    if boot.size < N_BOOT // 2:
        return Estimate(value, None, len(names), n_items, unit)
    widen = _all_same_binary(xa) or _all_same_binary(xb)
    sides = (mean_ci(xa, ga, unit, seed), mean_ci(xb, gb, unit, seed)) if widen else None

    def interval(lv: float) -> tuple[float, float]:
        ci = _percentiles(boot, lv)
        if sides is not None:
            # A side that is all 0 or all 1 looks certain to the bootstrap (0/5 resamples to 0/5
            # every time). Widen to the difference of the two sides' own intervals, that side's
            # being Wilson's over its clusters: conservative, honest about small all-or-nothing
            # counts. (A control that is 0 by construction is no sample: use minus_constant.)
            # Newcombe's narrower hybrid score interval was tried: on small paired counts it
            # rejected where the exact sign test does not (tests/test_stats.py, by hand).
            side_a, side_b = interval_at(sides[0], lv), interval_at(sides[1], lv)
            if side_a is not None and side_b is not None:
                ci = (min(ci[0], side_a[0] - side_b[1]), max(ci[1], side_a[1] - side_b[0]))
        return ci

    return Estimate(value, interval(level), len(names), n_items, unit, at_level=interval)


def ratio_ci(a: Sequence[float], b: Sequence[float], clusters: Sequence[Hashable],
             unit: str = "problem", seed: int = 0, level: float = LEVEL) -> Estimate:
    """mean(a) / mean(b) over the same items (a[i] and b[i] measured on one item), with a
    percentile interval from resampling whole clusters (a and b move together).

    Resamples whose denominator is 0 are skipped; no interval when fewer than half remain, with
    fewer than 2 clusters, or when b sums to 0 (the value is then nan). By hand: a sums to 1.0 and
    b to 2.0 over three problems, so the ratio is 0.5.

    >>> r = ratio_ci([0.5, 0.0, 0.5], [0.5, 1.0, 0.5], ["p", "q", "r"])
    >>> r.value, r.n, r.ci[0] <= 0.5 <= r.ci[1]
    (0.5, 3, True)
    """
    if not len(a) == len(b) == len(clusters):
        raise ValueError(f"{len(a)} numerators, {len(b)} denominators and {len(clusters)} "
                         "cluster labels; give one of each per item")
    keep = [i for i in range(len(a)) if math.isfinite(a[i]) and math.isfinite(b[i])]
    xa = np.asarray([float(a[i]) for i in keep])
    xb = np.asarray([float(b[i]) for i in keep])
    groups = [clusters[i] for i in keep]
    if xa.size == 0 or xb.sum() == 0:
        return Estimate(math.nan, None, len(set(groups)), int(xa.size), unit)
    names = list(dict.fromkeys(groups))
    sums_a, _ = _per_cluster(xa, groups, names)
    sums_b, _ = _per_cluster(xb, groups, names)
    value = float(xa.sum() / xb.sum())
    if len(names) < 2:
        return Estimate(value, None, len(names), int(xa.size), unit)
    idx = _resample_indices(len(names), seed)
    top, bottom = sums_a[idx].sum(axis=1), sums_b[idx].sum(axis=1)
    boot = top[bottom > 0] / bottom[bottom > 0]
    if boot.size < N_BOOT // 2:
        return Estimate(value, None, len(names), int(xa.size), unit)
    return Estimate(value, _percentiles(boot, level), len(names), int(xa.size), unit,
                    at_level=lambda lv: _percentiles(boot, lv))


def auroc_ci(scores: Sequence[float], labels: Sequence[float], clusters: Sequence[Hashable],
             unit: str = "problem", seed: int = 0, level: float = LEVEL) -> Estimate:
    """AUROC of `scores` for 0/1 `labels` (ties count 1/2), with a cluster-bootstrap interval.

    A resample draws whole clusters; each item then counts as often as its cluster was drawn.
    By hand: positives 0.9, 0.4; negatives 0.5, 0.1: 3 of 4 pairs ordered right, AUROC 0.75.

    >>> auroc_ci([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 0], ["a", "a", "b", "b"]).value
    0.75
    """
    return auroc_difference_ci(scores, None, labels, clusters, unit, seed, level)


def auroc_difference_ci(a: Sequence[float], b: Sequence[float] | None, labels: Sequence[float],
                        clusters: Sequence[Hashable], unit: str = "problem", seed: int = 0,
                        level: float = LEVEL) -> Estimate:
    """AUROC(a) - AUROC(b) on the same items (b None: AUROC(a) alone), resampling clusters
    jointly so the two scores stay paired.

    By hand: a orders all 4 (positive, negative) pairs right (1.0); b orders 2 of 4 (0.5).

    >>> d = auroc_difference_ci([0.9, 0.1, 0.8, 0.2], [0.1, 0.2, 0.9, 0.8], [1, 0, 1, 0],
    ...                         ["a", "a", "b", "b"])
    >>> d.value, d.n, d.n_items
    (0.5, 2, 4)
    """
    y = np.asarray([float(v) for v in labels])
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("AUROC labels must be 0 or 1")
    names = list(dict.fromkeys(clusters))
    where = {name: i for i, name in enumerate(names)}
    owner = np.asarray([where[c] for c in clusters])
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return Estimate(math.nan, None, len(names), int(y.size), unit)

    def pair_matrix(x: Sequence[float]) -> np.ndarray:
        v = np.asarray([float(t) for t in x])
        diff = v[pos][:, None] - v[neg][None, :]  # [n_pos, n_neg]
        return (diff > 0) + 0.5 * (diff == 0)

    ordered = pair_matrix(a) - (pair_matrix(b) if b is not None else 0.0)
    value = float(ordered.mean())
    if len(names) < 2:
        return Estimate(value, None, len(names), int(y.size), unit)
    idx = _resample_indices(len(names), seed)  # [N_BOOT, n_clusters]
    counts = np.zeros((N_BOOT, len(names)))
    np.add.at(counts, (np.arange(N_BOOT)[:, None], idx), 1.0)
    w_pos, w_neg = counts[:, owner[pos]], counts[:, owner[neg]]  # [N_BOOT, n_pos], [N_BOOT, n_neg]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = ((w_pos @ ordered) * w_neg).sum(axis=1) / (w_pos.sum(1) * w_neg.sum(1))
    boot = boot[np.isfinite(boot)]
    if boot.size < N_BOOT // 2:
        return Estimate(value, None, len(names), int(y.size), unit)
    return Estimate(value, _percentiles(boot, level), len(names), int(y.size), unit,
                    at_level=lambda lv: _percentiles(boot, lv))


def seeds_difference_ci(a_by_seed: Sequence[Sequence[float]], b: Sequence[float],
                        clusters: Sequence[Hashable], unit: str = "problem", seed: int = 0,
                        level: float = LEVEL) -> Estimate:
    """mean(a) - mean(b) where `a` was measured once per training seed (a_by_seed[s][i]: seed s,
    item i; `b` on the same items): the value averages a over the seeds, and each bootstrap
    replicate draws the seeds with replacement as well as the clusters, so the spread between
    seeds is inside the interval (a method resting on one lucky seed is not a finding).

    By hand: two seeds score 1.0 and 0.0 on every item, b is 0.5: the value is 0; a replicate
    drawing the first seed twice gives +0.5, the second twice -0.5, one of each 0.

    >>> d = seeds_difference_ci([[1, 1, 1, 1], [0, 0, 0, 0]], [0.5] * 4, "abcd")
    >>> d.value, d.ci
    (0.0, (-0.5, 0.5))
    """
    a = np.asarray(a_by_seed, dtype=float)  # [seeds, items]
    y = np.asarray([float(v) for v in b])
    if a.ndim != 2 or a.shape[1] != y.size or y.size != len(clusters):
        raise ValueError(f"a_by_seed must be [seeds, {len(clusters)} items] and b {len(clusters)} "
                         f"items; got {a.shape} and {y.size}")
    names = list(dict.fromkeys(clusters))
    owner = np.asarray([names.index(c) for c in clusters])
    value = float(a.mean() - y.mean())
    if len(names) < 2:
        return Estimate(value, None, len(names), int(y.size), unit)
    idx = _resample_indices(len(names), seed)  # [N_BOOT, clusters]
    counts = np.zeros((N_BOOT, len(names)))
    np.add.at(counts, (np.arange(N_BOOT)[:, None], idx), 1.0)
    weights = counts[:, owner]  # [N_BOOT, items]
    rng = np.random.default_rng(seed + 1)
    drawn = rng.integers(0, a.shape[0], size=(N_BOOT, a.shape[0]))  # seeds drawn per replicate
    picks = np.zeros((N_BOOT, a.shape[0]))
    np.add.at(picks, (np.arange(N_BOOT)[:, None], drawn), 1.0 / a.shape[0])
    a_rep = picks @ a  # [N_BOOT, items]: each replicate's seed-averaged a
    boot = ((weights * a_rep).sum(1) - weights @ y) / weights.sum(1)
    return Estimate(value, _percentiles(boot, level), len(names), int(y.size), unit,
                    at_level=lambda lv: _percentiles(boot, lv))


def crossed_difference_ci(a: Sequence[float], a_clusters: Sequence[Hashable],
                          a_templates: Sequence[Hashable], b: Sequence[float],
                          b_clusters: Sequence[Hashable], b_templates: Sequence[Hashable],
                          unit: str = "problem", seed: int = 0,
                          level: float = LEVEL) -> Estimate:
    """mean(a) - mean(b) when every item belongs to a problem AND a template (a paraphrase),
    crossed: each replicate resamples the problems and, independently, the templates (the
    two-way "pigeonhole" bootstrap), weighting an item by how often both were drawn. A result
    carried by one template then shows in the interval, as a random effect of templates should.

    By hand: template 1 moves a by +1 on every problem, template 2 by 0; b is 0. The value is
    0.5; a replicate drawing template 1 twice gives 1, template 2 twice 0: the interval spans
    [0, 1] however many problems there are.

    >>> d = crossed_difference_ci([1, 0] * 20, [i // 2 for i in range(40)], [1, 2] * 20,
    ...                           [0] * 40, [i // 2 for i in range(40)], [1, 2] * 20)
    >>> d.value, d.ci
    (0.5, (0.0, 1.0))
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (xa.size == len(a_clusters) == len(a_templates)
            and xb.size == len(b_clusters) == len(b_templates)):
        raise ValueError("give one cluster and one template label per value")
    if xa.size == 0 or xb.size == 0:
        return Estimate(math.nan, None, 0, 0, unit)
    names = list(dict.fromkeys([*a_clusters, *b_clusters]))
    kinds = list(dict.fromkeys([*a_templates, *b_templates]))
    value = float(xa.mean() - xb.mean())
    n_items = int(xa.size + xb.size)
    if len(names) < 2 or len(kinds) < 2:
        return Estimate(value, None, len(names), n_items, unit)
    rng = np.random.default_rng(seed)
    counts_c = np.zeros((N_BOOT, len(names)))
    np.add.at(counts_c, (np.arange(N_BOOT)[:, None],
                         rng.integers(0, len(names), size=(N_BOOT, len(names)))), 1.0)
    counts_t = np.zeros((N_BOOT, len(kinds)))
    np.add.at(counts_t, (np.arange(N_BOOT)[:, None],
                         rng.integers(0, len(kinds), size=(N_BOOT, len(kinds)))), 1.0)

    def side(x: np.ndarray, clusters: Sequence[Hashable], templates: Sequence[Hashable]):
        w = (counts_c[:, [names.index(c) for c in clusters]]
             * counts_t[:, [kinds.index(t) for t in templates]])  # [N_BOOT, items]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ x) / w.sum(axis=1)

    boot = side(xa, a_clusters, a_templates) - side(xb, b_clusters, b_templates)
    boot = boot[np.isfinite(boot)]
    if boot.size < N_BOOT // 2:
        return Estimate(value, None, len(names), n_items, unit)
    return Estimate(value, _percentiles(boot, level), len(names), n_items, unit,
                    at_level=lambda lv: _percentiles(boot, lv))


def constant(value: float, n: int, unit: str = "problem", n_items: int | None = None) -> Estimate:
    """A control value fixed by construction (e.g. a rate that is 0 because the control cannot
    produce the event): exact, so its interval is the point itself and it adds no error.

    >>> c = constant(0.0, 15)
    >>> c.ci, c.exact, describe(c)
    ((0.0, 0.0), True, '0 by construction (n=15 problems)')
    """
    items = n if n_items is None else n_items
    point = (float(value), float(value))
    return Estimate(float(value), point, n, items, unit, exact=True, at_level=lambda lv: point)


def rate_ci(a: Sequence[float] | np.ndarray, a_clusters: Sequence[Hashable], unit: str = "problem",
            seed: int = 0) -> Estimate:
    """mean(a) with the interval `minus_constant` shifts: `mean_ci`'s, except that one 0/1 item
    per cluster (independent yes/no items) gets Wilson's interval at every level. Show this as
    the estimate beside `minus_constant(a, ..., value)`, so that the two intervals agree.

    >>> [round(x, 3) for x in rate_ci([1] * 5 + [0] * 10, range(15)).ci]  # Wilson, 5/15
    [0.152, 0.583]
    """
    est = mean_ci(a, a_clusters, unit, seed)
    if est.successes is not None and est.n == est.n_items and est.n >= 2:
        # one 0/1 item per cluster: independent yes/no items, so Wilson's interval
        est = proportion_ci(est.successes, est.n, unit)
    return est


def minus_constant(a: Sequence[float], a_clusters: Sequence[Hashable], value: float,
                   unit: str = "problem", seed: int = 0) -> Estimate:
    """mean(a) - `value`, where `value` is exact by construction (see `constant`): the interval
    is a's own (`rate_ci`: the cluster bootstrap, or Wilson's for one 0/1 item per cluster or
    when a is all 0 or all 1), shifted by `value`, at every level.

    Unlike `difference_ci` against a column of zeros, the control is not widened as if sampled.
    By hand: 5 of 15 problems show the event, control 0 by construction: the difference is
    5/15 = 0.333 with Wilson's interval for 5/15, [0.152, 0.583], which excludes 0.

    >>> d = minus_constant([1] * 5 + [0] * 10, range(15), 0.0)
    >>> round(d.value, 3), [round(x, 3) for x in d.ci]
    (0.333, [0.152, 0.583])
    """
    est = rate_ci(a, a_clusters, unit, seed)
    shift = float(value)
    side = est.at_level

    def interval(lv: float) -> tuple[float, float] | None:
        ci = side(lv) if side is not None else None
        return None if ci is None else (ci[0] - shift, ci[1] - shift)

    return Estimate(est.value - shift, interval(LEVEL), est.n, est.n_items, unit,
                    at_level=interval if side is not None else None)


def interval_at(estimate: Estimate, level: float) -> tuple[float, float] | None:
    """`estimate`'s interval at `level` (e.g. 0.983 for a Holm-adjusted claim).

    From the estimate's own resamples where it carries them (`at_level`); otherwise (an Estimate
    built by hand) each side of its 95% interval is scaled by z(level)/z(0.95) about the value,
    a normal approximation that keeps the interval's asymmetry.

    >>> interval_at(Estimate(0.5, (0.3, 0.6), 10, 10), 0.95)
    (0.3, 0.6)
    >>> [round(x, 3) for x in interval_at(Estimate(0.5, (0.3, 0.6), 10, 10), 0.99)]
    [0.237, 0.631]
    >>> from dataclasses import replace
    >>> moved = replace(mean_ci([1.0, 2.0, 3.0], "abc"), value=12.0, ci=(11.0, 13.0))
    >>> interval_at(moved, 0.95)  # its resamples say (1.0, 3.0): they are not used
    (11.0, 13.0)
    """
    if estimate.ci is None:
        return None
    if estimate.exact:
        return estimate.ci
    if estimate.at_level is not None and _same(estimate.at_level(LEVEL), estimate.ci):
        return estimate.at_level(level)
    # no resamples, or an Estimate changed by hand (dataclasses.replace) whose resamples no longer
    # give its own 95% interval: scale the interval it shows
    if level == LEVEL:
        return estimate.ci
    scale = _z(level) / _z(LEVEL)
    lo, hi = estimate.ci
    v = estimate.value
    return (v - (v - lo) * scale, v + (hi - v) * scale)


def p_value(estimate: Estimate) -> float:
    """Two-sided p-value of "the value is 0", inverted from the estimate's own intervals: the
    smallest alpha whose (1 - alpha) interval excludes zero (found by bisection to 1e-5). For a
    percentile bootstrap this is 2 * min(share of resamples <= 0, share >= 0). 1.0 where there
    is no interval or it never excludes zero.

    >>> round(p_value(Estimate(1.0, (1 - 1.959964, 1 + 1.959964), 10, 10)), 3)  # z = 1: by hand
    0.317
    >>> p_value(Estimate(0.0, None, 1, 1))
    1.0
    """
    if estimate.ci is None or not math.isfinite(estimate.value):
        return 1.0

    def excludes(alpha: float) -> bool:
        ci = interval_at(estimate, 1 - alpha)
        return ci is not None and (ci[0] > 0 or ci[1] < 0)

    lo, hi = 0.0, 1.0 - 1e-9
    if not excludes(hi):
        return 1.0
    while hi - lo > 1e-5:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if excludes(mid) else (mid, hi)
    return hi


def holm(p_values: Sequence[float], alpha: float = 1 - LEVEL) -> list[float]:
    """Holm's step-down: for each p-value, the alpha its interval is read at.

    Sort the m p-values ascending; the one at rank r (1-based) is tested at alpha / (m - r + 1),
    going down the ranks while each is rejected. At the first rank k not rejected, the procedure
    stops: that claim and every later one are read at alpha / (m - k + 1), the level at which Holm
    stopped, so none of them can exclude zero where Holm would not reject (p >= p_k > that alpha).
    Ties keep their input order.

    By hand, p = (0.01, 0.04, 0.03), alpha 0.05: sorted 0.01 (rank 1, 0.05/3 = 0.0167: rejected),
    0.03 (rank 2, 0.05/2 = 0.025: not rejected: stop), 0.04 (read at 0.025 too).

    >>> [round(a, 4) for a in holm([0.01, 0.04, 0.03])]
    [0.0167, 0.025, 0.025]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    stopped: float | None = None
    for rank, i in enumerate(order, start=1):
        if stopped is None:
            level = alpha / (m - rank + 1)
            out[i] = level
            if not p_values[i] <= level:
                stopped = level
        else:
            out[i] = stopped
    return out


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
    if estimate.exact:
        return f"{estimate.value:g} by construction (n={estimate.n} {units}{items})"
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


def _clean(values: Sequence[float] | np.ndarray,
           clusters: Sequence[Hashable] | np.ndarray) -> tuple[np.ndarray, list]:
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


def _percentiles(boot: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    tail = round(100 * (1 - level) / 2, 12)  # 2.5, not 2.5000000000000022
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return float(lo), float(hi)


def _same(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    return a is not None and b is not None and abs(a[0] - b[0]) < 1e-9 and abs(a[1] - b[1]) < 1e-9


def _z(level: float) -> float:
    """The normal quantile of a two-sided `level` interval (1.959964 at 0.95)."""
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _ci_list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def _plural(unit: str, n: int) -> str:
    return unit if n == 1 else unit + "s"


def combined_ci(terms: Sequence[tuple[float, Estimate]]) -> Estimate:
    """sum(c * estimate) over independent estimates, with a 95% interval from their own intervals.

    MOVER (Zou and Donner 2008): each term's distance to its own interval's end adds in quadrature,
    on the side its coefficient's sign points to. With two Wilson proportions and coefficients +1
    and -1 this is Newcombe's (1998) hybrid score interval for a difference of proportions. The
    interval is None when a term has none. Newcombe's own example (1998, Table II): 56/70 against
    48/80, difference 0.2, 95% CI 0.0524 to 0.3339.

    >>> d = combined_ci([(1, proportion_ci(56, 70)), (-1, proportion_ci(48, 80))])
    >>> round(d.value, 4), [round(x, 4) for x in d.ci]
    (0.2, [0.0524, 0.3339])
    """
    value = sum(c * est.value for c, est in terms)
    n_items = sum(est.n_items for _, est in terms)
    intervals = [(c, est, est.ci) for c, est in terms if est.ci is not None]
    if not terms or len(intervals) < len(terms) or not math.isfinite(value):
        return Estimate(value, None, len(terms), n_items, "step")
    below = above = 0.0
    for c, est, (low, high) in intervals:
        lo, hi = sorted((c * low, c * high))
        below += (c * est.value - lo) ** 2
        above += (hi - c * est.value) ** 2
    ci = (value - math.sqrt(below), value + math.sqrt(above))
    return Estimate(value, ci, len(terms), n_items, "step")
