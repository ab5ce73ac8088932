"""`mi-starter new <slug> --area AREA [--title TITLE] [--quote QUOTE]`: add a question, the one
way in.

Writes, in the repository this package is checked out in:
- `starter/questions/<module>.py`, the starter, from `starter/templates/question.py.txt` (header
  cell, Config with a comment per field, presets smoke/cpu/gpu and a `tiny` R1-shaped one,
  run/analyse/plot/claims, a NO_VALIDATION reason); it runs as written on TinyThinker, offline;
- `tests/questions/test_<module>.py`, its test on hand-built rows (`question_test.py.txt`);
- its entry in `starter/questions/questions.yaml` (slug, area, title, the guide's quote; no
  letter: the guide's a..h are taken), after the last question of its area;
- its entry in `docs/data/research.yaml` under its area's `questions` (why, prior work,
  hypotheses to fill in; `status: planned`), so the site builds its page at once;
then prints what to fill in. Nothing is written unless all four can be: an existing slug, a bad
slug, an unknown area or a file that exists already is refused in one line. Every test that lists
the starters reads the registry, so no other file needs editing.
"""

from __future__ import annotations

import argparse
import keyword
import os
import tempfile
import textwrap
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

QUESTIONS_YAML = "starter/questions/questions.yaml"
RESEARCH_YAML = "docs/data/research.yaml"
READING_LIST_YAML = "docs/data/reading_list.yaml"
TEMPLATES = "starter.templates"  # package data: question.py.txt, question_test.py.txt
WIDTH = 96  # wrap YAML and header-cell text to this many characters (lines stay <= 100)
FILL = "FILL IN"  # the marker on every placeholder the contributor replaces


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the new question's slug: lower-case words joined by '-', "
                                     "e.g. backtracking-pays")
    parser.add_argument("--area", required=True,
                        help="its research area (see `mi-starter list`), e.g. thinking-models")
    parser.add_argument("--title", help="one line for the nav, `mi-starter list` and the "
                                        "starter's H1 (default: from the slug)")
    parser.add_argument("--quote", help="the guide's sentence it answers, verbatim (default: the "
                                        "area's direction; replace it)")


@dataclass(frozen=True)
class NewQuestion:
    """What `mi-starter new` was asked to add."""

    slug: str  # e.g. "backtracking-pays"
    area: str  # an area id of questions.yaml
    title: str  # one line; also the starter's H1
    quote: str  # the guide's words it answers (one paragraph)

    @property
    def module(self) -> str:
        from starter.questions import module_name

        return module_name(self.slug)


@dataclass(frozen=True)
class Written:
    """What `add_question` wrote, relative to the repository root."""

    starter: str  # starter/questions/<module>.py
    test: str  # tests/questions/test_<module>.py
    questions_line: int  # where the entry starts in questions.yaml
    research_line: int  # where the entry starts in research.yaml


def repository_root() -> Path:
    """The checkout this package runs from; `new` edits files beside the package."""
    from starter.errors import UsageError

    root = Path(__file__).resolve().parents[2]
    if not (root / RESEARCH_YAML).is_file() or not (root / QUESTIONS_YAML).is_file():
        raise UsageError(f"mi-starter new writes into a checkout of the repository, but {root} "
                         f"has no {RESEARCH_YAML}; run it from a clone (pip install -e .)")
    return root


def default_title(slug: str) -> str:
    """The title until the contributor writes one.

    >>> default_title("backtracking-pays")
    'Backtracking pays?'
    """
    return slug.replace("-", " ").capitalize() + "?"


def default_quote(area: str, research: dict[str, Any], registry: Any) -> str:
    """The area's direction in the guide's words, verbatim, until the contributor picks the
    sentence their question answers: thinking-models' first quoted bullet, another area's quote,
    else the quote of its first question, else its title."""
    from starter.questions import LETTERED_AREA

    if area == LETTERED_AREA and research.get("thinking_models", {}).get("groups"):
        return " ".join(str(research["thinking_models"]["groups"][0]["quote"]).split())
    for entry in research.get("areas") or []:
        if entry.get("id") == area and entry.get("quote"):
            return " ".join(str(entry["quote"]).split())
    for q in registry.questions:
        if q.area == area:
            return q.quote
    return next(a.title for a in registry.areas if a.id == area)


def check_request(root: Path, slug: str, area: str) -> None:
    """Refuse, in one line and before anything is written, what `new` cannot add."""
    from starter import questions
    from starter.errors import UsageError

    problem = questions.slug_problem(slug)
    if problem:
        raise UsageError(f"{problem}; nothing written")
    module = questions.module_name(slug)
    if not module[0].isalpha() or keyword.iskeyword(module):
        raise UsageError(f"slug {slug!r} must start with a letter and not be a Python keyword "
                         f"(its module is {module}.py); nothing written")
    registry = questions.parse((root / QUESTIONS_YAML).read_text(encoding="utf-8"))
    known = [a.id for a in registry.areas]
    if area not in known:
        raise UsageError(f"unknown area {area!r}; choose one of: {', '.join(known)}; "
                         "nothing written")
    for q in registry.questions:
        if q.slug == slug:
            raise UsageError(f"question {slug!r} exists already ({QUESTIONS_YAML} line "
                             f"{q.line}); choose another slug; nothing written")
    for path in (questions.starter_path(slug), f"tests/questions/test_{module}.py"):
        if (root / path).exists():
            raise UsageError(f"{path} exists already; choose another slug or move that file "
                             "away; nothing written")
    research = _load(root / RESEARCH_YAML)
    listed = [q.get("slug") for a in research.get("areas") or [] for q in a.get("questions") or []]
    listed += [q.get("slug") for g in research.get("thinking_models", {}).get("groups") or []
               for q in g.get("questions") or []]
    if slug in listed:
        raise UsageError(f"{RESEARCH_YAML} has an entry for {slug!r} already; delete it or "
                         "choose another slug; nothing written")


def _load(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _template(name: str) -> str:
    return resources.files(TEMPLATES).joinpath(name).read_text(encoding="utf-8")


def _scalar(text: str) -> str:
    """`text` as a one-line YAML scalar, quoted only where YAML needs it.

    >>> _scalar("Backtracking pays?"), _scalar("Thought Anchors: Which steps matter?")
    ('Backtracking pays?', "'Thought Anchors: Which steps matter?'")
    """
    import yaml

    return yaml.safe_dump(text, allow_unicode=True, width=10**6).split("\n")[0]


def _yaml_text(text: str, indent: int) -> list[str]:
    """A folded block scalar's lines (the value after `key: >-`), wrapped at WIDTH."""
    pad = " " * indent
    return textwrap.wrap(" ".join(text.split()), WIDTH - indent, initial_indent=pad,
                         subsequent_indent=pad, break_on_hyphens=False, break_long_words=False)


def fill(template: str, q: NewQuestion) -> str:
    """The template with the question's slug, module, title, area and quote put in."""
    quote = textwrap.wrap(" ".join(q.quote.split()), WIDTH - 4, break_on_hyphens=False,
                          break_long_words=False)
    return (template.replace("__QUOTE__", "\n".join(f"# > {line}" for line in quote))
            .replace("__SLUG__", q.slug).replace("__MODULE__", q.module)
            .replace("__TITLE__", q.title).replace("__AREA__", q.area))


def questions_entry(q: NewQuestion) -> str:
    lines = [f"  - slug: {q.slug}", f"    area: {q.area}",
             f"    title: {_scalar(q.title)}",
             "    quote: >-", *_yaml_text(q.quote, 6)]
    return "\n".join(lines) + "\n"


def research_entry(q: NewQuestion, reading: dict[str, Any]) -> str:
    """The page's entry: our words to write, prior work started from the reading list's first
    entry (real, with its id: replace or add to it), and status planned until a result exists."""
    first = reading["sections"][0]["entries"][0]
    lines = [
        f"      - slug: {q.slug}",
        f"        # {FILL} (mi-starter new): why, prior_work and hypotheses, in our own words;",
        f"        # status: ready once its cpu result is committed in docs/results/{q.slug}/",
        "        why: >-",
        *_yaml_text(f"{FILL}: why the answer matters, in two or three sentences of our own.", 10),
        "        prior_work:",
        f"          - title: {_scalar(first['title'])}",
        f"            authors: {_scalar(first['authors'])}",
        f"            year: {int(first['year'])}",
        f"            reading_list: {first['id']}",
        "            note: >-",
        *_yaml_text(f"{FILL}: what they did and found, and how this question differs (or cite "
                    "closer work).", 14),
        "        hypotheses:",
        f'          - "{FILL}: what you expect to find, and why."',
        f'          - "{FILL}: the alternative that the control rules out."',
        "        status: planned",
    ]
    return "\n".join(lines) + "\n"


def _insert_at(lines: list[str], at: int) -> int:
    """Step back from line index `at` over the blank and comment lines just before it (they
    belong to what follows)."""
    while at > 0 and (not lines[at - 1].strip() or lines[at - 1].lstrip().startswith("#")):
        at -= 1
    return at


def insert_questions_entry(text: str, q: NewQuestion) -> tuple[str, int]:
    """questions.yaml with `q` after the last question of its area: (text, its first line)."""
    from starter import questions

    registry = questions.parse(text)
    lines = text.splitlines(keepends=True)
    rank = [a.id for a in registry.areas]
    later = [x.line for x in registry.questions if rank.index(x.area) > rank.index(q.area)]
    at = _insert_at(lines, min(later) - 1) if later else len(lines)
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines[at:at] = [questions_entry(q)]
    return "".join(lines), at + 1


def insert_research_entry(text: str, q: NewQuestion, reading: dict[str, Any]) -> tuple[str, int]:
    """research.yaml with `q` last under its area's `questions` (the key added if the area has
    none yet): (text, the entry's first line)."""
    import yaml

    from starter.errors import StarterError

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    top = {key.value: (key, value) for key, value in root.value}
    areas = top["areas"][1]
    index = next((i for i, node in enumerate(areas.value)
                  if any(k.value == "id" and v.value == q.area for k, v in node.value)), None)
    if index is None:
        raise StarterError(f"{RESEARCH_YAML} has no area {q.area!r} under `areas`; add it "
                           "(id, summary) and run mi-starter new again")
    area = areas.value[index]
    keys = [k.value for k, _ in area.value]
    lines = text.splitlines(keepends=True)
    if index + 1 < len(areas.value):
        end = areas.value[index + 1].start_mark.line
    else:  # the next top-level key after `areas`
        after = [k.start_mark.line for k, _ in top.values()
                 if k.start_mark.line > area.start_mark.line]
        end = min(after) if after else len(lines)
    if "questions" in keys and keys[-1] != "questions":
        following = area.value[keys.index("questions") + 1][0]
        end = following.start_mark.line
    at = _insert_at(lines, end)
    entry = research_entry(q, reading)
    if "questions" not in keys:
        entry = "    questions:\n" + entry
    lines[at:at] = [entry]
    first = at + 1 + (0 if "questions" in keys else 1)
    return "".join(lines), first


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite a file
        handle.write(text)


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a temporary file beside it, then a rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_question(root: Path, slug: str, area: str, title: str | None = None,
                 quote: str | None = None) -> Written:
    """Write the starter, its test and both registry entries for a new question under `root`."""
    from starter import questions
    from starter.errors import StarterError

    check_request(root, slug, area)
    registry_text = (root / QUESTIONS_YAML).read_text(encoding="utf-8")
    research_text = (root / RESEARCH_YAML).read_text(encoding="utf-8")
    research = _load(root / RESEARCH_YAML)
    registry = questions.parse(registry_text)
    q = NewQuestion(slug=slug, area=area, title=" ".join((title or default_title(slug)).split()),
                    quote=" ".join((quote or default_quote(area, research, registry)).split()))
    new_registry, questions_line = insert_questions_entry(registry_text, q)
    added = next(x for x in questions.parse(new_registry).questions if x.slug == slug)
    if (added.area, added.title, added.quote, added.letter) != (area, q.title, q.quote, None):
        raise StarterError(f"mi-starter new: the entry for {slug!r} would read back differently "
                           f"from {QUESTIONS_YAML}; nothing written (a bug: please report it)")
    new_research, research_line = insert_research_entry(
        research_text, q, _load(root / READING_LIST_YAML))
    import yaml

    entries = {e.get("slug"): a["id"] for a in yaml.safe_load(new_research)["areas"]
               for e in a.get("questions") or []}
    if entries.get(slug) != area:
        raise StarterError(f"mi-starter new: the entry for {slug!r} would not land under area "
                           f"{area!r} in {RESEARCH_YAML}; nothing written (a bug: please report)")
    written = Written(starter=questions.starter_path(slug),
                      test=f"tests/questions/test_{q.module}.py",
                      questions_line=questions_line, research_line=research_line)
    _write_new(root / written.starter, fill(_template("question.py.txt"), q))
    _write_new(root / written.test, fill(_template("question_test.py.txt"), q))
    _replace(root / QUESTIONS_YAML, new_registry)
    _replace(root / RESEARCH_YAML, new_research)
    return written


def report(slug: str, area: str, written: Written) -> str:
    """What was written and what to fill in (each place is marked FILL IN)."""
    return "\n".join([
        f"Added question {slug!r} to area {area!r} (no letter: the guide's a..h are taken).",
        f"  wrote {written.starter}: the starter; it runs as written (smoke: seconds on a CPU)",
        f"  wrote {written.test}: its test on hand-built rows",
        f"  added {QUESTIONS_YAML} line {written.questions_line}: title and the guide's quote",
        f"  added {RESEARCH_YAML} line {written.research_line}: the page (status: planned)",
        f"Fill in (search for '{FILL}'):",
        f"  1. {written.starter}: the header cell (question, method, controls), measure(), "
        "the cpu preset's size, concepts and try_next, VALIDATION or NO_VALIDATION's reason",
        f"  2. {written.test}: rows and hand-computed numbers for your analyse",
        f"  3. {QUESTIONS_YAML}: the title (it is also the starter's H1: change both) and the "
        "guide's sentence, verbatim",
        f"  4. {RESEARCH_YAML}: why, prior_work, hypotheses",
        "Then:",
        f"  mi-starter run {slug} --preset smoke --offline",
        f"  python -m pytest {written.test}",
        f"  mi-starter run {slug} --preset cpu --out docs/results/{slug}   "
        "(commit it; then status: ready)",
    ])


def main(args: argparse.Namespace) -> int:
    root = repository_root()
    written = add_question(root, args.slug, args.area, args.title, args.quote)
    print(report(args.slug, args.area, written))
    return 0
