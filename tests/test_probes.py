"""starter.probes: folds keep problems whole, probes are seeded, linear and MLP probes behave."""

from __future__ import annotations

import numpy as np
import pytest

from starter.errors import UsageError
from starter.probes import ProbeSpec, fold_of, hits, predict_held_out, token_window


def test_folds_keep_each_problem_on_one_side():
    groups = np.repeat(np.arange(10), 3)
    fold = fold_of(groups, folds=4, seed=3)
    for g in range(10):
        assert len(set(fold[groups == g].tolist())) == 1, f"problem {g} split across folds"
    assert set(fold.tolist()) == {0, 1, 2, 3}


def test_too_few_problems_is_a_usage_error():
    with pytest.raises(UsageError, match="cannot be split"):
        fold_of(["a", "b"], folds=3)
    with pytest.raises(UsageError, match="class indices"):
        predict_held_out(np.zeros((4, 2)), [-1, 0, 1, 0], [0, 1, 2, 3], ProbeSpec(), folds=2)


def test_a_probe_never_sees_its_test_problem():
    # The label is a per-problem code no feature carries: a probe that saw the test problem's items
    # could memorise it through the problem's constant feature; held out, it can only guess.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 5)
    x = np.eye(40)[groups]  # one-hot of the problem: memorisable, not generalisable
    y = rng.integers(0, 2, size=40)[groups]
    acc = hits(y, predict_held_out(x, y, groups, ProbeSpec(hidden=16), folds=4)).mean()
    assert acc < 0.75, f"held-out accuracy {acc:.2f} on per-problem random labels: leakage?"


def test_same_inputs_same_predictions():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    groups = np.arange(120) // 3
    a = predict_held_out(x, y, groups, ProbeSpec(hidden=8), folds=3, seed=5)
    b = predict_held_out(x, y, groups, ProbeSpec(hidden=8), folds=3, seed=5)
    assert a.tolist() == b.tolist()


def test_mlp_matches_linear_on_a_linear_label_and_beats_it_on_xor():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 2))
    groups = np.arange(600) // 3
    linear_label = (x[:, 0] > 0).astype(int)
    xor = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(int)
    lin = {name: hits(y, predict_held_out(x, y, groups, ProbeSpec(), folds=3)).mean()
           for name, y in (("linear", linear_label), ("xor", xor))}
    mlp = {name: hits(y, predict_held_out(x, y, groups, ProbeSpec(hidden=32), folds=3)).mean()
           for name, y in (("linear", linear_label), ("xor", xor))}
    assert lin["linear"] > 0.95 and mlp["linear"] > 0.95, (lin, mlp)
    assert lin["xor"] < 0.65 and mlp["xor"] > 0.9, (lin, mlp)


def test_three_classes():
    x = np.linspace(-3, 3, 90)[:, None]
    y = np.digitize(x[:, 0], [-1, 1])  # 0, 1, 2 along one direction
    acc = hits(y, predict_held_out(x, y, np.arange(90) // 3, ProbeSpec(), folds=3)).mean()
    assert acc > 0.85, f"softmax regression reads an interval along one direction; got {acc:.2f}"


def test_token_window_pads_before_the_start_and_pools_rare_ids():
    out = token_window([[1, 1, 1, 9]], [[0, 3]], window=2, max_vocab=2)  # columns: 1, other
    assert out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 1]]
