"""Generate the catalog-driven pages from `docs/data/*.yaml` at build time (one source of truth).

Pages: getting-started.md, reading-list.md, libraries.md, research/index.md and one
research/<slug>.md per sub-question. They never exist on disk: `on_files` adds them with
`File.generated` at priority -200, after mkdocs-static-i18n (-100), and `on_config` adds the
question pages to the "Research" section of the nav (titled by their first heading, so the
Chinese edition's nav shows Chinese titles).

Chinese edition: mkdocs-static-i18n builds the site once per language into one site_dir. In the
`zh` pass every generated page gets a `zh/` prefix, its i18n metadata (locale, alternates) is set
here, and the renderers take an `Edition`: getting-started and the question pages use the catalogs'
`zh` fields, showing the English text under a "not translated yet" note where one is missing; the
other pages (and hand-written pages without a `.zh.md`) are shown in English under one such note.
Never imports torch.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

# mkdocs loads a hook by path; the site tooling (sitekit/, never installed) is at the repository root.
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sitekit import catalog  # noqa: E402 (needs the path above)
from sitekit.catalog import (  # noqa: E402
    GettingStarted,
    Libraries,
    Library,
    PriorWork,
    Question,
    ReadingEntry,
    ReadingList,
    Research,
    Site,
    Zh,
)
from sitekit.links import LinkCache  # noqa: E402 (site tooling, found through the path above)

GUIDE = "Neel Nanda's MATS application guide"
PRIORITY_HELP = {
    "core": "read closely, ideally with code open",
    "skim": "read the abstract, figures and conclusions",
    "deep-dive": "for when you work on this topic",
}
MANIFEST_KEYS = ("finished_at", "model")  # shown under a committed result
RESEARCH_NAV_ANCHOR = "research/index.md"
LINK_CACHE = Path(".cache") / "links.json"  # written by scripts/check_links.py (format: starter.links.LinkCache)
NOTEBOOK_BRANCH = "notebooks"  # .github/workflows/site.yml pushes the built notebooks here, for Colab
TRANSLATED = ("getting-started.md", "research/")  # generated pages that have a Chinese rendering


# NamedTuples rather than dataclasses: tests import this file by path, without a sys.modules entry,
# which dataclasses need to resolve postponed annotations.
class BuildState(NamedTuple):
    """Loaded in on_config (once per language pass) and read by the renderers."""

    site: Site
    repo_url: str | None  # mkdocs.yml repo_url: Colab links
    link_checks: dict[str, dict]  # url -> LinkCache entry of the link checker's cache


_state: BuildState | None = None


# --- editions: the words around the catalog text, per language -------------------------------------


class Edition(NamedTuple):
    """One language of the site. `text` picks a catalog entry's `zh` field, or falls back visibly."""

    lang: str
    words: dict[str, str]  # the page's own words, by key

    def __getitem__(self, key: str) -> str:
        return self.words[key]

    def zh(self, zh: Zh | None, name: str):
        """The translation of field `name`, or None (English edition, or not translated yet)."""
        if self.lang == "en" or zh is None:
            return None
        return getattr(zh, name)

    def text(self, english: str, zh: Zh | None, name: str) -> list[str]:
        """Markdown lines: the translation, or the English text under a "not translated yet" note."""
        if self.lang == "en":
            return [english]
        translated = self.zh(zh, name)
        return [translated] if translated else [*self.fallback_note(), english]

    def fallback_note(self, page: bool = False) -> list[str]:
        if self.lang == "en":
            return []
        body = self["fallback_page"] if page else self["fallback"]
        return [f'!!! note "{self["fallback_title"]}"', "", f"    {body}", ""]


EN = Edition("en", {
    "guide_quote": f"The question, quoted from {GUIDE}",
    "one_of_eight": "It is one of eight sub-questions of [Understanding thinking models](index.md#thinking-models).",
    "why": "Why it matters",
    "prior_work": "Prior work",
    "reading_list": "reading list",
    "hypotheses": "Hypotheses worth testing",
    "starter": "Starter",
    "planned": "Planned",
    "planned_body": "The starter `{starter}` is not written yet. Once it is, these commands run it:",
    "planned_draft": "The starter `{starter}` is being written and not marked ready yet; you can already "
                     "try its draft:",
    "run": "Run `{starter}`:",
    "notebook": "Download the notebook",
    "colab": "Open in Colab",
    "notebook_note": "The notebook's first cell installs this site's version of the package.",
    "code": "The code",
    "result": "Result",
    "no_result": "No result committed yet: run the starter and look in `runs/`.",
    "finished": "Run finished {finished_at} with `{model}`.",
    "figure": "Result figure for {slug}",
    "gs_title": "Getting started",
    "open": "Open it",
    "skip": "What to skip",
    "next": "Next",
    "next_body": "Pick papers from the [reading list](reading-list.md), install the [libraries](libraries.md), "
                 "then choose one of the [research questions](research/index.md).",
})

ZH = Edition("zh", {
    "guide_quote": f"原文（英文），引自 {GUIDE}",
    "our_translation": "我们的译文（非官方翻译，以英文原文为准）",
    "english_title": "英文标题：{title}",
    "one_of_eight": "这是 [Understanding thinking models（理解思考模型）](index.md#thinking-models)的八个子问题之一。",
    "why": "为什么重要",
    "prior_work": "已有工作",
    "reading_list": "阅读清单",
    "hypotheses": "值得检验的假设",
    "starter": "起步代码",
    "planned": "计划中",
    "planned_body": "起步代码 `{starter}` 还没有写好。写好之后，用下面的命令运行：",
    "planned_draft": "起步代码 `{starter}` 正在编写，尚未标记为可用；可以先试试草稿：",
    "run": "运行 `{starter}`：",
    "notebook": "下载 Jupyter 笔记本",
    "colab": "在 Colab 中打开",
    "notebook_note": "笔记本的第一个单元会安装与本站版本一致的软件包。",
    "code": "代码",
    "result": "结果",
    "no_result": "尚未提交结果：运行起步代码后，到 `runs/` 目录查看。",
    "finished": "运行完成于 {finished_at}，模型为 `{model}`。",
    "figure": "{slug} 的结果图",
    "result_in_english": "下面的结果摘要由代码自动生成，为英文。",
    "gs_title": "入门",
    "open": "打开",
    "skip": "可以跳过的部分",
    "next": "下一步",
    "next_body": "从[阅读清单](reading-list.md)中挑选论文，安装[工具库](libraries.md)，"
                 "然后选择一个[研究问题](research/index.md)。",
    "fallback_title": "尚未翻译",
    "fallback": "这一部分还没有中文译文，下面是英文原文。",
    "fallback_page": "本页还没有中文译文，下面是英文原文。",
})

EDITIONS = {edition.lang: edition for edition in (EN, ZH)}


# --- mkdocs events --------------------------------------------------------------------------------


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Runs once per language pass (mkdocs-static-i18n calls the build again); loading is idempotent."""
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
    """In a non-default language, a page that is not translated says so under its title."""
    lang, _ = current_language(config)
    if lang == "en" or getattr(page.file, "locale", lang) == lang:
        return markdown
    note = "\n".join(EDITIONS[lang].fallback_note(page=True))
    title, _, rest = markdown.partition("\n")
    if title.startswith("# "):
        return f"{title}\n\n{note}\n{rest}"
    return f"{note}\n{markdown}"


def current_language(config: MkDocsConfig) -> tuple[str, list[str]]:
    """(language of this build pass, every built language); a site without i18n is English only."""
    i18n = config.plugins.get("i18n")
    if i18n is None:
        return "en", ["en"]
    if i18n.default_language != "en":
        raise PluginError("the i18n plugin's default language must be en: the catalogs are written in English")
    return i18n.current_language or "en", list(i18n.build_languages)


def localise(file: File, config: MkDocsConfig, lang: str, languages: list[str], locale: str) -> None:
    """What mkdocs-static-i18n would have set on a docs file: zh/ prefix, locale, alternates.

    The language switcher reads `alternates[lang].url`; the sitemap lists the page with its alternates.
    """
    src = file.src_uri
    if lang != "en":
        file.dest_uri = f"{lang}/{file.dest_uri}"  # url/abs_dest_path derive from it on first use
    file.alternates = {alt: file if alt == lang else _page_in(alt, src, config) for alt in languages}
    file.locale = locale
    file.locale_alternate_of = lang
    file.localization = locale if locale != "en" else None
    file.norm_src_uri = src
    i18n = config.plugins.get("i18n")
    if i18n is not None and file.is_documentation_page():
        i18n.i18n_files_per_language.setdefault(lang, []).append(file)


def _page_in(lang: str, src: str, config: MkDocsConfig) -> File:
    """A stand-in for the same generated page in another language: only its URL is read."""
    other = File.generated(config, src, content="")
    if lang != "en":
        other.dest_uri = f"{lang}/{other.dest_uri}"
    return other


def _add_questions_to_nav(nav: list | None, research: Research) -> None:
    """Insert the question pages right after research/index.md in its nav section.

    Bare paths, so each nav entry is titled by the page's first heading ("a. Lucky or steady
    progress?" in English, the Chinese title in the Chinese edition).
    """
    for item in nav or []:
        if isinstance(item, dict):
            for children in item.values():
                if isinstance(children, list) and RESEARCH_NAV_ANCHOR in children:
                    new = [question_path(q) for q in research.questions if question_path(q) not in children]
                    at = children.index(RESEARCH_NAV_ANCHOR) + 1  # on_config runs once per language
                    children[at:at] = new
                    return
    raise PluginError(f"mkdocs.yml nav needs a section listing {RESEARCH_NAV_ANCHOR}; the question pages go there")


# --- link freshness and notebooks -----------------------------------------------------------------


def load_link_checks(path: Path) -> dict[str, dict]:
    """url -> {result, checked_at, ...} from the link checker's cache; {} before the first check."""
    return LinkCache(path).entries if path.is_file() else {}


def link_checked(url: str, checks: dict[str, dict]) -> str:
    """A small note saying when a link was last verified, from `scripts/check_links.py`'s cache.

    >>> link_checked("https://a.org", {"https://a.org": {"result": "ok", "checked_at": 0.0}})
    '<span class="mi-checked" title="Result of the weekly link check">link verified 1970-01-01</span>'
    >>> link_checked("https://b.org", {})
    '<span class="mi-checked" title="Result of the weekly link check">link not yet verified</span>'
    """
    entry = checks.get(url)
    if entry is None:
        text = "link not yet verified"
    else:
        day = datetime.fromtimestamp(float(entry["checked_at"]), tz=timezone.utc).strftime("%Y-%m-%d")
        text = {
            "ok": f"link verified {day}",
            "redirected": f"link verified {day} (it redirects)",
            "broken": f"link broken when checked {day}",
            "unverified": f"link could not be verified {day} (the host blocks checkers)",
        }.get(entry["result"], "link not yet verified")
    return f'<span class="mi-checked" title="Result of the weekly link check">{text}</span>'


def notebook_links(slug: str, repo_url: str | None, ed: Edition) -> list[str]:
    """Download link for the notebook docs/hooks/notebooks.py builds, and an Open-in-Colab link.

    Colab opens notebooks from GitHub, so it reads the copy the site workflow pushes to NOTEBOOK_BRANCH.
    """
    links = [f"[{ed['notebook']}](../notebooks/{slug}.ipynb){{ download }}"]
    parts = urlsplit(repo_url or "")
    if parts.netloc == "github.com":
        repo = parts.path.strip("/").removesuffix(".git")
        colab = f"https://colab.research.google.com/github/{repo}/blob/{NOTEBOOK_BRANCH}/{slug}.ipynb"
        links.append(f"[{ed['colab']}]({colab}){{ .mi-colab }}")
    return [" · ".join(links) + f" ({ed['notebook_note']})", ""]


# --- page registry --------------------------------------------------------------------------------


def question_path(q: Question) -> str:
    return f"research/{q.slug}.md"


def render_pages(state: BuildState, docs_dir: Path, root: Path, ed: Edition = EN) -> dict[str, str]:
    """Every generated page, path (relative to docs/) -> markdown, in edition `ed`.

    Pages without a Chinese rendering are rendered in English in every edition.
    """
    site = state.site
    pages = {
        "getting-started.md": render_getting_started(site.getting_started, ed),
        "reading-list.md": render_reading_list(site.reading_list, state.link_checks),
        "libraries.md": render_libraries(site.libraries, state.link_checks),
        "research/index.md": render_research_index(site.research),
    }
    for group in site.research.thinking_models.groups:
        group_zh = group.zh.quote if group.zh else None
        for q in group.questions:
            pages[question_path(q)] = render_question(
                q, group.quote, docs_dir / "results", root, ed=ed, group_quote_zh=group_zh, repo_url=state.repo_url
            )
    return pages


# --- small markdown helpers -----------------------------------------------------------------------


def code_block(code: str, lang: str, title: str | None = None) -> list[str]:
    """A fenced block whose fence is longer than any backtick run inside the code."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    header = f'{fence}{lang}' + (f' title="{title}"' if title else "")
    return [header, *code.rstrip("\n").splitlines(), fence]


def indent(lines: list[str], by: int = 4) -> list[str]:
    return [(" " * by + line) if line else "" for line in lines]


def cli_tabs(slug: str) -> list[str]:
    """CPU / GPU content tabs with the command that runs a starter."""
    lines: list[str] = []
    for label, preset in (("CPU", "cpu"), ("GPU", "gpu")):
        lines += [f'=== "{label}"', ""]
        lines += indent(code_block(f"mi-starter run {slug} --preset {preset}", "bash"))
        lines.append("")
    return lines


def quote_lines(text: str) -> tuple[str, list[str]]:
    """Split a quoted question into its first paragraph and its `- ` sub-items."""
    head, *rest = text.strip().splitlines()
    return head, [line[2:] for line in rest if line.startswith("- ")]


def quote_tree(group_quote: str, questions: list[Question]) -> list[str]:
    """Sub-questions nested under their parent bullet of the guide, as markdown list lines."""
    lines = [f"- {group_quote}"]
    for q in questions:
        head, subs = quote_lines(q.quote)
        lines += [f"    - {head}", *(f"        - {sub}" for sub in subs)]
    return lines


def shift_headings(markdown: str, by: int) -> str:
    """Demote headings outside code fences, so an embedded summary.md nests under our headings."""
    out, in_fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and re.match(r"#{1,6} ", line):
            line = "#" * by + line
        out.append(line)
    return "\n".join(out)


# --- pages ----------------------------------------------------------------------------------------


def render_getting_started(data: GettingStarted, ed: Edition = EN) -> str:
    lines = [f"# {ed['gs_title']}", "", *ed.text(data.intro, data.zh, "intro"), ""]
    for number, res in enumerate(data.resources, start=1):
        time = ed.zh(res.zh, "time") or res.time
        lines += [
            f"## {number}. {res.title} {{ #{res.id} }}",  # titles stay in English in every edition
            "",
            f"**{res.author}** · {time} · [{ed['open']}]({res.url})",
            "",
            *ed.text(res.annotation, res.zh, "annotation"),
            "",
            f'!!! tip "{ed["skip"]}"',
            "",
            *indent(ed.text(res.skip, res.zh, "skip")),
            "",
        ]
    lines += [f"## {ed['next']}", "", ed["next_body"], ""]
    return "\n".join(lines)


def render_reading_entry(entry: ReadingEntry, checks: dict[str, dict] | None = None) -> list[str]:
    tags = " ".join(f'<span class="mi-tag">{tag}</span>' for tag in entry.tags)
    badge = (
        f'<span class="mi-priority mi-priority--{entry.priority}" '
        f'title="{PRIORITY_HELP[entry.priority]}">{entry.priority}</span>'
    )
    return [
        f"### [{entry.title}]({entry.url}) {{ #{entry.id} }}",
        "",
        f"{badge} {entry.authors} · {entry.year} · {link_checked(entry.url, checks or {})}",
        "",
        entry.annotation,
        "",
        *([tags, ""] if tags else []),
    ]


def render_reading_list(reading: ReadingList, checks: dict[str, dict] | None = None) -> str:
    legend = "\n".join(
        f'- <span class="mi-priority mi-priority--{name}">{name}</span>: {help_text}'
        for name, help_text in PRIORITY_HELP.items()
    )
    lines = [
        "# Reading list",
        "",
        "Annotated papers and posts, in the order we suggest reading them. Each entry has a priority:",
        "",
        legend,
        "",
        "Each entry also says when our weekly link check last verified its link.",
        "",
    ]
    for section in reading.sections:
        lines += [f"## {section.title} {{ #{section.id} }}", "", section.intro, ""]
        for entry in section.entries:
            lines += render_reading_entry(entry, checks)
    return "\n".join(lines)


def render_library(lib: Library, checks: dict[str, dict] | None = None) -> list[str]:
    links = " · ".join([f"[Home page]({lib.url})", *(f"[{link.label}]({link.url})" for link in lib.links)])
    lines = [
        f"## {lib.name} {{ #{lib.id} }}",
        "",
        f"{links} · {link_checked(lib.url, checks or {})}",
        "",
        f"**What it is for.** {lib.purpose}",
        "",
        f"**When to pick it.** {lib.pick_when}",
        "",
    ]
    if lib.facts:
        lines += [*(f"- {fact}" for fact in lib.facts), ""]
    lines += code_block(lib.install, "bash", "Install (the version we test)")
    lines.append("")
    lines += code_block(lib.snippet, "python", "Runs offline on a CPU (executed by our tests)")
    lines.append("")
    return lines


def render_libraries(data: Libraries, checks: dict[str, dict] | None = None) -> str:
    lines = ["# Libraries", "", data.intro, "", "| Library | Install |", "| --- | --- |"]
    lines += [f"| [{lib.name}](#{lib.id}) | `{lib.install}` |" for lib in data.libraries]
    lines.append("")
    for lib in data.libraries:
        lines += render_library(lib, checks)
    return "\n".join(lines)


def render_research_index(research: Research) -> str:
    tm = research.thinking_models
    lines = ["# Research questions", "", research.intro, ""]
    lines += ["Sources: " + " · ".join(f"[{s.label}]({s.url})" for s in research.sources), ""]
    lines += ["## Research areas in the MATS guide", "", "Our one-paragraph summaries, not quotes.", ""]
    for area in research.areas:
        lines += [f"### {area.title} {{ #area-{area.id} }}", "", area.summary, ""]
    lines += [
        f"## {tm.title} {{ #thinking-models }}",
        "",
        f'!!! quote "Quoted in full from {GUIDE}"',
        "",
        f"    **{tm.title}**",
        "",
        f"    {tm.quote_intro}",
        "",
    ]
    for group in tm.groups:
        lines += indent(quote_tree(group.quote, group.questions))
    lines += [
        "",
        "## The eight sub-questions",
        "",
        "Each has its own page with prior work, hypotheses and a starter script.",
        "",
        "| | Question | Status | Starter |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {q.letter} | [{q.title}]({q.slug}.md) | {q.status} | `{q.starter}` |" for q in research.questions
    ]
    lines.append("")
    return "\n".join(lines)


def render_question(
    q: Question,
    group_quote: str,
    results_dir: Path,
    root: Path,
    *,
    ed: Edition = EN,
    group_quote_zh: str | None = None,
    repo_url: str | None = None,
) -> str:
    lines = ["---", "tags:", *(f"  - {tag}" for tag in q.tags), "---", ""] if q.tags else []
    title = ed.zh(q.zh, "title")
    lines += [f"# {q.letter}. {title or q.title}", ""]
    if title:
        lines += [f"*{ed['english_title'].format(title=q.title)}*", ""]
    lines += [f'!!! quote "{ed["guide_quote"]}"', "", *indent(quote_tree(group_quote, [q])), ""]
    if ed.lang != "en":
        lines += render_quote_translation(q, group_quote_zh, ed)
    lines += [ed["one_of_eight"], "", f"## {ed['why']}", "", *ed.text(q.why, q.zh, "why"), ""]
    lines += [f"## {ed['prior_work']}", ""]
    for work in q.prior_work:
        lines += render_prior_work(work, ed)
    hypotheses = ed.zh(q.zh, "hypotheses")
    lines += ["", f"## {ed['hypotheses']}", ""]
    if ed.lang != "en" and not hypotheses:
        lines += ed.fallback_note()
    lines += [f"{i}. {h}" for i, h in enumerate(hypotheses or q.hypotheses, start=1)]
    lines += ["", f"## {ed['starter']} {{ #starter }}", ""]
    lines += render_starter(q, results_dir, root, ed=ed, repo_url=repo_url)
    return "\n".join(lines) + "\n"


def render_prior_work(work: PriorWork, ed: Edition = EN) -> list[str]:
    """One list item: title, authors and year (in English in every edition), then our note on it.

    A note without a translation gets the "not translated yet" note inside its own list item, so the
    translated items around it stay as they are.
    """
    title = f"[{work.title}]({work.url})" if work.url else work.title
    ours = f" ([{ed['reading_list']}](../reading-list.md#{work.reading_list}))" if work.reading_list else ""
    head = f"- **{title}**, {work.authors} ({work.year}){ours}."
    note = ed.text(work.note, work.zh, "note")
    if len(note) == 1:
        return [f"{head} {note[0]}"]
    return ["", head, "", *indent(note), ""]  # a loose item: the admonition and the English note nest in it


def render_quote_translation(q: Question, group_quote_zh: str | None, ed: Edition) -> list[str]:
    """Our translation of the quoted question, beside the English quote (which stays authoritative)."""
    question_zh = ed.zh(q.zh, "quote")
    if not question_zh:
        return ed.fallback_note()
    head, subs = quote_lines(question_zh)
    tree = [f"- {group_quote_zh}", f"    - {head}"] if group_quote_zh else [f"- {head}"]
    tree += [f"{'        ' if group_quote_zh else '    '}- {sub}" for sub in subs]
    return [f'!!! quote "{ed["our_translation"]}"', "", *indent(tree), ""]


def render_starter(q: Question, results_dir: Path, root: Path, *, ed: Edition = EN,
                   repo_url: str | None = None) -> list[str]:
    exists = (root / q.starter).is_file()
    if q.status == "planned":
        body = ed["planned_draft" if exists else "planned_body"].format(starter=q.starter)
        lines = [f'!!! info "{ed["planned"]}"', "", f"    {body}", "", *indent(cli_tabs(q.slug))]
        return lines + (notebook_links(q.slug, repo_url, ed) if exists else [])
    # The catalog refuses a ready question without its starter file; a partial tree (a test, a fork mid-edit)
    # still renders, without a notebook to link or code to show.
    lines = [ed["run"].format(starter=q.starter), "", *cli_tabs(q.slug)]
    if exists:
        lines += [*notebook_links(q.slug, repo_url, ed), f"### {ed['code']}", ""]
        lines += code_block((root / q.starter).read_text(encoding="utf-8"), "python", q.starter)
    lines += ["", f"### {ed['result']}", "", *render_result(q.slug, results_dir / q.slug, ed)]
    # "What to try next" comes with the result: summary.md renders the starter's own `try_next`.
    return lines


def render_result(slug: str, result_dir: Path, ed: Edition = EN) -> list[str]:
    """The committed result in docs/results/<slug>/, if there is one, with when it was produced."""
    if not result_dir.is_dir():
        return [ed["no_result"], ""]
    lines: list[str] = []
    manifest_path = result_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        missing = [key for key in MANIFEST_KEYS if key not in manifest]
        if missing:
            raise PluginError(f"{manifest_path} lacks {missing}; the result page shows {list(MANIFEST_KEYS)}")
        lines += [ed["finished"].format(finished_at=manifest["finished_at"], model=manifest["model"]), ""]
    if (result_dir / "figure.png").is_file():
        lines += [f"![{ed['figure'].format(slug=slug)}](../results/{slug}/figure.png)", ""]
    summary = result_dir / "summary.md"
    if summary.is_file():
        if ed.lang != "en":
            lines += [ed["result_in_english"], ""]
        lines += [shift_headings(summary.read_text(encoding="utf-8"), by=3), ""]
    return lines
