"""Importance by tag on public data: the rules and the position-matched check, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from starter.public import reasoning_tree as rt


def _row(problem, index, n, tag, value, n_words=5):
    return rt.SentenceImportance(
        kind="sentence", model="m", problem=problem, outcome="correct", index=index,
        position=index / n, n_words=n_words, tag=tag, counterfactual_kl=value,
        counterfactual_accuracy=0.0, resampling_kl=0.0, resampling_accuracy=0.0, forced_kl=0.0,
        forced_accuracy=0.0, authors_kept=tag not in rt.AUTHORS_EXCLUDED)


def test_chain_rules_by_hand():
    # one chain: values 4, 1, 2, 3; sentence 2 is a plan (anchor), sentence 1 the longest
    rows = [_row("p", 0, 4, "problem_setup", 4.0, 3), _row("p", 1, 4, "active_computation", 1.0, 9),
            _row("p", 2, 4, "plan_generation", 2.0, 4), _row("p", 3, 4, "self_checking", 3.0, 2)]
    (rule,) = rt.chain_rules(rows)
    assert rule.n_anchor == 1
    assert rule.tags == 2.0  # the plan sentence
    assert rule.earliest == 4.0  # the first sentence
    assert rule.longest == 1.0  # the 9-word sentence
    assert rule.everything == pytest.approx(2.5)


def test_binned_residual_removes_position():
    # two sentences per fifth with values 1 and 3: residuals -1 and +1 whatever the fifth's level
    rows = []
    for b in range(5):
        rows += [_row("p", 2 * b, 10, "active_computation", 10.0 * b + 1),
                 _row("p", 2 * b + 1, 10, "plan_generation", 10.0 * b + 3)]
    residual = rt._binned_residual(rows, "counterfactual_kl")
    assert residual == [-1.0, 1.0] * 5


def test_primary_by_hand_on_three_problems():
    # per problem: a plan sentence worth 2 and two others worth 1 -> anchor 2 vs others 1
    from types import SimpleNamespace

    def chain(problem):
        sentences = tuple(SimpleNamespace(
            index=i, text="w " * 3, tag=tag, accuracy=0.5,
            importance=SimpleNamespace(**{name: v for name in rt.MEASURES}))
            for i, (tag, v) in enumerate([("problem_setup", 1.0), ("plan_generation", 2.0),
                                          ("active_computation", 1.0)]))
        return SimpleNamespace(model="m", problem_id=problem, base_correct=True,
                               sentences=sentences)

    m = rt.analyse([chain("a"), chain("b"), chain("c")])
    primary = next(c for c in m.claims if c.primary)
    assert (primary.estimate.value, primary.control.estimate.value) == (2.0, 1.0)
    assert primary.difference.value == 1.0
    assert primary.verdict == "supported"  # every problem's pair differs by exactly 1
    assert m.ranking[0] == "plan_generation"
    assert not math.isnan(m.rules["earliest"].value)


def test_convergence_rule_as_in_plots_py():
    # four chunks in a row above 0.99 from index 2 on; the loop stops run + 1 before the end
    assert rt.converged_from([0.5, 0.6, 1.0, 1.0, 1.0, 1.0, 0.7, 0.8]) == 2
    assert rt.converged_from([0.5, 0.005, 0.0, 0.0, 0.0, 0.3, 0.2]) == 1
    assert rt.converged_from([0.5, 0.6, 1.0, 1.0, 1.0, 1.0]) is None  # too close to the end
    assert rt.converged_from([0.5, float("nan"), 1.0, 1.0, 1.0, 0.5, 0.5]) is None
    assert (rt.clipped(-0.4), rt.clipped(0.0), rt.clipped(0.4)) == (0.0, 0.0, 0.4)
    assert math.isnan(rt.clipped(float("nan")))


def test_paired_check_by_hand():
    # problem a: anchor mean 3, other 1 (+2); b: anchor 1, other 2 (-1); c: anchor 4, other 1 (+3)
    anchor = [("a", 3.0), ("b", 1.0), ("c", 4.0)]
    other = [("a", 1.0), ("b", 2.0), ("c", 1.0)]
    c = rt.paired_check(anchor, other)
    diffs = [2.0, -1.0, 3.0]
    mean, sd = sum(diffs) / 3, float(np.std(diffs, ddof=1))
    assert c.mean == pytest.approx(mean) and c.n_positive == 2 and c.n_problems == 3
    assert c.t_ci == pytest.approx((mean - 4.303 * sd / 3 ** 0.5, mean + 4.303 * sd / 3 ** 0.5))
    # leave a out: (1+4)/2 - (2+1)/2 = 1; leave b out: 3.5 - 1 = 2.5; leave c out: 2 - 1.5 = 0.5
    assert c.loo == pytest.approx((0.5, 2.5))
