# %% [markdown]
# # Is the model exploring a reasoning tree?
#
# Neel Nanda's mental model: a thinking model explores a *reasoning tree*. At each step it picks a
# promising next step by heuristics, follows that branch, and has reflexes ("that doesn't sound
# right", "let's backtrack") that abandon it for a sibling. This starter makes the tree explicit and
# tests it:
#
# 1. **Shape.** Sample one chain per Countdown problem, cut it into steps, tag them with the one
#    rule-based tagger (`starter/cot.py`), build the implied tree (`starter/trees.py`) and measure
#    branching factor, depth and backtracks against correctness and difficulty (how many backtracks
#    the heuristic search itself needs). On the TinyThinker organism, score the tree against the
#    true one. **Control:** problems the search solves without backtracking.
# 2. **Are backtracks branch points?** Resample continuations just before a backtrack: how often
#    does the continuation take a *different next operation* than the original chain did?
#    **Control, matched on step type:** a cut that follows a step of the same tag as the step the
#    backtrack followed (on the organism a "Miss."), where the chain went on *without*
#    backtracking. An unmatched random cut would mostly land where the next step is forced (after
#    "Try 8*19=152." comes "Left: 152, 4."), which flatters the backtrack. The per-tag table
#    (summary) gives the same measure after every step type.
#
# A chain that never finished (`</think>` and an answer) is left out of accuracy and the tree
# measures and counted apart.
#
# **Strongest simple baseline** (issue #25): on the organism the next operation follows a one-line
# rule readable from the text, its search's fixed order (`search_rule`). A continuation that obeys
# it changes the next operation exactly where the original chain had left the rule, so the rule
# predicts every resampling measure without sampling anything; each claim names it as its
# `strongest_baseline`, and one secondary claim asks whether resampling before a backtrack
# changes the next operation more than the rule predicts. The two secondaries that the rule
# explains outright (the pipeline check, backtrack-again) take their verdict against the rule:
# the observed difference minus the rule's prediction of it (review s16_b), so a badge never
# says "supported" for what the rule alone predicts. The Finding says beside the primary which
# matched controls are slips (the original chain skipped a backtrack the rule mandates).
#
# Run: `mi-starter run reasoning-tree --preset smoke` (organism, ~1 min) or `--preset gpu`
# (R1-distill). Outputs: `results.jsonl` (rows of kind "chain" and "cut"), `figure.png`,
# `summary.md`, `findings.json`.
#
# **Primary claim, declared before the run** (`PRIMARY` below): resampling just before a backtrack
# changes the next operation more often than resampling after the same step type where the chain
# did not backtrack. The others are secondary, Holm-adjusted.

# %%
from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt

from starter import grading, prefixes, rollouts, stats
from starter.cot import split_completion, split_steps
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.organism.data import make_trace, search
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.tasks.countdown import (
    OPS_TARGET_ABOVE,
    OPS_TARGET_WITHIN,
    PAIRS,
    apply_op,
    final_tries,
    grade,
    make_problems,
)
from starter.trees import (
    build_tree,
    canonical_operation,
    next_operation,
    score_tree,
    tree_from_nodes,
    tree_stats,
)
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "pre-backtrack-different"

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    n_problems: int = 24  # held-out Countdown-3 problems, one sampled chain each
    n_cuts: int = 8  # chains (with a backtrack) whose cuts are resampled
    n_resamples: int = 4  # continuations sampled at each cut
    temperature: float = 1.0  # sampling temperature; 0 = greedy chains (only with n_cuts=0)
    top_p: float = 1.0  # nucleus sampling (R1 papers use T=0.6, top-p 0.95)
    max_new_tokens: int = 200  # organism traces are <= 143 tokens; R1 needs thousands
    batch_size: int = 64  # sequences per generate call

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < 1 or self.n_cuts < 0 or self.n_resamples < 1:
            raise UsageError(f"need n_problems >= 1, n_cuts >= 0, n_resamples >= 1; got "
                             f"{self.n_problems}, {self.n_cuts}, {self.n_resamples}")
        if self.temperature < 0 or (self.temperature == 0 and self.n_cuts > 0):
            raise UsageError(f"temperature must be > 0 (resampling needs randomness), or 0 "
                             f"(greedy chains) with n_cuts=0; got {self.temperature} with "
                             f"n_cuts={self.n_cuts}")


PRESETS = {
    "smoke": Config(n_problems=8, n_cuts=3, n_resamples=2, max_new_tokens=160),
    # sized for 2 cores shared by other jobs (~10 minutes): ~5 cuts per chain (the pre-backtrack
    # cut and one control per tag), so chains are spent on cuts rather than on more resamples
    "cpu": Config(n_problems=120, n_cuts=40, n_resamples=3, batch_size=128),
    # R1-distill chains on Countdown-3 run ~500-4000 tokens (Thought Anchors allowed 16,384 on
    # MATH): 4096 lets most chains finish; the unfinished ones are counted apart from wrong ones.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, n_cuts=40,
                  n_resamples=8, temperature=0.6, top_p=0.95, max_new_tokens=4096, batch_size=32),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=3, n_cuts=2, n_resamples=2, max_new_tokens=24)


# %% [markdown]
# ## Experiment 1: the tree each chain implies
# The ground truth for every problem is the tree the organism's heuristic depth-first search walks
# (`starter.organism.data`). For R1 the same score says how close its search is to that heuristic.


# %%
def run_chains(ctx: Context, problems: list) -> None:
    todo = [p for p in problems if not ctx.store.done(f"chain:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    runs = rollouts.sample(ctx.model, prompts, n=1, cfg=ctx.cfg.sampling()) if todo else []
    for p, prompt, run in zip(todo, prompts, runs):  # runs: [problem][1]
        done = run[0]
        steps = prefixes.chain_steps(done.text)
        tree = build_tree(steps)
        true_search = search(tuple(p.meta["numbers"]), p.meta["target"])
        truth = tree_from_nodes(make_trace(true_search).nodes)
        ctx.store.append({
            "unit": f"chain:{p.id}", "kind": "chain", "problem": p.id, "prompt": prompt,
            "completion": done.text, "difficulty": p.meta["backtracks"],
            # finished: stopped by itself (not the token budget), closed </think>, gave an answer
            "finished": done.finished and grading.finished(done.text),
            "correct": grade(p, done.text), "n_steps": len(steps),
            **tree_stats(tree), **score_tree(tree, truth),
        })


# %% [markdown]
# ## Experiment 2 and its matched control: resample before a backtrack vs after the same step type
# A cut keeps the chain up to the end of step `c - 1`; the continuation starts where step `c` was.
# At a pre-backtrack cut, step `c` is the chain's first backtrack. Control cuts: in the same chain,
# for every tag of step `c - 1`, one position (seeded choice) where step `c` is *not* a backtrack.
# The matched control is the one whose step `c - 1` has the tag the pre-backtrack cut's has.
# "Different branch" = the continuation's first operation differs from the original chain's next.


# %%
@dataclass(frozen=True)
class Cut:
    """One place to resample a chain."""

    kind: str  # "pre_backtrack" (step c is a backtrack) or "control" (step c is not)
    step: int  # c: the continuation starts where step c was
    after_tag: str  # tag of step c - 1, the last kept step: what the control is matched on
    next_tag: str  # tag of step c in the original chain


def pick_cuts(steps: list, rng: random.Random) -> list[Cut]:
    """The first pre-backtrack cut of a chain and, per tag of the last kept step, one control cut.

    >>> steps = split_steps("Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. "
    ...                     "Miss. Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
    >>> cuts = pick_cuts(steps, random.Random(0))
    >>> cuts[0]
    Cut(kind='pre_backtrack', step=6, after_tag='verify', next_tag='backtrack')
    >>> [(c.step, c.after_tag) for c in cuts[1:]]  # the matched control (after "Miss.") first
    [(4, 'verify'), (7, 'backtrack'), (1, 'compute'), (9, 'plan')]
    """
    before = [s.index for s in steps if s.tag == "backtrack" and s.index > 0]
    if not before:
        return []
    test = Cut("pre_backtrack", before[0], steps[before[0] - 1].tag, "backtrack")
    by_tag: dict[str, list[int]] = {}
    for s in steps[1:]:
        if s.tag != "backtrack" and next_operation(steps[s.index:]) is not None:
            by_tag.setdefault(steps[s.index - 1].tag, []).append(s.index)
    tags = sorted(by_tag, key=lambda t: (t != test.after_tag, t))  # the matched tag first
    controls = []
    for tag in tags:
        c = rng.choice(by_tag[tag])
        controls.append(Cut("control", c, tag, steps[c].tag))
    return [test] + controls


_LEFT = re.compile(r"Left: (\d+), (\d+)\.")  # the organism's "Left: 27, 4." opens a branch
_TARGET = re.compile(r"Target: (\d+)")  # the organism's prompt names its target


def untried_operations(prompt: str, completion: str, step: int) -> int | None:
    """Final operations the organism's rule has left to try in the open branch before step `step`.

    On the organism a branch ("Left: a, b.") tries the rule's final operations in order and
    backtracks once none is left; a cut with 0 untried is where the rule forces a backtrack.
    None when no branch is open or the text is not the organism's (no "Left:" or no target).
    Negative when the chain tried more than the rule allows (an operation the rule skips).

    >>> text = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss."
    ...         " Wait, backtrack.")
    >>> [untried_operations("Target: 31. <think>", text, c) for c in (1, 2, 4, 6)]
    [None, 2, 1, 0]
    """
    target = _TARGET.search(prompt)
    if target is None:
        return None
    left, tried = None, 0
    for s in prefixes.chain_steps(completion)[:step]:
        branch = _LEFT.match(s.text)
        if branch:
            left, tried = (int(branch.group(1)), int(branch.group(2))), 0
        elif s.tag == "backtrack":
            left = None
        elif left is not None and s.tag == "compute":
            tried += 1
    if left is None:
        return None
    return len(final_tries(left[0], left[1], int(target.group(1)))) - tried


# %% [markdown]
# ## The strongest simple baseline: the organism's own search rule, read from the text
# The organism writes a fixed heuristic search (`starter.tasks.countdown.search`): the open
# branch's final operations in a fixed order, then a backtrack to the next first operation. Read
# from the text alone, that one-line rule names the next operation at every cut. A continuation
# that follows it differs from the original chain only where the original had left the rule, so
# the rule predicts P(next operation differs) at every cut without resampling anything: what the
# resampling measures must beat before a backtrack can be called a branch point.


# %%
_PROBLEM = re.compile(r"Numbers: (\d+) (\d+) (\d+)\. Target: (\d+)")  # the organism's prompt
# "Try 8*19=152." as the organism writes it (operator in a group: a bracket then a parenthesis
# reads as a markdown link on the page)
_TRY = re.compile(r"Try (\d+)(?:[-+*/])(\d+)=(-?\d+)\.")
FIRST_OPS_SKIPPED_WITH_ONE = "*/"  # the search skips x*1 and x/1 at the first level (as `search`)


def search_order(numbers: tuple[int, int, int], target: int) -> list[tuple[str, list[str]]]:
    """Every first operation the organism's search tries, in its order, with that branch's final
    operations in order (canonical forms, as `next_operation` writes them). `search` stops at its
    first hit; this list goes on, so a chain that passed a hit still has a next operation.

    >>> search_order((8, 19, 4), 31)[:2]
    [('8*19', ['152-4', '152/4']), ('8+19', ['4+27', '4*27'])]
    """
    first_ops = OPS_TARGET_ABOVE if target > max(numbers) else OPS_TARGET_WITHIN
    order = []
    for i, j in PAIRS:
        a, b, rest = numbers[i], numbers[j], numbers[3 - i - j]
        for op in first_ops:
            if op in FIRST_OPS_SKIPPED_WITH_ONE and min(a, b) == 1:
                continue
            done = apply_op(a, op, b)
            if done is None:
                continue
            first, new = done
            finals = [canonical_operation(text) or text
                      for text, _ in final_tries(new, rest, target)]
            order.append((canonical_operation(first) or first, finals))
    return order


@dataclass(frozen=True)
class RuleStep:
    """What the organism's search rule does next after a chain's first steps."""

    backtrack: bool  # its next step is a backtrack (the open branch has no final operation left)
    operation: str | None  # the next operation it computes (None: it names none)


def search_rule(prompt: str, completion: str, step: int) -> RuleStep | None:
    """The organism's search rule after the first `step` steps of `completion`, read from the text.

    The open branch (its "Try a op b=v.", then "Left: v, c.") tries its final operations in the
    search's order; once none is left, the chain backtracks to the first operation after the
    branch's in the search's order. None when the prompt is not the organism's.

    >>> p = "Numbers: 8 19 4. Target: 31. <think>"
    >>> text = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss."
    ...         " Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
    >>> [search_rule(p, text, c) for c in (1, 4, 6)]  # doctest: +NORMALIZE_WHITESPACE
    [RuleStep(backtrack=False, operation='152-4'), RuleStep(backtrack=False, operation='152/4'),
     RuleStep(backtrack=True, operation='8+19')]
    >>> search_rule("Q: what is 2+2?", text, 4) is None
    True
    """
    problem = _PROBLEM.search(prompt)
    if problem is None:
        return None
    numbers = (int(problem.group(1)), int(problem.group(2)), int(problem.group(3)))
    target = int(problem.group(4))
    order = search_order(numbers, target)
    steps = prefixes.chain_steps(completion)[:step]
    current: str | None = None  # the first operation of the open (or last closed) branch
    finals: list[str] | None = None  # the open branch's final operations; None: no branch open
    tried = 0  # final operations tried in the open branch
    for s in steps:
        if _LEFT.match(s.text):
            continue  # the branch opened at its first operation's "Try"
        if s.tag == "backtrack":
            finals = None
        elif s.tag == "compute" and (op := canonical_operation(s.text)):
            if finals is not None:
                tried += 1
                continue
            current, tried = op, 0  # a first operation: the branch it opens
            written = _TRY.match(s.text)
            used = [int(written.group(1)), int(written.group(2))] if written else []
            rest = list(numbers)
            for n in used:
                if n in rest:
                    rest.remove(n)
            finals = ([canonical_operation(t) or t
                       for t, _ in final_tries(int(written.group(3)), rest[0], target)]
                      if written and len(rest) == 1 else [])
    if finals is not None and tried < len(finals):
        return RuleStep(False, finals[tried])
    backtrack = finals is not None and bool(steps) and steps[-1].tag == "verify"
    firsts = [first for first, _ in order]
    if current is None:
        return RuleStep(backtrack, firsts[0] if firsts else None)
    after = [k for k, first in enumerate(firsts) if first == current]
    following = after[-1] + 1 if after else len(firsts)
    return RuleStep(backtrack, firsts[following] if following < len(firsts) else None)


@dataclass(frozen=True)
class Placement:
    """Where a chain's backtracks sit (read from its text, for the tree-shape measures)."""

    after: tuple[str, ...]  # per backtrack: tag of the step before it ("" when it comes first)
    final_tries: tuple[int, ...]  # per backtrack closing a branch with a plan step ("Left:"):
    #                               compute steps after that plan step (0 = abandoned at once)
    left_dead: tuple[bool, ...]  # organism only, per "Left: a, b." state: no final try of the
    #                              search from it reaches the target (a dead end)
    left_at_once: tuple[bool, ...]  # organism only, per "Left:" state: a backtrack comes next


def placement(prompt: str, completion: str) -> Placement:
    """Where the backtracks of one chain sit: after which step type, after how many final tries,
    and (on the organism) whether the chain abandoned each "Left:" state at once.

    A reactive chain backtracks after its misses (`after` "verify", 2 final tries); a planned one
    at the "Left:" state itself when it is a dead end (`after` "plan", 0 tries).

    >>> reactive = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss."
    ...             " Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
    >>> placement("Target: 31. <think>", reactive)
    Placement(after=('verify',), final_tries=(2,), left_dead=(True, False), \
left_at_once=(False, False))
    >>> planned = " Try 8*19=152. Left: 152, 4. Wait, backtrack. Try 8+19=27. Left: 27, 4."
    >>> p = placement("Target: 31. <think>", planned)
    >>> p.after, p.final_tries, p.left_at_once
    (('plan',), (0,), (True, False))
    """
    steps = prefixes.chain_steps(completion)
    target = _TARGET.search(prompt)
    after, tries, dead, at_once = [], [], [], []
    since_plan = None  # compute steps after the open branch's plan step (None: no plan step)
    for i, s in enumerate(steps):
        if s.tag == "backtrack":
            after.append(steps[i - 1].tag if i else "")
            if since_plan is not None:
                tries.append(since_plan)
            since_plan = None
        elif s.tag == "plan":
            since_plan = 0
        elif s.tag == "compute" and since_plan is not None:
            since_plan += 1
        branch = _LEFT.match(s.text)
        if branch and target is not None:
            value, rest = int(branch.group(1)), int(branch.group(2))
            finals = final_tries(value, rest, int(target.group(1)))
            dead.append(not any(v == int(target.group(1)) for _, v in finals))
            at_once.append(i + 1 < len(steps) and steps[i + 1].tag == "backtrack")
    return Placement(tuple(after), tuple(tries), tuple(dead), tuple(at_once))


def run_resamples(ctx: Context) -> None:
    chains = [r for r in ctx.store.rows() if r.get("kind") == "chain" and r["finished"]]
    quota = -(-ctx.cfg.n_cuts // ctx.shard.count)  # under --shard i/n, each shard its share
    chains = [r for r in chains if r["n_backtracks"] > 0][:quota]
    jobs: list[dict[str, Any]] = []  # one per cut still to resample
    for row in chains:
        steps = prefixes.chain_steps(row["completion"])
        rng = random.Random(f"{ctx.cfg.seed}:{row['unit']}")  # per chain: resumes pick the same
        for cut in pick_cuts(steps, rng):
            unit = f"cut:{row['unit']}:{cut.kind}:{cut.after_tag}"
            if ctx.store.done(unit):
                continue
            prefix = prefixes.step_prefixes(row["unit"], row["completion"], ks=[cut.step])[0]
            jobs.append({"unit": unit, "row": row, "cut": cut, "text": row["prompt"] + prefix.text,
                         "original_op": next_operation(steps[cut.step:])})
    if not jobs:
        return
    # [len(jobs)][n_resamples] continuations, one batched call: the seed fixes them all.
    texts = [job["text"] for job in jobs]
    outs = rollouts.sample(ctx.model, texts, n=ctx.cfg.n_resamples, cfg=ctx.cfg.sampling())
    for job, continuations in zip(jobs, outs):
        firsts = [split_steps(split_completion(c.text)[0]) for c in continuations]
        ops = [next_operation(steps) for steps in firsts]
        cut = job["cut"]
        ctx.store.append({
            "unit": job["unit"], "kind": "cut", "problem": job["row"]["problem"], "cut": cut.kind,
            "step": cut.step, "after_tag": cut.after_tag, "next_tag": cut.next_tag,
            "original_op": job["original_op"], "continuation_ops": ops,
            "continuation_tags": [s[0].tag if s else "" for s in firsts],
            "finished": [c.finished and grading.finished(job["text"] + c.text)
                         for c in continuations],
            "different_branch": [op != job["original_op"] for op in ops],
        })


def run(ctx: Context) -> None:
    # all problems, or this shard's share (--shard i/n)
    problems = ctx.my_problems(make_problems(ctx.cfg.n_problems, seed=ctx.cfg.seed))
    run_chains(ctx, problems)
    run_resamples(ctx)


# %% [markdown]
# ## Analyse: tree shape with intervals, and the cuts by the tag of their last kept step


# %%
@dataclass(frozen=True)
class CutStats:
    """The resampling measures over one set of cuts."""

    label: str  # "before a backtrack", or "after <tag>" for control cuts
    n_cuts: int  # cuts (at most one per chain and kind)
    different: stats.Estimate  # P(the continuation's next operation differs from the original's)
    backtrack_first: stats.Estimate  # P(the continuation's first step is a backtrack)


def cut_stats(label: str, cuts: list[dict]) -> CutStats:
    flags = [float(f) for r in cuts for f in r["different_branch"]]
    firsts = [float(t == "backtrack") for r in cuts for t in r["continuation_tags"]]
    clusters = [r["problem"] for r in cuts for _ in r["different_branch"]]
    return CutStats(label=label, n_cuts=len(cuts), different=stats.mean_ci(flags, clusters),
                    backtrack_first=stats.mean_ci(firsts, clusters))


def per_chain_mean(rows: list[dict], key: str) -> stats.Estimate:
    """Mean of a per-chain number (one chain per problem), shown with an interval, not counts."""
    est = stats.mean_ci([float(r[key]) for r in rows], [r["problem"] for r in rows])
    return stats.Estimate(est.value, est.ci, est.n, est.n_items, est.unit)


def matched_pairs(cuts: list[dict]) -> tuple[list[dict], list[dict]]:
    """Pre-backtrack cuts and, from the same chains, the control cut after the same tag."""
    tests = {r["problem"]: r for r in cuts if r["cut"] == "pre_backtrack"}
    matched = [r for r in cuts if r["cut"] == "control" and r["problem"] in tests
               and r["after_tag"] == tests[r["problem"]]["after_tag"]]
    paired = {r["problem"] for r in matched}
    return [r for p, r in tests.items() if p in paired], matched


def untried_of(cut: dict, chains: dict[str, dict]) -> int | None:
    """`untried_operations` at a cut row, from its chain's row (None without the chain)."""
    row = chains.get(cut["problem"])
    if row is None:
        return None
    return untried_operations(row["prompt"], row["completion"], cut["step"])


def placement_metrics(done: list[dict]) -> dict[str, stats.Estimate]:
    """Where the finished chains' backtracks sit, pooled over backtracks (or "Left:" states),
    intervals clustered by problem: after a plan step ("Left:") or a check ("Miss."), final tries
    per abandoned branch, and on the organism the rate of abandoning a "Left:" state at once, at
    dead ends and at live states (what the planned variant's eval.json measures greedily)."""
    after, tries, at_dead, at_live = [], [], [], []
    for r in done:
        p = placement(r["prompt"], r["completion"])
        after += [(tag, r["problem"]) for tag in p.after]
        tries += [(float(n), r["problem"]) for n in p.final_tries]
        for dead, once in zip(p.left_dead, p.left_at_once):
            (at_dead if dead else at_live).append((float(once), r["problem"]))

    def share(pairs: list[tuple[Any, str]], keep) -> stats.Estimate:
        return stats.mean_ci([float(keep(x)) for x, _ in pairs], [c for _, c in pairs])

    return {
        "backtrack_after_plan": share(after, lambda tag: tag == "plan"),
        "backtrack_after_verify": share(after, lambda tag: tag == "verify"),
        "final_tries_per_abandoned": share(tries, lambda n: n),
        "backtrack_at_dead_left": share(at_dead, lambda once: once),
        "backtrack_at_live_left": share(at_live, lambda once: once),
    }


@dataclass(frozen=True)
class SearchRuleStats:
    """The organism's search rule (`search_rule`) beside the resampling measures, same items."""

    follows: stats.Estimate  # P(a continuation's next operation is the rule's), every cut
    original_follows: stats.Estimate  # P(it is the original chain's next operation), every cut
    different_test: stats.Estimate  # rule-predicted P(next operation differs), matched tests
    different_control: stats.Estimate  # the same at their matched control cuts
    different_minus_matched: stats.Estimate  # the rule's prediction of the primary difference
    different_all_tests: stats.Estimate  # observed P(next operation differs), every test cut
    rule_different_all_tests: stats.Estimate  # rule-predicted, the same cuts
    different_minus_rule: stats.Estimate  # observed minus rule-predicted, paired by continuation
    backtrack_first_test: stats.Estimate  # rule-predicted P(backtracks first), matched tests
    backtrack_first_control: stats.Estimate  # the same at their matched control cuts
    backtrack_first_minus_matched: stats.Estimate  # the rule's prediction of that difference
    n_silent: int  # cuts where the rule names no next operation (counted as predicting a change)
    # the primary's control, split (review s16_b): "slips" are matched control cuts where the
    # rule's next step is a backtrack the original chain skipped (a resample may go back to it)
    n_slip_controls: int  # matched control cuts that are slips
    slip_continuations: int  # continuations sampled at them
    slip_changed: int  # of those, how many changed the next operation
    slip_changed_backtracking: int  # of the changed ones, how many backtrack first (the rule)
    control_without_slips: stats.Estimate  # observed P(next op differs), the other controls
    different_minus_matched_without_slips: stats.Estimate  # the primary without slip problems
    # backtrack-again against its rule: (observed - predicted) before a backtrack minus the same
    # at the matched control, paired by problem: the observed difference beyond the rule's
    backtrack_again_minus_rule: stats.Estimate


def _negated(est: stats.Estimate) -> stats.Estimate:
    """-est: value and interval (at every level) mirrored about 0."""
    side = est.at_level

    def interval(level: float) -> tuple[float, float] | None:
        ci = side(level) if side is not None else est.ci
        return None if ci is None else (0.0 - ci[1], 0.0 - ci[0])  # 0.0 - x: no "-0.00"

    return stats.Estimate(0.0 - est.value, interval(stats.LEVEL), est.n, est.n_items, est.unit,
                          at_level=interval if side is not None else None)


def rule_difference(a: list[float], a_at: list[str], b: list[float],
                    b_at: list[str]) -> stats.Estimate:
    """mean(a) - mean(b) for two columns of the search rule's predictions at paired cuts.

    A column that is the same 0 or 1 on every item is that number in every resample, so the
    interval is the other column's own, shifted (`stats.minus_constant`), rather than
    `stats.difference_ci`'s widening, which treats the constant column as a Wilson sample and
    gave a difference that is <= 0 in every resample a positive upper end (review s16_b).
    By hand: the rule predicts no change at 4 tests and a change at 1 of 4 controls:
    -1/4, the interval Wilson's for 1/4 (0.046 to 0.699) mirrored.

    >>> d = rule_difference([0.0] * 4, list("abcd"), [1.0, 0.0, 0.0, 0.0], list("abcd"))
    >>> round(d.value, 2), [round(x, 3) for x in d.ci]
    (-0.25, [-0.699, -0.046])
    """
    def constant(x: list[float]) -> bool:
        return bool(x) and x[0] in (0.0, 1.0) and all(v == x[0] for v in x)

    items = len(a) + len(b)  # as difference_ci counts them
    if constant(a):
        return dataclasses.replace(_negated(stats.minus_constant(b, b_at, a[0])), n_items=items)
    if constant(b):
        return dataclasses.replace(stats.minus_constant(a, a_at, b[0]), n_items=items)
    return stats.difference_ci(a, a_at, b, b_at)


def search_rule_stats(cuts: list[dict], tests: list[dict], matched: list[dict],
                      chains: dict[str, dict]) -> SearchRuleStats | None:
    """What the search rule predicts at every cut, item by item (one item per continuation, as
    the resampling measures count them): a continuation differs from the original chain where
    the rule's next operation is not the original's, and backtracks first where the rule does.
    None when no cut's chain is the organism's (the rule reads its prompt)."""
    rule = {}
    for r in cuts:
        row = chains.get(r["problem"])
        rule[id(r)] = search_rule(row["prompt"], row["completion"], r["step"]) if row else None
    if all(v is None for v in rule.values()):
        return None

    def items(rows: list[dict], value) -> stats.Estimate:
        flags = [float(value(r, i)) for r in rows for i in range(len(r["different_branch"]))]
        return stats.mean_ci(flags, [r["problem"] for r in rows for _ in r["different_branch"]])

    def op(r: dict) -> str | None:
        step = rule[id(r)]
        return step.operation if step else None

    def predicted_change(r: dict, _: int) -> bool:
        return op(r) != r["original_op"]

    def predicted_backtrack(r: dict, _: int) -> bool:
        step = rule[id(r)]
        return bool(step and step.backtrack)

    def observed_change(r: dict, i: int) -> bool:
        return bool(r["different_branch"][i])

    def paired(a_rows, a, b_rows, b, difference=stats.difference_ci) -> stats.Estimate:
        clusters_a = [r["problem"] for r in a_rows for _ in r["different_branch"]]
        clusters_b = [r["problem"] for r in b_rows for _ in r["different_branch"]]
        return difference(
            [float(a(r, i)) for r in a_rows for i in range(len(r["different_branch"]))],
            clusters_a,
            [float(b(r, i)) for r in b_rows for i in range(len(r["different_branch"]))],
            clusters_b)

    def backtrack_beyond_rule(r: dict, i: int) -> float:
        return float(r["continuation_tags"][i] == "backtrack") - predicted_backtrack(r, i)

    # slips: matched controls where the rule backtracks next and the original chain did not
    slips = {r["problem"] for r in matched if predicted_backtrack(r, 0)}
    kept_tests = [r for r in tests if r["problem"] not in slips]
    kept_controls = [r for r in matched if r["problem"] not in slips]
    slip_rows = [r for r in matched if r["problem"] in slips]

    all_tests = [r for r in cuts if r["cut"] == "pre_backtrack"]
    return SearchRuleStats(
        follows=items(cuts, lambda r, i: r["continuation_ops"][i] == op(r)),
        original_follows=items(cuts, lambda r, i: r["continuation_ops"][i] == r["original_op"]),
        different_test=items(tests, predicted_change),
        different_control=items(matched, predicted_change),
        different_minus_matched=paired(tests, predicted_change, matched, predicted_change,
                                       rule_difference),
        different_all_tests=items(all_tests, observed_change),
        rule_different_all_tests=items(all_tests, predicted_change),
        different_minus_rule=paired(all_tests, observed_change, all_tests, predicted_change),
        backtrack_first_test=items(tests, predicted_backtrack),
        backtrack_first_control=items(matched, predicted_backtrack),
        backtrack_first_minus_matched=paired(tests, predicted_backtrack, matched,
                                             predicted_backtrack, rule_difference),
        n_silent=sum(op(r) is None for r in cuts),
        n_slip_controls=len(slip_rows),
        slip_continuations=sum(len(r["different_branch"]) for r in slip_rows),
        slip_changed=sum(bool(f) for r in slip_rows for f in r["different_branch"]),
        slip_changed_backtracking=sum(bool(f) and t == "backtrack" for r in slip_rows
                                      for f, t in zip(r["different_branch"],
                                                      r["continuation_tags"])),
        control_without_slips=items(kept_controls, observed_change),
        different_minus_matched_without_slips=paired(kept_tests, observed_change, kept_controls,
                                                     observed_change),
        backtrack_again_minus_rule=paired(tests, backtrack_beyond_rule, matched,
                                          backtrack_beyond_rule))


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields."""

    n_chains: int  # sampled chains, one per problem
    n_unfinished: int  # of them, never finished (left out of what follows)
    accuracy: stats.Estimate  # correct answers among the finished chains
    mean_n_nodes: stats.Estimate  # nodes of the implied tree, per finished chain
    mean_depth: stats.Estimate  # its depth
    mean_branching_factor: stats.Estimate  # its branching factor
    mean_n_backtracks: stats.Estimate  # its backtracks
    backtracks_when_correct: stats.Estimate  # backtracks per correct chain
    backtracks_when_wrong: stats.Estimate  # backtracks per wrong chain
    backtracks_by_difficulty: dict[int, stats.Estimate]  # backtracks the search needs -> chain's
    backtracks_hard: stats.Estimate  # backtracks where the search needs at least one
    backtracks_easy: stats.Estimate  # backtracks where it needs none
    backtracks_hard_minus_easy: stats.Estimate  # the difference, by problem
    tree_node_recall: stats.Estimate  # search-tree nodes found in the chain's tree
    tree_node_precision: stats.Estimate  # chain-tree nodes that are in the search tree
    tree_edge_recall: stats.Estimate  # search-tree edges found
    tree_backtrack_recall: stats.Estimate  # abandoned branches found
    tree_backtrack_precision: stats.Estimate  # chain's abandoned branches that the search abandons
    tree_exact: stats.Estimate  # trees identical to the search's
    backtrack_after_plan: stats.Estimate  # backtracks right after a plan step ("Left:")
    backtrack_after_verify: stats.Estimate  # backtracks right after a check ("Miss.")
    final_tries_per_abandoned: stats.Estimate  # final tries before an abandoned branch's backtrack
    backtrack_at_dead_left: stats.Estimate  # dead-end "Left:" states abandoned at once
    backtrack_at_live_left: stats.Estimate  # live "Left:" states abandoned at once (premature)
    pre_backtrack: CutStats  # resampled just before a backtrack (matched cuts)
    matched_control: CutStats  # resampled after the same tag, no backtrack next (the control)
    different_minus_matched: stats.Estimate  # P(next operation differs): test minus control
    backtrack_first_minus_matched: stats.Estimate  # P(backtracks first): test minus control
    untried_test: CutStats  # before a backtrack with no operation left to try
    untried_control_none: CutStats  # same tag, none left, no backtrack next
    untried_control_left: CutStats  # same tag, some left, no backtrack next
    n_unmatched_tests: int  # pre-backtrack cuts without a control cut after the same tag
    per_tag: list[CutStats]  # every cut set by the tag of the last kept step
    unfinished_continuations: int  # continuations that never finished (first step still counts)
    n_continuations: int  # continuations sampled at all cuts
    # the strongest simple baseline: the organism's search rule read from the text (None: the
    # chains are not the organism's); and for the pipeline check, the search's own backtracks
    search_rule: SearchRuleStats | None
    search_backtracks_hard: stats.Estimate  # backtracks the search needs, on the hard problems
    # the pipeline check against its rule: (chain's backtracks - the search's) on hard problems
    # minus the same on easy ones (where the search needs 0), by problem (review s16_b)
    hard_easy_minus_search: stats.Estimate


def analyse(rows: list[dict]) -> Metrics:
    chains = [r for r in rows if r.get("kind") == "chain"]
    cuts = [r for r in rows if r.get("kind") == "cut"]
    done = [r for r in chains if r["finished"]]
    m: dict[str, Any] = {
        "n_chains": len(chains),
        "n_unfinished": len(chains) - len(done),
        "accuracy": stats.proportion_ci(sum(bool(r["correct"]) for r in done), len(done)),
    }
    for key in ("n_nodes", "depth", "branching_factor", "n_backtracks"):
        m[f"mean_{key}"] = per_chain_mean(done, key)
    correct = [r for r in done if r["correct"]]
    wrong = [r for r in done if not r["correct"]]
    m["backtracks_when_correct"] = per_chain_mean(correct, "n_backtracks")
    m["backtracks_when_wrong"] = per_chain_mean(wrong, "n_backtracks")
    levels = sorted({r["difficulty"] for r in done})
    m["backtracks_by_difficulty"] = {
        level: per_chain_mean([r for r in done if r["difficulty"] == level], "n_backtracks")
        for level in levels}
    hard = [r for r in done if r["difficulty"] > 0]
    easy = [r for r in done if r["difficulty"] == 0]
    m["backtracks_hard"] = per_chain_mean(hard, "n_backtracks")
    m["backtracks_easy"] = per_chain_mean(easy, "n_backtracks")
    m["backtracks_hard_minus_easy"] = stats.difference_ci(
        [r["n_backtracks"] for r in hard], [r["problem"] for r in hard],
        [r["n_backtracks"] for r in easy], [r["problem"] for r in easy])
    for key in ("node_recall", "node_precision", "edge_recall", "backtrack_recall",
                "backtrack_precision", "exact"):
        values = [float(r[key]) for r in done]
        m[f"tree_{key}"] = stats.mean_ci(values, [r["problem"] for r in done])
    m.update(placement_metrics(done))
    tests, matched = matched_pairs(cuts)
    m["pre_backtrack"] = cut_stats("before a backtrack", tests)
    m["matched_control"] = cut_stats("after the same tag, no backtrack next", matched)
    test_at = [r["problem"] for r in tests for _ in r["different_branch"]]
    matched_at = [r["problem"] for r in matched for _ in r["different_branch"]]
    m["different_minus_matched"] = stats.difference_ci(
        [float(f) for r in tests for f in r["different_branch"]], test_at,
        [float(f) for r in matched for f in r["different_branch"]], matched_at)
    m["backtrack_first_minus_matched"] = stats.difference_ci(
        [float(t == "backtrack") for r in tests for t in r["continuation_tags"]], test_at,
        [float(t == "backtrack") for r in matched for t in r["continuation_tags"]], matched_at)
    controls = [r for r in cuts if r["cut"] == "control"]
    all_tests = [r for r in cuts if r["cut"] == "pre_backtrack"]
    # The confound of claim 3: on the organism a backtrack follows by rule once the branch has no
    # operation left, and the matched cut (after the same tag) usually still has one.
    by_problem = {r["problem"]: r for r in chains}
    untried = {id(r): untried_of(r, by_problem) for r in cuts}
    test_tags = {r["after_tag"] for r in all_tests}
    same_tag = [r for r in controls if r["after_tag"] in test_tags]
    m["untried_test"] = cut_stats("before a backtrack, none untried",
                                  [r for r in all_tests if untried[id(r)] == 0])
    m["untried_control_none"] = cut_stats("same tag, none untried, no backtrack next",
                                          [r for r in same_tag if untried[id(r)] == 0])
    m["untried_control_left"] = cut_stats("same tag, some untried, no backtrack next",
                                          [r for r in same_tag if (untried[id(r)] or 0) > 0])
    m["n_unmatched_tests"] = len(all_tests) - len(tests)
    # the pre-backtrack cuts also split by the step the backtrack followed: a reactive searcher's
    # follow a check ("Miss."), a planned one's a plan step ("Left:")
    m["per_tag"] = [cut_stats("before a backtrack", all_tests)] + [
        cut_stats(f"before a backtrack, after {tag}",
                  [r for r in all_tests if r["after_tag"] == tag])
        for tag in sorted({r["after_tag"] for r in all_tests})] + [
        cut_stats(f"after {tag}", [r for r in controls if r["after_tag"] == tag])
        for tag in sorted({r["after_tag"] for r in controls})]
    m["unfinished_continuations"] = sum(not f for r in cuts for f in r["finished"])
    m["n_continuations"] = sum(len(r["finished"]) for r in cuts)
    m["search_rule"] = search_rule_stats(cuts, tests, matched, by_problem)
    m["search_backtracks_hard"] = per_chain_mean(hard, "difficulty")
    m["hard_easy_minus_search"] = stats.difference_ci(
        [r["n_backtracks"] - r["difficulty"] for r in hard], [r["problem"] for r in hard],
        [r["n_backtracks"] - r["difficulty"] for r in easy], [r["problem"] for r in easy])
    return Metrics(**m)


# %% [markdown]
# ## Figure


# %%
def _bar(ax, labels: list[str], estimates: list[stats.Estimate], colours: list[str]) -> None:
    estimate_bars(ax, range(len(estimates)), estimates, capsize=4, color=colours)
    ax.set_xticks(range(len(estimates)), labels)


def plot(rows: list[dict], metrics: Metrics):
    fig, axes = plt.subplots(2, 2, figsize=(7, 7))
    by_level = metrics.backtracks_by_difficulty
    levels = sorted(by_level)
    ests = [by_level[d] for d in levels]
    ax = axes[0, 0]
    estimate_points(ax, levels, ests, fmt="o-", capsize=4, label="model's chain")
    ax.plot(levels, levels, "k--", label="heuristic search")
    ax.set(xlabel="backtracks the search needs", ylabel="backtracks in the chain")
    ax.set_xticks(levels)
    ax.legend(loc="upper left", fontsize=8)
    trees = [metrics.tree_node_recall, metrics.tree_edge_recall, metrics.tree_backtrack_recall,
             metrics.tree_exact]
    _bar(axes[0, 1], ["node\nrecall", "edge\nrecall", "backtrack\nrecall", "exact"], trees,
         ["tab:green"] * 4)
    axes[0, 1].set(ylim=(0, 1.05), ylabel="recovered tree vs search tree")
    test, control = metrics.pre_backtrack, metrics.matched_control
    labels = ["before a\nbacktrack", "matched\ncontrol"]
    different = [test.different, control.different]
    firsts = [test.backtrack_first, control.backtrack_first]
    colours = ["tab:red", "tab:gray"]
    rule = metrics.search_rule
    if rule is not None:  # the strongest simple baseline beside each measure, same cuts
        labels += ["rule:\nbefore", "rule:\ncontrol"]
        different += [rule.different_test, rule.different_control]
        firsts += [rule.backtrack_first_test, rule.backtrack_first_control]
        colours += ["tab:olive", "tab:olive"]
    _bar(axes[1, 0], labels, different, colours)
    axes[1, 0].set(ylim=(0, 1.05), ylabel="P(next operation differs)")
    _bar(axes[1, 1], labels, firsts, colours)
    axes[1, 1].set(ylim=(0, 1.05), ylabel="P(continuation backtracks first)")
    for ax in axes[1]:
        ax.tick_params(axis="x", labelsize=7)
    axes[1, 0].set_title("primary claim" + (" (olive: the search rule's prediction)"
                                            if rule is not None else ""),
                         fontsize=8, fontweight="bold")
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims


# %%
RULE_NAME = ("the organism's search rule read from the text (the open branch's next untried final "
             "operation, else the next first operation in the search's fixed order)")
SEARCH_NEEDS = ("rule from the prompt alone: a chain backtracks as often as the organism's "
                "search needs")
BACKTRACK_RULE = ("one-line rule: the search backtracks exactly when the open branch has no "
                  "final operation left untried")


def rule_baselines(m: Metrics) -> dict[str, Baseline | None]:
    """Each claim's strongest simple baseline (by claim key), in the claim's own metric."""
    r = m.search_rule
    return {
        PRIMARY: None if r is None else Baseline(
            f"one-line rule: {RULE_NAME}; a continuation that follows it differs only where the "
            "original chain had left the rule: its predicted P(next operation differs) at the "
            "same cuts", r.different_test),
        "pre-backtrack-vs-search-rule": None if r is None else Baseline(
            f"one-line rule: {RULE_NAME}, predicted P(next operation differs) at the same cuts",
            r.rule_different_all_tests),
        "pipeline-hard-easy": Baseline(
            f"{SEARCH_NEEDS}: its hard minus easy difference (0 backtracks on the easy problems "
            "by definition)", m.search_backtracks_hard),
        "backtrack-again": None if r is None else Baseline(
            f"{BACKTRACK_RULE}: its predicted P(backtracks first) before a backtrack minus at "
            "the matched control, same cuts", r.backtrack_first_minus_matched),
    }



def claims(m: Metrics) -> list[Claim]:
    base = rule_baselines(m)
    out = [
        compare("Resampling just before a backtrack changes the next operation more often than "
                "resampling after the same step type where the chain did not backtrack "
                f"({m.n_unmatched_tests} pre-backtrack cuts had no control cut after the same "
                "step type in their chain: left out, counted).",
                "P(next operation differs), before a backtrack", m.pre_backtrack.different,
                "cut after the same tag in the same chain, no backtrack next",
                "P(next operation differs)", m.matched_control.different,
                m.different_minus_matched, key=PRIMARY, strongest_baseline=base[PRIMARY]),
        compare("Pipeline check, judged against its rule (review s16_b: on the organism, "
                "whose 'hard' means its own search needs a backtrack, the raw gap is true by "
                "construction): chains on problems whose search needs backtracking contain more "
                "backtracks than chains on problems it solves directly, by more than the "
                "search's own backtracks predict.",
                "backtracks per chain, hard minus easy problems", m.backtracks_hard_minus_easy,
                f"{SEARCH_NEEDS} (0 on the easy problems by definition)",
                "backtracks per chain the search needs, hard minus easy",
                m.search_backtracks_hard, m.hard_easy_minus_search,
                key="pipeline-hard-easy", strongest_baseline=base["pipeline-hard-easy"]),
    ]
    r = m.search_rule
    if r is None:  # no rule to judge it against (not the organism): the matched control only
        out.append(compare(
            "Exploratory (chosen after seeing an earlier run): resampled just before a "
            "backtrack, the model backtracks again first more often than at a cut after the "
            "same step type where the chain went on without backtracking.",
            "P(continuation backtracks first), before a backtrack",
            m.pre_backtrack.backtrack_first,
            "cut after the same tag in the same chain, no backtrack next",
            "P(continuation backtracks first)", m.matched_control.backtrack_first,
            m.backtrack_first_minus_matched, key="backtrack-again"))
    else:
        out.append(compare(
            "Exploratory (chosen after seeing an earlier run), judged against its rule (review "
            "s16_b): resampled just before a backtrack, the model backtracks again first more "
            "often than at a cut after the same step type where the chain went on without "
            "backtracking, by more than the organism's search rule predicts (it backtracks "
            "once a branch's final operations have all been tried; the matched cut mostly "
            "still has some, see Finding).",
            "P(continuation backtracks first), before a backtrack minus matched control",
            m.backtrack_first_minus_matched,
            "the search rule's prediction of that difference at the same cuts",
            "predicted P(backtracks first), before minus control",
            r.backtrack_first_minus_matched, r.backtrack_again_minus_rule,
            key="backtrack-again", strongest_baseline=base["backtrack-again"]))
    if r is not None and r.different_all_tests.n_items:
        out.append(compare(
            "Beyond the search rule: resampling just before a backtrack (every pre-backtrack cut, "
            "matched or not) changes the next operation more often than the organism's search "
            "rule, read from the text, predicts at the same cuts (it predicts a change exactly "
            "where the original chain had left the rule).",
            "P(next operation differs), before a backtrack", r.different_all_tests,
            "the search rule's prediction at the same cuts", "predicted P(next operation differs)",
            r.rule_different_all_tests, r.different_minus_rule,
            key="pre-backtrack-vs-search-rule",
            strongest_baseline=base["pre-backtrack-vs-search-rule"]))
    return declare(out, PRIMARY)


MIN_PROBLEMS = 5  # fewer problems than this: counts only, no interval or verdict


def _share(c: CutStats) -> str:
    """P(backtracks first) of a cut set: its interval from MIN_PROBLEMS problems, else counts."""
    e = c.backtrack_first
    if e.n >= MIN_PROBLEMS or e.successes is None:
        return stats.describe(e)
    return f"{e.successes}/{e.n_items} continuations ({e.n} problems: too few for an interval)"


def untried_text(m: Metrics) -> str:
    """The confound of the backtrack-again check, split by the operations the branch has left."""
    none, left = m.untried_control_none, m.untried_control_left
    n_none = none.backtrack_first.n  # problems with a control cut that has nothing left to try
    few = f" (fewer than {MIN_PROBLEMS}: no verdict)" if n_none < MIN_PROBLEMS else ""
    if not m.untried_test.n_cuts:
        return ("Untried operations at a cut are read from the organism's \"Left: a, b.\" "
                "steps; these chains have none, so the backtrack-again check cannot be matched "
                "on them.")
    return (
        "Confound of the backtrack-again check: on the organism a branch backtracks by rule once "
        "its operations have all been tried. Before a backtrack with no operation left "
        f"({m.untried_test.n_cuts} cuts) the continuation backtracks first in "
        f"{_share(m.untried_test)}; at control cuts after the same tag with an operation "
        f"still untried ({left.n_cuts} cuts) in {_share(left)}; at control cuts after the same "
        f"tag with none left ({none.n_cuts} cuts) in {_share(none)}. Matched on untried "
        f"operations the control has {n_none} "
        f"problems{few}, so the check is reported as a sanity check of that rule, not as "
        "evidence of a reproducible decision beyond it.")


def placement_text(m: Metrics) -> str:
    """Where the backtracks sit: the planned-vs-reactive dial (starter/organism/variants.py)."""
    d = stats.describe
    text = (f"Where the backtracks sit: {d(m.backtrack_after_plan)} of backtracks directly "
            f"follow a plan step (on the organism \"Left: a, b.\", before any try) and "
            f"{d(m.backtrack_after_verify)} follow a check (\"Miss.\"); an abandoned branch "
            f"had {d(m.final_tries_per_abandoned)} final tries before its backtrack (a "
            "reactive search tries them all, a planned one none at a dead end).")
    dead, live = m.backtrack_at_dead_left, m.backtrack_at_live_left
    if dead.n_items or live.n_items:
        text += (f" At dead-end \"Left:\" states (no final try reaches the target) the chain "
                 f"backtracks at once in {d(dead)}; at live ones (premature) in {d(live)}.")
    return text


def slip_text(m: Metrics) -> str:
    """Beside the primary: how much of the matched control's change rate sits on slip cuts,
    where the original chain skipped a backtrack the search rule mandates ("" without the rule
    or without slips)."""
    d = stats.describe
    r = m.search_rule
    if r is None or not r.n_slip_controls:
        return ""
    control, diff = m.matched_control.different, m.different_minus_matched
    changed = control.successes if control.successes is not None else "?"
    without = r.different_minus_matched_without_slips
    text = (
        f"Beside the primary claim: the matched control's {d(control)} is {changed} changed "
        f"continuations, {r.slip_changed} of them at the {r.n_slip_controls} control cuts "
        f"({r.slip_continuations} continuations) where the original chain skipped a backtrack "
        "the search rule mandates (its branch had no final operation left untried); "
        f"{r.slip_changed_backtracking} of those {r.slip_changed} backtrack first, back to the "
        "rule. At the other "
        f"{m.matched_control.n_cuts - r.n_slip_controls} matched controls the change rate is "
        f"{d(r.control_without_slips)}. Without the slip cuts' problems the primary difference "
        f"is {d(without)}, against {d(diff)} with them")
    if r.control_without_slips.successes == 0:
        text += (" (a side that is 0 on every item is widened to Wilson's interval over its "
                 "problems, hence the lower end)")
    if diff.value < 0 <= without.value:
        text += (": the primary's negative sign rests on those slips, not on backtracks being "
                 "less branchy than other steps")
    return text + "."


def bound_text(m: Metrics) -> str:
    """What the observed-minus-rule secondary rules out: the upper end of its interval, at the
    level Holm reads it ("" where the claim is not made)."""
    claim = next((c for c in claims(m) if c.key == "pre-backtrack-vs-search-rule"), None)
    if claim is None or claim.difference.ci is None:
        return ""
    lo, hi = claim.difference.ci
    level = "95%" if abs(claim.ci_level - stats.LEVEL) < 1e-9 else (
        f"Holm-adjusted {100 * claim.ci_level:.1f}%")
    return (
        f"What the observed-minus-rule secondary does set: its {level} interval, {lo:+.2f} to "
        f"{hi:+.2f} over {claim.difference.n} problems, rules out an excess over the search "
        f"rule larger than {hi:+.2f} (resampling just before a backtrack changing the next "
        f"operation more than {hi:.2f} more often than the rule predicts); a smaller excess is "
        "not excluded.")


def baseline_text(m: Metrics) -> str:
    """The strongest simple baseline, stated before anything else (issue #25)."""
    d = stats.describe
    r = m.search_rule
    if r is None:
        return ("Strongest simple baseline: the organism's search rule needs the organism's "
                "prompt (\"Numbers: a b c. Target: t.\"); these chains have none, so no rule "
                "prediction is made and the claims stand against their matched controls only.")
    return (
        f"Strongest simple baseline: one line, {RULE_NAME}. It names the next operation of "
        f"{d(r.follows)} of all continuations (repeating the original chain's own next operation "
        f"names {d(r.original_follows)}; cuts where the rule names none: {r.n_silent}). It "
        "predicts that a continuation changes the next operation exactly where the original "
        f"chain had left the rule: before a backtrack {d(r.different_test)} (observed "
        f"{d(m.pre_backtrack.different)}), at the matched control {d(r.different_control)} "
        f"(observed {d(m.matched_control.different)}), a difference of "
        f"{d(r.different_minus_matched)} against the observed {d(m.different_minus_matched)} "
        "(where one side of a rule difference is the same 0 or 1 at every cut, its interval is "
        "the other side's, shifted: not widened as if the constant side were sampled). "
        "Over every pre-backtrack cut the observed change rate minus the rule's prediction is "
        f"{d(r.different_minus_rule)}. The rule also predicts the backtrack-again check: it "
        f"backtracks first in {d(r.backtrack_first_test)} of the matched pre-backtrack "
        f"continuations and {d(r.backtrack_first_control)} at their controls (difference "
        f"{d(r.backtrack_first_minus_matched)}; observed {d(m.backtrack_first_minus_matched)}; "
        f"observed minus predicted {d(r.backtrack_again_minus_rule)}). "
        "So on the organism a backtrack is not a branch point beyond its search rule: resampling "
        "changes the next operation where the original chain had slipped off the rule, and the "
        "pipeline check's search predicts "
        f"{d(m.search_backtracks_hard)} backtracks per chain on the hard problems (observed "
        f"{d(m.backtracks_hard)}); the chains' hard minus easy gap minus the search's is "
        f"{d(m.hard_easy_minus_search)} (the chains also backtrack on problems the search "
        f"solves directly: {d(m.backtracks_easy)} per chain).")


def findings(m: Metrics) -> str:
    d = stats.describe
    first = "".join(f"{part}\n\n" for part in (slip_text(m), baseline_text(m), bound_text(m))
                    if part)
    text = (
        f"{first}"
        f"{m.n_chains} chains, {m.n_unfinished} unfinished (left out below). Accuracy of "
        f"the finished ones: {d(m.accuracy)}. Their implied trees have {d(m.mean_n_nodes)} "
        f"nodes, depth {d(m.mean_depth)}, branching factor {d(m.mean_branching_factor)} and "
        f"{d(m.mean_n_backtracks)} backtracks per chain ({d(m.backtracks_when_correct)} in "
        f"correct vs {d(m.backtracks_when_wrong)} in wrong chains). Against the heuristic "
        f"search tree: node recall {d(m.tree_node_recall)}, edge recall "
        f"{d(m.tree_edge_recall)}, abandoned-branch recall {d(m.tree_backtrack_recall)}; "
        f"trees matching exactly: {d(m.tree_exact)}.\n\n"
        f"Resampling just before a backtrack changes the next operation in "
        f"{d(m.pre_backtrack.different)} of continuations (and backtracks again first in "
        f"{d(m.pre_backtrack.backtrack_first)}); the matched control, a cut after the same "
        f"step type in the same chain where the chain went on without backtracking, changes it in "
        f"{d(m.matched_control.different)}. Pre-backtrack cuts without a matched control: "
        f"{m.n_unmatched_tests}. Unfinished continuations: {m.unfinished_continuations} of "
        f"{m.n_continuations} (their first step still counts).\n\n"
        f"{placement_text(m)}\n\n"
        f"{untried_text(m)}\n\n"
        "The same measures by the tag of the last kept step (one control cut per chain and tag):"
        "\n\n| cut | cuts | P(next operation differs) | P(backtracks first) |\n|---|---|---|---|\n")
    for row in m.per_tag:
        text += f"| {row.label} | {row.n_cuts} | {d(row.different)} | {d(row.backtrack_first)} |\n"
    return text + (
        "\nOn the organism this is a hypothesis about how search is written, to test on "
        "R1-distill (`--preset gpu`), where the tagger and the tree rule are themselves "
        "assumptions.")


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run reasoning-tree --preset gpu --dry-run`)


# %%
CUTS_PER_CHAIN = 5  # the pre-backtrack cut plus about one matched control per step tag


def budget(cfg: Config) -> list[Generation]:
    """The sampling stages of `run`, for planning; the cut count per chain is an estimate."""
    return [
        Generation("chains, one per problem", sequences=cfg.n_problems,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size),
        Generation(f"continuations at ~{CUTS_PER_CHAIN} cuts per chain",
                   sequences=cfg.n_cuts * CUTS_PER_CHAIN * cfg.n_resamples,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                   prompt_tokens=256 + cfg.max_new_tokens // 2),
    ]


# %% [markdown]
# ## Does the method work? (planted truth)
# `tinythinker-planned` (starter/organism/variants.py) was trained to write "Wait, backtrack."
# right after "Left: a, b." when that state is a dead end, before any try; the base backtracks
# only after its misses. The tree-shape measures should see it: the share of backtracks that
# follow a plan step ("Left:") is 0 for the base's rule and 1 for the planned rule, and the rate
# of abandoning a dead-end "Left:" state at once likewise. The variant learned the rule only in
# part: its eval.json (greedy, on the same 200 held-out problems: seed 7) has the at-once rate,
# shown beside the second measure. eval.json has no share of backtracks (a dead end the variant
# keeps often ends in a false "Hit.", not in a later backtrack), so the first has no learned
# value. The chains are greedy here, as in that evaluation (no cuts).


# %%
BASE, PLANNED = "tinythinker", "tinythinker-planned"
VALIDATION_SETTINGS = {  # greedy chains on eval.json's held-out problems (seed 7), no resampling
    "smoke": ("temperature=0.0", "n_cuts=0", "seed=7", "max_new_tokens=220", "n_problems=40"),
    "cpu": ("temperature=0.0", "n_cuts=0", "seed=7", "max_new_tokens=220", "n_problems=200"),
}


def measure_after_plan(m: Metrics) -> Measured:
    """Share of the finished chains' backtracks that directly follow a plan step ("Left:")."""
    return measured_from(m.backtrack_after_plan)


def measure_dead_at_once(m: Metrics) -> Measured:
    """Share of dead-end "Left:" states the chain abandons at once (0 final tries)."""
    return measured_from(m.backtrack_at_dead_left)


VALIDATION = (
    Validation(
        quantity="share of backtracks right after a 'Left:' (plan) step",
        arms=(Arm(BASE, 0.0, label="base"), Arm(PLANNED, 1.0)),
        measure=measure_after_plan,
        meaning=("Where the tree puts a backtrack should separate planned from reactive "
                 "backtracking; recovered, the per-tag placement of R1-distill's backtracks "
                 "(after a plan vs after a check) can be read as when it decides to leave a "
                 "branch, given the tagger."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="share of dead-end 'Left:' states left at once (no try)",
        arms=(Arm(BASE, 0.0, label="base"),
              Arm(PLANNED, 1.0, learned="backtrack_at_dead_left")),
        measure=measure_dead_at_once,
        meaning=("Final tries per abandoned branch should drop to 0 where the planned variant "
                 "backtracks; this checks the tree's branch bookkeeping against the organism's "
                 "search, which R1-distill lacks (there only the placement above is readable)."),
        settings=VALIDATION_SETTINGS),
)


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    black_box=True,  # reads sampled text only: runs through --backend openai too
    shardable=True,  # per-problem units, the cut quota split across shards
    concepts=("backtracking", "wait", "uncertainty"),
    try_next=(
        "Replace the rule-based tagger with a model-as-judge and see whether the tree shape "
        "changes.",
        "Read a probe for 'about to backtrack' at the pre-backtrack cuts (see the cot-probing "
        "starter).",
        "Run the gpu preset and compare R1's branching factor on easy vs hard Countdown problems.",
        "Ask whether branch order follows a heuristic: rank each chain's first operations by "
        "distance to target.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
