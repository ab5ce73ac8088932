"""The newcomer's first hour (issue 27), in chromium at 1280x800 and 390x844, light and dark, on
the site served at its GitHub Pages path and at the root of a host:

- a walk home -> question -> the run command, which starts with `.venv/bin/mi-starter` (runs as
  pasted); the GPU tab names the model, the `--dry-run` plan and the CUDA install lines;
- home cards: the primary claim with its verdict, a validation badge with data-validation;
- search: the count equals the results listed, in both languages; a zh search for an
  English-only term lists the English pages, each marked;
- figures at 390 px shown at >= 50% of their natural width, inverted in dark mode; badge contrast
  >= 4.5:1 in dark mode; the language link works wherever the site is served.

Every page opens in a watched context (conftest.py). Screenshots: test-artifacts/first-hour/.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path

import pytest

from sitekit import catalog
from sitekit.pages.notation import normalise

from .conftest import HOST, REPO_ROOT, Watch, _QuietHandler, _Server

RESULTS = REPO_ROOT / "docs" / "results"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
QUESTIONS = catalog.load_research().questions
READY = [q for q in QUESTIONS if (RESULTS / q.slug / "findings.json").is_file()]
ENGLISH_ONLY = "superposition"  # in the reading list's annotations; no zh page has the word


@pytest.fixture(scope="session")
def root_url(site_dir: Path) -> str:
    """The same built site served at the root of a host: http://127.0.0.1:<port>/."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = _Server((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{HOST}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["subpath", "root"])
def site_url(request, served_url: str, root_url: str) -> str:
    return served_url if request.param == "subpath" else root_url


def watched_page(new_context, watch: Watch, viewport: dict, scheme: str = "light"):
    context = new_context(color_scheme=scheme, is_mobile=viewport is MOBILE)
    watch.attach(context)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.set_viewport_size(viewport)
    return page


def goto(page, url: str):
    response = page.goto(url)
    assert response is not None and response.ok, f"GET {url} -> {response and response.status}"
    page.wait_for_load_state("load")
    return page


def run_search(page, query: str) -> tuple[int, list[str], int]:
    """(the count material prints, the result links listed after scrolling to the end, marks)."""
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press("End")
    page.wait_for_selector(".md-search-result__item")
    previous = -1
    for _ in range(40):  # material lists 10 results, then more as the list scrolls
        count = page.locator(".md-search-result__item").count()
        if count == previous:
            break
        previous = count
        page.evaluate("() => { const s = document.querySelector('.md-search__scrollwrap');"
                      " if (s) s.scrollTop = s.scrollHeight; }")
        page.wait_for_timeout(250)
    meta = page.locator(".md-search-result__meta").inner_text()
    number = re.search(r"\d+", meta)
    counted = int(number.group()) if number else (1 if meta else 0)
    links = page.locator(".md-search-result__item:visible").evaluate_all(
        "els => els.map(e => e.querySelector('a.md-search-result__link').href)")
    marks = page.locator(".md-search-result__item:visible .mi-search-lang").count()
    return counted, links, marks


# --- the walk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["1280", "390"])
def test_newcomer_walk_home_question_command(new_context, watch, artifacts, site_url, viewport,
                                             scheme):
    out = artifacts / "first-hour"
    out.mkdir(exist_ok=True)
    name = f"{'root' if site_url.count('/') == 3 else 'subpath'}-{viewport['width']}-{scheme}"
    page = watched_page(new_context, watch, viewport, scheme)
    goto(page, site_url)
    page.screenshot(path=out / f"home-{name}.png")
    q = READY[0]
    card = page.locator(f'.mi-questions a[href$="research/{q.slug}/"]').last
    card.scroll_into_view_if_needed()
    card.click()
    page.wait_for_load_state("load")
    assert page.url.rstrip("/").endswith(f"research/{q.slug}"), page.url
    page.screenshot(path=out / f"question-{name}.png")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{q.slug} overflows the {viewport['width']} px screen by {overflow}px"
    command = page.locator("#starter ~ .tabbed-set .tabbed-block").first.inner_text()
    lines = [line for line in command.splitlines() if "mi-starter" in line]
    assert lines and all(line.startswith(".venv/bin/mi-starter ") for line in lines), command
    page.locator(".tabbed-labels label", has_text="GPU").first.click()
    gpu = page.locator("#starter ~ .tabbed-set .tabbed-block").nth(1).inner_text()
    for word in ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "generations", "GB weights",
                 "KV cache", "make install", "--dry-run"):
        assert word in gpu, f"the GPU tab of {q.slug} lacks {word!r}:\n{gpu}"
    page.screenshot(path=out / f"gpu-tab-{name}.png")
    page.context.close()
    watch.assert_clean()


def test_language_link_works_at_the_root_and_at_the_subpath(new_context, watch, site_url):
    page = watched_page(new_context, watch, DESKTOP)
    for path, lang in (("", "zh"), (f"research/{READY[0].slug}/", "zh"), ("zh/", "en")):
        goto(page, site_url + path)
        href = page.locator(f'a.md-select__link[hreflang="{lang}"]').first.get_attribute("href")
        assert not href.startswith("/"), f"{path or 'home'}: absolute language link {href!r}"
        goto(page, page.evaluate(f"new URL({json.dumps(href)}, location.href).href"))
        assert page.locator("html").get_attribute("lang").startswith(lang)
    page.context.close()
    watch.assert_clean()


# --- home cards --------------------------------------------------------------------------------


def _primary(slug: str) -> dict:
    claims = json.loads((RESULTS / slug / "findings.json").read_text(encoding="utf-8"))
    return next((c for c in claims if c.get("primary") is True), claims[0])


def _validation(slug: str) -> str:
    path = RESULTS / slug / "validation" / "validation.json"
    if not path.is_file():
        return "none"
    return "passes" if json.loads(path.read_text(encoding="utf-8"))["recovered"] else "fails"


def test_home_cards_show_the_primary_claim_and_the_validation(new_context, watch, served_url):
    page = watched_page(new_context, watch, DESKTOP)
    goto(page, served_url)
    for q in READY:
        card = page.locator(".mi-questions li").filter(
            has=page.locator(f'a[href$="research/{q.slug}/"]')).first
        claim = _primary(q.slug)
        text = card.inner_text()
        # markdown, rendered, in the site's one interval notation (sitekit/pages/notation.py)
        said = normalise(claim["claim"]).replace("`", "").replace("*", "")
        assert said in text and claim["metric"].replace("`", "") in text, f"{q.slug}: {text}"
        assert card.locator(".mi-verdict").first.inner_text().lower() == claim["verdict"]
        badge = card.locator("[data-validation]")
        assert badge.get_attribute("data-validation") == _validation(q.slug), q.slug
    page.context.close()
    watch.assert_clean()


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,query", [("", "backtracking"), ("zh/", "Neuronpedia"),
                                        ("zh/", "回溯")])
def test_search_count_equals_the_results_listed(new_context, watch, served_url, path, query):
    page = watched_page(new_context, watch, DESKTOP)
    goto(page, served_url + path)
    counted, links, marks = run_search(page, query)
    assert counted == len(links) > 0, f"{query!r}: says {counted}, lists {len(links)}"
    in_zh = [link.startswith(f"{served_url}zh/") for link in links]
    assert all(in_zh) if path else not any(in_zh), f"{query!r} leaves the page's language: {links}"
    assert marks == 0
    page.context.close()
    watch.assert_clean()


def test_zh_search_for_an_english_only_term_lists_the_english_pages_marked(new_context, watch,
                                                                          served_url):
    page = watched_page(new_context, watch, DESKTOP)
    goto(page, served_url + "zh/")
    counted, links, marks = run_search(page, ENGLISH_ONLY)
    assert counted == len(links) > 0, f"says {counted}, lists {len(links)}"
    assert not any(link.startswith(f"{served_url}zh/") for link in links), links
    assert marks == len(links), "each English result carries its language mark"
    page.context.close()
    watch.assert_clean()


# --- figures and badges ------------------------------------------------------------------------

FIGURES_JS = """() => [...document.querySelectorAll('figure.mi-figure img')].map(img => ({
  src: img.getAttribute('src'), natural: img.naturalWidth,
  shown: img.getBoundingClientRect().width, filter: getComputedStyle(img).filter}))"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_figures_on_a_phone_keep_half_their_width_and_go_dark(new_context, watch, served_url,
                                                              scheme):
    page = watched_page(new_context, watch, MOBILE, scheme)
    for q in READY[:4]:
        goto(page, f"{served_url}research/{q.slug}/")
        figures = page.evaluate(FIGURES_JS)
        assert figures, f"{q.slug} shows no figure"
        for fig in figures:
            page.locator(f'figure.mi-figure img[src="{fig["src"]}"]').scroll_into_view_if_needed()
            fig = next(f for f in page.evaluate(FIGURES_JS) if f["src"] == fig["src"])
            assert fig["shown"] >= 0.5 * fig["natural"] - 1, (
                f"{q.slug}: {fig['src']} is {fig['natural']} px, shown at {fig['shown']:.0f} px")
            assert ("invert" in fig["filter"]) == (scheme == "dark"), fig
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{q.slug}: the figure must scroll inside its box, not the page"
    page.context.close()
    watch.assert_clean()


CONTRAST_JS = """(sel) => [...document.querySelectorAll(sel)].slice(0, 40).map(el => {
  const s = getComputedStyle(el); return [el.textContent.trim(), s.color, s.backgroundColor]; })"""


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", rgb)[:3])
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two computed rgb() colours.

    >>> round(contrast("rgb(255, 255, 255)", "rgb(0, 0, 0)"), 1)
    21.0
    """
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_badges_have_contrast_in_both_schemes(new_context, watch, served_url, scheme):
    page = watched_page(new_context, watch, DESKTOP, scheme)
    for path, selector in (("reading-list/", ".mi-priority"), ("", ".mi-verdict"),
                           (f"research/{READY[0].slug}/", ".mi-verdict")):
        goto(page, served_url + path)
        badges = page.evaluate(CONTRAST_JS, selector)
        assert badges, f"no {selector} on {path or 'home'}"
        for text, fg, bg in badges:
            ratio = contrast(fg, bg)
            assert ratio >= 4.5, f"{scheme}: {text!r} badge {fg} on {bg} is {ratio:.1f}:1"
    page.context.close()
    watch.assert_clean()
