r"""Pull a final answer out of a model's text and decide whether it equals the gold answer.

Four questions, four functions:
- `extract_answer(text)`: which string did the model commit to? `\boxed{...}` first (the format
  reasoning models are trained on), then "the answer is X" / "Answer: X", then the last number.
- `grade_answer(predicted, gold)`: is it the same answer? Numbers compare exactly as fractions
  (so `1,000` = `1000.0` and `0.5` = `\frac{1}{2}`), other answers as normalised text, then through
  math-verify (LaTeX: `\sqrt{8}` = `2\sqrt{2}`) and sympy (plain text: `2(x+1)` = `2x+2`).
- `finished(text)`: did the chain of thought close (`</think>`) and then answer? A chain cut off by
  the token budget is unfinished, which is not the same thing as wrong.
- `assess_completion(text, gold)`: all of it as one record, `Graded(correct, finished, answer)`.

`plain_maths` turns the LaTeX and Unicode R1 writes (`\times`, `\div`, `\frac{a}{b}`, `\left(`, `−`)
into plain arithmetic; the Countdown grader reads expressions through it too.

>>> extract_answer("so 3 + 4 = 7. The answer is \\boxed{7}.")
'7'
>>> grade_answer("1,000.0", "1000"), grade_answer("\\frac{3}{4}", "0.75"), grade_answer("7", "8")
(True, True, False)
>>> grade_answer("2(x+1)", "2x + 2")
True
>>> assess_completion("<think>12 - 3 = 9</think> So \\boxed{9}.", "9")
Graded(correct=True, finished=True, answer='9')
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from fractions import Fraction

from starter.cot import THINK_CLOSE, braced, extract_boxed, split_completion

# --- LaTeX and Unicode to plain arithmetic -------------------------------------------------------

# Symbols R1 writes for the four operations, and markup that does not change a value. A letter after
# a command name stops the match, so `\rightarrow` is not read as `\right`.
_SYMBOLS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\\(?:times|cdot|ast)(?![a-zA-Z])|[×·∗]"), "*"),
    (re.compile(r"\\div(?![a-zA-Z])|÷"), "/"),
    (re.compile(r"[−–]"), "-"),
    (re.compile(r"\\(?:left|right|displaystyle)(?![a-zA-Z])|\\[()\[\]]|\\?\$"), ""),
    (re.compile(r"\\[,;:! ]"), " "),
]
# Commands with braced arguments: fractions become `a/b`, text wrappers give their content.
_COMMAND = re.compile(r"\\(?:[dt]?frac|text|mathrm|mbox|textbf|operatorname)\s*(?=\{)")
_ATOM = re.compile(r"-?\d+(?:\.\d+)?|[a-zA-Z]")


def _group(plain: str) -> str:
    """A fraction's numerator or denominator, parenthesised unless it is one number or letter."""
    plain = plain.strip()
    return plain if _ATOM.fullmatch(plain) else f"({plain})"


def plain_maths(text: str) -> str:
    r"""`text` with R1's LaTeX and Unicode arithmetic written as plain `+ - * /` (braces kept).

    Nested fractions work (`\frac{\frac{1}{2}}{3}`); from an unclosed brace on, text is kept as is.

    >>> plain_maths(r"\left( 19 - 8 \right) \times 4"), plain_maths("(19 − 8) × 4 ÷ 2")
    ('( 19 - 8 ) * 4', '(19 - 8) * 4 / 2')
    >>> plain_maths(r"\dfrac{20}{5}+13"), plain_maths(r"$\frac{19-8}{\frac{1}{2}} \cdot 4$")
    ('20/5+13', '(19-8)/(1/2) * 4')
    """
    out, i = [], 0
    while (match := _COMMAND.search(text, i)) is not None:
        first = braced(text, match.end())
        if first is None:
            break
        end = match.end() + len(first) + 2
        value = plain_maths(first)
        if "frac" in match.group():
            gap = len(text[end:]) - len(text[end:].lstrip())
            second = braced(text, end + gap) if text[end + gap : end + gap + 1] == "{" else None
            if second is None:
                break
            value = f"{_group(value)}/{_group(plain_maths(second))}"
            end += gap + len(second) + 2
        out.append(text[i : match.start()] + value)
        i = end
    out.append(text[i:])
    plain = "".join(out)
    for pattern, replacement in _SYMBOLS:
        plain = pattern.sub(replacement, plain)
    return plain


# --- extraction -------------------------------------------------------------------------------

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+"
# "the answer is 42", "Final answer: 42", "answer = 42": the phrase, then up to the end of that
# sentence (a full stop before a space or the line end; not the point in 2.5).
_ANSWER_PHRASE = re.compile(r"answer\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:\.\s|\.?$)", re.IGNORECASE | re.MULTILINE)
_MARKDOWN = re.compile(r"\*\*|__")  # bold markers around "**Answer:** 27"


def extract_answer(text: str, strict: bool = False) -> str | None:
    """The answer a completion commits to, or None when it commits to nothing.

    `strict=True` accepts only an explicit commitment (a box or "the answer is"), not the last number.

    None is a real outcome here (a truncated or rambling completion), and `grade_answer` counts it
    as wrong.

    >>> extract_answer("I think the answer is 12 apples.\\nDone"), extract_answer("**Answer:** 27")
    ('12 apples', '27')
    >>> extract_answer("first 3, then 5, so 8") , extract_answer("no digits here")
    ('8', None)
    >>> extract_answer(r"Ana and Tom ate 5 of 8 slices, so \\frac{3}{8} is left")
    '3/8'
    """
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    phrases = _ANSWER_PHRASE.findall(text)
    if phrases:
        return _MARKDOWN.sub("", phrases[-1]).strip()
    if strict:
        return None
    numbers = re.findall(_NUMBER, plain_maths(text))
    return numbers[-1] if numbers else None


def final_answer(text: str) -> str | None:
    """The answer `grade_completion` grades: after `</think>` when the thinking closed (any answer
    form), else only an explicit commitment (a box or "the answer is") anywhere in the text.

    >>> final_answer("<think>maybe 5</think> Tom has 6 left."), final_answer("<think>maybe 5, then")
    ('6', None)
    """
    if THINK_CLOSE in text:
        return extract_answer(split_completion(text)[1])
    return extract_answer(text, strict=True)


def finished(text: str, thinking: bool = True) -> bool:
    """Whether a chain finished: it closed its thinking (`</think>`) and then gave an answer.

    A chain cut off by the token budget has not finished, whatever it wrote; report it apart from
    wrong answers. For a model that does not think (`thinking=False`) an explicit answer (a box or
    "the answer is") is enough.

    >>> finished("<think>2+3=5</think> The answer is \\boxed{5}.")
    True
    >>> finished("<think>2+3=5, so maybe \\boxed{5}, but wait")  # cut off inside the thinking
    False
    >>> finished("<think>2+3=5</think>"), finished("The answer is 5.", thinking=False)
    (False, True)
    """
    if not thinking:
        return extract_answer(text, strict=True) is not None
    return THINK_CLOSE in text and extract_answer(split_completion(text)[1]) is not None


@dataclass(frozen=True)
class Graded:
    """One completion's grade, kept apart from whether the chain finished."""

    correct: bool  # the committed answer equals the gold answer
    finished: bool  # the thinking closed (`</think>`) and an answer followed (see `finished`)
    answer: str | None  # the answer that was graded; None when the completion committed to none


# --- normalisation ----------------------------------------------------------------------------

# What plain_maths leaves that still does not change an answer's value.
_LATEX_SUBS = [
    (re.compile(r"\\sqrt\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\pi"), "pi"),
    (re.compile(r"\\%|%"), ""),
    (re.compile(r"\^\{([^{}]*)\}"), r"^(\1)"),
]
# "x = 5" and "36 - 9 = 27" answer with their last side; `<=`, `>=`, `!=`, `==` are not this.
_LAST_SIDE = re.compile(r"^.*(?<![<>!=])=(?!=)")


def _clean(answer: str) -> str:
    """Strip the LaTeX and punctuation that do not change an answer's value."""
    s = plain_maths(answer.strip())
    for pattern, replacement in _LATEX_SUBS:
        s = pattern.sub(replacement, s)
    s = s.replace("{", "").replace("}", "")  # leftover grouping braces, e.g. from \boxed{{5}}
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
    # "12 apples", "3/8 of it" -> the number
    s = re.sub(r"^(-?[\d,./]+)\s+[a-zA-Z][a-zA-Z ]*$", r"\1", s)
    if not re.fullmatch(rf"(?:{_NUMBER})", s):
        return None
    if "," in s and not re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        return None  # "1,2" is a list, not one thousand and two... nor 1.2
    return Fraction(s.replace(",", ""))


# --- math-verify (LaTeX) and sympy (plain text), only on text that cannot blow up ----------------

# Model output is untrusted. math-verify parses LaTeX without running code, but comparing
# 2^{10^{10}} would compute for its whole timeout, and sympy's parse_expr evaluates Python: allow
# only short answers, maths characters and known function names, and refuse exponents that could
# explode (9**9**9 has 370 million digits) before anything is computed.
_SAFE_CHARS = re.compile(r"[0-9a-zA-Z+\-*/^(). ]+")
_SAFE_NAMES = {"sqrt", "pi", "sin", "cos", "tan", "log", "exp"}
_MAX_EXPR_CHARS = 120
_MAX_EXPONENT = 12
_VERIFY_SECONDS = 2  # math-verify's own guard (signal.alarm: main thread only)
_MATHS = re.compile(r"\d|\\[a-zA-Z]")  # what math-verify is asked about: a digit or a LaTeX command


def _small(expr) -> bool:
    """Whether a parsed sympy object is safe to compare: no huge or nested exponents."""
    import sympy

    if not isinstance(expr, sympy.Basic):
        return False
    for power in expr.atoms(sympy.Pow):
        exponent = power.exp
        if exponent.atoms(sympy.Pow):
            return False
        if any(abs(n) > _MAX_EXPONENT for n in exponent.atoms(sympy.Number)):
            return False
    return True


def _math_verify_equal(predicted: str, gold: str) -> bool:
    """math-verify's verdict on two LaTeX answers (`\\sqrt{8}` = `2\\sqrt{2}`); False when either
    side is long, not maths, or does not parse."""
    if not (_MATHS.search(predicted) and _MATHS.search(gold)):
        return False
    if max(len(predicted), len(gold)) > _MAX_EXPR_CHARS:
        return False
    from math_verify import LatexExtractionConfig, parse, verify

    main = threading.current_thread() is threading.main_thread()
    seconds = _VERIFY_SECONDS if main else None  # signal.alarm can only be set in the main thread
    parsed = []
    for answer in (gold, predicted):
        found = parse(f"${answer.strip().strip('$')}$", [LatexExtractionConfig()],
                      fallback_mode="no_fallback", parsing_timeout=seconds)
        if not found or not all(_small(e) for e in found):
            return False
        parsed.append(found)
    return verify(parsed[0], parsed[1], timeout_seconds=seconds)


def _safe_sympy(answer: str):
    """A sympy expression for plain-text `answer`; None unless it is small, safe maths."""
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
    return expr if _small(expr) else None


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

    An answer written `expression = value` is graded on its value (its last side).

    >>> grade_answer("$12$", "12"), grade_answer("12.5", "25/2"), grade_answer(None, "3")
    (True, True, False)
    >>> grade_answer("\\\\text{Paris}", "paris"), grade_answer("x^2 - 1", "(x-1)(x+1)")
    (True, True)
    >>> grade_answer("3 \\\\times 12 - 9 = 27", "27"), grade_answer("\\\\sqrt{8}", "2\\\\sqrt{2}")
    (True, True)
    """
    if predicted is None:
        return False
    predicted, gold = _LAST_SIDE.sub("", predicted), _LAST_SIDE.sub("", gold)
    a, b = parse_number(predicted), parse_number(gold)
    if a is not None and b is not None:
        return a == b
    if _clean(predicted).lower() == _clean(gold).lower():
        return True
    return _math_verify_equal(predicted, gold) or _sympy_equal(predicted, gold)


def assess_completion(text: str, gold: str, thinking: bool = True) -> Graded:
    """Grade a whole completion and say whether its chain finished (see `final_answer`, `finished`).

    >>> assess_completion("<think>3 boxes of 4, so 12</think>\\n\\n**Answer:** 12", "12")
    Graded(correct=True, finished=True, answer='12')
    >>> assess_completion("<think>3 boxes of 4, so 3 \\\\times 4 = ", "12")  # cut off: unfinished
    Graded(correct=False, finished=False, answer=None)
    """
    answer = final_answer(text)
    done = finished(text, thinking)
    return Graded(correct=grade_answer(answer, gold), finished=done, answer=answer)


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
    return grade_answer(final_answer(text), gold)
