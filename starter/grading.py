"""Pull a final answer out of a model's text and decide whether it equals the gold answer.

Two questions, two functions:
- `extract_answer(text)`: which string did the model commit to? `\\boxed{...}` first (the format
  reasoning models are trained on), then "the answer is X" / "Answer: X", then the last number.
- `grade_answer(predicted, gold)`: is it the same answer? Numbers compare exactly as fractions
  (so `1,000` = `1000.0` and `0.5` = `\\frac{1}{2}`), other answers as normalised text, and
  expressions through sympy (`2(x+1)` = `2x+2`).

>>> extract_answer("so 3 + 4 = 7. The answer is \\\\boxed{7}.")
'7'
>>> grade_answer("1,000.0", "1000"), grade_answer("\\\\frac{3}{4}", "0.75"), grade_answer("7", "8")
(True, True, False)
>>> grade_answer("2(x+1)", "2x + 2")
True
"""

from __future__ import annotations

import re
from fractions import Fraction

from starter.cot import THINK_CLOSE, extract_boxed, split_completion

# --- extraction -------------------------------------------------------------------------------

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+"
# "the answer is 42", "Final answer: 42", "answer = 42": the phrase, then up to the end of that
# sentence (a full stop before a space or the line end; not the point in 2.5).
_ANSWER_PHRASE = re.compile(r"answer\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:\.\s|\.?$)", re.IGNORECASE | re.MULTILINE)


def extract_answer(text: str, strict: bool = False) -> str | None:
    """The answer a completion commits to, or None when it commits to nothing.

    `strict=True` accepts only an explicit commitment (a box or "the answer is"), not the last number.

    None is a real outcome here (a truncated or rambling completion), and `grade_answer` counts it
    as wrong.

    >>> extract_answer("I think the answer is 12 apples.\\nDone")
    '12 apples'
    >>> extract_answer("first 3, then 5, so 8") , extract_answer("no digits here")
    ('8', None)
    """
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed.strip()
    phrases = _ANSWER_PHRASE.findall(text)
    if phrases:
        return phrases[-1].strip()
    if strict:
        return None
    numbers = re.findall(_NUMBER, text)
    return numbers[-1] if numbers else None


# --- normalisation ----------------------------------------------------------------------------

_LATEX_SUBS = [
    (re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\sqrt\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\(?:text|mathrm|mbox|textbf)\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\left|\\right|\\[,;!: ]|\\displaystyle|\$"), ""),
    (re.compile(r"\\(?:cdot|times)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\pi"), "pi"),
    (re.compile(r"\\%|%"), ""),
    (re.compile(r"\^\{([^{}]*)\}"), r"^(\1)"),
]


def _clean(answer: str) -> str:
    """Strip the LaTeX and punctuation that do not change an answer's value."""
    s = answer.strip()
    for pattern, replacement in _LATEX_SUBS:
        s = pattern.sub(replacement, s)
    s = s.replace("{", "").replace("}", "")  # leftover grouping braces, e.g. from \boxed{{5}}
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5" answers the same question as "5"
    return re.sub(r"\s+", " ", s).strip().rstrip(".").strip()


def parse_number(answer: str) -> Fraction | None:
    """The exact value of a plain numeric answer, or None if it is not one.

    Thousands separators, a trailing `.0`, fractions, percent signs and a trailing unit word are
    allowed; anything else (an expression, a word) is not a plain number.

    >>> parse_number("1,234.50"), parse_number("\\\\frac{1}{3}"), parse_number("12 apples")
    (Fraction(2469, 2), Fraction(1, 3), Fraction(12, 1))
    >>> parse_number("x+1") is None
    True
    """
    s = _clean(answer)
    s = re.sub(r"^\((-?[\d.]+)\)/\((\d+)\)$", r"\1/\2", s)  # "(3)/(4)" from \frac{3}{4}
    s = re.sub(r"^(-?[\d,.]+)\s+[a-zA-Z][a-zA-Z ]*$", r"\1", s)  # "12 apples" -> "12"
    if not re.fullmatch(rf"(?:{_NUMBER})", s):
        return None
    if "," in s and not re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        return None  # "1,2" is a list, not one thousand and two... nor 1.2
    return Fraction(s.replace(",", ""))


# --- sympy, only on text that cannot run code ---------------------------------------------------

# parse_expr evaluates Python, and model output is untrusted: allow only maths characters and a few
# known function names, parse without evaluating, and refuse exponents that could explode
# (9**9**9 has 370 million digits) before sympy computes anything.
_SAFE_CHARS = re.compile(r"[0-9a-zA-Z+\-*/^(). ]+")
_SAFE_NAMES = {"sqrt", "pi", "sin", "cos", "tan", "log", "exp"}
_MAX_EXPR_CHARS = 120
_MAX_EXPONENT = 12


def _safe_sympy(answer: str):
    """A sympy expression for `answer`, or None when it is not a small, safe maths expression."""
    s = _clean(answer)
    if not s or len(s) > _MAX_EXPR_CHARS or not _SAFE_CHARS.fullmatch(s):
        return None
    if set(re.findall(r"[a-zA-Z]{2,}", s)) - _SAFE_NAMES:
        return None
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    try:
        expr = parse_expr(s, transformations=transformations, evaluate=False)
    except (SyntaxError, TypeError, ValueError, AttributeError, ZeroDivisionError):
        # sympy reports unparsable text through these; for grading "not an expression" is the answer.
        return None
    if not isinstance(expr, sympy.Expr):  # "S", "Q", "N" parse to sympy's registries/functions, not expressions
        return None
    for power in expr.atoms(sympy.Pow):
        exponent = power.exp
        if exponent.atoms(sympy.Pow) or any(abs(n) > _MAX_EXPONENT for n in exponent.atoms(sympy.Number)):
            return None
    return expr


def _sympy_equal(a: str, b: str) -> bool:
    import sympy

    ea, eb = _safe_sympy(a), _safe_sympy(b)
    if ea is None or eb is None:
        return False
    try:
        return sympy.simplify(ea - eb) == 0
    except (TypeError, ValueError):
        return False  # e.g. a relation minus a number: different kinds of answer


# --- grading ----------------------------------------------------------------------------------


def grade_answer(predicted: str | None, gold: str) -> bool:
    """Whether `predicted` is the same answer as `gold`. None (no answer) is always wrong.

    >>> grade_answer("$12$", "12"), grade_answer("12.5", "25/2"), grade_answer(None, "3")
    (True, True, False)
    >>> grade_answer("\\\\text{Paris}", "paris"), grade_answer("x^2 - 1", "(x-1)(x+1)")
    (True, True)
    """
    if predicted is None:
        return False
    a, b = parse_number(predicted), parse_number(gold)
    if a is not None and b is not None:
        return a == b
    if _clean(predicted).lower() == _clean(gold).lower():
        return True
    return _sympy_equal(predicted, gold)


def grade_completion(text: str, gold: str) -> bool:
    """Grade a whole completion.

    With a closed thinking block, only the answer after `</think>` counts, so a number that appears
    while thinking does not. Without one (a model that does not think, or a chain of thought cut off
    by the token budget) only an explicit commitment counts, a `\\boxed{}` or "the answer is": the
    last number of a half-finished chain of thought is not an answer.

    >>> grade_completion("<think>maybe 5? no, 6</think> The answer is \\\\boxed{6}.", "6")
    True
    >>> grade_completion("<think>8*3=24, then 24-5=", "19"), grade_completion("The answer is 19.", "19")
    (False, True)
    """
    if THINK_CLOSE in text:
        return grade_answer(extract_answer(split_completion(text)[1]), gold)
    return grade_answer(extract_answer(text, strict=True), gold)
