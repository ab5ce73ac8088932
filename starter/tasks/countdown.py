"""Countdown-3: reach a target from three numbers with + - * /, each number used exactly once.

The problem family behind the TinyThinker organism (`starter/organism/`), also posed in words to chat models.
Everything here is pure Python: problem generation, the fixed heuristic depth-first search the organism
imitates, and a safe grader (expressions are parsed, never `eval`-ed).

Conventions (shared by the search, the traces and the grader):
- `-` and `/` are written larger-op-smaller; `/` only when exact (`Try 12/4=3`, never `4/12`).
- Search order: combine a pair (pairs in fixed order (0,1), (0,2), (1,2); ops `* + - /` when the target is
  larger than every number, else `- / + *`; `x*1` and `x/1` are skipped at this level), then with the two
  numbers left try `+` then `*` if the target is larger than both, else `-` then `/`. This is complete:
  every solvable problem is solved.

>>> p = make_problems(1, seed=0)[0]
>>> grade(p, "so the answer is \\\\boxed{" + p.answer + "}")
True
>>> search((8, 19, 4), 31).solution
'(8+19)+4'
>>> evaluate_expression("(8+19)+4")
Fraction(31, 1)
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

from starter.cot import THINK_CLOSE, extract_boxed, split_completion
from starter.grading import plain_maths
from starter.tasks.base import Problem, TaskSet, register

NUMBER_RANGE = (1, 20)  # each of the three numbers is drawn from this range (inclusive, distinct)
TARGET_RANGE = (10, 100)  # targets come from a random expression and are kept only inside this range
MAX_BACKTRACKS = 2  # problems whose search abandons more first-level branches than this are dropped
HELD_OUT_PERCENT = 5  # share of (numbers, target) keys reserved for evaluation, never trained on

PAIRS = ((0, 1), (0, 2), (1, 2))
OPS_TARGET_ABOVE = ("*", "+", "-", "/")  # first-level op order when the target exceeds every number
OPS_TARGET_WITHIN = ("-", "/", "+", "*")  # ... otherwise
FINAL_OPS_TARGET_ABOVE = ("+", "*")  # second-level op order when the target exceeds both numbers left
FINAL_OPS_TARGET_WITHIN = ("-", "/")


# ---------------------------------------------------------------- arithmetic in the house convention


def apply_op(a: int, op: str, b: int) -> tuple[str, int] | None:
    """The written form and value of `a op b`, or None when the op is not allowed (inexact `/`, `/0`).

    `-` and `/` are written larger first; `+` and `*` keep the given order.

    >>> apply_op(4, "-", 9)
    ('9-4', 5)
    >>> apply_op(9, "/", 4) is None
    True
    """
    if op in "+*":
        return f"{a}{op}{b}", a + b if op == "+" else a * b
    big, small = max(a, b), min(a, b)
    if op == "-":
        return f"{big}-{small}", big - small
    if small == 0 or big % small:
        return None
    return f"{big}/{small}", big // small


# ---------------------------------------------------------------- the heuristic depth-first search


@dataclass
class SearchEvent:
    """One action of the search, in trace order."""

    kind: str  # "try1" (first-level combine), "try2" (final combine), "backtrack"
    text: str  # written operation, e.g. "8*19" (empty for backtrack)
    value: int  # result of the operation (0 for backtrack)
    left: tuple[int, int] | None = None  # numbers left after a first-level try: (new, remaining)
    hit: bool = False  # for try2: did it reach the target?


@dataclass
class SearchResult:
    numbers: tuple[int, int, int]
    target: int
    events: list[SearchEvent]  # the whole search in order, ending with the hitting try2
    solution: str  # boxed expression, e.g. "(8+19)+4"
    first_op: str  # first-level op of the solution, e.g. "8+19" (the hint)
    backtracks: int  # abandoned first-level branches before the hit


def final_tries(new: int, rest: int, target: int) -> list[tuple[str, int]]:
    ops = FINAL_OPS_TARGET_ABOVE if target > max(new, rest) else FINAL_OPS_TARGET_WITHIN
    tries = []
    for op in ops:
        done = apply_op(new, op, rest)
        if done is not None:
            tries.append(done)
    return tries


def boxed_expression(first: str, final: str, new: int) -> str:
    """Substitute the parenthesised first op for the intermediate number in the final op."""
    match = re.fullmatch(r"(\d+)([-+*/])(\d+)", final)
    if match is None:  # callers pass `a op b` strings this module wrote
        raise ValueError(f"not a single operation: {final!r}")
    left, op, right = match.groups()
    if left == str(new):
        return f"({first}){op}{right}"
    return f"{left}{op}({first})"


def search(numbers: tuple[int, int, int], target: int) -> SearchResult:
    """Run the fixed heuristic DFS; raise ValueError if the problem has no solution.

    >>> r = search((8, 19, 4), 31)
    >>> r.backtracks, r.first_op
    (1, '8+19')
    """
    events: list[SearchEvent] = []
    first_ops = OPS_TARGET_ABOVE if target > max(numbers) else OPS_TARGET_WITHIN
    backtracks = 0
    for i, j in PAIRS:
        a, b = numbers[i], numbers[j]
        rest = numbers[3 - i - j]
        for op in first_ops:
            if op in "*/" and min(a, b) == 1:
                continue  # x*1 and x/1 change nothing; skipping them keeps traces short
            done = apply_op(a, op, b)
            if done is None:
                continue
            first, new = done
            events.append(SearchEvent("try1", first, new, left=(new, rest)))
            for final, value in final_tries(new, rest, target):
                hit = value == target
                events.append(SearchEvent("try2", final, value, hit=hit))
                if hit:
                    return SearchResult(numbers, target, events, boxed_expression(first, final, new), first, backtracks)
            events.append(SearchEvent("backtrack", "", 0))
            backtracks += 1
    raise ValueError(f"no solution for numbers {numbers} and target {target}")


# ---------------------------------------------------------------- problems


def problem_key(numbers: tuple[int, ...] | list[int], target: int) -> str:
    """Order-free identity of a problem: the held-out split is decided on this key."""
    return f"{'-'.join(str(n) for n in sorted(numbers))}:{target}"


def is_held_out(numbers: tuple[int, ...] | list[int], target: int) -> bool:
    """True for the ~5% of problem keys reserved for evaluation (stable hash, same in every process).

    >>> is_held_out((8, 19, 4), 31) == is_held_out((4, 8, 19), 31)
    True
    """
    digest = hashlib.sha256(problem_key(numbers, target).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def random_problem(rng: random.Random) -> tuple[tuple[int, int, int], int]:
    """Draw three distinct numbers and a target built from a random expression over them (always solvable)."""
    while True:
        a, b, c = rng.sample(range(NUMBER_RANGE[0], NUMBER_RANGE[1] + 1), 3)
        numbers = (a, b, c)
        a, b, c = rng.sample(numbers, 3)
        inner = apply_op(a, rng.choice("+-*/"), b)
        if inner is None:
            continue
        outer = apply_op(inner[1], rng.choice("+-*/"), c)
        if outer is not None and TARGET_RANGE[0] <= outer[1] <= TARGET_RANGE[1]:
            return numbers, outer[1]


def sample_searches(n: int, seed: int, split: str = "train") -> list[SearchResult]:
    """`n` searches of problems from one split ("train", "test" or "any") with <= MAX_BACKTRACKS backtracks.

    >>> [s.backtracks <= MAX_BACKTRACKS for s in sample_searches(3, seed=1)]
    [True, True, True]
    """
    if split not in ("train", "test", "any"):
        raise ValueError(f"split must be 'train', 'test' or 'any', got {split!r}")
    rng = random.Random(seed)
    out: list[SearchResult] = []
    while len(out) < n:
        numbers, target = random_problem(rng)
        held = is_held_out(numbers, target)
        if (split == "train" and held) or (split == "test" and not held):
            continue
        result = search(numbers, target)
        if result.backtracks <= MAX_BACKTRACKS:
            out.append(result)
    return out


def raw_prompt(numbers: tuple[int, ...], target: int, hint: str | None = None) -> str:
    """The organism's prompt; a hint names the first correct operation.

    >>> raw_prompt((8, 19, 4), 31, hint="8+19")
    'Numbers: 8 19 4. Target: 31. Hint: 8+19. <think>'
    """
    hint_text = f" Hint: {hint}." if hint else ""
    return f"Numbers: {' '.join(str(n) for n in numbers)}. Target: {target}.{hint_text} <think>"


def to_problem(result: SearchResult, id: str) -> Problem:
    numbers, target = result.numbers, result.target
    question = (
        f"Using the numbers {', '.join(str(n) for n in numbers)} exactly once each, with + - * / and "
        f"parentheses (divisions must be exact), make {target}. Put the final expression in \\boxed{{}}."
    )
    return Problem(
        id=id,
        question=question,
        answer=result.solution,
        raw_prompt=raw_prompt(numbers, target),
        meta={
            "numbers": list(numbers),
            "target": target,
            "backtracks": result.backtracks,
            "first_op": result.first_op,
            "held_out": is_held_out(numbers, target),
        },
    )


def make_problems(n: int, seed: int = 0, split: str = "test") -> list[Problem]:
    """`n` Countdown-3 problems (held-out split by default, so chat-model runs never overlap organism training)."""
    return [to_problem(r, f"countdown-{split}-s{seed}-{i}") for i, r in enumerate(sample_searches(n, seed, split))]


# ---------------------------------------------------------------- safe grading


_TOKEN = re.compile(r"\s*(\d+|[-+*/()])")
# Longer "expressions" are refused before parsing (deep nesting would exhaust the stack).
MAX_TOKENS = 100


@dataclass
class _Parser:
    """Recursive-descent parser for + - * / and parentheses over integers (exact rational arithmetic)."""

    text: str
    tokens: list[str] = field(default_factory=list)
    pos: int = 0
    numbers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        stripped, i = self.text.strip(), 0
        while i < len(stripped):
            m = _TOKEN.match(stripped, i)
            if m is None:
                raise ValueError(f"unexpected character {stripped[i]!r} in {self.text!r}")
            self.tokens.append(m.group(1))
            i = m.end()
        if len(self.tokens) > MAX_TOKENS:
            raise ValueError(f"expression longer than {MAX_TOKENS} tokens")

    def parse(self) -> Fraction:
        value = self._sum()
        if self.pos != len(self.tokens):
            raise ValueError(f"trailing input in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        tok = self._peek()
        if tok is None:
            raise ValueError(f"unexpected end of {self.text!r}")
        self.pos += 1
        return tok

    def _sum(self) -> Fraction:
        value = self._product()
        while self._peek() in ("+", "-"):
            value = value + self._product() if self._take() == "+" else value - self._product()
        return value

    def _product(self) -> Fraction:
        value = self._atom()
        while self._peek() in ("*", "/"):
            op = self._take()
            rhs = self._atom()
            if op == "/" and rhs == 0:
                raise ValueError(f"division by zero in {self.text!r}")
            value = value * rhs if op == "*" else value / rhs
        return value

    def _atom(self) -> Fraction:
        tok = self._take()
        if tok == "(":
            value = self._sum()
            if self._take() != ")":
                raise ValueError(f"unbalanced parentheses in {self.text!r}")
            return value
        if not tok.isdigit():
            raise ValueError(f"expected a number, got {tok!r} in {self.text!r}")
        self.numbers.append(int(tok))
        return Fraction(int(tok))


def parse_expression(text: str) -> tuple[Fraction, list[int]]:
    """Value and the numbers used, in order, of an arithmetic expression; ValueError if malformed.

    >>> parse_expression("19-(8/4)")
    (Fraction(17, 1), [19, 8, 4])
    """
    parser = _Parser(text)
    return parser.parse(), parser.numbers


def evaluate_expression(text: str) -> Fraction:
    return parse_expression(text)[0]


def check_expression(expression: str, numbers: list[int] | tuple[int, ...], target: int) -> bool:
    """True when `expression` uses each number exactly once and evaluates to `target`."""
    try:
        value, used = parse_expression(expression)
    except ValueError:
        return False
    return sorted(used) == sorted(numbers) and value == target


# What a completion commits to when it has no box: the last run of arithmetic in its answer.
_ARITHMETIC_RUN = re.compile(r"[\d \t+\-*/()=]+")
_OPERATOR = re.compile(r"[+\-*/]")


def committed_equation(completion: str) -> str | None:
    r"""What a completion commits to, as plain arithmetic (`= value` sides kept); None when nothing.

    The last `\boxed{}` of the answer after `</think>` (anywhere, when the thinking never closed),
    else, after `</think>`, the last run of arithmetic in the answer. LaTeX and Unicode operators,
    `\frac{a}{b}` and `\left( \right)` become plain `+ - * /` and parentheses.

    >>> committed_equation(r"<think>...</think> So \boxed{(19 - 8) \times 4}.")
    '(19 - 8) * 4'
    >>> committed_equation("<think>...</think>\n\n(8 + 19) + 4 = 31. Each number is used once.")
    '(8 + 19) + 4 = 31'
    >>> committed_equation("<think>8 + 19 = 27, and 27 + 4 = 31"), committed_equation("31")
    (None, None)
    """
    finished_thinking = THINK_CLOSE in completion
    answer = split_completion(completion)[1] if finished_thinking else completion
    boxed = extract_boxed(answer)
    if boxed is None and not finished_thinking:
        return None
    text = plain_maths(answer if boxed is None else boxed).replace("{", "").replace("}", "")
    if boxed is not None:
        return " ".join(text.split())
    runs = [r.lstrip(" \t+-*/=)").rstrip(" \t+-*/=(") for r in _ARITHMETIC_RUN.findall(text)]
    runs = [r for r in runs if re.search(r"\d", r) and _OPERATOR.search(r)]
    return " ".join(runs[-1].split()) if runs else None


def final_expression(completion: str) -> str | None:
    r"""The expression a completion commits to, in plain arithmetic; None when it commits to none.

    >>> final_expression(r"</think> \boxed{\dfrac{20}{5}+13 = 17}")
    '20/5+13'
    >>> final_expression("</think> 31 = 27+4")
    '27+4'
    """
    equation = committed_equation(completion)
    if equation is None:
        return None
    sides = [side.strip() for side in equation.split("=")]
    return next((side for side in sides if _OPERATOR.search(side)), sides[0])


def grade(problem: Problem, completion: str) -> bool:
    r"""Grade a completion: the expression it commits to (see `committed_equation`) must use each
    number exactly once and reach the target; every other side of `expression = value` must also
    equal the target (a false equation is wrong).

    >>> meta = {"numbers": [8, 19, 4], "target": 44}
    >>> p = Problem(id="x", question="", answer="(19-8)*4", meta=meta)
    >>> grade(p, r"</think> \boxed{(19 - 8) \times 4}"), grade(p, "</think> So (19−8)×4 = 44.")
    (True, True)
    >>> grade(p, r"</think> \boxed{(19 - 8) \times 4 = 45}"), grade(p, r"</think> \boxed{19 + 4}")
    (False, False)
    """
    equation = committed_equation(completion)
    if equation is None:
        return False
    numbers, target = problem.meta["numbers"], problem.meta["target"]
    sides = [side.strip() for side in equation.split("=")]
    if not any(check_expression(side, numbers, target) for side in sides):
        return False
    try:
        return all(evaluate_expression(side) == target for side in sides)
    except ValueError:
        return False  # a side that is not arithmetic


COUNTDOWN = register(
    TaskSet(
        name="countdown",
        description="Countdown-3: make a target from three numbers with + - * / (TinyThinker's task)",
        make=make_problems,
        grade=grade,
        extract=final_expression,
    )
)
