"""The question registry (starter/questions/questions.yaml, read by starter.registry and
re-exported by starter.questions): its rules, each error naming the line to edit and the way
out, and the facts other files must not repeat (a starter's H1 is its questions.yaml title).

Broken registries are made from the shipped file by one text edit each, so the expected line is
found in the edited text, not hard-coded.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from starter import questions, registry
from starter.errors import StarterError, UsageError

QUESTIONS_DIR = Path(questions.__file__).parent
DATA = questions.DATA_PATH


def edited(old: str, new: str) -> str:
    text = questions.data_text()
    assert text.count(old) == 1, f"{old!r} must occur once in questions.yaml"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` that contains `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def refusal(text: str) -> str:
    with pytest.raises(StarterError) as caught:
        questions.parse(text)
    return str(caught.value)


def test_the_shipped_registry_parses_to_the_loaded_one():
    assert questions.parse(questions.data_text()) == questions.registry()
    assert "".join(q.letter for q in questions.identities() if q.letter) == "abcdefgh"


def test_a_letter_outside_the_guides_eight_names_the_line_and_the_way_out():
    text = edited("    letter: h\n", "    letter: i\n")
    assert refusal(text) == (
        f"{DATA} line {line_of(text, 'letter: i')}: question 'sae': letter 'i' is not one of the "
        "guide's a..h; delete `letter`: a contributed thinking-models question joins the area "
        "without one, named by its title")


def test_a_contributed_thinking_models_question_needs_no_letter():
    entry = ("  - slug: backtracking-pays\n    area: thinking-models\n"
             "    title: Do chains that backtrack more reach the right answer?\n"
             "    quote: Can you find any evidence for or against this hypothesis?\n")
    text = edited("  - slug: sae-vs-probes\n", entry + "  - slug: sae-vs-probes\n")
    found = {q.slug: q for q in questions.parse(text).questions}
    q = found["backtracking-pays"]
    assert (q.letter, q.area, q.label) == (None, "thinking-models", q.title)
    assert q.line == line_of(text, "slug: backtracking-pays")


def test_a_contributed_question_before_the_guides_lettered_ones_is_refused():
    entry = ("  - slug: backtracking-pays\n    area: thinking-models\n"
             "    title: T\n    quote: Q\n")
    text = edited("  - slug: sae\n", entry + "  - slug: sae\n")
    assert refusal(text) == (
        f"{DATA} line {line_of(text, 'slug: sae')}: question 'sae' (letter h) comes after the "
        "unlettered thinking-models question 'backtracking-pays'; list the guide's lettered "
        "questions first, contributed ones after")


@pytest.mark.parametrize("old, new, needle, message", [
    ("    letter: a\n    area: thinking-models\n    title: Lucky",
     "    letter: a\n    area: thinking-models\n    title: Lucky",  # unchanged: control
     None, None),
    ("  - slug: model-diffing\n", "  - slug: model-diffing\n    letter: j\n", "letter: j",
     "question 'model-diffing': only thinking-models questions carry a letter; delete `letter` "
     "(questions of area 'model-diffing' are named by their title)"),
    ("    letter: c\n", "    letter: b\n", "slug: reasoning-tree",
     "duplicate letter 'b' (first at line {first}); give each question its own letter"),
    ("    area: being-useful\n", "    area: usefulness\n", "area: usefulness",
     "question 'early-exit': unknown area 'usefulness'; choose one of: thinking-models, "
     "sparse-autoencoders, model-diffing, safety-relevant-behaviour, being-useful, "
     "fundamental-assumptions"),
    ("  - slug: early-exit\n", "  - slug: early-exit\n    tier: x\n", "tier: x",
     "question 'early-exit': unknown keys ['tier']; delete them (a question has slug, letter, "
     "area, title, quote)"),
    ("  - slug: early-exit\n", "  - slug: Early_Exit\n", "slug: Early_Exit",
     "slug 'Early_Exit' must be lower-case words joined by '-', e.g. 'early-exit'; rename it "
     "(and its starter module)"),
    ("    title: Is the search state linearly represented?\n", "    title: ''\n", "linear-repr",
     "question 'linear-representation': `title` must be non-empty text, got ''; write its "
     "`title:` (`mi-starter new <slug> --area AREA` writes a valid entry)"),
])
def test_registry_errors_name_the_line_and_the_fix(old, new, needle, message):
    text = edited(old, new)
    if message is None:
        assert questions.parse(text) == questions.registry()
        return
    first = line_of(text, "slug: determinism")
    assert refusal(text) == f"{DATA} line {line_of(text, needle)}: {message.format(first=first)}"


def test_questions_out_of_area_order_name_the_line_to_move():
    text = questions.data_text()
    start, end = text.index("  - slug: sae-vs-probes\n"), text.index("  - slug: model-diffing\n")
    block = text[start:end]
    moved = text.replace(block, "")
    text = moved.replace("  - slug: early-exit\n", f"{block}  - slug: early-exit\n")
    assert refusal(text) == (
        f"{DATA} line {line_of(text, 'slug: sae-vs-probes')}: question 'sae-vs-probes' (area "
        "'sparse-autoencoders') comes after a question of area 'safety-relevant-behaviour'; list "
        "the questions area by area, in the order of `areas` (thinking-models, "
        "sparse-autoencoders, model-diffing, safety-relevant-behaviour, being-useful, "
        "fundamental-assumptions): move it up")


def test_bad_yaml_and_a_missing_area_name_their_line():
    text = edited("  thinking-models: Understanding thinking models\n", "")
    assert refusal(text) == (
        f"{DATA} line {line_of(text, 'areas:')}: the area 'thinking-models' is missing; add "
        "`thinking-models: Understanding thinking models` under `areas`")
    broken = edited("    title: Lucky or steady progress?\n", "    title: [Lucky\n")
    assert refusal(broken).startswith(f"{DATA} line ")
    assert "not valid YAML" in refusal(broken)


def test_unknown_question_names_questions_yaml(monkeypatch):
    with pytest.raises(UsageError, match=f"unknown question 'nope': {DATA} has no entry"):
        questions.identity("nope")
    # a starter module without its entry: the message names both files and the way out
    present = {**questions.available(), "backtracking-pays": "starter.questions.backtracking_pays"}
    monkeypatch.setattr(registry, "available", lambda: present)
    with pytest.raises(UsageError) as caught:
        questions.identity("backtracking-pays")
    assert str(caught.value) == (
        f"unknown question 'backtracking-pays': starter/questions/backtracking_pays.py exists but "
        f"{DATA} has no entry for it; add one under its area (slug, area, title, quote), as "
        "`mi-starter new` does for a new question")


def test_a_listed_question_without_its_module_names_the_line(monkeypatch):
    monkeypatch.setattr(registry, "available", lambda: {})
    with pytest.raises(UsageError) as caught:
        questions.load("determinism")
    line = line_of(questions.data_text(), "slug: determinism")
    assert str(caught.value) == (
        f"starter 'determinism' is listed in {DATA} line {line} but "
        "starter/questions/determinism.py does not exist in this install; write it "
        "(`mi-starter new` writes one from the template) or delete the entry")


H1 = re.compile(r"^# # (.+)$", re.M)  # the first markdown heading of a percent-format script


@pytest.mark.parametrize("slug", sorted(questions.available()))
def test_a_starters_h1_is_its_questions_yaml_title(slug):
    """The notebook and the script open with the H1; the page and the nav with questions.yaml's
    title: one title, whose home is questions.yaml."""
    path = QUESTIONS_DIR / f"{questions.module_name(slug)}.py"
    heading = H1.search(path.read_text(encoding="utf-8"))
    title = questions.identity(slug).title
    assert heading is not None, f"{path.name}: no `# # Title` line in its header cell"
    assert heading.group(1) == title, (
        f"{path.name}: its H1 {heading.group(1)!r} differs from its title in "
        f"{DATA} ({title!r}); make the H1 `# # {title}` (or fix the title there)")


def test_starter_questions_re_exports_the_registry():
    """starter.questions keeps every public name of starter.registry (one set of rules)."""
    public = [name for name, value in vars(registry).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)
              and name != "TYPE_CHECKING"
              and getattr(value, "__module__", registry.__name__) == registry.__name__]
    assert "identity" in public and "DATA_PATH" in public
    missing = [name for name in public if getattr(questions, name, None) is not vars(registry)[name]]
    assert missing == [], f"add {missing} to starter/questions/__init__.py's re-exports"
