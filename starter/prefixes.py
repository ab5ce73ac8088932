"""Cut a chain of thought into prefixes, resample continuations after each, and measure what changes.

The black-box experiment behind "did it get lucky or make progress?" and "how deterministic is it?"
(Thought Anchors, Bogdan et al. 2025; Thought Branches, Macar et al. 2025; Forking Paths, Bigelow et al.
2025): keep the first k steps of a chain, let the model write the rest many times, and look at the
distribution of outcomes as k grows. This module holds the shared parts:

- prefixes: `step_prefixes` (after every step, or `spaced_ks` of them) and `fraction_prefixes` (first K%);
- resampling: `resample` (many continuations of many prefixes in one batched `starter.rollouts.sample`);
- statistics of outcome distributions: `answer_agreement`, `answer_entropy`, `first_divergence`;
- statistics of a P(correct | first k steps) curve: `jump_stats` and its noise baseline `steady_null_share`.

A step is a sentence or line of the thinking (`starter.cot.split_steps`, tagged by `cot.tag_step`).

>>> completion = " Try 8*19=152. Left: 152, 4. Miss. Wait, backtrack. </think> \\\\boxed{(8+19)+4}"
>>> [(p.k, p.tag, p.text) for p in step_prefixes("c0", completion)][:3]
[(0, None, ''), (1, 'compute', ' Try 8*19=152.'), (2, 'plan', ' Try 8*19=152. Left: 152, 4.')]
>>> answer_entropy(["7", "7", "8", None]), answer_agreement(["7", "7", "8", None], "7")
(1.5, 0.5)
>>> round(jump_stats([0.1, 0.1, 0.9, 1.0]).largest_share, 2)
0.89
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from starter import cot
from starter.errors import UsageError

if TYPE_CHECKING:  # torch and the model stay out of `import starter.prefixes`
    from starter import rollouts
    from starter.models import LoadedModel

__all__ = [
    "Prefix", "chain_steps", "step_prefixes", "spaced_ks", "fraction_prefixes", "resample",
    "answer_agreement", "answer_entropy", "first_divergence", "mean_or_nan",
    "JumpStats", "jump_stats", "steady_null_share",
]  # fmt: skip


# ------------------------------------------------------------------------------------------- prefixes


@dataclass(frozen=True)
class Prefix:
    """The first `k` steps of one chain, as text to append to the prompt before resampling."""

    chain: str  # id of the chain it was cut from
    k: int  # steps kept, 0 (prompt only) .. n_steps (the whole thinking)
    n_steps: int  # steps in the whole chain's thinking
    text: str  # the completion up to the end of step k ("" for k=0), exactly as the model wrote it
    tag: str | None  # cot.tag_step of step k, the step this prefix added (None for k=0)
    step_text: str | None  # the text of step k (None for k=0)

    @property
    def fraction(self) -> float:
        """Share of the chain's steps kept (1.0 for a chain without steps)."""
        return self.k / self.n_steps if self.n_steps else 1.0


def chain_steps(completion: str) -> list[cot.Step]:
    """The thinking steps of a completion, with `start`/`end` offsets into the completion itself.

    The completion is what the model wrote after the prompt (for R1 and the organism the prompt already
    opened `<think>`). Text after `</think>` (the answer) is not a step.

    >>> [(s.text, s.start) for s in chain_steps(" Try 2+3=5. Hit. </think> \\\\boxed{2+3}")]
    [('Try 2+3=5.', 1), ('Hit.', 12)]
    """
    thinking, _ = cot.split_completion(completion)
    if not thinking:
        return []
    # split_completion strips the thinking; find where it sits so prefixes keep the model's own spacing.
    close = completion.find(cot.THINK_CLOSE)
    offset = completion.rfind(thinking, 0, None if close < 0 else close)
    return [
        cot.Step(index=s.index, text=s.text, start=s.start + offset, end=s.end + offset, tag=s.tag)
        for s in cot.split_steps(thinking)
    ]


def step_prefixes(chain: str, completion: str, ks: Sequence[int] | None = None) -> list[Prefix]:
    """Prefixes after k = 0, 1, ..., n steps of `completion` (or only the given `ks`).

    >>> [p.k for p in step_prefixes("c", " A. B. C.")], [p.text for p in step_prefixes("c", " A. B. C.", ks=[3])]
    ([0, 1, 2, 3], [' A. B. C.'])
    """
    steps = chain_steps(completion)
    n = len(steps)
    ks = range(n + 1) if ks is None else ks
    if bad := [k for k in ks if not 0 <= k <= n]:
        raise UsageError(f"step prefix sizes {bad} are outside 0..{n} (the chain has {n} steps)")
    return [
        Prefix(
            chain=chain,
            k=k,
            n_steps=n,
            text=completion[: steps[k - 1].end] if k else "",
            tag=steps[k - 1].tag if k else None,
            step_text=steps[k - 1].text if k else None,
        )
        for k in ks
    ]


def spaced_ks(n_steps: int, at_most: int = 0) -> list[int]:
    """Prefix sizes 0..n_steps, or `at_most` of them evenly spaced (both ends kept) for long chains; 0 = all.

    >>> spaced_ks(3), spaced_ks(100, at_most=5)
    ([0, 1, 2, 3], [0, 25, 50, 75, 100])
    """
    if at_most == 1 or at_most < 0:
        raise UsageError(f"at_most must be 0 (every step) or >= 2 (both ends are kept), got {at_most}")
    if not at_most or n_steps + 1 <= at_most:
        return list(range(n_steps + 1))
    return sorted({round(j * n_steps / (at_most - 1)) for j in range(at_most)})


def fraction_prefixes(chain: str, completion: str, fractions: Sequence[float]) -> list[Prefix]:
    """Prefixes keeping the first `round(f * n)` steps for each fraction f in [0, 1] (half rounds up).

    >>> [p.k for p in fraction_prefixes("c", " A. B. C. D. E.", [0, 0.25, 0.5, 0.75, 1])]
    [0, 1, 3, 4, 5]
    """
    if bad := [f for f in fractions if not 0.0 <= f <= 1.0]:
        raise UsageError(f"prefix fractions {bad} are outside [0, 1]; use e.g. 0, 0.25, 0.5, 0.75, 1")
    n = len(chain_steps(completion))
    return step_prefixes(chain, completion, ks=[math.floor(f * n + 0.5) for f in fractions])


# ------------------------------------------------------------------------------------------ resampling


def resample(
    model: LoadedModel, prompts: Sequence[str], prefixes: Sequence[Prefix], n: int, cfg: rollouts.SamplingConfig
) -> list[list[rollouts.Completion]]:
    """`n` continuations of `prompts[i] + prefixes[i].text` for every i: `result[i][j]` continues prefix i.

    `prompts` pairs a prompt with each prefix (prefixes of one chain share it; prefixes of many chains can
    go in one batched call). A continuation's `.text` is what the model wrote after the prefix, so
    `prefix.text + continuation.text` is a whole completion: grade that. `cfg.seed` fixes the
    samples: continuation j of a prefix is keyed by (seed, prompt + prefix text, j), so it is the
    same whichever other prefixes share the call (a resumed run that resamples only the missing
    prefixes gets what the uninterrupted run got).
    """
    from starter import rollouts

    if len(prompts) != len(prefixes):
        raise UsageError(f"resample needs one prompt per prefix; got {len(prompts)} prompts, {len(prefixes)} prefixes")
    return rollouts.sample(model, [prompt + p.text for prompt, p in zip(prompts, prefixes)], n, cfg)


# -------------------------------------------------------------------------- outcome distributions


def answer_agreement(answers: Sequence[str | None], reference: str | None) -> float:
    """Share of `answers` equal to `reference` (no answer, None, never agrees).

    >>> answer_agreement(["a", "a", "b"], "a"), answer_agreement([None], None)
    (0.6666666666666666, 0.0)
    """
    if not answers:
        raise UsageError("answer_agreement needs at least one answer")
    return sum(a is not None and a == reference for a in answers) / len(answers)


def answer_entropy(answers: Sequence[str | None]) -> float:
    """Shannon entropy (bits) of the answers' empirical distribution; None (no answer) is one outcome.

    0 = every continuation gave the same answer; log2(n) = all different.

    >>> answer_entropy(["a", "a"]), answer_entropy(["a", "b", "c", "d"])
    (0.0, 2.0)
    """
    if not answers:
        raise UsageError("answer_entropy needs at least one answer")
    counts = Counter(answers).values()
    total = len(answers)
    return -sum(c / total * math.log2(c / total) for c in counts) + 0.0  # + 0.0: no "-0.0"


def first_divergence(reference: Sequence[str], other: Sequence[str]) -> int:
    """How many leading items (steps, tokens) two sequences share: the index where they first differ.

    Equal sequences give their length.

    >>> first_divergence(["a", "b", "c"], ["a", "b", "x", "y"]), first_divergence(["a"], ["a"])
    (2, 1)
    """
    for i, (a, b) in enumerate(zip(reference, other)):
        if a != b:
            return i
    return min(len(reference), len(other))


def mean_or_nan(values: Iterable[float]) -> float:
    """The mean, or nan for no values (a metric with nothing to average over, shown as "nan" in a summary).

    >>> mean_or_nan([1, 2]), mean_or_nan([])
    (1.5, nan)
    """
    xs = list(values)
    return sum(xs) / len(xs) if xs else math.nan


# ------------------------------------------------------------------------------ curves and jumps


@dataclass(frozen=True)
class JumpStats:
    """How a P(correct | first k steps) curve rises: in one jump or spread over many steps."""

    rise: float  # curve[-1] - curve[0]: the total change from "prompt only" to "whole thinking"
    largest_jump: float  # the largest single-step increase (may be <= 0 for a falling curve)
    largest_step: int  # 0-based index of the step whose addition gave it (curve[i] -> curve[i + 1])
    largest_share: float  # largest_jump / rise; > 1 when the curve dips elsewhere; nan when rise <= 0
    gini: float  # Gini of the positive increments over all steps: 0 = equal rises, (n-1)/n = one jump
    entropy: float  # entropy of the positive increments, normalised by log(n): 1 = even, 0 = one jump


def _gini(values: Sequence[float]) -> float:
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total <= 0:
        return 0.0
    return sum((2 * i - n + 1) * x for i, x in enumerate(xs)) / (n * total)


def jump_stats(curve: Sequence[float]) -> JumpStats:
    """Summarise a curve of P(correct | first k steps), k = 0..n (at least two points).

    >>> s = jump_stats([0.0, 0.25, 0.5, 0.75, 1.0])  # steady progress
    >>> round(s.largest_share, 2), round(s.gini, 2), round(s.entropy, 2)
    (0.25, 0.0, 1.0)
    >>> s = jump_stats([0.0, 0.0, 0.0, 1.0, 1.0])  # one lucky step
    >>> s.largest_share, s.largest_step, s.gini, s.entropy
    (1.0, 2, 0.75, 0.0)
    """
    if len(curve) < 2:
        raise UsageError(f"a curve needs at least 2 points (k=0 and one step), got {len(curve)}")
    increments = [b - a for a, b in zip(curve, curve[1:])]
    rise = curve[-1] - curve[0]
    largest_step = max(range(len(increments)), key=lambda i: increments[i])
    largest = increments[largest_step]
    positive = [max(d, 0.0) for d in increments]
    total = sum(positive)
    if total > 0 and len(positive) > 1:
        shares = [p / total for p in positive if p > 0]
        entropy = -sum(p * math.log(p) for p in shares) / math.log(len(positive)) + 0.0
    else:
        entropy = 0.0
    return JumpStats(
        rise=rise,
        largest_jump=largest,
        largest_step=largest_step,
        largest_share=largest / rise if rise > 0 else math.nan,
        gini=_gini(positive),
        entropy=entropy,
    )


def steady_null_share(n_steps: int, p_start: float, p_end: float, n_rollouts: int, trials: int = 200,
                      seed: int = 0, min_rise: float = 0.0) -> float:
    """Mean largest-jump share of a perfectly steady curve, measured with the same sampling noise.

    The noise baseline for `jump_stats(...).largest_share`: if P(correct) rose linearly from `p_start`
    to `p_end` over `n_steps` steps and each point were estimated from `n_rollouts` samples, what share
    of the measured rise would the largest jump take? A real curve far above this looks "lucky"; one
    near it is as steady as the noise lets us tell. Trials whose measured rise is <= 0, or below
    `min_rise`, are skipped: pass the threshold the real curves had to pass, so the null is selected
    like them (a tiny simulated rise would make the share of its largest jump exceed 1).

    >>> round(steady_null_share(10, 0.0, 1.0, n_rollouts=1000), 2)  # little noise: a bit above 1/10
    0.13
    >>> # a 0.3 rise on 4 steps, 10 rollouts: dropping tiny rises lowers the null
    >>> all_rises = steady_null_share(4, 0.2, 0.5, n_rollouts=10)
    >>> big_rises = steady_null_share(4, 0.2, 0.5, n_rollouts=10, min_rise=0.25)
    >>> round(all_rises, 2), round(big_rises, 2)
    (1.21, 0.91)
    """
    if n_steps < 1 or n_rollouts < 1:
        raise UsageError(f"steady_null_share needs n_steps >= 1 and n_rollouts >= 1, got {n_steps}, {n_rollouts}")
    import numpy as np

    rng = np.random.default_rng(seed)
    p = p_start + (p_end - p_start) * np.arange(n_steps + 1) / n_steps  # [n_steps + 1]
    curves = rng.binomial(n_rollouts, np.clip(p, 0.0, 1.0), size=(trials, n_steps + 1)) / n_rollouts  # [trials, k]
    found = map(jump_stats, curves.tolist())
    shares = [s.largest_share for s in found if s.rise > 0 and s.rise >= min_rise]
    return sum(shares) / len(shares) if shares else math.nan
