# %% [markdown]
# # Lucky or steady?
#
# > When a model solves a hard maths problem by thinking a bunch until it finds the key idea, what's going on?
# > Did it just "get lucky" and every line was another roll of the dice for finding the key idea? Or was it
# > steadily making progress towards that goal?
#
# **Method** (Thought Anchors, Bogdan et al. 2025, arXiv 2506.19143): sample chains of thought for problems
# the model solves only sometimes; for every step prefix k of a correct chain, resample N continuations and
# estimate P(correct | first k steps). "Lucky" predicts a flat curve with one jump at the key step; "steady" a
# rise spread over many steps. We measure the largest jump's share of the total rise (against a steady curve
# with the same sampling noise), the Gini of the increments, and which step tags (`cot.tag_step`) carry the
# jumps. **Control:** the same for incorrect chains (they should fall). On the organism we also ask the ground
# truth: is the jump at the step that enters the branch of the search tree holding the solution?
#
# Run `mi-starter run lucky-or-steady --preset smoke|cpu|gpu`: results.jsonl (a row per prefix), figure.png, summary.md.

# %%
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import matplotlib.pyplot as plt

from starter import prefixes, rollouts
from starter.prefixes import mean_or_nan
from starter.cot import STEP_TAGS
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.tasks import get_task_set
from starter.tasks.countdown import apply_op

MIN_RISE = 0.25  # a curve that rises (or, for the control, falls) less than this is too flat to locate a jump


# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    task: str = "countdown"  # task set (starter.tasks); countdown is the organism's own task
    n_problems: int = 16  # problems in the pilot, which measures how often each one is solved
    pilot_samples: int = 8  # chains sampled per problem in the pilot
    n_chains: int = 3  # problems kept: those solved closest to half the time (one correct + one incorrect chain each)
    n_rollouts: int = 8  # continuations per prefix (Thought Anchors used 100; 10-20 give a usable curve)
    max_prefixes: int = 0  # 0: a prefix after every step; else this many evenly spaced (long R1 chains)
    temperature: float = 1.0  # sampling temperature for chains and continuations (the paper: 0.6)
    top_p: float = 0.95  # nucleus sampling, as in Thought Anchors
    max_new_tokens: int = 160  # room for a whole chain (organism traces are <= ~160 tokens)
    batch_size: int = 256  # sequences per generate call

    def __post_init__(self) -> None:
        super().__post_init__()
        counts = (self.n_problems, self.pilot_samples, self.n_chains, self.n_rollouts)
        if min(counts) < 1 or not 0 < self.temperature <= 2:
            raise UsageError("n_problems, pilot_samples, n_chains, n_rollouts must be >= 1 and temperature in (0, 2] "
                             f"(this experiment samples); got {self}")
        prefixes.spaced_ks(1, self.max_prefixes)  # refuses max_prefixes 1 or < 0

    def sampling(self, seed: int) -> rollouts.SamplingConfig:
        return rollouts.SamplingConfig(temperature=self.temperature, top_p=self.top_p, seed=seed,
                                       max_new_tokens=self.max_new_tokens, batch_size=self.batch_size)


PRESETS = {
    "smoke": Config(n_problems=6, pilot_samples=6, n_chains=1, n_rollouts=4),
    "cpu": Config(n_problems=32, pilot_samples=12, n_chains=6, n_rollouts=16),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=16, pilot_samples=8, n_chains=4,
                  n_rollouts=12, max_prefixes=16, temperature=0.6, max_new_tokens=2048, batch_size=96),
}


# %% [markdown]
# ## Experiment: a pilot picks problems solved about half the time; every prefix of a chain is resampled


# %%
def solution_entry(problem, completion: str) -> int | None:
    """Organism ground truth: index of the last first-level "Try" whose state ("Left: v, r.") can still reach
    the target in one operation, i.e. the step that enters the solution branch. None for other formats."""
    entry, steps = None, prefixes.chain_steps(completion)
    for i, step in enumerate(steps[1:], start=1):
        left = [int(x) for x in step.text[5:].strip(" .").split(",") if x.strip().isdigit()]
        is_state = step.text.startswith("Left:") and len(left) == 2
        done = [apply_op(left[0], op, left[1]) for op in "+-*/"] if is_state else []
        if any(d and d[1] == problem.meta.get("target") for d in done):
            entry = i - 1  # the "Try" just before this "Left:"
    return entry


def pilot(ctx: Context, task, problems) -> list[dict]:
    """Sample `pilot_samples` chains per problem (one batched call) and store them: one row per problem."""
    cfg, todo = ctx.cfg, [p for p in problems if not ctx.store.done(f"pilot:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = rollouts.sample(ctx.model, prompts, cfg.pilot_samples, cfg.sampling(cfg.seed)) if todo else []
    for p, prompt, row in zip(todo, prompts, samples):
        chains = [c.text for c in row]
        ctx.store.append({"unit": f"pilot:{p.id}", "role": "pilot", "problem": p.id, "prompt": prompt,
                          "chains": chains, "correct": [task.grade(p, c) for c in chains]})
    return [r for r in ctx.store.rows() if r.get("role") == "pilot"]


def run(ctx: Context) -> None:
    cfg, task = ctx.cfg, get_task_set(ctx.cfg.task)
    problems = {p.id: p for p in task.make(cfg.n_problems, seed=cfg.seed)}
    pilots = pilot(ctx, task, list(problems.values()))
    # Problems solved closest to half the time first (Thought Anchors kept 25-75%): they have both a correct
    # chain (the experiment) and an incorrect one (the control). Ones never or always solved come last.
    ranked = sorted(pilots, key=lambda r: (abs(sum(r["correct"]) / len(r["correct"]) - 0.5), r["problem"]))
    for i, r in enumerate(ranked[: cfg.n_chains]):
        problem = problems[r["problem"]]
        for outcome in sorted(set(r["correct"]), reverse=True):
            completion = r["chains"][r["correct"].index(outcome)]
            chain = f"{problem.id}:{'correct' if outcome else 'incorrect'}"
            ks = prefixes.spaced_ks(len(prefixes.chain_steps(completion)), cfg.max_prefixes)
            cuts = [c for c in prefixes.step_prefixes(chain, completion, ks)
                    if not ctx.store.done(f"prefix:{chain}:k{c.k}")]
            if len(cuts) < 2:  # a chain without steps has no curve
                continue
            # [len(cuts)][n_rollouts] continuations; seeded per chain so a resumed run draws the same ones.
            conts = prefixes.resample(ctx.model, [r["prompt"]] * len(cuts), cuts, cfg.n_rollouts,
                                      cfg.sampling(seed=cfg.seed + 1 + 2 * i + outcome))
            entry = solution_entry(problem, completion)
            for cut, texts in zip(cuts, conts):
                ctx.store.append({
                    "unit": f"prefix:{chain}:k{cut.k}", "role": "prefix", "chain": chain, "problem": problem.id,
                    "chain_correct": outcome, "k": cut.k, "n_steps": cut.n_steps, "tag": cut.tag,
                    "step_text": cut.step_text, "solution_entry": entry, "n": len(texts),
                    "p_correct": sum(task.grade(problem, cut.text + t.text) for t in texts) / len(texts),
                })


# %% [markdown]
# ## Result: where does the rise happen? (control: where do incorrect chains fall?)


# %%
def chain_curves(rows: list[dict]) -> dict[str, list[dict]]:
    """chain -> its prefix rows sorted by k (the curve P(correct | first k steps))."""
    chains: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("role") == "prefix":
            chains.setdefault(r["chain"], []).append(r)
    return {c: sorted(rs, key=lambda r: r["k"]) for c, rs in sorted(chains.items())}


def analyse(rows: list[dict]) -> dict:
    m: dict = {}
    for outcome, name in ((True, "correct"), (False, "incorrect")):
        chains = [c for c in chain_curves(rows).values() if c[0]["chain_correct"] == outcome]
        # The control falls: measure its fall with the same statistics, on 1 - P(correct).
        curves = [[r["p_correct"] if outcome else 1 - r["p_correct"] for r in c] for c in chains]
        moving = [(c, y, prefixes.jump_stats(y)) for c, y in zip(chains, curves) if y[-1] - y[0] >= MIN_RISE]
        m[f"{name}_chains"] = len(chains)
        m[f"{name}_p_start"] = mean_or_nan(c[0]["p_correct"] for c in chains)
        m[f"{name}_p_end"] = mean_or_nan(c[-1]["p_correct"] for c in chains)
        m[f"{name}_moving_chains"] = len(moving)
        m[f"{name}_largest_share"] = mean_or_nan(s.largest_share for _, _, s in moving)
        m[f"{name}_steady_null_share"] = mean_or_nan(  # the same statistic for a steady rise, with this noise
            prefixes.steady_null_share(len(y) - 1, y[0], y[-1], c[0]["n"]) for c, y, _ in moving)
        m[f"{name}_gini"] = mean_or_nan(s.gini for _, _, s in moving)
        tags = Counter(c[s.largest_step + 1]["tag"] for c, _, s in moving)  # the step added at the jump
        m |= {f"{name}_jump_tag_{t}": tags[t] / len(moving) if moving else math.nan for t in STEP_TAGS}
        known = [(c, s) for c, _, s in moving if c[0]["solution_entry"] is not None]
        if outcome and known:  # organism ground truth: is the jump the step that enters the solution branch?
            m["jump_at_solution_entry"] = mean_or_nan(c[s.largest_step + 1]["k"] - 1 == c[0]["solution_entry"]
                                                for c, s in known)
            m["jump_at_entry_chance"] = mean_or_nan(1 / c[0]["n_steps"] for c, _ in known)
    return m


def plot(rows: list[dict], metrics: dict):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    increments: dict[tuple[bool, str], list[float]] = {}
    for chain, c in chain_curves(rows).items():
        ok = c[0]["chain_correct"]
        x = [r["k"] / max(r["n_steps"], 1) for r in c]
        left.plot(x, [r["p_correct"] for r in c], "-o" if ok else "--x", color="C0" if ok else "C3", ms=3, alpha=0.7,
                  label="correct chains" if ok else "incorrect chains (control)")
        for a, b in zip(c, c[1:]):
            increments.setdefault((ok, b["tag"]), []).append(b["p_correct"] - a["p_correct"])
    handles = dict(zip(*left.get_legend_handles_labels()[::-1]))
    left.legend(handles.values(), handles.keys(), fontsize=8)
    left.set(xlabel="share of the chain's steps kept (k / n)", ylabel="P(correct | first k steps)", ylim=(-0.05, 1.05),
             title="Resampled success after each step prefix")
    for j, ok in enumerate((True, False)):
        means = [mean_or_nan(increments.get((ok, t), [])) for t in STEP_TAGS]
        right.bar([i + 0.4 * (j - 0.5) for i in range(len(STEP_TAGS))], [0 if math.isnan(v) else v for v in means],
                  0.4, color="C0" if ok else "C3", label="correct chains" if ok else "incorrect chains")
    right.axhline(0, color="k", lw=0.5)
    right.set_xticks(range(len(STEP_TAGS)), STEP_TAGS)
    right.set(ylabel="mean change in P(correct)", title="Change caused by adding one step, by its tag")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    if not m["correct_moving_chains"]:
        return (f"No correct chain's curve rose by {MIN_RISE} or more ({m['correct_chains']} chains; P(correct) "
                f"{m['correct_p_start']:.2f} -> {m['correct_p_end']:.2f}), so there is no rise to locate. "
                "Use more problems or rollouts (a larger preset).")
    share, null = m["correct_largest_share"], m["correct_steady_null_share"]
    verdict = ("not distinguishable from steady progress at this noise level (use more rollouts)" if null > 0.6
               else "concentrated in one step: closer to 'lucky' than to 'steady'" if share >= null + 0.15
               else "as spread out as a steady rise looks with this noise" if share <= null + 0.05 else "in between")
    top = max(STEP_TAGS, key=lambda t: m[f"correct_jump_tag_{t}"])
    text = (f"On {m['correct_chains']} correct chains, resampled P(correct) went from {m['correct_p_start']:.2f} "
            f"(prompt only) to {m['correct_p_end']:.2f} (whole thinking). On the {m['correct_moving_chains']} whose "
            f"curve rose at least {MIN_RISE}, the single largest jump carried {share:.0%} of the rise (a steady "
            f"linear rise measured with the same rollouts gives {null:.0%}; Gini of the increments "
            f"{m['correct_gini']:.2f}): the progress is {verdict}. The largest jumps came most often from "
            f"`{top}` steps ({m[f'correct_jump_tag_{top}']:.0%}).")
    if "jump_at_solution_entry" in m:
        text += (f" Against the organism's ground truth, the largest jump sat at the step that enters the solution "
                 f"branch in {m['jump_at_solution_entry']:.0%} of chains (chance {m['jump_at_entry_chance']:.0%}).")
    text += (f"\n\nControl: on {m['incorrect_chains']} incorrect chains of the same problems, P(correct) went from "
             f"{m['incorrect_p_start']:.2f} to {m['incorrect_p_end']:.2f}; on the {m['incorrect_moving_chains']} that "
             f"fell at least {MIN_RISE}, the largest single fall carried {m['incorrect_largest_share']:.0%} of it "
             f"(steady baseline {m['incorrect_steady_null_share']:.0%}).")
    return text + ("\n\nThese are small-sample estimates on one model; an organism result is a hypothesis to test "
                   "on R1-distill (`--preset gpu`).")


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter(
    slug="lucky-or-steady",
    presets=PRESETS, run=run, analyse=analyse, plot=plot, findings=findings,
    concepts=("backtracking", "verification", "uncertainty"),
    try_next=(
        "Raise n_rollouts (Thought Anchors used 100) and watch the steady baseline shrink: is the jump still there?",
        "Counterfactual importance: resample only the step itself (keep the rest) and compare with this curve.",
        "Run `--preset gpu` (R1-Distill-Qwen-1.5B): do planning and backtracking steps carry the jumps?",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
