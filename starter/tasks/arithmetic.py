"""Multi-step integer arithmetic, generated from a seed: as many problems as you like, never seen online.

`difficulty` is the number of operations (1-8). Each problem is a random expression tree over small
integers with `+ - * /`, built so that every intermediate result is a whole number between 0 and
1000 (so `-` never goes negative and `/` is always exact); the answer is computed on the tree, not by
evaluating the text.

>>> from starter.tasks.arithmetic import make
>>> p = make(1, seed=0, difficulty=3)[0]
>>> p.question, p.answer
('What is 7 - 1 - (12 - 7)?', '1')
>>> p.meta["difficulty"], p.meta["expression"]
(3, '7 - 1 - (12 - 7)')
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass

from starter.errors import UsageError
from starter.grading import grade_completion
from starter.tasks.base import Problem, TaskSet, register

MAX_DIFFICULTY = 8
MAX_VALUE = 1000  # intermediate results stay at or below this, so the problems stay mental-maths sized
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_LEAF = 3
# "/" is exact: _allowed_ops only offers it when the divisor divides the dividend.
_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.floordiv}


@dataclass(frozen=True)
class _Expr:
    text: str  # the expression, with only the parentheses it needs
    value: int  # its exact value
    precedence: int  # of its outermost operator (_LEAF for a number)


def _combine(a: _Expr, op: str, b: _Expr) -> _Expr:
    p = _PRECEDENCE[op]
    left = a.text if a.precedence >= p else f"({a.text})"
    # the right operand also needs parentheses under the same precedence for - and /: 9 - (5 - 2)
    right = b.text if b.precedence > p or (b.precedence == p and op in "+*") else f"({b.text})"
    return _Expr(f"{left} {op} {right}", _APPLY[op](a.value, b.value), p)


def _allowed_ops(a: int, b: int) -> list[str]:
    """Operators that keep `a op b` a whole number in [0, MAX_VALUE] and not trivial (x*1, x/1)."""
    ops = []
    if a + b <= MAX_VALUE:
        ops.append("+")
    if a >= b:
        ops.append("-")
    if a > 1 and b > 1 and a * b <= MAX_VALUE:
        ops.append("*")
    if b > 1 and a % b == 0 and a > 0:
        ops.append("/")
    return ops


def _random_expression(rng: random.Random, n_ops: int) -> _Expr:
    # Merge random pairs from a pool of numbers until one tree is left: n_ops merges, any tree shape.
    pool = [_Expr(str(v), v, _LEAF) for v in (rng.randint(1, 20) for _ in range(n_ops + 1))]
    while len(pool) > 1:
        i, j = rng.sample(range(len(pool)), 2)
        ops = _allowed_ops(pool[i].value, pool[j].value)
        if not ops:  # e.g. 7 - 20 with + too big: try the pair the other way round
            i, j = j, i
            ops = _allowed_ops(pool[i].value, pool[j].value)
        merged = _combine(pool[i], rng.choice(ops), pool[j])
        pool = [e for k, e in enumerate(pool) if k not in (i, j)] + [merged]
    return pool[0]


def make(n: int, seed: int = 0, difficulty: int = 2) -> list[Problem]:
    """`n` distinct problems with `difficulty` operations each; the same (n, seed, difficulty) gives
    the same list, and a larger n extends a smaller one."""
    if not 1 <= difficulty <= MAX_DIFFICULTY:
        raise UsageError(f"arithmetic difficulty {difficulty!r} is out of range; use 1-{MAX_DIFFICULTY} "
                         "(the number of operations per problem)")
    if n < 0:
        raise UsageError(f"number of problems must be >= 0, got {n}")
    rng = random.Random(f"arithmetic-{seed}-{difficulty}")  # str seeds are stable across runs
    seen: set[str] = set()
    problems: list[Problem] = []
    while len(problems) < n:
        expr = _random_expression(rng, difficulty)
        if expr.text in seen:
            continue
        seen.add(expr.text)
        problems.append(Problem(
            id=f"arithmetic-d{difficulty}-s{seed}-{len(problems)}",
            question=f"What is {expr.text}?",
            answer=str(expr.value),
            meta={"expression": expr.text, "difficulty": difficulty},
        ))
    return problems


def grade(problem: Problem, text: str) -> bool:
    return grade_completion(text, problem.answer)


ARITHMETIC = register(TaskSet(
    name="arithmetic",
    description="seeded multi-step integer arithmetic (+ - * /), difficulty = number of operations",
    make=make,
    grade=grade,
))
