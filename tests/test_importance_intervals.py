"""Intervals on every importance (starter.importance) and the ranking that reads them.

Every expected interval is worked out by hand below from Wilson's formula,
    centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z sqrt(p(1-p)/n + z^2 / 4n^2) / (1 + z^2 / n),
and Newcombe's hybrid score interval for a difference d = p1 - p2 of two independent proportions,
    [d - sqrt((p1 - l1)^2 + (u2 - p2)^2),  d + sqrt((u1 - p1)^2 + (p2 - l2)^2)].
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from starter import importance as imp
from starter import rollouts_dataset, stats

Z = 1.959963984540054  # two-sided 95%


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def out(correct: bool, first_step: str | None = None, finished: bool = True,
        answer: str | None = None) -> imp.Outcome:
    return imp.Outcome(correct=correct, finished=finished, answer=answer, first_step=first_step)


def test_wilson_by_hand_matches_the_kit():
    # 9/10: p = 0.9, z^2 = 3.8415; centre = 1.09208 / 1.38415 = 0.78899,
    # half = 1.96 * sqrt(0.009 + 0.0096037) / 1.38415 = 0.19314 -> [0.5958, 0.9821]
    lo, hi = wilson_by_hand(9, 10)
    assert (lo, hi) == pytest.approx((0.5958, 0.9821), abs=1e-4)
    assert stats.proportion_ci(9, 10).ci == pytest.approx((lo, hi))


def test_accuracy_difference_is_newcombes_interval():
    # 9/10 with the step against 2/10 without: d = 0.7. Wilson 2/10 = [0.0567, 0.5098].
    # lo = 0.7 - sqrt((0.9 - 0.5958)^2 + (0.5098 - 0.2)^2) = 0.7 - 0.4342 = 0.2658
    # hi = 0.7 + sqrt((0.9821 - 0.9)^2 + (0.2 - 0.0567)^2) = 0.7 + 0.1652 = 0.8652
    d = imp.accuracy_difference(9, 10, 2, 10)
    assert d.value == pytest.approx(0.7)
    assert d.ci == pytest.approx((0.2658, 0.8652), abs=2e-4)
    l1, u1 = wilson_by_hand(9, 10)
    l2, u2 = wilson_by_hand(2, 10)
    assert d.ci == pytest.approx((0.7 - math.hypot(0.9 - l1, u2 - 0.2),
                                  0.7 + math.hypot(u1 - 0.9, 0.2 - l2)))
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    assert imp.accuracy_difference(56, 70, 48, 80).ci == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # no finished rollout on a side: no value, no interval (never 0)
    missing = imp.accuracy_difference(3, 4, 0, 0)
    assert math.isnan(missing.value) and missing.ci is None


def test_every_measure_carries_its_interval():
    chain = [
        imp.PrefixRollouts(0, "S1", (out(False, "S1"), out(False, "X"), out(True, "S1"),
                                     out(True, "Y", finished=False)),
                           forced=(out(False), out(False))),
        imp.PrefixRollouts(1, None, (out(True), out(True), out(False)),
                           forced=(out(True), out(False))),
    ]
    # resampling: 2/3 (prefix 1) against 1/3 (prefix 0; the unfinished rollout is not counted)
    (res,) = imp.resampling_importance(chain)
    assert res.ci == pytest.approx(imp.accuracy_difference(2, 3, 1, 3).ci)
    assert res.ci[0] < res.value < res.ci[1]
    # counterfactual: only the rewrite "X" differs from S1 ("Y" never finished): 2/3 against 0/1
    (cf,) = imp.counterfactual_importance(chain)
    assert (cf.value, cf.n_without) == (pytest.approx(2 / 3), 1)
    assert cf.ci == pytest.approx(imp.accuracy_difference(2, 3, 0, 1).ci)
    # forced: 1/2 against 0/2
    (forced,) = imp.forced_importance(chain)
    assert forced.ci == pytest.approx(imp.accuracy_difference(1, 2, 0, 2).ci)
    # a step whose rewrites are all the original: nan, and no interval
    same = [imp.PrefixRollouts(0, "A", (out(True, "A"),)),
            imp.PrefixRollouts(1, None, (out(True),))]
    (none,) = imp.counterfactual_importance(same)
    assert math.isnan(none.value) and none.ci is None


def test_kl_interval_is_a_seeded_bootstrap():
    p = [out(True, answer="31")] * 6
    q = [out(True, answer="31")] * 3 + [out(False, answer="27")] * 3
    found = imp.resampling_importance([imp.PrefixRollouts(0, "A", tuple(p)),
                                       imp.PrefixRollouts(1, None, tuple(q))], measure="kl")[0]
    again = imp.resampling_importance([imp.PrefixRollouts(0, "A", tuple(p)),
                                       imp.PrefixRollouts(1, None, tuple(q))], measure="kl")[0]
    assert found.ci == again.ci, "the same rollouts must give the same interval"
    assert 0 <= found.ci[0] < found.ci[1]
    # identical answers on both sides resample to identical answers: KL 0, interval [0, 0]
    twin = imp.resampling_importance([imp.PrefixRollouts(0, "A", tuple(p)),
                                      imp.PrefixRollouts(1, None, tuple(p))], measure="kl")[0]
    assert twin.value == 0.0 and twin.ci == (0.0, 0.0)


def test_score_interval_of_a_size():
    assert imp.score_interval((0.1, 0.3)) == (0.1, 0.3)
    assert imp.score_interval((-0.3, -0.1)) == (0.1, 0.3)  # a drop of 0.1 to 0.3
    assert imp.score_interval((-0.1, 0.3)) == (0.0, 0.3)  # could be nothing
    assert imp.score_interval((-0.3, -0.1), by="value") == (-0.3, -0.1)
    assert imp.score_interval(None) is None


def test_rank_steps_marks_distinct_neighbours_and_tiers():
    steps = [imp.StepImportance(1, 0.05, 100, 100, (-0.08, 0.18)),
             imp.StepImportance(2, -0.6, 100, 100, (-0.72, -0.45)),  # a drop: first by size
             imp.StepImportance(3, 0.3, 100, 100, (0.17, 0.42)),
             imp.StepImportance(4, 0.25, 100, 100, (0.12, 0.37)),
             imp.StepImportance(5, math.nan, 0, 100, None)]  # no value: left out
    ranked = imp.rank_steps(steps)
    assert [r.step for r in ranked] == [2, 3, 4, 1]
    # sizes: [0.45, 0.72], [0.17, 0.42], [0.12, 0.37], [0, 0.18]
    # 0.42 < 0.45: 2 and 3 are distinct; 3 and 4 overlap; 4 and 1 overlap (0.18 > 0.12)
    assert [(r.above, r.below) for r in ranked] == [(None, True), (True, False), (False, False),
                                                    (False, None)]
    assert [r.tier for r in ranked] == [1, 2, 2, 2]
    assert ranked[0].score == pytest.approx(0.6) and ranked[0].score_ci == (0.45, 0.72)
    by_value = imp.rank_steps(steps, by="value")
    assert [r.step for r in by_value] == [3, 4, 1, 2], "signed: the drop ranks last"
    with pytest.raises(ValueError, match="'abs' or 'value'"):
        imp.rank_steps(steps, by="size")


def test_imported_rollouts_get_intervals():
    fixture = Path(__file__).parent / "fixtures" / "math_rollouts" / "correct_base_solution"
    one = rollouts_dataset.read_rollouts(fixture)[0]
    found = rollouts_dataset.chunk_importance_intervals(one)
    # problem 1, chunks 0 -> 1: 3/4 against 1/3 (see tests/test_rollouts_dataset.py)
    first = found["resampling_importance_accuracy"][0]
    assert (first.step, first.n_with, first.n_without) == (1, 4, 3)
    assert first.ci == pytest.approx(imp.accuracy_difference(3, 4, 1, 3).ci)
    # the plain values are the same numbers
    plain = rollouts_dataset.chunk_importance(one)
    for name, scores in found.items():
        assert {s.step - 1: s.value for s in scores if math.isfinite(s.value)} == plain[name]
