"""The landing page's generated parts: the questions by research area, each area a heading that
links to its page and a grid of cards (thumbnail, the primary claim from findings.json with its
verdict and metric, a validation badge, tags, runtime), the hero's runtimes (from the presets and
the committed manifests), and the first command with the clone URL (mkdocs.yml's repo_url is its
one home). docs/index.md and docs/index.zh.md hold the markers these replace.

>>> first_command("https://github.com/o/hub", ["make demo"])[:2]
['```bash', 'git clone https://github.com/o/hub']
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from sitekit.catalog import Question, Research
from sitekit.pages import results, validation
from sitekit.pages.i18n import EN, Edition
from sitekit.pages.render import SMOKE_TIME

GRID_MARKER = "<!-- questions-grid -->"  # replaced by the grid of question cards
COMMAND_MARKER = "<!-- first-command -->"  # replaced by clone + make demo
RUNTIME_MARKER = "<!-- hero-runtime -->"  # replaced by the presets' runtimes (`hero_runtime`)
FIRST_STEPS = ["make demo      # creates .venv with the pinned versions, runs one starter",
               ".venv/bin/mi-starter list          # then: the starters, by area"]
HERO_RUNTIME = {
    "en": "whose `smoke` preset runs in {smoke} on a laptop CPU (the `cpu` preset behind each "
          "committed result: {fastest} to at most {slowest} on 2 CPU cores)",
    "zh": "其 `smoke` 预设在笔记本电脑 CPU 上 {smoke} 跑完（每份已提交结果所用的 "
          "`cpu` 预设：在 2 个 CPU 核心上 {fastest} 到最多 {slowest}）",
}


def hero_runtime(results_dir: Path, lang: str = "en") -> str:
    """The hero's runtime claim, from the presets: the smoke preset's time, and the range of the
    committed `cpu` runs (a resumed run counts with its wall time, an upper bound)."""
    seconds = []
    for manifest in sorted(results_dir.glob("*/manifest.json")):
        took = results.run_time(results.load_run(manifest.parent).manifest)
        if took is not None:
            seconds.append(took.seconds)
    if not seconds:
        return HERO_RUNTIME[lang].split(" (")[0].split("（")[0].format(smoke=SMOKE_TIME)
    return HERO_RUNTIME[lang].format(smoke=SMOKE_TIME, fastest=results.duration(min(seconds)),
                                     slowest=results.duration(max(seconds)))


def first_command(repo_url: str | None, steps: list[str] | None = None) -> list[str]:
    """A bash block: clone the repository, enter it, run the demo."""
    url = (repo_url or "").rstrip("/")
    folder = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "."
    return ["```bash", f"git clone {url}", f"cd {folder}", *(steps or FIRST_STEPS), "```"]


def questions_grid(research: Research, results_dir: Path, words: dict[str, str],
                   ed: Edition = EN, root: Path | None = None) -> list[str]:
    """Per area: a heading linking to the area's page, then material's grid cards, one per
    question, each linking to its page. An area without questions says so."""
    lines: list[str] = []
    for area in research.areas:
        lines += [f"### [{area.title}](research/areas/{area.id}/index.md)", ""]
        questions = research.questions_of(area.id)
        if not questions:
            lines += [words["no_questions"], ""]
            continue
        lines += ['<div class="grid cards mi-questions" markdown>', ""]
        for q in questions:
            lines += _card(q, results_dir, words, ed, root)
        lines += ["</div>", ""]
    return lines


def validation_badge(results_dir: Path, slug: str, words: dict[str, str]) -> str:
    """`<span data-validation="passes|fails|none">`: does the method recover planted truth?"""
    state = validation.status(results_dir, slug)
    css = {"passes": "supported", "fails": "refuted", "none": "none"}[state]
    return (f'<span class="mi-validation mi-verdict mi-verdict--{css}" data-validation="{state}" '
            f'title="{words["validation_badge_help"]}">{words["card_validation"]}: '
            f'{words["validation_" + state]}</span>')


def card_finding(run: results.Run) -> str | None:
    """The primary claim with its verdict badge and metric (markdown + HTML)."""
    c = run.primary
    if c is None:
        return None
    lower = ", lower predicted" if c.direction == -1 else ""
    return (f"{results.verdict_badge(c.verdict)} {c.claim} ({c.metric}: "
            f"{results.fmt(c.estimate.value)} vs {c.control_name} "
            f"{results.fmt(c.control.value)}{lower})")


def _card(q: Question, results_dir: Path, words: dict[str, str], ed: Edition = EN,
          root: Path | None = None) -> list[str]:
    page = f"research/{q.slug}.md"
    run = results.load_run(results_dir / q.slug)
    item = []
    if run.has_figure:
        starter = (root / q.starter) if root else None
        alt = results.alt_text(run, q.title, starter)
        src = f"results/{q.slug}/figure.png"
        item += [f'[![{alt}]({src}){{ loading="lazy" .mi-thumb }}]({page})', ""]
    title = ed.zh(q.zh, "title") or q.title
    label = f"{q.letter}. {title}" if q.letter else title
    item += [f"**[{label}]({page})**", ""]
    finding = card_finding(run)
    pending = words["grid_pending" if q.status == "ready" else "status_planned"]
    if finding and ed.lang != "en":
        finding += f" {words['grid_in_english']}"  # the claims are written in English
    item += [finding if finding else pending.capitalize(), ""]
    if q.status == "ready":
        item += [validation_badge(results_dir, q.slug, words), ""]
    facts = [" ".join(f'<span class="mi-tag">{tag}</span>' for tag in q.tags)]
    took = results.run_time(run.manifest)
    if took is not None:
        key = "grid_runtime" if took.one_session else "grid_runtime_resumed"
        facts.append(words[key].format(runtime=results.duration(took.seconds)))
    item += [" · ".join(fact for fact in facts if fact)]
    return [f"-   {item[0]}", *(f"    {line}" if line else "" for line in item[1:]), ""]
