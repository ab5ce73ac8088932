"""The mkdocs events of the site build: load the catalogs (`on_config`), add the generated pages
(`on_files`, at priority -200, after mkdocs-static-i18n's -100) and the "not translated yet" note
(`on_page_markdown`). The "Research" section of the nav gets one sub-section per research area:
the area's page, then its question pages, each titled by its first heading (so the Chinese
edition's nav shows Chinese titles). docs/hooks/generate.py is the
entry point mkdocs.yml names. Never imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from sitekit import catalog
from sitekit.catalog import Research
from sitekit.pages import home, notation
from sitekit.pages.i18n import EDITIONS, TRANSLATED, current_language, localise
from sitekit.pages.render import (
    BuildState,
    area_path,
    load_link_checks,
    question_path,
    render_pages,
)

RESEARCH_NAV_ANCHOR = "research/index.md"
LINK_CACHE = Path(".cache") / "links.json"  # written by scripts/check_links.py (sitekit.links)

_state: BuildState | None = None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Runs once per language pass (mkdocs-static-i18n calls the build again); idempotent."""
    global _state
    root = Path(config.config_file_path).parent
    try:
        site = catalog.load_site(Path(config.docs_dir) / "data", root=root)
    except catalog.CatalogError as err:
        raise PluginError(str(err)) from err
    _state = BuildState(site, config.repo_url, load_link_checks(root / LINK_CACHE))
    _add_questions_to_nav(config.nav, site.research)
    return config


@event_priority(-200)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    assert _state is not None, "on_config loads the catalogs before on_files"
    root = Path(config.config_file_path).parent
    lang, languages = current_language(config)
    edition = EDITIONS[lang]
    pages = render_pages(_state, Path(config.docs_dir), root, edition)
    for path, content in pages.items():
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"docs/{path} is generated from docs/data/; delete the file on disk")
        file = File.generated(config, path, content=content)
        translated = lang == "en" or path.startswith(TRANSLATED)
        localise(file, config, lang, languages, locale=lang if translated else "en")
        files.append(file)
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """In a non-default language, a page that is not translated says so under its title. The
    landing page's markers become the questions grid, the hero's runtimes and the first command.
    Every page's intervals are put in the site's one notation (sitekit/pages/notation.py)."""
    lang, _ = current_language(config)
    if page.file.src_uri in ("index.md", "index.zh.md") and _state is not None:
        results_dir = Path(config.docs_dir) / "results"
        root = Path(config.config_file_path).parent
        edition = EDITIONS[lang]
        grid = home.questions_grid(_state.site.research, results_dir, edition.words, edition, root)
        markdown = markdown.replace(home.GRID_MARKER, "\n".join(grid))
        markdown = markdown.replace(home.RUNTIME_MARKER, home.hero_runtime(results_dir, lang))
        command = home.first_command(config.repo_url)
        markdown = markdown.replace(home.COMMAND_MARKER, "\n".join(command))
    markdown = notation.normalise(markdown)
    if lang == "en" or getattr(page.file, "locale", lang) == lang:
        return markdown
    note = "\n".join(EDITIONS[lang].fallback_note(page=True))
    title, _, rest = markdown.partition("\n")
    if title.startswith("# "):
        return f"{title}\n\n{note}\n{rest}"
    return f"{note}\n{markdown}"


# <link rel="alternate" hreflang> in the head: material fetches `sitemap.xml` next to each of them,
# expecting a language root, and the i18n plugin points them at the page's translation (two 404s a
# page). The sitemap carries the same hreflang alternates, and the header's switcher links stay.
HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return relative_links(HEAD_ALTERNATE.sub("", output), page.url, config.site_url)


def relative_links(output: str, page_url: str, site_url: str | None) -> str:
    """Links that mkdocs-static-i18n writes as absolute paths under site_url's path (the
    language switcher: `/thinking-models-hub/zh/`) made relative to the page, so the site works
    at any path, its root included.

    >>> relative_links('<a href="/hub/zh/">', "research/sae/", "https://x.io/hub/")
    '<a href="../../zh/">'
    >>> relative_links('<a href="/hub/">', "", "https://x.io/hub/")
    '<a href="./">'
    """
    base = urlsplit(site_url or "/").path.rstrip("/") + "/"

    def rewrite(match: re.Match) -> str:
        target = match.group(2)[len(base):]
        return f'{match.group(1)}="{get_relative_url(target or "./", page_url or ".")}"'

    return re.sub(rf'(href|src)="({re.escape(base)}(?!/)[^"]*)"', rewrite, output)


def area_nav(research: Research) -> list[dict[str, list[str]]]:
    """One nav section per area, titled with the area's title: its page, then its questions."""
    return [
        {area.title: [area_path(area.id), *map(question_path, research.questions_of(area.id))]}
        for area in research.areas
    ]


def _add_questions_to_nav(nav: list | None, research: Research) -> None:
    """Insert the area sections right after research/index.md in its nav section.

    Bare paths, so each nav entry is titled by the page's first heading ("a. Lucky or steady
    progress?" in English, the Chinese title in the Chinese edition).
    """
    for item in nav or []:
        if isinstance(item, dict):
            for children in item.values():
                if isinstance(children, list) and RESEARCH_NAV_ANCHOR in children:
                    sections = area_nav(research)
                    new = [section for section in sections if section not in children]
                    at = children.index(RESEARCH_NAV_ANCHOR) + 1  # on_config runs once per language
                    children[at:at] = new
                    return
    raise PluginError(
        f"mkdocs.yml nav needs a section listing {RESEARCH_NAV_ANCHOR}; the area and question "
        "pages go there"
    )
