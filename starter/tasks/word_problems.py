"""Twenty short maths word problems, written for this kit (so not in any training set by name).

Each needs two to four steps; answers are whole numbers, a fraction or a money amount, so the grader's
number handling is exercised. Every answer is recomputed in tests/test_tasks.py.

>>> from starter.tasks.word_problems import make
>>> p = make(20, seed=0)[0]
>>> len(make(20, seed=0)), p.id.startswith("wp-")
(20, True)
>>> make(3, seed=1) == make(3, seed=1)
True
"""

from __future__ import annotations

import random

from starter.errors import UsageError
from starter.grading import grade_completion
from starter.tasks.base import Problem, TaskSet, register

# (id, question, answer): the answer as the grader expects it.
PROBLEMS: list[tuple[str, str, str]] = [
    ("wp-apples", "Mia has 3 bags with 12 apples each. She gives away 9 apples. How many apples does she "
     "have left?", "27"),
    ("wp-train", "A train travels at 80 km per hour for 2.5 hours. How many kilometres does it travel?", "200"),
    ("wp-pencils", "Pencils cost 35 cents each. How many cents do 14 pencils cost?", "490"),
    ("wp-pizza", "A pizza is cut into 8 equal slices. Tom eats 3 slices and Ana eats 2. What fraction of "
     "the pizza is left?", "3/8"),
    ("wp-ages", "Leo is 4 years older than his sister. The sum of their ages is 28. How old is Leo?", "16"),
    ("wp-books", "A shelf holds 24 books. Two thirds of them are novels. How many books are not novels?", "8"),
    ("wp-savings", "Sara saves $7.50 every week. How many dollars has she saved after 12 weeks?", "90"),
    ("wp-garden", "A rectangular garden is 15 m long and 9 m wide. A path 1 m wide runs along the inside "
     "of its edge. What is the area, in square metres, of the garden inside the path?", "91"),
    ("wp-marbles", "Ben had some marbles. He lost 17 and then bought 25. Now he has 60. How many marbles "
     "did he have at first?", "52"),
    ("wp-buses", "212 students go on a trip. Each bus seats 45 students. How many buses are needed?", "5"),
    ("wp-discount", "A jacket costs $80. It is on sale for 25% off. What is the sale price in dollars?", "60"),
    ("wp-clock", "A film starts at 7:45 pm and lasts 135 minutes. How many minutes after 9:00 pm does it "
     "end?", "60"),
    ("wp-legs", "A farm has chickens and cows: 20 animals with 56 legs in total. How many cows are "
     "there?", "8"),
    ("wp-average", "Four test scores are 72, 85, 90 and 93. What is their average?", "85"),
    ("wp-paint", "One can of paint covers 12 square metres. How many cans are needed to paint a wall "
     "that is 5 m wide and 7 m high?", "3"),
    ("wp-recipe", "A recipe for 4 people uses 300 g of flour. How many grams of flour are needed for 10 "
     "people?", "750"),
    ("wp-stairs", "Each step of a staircase is 18 cm high. A staircase rises 3.06 m. How many steps "
     "does it have?", "17"),
    ("wp-change", "Ravi buys 3 notebooks at $2.40 each and pays with a $10 note. How much change, in "
     "dollars, does he get?", "2.80"),
    ("wp-tank", "A tank holds 600 litres. A pump fills 25 litres per minute and a leak loses 5 litres "
     "per minute. How many minutes does it take to fill the empty tank?", "30"),
    ("wp-handshakes", "At a meeting, each of 7 people shakes hands once with every other person. How "
     "many handshakes are there?", "21"),
]


def make(n: int = len(PROBLEMS), seed: int = 0) -> list[Problem]:
    """`n` of the problems in an order fixed by `seed` (seed 0 keeps the listed order)."""
    if not 0 <= n <= len(PROBLEMS):
        raise UsageError(f"word-problems has {len(PROBLEMS)} problems; asked for {n}. "
                         f"Use n <= {len(PROBLEMS)}, or the 'arithmetic' task set for as many as you like")
    order = list(range(len(PROBLEMS)))
    if seed != 0:
        random.Random(f"word-problems-{seed}").shuffle(order)
    return [Problem(id=PROBLEMS[i][0], question=PROBLEMS[i][1], answer=PROBLEMS[i][2]) for i in order[:n]]


def grade(problem: Problem, text: str) -> bool:
    return grade_completion(text, problem.answer)


WORD_PROBLEMS = register(TaskSet(
    name="word-problems",
    description="20 hand-written maths word problems (2-4 steps; whole-number, fraction and money answers)",
    make=make,
    grade=grade,
))
