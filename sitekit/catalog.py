"""Typed schema over the site's catalogs in `docs/data/*.yaml`: one source of truth for resources.

Site tooling, not part of the installed package: the site build (`docs/hooks/generate.py`) and the
tests read the catalogs through this module, so a typo in a YAML file fails loudly, once, with the
file, the entry's id and the line named. A question's identity (area, title, quoted question, the
letter of a thinking-models question) is not repeated here: it comes from the package
(`starter/questions/questions.yaml`), and so do the areas' ids, order and titles.
No torch here: the site build must start instantly.

>>> research = load_research()
>>> [q.slug for q in research.questions][:3]
['lucky-or-steady', 'determinism', 'reasoning-tree']
>>> research.question("determinism").starter
'starter/questions/determinism.py'
>>> research.question("determinism").letter
'b'
>>> research.question("model-diffing").area
'model-diffing'
>>> [q.slug for q in research.area("model-diffing").questions]
['model-diffing']
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from starter import questions as package_questions
from starter import registry as package_registry
from starter.errors import StarterError, UsageError

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "docs" / "data"
# a question's letter, title and quote live there (the package), never in docs/data/
IDENTITY_FILE = "starter/questions/questions.yaml"
IDENTITY_FIELDS = ("letter", "title", "quote", "area")
LETTERED_AREA = package_questions.LETTERED_AREA  # its questions: thinking_models.groups, a..h
LETTER_PATTERN = package_questions.LETTER_PATTERN  # the package's rule: the guide's a..h only

# The reading list's sections, in the order the page shows them (its author follows it).
READING_SECTIONS = (
    "reasoning-models",  # the hub's subject first
    "foundational",
    "superposition",
    "sparse-autoencoders",
    "activation-patching",
    "narrow-circuits",
    "back-and-forths",
    "bonus",
)
MAX_SNIPPET_LINES = 15  # a library snippet must stay readable at a glance

# Characters a URL may not hold here: each would end or break the HTML attribute or Markdown link
# it is emitted in (percent-encode them: " is %22, < %3C, > %3E, a space %20).
_URL_BREAKERS = frozenset('"<>\\`^{|}')


def _checked_url(value: str) -> str:
    bad = sorted({c for c in value if c in _URL_BREAKERS or c.isspace()})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ValueError(f"URL {value[:80]!r} holds {shown}, which would break the page's HTML; "
                         "percent-encode it (\" is %22, < is %3C, > is %3E, a space %20)")
    return value


def _html_escaped(value: str) -> str:
    """Catalog prose is emitted into Markdown pages as it is: `<`, `>` and `&` become entities
    here, once, so `<script>` in a title renders as text and never as markup (Markdown shows
    `&lt;` as `<`). Code (install lines, snippets) is `Code`, emitted in code blocks, unescaped."""
    return html.escape(value, quote=False)


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$"), AfterValidator(_checked_url)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]  # code blocks only
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1),
                 AfterValidator(_html_escaped)]
Year = Annotated[int, Field(ge=1940, le=2100)]
Priority = Literal["core", "skim", "deep-dive"]
Status = Literal["planned", "ready"]


class CatalogError(StarterError):
    """A catalog file is missing or does not match its schema (the message names file and field)."""


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must not vanish silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Zh(_Strict):
    """Chinese text for the Chinese edition (`docs/hooks/generate.py`); a field left out is shown in
    English under a visible "not translated yet" note. Each field translates the English field of
    the same name; `quote` is our translation of a quoted passage, shown beside the English
    original."""

    title: Text | None = None
    intro: Text | None = None
    annotation: Text | None = None
    summary: Text | None = None
    why: Text | None = None
    quote: Text | None = None
    time: Text | None = None
    skip: Text | None = None
    note: Text | None = None
    hypotheses: list[Text] | None = None


class Link(_Strict):
    label: Text
    url: Url


T = TypeVar("T")


def _unique_ids(items: Iterable[T], where: str, key: str = "id") -> None:
    seen: set[str] = set()
    for item in items:
        value = getattr(item, key)
        if value in seen:
            raise ValueError(f"duplicate {key} {value!r} in {where}: every {key} must be unique")
        seen.add(value)


# --- getting_started.yaml -------------------------------------------------------------------------


class Resource(_Strict):
    id: Slug
    title: Text
    author: Text
    url: Url
    time: Text  # how long it takes, e.g. "2-3 weeks part time"
    annotation: Text  # one paragraph, our own words: what you get
    skip: Text  # what to skip or skim on a first pass
    zh: Zh | None = None


class GettingStarted(_Strict):
    intro: Text
    resources: list[Resource] = Field(min_length=1)
    zh: Zh | None = None

    @model_validator(mode="after")
    def _ids(self) -> GettingStarted:
        _unique_ids(self.resources, "resources")
        return self


# --- reading_list.yaml ----------------------------------------------------------------------------


class ReadingEntry(_Strict):
    id: Slug  # the entry's HTML anchor on the reading-list page; never rename once published
    title: Text
    authors: Text
    year: Year
    url: Url
    annotation: Text
    priority: Priority
    tags: list[Slug] = []
    zh: Zh | None = None


class ReadingSection(_Strict):
    id: Slug
    title: Text
    intro: Text
    entries: list[ReadingEntry] = Field(min_length=1)
    zh: Zh | None = None


class ReadingList(_Strict):
    sections: list[ReadingSection]

    @model_validator(mode="after")
    def _order_and_ids(self) -> ReadingList:
        ids = tuple(section.id for section in self.sections)
        if ids != READING_SECTIONS:
            raise ValueError(
                f"sections must be exactly {list(READING_SECTIONS)} in this order, got {list(ids)}"
            )
        _unique_ids(self.entries, "the reading list (entry ids are page anchors)")
        clashes = set(ids) & {entry.id for entry in self.entries}
        if clashes:
            raise ValueError(
                f"entry ids {sorted(clashes)} equal a section id; both are anchors on one page"
            )
        return self

    @property
    def entries(self) -> list[ReadingEntry]:
        return [entry for section in self.sections for entry in section.entries]

    def entry(self, entry_id: str) -> ReadingEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        known = ", ".join(e.id for e in self.entries)
        raise UsageError(f"no reading-list entry {entry_id!r}; known ids: {known}")


# --- libraries.yaml -------------------------------------------------------------------------------


class Library(_Strict):
    id: Slug
    name: Text
    url: Url
    links: list[Link] = []  # docs, API reference, model pages ...
    purpose: Text  # what it is for
    pick_when: Text  # when to pick it over the others
    install: Code  # the pinned install line we test with
    snippet: Code  # runs offline on CPU; executed by tests/sitekit/test_library_snippets.py
    facts: list[Text] = []  # ids and names people look up (releases, repos, Neuronpedia model ids)
    zh: Zh | None = None

    @field_validator("install")
    @classmethod
    def _install_is_pip(cls, value: str) -> str:
        if not value.startswith("pip install "):
            raise ValueError(f"install must be a `pip install ...` line, got {value!r}")
        return value

    @field_validator("snippet")
    @classmethod
    def _snippet_is_short_python(cls, value: str) -> str:
        lines = value.strip().splitlines()
        if len(lines) > MAX_SNIPPET_LINES:
            raise ValueError(
                f"snippet has {len(lines)} lines; keep it to {MAX_SNIPPET_LINES} or fewer"
            )
        try:
            compile(value, "<snippet>", "exec")
        except SyntaxError as err:
            raise ValueError(f"snippet is not valid Python (line {err.lineno}: {err.msg})") from err
        return value


class Libraries(_Strict):
    intro: Text
    libraries: list[Library] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> Libraries:
        _unique_ids(self.libraries, "libraries")
        return self


# --- research.yaml --------------------------------------------------------------------------------


class PriorWork(_Strict):
    title: Text
    authors: Text
    year: Year
    url: Url | None = None  # arXiv abs URL where there is one
    reading_list: Slug | None = None  # id of the matching reading-list entry, if any
    note: Text  # what they did / found, one or two sentences
    zh: Zh | None = None  # zh.note: our translation of `note` (title and authors stay in English)

    @model_validator(mode="after")
    def _linked(self) -> PriorWork:
        if self.url is None and self.reading_list is None:
            raise ValueError(f"prior work {self.title!r} needs a url or a reading_list id")
        return self


class ValidationSentence(_Strict):
    """One variant of a committed planted-truth validation, in one sentence of ours: recovered or
    not, what that means for trusting the method on R1-distill, and for a failure what would fix
    it. Shown under "Does the method work?" on the question's page."""

    # the arm's registry model as validation.json names it: tinythinker-<name>, or tinythinker
    variant: Annotated[str, StringConstraints(pattern=r"^tinythinker(?:-[a-z0-9]+)*$")]
    sentence: Text  # one sentence; the page puts the variant and its recovered badge before it

    @field_validator("sentence")
    @classmethod
    def _one_sentence(cls, value: str) -> str:
        if "\n\n" in value or not value.endswith((".", ")")):
            raise ValueError(f"sentence must be one sentence ending in '.', got {value[:60]!r}")
        return value


VALIDATION_RECORD = "validation/validation.json"  # under docs/results/<slug>/ (mi-starter validate)


class Question(_Strict):
    slug: Slug  # page name and `mi-starter run <slug>`; fixed, other code depends on it
    # letter, title, quote and area: filled from the package's questions.yaml (their one home)
    # a..h for the guide's thinking-models sub-questions (the package's rule); else None
    letter: Annotated[str, StringConstraints(pattern=LETTER_PATTERN)] | None = None
    title: Text  # short, for the nav and `mi-starter list`
    quote: Text  # the guide's sentence it answers, verbatim (markdown list lines allowed)
    area: Slug  # id of its research area
    why: Text
    prior_work: list[PriorWork] = Field(min_length=1)
    hypotheses: list[Text] = Field(min_length=2, max_length=4)
    status: Status
    tags: list[Slug] = []
    # one sentence per variant of the committed validation (docs/results/<slug>/validation/)
    validation: list[ValidationSentence] = []
    zh: Zh | None = None

    @model_validator(mode="before")
    @classmethod
    def _identity(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "slug" not in data:
            return data
        repeated = [key for key in IDENTITY_FIELDS if key in data]
        if repeated:
            raise ValueError(
                f"{', '.join(repeated)} of {data['slug']!r} live in {IDENTITY_FILE}; "
                "delete them here (one home per fact)"
            )
        try:
            known = package_questions.identity(data["slug"])
        except UsageError as err:
            raise ValueError(f"{err} (the questions in {IDENTITY_FILE})") from err
        return {**data, "letter": known.letter, "title": known.title, "quote": known.quote,
                "area": known.area}

    @property
    def label(self) -> str:
        """Letter (thinking-models questions only) and title, as the nav and the lists show it."""
        return f"{self.letter}. {self.title}" if self.letter else self.title

    @property
    def starter(self) -> str:
        """The starter's file, relative to the repository root (module name = slug)."""
        return package_questions.starter_path(self.slug)

    @model_validator(mode="after")
    def _validation_variants(self, info: ValidationInfo) -> Question:
        _unique_ids(self.validation, f"the validation sentences of {self.slug!r}", key="variant")
        if not self.validation:
            return self
        root = Path((info.context or {}).get("root", REPO_ROOT))
        record = root / "docs" / "results" / self.slug / VALIDATION_RECORD
        if not record.is_file():
            raise ValueError(
                f"question {self.slug!r} has validation sentences but no committed "
                f"{record.relative_to(root)}; run `mi-starter validate {self.slug} --preset cpu "
                f"--out docs/results/{self.slug}/validation` or delete `validation:`"
            )
        arms = _validation_variants(record)
        unknown = [entry.variant for entry in self.validation if entry.variant not in arms]
        if unknown:
            raise ValueError(
                f"validation sentences name {unknown}, which are not arms of "
                f"{record.relative_to(root)} ({', '.join(arms) or 'none'})"
            )
        return self

    @model_validator(mode="after")
    def _starter_file(self, info: ValidationInfo) -> Question:
        if self.status != "ready":
            return self
        root = Path((info.context or {}).get("root", REPO_ROOT))
        if not (root / self.starter).is_file():
            raise ValueError(
                f"question {self.slug!r} is marked ready but {self.starter} does not exist under "
                f"{root}; write the starter or set status: planned"
            )
        result = root / "docs" / "results" / self.slug / "summary.md"
        if not result.is_file():
            # The page shows the committed `cpu` result (and its "what to try next").
            raise ValueError(
                f"question {self.slug!r} is marked ready but has no committed result "
                f"{result.relative_to(root)}; run `mi-starter run {self.slug} --preset cpu "
                f"--out docs/results/{self.slug}` or set status: planned"
            )
        return self


def _validation_variants(path: Path) -> list[str]:
    """The arms' variants of a validation.json, whichever of its shapes (one block, a record of
    `validations`, a list of blocks); [] when it cannot be read (the page build says why)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    if isinstance(data, dict):
        data = data.get("validations", [data])
    blocks = data if isinstance(data, list) else []
    arms = [arm for block in blocks if isinstance(block, dict)
            for arm in block.get("arms") or [] if isinstance(arm, dict)]
    return list(dict.fromkeys(str(arm.get("variant")) for arm in arms))


class QuestionGroup(_Strict):
    quote: Text  # the parent bullet of the guide that the questions below hang from
    questions: list[Question] = Field(min_length=1)
    zh: Zh | None = None  # zh.quote: our translation of `quote`


def _area_title(data: Any, area: Any, where: str) -> Any:
    """Fill `title` of an area from questions.yaml; refuse an unknown area or a second copy here."""
    titles = {known.id: known.title for known in package_questions.areas()}
    if not isinstance(data, dict):
        return data
    if area not in titles:
        raise ValueError(f"unknown {where} {area!r}; the areas are {', '.join(titles)} "
                         f"({IDENTITY_FILE})")
    if "title" in data:
        raise ValueError(f"the title of {where} {area!r} lives in {IDENTITY_FILE}; delete it here")
    return {**data, "title": titles[area]}


class ThinkingModels(_Strict):
    title: Text  # from questions.yaml (the area's title)
    quote_intro: Text  # the opening paragraph of the guide's section, verbatim
    groups: list[QuestionGroup] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _title(cls, data: Any) -> Any:
        return _area_title(data, LETTERED_AREA, "area")


class Area(_Strict):
    """A research area of the guide: our summary, the guide's direction quoted briefly and
    verbatim, and its questions (the thinking-models area keeps its own in `thinking_models`)."""

    id: Slug  # a key of `areas` in questions.yaml, in that file's order
    title: Text  # from questions.yaml
    summary: Text  # our words
    # the guide's words for the area, verbatim and brief (tests/data/guide_excerpt.txt); the page
    # says so visibly where it is missing; never for thinking-models, whose quote is
    # `thinking_models.quote_intro` and its groups
    quote: Text | None = None
    questions: list[Question] = []  # in the order of questions.yaml; none for thinking-models
    zh: Zh | None = None  # zh.summary, zh.quote: our translations

    @model_validator(mode="before")
    @classmethod
    def _title(cls, data: Any) -> Any:
        return _area_title(data, data.get("id") if isinstance(data, dict) else None, "area")

    @model_validator(mode="after")
    def _own_questions(self) -> Area:
        if self.id == LETTERED_AREA:  # its quote and the guide's a..h live in thinking_models
            lettered = [q.slug for q in self.questions if q.letter is not None]
            if self.quote is not None or lettered:
                raise ValueError(
                    f"area {LETTERED_AREA!r} keeps its quote and the guide's lettered questions "
                    f"under `thinking_models`; delete `quote` here, move {lettered} there "
                    "(only contributed questions, without a letter, are listed here)"
                )
        for q in self.questions:
            if q.area != self.id:
                raise ValueError(
                    f"question {q.slug!r} belongs to area {q.area!r} ({IDENTITY_FILE}), "
                    f"not {self.id!r}; move it there"
                )
        return self


class Research(_Strict):
    intro: Text
    sources: list[Link] = Field(min_length=1)  # where the areas and the quoted question come from
    areas: list[Area] = Field(min_length=1)
    thinking_models: ThinkingModels

    @model_validator(mode="after")
    def _questions(self) -> Research:
        _unique_ids(self.areas, "areas")
        ids = [area.id for area in self.areas]
        known = [area.id for area in package_questions.areas()]
        if ids != known:
            raise ValueError(
                f"areas must be exactly {known} in this order ({IDENTITY_FILE}), got {ids}"
            )
        _unique_ids(self.questions, "the questions", key="slug")
        for q in self.thinking_models_questions:
            if q.area != LETTERED_AREA:
                raise ValueError(
                    f"question {q.slug!r} belongs to area {q.area!r} ({IDENTITY_FILE}); move it "
                    f"from thinking_models to that area's `questions`"
                )
        letters = [q.letter for q in self.thinking_models_questions]  # the rule: the package's
        problem = package_questions.letter_order_problem(letters)
        if problem:
            raise ValueError(f"{problem}; thinking_models.groups holds the guide's questions "
                             f"only (a contributed one goes under areas: {LETTERED_AREA})")
        listed = {q.slug for q in self.questions}
        missing = [q.slug for q in package_questions.identities() if q.slug not in listed]
        if missing:
            raise ValueError(
                f"questions {missing} of {IDENTITY_FILE} have no entry here; add each under its "
                "area (slug, why, prior_work, hypotheses, status)"
            )
        return self

    @property
    def thinking_models_questions(self) -> list[Question]:
        return [q for group in self.thinking_models.groups for q in group.questions]

    @property
    def questions(self) -> list[Question]:
        """Every question, area by area (thinking models first)."""
        others = [q for area in self.areas for q in area.questions]
        return [*self.thinking_models_questions, *others]

    def area(self, area_id: str) -> Area:
        for area in self.areas:
            if area.id == area_id:
                return area
        known = ", ".join(area.id for area in self.areas)
        raise UsageError(f"unknown area {area_id!r}; choose one of: {known}")

    def questions_of(self, area_id: str) -> list[Question]:
        """The questions of one area (the thinking-models ones live in `thinking_models`)."""
        if area_id == LETTERED_AREA:  # the guide's a..h, then the contributed ones
            return [*self.thinking_models_questions, *self.area(area_id).questions]
        return self.area(area_id).questions

    def question(self, slug: str) -> Question:
        for q in self.questions:
            if q.slug == slug:
                return q
        known = ", ".join(q.slug for q in self.questions)
        raise UsageError(f"unknown question {slug!r}; choose one of: {known}")


# --- loading --------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
_ENTRY_KEYS = ("id", "slug")  # the key that names an entry, in errors
_ENTRY_LINE = re.compile(r"^[\s-]*(?:id|slug):\s*['\"]?([^'\"\s#]+)", re.MULTILINE)


def _entry_id(node: yaml.Node) -> str | None:
    """The `id:` or `slug:` of a mapping node, if it has one."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if key.value in _ENTRY_KEYS and isinstance(value, yaml.ScalarNode):
            return str(value.value)
    return None


def _where(path: Path, line: int, entry: str | None) -> str:
    return f"{path}:{line}" + (f" (entry {entry!r})" if entry else "")


def _check_duplicate_keys(path: Path, node: yaml.Node, entry: str | None = None) -> None:
    """PyYAML keeps the last of two equal keys silently; a catalog must not."""
    if isinstance(node, yaml.MappingNode):
        entry = _entry_id(node) or entry
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise CatalogError(
                    f"{_where(path, key.start_mark.line + 1, entry)}: duplicate key {key.value!r}; "
                    "a key may appear once per entry (the first copy would be lost)"
                )
            seen.add(key.value)
            _check_duplicate_keys(path, value, entry)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(path, item, entry)


def _locate(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[int, str | None]:
    """(line, entry id) of the deepest node that a pydantic error location reaches."""
    if root is None:
        return 1, None
    node = root
    line = node.start_mark.line + 1
    entry = _entry_id(node)
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
        entry = _entry_id(node) or entry
    return line, entry


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        before = raw[: err.start].decode("utf-8", errors="replace")
        entries = _ENTRY_LINE.findall(before)
        line = before.count("\n") + 1
        raise CatalogError(
            f"{_where(path, line, entries[-1] if entries else None)}: not UTF-8 "
            f"(byte 0x{raw[err.start]:02x}); save the file as UTF-8"
        ) from None


def _refuse_aliases(path: Path, text: str) -> None:
    """Catalogs are plain trees: an anchor (&x) or alias (*x) is refused, one line with its line,
    before anything is built (nested aliases can expand exponentially: an "alias bomb")."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchored = isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)
            if anchored:
                kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
                sign = "*" if kind == "alias" else "&"
                raise CatalogError(f"{path}:{event.start_mark.line + 1}: YAML {kind} "
                                   f"{sign}{event.anchor} is not allowed in a catalog; write the "
                                   "value out in full")
    except yaml.YAMLError:
        return  # the loader below reports it with its line


def _load(model: type[M], path: Path, root: Path | None = None) -> M:
    text = _read_text(path)
    _refuse_aliases(path, text)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_duplicate_keys(path, node)
        data: Any = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(err, "problem", None) or str(err)
        raise CatalogError(f"{path}:{line}: is not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    try:
        return model.model_validate(data, context={"root": root or REPO_ROOT})
    except ValidationError as err:
        problems = []
        for error in err.errors():
            line, entry = _locate(node, tuple(error["loc"]))
            at = ".".join(map(str, error["loc"])) or "top level"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"  {_where(path, line, entry)}: at {at}: {message}")
        raise CatalogError(
            f"{path} does not match the {model.__name__} schema:\n" + "\n".join(problems)
        ) from None


def load_getting_started(path: Path | None = None) -> GettingStarted:
    return _load(GettingStarted, path or DATA_DIR / "getting_started.yaml")


def load_reading_list(path: Path | None = None) -> ReadingList:
    return _load(ReadingList, path or DATA_DIR / "reading_list.yaml")


def load_libraries(path: Path | None = None) -> Libraries:
    return _load(Libraries, path or DATA_DIR / "libraries.yaml")


def load_research(path: Path | None = None, root: Path | None = None) -> Research:
    """`root` is the repository root that starter files and results are looked up in (tests pass
    a tmp dir). The package's registry is read first: its error names questions.yaml's line."""
    try:
        package_registry.registry()  # its home: what identity() below reads through
    except StarterError as err:
        raise CatalogError(str(err)) from None
    return _load(Research, path or DATA_DIR / "research.yaml", root)


class Site(_Strict):
    """All catalogs, cross-checked: every reading-list id that research.yaml cites must exist."""

    getting_started: GettingStarted
    reading_list: ReadingList
    libraries: Libraries
    research: Research


def load_site(data_dir: Path | None = None, root: Path | None = None) -> Site:
    data_dir = data_dir or DATA_DIR
    site = Site(
        getting_started=load_getting_started(data_dir / "getting_started.yaml"),
        reading_list=load_reading_list(data_dir / "reading_list.yaml"),
        libraries=load_libraries(data_dir / "libraries.yaml"),
        research=load_research(data_dir / "research.yaml", root),
    )
    known = {entry.id for entry in site.reading_list.entries}
    for q in site.research.questions:
        for work in q.prior_work:
            if work.reading_list is not None and work.reading_list not in known:
                raise CatalogError(
                    f"{data_dir / 'research.yaml'}: question {q.slug!r} cites reading-list id "
                    f"{work.reading_list!r}, "
                    "which reading_list.yaml does not define; fix the id or drop `reading_list:`"
                )
    return site
