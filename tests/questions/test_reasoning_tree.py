"""reasoning-tree: analyse and claims on hand-built rows, against numbers computed by hand."""

from __future__ import annotations

import random

import pytest

from starter.cot import split_steps
from starter.errors import UsageError
from starter.findings import check
from starter.questions import reasoning_tree as rt

SCORES = ("node_recall", "node_precision", "edge_recall", "backtrack_recall", "backtrack_precision")


def chain(problem: str, difficulty: int, correct: bool, backtracks: int, finished: bool = True,
          recall: float = 1.0) -> dict:
    return {"unit": f"chain:{problem}", "kind": "chain", "problem": problem, "prompt": "P",
            "completion": "", "difficulty": difficulty, "finished": finished, "correct": correct,
            "n_steps": 6, "n_nodes": 4, "depth": 2, "branching_factor": 1.5, "n_leaves": 2,
            "n_backtracks": backtracks, **{key: recall for key in SCORES},
            "exact": float(recall == 1.0)}


def cut(problem: str, kind: str, after: str, different: list[bool], tags: list[str]) -> dict:
    return {"unit": f"cut:{problem}:{kind}:{after}", "kind": "cut", "problem": problem, "cut": kind,
            "step": 3, "after_tag": after,
            "next_tag": "backtrack" if kind == "pre_backtrack" else "compute",
            "original_op": "8+19", "continuation_ops": [], "continuation_tags": tags,
            "finished": [True] * len(different), "different_branch": different}


C = "compute"
ROWS = [
    chain("p1", difficulty=1, correct=True, backtracks=1),
    chain("p2", difficulty=0, correct=True, backtracks=0),
    chain("p3", difficulty=2, correct=False, backtracks=1, recall=0.5),
    chain("p4", difficulty=0, correct=False, backtracks=3, finished=False),  # left out, counted
    chain("p5", difficulty=0, correct=True, backtracks=0),
    cut("p1", "pre_backtrack", "verify", [True, True, False, True], [C, C, "backtrack", C]),
    cut("p1", "control", "verify", [False, False, False, True], [C] * 4),  # the matched control
    cut("p1", "control", "compute", [False] * 4, ["plan"] * 4),
    cut("p3", "pre_backtrack", "verify", [True] * 4, ["backtrack", "backtrack", C, C]),
    cut("p3", "control", "plan", [False, True, False, False], [C] * 4),  # p3 has no verify control
]


def test_chains_by_hand():
    m = rt.analyse(ROWS)
    assert (m.n_chains, m.n_unfinished) == (5, 1)
    accuracy = m.accuracy
    assert (accuracy.successes, accuracy.n) == (3, 4), "accuracy over finished chains only"
    assert m.mean_n_backtracks.value == pytest.approx(0.5), "(1 + 0 + 1 + 0) / 4, p4 left out"
    assert m.backtracks_when_correct.value == pytest.approx(1 / 3)
    assert m.backtracks_when_wrong.value == pytest.approx(1.0)
    assert m.tree_node_recall.value == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert sorted(m.backtracks_by_difficulty) == [0, 1, 2]
    assert m.backtracks_hard_minus_easy.value == pytest.approx(1.0)
    # against the search: (1 - 1, 1 - 2) on the hard chains, (0, 0) on the easy: -0.5 - 0
    assert m.hard_easy_minus_search.value == pytest.approx(-0.5)


def test_matched_control_is_the_same_tag_in_the_same_chain():
    m = rt.analyse(ROWS)
    # p3 has no control after "verify", so only p1's pair is compared: 3/4 vs 1/4.
    assert m.pre_backtrack.n_cuts == 1 and m.n_unmatched_tests == 1
    assert m.pre_backtrack.different.value == pytest.approx(0.75)
    assert m.matched_control.different.value == pytest.approx(0.25)
    assert m.different_minus_matched.value == pytest.approx(0.5)
    assert m.different_minus_matched.ci is None, "one problem: no interval"


def test_per_tag_table_by_hand():
    table = {row.label: row for row in rt.analyse(ROWS).per_tag}
    assert list(table) == ["before a backtrack", "before a backtrack, after verify",
                           "after compute", "after plan", "after verify"]
    assert table["before a backtrack, after verify"].n_cuts == 2, "both backtracks follow Miss."
    before = table["before a backtrack"]
    assert before.n_cuts == 2 and before.different.value == pytest.approx(7 / 8)
    assert before.backtrack_first.value == pytest.approx(3 / 8)
    assert table["after compute"].different.value == 0.0
    assert table["after plan"].different.value == pytest.approx(1 / 4)


def test_pick_cuts_matches_the_tag_before_the_backtrack():
    steps = split_steps("Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. "
                        "Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
    test, matched, *others = rt.pick_cuts(steps, random.Random(1))
    assert (test.kind, test.step, test.after_tag) == ("pre_backtrack", 6, "verify")
    assert matched.after_tag == "verify" and steps[matched.step].tag != "backtrack", (
        "the matched control follows a 'Miss.' too, but the chain did not backtrack there")
    assert all(c.kind == "control" and steps[c.step].tag != "backtrack" for c in others)


def test_claims_verdicts_follow_their_intervals():
    claims = rt.claims(rt.analyse(ROWS))
    assert len(claims) == 3
    for claim in claims:
        check(claim.to_dict())  # raises when a verdict disagrees with difference_ci
    branch, difficulty, again = claims
    assert branch.verdict == "not distinguishable", "one matched pair: no interval"
    # the raw gap (every hard chain 1 backtrack, every easy one 0) is the claim's estimate
    assert difficulty.estimate.value == 1.0
    # p1's pair: 1/4 continuations backtrack first before the backtrack, 0/4 at the matched cut
    # (no search rule on these chains: the check keeps its matched control)
    assert again.difference.value == pytest.approx(0.25)
    # the pipeline check is judged against the search's own backtracks: hard minus easy 1.0,
    # the search's 1.5 (difficulties 1 and 2; 0 on easy problems by definition)
    assert difficulty.control.estimate.value == pytest.approx(1.5)
    assert difficulty.difference.value == pytest.approx(-0.5)


def test_findings_show_the_per_tag_table_and_counts():
    text = rt.findings(rt.analyse(ROWS))
    assert "| after verify | 1 |" in text
    assert "3/4" in text, "accuracy over 4 finished chains is shown as counts"


# ---------------------------------------------------------------- where backtracks sit (#14)

PROMPT = "Numbers: 8 19 4. Target: 31. <think>"
REACTIVE = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Wait, backtrack."
            " Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}")
PLANNED = (" Try 8*19=152. Left: 152, 4. Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31."
           " Hit. </think> \\boxed{(8+19)+4}")
PREMATURE = (" Try 8+19=27. Left: 27, 4. Wait, backtrack. Try 8*19=152. Left: 152, 4. Wait,"
             " backtrack. Try 19-8=11. Left: 11, 4. Try 11+4=15. Miss. Try 11*4=44. Miss. </think>"
             " \\boxed{(19-8)*4}")


def test_placement_reactive_vs_planned():
    reactive = rt.placement(PROMPT, REACTIVE)
    assert reactive.after == ("verify",) and reactive.final_tries == (2,)
    assert reactive.left_dead == (True, False) and reactive.left_at_once == (False, False)
    planned = rt.placement(PROMPT, PLANNED)
    assert planned.after == ("plan",) and planned.final_tries == (0,)
    assert planned.left_at_once == (True, False)
    early = rt.placement(PROMPT, PREMATURE)
    assert early.left_dead == (False, True, True), "27+4 reaches 31; 152 and 11 cannot"
    assert early.left_at_once == (True, True, False)
    assert rt.placement("P", PLANNED).left_dead == (), "no target: no ground truth"


def placed(problem: str, completion: str) -> dict:
    return {**chain(problem, difficulty=1, correct=True, backtracks=1), "prompt": PROMPT,
            "completion": completion}


def test_placement_metrics_by_hand():
    m = rt.analyse([placed("a", REACTIVE), placed("b", PLANNED), placed("c", PREMATURE)])
    # backtracks: a after Miss; b after Left; c after Left twice -> 3 of 4 after a plan step
    assert m.backtrack_after_plan.value == pytest.approx(3 / 4)
    assert m.backtrack_after_verify.value == pytest.approx(1 / 4)
    assert m.final_tries_per_abandoned.value == pytest.approx(2 / 4), "(2 + 0 + 0 + 0) / 4"
    # dead "Left:" states: a 152 (kept), b 152 (at once), c 152 (at once), c 11 (kept)
    assert m.backtrack_at_dead_left.value == pytest.approx(2 / 4)
    # live: a 27, b 27 (kept), c 27 (at once: premature)
    assert m.backtrack_at_live_left.value == pytest.approx(1 / 3)
    text = rt.findings(m)
    assert "follow a plan step" in text and "At dead-end" in text


def test_validation_measures_read_the_placement():
    m = rt.analyse([placed(f"p{i}", PLANNED if i % 2 else REACTIVE) for i in range(10)])
    after, dead = rt.measure_after_plan(m), rt.measure_dead_at_once(m)
    assert after.value == pytest.approx(0.5) and after.n == 10 and after.ci is not None
    assert dead.value == pytest.approx(0.5)
    assert [a.model for a in rt.VALIDATION[0].arms] == ["tinythinker", "tinythinker-planned"]
    assert [a.planted for v in rt.VALIDATION for a in v.arms] == [0.0, 1.0, 0.0, 1.0]


def test_greedy_only_without_cuts():
    assert rt.Config(temperature=0.0, n_cuts=0).temperature == 0.0
    with pytest.raises(UsageError, match="n_cuts=0"):
        rt.Config(temperature=0.0, n_cuts=3)


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    done = smoke_validation("reasoning-tree")
    blocks = done.record["validations"]
    assert [b["quantity"] for b in blocks] == [v.quantity for v in rt.VALIDATION]
    for block in blocks:
        assert [a["variant"] for a in block["arms"]] == ["tinythinker", "tinythinker-planned"]
        base, planned = block["arms"]
        assert base["measured"] < planned["measured"], "planned backtracks at 'Left:' more"
    assert sorted(p.name for p in (done.out / "runs").iterdir()) == ["base", "planned", "retrained"]


# ---------------------------------------------------------------- the search rule baseline (#25)


def test_search_order_is_the_search_written_out_in_full():
    from starter.tasks.countdown import make_problems, search
    from starter.trees import canonical_operation

    for p in make_problems(30, seed=3):
        result = search(tuple(p.meta["numbers"]), p.meta["target"])
        tried = [canonical_operation(e.text) for e in result.events if e.kind != "backtrack"]
        order = [op for first, finals in rt.search_order(tuple(p.meta["numbers"]),
                                                         p.meta["target"])
                 for op in [first, *finals]]
        assert order[:len(tried)] == tried, p.id


def test_search_rule_reads_the_next_operation_from_the_text():
    # REACTIVE: 0 Try 8*19, 1 Left, 2 Try 152-4, 3 Miss, 4 Try 152/4, 5 Miss, 6 Wait, 7 Try 8+19
    rule = [rt.search_rule(PROMPT, REACTIVE, c) for c in (0, 1, 3, 4, 6, 7, 9)]
    assert [r.operation for r in rule] == ["8*19", "152-4", "152/4", "152/4", "8+19", "8+19",
                                           "4+27"]
    assert [r.backtrack for r in rule] == [False, False, False, False, True, False, False]
    # a chain that left the rule (backtracked after one of two final tries): the rule still
    # names the branch's untried operation, and after the backtrack the search's next branch
    early = " Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Wait, backtrack. Try 8+19=27."
    assert rt.search_rule(PROMPT, early, 4) == rt.RuleStep(False, "152/4")
    assert rt.search_rule(PROMPT, early, 5) == rt.RuleStep(False, "8+19")
    assert rt.search_rule("P", REACTIVE, 4) is None, "not the organism's prompt"


def rule_cut(kind: str, step: int, original: str, ops: list[str], tags: list[str]) -> dict:
    return {"unit": f"cut:a:{kind}:verify", "kind": "cut", "problem": "a", "cut": kind,
            "step": step, "after_tag": "verify",
            "next_tag": "backtrack" if kind == "pre_backtrack" else "compute",
            "original_op": original, "continuation_ops": ops, "continuation_tags": tags,
            "finished": [True] * len(ops), "different_branch": [op != original for op in ops]}


RULE_ROWS = [
    placed("a", REACTIVE),
    # before the backtrack (step 6): the rule says backtrack to 8+19, as the chain did
    rule_cut("pre_backtrack", 6, "8+19", ["8+19", "152/4"], ["backtrack", C]),
    # the matched control after the first Miss (step 4): the rule says 152/4; this original
    # had gone to 8+19 instead, so the rule predicts a change at both continuations
    rule_cut("control", 4, "8+19", ["152/4", "152/4"], [C, C]),
]


def test_search_rule_stats_by_hand():
    m = rt.analyse(RULE_ROWS)
    r = m.search_rule
    assert r is not None and r.n_silent == 0
    assert r.follows.value == pytest.approx(3 / 4), "8+19 | 152/4 at step 6; 152/4 twice at 4"
    assert r.original_follows.value == pytest.approx(1 / 4)
    assert (r.different_test.value, r.different_control.value) == (0.0, 1.0)
    assert r.different_minus_matched.value == pytest.approx(-1.0)
    assert m.different_minus_matched.value == pytest.approx(0.5 - 1.0), "observed, same cuts"
    assert r.different_all_tests.value == pytest.approx(0.5)
    assert r.rule_different_all_tests.value == 0.0
    assert r.different_minus_rule.value == pytest.approx(0.5)
    assert (r.backtrack_first_test.value, r.backtrack_first_control.value) == (1.0, 0.0)
    assert r.backtrack_first_minus_matched.value == pytest.approx(1.0)
    assert m.search_backtracks_hard.value == pytest.approx(1.0), "difficulty 1 on the one chain"
    assert r.n_slip_controls == 0, "the matched control's branch still has 152/4 to try"


# a chain that skips the backtrack the rule mandates after its second Miss (step 6), then
# backtracks after one try in the next branch (step 10)
SLIP = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Try 8+19=27."
        " Left: 27, 4. Try 27*4=108. Miss. Wait, backtrack. Try 19-8=11. Left: 11, 4.")


def slip_cut(kind: str, step: int, original: str, ops: list[str], tags: list[str]) -> dict:
    return {**rule_cut(kind, step, original, ops, tags), "problem": "s",
            "unit": f"cut:s:{kind}:verify"}


SLIP_ROWS = RULE_ROWS + [
    placed("s", SLIP),
    slip_cut("pre_backtrack", 10, "19-8", ["19-8", "19-8"], ["backtrack", "backtrack"]),
    # the slip: the rule backtracks here; one resample changes the next operation
    slip_cut("control", 6, "8+19", ["8+19", "19-8"], ["backtrack", "backtrack"]),
]


def test_slip_controls_by_hand():
    assert rt.search_rule(PROMPT, SLIP, 6) == rt.RuleStep(True, "8+19")
    m = rt.analyse(SLIP_ROWS)
    r = m.search_rule
    assert (r.n_slip_controls, r.slip_continuations, r.slip_changed) == (1, 2, 1)
    assert r.slip_changed_backtracking == 1, "the changed one (19-8) backtracked first"
    # without problem s: a's control changes 2/2 (152/4 vs 8+19), a's test 1/2
    assert r.control_without_slips.value == pytest.approx(1.0)
    assert r.different_minus_matched_without_slips.value == pytest.approx(0.5 - 1.0)
    assert m.matched_control.different.value == pytest.approx(3 / 4), "with s: 2/2 + 1/2"
    # backtrack-again beyond the rule. The rule reads s's "Try 8+19" (no backtrack before it)
    # as one more try of the open 8*19 branch, so it backtracks at step 10 too. Tests a
    # [1-1, 0-1], s [1-1, 1-1]; controls a [0-0, 0-0], s [1-1, 1-1]: -1/4 - 0
    assert rt.search_rule(PROMPT, SLIP, 10).backtrack
    assert r.backtrack_again_minus_rule.value == pytest.approx(-0.25)
    text = rt.findings(m)
    assert text.startswith("Beside the primary claim: the matched control's")
    assert "1 of them at the 1 control cuts (2 continuations)" in text


def test_rule_difference_does_not_widen_a_constant_side():
    # the rule's side is 0 at every test: the difference is <= 0 in every resample
    tests, controls = [0.0] * 6, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    at = ["a", "b", "c", "d", "e", "f"]
    d = rt.rule_difference(tests, at, controls, at)
    assert d.value == pytest.approx(-1 / 3) and d.ci[1] <= 0.0
    widened = rt.stats.difference_ci(tests, at, controls, at)
    assert widened.ci[1] > 0.0, "difference_ci widens the constant side as a Wilson sample"
    # and an all-1 side: 1 minus the other side's own interval, at every level (Holm)
    up = rt.rule_difference([1.0] * 6, at, controls, at)
    assert up.value == pytest.approx(2 / 3) and up.ci[1] <= 1.0
    lo, hi = rt.stats.interval_at(up, 0.99)
    assert lo <= up.ci[0] and hi >= up.ci[1] - 1e-12
    mixed = rt.rule_difference(controls, at, controls[::-1], at)
    assert mixed == rt.stats.difference_ci(controls, at, controls[::-1], at), "no constant side"


def test_every_claim_names_its_strongest_baseline():
    m = rt.analyse(RULE_ROWS)
    claims = rt.claims(m)
    assert [c.key for c in claims] == [rt.PRIMARY, "pipeline-hard-easy", "backtrack-again",
                                       "pre-backtrack-vs-search-rule"]
    for claim in claims:
        check(claim.to_dict())
        assert claim.to_dict()["strongest_baseline"]["name"]
    primary, pipeline, again, beyond = claims
    assert primary.strongest_baseline.estimate is m.search_rule.different_test
    # the two checks the rule explains take their verdict against it (review s16_b)
    assert again.control.estimate is m.search_rule.backtrack_first_minus_matched
    assert again.difference is not m.search_rule.backtrack_again_minus_rule  # Holm-adjusted copy
    assert again.difference.value == m.search_rule.backtrack_again_minus_rule.value
    assert again.strongest_baseline.estimate.value == 1.0, "1 - 0: the rule's difference"
    assert pipeline.control.estimate is m.search_backtracks_hard
    assert pipeline.difference.n == m.hard_easy_minus_search.n == 0, "no easy problem here"
    assert beyond.control.estimate is m.search_rule.rule_different_all_tests
    assert rt.findings(m).startswith("Strongest simple baseline: one line, the organism's")
    # chains that are not the organism's: no rule, so no rule baseline and no fourth claim
    plain = rt.analyse(ROWS)
    assert plain.search_rule is None and len(rt.claims(plain)) == 3
    assert "no rule prediction is made" in rt.findings(plain)
