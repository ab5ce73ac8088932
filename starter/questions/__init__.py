"""The starters, one module per open question, grouped by the research areas of the MATS guide:
the eight sub-questions of "Understanding thinking models" (lettered a..h), questions contributed
to that area (no letter) and the questions of the other areas (no letter).

A module `lucky_or_steady.py` is the starter with slug `lucky-or-steady`; it defines `STARTER`
(a `starter.frame.Starter`). Each starter's identity (area, title, the quoted question, a letter
for the guide's thinking-models questions) lives in one place, the package data file
`questions.yaml` beside this module. The registry that reads it, its rules and the look-up of a
starter by slug live in `starter.registry` (below the frame, which reads titles from it); every
name of it is re-exported here, so `from starter.questions import identity, load` keeps working.
`mi-starter new` adds a question (starter/commands/new.py).

>>> identity("determinism").label
'b. How deterministic are thinking models?'
>>> load("determinism").slug  # doctest: +SKIP
'determinism'
"""

from __future__ import annotations

from starter.registry import (
    DATA_FILE,
    DATA_PATH,
    GUIDE_LETTERS,
    LETTER_PATTERN,
    LETTERED_AREA,
    QUESTIONS_PACKAGE,
    SLUG_PATTERN,
    Area,
    Identity,
    Registry,
    areas,
    available,
    data_text,
    identities,
    identity,
    letter_order_problem,
    load,
    module_name,
    parse,
    registry,
    slug_of,
    slug_problem,
    starter_path,
)

__all__ = [
    "DATA_FILE", "DATA_PATH", "GUIDE_LETTERS", "LETTER_PATTERN", "LETTERED_AREA",
    "QUESTIONS_PACKAGE", "SLUG_PATTERN", "Area", "Identity", "Registry", "areas", "available",
    "data_text", "identities", "identity", "letter_order_problem", "load", "module_name", "parse",
    "registry", "slug_of", "slug_problem", "starter_path",
]
