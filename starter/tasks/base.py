"""The shape of an offline task set: a seeded problem generator plus a grader.

A task set is a small typed object registered by name; adding one is one file that calls `register`.

>>> from starter.tasks.base import TASK_SETS, Problem, TaskSet, get_task_set, register
>>> def make(n, seed):
...     return [Problem(id=f"toy-{i}", question=f"What is {i}+1?", answer=str(i + 1)) for i in range(n)]
>>> toy = TaskSet(name="toy-doc", description="i+1", make=make, grade=lambda p, text: text.strip() == p.answer)
>>> _ = register(toy)
>>> get_task_set("toy-doc").make(2, seed=0)[1].answer
'2'
>>> _ = TASK_SETS.pop("toy-doc")  # leave the registry as it was (the example may run twice)

`assess` keeps "wrong" apart from "unfinished" (a chain cut off before `</think>`):

>>> problem = get_task_set("arithmetic").make(1, seed=0)[0]
>>> get_task_set("arithmetic").assess(problem, "<think>Let me add them: 3 + ")
Graded(correct=False, finished=False, answer=None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from starter.errors import UsageError
from starter.grading import Graded, final_answer, finished


@dataclass(frozen=True)
class Problem:
    id: str  # unique within its task set, stable for a given (n, seed)
    question: str  # the natural-language question posed to a chat/thinking model
    answer: str  # canonical answer, as the grader expects it
    raw_prompt: str | None = None  # the exact prompt for plain-completion models (the organism), if any
    meta: dict = field(default_factory=dict)  # task-specific facts (numbers, target, difficulty, ...)


@dataclass(frozen=True)
class TaskSet:
    name: str  # registry key, e.g. "arithmetic"
    description: str  # one line for `mi-starter doctor` and the docs
    make: Callable[..., list[Problem]]  # make(n, seed=...) -> problems, deterministic in (n, seed)
    grade: Callable[[Problem, str], bool]  # grade(problem, completion_text) -> correct?
    # extract(completion_text) -> the answer it commits to (None: none), as `grade` reads it
    extract: Callable[[str], str | None] = final_answer

    def assess(self, problem: Problem, completion: str, thinking: bool = True) -> Graded:
        """Correct?, finished? (`</think>` then an answer; see `starter.grading.finished`) and the
        answer, so a run can report unfinished chains apart from wrong ones."""
        correct = self.grade(problem, completion)
        done = finished(completion, thinking)
        return Graded(correct=correct, finished=done, answer=self.extract(completion))


TASK_SETS: dict[str, TaskSet] = {}


def register(task_set: TaskSet) -> TaskSet:
    """Add a task set to the registry; a second set with the same name is a bug, so refuse it."""
    if task_set.name in TASK_SETS and TASK_SETS[task_set.name] is not task_set:
        raise ValueError(f"task set {task_set.name!r} is already registered")
    TASK_SETS[task_set.name] = task_set
    return task_set


def get_task_set(name: str) -> TaskSet:
    if name not in TASK_SETS:
        raise UsageError(f"unknown task set {name!r}; available: {', '.join(sorted(TASK_SETS)) or 'none'}")
    return TASK_SETS[name]
