# %% [markdown]
# # Does a diffing method find what fine-tuning changed?
#
# Question: if we have both the original and the fine-tuned model, can we take the "diff" between
# the two and read from it what fine-tuning changed? Here we test a diffing method where we KNOW
# what changed: TinyThinker variants are the base plus a low-rank adapter trained on traces with
# one planted rule (starter/organism/variants.py).
#
# Method: both models read the SAME token ids (the base's own greedy traces on held-out problems,
# plus the tuned model's own); at one middle layer we keep the residual difference
# d_t = resid_tuned - resid_base at every token, and the per-token KL(tuned || base) of the two
# next-token distributions. Three ways to ask "where did it change?":
# (a) a diff-SAE: a BatchTopK SAE (starter/saes.py) trained on the differences d_t of training
#     problems, in the spirit of "Sparse Crosscoders for Cross-Layer Features and Model Diffing"
#     (Lindsey et al. 2024) and of SAEs on activation differences ("Narrow Finetuning Leaves
#     Clearly Readable Traces in Activation Differences", Minder et al. 2025, arXiv 2510.13900).
#     Its latents with the most activation mass on training tokens (chosen without any label) are
#     "what changed"; we score where their mass falls on held-out problems;
# (b) baselines: |d_t . u| on the mean difference direction u, the norm |d_t|, and the KL.
# Each measure is read relative to its own mean over the text (1 = a typical token).
#
# Planted truth: `tinythinker-planned` backtracks at once at a "Left: a, b." state that is a dead
# end (no final try reaches the target); the base only backtracks after its tries miss. So the
# change lives at the "." closing a dead-end "Left:" state.
# Controls: (1) token identity: the same "." closing a live "Left:" state (same token, same step
# type, same texts); (2) the no-change pair: base vs `tinythinker-retrained`, the same adapter
# training on the base's own traces (nothing planted). Whatever that pair "finds" is the method's
# false-positive rate; the claim is planted pair minus control pair, paired by problem, on the same
# texts (the base's own traces).
#
# - `smoke` / `cpu`: TinyThinker base vs `tinythinker-planned`, control `tinythinker-retrained`.
# - `gpu`: Qwen/Qwen2.5-Math-1.5B (base) vs deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B on the R1's
#   own traces (the base reads the R1 tokenizer's ids: the two share Qwen2.5's vocabulary). No
#   planted truth there: the sites are backtracking words ("Wait", "Hmm") against other
#   sentence-initial words, which differ in token identity; read it as a description.
#
# **Primary claim, declared before the run** (`PRIMARY` below): the diff-SAE separates target
# from control sites (AUROC, planted pair, clusters = problems) better than the strongest rung of
# its ladder: the per-token KL, the residual-difference norm, and a one-line position rule
# ("the earlier the site, the likelier a dead end": score = -token position). Secondary,
# Holm-adjusted: the diff-SAE against the other rungs, the planted-minus-no-change contrast of each
# measure (the earlier primary, `sae-planted-vs-nochange`: a review found it measured against KL on
# an incommensurable scale and mostly explained by position, so it was demoted; see the summary's
# "Read first"), and the within-pair checks.
#
# Run: `mi-starter run model-diffing --preset smoke` (about a minute). Outputs: results.jsonl (rows
# of kind "chain", "text", "site", "diff_latent"), figure.png, summary.md, findings.json.

# %%
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from starter import stats
from starter.activations import resid_name
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.rollouts import sample
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`); every other claim is secondary.
PRIMARY = "sae-auroc-vs-strongest"
OLD_PRIMARY = "sae-planted-vs-nochange"  # the primary before the review (now a secondary claim)
MEASURES = ("sae", "proj", "kl", "norm")  # the per-token diff measures, method first
# the AUROC ladder the diff-SAE's site AUROC is claimed against, the expected strongest first
AUROC_BASELINES = ("kl", "norm", "position")
RUNG_NAMES = {"kl": "KL(tuned || base) of the next token (kl)",
              "norm": "|residual difference| (norm)",
              "position": "one-line position rule: the earlier the site, the likelier a target "
                          "(score = -token position)"}
MEASURE_NAMES = {
    "sae": "diff-SAE top latents' activation mass",
    "proj": "|difference . mean difference direction|",
    "kl": "KL(tuned || base) of the next token",
    "norm": "|residual difference|",
}
BACKTRACK_WORDS = ("wait", "hmm")  # R1 texts: the target words (any case)
# The target site and its same-token (organism) or same-position-type (R1) control.
SITES = {"organism": ("dead", "alive"), "r1": ("wait", "start")}
SITE_NAMES = {"dead": "the '.' closing a dead-end 'Left:' state",
              "alive": "the same '.' closing a live 'Left:' state",
              "wait": "a backtracking word ('Wait', 'Hmm')",
              "start": "another sentence-initial word"}
PAIRS = ("tuned", "control")  # base vs cfg.model (planted), base vs cfg.control (nothing planted)

# %% [markdown]
# ## Setup

# %%
@dataclass
class Config(StarterConfig):
    model: str = "tinythinker-planned"  # the fine-tuned model (registry name, HF id or folder)
    base: str = "tinythinker"  # the model before fine-tuning
    # random-init bases only: the seed of the base's random weights instead of the registry's
    # (the tests diff two random models of one shape); None: the registry's seed
    base_init_seed: int | None = None
    # the no-change pair base vs `control` (same fine-tuning, nothing planted): the method's
    # false-positive rate; None: skip it
    control: str | None = "tinythinker-retrained"
    n_problems: int = 200  # held-out problems; odd-numbered train the diff-SAE, even are scored
    layer: int | None = None  # residual layer; None: the middle block, n_layers // 2
    dict_size: int = 512  # diff-SAE latents
    k: int = 8  # diff-SAE active latents per token (BatchTopK)
    steps: int = 1000  # diff-SAE optimiser steps
    top_latents: int = 8  # latents with the most mass on training diffs: "what changed"
    top_contexts: int = 5  # held-out top contexts kept per top latent
    base_texts: bool = True  # also score the base's own traces (R1: the base is no chat model)
    temperature: float = 0.0  # sampling; 0: greedy (the organism's most likely trace)
    # tokens per generated chain: organism chains end within 220 (variant_eval); R1-distill chains
    # on these arithmetic problems run 500-4000 tokens, so the gpu preset allows 4096
    max_new_tokens: int = 220
    batch_size: int = 64  # prompts per generate call
    forward_batch: int = 16  # texts per forward pass of the two models (logits are vocab-wide)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < 8:
            raise UsageError(f"n_problems={self.n_problems}: need at least 8 (half train the SAE)")
        if not 0 < self.top_latents <= self.dict_size:
            raise UsageError(f"top_latents={self.top_latents}: choose 1..dict_size "
                             f"({self.dict_size})")
        if self.top_contexts < 1 or self.forward_batch < 1 or self.batch_size < 1:
            raise UsageError(f"top_contexts={self.top_contexts}, forward_batch="
                             f"{self.forward_batch}, batch_size={self.batch_size}: each must be "
                             ">= 1")


PRESETS = {
    # 24 problems, a 128-latent diff-SAE: about a minute on 2 cores.
    "smoke": Config(n_problems=24, dict_size=128, k=4, steps=100, top_latents=4, top_contexts=3),
    # 200 problems (100 scored), two 512-latent diff-SAEs: a few minutes on 2 busy cores.
    "cpu": Config(n_problems=200),
    # R1 chains: 4096 tokens (see max_new_tokens); 2 texts per forward pass keeps two 1.5B models'
    # vocab-wide log-probabilities (2 x 4096 x 151936 floats each) well inside one 80 GB GPU.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", base="Qwen/Qwen2.5-Math-1.5B",
                  control=None, base_texts=False, n_problems=64, dict_size=4096, k=32,
                  steps=2000, temperature=0.6, max_new_tokens=4096, batch_size=32,
                  forward_batch=2),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
# base: a second random-init tiny model (seed 1) in place of Qwen2.5-Math-1.5B
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=8, max_new_tokens=24, dict_size=32, k=4, steps=20,
                                      top_latents=2, top_contexts=2, forward_batch=4,
                                      base="r1-shaped-tiny", base_init_seed=1)

# %% [markdown]
# ## Sample: the texts both models read

# %%
@dataclass(frozen=True)
class Problem:
    """A held-out problem: its prompt (the tuned model's format) and, on the organism, target."""

    id: str  # the cluster of every statistic
    prompt: str  # full model prompt
    target: int | None  # countdown target (organism); None on R1 problems
    train: bool  # True: its texts train the diff-SAE and the mean direction, never scored


def make_problems(cfg: Config, model) -> list[Problem]:
    if model.spec.prompt_format == "organism":
        from starter.tasks.countdown import raw_prompt, sample_searches

        found = sample_searches(cfg.n_problems, cfg.seed, "test")
        return [Problem(f"p{i}", model.prompt(raw_prompt=raw_prompt(r.numbers, r.target)),
                        r.target, i % 2 == 1) for i, r in enumerate(found)]
    from starter.tasks import arithmetic

    found = arithmetic.make(cfg.n_problems, seed=cfg.seed, difficulty=4)
    return [Problem(f"p{i}", model.prompt(question=p.question), None, i % 2 == 1)
            for i, p in enumerate(found)]


def sample_chains(ctx: Context, writer: str, model, problems: list[Problem]) -> dict[str, str]:
    """`writer`'s own chain per problem (rows of kind "chain"; resumed runs read them back)."""
    from starter import grading

    cfg = ctx.cfg
    units = [f"chain:{writer}:{p.id}" for p in problems]
    if ctx.store.pending(units):
        sampling = cfg.sampling(top_p=1.0 if cfg.temperature == 0 else 0.95)
        runs = sample(model, [p.prompt for p in problems], n=1, cfg=sampling)
        for p, unit, (out,) in zip(problems, units, runs):
            if not ctx.store.done(unit):
                ctx.store.append({"unit": unit, "kind": "chain", "writer": writer,
                                  "model": model.spec.name, "problem": p.id, "train": p.train,
                                  "prompt": p.prompt, "completion": out.text,
                                  "finished": grading.finished(out.text),
                                  "n_new_tokens": out.n_new_tokens})
    mine = {r["problem"]: r["completion"] for r in ctx.store.rows()
            if r.get("kind") == "chain" and r["writer"] == writer}
    return {p.id: mine[p.id] for p in problems}


def load_base(cfg: Config, device: str):
    """The base model; a random-init base may take another seed (two random models, one shape)."""
    from starter.models import get_spec, load_spec

    spec = get_spec(cfg.base)
    if cfg.base_init_seed is not None:
        if spec.source != "random-init":
            raise UsageError(f"base_init_seed={cfg.base_init_seed} only applies to a random-init "
                             f"base; {cfg.base} is {spec.source}: leave it at none")
        spec = dataclasses.replace(spec, init_seed=cfg.base_init_seed)
    return load_spec(spec, device=device)


# %% [markdown]
# ## Sites: where the change was planted, and its same-token control

# %%
@dataclass(frozen=True)
class Site:
    """A token whose role we know, by its position in the text."""

    position: int  # token index (as the tuned model's tokenizer numbers the text)
    context: str  # "dead" | "alive" (organism) or "wait" | "start" (R1)


_LEFT = re.compile(r"Left: (\d+), (\d+)\.")
_WORD = re.compile(r"(?:(?<=[.!?] )|(?<=\n))([A-Z][a-z]+)")  # a sentence-initial word


def encode(model, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of `text` (as `activations.encode_one`) and each token's character span."""
    enc = model.tokenizer(text, add_special_tokens=model.add_special_tokens,
                          return_offsets_mapping=True)
    return enc["input_ids"], [tuple(span) for span in enc["offset_mapping"]]


def token_at(offsets: list[tuple[int, int]], char: int) -> int | None:
    """The index of the token whose span holds character `char` (None: a special token's gap).

    >>> token_at([(0, 0), (0, 4), (4, 5), (5, 9)], 4)
    2
    """
    return next((i for i, (lo, hi) in enumerate(offsets) if lo <= char < hi), None)


def char_sites(text: str, start: int, target: int | None) -> list[tuple[int, str]]:
    """(character, context) of every site in text[start:]: the "." closing "Left: a, b." labelled
    dead or alive (organism, `target` given), else backtracking words and sentence-initial words.

    >>> char_sites("T. Left: 152, 4. Try 152+4=156. Left: 27, 4.", 0, 31)  # 27+4 = 31
    [(15, 'dead'), (43, 'alive')]
    >>> char_sites("So 2. Wait, no. Then 3.", 0, None)
    [(6, 'wait'), (16, 'start')]
    """
    from starter.tasks.countdown import final_tries

    if target is not None:
        found = []
        for m in _LEFT.finditer(text, start):
            value, rest = int(m.group(1)), int(m.group(2))
            dead = not any(v == target for _, v in final_tries(value, rest, target))
            found.append((m.end() - 1, "dead" if dead else "alive"))
        return found
    return [(m.start(1), "wait" if m.group(1).lower() in BACKTRACK_WORDS else "start")
            for m in _WORD.finditer(text, start)]


def label_sites(offsets: list[tuple[int, int]], text: str, start: int,
                target: int | None) -> list[Site]:
    """The sites of a text as token positions (never position 0: the BOS is left out)."""
    found = []
    for char, context in char_sites(text, start, target):
        position = token_at(offsets, char)
        if position is not None and position > 0:
            found.append(Site(position, context))
    return found


# %% [markdown]
# ## The diff: both models on the same token ids

# %%
@dataclass
class TextDiff:
    """One text read by both models: per token (positions 1.., the BOS left out)."""

    problem: str  # problem id
    texts: str  # "base" (the base's own trace) | "own" (the tuned model's own trace)
    train: bool  # its problem trains the diff-SAE and the mean direction (never scored)
    ids: list[int]  # token ids, BOS included
    sites: list[Site]  # where the change was planted, and its control
    diff: Any = None  # [n - 1, d_model] resid_tuned - resid_base, float32, CPU
    kl: Any = None  # [n - 1] KL(tuned || base) of the next token after each position


def read_both(tuned, base, texts: list[list[int]], layer: int, batch: int) -> tuple[list, list]:
    """(diffs, kls) per text of token ids: [n_i - 1, d_model] and [n_i - 1] (the BOS left out);
    both models read the same ids, in right-padded batches (padding on the right cannot change a
    real token's activation in a causal model)."""
    import torch

    name = resid_name(layer)
    diffs, kls = [], []
    for lo in range(0, len(texts), batch):
        ids = texts[lo: lo + batch]
        width = max(map(len, ids))
        tokens = torch.zeros(len(ids), width, dtype=torch.long)  # [batch, pos]
        mask = torch.zeros_like(tokens)
        for i, seq in enumerate(ids):
            tokens[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        out = {}
        for side, model in (("tuned", tuned), ("base", base)):
            with torch.no_grad():
                logits, cache = model.bridge.run_with_cache(
                    tokens.to(model.device), attention_mask=mask.to(model.device),
                    names_filter=[name])
            out[side] = (torch.log_softmax(logits.float(), dim=-1),  # [batch, pos, vocab]
                         cache[name].float())  # [batch, pos, d_model]
        (lt, rt), (lb, rb) = out["tuned"], out["base"]
        if lt.shape[-1] != lb.shape[-1]:
            raise UsageError(f"the tuned model has {lt.shape[-1]} output tokens and the base "
                             f"{lb.shape[-1]}: diffing needs one vocabulary")
        lb, rb = lb.to(lt.device), rb.to(rt.device)
        kl = (lt.exp() * (lt - lb)).sum(-1)  # [batch, pos]
        diff = rt - rb  # [batch, pos, d_model]
        for i, seq in enumerate(ids):
            diffs.append(diff[i, 1: len(seq)].cpu())
            kls.append(kl[i, 1: len(seq)].cpu())
    return diffs, kls


# %% [markdown]
# ## Run: per pair, a diff-SAE on training problems; every measure at every held-out site

# %%
def top_latents(sae, train_diffs, top: int) -> tuple[list[int], float]:
    """The `top` latents with the most activation mass on the training diffs, and their share of
    all latents' mass: chosen without any label, the method's answer to "what changed?"."""
    import torch

    param = next(sae.parameters())
    mass = None
    with torch.no_grad():
        for lo in range(0, len(train_diffs), 1024):
            codes = sae.encode(train_diffs[lo: lo + 1024].to(param.device, param.dtype))
            part = codes.float().sum(0).cpu()  # [d_sae]
            mass = part if mass is None else mass + part
    mass = mass.numpy()
    order = np.argsort(-mass)[:top]
    return [int(i) for i in order], float(mass[order].sum() / max(mass.sum(), 1e-12))


def codes_of(sae, x, latents: list[int]):
    """[n, len(latents)] activations of `latents` on rows `x` [n, d_model] (CPU)."""
    import torch

    param = next(sae.parameters())
    with torch.no_grad():
        parts = [sae.encode(x[lo: lo + 1024].to(param.device, param.dtype))[:, latents]
                 for lo in range(0, len(x), 1024)]
    return torch.cat(parts).float().cpu() if parts else torch.zeros(0, len(latents))


def measures_of(item: TextDiff, sae, latents: list[int], direction,
                mean) -> dict[str, np.ndarray]:
    """Per token (positions 1..) each measure of the diff (see MEASURE_NAMES); the diff-SAE reads
    the diff about its training `mean`, as it was trained."""
    return {"sae": codes_of(sae, item.diff - mean, latents).sum(-1).numpy(),
            "proj": (item.diff @ direction).abs().numpy(),
            "kl": item.kl.clamp(min=0).numpy(),
            "norm": item.diff.norm(dim=-1).numpy()}


def context_of(tokenizer, ids: list[int], position: int) -> str:
    """Twelve tokens before `position`, its token in [[ ]], two after."""
    return (tokenizer.decode(ids[max(0, position - 12): position]) + "[["
            + tokenizer.decode(ids[position: position + 1]) + "]]"
            + tokenizer.decode(ids[position + 1: position + 3]))


def diff_pair(ctx: Context, pair: str, model, items: list[TextDiff]) -> None:
    """Train the pair's diff-SAE and mean direction on training problems; write the rows of the
    held-out ones (kind "text" and "site") and the top latents (kind "diff_latent")."""
    import torch

    from starter.saes import TrainConfig, train_sae

    cfg = ctx.cfg
    train = torch.cat([it.diff for it in items if it.train])  # [n_train_tokens, d_model]
    if not bool(train.abs().max() > 0):
        raise UsageError(f"{model.spec.name} and base {cfg.base} give identical activations: "
                         "diff a fine-tuned model against its base (--model / --set base=)")
    mean = train.mean(0)  # [d_model]: the mean difference, baseline (b)'s direction
    direction = mean / mean.norm().clamp(min=1e-12)
    # The diff-SAE reads the differences about their training mean: the shared offset of a
    # fine-tune (every token moves a little) is the baseline's; the SAE looks for what varies.
    centred = train - mean
    sae = train_sae(centred, TrainConfig(dict_size=cfg.dict_size, k=cfg.k, steps=cfg.steps,
                                         batch_size=min(256, len(train)), seed=cfg.seed),
                    device=str(model.device))
    latents, share = top_latents(sae, centred, cfg.top_latents)
    held = [it for it in items if not it.train]
    rows = []
    for it in held:
        per = measures_of(it, sae, latents, direction, mean)
        means = {m: float(v.mean()) for m, v in per.items()}
        rows.append({"unit": f"text:{pair}:{it.texts}:{it.problem}", "kind": "text",
                     "pair": pair, "texts": it.texts, "problem": it.problem,
                     "n_tokens": len(it.kl), **{f"mean_{m}": means[m] for m in MEASURES}})
        for s in it.sites:
            values = {m: float(per[m][s.position - 1]) for m in MEASURES}
            rows.append({"unit": f"site:{pair}:{it.texts}:{it.problem}:{s.position}",
                         "kind": "site", "pair": pair, "texts": it.texts, "problem": it.problem,
                         "position": s.position, "context": s.context,
                         **{m: values[m] for m in MEASURES},
                         **{f"rel_{m}": values[m] / means[m] if means[m] > 0 else None
                            for m in MEASURES}})
    site_at = {(it.problem, it.texts, s.position): s.context for it in held for s in it.sites}
    where = [(it, p) for it in held for p in range(1, len(it.ids))]
    codes = codes_of(sae, torch.cat([it.diff for it in held]) - mean, latents)  # [n, top]
    for rank, latent in enumerate(latents):
        best = torch.topk(codes[:, rank], min(cfg.top_contexts, len(codes)))
        top = [{"context": context_of(model.tokenizer, where[r][0].ids, where[r][1]),
                "site": site_at.get((where[r][0].problem, where[r][0].texts, where[r][1]),
                                    "other"), "activation": float(v)}
               for r, v in zip(best.indices.tolist(), best.values.tolist()) if v > 0]
        rows.append({"unit": f"diff_latent:{pair}:{rank}", "kind": "diff_latent", "pair": pair,
                     "rank": rank, "latent": latent, "top_share": share, "top": top})
    for row in rows:
        if not ctx.store.done(row["unit"]):
            ctx.store.append(row)


def run(ctx: Context) -> None:
    cfg, tuned = ctx.cfg, ctx.model
    device = str(tuned.device)
    from starter.models import load_model

    base = load_base(cfg, device)
    control = load_model(cfg.control, device=device) if cfg.control else None
    layer = cfg.layer if cfg.layer is not None else tuned.n_layers // 2
    if not 0 <= layer < min(tuned.n_layers, base.n_layers):
        raise UsageError(f"layer={layer}: choose 0..{min(tuned.n_layers, base.n_layers) - 1}")
    problems = make_problems(cfg, tuned)
    targets = {p.id: p.target for p in problems}
    prompts = {p.id: p.prompt for p in problems}
    writers = {"tuned": tuned, "control": control, "base": base if cfg.base_texts else None}
    chains = {w: sample_chains(ctx, w, m, problems) for w, m in writers.items() if m is not None}
    for pair, model in (("tuned", tuned), ("control", control)):
        if model is None:
            continue
        sources = [("base", "base")] * cfg.base_texts + [("own", pair)]
        items = []
        for texts, writer in sources:
            for p in problems:
                text = prompts[p.id] + chains[writer][p.id]
                ids, offsets = encode(model, text)
                sites = label_sites(offsets, text, len(prompts[p.id]), targets[p.id])
                items.append(TextDiff(p.id, texts, p.train, ids, sites))
        held = [it for it in items if not it.train]
        units = [f"text:{pair}:{it.texts}:{it.problem}" for it in held]
        units += [f"site:{pair}:{it.texts}:{it.problem}:{s.position}" for it in held
                  for s in it.sites]
        units += [f"diff_latent:{pair}:{r}" for r in range(cfg.top_latents)]
        if not ctx.store.pending(units):  # this pair is done (a resumed run)
            continue
        diffs, kls = read_both(model, base, [it.ids for it in items], layer, cfg.forward_batch)
        for it, d, kl in zip(items, diffs, kls):
            it.diff, it.kl = d, kl
        diff_pair(ctx, pair, model, items)

# %% [markdown]
# ## Analyse: each measure at the planted site against its same-token control, per pair

# %%
@dataclass
class SiteStats:
    """One measure (relative to its text's mean: 1 = a typical token) at the two kinds of site."""

    target: stats.Estimate  # at the target sites (dead-end "Left:" '.', or backtracking words)
    control: stats.Estimate  # at the control sites (live "Left:" '.', other sentence starts)
    difference: stats.Estimate  # target - control, paired over problems that have both
    contrast: stats.Estimate  # per problem: mean at its targets - mean at its controls


def _paired(sites: list[dict], measure: str, target: str,
            control: str) -> tuple[tuple[list, list], tuple[list, list]]:
    """(values, problems) at target and at control sites, in problems that have both."""
    key = f"rel_{measure}"
    mine = [s for s in sites if s.get(key) is not None]
    kinds: dict[str, set[str]] = {}
    for s in mine:
        kinds.setdefault(s["problem"], set()).add(s["context"])
    both = {p for p, seen in kinds.items() if {target, control} <= seen}

    def pick(context: str) -> tuple[list[float], list[str]]:
        chosen = [s for s in mine if s["context"] == context and s["problem"] in both]
        return [s[key] for s in chosen], [s["problem"] for s in chosen]

    return pick(target), pick(control)


def contrasts(sites: list[dict], measure: str, target: str, control: str) -> dict[str, float]:
    """Per problem (with both kinds of site): mean `measure` at targets - mean at controls.

    >>> rows = [{"problem": "a", "context": "dead", "rel_kl": 3.0},
    ...         {"problem": "a", "context": "alive", "rel_kl": 1.0},
    ...         {"problem": "b", "context": "dead", "rel_kl": 2.0}]
    >>> contrasts(rows, "kl", "dead", "alive")  # b has no live state: left out
    {'a': 2.0}
    """
    (on, on_at), (off, off_at) = _paired(sites, measure, target, control)
    per = {}
    for problem in sorted(set(on_at), key=str):
        a = [v for v, p in zip(on, on_at) if p == problem]
        b = [v for v, p in zip(off, off_at) if p == problem]
        per[problem] = float(np.mean(a) - np.mean(b))
    return per


def site_stats(sites: list[dict], measure: str, target: str, control: str) -> SiteStats:
    """`measure` at `target` vs `control` sites, only in problems that have both (paired)."""
    on, off = _paired(sites, measure, target, control)
    per = contrasts(sites, measure, target, control)
    return SiteStats(target=stats.mean_ci(*on), control=stats.mean_ci(*off),
                     difference=stats.difference_ci(*on, *off),
                     contrast=stats.mean_ci(list(per.values()), list(per)))


def between(tuned: dict[str, float], control: dict[str, float]) -> stats.Estimate:
    """Planted pair's per-problem contrast minus the no-change pair's, paired by problem."""
    shared = sorted(set(tuned) & set(control), key=str)
    return stats.difference_ci([tuned[p] for p in shared], shared,
                               [control[p] for p in shared], shared)


SCORED = (*MEASURES, "position")  # what the site AUROCs score: each measure, the position rule


def site_aurocs(sites: list[dict], target: str,
                control: str) -> tuple[dict[str, stats.Estimate], dict[str, stats.Estimate]]:
    """Per measure (and the position rule, score = -token position), the AUROC of its relative
    value for target (1) vs control (0) sites, and the diff-SAE's AUROC minus each other's on the
    same sites (clusters = problems).

    >>> rows = [{"problem": p, "context": c, "position": n, **{f"rel_{m}": v for m in MEASURES}}
    ...         for p, c, n, v in (("a", "dead", 5, 3.0), ("a", "alive", 9, 1.0),
    ...                            ("b", "dead", 7, 2.0), ("b", "alive", 6, 2.0))]
    >>> auc, minus = site_aurocs(rows, "dead", "alive")
    >>> auc["sae"].value, minus["norm"].value  # 3 of 4 pairs right, 1 tie: (3 + 0.5) / 4
    (0.875, 0.0)
    >>> auc["position"].value  # earlier is dead: 5 < 9, 5 < 6, 7 < 9 right; 7 > 6 wrong
    0.75
    """
    mine = [s for s in sites if s["context"] in (target, control)
            and all(s.get(f"rel_{ms}") is not None for ms in MEASURES)]
    if not mine:
        empty = stats.Estimate(float("nan"), None, 0, 0)
        return ({ms: empty for ms in SCORED}, {ms: empty for ms in SCORED[1:]})
    labels = [float(s["context"] == target) for s in mine]
    where = [s["problem"] for s in mine]
    score = {ms: [s[f"rel_{ms}"] for s in mine] for ms in MEASURES}
    score["position"] = [-float(s["position"]) for s in mine]
    auc = {ms: stats.auroc_ci(score[ms], labels, where) for ms in SCORED}
    minus = {ms: stats.auroc_difference_ci(score["sae"], score[ms], labels, where)
             for ms in SCORED[1:]}
    return auc, minus


@dataclass(frozen=True)
class ChainCount:
    """The chains one writer model wrote."""

    n: int  # chains
    unfinished: int  # of them, no `</think>` and answer within the budget (still scored)
    model: str  # the writer's model name


@dataclass(frozen=True)
class DiffLatents:
    """One pair's diff-SAE: how its top latents' mass sits on the sites."""

    top_share: float  # the top latents' share of all latents' mass on training diffs
    n_latents: int  # top latents recorded
    at_target: int  # of their top held-out contexts, at target sites
    at_control: int  # at control sites
    shown: int  # top held-out contexts recorded
    examples: list[dict]  # up to 3: latent, its top context, its site


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields."""

    contexts: list[str]  # [target, control] site contexts
    pairs: list[str]  # model pairs diffed ("tuned", "control")
    sources: list[str]  # texts the diffs were read on ("base", "own")
    headline: str  # the texts the headline numbers use
    chains: dict[str, ChainCount]  # writer -> its chains
    sites: dict[str, dict[str, dict[str, SiteStats]]]  # pair -> texts -> measure -> at sites
    n_sites: dict[str, dict[str, dict[str, int]]]  # pair -> texts -> context -> sites
    between: dict[str, dict[str, stats.Estimate]]  # texts -> measure -> tuned minus control
    # measure (or "position", the one-line rule) -> AUROC target vs control sites (tuned pair)
    auroc: dict[str, stats.Estimate]
    auroc_minus: dict[str, stats.Estimate]  # measure or "position" -> diff-SAE's AUROC minus its
    n_held: int  # held-out problems with headline texts in the tuned pair
    n_paired: int  # of them, with both a target and a control site (the paired claims' n)
    size: dict[str, dict[str, stats.Estimate]]  # pair -> "norm"/"kl" -> mean per token
    latents: dict[str, DiffLatents]  # pair -> its diff-SAE's top latents


def analyse(rows: list[dict]) -> Metrics:
    chains = [r for r in rows if r.get("kind") == "chain"]
    texts_rows = [r for r in rows if r.get("kind") == "text"]
    sites = [r for r in rows if r.get("kind") == "site"]
    latents = [r for r in rows if r.get("kind") == "diff_latent"]
    organism = any(s["context"] in SITES["organism"] for s in sites)
    target, control = SITES["organism" if organism else "r1"]
    pairs = [p for p in PAIRS if any(r["pair"] == p for r in texts_rows)]
    sources = [t for t in ("base", "own") if any(r["texts"] == t for r in texts_rows)]
    headline = sources[0] if sources else "own"
    m: dict[str, Any] = {"contexts": [target, control], "pairs": pairs, "sources": sources,
                         "headline": headline}
    m["chains"] = {w: ChainCount(n=sum(r["writer"] == w for r in chains),
                                 unfinished=sum(r["writer"] == w and not r["finished"]
                                                for r in chains),
                                 model=next(r["model"] for r in chains if r["writer"] == w))
                   for w in dict.fromkeys(r["writer"] for r in chains)}
    def of(pair: str, t: str) -> list[dict]:
        return [s for s in sites if s["pair"] == pair and s["texts"] == t]

    m["sites"] = {pair: {t: {ms: site_stats(of(pair, t), ms, target, control)
                             for ms in MEASURES} for t in sources} for pair in pairs}
    m["n_sites"] = {pair: {t: {c: sum(s["pair"] == pair and s["texts"] == t and s["context"] == c
                                      for s in sites) for c in (target, control)}
                           for t in sources} for pair in pairs}
    m["between"] = {}
    if set(PAIRS) <= set(pairs):
        m["between"] = {t: {ms: between(contrasts(of("tuned", t), ms, target, control),
                                        contrasts(of("control", t), ms, target, control))
                            for ms in MEASURES} for t in sources}
    m["auroc"], m["auroc_minus"] = site_aurocs(of("tuned", headline), target, control)
    m["n_held"] = len({r["problem"] for r in texts_rows
                       if r["pair"] == "tuned" and r["texts"] == headline})
    m["n_paired"] = len(contrasts(of("tuned", headline), "sae", target, control))
    m["size"] = {}
    for pair in pairs:
        mine = [r for r in texts_rows if r["pair"] == pair and r["texts"] == headline]
        m["size"][pair] = {ms: stats.mean_ci([r[f"mean_{ms}"] for r in mine],
                                             [r["problem"] for r in mine]) for ms in ("norm", "kl")}
    m["latents"] = {}
    for pair in pairs:
        mine = sorted((r for r in latents if r["pair"] == pair), key=lambda r: r["rank"])
        m["latents"][pair] = DiffLatents(
            top_share=mine[0]["top_share"] if mine else float("nan"),
            n_latents=len(mine),
            at_target=sum(t["site"] == target for r in mine for t in r["top"]),
            at_control=sum(t["site"] == control for r in mine for t in r["top"]),
            shown=sum(len(r["top"]) for r in mine),
            examples=[{"latent": r["latent"], "context": r["top"][0]["context"],
                       "site": r["top"][0]["site"]} for r in mine[:3] if r["top"]])
    return Metrics(**m)


# %% [markdown]
# ## Figure

# %%
def plot(rows: list[dict], metrics: Metrics):
    import matplotlib.pyplot as plt

    m = metrics
    target, control = m.contexts
    head = m.headline
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    ax = axes[0]
    pairs = m.pairs
    width = 0.8 / max(1, 2 * len(pairs))
    bars = [(pair, ctx) for pair in pairs for ctx in (target, control)]
    for j, (pair, ctx) in enumerate(bars):
        ests = [getattr(m.sites[pair][head][ms], "target" if ctx == target else "control")
                for ms in MEASURES]
        xs = np.arange(len(MEASURES)) + (j - (len(bars) - 1) / 2) * width
        estimate_bars(ax, xs, ests, width, capsize=2, color=f"C{pairs.index(pair)}",
                      alpha=1.0 if ctx == target else 0.45, label=f"{pair} pair, {ctx}")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_yscale("symlog", linthresh=1.0)  # the KL peaks far above the activation measures
    ax.set_xticks(range(len(MEASURES)), MEASURES, fontsize=8)
    ax.set(ylabel="measure / its text mean (symlog)", xlabel="diff measure")
    ax.set_title(f"At the sites ({head} texts)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=2, frameon=False)
    ax = axes[1]
    for j, pair in enumerate(pairs):
        ests = [m.sites[pair][head][ms].contrast for ms in MEASURES]
        xs = np.arange(len(MEASURES)) + (j - (len(pairs) - 1) / 2) * 0.25
        estimate_points(ax, xs, ests, fmt="o", color=f"C{j}", label=f"{pair} pair")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xticks(range(len(MEASURES)), MEASURES, fontsize=8)
    ax.set(ylabel=f"{target} - {control}, per problem (symlog)", xlabel="diff measure")
    ax.set_title("Localisation: planted vs no-change pair", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims

# %%
def claims(m: Metrics) -> list[Claim]:
    target, control = m.contexts
    head = m.headline
    found = []
    writer = "base" if head == "base" else "tuned model"
    where = f"on the {writer}'s own traces, held-out problems"
    if m.between:
        between = m.between[head]
        # the earlier primary, now secondary: its control is the no-change pair (the measures'
        # contrasts are on incommensurable scales, so none is its "strongest baseline")
        for ms in MEASURES:
            tuned, ctrl = m.sites["tuned"][head][ms], m.sites["control"][head][ms]
            found.append(compare(
                f"The {MEASURE_NAMES[ms]} localises the planted change: relative to its text "
                f"mean, it is higher at {SITE_NAMES[target]} than at {SITE_NAMES[control]}, by "
                f"more in the planted pair (base vs tuned) than in the no-change pair (base vs "
                f"retrained), {where}.",
                f"{ms}: {target} - {control} per problem, planted pair", tuned.contrast,
                "the no-change pair on the same texts and sites",
                f"{ms}: {target} - {control} per problem, no-change pair", ctrl.contrast,
                between[ms], key=f"{ms}-planted-vs-nochange"))
    if m.between:
        within = [("tuned", "sae"), ("control", "sae")]
    else:
        within = [(pair, ms) for pair in m.pairs for ms in MEASURES]
    label = {"control": "no-change", "tuned": "planted" if target == "dead" else "fine-tuned"}
    for pair, ms in within:
        site = m.sites[pair][head][ms]
        lead = ("False-positive check (nothing was planted in this pair): "
                if pair == "control" else "")
        found.append(compare(
            f"{lead}In the {label[pair]} pair the "
            f"{MEASURE_NAMES[ms]} is higher at {SITE_NAMES[target]} than at "
            f"{SITE_NAMES[control]} (same texts; {where}).",
            f"{ms} / text mean at {target}", site.target,
            f"{SITE_NAMES[control]}", f"{ms} / text mean at {control}", site.control,
            site.difference, key=f"{ms}-within-{pair}"))
    auc, first = m.auroc, []  # the AUROC claims lead the list, the strongest rung first
    if auc and "tuned" in m.pairs:
        top = strongest_rung(m)
        for ms in ladder(m):
            key = "sae-auroc-vs-strongest" if ms == top else f"sae-auroc-vs-{ms}"
            lead = "the strongest rung of its ladder (KL, norm, position rule), " * (ms == top)
            first.append(compare(
                f"The diff-SAE separates {SITE_NAMES[target]} from {SITE_NAMES[control]} in the "
                f"{label['tuned']} pair better than {lead}the {RUNG_NAMES[ms]} does ({where}).",
                "AUROC of the diff-SAE (target vs control sites)", auc["sae"],
                RUNG_NAMES[ms], "AUROC, same sites", auc[ms],
                m.auroc_minus[ms], key=key,
                strongest_baseline=Baseline(RUNG_NAMES[top], auc[top])))
    return declare(first + found, PRIMARY)


def strongest_rung(m: Metrics) -> str:
    """The AUROC ladder's top rung: the rung with the highest site AUROC (KL when none is finite).

    >>> from types import SimpleNamespace
    >>> e = lambda v: stats.Estimate(v, None, 1, 1)
    >>> strongest_rung(SimpleNamespace(auroc={"kl": e(0.89), "norm": e(0.73),
    ...                                       "position": e(0.74)}))
    'kl'
    """
    return ladder(m)[0]


def ladder(m: Metrics) -> list[str]:
    """The AUROC ladder's rungs, highest site AUROC first (ties keep AUROC_BASELINES' order)."""
    return sorted(AUROC_BASELINES, key=lambda ms: -_finite(m.auroc[ms].value)
                  if ms in m.auroc else np.inf)


def _finite(x: float) -> float:
    return x if np.isfinite(x) else -np.inf


# %% [markdown]
# ## Findings (summary text)

# %%
def _model_of(m: Metrics, pair: str) -> str:
    """The model a pair's chains came from (the pair's name when it wrote none)."""
    return m.chains[pair].model if pair in m.chains else pair


def read_first(m: Metrics) -> str:
    """The summary's first paragraph: why the primary claim changed, and the AUROC ladder."""
    d = stats.describe
    auc = m.auroc
    if not auc or not np.isfinite(auc["sae"].value):
        return ""
    top = strongest_rung(m)
    rungs = "; ".join(f"{RUNG_NAMES[ms]} {d(auc[ms])}" for ms in ladder(m))
    diff = m.auroc_minus[top]
    verdict = ("beats it" if diff.excludes_zero and diff.value > 0 else "loses to it"
               if diff.excludes_zero else "is not distinguishable from it")
    return (f"Read first: the primary claim changed after a review. The earlier primary "
            f"(`{OLD_PRIMARY}`: the diff-SAE's dead-minus-live contrast is larger in the planted "
            "pair than in the no-change pair) named the KL on an incommensurable relative scale "
            "as its baseline, and on the organism most of its contrast is position (dead-end "
            "states come earlier in a trace); it is kept below as a secondary claim. The new "
            "primary "
            f"(`{PRIMARY}`) compares like with like: the AUROC with which each score separates "
            f"target from control sites (planted pair, {d(auc['sae'])} for the diff-SAE). Ladder, "
            f"strongest first: {rungs}. The diff-SAE minus the strongest rung ({top}): "
            f"{d(diff)}: the diff-SAE {verdict}.")


def findings(m: Metrics) -> str:
    d = stats.describe
    target, control = m.contexts
    head = m.headline
    first = read_first(m)
    lines = ([first, ""] if first else []) + [
        f"Texts: {', '.join(m.sources)} (headline: {head}); sites: {SITE_NAMES[target]} "
             f"(target) vs {SITE_NAMES[control]} (control). Every measure is divided by its "
             "text's mean over all tokens, so 1 is a typical token; intervals resample "
             "held-out problems."]
    for writer, c in m.chains.items():
        lines.append(f"- {writer} ({c.model}): {c.n} chains, {c.unfinished} unfinished "
                     "(no `</think>` and answer within the budget); they are still scored.")
    for pair in m.pairs:
        size = m.size[pair]
        lines.append(f"\n**{pair} pair** (base vs {_model_of(m, pair)}"
                     f"): mean |diff| per token {d(size['norm'])}, mean KL {d(size['kl'], 4)}.")
        for t in m.sources:
            n = m.n_sites[pair][t]
            lines.append(f"- {t} texts ({n[target]} {target} and {n[control]} {control} "
                         "sites):")
            for ms in MEASURES:
                s = m.sites[pair][t][ms]
                lines.append(f"  - {ms}: at {target} {d(s.target)}, at {control} "
                             f"{d(s.control)}; difference {d(s.difference)}; per-problem "
                             f"contrast {d(s.contrast)}.")
        lat = m.latents[pair]
        examples = "; ".join(f"#{e['latent']} `{e['context']}` ({e['site']})"
                             for e in lat.examples)
        lines.append(f"- Its diff-SAE's top {lat.n_latents} latents carry "
                     f"{lat.top_share:.2f} of all latents' mass on training diffs; of their "
                     f"{lat.shown} top held-out contexts, {lat.at_target} are {target} "
                     f"sites and {lat.at_control} {control} sites. Top contexts: "
                     f"{examples or 'none fired'}.")
    auc = m.auroc
    if auc and np.isfinite(auc["sae"].value):
        order = ladder(m) + [ms for ms in SCORED[1:] if ms not in AUROC_BASELINES]
        lines.append("\n**Separating target from control sites** (AUROC of each measure's "
                     "relative value and of the position rule, planted pair, every held-out "
                     "problem, clusters = problems): sae " + d(auc["sae"]) + "; "
                     + "; ".join(f"{ms} {d(auc[ms])}" for ms in order) + ". The diff-SAE "
                     "minus: " + "; ".join(f"{ms} {d(m.auroc_minus[ms])}" for ms in order)
                     + ".")
    if m.n_held:
        lines.append(f"\nThe per-problem contrasts and the planted-minus-no-change claims use "
                     f"the {m.n_paired} of the {m.n_held} held-out problems whose {head} texts "
                     f"hold both {target} and {control} sites; {m.n_held - m.n_paired} hold "
                     "only one kind and drop out (the AUROCs keep every site).")
    if m.between:
        lines.append(f"\n**Planted minus no-change pair** ({head} texts, paired by problem):")
        for ms in MEASURES:
            e = m.between[head][ms]
            verdict = ("a finding" if e.excludes_zero else
                       "not distinguishable at this n" + (
                           f" (roughly {stats.n_needed(e)} problems would be needed)"
                           if stats.n_needed(e) else ""))
            lines.append(f"- {ms} ({MEASURE_NAMES[ms]}): {d(e)}: {verdict}.")
    else:
        lines.append("\nNo no-change pair in this run: nothing here separates what the planted "
                     "rule changed from what any fine-tuning changes.")
    if target == "dead":
        lines.append(
            "\nThe KL is the behavioural baseline: at a dead-end state the planted model "
            "predicts ' Wait' where the base text goes on with ' Try', so a KL peak there is "
            "expected; the question is whether the activation-space measures (diff-SAE, "
            "projection, norm) find it without being told where to look. A crosscoder (a "
            "dictionary on both models' residuals jointly) is not implemented here. An organism "
            "result is a hypothesis about real fine-tunes such as R1-distill: `--preset gpu` "
            "diffs Qwen2.5-Math-1.5B against DeepSeek-R1-Distill-Qwen-1.5B.")
    else:
        lines.append(
            "\nNo planted truth on these models: backtracking words and other sentence starts "
            "differ in token identity, so a gap between them says where the diff is large, not "
            "that fine-tuning put backtracking there.")
    return "\n".join(lines)


# %% [markdown]
# ## Does the method work? (planted truth)
#
# The retrained variant had the same fine-tuning as the planned one on the base's own traces, so
# its diff has nothing to localise at dead-end states; the planned variant's change lives exactly
# there. The diff-SAE's localisation (its top latents' mass at a dead-end "Left:" '.' minus the
# same token at a live one) should be larger for planned than for retrained (order only).
#
# Result (cpu, docs/results/model-diffing/validation/): recovered on the first-stage base (AUROC
# 0.73 [0.66, 0.80] against the control's 0.47), not on today's cleaner base: 0.48 [0.40, 0.55]
# against 0.51 [0.46, 0.55] (difference -0.03 [-0.12, 0.06]; localisation 0.24 [-0.16, 0.61]
# against 0.08). Two more seeds of the planned arm alone (new problems and SAE init; pilot runs
# from a dirty tree of 2563a12, not committed) read 0.55 [0.46, 0.63] and 0.66 [0.59, 0.73], so
# the diff-SAE's AUROC moves by more than its problem-bootstrap interval. The control at the same
# two seeds (pilots from a clean tree of 91a8a34) reads 0.49 [0.42, 0.56] and 0.49 [0.44, 0.54]:
# planned minus control is -0.03, +0.06 and +0.17 over seeds 0-2, so the verdict moves with the
# seed (only seed 2's intervals separate). On every run the one-line position rule (0.65-0.78)
# and the KL (0.78-0.85 on planned) separate the sites better than the diff-SAE. Judge this
# method over several seeds, not one (not done yet).


# %%
def measure_localisation(m: Metrics) -> Measured:
    """The tuned pair's diff-SAE mass at dead-end minus live "Left:" states (headline texts)."""
    pair = m.sites.get("tuned", {}).get(m.headline)
    if pair is None:
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(pair["sae"].difference)


def measure_auroc(m: Metrics) -> Measured:
    """The primary claim's method score: the diff-SAE's AUROC separating dead-end from live
    "Left:" sites (tuned pair, headline texts)."""
    auc = m.auroc.get("sae")
    if auc is None:
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(auc)


VALIDATION_ARMS = (Arm("tinythinker-retrained", None, label="retrained"),  # nothing planted: first
                   Arm("tinythinker-planned", None, learned="backtrack_at_dead_left"))  # planted
# each arm's run is its own pair (no control pair needed: the retrained arm is the control);
# cpu: 200 problems (100 scored), the cpu result's size (100 could not separate the arms)
VALIDATION_SETTINGS = {"smoke": ("control=none",), "cpu": ("control=none", "n_problems=200")}
VALIDATION = (
    Validation(  # the primary's method score (added with the AUROC primary after review)
        quantity="primary: diff-SAE AUROC separating dead-end from live Left '.' sites",
        arms=VALIDATION_ARMS,
        measure=measure_auroc,
        meaning=("The primary ranks the diff-SAE's AUROC against KL, norm and position; that "
                 "ranking means something only if the AUROC itself reads a planted change: "
                 "above the no-change fine-tune where dead-endness was planted."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="diff-SAE top-latent mass at a dead-end Left '.' minus the same token at a live "
                 "one",
        arms=VALIDATION_ARMS,
        measure=measure_localisation,
        meaning=("A diff that localises a planted change beyond the same token in a no-change "
                 "fine-tune points where fine-tuning acted; on R1-distill, diff latents that beat "
                 "that control are then some evidence of what reasoning training changed."),
        settings=VALIDATION_SETTINGS),
)

# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run model-diffing --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """One chain per problem from the tuned model, the base (base_texts) and the control."""
    writers = ["tuned"] + ["base"] * cfg.base_texts + ["control"] * (cfg.control is not None)
    return [Generation(f"{w} chains, one per problem", sequences=cfg.n_problems,
                       max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
            for w in writers]


STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("backtracking", "wait"),  # searches with shipped offline fixtures
    try_next=("Train a crosscoder (one dictionary on both models' residuals, dictionary_learning) "
              "and compare its tuned-only latents with the diff-SAE's.",
              "Diff the hint-p100 variant: do the top diff latents fire on 'Hint:'?",
              "Sweep the layer: where does the planned variant's change first appear?",
              "On R1-distill, label backtracking 'Wait's with the cot tagger to get a same-token "
              "control."),
)

if __name__ == "__main__":
    run_starter(STARTER)
