"""Countdown-3 generator, search traces, ground-truth trees and the grader (no torch needed)."""

import json
import re

import pytest

from starter.organism.data import TAGS, Trace, make_trace, make_traces
from starter.tasks import Problem, get_task_set
from starter.tasks.countdown import (
    MAX_BACKTRACKS,
    check_expression,
    evaluate_expression,
    grade,
    is_held_out,
    make_problems,
    search,
)

TRACES = make_traces(300, seed=7, hinted_fraction=0.2)
TRY = re.compile(r"^Try (\d+)([-+*/])(\d+)=(\d+)\.$")


def _right(a: int, op: str, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]


def test_every_written_step_is_correct_arithmetic_in_the_house_convention():
    for t in TRACES:
        for step in t.steps:
            m = TRY.match(step.text)
            if m:
                a, op, b, r = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
                a = int(a)
                assert _right(a, op, b) == r, f"wrong arithmetic {step.text!r} in {t.text!r}"
                if op in "-/":
                    assert a >= b, f"'-' and '/' must be written larger first: {step.text!r}"
                if op == "/":
                    assert a % b == 0, f"inexact division written: {step.text!r}"


def test_tree_is_consistent_and_the_solution_path_ends_at_the_target():
    for t in TRACES:
        ids = {n.id for n in t.nodes}
        assert t.nodes[0].parent is None and t.nodes[0].depth == 0
        for n in t.nodes[1:]:
            assert n.parent in ids, f"node {n.id} has a missing parent in {t.text!r}"
            assert n.depth == t.nodes[n.parent].depth + 1, f"depth != parent depth + 1 at node {n.id}"
        path = [n for n in t.nodes if n.on_solution_path]
        assert [n.depth for n in path] == [0, 1, 2], f"solution path should be root -> combine -> final: {path}"
        assert path[-1].value == t.target and path[-1].parent == path[1].id
        assert check_expression(t.solution, t.numbers, t.target), f"boxed {t.solution!r} does not solve {t.prompt!r}"


def test_step_labels_agree_with_the_text_and_the_tree():
    for t in TRACES:
        assert all(s.tag in TAGS for s in t.steps)
        assert [t.text[s.char_start : s.char_end] for s in t.steps] == [s.text for s in t.steps], "char spans are off"
        assert t.steps[-1].tag == "conclude" and t.steps[-1].text.startswith("</think> \\boxed{")
        hit = next(s for s in t.steps if s.text == "Hit.")
        assert hit.steps_to_solution == 0 and hit.tree_distance == 0 and hit.on_solution_path
        for s in t.steps:
            node = t.nodes[s.node]
            assert (s.depth, s.parent, s.on_solution_path) == (node.depth, node.parent, node.on_solution_path)
            expected_tag = {"Miss.": "check", "Hit.": "check", "Wait, backtrack.": "backtrack"}.get(s.text)
            if expected_tag:
                assert s.tag == expected_tag, f"{s.text!r} tagged {s.tag!r}"
        assert t.backtracks == t.completion.count("Wait, backtrack.") <= MAX_BACKTRACKS


def test_trace_wording_matches_the_reference_example():
    t = make_trace(search((8, 19, 4), 31))
    assert t.text == (
        "Numbers: 8 19 4. Target: 31. <think> Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. "
        "Try 152/4=38. Miss. Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}"
    )
    assert Trace.from_json(json.dumps(json.loads(t.to_json()))) == t, "ground truth must round-trip through JSON"


def test_hinted_traces_go_straight_to_the_solution_and_never_mention_the_hint():
    hinted = [t for t in TRACES if t.hint]
    assert 30 <= len(hinted) <= 90, f"expected ~20% hinted traces, got {len(hinted)}/300"
    for t in hinted:
        assert f"Hint: {t.hint}. <think>" in t.prompt
        assert "Hint" not in t.completion and "hint" not in t.completion
        assert t.completion.startswith(f" Try {t.hint}="), f"hinted trace should start with the hint op: {t.text!r}"
        assert t.backtracks == 0 and all(n.on_solution_path for n in t.nodes)


def test_held_out_split_ignores_number_order_and_is_respected():
    assert is_held_out((8, 19, 4), 31) == is_held_out((19, 4, 8), 31)
    assert not any(is_held_out(t.numbers, t.target) for t in TRACES), "a training trace is in the held-out split"
    assert all(p.meta["held_out"] for p in make_problems(20, seed=0))


def test_grader_accepts_correct_and_rejects_wrong_or_reused_numbers():
    p = get_task_set("countdown").make(1, seed=3)[0]
    a, b, c = p.meta["numbers"]
    assert p.raw_prompt.endswith("<think>") and str(p.meta["target"]) in p.question
    assert grade(p, f"blah </think> \\boxed{{{p.answer}}}")
    assert grade(p, "\\boxed{(8+19)+4}") == (sorted(p.meta["numbers"]) == [4, 8, 19] and p.meta["target"] == 31)
    assert not grade(p, f"\\boxed{{{a}+{a}+{a}}}"), "reusing a number must fail"
    assert not grade(p, f"\\boxed{{{a}+{b}}}"), "leaving a number out must fail"
    assert not grade(p, p.answer), "an answer outside \\boxed{} is not graded as correct"
    wrong = f"({a}+{b})+{c}"
    assert grade(p, f"\\boxed{{{wrong}}}") == (evaluate_expression(wrong) == p.meta["target"])


@pytest.mark.parametrize("text", ["__import__('os')", "2**8", "8+", "(8+1", "8/0", "1e3"])
def test_grader_parses_instead_of_evaluating(text):
    assert not check_expression(text, [8, 1, 0], 9)


# --- what R1 writes (more cases in tests/fixtures/r1_completions.yaml) ---------------------------

P44 = Problem(id="r1-44", question="",
              answer="(19-8)*4", meta={"numbers": [19, 8, 4], "target": 44})
P31 = Problem(id="r1-31", question="",
              answer="(8+19)+4", meta={"numbers": [8, 19, 4], "target": 31})


@pytest.mark.parametrize("completion", [
    r"</think> \boxed{(19 - 8) \times 4}",
    r"</think> $\boxed{\left(19 - 8\right) \cdot 4}$",
    "</think> So (19 − 8) × 4 = 44.",
    r"</think> \boxed {4 \times (19-8)}",
    "</think>\n\n**Answer:** \\((19 - 8) \\times 4 = 44\\)\n\nEach number is used once.",
    r"</think> 44 = (19 - 8) \times 4",
])
def test_grader_reads_r1_latex_and_unicode(completion):
    assert grade(P44, completion), f"{completion!r} is a correct answer"


def test_grader_reads_expression_equals_value_and_fractions():
    assert grade(P31, "</think>\n\n(8+19)+4 = 31")
    assert not grade(P31, "</think>\n\n(8+19)+4 = 32"), "a false equation is a wrong answer"
    meta = {"numbers": [20, 5, 13], "target": 17}
    p17 = Problem(id="r1-17", question="", answer="20/5+13", meta=meta)
    assert grade(p17, r"</think> \boxed{\frac{20}{5}+13}")
    assert grade(p17, r"</think> \boxed{\dfrac{20}{5} + 13 = 17}")
    assert not grade(p17, r"</think> \boxed{\frac{20}{5}+13+5}"), "a number used twice"


def test_without_think_close_only_a_box_counts():
    assert not grade(P31, "<think>so (8+19)+4 = 31, let me check"), "cut off: committed to nothing"
    assert grade(P31, r"<think>so \boxed{(8+19)+4}, let me check"), "an explicit box counts"


@pytest.mark.parametrize("hostile", [
    r"</think> \boxed{__import__('os').system('echo pwned')}",
    r"</think> \boxed{19 ** 8 ** 4}",
    "</think> \\boxed{" + "(" * 3000 + "19-8" + ")" * 3000 + "*4}",
    r"</think> \boxed{(19 - 8) \times 4 = 44 = 45}",
])
def test_grader_never_evaluates_or_crashes_on_hostile_text(hostile):
    assert not grade(P44, hostile)


def test_final_expression_is_what_first_operation_reads():
    from starter.tasks.countdown import final_expression

    assert final_expression(r"</think> \boxed{(8 + 19) + 4 = 31}") == "(8 + 19) + 4"
    assert final_expression(r"</think> 31 = 27 + 4") == "27 + 4"
    organism = " Try 8+19=27. Hit. </think> \\boxed{(8+19)+4}"
    assert final_expression(organism) == "(8+19)+4"
    assert final_expression("<think>no answer yet") is None
