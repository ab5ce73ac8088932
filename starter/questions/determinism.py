# %% [markdown]
# # How deterministic is the chain of thought?
#
# > How deterministic are these models? If you take the first K lines of the CoT and regenerate it, do you get
# > the same output?
#
# **Method** (Thought Branches, Macar et al. 2025, arXiv 2510.27484; Forking Paths, Bigelow et al. 2025,
# arXiv 2412.07961): keep the first K% of the steps (`cot.split_steps`) of one sampled reference chain per
# problem, K in {0, 25, 50, 75, 100}; regenerate N continuations at several temperatures; report answer
# agreement with the reference, answer entropy, and how far continuations follow the reference's steps.
# **Control:** greedy decoding repeated (one prompt at a time, twice; and all prompts in one padded batch).
# Greedy has no randomness: any difference comes from the numerics (batch shapes, padding, kernels, dtype).
#
# Run: `mi-starter run determinism --preset smoke|cpu|gpu` or `python starter/questions/determinism.py`.
# Writes results.jsonl (one row per chain x K x temperature, plus control rows), figure.png and summary.md.

# %%
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt

from starter import prefixes, rollouts
from starter.prefixes import mean_or_nan
from starter.cot import split_completion
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.grading import extract_answer
from starter.tasks import get_task_set


# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    task: str = "countdown"  # task set (starter.tasks); countdown is the organism's own task
    n_chains: int = 8  # reference chains, one per problem
    reference_temperature: float = 0.6  # how the reference chains are sampled (the usual R1 setting)
    fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # K: share of the reference's steps kept
    temperatures: tuple[float, ...] = (0.0, 0.6, 1.0)  # regeneration temperatures; 0 = greedy
    n_continuations: int = 8  # continuations per (chain, K, temperature > 0); greedy needs one
    top_p: float = 0.95  # nucleus sampling for temperatures > 0
    max_new_tokens: int = 160  # room for a whole chain (organism traces are <= ~160 tokens)
    batch_size: int = 256  # sequences per generate call

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(not 0 <= f <= 1 for f in self.fractions) or any(not 0 <= t <= 2 for t in self.temperatures):
            raise UsageError(f"fractions must be in [0, 1] and temperatures in [0, 2]; got {self.fractions}, "
                             f"{self.temperatures}")
        if min(self.n_chains, self.n_continuations) < 1 or not 0 < self.reference_temperature <= 2:
            raise UsageError("n_chains and n_continuations must be >= 1 and reference_temperature in (0, 2]")

    def sampling(self, temperature: float, seed: int, batch_size: int | None = None) -> rollouts.SamplingConfig:
        return rollouts.SamplingConfig(temperature=temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
                                       batch_size=batch_size or self.batch_size, seed=seed)


PRESETS = {
    "smoke": Config(n_chains=3, n_continuations=4),
    "cpu": Config(n_chains=12, n_continuations=8),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_chains=8, n_continuations=8,
                  max_new_tokens=2048, batch_size=96),
}


# %% [markdown]
# ## Experiment: regenerate from the first K% of a reference chain


# %%
def answer_of(completion: str) -> str | None:
    """The final answer after the thinking (None when the chain never finished or committed to nothing)."""
    _, answer = split_completion(completion)
    return extract_answer(answer) if answer else None


def steps_of(completion: str) -> list[str]:
    return [s.text for s in prefixes.chain_steps(completion)]


def references(ctx: Context, problems) -> list[dict]:
    """One sampled reference chain per problem, stored so that a resumed run reuses the same ones."""
    cfg, todo = ctx.cfg, [p for p in problems if not ctx.store.done(f"reference:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = rollouts.sample(ctx.model, prompts, 1, cfg.sampling(cfg.reference_temperature, cfg.seed)) if todo else []
    for p, prompt, (text,) in zip(todo, prompts, ([c.text for c in row] for row in samples)):
        ctx.store.append({"unit": f"reference:{p.id}", "role": "reference", "problem": p.id, "prompt": prompt,
                          "completion": text, "answer": answer_of(text), "n_steps": len(steps_of(text))})
    return [r for r in ctx.store.rows() if r.get("role") == "reference"]


def regenerate(ctx: Context, refs: list[dict], temperature: float) -> None:
    """All (reference, K) prefixes at one temperature in one batched call; one row per (reference, K)."""
    cfg, unit = ctx.cfg, lambda ref, f: f"regen:T{temperature:g}:{ref['problem']}:K{round(100 * f)}"
    todo = [(ref, cut, f) for ref in refs for cut, f in
            zip(prefixes.fraction_prefixes(ref["problem"], ref["completion"], cfg.fractions), cfg.fractions)
            if not ctx.store.done(unit(ref, f))]
    if not todo:
        return
    n = cfg.n_continuations if temperature > 0 else 1  # greedy gives one answer by definition
    conts = prefixes.resample(ctx.model, [ref["prompt"] for ref, _, _ in todo], [cut for _, cut, _ in todo], n,
                              cfg.sampling(temperature, seed=cfg.seed + 1 + round(100 * temperature)))
    for (ref, cut, f), texts in zip(todo, conts):
        full = [cut.text + t.text for t in texts]  # whole completions: the kept prefix + what was regenerated
        answers = [answer_of(t) for t in full]
        ref_steps = steps_of(ref["completion"])
        ctx.store.append({
            "unit": unit(ref, f), "role": "regen", "problem": ref["problem"], "temperature": temperature,
            "fraction": f, "k": cut.k, "n_steps": cut.n_steps, "reference_answer": ref["answer"], "answers": answers,
            "agreement": prefixes.answer_agreement(answers, ref["answer"]), "entropy": prefixes.answer_entropy(answers),
            # where each continuation first leaves the reference's steps, as a share of them (1 = followed to the end)
            "follow": [prefixes.first_divergence(ref_steps, steps_of(t)) / max(len(ref_steps), 1) for t in full],
        })


# %% [markdown]
# ## Control: greedy decoding, repeated one at a time and in one padded batch


# %%
def greedy_control(ctx: Context, refs: list[dict]) -> None:
    cfg, model = ctx.cfg, ctx.model
    prompts = [ref["prompt"] for ref in refs]
    where = {"device": str(model.device), "dtype": str(model.dtype).removeprefix("torch.")}
    if not ctx.store.done("greedy:batched"):
        batched = rollouts.sample(model, prompts, 1, cfg.sampling(0.0, cfg.seed))
        ctx.store.append({"unit": "greedy:batched", "role": "control", "problems": [r["problem"] for r in refs],
                          "texts": [row[0].text for row in batched], **where})
    for ref in refs:
        if not ctx.store.done(f"greedy:single:{ref['problem']}"):
            # twice, one prompt per call; the second with another seed, which must not matter to greedy
            first, second = (rollouts.sample(model, [ref["prompt"]], 1, cfg.sampling(0.0, s, batch_size=1))[0][0].text
                             for s in (cfg.seed, cfg.seed + 1))
            ctx.store.append({"unit": f"greedy:single:{ref['problem']}", "role": "control", "problem": ref["problem"],
                              "texts": [first, second], **where})


def run(ctx: Context) -> None:
    problems = get_task_set(ctx.cfg.task).make(ctx.cfg.n_chains, seed=ctx.cfg.seed)
    refs = references(ctx, problems)
    for temperature in ctx.cfg.temperatures:
        regenerate(ctx, refs, temperature)
    greedy_control(ctx, refs)


# %% [markdown]
# ## Result: agreement, entropy and divergence against K; the greedy control


# %%
def analyse(rows: list[dict]) -> dict:
    regen = [r for r in rows if r.get("role") == "regen"]
    m: dict = {"references": sum(r.get("role") == "reference" for r in rows)}
    for t in sorted({r["temperature"] for r in regen}):
        for f in sorted({r["fraction"] for r in regen}):
            cell, key = [r for r in regen if r["temperature"] == t and r["fraction"] == f], f"T{t:g}_K{round(100 * f)}"
            m[f"agree_{key}"] = mean_or_nan(r["agreement"] for r in cell)
            m[f"entropy_{key}"] = mean_or_nan(r["entropy"] for r in cell)
            m[f"follow_{key}"] = mean_or_nan(x for r in cell for x in r["follow"])
    batched = next((r for r in rows if r["unit"] == "greedy:batched"), None)
    singles = [r for r in rows if r["unit"].startswith("greedy:single:")]
    if batched and singles:
        in_batch = dict(zip(batched["problems"], batched["texts"]))
        pairs = [(r["texts"][0], in_batch[r["problem"]]) for r in singles]
        m["greedy_repeat_identical"] = mean_or_nan(r["texts"][0] == r["texts"][1] for r in singles)
        m["greedy_batched_identical"] = mean_or_nan(a == b for a, b in pairs)
        # where batched and one-at-a-time greedy first differ, as a share of the chain's steps (nan: never)
        m["greedy_batched_first_diff"] = mean_or_nan(prefixes.first_divergence(steps_of(a), steps_of(b)) /
                                               max(len(steps_of(a)), 1) for a, b in pairs if a != b)
        m["control_device"], m["control_dtype"] = batched["device"], batched["dtype"]
    return m


def plot(rows: list[dict], metrics: dict):
    regen = [r for r in rows if r.get("role") == "regen"]
    temps, fracs = sorted({r["temperature"] for r in regen}), sorted({r["fraction"] for r in regen})
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = (("agree", "answer agrees with the reference"), ("entropy", "answer entropy (bits)"),
              ("follow", "follows the reference's steps until"))
    for ax, (name, label) in zip(axes, panels):
        for t in temps:
            ax.plot([100 * f for f in fracs], [metrics[f"{name}_T{t:g}_K{round(100 * f)}"] for f in fracs], "-o",
                    label=f"T={t:g}" + (" (greedy)" if t == 0 else ""))
        ax.set(xlabel="K: % of the reference's steps kept", ylabel=label)
        ax.set_ylim(None if name == "entropy" else (-0.05, 1.05))
        ax.set_xticks([100 * f for f in fracs])
    axes[2].plot([0, 100], [0, 1], ":", color="grey", label="the prefix itself")
    for ax in axes[::2]:
        ax.legend(fontsize=8)
    if "greedy_repeat_identical" in metrics:
        fig.suptitle(f"Control, greedy on {metrics['control_device']} / {metrics['control_dtype']}: repeated "
                     f"one at a time identical {metrics['greedy_repeat_identical']:.0%}, batched vs one at a time "
                     f"identical {metrics['greedy_batched_identical']:.0%}", fontsize=10)
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    temps = sorted({float(k.split("_")[1][1:]) for k in m if k.startswith("agree_")})
    fracs = sorted({int(k.split("_K")[1]) for k in m if k.startswith("agree_")})
    lo, mid, hi = fracs[0], fracs[len(fracs) // 2], fracs[-1]
    per_t = [f"T={t:g}: {m[f'agree_T{t:g}_K{lo}']:.0%} at K={lo}% -> {m[f'agree_T{t:g}_K{mid}']:.0%} at K={mid}% "
             f"-> {m[f'agree_T{t:g}_K{hi}']:.0%} at K={hi}% (answer entropy {m[f'entropy_T{t:g}_K{lo}']:.2f} -> "
             f"{m[f'entropy_T{t:g}_K{hi}']:.2f} bits)" for t in temps]
    hot = temps[-1]
    text = (f"Regenerating {m['references']} reference chains from their first K% of steps, the final answer agreed "
            f"with the reference's in {'; '.join(per_t)}. At T={hot:g}, continuations from K={mid}% followed the "
            f"reference's steps until {m[f'follow_T{hot:g}_K{mid}']:.0%} of the chain on average (the prefix alone "
            f"is {mid}%).")
    if "greedy_repeat_identical" in m:
        diff = m["greedy_batched_first_diff"]
        where = "" if math.isnan(diff) else f" (differing chains split at {diff:.0%} of their steps on average)"
        text += (f"\n\nControl ({m['control_device']}, {m['control_dtype']}): greedy decoding repeated one prompt at "
                 f"a time gave identical text for {m['greedy_repeat_identical']:.0%} of prompts, and one padded batch "
                 f"matched one-at-a-time for {m['greedy_batched_identical']:.0%}{where}. Greedy has no randomness: "
                 "any difference is numerical (padding and batch shapes change the kernels' summation order; bf16 "
                 "on GPU magnifies it into flipped near-tie tokens).")
    return text + ("\n\nAn organism result is a hypothesis to test on R1-distill (`--preset gpu`), whose long chains "
                   "have many more places to fork.")


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter(
    slug="determinism",
    presets=PRESETS, run=run, analyse=analyse, plot=plot, findings=findings,
    concepts=("uncertainty", "final answer", "backtracking"),
    try_next=(
        "Find the forking tokens (Bigelow et al.): resample after every token of one chain and look for jumps.",
        "Compare bf16 with fp32 greedy on GPU (`--device cuda`) and count the flipped tokens per 1000.",
        "Cut at backtracking steps only: are answers decided before or after the model says 'Wait'?",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
