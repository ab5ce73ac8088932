"""The generated pages, rendered from the catalogs: getting-started.md, reading-list.md,
libraries.md, research/index.md, one research/areas/<area>/index.md per research area of the guide (its
direction quoted, our summary, its questions) and one research/<slug>.md per question, path ->
markdown (`render_pages`). Pure functions of the catalogs, the committed results and an
`Edition`; the mkdocs events (sitekit.pages.events) add them to the build.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from mkdocs.exceptions import PluginError

from sitekit.catalog import (
    LETTERED_AREA,
    Area,
    GettingStarted,
    Libraries,
    Library,
    Link,
    PriorWork,
    Question,
    ReadingEntry,
    ReadingList,
    Research,
    Site,
)
from sitekit.links import LinkCache
from sitekit.pages import gpu, public, results, validation
from sitekit.pages.i18n import EN, GUIDE, Edition

PRIORITY_HELP = {
    "core": "read closely, ideally with code open",
    "skim": "read the abstract, figures and conclusions",
    "deep-dive": "for when you work on this topic",
}
MANIFEST_KEYS = ("finished_at", "model")  # shown under a committed result
# .github/workflows/site.yml pushes the built notebooks to this branch, for Colab
NOTEBOOK_BRANCH = "notebooks"


class BuildState(NamedTuple):
    """Loaded in on_config (once per language pass) and read by the renderers."""

    site: Site
    repo_url: str | None  # mkdocs.yml repo_url: Colab links
    link_checks: dict[str, dict]  # url -> LinkCache entry of the link checker's cache


def load_link_checks(path: Path) -> dict[str, dict]:
    """url -> {result, checked_at, ...} from the link checker's cache; {} before the first check."""
    return LinkCache(path).entries if path.is_file() else {}


def link_checked(url: str, checks: dict[str, dict]) -> str:
    """A small note saying when a link was last verified, from `scripts/check_links.py`'s cache;
    nothing before the first check.

    >>> link_checked("https://a.org", {"https://a.org": {"result": "ok", "checked_at": 0.0}})
    '<span class="mi-checked" title="Result of the weekly link check">link verified 1970-01-01</span>'
    >>> link_checked("https://b.org", {})
    ''
    """
    entry = checks.get(url)
    if entry is None:
        return ""
    checked = datetime.fromtimestamp(float(entry["checked_at"]), tz=timezone.utc)
    day = checked.strftime("%Y-%m-%d")
    text = {
        "ok": f"link verified {day}",
        "redirected": f"link verified {day} (it redirects)",
        "broken": f"link broken when checked {day}",
        "unverified": f"link could not be verified {day} (the host blocks checkers)",
    }.get(entry["result"])
    if text is None:
        return ""
    return f'<span class="mi-checked" title="Result of the weekly link check">{text}</span>'


def notebook_links(slug: str, repo_url: str | None, ed: Edition) -> list[str]:
    """Download link for the notebook docs/hooks/notebooks.py builds, and an Open-in-Colab link.

    Colab opens notebooks from GitHub, so it reads the copy the site workflow pushes to
    NOTEBOOK_BRANCH.
    """
    links = [f"[{ed['notebook']}](../notebooks/{slug}.ipynb){{ download }}"]
    parts = urlsplit(repo_url or "")
    if parts.netloc == "github.com":
        repo = parts.path.strip("/").removesuffix(".git")
        colab = "https://colab.research.google.com/github/"
        colab += f"{repo}/blob/{NOTEBOOK_BRANCH}/{slug}.ipynb"
        links.append(f"[{ed['colab']}]({colab}){{ .mi-colab }}")
    return [" · ".join(links) + f" ({ed['notebook_note']})", ""]


# --- page registry --------------------------------------------------------------------------------


def question_path(q: Question) -> str:
    return f"research/{q.slug}.md"


def area_path(area_id: str) -> str:
    """An area's page: a section index in the nav (navigation.indexes), in its own folder since
    an area and a question may share a slug.

    >>> area_path("model-diffing")
    'research/areas/model-diffing/index.md'
    """
    return f"research/areas/{area_id}/index.md"


def guide_source(research: Research) -> Link:
    """The source that area quotes are attributed to: the LessWrong post, else the first source."""
    for source in research.sources:
        if "lesswrong.com" in source.url:
            return source
    return research.sources[0]


def attribution(source: Link) -> str:
    return f"— Neel Nanda, [{source.label}]({source.url})"


def render_pages(state: BuildState, docs_dir: Path, root: Path, ed: Edition = EN) -> dict[str, str]:
    """Every generated page, path (relative to docs/) -> markdown, in edition `ed`.

    Pages without a Chinese rendering are rendered in English in every edition.
    """
    site = state.site
    research = site.research
    pages = {
        "getting-started.md": render_getting_started(site.getting_started, ed),
        "reading-list.md": render_reading_list(site.reading_list, state.link_checks, research),
        "libraries.md": render_libraries(site.libraries, state.link_checks),
        "research/index.md": render_research_index(research, ed),
    }
    for area in research.areas:
        pages[area_path(area.id)] = render_area(area, research, ed)
    source = guide_source(research)
    for group in research.thinking_models.groups:
        group_zh = group.zh.quote if group.zh else None
        for q in group.questions:
            pages[question_path(q)] = render_question(
                q, group.quote, docs_dir / "results", root,
                ed=ed, group_quote_zh=group_zh, repo_url=state.repo_url,
            )
    for area in research.areas:
        for q in area.questions:
            pages[question_path(q)] = render_question(
                q, None, docs_dir / "results", root,
                ed=ed, repo_url=state.repo_url, area=area, source=source,
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


CLI = ".venv/bin/mi-starter"  # where `make demo` / `make install` put the command: runs as pasted
SMOKE_TIME = "8–15 s"  # a starter's smoke preset on 2 CPU cores (README.md, the suite measures)


def cli_tabs(slug: str, ed: Edition = EN, repo_url: str | None = None,
             with_plan: bool = True) -> list[str]:
    """CPU / GPU content tabs with commands that run as pasted from the repository folder
    (`.venv/bin/mi-starter`, no activation needed). The GPU tab names the model, gives the plan
    `--dry-run` computes (starter/plan.py, at build time) and the install lines for a CUDA
    machine."""
    cpu = (f"{CLI} run {slug} --preset smoke   # {SMOKE_TIME}: checks that it runs\n"
           f"{CLI} run {slug} --preset cpu     # the preset of the committed result")
    lines = ['=== "CPU"', "", f"    {ed['cli_from_repo']}", ""]
    lines += indent(code_block(cpu, "bash")) + [""]
    lines += ['=== "GPU"', ""]
    plan = gpu.gpu_plan(slug) if with_plan else None
    if plan is not None:
        lines += [f"    {ed['gpu_model'].format(model=plan.model)} "
                  f"{ed['gpu_plan'].format(plan=gpu.summary_line(plan))}", ""]
    commands = [*gpu.install_lines(repo_url),
                f"{CLI} run {slug} --preset gpu --dry-run   # the plan above; loads nothing",
                f"{CLI} run {slug} --preset gpu"]
    lines += indent(code_block("\n".join(commands), "bash")) + [""]
    if plan is not None and plan.printed:
        lines += [f'    ??? note "{ed["gpu_printed"]}"', ""]
        lines += indent(code_block(plan.printed, "text"), 8) + [""]
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


def used_by(research: Research | None) -> dict[str, list[Question]]:
    """Reading-list entry id -> the questions whose prior work cites it."""
    out: dict[str, list[Question]] = {}
    for q in research.questions if research else []:
        for work in q.prior_work:
            if work.reading_list and q not in out.get(work.reading_list, []):
                out.setdefault(work.reading_list, []).append(q)
    return out


def render_reading_entry(entry: ReadingEntry, checks: dict[str, dict] | None = None,
                         users: list[Question] | None = None) -> list[str]:
    tags = " ".join(
        f'<button class="mi-tag" data-filter-tag="{tag}" title="Show only {tag}">{tag}</button>'
        for tag in entry.tags
    )
    badge = (
        f'<span class="mi-priority mi-priority--{entry.priority}" '
        f'title="{PRIORITY_HELP[entry.priority]}">{entry.priority}</span>'
    )
    meta = " · ".join(
        part for part in (f"{badge} {entry.authors}", str(entry.year),
                          link_checked(entry.url, checks or {})) if part
    )
    lines = [
        f'<div class="mi-entry" data-tags="{" ".join(entry.tags)}" '
        f'data-priority="{entry.priority}" markdown>',
        "",
        f"### [{entry.title}]({entry.url}) {{ #{entry.id} }}",
        "",
        meta,
        "",
        entry.annotation,
        "",
    ]
    if users:
        links = ", ".join(f"[{q.label}](research/{q.slug}.md)" for q in users)
        lines += [f"Used by the starter of {links}.", "{ .mi-used-by }", ""]
    return lines + [*([tags, ""] if tags else []), "</div>", ""]


def filter_controls(reading: ReadingList) -> list[str]:
    """Buttons that filter the entries in the browser (docs/assets/js/site.js)."""
    counts: dict[str, int] = {}
    for entry in reading.entries:
        for tag in entry.tags:
            counts[tag] = counts.get(tag, 0) + 1
    tags = sorted(counts, key=lambda tag: (-counts[tag], tag))
    priority = " ".join(
        f'<button data-filter-priority="{name}">{name}</button>' for name in PRIORITY_HELP
    )
    tag_buttons = " ".join(
        f'<button data-filter-tag="{tag}">{tag} ({counts[tag]})</button>' for tag in tags
    )
    return [
        '<div class="mi-filters" data-search-exclude>',
        f'<p><strong>Priority</strong> <button data-filter-priority="">all</button> {priority}</p>',
        f'<p><strong>Tag</strong> <button data-filter-tag="">all</button> {tag_buttons}</p>',
        '<p class="mi-filter-count"></p>',
        "</div>",
        "",
    ]


def render_reading_list(reading: ReadingList, checks: dict[str, dict] | None = None,
                        research: Research | None = None) -> str:
    legend = "\n".join(
        f'- <span class="mi-priority mi-priority--{name}">{name}</span>: {help_text}'
        for name, help_text in PRIORITY_HELP.items()
    )
    lines = [
        "# Reading list",
        "",
        "Annotated papers and posts, reasoning models first. Each entry has a priority:",
        "",
        legend,
        "",
        "Filter by priority or tag (a tag under an entry filters too):",
        "",
        *filter_controls(reading),
    ]
    users = used_by(research)
    for section in reading.sections:
        lines += ['<div class="mi-section" markdown>', ""]
        lines += [f"## {section.title} {{ #{section.id} }}", "", section.intro, ""]
        for entry in section.entries:
            lines += render_reading_entry(entry, checks, users.get(entry.id))
        lines += ["</div>", ""]
    return "\n".join(lines)


def render_library(lib: Library, checks: dict[str, dict] | None = None) -> list[str]:
    extra = [f"[{link.label}]({link.url})" for link in lib.links]
    links = " · ".join([f"[Home page]({lib.url})", *extra])
    lines = [
        f"## {lib.name} {{ #{lib.id} }}",
        "",
        " · ".join(part for part in (links, link_checked(lib.url, checks or {})) if part),
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
    lines += code_block(lib.snippet, "python", snippet_label(lib.snippet))
    lines.append("")
    return lines


def snippet_label(snippet: str) -> str:
    """A snippet's title says whether it calls a web service: never "offline" for one that does.

    >>> snippet_label('API = "https://www.neuronpedia.org"')
    'Calls www.neuronpedia.org (our tests run it against a local copy of the API)'
    >>> snippet_label("print(1)")
    'Runs offline on a CPU (executed by our tests)'
    """
    host = re.search(r"https?://([\w.-]+)", snippet)
    if host:
        return f"Calls {host.group(1)} (our tests run it against a local copy of the API)"
    return "Runs offline on a CPU (executed by our tests)"


def render_libraries(data: Libraries, checks: dict[str, dict] | None = None) -> str:
    lines = ["# Libraries", "", data.intro, "", "| Library | Install |", "| --- | --- |"]
    lines += [f"| [{lib.name}](#{lib.id}) | `{lib.install}` |" for lib in data.libraries]
    lines.append("")
    for lib in data.libraries:
        lines += render_library(lib, checks)
    return "\n".join(lines)


def question_table(questions: list[Question], prefix: str = "") -> list[str]:
    """Each question linked to its page (relative to the linking page), with its starter file."""
    lines = ["| Question | Starter (`starter/questions/`) |", "| --- | --- |"]
    for q in questions:
        starter = f"`{Path(q.starter).name}`" + ("" if q.status == "ready" else " (planned)")
        lines.append(f"| [{q.label}]({prefix}{q.slug}.md) | {starter} |")
    return [*lines, ""]


def area_quote(area: Area, research: Research, ed: Edition = EN) -> list[str]:
    """The guide's direction for an area, verbatim and attributed with the source link; a visible
    note where it is not quoted yet. The thinking-models area quotes its section in full."""
    source = guide_source(research)
    if area.id == LETTERED_AREA:
        tm = research.thinking_models
        body = [f"**{tm.title}**", "", tm.quote_intro, ""]
        for group in tm.groups:
            body += quote_tree(group.quote, group.questions)
    elif area.quote:
        body = area.quote.strip().splitlines()
    else:
        headings = list(dict.fromkeys(q.quote for q in research.questions_of(area.id)))
        heading = ed["not_quoted_heading"].format(heading=headings[0]) if headings else ""
        note = ed["not_quoted"].format(heading=heading, label=source.label, url=source.url)
        return [f'!!! note "{ed["not_quoted_title"]}"', "", f"    {note}", ""]
    title = ed["area_quote"] if area.id != LETTERED_AREA else f"Quoted in full from {GUIDE}"
    return [f'!!! quote "{title}"', "", *indent(body), "", f"    {attribution(source)}", ""]


def render_research_index(research: Research, ed: Edition = EN) -> str:
    """The overview: every area (our summary, the guide's direction, its questions), then the
    thinking-models section quoted in full. In English in every edition (says so in zh)."""
    tm = research.thinking_models
    lines = ["# Research questions", "", *ed.fallback_note(page=True), research.intro, ""]
    lines += ["Sources: " + " · ".join(f"[{s.label}]({s.url})" for s in research.sources), ""]
    lines += ["## Research areas in the MATS guide", ""]
    lines += [
        "Our one-paragraph summary of each area, the guide's direction quoted, then its questions; "
        "each area also has its own page.",
        "",
    ]
    for area in research.areas:
        lines += [f"### {area.title} {{ #area-{area.id} }}", "", area.summary, ""]
        if area.id != LETTERED_AREA:
            lines += area_quote(area, research, EN)
        lines += [f"[The area's page](areas/{area.id}/index.md)", ""]
        questions = research.questions_of(area.id)
        lines += question_table(questions) if questions else ["No questions yet.", ""]
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
    lines.append("")
    return "\n".join(lines)


def render_area(area: Area, research: Research, ed: Edition = EN) -> str:
    """An area's page: the guide's direction quoted (attributed), our summary, its questions."""
    lines = [f"# {area.title}", "", *area_quote(area, research, ed)]
    if ed.lang != "en":
        translated = ed.zh(area.zh, "quote")
        if translated:
            lines += [f'!!! quote "{ed["our_translation"]}"', "", f"    {translated}", ""]
        else:
            lines += ed.fallback_note()
    lines += [f"## {ed['our_summary']}", "", *ed.text(area.summary, area.zh, "summary"), ""]
    lines += [f"## {ed['questions']}", ""]
    questions = research.questions_of(area.id)
    if not questions:
        lines += [ed["no_questions"], ""]
    for q in questions:
        title = ed.zh(q.zh, "title") or q.title
        label = f"{q.letter}. {title}" if q.letter else title
        status = ed["status_ready" if q.status == "ready" else "status_planned"]
        lines.append(f"- [{label}](../../{q.slug}.md): {status}")
    lines += ["", ed["all_areas"], ""]
    return "\n".join(lines)


def render_question(
    q: Question,
    group_quote: str | None,
    results_dir: Path,
    root: Path,
    *,
    ed: Edition = EN,
    group_quote_zh: str | None = None,
    repo_url: str | None = None,
    area: Area | None = None,
    source: Link | None = None,
) -> str:
    """A question page, result first: quote, where the numbers come from, the result card, why it
    matters, hypotheses, prior work, the starter (code collapsed), then the run's details.

    A thinking-models sub-question hangs from `group_quote` (its parent bullet in the guide); a
    question of another area quotes the guide's sentence it answers, attributed to `source`, and
    names its `area`. A ready question (its starter and committed result exist: the catalog checks)
    shows the result card first, then "Does the method work?" (its planted-truth validation, or
    a line saying there is none yet); any question shows what docs/results/<slug>/ holds, or says
    that no result is committed yet, under its starter."""
    front = ["hide:", "  - toc"]  # the figure gets the width of the table of contents
    if q.tags:
        front += ["tags:", *(f"  - {tag}" for tag in q.tags)]
    lines = ["---", *front, "---", ""]
    title = ed.zh(q.zh, "title")
    heading = title or q.title
    lines += [f"# {q.letter}. {heading}" if q.letter else f"# {heading}", ""]
    if title:
        lines += [f"*{ed['english_title'].format(title=q.title)}*", ""]
    if group_quote is not None:
        tree = quote_tree(group_quote, [q])
        lines += [f'!!! quote "{ed["guide_quote"]}"', "", *indent(tree), ""]
        if ed.lang != "en":
            lines += render_quote_translation(q, group_quote_zh, ed)
    else:
        said = [*indent(q.quote.strip().splitlines()), ""]
        said += [f"    {attribution(source)}", ""] if source else []
        lines += [f'!!! quote "{ed["direction_quote"]}"', "", *said]
        if ed.lang != "en":
            translated = ed.zh(q.zh, "quote")
            lines += ([f'!!! quote "{ed["our_translation"]}"', "", f"    {translated}", ""]
                      if translated else ed.fallback_note())
    run = results.load_run(results_dir / q.slug) if (results_dir / q.slug).is_dir() else None
    lines += public.render_public(q.slug, results_dir, ed.lang, ed.words)  # R1-distill (#22)
    if q.status == "ready" and run is not None:
        check_manifest(results_dir / q.slug)
        lines += results.organism_note(run, ed.words)
        lines += [f"## {ed['result']} {{ #result }}", ""]
        if ed.lang != "en" and run.has_findings:
            lines += [ed["result_in_english"], ""]
        card = results.result_card(run, q.title, ed.words, root / q.starter)
        lines += card or [*results.figure(run, q.title), ed["no_findings"], ""]
    lines += validation.render_section(q, results_dir, root, ed.words, ed.fallback_note())
    if q.letter is not None or area is None:  # the guide's a..h; a contributed one: its area
        place = ed["one_of_eight"]
    else:
        place = ed["in_area"].format(title=area.title, path=f"areas/{area.id}/index.md")
    lines += [place, "", f"## {ed['why']}", "", *ed.text(q.why, q.zh, "why"), ""]
    hypotheses = ed.zh(q.zh, "hypotheses")
    lines += [f"## {ed['hypotheses']}", ""]
    if ed.lang != "en" and not hypotheses:
        lines += ed.fallback_note()
    lines += [f"{i}. {h}" for i, h in enumerate(hypotheses or q.hypotheses, start=1)]
    lines += ["", f"## {ed['prior_work']}", ""]
    for work in q.prior_work:
        lines += render_prior_work(work, ed)
    lines += ["", f"## {ed['starter']} {{ #starter }}", ""]
    lines += render_starter(q, results_dir, root, ed=ed, repo_url=repo_url)
    return "\n".join(lines) + "\n"


def render_prior_work(work: PriorWork, ed: Edition = EN) -> list[str]:
    """One list item: title, authors and year (in English in every edition), then our note on it.

    A note without a translation gets the "not translated yet" note inside its own list item, so the
    translated items around it stay as they are.
    """
    title = f"[{work.title}]({work.url})" if work.url else work.title
    ours = ""
    if work.reading_list:
        ours = f" ([{ed['reading_list']}](../reading-list.md#{work.reading_list}))"
    head = f"- **{title}**, {work.authors} ({work.year}){ours}."
    note = ed.text(work.note, work.zh, "note")
    if len(note) == 1:
        return [f"{head} {note[0]}"]
    # a loose item: the admonition and the English note nest in it
    return ["", head, "", *indent(note), ""]


def render_quote_translation(q: Question, group_quote_zh: str | None, ed: Edition) -> list[str]:
    """Our translation of the quoted question, beside the English quote (which stays
    authoritative)."""
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
        tabs = cli_tabs(q.slug, ed, repo_url, with_plan=exists)
        lines = [f'!!! info "{ed["planned"]}"', "", f"    {body}", "", *indent(tabs)]
        lines += notebook_links(q.slug, repo_url, ed) if exists else []
        lines += ["", f"### {ed['result_details']} {{ #result-details }}", ""]
        return lines + render_result(q.slug, results_dir / q.slug, ed)
    # The catalog refuses a ready question without its starter file; a partial tree (a test, a fork
    # mid-edit) still renders, without a notebook to link or code to show.
    lines = [ed["run"].format(starter=q.starter), "", *cli_tabs(q.slug, ed, repo_url, exists)]
    if exists:
        code = (root / q.starter).read_text(encoding="utf-8")
        lines += notebook_links(q.slug, repo_url, ed)
        lines += [f'??? example "{ed["code"]}: `{q.starter}`"', ""]
        lines += indent(code_block(code, "python", q.starter))
        lines.append("")
    lines += ["", f"### {ed['result_details']} {{ #result-details }}", ""]
    lines += render_result(q.slug, results_dir / q.slug, ed)
    # "What to try next" comes with the result: summary.md renders the starter's own `try_next`.
    return lines


def check_manifest(result_dir: Path) -> None:
    """A committed manifest must carry what the page shows about the run."""
    manifest_path = result_dir / "manifest.json"
    if not manifest_path.is_file():
        return
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise PluginError(
            f"{manifest_path} lacks {missing}; the result page shows {list(MANIFEST_KEYS)}"
        )


def render_result(slug: str, result_dir: Path, ed: Edition = EN) -> list[str]:
    """The committed run's details in docs/results/<slug>/: when it ran, summary.md's sections."""
    if not result_dir.is_dir():
        return [ed["no_result"], ""]
    check_manifest(result_dir)
    run = results.load_run(result_dir)
    lines: list[str] = []
    if run.manifest:
        finished = ed["finished"].format(finished_at=run.manifest["finished_at"], model=run.model)
        lines += [finished, ""]
    if run.summary:
        if ed.lang != "en":
            lines += [ed["result_in_english"], ""]
        lines += results.summary_body(run, ed.words)
    return lines
