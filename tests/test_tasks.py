"""Task sets: registry, determinism, and that every gold answer is actually right."""

from __future__ import annotations

import ast
import doctest
import operator
from fractions import Fraction
from math import ceil, comb

import pytest

import starter.tasks
import starter.tasks.arithmetic
import starter.tasks.base
import starter.tasks.countdown
import starter.tasks.word_problems
from starter.errors import UsageError
from starter.tasks import TASK_SETS, get_task_set


def test_docstring_examples_run():
    modules = (starter.tasks, starter.tasks.arithmetic, starter.tasks.base, starter.tasks.countdown,
               starter.tasks.word_problems)
    for module in modules:
        assert doctest.testmod(module).failed == 0, f"an example in {module.__name__} is out of date"


def test_every_module_in_the_package_registers_itself():
    assert {"arithmetic", "word-problems"} <= set(TASK_SETS)
    with pytest.raises(UsageError, match="available: .*arithmetic"):
        get_task_set("nope")


# --- arithmetic: check each answer with an independent evaluator ---------------------------------

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(node: ast.AST) -> Fraction:
    """Evaluate the printed expression exactly, so a wrong parenthesis in the text shows up."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        return Fraction(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        value = _OPS[type(node.op)](left, right)
        assert value >= 0 and value.denominator == 1, "intermediate results should be whole and >= 0"
        return value
    raise AssertionError(f"unexpected syntax {ast.dump(node)}")


@pytest.mark.parametrize("difficulty", [1, 2, 4, 8])
def test_arithmetic_answers_are_right(difficulty):
    problems = get_task_set("arithmetic").make(200, seed=1, difficulty=difficulty)
    assert len({p.id for p in problems}) == len({p.question for p in problems}) == 200
    for p in problems:
        expr = p.meta["expression"]
        assert p.question == f"What is {expr}?"
        assert expr.count("+") + expr.count("-") + expr.count("*") + expr.count("/") == difficulty
        assert _evaluate(ast.parse(expr, mode="eval")) == int(p.answer), f"wrong gold answer for {expr}"


def test_arithmetic_is_seeded_and_prefix_stable():
    make = get_task_set("arithmetic").make
    assert make(10, seed=5) == make(10, seed=5)
    assert make(10, seed=5)[:4] == make(4, seed=5), "a larger n should extend a smaller one"
    assert make(10, seed=5) != make(10, seed=6)
    with pytest.raises(UsageError, match="difficulty 9"):
        make(3, seed=0, difficulty=9)


def test_arithmetic_grader():
    task = get_task_set("arithmetic")
    p = task.make(1, seed=0, difficulty=2)[0]
    assert task.grade(p, f"<think>working</think> The answer is \\boxed{{{p.answer}}}.")
    assert not task.grade(p, f"The answer is \\boxed{{{int(p.answer) + 1}}}.")


# --- word problems: each answer recomputed here ---------------------------------------------------

EXPECTED = {
    "wp-apples": 3 * 12 - 9,
    "wp-train": 80 * Fraction(5, 2),
    "wp-pencils": 35 * 14,
    "wp-pizza": Fraction(8 - 3 - 2, 8),
    "wp-ages": (28 + 4) // 2,
    "wp-books": 24 - 24 * 2 // 3,
    "wp-savings": Fraction("7.50") * 12,
    "wp-garden": (15 - 2) * (9 - 2),
    "wp-marbles": 60 - 25 + 17,
    "wp-buses": ceil(212 / 45),
    "wp-discount": 80 * Fraction(3, 4),
    "wp-clock": (19 * 60 + 45 + 135) - 21 * 60,  # 7:45 pm is 19:45
    "wp-legs": (56 - 2 * 20) // 2,  # all chickens: 40 legs; each cow adds 2
    "wp-average": Fraction(72 + 85 + 90 + 93, 4),
    "wp-paint": ceil(5 * 7 / 12),
    "wp-recipe": Fraction(300, 4) * 10,
    "wp-stairs": Fraction("3.06") * 100 / 18,
    "wp-change": 10 - 3 * Fraction("2.40"),
    "wp-tank": Fraction(600, 25 - 5),
    "wp-handshakes": comb(7, 2),
}


def test_word_problem_answers_are_right():
    problems = get_task_set("word-problems").make(20, seed=0)
    assert {p.id for p in problems} == set(EXPECTED), "add the computation of a new problem to EXPECTED"
    for p in problems:
        assert Fraction(p.answer) == EXPECTED[p.id], f"{p.id}: gold {p.answer}, computed {EXPECTED[p.id]}"


def test_word_problems_seed_and_bounds():
    make = get_task_set("word-problems").make
    assert [p.id for p in make(5, seed=3)] == [p.id for p in make(5, seed=3)]
    assert [p.id for p in make(20, seed=3)] != [p.id for p in make(20, seed=0)]
    with pytest.raises(UsageError, match="asked for 21"):
        make(21, seed=0)
    task = get_task_set("word-problems")
    pizza = next(p for p in make(20) if p.id == "wp-pizza")
    assert task.grade(pizza, r"\boxed{\frac{3}{8}}") and task.grade(pizza, "The answer is 0.375")


# --- assess: correct, finished and the answer read, for every task set ----------------------------

REAL_TASK_SETS = [n for n in sorted(TASK_SETS) if n != "toy-doc"]  # toy-doc: base.py's doctest


@pytest.mark.parametrize("name", REAL_TASK_SETS)
def test_assess_reports_unfinished_chains_apart_from_wrong_ones(name):
    task = get_task_set(name)
    p = task.make(1, seed=0)[0]
    right = f"<think>working it out</think>\n\nSo the answer is \\boxed{{{p.answer}}}."
    assert task.assess(p, right).correct and task.assess(p, right).finished
    assert task.assess(p, right).answer is not None
    cut_off = "<think>working it out, so far " + p.answer
    graded = task.assess(p, cut_off)
    assert (graded.correct, graded.finished, graded.answer) == (False, False, None), \
        f"{name}: a chain cut off before </think> is unfinished, with no answer"
    wrong = "<think>done</think> \\boxed{999999}"
    assert task.assess(p, wrong).finished and not task.assess(p, wrong).correct
