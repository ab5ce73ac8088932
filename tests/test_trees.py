"""starter/trees.py: the implied reasoning tree, its statistics, and scoring against ground truth."""

from __future__ import annotations

import pytest

from starter.cot import split_completion, split_steps
from starter.organism.data import make_trace, make_traces, search
from starter.trees import (
    build_tree,
    canonical_operation,
    next_operation,
    score_tree,
    tree_from_nodes,
    tree_stats,
)


def _recovered(trace):
    thinking, _ = split_completion(trace.completion)
    return build_tree(split_steps(thinking))


@pytest.mark.parametrize("hinted", [False, True])
def test_recovers_the_organism_ground_truth_tree_exactly(hinted):
    traces = make_traces(200, seed=1, hinted_fraction=1.0 if hinted else 0.0)
    for trace in traces:
        recovered, truth = _recovered(trace), tree_from_nodes(trace.nodes)
        assert [(n.parent, n.depth, n.label) for n in recovered.nodes] == [
            (n.parent, n.depth, n.label) for n in truth.nodes
        ], f"tree rule disagrees with the organism's search on {trace.text!r}: check the per-tag rules in build_tree"
        assert score_tree(recovered, truth)["exact"] == 1.0
        assert tree_stats(recovered)["n_backtracks"] == trace.backtracks


def test_steps_are_attributed_to_the_ground_truth_nodes():
    trace = make_trace(search((8, 19, 4), 31))
    tree = _recovered(trace)
    owner = {i: n.id for n in tree.nodes for i in n.steps}
    # cot's steps and the organism's steps are the same sentences, minus the final "</think> \boxed{}" one.
    assert [owner[s.index] for s in trace.steps[:-1]] == [s.node for s in trace.steps[:-1]]


def test_stats_of_a_two_backtrack_search():
    trace = next(t for t in make_traces(300, seed=2) if t.backtracks == 2)
    stats = tree_stats(_recovered(trace))
    assert stats["n_backtracks"] == 2 and stats["depth"] == 2
    assert stats["n_nodes"] == len(trace.nodes) - 1
    assert stats["branching_factor"] > 1.0, "three first-level branches under the root must give fan-out > 1"


def test_score_penalises_a_wrong_branch_and_a_missing_backtrack():
    truth = tree_from_nodes(make_trace(search((8, 19, 4), 31)).nodes)
    # The model skipped the abandoned 8*19 branch and went straight to the answer.
    direct = build_tree(split_steps("Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit."))
    score = score_tree(direct, truth)
    assert score["node_precision"] == 1.0 and score["node_recall"] == pytest.approx(2 / 5)
    assert score["backtrack_recall"] == 0.0 and score["exact"] == 0.0
    assert score_tree(truth, truth)["exact"] == 1.0


def test_r1_style_text_builds_siblings_after_a_backtrack():
    text = ("Okay, so I need to make 24 from 3, 8, 4. Let me try 3 × 8 = 24. Then 24 + 4 = 28. "
            "Wait, that's not right. Let me try 8 × 4 = 32. 32 - 3 = 29. Hmm, no. 8 - 4 = 4.")
    tree = build_tree(split_steps(text))
    labels = {n.label: n for n in tree.nodes[1:]}
    assert labels["3*8"].parent == labels["4*8"].parent == 0, "the compute after a backtrack must be a sibling"
    assert tree_stats(tree)["n_backtracks"] == 2


def test_canonical_operation_and_next_operation():
    assert canonical_operation("19 × 8 = 152") == canonical_operation("Try 8*19=152.") == "8*19"
    assert canonical_operation("Try 152/4=38.") == "152/4"
    assert next_operation(split_steps("Miss. Wait, backtrack. Left: 1, 2.")) is None


def test_first_operation_of_an_answer_expression():
    from starter.trees import first_operation

    assert first_operation("(8+19)+4") == first_operation("4+(19+8)") == "8+19"
    assert first_operation("19-(8/4)") == "8/4" and first_operation(None) is None
