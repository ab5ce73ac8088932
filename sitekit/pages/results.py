"""A committed run as a newcomer reads it: the result card (claims from findings.json, the key
figure, the model, the runtime), the figure with its caption, the run's summary.md cut into
sections (the numbers collapsed and kept out of search, Neuronpedia latents shown honestly).

Reads `docs/results/<slug>/`: manifest.json, findings.json (a list of claims, see
starter/findings.py), results.jsonl, figure.png, summary.md. Any of them may be missing while a
starter is being re-run: the page then shows what there is, and no card without findings.json.
Never imports torch.

>>> claim = {"claim": "A beats B.", "metric": "rate", "value": 0.5, "ci": [0.4, 0.6], "n": 12,
...          "unit": "problem", "control": {"name": "B", "metric": "rate", "value": 0.2,
...          "ci": [0.1, 0.3], "n": 12}, "difference": 0.3, "difference_ci": [0.1, 0.5],
...          "verdict": "supported"}
>>> print(claim_sentence(Claim.from_dict(claim)).replace("; ", ";\\n"))
A beats B. rate 0.50 (95% CI 0.40–0.60, n = 12 problems) vs B 0.20 (0.10–0.30, n = 12);
difference +0.30 (0.10–0.50).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

ORGANISM = "tinythinker"  # the model registry's name for the model organism (docs/organism.md)
ORGANISM_SIZE = "4.2M-parameter"  # as docs/organism.md states it
NEURONPEDIA = "https://www.neuronpedia.org"
NP_SEARCH = NEURONPEDIA + "/search-explanations/?q="  # Neuronpedia's own explanation search
FETCHED = ("live", "cached", "recorded")  # latent provenances that came from Neuronpedia itself
NUMBERS_SECTIONS = ("Numbers",)  # summary.md sections of raw metric names: collapsed, not indexed
DROPPED_SECTIONS = ("Claims",)  # summary.md sections the result card already shows
NEURONPEDIA_SECTION = "Neuronpedia latents"
MAX_ALT = 240  # characters of alt text: one sentence that states the finding


@dataclass(frozen=True)
class Interval:
    """A value with its 95% interval and n (a claim's or its control's)."""

    value: float | None  # the point estimate; None when the run could not measure it
    lo: float | None  # lower end of the 95% interval
    hi: float | None  # upper end
    n: int | None  # units the estimate is over


@dataclass(frozen=True)
class Claim:
    """One entry of findings.json, typed (see starter/findings.py for the writer)."""

    claim: str  # the hypothesis in one sentence
    metric: str  # what was measured
    estimate: Interval  # the measured value
    unit: str  # what n counts: problem, chain, trace or step
    control_name: str  # the comparison that rules out the obvious confound
    control: Interval  # the control's value
    difference: Interval  # estimate minus control (n unused)
    verdict: str  # supported | not distinguishable | refuted

    @classmethod
    def from_dict(cls, row: dict) -> Claim:
        control = row.get("control") or {}
        return cls(
            claim=str(row.get("claim", "")).strip(),
            metric=str(row.get("metric", "")),
            estimate=_interval(row.get("value"), row.get("ci"), row.get("n")),
            unit=str(row.get("unit") or "problem"),
            control_name=str(control.get("name", "control")),
            control=_interval(control.get("value"), control.get("ci"), control.get("n")),
            difference=_interval(row.get("difference"), row.get("difference_ci"), None),
            verdict=str(row.get("verdict", "not distinguishable")),
        )


@dataclass(frozen=True)
class Run:
    """What docs/results/<slug>/ holds right now."""

    slug: str  # the question's slug, also the folder's name
    claims: list[Claim]  # from findings.json; empty when it is missing
    has_findings: bool  # findings.json exists (a run written before it existed has none)
    manifest: dict  # manifest.json, {} when missing
    has_figure: bool  # figure.png exists
    has_rows: bool  # results.jsonl exists
    summary: str  # summary.md, "" when missing
    latents: list[dict]  # results.jsonl rows of kind "latent"

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")

    @property
    def preset(self) -> str | None:
        return (self.manifest.get("config") or {}).get("preset")

    @property
    def on_organism(self) -> bool:
        return self.model == ORGANISM


def _interval(value, ci, n) -> Interval:
    lo, hi = (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else (None, None)
    return Interval(value, lo, hi, n)


def load_run(result_dir: Path) -> Run:
    """Everything the page shows from one result folder; missing files read as empty."""
    manifest_path = result_dir / "manifest.json"
    manifest = _json(manifest_path) if manifest_path.is_file() else {}
    findings_path = result_dir / "findings.json"
    findings = _json(findings_path) if findings_path.is_file() else []
    rows_path = result_dir / "results.jsonl"
    latents = []
    if rows_path.is_file():
        for line in rows_path.read_text(encoding="utf-8").splitlines():
            if '"latent"' in line:
                row = json.loads(line)
                if row.get("kind") == "latent":
                    latents.append(row)
    summary_path = result_dir / "summary.md"
    return Run(
        slug=result_dir.name,
        claims=[Claim.from_dict(row) for row in findings if isinstance(row, dict)],
        has_findings=findings_path.is_file(),
        manifest=manifest if isinstance(manifest, dict) else {},
        has_figure=(result_dir / "figure.png").is_file(),
        has_rows=rows_path.is_file(),
        summary=summary_path.read_text(encoding="utf-8") if summary_path.is_file() else "",
        latents=latents,
    )


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {} if path.suffix == ".json" and path.stem == "manifest" else []


# --- words --------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    """A number as a reader wants it: 2 decimals, integers without them.

    >>> fmt(0.984848), fmt(12.0), fmt(None), fmt(1234.5)
    ('0.98', '12', 'n/a', '1234')
    """
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"


def _ci(iv: Interval) -> str:
    return f"{fmt(iv.lo)}–{fmt(iv.hi)}" if iv.lo is not None else "no interval"


def _plural(unit: str, n: int | None) -> str:
    return unit if n == 1 else f"{unit}s"


def claim_numbers(c: Claim) -> str:
    """The numbers behind a claim: value, interval, n and unit, the control, the difference."""
    est, ctl, diff = c.estimate, c.control, c.difference
    sign = "+" if (diff.value or 0) > 0 else ""
    return (
        f"{c.metric} {fmt(est.value)} (95% CI {_ci(est)}, n = {est.n} "
        f"{_plural(c.unit, est.n)}) vs {c.control_name} {fmt(ctl.value)} ({_ci(ctl)}, "
        f"n = {ctl.n}); difference {sign}{fmt(diff.value)} ({_ci(diff)})."
    )


def claim_sentence(c: Claim) -> str:
    """The claim in one line with its interval, n, unit and control (plain text)."""
    return f"{c.claim} {claim_numbers(c)}"


def claim_item(c: Claim) -> str:
    """A markdown list item: the verdict badge, the claim, its numbers on the next line."""
    numbers = html.escape(claim_numbers(c))
    return (f"- {verdict_badge(c.verdict)} {c.claim} "
            f'<span class="mi-claim-numbers">{numbers}</span>')


def verdict_badge(verdict: str) -> str:
    """An HTML badge for a claim's verdict.

    >>> verdict_badge("not distinguishable")
    '<span class="mi-verdict mi-verdict--not-distinguishable">not distinguishable</span>'
    """
    css = re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
    return f'<span class="mi-verdict mi-verdict--{css}">{html.escape(verdict)}</span>'


def runtime(manifest: dict) -> str | None:
    """How long the run took, from manifest.json's started_at/finished_at.

    >>> runtime({"started_at": "2026-11-27T15:04:26+00:00",
    ...          "finished_at": "2026-11-27T15:12:19+00:00"})
    '7 min 53 s'
    >>> runtime({}) is None
    True
    """
    try:
        start = datetime.fromisoformat(str(manifest["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(manifest["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    seconds = max(0, int((end - start).total_seconds()))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def one_line_finding(run: Run) -> str | None:
    """The first supported claim (or the first claim) in a few words, for the landing page."""
    if not run.claims:
        return None
    supported = [c for c in run.claims if c.verdict == "supported"]
    c = (supported or run.claims)[0]
    return f"{c.claim} ({c.verdict}: {fmt(c.estimate.value)} vs {fmt(c.control.value)})"


def alt_text(run: Run, title: str) -> str:
    """Alt text that states the finding: the claims' verdicts, or the summary's first sentence."""
    if run.claims:
        parts = [f"{c.claim.rstrip('.')} ({c.verdict})" for c in run.claims]
        text = "; ".join(parts)
    else:
        text = _finding_paragraph(run.summary) or f"The measurements behind: {title}"
    text = re.sub(r"[`*_\[\]|<>\"]", "", text).strip()
    return text if len(text) <= MAX_ALT else text[: MAX_ALT - 1].rsplit(" ", 1)[0] + "…"


def caption(run: Run) -> str:
    """The figure's caption (HTML): n and what to look for, from the claims."""
    if run.claims:
        looks = []
        for c in run.claims:
            looks.append(
                f"{html.escape(c.metric)}: {fmt(c.estimate.value)} against "
                f"{html.escape(c.control_name)} {fmt(c.control.value)}"
            )
        ns = sorted({c.estimate.n for c in run.claims if c.estimate.n is not None})
        unit = run.claims[0].unit
        n = ", ".join(str(v) for v in ns) or "n/a"
        return (f"n = {n} {_plural(unit, 2)}. What to look for: " + "; ".join(looks)
                + ". Click the figure to open it full size.")
    finding = _finding_paragraph(run.summary)
    config = run.manifest.get("config") or {}
    n = next((v for k, v in config.items() if k.startswith("n_") and isinstance(v, int)), None)
    head = f"n = {n} ({_n_key(config)}). " if n is not None else ""
    body = html.escape(finding) if finding else "The run's measurements."
    return f"{head}{body} Click the figure to open it full size."


def _n_key(config: dict) -> str:
    key = next((k for k, v in config.items() if k.startswith("n_") and isinstance(v, int)), "n")
    return key.removeprefix("n_").replace("_", " ")


def _finding_paragraph(summary: str) -> str:
    """The first paragraph of summary.md's "Finding" section, as plain text."""
    body = sections(summary).get("Finding", "")
    for para in body.split("\n\n"):
        para = para.strip()
        if para and not para.startswith(("|", "#", "!", "-")):
            first = re.split(r"(?<=[.!?])\s", para, maxsplit=1)[0]
            return re.sub(r"[`*]", "", first)
    return ""


def sections(summary: str) -> dict[str, str]:
    """summary.md's `## ` sections, title -> body (the title and quote above them dropped)."""
    out: dict[str, str] = {}
    current = None
    for line in summary.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return {title: body.strip("\n") for title, body in out.items()}


# --- markdown -----------------------------------------------------------------------------------


def figure(run: Run, title: str, prefix: str = "../") -> list[str]:
    """The result figure in a <figure> with a caption, specific alt text and a link to zoom."""
    if not run.has_figure:
        return []
    src = f"{prefix}results/{run.slug}/figure.png"
    alt = alt_text(run, title)
    return [
        '<figure class="mi-figure" markdown="span">',
        f'  [![{alt}]({src})]({src} "Open the full-size figure")',
        f"  <figcaption>{caption(run)}</figcaption>",
        "</figure>",
        "",
    ]


def model_badge(run: Run, organism_link: str = "../organism.md") -> str:
    """The model the run used; the organism gets a badge linking to its page."""
    model = run.model or "unknown model"
    if run.on_organism:
        badge = "{ .mi-badge .mi-badge--organism }"
        return f"[TinyThinker, the model organism]({organism_link}){badge}"
    return f"`{model}`"


def result_card(run: Run, title: str, words: dict[str, str]) -> list[str]:
    """The card at the top of a question page; [] without findings.json (no card)."""
    if not run.has_findings:
        return []
    lines = ['<div class="result-card" markdown>', "", f"**{words['card_title']}**", ""]
    if not run.claims:
        lines += [words["no_claims"], ""]
    for c in run.claims:
        lines.append(claim_item(c))
    lines.append("")
    lines += figure(run, title)
    facts = [f"{words['model']}: {model_badge(run)}"]
    took = runtime(run.manifest)
    if took:
        device = run.manifest.get("device")
        where = words["on_cpu"] if device == "cpu" else f"on {device}"
        facts.append(f"{words['runtime']}: {took} {where} (preset `{run.preset}`)")
    if run.has_rows:
        facts.append(f"[results.jsonl](../results/{run.slug}/results.jsonl)")
    lines += [" · ".join(facts), "", "</div>", ""]
    return lines


def organism_note(run: Run, words: dict[str, str]) -> list[str]:
    """Every question page says where its numbers come from."""
    if run.on_organism or not run.manifest:
        text = words["organism_note"].format(size=ORGANISM_SIZE)
    else:
        text = words["other_model_note"].format(model=run.model)
    return [f"**{words['organism_title']}** {text}", "{ .mi-provenance }", ""]


def numbers_block(body: str, run: Run, words: dict[str, str]) -> list[str]:
    """The raw metrics table, collapsed and out of the search index, with a link to the rows."""
    rows = f" [{words['all_rows']}](../results/{run.slug}/results.jsonl)." if run.has_rows else ""
    return [
        '<details class="mi-numbers" data-search-exclude markdown>',
        f"<summary>{words['numbers']}</summary>",
        "",
        f"{words['numbers_note']}{rows}",
        "",
        body,
        "",
        "</details>",
        "",
    ]


def neuronpedia_block(run: Run, words: dict[str, str]) -> list[str]:
    """Latents a run looked up: shown only when fetched from Neuronpedia, else searches to open."""
    if not run.latents:
        return []
    fetched = [row for row in run.latents if row.get("provenance") in FETCHED]
    model = run.latents[0].get("model_id", "")
    lines = [f"#### {words['np_title']}", ""]
    if fetched:
        for row in fetched:
            day = str(row.get("fetched_at") or row.get("date") or "")[:10]
            when = f" ({words['np_fetched']} {day})" if day else ""
            label = f"{row.get('source')}/{row.get('index')}"
            desc = str(row.get("description", "")).strip()
            lines.append(f"- [{label}]({row.get('url')}) ({row.get('query', '')}): {desc}{when}")
        lines.append("")
    else:
        lines += [words["np_offline"], ""]
    queries = sorted({str(row.get("query")) for row in run.latents if row.get("query")})
    links = [f"[{q}]({NP_SEARCH}{quote(q)})" for q in queries]
    model_link = f"[`{model}`]({NEURONPEDIA}/{model})" if model else "the model"
    lines += [words["np_search"].format(model=model_link) + " " + " · ".join(links) + ".", ""]
    return lines


def summary_body(run: Run, words: dict[str, str], shift: int = 3) -> list[str]:
    """summary.md below the card: its sections in order, numbers collapsed, latents honest."""
    lines: list[str] = []
    for title, body in sections(run.summary).items():
        if title in DROPPED_SECTIONS and run.has_findings:
            continue
        if title == NEURONPEDIA_SECTION:
            lines += neuronpedia_block(run, words)
            continue
        if title in NUMBERS_SECTIONS:
            lines += numbers_block(body, run, words)
            continue
        lines += [f"{'#' * (shift + 1)} {title}", "", _demote(body, shift), ""]
    return lines


def _demote(markdown: str, by: int) -> str:
    out, in_fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and re.match(r"#{1,6} ", line):
            line = "#" * by + line
        out.append(line)
    return "\n".join(out)
