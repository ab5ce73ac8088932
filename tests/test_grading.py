"""Answer extraction and equivalence: the grader decides every accuracy number the starters report."""

from __future__ import annotations

import doctest
import time

import pytest

import starter.grading
from starter.grading import extract_answer, grade_answer, grade_completion, parse_number


def test_docstring_examples_run():
    assert doctest.testmod(starter.grading).failed == 0, "an example in starter/grading.py is out of date"


@pytest.mark.parametrize("text, expected", [
    (r"So the total is \boxed{42}.", "42"),
    (r"First \boxed{3}, then corrected: \boxed{\frac{1}{2}}", r"\frac{1}{2}"),  # the last box wins
    ("Therefore, the answer is 17.", "17"),
    ("The answer is 17. Let me double-check: yes.", "17"),  # up to the end of the sentence
    ("So the answer is $2.80.", "$2.80"),  # a decimal point is not a full stop
    ("Final Answer: $3/4$", "$3/4$"),
    ("We get 3, then 4, and finally 12", "12"),
    ("Subtracting gives -2.5 overall", "-2.5"),
    ("I cannot tell.", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("predicted, gold", [
    ("1,000", "1000"),
    ("1000.0", "1000"),
    ("12.50", "12.5"),
    (r"\frac{3}{4}", "3/4"),
    (r"\dfrac{3}{4}", "0.75"),
    ("$2.80$", "2.80"),
    ("2.8", "2.80"),
    ("-7", "-7.000"),
    ("x = 5", "5"),
    ("16 years", "16"),
    (r"25\%", "25"),
    (r"\text{Paris}", "paris"),
    ("2x + 2", "2(x+1)"),
    (r"\sqrt{8}", r"2\sqrt{2}"),
    ("x^2 - 1", "(x - 1)(x + 1)"),
    (r"\frac{\pi}{2}", "pi/2"),
])
def test_equivalent_answers_match(predicted, gold):
    assert grade_answer(predicted, gold), f"{predicted!r} should be graded equal to {gold!r}"


@pytest.mark.parametrize("predicted, gold", [
    (None, "3"),
    ("", "3"),
    ("0.333", "1/3"),  # numbers compare exactly, not approximately
    ("1,2", "12"),  # a list, not a thousands separator
    ("13", "12"),
    ("x + 1", "x + 2"),
    ("Paris", "London"),
])
def test_different_answers_do_not_match(predicted, gold):
    assert not grade_answer(predicted, gold), f"{predicted!r} must not be graded equal to {gold!r}"


@pytest.mark.parametrize("hostile", [
    "__import__('os').system('echo pwned')",
    "9**9**9**9",
    "2^(10^10)",
    "lambda: 1",
    "x" * 500,
])
def test_untrusted_text_is_never_executed_or_blown_up(hostile):
    start = time.perf_counter()
    assert not grade_answer(hostile, "1")
    assert time.perf_counter() - start < 2, "grading must refuse huge expressions, not evaluate them"


def test_parse_number():
    assert parse_number("-1,234.5") == -2469 / 2
    assert parse_number("7 apples") == 7
    assert parse_number("2x") is None


def test_grade_completion_uses_the_answer_after_thinking():
    assert grade_completion(r"<think>is it 5? no</think> So \boxed{6}", "6")
    assert not grade_completion(r"<think>the answer is 6</think> The answer is 5.", "6"), \
        "a number that only appears in the thinking must not count"
    assert grade_completion("The answer is 6.", "6"), "a completion with no thinking is all answer"
    assert not grade_completion("<think>3*4=12, so maybe 6", "6"), \
        "a chain of thought cut off before </think> has committed to nothing"
    assert grade_completion(r"<think>long... \boxed{6}", "6"), "an explicit box counts even when cut off"


@pytest.mark.parametrize("letter", ["S", "Q", "N"])
def test_single_letters_that_name_sympy_objects_are_just_wrong_answers(letter):
    """sympy parses these to its S registry, Q and N(); a model answering "S" must not crash the run."""
    from starter.grading import grade_answer

    assert grade_answer(letter, "12") is False


# --- what R1 writes -------------------------------------------------------------------------------

@pytest.mark.parametrize("latex, plain", [
    (r"(19 - 8) \times 4", "(19 - 8) * 4"),
    (r"3 \cdot 4 \div 2", "3 * 4 / 2"),
    ("(19 − 8) × 4 ÷ 2", "(19 - 8) * 4 / 2"),
    (r"\frac{20}{5}+13", "20/5+13"),
    (r"\dfrac{19-8}{\tfrac{1}{2}}", "(19-8)/(1/2)"),
    (r"\left( 8 + 19 \right) + 4", "( 8 + 19 ) + 4"),
    (r"\( 6 \times 7 \)", " 6 * 7 "),
    (r"\rightarrow 5", r"\rightarrow 5"),  # a longer command is not \right
    (r"\frac{1}{2", r"\frac{1}{2"),  # unclosed: kept as written
])
def test_plain_maths(latex, plain):
    from starter.grading import plain_maths

    assert plain_maths(latex) == plain


@pytest.mark.parametrize("predicted, gold", [
    (r"3 \times 12 - 9 = 27", "27"),  # an expression followed by = value is graded on the value
    (r"\left( \frac{3}{8} \right)", "3/8"),
    (r"\$2.80", "2.80"),
    (r"16 \text{ years old}", "16"),
    (r"\( \frac{3}{8} \) of the pizza is left", "3/8"),
    ("1{,}000", "1000"),
    ("60 dollars", "60"),
])
def test_r1_answer_forms_match(predicted, gold):
    assert grade_answer(predicted, gold), f"{predicted!r} should be graded equal to {gold!r}"


@pytest.mark.parametrize("hostile", [r"2^{10^{10}}", r"10^{10^{10}}", r"\frac{1}{" * 200])
def test_latex_bombs_are_refused_before_math_verify_computes(hostile):
    start = time.perf_counter()
    assert not grade_answer(hostile, r"\sqrt{2}")
    assert time.perf_counter() - start < 1.5, "math-verify would have run to its timeout"


def test_grade_answer_works_outside_the_main_thread():
    """math-verify's timeout uses signal.alarm, which only the main thread may set."""
    import threading

    results = []
    def work() -> None:
        results.append(grade_answer(r"\sqrt{8}", r"2\sqrt{2}"))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=30)
    assert results == [True]


def test_finished_tells_cut_off_chains_from_wrong_ones():
    from starter.grading import Graded, assess_completion, finished

    assert finished(r"<think>2+3=5</think> \boxed{5}")
    assert finished("</think>\n\nThe sum is 5.")
    assert not finished(r"<think>2+3 is \boxed{5}, but let me check"), "no </think>: cut off"
    assert not finished("<think>2+3=5</think>\n\n"), "closed, but no answer yet"
    assert not finished("The answer is 5."), "a thinking model's chain needs </think>"
    assert finished("The answer is 5.", thinking=False)
    wrong = Graded(correct=False, finished=True, answer="6")
    assert assess_completion(r"</think> \boxed{6}", "5") == wrong
    cut_off = Graded(correct=False, finished=False, answer=None)
    assert assess_completion("<think>2+3=", "5") == cut_off
