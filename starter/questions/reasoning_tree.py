# %% [markdown]
# # Does the model search a reasoning tree?
#
# Neel Nanda's mental model: a thinking model explores a *reasoning tree*. At each step it picks a
# promising next step by heuristics, follows that branch, and has reflexes ("that doesn't sound right",
# "let's backtrack") that abandon it for a sibling. This starter makes the tree explicit and tests it:
#
# 1. **Shape.** Sample one chain per Countdown problem, cut it into steps, tag them with the one
#    rule-based tagger (`starter/cot.py`), build the implied tree (`starter/trees.py`) and measure
#    branching factor, depth and backtracks against correctness and difficulty (how many backtracks the
#    heuristic search itself needs). On the TinyThinker organism, score the tree against the true one.
# 2. **Are backtracks branch points?** Resample continuations just before a backtrack and, as the
#    control, at a random step: how often does the continuation take a *different next operation*?
#
# Run: `mi-starter run reasoning-tree --preset smoke` (organism, ~1 min) or `--preset gpu` (R1-distill).
# Outputs: `results.jsonl` (one row per chain and per resampled cut), `figure.png`, `summary.md`.

# %%
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from starter import prefixes, rollouts
from starter.cot import split_completion, split_steps
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.organism.data import make_trace, search
from starter.tasks.countdown import grade, make_problems
from starter.trees import build_tree, next_operation, score_tree, tree_from_nodes, tree_stats

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    n_problems: int = 24  # held-out Countdown-3 problems, one sampled chain each
    n_cuts: int = 8  # chains (with a backtrack) whose pre-backtrack and random cuts are resampled
    n_resamples: int = 4  # continuations sampled at each cut
    temperature: float = 1.0  # sampling temperature for chains and continuations
    top_p: float = 1.0  # nucleus sampling (R1 papers use T=0.6, top-p 0.95)
    max_new_tokens: int = 200  # organism traces are <= ~160 tokens; R1 needs thousands
    batch_size: int = 64  # sequences per generate call

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < 1 or self.n_cuts < 0 or self.n_resamples < 1:
            raise UsageError(f"need n_problems >= 1, n_cuts >= 0, n_resamples >= 1; got "
                             f"{self.n_problems}, {self.n_cuts}, {self.n_resamples}")
        if self.temperature <= 0:
            raise UsageError(f"temperature must be > 0 (resampling needs randomness); got {self.temperature}")


PRESETS = {
    "smoke": Config(n_problems=8, n_cuts=3, n_resamples=4, max_new_tokens=160),
    "cpu": Config(n_problems=120, n_cuts=40, n_resamples=6),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, n_cuts=40, n_resamples=8,
                  temperature=0.6, top_p=0.95, max_new_tokens=3000, batch_size=32),
}


def sampling(cfg: Config) -> rollouts.SamplingConfig:
    return rollouts.SamplingConfig(temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed,
                                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)


# %% [markdown]
# ## Experiment 1: the tree each chain implies
# The ground truth for every problem is the tree the organism's heuristic depth-first search walks
# (`starter.organism.data`). For R1 the same score says how close its search is to that heuristic.


# %%
def run_chains(ctx: Context, problems: list) -> None:
    todo = [p for p in problems if not ctx.store.done(f"chain:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    runs = rollouts.sample(ctx.model, prompts, n=1, cfg=sampling(ctx.cfg)) if todo else []  # [problem][1]
    for p, prompt, run in zip(todo, prompts, runs):
        completion = run[0].text
        steps = prefixes.chain_steps(completion)
        tree = build_tree(steps)
        truth = tree_from_nodes(make_trace(search(tuple(p.meta["numbers"]), p.meta["target"])).nodes)
        ctx.store.append({"unit": f"chain:{p.id}", "phase": "chain", "prompt": prompt, "completion": completion,
                          "difficulty": p.meta["backtracks"], "correct": grade(p, completion),
                          "n_steps": len(steps), **tree_stats(tree), **score_tree(tree, truth)})


# %% [markdown]
# ## Experiment 2 and its control: resample just before a backtrack vs at a random step
# A cut keeps the chain up to the end of step `c - 1`; the continuation starts where step `c` was. At a
# pre-backtrack cut, step `c` is the backtrack; at a control cut, `c` is any other step (seeded choice).
# "Different branch" = the continuation's first operation differs from the original chain's next one.


# %%
def pick_cuts(steps: list, rng: random.Random) -> dict[str, int]:
    before = [s.index for s in steps if s.tag == "backtrack" and s.index > 0]
    others = [s.index for s in steps if s.tag != "backtrack" and s.index > 0 and s.index not in before]
    return {"pre_backtrack": before[0], "random": rng.choice(others)} if before and others else {}


def run_resamples(ctx: Context) -> None:
    rng = random.Random(ctx.cfg.seed)
    chains = [r for r in ctx.store.rows() if r.get("phase") == "chain" and r["n_backtracks"] > 0]
    jobs = []  # (unit, row, cut kind, the cut as a prefixes.Prefix, original next operation)
    for row in chains[: ctx.cfg.n_cuts]:
        steps = prefixes.chain_steps(row["completion"])
        for kind, c in pick_cuts(steps, rng).items():
            cut = prefixes.step_prefixes(row["unit"], row["completion"], ks=[c])[0]
            jobs.append((f"cut:{row['unit']}:{kind}", row, kind, cut, next_operation(steps[c:])))
    jobs = [j for j in jobs if not ctx.store.done(j[0])]
    # [len(jobs)][n_resamples] continuations of prompt + cut, one batched call: the seed fixes them all.
    texts = [row["prompt"] + cut.text for _, row, _, cut, _ in jobs]
    outs = rollouts.sample(ctx.model, texts, n=ctx.cfg.n_resamples, cfg=sampling(ctx.cfg)) if jobs else []
    for (unit, row, kind, cut, original_op), continuations in zip(jobs, outs):
        firsts = [split_steps(split_completion(c.text)[0]) for c in continuations]
        ops = [next_operation(steps) for steps in firsts]
        ctx.store.append({"unit": unit, "phase": "cut", "cut": kind, "step": cut.k, "original_op": original_op,
                          "continuation_ops": ops, "continuation_tags": [s[0].tag if s else "" for s in firsts],
                          "different_branch": [op != original_op for op in ops]})


def run(ctx: Context) -> None:
    problems = make_problems(ctx.cfg.n_problems, seed=ctx.cfg.seed)
    run_chains(ctx, problems)
    run_resamples(ctx)


# %% [markdown]
# ## Result


# %%
def _mean(xs) -> float:
    xs = [float(x) for x in xs]
    return float(np.mean(xs)) if xs else float("nan")


def analyse(rows: list[dict]) -> dict:
    chains = [r for r in rows if r["phase"] == "chain"]
    cuts = [r for r in rows if r["phase"] == "cut"]
    m = {"n_chains": len(chains), "accuracy": _mean(r["correct"] for r in chains)}
    for key in ("n_nodes", "depth", "branching_factor", "n_backtracks"):
        m[f"mean_{key}"] = _mean(r[key] for r in chains)
    for ok, name in ((True, "correct"), (False, "wrong")):
        m[f"backtracks_when_{name}"] = _mean(r["n_backtracks"] for r in chains if r["correct"] == ok)
    for d in sorted({r["difficulty"] for r in chains}):
        m[f"backtracks_at_difficulty_{d}"] = _mean(r["n_backtracks"] for r in chains if r["difficulty"] == d)
    m["difficulty_backtrack_corr"] = (float(np.corrcoef([r["difficulty"] for r in chains],
                                                        [r["n_backtracks"] for r in chains])[0, 1])
                                      if len(chains) > 2 and len({r["n_backtracks"] for r in chains}) > 1 else 0.0)
    for key in ("node_recall", "node_precision", "edge_recall", "backtrack_recall", "backtrack_precision", "exact"):
        m[f"tree_{key}"] = _mean(r[key] for r in chains)
    for kind in ("pre_backtrack", "random"):
        flags = [f for r in cuts if r["cut"] == kind for f in r["different_branch"]]
        tags = [t for r in cuts if r["cut"] == kind for t in r["continuation_tags"]]
        m[f"n_continuations_{kind}"] = len(flags)
        m[f"different_branch_{kind}"] = _mean(flags)
        m[f"backtracks_first_{kind}"] = _mean(t == "backtrack" for t in tags)
    return m


def plot(rows: list[dict], metrics: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    levels = sorted(int(k.rsplit("_", 1)[1]) for k in metrics if k.startswith("backtracks_at_difficulty_"))
    axes[0].plot(levels, [metrics[f"backtracks_at_difficulty_{d}"] for d in levels], "o-", label="model's chain")
    axes[0].plot(levels, levels, "k--", label="heuristic search")
    axes[0].set(xlabel="backtracks the heuristic search needs", ylabel="backtracks in the chain",
                title="Backtracking vs difficulty")
    axes[0].legend()
    keys = ["tree_node_recall", "tree_edge_recall", "tree_backtrack_recall", "tree_exact"]
    axes[1].bar([k[5:].replace("_", "\n") for k in keys], [metrics[k] for k in keys], color="tab:green")
    axes[1].set(ylim=(0, 1.05), title="Recovered tree vs search tree")
    kinds = ["pre_backtrack", "random"]
    axes[2].bar(["before a\nbacktrack", "random step\n(control)"], [metrics[f"different_branch_{k}"] for k in kinds],
                color=["tab:red", "tab:gray"])
    axes[2].set(ylim=(0, 1.05), ylabel="P(next operation differs)", title="Resampled continuations")
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    return (
        f"Over {m['n_chains']} chains (accuracy {m['accuracy']:.2f}), the implied trees have "
        f"{m['mean_n_nodes']:.1f} nodes, depth {m['mean_depth']:.1f}, branching factor "
        f"{m['mean_branching_factor']:.2f} and {m['mean_n_backtracks']:.2f} backtracks per chain "
        f"({m['backtracks_when_correct']:.2f} in correct vs {m['backtracks_when_wrong']:.2f} in wrong chains); "
        f"backtracks correlate with the difficulty of the problem at r = {m['difficulty_backtrack_corr']:.2f}. "
        f"Against the heuristic search tree, node recall is {m['tree_node_recall']:.2f}, edge recall "
        f"{m['tree_edge_recall']:.2f}, abandoned-branch recall {m['tree_backtrack_recall']:.2f}, and "
        f"{m['tree_exact']:.0%} of trees match exactly.\n\n"
        f"Resampling just before a backtrack changes the next operation in "
        f"{m['different_branch_pre_backtrack']:.2f} of {m['n_continuations_pre_backtrack']} continuations "
        f"(and backtracks again in {m['backtracks_first_pre_backtrack']:.2f}); the control, resampling at a "
        f"random step, changes it in {m['different_branch_random']:.2f} of {m['n_continuations_random']}. "
        "On the organism this is a hypothesis about how search is written, to test on R1-distill "
        "(`--preset gpu`), where the tagger and the tree rule are themselves assumptions."
    )


STARTER = Starter(
    slug="reasoning-tree",
    presets=PRESETS,
    run=run,
    analyse=analyse,
    plot=plot,
    findings=findings,
    concepts=("backtracking", "wait", "uncertainty"),
    try_next=(
        "Replace the rule-based tagger with a model-as-judge and see whether the tree shape changes.",
        "Read a probe for 'about to backtrack' at the pre-backtrack cuts (see the cot-probing starter).",
        "Run the gpu preset and compare R1's branching factor on easy vs hard Countdown problems.",
        "Ask whether branch order follows a heuristic: rank each chain's first operations by distance to target.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
