"""Lucky or steady on R1-distill, from Thought Anchors' public accuracy curves.

## Question
Does a chain reach its answer by steady progress, or does most of the change in P(correct) happen
at one sentence (a lucky guess, a key insight, a fatal slip)?

## Data
Thought Anchors' 40 public chains (10 MATH problems x correct/incorrect x DeepSeek-R1-Distill-
Llama-8B and -Qwen-14B). For each sentence i the release gives `accuracy`: the share of correct
answers among ~100 continuations resampled from the prefix before i. Read in order, that is the
chain's P(correct | prefix) curve a_0 .. a_{n-1}.

## Analyse
Per chain: net change a_{n-1} - a_0 (a rise for a correct chain, a fall for an incorrect one); the
largest single-sentence step in the direction of that change, a_{i+1} - a_i; its share of the net
change. Chains whose net change is under `MIN_NET` in size are left out and counted (a share of
almost nothing is not a share).

## Null (steady progress), stated precisely
The same chain with P(correct) rising in equal steps from a_0 to a_{n-1} (a linear ramp over its
n sentences), each point then observed through the same binomial noise the release has:
Binomial(m_i, p_i) / m_i with m_i the number of resamples kept for sentence i (100 where unknown).
A step of 0.07 is one standard deviation of that noise at p = 0.5, so a jump of a few points is
noise. `N_NULL` simulated chains give the share a steady chain would show; the claim is the
observed share minus that. A second null keeps the observed curve's shape but smooths it over
`SMOOTH` sentences: it asks whether the jump is one sentence or a stretch of ~10. (A permutation of
the per-sentence changes is no null here: it leaves the largest step and the net change unchanged.)

## Strongest simple baseline (issue #25)
The nulls are the ladder: each is a one-line account of the curve that has no single decisive
sentence (a straight ramp; the chain's own curve smoothed over ~10 sentences; a random walk of
many moderate steps), each seen through the release's binomial noise. The strongest rung is the
null with the largest mean share on the same chains; the primary and the two other share claims
carry it as `strongest_baseline`, and the page states the comparison with it first.

## Which sentences carry the big jumps
A step is "big" when |a_{i+1} - a_i| exceeds `Z_BIG` binomial standard deviations of the
difference of two independent proportions at those points; its sentence's Thought Anchors tag is
counted against the tags of all sentences.

## What to try next
Resample more (the release's ~100 per sentence cannot see steps under ~0.2 one by one); the
organism's `mi-starter run lucky-or-steady` shows the method where the truth is planted.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from starter import importance, stats
from starter.findings import Baseline, Claim, compare, declare
from starter.public import (
    SOURCES,
    PublicRun,
    chain_files,
    claim_by_key,
    errorbar,
    fmt_difference,
    fmt_estimate,
    outcome,
    short_model,
)

SLUG = "lucky-or-steady"
SOURCE = SOURCES["thought-anchors"]
# Primary claim, declared before the analysis: the largest single-sentence step carries a larger
# share of a chain's net change in P(correct) than a steady linear ramp with the same ends and the
# release's binomial noise would give (observed share minus the null's mean share, > 0).
PRIMARY = "jump-vs-ramp"
MIN_NET = 0.3  # chains whose |a_last - a_first| is below this are left out (counted)
N_NULL = 200  # simulated steady chains per chain
SMOOTH = 11  # window (sentences) of the smoothed-curve null
Z_BIG = 3.0  # a step beyond this many binomial standard deviations is "big"
DEFAULT_RESAMPLES = 100  # m_i where the release keeps no resamples for a sentence
ANCHOR_TAGS = ("plan_generation", "uncertainty_management")  # Thought Anchors' "anchors"
TOP_STEPS = 3  # a chain's largest steps listed with their 95% intervals (the bench's top 3)
# The ladder of nulls: claim key of the comparison -> the null's name (issue #25's rungs).
NULL_NAMES = {
    PRIMARY: "linear ramp + binomial noise",
    "jump-vs-smooth": f"the chain's curve smoothed over {SMOOTH} sentences + binomial noise",
    "jump-vs-random-walk": "random walk of moderate steps (fitted sd) + binomial noise",
}


def jump_share(acc: Sequence[float]) -> tuple[float, int]:
    """(largest step in the direction of the net change / net change, index of its sentence).

    Step i is acc[i+1] - acc[i]: what keeping sentence i (instead of resampling it) changed.
    By hand: [0.2, 0.3, 0.8, 0.9]: net +0.7, steps 0.1, 0.5, 0.1: share 0.5 / 0.7, sentence 1.

    >>> share, i = jump_share([0.2, 0.3, 0.8, 0.9]); round(share, 3), i
    (0.714, 1)
    >>> share, i = jump_share([0.9, 0.8, 0.1]); round(share, 3), i  # a fall: the largest drop
    (0.875, 1)
    """
    a = np.asarray(acc, dtype=float)
    net = a[-1] - a[0]
    sign = 1.0 if net >= 0 else -1.0
    steps = sign * np.diff(a)
    i = int(np.argmax(steps))
    return (float(steps[i] / abs(net)) if net else math.nan), i


def null_share(p: np.ndarray, m: np.ndarray, rng: np.random.Generator, n_sim: int = N_NULL,
               min_net: float = 0.05) -> float:
    """Mean `jump_share` of curves observed as Binomial(m_i, p_i)/m_i around the true curve `p`
    (simulations whose observed net change is under `min_net` are dropped).

    >>> rng = np.random.default_rng(0)
    >>> round(null_share(np.array([0.0, 1.0]), np.array([100, 100]), rng), 3)  # one step: all of it
    1.0
    """
    shares = []
    for _ in range(n_sim):
        x = rng.binomial(m.astype(int), np.clip(p, 0, 1)) / m
        if abs(x[-1] - x[0]) >= min_net:
            shares.append(jump_share(x)[0])
    return float(np.mean(shares)) if shares else math.nan


def step_variance(acc: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Binomial variance of each step a_{i+1} - a_i (p floored at 1/(2m), as in `big_steps`).

    >>> step_variance(np.array([0.5, 0.5]), np.array([100, 100])).round(4).tolist()
    [0.005]
    """
    p = np.clip(acc, 1 / (2 * m), 1 - 1 / (2 * m))
    v = p * (1 - p) / m
    return v[:-1] + v[1:]


def walk_sd(acc: np.ndarray, m: np.ndarray) -> float:
    """The true per-step sd of a random walk that explains the observed curve's roughness:
    sqrt(mean step^2 - mean binomial step variance), floored at 0.

    By hand: [0.5, 0.9, 0.5] at m = 100: steps 0.4, -0.4, mean square 0.16; binomial variance of
    each step 0.0025 + 0.0009 = 0.0034; sqrt(0.16 - 0.0034) = 0.3957.

    >>> round(walk_sd(np.array([0.5, 0.9, 0.5]), np.array([100, 100, 100])), 4)
    0.3957
    """
    excess = float(np.mean(np.diff(acc) ** 2) - np.mean(step_variance(acc, m)))
    return math.sqrt(max(0.0, excess))


def walk_null_share(first: float, last: float, sd: float, m: np.ndarray,
                    rng: np.random.Generator, n_sim: int = N_NULL, min_net: float = 0.05) -> float:
    """Mean `jump_share` when the truth is a random walk of many moderate steps (Normal(0, sd)
    each) pinned to the observed ends (a Brownian bridge, clipped to [0, 1]), observed with
    binomial noise. With sd = 0 this is the linear-ramp null.

    >>> rng = np.random.default_rng(0)
    >>> round(walk_null_share(0.0, 1.0, 0.0, np.array([100, 100]), rng), 3)
    1.0
    """
    n = len(m)
    ramp = np.linspace(first, last, n)
    t = np.arange(n) / (n - 1)
    shares = []
    for _ in range(n_sim):
        walk = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sd, n - 1))])
        truth = np.clip(ramp + walk - t * walk[-1], 0, 1)
        x = rng.binomial(m.astype(int), truth) / m
        if abs(x[-1] - x[0]) >= min_net:
            shares.append(jump_share(x)[0])
    return float(np.mean(shares)) if shares else math.nan


def smooth(a: np.ndarray, window: int = SMOOTH) -> np.ndarray:
    """Moving average over `window` sentences (shorter at the ends), ends kept at the observed ones.

    >>> smooth(np.array([0.0, 0.0, 1.0, 1.0]), 3).round(3).tolist()
    [0.0, 0.333, 0.667, 1.0]
    """
    half = window // 2
    out = np.array([a[max(0, i - half): i + half + 1].mean() for i in range(len(a))])
    out[0], out[-1] = a[0], a[-1]
    return out


@dataclass(frozen=True)
class ChainCurve:
    """One chain's curve, summarised (a row of results.jsonl)."""

    kind: str  # "chain"
    model: str
    problem: str  # the cluster
    outcome: str  # "correct" / "incorrect" base chain
    n_sentences: int
    first: float  # a_0: P(correct) resampled from the prompt
    last: float  # a_{n-1}
    net: float  # last - first
    eligible: bool  # |net| >= MIN_NET
    share: float  # largest step in the net direction / |net|
    jump_index: int  # the sentence whose step it is
    jump_position: float  # jump_index / n_sentences
    jump_tag: str  # that sentence's Thought Anchors tag
    null_ramp: float  # mean share under the linear-ramp null
    null_smooth: float  # mean share under the smoothed-curve null
    eligible_from1: bool  # the same test on the curve from sentence 1 (the prompt-only point out)
    share_from1: float
    null_ramp_from1: float
    n_big: int  # steps beyond Z_BIG binomial standard deviations
    n_steps: int  # steps tested for being big (n_sentences - 1)
    walk_sd: float  # true per-step sd of the random-walk null (added after review)
    null_walk: float  # mean share under the random-walk null (many moderate genuine steps)
    # the random-walk null on the curve from sentence 1 (issue #25: the strongest rung of the
    # from-sentence-1 claim; drawn after every other null so their draws are unchanged)
    null_walk_from1: float


@dataclass(frozen=True)
class BigStep:
    """A step beyond Z_BIG standard deviations (a row of results.jsonl)."""

    kind: str  # "big_step"
    model: str
    problem: str
    outcome: str
    index: int  # the sentence whose step it is
    position: float
    tag: str
    step: float  # a_{i+1} - a_i
    z: float  # step / its binomial standard deviation


@dataclass(frozen=True)
class TopStep:
    """One of a chain's TOP_STEPS largest steps by size, with its 95% interval (a results row)."""

    kind: str  # "top_step"
    model: str
    problem: str
    outcome: str
    rank: int  # 1: the chain's largest |a_{i+1} - a_i| (either direction)
    index: int  # the sentence whose step it is (its resampling importance)
    tag: str
    step: float  # a_{i+1} - a_i
    ci_low: float  # Newcombe's 95% interval of the step from the two points' resample counts
    ci_high: float
    # its |step| interval lies wholly above the next-ranked step's (None: no next step);
    # rank TOP_STEPS: the top 3 as a set is told apart from the 4th
    distinct_next: bool | None


def step_importances(acc: np.ndarray, m: np.ndarray) -> list[importance.StepImportance]:
    """Every step a_{i+1} - a_i (step i + 1: sentence i's resampling importance) with Newcombe's
    95% interval from the counts round(a m) of the m resamples at each point.

    >>> s = step_importances(np.array([0.5, 0.5, 0.9, 0.85]), np.array([100, 100, 100, 100]))
    >>> [(x.step, round(x.value, 2)) for x in s], [round(x, 2) for x in s[1].ci]
    ([(1, 0.0), (2, 0.4), (3, -0.05)], [0.28, 0.51])
    >>> [(r.step, r.below) for r in importance.rank_steps(s)]  # 0.4 stands apart from the rest
    [(2, True), (3, False), (1, None)]
    """
    correct = np.rint(acc * m).astype(int)
    found = []
    for i in range(len(acc) - 1):
        d = importance.accuracy_difference(int(correct[i + 1]), int(m[i + 1]), int(correct[i]),
                                           int(m[i]))
        found.append(importance.StepImportance(step=i + 1, value=d.value, n_with=int(m[i + 1]),
                                               n_without=int(m[i]), ci=d.ci))
    return found


def _resamples(chain) -> np.ndarray:
    return np.array([len(s.resampled) or DEFAULT_RESAMPLES for s in chain.sentences], dtype=float)


def big_steps(acc: np.ndarray, m: np.ndarray, z_big: float = Z_BIG) -> list[tuple[int, float]]:
    """(index, z) of steps beyond `z_big` standard deviations of a difference of two binomial
    proportions (each point's variance p(1-p)/m, p floored at 1/(2m) so a 0 or 1 still has noise).

    >>> big_steps(np.array([0.5, 0.5, 0.9]), np.array([100, 100, 100]))  # 0.4 / 0.0583 = 6.9 sd
    [(1, 6.9)]
    """
    out = []
    for i in range(len(acc) - 1):
        p0 = min(max(acc[i], 1 / (2 * m[i])), 1 - 1 / (2 * m[i]))
        p1 = min(max(acc[i + 1], 1 / (2 * m[i + 1])), 1 - 1 / (2 * m[i + 1]))
        sd = math.sqrt(p0 * (1 - p0) / m[i] + p1 * (1 - p1) / m[i + 1])
        z = (acc[i + 1] - acc[i]) / sd
        if abs(z) > z_big:
            out.append((i, round(float(z), 1)))
    return out


def curve_rows(chains) -> tuple[list[ChainCurve], list[BigStep], list[TopStep]]:
    curves, steps, tops = [], [], []
    for chain in chains:
        keep = [s for s in chain.sentences if math.isfinite(s.accuracy)]
        if len(keep) < 3:
            continue
        acc = np.array([s.accuracy for s in keep])
        m = np.array([len(s.resampled) or DEFAULT_RESAMPLES for s in keep], dtype=float)
        n = len(acc)
        share, i = jump_share(acc)
        rng = np.random.default_rng(zlib.crc32(f"{chain.model}/{chain.problem_id}/"
                                               f"{chain.base_correct}".encode()))
        ramp = np.linspace(acc[0], acc[-1], n)
        eligible = abs(acc[-1] - acc[0]) >= MIN_NET
        found = big_steps(acc, m)
        # Robustness: a_0 is resampled from the prompt alone; drop it and ask again.
        eligible1 = abs(acc[-1] - acc[1]) >= MIN_NET
        share1 = jump_share(acc[1:])[0]
        null1 = (null_share(np.linspace(acc[1], acc[-1], n - 1), m[1:], rng) if eligible1
                 else math.nan)
        curves.append(ChainCurve(
            kind="chain", model=chain.model, problem=chain.problem_id,
            outcome=outcome(chain.base_correct), n_sentences=n, first=float(acc[0]),
            last=float(acc[-1]), net=float(acc[-1] - acc[0]), eligible=eligible, share=share,
            jump_index=keep[i].index, jump_position=keep[i].index / len(chain.sentences),
            jump_tag=keep[i].tag,
            null_ramp=null_share(ramp, m, rng) if eligible else math.nan,
            null_smooth=null_share(smooth(acc), m, rng) if eligible else math.nan,
            eligible_from1=eligible1, share_from1=share1, null_ramp_from1=null1,
            n_big=len(found), n_steps=n - 1, walk_sd=walk_sd(acc, m),
            null_walk=(walk_null_share(acc[0], acc[-1], walk_sd(acc, m), m, rng) if eligible
                       else math.nan),
            null_walk_from1=(walk_null_share(acc[1], acc[-1], walk_sd(acc[1:], m[1:]), m[1:],
                                             rng) if eligible1 else math.nan)))
        for j, z in found:
            steps.append(BigStep(kind="big_step", model=chain.model, problem=chain.problem_id,
                                 outcome=outcome(chain.base_correct), index=keep[j].index,
                                 position=keep[j].index / len(chain.sentences), tag=keep[j].tag,
                                 step=float(acc[j + 1] - acc[j]), z=z))
        scored = step_importances(acc, m)
        for r in importance.rank_steps(scored)[:TOP_STEPS]:
            j = r.step - 1  # the step a_{j+1} - a_j
            lo, hi = scored[j].ci
            tops.append(TopStep(kind="top_step", model=chain.model, problem=chain.problem_id,
                                outcome=outcome(chain.base_correct), rank=r.rank,
                                index=keep[j].index, tag=keep[j].tag, step=float(r.value),
                                ci_low=float(lo), ci_high=float(hi), distinct_next=r.below))
    return curves, steps, tops


@dataclass(frozen=True)
class Metrics:
    n_problems: int
    n_chains: int
    n_eligible: int
    curves: tuple[ChainCurve, ...]
    steps: tuple[BigStep, ...]
    top_steps: tuple[TopStep, ...]  # each chain's TOP_STEPS largest steps with 95% intervals
    share: stats.Estimate  # observed share, eligible chains
    ramp: stats.Estimate  # null share, linear ramp
    smooth: stats.Estimate  # null share, smoothed curve
    walk: stats.Estimate  # null share, random walk of moderate genuine steps
    strongest_null: str  # the claim key whose null gives the largest mean share (NULL_NAMES)
    tag_counts: dict  # tag -> (big steps carrying it, all sentences carrying it)
    n_sentences: int
    claims: tuple[Claim, ...]


def analyse(chains) -> Metrics:
    curves, steps, tops = curve_rows(chains)
    ok = [c for c in curves if c.eligible]
    cl = [c.problem for c in ok]

    def est(values):
        return stats.mean_ci(values, cl)

    ok1 = [c for c in curves if c.eligible_from1]
    cl1 = [c.problem for c in ok1]

    def est1(values):
        return stats.mean_ci(values, cl1)

    share, ramp, smoothed = (est([c.share for c in ok]), est([c.null_ramp for c in ok]),
                             est([c.null_smooth for c in ok]))
    # Tags: is a big step's sentence an anchor tag more often than a sentence is?
    all_tags = [(chain.problem_id, s.tag) for chain in chains for s in chain.sentences]
    step_anchor = [float(s.tag in ANCHOR_TAGS) for s in steps]
    base_anchor = [float(t in ANCHOR_TAGS) for _, t in all_tags]
    base_cl = [p for p, _ in all_tags]
    walk = [c.null_walk for c in ok]
    null_estimates = {PRIMARY: ramp, "jump-vs-smooth": smoothed, "jump-vs-random-walk": est(walk)}
    strongest_null = max(null_estimates, key=lambda k: null_estimates[k].value)
    strongest = Baseline(f"strongest null: {NULL_NAMES[strongest_null]}",
                         null_estimates[strongest_null])
    from1_nulls = {"linear ramp + binomial noise, from sentence 1":
                   est1([c.null_ramp_from1 for c in ok1]),
                   "random walk of moderate steps (fitted sd) + binomial noise, from sentence 1":
                   est1([c.null_walk_from1 for c in ok1])}
    from1_top = max(from1_nulls, key=lambda k: from1_nulls[k].value)
    claims = [
        compare("The largest single-sentence step carries a larger share of a chain's net change "
                "in P(correct) than a steady linear ramp (same ends, the release's binomial "
                "noise) would give.", "largest step / net change", share,
                "linear ramp + binomial noise (simulated)", "largest step / net change", ramp,
                stats.difference_ci([c.share for c in ok], cl, [c.null_ramp for c in ok], cl),
                key=PRIMARY, strongest_baseline=strongest),
        compare("The largest step is sharper than the chain's own curve smoothed over "
                f"{SMOOTH} sentences would give (one sentence, not a stretch).",
                "largest step / net change", share,
                f"observed curve smoothed over {SMOOTH} sentences + binomial noise",
                "largest step / net change", smoothed,
                stats.difference_ci([c.share for c in ok], cl, [c.null_smooth for c in ok], cl),
                key="jump-vs-smooth", strongest_baseline=strongest),
        compare("Without the first step (a_0 is resampled from the prompt alone), the largest "
                "step still carries more of the net change than a linear ramp would (added after "
                "6 of 27 largest steps were seen at sentence 0).", "largest step / net change, "
                "from sentence 1", est1([c.share_from1 for c in ok1]),
                "linear ramp + binomial noise, from sentence 1", "largest step / net change",
                est1([c.null_ramp_from1 for c in ok1]),
                stats.difference_ci([c.share_from1 for c in ok1], cl1,
                                    [c.null_ramp_from1 for c in ok1], cl1),
                key="jump-vs-ramp-from-sentence-1",
                strongest_baseline=Baseline(f"strongest null: {from1_top}",
                                            from1_nulls[from1_top])),
        # Added after review: the linear ramp is "perfectly steady"; this null is "many moderate
        # genuine steps", with the per-step sd the observed roughness leaves after binomial noise.
        compare("The largest step carries more of the net change than a random walk of many "
                "moderate genuine steps would give (true per-step sd fitted to the curve's "
                "roughness minus binomial noise, same ends; added after review).",
                "largest step / net change", share,
                "random walk (fitted sd) + binomial noise, same ends",
                "largest step / net change", est(walk),
                stats.difference_ci([c.share for c in ok], cl, walk, cl),
                key="jump-vs-random-walk", strongest_baseline=strongest),
        compare("Big steps (beyond 3 binomial sd) fall on plan-generation or uncertainty-"
                "management sentences more often than those tags' share of all sentences.",
                "anchor-tag share among big steps",
                stats.mean_ci(step_anchor, [s.problem for s in steps]),
                "all sentences", "anchor-tag share", stats.mean_ci(base_anchor, base_cl),
                stats.difference_ci(step_anchor, [s.problem for s in steps], base_anchor, base_cl),
                key="big-steps-on-anchor-tags"),
    ]
    step_tags = Counter(s.tag for s in steps)
    base_tags = Counter(t for _, t in all_tags)
    tag_counts = {t: (step_tags.get(t, 0), base_tags[t]) for t in sorted(base_tags)}
    return Metrics(n_problems=len({c.problem for c in curves}), n_chains=len(curves),
                   n_eligible=len(ok), curves=tuple(curves), steps=tuple(steps),
                   top_steps=tuple(tops), share=share,
                   ramp=ramp, smooth=smoothed, walk=est(walk), strongest_null=strongest_null,
                   tag_counts=tag_counts,
                   n_sentences=len(all_tags),
                   claims=tuple(declare(claims, PRIMARY)))


def plot(m: Metrics, chains):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13.5, 4.2))
    ax_curves, ax_share, ax_tags = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1.3, 1]})
    fig.subplots_adjust(wspace=0.6)  # room for the tag names of the right panel
    for chain in chains:
        acc = [s.accuracy for s in chain.sentences]
        xs = np.arange(len(acc)) / max(1, len(acc))
        colour = "tab:green" if chain.base_correct else "tab:red"
        ax_curves.plot(xs, acc, color=colour, alpha=0.35, linewidth=0.8)
    ax_curves.set_title("P(correct | prefix), 40 chains\n(green: correct chain, red: incorrect)",
                        fontsize=9)
    ax_curves.set_xlabel("relative position in the chain")
    ax_curves.set_ylabel("accuracy of ~100 resamples")
    errorbar(ax_share, [0, 1, 2, 3], [m.share, m.ramp, m.smooth, m.walk], color="black",
             linestyle="none")
    ax_share.set_xticks([0, 1, 2, 3], ["observed", "linear\nramp", f"smoothed\n({SMOOTH})",
                                       "random\nwalk"], fontsize=8)
    ax_share.set_xlabel("nulls: each + the release's binomial noise", fontsize=8)
    ax_share.set_title(f"Largest step / net change\n({m.n_eligible} chains with |net| >= "
                       f"{MIN_NET}; 95% CI by problem)", fontsize=9)
    ax_share.set_xlim(-0.5, 3.5)
    tags = [t for t, (_, n) in sorted(m.tag_counts.items(), key=lambda kv: -kv[1][1])]
    n_steps = max(1, sum(k for k, _ in m.tag_counts.values()))
    ys = np.arange(len(tags))
    ax_tags.barh(ys - 0.2, [m.tag_counts[t][0] / n_steps for t in tags], height=0.4,
                 label=f"big steps (n={n_steps})")
    ax_tags.barh(ys + 0.2, [m.tag_counts[t][1] / m.n_sentences for t in tags], height=0.4,
                 label=f"all sentences (n={m.n_sentences})", alpha=0.6)
    ax_tags.set_yticks(ys, tags, fontsize=7)
    ax_tags.invert_yaxis()
    ax_tags.set_xlabel("share")
    ax_tags.set_title(f"Tags of steps beyond {Z_BIG:g} binomial sd", fontsize=9)
    ax_tags.legend(fontsize=7)
    fig.suptitle("R1-distill (Llama-8B, Qwen-14B), Thought Anchors' public chains, 10 problems",
                 fontsize=10, y=1.04)
    return fig


def summary(m: Metrics) -> str:
    from starter.findings import render_claims

    left_out = m.n_chains - m.n_eligible
    first = [c for c in m.curves if c.eligible and c.jump_index == 0]
    first_names = ", ".join(f"{short_model(c.model)} problem {c.problem}, {c.outcome} chain"
                            for c in first)
    by_outcome = {o: [c for c in m.curves if c.eligible and c.outcome == o]
                  for o in ("correct", "incorrect")}
    n_tested = sum(c.n_steps for c in m.curves)
    p_big = math.erfc(Z_BIG / math.sqrt(2))  # P(|z| > Z_BIG) for a standard normal
    primary = claim_by_key(m.claims, PRIMARY)
    walk = claim_by_key(m.claims, "jump-vs-random-walk")
    from1 = claim_by_key(m.claims, "jump-vs-ramp-from-sentence-1")
    against = claim_by_key(m.claims, m.strongest_null)
    kept = against.verdict == primary.verdict
    first = (f"**Strongest baseline first: the largest single-sentence step carries "
             f"{fmt_estimate(m.share)} of a chain's net change in P(correct); the strongest "
             f"null, {NULL_NAMES[m.strongest_null]}, gives {fmt_estimate(against.control.estimate)}"
             f"; difference {fmt_difference(against)}: the primary's '{primary.verdict}' "
             + ("survives its strongest rung" if kept else "does not survive its strongest rung")
             + ".**")
    lines = ["# Lucky or steady on R1-distill? (public data)", "",
             "Models: " + ", ".join(SOURCE.models) + f". Source: {SOURCE.repository} at "
             f"{SOURCE.revision[:7]} ({m.n_problems} problems, {m.n_chains} chains; {left_out} "
             f"chains with |net change| < {MIN_NET} are left out of the share).", "",
             "## Read first", "", first, "",
             f"The primary claim (declared before the run) reads '{primary.verdict}' against a "
             "linear ramp, which is a weak null: it is 'perfectly steady', and any curve that "
             "is not a straight line beats it. Against a random walk of many moderate genuine "
             "steps (per-step sd fitted to each curve's roughness minus binomial noise, same "
             f"ends; added after review) the difference is {fmt_difference(walk)}. The evidence "
             f"for genuine jumps is the count of big steps: {len(m.steps)} of {n_tested} steps "
             f"exceed {Z_BIG:g} binomial sd, where pure binomial noise would give about "
             f"{n_tested * p_big:.0f} ({n_tested} x {p_big:.4f}). The share is over the "
             f"{m.n_eligible} chains whose P(correct) moves by at least {MIN_NET}; {left_out} "
             f"chains barely move (most correct chains start near 1) and are left out. "
             f"{len(first)} of the {m.n_eligible} largest steps are the very first sentence, the "
             f"step from the prompt-only resamples ({first_names}); without that step the "
             f"difference from the ramp is {fmt_difference(from1)}, and its strongest null "
             "(a random walk from sentence 1) gives "
             f"{fmt_estimate(from1.strongest_baseline.estimate)} against the observed "
             f"{fmt_estimate(from1.estimate)}. Claims marked 'added after review' were added "
             "after an independent review; like every secondary claim they are Holm-adjusted.",
             "", "## Claims", "", render_claims(list(m.claims)), "", "## Finding", "",
             f"- Observed largest-step share {fmt_estimate(m.share)}; a steady linear ramp with "
             f"the same ends and the release's binomial noise gives {fmt_estimate(m.ramp)}; the "
             f"chain's own curve smoothed over {SMOOTH} sentences gives "
             f"{fmt_estimate(m.smooth)}; a random walk of moderate genuine steps (added after "
             f"review) gives {fmt_estimate(m.walk)}."]
    for o, cs in by_outcome.items():
        if cs:
            e = stats.mean_ci([c.share for c in cs], [c.problem for c in cs])
            lines.append(f"- {o.capitalize()} chains ({len(cs)}): share {fmt_estimate(e)}.")
    n_steps = len(m.steps)
    lines.append(f"- {n_steps} steps in {m.n_sentences} sentences exceed {Z_BIG:g} binomial "
                 f"standard deviations ({sum(c.n_big > 0 for c in m.curves)} of {m.n_chains} "
                 "chains have at least one). Their tags (big steps / all sentences): " + "; ".join(
                     f"{t} {k}/{n}" for t, (k, n) in sorted(m.tag_counts.items(),
                                                            key=lambda kv: -kv[1][0])) + ".")
    lines += ["", "A share above 1 means the curve overshot: the step was larger than the net "
              "change, and later sentences gave some of it back.", ""]
    lines += top_steps_table(m.top_steps) + ["",
              "## Caveats", "",
              "- n = 10 problems (40 chains). The null's noise assumes independent binomial "
              "draws of ~100 resamples per sentence; the release's accuracies count finished "
              "resamples only, so m_i may be a little smaller than the number kept.",
              "- The chains were chosen: one correct and one incorrect chain per problem, on "
              "problems the models solve 25-75% of the time; a chain that ends wrong must fall "
              "somewhere, so incorrect chains are not a random sample of chains.",
              "- Big-step tags are counts over few steps; the tag claim is Holm-adjusted.",
              "", "## What to try next", "",
              "- More resamples per sentence, or resample only around the big step to place it.",
              "- The organism version (`mi-starter run lucky-or-steady`) plants the truth.", ""]
    return "\n".join(lines)


def _step_cell(t: TopStep) -> str:
    return (f"{t.index} ({t.tag.replace('_', ' ')}): {t.step:+.2f} "
            f"[{t.ci_low:+.2f}, {t.ci_high:+.2f}]")


def top_steps_table(tops: Sequence[TopStep]) -> list[str]:
    """Markdown: each chain's largest steps with their 95% intervals, and whether the ranking
    tells them apart (non-overlapping intervals of |step|, `importance.rank_steps`)."""
    chains: dict[tuple[str, str, str], list[TopStep]] = {}
    for t in tops:
        chains.setdefault((t.model, t.problem, t.outcome), []).append(t)
    firsts = [ts[0] for ts in chains.values()]
    lasts = [ts[-1] for ts in chains.values() if len(ts) == TOP_STEPS]
    yes = {True: "yes", False: "no", None: "-"}
    lines = [f"Each chain's {TOP_STEPS} largest steps a_(i+1) - a_i by size (sentence i's "
             "resampling importance), with Newcombe's 95% interval from the two points' ~100 "
             "resamples. The largest step is told apart from the second (their intervals of "
             f"|step| do not overlap) in {sum(bool(t.distinct_next) for t in firsts)} of "
             f"{len(firsts)} chains, and the top {TOP_STEPS} as a set from the fourth in "
             f"{sum(bool(t.distinct_next) for t in lasts)} of {len(lasts)}: at ~100 resamples "
             "per sentence, which sentences follow the largest is mostly not determined "
             "(in scripts/bench_importance.py two fixed runs of 100 agree on the top 3 of these "
             "curves in under a tenth of runs). Cells: sentence (tag): step [95% CI].", "",
             f"| chain | largest | 2nd | 3rd | largest apart from 2nd | top {TOP_STEPS} apart "
             "from 4th |", "|---|---|---|---|---|---|"]
    for (model, problem, result), ts in chains.items():
        cells = [_step_cell(t) for t in ts] + ["-"] * (TOP_STEPS - len(ts))
        last = yes[ts[-1].distinct_next] if len(ts) == TOP_STEPS else "-"
        lines.append(f"| {short_model(model)} {problem} {result} | " + " | ".join(cells)
                     + f" | {yes[ts[0].distinct_next]} | {last} |")
    return lines


def run(folder: Path):
    from starter.releases.thought_anchors import read_chains

    found = read_chains(folder)
    m = analyse(found.chains)
    rows = ([asdict(c) for c in m.curves] + [asdict(s) for s in m.steps]
            + [asdict(t) for t in m.top_steps])
    rows += [{"kind": "tag", "tag": t, "big_steps": k, "sentences": n}
             for t, (k, n) in m.tag_counts.items()]
    run_ = PublicRun(
        slug=SLUG, source=SOURCE, data_dir=folder, files=chain_files(folder), models=SOURCE.models,
        n_problems=m.n_problems,
        config={"min_net": MIN_NET, "n_null": N_NULL, "smooth": SMOOTH, "z_big": Z_BIG,
                "default_resamples": DEFAULT_RESAMPLES, "primary": PRIMARY,
                "skipped_folders": len(found.skipped)},
        rows=tuple(rows), summary=summary(m), claims=m.claims)
    return run_, plot(m, found.chains)
