# %% [markdown]
# # How deterministic are thinking models?
#
# > How deterministic are these models? If you take the first K lines of the CoT and regenerate
# > it, do you get the same output?
#
# **Method** (Thought Branches, Macar et al. 2025, arXiv 2510.27484; Forking Paths, Bigelow et
# al. 2025, arXiv 2412.07961): sample one reference chain per problem; keep the first K% of its
# steps (`cot.split_steps`), K in {0, 25, 50, 75, 100}; regenerate N continuations at several
# temperatures. Measures:
# 1. answer agreement with the reference *by value* (a Countdown answer is its boxed expression's
#    value, so `(12*8)/4` and `(12+8)+4` agree), over finished continuations; answer entropy;
# 2. token by token, how much of the reference's remaining text a continuation reproduces before it
#    first diverges;
# 3. on the TinyThinker organism, whose traces carry their true search tree, whether those
#    divergence points fall on the search's *decision points* (which operation to try next; try
#    again or backtrack).
#
# A reference chain that never finishes is excluded and counted separately.
#
# **Controls:** agreement at K=0 (nothing kept) for the effect of the prefix, paired by problem;
# position-matched random tokens (from the span each continuation reached: the cut through its
# divergence) for the decision points; greedy decoding repeated (one prompt at a time, twice;
# and all prompts in one padded batch), where any difference can only come from the numerics
# (batch shapes, padding, kernels, dtype).
#
# Run: `mi-starter run determinism --preset smoke|cpu|gpu` (or run this file with python).
# Writes results.jsonl (rows of kind "reference", "regen" and "control"), figure.png, summary.md
# and findings.json (the claims with their controls and verdicts).
#
# **Simple baselines** (issue #25): for the agreement claim, any prompt-only rule reads no
# prefix, so it predicts a gain of 0 by construction; that 0, in the claim's own units, is the
# claim's `strongest_baseline`. The Finding spells out one prompt-only rule: every finished chain
# answers correctly (the organism's search is deterministic and reaches the target), so a
# continuation agrees exactly when the reference is right (item by item the constant "every
# continuation agrees" is as good or better; both predict no gain). For the decision-point claim,
# the check word after a Try ("Hit"/"Miss"), a token class readable from the text, recorded in
# the claim's units: its excess over a random token of the same reached span. The Finding states
# both first (review s16_b).
#
# **Primary claim, declared before the run** (`PRIMARY` below): keeping the first K% of a reference
# chain makes a regenerated answer agree with the reference's more often than keeping none. The
# other claim is secondary, Holm-adjusted.

# %%
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt

from starter import grading, prefixes, rollouts, stats
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.organism.data import Trace, make_trace
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.tasks import get_task_set
from starter.tasks.countdown import evaluate_expression, search
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "agreement-gain"

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    task: str = "countdown"  # task set (starter.tasks); countdown is the organism's own task
    n_chains: int = 8  # reference chains, one per problem
    reference_temperature: float = 0.6  # how the reference chains are sampled (usual for R1)
    # K: share of the reference's steps kept before regenerating
    fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    temperatures: tuple[float, ...] = (0.0, 0.6, 1.0)  # regeneration temperatures; 0 = greedy
    n_continuations: int = 8  # continuations per (chain, K, temperature > 0); greedy needs one
    top_p: float = 0.95  # nucleus sampling for temperatures > 0
    max_new_tokens: int = 160  # room for a whole chain (organism traces are <= 143 tokens)
    batch_size: int = 256  # sequences per generate call
    greedy_repeats: int = 12  # problems whose greedy chain is also made one at a time, twice

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(not 0 <= f <= 1 for f in self.fractions):
            raise UsageError(f"fractions must lie in [0, 1]; got {self.fractions}")
        if any(not 0 <= t <= 2 for t in self.temperatures):
            raise UsageError(f"temperatures must lie in [0, 2]; got {self.temperatures}")
        if min(self.n_chains, self.n_continuations) < 1:
            raise UsageError(f"n_chains and n_continuations must be >= 1; got {self.n_chains}, "
                             f"{self.n_continuations}")
        if not 0 < self.reference_temperature <= 2:
            raise UsageError(f"reference_temperature must be in (0, 2]; "
                             f"got {self.reference_temperature}")


PRESETS = {
    "smoke": Config(n_chains=3, n_continuations=4, fractions=(0.0, 0.5, 1.0),
                    temperatures=(0.0, 0.6), greedy_repeats=1),
    # sized for 2 cores shared by other jobs (~10 minutes): more problems buy more power than more
    # continuations per cut; T=1 rather than 0.6 because the organism rarely diverges at 0.6
    "cpu": Config(n_chains=32, n_continuations=6, fractions=(0.0, 0.5, 1.0),
                  temperatures=(0.0, 1.0), greedy_repeats=4),
    # R1-distill chains on Countdown-3 run ~500-4000 tokens (Thought Anchors allowed 16,384 on
    # MATH): 4096 new tokens lets most references and continuations finish; the rest are counted
    # as unfinished, apart from wrong answers.
    # The one-at-a-time greedy control makes one sequence per call (minutes each at 4096 tokens),
    # so it runs on 4 of the 8 problems.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_chains=8, n_continuations=8,
                  max_new_tokens=4096, batch_size=64, greedy_repeats=4),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_chains=2, n_continuations=2, fractions=(0.0, 1.0),
                                      temperatures=(0.0, 0.6), greedy_repeats=1, max_new_tokens=24)
CLAIM_TEMPERATURE = 0.6  # the agreement claim's temperature (R1's); else the hottest sampled
CEILING = 0.8  # K=0% agreement from which the agreement claim has little room left to rise


# %% [markdown]
# ## Sample: reference chains, their value, their tokens and (on the organism) their decision points
# A chain *finished* when the model closed `</think>`, stopped by itself and committed to an
# answer. The answer's *value* is what the comparison uses: the boxed expression evaluated for
# Countdown, the number for
# numeric tasks, the normalised text otherwise.


# %%
def answer_value(completion: str, task: str) -> str | None:
    """The value of a finished completion's final answer as a canonical string (None: no answer).

    The task's own extractor reads the answer (`TaskSet.extract`); an arithmetic expression is
    evaluated, a number parsed, anything else compared as lower-cased text.

    >>> answer_value(" Try 12*8=96. </think> \\boxed{(12*8)/4}", "countdown")
    '24'
    >>> answer_value(" ok </think> \\boxed{(12+8)+4}", "countdown")
    '24'
    >>> answer_value(" 12*2=24", "countdown") is None  # never finished
    True
    """
    if not grading.finished(completion):
        return None
    answer = get_task_set(task).extract(completion)
    if answer is None:
        return None
    try:
        return str(evaluate_expression(answer))
    except ValueError:
        pass  # not plain arithmetic: a number with words around it, or text
    number = grading.parse_number(answer)
    return str(number) if number is not None else answer.strip().lower()


def chain_finished(completion: str, stopped: bool, task: str) -> bool:
    """Finished = stopped by itself (not the token budget), closed the thinking and gave an answer.

    >>> chain_finished(" Try 2+3=5. Hit. </think> \\boxed{2+3}", True, "countdown")
    True
    >>> chain_finished(" Try 2+3=5. Hit. Try", False, "countdown")
    False
    """
    return stopped and answer_value(completion, task) is not None


def token_starts(tokenizer: Any, token_ids: Sequence[int], text: str) -> list[int]:
    """Character offset in `text` where each generated token starts (none past the text's end)."""
    starts = [len(tokenizer.decode(list(token_ids[:i]), skip_special_tokens=False))
              for i in range(len(token_ids))]
    return [s for s in starts if s < len(text)]


def decision_spans(trace: Trace) -> list[list[int]]:
    """Character spans [start, end) of the true search's decisions in `trace.completion`.

    A decision is where the search could go more than one way: the operation each "Try" picks (which
    numbers, which operator), and after a "Miss." whether to try again or to backtrack (the next
    step's first word). The rest (results, "Left:", "Miss."/"Hit.", the answer) follows from
    arithmetic.

    >>> t = make_trace(search((8, 19, 4), 31))
    >>> [t.completion[a:b] for a, b in decision_spans(t)][:5]
    ['8*19', '152-4', 'Try', '152/4', 'Wait']
    """
    offset = len(trace.prompt)
    spans = []
    previous = ""
    for step in trace.steps:
        start = step.char_start - offset
        if previous == "Miss.":
            first_word = re.match(r"\w+", step.text)
            spans.append([start, start + first_word.end()])
        operation = re.match(r"Try (\d+[-+*/]\d+)=", step.text)
        if operation:
            spans.append([start + operation.start(1), start + operation.end(1)])
        previous = step.text
    return spans


_CHECK = re.compile(r"\b(?:Hit|Miss)\b")  # the organism's check word after each final Try


def check_spans(completion: str) -> list[list[int]]:
    """Character spans [start, end) of the check words ("Hit"/"Miss") in a completion: what
    follows a Try by arithmetic, not a decision of the search (the strongest one-line rule for
    where the organism's first divergences fall).

    >>> text = " Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Hit."
    >>> [text[a:b] for a, b in check_spans(text)]
    ['Miss', 'Hit']
    """
    return [[m.start(), m.end()] for m in _CHECK.finditer(completion)]


def true_trace(problem) -> Trace | None:
    """The organism's ground-truth trace of a Countdown problem (None for other tasks)."""
    if "numbers" not in problem.meta:
        return None
    return make_trace(search(tuple(problem.meta["numbers"]), problem.meta["target"]))


def references(ctx: Context, problems) -> list[dict]:
    """One sampled reference chain per problem, stored so a resumed run reuses the same ones."""
    cfg = ctx.cfg
    todo = [p for p in problems if not ctx.store.done(f"reference:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = []
    if todo:
        how = cfg.sampling(temperature=cfg.reference_temperature)
        samples = rollouts.sample(ctx.model, prompts, 1, how)
    task = get_task_set(cfg.task)
    for p, prompt, row in zip(todo, prompts, samples):
        done = row[0]
        truth = true_trace(p)
        # The organism's decision points are known only where the reference *is* the true search.
        on_search = truth is not None and done.text.rstrip() == truth.completion.rstrip()
        ctx.store.append({
            "unit": f"reference:{p.id}", "kind": "reference", "problem": p.id, "prompt": prompt,
            "completion": done.text,
            "finished": chain_finished(done.text, done.finished, cfg.task),
            "value": answer_value(done.text, cfg.task),
            # right answer? (the prompt-only baseline: a continuation agrees iff this is right)
            "correct": bool(task.grade(p, done.text)),
            "n_steps": len(prefixes.chain_steps(done.text)),
            "token_starts": token_starts(ctx.model.tokenizer, done.token_ids, done.text),
            "on_true_search": on_search,
            "decision_spans": decision_spans(truth) if on_search else None,
        })
    return [r for r in ctx.store.rows() if r.get("kind") == "reference"]


# %% [markdown]
# ## Sample: regenerate from the first K% of each finished reference


# %%
def divergence_char(reference: str, whole: str, cut: int) -> int | None:
    """The character where a regenerated completion first differs from the reference (None: same).

    >>> divergence_char(" Try 8*19=152. Miss.", " Try 8*19=152. Hit.", 14)
    15
    >>> divergence_char("ab", "ab", 0) is None
    True
    """
    if whole == reference:
        return None
    return cut + prefixes.first_divergence(reference[cut:], whole[cut:])


def regenerate(ctx: Context, refs: list[dict], temperature: float) -> None:
    """All (reference, K) prefixes at one temperature in one batched call; a row per pair."""
    cfg = ctx.cfg

    def unit(ref: dict, fraction: float) -> str:
        return f"regen:T{temperature:g}:{ref['problem']}:K{round(100 * fraction)}"

    todo = []  # (reference row, its prefix, K)
    for ref in refs:
        cuts = prefixes.fraction_prefixes(ref["problem"], ref["completion"], cfg.fractions)
        for cut, fraction in zip(cuts, cfg.fractions):
            if not ctx.store.done(unit(ref, fraction)):
                todo.append((ref, cut, fraction))
    if not todo:
        return
    n = cfg.n_continuations if temperature > 0 else 1  # greedy gives one answer by definition
    seed = cfg.seed + 1 + round(100 * temperature)
    prompts = [ref["prompt"] for ref, _, _ in todo]
    cuts = [cut for _, cut, _ in todo]
    how = cfg.sampling(temperature=temperature, seed=seed)
    conts = prefixes.resample(ctx.model, prompts, cuts, n, how)
    for (ref, cut, fraction), texts in zip(todo, conts):
        whole = [cut.text + t.text for t in texts]  # the kept prefix + what was regenerated
        ctx.store.append({
            "unit": unit(ref, fraction), "kind": "regen", "problem": ref["problem"],
            "temperature": temperature, "fraction": fraction, "k": cut.k, "n_steps": cut.n_steps,
            "cut_char": len(cut.text),  # regenerated text starts at this character of the reference
            "reference_value": ref["value"],
            "values": [answer_value(w, cfg.task) for w in whole],
            "finished": [chain_finished(w, t.finished, cfg.task) for w, t in zip(whole, texts)],
            "divergence": [divergence_char(ref["completion"], w, len(cut.text)) for w in whole],
        })


# %% [markdown]
# ## Control: greedy decoding, repeated one at a time and in one padded batch


# %%
def greedy_control(ctx: Context, refs: list[dict]) -> None:
    cfg, model = ctx.cfg, ctx.model
    where = {"device": str(model.device), "dtype": str(model.dtype).removeprefix("torch.")}
    # one batched row per shard (`--shard i/n`), so merged shards never share a unit
    batched_unit = "greedy:batched" if ctx.shard.count == 1 else f"greedy:batched:{ctx.shard}"
    if not ctx.store.done(batched_unit):
        prompts = [ref["prompt"] for ref in refs]
        batched = rollouts.sample(model, prompts, 1, cfg.sampling(temperature=0.0))
        ctx.store.append({"unit": batched_unit, "kind": "control", "mode": "batched",
                          "problems": [r["problem"] for r in refs],
                          "texts": [row[0].text for row in batched], **where})
    for ref in refs[: cfg.greedy_repeats]:  # one sequence per generate call: the slow part
        if ctx.store.done(f"greedy:single:{ref['problem']}"):
            continue
        # twice, one prompt per call; the second with another seed, which must not matter to greedy
        texts = []
        for seed in (cfg.seed, cfg.seed + 1):
            how = cfg.sampling(temperature=0.0, seed=seed, batch_size=1)
            one = rollouts.sample(model, [ref["prompt"]], 1, how)
            texts.append(one[0][0].text)
        ctx.store.append({"unit": f"greedy:single:{ref['problem']}", "kind": "control",
                          "mode": "single", "problem": ref["problem"], "texts": texts, **where})


def run(ctx: Context) -> None:
    every = get_task_set(ctx.cfg.task).make(ctx.cfg.n_chains, seed=ctx.cfg.seed)
    problems = ctx.my_problems(every)  # all of them, or this shard's share (--shard i/n)
    refs = references(ctx, problems)
    finished = [r for r in refs if r["finished"]]  # an unfinished one has no answer to agree with
    for temperature in ctx.cfg.temperatures:
        regenerate(ctx, finished, temperature)
    greedy_control(ctx, refs)


# %% [markdown]
# ## Analyse: agreement by value, entropy and token-level divergence against K


# %%
@dataclass(frozen=True)
class Cell:
    """Every measure at one (temperature, K), over the finished references."""

    temperature: float  # regeneration temperature (0 = greedy)
    fraction: float  # K: share of the reference's steps kept
    agreement: stats.Estimate  # P(answer value = reference's) over finished continuations
    entropy: stats.Estimate  # answer-value entropy (bits) per (reference, K), finished ones only
    followed: stats.Estimate  # share of the reference's remaining tokens reproduced, in order
    identical: stats.Estimate  # P(continuation reproduces the reference's remaining text exactly)
    n_continuations: int  # continuations generated
    n_unfinished: int  # of them, how many never finished (left out of agreement and entropy)


@dataclass(frozen=True)
class Greedy:
    """The greedy control: does repeating the same computation give the same text?"""

    repeat_identical: stats.Estimate  # one prompt at a time, twice: identical text (per problem)
    batched_identical: stats.Estimate  # one padded batch vs one at a time: identical text
    device: str  # where the control ran
    dtype: str  # and in which precision


def entropy_bits(values: Sequence[str]) -> float:
    """Entropy (bits) of the values' empirical distribution; nan for none.

    >>> entropy_bits(["24", "24", "25", "26"]), entropy_bits([])
    (1.5, nan)
    """
    return prefixes.answer_entropy(values) if values else math.nan


def followed_share(starts: Sequence[int], cut: int, divergence: int | None, text_end: int) -> float:
    """Share of the reference's tokens after `cut` reproduced before the first divergence (1 = all).

    A token is reproduced when it ends at or before the first differing character.

    >>> followed_share([0, 4, 8, 12, 16], cut=4, divergence=13, text_end=20)
    0.5
    >>> followed_share([0, 4], cut=4, divergence=None, text_end=8)
    1.0
    """
    rest = [s for s in starts if s >= cut]
    if not rest or divergence is None or divergence >= text_end:
        return 1.0
    reproduced = sum(s <= divergence for s in rest) - 1  # the token holding the divergence is not
    return max(reproduced, 0) / len(rest)


def on_decision(starts: Sequence[int], spans: Sequence[Sequence[int]], index: int,
                text_end: int) -> bool:
    """Whether reference token `index` (its characters) overlaps a decision span."""
    end = starts[index + 1] if index + 1 < len(starts) else text_end
    return any(starts[index] < b and end > a for a, b in spans)


def token_at(starts: Sequence[int], char: int) -> int:
    """Index of the token containing character `char`."""
    return max(i for i, s in enumerate(starts) if s <= char)


def _measure(estimate: stats.Estimate) -> stats.Estimate:
    """A mean of a measure, not a proportion: shown with its interval, never as counts."""
    return dataclasses.replace(estimate, successes=None)


def cell(regen: list[dict], refs: dict[str, dict], temperature: float, fraction: float) -> Cell:
    rows = [r for r in regen if r["temperature"] == temperature and r["fraction"] == fraction]
    agree, agree_at = [], []  # one item per finished continuation
    ent, ent_at = [], []  # one item per (reference, K)
    follow, same, follow_at = [], [], []  # one item per continuation
    unfinished = 0
    for r in rows:
        kept = [v for v, ok in zip(r["values"], r["finished"]) if ok]
        unfinished += len(r["values"]) - len(kept)
        agree += [float(v == r["reference_value"]) for v in kept]
        agree_at += [r["problem"]] * len(kept)
        ent.append(entropy_bits(kept))
        ent_at.append(r["problem"])
        ref = refs[r["problem"]]
        for d in r["divergence"]:
            share = followed_share(ref["token_starts"], r["cut_char"], d, len(ref["completion"]))
            follow.append(share)
            same.append(float(d is None))
            follow_at.append(r["problem"])
    return Cell(temperature=temperature, fraction=fraction,
                agreement=stats.mean_ci(agree, agree_at),
                entropy=_measure(stats.mean_ci(ent, ent_at)),
                followed=_measure(stats.mean_ci(follow, follow_at)),
                identical=stats.mean_ci(same, follow_at),
                n_continuations=sum(len(r["values"]) for r in rows), n_unfinished=unfinished)


@dataclass(frozen=True)
class DecisionPoints:
    """Where sampled continuations first leave a true-search reference, against a random token."""

    observed: stats.Estimate  # P(first divergence falls on a decision token)
    random: stats.Estimate  # share of decision tokens in the span the continuation reached
    difference: stats.Estimate  # observed - random, paired by continuation
    on_check: stats.Estimate  # P(first divergence falls on a check word, "Hit"/"Miss")
    random_on_check: stats.Estimate  # share of check-word tokens in the span reached
    check_difference: stats.Estimate  # on_check - random_on_check, paired by continuation
    n_on_either: int  # first divergences on a decision token or a check word (disjoint classes)
    n_sampled: int  # sampled first divergences from every regenerated reference (T > 0)
    n_off_search: int  # of them, from references that are not the true search (left out)
    n_off_search_references: int  # those references (regenerated, not the true search)
    n_past_end: int  # from true-search references, past the reference's end (left out)


@dataclass(frozen=True)
class PromptRule:
    """The strongest simple baseline of the agreement claim, from the prompt alone: every finished
    chain answers correctly (on the organism: follows its deterministic search to the target),
    so a continuation agrees with its reference exactly when the reference is right."""

    agreement_k50: stats.Estimate  # the rule's predicted agreement, the claim's K=50% items
    agreement_k0: stats.Estimate  # the same on the K=0% items
    k50_minus_rule: stats.Estimate  # observed minus predicted agreement at K=50%, paired
    k0_minus_rule: stats.Estimate  # the same at K=0%
    n_wrong_references: int  # regenerated references whose answer is wrong
    agreement_k0_wrong: stats.Estimate  # observed K=0% agreement on those problems
    agreement_k50_wrong: stats.Estimate  # and K=50%
    # item by item at K=0%: P(the rule's prediction = observed agreement); the constant "every
    # continuation agrees" scores the observed K=0% agreement itself (Metrics.agreement_k0)
    accuracy_k0: stats.Estimate


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings and figure read these fields."""

    n_references: int  # reference chains, one per problem
    n_references_unfinished: int  # of them, never finished (left out: no answer to agree with)
    n_references_on_true_search: int  # of them, exactly the organism's true search trace
    cells: list[Cell]  # every measure at each (temperature, K)
    claim_temperature: float  # the agreement claim's temperature (CLAIM_TEMPERATURE if sampled)
    agreement_k50: stats.Estimate  # answer agreement at K nearest 50%, at the claim's T
    agreement_k0: stats.Estimate  # the same at K=0% (prompt only): the control
    agreement_gain: stats.Estimate  # K=50% minus K=0%, paired by problem (the primary claim)
    half_fraction: float  # the K used as "50%" (nearest sampled fraction)
    # the gain on the problems whose K=0% agreement is below 1 (an extra number, not a claim)
    agreement_gain_below_ceiling: stats.Estimate
    divergence_on_decision: stats.Estimate  # first divergences on a decision token
    random_token_on_decision: stats.Estimate  # position-matched random tokens (the control)
    decision_excess: stats.Estimate  # divergence minus random token
    greedy: Greedy | None  # the greedy control (None: no control rows)
    # the strongest simple baselines (issue #25): a rule from the prompt alone for the agreement
    # claim (None: the reference rows do not say whether they are right), and for the decision
    # claim the check word after a Try, where first divergences fall without any decision
    prompt_rule: PromptRule | None
    divergence_on_check: stats.Estimate  # first divergences on a check word ("Hit"/"Miss")
    random_token_on_check: stats.Estimate  # position-matched share of check-word tokens
    check_excess: stats.Estimate  # divergence on a check word minus random token (its units)
    # the decision-point claim's bookkeeping (review s16_b): what it counts and what it leaves out
    n_divergences_on_either: int  # counted first divergences on a decision token or a check word
    n_divergences_sampled: int  # sampled first divergences (T > 0) from every reference
    n_divergences_off_search: int  # of them, from references that are not the true search
    n_references_off_search: int  # those references (regenerated, not the true search's trace)
    n_divergences_past_end: int  # from true-search references, past the reference's end


def decision_points(regen: list[dict], refs: dict[str, dict]) -> DecisionPoints:
    """Do sampled continuations diverge on the true search's decision tokens more than at random?

    For every sampled continuation (T > 0) that diverges from a reference that is the organism's
    true search: is the diverging reference token a decision token? Its control is matched on
    position: a uniformly random token from the span that continuation actually reached, from the
    first token after the cut through the diverging token. A first divergence can only fall in that
    span, so a control drawn from the whole rest of the reference would weigh late tokens that the
    continuation never reached. The control is the share of decision tokens in the span (the
    expectation, so it adds no sampling noise of its own).
    """
    hit, hit_at, base, check, check_base = [], [], [], [], []
    sampled, past_end, off_search, off_references = 0, 0, 0, set()
    for r in regen:
        ref = refs[r["problem"]]
        if r["temperature"] == 0:
            continue
        diverged = sum(d is not None for d in r["divergence"])
        sampled += diverged
        if not ref["on_true_search"]:
            off_search += diverged  # no true search to read decisions from: left out, counted
            off_references.add(r["problem"])
            continue
        starts, spans, end = ref["token_starts"], ref["decision_spans"], len(ref["completion"])
        for d in r["divergence"]:
            if d is None:
                continue  # identical to the reference: no divergence
            if d >= end:
                past_end += 1  # ran past the reference's end: no token to compare
                continue
            at = token_at(starts, d)
            reached = [i for i, s in enumerate(starts) if s >= r["cut_char"] and i <= at] or [at]
            hit.append(float(on_decision(starts, spans, at, end)))
            base.append(sum(on_decision(starts, spans, i, end) for i in reached) / len(reached))
            checks = check_spans(ref["completion"])
            check.append(float(on_decision(starts, checks, at, end)))
            check_base.append(sum(on_decision(starts, checks, i, end) for i in reached)
                              / len(reached))
            hit_at.append(r["problem"])
    return DecisionPoints(observed=stats.mean_ci(hit, hit_at),
                          random=_measure(stats.mean_ci(base, hit_at)),
                          difference=stats.difference_ci(hit, hit_at, base, hit_at),
                          on_check=stats.mean_ci(check, hit_at),
                          random_on_check=_measure(stats.mean_ci(check_base, hit_at)),
                          check_difference=stats.difference_ci(check, hit_at, check_base, hit_at),
                          n_on_either=sum(bool(a or b) for a, b in zip(hit, check)),
                          n_sampled=sampled, n_off_search=off_search,
                          n_off_search_references=len(off_references), n_past_end=past_end)


def greedy(rows: list[dict]) -> Greedy | None:
    batched_rows = [r for r in rows if r.get("mode") == "batched"]  # one per shard
    batched = batched_rows[0] if batched_rows else None
    singles = [r for r in rows if r.get("mode") == "single"]
    if batched is None or not singles:
        return None
    in_batch = {problem: text for row in batched_rows
                for problem, text in zip(row["problems"], row["texts"])}
    repeat = sum(r["texts"][0] == r["texts"][1] for r in singles)
    same_batch = sum(r["texts"][0] == in_batch[r["problem"]] for r in singles)
    return Greedy(repeat_identical=stats.proportion_ci(repeat, len(singles)),
                  batched_identical=stats.proportion_ci(same_batch, len(singles)),
                  device=batched["device"], dtype=batched["dtype"])


Side = tuple[list[float], list[str]]  # (one value per finished continuation, its problem)


def prompt_rule(sides: dict[str, Side], right: dict[str, list]) -> PromptRule | None:
    """The agreement claim's prompt-only baseline on the same items as the claim: predicted
    agreement 1 where the reference is right, 0 where it is wrong; observed minus predicted is
    paired by continuation. None when a reference row lacks `correct` (runs before it was kept).
    """
    if any(v is None for name in sides for v in right[name]):
        return None
    predicted = {name: [float(v) for v in right[name]] for name in sides}
    estimate = {name: stats.mean_ci(predicted[name], sides[name][1]) for name in sides}

    def minus_rule(name: str) -> stats.Estimate:
        values, clusters = sides[name]
        return stats.difference_ci(values, clusters, predicted[name], clusters)

    def on_wrong(name: str) -> stats.Estimate:
        values, clusters = sides[name]
        keep = [i for i, ok in enumerate(predicted[name]) if not ok]
        return stats.mean_ci([values[i] for i in keep], [clusters[i] for i in keep])

    wrong = {p for name in sides for p, ok in zip(sides[name][1], predicted[name]) if not ok}
    k0_values, k0_at = sides["k0"]
    hits = [float(v == p) for v, p in zip(k0_values, predicted["k0"])]
    return PromptRule(agreement_k50=estimate["k50"], agreement_k0=estimate["k0"],
                      k50_minus_rule=minus_rule("k50"), k0_minus_rule=minus_rule("k0"),
                      n_wrong_references=len(wrong), agreement_k0_wrong=on_wrong("k0"),
                      agreement_k50_wrong=on_wrong("k50"),
                      accuracy_k0=stats.mean_ci(hits, k0_at))


def analyse(rows: list[dict]) -> Metrics:
    refs = {r["problem"]: r for r in rows if r.get("kind") == "reference"}
    regen = [r for r in rows if r.get("kind") == "regen"]
    temperatures = sorted({r["temperature"] for r in regen})
    fractions = sorted({r["fraction"] for r in regen})
    sampled = [t for t in temperatures if t > 0]
    claim_t = CLAIM_TEMPERATURE if CLAIM_TEMPERATURE in sampled else max(sampled, default=math.nan)
    # Claim 1: keeping half the chain fixes the answer more than keeping none (paired by problem).
    at = [r for r in regen if r["temperature"] == claim_t]
    half = min(fractions, key=lambda f: abs(f - 0.5), default=math.nan)
    sides, predicted = {}, {}
    for name, fraction in (("k50", half), ("k0", 0.0)):
        values, clusters, rule = [], [], []
        for r in at:
            if r["fraction"] == fraction:
                kept = [v for v, ok in zip(r["values"], r["finished"]) if ok]
                values += [float(v == r["reference_value"]) for v in kept]
                clusters += [r["problem"]] * len(kept)
                rule += [refs[r["problem"]].get("correct")] * len(kept)
        sides[name] = (values, clusters)
        predicted[name] = rule
    # Claim 1 can barely move when K=0 already agrees: the same comparison on the problems whose
    # K=0 agreement is below 1 (selected on the K=0 side, so regression to the mean favours a gain).
    k0_values, k0_at = sides["k0"]
    below = {p for p in set(k0_at)
             if min(v for v, q in zip(k0_values, k0_at) if q == p) < 1}

    def only(side: tuple[list, list]) -> tuple[list, list]:
        values, clusters = side
        keep = [i for i, p in enumerate(clusters) if p in below]
        return [values[i] for i in keep], [clusters[i] for i in keep]

    # Claim 2: divergences fall on the true search's decision points more than at random tokens.
    decisions = decision_points(regen, refs)
    return Metrics(
        n_references=len(refs),
        n_references_unfinished=sum(not r["finished"] for r in refs.values()),
        n_references_on_true_search=sum(bool(r["on_true_search"]) for r in refs.values()),
        cells=[cell(regen, refs, t, f) for t in temperatures for f in fractions],
        claim_temperature=claim_t,
        agreement_k50=stats.mean_ci(*sides["k50"]),
        agreement_k0=stats.mean_ci(*sides["k0"]),
        agreement_gain=stats.difference_ci(*sides["k50"], *sides["k0"]),
        half_fraction=half,
        agreement_gain_below_ceiling=stats.difference_ci(*only(sides["k50"]),
                                                         *only(sides["k0"])),
        divergence_on_decision=decisions.observed,
        random_token_on_decision=decisions.random,
        decision_excess=decisions.difference,
        greedy=greedy([r for r in rows if r.get("kind") == "control"]),
        prompt_rule=prompt_rule(sides, predicted),
        divergence_on_check=decisions.on_check,
        random_token_on_check=decisions.random_on_check,
        check_excess=decisions.check_difference,
        n_divergences_on_either=decisions.n_on_either,
        n_divergences_sampled=decisions.n_sampled,
        n_divergences_off_search=decisions.n_off_search,
        n_references_off_search=decisions.n_off_search_references,
        n_divergences_past_end=decisions.n_past_end)


# %% [markdown]
# ## Figure


# %%
def plot(rows: list[dict], metrics: Metrics):
    cells = metrics.cells
    temperatures = sorted({c.temperature for c in cells})
    fig, axes = plt.subplots(2, 2, figsize=(7, 7))
    panels = (("agreement", "answer value agrees\nwith the reference's", (-0.05, 1.05)),
              ("entropy", "answer-value entropy (bits)", None),
              ("followed", "share of the reference's remaining\ntokens reproduced", (-0.05, 1.05)))
    for ax, (name, label, ylim) in zip(axes.flat, panels):
        for i, t in enumerate(temperatures):
            row = [c for c in cells if c.temperature == t]
            offset = (i - (len(temperatures) - 1) / 2) * 3  # side by side: bars don't overlap
            estimate_points(ax, [100 * c.fraction + offset for c in row],
                            [getattr(c, name) for c in row],
                            label=f"T={t:g}" + (" (greedy)" if t == 0 else ""))
        ax.set(xlabel="K: % of the reference's steps kept", ylabel=label)
        if ylim:
            ax.set_ylim(ylim)
        else:
            ax.set_ylim(bottom=-0.05)
        ax.set_xticks(sorted({100 * c.fraction for c in cells}))
    if math.isfinite(metrics.half_fraction):  # the primary claim's two points sit in this panel
        k = round(100 * metrics.half_fraction)
        axes.flat[0].set_title(f"primary claim: T={metrics.claim_temperature:g}, K={k}% vs K=0%",
                               fontsize=8, fontweight="bold")
    rule = metrics.prompt_rule
    if rule is not None and math.isfinite(rule.agreement_k0.value):
        # the prompt-only rule predicts the same agreement at every K (it reads no prefix)
        axes.flat[0].axhline(rule.agreement_k0.value, color="tab:olive", ls="--", lw=1,
                             label="prompt-only rule")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    ax = axes.flat[3]
    observed, random_ = metrics.divergence_on_decision, metrics.random_token_on_decision
    if observed.n_items:
        # the decision points, then the strongest one-line rule (the check word) the same way
        estimate_bars(ax, [0, 1, 2.5, 3.5],
                      [observed, random_, metrics.divergence_on_check,
                       metrics.random_token_on_check],
                      capsize=4, color=["tab:red", "tab:gray", "tab:olive", "tab:gray"])
        ax.set_xticks([0, 1, 2.5, 3.5], ["first\ndivergence", "random\ntoken",
                                         "first\ndivergence", "random\ntoken"], fontsize=7)
        ax.set(ylabel="share on the token class", ylim=(0, 1.05))
        ax.set_title("secondary: decision (red) | check word (olive)", fontsize=8)
    else:  # no sampled continuation left a reference that is the organism's true search
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no divergence from a\ntrue-search reference", ha="center", va="center")
    if labels:  # none when no reference finished (e.g. a model that never closes its thinking)
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


# %% [markdown]
# ## Claims


# %%
PROMPT_RULE = ("every finished chain answers correctly (on the organism: follows its "
               "deterministic search to the target), so a continuation agrees with its reference "
               "exactly when the reference is right")
PROMPT_ONLY = ("any prompt-only rule (it reads no prefix: 'a continuation agrees exactly when the "
               "reference is right', or the constant 'every continuation agrees'): its predicted "
               "gain from keeping a prefix")
CHECK_RULE = ("one-line rule: a sampled continuation first diverges on the check word after a "
              "Try ('Hit'/'Miss', which follows from arithmetic, not a search decision)")


def claims(m: Metrics) -> list[Claim]:
    k = round(100 * m.half_fraction) if math.isfinite(m.half_fraction) else 50
    t = m.claim_temperature
    gain = m.agreement_gain
    # in the claim's units (a gain): 0 by construction, an exact constant, not a sample
    agreement_baseline = None if not gain.n else Baseline(
        PROMPT_ONLY, stats.constant(0.0, gain.n, gain.unit, gain.n_items))
    out = [compare(
        f"Keeping the first {k}% of a reference chain makes a regenerated answer (T={t:g}) agree "
        "with the reference's more often than keeping none.",
        f"answer agreement by value at K={k}%", m.agreement_k50,
        "the same problems regenerated from K=0% (prompt only)",
        "answer agreement by value at K=0%", m.agreement_k0, m.agreement_gain,
        key=PRIMARY, strongest_baseline=agreement_baseline)]
    if m.divergence_on_decision.n_items:
        out.append(compare(
            "Sampled continuations first leave the reference on the true search's decision points "
            "(which operation to try, whether to backtrack) more often than at a random token of "
            "the span they reached before diverging.",
            "first divergence on a decision token", m.divergence_on_decision,
            "a random token of the span the continuation reached (cut to divergence)",
            "share of decision tokens",
            m.random_token_on_decision, m.decision_excess, key="divergence-on-decision",
            strongest_baseline=Baseline(f"{CHECK_RULE}: its excess over a random token of the "
                                        "same reached span (share on a check word minus the "
                                        "span's share of check-word tokens)", m.check_excess)))
    return declare(out, PRIMARY)


def baseline_text(m: Metrics) -> str:
    """The simple baselines, stated before anything else (issue #25, review s16_b)."""
    d = stats.describe
    rule = m.prompt_rule
    k = round(100 * m.half_fraction) if math.isfinite(m.half_fraction) else 50
    text = ("Baseline of the agreement claim, in its units: a prompt-only rule reads no prefix, "
            "so it predicts a gain of exactly 0 from keeping one. ")
    if rule is None:
        text += ("The rule below is not computed (these reference rows do not record whether "
                 "their answer is right).")
    else:
        text += (
            f"One prompt-only rule, spelled out: {PROMPT_RULE}. It predicts "
            f"agreement {d(rule.agreement_k0)} at K=0% (observed {d(m.agreement_k0)}; observed "
            f"minus predicted {d(rule.k0_minus_rule)}) and {d(rule.agreement_k50)} at K={k}% "
            f"(observed {d(m.agreement_k50)}; observed minus predicted "
            f"{d(rule.k50_minus_rule)}), and by construction no gain from keeping a prefix: "
            "the K=0% ceiling is the model's accuracy, so the prompt alone decides most "
            "answers. Where the rule fails is the "
            f"{rule.n_wrong_references} problems whose reference answer is wrong: there "
            f"continuations from the prompt alone still repeat the wrong answer in "
            f"{d(rule.agreement_k0_wrong)} (K={k}%: {d(rule.agreement_k50_wrong)}), so the "
            "error too is mostly fixed by the prompt. It is not the most accurate prompt-only "
            "rule item by item: at K=0% it matches the observed agreement of "
            f"{d(rule.accuracy_k0)} of continuations, the constant 'every continuation agrees' "
            f"{d(m.agreement_k0)}; both predict no gain.")
    if m.divergence_on_decision.n_items:
        n = m.divergence_on_decision.n_items
        text += (
            f"\n\nStrongest simple baseline of the decision-point claim (chosen after seeing "
            f"these rows: an exploratory number, not a claim): the {CHECK_RULE}. "
            f"{d(m.divergence_on_check)} of first divergences fall on a check word (a random "
            f"token of the reached span is one in {d(m.random_token_on_check)}), against "
            f"{d(m.divergence_on_decision)} on a decision token. In the claim's units (excess "
            f"over a random token of the same span) the check word gives {d(m.check_excess)}, "
            f"the decision token {d(m.decision_excess)}. The two classes are disjoint and "
            f"{m.n_divergences_on_either} of the {n} first divergences fall on one or the other, "
            "so the two shares are one partition, not two competing predictors: where the "
            "organism's samples part from the reference is better told by the check word than "
            "by the search's decisions.")
    return text


def findings(m: Metrics) -> str:
    d = stats.describe
    by = {(c.temperature, c.fraction): c for c in m.cells}
    temperatures = sorted({c.temperature for c in m.cells})
    fractions = sorted({c.fraction for c in m.cells})
    text = (f"{baseline_text(m)}\n\n"
            f"{m.n_references} reference chains; {m.n_references_unfinished} never finished "
            "and are left out (an unfinished chain has no answer to agree with).")
    if not fractions:
        return text
    gain, below = m.agreement_gain, m.agreement_gain_below_ceiling
    if math.isfinite(m.half_fraction) and below.n_items:
        k = round(100 * m.half_fraction)
        ceiling = CEILING <= m.agreement_k0.value and not gain.excludes_zero
        text += (f"\n\nThe agreement claim (K={k}% vs K=0% at T={m.claim_temperature:g}): K=0% "
                 f"already agrees in {d(m.agreement_k0)}"
                 + (", so its 'not distinguishable' reflects a ceiling (the measure has little "
                    "room to rise), not evidence against the claim. " if ceiling else ". ")
                 + f"Restricted to the {below.n} problems whose K=0% agreement is below 1 (an "
                 "extra number, not a claim; selected on the K=0% side, so regression to the "
                 f"mean favours a gain) the difference is {d(below)}, against {d(gain)} over "
                 "all problems.")
    lo, hi = fractions[0], fractions[-1]
    k_lo, k_hi = round(100 * lo), round(100 * hi)
    for t in temperatures:
        a, b = by[(t, lo)], by[(t, hi)]
        text += (f"\n\n- T={t:g}: answer agreement by value {d(a.agreement)} at K={k_lo}% and "
                 f"{d(b.agreement)} at K={k_hi}%; answer entropy {d(a.entropy)} -> {d(b.entropy)} "
                 f"bits; continuations reproduce {d(a.followed)} -> {d(b.followed)} of the "
                 "reference's remaining tokens before first diverging. Unfinished continuations: "
                 f"{a.n_unfinished}/{a.n_continuations} at K={k_lo}%, "
                 f"{b.n_unfinished}/{b.n_continuations} at K={k_hi}%.")
    observed = m.divergence_on_decision
    if observed.n_items:
        text += (f"\n\nOn the organism ({m.n_references_on_true_search} references are exactly "
                 "the true search's trace), sampled continuations first diverged on a "
                 f"decision token in {d(observed)} of divergences; a random token of the span "
                 "the same continuation reached (from the cut through its divergence: matched "
                 "on position, since a first divergence can only fall there) is one in "
                 f"{d(m.random_token_on_decision)}. Left out of that claim: "
                 f"{m.n_divergences_off_search} of the {m.n_divergences_sampled} sampled first "
                 f"divergences come from the {m.n_references_off_search} regenerated references "
                 "that are not the true search (no decision points to read), and "
                 f"{m.n_divergences_past_end} ran past a true-search reference's end; the claim "
                 f"counts the other {observed.n_items}.")
    elif m.n_references_on_true_search:
        text += (f"\n\n{m.n_references_on_true_search} references are exactly the organism's "
                 "true search trace, but no sampled continuation diverged from one of them: the "
                 "decision-point measure has nothing to count at this n.")
    else:
        text += ("\n\nNo reference is the organism's true search trace, so the decision-point "
                 "measure does not apply (it needs the TinyThinker organism's ground-truth tree).")
    g = m.greedy
    if g is not None:
        text += (f"\n\nControl ({g.device}, {g.dtype}): greedy decoding repeated one prompt at a "
                 f"time gave identical text for {d(g.repeat_identical)}, and one padded batch "
                 f"matched one-at-a-time for {d(g.batched_identical)}. Greedy has no randomness: "
                 "any difference is numerical (padding and batch shapes change the kernels' "
                 "summation order; bf16 on GPU magnifies it into flipped near-tie tokens).")
    return text + ("\n\nAn organism result is a hypothesis to test on R1-distill (`--preset gpu`), "
                   "whose long chains have many more places to fork.")


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run determinism --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stages of `run`, for planning."""
    per_temperature = [cfg.n_continuations if t > 0 else 1 for t in cfg.temperatures]
    return [
        Generation("reference chains", sequences=cfg.n_chains, max_new_tokens=cfg.max_new_tokens,
                   batch_size=cfg.batch_size),
        Generation("regenerations after the first K% of steps",
                   sequences=cfg.n_chains * len(cfg.fractions) * sum(per_temperature),
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                   prompt_tokens=256 + cfg.max_new_tokens // 2),
        Generation("greedy control, one padded batch", sequences=cfg.n_chains,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size),
        Generation("greedy control, one at a time, twice", sequences=2 * cfg.greedy_repeats,
                   max_new_tokens=cfg.max_new_tokens, batch_size=1),
    ]


# %% [markdown]
# ## Does the method work? (planted truth)
# `tinythinker-lucky` (`starter/organism/variants.py`, dial "luck") tries the first-level branches
# in a uniformly random order, at most 3, then gives up and answers its last try: from the prompt
# alone its answer is a lottery over branches (different samples reach different answers or
# fail), while the base searches in one fixed order and only its sampling noise varies the chain.
# Regenerated from nothing kept (K=0), the lucky variant's answers should agree with its reference
# less often than the base's at the same temperature (1.0; order only: what the base keeps at
# T=1 was not planted).


# %%
VALIDATION_SETTINGS = {
    # smoke checks the path only (3 problems, 160 tokens): it runs in `make test`
    "smoke": ("temperatures=1.0", "reference_temperature=1.0", "top_p=1.0"),
    # the cpu preset's 32 problems, sampled only at T=1, with room for three whole branches
    "cpu": ("temperatures=1.0", "reference_temperature=1.0", "top_p=1.0", "max_new_tokens=220"),
}


def measure_agreement_k0(m: Metrics) -> Measured:
    """Answer agreement by value with the reference at K=0 (prompt only), at the claim's T."""
    return measured_from(m.agreement_k0)


def measure_agreement_gain(m: Metrics) -> Measured:
    """The primary claim's gain: agreement at K=50% minus K=0%, paired by problem."""
    return measured_from(m.agreement_gain)


VALIDATION_ARMS = (Arm("tinythinker", None, label="base"), Arm("tinythinker-lucky", None))
VALIDATION = (
    Validation(  # the primary's own quantity (review s16_b: the check read K=0 only)
        quantity="primary: agreement gain from keeping half the reference (K=50% minus K=0%)",
        arms=VALIDATION_ARMS,
        measure=measure_agreement_gain,
        meaning=("On the lucky variant the first half of a reference has already picked the "
                 "branch a prompt-only sample leaves to chance, so keeping it should raise "
                 "agreement more than on the base, whose fixed search decides from the prompt; "
                 "recovered, a gain on R1-distill reads as a prefix that decides the answer."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="answer agreement with the reference at K=0 (T=1)",
        arms=VALIDATION_ARMS,
        measure=measure_agreement_k0,
        meaning=("A model whose answer is a lottery over branches should agree less with itself "
                 "from the prompt alone than one that searches in a fixed order; recovered, low "
                 "K=0 agreement on R1-distill reads as an answer not yet decided by the "
                 "prompt."),
        settings=VALIDATION_SETTINGS,
        increasing=False),
)


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__, presets=PRESETS,
    black_box=True,  # reads sampled text only: runs through --backend openai too
    shardable=True,  # per-problem units (greedy controls: per shard); `mi-starter merge` joins them
    concepts=("uncertainty", "final answer", "backtracking"),
    try_next=(
        "Find the forking tokens (Bigelow et al.): resample after every token of one chain and "
        "look for jumps.",
        "Compare bf16 with fp32 greedy on GPU (`--device cuda`) and count the flipped tokens per "
        "1000.",
        "Cut at backtracking steps only: are answers decided before or after the model says "
        "'Wait'?",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
