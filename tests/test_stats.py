"""starter.stats and starter.findings against hand-computed values (ARENA style)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from starter import findings, stats
from starter.stats import Estimate


def test_wilson_matches_hand_computed_interval():
    # Wilson, 7 of 10: centre (0.7 + 1.92/10)/(1 + 3.84/10) = 0.6445; half-width 0.2536 (by hand)
    est = stats.proportion_ci(7, 10)
    assert est.value == 0.7
    assert est.ci == pytest.approx((0.3968, 0.8922), abs=1e-3)
    assert (est.n, est.successes) == (10, 7)


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and n"):
        stats.proportion_ci(11, 10)


def test_cluster_mean_weights_items_and_counts_clusters():
    est = stats.mean_ci([1, 0, 0, 1, 1], clusters=["a", "a", "a", "b", "c"])
    assert est.value == pytest.approx(3 / 5)
    assert (est.n, est.n_items) == (3, 5)


def test_nan_items_are_dropped_with_their_cluster_label():
    est = stats.mean_ci([1.0, math.nan, 0.0], clusters=["a", "b", "c"])
    assert (est.value, est.n) == (0.5, 2)


def test_one_cluster_has_no_interval_and_is_never_a_finding():
    est = stats.difference_ci([1, 1, 1], ["p", "p", "p"], [0, 0, 0], ["p", "p", "p"])
    assert est.ci is None
    assert findings.verdict_of(est) == "not distinguishable"


def test_intervals_are_reproducible():
    values, clusters = [0.1, 0.5, 0.9, 0.3], ["a", "b", "c", "d"]
    assert stats.mean_ci(values, clusters).ci == stats.mean_ci(values, clusters).ci


def test_cluster_bootstrap_is_wider_than_a_naive_interval_on_clustered_data():
    # 8 problems x 25 continuations whose outcome is decided by the problem: the items are not independent.
    rng = np.random.default_rng(0)
    per_problem = rng.random(8) < 0.5
    values = [float(p) for p in per_problem for _ in range(25)]
    clusters = [i for i in range(8) for _ in range(25)]
    clustered = stats.mean_ci(values, clusters)
    naive = stats.proportion_ci(int(sum(values)), len(values))
    assert clustered.ci[1] - clustered.ci[0] > 2.5 * (naive.ci[1] - naive.ci[0])


def test_cluster_bootstrap_covers_the_truth_about_95_percent_of_the_time():
    # Clustered data with a known mean of 0.5: per-problem rate ~ Beta, 20 items per problem.
    rng = np.random.default_rng(1)
    hits, reps = 0, 200
    for rep in range(reps):
        rates = rng.beta(2, 2, size=15)
        values = [float(rng.random() < r) for r in rates for _ in range(20)]
        clusters = [i for i in range(15) for _ in range(20)]
        lo, hi = stats.mean_ci(values, clusters, seed=rep).ci
        hits += lo <= 0.5 <= hi
    assert 0.88 <= hits / reps <= 0.995, f"coverage {hits / reps:.3f}"


def test_paired_difference_keeps_pairs_together():
    # Condition = control + 0.1 on every problem, but problems vary a lot: pairing gives a tight interval.
    base = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.3, 0.7]
    cond = [b + 0.1 for b in base]
    names = list("abcdefgh")
    diff = stats.difference_ci(cond, names, base, names)
    assert diff.value == pytest.approx(0.1)
    assert diff.ci == pytest.approx((0.1, 0.1))
    assert findings.verdict_of(diff) == "supported"


def test_describe_uses_counts_below_ten_items():
    assert stats.describe(stats.proportion_ci(3, 5)) == "3/5 (n=5 problems)"
    text = stats.describe(stats.mean_ci([0.25, 0.75] * 6, clusters=list(range(12)), unit="chain"))
    assert text.startswith("0.50 (95% CI ") and text.endswith("; n=12 chains)")


def test_n_needed_scales_with_the_square_of_the_width():
    assert stats.n_needed(Estimate(0.1, (-0.1, 0.3), n=10, n_items=10)) == 40


def _claim(diff_ci, verdict_direction=1):
    est = Estimate(0.6, (0.4, 0.8), 10, 10)
    ctrl = Estimate(0.5, (0.3, 0.7), 10, 10)
    diff = Estimate(0.1, diff_ci, 10, 10)
    return findings.compare("X beats its control.", "rate", est, "control", "rate", ctrl, diff,
                            direction=verdict_direction)


def test_verdict_follows_the_interval_of_the_difference():
    assert _claim((0.02, 0.2)).verdict == "supported"
    assert _claim((-0.02, 0.2)).verdict == "not distinguishable"
    assert _claim((0.02, 0.2), verdict_direction=-1).verdict == "refuted"


def test_findings_json_round_trip_and_check(tmp_path):
    claims = [_claim((0.02, 0.2)), _claim((-0.1, 0.3))]
    path = findings.write_findings(tmp_path, claims)
    entries = json.loads(path.read_text())
    assert [e["verdict"] for e in entries] == ["supported", "not distinguishable"]
    assert entries[0]["control"]["name"] == "control" and entries[0]["unit"] == "problem"
    assert findings.read_findings(path) == entries


def test_check_rejects_a_verdict_that_contradicts_its_interval():
    entry = _claim((-0.1, 0.3)).to_dict()
    entry["verdict"] = "supported"
    with pytest.raises(ValueError, match="disagrees"):
        findings.check(entry)


def test_sentence_says_not_distinguishable_and_the_n_needed():
    text = _claim((-0.1, 0.3)).sentence()
    assert text.startswith("**Not distinguishable at this n.**")
    assert "would need roughly 40 problems" in text


def test_an_all_zero_side_is_not_certain():
    # 0/5 problems vs a control near 0.37: Wilson(0, 5) reaches 0.43, so no verdict.
    zero = stats.mean_ci([0, 0, 0, 0, 0], clusters="abcde")
    assert zero.ci == pytest.approx((0.0, 0.4345), abs=1e-3)
    control = [0.2, 0.5, 0.4, 0.3, 0.45]
    diff = stats.difference_ci([0] * 5, "abcde", control, "abcde")
    assert diff.ci[0] < 0 < diff.ci[1]
    assert findings.verdict_of(diff, direction=-1) == "not distinguishable"


def test_a_large_all_zero_control_still_allows_a_finding():
    # 8/24 against 0/24: Wilson(0, 24) ends at 0.14, the difference still excludes zero.
    values = [1.0] * 8 + [0.0] * 16
    names = [f"p{i}" for i in range(24)]
    diff = stats.difference_ci(values, names, [0.0] * 24, names)
    assert diff.ci[0] > 0
