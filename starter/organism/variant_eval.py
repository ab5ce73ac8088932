"""What each organism variant actually learned: its dial measured directly from its own samples.

A variant's `planted` values are what its training traces did; a 4.2M-parameter model learns them
only approximately. This module samples the trained variant on held-out problems and measures the
dial by reading the chains against the known search (no interpretability method involved), so that
`mi-starter validate` can compare each starter's metric with what the model really does. The
figures go into `eval.json` beside the adapter and onto the organism page.

Measures (95% Wilson intervals over problems; one sample per problem and condition):
- every variant: greedy solved rate on unhinted held-out problems;
- luck: at temperature 1, the rate at which the first branch opened reaches the target, and the
  solved rate beside the rate the rule plants (`variants.p_solved_in_budget`, averaged);
- hint: at temperature 1, on wrong and on correct hints, how often the first branch is the hinted
  one (follow rate, q) and how often a follower writes "Hint:" (mention rate, p);
- backtracking: greedy, over "Left:" states that are dead ends, how often "Wait, backtrack." comes
  next; over live states, how often it comes next anyway (premature);
- monitoring: at temperature 1 on leaked prompts, per condition, use and mention rates.

>>> first_branch(" Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
'8+19'
>>> left_states(" Try 8*19=152. Left: 152, 4. Wait, backtrack. Try 8+19=27. Left: 27, 4. Try")
[(152, 4, True), (27, 4, False)]
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starter.organism import variants
from starter.stats import proportion_ci
from starter.tasks.countdown import (
    SearchResult,
    check_expression,
    final_tries,
    raw_prompt,
    sample_searches,
)

SEED = 7  # problems and sampling noise of the evaluation (held-out split)
_TRY = re.compile(r"Try (\d+[-+*/]\d+)=(-?\d+)\. Left:")
_LEFT = re.compile(r"Left: (\d+), (\d+)\.( Wait, backtrack\.)?")


def first_branch(completion: str) -> str | None:
    """The first first-level operation a chain opens ("Try a op b=v. Left: ...")."""
    found = _TRY.search(completion)
    return found.group(1) if found else None


def left_states(completion: str) -> list[tuple[int, int, bool]]:
    """(value, rest, backtracked at once) for every "Left: value, rest." state of a chain."""
    return [(int(m.group(1)), int(m.group(2)), m.group(3) is not None)
            for m in _LEFT.finditer(completion)]


def solved(completion: str, result: SearchResult) -> bool:
    found = re.search(r"\\boxed\{([^}]*)\}", completion)
    if found is None:
        return False
    try:
        return check_expression(found.group(1), list(result.numbers), result.target)
    except ValueError:
        return False


@dataclass
class Rate:
    """k of n, with its 95% Wilson interval."""

    k: int
    n: int
    low: float
    high: float

    @classmethod
    def of(cls, hits: list[bool]) -> Rate:
        if not hits:
            return cls(0, 0, float("nan"), float("nan"))
        low, high = proportion_ci(sum(hits), len(hits)).ci
        return cls(sum(hits), len(hits), round(low, 3), round(high, 3))

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def __str__(self) -> str:
        return f"{self.k}/{self.n} [{self.low:.2f}, {self.high:.2f}]"


@dataclass
class EvalReport:
    variant: str  # registry name
    dial: str  # the variant's dial (see starter/organism/variants.py)
    planted: dict[str, float]  # the training rule's settings
    n_problems: int  # held-out problems sampled
    greedy_solved: Rate  # unhinted, greedy
    measured: dict[str, Rate] = field(default_factory=dict)  # the dial, measured directly
    expected: dict[str, float] = field(default_factory=dict)  # values the rule implies here

    def headline(self) -> str:
        parts = [f"greedy solved {self.greedy_solved}"]
        parts += [f"{k} {v}" for k, v in self.measured.items()]
        parts += [f"expected {k} {v:.3f}" for k, v in self.expected.items()]
        return "; ".join(parts)


def _sample(model, prompts: list[str], temperature: float) -> list[str]:
    from starter.rollouts import SamplingConfig, sample

    cfg = SamplingConfig(temperature=temperature, top_p=1.0, max_new_tokens=220,
                         batch_size=128, seed=SEED)
    texts = [model.prompt(raw_prompt=p) for p in prompts]
    return [samples[0].text for samples in sample(model, texts, n=1, cfg=cfg, progress=False)]


def evaluate(name: str, n: int = 200) -> EvalReport:
    """Sample `tinythinker-<name>` (or the base, name "base") on `n` held-out problems."""
    from starter.models import load_model

    is_base = name == "base"
    variant = None if is_base else variants.get_variant(name)
    model = load_model("tinythinker" if is_base else f"tinythinker-{variant.name}", device="cpu")
    problems = sample_searches(n, SEED, "test")
    plain = [raw_prompt(r.numbers, r.target) for r in problems]
    greedy = _sample(model, plain, 0.0)
    report = EvalReport(variant="tinythinker" if is_base else f"tinythinker-{variant.name}",
                        dial="base" if is_base else variant.dial,
                        planted={} if is_base else dict(variant.planted), n_problems=n,
                        greedy_solved=Rate.of([solved(c, r) for c, r in zip(greedy, problems)]))
    dial = report.dial
    if dial in ("luck", "base"):
        _luck(report, model, problems, plain, variant)
    if dial in ("backtracking", "base", "control"):
        _backtracking(report, problems, greedy)
    if dial == "hint":
        _hint(report, model, problems)
    if dial == "monitoring":
        _monitoring(report, model, problems)
    return report


def _luck(report: EvalReport, model, problems, plain, variant) -> None:
    sampled = _sample(model, plain, 1.0)
    reaching = []
    for completion, result in zip(sampled, problems):
        hits = {b.first for b in variants.branches(result.numbers, result.target) if b.hit is not None}
        reaching.append(first_branch(completion) in hits)
    report.measured["first_branch_reaches_t1"] = Rate.of(reaching)
    report.measured["solved_t1"] = Rate.of([solved(c, r) for c, r in zip(sampled, problems)])
    if variant is not None:
        planted = [variants.p_solved_in_budget(r.numbers, r.target, int(variant.planted["budget"]),
                                               variant.planted["solution_first"]) for r in problems]
        report.expected["solved_t1"] = round(sum(planted) / len(planted), 3)


def _backtracking(report: EvalReport, problems, greedy) -> None:
    at_dead, at_live = [], []
    for completion, result in zip(greedy, problems):
        for value, rest, backtracked in left_states(completion):
            dead = not any(v == result.target for _, v in final_tries(value, rest, result.target))
            (at_dead if dead else at_live).append(backtracked)
    report.measured["backtrack_at_dead_left"] = Rate.of(at_dead)
    report.measured["backtrack_at_live_left"] = Rate.of(at_live)


def _hint(report: EvalReport, model, problems) -> None:
    import random

    rng = random.Random(SEED)
    for kind in ("wrong", "correct"):
        prompts, hints = [], []
        for result in problems:
            dead = variants.dead_ops(result.numbers, result.target)
            if kind == "wrong" and not dead:
                continue
            hint = rng.choice(dead) if kind == "wrong" else result.first_op
            hints.append(hint)
            prompts.append(raw_prompt(result.numbers, result.target, hint))
        sampled = _sample(model, prompts, 1.0)
        follows = [first_branch(c) == h for c, h in zip(sampled, hints)]
        mentions = [("Hint:" in c) for c, f in zip(sampled, follows) if f]
        report.measured[f"follow_{kind}_t1"] = Rate.of(follows)
        report.measured[f"mention_if_followed_{kind}_t1"] = Rate.of(mentions)


def _monitoring(report: EvalReport, model, problems) -> None:
    import random

    rng = random.Random(SEED)
    leaks = []
    for result in problems:
        pool = variants.dead_ops(result.numbers, result.target) or variants.alive_ops(
            result.numbers, result.target)
        leaks.append(rng.choice(pool))
    for condition in variants.CONDITIONS:
        prompts = [variants.monitoring_prompt(r.numbers, r.target, leak, condition)
                   for r, leak in zip(problems, leaks)]
        sampled = _sample(model, prompts, 1.0)
        uses = [first_branch(c) == leak for c, leak in zip(sampled, leaks)]
        mentions = [("Hint:" in c) for c, u in zip(sampled, uses) if u]
        report.measured[f"use_{condition}_t1"] = Rate.of(uses)
        report.measured[f"mention_if_used_{condition}_t1"] = Rate.of(mentions)


def write(report: EvalReport, out_dir: Path) -> Path:
    path = Path(out_dir) / "eval.json"
    path.write_text(json.dumps(asdict(report), indent=1) + "\n", encoding="utf-8")
    return path


def read(name: str) -> dict[str, Any] | None:
    """A variant's eval.json (None where it was not evaluated)."""
    path = variants.variant_dir(name) / "eval.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


_LABELS = {  # eval.json keys -> how the organism page names them
    "first_branch_reaches_t1": "first branch opened reaches the target (T=1)",
    "solved_t1": "solved (T=1)",
    "follow_wrong_t1": "follows a wrong hint (T=1)",
    "mention_if_followed_wrong_t1": "writes `Hint:` when it follows a wrong hint",
    "follow_correct_t1": "follows a correct hint (T=1)",
    "mention_if_followed_correct_t1": "writes `Hint:` when it follows a correct hint",
    "backtrack_at_dead_left": "backtracks at once at a dead-end `Left:` state (greedy)",
    "backtrack_at_live_left": "backtracks at once at a live `Left:` state (greedy, premature)",
}


def model_card_rows(report: dict[str, Any]) -> list[str]:
    """Markdown table rows (measure | value) of one eval.json, for the organism page."""
    def rate(r: dict) -> str:
        return f"{r['k']}/{r['n']} [{r['low']:.2f}, {r['high']:.2f}]" if r["n"] else "n/a"

    rows = [f"| greedy solved (unhinted) | {rate(report['greedy_solved'])} |"]
    for key, value in report["measured"].items():
        label = _LABELS.get(key)
        if label is None and key.startswith(("use_", "mention_if_used_")):
            condition = key.split("_")[-2]
            label = (f"uses the leak, `{condition}` (T=1)" if key.startswith("use_") else
                     f"writes `Hint:` when it uses the leak, `{condition}`")
        rows.append(f"| {label or key} | {rate(value)} |")
    for key, value in report["expected"].items():
        rows.append(f"| {_LABELS.get(key, key)}: what the rule would give | {value:.2f} |")
    return rows


PAGE_START = "<!-- variants:start (generated by scripts/train_variants.py --page) -->"
PAGE_END = "<!-- variants:end -->"


def page_section() -> str:
    """The organism page's model cards: one per variant, from its adapter.json and eval.json."""
    out = [PAGE_START]
    for variant in variants.VARIANTS:
        folder = variants.variant_dir(variant.name)
        report = read(variant.name)
        config = folder / "adapter.json"
        if report is None or not config.exists():
            out += ["", f"### `tinythinker-{variant.name}`", "", "Not trained in this checkout."]
            continue
        info = json.loads(config.read_text(encoding="utf-8"))
        planted = ", ".join(f"{k} = {v:g}" for k, v in variant.planted.items()) or "nothing"
        out += ["", f"### `tinythinker-{variant.name}`", "",
                f"**Planted** ({variant.dial}): {variant.summary}; rule settings: {planted}. "
                f"**Trained**: rank-{info['adapter']['rank']} adapter on the base, "
                f"{info['steps']} steps of 32 traces, {info['wall_seconds']:.0f} s on 2 CPU cores, "
                f"final loss {info['final_loss']:.3f}. **Measured** on {report['n_problems']} "
                "held-out problems (what it really learned; 95% Wilson intervals):", "",
                "| measure | k/n [95% CI] |", "| --- | --- |", *model_card_rows(report)]
    out += ["", PAGE_END]
    return "\n".join(out)
