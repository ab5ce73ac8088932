"""The starters, one module per open question, grouped by the research areas of the MATS guide:
the eight sub-questions of "Understanding thinking models" (lettered a..h) and the questions of
the other areas (no letter).

A module `lucky_or_steady.py` is the starter with slug `lucky-or-steady`; it defines `STARTER`
(a `starter.experiment.Starter`). Each starter's identity (area, title, the quoted question, a
letter for the thinking-models questions) lives in one place, the package data file
`questions.yaml` beside this module, read through `identity` / `identities` / `areas`;
`Starter.title` and `Starter.question`, `mi-starter list` and the site all read it from there.
Discovery reads file names only, so `mi-starter list` stays fast.

>>> identity("determinism").letter
'b'
>>> identity("determinism").label
'b. How deterministic are thinking models?'
>>> identity("model-diffing").letter is None
True
>>> set(available()) <= {q.slug for q in identities()}
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
LETTERED_AREA = "thinking-models"  # the one area whose questions carry the guide's letters a..h
_KEYS = {"slug", "letter", "area", "title", "quote"}  # a question entry's keys (letter optional)


@dataclass(frozen=True)
class Identity:
    """Who a starter is: what the CLI, the run's summary and the site show about it."""

    slug: str  # `mi-starter run <slug>`, the site page; module = slug with `_` for `-`
    letter: str | None  # a..h: a thinking-models sub-question's place in the guide; else None
    area: str  # id of the research area (a key of `areas` in questions.yaml)
    area_title: str  # that area's title, e.g. "Understanding thinking models"
    title: str  # one line, for the nav and `mi-starter list`
    quote: str  # the sub-question exactly as the MATS guide words it (markdown list lines allowed)

    @property
    def label(self) -> str:
        """The question as the nav and `mi-starter list` name it: its letter, if any, and title.

        >>> identity("sae").label
        'h. Do sparse autoencoders tell us anything?'
        >>> identity("early-exit").label
        'Can a probe stop a chain of thought early at equal accuracy?'
        """
        return f"{self.letter}. {self.title}" if self.letter else self.title

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


@dataclass(frozen=True)
class Area:
    """A research area of the MATS guide, as questions.yaml names it."""

    id: str  # e.g. "model-diffing"; the site's area page and `mi-starter list`'s heading
    title: str  # e.g. "Model diffing"


def _letter(entry: dict[str, Any], area: str, where: str) -> str | None:
    """A thinking-models question needs its letter; a question of another area must not have one."""
    if area != LETTERED_AREA:
        if "letter" in entry:
            raise _fail(where, f"only {LETTERED_AREA} questions carry a letter; delete `letter` "
                               f"(questions of area {area!r} are named by their title)")
        return None
    letter = _text(entry, "letter", where)
    if not _LETTER.match(letter):
        raise _fail(where, f"letter must be one lower-case letter, got {letter!r}")
    return letter


def _parse_areas(data: Any) -> tuple[Area, ...]:
    if not isinstance(data, dict) or set(data) != {"areas", "questions"}:
        raise _fail("top level", "expected exactly the keys `areas` and `questions`")
    areas = data["areas"]
    if not isinstance(areas, dict) or not areas:
        raise _fail("areas", "expected a mapping of area id -> title")
    for area_id, title in areas.items():
        if not isinstance(area_id, str) or not _SLUG.match(area_id):
            raise _fail("areas", f"an area id is lower-case words joined by '-', got {area_id!r}")
        if not isinstance(title, str) or not title.strip():
            raise _fail("areas", f"area {area_id!r} needs a title")
    if LETTERED_AREA not in areas:
        raise _fail("areas", f"the area {LETTERED_AREA!r} is missing")
    return tuple(Area(id=key, title=value.strip()) for key, value in areas.items())


def _parse(data: Any) -> tuple[Identity, ...]:
    areas = {area.id: area.title for area in _parse_areas(data)}
    found: list[Identity] = []
    for number, entry in enumerate(data["questions"] or []):
        where = f"questions[{number}]"
        if not isinstance(entry, dict):
            raise _fail(where, "expected a mapping")
        unknown = set(entry) - _KEYS
        if unknown:
            raise _fail(where, f"unknown keys {sorted(unknown)}")
        slug = _text(entry, "slug", where)
        where = f"question {slug!r}"
        area = _text(entry, "area", where)
        if not _SLUG.match(slug):
            raise _fail(where, "a slug is lower-case words joined by '-'")
        if area not in areas:
            raise _fail(where, f"unknown area {area!r}; known: {', '.join(areas)}")
        found.append(Identity(slug=slug, letter=_letter(entry, area, where), area=area,
                              area_title=areas[area], title=_text(entry, "title", where),
                              quote=_text(entry, "quote", where)))
    for key in ("slug", "letter"):
        values = [getattr(q, key) for q in found if getattr(q, key) is not None]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise _fail("questions", f"duplicate {key} {duplicates}: each must be unique")
    order = [area for area in areas if any(q.area == area for q in found)]
    seen = list(dict.fromkeys(q.area for q in found))
    if seen != order:
        raise _fail("questions", f"list the questions area by area, in the order of `areas` "
                                 f"({', '.join(order)}); got {', '.join(seen)}")
    return tuple(found)


def _data() -> Any:
    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _fail("YAML", str(err).replace("\n", " ")) from err


@functools.cache
def areas() -> tuple[Area, ...]:
    """The research areas, in the guide's order (read once from the package data).

    >>> [area.id for area in areas()][:2]
    ['thinking-models', 'sparse-autoencoders']
    """
    return _parse_areas(_data())


@functools.cache
def identities() -> tuple[Identity, ...]:
    """Every question's identity, in the guide's order (read once from the package data).

    >>> [q.letter for q in identities()][:3]
    ['a', 'b', 'c']
    """
    return _parse(_data())


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
