"""The site as readers meet it, in a real browser (chromium): navigation, search, copy buttons,
content tabs, language switcher, notebook download, mobile layout, dark mode, no errors.

Every test runs on a watched browser context (see conftest.py): a request to another host, a console
error or a failed request fails it. Screenshots land in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import json

import pytest

from sitekit import catalog
from starter.questions import available

QUESTIONS = catalog.load_research().questions
READER_PAGES = ["", "getting-started/", "reading-list/", "libraries/", "research/", "research/steering/",
                "organism/", "zh/", "zh/getting-started/", "zh/research/sae/"]


def open_page(page, path: str):
    response = page.goto(path)
    assert response is not None and response.ok, f"GET {path} -> {response and response.status}"
    return page


def title(page) -> str:
    """The page's h1 without material's permalink sign."""
    return page.locator("h1").first.inner_text().rstrip("¶").strip()


def nav_hrefs(page) -> set[str]:
    """Absolute URLs of every link in the primary navigation (material renders it on every page)."""
    return set(page.locator("nav.md-nav--primary a.md-nav__link[href]").evaluate_all("els => els.map(e => e.href)"))


def search(page, query: str) -> list[str]:
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press("End")  # material searches on keyup
    page.wait_for_selector(".md-search-result__item")
    return page.locator("a.md-search-result__link").evaluate_all("els => els.map(e => e.href.split('?')[0])")


def test_home_renders_with_navigation(page, artifacts):
    open_page(page, "")
    assert title(page) == "Mechanistic interpretability of thinking models"
    tabs = page.locator(".md-tabs__link").all_inner_texts()
    for tab in ("Home", "Get started", "Research", "Model organism", "About"):
        assert any(tab == t.strip() for t in tabs), f"top navigation tab {tab!r} missing; tabs: {tabs}"
    page.screenshot(path=artifacts / "home.png")


def test_every_question_page_is_reachable_from_the_nav(page, served_url):
    open_page(page, "research/")
    links = nav_hrefs(page)
    for q in QUESTIONS:
        url = f"{served_url}research/{q.slug}/"
        assert url in links, f"research/{q.slug}/ is not in the navigation (docs/hooks/generate.py adds it)"
        open_page(page, url)
        assert title(page).startswith(q.label), f"{url}: unexpected title"


@pytest.mark.parametrize(("start", "query", "expected"), [("", "backtracking", "research/steering/"),
                                                          ("", "Llama Scope", "research/sae/"),
                                                          ("zh/", "引导向量", "zh/research/steering/")])
def test_search_finds_the_question_page(page, served_url, start, query, expected):
    open_page(page, start)
    hits = search(page, query)
    assert f"{served_url}{expected}" in hits, f"searching {query!r} should find {expected}; got {hits[:10]}"


def test_code_copy_button_copies_the_code(page, context, served_url):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served_url.split("/thinking")[0])
    open_page(page, "libraries/")
    block = page.locator(".md-typeset pre").first
    block.hover()
    button = page.locator(".md-typeset .md-code__button[data-md-type=copy], .md-typeset button.md-clipboard").first
    button.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    shown = block.locator("code").inner_text()
    assert copied.strip() and copied.strip() == shown.strip(), f"copied {copied!r}, the block shows {shown!r}"


def test_cpu_gpu_tabs_switch(page):
    open_page(page, "research/steering/")
    tabs = page.locator(".tabbed-set").first
    cpu, gpu = tabs.locator(".tabbed-block").nth(0), tabs.locator(".tabbed-block").nth(1)
    assert cpu.is_visible() and not gpu.is_visible(), "the CPU tab should be open first"
    tabs.locator(".tabbed-labels label", has_text="GPU").click()
    assert gpu.is_visible() and not cpu.is_visible(), "clicking GPU should show the GPU command"
    assert "--preset gpu" in gpu.inner_text()


def test_pages_load_without_errors_or_other_hosts(page):
    """The watched context fails this test at teardown on any console error, failed or external request."""
    for path in READER_PAGES:
        open_page(page, path)
        page.wait_for_load_state("networkidle")


def test_language_switcher_goes_to_the_chinese_page_and_back(page, served_url):
    open_page(page, "research/steering/")
    page.locator(".md-header__option .md-select").first.hover()
    page.locator("a.md-select__link[hreflang=zh]").first.click()
    page.wait_for_url(f"{served_url}zh/research/steering/")
    assert "引导向量" in title(page)
    page.locator(".md-header__option .md-select").first.hover()
    page.locator("a.md-select__link[hreflang=en]").first.click()
    page.wait_for_url(f"{served_url}research/steering/")


def test_question_page_offers_its_notebook(page, served_url, tmp_path):
    ready = [q for q in QUESTIONS if q.slug in available()]
    if not ready:
        pytest.skip("no starter file exists yet, so no question page links a notebook")
    q = ready[0]
    open_page(page, f"research/{q.slug}/")
    link = page.locator(f'a[download][href$="notebooks/{q.slug}.ipynb"]')
    colab = page.locator("a.mi-colab")
    assert "colab.research.google.com/github/" in colab.get_attribute("href"), "the Colab link needs repo_url"
    with page.expect_download() as download:
        link.click()
    path = tmp_path / f"{q.slug}.ipynb"
    download.value.save_as(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["cells"][0]["metadata"]["tags"] == ["install"] and "%pip install" in "".join(nb["cells"][0]["source"])


@pytest.mark.browser_context_args(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
def test_mobile_layout_has_no_horizontal_overflow(page, artifacts):
    for path in READER_PAGES:
        open_page(page, path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path or 'home'} is {overflow}px wider than a 390px phone screen"
    open_page(page, "research/steering/")
    page.screenshot(path=artifacts / "question-steering-mobile.png")


def test_dark_mode_toggles(page):
    open_page(page, "")
    scheme = lambda: page.locator("body").get_attribute("data-md-color-scheme")  # noqa: E731
    background = lambda: page.evaluate("getComputedStyle(document.body).backgroundColor")  # noqa: E731
    before, bg_before = scheme(), background()
    page.locator("form[data-md-component=palette] label:visible").first.click()
    assert {before, scheme()} == {"default", "slate"}, f"palette toggle went from {before!r} to {scheme()!r}"
    assert background() != bg_before, "switching to dark mode should change the page background"


def test_screenshots_of_a_question_page_and_the_reading_list(page, artifacts):
    open_page(page, "research/steering/")
    page.screenshot(path=artifacts / "question-steering.png")
    open_page(page, "zh/research/steering/")
    page.screenshot(path=artifacts / "question-steering-zh.png")
    open_page(page, "reading-list/")
    assert "not yet verified" not in page.locator("article").inner_text(), "a date or nothing"
    page.screenshot(path=artifacts / "reading-list.png")
