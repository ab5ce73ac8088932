# %% [markdown]
# # Do sparse autoencoders tell us anything about reasoning?
#
# "Do sparse autoencoders tell us anything interesting? You can use the r1 LLaMA 3.1 8B distill and see how
# well the LLaMA Scope SAEs transfer; you will likely get better results if you finetune the SAEs on the
# finetuned model activations, as they were trained on base LLaMA 3.1 8B."
#
# Text A (reasoning with backtracking), text B (the control: without it), SAEs on the residual stream at
# one layer. Per SAE and text: variance explained (FVE), L0, FVE on backtracking tokens ("Wait", "Hmm") and
# the loss increase with the SAE spliced in; then the latents most specific to backtracking tokens.
#
# - `smoke` / `cpu`: TinyThinker, because its traces have ground truth (every "Wait" is a real backtrack; its
#   hinted traces are the same text minus the search; SmolLM2 never backtracks). A = traces with
#   backtracking, B = hinted straight-line traces. Train a BatchTopK SAE on each; cross-evaluate.
# - `gpu` (R1-Distill-Llama-8B): A = the model's own reasoning traces, B = plain prose (Python's
#   reference docs). SAEs: Llama Scope R1-distill (SAELens `llama_scope_r1_distill`, Neuronpedia explanations)
#   and the base-model Llama Scope SAE, before and after finetuning on A. Other models: the smoke recipe.
#
# Run: `mi-starter run sae --preset smoke` (~1 min) or `--preset gpu` (downloads the model and ~1.5 GB of SAEs).

# %%
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import numpy as np

from starter.activations import encode_one
from starter.errors import StarterError, UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.rollouts import SamplingConfig, sample
from starter.saes import (TrainConfig, collect, finetune, latent_contrast, load_pretrained, reconstruction,
                          spliced_ce, top_examples, train_sae)

BACKTRACK_WORDS = ("wait", "hmm")  # a token that is one of these (any case) marks a backtrack ("Wait" in the organism)

# %% [markdown]
# ## Setup

# %%
@dataclass
class Config(StarterConfig):
    n_texts: int = 200  # texts per distribution; a quarter is held out for evaluation
    layer: int | None = None  # None: the model's last layer of interest (15 on R1-Distill-Llama-8B: the SAEs')
    dict_size: int = 1024  # trained SAEs: latents
    k: int = 16  # trained SAEs: active latents per token (BatchTopK)
    steps: int = 1500  # trained SAEs: optimiser steps
    finetune_steps: int = 300  # pretrained path: steps finetuning the base-model SAE on A
    base_sae: tuple[str, str] = ("llama_scope_lxr_8x", "l15r_8x")  # SAELens base-Llama SAE (pretrained path)
    max_new_tokens: int = 1024  # reasoning traces the model writes itself (models other than the organism)
    ce_texts: int = 32  # held-out texts for the spliced-loss measurement
    top_latents: int = 5  # backtracking latents to list

    def __post_init__(self) -> None:  # TrainConfig checks dict_size/k/steps when the SAEs are trained
        super().__post_init__()
        if self.n_texts < 8 or self.ce_texts < 1 or self.top_latents < 1:
            raise UsageError(f"need n_texts >= 8, ce_texts >= 1, top_latents >= 1; got {self.n_texts}, "
                             f"{self.ce_texts}, {self.top_latents}")


PRESETS = {
    "smoke": Config(n_texts=80, dict_size=256, k=8, steps=200, ce_texts=8, top_latents=3),
    "cpu": Config(n_texts=800, steps=2000),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Llama-8B", n_texts=128, ce_texts=16),
}

# %% [markdown]
# ## Data: A (backtracking) and B (the control)

# %%
def organism_texts(cfg: Config) -> dict[str, list[str]]:
    """Traces the organism was trained to write: with backtracking vs hinted (straight down the solution)."""
    from starter.organism.data import make_traces

    traces = make_traces(4 * cfg.n_texts, seed=cfg.seed, split="test", hinted_fraction=0.5)
    back = [t.text for t in traces if t.backtracks > 0][: cfg.n_texts]
    straight = [t.text for t in traces if t.hint is not None][: cfg.n_texts]
    return {"backtracking": back, "straight": straight}


def model_texts(ctx: Context) -> dict[str, list[str]]:
    """The model's own reasoning on word/arithmetic problems vs paragraphs of Python's reference docs."""
    import pydoc_data.topics

    from starter.tasks import arithmetic, word_problems

    cfg = ctx.cfg
    problems = (word_problems.make() + arithmetic.make(cfg.n_texts, seed=cfg.seed, difficulty=4))[: cfg.n_texts]
    prompts = [ctx.model.prompt(question=p.question) for p in problems]
    runs = sample(ctx.model, prompts, n=1, cfg=SamplingConfig(max_new_tokens=cfg.max_new_tokens, seed=cfg.seed))
    paragraphs = [p.strip() for doc in pydoc_data.topics.topics.values() for p in doc.split("\n\n")]
    prose = [p for p in paragraphs if 300 < len(p) < 2000 and "::=" not in p and not p.startswith(" ")]
    random.Random(cfg.seed).shuffle(prose)
    return {"reasoning": [pr + out.text for pr, (out,) in zip(prompts, runs)], "prose": prose[: cfg.n_texts]}


# %% [markdown]
# ## SAEs: trained here (organism, SmolLM2, ...) or pretrained (Llama Scope on R1-Distill-Llama-8B)

# %%
def pretrained_saes(ctx: Context, layer: int, train_acts) -> tuple[dict, dict]:
    """Llama Scope R1-distill SAEs at `layer` + the base-model SAE, before and after finetuning on A."""
    spec, device = ctx.model.spec, str(ctx.model.device)
    ids = [(i, src) for i, src in zip(spec.sae_ids, spec.neuronpedia_sources) if i.startswith(f"l{layer}r_")]
    if not ids:
        raise UsageError(f"{spec.name} has no {spec.sae_release} SAE at layer {layer}; ids: {', '.join(spec.sae_ids)}")
    saes = {f"r1-{i}": load_pretrained(spec.sae_release, i, device) for i, _ in ids}
    saes["base"] = load_pretrained(*ctx.cfg.base_sae, device)
    saes["base+finetune"] = finetune(copy.deepcopy(saes["base"]), train_acts, steps=ctx.cfg.finetune_steps)
    return saes, {f"r1-{ids[0][0]}": ids[0][1]}  # the SAE whose latents we look up on Neuronpedia


def explain(ctx: Context, source: str | None, latent: int) -> str:
    """Neuronpedia's explanation of a latent, or why there is none (never silently empty)."""
    from starter.neuronpedia import NeuronpediaClient

    if source is None:
        return "trained here: no Neuronpedia page"
    try:
        feature = NeuronpediaClient(offline=ctx.cfg.offline or None).feature(
            ctx.model.spec.neuronpedia_model_id, source, latent)
    except StarterError as err:  # offline without a fixture, or not on Neuronpedia: say so in the row
        return f"unavailable: {err}"
    return feature.explanations[0].description if feature.explanations else "no explanation on Neuronpedia"


# %% [markdown]
# ## Experiment (cross-evaluation) and control (the SAE trained on, or meant for, the other distribution)

# %%
def run(ctx: Context) -> None:
    cfg, model = ctx.cfg, ctx.model
    layer = cfg.layer if cfg.layer is not None else model.spec.layers_of_interest[-1]
    texts = organism_texts(cfg) if model.spec.prompt_format == "organism" else model_texts(ctx)
    split = {name: (ts[len(ts) // 4 :], ts[: len(ts) // 4]) for name, ts in texts.items()}  # (train, eval)
    acts = {(name, part): collect(model, s[i], layer) for name, s in split.items() for i, part in enumerate(("train", "eval"))}
    a = next(iter(texts))  # the backtracking distribution
    if model.spec.sae_release:
        saes, sources = pretrained_saes(ctx, layer, acts[a, "train"].acts)
    else:
        train = TrainConfig(dict_size=cfg.dict_size, k=cfg.k, steps=cfg.steps, seed=cfg.seed)
        saes = {f"sae-{name}": train_sae(acts[name, "train"].acts, train, device=str(model.device)) for name in texts}
        sources = {f"sae-{a}": None}
    for sae_name, sae in saes.items():
        for name in texts:
            got, back = acts[name, "eval"], acts[name, "eval"].mask(BACKTRACK_WORDS)
            row = {"unit": f"eval:{sae_name}:{name}", "phase": "eval", "sae": sae_name, "data": name,
                   "layer": layer, **reconstruction(sae, got.acts),
                   "fve_backtrack": reconstruction(sae, got.acts, back)["fve"] if back.any() else None,
                   **spliced_ce(model, sae, layer, split[name][1][: cfg.ce_texts])}
            if not ctx.store.done(row["unit"]):
                ctx.store.append(row)
    for sae_name, source in sources.items():  # the latents most specific to backtracking tokens in A
        got, ids = acts[a, "eval"], [encode_one(model, t) for t in split[a][1]]
        for rank, lat in enumerate(latent_contrast(saes[sae_name], got.acts, got.mask(BACKTRACK_WORDS), top=cfg.top_latents)):
            examples = [(got.context(ids, r, model.tokenizer), v)
                        for r, v in top_examples(saes[sae_name], got.acts, lat["latent"])]
            row = {"unit": f"latent:{sae_name}:{rank}", "phase": "latent", "sae": sae_name, "rank": rank, **lat,
                   "explanation": explain(ctx, source, lat["latent"]), "top_examples": examples}
            if not ctx.store.done(row["unit"]):
                ctx.store.append(row)


# %% [markdown]
# ## Result

# %%
def analyse(rows: list[dict]) -> dict:
    m: dict = {}
    for r in (r for r in rows if r["phase"] == "eval"):
        m.update({f"{r['sae']}_on_{r['data']}_{key}": float(r[key]) for key in
                  ("fve", "fve_backtrack", "l0", "ce_increase", "ce_recovered") if r[key] is not None})
    for r in (r for r in rows if r["phase"] == "latent"):
        pre = f"{r['sae']}_latent{r['rank']}"
        m[f"{pre}_index"], m[f"{pre}_fire_on_backtrack"], m[f"{pre}_fire_elsewhere"] = (
            r["latent"], r["fire_rate_on"], r["fire_rate_off"])
    return m


def _grid(m: dict) -> tuple[list[str], list[str]]:  # (SAE names, text names), read back from metric names
    cells = [k[: -len("_fve")].split("_on_") for k in m if "_on_" in k and k.endswith("_fve")]
    return list(dict.fromkeys(s for s, _ in cells)), list(dict.fromkeys(d for _, d in cells))


def plot(rows: list[dict], metrics: dict):
    import matplotlib.pyplot as plt

    saes, datas = _grid(metrics)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    width = 0.8 / max(1, len(saes))
    for k, sae in enumerate(saes):
        xs = np.arange(len(datas) + 1) + (k - (len(saes) - 1) / 2) * width
        ys = [metrics.get(f"{sae}_on_{d}_fve", np.nan) for d in datas]
        ys.append(metrics.get(f"{sae}_on_{datas[0]}_fve_backtrack", np.nan))
        left.bar(xs, np.nan_to_num(ys), width, label=sae)
    left.set(xticks=range(len(datas) + 1), xticklabels=datas + [f"{datas[0]}:\nbacktrack tokens"],
             ylabel="fraction of variance explained", title="SAE reconstruction, held-out text")
    left.legend(fontsize=7)
    lines = [line for r in rows if r["phase"] == "latent" for line in  # token contexts do not fit a bar chart
             [f"{r['sae']} #{r['latent']}: {r['fire_rate_on']:.0%} of backtrack tokens, {r['fire_rate_off']:.0%} "
              f"elsewhere. {r['explanation'][:60]}"] + [f"  {c[-60:]!r} ({v:.2f})" for c, v in r["top_examples"][:3]]]
    right.text(0, 1, "\n".join(lines) or "no latent rows", va="top", family="monospace", fontsize=6.5)
    right.set_title("Latents most specific to backtracking tokens: top contexts, [[token]]")
    right.axis("off")
    fig.tight_layout()
    return fig


def findings(m: dict) -> str:
    saes, datas = _grid(m)
    cols = [f"{d}_fve" for d in datas] + [f"{datas[0]}_fve_backtrack"] + [f"{d}_ce_increase" for d in datas]
    lines = ["| SAE | " + " | ".join(c.replace("_", " ") for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {s} | " + " | ".join(f"{m.get(f'{s}_on_{c}', np.nan):.3f}" for c in cols) + " |" for s in saes]
    own = [(s, d) for s in saes for d in datas if s == f"sae-{d}"]  # trained path: in- vs cross-distribution
    if own:
        lines += ["", "Control: each distribution's own SAE vs the SAE trained on the other one. " + "; ".join(
            f"On {d}: {s} explains {m[f'{s}_on_{d}_fve']:.3f}, " + ", ".join(
                f"{o} {m[f'{o}_on_{d}_fve']:.3f}" for o in saes if o != s) for s, d in own) + "."]
    lines += ["", "Most backtracking-specific latents: " + "; ".join(
        f"{k.split('_latent')[0]} #{m[k]} fires on {m[k[:-6] + '_fire_on_backtrack']:.0%} of backtracking tokens, "
        f"{m[k[:-6] + '_fire_elsewhere']:.0%} elsewhere" for k in m if k.endswith("_index")) + " (top-activating "
        "contexts in the figure and results.jsonl). An organism result is a hypothesis about R1-distill: "
        "`--preset gpu` makes the same measurements with the Llama Scope SAEs."]
    return "\n".join(lines)


STARTER = Starter(
    slug="sae",
    presets=PRESETS,
    run=run,
    analyse=analyse,
    plot=plot,
    findings=findings,
    concepts=("wait", "backtracking", "uncertainty"),  # searches with shipped offline fixtures
    try_next=("Steer with the top backtracking latent's decoder direction (steering starter); count 'Wait's.",
              "Train on more layers: where do backtracking latents first appear?",
              "On R1-distill, compare the base SAE's latents before and after finetuning: which ones moved?",
              "Does a backtracking latent fire *before* the 'Wait' token (a plan) or only on it (a word)?"),
)

if __name__ == "__main__":
    run_starter(STARTER)
