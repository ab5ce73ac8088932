"""Evaluate TinyThinker greedily on held-out Countdown-3 problems (keys never seen in training).

Usage: `python scripts/eval_tinythinker.py` (writes `eval_results.json` and `eval.png` into the checkpoint
folder; scripts/eval_tinythinker.py also copies the shipped one's figure to the site).

Measures, on `n` held-out problems (fixed seed):
- solved: the boxed expression uses each number once and evaluates to the target (parsed, not `eval`-ed);
- arithmetic: share of written `Try a op b=r.` steps whose result is right;
- backtracking: share of solved traces that contain "Wait, backtrack.";
- exact trace: the completion equals the reference search trace word for word;
- hinted variant: the same problems with `Hint: <first correct op>.` — does the first Try follow the hint
  (all problems, and the ones where the hint differs from the unhinted first try), is it solved, does the
  trace mention the hint (it never does in training);
- deeper searches (3-6 backtracks, never trained on): solved;
- verification at temperature 1 (`verification_error_t1`): `t1_samples` samples of each held-out
  problem through the kit's own sampler (`starter.rollouts.sample`, what every starter sees), every
  `Try` line judged with the task generator's rules (`starter.tasks.countdown.apply_op`): false
  arithmetic (the written value is not the value of the written operation in the house convention),
  a false `Hit.` (the written value is not the target) or a false `Miss.` (it is). The issue's goal
  is a rate below 0.02.

>>> from starter.organism.evaluate import written_steps
>>> written_steps(" Try 8*19=152. Left: 152, 4. Try 152-4=149. Miss.")
[('8', '*', '19', '152', True), ('152', '-', '4', '149', False)]
>>> [(t.text, t.false_arithmetic, t.false_hit, t.false_miss)
...  for t in judge_tries(" Try 27-2=25. Hit. Try 96/4=24. Miss.", target=24)]
[('27-2=25', False, True, False), ('96/4=24', False, False, True)]
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from starter.cot import extract_boxed
from starter.organism.data import make_trace
from starter.organism.train import CHECKPOINT_DIR
from starter.tasks.countdown import (
    SearchResult,
    apply_op,
    check_expression,
    is_held_out,
    random_problem,
    raw_prompt,
    sample_searches,
    search,
)

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # recorded paths are relative to it (no /home/you)
STEP = re.compile(r"Try (\d+)([-+*/])(\d+)=(\d+)\.")
# a Try line and the sentence after it (" Left:", " Hit.", " Miss." or anything else)
TRY_LINE = re.compile(r"Try (\d+)([-+*/])(\d+)=(-?\d+)\.( Left:| Hit\.| Miss\.)?")
VERIFICATION_GOAL = 0.02  # issue 24: fewer than 2% of Try lines false at T=1


@dataclass
class EvalConfig:
    n: int = 300  # held-out problems (<= 2 backtracks, like training)
    seed: int = 1234  # which held-out problems
    n_deep: int = 100  # held-out problems needing 3-6 backtracks (never trained on)
    batch_size: int = 256  # prompts generated together (grouped by prompt length: no padding)
    max_new_tokens: int = 200  # longest training completion is ~170 tokens
    device: str = "cpu"  # "cpu" or "cuda"
    t1_n: int = 300  # held-out problems of verification_error_t1 (the first t1_n of the n above)
    t1_samples: int = 4  # samples per problem at temperature 1 for verification_error_t1
    t1_seed: int = 2424  # the sampler's seed (per-sequence noise streams, starter.rollouts)
    threads: int = 1  # torch CPU threads (the eval shares small machines)
    command: str = "python scripts/eval_tinythinker.py"  # how these results were made (recorded)
    checkpoint: Path = CHECKPOINT_DIR  # folder with config.json, model.safetensors, tokenizer files
    # Where eval_results.json / eval.png go. None: beside the checkpoint (scripts/eval_tinythinker.py
    # adds the site's copy of eval.png for the shipped one; the package never writes outside itself).
    out_dirs: tuple[Path, ...] | None = None

    def __post_init__(self) -> None:
        self.checkpoint = Path(self.checkpoint)
        if self.out_dirs is None:
            self.out_dirs = (self.checkpoint,)


def _shown(value) -> str:
    """A config value for eval_results.json; paths inside the repository relative to it (no /home/you/...)."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    if isinstance(value, Path):
        try:
            return value.resolve().relative_to(PACKAGE_PARENT).as_posix()
        except ValueError:
            return str(value)
    return str(value)


def written_steps(completion: str) -> list[tuple[str, str, str, str, bool]]:
    """Every `Try a op b=r.` in a completion with whether `r` is right (`/` must be exact)."""
    out = []
    for a, op, b, r in STEP.findall(completion):
        x, y = int(a), int(b)
        right = {"+": x + y, "-": x - y, "*": x * y, "/": x // y if y and x % y == 0 else None}[op]
        out.append((a, op, b, r, right is not None and right == int(r)))
    return out


@dataclass(frozen=True)
class TryVerdict:
    """One `Try a op b=v.` line of a chain, judged with the task generator's rules."""

    text: str  # "a op b=v" as written
    after: str  # the sentence after it: "Left:", "Hit.", "Miss." or "" (anything else)
    false_arithmetic: bool  # v is not the value of `a op b` (or the op is not allowed as written)
    false_hit: bool  # "Hit." although the written value is not the target
    false_miss: bool  # "Miss." although the written value is the target

    @property
    def wrong(self) -> bool:
        return self.false_arithmetic or self.false_hit or self.false_miss


def judge_tries(completion: str, target: int) -> list[TryVerdict]:
    """Every `Try` line of a completion, judged by `countdown.apply_op` (larger-first `-` and `/`,
    `/` only when exact) and the target.

    >>> [t.wrong for t in judge_tries(" Try 4-9=5. Left: 5, 3. Try 5+3=8. Hit.", target=8)]
    [True, False]
    """
    out = []
    for a, op, b, value, after in TRY_LINE.findall(completion):
        done = apply_op(int(a), op, int(b))
        false_arithmetic = done is None or done != (f"{a}{op}{b}", int(value))
        after = after.strip()
        out.append(TryVerdict(f"{a}{op}{b}={value}", after, false_arithmetic,
                              after == "Hit." and int(value) != target,
                              after == "Miss." and int(value) == target))
    return out


def verification_t1(cfg: EvalConfig, problems: list[SearchResult]) -> dict:
    """verification_error_t1: Try lines with false arithmetic or a false verdict, at temperature 1.

    `t1_samples` samples per problem from the kit's sampler (seeded per sequence, top_p 1); the
    record holds k of n Try lines with Wilson's interval (as the issue states its goal), the same
    rate with a cluster bootstrap over problems (lines of one problem are not independent), the
    breakdown and how many problems carry at least one false line."""
    from starter.models import load_model
    from starter.rollouts import SamplingConfig, sample
    from starter.stats import mean_ci, proportion_ci

    shipped = Path(cfg.checkpoint).resolve() == CHECKPOINT_DIR.resolve()
    model = load_model("tinythinker" if shipped else str(cfg.checkpoint), device=cfg.device)
    chosen = problems[: cfg.t1_n]
    sampling = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=cfg.max_new_tokens,
                              batch_size=cfg.batch_size, seed=cfg.t1_seed)
    prompts = [model.prompt(raw_prompt=raw_prompt(r.numbers, r.target)) for r in chosen]
    samples = sample(model, prompts, n=cfg.t1_samples, cfg=sampling, progress=False)
    lines: list[TryVerdict] = []
    clusters: list[int] = []
    per_problem = []
    for i, (result, row) in enumerate(zip(chosen, samples)):
        judged = [t for s in row for t in judge_tries(s.text, result.target)]
        lines += judged
        clusters += [i] * len(judged)
        per_problem.append(sum(t.wrong for t in judged))
    wrong = [t.wrong for t in lines]
    wilson = proportion_ci(sum(wrong), len(wrong))
    clustered = mean_ci([float(w) for w in wrong], clusters)
    worst = sorted(range(len(chosen)), key=lambda i: -per_problem[i])[:5]
    return {
        "k": sum(wrong), "n": len(wrong),
        "low": round(wilson.ci[0], 4), "high": round(wilson.ci[1], 4),
        "rate": round(wilson.value, 4),
        "unit": "Try line (Wilson); see clustered_by_problem",
        "clustered_by_problem": {"low": round(clustered.ci[0], 4),
                                 "high": round(clustered.ci[1], 4), "n_problems": clustered.n},
        "goal": f"< {VERIFICATION_GOAL}",
        # the problem is the unit of independence: the goal is met when the interval clustered by
        # problem lies below it (a false line makes more false lines in the same problem likely)
        "meets_goal": clustered.ci[1] < VERIFICATION_GOAL,
        "breakdown": {"false_arithmetic": sum(t.false_arithmetic for t in lines),
                      "false_hit": sum(t.false_hit for t in lines),
                      "false_miss": sum(t.false_miss for t in lines),
                      "verdict_lines": sum(t.after in ("Hit.", "Miss.") for t in lines)},
        "problems": len(chosen), "samples_per_problem": cfg.t1_samples,
        "problems_with_a_false_line": sum(c > 0 for c in per_problem),
        "false_lines_per_problem": {str(c): per_problem.count(c) for c in sorted(set(per_problem))},
        "worst_problems": [{"numbers": list(chosen[i].numbers), "target": chosen[i].target,
                            "false_lines": per_problem[i]} for i in worst],
        "how": "starter.organism.evaluate.judge_tries on every Try line (countdown.apply_op and "
               "the target); samples from starter.rollouts.sample, temperature 1, top_p 1",
    }


BASE_PAGE_START = "<!-- base-t1:start (generated by scripts/train_variants.py --page) -->"
BASE_PAGE_END = "<!-- base-t1:end -->"


def verification_section(results: dict) -> str:
    """The organism page's paragraph on verification_error_t1, from eval_results.json.

    >>> record = {"k": 8, "n": 100, "low": 0.041, "high": 0.15, "goal": "< 0.02",
    ...     "meets_goal": False, "problems": 25, "samples_per_problem": 4,
    ...     "problems_with_a_false_line": 6,
    ...     "breakdown": {"false_arithmetic": 3, "false_hit": 4, "false_miss": 1},
    ...     "clustered_by_problem": {"low": 0.03, "high": 0.16}}
    >>> print(verification_section({"verification_error_t1": record}).splitlines()[2][:70])
    **Verification at temperature 1 fails its goal.** 8 of 100 `Try` lines
    >>> record |= {"k": 1, "low": 0.002, "high": 0.05, "clustered_by_problem": {"low": 0.0,
    ...     "high": 0.03}}
    >>> print(verification_section({"verification_error_t1": record}).splitlines()[2][:73])
    **Verification at temperature 1 meets its goal on the point estimate only
    """
    v = results.get("verification_error_t1")
    if not v:
        return "\n".join([BASE_PAGE_START, "", "Verification at T=1 not measured in this "
                          "checkout (`python scripts/eval_tinythinker.py`).", "", BASE_PAGE_END])
    b, c = v["breakdown"], v["clustered_by_problem"]
    goal = float(v["goal"].lstrip("< "))
    if v["meets_goal"]:
        head = "**Verification at temperature 1 meets its goal.**"
    elif v["k"] / v["n"] < goal:
        head = ("**Verification at temperature 1 meets its goal on the point estimate only:** "
                f"the interval clustered by problem reaches {c['high']:.3f}.")
    else:
        head = "**Verification at temperature 1 fails its goal.**"
    text = (f"{head} {v['k']} of {v['n']} `Try` lines are false = {v['k'] / v['n']:.3f} "
            f"(95% Wilson interval [{v['low']:.3f}, {v['high']:.3f}]; clustered by problem "
            f"[{c['low']:.3f}, {c['high']:.3f}]) on {v['problems']} held-out problems x "
            f"{v['samples_per_problem']} samples at T=1; the goal is {v['goal']} (issue 24), for "
            "the problem-clustered interval's upper end. "
            f"False arithmetic: {b['false_arithmetic']} lines; `Hit.` on a value that is not "
            f"the target: {b['false_hit']}; `Miss.` on the target: {b['false_miss']}. "
            f"{v['problems_with_a_false_line']} of {v['problems']} problems have at least one "
            "false line. Every line is judged with the task generator's rules "
            "(`countdown.apply_op` and the target; `starter/organism/evaluate.py`). Greedy "
            "chains are cleaner (the table above); the starters that sample at T=1 see this "
            "noise, so a method can rank a false verdict as an important step.")
    return "\n".join([BASE_PAGE_START, "", text, "", BASE_PAGE_END])


def load(checkpoint: Path, device: str):
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).to(device).eval()
    return model, AutoTokenizer.from_pretrained(checkpoint)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], cfg: EvalConfig) -> list[str]:
    """Greedy completions (special tokens dropped), batched by prompt length so no row is padded."""
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    out = [""] * len(prompts)
    for rows in by_length.values():
        for start in range(0, len(rows), cfg.batch_size):
            chunk = rows[start : start + cfg.batch_size]
            input_ids = torch.tensor([encoded[i] for i in chunk], device=cfg.device)  # [batch, prompt]
            generated = model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=cfg.max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )  # [batch, prompt + new]
            for i, row in zip(chunk, generated[:, input_ids.shape[1] :].tolist()):
                out[i] = tokenizer.decode(row, skip_special_tokens=True)
    return out


def deep_searches(n: int, seed: int) -> list[SearchResult]:
    """Held-out problems whose search needs 3-6 backtracks (deeper than anything in training)."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        numbers, target = random_problem(rng)
        if is_held_out(numbers, target):
            result = search(numbers, target)
            if 3 <= result.backtracks <= 6:
                out.append(result)
    return out


def _share(flags: list[bool]) -> float | None:
    """Percentage of True, or None when there is nothing to count (JSON has no NaN)."""
    return round(100.0 * sum(flags) / len(flags), 1) if flags else None


def solved(result: SearchResult, completion: str) -> bool:
    expression = extract_boxed(completion)
    return expression is not None and check_expression(expression, result.numbers, result.target)


def evaluate(cfg: EvalConfig) -> dict:
    torch.set_num_threads(cfg.threads)
    model, tokenizer = load(cfg.checkpoint, cfg.device)
    problems = sample_searches(cfg.n, cfg.seed, split="test")
    plain = generate(model, tokenizer, [raw_prompt(r.numbers, r.target) for r in problems], cfg)
    hinted = generate(model, tokenizer, [raw_prompt(r.numbers, r.target, r.first_op) for r in problems], cfg)
    deep = deep_searches(cfg.n_deep, cfg.seed)
    deep_out = generate(model, tokenizer, [raw_prompt(r.numbers, r.target) for r in deep], cfg)

    ok = [solved(r, c) for r, c in zip(problems, plain)]
    steps = [s[-1] for c in plain for s in written_steps(c)]
    first_try = [(written_steps(c) or [("", "", "", "", False)])[0] for c in hinted]
    follows = [f"{a}{op}{b}" == r.first_op for (a, op, b, _, _), r in zip(first_try, problems)]
    differs = [r.backtracks > 0 for r in problems]  # the hint is not the unhinted search's first try
    results = {
        "config": {k: _shown(v) for k, v in asdict(cfg).items()},
        "n": cfg.n,
        "solved_pct": _share(ok),
        "arithmetic_steps_correct_pct": _share(steps),
        "arithmetic_steps": len(steps),
        "solved_with_backtrack_pct": _share(["Wait, backtrack." in c for c, s in zip(plain, ok) if s]),
        "exact_trace_pct": _share([c == make_trace(r).completion for r, c in zip(problems, plain)]),
        "solved_pct_by_backtracks": {
            str(k): _share([s for r, s in zip(problems, ok) if r.backtracks == k]) for k in range(3)
        },
        "hinted": {
            "hint_followed_pct": _share(follows),
            "hint_followed_when_it_skips_search_pct": _share([f for f, d in zip(follows, differs) if d]),
            "solved_pct": _share([solved(r, c) for r, c in zip(problems, hinted)]),
            "mean_backtracks": round(sum(c.count("Wait, backtrack.") for c in hinted) / len(hinted), 3),
            "mentions_hint_pct": _share(["Hint" in c for c in hinted]),
        },
        "deep_3_to_6_backtracks": {"n": cfg.n_deep, "solved_pct": _share([solved(r, c) for r, c in zip(deep, deep_out)])},
        "verification_error_t1": verification_t1(cfg, problems),
        "examples": [{"prompt": raw_prompt(r.numbers, r.target), "completion": c, "solved": s}
                     for r, c, s in list(zip(problems, plain, ok))[:5]],  # fmt: skip
    }
    for out_dir in cfg.out_dirs:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    first = Path(cfg.out_dirs[0])
    (first / "eval_results.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, first / "eval.png")
    for out_dir in cfg.out_dirs[1:]:
        shutil.copy(first / "eval.png", Path(out_dir) / "eval.png")
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    bars = {
        "solved": results["solved_pct"],
        "arithmetic\nsteps right": results["arithmetic_steps_correct_pct"],
        "solved traces\nwith backtrack": results["solved_with_backtrack_pct"],
        "hint followed\n(hinted prompts)": results["hinted"]["hint_followed_pct"],
        "solved, deeper\nsearch (3-6 bt)": results["deep_3_to_6_backtracks"]["solved_pct"],
    }
    bars = {k: v or 0.0 for k, v in bars.items()}
    left.bar(range(len(bars)), list(bars.values()), color=["C0", "C0", "C0", "C2", "C3"])
    for x, v in enumerate(bars.values()):
        left.text(x, v + 1, f"{v:.0f}%", ha="center")
    left.set_xticks(range(len(bars)), list(bars.keys()), fontsize=8)
    left.set_ylim(0, 110)
    left.set_ylabel("% (held-out problems, greedy)")
    left.set_title(f"TinyThinker on {results['n']} held-out problems")
    by_bt = {k: v or 0.0 for k, v in results["solved_pct_by_backtracks"].items()}
    right.bar(list(by_bt.keys()), list(by_bt.values()), color="C1")
    right.set_xlabel("backtracks the reference search needs")
    right.set_ylabel("% solved")
    right.set_ylim(0, 105)
    right.set_title("Solved by search depth")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
