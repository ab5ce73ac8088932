"""The landing page's generated parts: the questions by research area, each area a heading that
links to its page and a grid of cards (thumbnail, one-line finding from findings.json, tags,
runtime), and the first command with the clone URL (mkdocs.yml's repo_url is its one home).
docs/index.md and docs/index.zh.md hold the markers these replace.

>>> first_command("https://github.com/o/hub", ["make demo"])[:2]
['```bash', 'git clone https://github.com/o/hub']
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from sitekit.catalog import Question, Research
from sitekit.pages import results

GRID_MARKER = "<!-- questions-grid -->"  # replaced by the grid of question cards
COMMAND_MARKER = "<!-- first-command -->"  # replaced by clone + make demo
FIRST_STEPS = ["make demo      # creates .venv with the pinned versions, runs one starter"]


def first_command(repo_url: str | None, steps: list[str] | None = None) -> list[str]:
    """A bash block: clone the repository, enter it, run the demo."""
    url = (repo_url or "").rstrip("/")
    folder = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "."
    return ["```bash", f"git clone {url}", f"cd {folder}", *(steps or FIRST_STEPS), "```"]


def questions_grid(research: Research, results_dir: Path, words: dict[str, str]) -> list[str]:
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
            lines += _card(q, results_dir, words)
        lines += ["</div>", ""]
    return lines


def _card(q: Question, results_dir: Path, words: dict[str, str]) -> list[str]:
    page = f"research/{q.slug}.md"
    run = results.load_run(results_dir / q.slug)
    item = []
    if run.has_figure:
        alt = results.alt_text(run, q.title)
        src = f"results/{q.slug}/figure.png"
        item += [f'[![{alt}]({src}){{ loading="lazy" .mi-thumb }}]({page})', ""]
    item += [f"**[{q.label}]({page})**", ""]
    finding = results.one_line_finding(run)
    pending = words["grid_pending" if q.status == "ready" else "status_planned"]
    item += [finding if finding else pending.capitalize(), ""]
    facts = [" ".join(f'<span class="mi-tag">{tag}</span>' for tag in q.tags)]
    took = results.runtime(run.manifest)
    if took:
        facts.append(words["grid_runtime"].format(runtime=took))
    item += [" · ".join(fact for fact in facts if fact)]
    return [f"-   {item[0]}", *(f"    {line}" if line else "" for line in item[1:]), ""]
