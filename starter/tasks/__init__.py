"""Offline task sets: seeded problem generators with graders, registered by name.

Every module in this package is imported here, so a new task set is one new file that calls
`register(...)`; nothing else needs editing.

>>> from starter.tasks import get_task_set
>>> problems = get_task_set("arithmetic").make(2, seed=0)
>>> len(problems), problems[0].id
(2, 'arithmetic-d2-s0-0')
"""

import importlib
import pkgutil

from starter.tasks.base import TASK_SETS, Problem, TaskSet, get_task_set, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASK_SETS", "Problem", "TaskSet", "get_task_set", "register"]
