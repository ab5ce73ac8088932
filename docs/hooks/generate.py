"""Generate the catalog-driven pages from `docs/data/*.yaml` at build time (one source of truth).

Pages: getting-started.md, reading-list.md, libraries.md, research/index.md and one
research/<slug>.md per sub-question. They never exist on disk: `on_files` adds them with
`File.generated` at priority -200, which is where mkdocs-static-i18n expects generated pages, and
`on_config` adds the question pages to the "Research" section of the nav. Each page is rendered
by one small function from typed catalog objects (`starter.catalog`), so a Chinese edition can
call the same functions with the entries' `zh` text later. Never imports torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from starter import catalog
from starter.catalog import (
    GettingStarted,
    Libraries,
    Library,
    Question,
    ReadingEntry,
    ReadingList,
    Research,
    Site,
)

GUIDE = "Neel Nanda's MATS application guide"
PRIORITY_HELP = {
    "core": "read closely, ideally with code open",
    "skim": "read the abstract, figures and conclusions",
    "deep-dive": "for when you work on this topic",
}
MANIFEST_KEYS = ("finished_at", "model")  # shown under a committed result
RESEARCH_NAV_ANCHOR = "research/index.md"

_site: Site | None = None  # loaded once per build in on_config, reused for every language pass


# --- mkdocs events --------------------------------------------------------------------------------


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _site
    root = Path(config.config_file_path).parent
    try:
        _site = catalog.load_site(Path(config.docs_dir) / "data", root=root)
    except catalog.CatalogError as err:
        raise PluginError(str(err)) from err
    _add_questions_to_nav(config.nav, _site.research)
    return config


@event_priority(-200)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    assert _site is not None, "on_config loads the catalogs before on_files"
    root = Path(config.config_file_path).parent
    for path, content in render_pages(_site, Path(config.docs_dir), root).items():
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"docs/{path} is generated from docs/data/; delete the file on disk")
        files.append(File.generated(config, path, content=content))
    return files


def _add_questions_to_nav(nav: list | None, research: Research) -> None:
    """Insert one nav entry per sub-question right after research/index.md in its nav section."""
    for item in nav or []:
        if isinstance(item, dict):
            for children in item.values():
                if isinstance(children, list) and RESEARCH_NAV_ANCHOR in children:
                    listed = {path for child in children if isinstance(child, dict) for path in child.values()}
                    new = [
                        {f"{q.letter}. {q.title}": question_path(q)}
                        for q in research.questions
                        if question_path(q) not in listed  # on_config may run twice on one config
                    ]
                    at = children.index(RESEARCH_NAV_ANCHOR) + 1
                    children[at:at] = new
                    return
    raise PluginError(f"mkdocs.yml nav needs a section listing {RESEARCH_NAV_ANCHOR}; the question pages go there")


# --- page registry --------------------------------------------------------------------------------


def question_path(q: Question) -> str:
    return f"research/{q.slug}.md"


def render_pages(site: Site, docs_dir: Path, root: Path) -> dict[str, str]:
    """Every generated page, path (relative to docs/) -> markdown."""
    pages = {
        "getting-started.md": render_getting_started(site.getting_started),
        "reading-list.md": render_reading_list(site.reading_list),
        "libraries.md": render_libraries(site.libraries),
        "research/index.md": render_research_index(site.research),
    }
    for group in site.research.thinking_models.groups:
        for q in group.questions:
            pages[question_path(q)] = render_question(q, group.quote, docs_dir / "results", root)
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


def render_getting_started(data: GettingStarted) -> str:
    lines = ["# Getting started", "", data.intro, ""]
    for number, res in enumerate(data.resources, start=1):
        lines += [
            f"## {number}. {res.title} {{ #{res.id} }}",
            "",
            f"**{res.author}** · {res.time} · [Open it]({res.url})",
            "",
            res.annotation,
            "",
            '!!! tip "What to skip"',
            "",
            f"    {res.skip}",
            "",
        ]
    lines += [
        "## Next",
        "",
        "Pick papers from the [reading list](reading-list.md), install the [libraries](libraries.md), "
        "then choose one of the [research questions](research/index.md).",
        "",
    ]
    return "\n".join(lines)


def render_reading_entry(entry: ReadingEntry) -> list[str]:
    tags = " ".join(f'<span class="mi-tag">{tag}</span>' for tag in entry.tags)
    badge = (
        f'<span class="mi-priority mi-priority--{entry.priority}" '
        f'title="{PRIORITY_HELP[entry.priority]}">{entry.priority}</span>'
    )
    return [
        f"### [{entry.title}]({entry.url}) {{ #{entry.id} }}",
        "",
        f"{badge} {entry.authors} · {entry.year}",
        "",
        entry.annotation,
        "",
        *([tags, ""] if tags else []),
    ]


def render_reading_list(reading: ReadingList) -> str:
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
    ]
    for section in reading.sections:
        lines += [f"## {section.title} {{ #{section.id} }}", "", section.intro, ""]
        for entry in section.entries:
            lines += render_reading_entry(entry)
    return "\n".join(lines)


def render_library(lib: Library) -> list[str]:
    links = " · ".join([f"[Home page]({lib.url})", *(f"[{link.label}]({link.url})" for link in lib.links)])
    lines = [
        f"## {lib.name} {{ #{lib.id} }}",
        "",
        links,
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


def render_libraries(data: Libraries) -> str:
    lines = ["# Libraries", "", data.intro, "", "| Library | Install |", "| --- | --- |"]
    lines += [f"| [{lib.name}](#{lib.id}) | `{lib.install}` |" for lib in data.libraries]
    lines.append("")
    for lib in data.libraries:
        lines += render_library(lib)
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


def render_question(q: Question, group_quote: str, results_dir: Path, root: Path) -> str:
    lines = ["---", "tags:", *(f"  - {tag}" for tag in q.tags), "---", ""] if q.tags else []
    lines += [
        f"# {q.letter}. {q.title}",
        "",
        f'!!! quote "The question, quoted from {GUIDE}"',
        "",
        *indent(quote_tree(group_quote, [q])),
        "",
        "It is one of eight sub-questions of [Understanding thinking models](index.md#thinking-models).",
        "",
        "## Why it matters",
        "",
        q.why,
        "",
        "## Prior work",
        "",
    ]
    for work in q.prior_work:
        title = f"[{work.title}]({work.url})" if work.url else work.title
        ours = f" ([reading list](../reading-list.md#{work.reading_list}))" if work.reading_list else ""
        lines.append(f"- **{title}**, {work.authors} ({work.year}){ours}. {work.note}")
    lines += ["", "## Hypotheses worth testing", ""]
    lines += [f"{i}. {h}" for i, h in enumerate(q.hypotheses, start=1)]
    lines += ["", "## Starter { #starter }", ""]
    lines += render_starter(q, results_dir, root)
    return "\n".join(lines) + "\n"


def render_starter(q: Question, results_dir: Path, root: Path) -> list[str]:
    if q.status == "planned":
        return [
            '!!! info "Planned"',
            "",
            f"    The starter `{q.starter}` is not written yet. Once it is, these commands run it:",
            "",
            *cli_tabs(q.slug),
        ]
    lines = [f"Run `{q.starter}`:", "", *cli_tabs(q.slug), "### The code", ""]
    lines += code_block((root / q.starter).read_text(encoding="utf-8"), "python", q.starter)
    lines += ["", "### Result", "", *render_result(q.slug, results_dir / q.slug), "### What to try next", ""]
    lines += [f"- {idea}" for idea in q.try_next]
    lines.append("")
    return lines


def render_result(slug: str, result_dir: Path) -> list[str]:
    """The committed result in docs/results/<slug>/, if there is one."""
    if not result_dir.is_dir():
        return ["No result committed yet: run the starter and look in `runs/`.", ""]
    lines: list[str] = []
    manifest_path = result_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        missing = [key for key in MANIFEST_KEYS if key not in manifest]
        if missing:
            raise PluginError(f"{manifest_path} lacks {missing}; the result page shows {list(MANIFEST_KEYS)}")
        lines += [f"Run finished {manifest['finished_at']} with `{manifest['model']}`.", ""]
    if (result_dir / "figure.png").is_file():
        lines += [f"![Result figure for {slug}](../results/{slug}/figure.png)", ""]
    summary = result_dir / "summary.md"
    if summary.is_file():
        lines += [shift_headings(summary.read_text(encoding="utf-8"), by=3), ""]
    return lines
