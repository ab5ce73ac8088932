# %% [markdown]
# # Can we probe for anything interesting in the chain of thought?
#
# Zhang et al. 2025 ("Reasoning Models Know When They're Right", arXiv 2504.05419) read hidden states at
# the end of each reasoning chunk and trained linear probes that predict whether the answer reached so far
# is correct. This starter asks the same of every step of a chain of thought, for three labels:
#
# - **correct**: will this trace's final answer be right?
# - **backtrack_next**: is the next step a backtrack ("Wait, ...")? Any step that is not a check is an easy
#   "no", so **backtrack_after_check** asks the hard part: among check steps ("Miss."), which come before one?
# - **distance** (organism only): edges in the ground-truth search tree between this step and the solution.
#
# One linear probe per layer on the residual stream at each step's last token, split **by problem** (no
# problem is in both train and test). Controls: the same probe on shuffled labels (chance), and a
# bag-of-words probe on the step's text (what the words alone give away). Usage:
# `mi-starter run cot-probing --preset smoke` (or `python starter/questions/cot_probing.py`). Outputs:
# results.jsonl (one row per trace, one per probe), figure.png (score vs layer), summary.md.

# %%
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starter import activations, cot
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.rollouts import SamplingConfig, sample
from starter.tasks import get_task_set
from starter.tasks.countdown import search


@dataclass
class Config(StarterConfig):
    n_problems: int = 40  # Countdown problems (held-out split: the organism never trained on them)
    samples: int = 4  # sampled traces per problem: right and wrong answers from the same problem
    temperature: float = 1.0  # sampling temperature (higher: more wrong answers to learn from)
    max_new_tokens: int = 160  # a trace longer than this is cut off (and graded wrong)
    layer_stride: int = 1  # probe every k-th layer (1: all of them)
    max_steps: int = 64  # at most this many steps per trace go into the probes (R1 traces are long)
    folds: int = 5  # cross-validation folds, grouped by problem
    batch_size: int = 32  # sequences per generate call / per forward pass when caching activations

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < self.folds or self.samples < 1 or self.layer_stride < 1 or self.folds < 2:
            raise UsageError(f"need n_problems >= folds >= 2, samples >= 1, layer_stride >= 1; got {self}")


PRESETS = {
    "smoke": Config(n_problems=16, samples=3, folds=4),
    "cpu": Config(n_problems=80, samples=4),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, samples=4,
                  temperature=0.6, max_new_tokens=2048, layer_stride=3, batch_size=8),
}

# %% [markdown]
# ## Experiment: sample traces, cache the residual stream at every step's end, fit probes per layer


# %%
def _distances(problem, steps) -> list[int | None]:
    """Ground-truth tree distance to the solution per step, if the trace walks the organism's exact search."""
    from starter.organism.data import make_trace

    truth = make_trace(search(tuple(problem.meta["numbers"]), problem.meta["target"]))
    truth_steps = [s for s in truth.steps if s.tag != "conclude"]
    if [s.text for s in steps] != [s.text for s in truth_steps]:
        return [None] * len(steps)  # it left the search (usually a false "Hit."): no ground truth to compare
    return [s.tree_distance for s in truth_steps]


def sample_traces(ctx: Context, problems) -> None:
    """One row per (problem, sample): the completion, its grade and its tagged steps."""
    task, lm, cfg = get_task_set("countdown"), ctx.model, ctx.cfg
    todo = [p for p in problems if ctx.store.pending(f"trace:{p.id}:{k}" for k in range(cfg.samples))]
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    sampling = SamplingConfig(temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed,
                              batch_size=cfg.batch_size)
    for problem, prompt, completions in zip(todo, prompts, sample(lm, prompts, cfg.samples, sampling)):
        for k, completion in enumerate(c.text for c in completions):
            steps = cot.split_steps(cot.split_completion(completion)[0])[: cfg.max_steps]
            organism = lm.spec.prompt_format == "organism"
            ctx.store.append({
                "unit": f"trace:{problem.id}:{k}", "part": "trace", "problem": problem.id, "prompt": prompt,
                "completion": completion, "correct": task.grade(problem, completion),
                "tags": [s.tag for s in steps], "step_text": [s.text for s in steps],
                "distance": _distances(problem, steps) if organism else [None] * len(steps),
            })


def step_dataset(ctx: Context, traces: list[dict]) -> dict:
    """Activations at every step's last token [n_steps_total, d_model] per layer, with labels and groups."""
    lm, cfg = ctx.model, ctx.cfg
    texts, positions, meta = [], [], []
    for t in traces:
        steps, ends = activations.step_end_positions(lm, t["prompt"], t["completion"])
        n = min(len(ends), len(t["tags"]))
        texts.append(t["prompt"] + t["completion"])
        positions.append(ends[:n])
        for i in range(n):
            nxt = t["tags"][i + 1] if i + 1 < len(t["tags"]) else None
            after_check = nxt == "backtrack" if nxt and t["tags"][i] == "verify" else None
            meta.append((t["problem"], t["correct"], nxt == "backtrack" if nxt else None, after_check,
                         t["distance"][i], t["step_text"][i]))
    layers = list(range(0, lm.n_layers, cfg.layer_stride))
    acts = activations.cache_resid(lm, texts, positions, layers, batch_size=cfg.batch_size)
    group, correct, backtrack, after_check, distance, text = zip(*meta)
    return {"acts": acts, "group": np.array(group), "text": list(text), "labels": {
        "correct": np.array(correct, dtype=float),
        "backtrack_next": np.array([np.nan if b is None else b for b in backtrack], dtype=float),
        "backtrack_after_check": np.array([np.nan if b is None else b for b in after_check], dtype=float),
        "distance": np.array([np.nan if d is None else d for d in distance], dtype=float)}}


# %% [markdown]
# ## Control: shuffled labels (same probe, same split) and a bag-of-words probe on the step text


# %%
KINDS = {"correct": "classify", "backtrack_next": "classify", "backtrack_after_check": "classify", "distance": "regress"}


def fit_probes(ctx: Context, data: dict) -> None:
    """One row per (label, features): features = layer L, the same layer with shuffled labels, or words."""
    from sklearn.feature_extraction.text import CountVectorizer

    cfg, rng = ctx.cfg, np.random.default_rng(ctx.cfg.seed)
    bow = CountVectorizer(token_pattern=r"\w+|[^\w\s]", ngram_range=(1, 2)).fit_transform(data["text"]).tocsr()
    for label, kind in KINDS.items():
        y_all = data["labels"][label]
        keep = ~np.isnan(y_all)
        y, groups = y_all[keep], data["group"][keep]
        shuffled = rng.permutation(y)
        feature_sets = {"bow": (bow[np.flatnonzero(keep)], y)}
        for layer, acts in data["acts"].items():
            feature_sets[f"layer{layer}"] = (acts.numpy()[keep], y)
            feature_sets[f"shuffled{layer}"] = (acts.numpy()[keep], shuffled)
        reason = None  # a label the real probe cannot be fitted on gets no control rows either
        for name, (x, target) in feature_sets.items():
            unit = f"probe:{label}:{name}"
            if ctx.store.done(unit):
                continue
            row = {"unit": unit, "part": "probe", "label": label, "features": name.rstrip("0123456789"),
                   "layer": int(name[len(name.rstrip("0123456789")):] or -1), "metric": activations.PROBE_METRICS[kind],
                   "n": int(len(y)), "n_positive": int(y.sum()) if kind == "classify" else None, "score": None}
            try:
                row["score"] = None if reason else activations.probe_score(x, target, groups, kind, cfg.folds, cfg.seed)
            except UsageError as why:  # too few examples of a class (e.g. no wrong answers): say so in the row
                reason = str(why)
            row["skipped"] = reason
            ctx.store.append(row)


def run(ctx: Context) -> None:
    problems = get_task_set("countdown").make(ctx.cfg.n_problems, seed=ctx.cfg.seed)
    sample_traces(ctx, problems)
    traces = [r for r in ctx.store.rows() if r.get("part") == "trace"]
    names = ["bow"] + [f"{f}{L}" for L in range(0, ctx.model.n_layers, ctx.cfg.layer_stride) for f in ("layer", "shuffled")]
    if ctx.store.pending(f"probe:{label}:{name}" for label in KINDS for name in names):  # resumed runs skip caching
        fit_probes(ctx, step_dataset(ctx, traces))


# %% [markdown]
# ## Result: score vs layer, against chance (shuffled) and the words alone


# %%
def analyse(rows: list[dict]) -> dict:
    traces = [r for r in rows if r.get("part") == "trace"]
    probes = [r for r in rows if r.get("part") == "probe" and r.get("score") is not None]
    metrics = {"n_traces": len(traces), "accuracy": float(np.mean([t["correct"] for t in traces])),
               "n_steps": sum(len(t["tags"]) for t in traces)}
    for label in KINDS:
        mine = [p for p in probes if p["label"] == label]
        layers = [p for p in mine if p["features"] == "layer"]
        if not layers:
            continue
        best = max(layers, key=lambda p: p["score"])
        metric = best["metric"]
        shuffled = {p["layer"]: p["score"] for p in mine if p["features"] == "shuffled"}
        metrics[f"{label}_{metric}_best"] = best["score"]
        metrics[f"{label}_best_layer"] = best["layer"]
        metrics[f"{label}_{metric}_shuffled"] = shuffled.get(best["layer"], float("nan"))
        metrics[f"{label}_{metric}_words"] = next((p["score"] for p in mine if p["features"] == "bow"), float("nan"))
        metrics[f"{label}_n"] = best["n"]
    return metrics


def plot(rows: list[dict], metrics: dict):
    import matplotlib.pyplot as plt

    probes = [r for r in rows if r.get("part") == "probe" and r.get("score") is not None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("auroc", "r2")):
        for i, label in enumerate(label for label, kind in KINDS.items() if activations.PROBE_METRICS[kind] == metric):
            color = f"C{i}"
            for features, style in (("layer", "-o"), ("shuffled", ":x")):
                pts = sorted((p["layer"], p["score"]) for p in probes if p["label"] == label and p["features"] == features)
                if pts:
                    ax.plot(*zip(*pts), style, color=color, label=f"{label} ({'probe' if features == 'layer' else 'shuffled'})")
            words = [p["score"] for p in probes if p["label"] == label and p["features"] == "bow"]
            if words:
                ax.axhline(words[0], color=color, ls="--", lw=1, label=f"{label} (words only)")
        ax.set_xticks(sorted({p["layer"] for p in probes if p["layer"] >= 0}))
        ax.set(xlabel="layer (residual stream after block)", ylabel=metric.upper() if metric == "auroc" else "R²",
               title="classification (0.5 = chance)" if metric == "auroc" else "tree distance to solution")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    out = [f"{m['n_traces']} sampled traces ({m['accuracy']:.0%} correct), {m['n_steps']} steps; probes are "
           "cross-validated by problem."]
    for label, metric in ((label, activations.PROBE_METRICS[kind]) for label, kind in KINDS.items()):
        if f"{label}_{metric}_best" not in m:
            out.append(f"`{label}`: not enough examples of both outcomes to probe (see results.jsonl).")
            continue
        out.append(f"`{label}`: best layer {m[f'{label}_best_layer']} reaches {metric.upper()} "
                   f"{m[f'{label}_{metric}_best']:.2f}, against {m[f'{label}_{metric}_shuffled']:.2f} with shuffled "
                   f"labels and {m[f'{label}_{metric}_words']:.2f} from the step's words alone (n={m[f'{label}_n']}).")
    out.append("A probe beating the words is a hypothesis about what the residual stream holds, on this model "
               "only; check it on R1-distill (gpu preset) before believing it.")
    return " ".join(out)


STARTER = Starter(
    slug="cot-probing",
    presets=PRESETS, run=run, analyse=analyse, plot=plot, findings=findings,
    concepts=("final answer", "backtracking", "uncertainty"),
    try_next=(
        "Early exit (Zhang et al.): stop the trace when the `correct` probe is confident; tokens saved vs accuracy.",
        "A stronger text baseline: bag of words over the whole prefix, not just the current step.",
        "Probe at every token instead of step ends: when does `backtrack_next` become decodable?",
        "Steer along the `backtrack_next` probe direction (see the steering starter) and check it is causal.",
    ),
)

# %% [markdown]
# ## What to try next: see `try_next` above (also printed in summary.md).

# %%
if __name__ == "__main__":
    run_starter(STARTER)
