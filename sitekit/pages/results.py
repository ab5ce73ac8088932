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
A beats B. rate 0.50 [0.40, 0.60] (n = 12 problems) vs B 0.20 [0.10, 0.30] (n = 12);
difference +0.30 [0.10, 0.50].

Every interval on the site reads `value [low, high]`, the 95% interval in brackets
(`interval`; sitekit/pages/notation.py rewrites the starters' own notations to it).
"""

from __future__ import annotations

import ast
import html
import json
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from sitekit.pages.notation import interval

ORGANISM = "tinythinker"  # the model registry's name for the model organism (docs/organism.md)
ORGANISM_SIZE = "4.2M-parameter"  # as docs/organism.md states it
NEURONPEDIA = "https://www.neuronpedia.org"
NP_SEARCH = NEURONPEDIA + "/search-explanations/?q="  # Neuronpedia's own explanation search
FETCHED = ("live", "cached", "recorded")  # latent provenances that came from Neuronpedia itself
NUMBERS_SECTIONS = ("Numbers",)  # summary.md sections of raw metric names: collapsed, not indexed
DROPPED_SECTIONS = ("Claims",)  # summary.md sections the result card already shows
NEURONPEDIA_SECTION = "Neuronpedia latents"
MAX_ALT = 250  # characters of alt text: what the figure plots and what to look for
VERDICTS = ("supported", "not distinguishable", "refuted")  # starter/findings.py's words


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
    primary: bool = False  # the run's one primary claim, declared before the run
    direction: int = 1  # +1: the claim predicts estimate > control; -1: estimate < control
    ci_level: float = 0.95  # level of the difference's interval (Holm-adjusted when secondary)
    # the strongest simple baseline the claim stands beside (findings.json's strongest_baseline:
    # the best rung of trivial / one-line rule / fitted text baseline); "" when it names none
    baseline_name: str = ""
    baseline: Interval | None = None  # its value and 95% interval (n unused)

    @classmethod
    def from_dict(cls, row: dict) -> Claim:
        control = row.get("control") or {}
        strongest = row.get("strongest_baseline")
        strongest = strongest if isinstance(strongest, dict) else {}
        return cls(
            claim=str(row.get("claim", "")).strip(),
            metric=str(row.get("metric", "")),
            estimate=_interval(row.get("value"), row.get("ci"), row.get("n")),
            unit=str(row.get("unit") or "problem"),
            control_name=str(control.get("name", "control")),
            control=_interval(control.get("value"), control.get("ci"), control.get("n")),
            difference=_interval(row.get("difference"), row.get("difference_ci"), None),
            verdict=str(row.get("verdict", "not distinguishable")),
            primary=row.get("primary") is True,
            direction=_direction(row),
            ci_level=float(row.get("ci_level") or 0.95),
            baseline_name=str(strongest.get("name") or "").strip(),
            baseline=(_interval(strongest.get("value"), strongest.get("ci"), None)
                      if strongest.get("name") else None),
        )


def _direction(row: dict) -> int:
    """The predicted direction: findings.json's `direction`, else what the verdict and the
    difference imply (supported below the control, or refuted above it: lower predicted).

    >>> _direction({"verdict": "supported", "difference": -0.25}), _direction({"difference": 0.1})
    (-1, 1)
    """
    if row.get("direction") in (1, -1):
        return row["direction"]
    diff = row.get("difference")
    if not isinstance(diff, (int, float)) or diff == 0:
        return 1
    verdict = row.get("verdict")
    if verdict == "supported":
        return 1 if diff > 0 else -1
    if verdict == "refuted":
        return -1 if diff > 0 else 1
    return 1


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
    figure_size: tuple[int, int] | None = None  # figure.png's (width, height) in pixels

    @property
    def primary(self) -> Claim | None:
        """The claim marked `primary: true`, else the first claim; None without claims."""
        return next((c for c in self.claims if c.primary), self.claims[0] if self.claims else None)

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
        figure_size=png_size(result_dir / "figure.png"),
    )


def png_size(path: Path) -> tuple[int, int] | None:
    """A PNG's (width, height) from its header; None for a missing or non-PNG file.

    >>> png_size(Path("no-such.png")) is None
    True
    """
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


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


def _value(iv: Interval, sign: str = "") -> str:
    """`0.41 [0.22, 0.60]`: the site's one interval notation (no interval: said so)."""
    if iv.lo is None or iv.hi is None:
        return f"{sign}{fmt(iv.value)} (no interval)"
    return interval(f"{sign}{fmt(iv.value)}", fmt(iv.lo), fmt(iv.hi))


def _plural(unit: str, n: int | None) -> str:
    return unit if n == 1 else f"{unit}s"


def claim_numbers(c: Claim) -> str:
    """The numbers behind a claim: value [95% interval], n and unit, the control, the
    difference; a claim that predicts a lower value says so."""
    est, ctl, diff = c.estimate, c.control, c.difference
    sign = "+" if (diff.value or 0) > 0 else ""
    notes = [f"{c.ci_level * 100:g}% interval, Holm-adjusted"] if abs(c.ci_level - 0.95) > 1e-6 \
        else []
    notes += ["lower predicted"] if c.direction == -1 else []
    said = f" ({'; '.join(notes)})" if notes else ""
    baseline = ""
    if c.baseline_name and c.baseline is not None:
        baseline = f" Strongest simple baseline: {c.baseline_name} {_value(c.baseline)}."
    return (
        f"{c.metric} {_value(est)} (n = {est.n} {_plural(c.unit, est.n)}) vs "
        f"{c.control_name} {_value(ctl)} (n = {ctl.n}); difference "
        f"{_value(diff, sign)}{said}.{baseline}"
    )


def claim_sentence(c: Claim) -> str:
    """The claim in one line with its interval, n, unit and control (plain text)."""
    return f"{c.claim} {claim_numbers(c)}"


def claim_item(c: Claim, label: str = "") -> str:
    """A markdown list item: the verdict badge, the claim (after `label`, e.g. "Primary
    claim:"), its numbers on the next line."""
    numbers = html.escape(claim_numbers(c))
    head = f"**{label}** " if label else ""
    return (f"- {verdict_badge(c.verdict)} {head}{c.claim} "
            f'<span class="mi-claim-numbers">{numbers}</span>')


def verdict_badge(verdict: str) -> str:
    """An HTML badge for a claim's verdict.

    >>> verdict_badge("not distinguishable")
    '<span class="mi-verdict mi-verdict--not-distinguishable">not distinguishable</span>'
    """
    css = re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
    return f'<span class="mi-verdict mi-verdict--{css}">{html.escape(verdict)}</span>'


VERDICT_HELP = {
    "supported": "the 95% interval of the difference from the control excludes zero, in the "
                 "direction the claim predicts",
    "not distinguishable": "the interval includes zero: at this n the data cannot tell the "
                           "claim from its control",
    "refuted": "the interval excludes zero in the opposite direction",
}


def verdict_legend(words: dict[str, str]) -> list[str]:
    """What the three verdict words mean, and how to read `value [low, high]` (markdown)."""
    items = " · ".join(f"{verdict_badge(v)} {words['legend_' + v.replace(' ', '_')]}"
                       for v in VERDICTS)
    return [f'<p class="mi-legend" data-search-exclude>{words["legend_intro"]} {items}</p>', ""]


@dataclass(frozen=True)
class Runtime:
    """How long a committed run took, as far as its manifest can tell."""

    seconds: int  # first start to last finish
    resumed: int  # how many times the run was resumed (0: one session, start to finish)

    @property
    def one_session(self) -> bool:
        return self.resumed == 0


def run_time(manifest: dict) -> Runtime | None:
    """started_at/finished_at of manifest.json and its `resumed` entries; None without times.

    >>> run_time({"started_at": "2026-11-27T15:04:26+00:00",
    ...           "finished_at": "2026-11-27T15:12:19+00:00", "resumed": [{}, {}]})
    Runtime(seconds=473, resumed=2)
    """
    try:
        start = datetime.fromisoformat(str(manifest["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(manifest["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    resumed = manifest.get("resumed")
    count = len(resumed) if isinstance(resumed, list) else 0
    return Runtime(max(0, int((end - start).total_seconds())), count)


def duration(seconds: int) -> str:
    """
    >>> duration(473), duration(5760), duration(42)
    ('7 min 53 s', '1 h 36 min', '42 s')
    """
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def runtime(manifest: dict, words: dict[str, str] | None = None) -> str | None:
    """How long the run took, honestly: one session's start to finish; for a resumed run the
    manifest holds no sampling time, so it says so and gives the wall time as an upper bound.

    >>> runtime({"started_at": "2026-11-27T15:04:26+00:00",
    ...          "finished_at": "2026-11-27T15:12:19+00:00"})
    '7 min 53 s'
    >>> runtime({"started_at": "2026-11-27T15:04:26+00:00",
    ...          "finished_at": "2026-11-27T16:40:26+00:00", "resumed": [{}]})
    'not recorded (resumed once; at most 1 h 36 min from first start to last finish)'
    >>> runtime({}) is None
    True
    """
    took = run_time(manifest)
    if took is None:
        return None
    if took.one_session:
        return duration(took.seconds)
    times = "once" if took.resumed == 1 else f"{took.resumed} times"
    template = (words or {}).get("runtime_resumed") or (
        "not recorded (resumed {times}; at most {wall} from first start to last finish)")
    return template.format(times=times, count=took.resumed, wall=duration(took.seconds))


def one_line_finding(run: Run) -> str | None:
    """The primary claim (`primary: true`, else the first) with its verdict and metric, for the
    landing page; a claim that predicts a lower value says so."""
    c = run.primary
    if c is None:
        return None
    lower = ", lower predicted" if c.direction == -1 else ""
    return (f"{c.claim} ({c.verdict}: {c.metric} {fmt(c.estimate.value)} vs "
            f"{c.control_name} {fmt(c.control.value)}{lower})")


def plot_labels(starter: Path) -> tuple[list[str], list[str], list[str]]:
    """(x labels, y labels, panel titles) the starter's plot code writes as string constants:
    `ax.set(xlabel=...)`, `ax.set_ylabel(...)`, `ax.set_title(...)`. Read from its source, never
    imported.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "s.py"
    ...     _ = path.write_text('ax.set(xlabel="K", ylabel="agreement")\\nax.set_title("a")\\n')
    ...     plot_labels(path)
    (['K'], ['agreement'], ['a'])
    """
    found: dict[str, list[str]] = {"xlabel": [], "ylabel": [], "title": []}
    if not starter.is_file():
        return [], [], []
    try:
        tree = ast.parse(starter.read_text(encoding="utf-8"))
    except SyntaxError:
        return [], [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        pairs = [(kw.arg, kw.value) for kw in node.keywords] if name == "set" else []
        if name in ("set_xlabel", "set_ylabel", "set_title") and node.args:
            pairs.append((name.removeprefix("set_"), node.args[0]))
        for key, value in pairs:
            if key in found and isinstance(value, ast.Constant) and isinstance(value.value, str):
                text = " ".join(value.value.split())
                if text and text not in found[key]:
                    found[key].append(text)
    return found["xlabel"], found["ylabel"], found["title"]


def _clip(text: str, limit: int = MAX_ALT) -> str:
    text = " ".join(re.sub(r"[`*_\[\]<>\"]", "", text).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def alt_text(run: Run, title: str, starter: Path | None = None) -> str:
    """What the figure plots, from the run's data and the starter's plot code: its axes (the
    labels its code writes), what is compared, and what to look for; at most MAX_ALT characters.
    Not the claim text."""
    xs, ys, _ = plot_labels(starter) if starter else ([], [], [])
    if run.claims:
        metrics = list(dict.fromkeys(c.metric for c in run.claims))
        controls = list(dict.fromkeys(c.control_name for c in run.claims))
        counts = {v: sum(c.verdict == v for c in run.claims) for v in VERDICTS}
        verdicts = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        more = f" and {len(metrics) - 1} more" if len(metrics) > 1 else ""
        what = f"{metrics[0]}{more} against {controls[0]}, with 95% intervals"
        short = f"{metrics[0]}{more}, with 95% intervals"
        look = f"Look for intervals that clear the control ({verdicts})."
    else:
        what = short = "the run's measurements"
        look = _finding_paragraph(run.summary)
    # most detail first; the first that fits MAX_ALT wins
    tries = [(3, 2, what), (2, 1, what), (1, 1, what), (1, 1, short), (1, 0, short),
             (0, 0, what), (0, 0, short)]
    for y_count, x_count, said in tries:
        axes = [f"y: {'; '.join(ys[:y_count])}"] if ys[:y_count] else []
        axes += [f"x: {'; '.join(xs[:x_count])}"] if xs[:x_count] else []
        text = f"Plot ({', '.join(axes)}): {said}. {look}" if axes else f"Plot: {said}. {look}"
        text = " ".join(text.split())
        if len(text) <= MAX_ALT:
            return _clip(text)
    return _clip(text)


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
    size = next((v for k, v in config.items() if k.startswith("n_") and isinstance(v, int)), None)
    head = f"n = {size} ({_n_key(config)}). " if size is not None else ""
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


def image_attrs(size: tuple[int, int] | None) -> str:
    """attr_list for a figure: its pixel size, and the width it keeps on a phone (half its
    natural width, in a container that scrolls sideways: docs/assets/css/extra.css).

    >>> image_attrs((1034, 1046))
    '{ width="1034" height="1046" style="--mi-phone-width: 517px" }'
    >>> image_attrs(None)
    ''
    """
    if size is None:
        return ""
    width, height = size
    return f'{{ width="{width}" height="{height}" style="--mi-phone-width: {width // 2}px" }}'


def figure(run: Run, title: str, prefix: str = "../", starter: Path | None = None,
           folder: str | None = None) -> list[str]:
    """The result figure in a <figure> with a caption, alt text that says what it plots, and a
    link to zoom. `folder`: the result's folder under results/ (default: the run's slug)."""
    if not run.has_figure:
        return []
    src = f"{prefix}results/{folder or run.slug}/figure.png"
    alt = alt_text(run, title, starter)
    return [
        '<figure class="mi-figure" markdown="span">',
        f'  [![{alt}]({src}){image_attrs(run.figure_size)}]({src} "Open the full-size figure")',
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


def result_card(run: Run, title: str, words: dict[str, str],
                starter: Path | None = None) -> list[str]:
    """The card at the top of a question page, the primary claim first; [] without
    findings.json (no card). `starter` (its source) names the figure's axes in the alt text."""
    if not run.has_findings:
        return []
    lines = ['<div class="result-card" markdown>', "", f"**{words['card_title']}**", ""]
    if not run.claims:
        lines += [words["no_claims"], ""]
    primary = run.primary
    for c in sorted(run.claims, key=lambda c: c is not primary):
        lines.append(claim_item(c, words["primary_claim"] if c is primary and len(run.claims) > 1
                                else ""))
    lines.append("")
    lines += verdict_legend(words)
    lines += figure(run, title, starter=starter)
    facts = [f"{words['model']}: {model_badge(run)}"]
    took = runtime(run.manifest, words)
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
        lines += [f"{'#' * (shift + 1)} {title}", "", loose_lists(_demote(body, shift)), ""]
    return lines


def loose_lists(markdown: str) -> str:
    """A blank line before a list that follows a paragraph line: Python-Markdown needs one, or
    the items run on as text with literal " - " in them. Fenced code and tables are left alone.

    >>> print(loose_lists("At thresholds:\\n- probe: 0.05\\n- text: 0.01"))
    At thresholds:
    <BLANKLINE>
    - probe: 0.05
    - text: 0.01
    """
    out: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        item = re.match(r"\s*([-*+]|\d+\.) ", line)
        previous = out[-1] if out else ""
        if (not in_fence and item and previous.strip()
                and not re.match(r"\s*([-*+]|\d+\.) ", previous)
                and not previous.lstrip().startswith(("|", "#", ">"))
                and not previous.startswith((" ", "\t"))):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _demote(markdown: str, by: int) -> str:
    out, in_fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and re.match(r"#{1,6} ", line):
            line = "#" * by + line
        out.append(line)
    return "\n".join(out)
