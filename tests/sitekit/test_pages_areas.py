"""The research areas on the site (issue #18): one page per area quoting the guide's direction
verbatim with its source, our summary and its questions; a page per question of every area; the
nav and the home page grouped by area; no generated link that points nowhere. Rendered directly
from the real catalogs (no mkdocs build), so these run in a second."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import pytest

from sitekit import catalog
from sitekit.pages import events, home, i18n, render

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def site() -> catalog.Site:
    return catalog.load_site()


def pages(site: catalog.Site, ed: i18n.Edition = i18n.EN, root: Path = REPO_ROOT) -> dict[str, str]:
    state = render.BuildState(site, "https://github.com/o/hub", {})
    return render.render_pages(state, DOCS, root, ed)


def flat(markdown: str) -> str:
    """Whitespace squashed and the admonition's indentation gone, for substring checks."""
    return " ".join(markdown.split())


def test_every_area_and_every_question_has_a_page(site):
    generated = pages(site)
    for area in site.research.areas:
        assert f"research/areas/{area.id}/index.md" in generated
    for q in site.research.questions:
        assert f"research/{q.slug}.md" in generated


def test_area_page_quotes_the_guide_verbatim_with_its_source_then_lists_its_questions(site):
    research = site.research
    source = render.guide_source(research)
    assert "lesswrong.com" in source.url
    for area in research.areas:
        page = pages(site)[f"research/areas/{area.id}/index.md"]
        assert page.startswith(f"# {area.title}\n")
        if area.id == "thinking-models":
            assert flat(research.thinking_models.quote_intro) in flat(page)
        elif area.quote:
            assert '!!! quote "The direction, quoted from' in page
            assert flat(area.quote) in flat(page), f"{area.id}: the quote must be verbatim"
        else:
            assert '!!! note "Not quoted yet"' in page
        assert f"— Neel Nanda, [{source.label}]({source.url})" in page or area.quote is None
        assert flat(area.summary) in flat(page)
        assert page.index("## Our summary") < page.index("## Questions")
        for q in research.questions_of(area.id):
            assert f"[{q.label}](../../{q.slug}.md)" in page, f"{area.id} does not list {q.slug}"


def test_an_area_without_its_quote_says_so_and_links_the_post(site):
    research = site.research
    area = research.area("model-diffing").model_copy(update={"quote": None})
    page = render.render_area(area, research)
    source = render.guide_source(research)
    assert '!!! note "Not quoted yet"' in page and "!!! quote" not in page
    assert f"({source.url})" in page
    assert "headed “What happens to a model during finetuning?" in flat(page)


def test_question_of_another_area_is_named_by_title_and_quotes_what_it_answers(site):
    research = site.research
    source = render.guide_source(research)
    for area in research.areas[1:]:
        for q in area.questions:
            page = pages(site)[f"research/{q.slug}.md"]
            assert f"\n# {q.title}\n" in page, f"{q.slug}: heading without a letter"
            assert '!!! quote "The direction it answers, quoted from' in page
            assert flat(q.quote) in flat(page)
            assert f"[{source.label}]({source.url})" in page
            assert f"[{area.title}](areas/{area.id}/index.md)" in page
            assert "one of eight sub-questions" not in page
            assert f"mi-starter run {q.slug} --preset cpu" in page
            assert "## Prior work" in page and "## Hypotheses worth testing" in page


def test_question_without_starter_or_result_says_so_and_links_no_notebook(site, tmp_path):
    q = site.research.question("model-diffing").model_copy(update={"status": "planned"})
    area = site.research.area("model-diffing")
    page = render.render_question(q, None, tmp_path / "results", tmp_path, area=area)
    assert "is not written yet" in page
    assert "notebooks/model-diffing.ipynb" not in page, "no notebook link without a starter file"
    assert "No result committed yet" in page
    assert "## Result {" not in page


def test_committed_result_is_embedded_on_an_area_question(site, tmp_path):
    q = site.research.question("early-exit").model_copy(update={"status": "ready"})
    area = site.research.area("being-useful")
    starter = tmp_path / q.starter
    starter.parent.mkdir(parents=True)
    starter.write_text('"""Can a probe stop a chain of thought early?"""\n', encoding="utf-8")
    result = tmp_path / "docs" / "results" / q.slug
    result.mkdir(parents=True)
    manifest = {"finished_at": "2026-11-27T10:00:00Z", "model": "tinythinker",
                "config": {"preset": "cpu"}}
    (result / "manifest.json").write_text(json.dumps(manifest))
    (result / "summary.md").write_text("# Early exit\n\n## Finding\n\nThe probe saves tokens.\n")
    (result / "findings.json").write_text("[]")
    page = render.render_question(q, None, tmp_path / "docs" / "results", tmp_path, area=area,
                                  repo_url="https://github.com/o/hub")
    assert "## Result {" in page and "2026-11-27T10:00:00Z" in page
    assert "notebooks/early-exit.ipynb" in page, "a starter file on disk gets its notebook link"
    assert page.index("## Result {") < page.index("## Why it matters")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_relative_links_of_the_generated_pages_resolve(site, lang):
    """Every relative link of a generated page points at a generated page, a docs file or a
    notebook of a starter that exists (the notebooks hook builds one per starter file)."""
    generated = pages(site, i18n.EDITIONS[lang])
    for path, markdown in generated.items():
        for target in LINK.findall(markdown):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            file = target.split("#")[0]
            resolved = str(PurePosixPath(path).parent.joinpath(file))
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            resolved = "/".join(parts)
            if resolved.startswith("notebooks/"):
                slug = resolved.removeprefix("notebooks/").removesuffix(".ipynb")
                starter = REPO_ROOT / "starter" / "questions" / f"{slug.replace('-', '_')}.py"
                assert starter.is_file(), f"{path}: notebook link {target} without a starter"
                continue
            exists = resolved in generated or (DOCS / resolved).exists()
            assert exists, f"{path}: broken link {target}"


def test_chinese_edition_falls_back_visibly_on_area_and_question_pages(site):
    zh = pages(site, i18n.ZH)
    note = '!!! note "尚未翻译"'
    for area in site.research.areas[1:]:
        page = zh[f"research/areas/{area.id}/index.md"]
        assert note in page, f"{area.id}: untranslated summary must say so"
        for q in area.questions:
            assert note in zh[f"research/{q.slug}.md"], f"{q.slug}: no visible fallback"
    assert note in zh["research/index.md"], "the English overview says so in the zh edition"


def test_home_page_lists_every_area_with_its_questions(site, tmp_path):
    lines = home.questions_grid(site.research, tmp_path, i18n.EN.words)
    text = "\n".join(lines)
    for area in site.research.areas:
        heading = f"### [{area.title}](research/areas/{area.id}/index.md)"
        assert heading in lines
        for q in site.research.questions_of(area.id):
            assert f"**[{q.label}](research/{q.slug}.md)**" in text
            assert text.index(heading) < text.index(f"(research/{q.slug}.md)**")
    assert "Result being re-run: see the page." in text  # tmp_path holds no results


def test_a_card_without_a_result_says_what_its_status_means(site, tmp_path):
    """Checked on a copy, so the test does not depend on which starters are ready today."""
    question = site.research.questions_of(site.research.areas[0].id)[0]
    for status, line in [
        ("ready", "Result being re-run: see the page."),
        ("planned", "Starter being written; no result committed yet."),
    ]:
        card = "\n".join(home._card(question.model_copy(update={"status": status}), tmp_path,
                                    i18n.EN.words))
        assert line in card, status


def test_nav_gets_one_section_per_area_once(site):
    research_nav = ["research/index.md", {"Questions by tag": "tags.md"}]
    nav = [{"Home": "index.md"}, {"Research": research_nav}]
    events._add_questions_to_nav(nav, site.research)
    events._add_questions_to_nav(nav, site.research)  # once per language pass: idempotent
    research = nav[1]["Research"]
    sections = research[1:-1]
    assert [next(iter(s)) for s in sections] == [a.title for a in site.research.areas]
    diffing = next(s for s in sections if "Model diffing" in s)["Model diffing"]
    assert diffing == ["research/areas/model-diffing/index.md", "research/model-diffing.md"]
    assert research[-1] == {"Questions by tag": "tags.md"}


def test_reading_list_names_area_questions_by_title(site):
    page = render.render_reading_list(site.reading_list, {}, site.research)
    q = site.research.question("early-exit")
    assert f"[{q.title}](research/early-exit.md)" in page
    assert "None." not in page
    assert 'id="sparse-crosscoders"' in page or "{ #sparse-crosscoders }" in page
