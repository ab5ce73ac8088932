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
    assert "about 40 problems would put the interval's end at zero" in text


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


# --- multiplicity, exact controls, primary claims (issue 25) -------------------------------------


def test_holm_on_three_p_values_by_hand():
    # alpha 0.05, p = (0.04, 0.005, 0.012): sorted 0.005 (rank 1: 0.05/3 = 0.01667, rejected),
    # 0.012 (rank 2: 0.05/2 = 0.025, rejected), 0.04 (rank 3: 0.05/1 = 0.05, rejected)
    assert stats.holm([0.04, 0.005, 0.012]) == pytest.approx([0.05, 0.05 / 3, 0.025])
    # p = (0.02, 0.03, 0.001): 0.001 at 0.01667 rejected; 0.02 at 0.025 rejected; 0.03 at 0.05
    assert stats.holm([0.02, 0.03, 0.001]) == pytest.approx([0.025, 0.05, 0.05 / 3])
    # p = (0.02, 0.018, 0.3): 0.018 > 0.01667 at rank 1: stop; every claim is read at 0.05/3
    assert stats.holm([0.02, 0.018, 0.3]) == pytest.approx([0.05 / 3] * 3)


def test_p_value_of_a_percentile_bootstrap_is_twice_the_smaller_tail():
    # 7 of 10 problems at +1, three at -1: the resampled mean is <= 0 when >= 5 of the 10 draws
    # are -1 problems: P = sum_{k>=5} C(10,k) 0.3^k 0.7^(10-k) = 0.1503 (by hand), so p = 0.3006
    # (4000 resamples: Monte Carlo sd of p about 0.011)
    diff = stats.mean_ci([1.0] * 7 + [-1.0] * 3, clusters=range(10))
    assert stats.p_value(diff) == pytest.approx(0.3006, abs=0.04)


def test_interval_at_a_higher_level_is_wider_and_nested():
    est = stats.difference_ci([0.2, 0.5, 0.9, 0.4, 0.7], "abcde", [0.1, 0.3, 0.2, 0.5, 0.1],
                              "abcde")
    lo95, hi95 = stats.interval_at(est, 0.95)
    lo99, hi99 = stats.interval_at(est, 0.99)
    assert (lo95, hi95) == est.ci
    assert lo99 <= lo95 and hi99 >= hi95


def test_a_zero_by_construction_control_is_not_widened():
    # 5 of 15 problems show the event; the control cannot (0 by construction). Sampled as a column
    # of zeros, the old widening made this 'not distinguishable'; as a constant it is Wilson's
    # 5/15 interval, [0.1518, 0.5830] (by hand: centre 0.3672, half-width 0.2156), shifted by 0.
    events = [1.0] * 5 + [0.0] * 10
    widened = stats.difference_ci(events, range(15), [0.0] * 15, range(15))
    exact = stats.minus_constant(events, range(15), 0.0)
    assert widened.ci[0] < 0
    assert exact.value == pytest.approx(1 / 3)
    assert exact.ci == pytest.approx((0.1518, 0.5830), abs=1e-3)
    assert findings.verdict_of(exact) == "supported"
    control = stats.constant(0.0, 15)
    assert control.exact and control.ci == (0.0, 0.0)
    assert stats.describe(control) == "0 by construction (n=15 problems)"


def test_a_rate_beside_an_exact_zero_has_the_interval_of_its_difference():
    # monitored-cot's alive-leak claim (review s15): 5 of 15 problems, one 0/1 item each. Its
    # estimate came from mean_ci (percentile bootstrap, [0.067, 0.6]) and its difference from
    # minus_constant (Wilson, [0.152, 0.583]). rate_ci is the estimate minus_constant shifts: the
    # same interval at 95% and at a Holm level (Wilson's 5/15 at 97.5%, by hand: z = 2.2414,
    # centre 0.3751, half-width 0.2398).
    events = [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1]
    rate = stats.rate_ci(events, range(15))
    excess = stats.minus_constant(events, range(15), 0.0)
    assert rate.ci == excess.ci == pytest.approx((0.1518, 0.5830), abs=1e-3)
    assert stats.interval_at(rate, 0.975) == stats.interval_at(excess, 0.975)
    assert stats.interval_at(rate, 0.975) == pytest.approx((0.1354, 0.6149), abs=1e-3)
    # several items per problem: both keep the cluster bootstrap, shifted by the constant
    values, clusters = [1, 0, 0, 1, 1, 0], ["a", "a", "b", "b", "c", "d"]
    shifted = stats.minus_constant(values, clusters, 0.25)
    assert stats.rate_ci(values, clusters).ci == stats.mean_ci(values, clusters).ci
    assert shifted.ci == pytest.approx(tuple(x - 0.25 for x in stats.mean_ci(values, clusters).ci))


def _normal_claim(key: str, z: float, direction: int = 1) -> findings.Claim:
    z95 = 1.959964
    diff = Estimate(z, (z - z95, z + z95), 30, 30)
    return findings.compare("X.", "m", diff, "c", "m", diff, diff, direction=direction, key=key)


def test_declare_marks_one_primary_and_holm_adjusts_the_rest(tmp_path):
    # secondary z = 2.5 and 2.3: p = 0.01242 and 0.02145 (by hand, two-sided normal). Holm:
    # 0.01242 <= 0.025 (rank 1 of 2) -> read at 97.5%; 0.02145 <= 0.05 -> read at 95%.
    out = findings.declare([_normal_claim("a", 2.5), _normal_claim("main", 1.0),
                            _normal_claim("b", 2.3)], primary="main")
    by_key = {c.key: c for c in out}
    assert [c.primary for c in out] == [False, True, False]
    assert by_key["a"].p_value == pytest.approx(0.01242, abs=1e-4)
    assert by_key["b"].p_value == pytest.approx(0.02145, abs=1e-4)
    assert by_key["a"].ci_level == pytest.approx(0.975)
    assert by_key["b"].ci_level == pytest.approx(0.95)
    # the 97.5% interval of a: 2.5 -+ 2.2414
    assert by_key["a"].difference.ci == pytest.approx((2.5 - 2.2414, 2.5 + 2.2414), abs=1e-3)
    assert by_key["main"].verdict == "not distinguishable"
    entries = findings.read_findings(findings.write_findings(tmp_path, out))
    assert [e["primary"] for e in entries] == [False, True, False]
    assert entries[0]["ci_level"] == pytest.approx(0.975)


def test_declare_turns_a_secondary_near_miss_into_not_distinguishable():
    # alone at 95%, z = 2.1 is 'supported'; beside a z = 1.0 claim (p 0.3173), Holm reads the
    # smaller p (0.0357) at 0.05/2: 0.0357 > 0.025, so it stops, and z(0.9875) = 2.2414 > 2.1
    out = findings.declare([_normal_claim("main", 3), _normal_claim("a", 2.1),
                            _normal_claim("b", 1.0)], primary="main")
    assert [c.verdict for c in out] == ["supported", "not distinguishable", "not distinguishable"]
    assert "Holm-adjusted 97.5% CI" in out[1].sentence()
    assert out[0].sentence().startswith("Primary claim. **Supported.**")


def test_two_primaries_or_repeated_keys_are_refused(tmp_path):
    one = findings.declare([_normal_claim("main", 3)], primary="main")[0]
    with pytest.raises(ValueError, match="2 claims are marked primary"):
        findings.write_findings(tmp_path, [one, one])
    with pytest.raises(ValueError, match="keys repeat"):
        findings.declare([_normal_claim("a", 3), _normal_claim("a", 1)], primary="a")


def test_strongest_baseline_is_written_with_name_value_and_interval(tmp_path):
    base = findings.Baseline("fitted text baseline", Estimate(0.8, (0.7, 0.9), 20, 20))
    z95 = 1.959964
    diff = Estimate(0.1, (0.1 - z95 / 20, 0.1 + z95 / 20), 20, 20)
    claim = findings.compare("The probe beats the ladder.", "accuracy", Estimate(0.9, (0.8, 1.0),
                             20, 20), "fitted text baseline", "accuracy", base.estimate, diff,
                             key="probe", strongest_baseline=base)
    entry = json.loads(findings.write_findings(tmp_path, [claim]).read_text())[0]
    assert entry["strongest_baseline"] == {"name": "fitted text baseline", "value": 0.8,
                                           "ci": [0.7, 0.9]}


def test_auroc_by_hand_and_a_paired_difference():
    # positives 0.9, 0.4, 0.7; negatives 0.5, 0.1, 0.7: pairs ordered right: 0.9 beats all 3,
    # 0.4 beats 0.1 only, 0.7 beats 0.5 and 0.1 and ties 0.7 (1/2): (3 + 1 + 2.5) / 9 = 0.7222
    est = stats.auroc_ci([0.9, 0.5, 0.4, 0.1, 0.7, 0.7], [1, 0, 1, 0, 1, 0], "aabbcc")
    assert est.value == pytest.approx(6.5 / 9)
    assert est.n == 3 and est.ci[0] <= est.value <= est.ci[1]
    same = stats.auroc_difference_ci([0.9, 0.5, 0.4, 0.1], [0.9, 0.5, 0.4, 0.1], [1, 0, 1, 0],
                                     "aabb")
    assert same.value == 0.0 and same.ci == (0.0, 0.0)


def test_a_one_cluster_side_still_gives_a_difference_interval():
    # side b has one problem only (no interval of its own): the difference keeps the bootstrap's
    diff = stats.difference_ci([1, 1, 0, 1], "abcd", [0, 0], ["a", "a"])
    assert diff.ci is not None and stats.interval_at(diff, 0.99) is not None


@pytest.mark.parametrize("a, b, level", [
    ([0.0] * 9, [1.0] * 6 + [0.0] * 3, 0.992857),  # 6 discordant pairs: sign test p = 0.031
    ([1.0] * 10, [1.0] * 2 + [0.0] * 8, 0.994444),  # 8 discordant pairs: sign test p = 0.0078
])
def test_an_all_or_nothing_side_agrees_with_the_exact_sign_test(a, b, level):
    # Two of cot-faithfulness's Holm-adjusted claims, paired on the same problems. The exact
    # sign test over the discordant pairs (p = 2 * 0.5**k, by hand) rejects at 95% but not at the
    # Holm level (alpha 0.0071 and 0.0056), and so does the widened interval. Newcombe's hybrid
    # score interval on the two sides (tried in session 19) excluded 0 at the Holm level too,
    # calling both claims supported: the conservative widening stays.
    est = stats.difference_ci(a, range(len(a)), b, range(len(b)))
    low, high = est.ci
    assert low > 0 or high < 0, "significant at 95%, as the sign test says"
    low, high = stats.interval_at(est, level)
    assert low < 0 < high, "not at the Holm level, as the sign test says"
