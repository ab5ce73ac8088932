"""starter.importance: Thought Anchors' three importance measures on hand-built rollouts."""

from __future__ import annotations

import math

import pytest

from starter import importance as imp


def out(correct: bool, first_step: str | None = None, finished: bool = True,
        answer: str | None = None) -> imp.Outcome:
    return imp.Outcome(correct=correct, finished=finished, answer=answer, first_step=first_step)


# One chain of 3 steps, S1 S2 S3; prefix k keeps the first k steps and resamples step k+1.
CHAIN = [
    imp.PrefixRollouts(0, "S1", (out(False, "S1"), out(False, "X"), out(True, "S1"),
                                 out(True, "Y", finished=False)),  # unfinished: not counted
                       forced=(out(False), out(False))),
    imp.PrefixRollouts(1, "S2", (out(True, "S2"), out(False, "S2"), out(True, "s2 ")),
                       forced=(out(False), out(True))),
    imp.PrefixRollouts(2, "S3", (out(True, "S3"), out(True, "Z")), forced=(out(True), out(True))),
    imp.PrefixRollouts(3, None, (out(True), out(True)), forced=(out(True), out(True))),
]


def test_accuracy_counts_finished_rollouts_only():
    assert imp.accuracy(CHAIN[0].outcomes) == pytest.approx(1 / 3), "1 of 3 finished is right"
    assert math.isnan(imp.accuracy([out(True, finished=False)])), "nothing finished: nan, not 0"


def test_resampling_importance_is_next_prefix_minus_this_one():
    found = imp.resampling_importance(CHAIN)
    assert [s.step for s in found] == [1, 2, 3]
    assert [s.value for s in found] == pytest.approx([2 / 3 - 1 / 3, 1 - 2 / 3, 0.0])
    assert [(s.n_with, s.n_without) for s in found] == [(3, 3), (2, 3), (2, 2)]


def test_a_gap_between_prefixes_credits_no_step():
    spaced = [CHAIN[0], CHAIN[3]]  # k = 0 and 3: three steps share the change
    assert imp.resampling_importance(spaced) == [], "a spaced bucket must not be credited to a step"
    assert [s.step for s in imp.resampling_importance([CHAIN[0], CHAIN[2], CHAIN[3]])] == [3]


def test_counterfactual_keeps_only_rewrites_that_differ():
    found = imp.counterfactual_importance(CHAIN)
    # step 1: rewrites at k=0 that differ from S1: only "X" (wrong; "Y" never finished) -> 2/3 - 0
    assert found[0].value == pytest.approx(2 / 3) and found[0].n_without == 1
    # step 2: every rewrite is S2 (up to case and spaces): nothing to compare, nan
    assert math.isnan(found[1].value) and found[1].n_without == 0
    # step 3: the rewrite "Z" was right -> 1 - 1
    assert found[2].value == pytest.approx(0.0)


def test_counterfactual_with_jaccard_similarity():
    recs = [imp.PrefixRollouts(0, "So x = 4 here.", (out(False, "so x = 4 here"),
                                                     out(False, "Let me try y."))),
            imp.PrefixRollouts(1, None, (out(True),))]
    strict = imp.counterfactual_importance(recs, same=imp.exact_same)[0]
    loose = imp.counterfactual_importance(recs, same=imp.jaccard_same(0.5))[0]
    assert (strict.n_without, loose.n_without) == (2, 1), "Jaccard 0.8 >= 0.5 counts as the same"
    assert imp.jaccard("a b c", "a b d") == pytest.approx(2 / 4)
    with pytest.raises(ValueError):
        imp.jaccard_same(0.0)


def test_forced_importance_uses_forced_answers():
    found = imp.forced_importance(CHAIN)
    assert [s.value for s in found] == pytest.approx([0.5, 0.5, 0.0])


def test_kl_measure_and_answer_kl_by_hand():
    p = [out(True, answer="31")] * 2
    q = [out(True, answer="31"), out(False, answer="27")]
    # alpha = 1: P = (3/4, 1/4), Q = (1/2, 1/2) over answers (31, 27)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert imp.answer_kl(p, q, alpha=1.0) == pytest.approx(expected)
    assert math.isnan(imp.answer_kl([], q))
    recs = [imp.PrefixRollouts(0, "A", tuple(q)), imp.PrefixRollouts(1, None, tuple(p))]
    kl = imp.resampling_importance(recs, measure="kl")[0].value
    assert kl == pytest.approx(imp.answer_kl(q, p)), "KL(without || with), as the paper"
    with pytest.raises(ValueError):
        imp.resampling_importance(recs, measure="l2")


def test_duplicate_prefix_sizes_are_refused():
    with pytest.raises(ValueError, match="share a prefix size"):
        imp.resampling_importance([CHAIN[0], CHAIN[0]])
