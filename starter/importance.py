"""Thought Anchors' importance measures: how much one step of a chain of thought changes the answer.

Bogdan, Macar, Nanda, Conmy (2025), "Thought Anchors: Which LLM Reasoning Steps Matter?", arXiv
2506.19143 (code: github.com/interp-reasoning/thought-anchors, `analyze_rollouts.py`).

The experiment behind them: take one chain with steps s_1 .. s_n; for every k = 0 .. n keep the
first k steps and let the model continue many times ("rollouts from prefix k"). A rollout from
prefix k-1 rewrites step k itself, so prefixes k-1 and k differ by exactly one step. For step k:

- **resampling importance** = P(correct | rollouts from prefix k) - P(correct | rollouts from
  prefix k-1): what keeping the original step k buys over letting the model write that step again.
  (Thought Anchors' `calculate_resampling_importance_accuracy`: the next chunk's accuracy minus
  this chunk's.)
- **counterfactual importance** = the same, but the "without" side keeps only the rollouts from
  prefix k-1 whose *first new step* is different from the original step k. A rollout that rewrote
  step k with the same content never left the original path and says nothing about the step. The
  paper calls two steps the same when the cosine similarity of their sentence embeddings
  (all-MiniLM-L6-v2) is at least 0.8. Here the caller passes `same(original, resampled)`:
  `exact_same` (whitespace- and case-blind equality; on a model organism with a fixed step
  vocabulary this is an exact structural notion) or `jaccard_same(threshold)` (token-set Jaccard, a
  cheap stand-in for the embedding for free text such as R1's; its threshold `JACCARD_THRESHOLD`
  was chosen by hand, not calibrated against the embedding). Sign: we report "with minus without"
  so that all three measures agree in sign; the reference code's accuracy variant computes "without
  (dissimilar) minus with".
- **forced-answer importance** = the same difference of P(correct) when the answer is *forced*
  right after prefix k (the prefix, then `</think>` and the opening of the answer, e.g. `\\boxed{`)
  instead of letting the model think on: what the step changes in the answer the model would give
  now.

Each measure also exists as a KL divergence between answer distributions (`measure="kl"`, the
paper's headline variant: D_KL(without || with), answers of finished rollouts only).

Accuracies count finished rollouts only (those that closed their thinking and answered); an
unfinished rollout is neither right nor wrong. A step whose two sides lack finished rollouts gets
`nan`, never 0. Only adjacent prefixes are compared, so a jump is credited to the step that made
it: with prefixes at k = 0, 4, 8 (spaced cuts of a long chain) no step gets a value, since four
steps share that change.

Every value carries a 95% interval from the step's own rollouts (`StepImportance.ci`). The
accuracy variants are differences of two independent proportions (rollouts from prefix k against
rollouts from prefix k-1): their interval is Newcombe's, built from the two sides' Wilson intervals
(`stats.combined_ci`), which keeps its coverage near 0 and 1 where the normal interval does not.
The KL variants get a percentile bootstrap over each side's answers (resampled independently). The
interval is None where the value is nan. `rank_steps` orders steps by importance and says which
are distinguishable from their neighbours in that order (their intervals do not overlap).

The records are plain (no model, no torch): `PrefixRollouts` per prefix, `Outcome` per rollout, so
rollouts sampled here and rollouts imported from a dataset go through the same functions.

>>> r = lambda ok, step=None: Outcome(correct=ok, finished=True, answer=str(ok), first_step=step)
>>> chain = [
...     PrefixRollouts(k=0, next_step="Try 8+19=27.",
...                    outcomes=(r(False, "Try 8*19=152."), r(False, "Try 8*19=152."),
...                              r(True, "Try 8+19=27."), r(False, "Try 8-4=4."))),
...     PrefixRollouts(k=1, next_step="Left: 27, 4.",
...                    outcomes=(r(True, "Left: 27, 4."), r(True, "Left: 27, 4."),
...                              r(True, "Left: 27, 4."), r(False, "Left: 27, 4."))),
...     PrefixRollouts(k=2, next_step=None, outcomes=(r(True), r(True), r(True), r(True))),
... ]
>>> [(s.step, s.value) for s in resampling_importance(chain)]
[(1, 0.5), (2, 0.25)]
>>> [(s.step, s.value, s.n_without) for s in counterfactual_importance(chain)]
[(1, 0.75, 3), (2, nan, 0)]
>>> [round(x, 2) for x in resampling_importance(chain)[0].ci]  # 3/4 against 1/4, 4 rollouts each
[-0.14, 0.79]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from starter import stats

__all__ = [
    "Outcome", "PrefixRollouts", "StepImportance", "accuracy", "answer_kl",
    "resampling_importance", "counterfactual_importance", "forced_importance",
    "exact_same", "jaccard", "jaccard_same", "JACCARD_THRESHOLD", "SIMILARITY_THRESHOLD",
    "accuracy_difference", "RankedStep", "rank_steps", "score_interval",
]  # fmt: skip

Measure = Literal["accuracy", "kl"]
SameStep = Callable[[str, str], bool]

SIMILARITY_THRESHOLD = 0.8  # the paper's cosine threshold on MiniLM embeddings (for reference only)
JACCARD_THRESHOLD = 0.5  # token-set Jaccard at or above this = "the same step" (chosen by hand)
KL_ALPHA = 1e-9  # additive smoothing of answer counts in `answer_kl` (the reference code's default)


@dataclass(frozen=True)
class Outcome:
    """One rollout (a continuation, or a forced answer) from a prefix."""

    correct: bool  # the rollout's final answer is right (False when it never answered)
    finished: bool  # it closed its thinking and gave an answer; only finished rollouts are counted
    answer: str | None = None  # its final answer, canonicalised (for the KL measures); None: none
    first_step: str | None = None  # the first step it wrote (it replaced the original step)


@dataclass(frozen=True)
class PrefixRollouts:
    """Rollouts from the first `k` steps of one chain."""

    k: int  # steps of the original chain kept before resampling (0 = prompt only)
    next_step: str | None  # the original step k+1, which these rollouts rewrite (None after n)
    outcomes: tuple[Outcome, ...]  # continuations that think on from the prefix
    forced: tuple[Outcome, ...] = ()  # answers forced right after the prefix (forced-answer)


@dataclass(frozen=True)
class StepImportance:
    """One step's importance: P(correct) with the step kept minus without it (or a KL)."""

    step: int  # 1-based index of the step credited: the step prefix `step - 1` -> `step` adds
    value: float  # the importance; nan when a side has no finished rollout
    n_with: int  # finished rollouts from prefix `step` (the step kept)
    n_without: int  # finished rollouts from prefix `step - 1` counted on the other side
    # 95% interval from these rollouts (Newcombe's for accuracy, a bootstrap for KL); None if nan
    ci: tuple[float, float] | None = None


def accuracy(outcomes: Sequence[Outcome]) -> float:
    """Share of finished rollouts that are correct; nan when none finished.

    >>> accuracy([Outcome(True, True), Outcome(False, True), Outcome(False, False)])
    0.5
    >>> accuracy([Outcome(False, False)])
    nan
    """
    done = [o for o in outcomes if o.finished]
    if not done:
        return math.nan
    return sum(o.correct for o in done) / len(done)


def answer_kl(p: Sequence[Outcome], q: Sequence[Outcome], alpha: float = KL_ALPHA) -> float:
    """D_KL(P || Q) in nats between the answer distributions of two sets of finished rollouts.

    Counts get `alpha` added per answer seen on either side (so an answer missing from Q is finite);
    nan when a side has no finished rollout with an answer.

    >>> a = [Outcome(True, True, answer="31")] * 2
    >>> answer_kl(a, a)
    0.0
    >>> b = [Outcome(True, True, answer="31"), Outcome(False, True, answer="27")]
    >>> round(answer_kl(a, b, alpha=1.0), 3)  # P = (3/4, 1/4), Q = (2/4, 2/4)
    0.131
    """
    count_p = Counter(o.answer for o in p if o.finished and o.answer is not None)
    count_q = Counter(o.answer for o in q if o.finished and o.answer is not None)
    if not count_p or not count_q:
        return math.nan
    answers = sorted(set(count_p) | set(count_q))
    total_p = sum(count_p.values()) + alpha * len(answers)
    total_q = sum(count_q.values()) + alpha * len(answers)
    kl = 0.0
    for a in answers:
        pa = (count_p[a] + alpha) / total_p
        qa = (count_q[a] + alpha) / total_q
        kl += pa * math.log(pa / qa)
    return max(kl, 0.0)


def accuracy_difference(correct_with: int, n_with: int, correct_without: int,
                        n_without: int, level: float = stats.LEVEL) -> stats.Estimate:
    """P(correct) with the step minus without it, from counts of finished rollouts, with Newcombe's
    95% interval, or at `level` (nan and no interval when a side has no finished rollout).

    >>> d = accuracy_difference(9, 10, 2, 10)
    >>> round(d.value, 2), [round(x, 3) for x in d.ci]
    (0.7, [0.266, 0.865])
    >>> accuracy_difference(3, 4, 0, 0).ci is None
    True
    """
    if n_with == 0 or n_without == 0:
        return stats.Estimate(math.nan, None, 2, n_with + n_without, "step")
    return stats.combined_ci([(1, stats.proportion_ci(correct_with, n_with, level=level)),
                        (-1, stats.proportion_ci(correct_without, n_without, level=level))])


def _kl_interval(p: Sequence[Outcome], q: Sequence[Outcome],
                 alpha: float = KL_ALPHA) -> tuple[float, float] | None:
    """Percentile bootstrap of `answer_kl(p, q)`: each side's answers resampled on their own."""
    count_p = Counter(o.answer for o in p if o.finished and o.answer is not None)
    count_q = Counter(o.answer for o in q if o.finished and o.answer is not None)
    if not count_p or not count_q:
        return None
    answers = sorted(set(count_p) | set(count_q))
    rng = np.random.default_rng(0)  # seeded: the same rollouts always give the same interval
    sides = []
    for count in (count_p, count_q):
        c = np.array([count[a] for a in answers], dtype=float)
        draws = rng.multinomial(int(c.sum()), c / c.sum(), size=stats.N_BOOT)  # [boot, answer]
        sides.append((draws + alpha) / (draws.sum(axis=1, keepdims=True) + alpha * len(answers)))
    pa, qa = sides
    kl = np.maximum((pa * np.log(pa / qa)).sum(axis=1), 0.0)  # [boot]
    tail = 100 * (1 - stats.LEVEL) / 2
    lo, hi = np.percentile(kl, [tail, 100 - tail])
    return float(lo), float(hi)


def _difference(with_step: Sequence[Outcome], without: Sequence[Outcome], step: int,
                measure: Measure) -> StepImportance:
    if measure not in ("accuracy", "kl"):
        raise ValueError(f"measure {measure!r}: use 'accuracy' or 'kl'")
    n_with = sum(o.finished for o in with_step)
    n_without = sum(o.finished for o in without)
    if measure == "accuracy":
        est = accuracy_difference(sum(o.correct and o.finished for o in with_step), n_with,
                                  sum(o.correct and o.finished for o in without), n_without)
        value, ci = est.value, est.ci
    else:
        value = answer_kl(without, with_step)
        ci = _kl_interval(without, with_step) if math.isfinite(value) else None
    return StepImportance(step=step, value=value, n_with=n_with, n_without=n_without, ci=ci)


def _adjacent(prefixes: Sequence[PrefixRollouts]) -> list[tuple[PrefixRollouts, PrefixRollouts]]:
    """Pairs (prefix k-1, prefix k) present in `prefixes`: only those credit a single step."""
    by_k = {p.k: p for p in prefixes}
    if len(by_k) != len(prefixes):
        raise ValueError(f"two records share a prefix size: {sorted(p.k for p in prefixes)}")
    return [(by_k[k - 1], by_k[k]) for k in sorted(by_k) if k - 1 in by_k]


def resampling_importance(prefixes: Sequence[PrefixRollouts],
                          measure: Measure = "accuracy") -> list[StepImportance]:
    """Importance of every step k with prefixes k-1 and k present: with it kept minus resampled.

    >>> o = lambda ok: Outcome(correct=ok, finished=True)
    >>> recs = [PrefixRollouts(0, "A.", (o(False), o(True))),
    ...         PrefixRollouts(1, "B.", (o(True),) * 2),
    ...         PrefixRollouts(3, None, (o(True),) * 2)]  # k = 2 missing: step 3 is not credited
    >>> [(s.step, s.value) for s in resampling_importance(recs)]
    [(1, 0.5)]
    """
    return [_difference(cur.outcomes, prev.outcomes, cur.k, measure)
            for prev, cur in _adjacent(prefixes)]


def counterfactual_importance(prefixes: Sequence[PrefixRollouts], same: SameStep | None = None,
                              measure: Measure = "accuracy") -> list[StepImportance]:
    """Like `resampling_importance`, keeping on the "without" side only the rollouts whose first
    new step differs from the original step (`same(original, resampled)` False; default
    `exact_same`).

    Rollouts that wrote no step, and steps whose original text is unknown, are left out; a step that
    every rollout rewrote the same way gets nan (the paper's "overdetermined" step).

    >>> o = lambda ok, s: Outcome(correct=ok, finished=True, first_step=s)
    >>> recs = [PrefixRollouts(0, "Try 2+3=5.", (o(True, "try 2+3=5. "), o(False, "Try 2*3=6."))),
    ...         PrefixRollouts(1, None, (o(True, None),) * 2)]
    >>> [(s.step, s.value, s.n_without) for s in counterfactual_importance(recs)]
    [(1, 1.0, 1)]
    """
    same = same or exact_same
    out = []
    for prev, cur in _adjacent(prefixes):
        original = prev.next_step
        different = [] if original is None else [
            o for o in prev.outcomes
            if o.first_step is not None and not same(original, o.first_step)]
        out.append(_difference(cur.outcomes, different, cur.k, measure))
    return out


def forced_importance(prefixes: Sequence[PrefixRollouts],
                      measure: Measure = "accuracy") -> list[StepImportance]:
    """Importance from answers forced right after each prefix (`PrefixRollouts.forced`).

    >>> f = lambda ok: Outcome(correct=ok, finished=True)
    >>> recs = [PrefixRollouts(0, "A.", (), forced=(f(False), f(False))),
    ...         PrefixRollouts(1, None, (), forced=(f(True), f(False)))]
    >>> [(s.step, s.value) for s in forced_importance(recs)]
    [(1, 0.5)]
    """
    return [_difference(cur.forced, prev.forced, cur.k, measure)
            for prev, cur in _adjacent(prefixes)]


# ------------------------------------------------------------------------- ranking with intervals

RankBy = Literal["abs", "value"]


@dataclass(frozen=True)
class RankedStep:
    """One step's place in an importance ranking, and whether its neighbours there are distinct."""

    rank: int  # 1 = the most important
    step: int  # the step (as in StepImportance.step)
    value: float  # its importance
    score: float  # what is ranked: |value| (by="abs") or value (by="value")
    score_ci: tuple[float, float] | None  # the 95% interval of `score`
    above: bool | None  # its score interval lies wholly below the one ranked above (rank 1: None)
    below: bool | None  # its score interval lies wholly above the one ranked below (last: None)
    tier: int  # 1 + separations above it: steps of one tier cannot be told apart by intervals


def score_interval(ci: tuple[float, float] | None, by: RankBy = "abs"
                   ) -> tuple[float, float] | None:
    """The interval of the ranked score: of |value| when ranking by size, else `ci` itself.

    >>> score_interval((-0.3, -0.1)), score_interval((-0.1, 0.3))
    ((0.1, 0.3), (0.0, 0.3))
    >>> score_interval((-0.3, -0.1), by="value")
    (-0.3, -0.1)
    """
    if ci is None or by == "value":
        return ci
    lo, hi = ci
    if lo >= 0:
        return (lo, hi)
    if hi <= 0:
        return (-hi, -lo)
    return (0.0, max(-lo, hi))


def rank_steps(scores: Sequence[StepImportance], by: RankBy = "abs") -> list[RankedStep]:
    """Steps from most to least important (nan values left out), each marked distinct or not from
    the step ranked just above and just below it.

    Two steps are called distinct when their score intervals do not overlap: a conservative test
    (overlapping 95% intervals can still differ), which needs no assumption on how two steps'
    rollouts are shared (adjacent steps share a prefix). `by="abs"` ranks by |importance|, so a step
    that makes the answer wrong counts like one that makes it right (the usual reading of "anchor").

    >>> s = [StepImportance(1, 0.6, 100, 100, (0.45, 0.72)),
    ...      StepImportance(2, -0.05, 100, 100, (-0.18, 0.08)),
    ...      StepImportance(3, 0.1, 100, 100, (-0.03, 0.23))]
    >>> [(r.rank, r.step, r.above, r.below, r.tier) for r in rank_steps(s)]
    [(1, 1, None, True, 1), (2, 3, True, False, 2), (3, 2, False, None, 2)]
    """
    if by not in ("abs", "value"):
        raise ValueError(f"by={by!r}: use 'abs' or 'value'")
    known = [s for s in scores if math.isfinite(s.value)]
    key = (lambda s: abs(s.value)) if by == "abs" else (lambda s: s.value)
    known.sort(key=lambda s: (-key(s), s.step))
    cis = [score_interval(s.ci, by) for s in known]
    apart = [a is not None and b is not None and b[1] < a[0] for a, b in zip(cis, cis[1:])]
    out, tier = [], 1
    for i, s in enumerate(known):
        above = None if i == 0 else apart[i - 1]
        tier += bool(above)
        out.append(RankedStep(rank=i + 1, step=s.step, value=s.value, score=key(s),
                              score_ci=cis[i], above=above,
                              below=apart[i] if i < len(apart) else None, tier=tier))
    return out


# ------------------------------------------------------------------ when are two steps the same


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def exact_same(a: str, b: str) -> bool:
    """The same step up to whitespace and case.

    >>> exact_same(" Try 8+19=27.", "try 8+19=27. "), exact_same("Try 8+19=27.", "Try 8*19=152.")
    (True, False)
    """
    return _normalise(a) == _normalise(b)


_WORD = re.compile(r"\w+|[^\w\s]")


def jaccard(a: str, b: str) -> float:
    """Token-set Jaccard similarity of two steps: |A & B| / |A | B| over lower-cased words and
    symbols (punctuation marks count as tokens).

    >>> jaccard("So x = 4.", "so x = 4"), round(jaccard("Let me check x.", "Let me try y."), 2)
    (0.8, 0.43)
    """
    ta = set(_WORD.findall(a.lower()))
    tb = set(_WORD.findall(b.lower()))
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def jaccard_same(threshold: float = JACCARD_THRESHOLD) -> SameStep:
    """A `same` test for free text: Jaccard similarity at or above `threshold` (0 < threshold <= 1).

    >>> same = jaccard_same(0.5)
    >>> same("So x = 4.", "so x = 4"), same("Let me check x.", "Let me try y.")
    (True, False)
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold!r}: use a number in (0, 1]")

    def same(a: str, b: str) -> bool:
        return jaccard(a, b) >= threshold

    return same
