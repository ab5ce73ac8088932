# %% [markdown]
# # Do sparse autoencoders tell us anything?
#
# Question: do SAEs on a reasoning model's residual stream find backtracking, and do SAEs trained on
# (or meant for) other text transfer to reasoning?
#
# Method: text A (reasoning with backtracking) and text B (without it); residuals at one layer; an
# SAE per distribution (or pretrained ones). Per SAE and text: fraction of variance explained (FVE),
# L0, FVE on the backtracking-word tokens ("Wait", "Hmm") scored against *their own* mean, and the
# loss increase with the SAE spliced in. Then two latents per SAE, chosen on training text and
# judged on held-out text: the one most specific to " Wait", and the one that best separates the
# organism's decision to backtrack from its decision to go on.
#
# Controls: (1) the SAE trained on the other distribution, on the same tokens. (2) Token identity: a
# latent that fires on every " Wait" may be a token detector, not a backtracking feature. In the
# organism every " Wait" starts a backtrack (its vocabulary has no other use of the word), so the
# same token cannot be compared across contexts. The closest honest control is the "." that closes a
# "Miss." step: the organism follows it with " Wait" (backtrack) or " Try" (another try in the same
# branch). Same token, same step type, same trace; only the decision differs. (3) Seeds: every SAE
# is trained with `n_seeds` seeds; each claim pools them (intervals over traces, one trace per
# problem) and the summary lists the claim per seed.
# (4) A known latent: the "." closing a "Left: a, b." state, in a dead end (no final try of the
# search reaches the target from it) or not. Same token, same step type; dead-endness is a property
# of the numbers that no single token shows. A third latent is chosen to separate the two; the
# planned-backtracking variant must compute it there (it backtracks at once from a dead end).
#
# - `smoke` / `cpu`: TinyThinker (its traces carry ground truth). A = traces with backtracking, B =
#   hinted straight-line traces (the same text minus the search).
# - `gpu`: the registry's model with Llama Scope SAEs (R1-Distill-Llama-8B). A = the model's own
#   reasoning traces, B = plain prose (Python's reference docs). SAEs: its Llama Scope R1-distill
#   SAE (Neuronpedia explanations) and the base-model Llama Scope SAE, before and after finetuning
#   on A. Other models: the smoke recipe on their own text.
#
# Run: `mi-starter run sae --preset smoke` (about a minute) or `--preset gpu` (downloads the model
# and about 1.5 GB of SAEs). Outputs: results.jsonl (rows of kind "trace", "site", "sae_latent",
# "chain"), figure.png, summary.md, findings.json.
#
# **Primary claim, declared before the run** (`PRIMARY` below): a latent chosen on training traces
# is more active on the '.' closing a dead-end 'Left: a, b.' state that is *not the trace's first
# 'Left:' state* than on the same token closing a live one in the same traces (a property of the
# numbers that no single token shows; the planted truth of the validation). The interval
# resamples traces and SAE seeds. The others are secondary, Holm-adjusted.
#
# Why the primary changed (for the run after review s15): the old primary ("dead_end", the same
# comparison over every dead state) was explained by a one-line rule. In the organism's
# backtracking traces every trace's first 'Left:' state is a dead end and the live one is the
# last, and the latent fires on the first 'Left:' state: "is the first 'Left:'" separates dead
# from live with AUROC ~0.87 and position alone ~0.93, the latent ~0.58. Excluding the first
# state removes that cue from the comparison; the old primary stays as a secondary claim, and the
# latent's AUROC is put beside the rule, position and a fitted text baseline
# (`starter.baselines`), the strongest named as `strongest_baseline`.

# %%
from __future__ import annotations

import copy
import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from starter import baselines, stats
from starter.activations import encode_one
from starter.errors import StarterError, UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.models import reference_sae_model
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.rollouts import SamplingConfig, sample
from starter.saes import (
    Activations,
    TrainConfig,
    collect,
    finetune,
    latent_contrast,
    load_pretrained,
    per_token,
    spliced_ce,
    top_examples,
    train_sae,
)
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "dead_end-not-first"  # until review s15: "dead_end" (see the header)

BACKTRACK_WORDS = ("wait", "hmm")  # a token that is one of these (any case) is a backtracking word
DECISION = "."  # the token closing a "Miss." step: where the organism picks " Wait" or " Try"
POSITION_BIN = 16  # tokens per bin when the dead_end latent is compared at matched positions
ROLES = ("wait", "decision", "dead_end")  # the latents chosen per SAE (see the header)
# The two contexts of one token a role's latent is chosen to separate (target first, control
# second); the wait latent is also read at the decision points. "dead"/"alive": the "." closing a
# "Left: a, b." state that is / is not a dead end.
PAIRS = {"wait": ("backtrack", "continue"), "decision": ("backtrack", "continue"),
         "dead_end": ("dead", "alive")}
TARGETS = {"wait": "wait", "decision": "backtrack", "dead_end": "dead"}  # a latent's target sites
# The minimum effect size for a latent gap, in units of SCALE: a gap must clear it, not just zero,
# for a claim that a latent sees the decision (the claim compares the difference minus SMALL with
# zero); a smaller gap is called small in the summary. A round 0.1 of a latent's typical
# activation at its own target, set with the summary's wording (816e7b5) before the committed cpu
# result (though after earlier runs); not tuned to any one gap.
SMALL = 0.1
SCALE = "its training mean at its target"  # what a latent's activation is divided by (1: typical)
# The Llama Scope SAE of the *base* Llama-3.1-8B at layer 15 (SAELens release, id). The registry
# (models.yaml) does not carry base-model SAEs yet, so it lives here until it does.
BASE_SAE = ("llama_scope_lxr_8x", "l15r_8x")

# %% [markdown]
# ## Setup

# %%
@dataclass
class Config(StarterConfig):
    n_texts: int = 200  # texts per distribution; a quarter is held out for evaluation
    layer: int | None = None  # None: the model's last layer of interest (15 on R1-Distill-Llama-8B)
    dict_size: int = 1024  # trained SAEs: latents
    k: int = 16  # trained SAEs: active latents per token (BatchTopK)
    steps: int = 1500  # trained SAEs: optimiser steps
    n_seeds: int = 3  # trained SAEs: seeds seed, seed+1, ... (data stay fixed; only the SAE varies)
    finetune_steps: int = 300  # pretrained path: steps finetuning the base-model SAE on A
    base_sae: tuple[str, str] = BASE_SAE  # pretrained path: SAELens (release, id) of the base SAE
    # Model path only: tokens per generated trace. R1-distill chains on these word/arithmetic
    # problems run 500-4000 tokens, so 4096 lets most finish; an unfinished trace is still reasoning
    # text for the SAE, and the summary counts them.
    max_new_tokens: int = 4096
    ce_texts: int = 32  # held-out texts per distribution for the spliced-loss measurement
    top_contexts: int = 5  # top-activating held-out contexts kept per chosen latent

    def __post_init__(self) -> None:  # TrainConfig checks dict_size/k/steps when SAEs are trained
        super().__post_init__()
        if self.n_texts < 8:
            raise UsageError(f"n_texts={self.n_texts}: need at least 8 (a quarter is held out)")
        if self.n_seeds < 1:
            raise UsageError(f"n_seeds={self.n_seeds}: need at least 1 (3 or more for a spread)")
        if self.ce_texts < 1 or self.top_contexts < 1:
            raise UsageError(f"ce_texts={self.ce_texts}, top_contexts={self.top_contexts}: "
                             "both must be at least 1")


PRESETS = {
    # max_new_tokens (smoke, cpu) only matters for a model other than the organism (--model):
    # SmolLM2 and random-weight models write no real reasoning, so a short budget will do.
    "smoke": Config(n_texts=80, dict_size=256, k=8, steps=100, ce_texts=4, top_contexts=3,
                    max_new_tokens=128),
    # 400 texts, 512 latents, 1000 steps, 3 seeds x 2 SAEs: about 10 minutes on 2 busy cores.
    "cpu": Config(n_texts=400, dict_size=512, steps=1000, ce_texts=16, max_new_tokens=512),
    "gpu": Config(model=reference_sae_model().name, n_texts=128, ce_texts=16),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_texts=16, steps=20, n_seeds=1, dict_size=64, k=4,
                                      ce_texts=2, max_new_tokens=24, finetune_steps=5)

# %% [markdown]
# ## Sample: A (backtracking) and B (the control)

# %%
def organism_texts(cfg: Config) -> dict[str, list[str]]:
    """Traces the organism is trained to write: with backtracking vs hinted (no search)."""
    from starter.organism.data import make_traces

    traces = make_traces(4 * cfg.n_texts, seed=cfg.seed, split="test", hinted_fraction=0.5)
    back = [t.text for t in traces if t.backtracks > 0][: cfg.n_texts]
    straight = [t.text for t in traces if t.hint is not None][: cfg.n_texts]
    return {"backtracking": back, "straight": straight}


def model_texts(ctx: Context) -> dict[str, list[str]]:
    """The model's own reasoning on word/arithmetic problems vs paragraphs of Python's docs.

    Each generated trace gets a row of kind "chain" saying whether it finished (`</think>` and an
    answer): unfinished traces stay in A (they are reasoning text all the same) and are counted.
    """
    import pydoc_data.topics

    from starter import grading
    from starter.tasks import arithmetic, word_problems

    cfg = ctx.cfg
    problems = word_problems.make() + arithmetic.make(cfg.n_texts, seed=cfg.seed, difficulty=4)
    problems = problems[: cfg.n_texts]
    prompts = [ctx.model.prompt(question=p.question) for p in problems]
    runs = sample(ctx.model, prompts, n=1, cfg=cfg.sampling())
    for i, (out,) in enumerate(runs):
        row = {"unit": f"chain:{i}", "kind": "chain", "trace": i,
               "finished": grading.finished(out.text), "n_new_tokens": out.n_new_tokens}
        if not ctx.store.done(row["unit"]):
            ctx.store.append(row)
    paragraphs = [p.strip() for doc in pydoc_data.topics.topics.values() for p in doc.split("\n\n")]
    prose = [p for p in paragraphs
             if 300 < len(p) < 2000 and "::=" not in p and not p.startswith(" ")]
    random.Random(cfg.seed).shuffle(prose)
    reasoning = [prompt + out.text for prompt, (out,) in zip(prompts, runs)]
    return {"reasoning": reasoning, "prose": prose[: cfg.n_texts]}


@dataclass
class Split:
    """One distribution's texts and residuals: training part and held-out part."""

    train_texts: list[str]
    eval_texts: list[str]  # the first quarter
    train: Activations
    eval: Activations


def split_and_collect(ctx: Context, texts: list[str], layer: int) -> Split:
    cut = len(texts) // 4
    return Split(train_texts=texts[cut:], eval_texts=texts[:cut],
                 train=collect(ctx.model, texts[cut:], layer),
                 eval=collect(ctx.model, texts[:cut], layer))


# %% [markdown]
# ## Sites: where each token sits (the token-identity control)

# %%
@dataclass(frozen=True)
class Site:
    """A token whose context we know: a backtracking word, or a decision point after a miss."""

    row: int  # row in the Activations
    trace: int  # which text (index in its split)
    position: int  # token position in that text
    token: str  # the token, decoded
    context: str  # "wait" | "backtrack" ("." before a backtrack) | "continue" ("." before a try)
    # | "dead" / "alive" ("." closing a "Left: a, b." state that is / is not a dead end)
    operator: str | None = None  # decision points: the operator of the try that missed


def _operator(acts: Activations, row: int) -> str | None:
    """The first of + - * / after the last " Try" before `row`, in the same text."""
    start = row
    while start > 0 and acts.text_index[start - 1] == acts.text_index[row]:
        start -= 1
        if acts.tokens[start].strip() == "Try":
            break
    return next((t for t in acts.tokens[start:row] if t in ("+", "-", "*", "/")), None)


_TARGET = re.compile(r"Target: (\d+)\.")
_LEFT = re.compile(r"\s*Left: (\d+), (\d+)\.")


def _targets(acts: Activations) -> dict[int, int]:
    """Each text's countdown target (from "Target: t." in its first 20 tokens), where it has one."""
    heads: dict[int, str] = {}
    for row, token in enumerate(acts.tokens):
        text = acts.text_index[row]
        if acts.position[row] < 20:
            heads[text] = heads.get(text, "") + token
    return {text: int(m.group(1)) for text, head in heads.items()
            if (m := _TARGET.search(head))}


def _left_dead(acts: Activations, row: int, target: int | None) -> bool | None:
    """At the "." closing "Left: a, b.": is (a, b) a dead end (no final try the search makes from
    it reaches the target)? None at any other token."""
    from starter.tasks.countdown import final_tries

    start = row
    while start > 0 and row - start < 12 and acts.tokens[start].strip() != "Left":
        start -= 1
    found = _LEFT.fullmatch("".join(acts.tokens[start: row + 1]))
    if target is None or found is None or acts.text_index[start] != acts.text_index[row]:
        return None
    value, rest = int(found.group(1)), int(found.group(2))
    return not any(v == target for _, v in final_tries(value, rest, target))


def label_sites(acts: Activations) -> list[Site]:
    """Backtracking words, every "." closing a "Miss." labelled by what follows it, and every "."
    closing a "Left: a, b." state labelled dead or alive (needs "Target: t." in the text).

    >>> import torch
    >>> words = [" Try", "-", " Miss", ".", " Wait", " Try", "+", " Miss", ".", " Try"]
    >>> acts = Activations(torch.zeros(10, 2), words, [0] * 10, list(range(1, 11)))
    >>> [(s.row, s.context, s.operator) for s in label_sites(acts)]
    [(3, 'backtrack', '-'), (4, 'wait', None), (8, 'continue', '+')]
    >>> words = [" Target", ":", " 3", "1", ".", " Left", ":", " 2", "7", ",", " 4", ".", " Try"]
    >>> acts = Activations(torch.zeros(13, 2), words, [0] * 13, list(range(13)))
    >>> [(s.row, s.context) for s in label_sites(acts)]  # 27+4 reaches 31: alive
    [(11, 'alive')]
    """
    found = []
    targets = _targets(acts)
    for row, token in enumerate(acts.tokens):
        trace = acts.text_index[row]
        site = Site(row=row, trace=trace, position=acts.position[row], token=token, context="")
        if token.strip().lower() in BACKTRACK_WORDS:
            found.append(dataclasses.replace(site, context="wait"))
            continue
        inside = (0 < row < len(acts) - 1
                  and acts.text_index[row - 1] == trace == acts.text_index[row + 1])
        dead = _left_dead(acts, row, targets.get(trace)) if token == DECISION and inside else None
        if dead is not None:
            found.append(dataclasses.replace(site, context="dead" if dead else "alive"))
            continue
        if token != DECISION or not inside or acts.tokens[row - 1].strip() != "Miss":
            continue
        after = acts.tokens[row + 1].strip().lower()
        found.append(dataclasses.replace(site, context="backtrack" if after in BACKTRACK_WORDS
                                         else "continue", operator=_operator(acts, row)))
    return found


# %% [markdown]
# ## SAEs: trained here (organism, SmolLM2, ...) or pretrained (Llama Scope on R1-Distill-Llama-8B)

# %%
def sae_names(ctx: Context, layer: int, data: list[str]) -> list[str]:
    """The SAEs a run compares, the one meant for A first and its control second."""
    spec = ctx.model.spec
    if not spec.sae_release:
        return [f"sae-{name}" for name in data]
    ids = [i for i in spec.sae_ids if i.startswith(f"l{layer}r_")]
    if not ids:
        raise UsageError(f"{spec.name} has no {spec.sae_release} SAE at layer {layer}; "
                         f"its ids: {', '.join(spec.sae_ids)}")
    return [f"r1-{ids[0]}", "base", "base+finetune"]


def make_saes(ctx: Context, layer: int, splits: dict[str, Split], seed: int) -> dict[str, Any]:
    """One SAE per distribution trained with `seed`, or the pretrained SAEs (R1-distill, base)."""
    cfg, spec, device = ctx.cfg, ctx.model.spec, str(ctx.model.device)
    names = sae_names(ctx, layer, list(splits))
    if not spec.sae_release:
        train = TrainConfig(dict_size=cfg.dict_size, k=cfg.k, steps=cfg.steps, seed=seed)
        return {name: train_sae(splits[name[len("sae-"):]].train.acts, train, device=device)
                for name in names}
    saes = {names[0]: load_pretrained(spec.sae_release, names[0][len("r1-"):], device)}
    saes["base"] = load_pretrained(*cfg.base_sae, device)
    a_train = next(iter(splits.values())).train.acts
    saes["base+finetune"] = finetune(copy.deepcopy(saes["base"]), a_train,
                                     steps=cfg.finetune_steps, seed=seed)
    return saes


def explain(ctx: Context, sae_name: str, latent: int) -> str:
    """Neuronpedia's explanation of a latent, or why there is none (never silently empty)."""
    from starter.neuronpedia import NeuronpediaClient

    spec = ctx.model.spec
    if not sae_name.startswith("r1-"):
        return "trained here: no Neuronpedia page"
    source = spec.neuronpedia_sources[spec.sae_ids.index(sae_name[len("r1-"):])]
    try:
        client = NeuronpediaClient(offline=ctx.cfg.offline or None)
        feature = client.feature(spec.neuronpedia_model_id, source, latent)
    except StarterError as err:  # offline without a fixture, or not on Neuronpedia: say so
        return f"unavailable: {err}"
    if not feature.explanations:
        return "no explanation on Neuronpedia"
    return feature.explanations[0].description


# %% [markdown]
# ## Run: every SAE on every held-out trace; the chosen latents at every site

# %%
def trace_rows(seed: int, sae_name: str, data: str, split: Split, sae,
               ce: dict[int, float]) -> list[dict]:
    """One row per held-out trace: squared error and L0 summed over all its tokens and over its
    backtracking words, with the variances (about each subset's own mean) that make them FVE."""
    import torch

    acts = split.eval
    got = per_token(sae, acts.acts)
    words = acts.mask(BACKTRACK_WORDS)  # [n] bool
    var_all = float((acts.acts - acts.acts.mean(0)).pow(2).sum(-1).mean())
    var_wait = None
    if int(words.sum()) >= 2:
        sub = acts.acts[words]
        var_wait = float((sub - sub.mean(0)).pow(2).sum(-1).mean())
    index = torch.tensor(acts.text_index)  # [n]
    rows = []
    for trace in range(len(split.eval_texts)):
        mine = index == trace
        wait = mine & words
        rows.append({"unit": f"trace:{seed}:{sae_name}:{data}:{trace}", "kind": "trace",
                     "seed": seed, "sae": sae_name, "data": data, "trace": trace,
                     "n_tokens": int(mine.sum()), "sse": float(got.sq_error[mine].sum()),
                     "l0_sum": float(got.l0[mine].sum()), "n_wait": int(wait.sum()),
                     "sse_wait": float(got.sq_error[wait].sum()), "var_all": var_all,
                     "var_wait": var_wait, "ce_increase": ce.get(trace)})
    return rows


def roles_in(train: Activations, train_sites: list[Site]) -> list[str]:
    """The roles a latent can be chosen for on this training text: "wait" where the words occur
    (a model that never writes "Wait", SmolLM2 or random weights, gets none), "decision" and
    "dead_end" where both contexts of their pair occur (after the words: the organism's texts)."""
    if not train.mask(BACKTRACK_WORDS).any():
        return []
    seen = {s.context for s in train_sites}
    return ["wait"] + [role for role in ("decision", "dead_end") if set(PAIRS[role]) <= seen]


def choose_latents(sae, train: Activations, train_sites: list[Site]) -> dict[str, dict]:
    """Chosen on *training* text: the latent most specific to backtracking words; the latent that
    best separates a "." before a backtrack from a "." before another try; and the one that best
    separates the "." closing a dead-end "Left:" state from the same token closing a live one."""
    import torch

    chosen = {}
    for role in roles_in(train, train_sites):
        if role == "wait":
            chosen[role] = latent_contrast(sae, train.acts, train.mask(BACKTRACK_WORDS), top=1)[0]
            continue
        points = [s for s in train_sites if s.context in PAIRS[role]]
        rows = torch.tensor([s.row for s in points])
        on = torch.tensor([s.context == TARGETS[role] for s in points])
        chosen[role] = latent_contrast(sae, train.acts[rows], on, top=1)[0]
    return chosen


def latent_codes(sae, acts: Activations, latents: list[int]):
    """[n, len(latents)] activations of the chosen latents at every row (CPU)."""
    import torch

    param = next(sae.parameters())
    with torch.no_grad():
        parts = [sae.encode(acts.acts[lo : lo + 1024].to(param.device, param.dtype))[:, latents]
                 for lo in range(0, len(acts), 1024)]
    return torch.cat(parts).float().cpu()


def context_of(acts: Activations, ids: list[list[int]], row: int, tokenizer) -> str:
    """Twelve tokens before the row, the row's token in [[ ]], and the two tokens after it."""
    pos = acts.position[row]
    after = tokenizer.decode(ids[acts.text_index[row]][pos + 1 : pos + 3])
    return acts.context(ids, row, tokenizer) + after


def latent_rows(ctx: Context, seed: int, sae_name: str, sae, split: Split, sites: list[Site],
                chosen: dict[str, dict]) -> list[dict]:
    """Per chosen latent: held-out fire rates on and off its target, and its top held-out contexts
    with the site each one is (so a summary can say which tokens it fires on)."""
    acts = split.eval
    ids = [encode_one(ctx.model, t) for t in split.eval_texts]
    site_of = {s.row: s.context for s in sites}
    roles = list(chosen)
    codes = latent_codes(sae, acts, [chosen[r]["latent"] for r in roles])  # [n, roles]
    target = TARGETS
    rows = []
    for j, role in enumerate(roles):
        on = np.array([site_of.get(r) == target[role] for r in range(len(acts))])
        fires = codes[:, j].numpy() > 0
        top = [{"context": context_of(acts, ids, r, ctx.model.tokenizer), "token": acts.tokens[r],
                "site": site_of.get(r, "other"), "activation": v}
               for r, v in top_examples(sae, acts.acts, chosen[role]["latent"],
                                        ctx.cfg.top_contexts)]
        rows.append({"unit": f"sae_latent:{seed}:{sae_name}:{role}", "kind": "sae_latent",
                     "seed": seed, "sae": sae_name, "role": role, "latent": chosen[role]["latent"],
                     "train_score": chosen[role]["score"], "target": target[role],
                     "fire_rate_on": float(fires[on].mean()) if on.any() else None,
                     "fire_rate_off": float(fires[~on].mean()), "top": top,
                     "explanation": explain(ctx, sae_name, chosen[role]["latent"])})
    return rows


def site_rows(seed: int, sae, split: Split, sites: list[Site],
              chosen: dict[str, dict]) -> list[dict]:
    """One row per held-out site: the chosen latents' activation there (None: latent not chosen),
    raw and relative to the latent's mean activation at its target sites in training."""
    roles = list(chosen)
    codes = latent_codes(sae, split.eval, [chosen[r]["latent"] for r in roles])  # [n, roles]
    rows = []
    for s in sites:
        acts = {role: float(codes[s.row, j]) for j, role in enumerate(roles)}
        rows.append({"unit": f"site:{seed}:{s.trace}:{s.position}", "kind": "site", "seed": seed,
                     "trace": s.trace, "position": s.position, "token": s.token,
                     "context": s.context, "operator": s.operator,
                     **{f"act_{role}": acts.get(role) for role in ROLES},
                     **{f"rel_{role}": acts[role] / chosen[role]["mean_on"]
                        if role in acts and chosen[role]["mean_on"] > 0 else None
                        for role in ROLES}})
    return rows


def run(ctx: Context) -> None:
    cfg, model = ctx.cfg, ctx.model
    layer = cfg.layer if cfg.layer is not None else model.spec.layers_of_interest[-1]
    organism = model.spec.prompt_format == "organism"
    texts = organism_texts(cfg) if organism else model_texts(ctx)
    splits = {name: split_and_collect(ctx, ts, layer) for name, ts in texts.items()}
    a = next(iter(splits))  # the backtracking distribution
    sites = label_sites(splits[a].eval)
    train_sites = label_sites(splits[a].train)
    names = sae_names(ctx, layer, list(splits))
    # Pretrained SAEs have no training seed: one pass (the finetune uses cfg.seed).
    seeds = [cfg.seed] if model.spec.sae_release else [cfg.seed + s for s in range(cfg.n_seeds)]
    for seed in seeds:
        units = [f"trace:{seed}:{s}:{d}:{t}" for s in names for d in splits
                 for t in range(len(splits[d].eval_texts))]
        units += [f"site:{seed}:{s.trace}:{s.position}" for s in sites]
        units += [f"sae_latent:{seed}:{names[0]}:{role}"
                  for role in roles_in(splits[a].train, train_sites)]
        if not ctx.store.pending(units):  # this seed is done (a resumed run)
            continue
        saes = make_saes(ctx, layer, splits, seed)
        rows = []
        for sae_name, sae in saes.items():
            for data, split in splits.items():
                ce = {t: spliced_ce(model, sae, layer, [text])["ce_increase"]
                      for t, text in enumerate(split.eval_texts[: cfg.ce_texts])}
                rows += trace_rows(seed, sae_name, data, split, sae, ce)
        chosen = choose_latents(saes[names[0]], splits[a].train, train_sites)
        if chosen:
            rows += latent_rows(ctx, seed, names[0], saes[names[0]], splits[a], sites, chosen)
            rows += site_rows(seed, saes[names[0]], splits[a], sites, chosen)
        for row in rows:
            if not ctx.store.done(row["unit"]):
                ctx.store.append(row)


# %% [markdown]
# ## Analyse: FVE, L0 and loss per SAE and text (intervals over held-out traces, seeds pooled)

# %%
def _per_token_items(rows: list[dict], total: str, count: str, scale: str | None = None):
    """Items for `stats.mean_ci` whose mean is sum(total) / sum(count) [/ scale]: each trace adds
    its per-token mean once per token, so its cluster holds its exact sum and count."""
    values, clusters = [], []
    for r in rows:
        if r[count] == 0 or (scale is not None and r[scale] is None):
            continue
        per = r[total] / r[count] / (r[scale] if scale else 1.0)
        values += [per] * r[count]
        clusters += [r["trace"]] * r[count]
    return values, clusters


def _one_minus(e: stats.Estimate) -> stats.Estimate:
    """1 - an estimate (unexplained -> explained variance), its interval flipped."""
    ci = None if e.ci is None else (1.0 - e.ci[1], 1.0 - e.ci[0])
    return dataclasses.replace(e, value=1.0 - e.value, ci=ci, successes=None)


def fve(rows: list[dict], subset: str = "all") -> stats.Estimate:
    """FVE pooled over `rows` (held-out traces; all tokens or the backtracking words), each subset
    about its own mean; the interval resamples traces (the variance itself is held fixed)."""
    total, count, scale = ("sse", "n_tokens", "var_all") if subset == "all" else (
        "sse_wait", "n_wait", "var_wait")
    values, clusters = _per_token_items(rows, total, count, scale)
    return _one_minus(stats.mean_ci(values, clusters, unit="trace"))


def fve_difference(rows: list[dict], other: list[dict], subset: str = "wait") -> stats.Estimate:
    """FVE(rows) - FVE(other) on the same traces: paired over traces."""
    total, count, scale = ("sse", "n_tokens", "var_all") if subset == "all" else (
        "sse_wait", "n_wait", "var_wait")
    mine, mine_at = _per_token_items(rows, total, count, scale)
    theirs, theirs_at = _per_token_items(other, total, count, scale)
    return stats.difference_ci(theirs, theirs_at, mine, mine_at, unit="trace")


@dataclass
class SiteStats:
    """One chosen latent at the decision points (same token, same traces), and on the words."""

    backtrack: stats.Estimate  # activation (or P(fires)) at a "." before a backtrack (dead_end:
    # at the "." closing a dead-end "Left:" state)
    control: stats.Estimate  # the same at a "." before another try (a live state), same traces
    difference: stats.Estimate  # backtrack - control, paired over traces, seeds pooled
    by_seed: dict[int, stats.Estimate]  # the difference per SAE seed
    on_words: stats.Estimate  # the same on the backtracking words themselves


def site_stats(sites: list[dict], role: str, operator: str | None = None,
               fires: bool = False, paired: bool = True) -> SiteStats:
    """The `role` latent's activation relative to its training mean at its target (or, `fires`,
    how often it is active) at the two contexts of its pair (PAIRS: the decision points, or for
    "dead_end" the dead and live "Left:" states): only in traces that have both kinds, or, given
    an `operator` or `paired=False`, in any held-out trace (given an `operator`, only after a
    miss of that operator)."""
    target, other = PAIRS[role]
    key = f"act_{role}" if fires else f"rel_{role}"
    mine = [s for s in sites if s.get(key) is not None
            and (operator is None or s["context"] == "wait" or s.get("operator") == operator)]
    kinds: dict[int, set[str]] = {}
    for s in mine:
        kinds.setdefault(s["trace"], set()).add(s["context"])
    both = {t for t, seen in kinds.items() if {target, other} <= seen or operator or not paired}

    def pick(context: str, seed: int | None = None) -> tuple[list[float], list[int]]:
        chosen = [s for s in mine if s["context"] == context and (seed is None or s["seed"] == seed)
                  and (context == "wait" or s["trace"] in both)]
        values = [float(s[key] > 0) if fires else s[key] for s in chosen]
        return values, [s["trace"] for s in chosen]

    back, control = pick(target), pick(other)
    seeds = sorted({s["seed"] for s in mine})
    return SiteStats(
        backtrack=stats.mean_ci(*back, unit="trace"),
        control=stats.mean_ci(*control, unit="trace"),
        difference=stats.difference_ci(*back, *control, unit="trace"),
        by_seed={seed: stats.difference_ci(*pick(target, seed), *pick(other, seed),
                                           unit="trace") for seed in seeds},
        on_words=stats.mean_ci(*pick("wait"), unit="trace"))


def positions(sites: list[dict], pair: tuple[str, str],
              paired: bool = True) -> dict[str, stats.Estimate]:
    """Token position of each context of `pair`, in traces that have both (`paired`) or in all
    traces (one SAE seed's sites).

    >>> at = positions([{"trace": 0, "context": "dead", "position": 10},
    ...                 {"trace": 0, "context": "alive", "position": 30}], ("dead", "alive"))
    >>> at["dead"].value, at["alive"].value
    (10.0, 30.0)
    """
    kinds: dict[int, set[str]] = {}
    for s in sites:
        kinds.setdefault(s["trace"], set()).add(s["context"])
    both = {t for t, seen in kinds.items() if set(pair) <= seen or not paired}
    out = {}
    for context in pair:
        chosen = [s for s in sites if s["context"] == context and s["trace"] in both]
        out[context] = stats.mean_ci([s["position"] for s in chosen],
                                     [s["trace"] for s in chosen], unit="trace")
    return out


def in_shared_bins(sites: list[dict], pair: tuple[str, str], width: int) -> list[dict]:
    """`sites` without the contexts of `pair` whose position bin (`width` tokens) lacks either one:
    a coarse match on position, for a pair whose contexts sit at different depths of the trace.

    >>> rows = [{"context": c, "position": p} for c, p in [("dead", 3), ("alive", 5), ("dead", 40)]]
    >>> [r["position"] for r in in_shared_bins(rows, ("dead", "alive"), width=16)]
    [3, 5]
    """
    seen: dict[int, set[str]] = {}
    for site in sites:
        if site["context"] in pair:
            seen.setdefault(site["position"] // width, set()).add(site["context"])
    shared = {b for b, contexts in seen.items() if set(pair) <= contexts}
    return [site for site in sites
            if site["context"] not in pair or site["position"] // width in shared]


def first_left(sites: list[dict]) -> dict[tuple[int, int], int]:
    """(seed, trace) -> the position of that trace's first 'Left:' state (a dead or live site).

    >>> first_left([{"seed": 0, "trace": 1, "context": "dead", "position": 9},
    ...             {"seed": 0, "trace": 1, "context": "alive", "position": 4},
    ...             {"seed": 0, "trace": 1, "context": "wait", "position": 2}])
    {(0, 1): 4}
    """
    first: dict[tuple[int, int], int] = {}
    for s in sites:
        if s["context"] in PAIRS["dead_end"]:
            key = (s["seed"], s["trace"])
            first[key] = min(first.get(key, s["position"]), s["position"])
    return first


def without_first_left(sites: list[dict]) -> list[dict]:
    """`sites` without each trace's first 'Left:' state (the one the old primary leaned on).

    >>> rows = [{"seed": 0, "trace": 0, "context": c, "position": p}
    ...         for c, p in [("dead", 3), ("dead", 20), ("alive", 40), ("wait", 5)]]
    >>> [r["position"] for r in without_first_left(rows)]
    [20, 40, 5]
    """
    first = first_left(sites)
    return [s for s in sites if s["context"] not in PAIRS["dead_end"]
            or s["position"] != first[(s["seed"], s["trace"])]]


def seeds_paired_difference(sites: list[dict], role: str = "dead_end") -> stats.Estimate:
    """Per trace and SAE seed, the mean `rel_<role>` at its target states minus the mean at its
    control states (traces with both in every seed); the mean over traces and seeds, its interval
    resampling traces and seeds together (`stats.seeds_difference_ci`): the spread between SAE
    seeds is inside it. Each trace weighs the same.

    >>> rows = [{"seed": sd, "trace": t, "context": c, "rel_dead_end": v}
    ...         for sd, gap in ((0, 1.0), (1, 0.0)) for t in range(4)
    ...         for c, v in (("dead", gap), ("alive", 0.0))]
    >>> e = seeds_paired_difference(rows)
    >>> e.value, e.ci, e.n
    (0.5, (0.0, 1.0), 4)
    """
    target, other = PAIRS[role]
    key = f"rel_{role}"
    cells: dict[tuple[int, int], dict[str, list[float]]] = {}
    for s in sites:
        if s.get(key) is not None and s["context"] in (target, other):
            cell = cells.setdefault((s["seed"], s["trace"]), {target: [], other: []})
            cell[s["context"]].append(s[key])
    seeds = sorted({seed for seed, _ in cells})
    gaps = {k: float(np.mean(v[target]) - np.mean(v[other])) for k, v in cells.items()
            if v[target] and v[other]}
    traces = sorted(t for t in {t for _, t in cells} if all((sd, t) in gaps for sd in seeds))
    if not traces:
        return stats.Estimate(float("nan"), None, 0, 0, "trace")
    return stats.seeds_difference_ci([[gaps[(sd, t)] for t in traces] for sd in seeds],
                                     [0.0] * len(traces), traces, unit="trace")


def _percentile_ci(boot: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2 * 100
    return float(np.percentile(boot, tail)), float(np.percentile(boot, 100 - tail))


def seeds_auroc_difference(scores_by_seed: list[list[float]], baseline: list[float] | None,
                           labels: list[int], clusters: list[int], seed: int = 0,
                           unit: str = "trace") -> stats.Estimate:
    """AUROC of a score measured once per SAE seed (scores_by_seed[s][i]), averaged over the
    seeds, minus AUROC(`baseline`) on the same items (None: the AUROC alone). Each replicate draws
    the clusters and, independently, the seeds with replacement, so seed spread is in the interval.

    By hand: seed 0 orders both (dead, live) pairs right (1.0), seed 1 neither (0.0): 0.5; a
    replicate drawing seed 0 twice gives 1.0, seed 1 twice 0.0.

    >>> e = seeds_auroc_difference([[2.0, 1.0, 2.0, 1.0], [1.0, 2.0, 1.0, 2.0]], None,
    ...                            [1, 0, 1, 0], [0, 0, 1, 1])
    >>> e.value, e.ci
    (0.5, (0.0, 1.0))
    """
    y = np.asarray(labels, dtype=float)
    pos, neg = y == 1, y == 0
    names = list(dict.fromkeys(clusters))
    if not pos.any() or not neg.any():
        return stats.Estimate(float("nan"), None, len(names), int(y.size), unit)

    def pair_matrix(x: list[float]) -> np.ndarray:
        v = np.asarray(x, dtype=float)
        diff = v[pos][:, None] - v[neg][None, :]  # [n_pos, n_neg]
        return (diff > 0) + 0.5 * (diff == 0)

    shift = pair_matrix(baseline) if baseline is not None else 0.0
    ordered = [pair_matrix(a) - shift for a in scores_by_seed]  # per seed [n_pos, n_neg]
    value = float(np.mean([o.mean() for o in ordered]))
    if len(names) < 2:
        return stats.Estimate(value, None, len(names), int(y.size), unit)
    where = {name: i for i, name in enumerate(names)}
    owner = np.asarray([where[c] for c in clusters])
    rng = np.random.default_rng(seed)
    counts = np.zeros((stats.N_BOOT, len(names)))
    np.add.at(counts, (np.arange(stats.N_BOOT)[:, None],
                       rng.integers(0, len(names), size=(stats.N_BOOT, len(names)))), 1.0)
    w_pos, w_neg = counts[:, owner[pos]], counts[:, owner[neg]]  # [N_BOOT, n_pos], [.., n_neg]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_seed = np.stack([((w_pos @ o) * w_neg).sum(1) / (w_pos.sum(1) * w_neg.sum(1))
                             for o in ordered], axis=1)  # [N_BOOT, seeds]
    picks = np.zeros((stats.N_BOOT, len(ordered)))
    drawn = rng.integers(0, len(ordered), size=(stats.N_BOOT, len(ordered)))
    np.add.at(picks, (np.arange(stats.N_BOOT)[:, None], drawn), 1.0 / len(ordered))
    boot = (picks * per_seed).sum(1)
    boot = boot[np.isfinite(boot)]
    if boot.size < stats.N_BOOT // 2:
        return stats.Estimate(value, None, len(names), int(y.size), unit)
    return stats.Estimate(value, _percentile_ci(boot, stats.LEVEL), len(names), int(y.size),
                          unit, at_level=lambda lv: _percentile_ci(boot, lv))


def threshold_predictions(scores: list[float], y: list[int], groups: list[int],
                          folds: int) -> np.ndarray:
    """A latent read as a one-line rule: on each training fold (split by trace) the threshold
    (midway between two training values) and direction with the best accuracy, applied to the
    test fold (0/1 predictions, out of fold).

    >>> threshold_predictions([0.1, 0.9, 0.2, 0.8, 0.3, 0.7], [0, 1, 0, 1, 0, 1],
    ...                       [0, 0, 1, 1, 2, 2], folds=3).tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    """
    x, target = np.asarray(scores, dtype=float), np.asarray(y, dtype=float)
    out = np.zeros(len(x))
    for train, test in baselines.group_folds(groups, folds):
        best = (-1.0, 0.0, 1)
        seen = np.unique(x[train])
        for cut in np.concatenate([seen[:1], (seen[1:] + seen[:-1]) / 2]):  # midpoints
            for sign in (1, -1):
                acc = float(((sign * (x[train] - cut) >= 0) == target[train]).mean())
                if acc > best[0]:
                    best = (acc, float(cut), sign)
        _, cut, sign = best
        out[test] = (sign * (x[test] - cut) >= 0).astype(float)
    return out


@dataclass(frozen=True)
class DeadEndLadder:
    """Which 'Left:' states are dead ends: the dead_end latent beside one-line rules and a fitted
    text baseline, on every held-out dead and live state (AUROC, intervals by trace)."""

    n_states: int  # dead and live states scored (per seed)
    n_traces: int  # traces they come from (the bootstrap clusters)
    auroc: dict[str, stats.Estimate]  # name -> AUROC; the latent's averages the SAE seeds
    latent_by_seed: dict[int, stats.Estimate]  # SAE seed -> the latent's AUROC
    strongest: str  # the baseline (not the latent) with the highest AUROC
    latent_minus_strongest: stats.Estimate  # paired by trace, SAE seeds resampled too
    accuracy: dict[str, stats.Estimate]  # the ladder's out-of-fold accuracy (first seed's latent)


LATENT = "dead_end latent (activation, SAE seeds averaged)"
FIRST_RULE = "rule: is the trace's first 'Left:' state"
POSITION_RULE = "rule: token position (earlier = dead)"


def dead_end_ladder(sites: list[dict], folds: int = 5) -> DeadEndLadder | None:
    """The dead_end latent's AUROC for dead vs live 'Left:' states beside the rule "is the first
    'Left:' state", token position, the best one-line rule and the fitted text baseline of
    `starter.baselines` (features: the state's index among its trace's 'Left:' states and its
    position), all out of fold by trace. None with fewer than 2 traces."""
    pair = PAIRS["dead_end"]
    mine = [s for s in sites if s["context"] in pair and s.get("rel_dead_end") is not None]
    seeds = sorted({s["seed"] for s in mine})
    if not seeds:
        return None
    by_seed = {sd: {(s["trace"], s["position"]): s["rel_dead_end"] for s in mine
                    if s["seed"] == sd} for sd in seeds}
    states = sorted(set.intersection(*(set(v) for v in by_seed.values())))
    traces = sorted({t for t, _ in states})
    if len(traces) < 2:
        return None
    context = {(s["trace"], s["position"]): s["context"] for s in mine}
    y = [int(context[k] == pair[0]) for k in states]
    groups = [t for t, _ in states]
    index = {k: sum(1 for t, p in states if t == k[0] and p < k[1]) for k in states}
    first = [float(index[k] == 0) for k in states]
    position = [-float(p) for _, p in states]
    features = [baselines.Features(step_index=index[k], position=k[1], token=".")
                for k in states]
    scores = [[by_seed[sd][k] for k in states] for sd in seeds]
    folds = min(folds, len(traces))
    lad = baselines.ladder(f"dead_end latent, seed {seeds[0]}, threshold fitted out of fold",
                           threshold_predictions(scores[0], y, groups, folds), y, features,
                           groups, folds=folds, rules={FIRST_RULE[len("rule: "):]: first},
                           unit="trace")
    named = {r.name: list(r.predicted) for r in lad.baselines if r.kind != "trivial"}
    named[POSITION_RULE] = position
    auroc = {LATENT: seeds_auroc_difference(scores, None, y, groups)}
    auroc.update({name: stats.auroc_ci(p, y, groups, unit="trace") for name, p in named.items()})
    strongest = max(named, key=lambda name: auroc[name].value)
    return DeadEndLadder(
        n_states=len(states), n_traces=len(traces), auroc=auroc,
        latent_by_seed={sd: stats.auroc_ci(sc, y, groups, unit="trace")
                        for sd, sc in zip(seeds, scores)},
        strongest=strongest,
        latent_minus_strongest=seeds_auroc_difference(scores, named[strongest], y, groups),
        accuracy={r.name: r.estimate for r in (lad.method, *lad.baselines)})


@dataclass(frozen=True)
class TopMatch:
    """How often one chosen latent's top held-out contexts are the site it was chosen for."""

    matched: int  # top contexts, over all seeds, at the named site
    shown: int  # top contexts recorded
    target: str  # the named site


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields."""

    saes: list[str]  # SAEs trained: [own (on backtracking traces), other (on straight ones)]
    data: list[str]  # trace sets they are evaluated on
    seeds: list[int]  # SAE training seeds
    n_chains: int  # sampled chains (0 on the organism)
    n_unfinished: int  # of them, unfinished
    fve: dict[str, dict[str, stats.Estimate]]  # SAE -> data -> variance explained, held out
    fve_words: dict[str, stats.Estimate]  # SAE -> variance explained on backtrack words
    l0: dict[str, dict[str, stats.Estimate]]  # SAE -> data -> active latents per token
    ce_increase: dict[str, dict[str, stats.Estimate]]  # SAE -> data -> CE loss added (nats)
    fve_words_difference: stats.Estimate  # own minus other SAE's FVE on backtrack words
    fve_words_difference_by_seed: dict[int, stats.Estimate]  # seed -> that difference
    sites: dict[str, SiteStats]  # latent role -> its activation at the sites vs control
    fires: dict[str, SiteStats]  # latent role -> how often it fires there vs control
    matched_operator: str | None  # the missed try's operator the decision sites are matched on
    sites_same_operator: dict[str, SiteStats]  # role -> sites matched on that operator
    position_backtrack: stats.Estimate  # where backtrack sites sit in a trace (0 start, 1 end)
    position_continue: stats.Estimate  # where continue sites sit
    position_dead_end: dict[str, stats.Estimate]  # "dead" / "alive" -> where those states sit
    sites_same_position: dict[str, SiteStats]  # "dead_end" -> inside shared position bins
    position_dead_end_binned: dict[str, stats.Estimate]  # "dead" / "alive" -> inside the bins
    top_match: dict[str, TopMatch]  # role -> its latent's top contexts at the named site
    top_contexts: dict[str, list[dict]]  # role -> the first seed's latent's top contexts
    # the primary (since review s15): each trace's first 'Left:' state left out
    sites_not_first: dict[str, SiteStats]  # "dead_end" -> without first states, seeds pooled
    not_first_difference: stats.Estimate | None  # the same gap, traces and SAE seeds resampled
    position_not_first: dict[str, stats.Estimate]  # "dead" / "alive" -> where those states sit
    first_state_dead: tuple[int, int]  # (traces whose first 'Left:' state is dead, traces)
    dead_end_ladder: DeadEndLadder | None  # latent vs rules and fitted text baseline (AUROC)


def analyse(rows: list[dict]) -> Metrics:
    traces = [r for r in rows if r.get("kind") == "trace"]
    sites = [r for r in rows if r.get("kind") == "site"]
    latents = [r for r in rows if r.get("kind") == "sae_latent"]
    chains = [r for r in rows if r.get("kind") == "chain"]
    saes = list(dict.fromkeys(r["sae"] for r in traces))
    data = list(dict.fromkeys(r["data"] for r in traces))
    seeds = sorted({r["seed"] for r in traces})
    a = data[0]

    def of(sae: str, d: str, seed: int | None = None) -> list[dict]:
        return [r for r in traces if r["sae"] == sae and r["data"] == d
                and (seed is None or r["seed"] == seed)]

    m: dict[str, Any] = {"saes": saes, "data": data, "seeds": seeds,
                         "n_chains": len(chains),
                         "n_unfinished": sum(not r["finished"] for r in chains)}
    m["fve"] = {s: {d: fve(of(s, d)) for d in data} for s in saes}
    m["fve_words"] = {s: fve(of(s, a), "wait") for s in saes}
    m["l0"] = {s: {d: stats.mean_ci(*_per_token_items(of(s, d), "l0_sum", "n_tokens"),
                                     unit="trace") for d in data} for s in saes}
    m["ce_increase"] = {s: {d: stats.mean_ci(
        [r["ce_increase"] for r in of(s, d) if r["ce_increase"] is not None],
        [r["trace"] for r in of(s, d) if r["ce_increase"] is not None], unit="trace")
        for d in data} for s in saes}
    own, other = saes[0], saes[1]
    m["fve_words_difference"] = fve_difference(of(own, a), of(other, a))
    m["fve_words_difference_by_seed"] = {
        seed: fve_difference(of(own, a, seed), of(other, a, seed)) for seed in seeds}
    roles = [role for role in ROLES if any(s.get(f"act_{role}") is not None for s in sites)]
    m["sites"] = {role: site_stats(sites, role) for role in roles}
    m["fires"] = {role: site_stats(sites, role, fires=True) for role in roles}
    # The operator of the missed try predicts the decision in the organism (its search tries the
    # operators in a fixed order): match on the one operator seen before both decisions most often.
    counts = {op: min(sum(s["operator"] == op and s["context"] == c for s in sites)
                      for c in ("backtrack", "continue"))
              for op in {s.get("operator") for s in sites} - {None}}
    m["matched_operator"] = max(counts, key=counts.get) if counts and max(counts.values()) else None
    m["sites_same_operator"] = {} if m["matched_operator"] is None else {
        role: site_stats(sites, role, m["matched_operator"]) for role in roles
        if PAIRS[role] == ("backtrack", "continue")}
    first_seed = [s for s in sites if s["seed"] == (seeds[0] if seeds else None)]
    for context, where in positions(first_seed, ("backtrack", "continue")).items():
        m[f"position_{context}"] = where
    # Neither pair is matched on position: its gap is shown beside each claim.
    m["position_dead_end"] = positions(first_seed, PAIRS["dead_end"])
    # Dead states sit early in a trace and the live one last, so the dead_end latent is also
    # compared inside position bins that hold both kinds (added after seeing the gap).
    m["sites_same_position"] = m["position_dead_end_binned"] = {}  # none without dead_end
    if "dead_end" in roles:
        binned = in_shared_bins(sites, PAIRS["dead_end"], POSITION_BIN)
        m["sites_same_position"] = {"dead_end": site_stats(binned, "dead_end", paired=False)}
        first_binned = [s for s in binned if s["seed"] == seeds[0]]
        m["position_dead_end_binned"] = positions(first_binned, PAIRS["dead_end"], paired=False)
    m["sites_not_first"], m["not_first_difference"], m["position_not_first"] = {}, None, {}
    m["first_state_dead"], m["dead_end_ladder"] = (0, 0), None
    if "dead_end" in roles:
        later = without_first_left(sites)
        m["sites_not_first"] = {"dead_end": site_stats(later, "dead_end")}
        m["not_first_difference"] = seeds_paired_difference(later)
        m["position_not_first"] = positions([s for s in later if s["seed"] == seeds[0]],
                                            PAIRS["dead_end"])
        starts = first_left(first_seed)
        m["first_state_dead"] = (sum(s["context"] == "dead" for s in first_seed
                                     if starts.get((s["seed"], s["trace"])) == s["position"]
                                     and s["context"] in PAIRS["dead_end"]), len(starts))
        m["dead_end_ladder"] = dead_end_ladder(sites)
    m["top_match"] = {role: TopMatch(matched=sum(t["site"] == r["target"] for r in latents
                                                 if r["role"] == role for t in r["top"]),
                                     shown=sum(len(r["top"]) for r in latents
                                               if r["role"] == role),
                                     target=next(r["target"] for r in latents
                                                 if r["role"] == role))
                      for role in dict.fromkeys(r["role"] for r in latents)}
    first = [r for r in latents if r["seed"] == seeds[0]]  # the first seed's latents, shown whole
    m["top_contexts"] = {r["role"]: [{"latent": r["latent"], "context": t["context"],
                                      "activation": round(t["activation"], 3)} for t in r["top"]]
                         for r in first}
    return Metrics(**m)


# %% [markdown]
# ## Figure

# %%
def _bars(ax, labels: list[str], estimates: list[stats.Estimate], colours: list[str]) -> None:
    estimate_bars(ax, range(len(estimates)), estimates, color=colours)
    ax.set_xticks(range(len(estimates)), labels, fontsize=7)


def plot(rows: list[dict], metrics: Metrics):
    import matplotlib.pyplot as plt

    m = metrics
    a = m.data[0]
    fig, axes = plt.subplots(2, 2, figsize=(7, 7))
    ax = axes[0, 0]
    width = 0.8 / len(m.saes)
    groups = [f"{d}\nall tokens" for d in m.data] + [f"{a}\nbacktrack words"]
    for j, sae in enumerate(m.saes):
        ests = [m.fve[sae][d] for d in m.data] + [m.fve_words[sae]]
        xs = np.arange(len(ests)) + (j - (len(m.saes) - 1) / 2) * width
        estimate_bars(ax, xs, ests, width, capsize=2, label=sae)
    ax.set_xticks(range(len(groups)), groups, fontsize=7)
    ax.set(ylabel="FVE (each subset about its own mean)")
    ax.set_title("Reconstruction, held-out traces", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.18), ncol=2, frameon=False)
    for ax, role in zip((axes[0, 1], axes[1, 0]), ("decision", "wait")):
        site = m.sites.get(role)
        if site is None:
            ax.set_axis_off()
            ax.set_title(f"{role} latent: no decision points in this text", fontsize=8)
            continue
        labels = ["before\nbacktrack", "before\ntry"]
        ests = [site.backtrack, site.control]
        colours = ["C3", "C7"]
        same = m.sites_same_operator.get(role)
        if same is not None:
            op = m.matched_operator
            labels += [f"'{op}' miss,\nbacktrack", f"'{op}' miss,\ntry"]
            ests += [same.backtrack, same.control]
            colours += ["salmon", "silver"]
        _bars(ax, labels + ["the\nword"], ests + [site.on_words], colours + ["C0"])
        ax.set(ylabel="activation / training mean at target",
               xlabel="the '.' closing a Miss, or the word")
        ax.set_title(f"'{role}' latent, held-out traces", fontsize=9)
    ax = axes[1, 1]
    series = [(f"{r}\nlatent", m.sites[r].by_seed) for r in m.sites]
    if "decision" in m.sites_same_operator:
        series.append((f"decision,\n'{m.matched_operator}' only",
                       m.sites_same_operator["decision"].by_seed))
    if "dead_end" in m.sites_same_position:
        series.append(("dead_end,\nsame pos.", m.sites_same_position["dead_end"].by_seed))
    if "dead_end" in m.sites_not_first:
        series.append(("dead_end, not\nfirst (primary)", m.sites_not_first["dead_end"].by_seed))
    series.append(("FVE on\nwords", m.fve_words_difference_by_seed))
    for i, (_label, by_seed) in enumerate(series):
        for j, (seed, e) in enumerate(by_seed.items()):
            x = i + (j - (len(by_seed) - 1) / 2) * 0.15
            estimate_points(ax, [x], [e], fmt="o", color=f"C{j}", capsize=2,
                            label=f"seed {seed}" if i == 0 else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(series)), [label.replace("\n", " ") for label, _ in series],
                  fontsize=6, rotation=40, ha="right")
    ax.set(ylabel="difference (95% CI)", xlabel="backtrack - try, dead - live; own - other SAE")
    ax.set_title("Each claim per SAE seed", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims

# %%
def _plus(e: stats.Estimate, shift: float) -> stats.Estimate:
    """`e` moved by `shift` (value and interval): a control plus a minimum effect size.

    >>> _plus(stats.Estimate(0.2, (0.1, 0.3), 10, 20, "trace"), 0.1).ci
    (0.2, 0.4)
    """
    def moved(ci: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if ci is None else (ci[0] + shift, ci[1] + shift)

    side = e.at_level  # intervals at other levels (Holm) move with it
    return dataclasses.replace(e, value=e.value + shift, ci=moved(e.ci),
                               at_level=None if side is None else lambda lv: moved(side(lv)))


def claims(m: Metrics) -> list[Claim]:
    a, b = m.data[0], m.data[1]
    own, other = m.saes[0], m.saes[1]
    # Trained path: the other SAE learned only on B, so the words are new to it by construction.
    trained = other == f"sae-{b}"
    prefix = (f"Positive control (expected from the training text: {other} learned on {b} "
              "text only, where the words are rare or absent): " if trained else "")
    found = [compare(
        f"{prefix}On the backtracking words of held-out {a} text, scored against their own "
        f"mean, the SAE {own} explains more variance than {other}.",
        f"FVE on backtracking words, {own}", m.fve_words[own],
        f"{other} on the same tokens", f"FVE on backtracking words, {other}", m.fve_words[other],
        m.fve_words_difference, key="fve-words")]
    op = m.matched_operator
    if "decision" in m.sites:
        site = m.sites["decision"]
        cue = ""
        if op is not None and "decision" in m.sites_same_operator:
            same = m.sites_same_operator["decision"].difference.value
            cue = (f" Matched on the operator the gap is {same:+.2f} against "
                   f"{site.difference.value:+.2f}")
            cue += (": mostly explained by the operator, a cue in the text."
                    if abs(same) < abs(site.difference.value) / 2 else ".")
        found.append(compare(
            "The same token, operator not matched: a latent chosen on training traces is more "
            "active on the '.' closing a Miss that the organism follows with a backtrack than on "
            "the same token closing a Miss it follows with another try (held-out traces, SAE "
            f"seeds pooled; the operator of the missed try differs between the two).{cue}",
            f"decision latent activation / {SCALE}, '.' before a backtrack", site.backtrack,
            "the same token in the same traces, another try next",
            "the same, '.' before a try", site.control, site.difference, key="decision"))
    if "decision" in m.sites_same_operator:
        site = m.sites_same_operator["decision"]
        found.append(compare(
            f"Exploratory (added after seeing the data): matched on the operator, after a missed "
            f"'{op}' try the decision latent is more active on the '.' before a backtrack than "
            f"on the '.' before another try. Unpaired: the two sides come from different sets "
            f"of traces.",
            f"decision latent activation / {SCALE}, '.' before a backtrack, '{op}' missed",
            site.backtrack, f"the same token after a missed '{op}', another try next",
            f"the same, '.' before a try, '{op}' missed", site.control, site.difference,
            key="decision-same-operator"))
    if "wait" in m.sites and "decision" in m.sites:
        site = m.sites["wait"]
        found.append(compare(
            f"The latent most specific to ' Wait' is already active at the decision before it: "
            f"more on the '.' before a backtrack than on the '.' before another try, by at least "
            f"the minimum effect size of {SMALL} of its activation at its target, a constant set "
            f"beforehand (below it: a token detector that barely sees the decision).",
            f"wait latent activation / {SCALE}, '.' before a backtrack", site.backtrack,
            f"the same token in the same traces, another try next, plus the minimum gap {SMALL}",
            f"the same, '.' before a try, + {SMALL}", _plus(site.control, SMALL),
            _plus(site.difference, -SMALL), key="wait-at-decision"))
    if "dead_end" in m.sites:
        site = m.sites["dead_end"]
        at = m.position_dead_end
        binned = m.sites_same_position.get("dead_end")
        matched = "" if binned is None else (
            f" Matched on position the gap is {binned.difference.value:+.2f} against "
            f"{site.difference.value:+.2f} (the exploratory claim below).")
        found.append(compare(
            "The primary claim until review s15, explained there by the rule 'is the trace's "
            "first Left: state' (every trace's first state is a dead end): "
            "a latent chosen on training traces is more active on "
            "the '.' closing a 'Left: a, b.' state that is a dead end (no final try reaches the "
            "target) than on the same token closing a live state (held-out traces, SAE seeds "
            "pooled; a property of the numbers that no single token shows). Not matched on "
            f"position: dead states sit at token {at['dead'].value:.0f}, live ones at "
            f"{at['alive'].value:.0f} on average, so the latent may partly read where in the "
            "trace it is." + matched,
            f"dead_end latent activation / {SCALE}, '.' closing a dead-end state", site.backtrack,
            "the same token in the same traces, closing a live state",
            "the same, '.' closing a live state", site.control, site.difference, key="dead_end"))
    if "dead_end" in m.sites_not_first and m.not_first_difference is not None:
        site, at = m.sites_not_first["dead_end"], m.position_not_first
        found.append(compare(
            "A known latent, the same token, each trace's first 'Left:' state left out (the "
            "primary since review s15): a latent chosen on training traces is more active on the "
            "'.' closing a dead-end 'Left: a, b.' state that is not the trace's first 'Left:' "
            "than on the same token closing the live state of the same trace (held-out traces "
            "with both; the interval resamples traces and SAE seeds). Still not matched on "
            f"position: those dead states sit at token {at['dead'].value:.0f}, the live ones at "
            f"{at['alive'].value:.0f} on average.",
            f"dead_end latent activation / {SCALE}, dead-end '.', not the first 'Left:'",
            site.backtrack, "the same token closing the live state of the same traces",
            "the same, '.' closing a live state", site.control, m.not_first_difference,
            key="dead_end-not-first"))
    lad = m.dead_end_ladder
    if lad is not None:
        top = lad.auroc[lad.strongest]
        found.append(compare(
            "The dead_end latent tells dead from live 'Left:' states (every held-out state; "
            "AUROC, SAE seeds averaged, the interval resampling traces and seeds) better than "
            f"the strongest text baseline, {lad.strongest} (beside: 'is the trace's first "
            "Left: state', token position, the best one-line rule and a fitted text baseline, "
            "out of fold by trace).",
            "AUROC, dead vs live 'Left:' states, dead_end latent", lad.auroc[LATENT],
            lad.strongest, f"AUROC, {lad.strongest}", top, lad.latent_minus_strongest,
            key="dead_end-vs-baselines",
            strongest_baseline=Baseline(lad.strongest, top)))
    if "dead_end" in m.sites_same_position:
        site = m.sites_same_position["dead_end"]
        at = m.position_dead_end_binned
        found.append(compare(
            "Exploratory (added after seeing the position gap; unpaired, across traces): matched "
            f"on position in bins of {POSITION_BIN} tokens holding both kinds, the dead_end "
            "latent is still more active on the '.' closing a dead-end 'Left:' state than on "
            "the same token closing a live one (dead states at "
            f"token {at['dead'].value:.0f}, live ones at {at['alive'].value:.0f} on average).",
            f"dead_end latent activation / {SCALE}, dead-end '.', shared position bins",
            site.backtrack, "the same token closing a live state, in the same position bins",
            "the same, '.' closing a live state", site.control, site.difference,
            key="dead_end-same-position"))
    return declare(found, PRIMARY)


def _per_seed(by_seed: dict[int, stats.Estimate]) -> str:
    parts = []
    for seed, e in by_seed.items():
        interval = f" ({e.ci[0]:+.2f} to {e.ci[1]:+.2f})" if e.ci else " (no interval)"
        parts.append(f"seed {seed}: {e.value:+.2f}{interval}")
    clear = sum(e.excludes_zero for e in by_seed.values())
    text = f"{'; '.join(parts)}; {clear}/{len(by_seed)} seeds' intervals exclude zero"
    values = [e.value for e in by_seed.values()]
    if len(values) > 1:
        text += (f"; the pooled interval resamples traces only and treats the SAE seeds as fixed, "
                 f"so this spread across seeds ({min(values):+.2f} to {max(values):+.2f}) is not "
                 "in it")
    return text


def read_first(m: Metrics) -> str:
    """What changed since review s15 and why, for the top of the summary."""
    d = stats.describe
    lad = m.dead_end_ladder
    rule = "" if lad is None else (
        f" Telling dead from live states, the latent's AUROC is {d(lad.auroc[LATENT])}, 'is the "
        f"first Left:' {d(lad.auroc[FIRST_RULE])}, token position "
        f"{d(lad.auroc[POSITION_RULE])}.")
    gap = m.not_first_difference
    now = "" if gap is None else f" On this run the new primary's difference is {d(gap)}."
    return ("Read first: the primary claim changed after review s15. The old primary (the "
            "dead_end latent is more active at dead-end 'Left:' states than at live ones, "
            f"{d(m.sites['dead_end'].difference)} here) is explained by a one-line rule: in "
            f"these traces the first 'Left:' state is a dead end ({m.first_state_dead[0]} of "
            f"{m.first_state_dead[1]} traces), the live state is the last, and the latent fires "
            f"on the first state." + rule + " The new primary leaves each trace's first 'Left:' "
            "state out and compares the dead states after it with the live state of the same "
            "traces, its interval resampling traces and SAE seeds." + now + " The old primary is "
            "kept as a secondary claim.")


def ladder_table(lad: DeadEndLadder) -> str:
    """The dead_end latent beside its baselines: AUROC and out-of-fold accuracy, by trace."""
    d = stats.describe
    lines = [f"Which 'Left:' states are dead ends ({lad.n_states} held-out states from "
             f"{lad.n_traces} traces; intervals resample traces; the latent's AUROC averages the "
             "SAE seeds and resamples them; rules and fitted baseline out of fold by trace):",
             "", "| score | AUROC |", "|---|---|"]
    lines += [f"| {name} | {d(e)} |" for name, e in lad.auroc.items()]
    lines += [f"| dead_end latent, seed {sd} | {d(e)} |" for sd, e in lad.latent_by_seed.items()]
    lines += ["", f"Strongest baseline: {lad.strongest}; the latent minus it "
              f"{d(lad.latent_minus_strongest)}. The label itself equals 'not the trace's last "
              "Left: state' in the base's traces, a cue from the text after the token that no "
              "rung here uses.", "", "| rung (threshold 0.5, out of fold) | accuracy |",
              "|---|---|"]
    lines += [f"| {name} | {d(e)} |" for name, e in lad.accuracy.items()]
    return "\n".join(lines)


def findings(m: Metrics) -> str:
    d = stats.describe
    a, b = m.data[0], m.data[1]
    own, other = m.saes[0], m.saes[1]
    lines = [] if "dead_end" not in m.sites_not_first else [read_first(m), ""]
    lines.append(f"SAE seeds: {', '.join(map(str, m.seeds))}; every interval resamples held-out "
                 "traces (one per problem), seeds pooled: it treats the SAE seed as fixed, so "
                 "the variation between SAE seeds (listed per seed below) is not in it, except "
                 "the primary claim's and the AUROCs of the dead_end latent, which resample the "
                 "seeds too.")
    if m.n_chains:
        lines.append(f"{m.n_chains} generated traces, {m.n_unfinished} unfinished (no "
                     "`</think>` and answer within the budget); they stay in A as reasoning text.")
    for sae in m.saes:
        lines.append(f"- {sae}: FVE on {a} {d(m.fve[sae][a])}, on {b} {d(m.fve[sae][b])}, on "
                     f"{a}'s backtracking words {d(m.fve_words[sae])}; L0 on {a} "
                     f"{d(m.l0[sae][a], 1)}; loss increase spliced in, on {a} "
                     f"{d(m.ce_increase[sae][a], 3)}, on {b} {d(m.ce_increase[sae][b], 3)}.")
    lines.append("FVE about a subset's own mean below 0: the reconstruction is further from each "
                 "token than that subset's average token is.")
    lines.append(f"\nControl (the other SAE on the same tokens): {own} minus {other} on {a}'s "
                 f"backtracking words, {d(m.fve_words_difference)}; per seed: "
                 f"{_per_seed(m.fve_words_difference_by_seed)}.")
    if "decision" not in m.sites:
        lines.append("\nToken identity: this text has no ground truth saying which 'Wait' is a "
                     "backtrack, so the decision-point control runs on the organism only; the "
                     "'Wait' latent here may be a token detector.")
        return "\n".join(lines)
    lines.append(
        "\nToken identity. In the organism every ' Wait' starts a backtrack, so the same token "
        "cannot be compared in backtracking and non-backtracking contexts: the organism cannot "
        "separate ' Wait' from backtracking. The control is the '.' closing a 'Miss.' step, "
        "followed by ' Wait' (backtrack) or by ' Try' (another try in the branch): same token, "
        "same step type, same traces (traces with both kinds only); not matched on position: "
        f"the '.' before another try sits at token {d(m.position_continue, 1)}, the one "
        f"before a backtrack at {d(m.position_backtrack, 1)}.")
    for role in ("decision", "wait"):
        site = m.sites[role]
        if not site.difference.excludes_zero:
            verdict = "At this n it does not tell the decisions apart: a token detector here."
        elif abs(site.difference.value) < SMALL:
            verdict = (f"The gap excludes zero but is under {SMALL} of its typical activation at "
                       "its target: read it as a token detector that barely sees the decision.")
        else:
            verdict = ("It separates the decisions at the same token, with the operator of the "
                       "missed try not matched (see the matched comparison below).")
        fires = m.fires[role]
        lines.append(f"- The '{role}' latent's activation (in units of {SCALE}) at the '.' "
                     f"before a backtrack: "
                     f"{d(site.backtrack)}, before another try: {d(site.control)}; difference "
                     f"{d(site.difference)} (per seed: {_per_seed(site.by_seed)}). On the "
                     f"backtracking words themselves: {d(site.on_words)}. It is active at the "
                     f"'.' before a backtrack in {d(fires.backtrack)} of cases, before another "
                     f"try in {d(fires.control)}, on the words in {d(fires.on_words)}. " + verdict)
    if "dead_end" in m.sites:
        site, fires = m.sites["dead_end"], m.fires["dead_end"]
        lines.append(
            f"- A known latent: the 'dead_end' latent's activation (in units of {SCALE}) at the "
            f"'.' closing a dead-end 'Left: a, b.' state: {d(site.backtrack)}, at the same token "
            f"closing a live state: {d(site.control)}; difference {d(site.difference)} (per seed: "
            f"{_per_seed(site.by_seed)}). Active at dead states in {d(fires.backtrack)} of cases, "
            f"at live ones in {d(fires.control)}. These are the base's own search traces: the "
            f"live state is each trace's last 'Left:', so how far into the trace it sits is a "
            f"cue (dead states at token {d(m.position_dead_end['dead'], 1)}, live ones at "
            f"{d(m.position_dead_end['alive'], 1)}), and after a dead state the text goes on "
            f"with tries that a model planning its backtracks would not write.")
        if "dead_end" in m.sites_same_position:
            binned = m.sites_same_position["dead_end"]
            lines.append(
                f"  Matched on position (bins of {POSITION_BIN} tokens holding both kinds, "
                f"unpaired across traces; exploratory): dead {d(binned.backtrack)}, live "
                f"{d(binned.control)}; difference "
                f"{d(binned.difference)} (per seed: {_per_seed(binned.by_seed)}).")
    if "dead_end" in m.sites_not_first:
        later, at = m.sites_not_first["dead_end"], m.position_not_first
        lines.append(
            f"  Each trace's first 'Left:' state left out (the primary since review s15; "
            f"{m.first_state_dead[0]} of {m.first_state_dead[1]} traces' first state is dead): "
            f"dead {d(later.backtrack)}, live in the same traces {d(later.control)}; "
            f"difference {d(m.not_first_difference)} with traces and SAE seeds resampled "
            f"(seeds pooled, traces only: {d(later.difference)}; per seed: "
            f"{_per_seed(later.by_seed)}). Those dead states sit at token "
            f"{d(at['dead'], 1)}, the live ones at {d(at['alive'], 1)}.")
    if m.dead_end_ladder is not None:
        lines += ["", ladder_table(m.dead_end_ladder)]
    op = m.matched_operator
    if op is not None:
        site = m.sites_same_operator["decision"]
        lines.append(
            f"\nThe operator of the missed try predicts the decision here (the search tries them "
            f"in a fixed order), so the sharpest control keeps it fixed: after a missed '{op}', "
            f"the 'decision' latent's activation before a backtrack is {d(site.backtrack)}, "
            f"before another try {d(site.control)}; difference {d(site.difference)} (per seed: "
            f"{_per_seed(site.by_seed)}), against {d(m.sites['decision'].difference)} "
            f"unmatched. Where the matched gap is much smaller, the latent mostly reads which "
            f"operator missed, a cue the text shows, rather than a decision the text hides.")
    lines.append("\nTop held-out contexts (the token in [[ ]], two tokens after it):")
    for role, match in m.top_match.items():
        shown = m.top_contexts.get(role, [])
        examples = ", ".join(f"`{t['context']}` ({t['activation']:.2f})" for t in shown)
        latent = shown[0]["latent"] if shown else "-"
        lines.append(f"- '{role}' latent: {match.matched}/{match.shown} of its top contexts "
                     f"over all seeds are the named site ({match.target}). Seed "
                     f"{m.seeds[0]}, latent #{latent}: {examples or 'none fired'}.")
    lines.append("\nAn organism result is a hypothesis about R1-distill: `--preset gpu` makes the "
                 "FVE measurements with the Llama Scope SAEs.")
    return "\n".join(lines)


# %% [markdown]
# ## Does the method work? (planted truth)
#
# The planned-backtracking variant writes "Wait, backtrack." right after a dead-end "Left: a, b."
# state, so it must compute dead-endness at the "." closing it; the base need not. The best
# latent for it, judged on held-out traces against the same token closing a live state, should
# separate the two by more in the planned variant than in the base (order only).


# %%
def measure_dead_end(m: Metrics) -> Measured:
    """The dead_end latent at dead-end "Left:" states minus the same token at live ones."""
    site = m.sites.get("dead_end")
    if site is None:  # no "Left:" states in these texts
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(site.difference)


def measure_dead_end_by_position(m: Metrics) -> Measured:
    """The same difference inside position bins that hold both kinds (unpaired, across traces):
    dead states sit earlier in a trace than the live one, so position alone could separate them."""
    site = m.sites_same_position.get("dead_end")
    if site is None:
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(site.difference)


def measure_dead_end_not_first(m: Metrics) -> Measured:
    """The primary claim's gap: the dead_end latent at dead-end "Left:" states other than the
    trace's first, minus the same token at live ones (traces resampled)."""
    if m.not_first_difference is None:  # no dead state after the first one in these texts
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(m.not_first_difference)


VALIDATION_ARMS = (
    Arm("tinythinker", None, label="base"),  # reactive: need not compute dead-endness
    Arm("tinythinker-planned", None, learned="backtrack_at_dead_left"),  # must compute it
)
VALIDATION_SETTINGS = {"smoke": ("n_seeds=1",), "cpu": ("n_seeds=1",)}
VALIDATION = (
    Validation(  # the primary claim's own comparison (added with the primary after review s15)
        quantity="primary: dead_end latent at a dead-end Left '.' that is not the trace's first "
                 "minus the same token at a live one",
        arms=VALIDATION_ARMS,
        measure=measure_dead_end_not_first,
        meaning=("Every trace's first 'Left:' state is a dead end, so a latent that fires on the "
                 "first state separates dead from live by position; without the first states, "
                 "the planned variant (which must compute dead-endness at every state) should "
                 "still show a larger gap than the base and the retrained control."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="dead_end latent at a dead-end Left '.' minus the same token at a live one",
        arms=VALIDATION_ARMS,
        measure=measure_dead_end,
        meaning=("An SAE latent that separates a computed property beyond token identity more "
                 "where the model must compute it reads that computation; on R1-distill, a latent "
                 "that beats its same-token control is then some evidence of a decision feature."),
        settings=VALIDATION_SETTINGS),
    Validation(  # added once the cpu result showed the position gap; same runs, no new sampling
        quantity=f"the same, matched on position (bins of {POSITION_BIN} tokens, unpaired)",
        arms=VALIDATION_ARMS,
        measure=measure_dead_end_by_position,
        meaning=("Dead states sit earlier in a trace than live ones, so a latent can separate them "
                 "by position alone; matched on position, the gap must still order the variants "
                 "as planted before the latent counts as reading dead-endness."),
        settings=VALIDATION_SETTINGS),
)

# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run sae --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stage of `run`: none on the organism (its traces come from its own grammar);
    on any other model, one reasoning trace per problem at SamplingConfig's default batch size."""
    if cfg.model == "tinythinker":
        return []
    return [Generation("reasoning traces, one per problem", sequences=cfg.n_texts,
                       max_new_tokens=cfg.max_new_tokens, batch_size=SamplingConfig().batch_size)]


STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("wait", "backtracking", "uncertainty"),  # searches with shipped offline fixtures
    try_next=("Steer with the decision latent's decoder direction (steering starter); "
              "count the 'Wait's.",
              "Train on more layers: where does the decision latent first appear?",
              "On R1-distill, compare the base SAE's latents before and after finetuning: "
              "which ones moved?",
              "Label R1's 'Wait's as backtracking or not (the cot tagger) to run the token "
              "control there."),
)

if __name__ == "__main__":
    run_starter(STARTER)
