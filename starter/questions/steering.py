# %% [markdown]
# # Can steering vectors steer the reasoning?
#
# Venhoff, Arcuschin, Torr, Conmy and Nanda 2025 (arXiv 2506.18167) added the mean residual stream
# before backtracking sentences minus the mean before other sentences during generation: the model
# backtracked more (subtracting it: less). We sweep the strength alpha (small and large, negative
# too) on held-out problems and count backtracks **only where they are valid by the organism's
# ground truth**: the branch was exhausted (every final operation the search would try from that
# "Left:" state was tried) or was left at once at a dead end (none of them reaches the target, so
# leaving before trying loses nothing: the planned variant's backtracks). Premature backtracks,
# unfinished traces and repeated "Wait" are reported per alpha on their own lines.
#
# **Controls.** (1) Five random vectors of the same norm at the same alphas (any big vector disturbs
# the model; only the gap to random is the vector's own effect). (2) A matched contrast: the mean
# before a backtrack *after a check* ("Miss.") minus the mean after a "Miss." the model did not
# follow with a backtrack, so the vector is not just a "Miss." direction (Venhoff's vector compares
# pre-backtrack steps, all "Miss." on the organism, with every other step). Both are rescaled to the
# same norm. A second vector, "be creative" (creative minus plain prompt at the last prompt token),
# is fitted on some problems and evaluated on others; we measure how different one problem's samples
# are. The organism reads no English, so that part runs on a chat model (SmolLM2-135M instead of the
# organism). Run: `mi-starter run steering --preset smoke`. Outputs: results.jsonl (kinds "fit",
# "vector", "steer", "creative", "sae"), figure.png, summary.md, findings.json.
#
# **Primary claim, declared before the run** (`PRIMARY` below): adding the backtracking vector at
# the claim's alpha raises valid backtracks above random vectors of the same norm. The others are
# secondary, Holm-adjusted.

# %%
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from starter import activations, cot, grading, stats
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.models import get_spec, load_model
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.rollouts import sample
from starter.tasks import get_task_set
from starter.tasks.countdown import (
    FINAL_OPS_TARGET_ABOVE,
    FINAL_OPS_TARGET_WITHIN,
    apply_op,
    problem_key,
)
from starter.trees import canonical_operation

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "backtrack-vs-random"

CREATIVE = " Be creative: find an unusual, original way to do it."  # appended to the question
ENGLISH_FALLBACK = "smollm2-135m"  # runs the creativity part when the main model is the organism
ALPHAS = (-1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 1.0)  # multiples of the vector
# Fewer problems than this get no interval and no claim: a bootstrap over 2-4 clusters has a
# handful of distinct resamples and claims a certainty it does not have.
MIN_PROBLEMS = 5

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    layer: int = -1  # residual layer to read and steer (-1: the middle block)
    fit_problems: int = 40  # problems whose sampled traces give the vectors
    fit_samples: int = 4  # samples per fit problem (temperature 1: many backtracks to average)
    eval_problems: int = 40  # other problems, solved greedily under each (vector, alpha)
    alphas: tuple[float, ...] = ALPHAS  # multiples of the vector; must hold 0.0 (unsteered)
    # the alpha the claims compare at; None: chosen on the fit problems before the evaluation
    # (the smallest positive alpha whose greedy traces differ from unsteered on >= min_changed
    # of them), so the claim reads an alpha where the vector moves traces
    claim_alpha: float | None = None
    min_changed: float = 0.25  # share of fit problems a picked claim alpha must change
    n_random: int = 5  # isotropic random vectors of the same norm (the control's mean and spread)
    n_cov_random: int = 5  # random vectors drawn from the residual covariance, same norm
    max_new_tokens: int = 200  # organism traces are <= 143 tokens; a steered loop is cut here
    steer_batch: int = 256  # (condition, problem) rows per steered generate call
    creative_model: str | None = None  # None: the main model, or ENGLISH_FALLBACK; "": skip
    creative_fit_problems: int = 8  # questions the creativity vector is fitted on
    creative_problems: int = 8  # other questions it is evaluated on
    creative_samples: int = 4  # samples per question whose diversity we measure
    creative_alphas: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)  # multiples of the creativity vector
    creative_max_new_tokens: int = 96  # length of each creative sample
    sae_top_k: int = 10  # SAE latents (decoder cosine) explaining the vector, where there are SAEs
    batch_size: int = 32  # sequences per generate call when fitting and for creativity

    def __post_init__(self) -> None:
        super().__post_init__()
        if 0.0 not in self.alphas or 0.0 not in self.creative_alphas:
            raise UsageError(f"alphas and creative_alphas need 0.0 (the baseline); got "
                             f"{self.alphas}, {self.creative_alphas}")
        if self.claim_alpha is None and not any(a > 0 for a in self.alphas):
            raise UsageError(f"alphas={self.alphas}: picking claim_alpha needs a positive alpha")
        if self.claim_alpha is not None and (self.claim_alpha not in self.alphas
                                             or self.claim_alpha == 0.0):
            raise UsageError(f"claim_alpha={self.claim_alpha} must be a non-zero value of alphas")
        if min(self.fit_problems, self.eval_problems, self.n_random, self.n_cov_random) < 1:
            raise UsageError(f"fit_problems, eval_problems and n_random must be >= 1; got {self}")


PRESETS = {  # smoke skips the creativity part (SmolLM2 on 2 busy cores takes minutes)
    # smoke: 6 evaluation problems, the fewest that leave >= MIN_PROBLEMS for a claim
    "smoke": Config(fit_problems=6, fit_samples=3, eval_problems=6, alphas=(-0.5, 0.0, 0.1, 0.5),
                    claim_alpha=0.5, n_random=2, n_cov_random=1, max_new_tokens=160,
                    creative_model=""),
    # cpu: one generate call per part (on 2 busy cores a call costs minutes whatever its batch);
    # 46 asked: 41 remain once the 5 sharing (numbers, target) with a fit problem are dropped
    "cpu": Config(fit_problems=20, eval_problems=46, alphas=(-1.0, -0.5, 0.0, 0.5, 1.0),
                  n_random=3, n_cov_random=3, steer_batch=2048, batch_size=80,
                  creative_fit_problems=4, creative_problems=4, creative_samples=3,
                  creative_alphas=(0.0, 4.0), creative_max_new_tokens=48),
    # R1-distill Countdown chains run 500-2000 tokens; steering makes some longer: 2048, unfinished
    # traces counted per alpha.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", fit_problems=32,
                  eval_problems=48, max_new_tokens=2048, steer_batch=64,
                  creative_max_new_tokens=256),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      fit_problems=3, fit_samples=2, eval_problems=2, n_random=1,
                                      max_new_tokens=24, creative_problems=1,
                                      creative_fit_problems=1, creative_samples=2,
                                      creative_max_new_tokens=8)


def layer_of(lm, cfg: Config) -> int:  # the middle block unless the config names one
    return lm.n_layers // 2 if cfg.layer == -1 else cfg.layer


def split_problems(n_fit: int, n_eval: int, seed: int) -> tuple[list, list]:
    """Fit and evaluation problems with no (numbers, target) in common (an evaluation problem
    that shares them with a fit problem is dropped; the run records how many)."""
    problems = get_task_set("countdown").make(n_fit + n_eval, seed=seed)
    fit = problems[:n_fit]
    keys = {problem_key(p.meta["numbers"], p.meta["target"]) for p in fit}
    evaluate = [p for p in problems[n_fit:]
                if problem_key(p.meta["numbers"], p.meta["target"]) not in keys]
    return fit, evaluate


# %% [markdown]
# ## Ground truth: was a backtrack valid (the branch exhausted, or a dead end)?
# A backtrack is valid when every final operation the search tries from its "Left: a, b." state
# was tried (exhausted: how the base backtracks), or when it comes right after "Left:", before any
# try, and none of those operations reaches the target (a dead end seen at once: how
# `tinythinker-planned` backtracks). The same rule for every model: it reads the state and the
# text, not who wrote them. A dead end left after some but not all of its tries stays premature,
# as before, so the base's numbers do not move (on the committed cpu result 5 of 289 backtracks,
# all from the matched vector at alpha +1, become valid). `dead_end_backtracks` counts the
# backtracks valid by the new clause alone: the exhausted-only count is valid minus it.


# %%
_LEFT = re.compile(r"Left: (\d+), (\d+)")
KINDS = ("exhausted", "dead_end", "premature")  # valid, valid, not valid


def backtrack_kinds(target: int, texts: list[str], tags: list[str]) -> list[str]:
    """One kind per backtrack step: "exhausted" (every final operation the search tries from the
    last "Left: a, b." state was tried: `+`,`*` if the target exceeds both, else `-`,`/` when
    exact), else "dead_end" (no operation tried since "Left:" and none of those reaches the
    target), else "premature" (also when no branch is open).

    >>> steps = ["Left: 27, 4.", "Try 27-4=23.", "Miss.", "Wait, backtrack.", "Left: 24, 4.",
    ...          "Try 24-4=20.", "Miss.", "Wait, backtrack.", "Left: 30, 4.", "Wait, backtrack."]
    >>> backtrack_kinds(6, steps, ["plan", "compute", "verify", "backtrack"] * 2
    ...                 + ["plan", "backtrack"])
    ['exhausted', 'premature', 'dead_end']
    """
    out, left, tried = [], None, set()
    for text, tag in zip(texts, tags):
        if m := _LEFT.search(text):
            left, tried = (int(m.group(1)), int(m.group(2))), set()
        elif tag == "backtrack":
            if left is not None and set(_final_operations(left, target)) <= tried:
                out.append("exhausted")
            elif (left is not None and not tried
                  and target not in _final_operations(left, target).values()):
                out.append("dead_end")
            else:
                out.append("premature")
            left, tried = None, set()
        elif (op := canonical_operation(text)) is not None:
            tried.add(op)
    return out


def backtrack_validity(target: int, texts: list[str], tags: list[str]) -> list[bool]:
    """One flag per backtrack step: valid when its branch was exhausted, or left at once at a
    dead end (`backtrack_kinds`).

    >>> steps = ["Left: 27, 4.", "Try 27-4=23.", "Miss.", "Wait, backtrack.", "Left: 24, 4.",
    ...          "Try 24-4=20.", "Miss.", "Wait, backtrack."]
    >>> backtrack_validity(6, steps, ["plan", "compute", "verify", "backtrack"] * 2)
    [True, False]
    """
    return [kind != "premature" for kind in backtrack_kinds(target, texts, tags)]


def _final_operations(left: tuple[int, int], target: int) -> dict[str, int]:
    """The search's final operations from a "Left:" state: canonical operation -> value."""
    ops = FINAL_OPS_TARGET_ABOVE if target > max(left) else FINAL_OPS_TARGET_WITHIN
    written = [apply_op(left[0], op, left[1]) for op in ops]
    return {canonical_operation(w[0]): w[1] for w in written if w is not None}


# The degeneration filter, one line: a trace is degenerate when a run of 1-3 words comes three
# times back to back (`Try 6 Try 6 Try 6`, `Wait Wait Wait`) or its text compresses more than
# DEGENERATE_RATIO times with zlib (a loop of whole steps). Unsteered organism traces compress
# 1.0-1.6 times and repeat no word run (the committed cpu rows); a degenerate trace is a failure:
# it scores 0 valid and 0 premature backtracks and counts as not solved.
DEGENERATE_RATIO = 2.5
_WORD = re.compile(r"[^\s.,:;]+")


def compression_ratio(text: str) -> float:
    """Bytes of `text` over bytes of its zlib compression (a looping text compresses well).

    >>> compression_ratio("Try 6 " * 40) > DEGENERATE_RATIO
    True
    >>> compression_ratio(" Try 17*4=68. Left: 68, 15. Try 68-15=53. Hit.") < 1.5
    True
    """
    import zlib

    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw, 9)) if raw else 0.0


def degenerate(text: str) -> bool:
    """The degeneration filter (DEGENERATE_RATIO's comment): a word run of 1-3 words written
    three times back to back, or a zlib compression ratio above DEGENERATE_RATIO.

    >>> degenerate(" Try 6 Try 6 Try 6 Try 6+6="), degenerate(" Try 1+18=2 Wait 1 Wait Wait Wait")
    (True, True)
    >>> degenerate(" Try 20-14=6. Left: 6, 16. Try 6+16=22. Miss. Try 6*16=96. Miss. Wait, "
    ...            "backtrack. Try 20+14=34. Left: 34, 16. Try 34-16=18. Hit.")
    False
    """
    words = _WORD.findall(text)
    for n in (1, 2, 3):
        for i in range(len(words) - 3 * n + 1):
            if words[i: i + n] == words[i + n: i + 2 * n] == words[i + 2 * n: i + 3 * n]:
                return True
    return compression_ratio(text) > DEGENERATE_RATIO


def covariance_direction(acts, like, seed: int):
    """A random direction drawn from the residual stream's own covariance (N(0, cov) of the rows
    of `acts`, [n, d_model]), rescaled to `like`'s norm: a control that lives where residual
    differences live, as a difference of means does, unlike an isotropic random vector.

    >>> import torch
    >>> acts = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [3.0, 0.0]])  # all variance on axis 0
    >>> v = covariance_direction(acts, torch.tensor([0.0, 2.0]), seed=0)
    >>> round(abs(float(v[0])), 4), round(float(v[1]), 4)
    (2.0, 0.0)
    """
    import torch

    a = torch.as_tensor(acts).float().cpu()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(a.shape[0], generator=g)
    r = (a - a.mean(dim=0)).T @ z  # a draw of N(0, cov) up to scale: sum_i z_i (a_i - mean)
    return r / r.norm() * float(torch.as_tensor(like).float().norm())


def repeated_wait(tags: list[str], texts: list[str]) -> bool:
    """Degenerate: two backtracks in a row, or one step written three times in a row."""
    twice = any(a == b == "backtrack" for a, b in zip(tags, tags[1:]))
    return twice or any(a == b == c for a, b, c in zip(texts, texts[1:], texts[2:]))


# %% [markdown]
# ## Fit: Venhoff's vector, the matched contrast, and random vectors of the same norm


# %%
def sample_fit(ctx: Context, problems) -> None:
    lm, cfg = ctx.model, ctx.cfg
    todo = [p for p in problems if ctx.store.pending([f"fit:{p.id}"])]
    if not todo:
        return
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = sample(lm, prompts, cfg.fit_samples, cfg.sampling(temperature=1.0))
    for problem, prompt, row in zip(todo, prompts, samples):
        ctx.store.append({"unit": f"fit:{problem.id}", "kind": "fit", "problem": problem.id,
                          "prompt": prompt, "completions": [c.text for c in row]})


def fit_vectors(ctx: Context, fits: list[dict], layers: list[int]) -> tuple[dict, Any, dict]:
    """{name: {layer: [d_model]}} for "backtrack" and "matched" (rescaled to backtrack's norm),
    the residuals at the steered layer ([n_steps, d_model], for the covariance-matched control)
    and the vector row's fields but the claim alpha."""
    lm = ctx.model
    texts, positions, nxt_back, is_check = [], [], [], []
    for row in fits:
        for completion in row["completions"]:
            steps, ends = activations.step_end_positions(lm, row["prompt"], completion)
            texts.append(row["prompt"] + completion)
            positions.append(ends[:-1])  # the last token of step i, before step i+1 is written
            nxt_back += [s.tag == "backtrack" for s in steps[1:]]
            is_check += [s.tag == "verify" for s in steps[:-1]]
    acts = activations.cache_resid(lm, texts, positions, layers)  # {layer: [n_steps, d_model]}
    back, check = np.array(nxt_back, dtype=bool), np.array(is_check, dtype=bool)
    vectors: dict = {"backtrack": {}, "matched": {}}
    for layer, a in acts.items():
        vectors["backtrack"][layer] = activations.diff_of_means(a[back], a[~back])
        matched = activations.diff_of_means(a[check & back], a[check & ~back])
        vectors["matched"][layer] = matched / matched.norm() * vectors["backtrack"][layer].norm()
    L = layer_of(lm, ctx.cfg)
    v, w = vectors["backtrack"][L], vectors["matched"][L]
    info = {"unit": "vector", "kind": "vector", "layer": L,
            "norm_over_resid": float(v.norm()) / activations.mean_resid_norm(acts[L]),
            "n_backtrack_steps": int(back.sum()), "n_check_backtrack": int((check & back).sum()),
            "n_check_continue": int((check & ~back).sum()),
            "cosine_matched": float(v @ w / (v.norm() * w.norm()))}
    return vectors, acts[L], info


def pick_claim_alpha(ctx: Context, fit, direction) -> float:
    """The claim's alpha: the config's, or (None) the smallest positive alpha whose greedy traces
    of the FIT problems differ from the unsteered ones on >= min_changed of them (else the
    largest positive alpha). Chosen before any evaluation trace exists; recorded as a row."""
    import torch

    lm, cfg = ctx.model, ctx.cfg
    if cfg.claim_alpha is not None:
        return cfg.claim_alpha
    if ctx.store.done("alpha-pick"):  # a resumed run keeps its pick (and asks for the row)
        return next(r for r in ctx.store.rows() if r["unit"] == "alpha-pick")["claim_alpha"]
    positive = sorted(a for a in cfg.alphas if a > 0)
    conditions = [0.0, *positive]
    jobs = [(a, p) for a in conditions for p in fit]
    deltas = torch.stack([a * direction.float().cpu() for a, _ in jobs])
    hook = (activations.resid_name(layer_of(lm, cfg)), activations.add_per_row(deltas))
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for _, p in jobs]
    outs = sample(lm, prompts, 1, cfg.sampling(temperature=0.0, batch_size=len(jobs)),
                  hooks=[hook])
    text = {(a, p.id): out[0].text for (a, p), out in zip(jobs, outs)}
    changed = {a: float(np.mean([text[(a, p.id)] != text[(0.0, p.id)] for p in fit]))
               for a in positive}
    chosen = next((a for a in positive if changed[a] >= cfg.min_changed), positive[-1])
    ctx.store.append({"unit": "alpha-pick", "kind": "alpha-pick", "n_fit": len(fit),
                      "min_changed": cfg.min_changed,
                      "changed": {f"{a:+g}": changed[a] for a in positive},
                      "claim_alpha": chosen})
    return chosen


# %% [markdown]
# ## Sample: greedy traces of held-out problems under every (vector, alpha), in few batches


# %%
def steer_eval(ctx: Context, problems, directions: dict) -> None:
    """One greedy trace per (vector, alpha, problem); alpha 0 once, as vector "none"."""
    import torch

    lm, cfg, task = ctx.model, ctx.cfg, get_task_set("countdown")
    conditions = [("none", 0.0)] + [(name, a) for name in directions for a in cfg.alphas if a != 0]
    jobs = [(name, a, p) for name, a in conditions for p in problems
            if not ctx.store.done(f"steer:{name}:{a:+g}:{p.id}")]
    prompts = {p.id: lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in problems}
    organism = lm.spec.prompt_format == "organism"
    for lo in range(0, len(jobs), cfg.steer_batch):
        chunk = jobs[lo: lo + cfg.steer_batch]
        deltas = np.stack([a * directions[name].numpy() if name != "none" else
                           np.zeros(lm.d_model, dtype=np.float32) for name, a, _ in chunk])
        hook = (activations.resid_name(layer_of(lm, cfg)),
                activations.add_per_row(torch.tensor(deltas)))  # row i gets alpha_i * vector_i
        # one batch: rows stay in chunk order
        greedy = cfg.sampling(temperature=0.0, batch_size=len(chunk))
        outs = sample(lm, [prompts[p.id] for _, _, p in chunk], 1, greedy, hooks=[hook])
        for (name, alpha, problem), out in zip(chunk, outs):
            text = out[0].text
            steps = cot.split_steps(cot.split_completion(text)[0])
            tags, texts = [s.tag for s in steps], [s.text for s in steps]
            kinds = backtrack_kinds(problem.meta["target"], texts, tags) if organism else None
            broken = degenerate(text)
            ctx.store.append({
                "unit": f"steer:{name}:{alpha:+g}:{problem.id}", "kind": "steer", "vector": name,
                "alpha": alpha, "problem": problem.id, "finished": grading.finished(text),
                "correct": task.grade(problem, text), "backtracks": tags.count("backtrack"),
                "valid_backtracks": None if kinds is None else sum(k != "premature"
                                                                    for k in kinds),
                # valid only as a dead end left at once: 0 for a reactive model
                "dead_end_backtracks": None if kinds is None else kinds.count("dead_end"),
                "repeated_wait": repeated_wait(tags, texts), "n_steps": len(tags),
                # the degeneration filter: a degenerate trace is a failure
                "degenerate": broken, "compression": round(compression_ratio(text), 3),
                "completion": text[:300]})


# %% [markdown]
# ## The creativity vector: fitted on some questions, evaluated on others (a chat model)


# %%
def distinct_bigrams(texts: list[str]) -> float:
    """Unique word pairs / all pairs across one question's samples (1 = no pair repeats).

    >>> distinct_bigrams(["a b c", "a b d"])
    0.75
    """
    pairs = [tuple(w[i: i + 2]) for w in (t.split() for t in texts) for i in range(len(w) - 1)]
    return len(set(pairs)) / len(pairs) if pairs else 0.0


def creativity(ctx: Context) -> None:
    """Every (condition, question, sample) in one generate call, steered row by row."""
    import torch

    cfg = ctx.cfg
    name = cfg.model if cfg.creative_model is None else cfg.creative_model
    if name == "":
        return
    if get_spec(name).prompt_format == "organism":
        name = ENGLISH_FALLBACK  # the organism reads no English: use a chat model
    fit, evaluate = split_problems(cfg.creative_fit_problems, cfg.creative_problems, cfg.seed + 2)
    conditions = ([("creative", a, False) for a in cfg.creative_alphas] + [("prompted", 0.0, True)]
                  + [("random", a, False) for a in cfg.creative_alphas if a != 0])
    units = {(v, a): [f"creative:{v}:{a:+g}:{p.id}" for p in evaluate] for v, a, _ in conditions}
    if not any(ctx.store.pending(u) for u in units.values()):
        return
    lm = ctx.model if name == cfg.model else load_model(name, device=cfg.device)
    L = layer_of(lm, cfg)
    plain = [lm.prompt(question=p.question) for p in fit]
    creative = [lm.prompt(question=p.question + CREATIVE) for p in fit]
    acts = activations.cache_resid(lm, creative + plain, [[-1]] * (2 * len(fit)), [L])[L]  # [2n, d]
    v = activations.diff_of_means(acts[: len(fit)], acts[len(fit):])
    random = activations.random_direction(v, seed=cfg.seed)
    jobs = [(vector, alpha, prompted, problem, unit) for vector, alpha, prompted in conditions
            for problem, unit in zip(evaluate, units[(vector, alpha)]) if not ctx.store.done(unit)]
    n = cfg.creative_samples
    rows = [(random if vector == "random" else v) * alpha for vector, alpha, *_ in jobs]
    deltas = torch.stack([row for row in rows for _ in range(n)])  # prompt-major, n samples each
    sampling = cfg.sampling(temperature=0.7, max_new_tokens=cfg.creative_max_new_tokens,
                            batch_size=len(deltas))  # one batch: rows in order
    prompts = [lm.prompt(question=p.question + (CREATIVE if prompted else ""))
               for _, _, prompted, p, _ in jobs]
    hook = (activations.resid_name(L), activations.add_per_row(deltas))
    for (vector, alpha, _, problem, unit), row in zip(jobs, sample(lm, prompts, n, sampling,
                                                                   hooks=[hook])):
        texts = [c.text for c in row]
        answers = {cot.extract_boxed(t) or "" for t in texts}  # distinct final answers
        ctx.store.append({"unit": unit, "kind": "creative", "model": name, "vector": vector,
                          "alpha": alpha, "problem": problem.id,
                          "distinct_bigrams": distinct_bigrams(texts),
                          "distinct_answers": len(answers) / len(texts), "sample": texts[0][:200]})


# %% [markdown]
# ## On a model with SAEs: which latents is the backtracking vector made of? (online only)


# %%
def explain_with_sae(ctx: Context, vectors: dict) -> None:
    spec, cfg = ctx.model.spec, ctx.cfg
    if not spec.sae_release or cfg.offline:  # say why in the results, where the latents would be
        why = ("the model has no SAEs in the registry" if not spec.sae_release
               else "offline: SAE weights need a download")
        return ctx.store.append({"unit": "sae", "kind": "sae", "skipped": why})
    layer = activations.sae_layer(spec.sae_ids[0])
    latents = activations.sae_latents(vectors[layer], spec, cfg.sae_top_k,
                                      device=str(ctx.model.device))
    ctx.store.append({"unit": "sae", "kind": "sae", "layer": layer, "latents": latents})


def run(ctx: Context) -> None:
    lm, cfg = ctx.model, ctx.cfg
    fit, evaluate = split_problems(cfg.fit_problems, cfg.eval_problems, cfg.seed)
    sample_fit(ctx, fit)
    L = layer_of(lm, cfg)
    layers = sorted({L, *(activations.sae_layer(s) for s in lm.spec.sae_ids[:1])})
    fits = [r for r in ctx.store.rows() if r.get("kind") == "fit"]
    vectors, resid, info = fit_vectors(ctx, fits, layers)
    like = vectors["backtrack"][L]
    claim_alpha = pick_claim_alpha(ctx, fit, like)
    if not ctx.store.done("vector"):
        ctx.store.append({**info, "claim_alpha": claim_alpha,
                          "n_eval_asked": cfg.eval_problems, "n_eval": len(evaluate)})
    directions = {"backtrack": like, "matched": vectors["matched"][L]}
    for k in range(cfg.n_random):
        directions[f"random{k}"] = activations.random_direction(like, cfg.seed + k)
    for k in range(cfg.n_cov_random):
        directions[f"covrandom{k}"] = covariance_direction(resid, like, cfg.seed + 100 + k)
    steer_eval(ctx, evaluate, directions)
    if not ctx.store.done("sae"):
        explain_with_sae(ctx, vectors["backtrack"])
    creativity(ctx)


# %% [markdown]
# ## Analyse: valid and premature backtracks, accuracy and degenerate output per (vector, alpha)


# %%
@dataclass(repr=False)
class Cell:
    """One (vector, alpha): greedy traces of the evaluation problems, one per problem."""

    n: int  # traces (= problems)
    valid: stats.Estimate  # valid backtracks per trace (exhausted or dead end; degenerate: 0)
    premature: stats.Estimate  # backtracks leaving operations untried (degenerate: 0)
    accuracy: stats.Estimate  # correct among finished traces
    solved: stats.Estimate  # correct and not degenerate, over all traces (unfinished: failure)
    unfinished: int  # traces without `</think>` and an answer
    degenerate: int  # traces the degeneration filter flags (`degenerate`): failures
    repeated_wait: int  # traces with two backtracks in a row or a step written three times

    def __repr__(self) -> str:  # one line for the summary's table
        return (f"valid {self.valid.value:.2f}, premature {self.premature.value:.2f}, accuracy "
                f"{self.accuracy.value:.2f}, solved {self.solved.value:.2f}, unfinished "
                f"{self.unfinished}/{self.n}, degenerate {self.degenerate}/{self.n}")


def _broken(row: dict) -> bool:  # rows from before the filter lack the field: not flagged
    return bool(row.get("degenerate", False))


def _valid_score(row: dict) -> float:  # a degenerate trace is a failure: 0 valid backtracks
    if row["valid_backtracks"] is None:
        return np.nan
    return 0.0 if _broken(row) else float(row["valid_backtracks"])


def _premature(row: dict) -> float:  # backtracks that left a branch with operations untried
    if row["valid_backtracks"] is None:
        return np.nan
    return 0.0 if _broken(row) else float(row["backtracks"] - row["valid_backtracks"])


def cell(rows: list[dict]) -> Cell:
    problems = [r["problem"] for r in rows]
    done = [r for r in rows if r["finished"]]
    return Cell(n=len(rows), valid=stats.mean_ci([_valid_score(r) for r in rows], problems),
                premature=stats.mean_ci([_premature(r) for r in rows], problems),
                accuracy=stats.mean_ci([float(r["correct"]) for r in done],
                                       [r["problem"] for r in done]),
                solved=stats.mean_ci([float(r["correct"] and not _broken(r)) for r in rows],
                                     problems),
                unfinished=len(rows) - len(done), degenerate=sum(map(_broken, rows)),
                repeated_wait=sum(r["repeated_wait"] for r in rows))


def _at(steer: list[dict], vector: str, alpha: float) -> list[dict]:
    name = "none" if alpha == 0 else vector  # alpha 0 is the one unsteered run shared by all
    return [r for r in steer if r["alpha"] == alpha and r["vector"] == name]


def _at_all(steer: list[dict], names: list[str], alpha: float) -> list[dict]:
    return [r for name in names for r in _at(steer, name, alpha)]


def _valid(rows: list[dict]) -> tuple[list[float], list[str]]:
    return [_valid_score(r) for r in rows], [r["problem"] for r in rows]


def _clean_valid(rows: list[dict]) -> tuple[list[float], list[str]]:
    """Valid backtracks on the finished, non-degenerate traces only."""
    kept = [r for r in rows if r["finished"] and not _broken(r)]
    return _valid(kept)


def small_n_bare(estimate: stats.Estimate) -> stats.Estimate:
    """The estimate without its interval when it rests on fewer than MIN_PROBLEMS problems.

    >>> small_n_bare(stats.Estimate(0.4, (0.2, 0.6), n=4, n_items=12)).ci is None
    True
    """
    if estimate.n < MIN_PROBLEMS:
        return dataclasses.replace(estimate, ci=None)
    return estimate


def _finished(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["finished"]]


def _premature_mean(rows: list[dict]) -> float:  # nan when no row has a measured value
    values = [_premature(r) for r in rows]
    return stats.mean_ci(values, [r["problem"] for r in rows]).value


@dataclass(frozen=True)
class SteeringVector:
    """The fitted vectors, as the run's `vector` row records them."""

    layer: int  # the residual stream the vectors are added to
    norm_over_resid: float  # the backtracking vector's norm over the mean residual norm
    n_backtrack_steps: int  # pre-backtrack steps averaged into it
    n_check_backtrack: int  # checks ("Miss.") followed by a backtrack (matched contrast)
    n_check_continue: int  # checks not followed by one
    claim_alpha: float  # the alpha the claims read (fixed or picked on fit problems, before)
    cosine_matched: float  # cosine between the backtracking and the matched-contrast vector
    n_eval_asked: int | None = None  # evaluation problems asked for (None: older rows)
    n_eval: int | None = None  # of them, kept (none shares (numbers, target) with a fit problem)


@dataclass(frozen=True)
class PrematureFinished:
    """Premature backtracks per finished trace at the top alpha."""

    backtrack: stats.Estimate  # with the backtracking vector
    random: stats.Estimate  # with random vectors of the same norm (the control)


@dataclass(frozen=True)
class AlphaPick:
    """How the claim's alpha was picked on the fit problems (the run's `alpha-pick` row)."""

    n_fit: int  # fit problems whose greedy traces were compared with unsteered
    min_changed: float  # the share a picked alpha must change
    changed: dict[str, float]  # positive alpha ("+0.5") -> share of fit traces it changed


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings and figure read these fields."""

    vector: SteeringVector  # the fitted vectors
    alphas: list[float]  # steering strengths evaluated
    n_random: int  # isotropic random vectors of the same norm
    n_cov_random: int  # covariance-matched random vectors of the same norm
    cells: dict[str, dict[float, Cell]]  # "backtrack" / "matched" -> alpha -> measures
    random: dict[float, Cell]  # alpha -> measures over all isotropic random vectors
    random_spread: dict[float, list[float]]  # alpha -> each random vector's valid backtracks
    cov_random: dict[float, Cell]  # alpha -> measures over all covariance-matched vectors
    cov_spread: dict[float, list[float]]  # alpha -> each one's valid backtracks
    claim_alpha: float  # the alpha the claims read
    alpha_pick: AlphaPick | None  # how it was picked (None: fixed by the config)
    strongest_control: str  # "unsteered" / "random" / "covariance": most valid at claim_alpha
    backtrack_minus_strongest: stats.Estimate  # valid: backtracking minus the strongest control
    backtrack_minus_random: stats.Estimate  # valid backtracks: backtracking minus isotropic
    backtrack_minus_cov: stats.Estimate  # valid backtracks: backtracking minus covariance
    matched_minus_strongest: stats.Estimate  # valid: matched contrast minus the strongest control
    old_primary: stats.Estimate | None  # backtracking minus isotropic random at +0.5 (old claim)
    bottom_alpha: float  # the strongest subtraction
    subtract_clean: PrematureFinished  # valid on finished non-degenerate traces at bottom_alpha
    subtract_minus_cov: stats.Estimate  # their difference, backtracking minus covariance
    top_alpha: float  # the strongest push, where side effects show
    premature_finished: PrematureFinished  # premature backtracks on finished traces at top_alpha
    premature_minus_random: stats.Estimate  # their difference, backtracking minus random
    random_spread_premature: list[float]  # each random vector's premature mean at top_alpha
    backtracks_unsteered: int  # backtracks in unsteered traces
    dead_end_unsteered: int  # of them, valid only as a dead end left at once
    backtrack_minus_unsteered: stats.Estimate  # valid backtracks: backtracking minus none
    max_ratio_unsteered: float  # the highest compression ratio of an unsteered trace
    # the creativity vector (None when the preset ran no creative samples)
    creative_alpha: float | None = None  # its alpha
    creative_model: str | None = None  # the chat model it was fitted on
    diversity: dict[str, stats.Estimate] | None = None  # condition -> distinct word pairs
    creative_minus_random: stats.Estimate | None = None  # creative minus random vector


CONTROLS = {"unsteered": "the unsteered model", "random": "isotropic random vectors of the "
            "same norm", "covariance": "random vectors drawn from the residual covariance, same "
            "norm"}


def analyse(rows: list[dict]) -> Metrics:
    steer = [r for r in rows if r.get("kind") == "steer"]
    vector = next(r for r in rows if r.get("kind") == "vector")
    pick = next((r for r in rows if r.get("kind") == "alpha-pick"), None)
    alphas = sorted({r["alpha"] for r in steer})
    randoms = sorted({r["vector"] for r in steer if r["vector"].startswith("random")})
    covs = sorted({r["vector"] for r in steer if r["vector"].startswith("covrandom")})
    m: dict = {"vector": SteeringVector(**{k: v for k, v in vector.items()
                                           if k not in ("unit", "kind")}),
               "alphas": alphas, "n_random": len(randoms), "n_cov_random": len(covs),
               "cells": {name: {a: cell(_at(steer, name, a)) for a in alphas}
                         for name in ("backtrack", "matched")},
               "random": {a: cell(_at_all(steer, randoms, a)) for a in alphas},
               "random_spread": {a: [cell(_at(steer, name, a)).valid.value for name in randoms]
                                 for a in alphas},
               "cov_random": {a: cell(_at_all(steer, covs, a)) for a in alphas},
               "cov_spread": {a: [cell(_at(steer, name, a)).valid.value for name in covs]
                              for a in alphas}}
    m["alpha_pick"] = pick and AlphaPick(pick["n_fit"], pick["min_changed"], pick["changed"])
    a = m["claim_alpha"] = vector["claim_alpha"]
    controls = {"unsteered": _at(steer, "none", 0.0), "random": _at_all(steer, randoms, a),
                "covariance": _at_all(steer, covs, a)}
    means = {k: stats.mean_ci(*_valid(v)).value if v else -np.inf for k, v in controls.items()}
    # the strongest rung: the control with the most valid backtracks at the claim's alpha
    strongest = m["strongest_control"] = max(means, key=lambda k: (means[k], k == "covariance"))
    for name in ("backtrack", "matched"):
        m[f"{name}_minus_strongest"] = stats.difference_ci(*_valid(_at(steer, name, a)),
                                                           *_valid(controls[strongest]))
    back = _valid(_at(steer, "backtrack", a))
    m["backtrack_minus_random"] = stats.difference_ci(*back, *_valid(controls["random"]))
    m["backtrack_minus_cov"] = stats.difference_ci(*back, *_valid(controls["covariance"]))
    m["old_primary"] = (stats.difference_ci(*_valid(_at(steer, "backtrack", 0.5)),
                                            *_valid(_at_all(steer, randoms, 0.5)))
                        if 0.5 in alphas and a != 0.5 else None)
    bottom = m["bottom_alpha"] = min(alphas)
    mine, theirs = (_clean_valid(_at(steer, "backtrack", bottom)),
                    _clean_valid(_at_all(steer, covs, bottom)))
    m["subtract_clean"] = PrematureFinished(backtrack=stats.mean_ci(*mine),
                                            random=stats.mean_ci(*theirs))
    m["subtract_minus_cov"] = stats.difference_ci(*mine, *theirs)
    top = max(alphas)  # the strongest push: where a vector's side effects show
    m["top_alpha"] = top
    # finished traces only: a vector that breaks the model (unfinished traces) must not count
    # the broken traces' backtracks as premature ones
    mine_rows = _finished(_at(steer, "backtrack", top))
    others = _finished(_at_all(steer, randoms, top))
    premature = [_premature(r) for r in mine_rows]
    control_premature = [_premature(r) for r in others]
    m["premature_finished"] = PrematureFinished(
        backtrack=stats.mean_ci(premature, [r["problem"] for r in mine_rows]),
        random=stats.mean_ci(control_premature, [r["problem"] for r in others]))
    m["premature_minus_random"] = stats.difference_ci(
        premature, [r["problem"] for r in mine_rows],
        control_premature, [r["problem"] for r in others])
    m["random_spread_premature"] = [  # per random vector, finished traces at the top alpha
        _premature_mean(_finished(_at(steer, name, top))) for name in randoms]
    unsteered = _at(steer, "none", 0.0)
    m["backtracks_unsteered"] = sum(r["backtracks"] for r in unsteered)
    # rows from before the dead-end clause lack the field: count them as 0
    m["dead_end_unsteered"] = sum(r.get("dead_end_backtracks") or 0 for r in unsteered)
    m["backtrack_minus_unsteered"] = stats.difference_ci(*back, *_valid(unsteered))
    m["max_ratio_unsteered"] = max((r.get("compression", 0.0) for r in unsteered), default=0.0)
    creative = [r for r in rows if r.get("kind") == "creative"]
    if creative:
        top = m["creative_alpha"] = max(r["alpha"] for r in creative)
        m["creative_model"] = creative[0]["model"]
        conditions = {"unsteered": ("creative", 0.0), "creative": ("creative", top),
                      "random": ("random", top), "prompted": ("prompted", 0.0)}
        picked = {name: [r for r in creative if (r["vector"], r["alpha"]) == key]
                  for name, key in conditions.items()}
        diversity = {name: ([r["distinct_bigrams"] for r in sel], [r["problem"] for r in sel])
                     for name, sel in picked.items()}
        # no interval from fewer than MIN_PROBLEMS questions (the cpu preset evaluates 4)
        m["diversity"] = {name: small_n_bare(stats.mean_ci(*pair))
                          for name, pair in diversity.items()}
        m["creative_minus_random"] = small_n_bare(stats.difference_ci(*diversity["creative"],
                                                                      *diversity["random"]))
    return Metrics(**m)


# %% [markdown]
# ## Figure: valid and premature backtracks, solved share and degenerate output vs alpha


# %%
CURVES = {"backtrack": ("C0", "-o"), "matched": ("C1", "-s"), "random": ("gray", ":x"),
          "covariance": ("C3", ":+")}


def _cells(m: Metrics, name: str) -> list[Cell]:
    pools = {"random": m.random, "covariance": m.cov_random}
    return [pools[name][a] if name in pools else m.cells[name][a] for a in m.alphas]


def _label(m: Metrics, name: str) -> str:
    if name == "random":
        return f"isotropic random (mean of {m.n_random})"
    if name == "covariance":
        return f"covariance random (mean of {m.n_cov_random})"
    return f"{name} vector"


def _curve(ax, m: Metrics, pick) -> None:
    for name, (colour, style) in CURVES.items():
        ests = [pick(c) for c in _cells(m, name)]
        estimate_points(ax, m.alphas, ests, fmt=style, color=colour, capsize=2,
                        label=_label(m, name))


def plot(rows: list[dict], m: Metrics):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(7, 10))
    _curve(axes[0, 0], m, lambda c: c.valid)
    spread = [m.random_spread[a] + m.cov_spread[a] for a in m.alphas]
    axes[0, 0].fill_between(m.alphas, [min(s) for s in spread], [max(s) for s in spread],
                            color="gray", alpha=0.2, label="random vectors: min to max")
    axes[0, 0].axvline(m.claim_alpha, color="k", lw=0.5, ls="--")
    axes[0, 0].set(ylabel="valid backtracks / trace", title="valid (degenerate trace: 0)")
    _curve(axes[0, 1], m, lambda c: c.premature)
    axes[0, 1].set(ylabel="premature backtracks / trace", title="premature (ops left untried)")
    _curve(axes[1, 0], m, lambda c: c.solved)
    axes[1, 0].set(ylabel="solved, not degenerate (all traces)", title="solved")
    ax = axes[1, 1]
    for name, (colour, _) in CURVES.items():
        cells = _cells(m, name)
        ax.plot(m.alphas, [c.unfinished / max(c.n, 1) for c in cells], "-", color=colour,
                label=f"{name}: unfinished")
        ax.plot(m.alphas, [c.degenerate / max(c.n, 1) for c in cells], "--", color=colour,
                label=f"{name}: degenerate")
    ax.set(ylabel="share of traces", ylim=(-0.05, 1.05))
    ax.set_title("unfinished (solid), degenerate (dashed)", fontsize=9)
    for ax in axes[:2].flat:
        ax.set_xlabel("alpha (multiples of the vector)")
    key = axes[2, 1]  # the legends live in their own panel, off the data
    key.set_axis_off()
    first = key.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper left", fontsize=7,
                       title="valid / premature / solved")
    key.add_artist(first)
    key.legend(*axes[1, 1].get_legend_handles_labels(), loc="lower left", fontsize=6,
               title="degenerate output", ncol=2)
    ax = axes[2, 0]
    if m.diversity is not None:
        names = list(m.diversity)
        ests = list(m.diversity.values())
        estimate_bars(ax, range(len(names)), ests, color="C2")
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set(ylabel="distinct word pairs", title=f"creativity ({m.creative_model}, "
               f"alpha {m.creative_alpha:+g})")
    else:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims: valid backtracks above the strongest control (unsteered, isotropic or covariance)


# %%
def _spread(values: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


def _control(m: Metrics, which: str, a: float) -> tuple[str, stats.Estimate]:
    """(name with the per-vector spread, valid-backtrack estimate) of a control at alpha a."""
    if which == "unsteered":
        return "the unsteered model", m.cells["backtrack"][0.0].valid
    pool, spread, n = ((m.random, m.random_spread, m.n_random) if which == "random"
                       else (m.cov_random, m.cov_spread, m.n_cov_random))
    return (f"{n} {CONTROLS[which]}, alpha {a:+g} (interval over problems only, not between "
            f"vectors; per-vector means {_spread(spread[a])})", pool[a].valid)


def claims(m: Metrics) -> list[Claim]:
    a = m.claim_alpha
    metric = f"valid backtracks per trace at alpha {a:+g} (a degenerate trace scores 0)"
    name, control = _control(m, m.strongest_control, a)
    strongest = Baseline(f"strongest control: {CONTROLS[m.strongest_control]}", control)
    rungs = "the strongest of the unsteered model, isotropic and covariance-matched random vectors"
    out = [compare(f"Adding the backtracking vector (pre-backtrack minus all other steps) at alpha "
                   f"{a:+g} raises valid backtracks above {rungs} (degenerate traces count as "
                   f"failures).", metric, m.cells["backtrack"][a].valid, name, metric, control,
                   m.backtrack_minus_strongest, key=PRIMARY, strongest_baseline=strongest),
           compare(f"The matched-contrast vector (a 'Miss.' followed by a backtrack minus a "
                   f"'Miss.' not followed by one) at alpha {a:+g} raises valid backtracks above "
                   f"{rungs}: the effect is not only a 'Miss.' direction.",
                   metric, m.cells["matched"][a].valid, name, metric, control,
                   m.matched_minus_strongest, key="matched-vs-random",
                   strongest_baseline=strongest)]
    for which, diff in (("random", m.backtrack_minus_random),
                        ("covariance", m.backtrack_minus_cov)):
        if which != m.strongest_control:
            other, est = _control(m, which, a)
            out.append(compare(
                f"The backtracking vector at alpha {a:+g} raises valid backtracks above "
                f"{CONTROLS[which]} (degenerate traces count as failures).", metric,
                m.cells["backtrack"][a].valid, other, metric, est, diff,
                key="backtrack-vs-isotropic" if which == "random" else "backtrack-vs-covariance"))
    if m.old_primary is not None:
        other, est = _control(m, "random", 0.5)
        out.append(compare(
            "The old primary claim (alpha +0.5, which left the reviewed traces byte-identical to "
            "unsteered): the backtracking vector raises valid backtracks above isotropic random "
            "vectors of the same norm.", "valid backtracks per trace at alpha +0.5",
            m.cells["backtrack"][0.5].valid, other, "valid backtracks per trace", est,
            m.old_primary, key="old-primary-alpha-0.5"))
    low = m.bottom_alpha
    out.append(compare(
        f"Subtracting the backtracking vector (alpha {low:+g}) lowers valid backtracks below "
        f"covariance-matched random vectors on finished traces the degeneration filter keeps "
        f"(so broken text is no 'effect'; {m.cells['backtrack'][low].degenerate}/"
        f"{m.cells['backtrack'][low].n} backtracking-vector traces degenerate, "
        f"{m.cells['backtrack'][low].unfinished} unfinished).",
        f"valid backtracks per clean finished trace at alpha {low:+g}", m.subtract_clean.backtrack,
        f"{m.n_cov_random} {CONTROLS['covariance']}, alpha {low:+g}",
        "valid backtracks per clean finished trace", m.subtract_clean.random,
        m.subtract_minus_cov, direction=-1, key="subtract-vs-covariance"))
    top = m.top_alpha
    back, rand = m.cells["backtrack"][top], m.random[top]
    out.append(compare(
        f"Exploratory (chosen after seeing the sweep): at alpha {top:+g} the backtracking vector "
        f"raises premature backtracks (operations left untried) above random vectors of the same "
        f"norm, counted on finished traces only ({back.unfinished}/{back.n} backtracking-vector "
        f"and {rand.unfinished}/{rand.n} random-vector traces unfinished, left out; a degenerate "
        f"trace scores 0).",
        f"premature backtracks per finished trace at alpha {top:+g}",
        m.premature_finished.backtrack,
        f"{m.n_random} random vectors, alpha {top:+g} (interval over problems only, not "
        f"between vectors; per-vector means {_spread(m.random_spread_premature)})",
        "premature backtracks per finished trace", m.premature_finished.random,
        m.premature_minus_random, key="premature-vs-random"))
    # the creativity comparison is a claim only from MIN_PROBLEMS questions up (findings() keeps
    # its numbers either way)
    if m.diversity is not None and m.creative_minus_random.n >= MIN_PROBLEMS:
        top = m.creative_alpha
        out.append(compare(
            f"On {m.creative_model}, the creativity vector at alpha {top:+g} makes one "
            f"question's samples more diverse than a random vector of the same norm (on questions "
            f"it was not fitted on).",
            "distinct word pairs across samples", m.diversity["creative"],
            f"random vector, alpha {top:+g}", "distinct word pairs", m.diversity["random"],
            m.creative_minus_random, key="creative-vs-random"))
    return declare([c for c in out
                    if np.isfinite(c.estimate.value) and c.difference.n >= MIN_PROBLEMS], PRIMARY)


def findings(m: Metrics) -> str:
    d, v = stats.describe, m.vector
    none = m.cells["backtrack"][0.0]
    out = []
    pick = m.alpha_pick
    if pick is not None:
        shares = ", ".join(f"{k}: {x:.2f}" for k, x in pick.changed.items())
        out.append(
            f"**Read first.** The primary claim changed. The old one compared the backtracking "
            f"vector at alpha +0.5 with isotropic random vectors on 10 problems; a review found "
            f"+0.5 left all 10 traces byte-identical to unsteered (it compared the unsteered "
            f"model with random vectors), counted degenerate text (`Try 6 Try 6 ...`) as "
            f"finished, and used only a same-norm isotropic control. The new primary reads the "
            f"alpha picked on the {pick.n_fit} fit problems before evaluation (the smallest "
            f"positive alpha changing >= {pick.min_changed:.2f} of their greedy traces; changed "
            f"shares {shares}): alpha {m.claim_alpha:+g}, against the strongest of the unsteered "
            f"model, isotropic and covariance-matched random vectors, with degenerate traces "
            f"counted as failures. "
            + ("The picked alpha is +0.5 again, so the old comparison (the vector against "
               "isotropic random vectors at +0.5) is the primary itself, now on more problems "
               "and with the filter and the stronger controls."
               if m.claim_alpha == 0.5 else "The old claim stays as a secondary one.")
            + "\n\n")
    dropped = ("" if v.n_eval is None else
               f" Evaluation problems: {v.n_eval} of {v.n_eval_asked} asked ("
               f"{v.n_eval_asked - v.n_eval} dropped: they share numbers and target with a fit "
               f"problem).")
    out.append(
        f"Vectors at layer {v.layer}: Venhoff's (pre-backtrack minus other steps, "
        f"{v.n_backtrack_steps} backtrack steps; {v.norm_over_resid:.2f}x the mean "
        f"residual norm) and the matched contrast ({v.n_check_backtrack} checks followed "
        f"by a backtrack vs {v.n_check_continue} not; cosine with Venhoff's "
        f"{v.cosine_matched:.2f}).{dropped} Unsteered: {d(none.valid)} valid and "
        f"{d(none.premature)} premature backtracks per trace, solved {d(none.solved)}, "
        f"{none.unfinished}/{none.n} unfinished, {none.degenerate}/{none.n} degenerate.\n\n"
        f"Degeneration filter (one line): a trace is degenerate when a run of 1-3 words comes "
        f"three times back to back or its zlib compression ratio exceeds {DEGENERATE_RATIO:g} "
        f"(unsteered traces reach {m.max_ratio_unsteered:.2f}); a degenerate trace is a failure: "
        f"0 valid and 0 premature backtracks, not solved. Strongest control at the claim's alpha "
        f"(most valid backtracks): {CONTROLS[m.strongest_control]}.\n\n"
        "| alpha | vector | valid / trace | premature / trace | solved (all traces) "
        "| accuracy (finished) | unfinished | degenerate |\n|---|---|---|---|---|---|---|---|\n")
    for a in m.alphas:
        for name in ("backtrack", "matched", "random", "covariance"):
            if a == 0 and name != "backtrack":
                continue
            c = {"random": m.random, "covariance": m.cov_random}.get(name, m.cells.get(name))[a]
            spread = {"random": m.random_spread, "covariance": m.cov_spread}.get(name)
            label = (f"{name} (mean of {m.n_random if name == 'random' else m.n_cov_random}; "
                     f"per vector {_spread(spread[a])})" if spread else name)
            out.append(f"| {a:+g} | {label if a else 'none'} | {d(c.valid)} | {d(c.premature)} | "
                       f"{d(c.solved)} | {d(c.accuracy)} | {c.unfinished}/{c.n} | "
                       f"{c.degenerate}/{c.n} |\n")
    diff = m.backtrack_minus_unsteered
    out.append(f"\nBacktracking vector at alpha {m.claim_alpha:+g} minus unsteered: "
               f"{diff.value:+.2f} valid backtracks per trace ({d(diff)}). The random-vector "
               f"intervals resample problems only: they leave out the variation between random "
               f"vectors, whose per-vector means stand next to each random row above.")
    low, sub = m.bottom_alpha, m.subtract_clean
    out.append(f"\n\nSubtraction at alpha {low:+g}, on finished traces the filter keeps: "
               f"backtracking vector {d(sub.backtrack)} valid backtracks per trace vs "
               f"covariance-matched random {d(sub.random)}; difference "
               f"{d(m.subtract_minus_cov)}.")
    top, back = m.top_alpha, m.cells["backtrack"][m.top_alpha]
    out.append(f"\n\nAt alpha {top:+g} the backtracking vector leaves {back.unfinished}/{back.n} "
               f"traces unfinished and {back.degenerate}/{back.n} degenerate (isotropic random "
               f"{m.random[top].unfinished}/{m.random[top].n} and "
               f"{m.random[top].degenerate}/{m.random[top].n}), so its premature "
               f"backtracks are compared on finished traces only: "
               f"{d(m.premature_finished.backtrack)} per finished trace vs random "
               f"{d(m.premature_finished.random)} (per vector "
               f"{_spread(m.random_spread_premature)}); difference "
               f"{d(m.premature_minus_random)}.")
    if m.diversity is not None:
        div = m.diversity
        few = m.creative_minus_random.n < MIN_PROBLEMS
        out.append(f"\n\nCreativity, on {m.creative_model} (a separate chat model, not the "
                   f"organism; fitted and evaluated on disjoint questions): distinct word pairs "
                   f"unsteered {d(div['unsteered'])}, at alpha {m.creative_alpha:+g} "
                   f"{d(div['creative'])} (random vector {d(div['random'])}; creative prompt "
                   f"{d(div['prompted'])}); creativity minus random "
                   f"{d(m.creative_minus_random)}."
                   + (f" Fewer than {MIN_PROBLEMS} questions: no interval and no claim."
                      if few else ""))
    else:
        out.append("\n\nThe creativity vector was not run in this preset (it needs a chat model).")
    out.append(f"\n\nValid backtracks are checked against the organism's search (every final "
               f"operation from the last state tried, or a dead end left before any try); "
               f"valid only as a dead end left at once: {m.dead_end_unsteered} "
               f"of {m.backtracks_unsteered} unsteered backtracks (a reactive model has none). "
               "Off the organism validity cannot be checked and is left out. The organism "
               "result is a hypothesis about R1-distill, to test there (gpu preset). SAE "
               "latents of the vector (models with SAEs, online only) are in results.jsonl, "
               "kind sae.")
    return "".join(out)


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run steering --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stages of `run`, for planning: fit traces, one greedy steered trace per
    (vector, alpha, problem) with vectors = Venhoff's, the matched contrast and `n_random` random
    ones, `n_cov_random` covariance-matched ones, the claim-alpha pick on the fit problems, and
    the creativity part (about 2 vectors x alphas x with/without the creative prompt)."""
    nonzero = sum(1 for a in cfg.alphas if a != 0)
    conditions = 1 + (2 + cfg.n_random + cfg.n_cov_random) * nonzero
    stages = [
        Generation("fit traces", sequences=cfg.fit_problems * cfg.fit_samples,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size),
    ]
    if cfg.claim_alpha is None:  # greedy fit traces at 0 and every positive alpha
        picks = cfg.fit_problems * (1 + sum(1 for a in cfg.alphas if a > 0))
        stages.append(Generation("claim-alpha pick on fit problems", sequences=picks,
                                 max_new_tokens=cfg.max_new_tokens, batch_size=picks))
    stages += [
        Generation("steered greedy traces", sequences=conditions * cfg.eval_problems,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.steer_batch),
    ]
    if cfg.creative_model != "":
        creative = 2 * len(cfg.creative_alphas) * 2 * cfg.creative_problems * cfg.creative_samples
        stages.append(Generation("creativity samples", sequences=creative,
                                 max_new_tokens=cfg.creative_max_new_tokens,
                                 batch_size=cfg.batch_size))
    return stages


# %% [markdown]
# ## Does the method work? (planted truth)
# `tinythinker-planned` backtracks at once at dead-end "Left:" states instead of after its misses
# (starter/organism/variants.py). That plants *when* the model backtracks, not what adding a
# backtrack direction does to it, so no variant gives a value for the steering effect to recover.
# A variant with a planted backtrack lever (a known direction that makes it write "Wait,
# backtrack.") would not give one either, for the primary's count: a dead end left at once is
# one valid backtrack, as it is when left after its tries, and a live branch left at once is a
# premature one. The lever moves the valid count only through the branches the search opens
# next, which no rule plants. A plant for this claim has to set which branches are explored, and
# the vector has to be fitted where the model itself writes that choice.
# Run the starter on `--model tinythinker-planned` and on the base to compare: each fits its
# vector on its own traces (the planned one's pre-backtrack steps are mostly "Left:" steps), and
# the dead-end clause of validity counts its at-once backtracks as valid.


# %%
NO_VALIDATION = ("no organism variant plants a known steering effect: tinythinker-planned changes "
                 "when backtracks happen, not what a backtrack vector does, and even a planted "
                 "backtrack lever leaves the primary's valid-backtrack count unplanted (a dead end "
                 "left at once or after its tries is one valid backtrack either way; a live "
                 "branch left at once is premature), so there is no value for the gain to "
                 "recover (compare `run --model tinythinker-planned` with the base instead)")


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("backtracking", "wait", "creative"),
    try_next=("Pick the layer as Venhoff et al. do (attribution patching) instead of the middle "
              "block.",
              "Steer only after the prompt, or only at step boundaries, and compare the side "
              "effects.",
              "Steer along the cot-probing starter's backtrack probe direction: does decodable "
              "mean causal?",
              "On R1-Distill-Llama-8B (`--preset gpu --model r1-llama-8b`, online) read the "
              "vector's SAE latents."),
)

if __name__ == "__main__":
    run_starter(STARTER)
