"""The eight starters, one module per sub-question of "Understanding thinking models".

A module `lucky_or_steady.py` is the starter with slug `lucky-or-steady`; it defines `STARTER`
(a `starter.experiment.Starter`). Each starter's identity (letter, area, title, the quoted
question) lives in one place, the package data file `questions.yaml` beside this module, read
through `identity` / `identities`; `Starter.title` and `Starter.question`, `mi-starter list` and
the site all read it from there. Discovery reads file names only, so `mi-starter list` stays fast.

>>> identity("determinism").letter
'b'
>>> identity("determinism").title
'How deterministic are thinking models?'
>>> sorted(available()) == sorted(q.slug for q in identities())
True
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from starter.errors import StarterError, UsageError

DATA_FILE = "questions.yaml"  # package data beside this module
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LETTER = re.compile(r"^[a-z]$")


@dataclass(frozen=True)
class Identity:
    """Who a starter is: what the CLI, the run's summary and the site show about it."""

    slug: str  # `mi-starter run <slug>`, the site page; module = slug with `_` for `-`
    letter: str  # a..h, the sub-question's place in the guide
    area: str  # id of the research area (a key of `areas` in questions.yaml)
    area_title: str  # that area's title, e.g. "Understanding thinking models"
    title: str  # one line, for the nav and `mi-starter list`
    quote: str  # the sub-question exactly as the MATS guide words it (markdown list lines allowed)

    @property
    def module(self) -> str:
        """The starter's module name inside this package.

        >>> identity("lucky-or-steady").module
        'lucky_or_steady'
        """
        return self.slug.replace("-", "_")


def _fail(where: str, problem: str) -> StarterError:
    return StarterError(f"starter/questions/{DATA_FILE}: {where}: {problem}")


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"`{key}` must be non-empty text, got {value!r}")
    return value.strip()


def _parse(data: Any) -> tuple[Identity, ...]:
    if not isinstance(data, dict) or set(data) != {"areas", "questions"}:
        raise _fail("top level", "expected exactly the keys `areas` and `questions`")
    areas = data["areas"]
    if not isinstance(areas, dict) or not all(isinstance(t, str) for t in areas.values()):
        raise _fail("areas", "expected a mapping of area id -> title")
    found: list[Identity] = []
    for number, entry in enumerate(data["questions"] or []):
        where = f"questions[{number}]"
        if not isinstance(entry, dict):
            raise _fail(where, "expected a mapping")
        unknown = set(entry) - {"slug", "letter", "area", "title", "quote"}
        if unknown:
            raise _fail(where, f"unknown keys {sorted(unknown)}")
        slug = _text(entry, "slug", where)
        where = f"question {slug!r}"
        letter = _text(entry, "letter", where)
        area = _text(entry, "area", where)
        if not _SLUG.match(slug):
            raise _fail(where, "a slug is lower-case words joined by '-'")
        if not _LETTER.match(letter):
            raise _fail(where, f"letter must be one lower-case letter, got {letter!r}")
        if area not in areas:
            raise _fail(where, f"unknown area {area!r}; known: {', '.join(areas)}")
        found.append(Identity(slug=slug, letter=letter, area=area, area_title=areas[area],
                              title=_text(entry, "title", where),
                              quote=_text(entry, "quote", where)))
    for key in ("slug", "letter"):
        values = [getattr(q, key) for q in found]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise _fail("questions", f"duplicate {key} {duplicates}: each must be unique")
    return tuple(found)


@functools.cache
def identities() -> tuple[Identity, ...]:
    """Every question's identity, in the guide's order (read once from the package data).

    >>> [q.letter for q in identities()][:3]
    ['a', 'b', 'c']
    """
    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _fail("YAML", str(err).replace("\n", " ")) from err
    return _parse(data)


def identity(slug: str) -> Identity:
    """The identity of starter `slug`; a `UsageError` names the known slugs otherwise.

    >>> identity("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: unknown question 'nope'; choose one of: lucky-or-steady, ...
    """
    for q in identities():
        if q.slug == slug:
            return q
    known = ", ".join(q.slug for q in identities())
    raise UsageError(f"unknown question {slug!r}; choose one of: {known}")


def available() -> dict[str, str]:
    """slug -> module name, for every starter module in this package."""
    return {
        info.name.replace("_", "-"): f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    }


def load(slug: str):
    """Import the starter for `slug` and return its `STARTER`."""
    modules = available()
    if slug not in modules:
        known = ", ".join(sorted(modules)) or "none yet"
        raise UsageError(f"unknown starter {slug!r}; available: {known}")
    return importlib.import_module(modules[slug]).STARTER
