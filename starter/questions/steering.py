# %% [markdown]
# # Can we make steering vectors to steer the reasoning?
#
# Venhoff, Arcuschin, Torr, Conmy and Nanda 2025 (arXiv 2506.18167) added the mean residual stream before
# backtracking sentences minus the mean before other sentences during generation: the model backtracked
# more (subtracting it: less). We sweep the strength alpha (negative too) and count backtracks and correct
# answers. **Control**: a random vector of the same norm at the same alphas (any big vector disturbs the
# model; only the gap to random is the vector's own effect). A second vector, "be creative" (creative minus
# plain prompt at the last prompt token), is added to plain prompts; we measure how different the samples
# for one problem are. The organism reads no English, so that part runs on a chat model (the main model,
# or SmolLM2-135M instead of the organism). Usage: `mi-starter run steering --preset smoke`.

# %%
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starter import activations, cot
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.models import get_spec, load_model
from starter.rollouts import SamplingConfig, sample
from starter.tasks import get_task_set

CREATIVE = " Be creative: find an unusual, original way to do it."  # appended to the question
ENGLISH_FALLBACK = "smollm2-135m"  # runs the creativity part when the main model is the organism


@dataclass
class Config(StarterConfig):
    layer: int = -1  # residual layer to read and steer (-1: the middle block)
    fit_problems: int = 40  # problems whose sampled traces give the backtracking vector
    fit_samples: int = 4  # samples per fit problem (temperature 1: many backtracks to average)
    eval_problems: int = 40  # other problems, solved greedily under each alpha
    alphas: tuple[float, ...] = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75)  # multiples of the vector
    max_new_tokens: int = 200  # a steered model may loop: cut it off here (graded wrong)
    creative_model: str | None = None  # None: the main model, or ENGLISH_FALLBACK for the organism; "": skip
    creative_problems: int = 8  # questions for the creativity vector
    creative_samples: int = 4  # samples per question whose diversity we measure
    creative_alphas: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)  # multiples of the creativity vector
    creative_max_new_tokens: int = 96  # length of each creative sample
    sae_top_k: int = 10  # SAE latents (by decoder cosine) to explain the vector, where the model has SAEs
    batch_size: int = 32  # sequences per generate call

    def __post_init__(self) -> None:
        super().__post_init__()
        if 0.0 not in self.alphas or 0.0 not in self.creative_alphas or min(self.fit_problems, self.eval_problems) < 1:
            raise UsageError(f"alphas and creative_alphas need 0.0 (the baseline), fit/eval_problems >= 1; got {self}")


PRESETS = {  # smoke skips the creativity part (loading and sampling SmolLM2 on 2 busy cores takes minutes)
    "smoke": Config(fit_problems=8, fit_samples=3, eval_problems=8, alphas=(-0.5, 0.0, 0.5), max_new_tokens=160,
                    creative_model=""),
    "cpu": Config(fit_problems=24, eval_problems=20, alphas=(-1.0, 0.0, 0.5, 1.0), creative_problems=3,
                  creative_samples=3, creative_alphas=(0.0, 4.0), creative_max_new_tokens=48),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", fit_problems=32, eval_problems=48,
                  alphas=(-1.0, -0.5, 0.0, 0.5, 1.0, 1.5), max_new_tokens=1024, creative_max_new_tokens=256),
}

# %% [markdown]
# ## Experiment 1: the backtracking vector (difference of means before backtrack steps vs other steps)


# %%
def layer_of(lm, cfg: Config) -> int:  # the middle block unless the config names one
    return lm.n_layers // 2 if cfg.layer == -1 else cfg.layer


def backtrack_vector(lm, problems, cfg: Config, layers: list[int]):
    """{layer: [d_model] vector}, and the vector's norm over the mean residual norm at the steering layer."""
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in problems]
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed,
                              batch_size=cfg.batch_size)
    texts, positions, is_backtrack = [], [], []
    for prompt, completions in zip(prompts, sample(lm, prompts, cfg.fit_samples, sampling)):
        for steps, ends, text in ((*activations.step_end_positions(lm, prompt, c.text), prompt + c.text) for c in completions):
            texts.append(text)
            positions.append(ends[:-1])  # the last token before step i+1 is written...
            is_backtrack += [s.tag == "backtrack" for s in steps[1:]]  # ...and whether step i+1 backtracks
    acts = activations.cache_resid(lm, texts, positions, layers)  # {layer: [n_steps, d_model]}
    mask = np.array(is_backtrack, dtype=bool)
    vectors, L = {L: activations.diff_of_means(a[mask], a[~mask]) for L, a in acts.items()}, layer_of(lm, cfg)
    return vectors, float(vectors[L].norm()) / activations.mean_resid_norm(acts[L]), int(mask.sum())


def steer_eval(ctx: Context, problems, vectors: dict) -> None:
    """Greedy traces of eval problems under alpha * vector, for the backtracking and the random vector."""
    lm, cfg, task = ctx.model, ctx.cfg, get_task_set("countdown")
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in problems]
    greedy = SamplingConfig(temperature=0.0, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
    for name, v in vectors.items():
        for alpha in (a for a in cfg.alphas if a != 0 or name == "backtrack"):  # alpha 0: one unsteered run
            units = [f"steer:{name}:{alpha:+g}:{p.id}" for p in problems]
            if not ctx.store.pending(units):
                continue
            hooks = activations.steering_hooks(layer_of(lm, cfg), v, alpha)  # removed when sample returns
            completions = [c[0].text for c in sample(lm, prompts, 1, greedy, hooks=hooks)]
            for unit, problem, completion in ((u, p, c) for u, p, c in zip(units, problems, completions)
                                              if not ctx.store.done(u)):
                tags = [s.tag for s in cot.split_steps(cot.split_completion(completion)[0])]
                ctx.store.append({"unit": unit, "part": "steer", "vector": name, "alpha": alpha, "problem": problem.id,
                                  "correct": task.grade(problem, completion), "backtracks": tags.count("backtrack"),
                                  "n_steps": len(tags), "completion": completion[:400]})


# %% [markdown]
# ## Experiment 2: the creativity vector (creative prompt minus plain prompt, at the last prompt token)


# %%
def distinct_bigrams(texts: list[str]) -> float:  # unique word pairs / all pairs in a problem's samples (1 = no repeats)
    pairs = [tuple(w[i : i + 2]) for w in (t.split() for t in texts) for i in range(len(w) - 1)]
    return len(set(pairs)) / len(pairs) if pairs else 0.0


def creativity(ctx: Context) -> None:
    cfg = ctx.cfg
    if (name := cfg.model if cfg.creative_model is None else cfg.creative_model) == "":
        return
    if get_spec(name).prompt_format == "organism":
        name = ENGLISH_FALLBACK  # the organism reads no English: use a chat model
    lm = ctx.model if name == cfg.model else load_model(name, device=cfg.device)
    problems = get_task_set("countdown").make(cfg.creative_problems, seed=cfg.seed + 2)
    plain, creative = ([lm.prompt(question=p.question + extra) for p in problems] for extra in ("", CREATIVE))
    L = layer_of(lm, cfg)
    acts = activations.cache_resid(lm, creative + plain, [[-1]] * (2 * len(problems)), [L])[L]  # [2n, d_model]
    v = activations.diff_of_means(acts[: len(problems)], acts[len(problems) :])
    conditions = [("creative", a, plain) for a in cfg.creative_alphas] + [("prompted", 0.0, creative)] + \
                 [("random", a, plain) for a in cfg.creative_alphas if a != 0]  # alpha 0 is the same for both
    sampling = SamplingConfig(temperature=0.7, max_new_tokens=cfg.creative_max_new_tokens, seed=cfg.seed,
                              batch_size=cfg.batch_size)
    for vector, alpha, prompts in conditions:
        units = [f"creative:{vector}:{alpha:+g}:{p.id}" for p in problems]
        if not ctx.store.pending(units):
            continue
        direction = v if vector == "creative" else activations.random_direction(v, seed=cfg.seed)
        samples = sample(lm, prompts, cfg.creative_samples, sampling, hooks=activations.steering_hooks(L, direction, alpha))
        for unit, texts in zip(units, ([c.text for c in row] for row in samples)):
            answers = {cot.extract_boxed(t) or "" for t in texts}  # distinct final expressions: distinct approaches
            ctx.store.append({"unit": unit, "part": "creative", "model": name, "vector": vector, "alpha": alpha,
                              "distinct_bigrams": distinct_bigrams(texts), "distinct_answers": len(answers) / len(texts),
                              "sample": texts[0][:200]})


# %% [markdown]
# ## On a model with SAEs: which latents is the backtracking vector made of? (GPU path, needs a download)


# %%
def explain_with_sae(ctx: Context, vectors: dict) -> None:  # top latents by decoder cosine, Neuronpedia labels
    spec, cfg = ctx.model.spec, ctx.cfg
    if not spec.sae_release or cfg.offline:  # say why in the results, where the latents would be
        why = "the model has no SAEs in the registry" if not spec.sae_release else "offline: SAE weights need a download"
        return ctx.store.append({"unit": "sae", "part": "sae", "skipped": why})
    layer = activations.sae_layer(spec.sae_ids[0])
    latents = activations.sae_latents(vectors[layer], spec, cfg.sae_top_k, device=str(ctx.model.device))
    ctx.store.append({"unit": "sae", "part": "sae", "layer": layer, "latents": latents})


def run(ctx: Context) -> None:
    lm, cfg = ctx.model, ctx.cfg
    fit = get_task_set("countdown").make(cfg.fit_problems, seed=cfg.seed)
    evaluate = get_task_set("countdown").make(cfg.eval_problems, seed=cfg.seed + 1)
    L = layer_of(lm, cfg)
    sae_layers = [activations.sae_layer(s) for s in lm.spec.sae_ids[:1]]
    vectors, ratio, n_backtracks = backtrack_vector(lm, fit, cfg, [L] + sae_layers)
    if not ctx.store.done("vector"):
        ctx.store.append({"unit": "vector", "part": "vector", "layer": L, "norm_over_resid": ratio,
                          "n_backtrack_steps": n_backtracks})
    steer_eval(ctx, evaluate, {"backtrack": vectors[L], "random": activations.random_direction(vectors[L], cfg.seed)})
    if not ctx.store.done("sae"):
        explain_with_sae(ctx, vectors)
    creativity(ctx)


# %% [markdown]
# ## Result: backtracks and accuracy vs alpha, next to the random vector; diversity vs alpha


# %%
def _mean(rows, key, **match) -> float:
    values = [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]
    return float(np.mean(values)) if values else float("nan")


def analyse(rows: list[dict]) -> dict:
    steer, creative = [r for r in rows if r.get("part") == "steer"], [r for r in rows if r.get("part") == "creative"]
    vector = next(r for r in rows if r.get("part") == "vector")
    m = {"layer": vector["layer"], "vector_norm_over_resid": vector["norm_over_resid"],
         "n_backtrack_steps_fit": vector["n_backtrack_steps"]}
    for rows_, keys in ((steer, {"backtracks_per_trace": "backtracks", "accuracy": "correct"}),
                        (creative, {"distinct_bigrams": "distinct_bigrams", "distinct_answers": "distinct_answers"})):
        for name, alpha in sorted({(r["vector"], r["alpha"]) for r in rows_}, key=lambda va: (va[1], va[0] == "random")):
            m.update({f"{key}[{name} {alpha:+g}]": _mean(rows_, field, vector=name, alpha=alpha) for key, field in keys.items()})
    return m


def plot(rows: list[dict], m: dict):
    import matplotlib.pyplot as plt
    steer, creative = [r for r in rows if r.get("part") == "steer"], [r for r in rows if r.get("part") == "creative"]
    panels = [(steer, "backtracks", "backtrack", "backtracks per trace"), (steer, "correct", "backtrack", "accuracy"),
              (creative, "distinct_bigrams", "creative", f"distinct word pairs ({(creative or [{}])[0].get('model')})")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (data, key, vector, title) in zip(axes, panels):  # alpha 0 is unsteered: shared by both curves
        alphas = sorted({r["alpha"] for r in data if r["vector"] != "prompted"})
        for name, style in ((vector, "-o"), ("random", ":x")):
            ax.plot(alphas, [_mean(data, key, vector=vector if a == 0 else name, alpha=a) for a in alphas], style,
                    label=f"{name} vector")
        if data is creative and creative:
            ax.axhline(_mean(creative, key, vector="prompted"), ls="--", c="gray", label="creative prompt")
        ax.set(xlabel="alpha (multiples of the vector)", title=title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    get = lambda key, v, a: m.get(f"{key}[{v} {a:+g}]", float("nan"))  # noqa: E731
    out = [f"Backtracking vector at layer {m['layer']} ({m['vector_norm_over_resid']:.2f}x the mean residual norm, "
           f"{m['n_backtrack_steps_fit']} backtrack steps): unsteered {get('backtracks_per_trace', 'backtrack', 0):.2f} "
           f"backtracks per trace, {get('accuracy', 'backtrack', 0):.0%} correct."]
    alphas = sorted(float(k.split()[-1][:-1]) for k in m if k.startswith("accuracy[backtrack"))
    out += [f"At alpha {a:+g}: {get('backtracks_per_trace', 'backtrack', a):.2f} backtracks, {get('accuracy', 'backtrack', a):.0%} "
            f"correct (random vector: {get('backtracks_per_trace', 'random', a):.2f}, {get('accuracy', 'random', a):.0%})."
            for a in (max(alphas), min(alphas))]
    a = max([float(k.split()[-1][:-1]) for k in m if k.startswith("distinct_bigrams[creative")], default=None)
    out.append("The creativity vector was not run in this preset (it needs a chat model: see the cpu preset)." if a is None
               else f"Creativity vector: distinct word pairs across samples {get('distinct_bigrams', 'creative', 0):.2f} "
               f"unsteered, {get('distinct_bigrams', 'creative', a):.2f} at alpha {a:+g} (random vector: "
               f"{get('distinct_bigrams', 'random', a):.2f}; creative prompt: {get('distinct_bigrams', 'prompted', 0):.2f}).")
    return " ".join(out + ["Small samples: hypotheses, and organism results are predictions to test on R1-distill. SAE "
                           "latents of the vector (models with SAEs, online only) are in results.jsonl, part=sae."])


STARTER = Starter(
    slug="steering",
    presets=PRESETS, run=run, analyse=analyse, plot=plot, findings=findings,
    concepts=("backtracking", "wait", "creative"),
    try_next=("Pick the layer as Venhoff et al. do (attribution patching) instead of the middle block.",
              "Steer only after the prompt, or only at step boundaries, and compare the side effects.",
              "Steer along the cot-probing starter's backtrack probe direction: does decodable mean causal?",
              "On R1-Distill-Llama-8B (`--preset gpu --model r1-llama-8b`, online) read the vector's SAE latents."),
)

# %%
if __name__ == "__main__":
    run_starter(STARTER)
