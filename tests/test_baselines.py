"""starter.baselines: the ladder's rungs against hand-computed values."""

from __future__ import annotations

import pytest

from starter import baselines
from starter.baselines import Features
from starter.errors import UsageError


def test_folds_never_split_a_problem():
    groups = [i // 3 for i in range(30)]
    for train, test in baselines.group_folds(groups, folds=5):
        assert not {groups[i] for i in train} & {groups[i] for i in test}


def test_too_few_problems_for_the_folds_is_one_clear_error():
    with pytest.raises(UsageError, match="3 problems cannot be split into 5 folds"):
        baselines.group_folds(["a", "b", "c"], folds=5)


def test_trivial_rung_predicts_the_training_mean_in_regression():
    # folds of GroupKFold over 4 one-item problems with y = 1, 2, 3, 6 (sizes equal: each fold one
    # problem); each held-out item gets the mean of the other three: (11, 10, 9, 6) / 3
    p = baselines.trivial_predictions([1.0, 2.0, 3.0, 6.0], ["a", "b", "c", "d"], "regress", 4)
    assert p.tolist() == pytest.approx([11 / 3, 10 / 3, 3.0, 2.0])


def test_regression_rule_is_the_training_mean_by_depth():
    # depth 0 -> y 1, depth 1 -> y 3, in every problem; the rule learns the table exactly
    feats = [Features(depth=i % 2, tag="x") for i in range(20)]
    y = [1.0 + 2.0 * (i % 2) for i in range(20)]
    name, p = baselines.rule_predictions(feats, y, [i // 2 for i in range(20)], "regress", 5)
    assert name == "rule: mean label by depth"
    assert p.tolist() == pytest.approx(y)


def test_the_rule_is_chosen_on_training_folds_only():
    # the label is 1 exactly at the one token "Hit"; a rule fitted on the training folds finds
    # token == 'Hit' and applies it unchanged to the held-out problem
    feats = [Features(token="Hit" if i % 4 == 3 else "Try") for i in range(40)]
    y = [float(f.token == "Hit") for f in feats]
    name, p = baselines.rule_predictions(feats, y, [i // 4 for i in range(40)], folds=5)
    assert name == "rule: token == 'Hit'"
    assert p.tolist() == y


def test_ladder_names_the_strongest_rung_and_the_paired_difference():
    # 10 problems of 4 steps; the label is the tag. The method is right on 36 of 40 steps (wrong on
    # the first step of problems 0-3); the tag rule is right on all 40: method - rule = -4/40 = -0.1
    feats = [Features(step_index=i % 4, tag="check" if i % 4 in (1, 3) else "op")
             for i in range(40)]
    y = [float(f.tag == "check") for f in feats]
    method = [1 - v if i in (0, 4, 8, 12) else v for i, v in enumerate(y)]
    groups = [i // 4 for i in range(40)]
    lad = baselines.ladder("probe", method, y, feats, groups, folds=5)
    assert lad.method.estimate.value == pytest.approx(0.9)
    assert lad.strongest.kind == "rule"
    assert lad.strongest.estimate.value == 1.0
    assert lad.method_minus_strongest.value == pytest.approx(-0.1)
    assert [r.kind for r in lad.baselines] == ["trivial", "rule", "fitted"]
    # the trivial rung: half the steps are 'check', so the commoner class flips with the fold;
    # every rung is scored on the same 40 steps
    assert all(len(r.scores) == 40 for r in lad.baselines)


def test_a_named_rule_joins_the_ladder_and_can_be_strongest():
    feats = [Features(step_index=i % 5) for i in range(50)]
    y = [float(i % 5 == 2) for i in range(50)]  # no threshold says 'exactly step 2'
    lad = baselines.ladder("probe", [0.0] * 50, y, feats, [i // 5 for i in range(50)], folds=5,
                           rules={"the search rule": y})
    assert lad.strongest.name in ("rule: the search rule", lad.baselines[-1].name)
    assert lad.strongest.estimate.value == 1.0
    assert lad.method.estimate.value == pytest.approx(0.8)
    assert lad.method_minus_strongest.value == pytest.approx(-0.2)


def test_mismatched_lengths_are_refused():
    with pytest.raises(UsageError, match="one label, prediction"):
        baselines.ladder("m", [1.0], [1.0, 0.0], [Features()] * 2, ["a", "b"])
