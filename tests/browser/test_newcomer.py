"""The site as a newcomer meets it (issue #17), in chromium at 1280x800 and 390 px, light and dark:
the result first on every question page, figures that read, Neuronpedia shown honestly, a reading
list that filters in the browser, a landing page that leads to every question.

Every page opens in a watched context (conftest.py): a console error, a failed request or a request
to another host fails the test. Screenshots land in test-artifacts/screenshots/ for review.
"""

from __future__ import annotations

import pytest

from sitekit import catalog

from .conftest import REPO_ROOT, Watch
from .test_browser import QUESTIONS, open_page, search

RESULTS = REPO_ROOT / "docs" / "results"
CARD_WITHIN_PX = 1200  # the result card starts within this many px of the top at 1280x800
MAX_PIXEL_RATIO = 2.2  # a PNG at most this many times wider than it is shown
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}

FIGURES_JS = """() => [...document.querySelectorAll('article img[src*="results/"]')].map(img => ({
  src: img.getAttribute('src'), alt: img.alt, natural: img.naturalWidth,
  shown: img.getBoundingClientRect().width,
  caption: (img.closest('figure')?.querySelector('figcaption')?.innerText || '').trim()}))"""


@pytest.fixture
def desktop(new_context, watch: Watch):
    context = new_context()
    watch.attach(context)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.set_viewport_size(DESKTOP)
    yield page
    watch.assert_clean()


def test_every_question_page_shows_the_result_first_with_readable_figures(desktop):
    for q in QUESTIONS:
        open_page(desktop, f"research/{q.slug}/")
        desktop.wait_for_load_state("load")
        if (RESULTS / q.slug / "findings.json").is_file():
            top = desktop.locator(".result-card").first.evaluate(
                "el => el.getBoundingClientRect().top + window.scrollY")
            assert top < CARD_WITHIN_PX, f"{q.slug}: the result card starts {top:.0f}px down"
        for fig in desktop.evaluate(FIGURES_JS):
            where = f"{q.slug}: {fig['src']}"
            assert fig["caption"], f"{where} has no <figure> with a <figcaption>"
            assert len(fig["alt"]) > 30 and not fig["alt"].startswith("Result figure for"), (
                f"{where}: alt text must state the finding, got {fig['alt']!r}")
            if not fig["src"].endswith(".svg"):
                ratio = fig["natural"] / fig["shown"]
                assert ratio <= MAX_PIXEL_RATIO, (
                    f"{where} is {fig['natural']}px wide, shown at {fig['shown']:.0f}px "
                    f"({ratio:.2f}x): render it for a ~900px column (or as SVG)")
        assert "organism" in desktop.locator("article").inner_text().lower(), (
            f"{q.slug}: the page must say where its numbers come from")


def test_english_search_for_neuronpedia_shows_no_sample_latent_and_no_chinese_page(
        desktop, served_url):
    open_page(desktop, "")
    hits = search(desktop, "Neuronpedia")
    assert hits, "searching Neuronpedia should find the libraries page at least"
    shown = desktop.locator(".md-search-result__item:visible")
    text = " ".join(shown.all_inner_texts())
    assert "[sample]" not in text and "sample data" not in text, "sample latents are not findings"
    links = shown.locator("a.md-search-result__link").evaluate_all("els => els.map(e => e.href)")
    chinese = [h for h in links if h.startswith(f"{served_url}zh/")]
    assert not chinese, f"English search shows zh pages: {chinese}"


def test_reading_list_filters_in_the_browser(desktop):
    open_page(desktop, "reading-list/")
    entries = desktop.locator(".mi-entry[data-tags]")
    total = entries.count()
    assert total >= 60
    first_heading = desktop.locator("article h2").first.inner_text()
    assert first_heading.startswith("Reasoning models"), f"first section: {first_heading!r}"
    desktop.locator(".mi-filters button[data-filter-tag=sae]").click()
    visible = desktop.locator(".mi-entry[data-tags]:visible")
    tags = visible.evaluate_all("els => els.map(e => e.dataset.tags)")
    assert 0 < len(tags) < total and all("sae" in t.split() for t in tags), tags
    desktop.locator(".mi-filters button[data-filter-priority=core]").click()
    both = visible.evaluate_all("els => els.map(e => e.dataset.priority)")
    assert both and set(both) == {"core"} and len(both) <= len(tags)
    desktop.locator(".mi-filters button[data-filter-tag='']").click()
    desktop.locator(".mi-filters button[data-filter-priority='']").click()
    assert desktop.locator(".mi-entry[data-tags]:visible").count() == total
    assert "not yet verified" not in desktop.locator("article").inner_text()


def test_landing_page_links_to_every_question(desktop, served_url):
    open_page(desktop, "")
    hrefs = set(desktop.locator("article a[href]").evaluate_all("els => els.map(e => e.href)"))
    for q in catalog.load_research().questions:
        assert f"{served_url}research/{q.slug}/" in hrefs, f"the landing page misses {q.slug}"
    command = desktop.locator("article pre").first.inner_text()
    assert "git clone https://" in command, f"the first command needs the clone URL: {command!r}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_home_and_question_page(new_context, watch, artifacts, scheme):
    out = artifacts / "screenshots"
    out.mkdir(exist_ok=True)
    slug = next((q.slug for q in QUESTIONS if (RESULTS / q.slug / "findings.json").is_file()),
                QUESTIONS[0].slug)
    for name, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
        context = new_context(color_scheme=scheme, is_mobile=name == "mobile")
        watch.attach(context)
        page = context.new_page()
        page.set_viewport_size(viewport)
        for label, path in (("home", ""), (f"question-{slug}", f"research/{slug}/")):
            open_page(page, path)
            page.wait_for_load_state("load")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path or 'home'} overflows {name} by {overflow}px"
            page.screenshot(path=out / f"{label}-{name}-{scheme}.png")
        context.close()
    watch.assert_clean()
