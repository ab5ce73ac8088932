"""The questions' registry: `starter/questions/questions.yaml` read and checked (areas, then each
question's identity: slug, letter, area, title, quote), its rules (slug and letter patterns, the
guide's letters in order, the slug -> module/file rule) and the look-up of a starter by slug.

It sits below the frame: the frame reads a question's title from here, and nothing here imports
a starter module until `load` is asked for one. `starter.questions` re-exports every name, and the
site's schema (sitekit/catalog.py) uses these same rules. Every error names the line of
questions.yaml to edit and the way out; `mi-starter new` adds a question (starter/commands/new.py).
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
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from starter.errors import StarterError, UsageError

QUESTIONS_PACKAGE = "starter.questions"  # where the starter modules live, one per question
DATA_FILE = "questions.yaml"  # package data in that package's folder
DATA_PATH = f"starter/questions/{DATA_FILE}"  # how errors name it: the file a contributor edits
# The starters' folder, read as files: listing it imports no starter (nor their package)
_QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"  # lower-case words joined by '-'
# The guide's eight sub-questions of "Understanding thinking models", in its order. Only they carry
# a letter; a contributed thinking-models question joins the area without one (named by title).
GUIDE_LETTERS = "abcdefgh"
LETTER_PATTERN = f"^[{GUIDE_LETTERS[0]}-{GUIDE_LETTERS[-1]}]$"  # the site's schema imports this
LETTERED_AREA = "thinking-models"  # the one area whose guide questions carry the letters a..h
_SLUG = re.compile(SLUG_PATTERN)
_LETTER = re.compile(LETTER_PATTERN)
_KEYS = ("slug", "letter", "area", "title", "quote")  # a question entry's keys (letter optional)
_WAY_IN = "`mi-starter new <slug> --area AREA` writes a valid entry"


def module_name(slug: str) -> str:
    """The one slug -> module rule: `-` becomes `_`.

    >>> module_name("lucky-or-steady")
    'lucky_or_steady'
    """
    return slug.replace("-", "_")


def slug_of(module: str) -> str:
    """module_name's inverse: a starter module's (or file stem's) last part, `_` becoming `-`.

    >>> slug_of("starter.questions.lucky_or_steady")
    'lucky-or-steady'
    """
    return module.rsplit(".", 1)[-1].replace("_", "-")


def starter_path(slug: str) -> str:
    """The starter's file, relative to the repository root.

    >>> starter_path("lucky-or-steady")
    'starter/questions/lucky_or_steady.py'
    """
    return f"starter/questions/{module_name(slug)}.py"


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a question (None: it can).

    >>> slug_problem("backtracking-pays") is None
    True
    >>> slug_problem("Backtracking_pays")
    "slug 'Backtracking_pays' must be lower-case words joined by '-', e.g. 'backtracking-pays'"
    """
    if isinstance(slug, str) and _SLUG.match(slug):
        return None
    example = re.sub(r"[^a-z0-9]+", "-", str(slug).lower()).strip("-") or "backtracking-pays"
    return f"slug {slug!r} must be lower-case words joined by '-', e.g. {example!r}"


def letter_order_problem(letters: Sequence[str | None]) -> str | None:
    """Why the lettered thinking-models questions, in their listed order, are not the guide's
    eight a..h in order (None: they are). The package and the site both check with this.

    >>> letter_order_problem(list("abcdefgh")) is None
    True
    >>> letter_order_problem(list("abdcefgh"))
    "the guide's sub-questions must be lettered a..h in order, got 'abdcefgh'"
    """
    got = "".join(letter or "?" for letter in letters)
    if got == GUIDE_LETTERS:
        return None
    return (f"the guide's sub-questions must be lettered {GUIDE_LETTERS[0]}..{GUIDE_LETTERS[-1]} "
            f"in order, got {got!r}")


@dataclass(frozen=True)
class Identity:
    """Who a starter is: what the CLI, the run's summary and the site show about it."""

    slug: str  # `mi-starter run <slug>`, the site page; module = slug with `_` for `-`
    letter: str | None  # a..h: one of the guide's thinking-models sub-questions; else None
    area: str  # id of the research area (a key of `areas` in questions.yaml)
    area_title: str  # that area's title, e.g. "Understanding thinking models"
    title: str  # one line, for the nav, `mi-starter list` and the starter's H1
    quote: str  # the sub-question exactly as the MATS guide words it (markdown list lines allowed)
    line: int = 0  # where its entry starts in questions.yaml (errors name it)

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
        return module_name(self.slug)


@dataclass(frozen=True)
class Area:
    """A research area of the MATS guide, as questions.yaml names it."""

    id: str  # e.g. "model-diffing"; the site's area page and `mi-starter list`'s heading
    title: str  # e.g. "Model diffing"


@dataclass(frozen=True)
class Registry:
    """questions.yaml, checked: the areas in the guide's order, then every question's identity."""

    areas: tuple[Area, ...]  # in the guide's order
    questions: tuple[Identity, ...]  # area by area, in the order of `areas`


class _Lines:
    """Line numbers of questions.yaml's parts, so every error names the line to edit."""

    def __init__(self, text: str) -> None:
        self.at: dict[tuple, int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            node = None
        self._walk(node, ())

    def _walk(self, node: Any, path: tuple) -> None:
        if node is None:
            return
        self.at.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.at[(*path, key.value)] = key.start_mark.line + 1
                self._walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for number, item in enumerate(node.value):
                self.at[(*path, number)] = item.start_mark.line + 1
                self._walk(item, (*path, number))

    def of(self, *path: Any) -> int:
        """The line of the deepest part of `path` that exists (1: the file's top)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.at:
                return self.at[path[:end]]
        return 1


def _fail(line: int, problem: str, fix: str) -> StarterError:
    return StarterError(f"{DATA_PATH} line {line}: {problem}; {fix}")


def _text(entry: dict[str, Any], key: str, line: int, owner: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(line, f"{owner}: `{key}` must be non-empty text, got {value!r}",
                    f"write its `{key}:` ({_WAY_IN})")
    return value.strip()


def _letter(entry: dict[str, Any], area: str, line: int, owner: str) -> str | None:
    """A guide question of thinking-models carries a letter a..h; any other question has none."""
    if "letter" not in entry:
        return None
    if area != LETTERED_AREA:
        raise _fail(line, f"{owner}: only {LETTERED_AREA} questions carry a letter",
                    f"delete `letter` (questions of area {area!r} are named by their title)")
    letter = entry["letter"]
    if not isinstance(letter, str) or not _LETTER.match(letter):
        raise _fail(line, f"{owner}: letter {letter!r} is not one of the guide's "
                          f"{GUIDE_LETTERS[0]}..{GUIDE_LETTERS[-1]}",
                    f"delete `letter`: a contributed {LETTERED_AREA} question joins the area "
                    "without one, named by its title")
    return letter


def _parse_areas(data: Any, lines: _Lines) -> tuple[Area, ...]:
    if not isinstance(data, dict) or set(data) != {"areas", "questions"}:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise _fail(1, f"expected exactly the top-level keys `areas` and `questions`, got {got}",
                    "restore the file's two sections")
    areas = data["areas"]
    if not isinstance(areas, dict) or not areas:
        raise _fail(lines.of("areas"), "`areas` must map each area id to its title",
                    "write one `id: Title` line per area")
    for area_id, title in areas.items():
        line = lines.of("areas", area_id)
        if not isinstance(area_id, str) or not _SLUG.match(area_id):
            raise _fail(line, f"area id {area_id!r} must be lower-case words joined by '-'",
                        "rename it (e.g. 'model-diffing')")
        if not isinstance(title, str) or not title.strip():
            raise _fail(line, f"area {area_id!r} needs a title", f"write `{area_id}: Its title`")
    if LETTERED_AREA not in areas:
        raise _fail(lines.of("areas"), f"the area {LETTERED_AREA!r} is missing",
                    f"add `{LETTERED_AREA}: Understanding thinking models` under `areas`")
    return tuple(Area(id=key, title=value.strip()) for key, value in areas.items())


def _question(entry: Any, number: int, areas: dict[str, str], lines: _Lines) -> Identity:
    line = lines.of("questions", number)
    if not isinstance(entry, dict):
        raise _fail(line, f"question {number + 1} is not a mapping",
                    "write `- slug: ...` with area, title and quote under it")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise _fail(lines.of("questions", number, unknown[0]),
                    f"question {entry.get('slug', number + 1)!r}: unknown keys {unknown}",
                    f"delete them (a question has {', '.join(_KEYS)})")
    slug = _text(entry, "slug", line, f"question {number + 1}")
    owner = f"question {slug!r}"
    problem = slug_problem(slug)
    if problem:
        raise _fail(lines.of("questions", number, "slug"), problem,
                    "rename it (and its starter module)")
    area = _text(entry, "area", line, owner)
    if area not in areas:
        raise _fail(lines.of("questions", number, "area"), f"{owner}: unknown area {area!r}",
                    f"choose one of: {', '.join(areas)}")
    letter = _letter(entry, area, lines.of("questions", number, "letter"), owner)
    return Identity(slug=slug, letter=letter, area=area, area_title=areas[area],
                    title=_text(entry, "title", line, owner),
                    quote=_text(entry, "quote", line, owner), line=line)


def _check_order(found: list[Identity], areas: dict[str, str], lines: _Lines) -> None:
    """Area by area in the order of `areas`; thinking-models' lettered questions first, a..h."""
    for key in ("slug", "letter"):
        seen: dict[str, Identity] = {}
        for q in found:
            value = getattr(q, key)
            if value is not None and value in seen:
                raise _fail(q.line, f"duplicate {key} {value!r} (first at line "
                                    f"{seen[value].line})", f"give each question its own {key}")
            if value is not None:
                seen[value] = q
    rank = {area: number for number, area in enumerate(areas)}
    for before, q in zip(found, found[1:]):
        if rank[q.area] < rank[before.area]:
            raise _fail(q.line, f"question {q.slug!r} (area {q.area!r}) comes after a question "
                                f"of area {before.area!r}",
                        f"list the questions area by area, in the order of `areas` "
                        f"({', '.join(areas)}): move it up")
    lettered = [q for q in found if q.area == LETTERED_AREA]
    for before, q in zip(lettered, lettered[1:]):
        if q.letter is not None and before.letter is None:
            raise _fail(q.line, f"question {q.slug!r} (letter {q.letter}) comes after the "
                                f"unlettered {LETTERED_AREA} question {before.slug!r}",
                        "list the guide's lettered questions first, contributed ones after")
    problem = letter_order_problem([q.letter for q in lettered if q.letter is not None])
    if problem:
        first = next((q for q in lettered if q.letter is not None), None)
        raise _fail(first.line if first else lines.of("questions"), problem,
                    "restore the guide's letters (a contributed question carries none)")


def parse(text: str) -> Registry:
    """Read and check questions.yaml's `text`; a `StarterError` names the line and the fix.

    >>> parse("areas: {thinking-models: T}\\nquestions: []\\n").questions
    Traceback (most recent call last):
    ...
    starter.errors.StarterError: starter/questions/questions.yaml line 2: the guide's \
sub-questions must be lettered a..h in order, got ''; restore the guide's letters (a contributed \
question carries none)
    """
    lines = _Lines(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise _fail(mark.line + 1 if mark else 1, "not valid YAML: "
                    + str(getattr(err, "problem", None) or err).replace("\n", " "),
                    "fix the syntax (indentation, quotes)") from None
    area_list = _parse_areas(data, lines)
    areas = {area.id: area.title for area in area_list}
    entries = data["questions"]
    if entries is not None and not isinstance(entries, list):
        raise _fail(lines.of("questions"), "`questions` must be a list",
                    "write one `- slug: ...` entry per question")
    found = [_question(entry, number, areas, lines) for number, entry in enumerate(entries or [])]
    _check_order(found, areas, lines)
    return Registry(areas=area_list, questions=tuple(found))


def data_text() -> str:
    """questions.yaml as shipped in the package."""
    folder = resources.files("starter").joinpath("questions")
    return folder.joinpath(DATA_FILE).read_text(encoding="utf-8")


@functools.cache
def registry() -> Registry:
    """The package's questions.yaml, read and checked once."""
    return parse(data_text())


def areas() -> tuple[Area, ...]:
    """The research areas, in the guide's order (read once from the package data).

    >>> [area.id for area in areas()][:2]
    ['thinking-models', 'sparse-autoencoders']
    """
    return registry().areas


def identities() -> tuple[Identity, ...]:
    """Every question's identity, in the guide's order (read once from the package data).

    >>> [q.letter for q in identities()][:3]
    ['a', 'b', 'c']
    """
    return registry().questions


def identity(slug: str) -> Identity:
    """The identity of starter `slug`; a `UsageError` names questions.yaml and the way out.

    >>> identity("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: unknown question 'nope': starter/questions/questions.yaml has no \
entry for it; choose one of: lucky-or-steady, ...
    """
    for q in identities():
        if q.slug == slug:
            return q
    known = ", ".join(q.slug for q in identities())
    if slug in available():
        raise UsageError(
            f"unknown question {slug!r}: {starter_path(slug)} exists but {DATA_PATH} has no "
            f"entry for it; add one under its area (slug, area, title, quote), as "
            f"`mi-starter new` does for a new question")
    raise UsageError(f"unknown question {slug!r}: {DATA_PATH} has no entry for it; "
                     f"choose one of: {known}")


def available() -> dict[str, str]:
    """slug -> module name, for every starter module in this package."""
    return {
        slug_of(info.name): f"{QUESTIONS_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules([str(_QUESTIONS_DIR)])
        if not info.name.startswith("_")
    }


def load(slug: str) -> Any:  # a starter.frame.Starter: the registry sits below the frame
    """Import the starter for `slug` and return its `STARTER` (the one place a starter module is
    imported by name: the command layer looks a starter up and hands it down)."""
    modules = available()
    if slug not in modules:
        listed = next((q for q in identities() if q.slug == slug), None)
        if listed is not None:
            raise UsageError(
                f"starter {slug!r} is listed in {DATA_PATH} line {listed.line} but "
                f"{starter_path(slug)} does not exist in this install; write it "
                f"(`mi-starter new` writes one from the template) or delete the entry")
        known = ", ".join(sorted(modules)) or "none yet"
        raise UsageError(f"unknown starter {slug!r}; available: {known}")
    return importlib.import_module(modules[slug]).STARTER
