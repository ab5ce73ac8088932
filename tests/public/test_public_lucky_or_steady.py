"""Lucky or steady on public data: jump shares, the steady null and big steps, by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from starter.public import lucky_or_steady as los
from starter.releases.thought_anchors import read_chains

FIXTURE = Path(__file__).parents[1] / "fixtures" / "thought_anchors"


def test_jump_share_by_hand():
    share, i = los.jump_share([0.0, 0.1, 0.2, 0.9, 1.0])  # net 1.0, steps .1 .1 .7 .1
    assert share == pytest.approx(0.7) and i == 2
    share, i = los.jump_share([0.5, 0.9, 0.2])  # net -0.3; largest drop 0.7 at sentence 1
    assert share == pytest.approx(0.7 / 0.3) and i == 1


def test_ramp_null_without_noise_is_one_step_in_n():
    # 11 points from 0 to 1 in equal steps of 0.1, a million resamples each: share ~ 0.1
    p = np.linspace(0, 1, 11)
    m = np.full(11, 1_000_000.0)
    share = los.null_share(p, m, np.random.default_rng(0), n_sim=50)
    assert share == pytest.approx(0.1, abs=0.005)


def test_ramp_null_with_binomial_noise_is_larger():
    # the same ramp seen through 100 resamples: noise makes the largest step bigger than 0.1
    p = np.linspace(0, 1, 11)
    share = los.null_share(p, np.full(11, 100.0), np.random.default_rng(0), n_sim=200)
    assert 0.12 < share < 0.3


def test_fixture_curves():
    curves, steps, _ = los.curve_rows(read_chains(FIXTURE).chains)
    correct, incorrect = curves
    # correct: [0.75, 0.5, 1.0, 1.0]: net 0.25 (< MIN_NET: left out of the claim); largest rise
    # 0.5 at sentence 1 (plan_generation): share 2.0
    assert (correct.net, correct.share, correct.jump_index, correct.jump_tag) == (
        0.25, 2.0, 1, "plan_generation")
    assert not correct.eligible
    # incorrect: [0.25, 0, 0]: net -0.25; the drop of 0.25 at sentence 0 is all of it
    assert (incorrect.share, incorrect.jump_index, incorrect.jump_tag) == (1.0, 0, "problem_setup")
    # correct chain: 1-2 resamples per sentence, no step beyond 3 sd. The incorrect chain keeps no
    # resamples, so m = 100 (DEFAULT_RESAMPLES): 0.25 -> 0 (floored at 1/200) has sd
    # sqrt(0.25 * 0.75 / 100 + 0.005 * 0.995 / 100) = 0.0438, z = -0.25 / 0.0438 = -5.7
    assert [(s.outcome, s.index, s.z) for s in steps] == [("incorrect", 0, -5.7)]


def test_top_steps_carry_newcombe_intervals_and_the_ranking():
    tops = [t for t in los.curve_rows(read_chains(FIXTURE).chains)[2] if t.outcome == "incorrect"]
    # incorrect chain [0.25, 0, 0], m = 100: steps -0.25 (sentence 0) and 0 (sentence 1). Wilson
    # 95%: 25/100 -> [0.1755, 0.3431], 0/100 -> [0, 0.0370]; Newcombe for 0/100 - 25/100:
    # [-0.25 - (0.3431 - 0.25), -0.25 + sqrt(0.0370^2 + (0.25 - 0.1755)^2)] = [-0.343, -0.167]
    assert [(t.rank, t.index, t.step) for t in tops] == [(1, 0, -0.25), (2, 1, 0.0)]
    assert (tops[0].ci_low, tops[0].ci_high) == pytest.approx((-0.343, -0.167), abs=1e-3)
    # |step| intervals [0.167, 0.343] and [0, 0.037] do not overlap: the largest stands apart
    assert [t.distinct_next for t in tops] == [True, None], "the last ranked has no next"
    table = "\n".join(los.top_steps_table(tops))
    assert "| 0 (problem setup): -0.25 [-0.34, -0.17] | 1 (" in table, "sentence (tag): step [CI]"
    assert "in 1 of 1 chains" in table


def test_primary_on_hand_built_chains():
    # three problems, each one chain jumping 0 -> 1 in one step among 20 sentences
    from types import SimpleNamespace

    def chain(problem):
        acc = [0.0] * 10 + [1.0] * 10
        sentences = tuple(SimpleNamespace(index=i, accuracy=a, resampled=("x",) * 100,
                                          tag="plan_generation" if i == 9 else "active_computation")
                          for i, a in enumerate(acc))
        return SimpleNamespace(model="m", problem_id=problem, base_correct=True,
                               sentences=sentences)

    m = los.analyse([chain("a"), chain("b"), chain("c")])
    primary = next(c for c in m.claims if c.primary)
    assert primary.estimate.value == 1.0  # the one step is the whole rise
    assert primary.control.estimate.value < 0.2  # a ramp over 19 steps, with noise
    assert primary.verdict == "supported"
    assert [s.tag for s in m.steps] == ["plan_generation"] * 3
    # the strongest rung is the null with the largest mean share, carried by the primary
    nulls = {los.PRIMARY: m.ramp, "jump-vs-smooth": m.smooth, "jump-vs-random-walk": m.walk}
    assert m.strongest_null == max(nulls, key=lambda k: nulls[k].value)
    assert primary.strongest_baseline.estimate == nulls[m.strongest_null]
    assert primary.strongest_baseline.estimate.value >= m.ramp.value
    # from sentence 1: the stronger of the ramp and the random walk on the curve from sentence 1
    from1 = next(c for c in m.claims if c.key == "jump-vs-ramp-from-sentence-1")
    assert from1.strongest_baseline.estimate.value >= from1.control.estimate.value
    assert all(math.isfinite(c.null_walk_from1) for c in m.curves)


def test_walk_null_sd_and_its_zero_case():
    # steps 0.4, -0.4 at m = 100 from 0.5: mean square 0.16, binomial step variance 0.0034
    acc, m = np.array([0.5, 0.9, 0.5]), np.array([100.0, 100.0, 100.0])
    assert los.walk_sd(acc, m) == pytest.approx((0.16 - 0.0034) ** 0.5)
    # steps of 0.02, under the binomial noise of m = 100 (about 0.005 per step): the floor at 0
    assert los.walk_sd(np.linspace(0.4, 0.5, 6), np.full(6, 100.0)) == 0.0
    # sd 0 and no binomial noise (a million resamples): the linear ramp, share 1 / 10
    rng = np.random.default_rng(1)
    share = los.walk_null_share(0.0, 1.0, 0.0, np.full(11, 1e6), rng, n_sim=20)
    assert share == pytest.approx(0.1, abs=0.01)
