"""A question page's "Does the method work?" section: the starter's own metric run on organism
variants with planted truth (`mi-starter validate`, starter/validation.py), as committed in
`docs/results/<slug>/validation/`: its figure, one table per validation block, and one sentence per
variant from research.yaml's `validation` field (a generated line where none is written yet).

validation.json comes in three shapes, all read here: one flat block (`quantity`, `meaning`,
`recovered`, `arms`), a record holding several (`validations: [block, ...]`), or a bare list of
blocks. A page without the file says so, or gives the starter's `NO_VALIDATION` reason (read from
its source, never imported: no torch in the site build).

>>> record = parse_record({"starter": "s", "preset": "cpu", "quantity": "rate", "meaning": "m.",
...     "recovered": False, "arms": [{"variant": "tinythinker-hint-p0", "planted": 0.0,
...     "measured": 0.2, "ci": [0.1, 0.3], "n": 40, "recovered": False, "why": "misses 0"}]}, "x")
>>> [(b.quantity, [a.short for a in b.arms]) for b in record.blocks], record.recovered
([('rate', ['hint-p0'])], False)
>>> print(arm_row(record.blocks[0].arms[0]).replace(" | <", " |\\n<"))
| `hint-p0` | 0.00 | — | 0.20 [0.10, 0.30] | 40 |
<span class="mi-verdict mi-verdict--refuted">refuted</span> |

The verdicts use the result card's three words (sitekit/pages/results.py): a variant whose
planted truth the metric recovered is `supported`; one it missed is `refuted`, or `not
distinguishable` where only an order was planted and its interval overlaps a neighbour's.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from sitekit.catalog import Question
from sitekit.pages.results import VERDICTS, image_attrs, png_size, verdict_badge

FOLDER = "validation"  # docs/results/<slug>/validation/, written by `mi-starter validate --out`
RECORD = "validation.json"  # starter/validation.py's VALIDATION_FILE
ORGANISM_VARIANTS = "../organism.md#variants-with-planted-truth"  # from research/<slug>.md
ORGANISM = "tinythinker"  # the base organism's registry name; variants are tinythinker-<name>


@dataclass(frozen=True)
class ArmResult:
    """One row of a validation block: what the metric found on one variant."""

    variant: str  # registry model, e.g. "tinythinker-planned" (or "tinythinker", the base)
    planted: float | None  # the value planted (None: only the order was planted)
    learned: float | None  # what the variant really does (its eval.json), when known
    measured: float | None  # the starter's metric on it (None: not estimable)
    lo: float | None  # lower end of the metric's 95% interval
    hi: float | None  # upper end
    n: int | None  # problems behind the estimate
    recovered: bool  # ordered as planted and, where a value was planted, covered
    why: str  # one line from the validator: what passed or failed
    difference: float | None = None  # measured minus tinythinker-retrained's (None: no control)
    d_lo: float | None = None  # lower end of the difference's 95% interval
    d_hi: float | None = None  # upper end
    power: float | None = None  # to detect the planted difference at this n (None: not planted)
    n_for_80: int | None = None  # problems per arm that would give 80% power
    detectable: float | None = None  # smallest difference detected with 80% power (order only)

    @property
    def short(self) -> str:
        """The variant's name without the organism's prefix, as the figure labels it."""
        return self.variant.removeprefix(ORGANISM + "-") if self.variant != ORGANISM else "base"


@dataclass(frozen=True)
class Block:
    """One validation: a quantity the metric should recover, over its arms."""

    quantity: str  # what the metric measures
    meaning: str  # what recovery says about trusting the method on R1-distill
    recovered: bool  # every arm recovered
    arms: list[ArmResult]  # in the planted order
    control: ArmResult | None = None  # the matched-training control (tinythinker-retrained)


@dataclass(frozen=True)
class Record:
    """A committed validation.json, whatever its shape."""

    slug: str  # the question's slug (the results folder's name)
    preset: str | None  # smoke or cpu
    blocks: list[Block]  # one or more validations

    @property
    def recovered(self) -> bool:
        return all(block.recovered for block in self.blocks)

    def variants(self) -> list[str]:
        """Every arm's registry model, in order of first appearance across the blocks."""
        return list(dict.fromkeys(arm.variant for block in self.blocks for arm in block.arms))

    def rows_of(self, variant: str) -> list[ArmResult]:
        return [arm for block in self.blocks for arm in block.arms if arm.variant == variant]


# --- reading --------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _arm(row: Any, where: str) -> ArmResult:
    if not isinstance(row, dict) or not isinstance(row.get("variant"), str):
        raise PluginError(f"{where}: each arm must be an object with a `variant` string")
    lo, hi = _pair(row.get("ci"))
    d_lo, d_hi = _pair(row.get("difference_ci"))
    n = row.get("n")
    return ArmResult(
        variant=row["variant"],
        planted=_number(row.get("planted")),
        learned=_number(row.get("learned")),
        measured=_number(row.get("measured")),
        lo=lo,
        hi=hi,
        n=n if isinstance(n, int) and not isinstance(n, bool) else None,
        recovered=row.get("recovered") is True,
        why=str(row.get("why") or "").strip(),
        difference=_number(row.get("difference")),
        d_lo=d_lo,
        d_hi=d_hi,
        power=_number(row.get("power")),
        n_for_80=_count(row.get("n_for_80")),
        detectable=_number(row.get("detectable")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pair(ci: Any) -> tuple[float | None, float | None]:
    """An interval [lo, hi] from JSON, or (None, None)."""
    if isinstance(ci, list) and len(ci) == 2:
        return _number(ci[0]), _number(ci[1])
    return None, None


def _block(data: Any, where: str) -> Block:
    if not isinstance(data, dict) or not isinstance(data.get("arms"), list) or not data["arms"]:
        raise PluginError(f"{where}: a validation block needs a non-empty `arms` list")
    arms = [_arm(row, where) for row in data["arms"]]
    from starter.validation import control_of  # one rule for the key, old files included

    recovered = data.get("recovered")
    control = control_of(data)
    return Block(
        quantity=str(data.get("quantity") or "").strip() or "the starter's metric",
        meaning=str(data.get("meaning") or "").strip(),
        recovered=recovered if isinstance(recovered, bool) else all(a.recovered for a in arms),
        arms=arms,
        control=_arm({"recovered": True, **control}, where) if isinstance(control, dict) else None,
    )


def parse_record(data: Any, where: str, slug: str = "") -> Record:
    """A Record from validation.json's content, any of its three shapes; a PluginError naming
    `where` for anything else."""
    head = data if isinstance(data, dict) else {}
    if isinstance(data, list):
        blocks = data
    elif isinstance(data, dict) and "validations" in data:
        blocks = data["validations"]
        if not isinstance(blocks, list) or not blocks:
            raise PluginError(f"{where}: `validations` must be a non-empty list of blocks")
    elif isinstance(data, dict) and "arms" in data:
        blocks = [data]
    else:
        raise PluginError(f"{where}: expected a validation block (with `arms`), a record with "
                          "`validations`, or a list of blocks (starter/validation.py writes them)")
    if not blocks:
        raise PluginError(f"{where}: the list of validation blocks is empty")
    presets = {b.get("preset") for b in blocks if isinstance(b, dict) and b.get("preset")}
    preset = head.get("preset") or (presets.pop() if len(presets) == 1 else None)
    return Record(slug=str(head.get("starter") or slug), preset=preset,
                  blocks=[_block(block, where) for block in blocks])


def record_path(results_dir: Path, slug: str) -> Path:
    return results_dir / slug / FOLDER / RECORD


def load_record(results_dir: Path, slug: str) -> Record | None:
    """The committed validation of `slug`, or None when there is none."""
    path = record_path(results_dir, slug)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PluginError(f"{path}: not valid JSON (line {err.lineno}: {err.msg}); rerun "
                          f"`mi-starter validate {slug} --preset cpu`") from None
    return parse_record(data, str(path), slug)


def status(results_dir: Path, slug: str) -> str:
    """`passes` (every check recovered what was planted), `fails`, or `none` (no committed
    validation.json): what a home card's validation badge says."""
    record = load_record(results_dir, slug)
    if record is None:
        return "none"
    return "passes" if record.recovered else "fails"


def no_validation_reason(starter: Path) -> str | None:
    """The starter module's `NO_VALIDATION = "<why>"`, read from its source (not imported).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "s.py"
    ...     _ = path.write_text('NO_VALIDATION = ("no variant plants "\\n "a prompt effect")\\n')
    ...     no_validation_reason(path)
    'no variant plants a prompt effect'
    """
    if not starter.is_file():
        return None
    try:
        tree = ast.parse(starter.read_text(encoding="utf-8"))
    except SyntaxError:
        return None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "NO_VALIDATION" for t in targets):
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return " ".join(value.value.split()) or None
    return None


# --- words ----------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def recovered_badge(recovered: bool) -> str:
    """The result card's badge: `supported` (recovered) or `refuted` (not)."""
    return verdict_badge(VERDICTS[0] if recovered else VERDICTS[2])


def _overlap(a: ArmResult, b: ArmResult) -> bool:
    if a.lo is None or a.hi is None or b.lo is None or b.hi is None:
        return True  # no interval: nothing beyond the point estimates
    return max(a.lo, b.lo) <= min(a.hi, b.hi)


def arm_verdict(block: Block, arm: ArmResult) -> str:
    """One arm in the three verdict words.

    >>> a = ArmResult("tinythinker", None, None, 0.5, 0.4, 0.6, 30, False, "")
    >>> b = ArmResult("tinythinker-lucky", None, None, 0.45, 0.3, 0.55, 30, False, "")
    >>> arm_verdict(Block("q", "", False, [a, b]), a)
    'not distinguishable'
    """
    if arm.recovered:
        return VERDICTS[0]
    if arm.planted is not None:
        return VERDICTS[2]  # the interval misses the planted value, or the order is wrong
    ordered = [other for other in block.arms if other.planted is None]
    at = ordered.index(arm)
    neighbours = ordered[max(0, at - 1):at] + ordered[at + 1:at + 2]
    return VERDICTS[1] if any(_overlap(arm, n) for n in neighbours) else VERDICTS[2]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _with_power(block: Block | None) -> bool:
    """Whether any arm states its power (validations judged since power was added)."""
    return block is not None and _with_control(block) and any(
        arm.power is not None or arm.detectable is not None for arm in block.arms)


def _power_cell(arm: ArmResult) -> str:
    """Power to detect the planted difference (problems per arm for 80%), or for an order-only
    arm the smallest difference detected with 80% power."""
    if arm.power is not None:
        return f"{arm.power:.2f} (n for 80%: {arm.n_for_80})"
    if arm.detectable is not None:
        return f"detects ≥ {arm.detectable:.2f}"
    return "—"


def _with_control(block: Block | None) -> bool:
    return block is not None and any(arm.difference is not None for arm in block.arms)


def arm_row(arm: ArmResult, rank: int = 1, block: Block | None = None) -> str:
    """One table row: variant, planted (a value, or the arm's `rank` in the planted order),
    learned, measured [95% interval], n, (minus the retrained control [95% interval], where the
    block has one), verdict."""
    planted = f"order only (rank {rank})" if arm.planted is None else _fmt(arm.planted)
    learned = "—" if arm.learned is None else _fmt(arm.learned)
    measured = _fmt(arm.measured)
    if arm.lo is not None and arm.hi is not None:
        measured += f" [{_fmt(arm.lo)}, {_fmt(arm.hi)}]"
    n = "—" if arm.n is None else str(arm.n)
    verdict = verdict_badge(arm_verdict(block, arm)) if block else recovered_badge(arm.recovered)
    cells = [f"`{arm.short}`", planted, learned, measured, n]
    if _with_control(block):
        difference = "—" if arm.difference is None else f"{arm.difference:+.2f}"
        if arm.d_lo is not None and arm.d_hi is not None:
            difference += f" [{arm.d_lo:+.2f}, {arm.d_hi:+.2f}]"
        cells.append(difference)
    if _with_power(block):
        cells.append(_power_cell(arm))
    cells.append(verdict)
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def block_table(block: Block) -> list[str]:
    """The block's table; with the matched-training control, a line on it and a column with each
    arm's difference from it (a check passes only when that interval excludes 0 on the planted
    side, starter/validation.py).

    >>> arm = ArmResult("tinythinker-planned", 1.0, None, 0.5, 0.4, 0.6, 40, False, "",
    ...                 0.05, -0.09, 0.19)
    >>> control = ArmResult("tinythinker-retrained", None, None, 0.45, 0.35, 0.55, 40, True, "")
    >>> lines = block_table(Block("rate", "", False, [arm], control))
    >>> print(lines[0].split(": ")[1])
    0.45 [0.35, 0.55], n = 40.
    >>> print(lines[4])  # doctest: +ELLIPSIS
    | `planned` | 1.00 | — | 0.50 [0.40, 0.60] | 40 | +0.05 [-0.09, +0.19] | ...
    """
    head = ["| Variant | Planted | Learned | Measured [95% interval] | n | Verdict |",
            "| --- | --- | --- | --- | --- | --- |"]
    lines = []
    if _with_control(block):
        head = ["| Variant | Planted | Learned | Measured [95% interval] | n | Minus control "
                "[95% interval] | Verdict |", "| --- | --- | --- | --- | --- | --- | --- |"]
        if _with_power(block):
            head = [head[0].replace(" | Verdict |", " | Power | Verdict |"),
                    head[1] + " --- |"]
        c = block.control
        if c is not None:
            shown = _fmt(c.measured) + (f" [{_fmt(c.lo)}, {_fmt(c.hi)}]"
                                        if c.lo is not None and c.hi is not None else "")
            n = "" if c.n is None else f", n = {c.n}"
            from starter.validation import (  # one rule for summary.md and the site
                Measured,
                control_kind,
                estimable,
                not_estimable_reason,
            )

            kind = control_kind(c.variant, [arm.variant for arm in block.arms])
            measured = Measured(math.nan if c.measured is None else c.measured,
                                (c.lo, c.hi) if c.lo is not None and c.hi is not None else None,
                                c.n or 0)
            if not estimable(measured):
                shown += f" ({not_estimable_reason(measured)}: no difference test)"
            lines = [f"Matched control `{c.short}` ({kind}): {shown}{n}.", ""]
    return [
        *lines, *head,
        *(arm_row(arm, rank, block) for rank, arm in enumerate(block.arms, start=1)),
        "",
    ]


def order_overlaps(block: Block) -> bool:
    """A passing block whose arms had only an order planted, with neighbouring 95% intervals
    that overlap: the order holds for the point estimates, not beyond their noise.

    >>> arm = ArmResult("tinythinker", None, None, 0.77, 0.45, 1.12, 100, True, "")
    >>> order_overlaps(Block("gap", "", True, [arm, ArmResult("tinythinker-planned", None,
    ...     None, 0.86, 0.73, 1.01, 100, True, "")]))
    True
    """
    arms = [arm for arm in block.arms if arm.planted is None]
    if not block.recovered or len(arms) < 2:
        return False
    return any(_overlap(a, b) for a, b in zip(arms, arms[1:]))


def generated_sentence(record: Record, variant: str) -> str:
    """What the validator says about one variant, where research.yaml has no sentence yet."""
    rows = record.rows_of(variant)
    failed = [row for row in rows if not row.recovered]
    checks = f" on {len(rows)} checks" if len(rows) > 1 else ""
    if not failed:
        return f"recovered{checks}: {rows[0].why or 'ordered as planted'}."
    why = "; ".join(dict.fromkeys(row.why for row in failed if row.why)) or "see the table"
    some = f" ({len(failed)} of {len(rows)} checks)" if len(rows) > 1 else ""
    return f"not recovered{some}: {why}."


def verdict_line(record: Record) -> str:
    """The section's first line: the method passes or fails, in words a skimmer reads."""
    arms = [arm for block in record.blocks for arm in block.arms]
    missed = [arm for arm in arms if not arm.recovered]
    preset = f" (preset `{record.preset}`)" if record.preset else ""
    if not missed:
        return (f"{recovered_badge(True)} **The method passes**: its metric recovered what was "
                f"planted on every variant{preset}.")
    return (f"{recovered_badge(False)} **The method fails this validation**: {len(missed)} of "
            f"{len(arms)} checks did not recover what was planted{preset}. Read the failing rows "
            "before trusting the result above on R1-distill.")


# --- markdown -------------------------------------------------------------------------------------


MAX_ALT = 250  # characters of alt text


def alt_text(record: Record) -> str:
    """What the validation figure plots, from validation.json: one panel per block, its axes,
    the variants, and what to look for (at most MAX_ALT characters).

    >>> arm = ArmResult("tinythinker-lucky", None, None, 0.2, 0.1, 0.3, 32, True, "")
    >>> print(alt_text(Record("s", "cpu", [Block("agreement at K=0", "", True, [arm])])))
    ... # doctest: +NORMALIZE_WHITESPACE
    Planted (x) against measured (y, 95% intervals), 1 panel: agreement at K=0. Points: lucky.
    Look for red points (not recovered) off the diagonal: 1 of 1 recovered.
    """
    arms = [arm for block in record.blocks for arm in block.arms]
    passed = sum(arm.recovered for arm in arms)
    panels = len(record.blocks)
    look = (f" Look for red points (not recovered) off the diagonal: {passed} of {len(arms)} "
            "recovered.")
    names = ", ".join(dict.fromkeys(arm.short for arm in arms))
    quantities = "; ".join(block.quantity for block in record.blocks)
    head = f"Planted (x) against measured (y, 95% intervals), {panels} panel"
    head += "s" if panels != 1 else ""
    for text in (f"{head}: {quantities}. Points: {names}.{look}", f"{head}: {quantities}.{look}",
                 f"{head}. Points: {names}.{look}", f"{head}.{look}"):
        text = re.sub(r"[`*\[\]|<>\"]", "", text)
        if len(text) <= MAX_ALT:
            return text
    return text[: MAX_ALT - 1] + "…"


def figure(slug: str, record: Record, size: tuple[int, int] | None = None) -> list[str]:
    src = f"../results/{slug}/{FOLDER}/figure.png"
    return [
        '<figure class="mi-figure" markdown="span">',
        f'  [![{alt_text(record)}]({src}){image_attrs(size)}]({src} "Open the full-size figure")',
        "  <figcaption>Each point is one organism variant: the value planted in it (x) against "
        "what the starter's metric measured (y), with its 95% interval. On the diagonal the "
        "two agree. Green points recovered what was planted, red ones did not. Variants that "
        "were given only an order, not a value, are drawn to the right of x = 1, in that "
        "order. Click the figure to open it full size.</figcaption>",
        "</figure>",
        "",
    ]


def render_section(q: Question, results_dir: Path, root: Path, words: dict[str, str],
                   fallback: list[str] | None = None) -> list[str]:
    """The "Does the method work?" section of question `q`'s page (markdown lines).

    `fallback` is the edition's "not translated yet" note, put above the English content.
    """
    lines = [f"## {words['validation']} {{ #validation }}", ""]
    record = load_record(results_dir, q.slug)
    if record is None:
        reason = no_validation_reason(root / q.starter)
        text = (words["no_validation_reason"].format(reason=reason.rstrip("."))
                if reason else words["no_validation"])
        link = words["validation_variants"].format(path=ORGANISM_VARIANTS)
        return [*lines, f"{text} {link}", "{ .mi-provenance }", ""]
    lines += [*(fallback or []), verdict_line(record), ""]
    lines += [words["validation_intro"].format(path=ORGANISM_VARIANTS), ""]
    png = results_dir / q.slug / FOLDER / "figure.png"
    if png.is_file():
        lines += figure(q.slug, record, png_size(png))
    several = len(record.blocks) > 1
    for k, block in enumerate(record.blocks, start=1):
        badge = recovered_badge(block.recovered)
        head = f"**{k}. {block.quantity}** {badge}" if several else f"**Metric:** {block.quantity}."
        lines += [f"{head} {block.meaning}".rstrip(), "", *block_table(block)]
        if order_overlaps(block):
            lines += [words["validation_overlap"], ""]
    sentences = {entry.variant: entry.sentence for entry in q.validation}
    lines += [f"**{words['validation_sentences']}**", ""]
    for variant in record.variants():
        rows = record.rows_of(variant)
        ok = all(row.recovered for row in rows)
        said = sentences.get(variant) or generated_sentence(record, variant)
        lines.append(f"- `{variant}` {recovered_badge(ok)}: {said}")
    base = f"../results/{q.slug}/{FOLDER}"
    lines += ["", f"[{words['validation_numbers']}]({base}/{RECORD}) · "
              + words["validation_rerun"].format(slug=q.slug), ""]
    return lines
