"""Every task set's grader on realistic R1-style completions (tests/fixtures/r1_completions.yaml).

Each case carries its known grade and whether the chain finished; a failure names the case and the
reason it is in the fixture, so the fix is to the grader, not to the expected grade.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from starter.tasks import Problem, get_task_set

FIXTURE = Path(__file__).parent / "fixtures" / "r1_completions.yaml"
CASES = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))


def _problem(case: dict) -> Problem:
    """The problem a case is graded against: from its numbers or gold, or the named word problem."""
    if case["task"] == "countdown":
        meta = {"numbers": case["numbers"], "target": case["target"]}
        return Problem(id=case["id"], question="", answer="", meta=meta)
    if "gold" in case:
        return Problem(id=case["id"], question="", answer=str(case["gold"]))
    problems = get_task_set(case["task"]).make(20, seed=0)
    return next(p for p in problems if p.id == case["problem"])


def test_the_fixture_covers_what_r1_writes():
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES), "case ids must be unique"
    assert {c["task"] for c in CASES} == {"countdown", "arithmetic", "word-problems"}
    texts = [c["completion"] for c in CASES]
    assert sum("</think>" not in t for t in texts) >= 3, "truncated chains"
    assert sum(t.count("\\boxed") >= 2 for t in texts) >= 4, "several boxes"
    for marker in ("\\times", "\\cdot", "\\div", "×", "÷", "−", "\\frac", "\\dfrac", "\\left("):
        assert any(marker in t for t in texts), f"no case writes {marker}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_r1_completion_is_graded_right(case):
    task = get_task_set(case["task"])
    problem = _problem(case)
    graded = task.assess(problem, case["completion"])
    assert task.grade(problem, case["completion"]) is case["correct"], \
        f"{case['id']}: expected correct={case['correct']} ({case['why']}); read {graded.answer!r}"
    assert graded.correct is case["correct"]
    assert graded.finished is case["finished"], \
        f"{case['id']}: expected finished={case['finished']} ({case['why']})"
