# %% [markdown]
# # Lucky or steady progress?
#
# > When a model solves a hard maths problem by thinking a bunch until it finds the key idea,
# > what's going on? Did it just "get lucky" and every line was another roll of the dice for
# > finding the key idea? Or was it steadily making progress towards that goal?
#
# **Method** (Thought Anchors: Bogdan, Macar, Nanda, Conmy 2025, arXiv 2506.19143): a pilot finds
# problems the model solves only sometimes; for one correct chain per problem we keep its first k
# steps, k = 0..n, and resample N continuations after each prefix, which gives the curve P(correct
# | first k steps). "Lucky" predicts a flat curve with one jump; "steady" a rise spread over many
# steps. Beside the curve, each step gets Thought Anchors' three importance measures
# (`starter.importance`): **resampling** importance (P(correct) with the step kept minus with the
# step rewritten by the model), **counterfactual** importance (the same, counting only rewrites
# whose first new step differs from the original one) and **forced-answer** importance (the change
# in P(correct) when the answer is forced right after the prefix, with `</think> \boxed{`). A jump
# is credited to the step that made it: only adjacent prefixes are compared, and a spaced run
# (long R1 chains) resamples every step of its largest bucket again.
#
# **Controls:** the largest jump's share of the rise is compared with the same statistic on a
# steady linear rise simulated with the same number of rollouts (the steady-noise null). On the
# TinyThinker organism the true search tree says which step enters the solution branch (the "Try"
# that opens the first-level node on the solution path); the step each measure ranks highest is
# compared with the strongest simple rung, the one-line rule "the first Try after the last
# backtrack" (review s16_a; a random step of the same tag is reported beside it). Optionally
# (`mirror`, on in smoke and gpu) we also resample a chain of the same problem that ended with a
# wrong answer, to see where its P(correct) falls: a mirror of the experiment, not a null for it.
#
# Run `mi-starter run lucky-or-steady --preset smoke|cpu|gpu`. Writes results.jsonl (rows of kind
# "pilot" and "prefix"), figure.png, summary.md and findings.json.
#
# **Primary claim** (`PRIMARY` below), **changed after review** (issue 25): on correct chains, on
# the curve *before the chain's final step* (k = 0..n-1), the largest single rise carries more of
# the upward movement than it would on a steady rise with the same sampling noise. The share is
# bounded: the largest rise over the sum of all rises (in (0, 1]), not over the net rise (which
# exceeds 1 when the curve dips before it jumps). Why the change: on TinyThinker the old statistic
# (the largest jump's share of the net rise on the whole curve k = 0..n, `OLD_PRIMARY`, now a
# secondary claim) sat on the final step, the verdict `Hit.`, in most chains: after the chain's
# last `Try`, rollouts at T = 1 write a false `Miss.` or miscopy the answer (a base-organism defect,
# issue 24), and once `Hit.` is written the answer is copied. That jump is verify and copy noise,
# not progress towards a key idea. The others are secondary, Holm-adjusted.

# %%
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from starter import adaptive, importance, prefixes, rollouts, stats
from starter.cot import STEP_TAGS, braced
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.organism import variants
from starter.organism.data import Trace, make_trace
from starter.plan import Generation
from starter.plotting import estimate_bars
from starter.tasks import get_task_set
from starter.tasks.countdown import apply_op, search
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "jump-before-verdict"
OLD_PRIMARY = "largest-jump"  # the primary until review 25: the whole curve, its verdict step too
# the primary's statistic on the continuations graded by their search (`search_found`), not their
# boxed answer (review s16_a fix 1, added after the primary's run: a secondary claim, Holm-adjusted)
SEARCH = "search-before-verdict"

MIN_RISE = 0.25  # a curve that rises (a wrong chain's: falls) less than this has no jump to find
STEP_MATCHES = {"exact": importance.exact_same, "jaccard": importance.jaccard_same()}
# where the step entering the solution branch comes from (see `entry_step`)
ENTRY_RULES = ("search", "chain")
# Fewer problems than this get no verdict: a bootstrap over 2-4 clusters has a handful of distinct
# resamples, and its percentile interval (e.g. [0, 0] for 0/2) claims a certainty it does not have.
MIN_PROBLEMS = 5


# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    task: str = "countdown"  # task set (starter.tasks); countdown is the organism's own task
    n_problems: int = 16  # problems in the pilot, which measures how often each one is solved
    pilot_samples: int = 8  # chains sampled per problem in the pilot
    n_chains: int = 3  # problems kept (at most): sometimes solved, closest to half the time
    n_rollouts: int = 8  # continuations per prefix (Thought Anchors used 100)
    n_forced: int = 4  # answers forced after each prefix (forced-answer importance)
    mirror: bool = True  # also resample a chain of the same problem that ended wrong (2x the cost)
    max_prefixes: int = 0  # 0: a prefix after every step; else this many spaced, then refined
    temperature: float = 1.0  # sampling temperature for chains and continuations (the paper: 0.6)
    top_p: float = 0.95  # nucleus sampling, as in Thought Anchors
    max_new_tokens: int = 160  # room for a whole chain (organism traces are <= ~160 tokens)
    # appended to a prefix to force the answer now; the organism's format (R1's in the gpu preset)
    forced_suffix: str = " </think> \\boxed{"
    forced_max_new_tokens: int = 24  # room for a boxed Countdown expression and its closing brace
    # when a rewritten step counts as "the same" as the original (counterfactual importance):
    # "exact" (equal text; the organism's steps are a fixed vocabulary) or "jaccard" (token-set
    # Jaccard >= importance.JACCARD_THRESHOLD, a cheap stand-in for the paper's embeddings on R1)
    step_match: str = "exact"
    # which step enters the solution branch: "search" (the base organism's true search tree; the
    # chain must have followed it) or "chain" (the chain's own first "Try" that opens a branch
    # reaching the target: for organism variants that try the branches in another order)
    entry_rule: str = "search"
    batch_size: int = 256  # sequences per generate call
    # Adaptive resampling (starter.adaptive; issue #28): continuations are drawn in rounds and each
    # step stops once its interval settles, so n_rollouts becomes the most a prefix gets.
    adaptive: bool = False  # off: n_rollouts from every prefix at once (the fixed design)
    round_size: int = 4  # continuations per open prefix and round (the first round's too)
    target_half_width: float = 0.1  # a step stops once its interval is this narrow on each side
    top_k: int = 3  # a step also stops once surely in or out of the top k by |importance|
    budget_cap: int = 0  # most continuations per chain over all rounds (0: n_rollouts per prefix)

    def __post_init__(self) -> None:
        super().__post_init__()
        counts = (self.n_problems, self.pilot_samples, self.n_chains, self.n_rollouts,
                  self.n_forced, self.forced_max_new_tokens)
        if min(counts) < 1:
            raise UsageError("n_problems, pilot_samples, n_chains, n_rollouts, n_forced and "
                             f"forced_max_new_tokens must be >= 1; got {counts}")
        if not 0 < self.temperature <= 2:
            raise UsageError(f"temperature must be in (0, 2] (this experiment samples); "
                             f"got {self.temperature}")
        prefixes.spaced_ks(1, self.max_prefixes)  # refuses max_prefixes 1 or < 0
        if self.step_match not in STEP_MATCHES:
            allowed = ", ".join(STEP_MATCHES)
            raise UsageError(f"step_match {self.step_match!r}: use one of {allowed}")
        if self.entry_rule not in ENTRY_RULES:
            raise UsageError(f"entry_rule {self.entry_rule!r}: use one of "
                             f"{', '.join(ENTRY_RULES)}")
        if self.round_size < 1 or self.top_k < 1:
            raise UsageError(f"round_size={self.round_size}, top_k={self.top_k}: use whole "
                             "numbers >= 1")
        if not 0 < self.target_half_width <= 1:
            raise UsageError(f"target_half_width={self.target_half_width}: use a number in (0, 1]")
        if self.budget_cap < 0:
            raise UsageError(f"budget_cap={self.budget_cap}: use 0 (no cap) or a positive count")
        if self.adaptive and self.round_size > self.n_rollouts:
            raise UsageError(f"round_size={self.round_size} exceeds n_rollouts={self.n_rollouts} "
                             "(the most an adaptive prefix gets); use round_size <= n_rollouts")
        if self.adaptive and self.max_prefixes:
            raise UsageError(f"adaptive=true needs a prefix after every step (max_prefixes=0; got "
                             f"{self.max_prefixes}): it decides step by step, and spaced cuts "
                             "skip steps")

    def adaptive_config(self) -> adaptive.AdaptiveConfig:
        """The adaptive loop's rules from this config (its other fields keep their defaults:
        indifference 0.1, stopping intervals at 80%, ranking by |importance|).

        >>> rules = Config(adaptive=True, n_rollouts=20, round_size=5).adaptive_config()
        >>> rules.first_round, rules.round_size, rules.max_per_prefix, rules.budget
        (5, 5, 20, 0)
        """
        return adaptive.AdaptiveConfig(
            first_round=self.round_size, round_size=self.round_size,
            target_half_width=self.target_half_width, top_k=self.top_k,
            max_per_prefix=self.n_rollouts, budget=self.budget_cap)

    def sampling(self, seed: int, forced: bool = False) -> rollouts.SamplingConfig:
        budget = self.forced_max_new_tokens if forced else self.max_new_tokens
        return rollouts.SamplingConfig(temperature=self.temperature, top_p=self.top_p, seed=seed,
                                       max_new_tokens=budget, batch_size=self.batch_size)


# The cpu preset's sample (issue 25 review): 24 continuations per prefix, not 8, so that a steady
# rise measured with them shows a largest rise well below the whole (8 gave a null of 0.78 on the
# net-rise share), and every problem the pilot finds solved only sometimes (22 of 80 in the run
# before, 8 kept): ~6x the continuations of the 64 s run before.
CPU_ROLLOUTS = 24
CPU_CHAINS = 16
# how Thought Anchors forced R1's answer after a prefix
R1_FORCED_SUFFIX = "\n</think>\n\nTherefore, the final answer is \\boxed{"
PRESETS = {
    "smoke": Config(n_problems=6, pilot_samples=6, n_chains=1, n_rollouts=4, n_forced=2),
    # The organism solves most problems every time (24 piloted gave 6 it sometimes misses, too few
    # for a verdict): 80 are piloted and every problem solved only sometimes is kept (up to
    # CPU_CHAINS). Problems are the unit of every interval; CPU_ROLLOUTS per prefix lower the
    # steady null (see above). The mirror chains are left out here.
    "cpu": Config(n_problems=80, pilot_samples=6, n_chains=CPU_CHAINS, n_rollouts=CPU_ROLLOUTS,
                  n_forced=4, mirror=False),
    # R1-distill chains on Countdown-3 run ~500-4000 tokens (Thought Anchors allowed 16,384 on
    # MATH): a continuation from prefix k needs at most the rest of a chain, so 4096 new tokens lets
    # most finish; the rest are counted as unfinished, apart from wrong answers.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=16, pilot_samples=8,
                  n_chains=4, n_rollouts=12, n_forced=8, max_prefixes=16, temperature=0.6,
                  max_new_tokens=4096, forced_suffix=R1_FORCED_SUFFIX, forced_max_new_tokens=64,
                  step_match="jaccard", batch_size=64),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=2, pilot_samples=2, n_chains=1, n_rollouts=2,
                                      n_forced=1, max_new_tokens=24, max_prefixes=2)


# %% [markdown]
# ## Sample: a pilot picks problems solved about half the time
# A chain *finished* when it stopped by itself, closed `</think>` and gave an answer; a chain cut
# off by the token budget is neither right nor wrong.


# %%
def true_trace(problem) -> Trace | None:
    """The organism's ground-truth trace of a Countdown problem (None for other tasks)."""
    if "numbers" not in problem.meta:
        return None
    return make_trace(search(tuple(problem.meta["numbers"]), problem.meta["target"]))


def solution_entry(trace: Trace, completion: str) -> int | None:
    """The step (1-based) that enters the solution branch, from the trace's own ground-truth tree.

    It is the "Try" step that opens the first-level node on the solution path. Known only when the
    chain wrote the true trace's steps up to and including that step; None otherwise.

    >>> t = make_trace(search((8, 19, 4), 31))
    >>> solution_entry(t, t.completion), t.steps[7].text
    (8, 'Try 8+19=27.')
    >>> solution_entry(t, " Try 8*19=152. Left: 152, 4. Try 8+19=27.") is None
    True
    """
    entry = next(s.index for s in trace.steps
                 if s.depth == 1 and s.on_solution_path and s.text.startswith("Try"))
    written = [s.text for s in prefixes.chain_steps(completion)]
    truth = [s.text for s in trace.steps[: entry + 1]]
    return entry + 1 if written[: entry + 1] == truth else None


_TRY_BRANCH = re.compile(r"Try (\d+[-+*/]\d+)=-?\d+\.")


def reaching_entry(completion: str, numbers: tuple[int, ...], target: int) -> int | None:
    """The step (1-based) of the chain's first "Try a op b=v." followed by "Left:" whose branch
    reaches the target (`variants.branches(...)[i].hit` set): read from the chain itself, whatever
    order it tried the branches in. None when the chain opens no such branch.

    On a chain that follows the base's true search it is `solution_entry`'s step (the search
    stops in the first branch that hits).

    >>> t = make_trace(search((8, 19, 4), 31))
    >>> reaching_entry(t.completion, (8, 19, 4), 31) == solution_entry(t, t.completion) == 8
    True
    >>> reaching_entry(" Try 19+4=23. Left: 23, 8. Try 23+8=31. Hit.", (8, 19, 4), 31)
    1
    >>> reaching_entry(" Try 8*19=152. Left: 152, 4. Wait, backtrack.", (8, 19, 4), 31) is None
    True
    """
    reaching = {b.first for b in variants.branches(tuple(numbers), target) if b.hit is not None}
    steps = prefixes.chain_steps(completion)
    for i, (step, after) in enumerate(zip(steps, steps[1:])):
        found = _TRY_BRANCH.fullmatch(step.text)
        if found and after.text.startswith("Left:") and found.group(1) in reaching:
            return i + 1
    return None


def entry_step(entry_rule: str, problem, completion: str) -> int | None:
    """The step entering the solution branch under `entry_rule` (None: unknown on this chain or
    task; only Countdown problems have a search)."""
    if "numbers" not in problem.meta:
        return None
    if entry_rule == "chain":
        return reaching_entry(completion, tuple(problem.meta["numbers"]), problem.meta["target"])
    return solution_entry(true_trace(problem), completion)


# Search grading (review s16_a, fix 1), defined before any verdict was read: a chain *found* the
# target when its text holds a valid derivation of it, whatever verdict token (`Hit.`/`Miss.`)
# follows and whatever it boxes. We walk the chain's steps (prefix and continuation together)
# keeping the numbers truly available: the problem's numbers at the top; a `Try a op b=v.`
# followed by `Left:` opens a node, whose numbers are the current ones with a and b replaced by
# the *true* value of a op b (`apply_op`, the task's own rules: the written v is ignored, so a
# miscopied value leaves a node whose later lines use numbers it does not have); `Wait,
# backtrack.` returns to the problem's numbers. Any other `Try a op b=v.` is found when a and b
# are exactly the node's last two numbers (all numbers used, as the task's grader asks) and the
# true value of a op b is the target. A line whose operands are not available never counts.
_TRY_LINE = re.compile(r"Try (\d+)([-+*/])(\d+)=-?\d+\.")


def search_found(steps: list[str], numbers: tuple[int, ...], target: int) -> bool:
    """Whether the chain's steps derive `target` from `numbers` (the search grade above).

    >>> t = make_trace(search((8, 19, 4), 31)).completion
    >>> search_found([s.text for s in prefixes.chain_steps(t)], (8, 19, 4), 31)
    True
    >>> search_found(["Try 8+19=27.", "Left: 27, 4.", "Try 27+4=30.", "Miss."], (8, 19, 4), 31)
    True
    >>> search_found(["Try 15-15=10.", "Left: 10, 7.", "Try 10-7=3.", "Hit."], (15, 15, 7), 3)
    False
    >>> search_found(["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148.", "Hit."], (8, 19, 4), 31)
    False
    """
    available = list(numbers)
    for step, after in zip(steps, [*steps[1:], ""]):
        if step.startswith("Wait"):
            available = list(numbers)
            continue
        line = _TRY_LINE.fullmatch(step)
        if not line:
            continue
        a, op, b = int(line.group(1)), line.group(2), int(line.group(3))
        rest = list(available)
        for operand in (a, b):
            if operand in rest:
                rest.remove(operand)
        if len(rest) != len(available) - 2:
            continue  # an operand the node does not have
        done = apply_op(a, op, b)
        if done is None:
            continue
        if after.startswith("Left:"):
            available = [*rest, done[1]]
        elif not rest and done[1] == target:
            return True
    return False


def chain_found(problem, whole: str) -> bool | None:
    """The search grade of a whole chain (`search_found`); None for tasks without numbers."""
    if "numbers" not in problem.meta:
        return None
    return search_found([s.text for s in prefixes.chain_steps(whole)],
                        tuple(problem.meta["numbers"]), problem.meta["target"])


def pilot(ctx: Context, task, problems) -> list[dict]:
    """Sample `pilot_samples` chains per problem (one batched call); one row per problem."""
    cfg = ctx.cfg
    todo = [p for p in problems if not ctx.store.done(f"pilot:{p.id}")]
    prompts = [ctx.model.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = []
    if todo:
        samples = rollouts.sample(ctx.model, prompts, cfg.pilot_samples, cfg.sampling(cfg.seed))
    for p, prompt, row in zip(todo, prompts, samples):
        graded = [task.assess(p, c.text) for c in row]
        ctx.store.append({
            "unit": f"pilot:{p.id}", "kind": "pilot", "problem": p.id, "prompt": prompt,
            "model": cfg.model, "numbers": p.meta.get("numbers"), "target": p.meta.get("target"),
            "chains": [c.text for c in row],
            "correct": [g.correct for g in graded],
            "finished": [g.finished and c.finished for g, c in zip(graded, row)],
        })
    return [r for r in ctx.store.rows() if r.get("kind") == "pilot"]


def solve_rate(row: dict) -> float:
    """Share of a pilot row's finished chains that are correct (nan when none finished).

    >>> solve_rate({"correct": [True, False, False], "finished": [True, True, False]})
    0.5
    """
    done = [c for c, f in zip(row["correct"], row["finished"]) if f]
    return sum(done) / len(done) if done else math.nan


# %% [markdown]
# ## Sample: resample after every step prefix; force the answer after every prefix


# %%
def outcome(task, problem, whole: str, stopped: bool, k: int) -> dict:
    """One rollout as a plain record: `importance.Outcome`'s fields, and "found", its search
    grade (`chain_found`; rows written before it lack the field)."""
    graded = task.assess(problem, whole)
    steps = prefixes.chain_steps(whole)
    return {"correct": graded.correct, "finished": graded.finished and stopped,
            "answer": graded.answer, "first_step": steps[k].text if len(steps) > k else None,
            "found": chain_found(problem, whole)}


def forced_completion(prefix: str, suffix: str, written: str) -> str:
    r"""The prefix, the forcing suffix and the forced answer up to the brace the suffix opened.

    Only that first answer is graded: a model may write on after it ("However, ...") and box
    another one, which is no longer the answer it was forced to give. An answer whose brace never
    closes is kept as written (it grades as unfinished).

    >>> forced_completion(" Try 2+3=5.", " </think> \\boxed{", "2+3} Wait \\boxed{9}")
    ' Try 2+3=5. </think> \\boxed{2+3}'
    """
    opened = suffix + written
    answer = braced(opened, suffix.rindex("{"))
    if answer is None:
        return prefix + opened
    return prefix + suffix + answer + "}"


def refine_ks(ks: list[int], curve: list[float]) -> list[int]:
    """Prefix sizes strictly inside the spaced bucket with the largest rise (none if adjacent).

    A spaced run measures P(correct) at k = 0, 25, 50, ...; the jump between two of them belongs to
    one of the steps in between, so those are resampled too.

    >>> refine_ks([0, 4, 8], [0.1, 0.2, 0.9]), refine_ks([0, 1, 2], [0.0, 1.0, 1.0])
    ([5, 6, 7], [])
    """
    finite = [i for i in range(len(ks) - 1)
              if math.isfinite(curve[i]) and math.isfinite(curve[i + 1])]
    if not finite:
        return []
    i = max(finite, key=lambda j: curve[j + 1] - curve[j])
    return list(range(ks[i] + 1, ks[i + 1]))


def resample_chain(ctx: Context, task, problem, prompt: str, chain: str, completion: str,
                   ks: list[int], seed: int, extra: dict) -> None:
    """Continuations and forced answers after each prefix in `ks`; a "prefix" row per prefix."""
    cfg = ctx.cfg
    steps = prefixes.chain_steps(completion)
    if cfg.adaptive:  # rounds, each one a row (replayed on a rerun, so they are always asked)
        drawn = adaptive_continuations(ctx, task, problem, prompt, chain, completion, ks, seed)
    cuts = [c for c in prefixes.step_prefixes(chain, completion, ks)
            if not ctx.store.done(f"prefix:{chain}:k{c.k}")]
    if not cuts:
        return
    if cfg.adaptive:
        outcomes = [[vars(o) for o in drawn[c.k]] for c in cuts]
        extra = extra | {"adaptive": True, "n_fixed": cfg.n_rollouts}
    else:
        # [len(cuts)][n_rollouts] continuations; seeded per chain so a resumed run draws the same.
        conts = prefixes.resample(ctx.model, [prompt] * len(cuts), cuts, cfg.n_rollouts,
                                  cfg.sampling(seed))
        outcomes = [[outcome(task, problem, cut.text + t.text, t.finished, cut.k) for t in texts]
                    for cut, texts in zip(cuts, conts)]
    forced_prompts = [prompt + c.text + cfg.forced_suffix for c in cuts]
    how = cfg.sampling(seed, forced=True)
    forced = rollouts.sample(ctx.model, forced_prompts, cfg.n_forced, how)
    for cut, drawn_here, answers in zip(cuts, outcomes, forced):
        ctx.store.append({
            "unit": f"prefix:{chain}:k{cut.k}", "kind": "prefix", "chain": chain,
            "problem": problem.id, **extra, "k": cut.k, "n_steps": cut.n_steps, "tag": cut.tag,
            "step_text": cut.step_text,
            "next_step": steps[cut.k].text if cut.k < len(steps) else None,
            "outcomes": drawn_here,
            "forced": [outcome(task, problem,
                               forced_completion(cut.text, cfg.forced_suffix, a.text), True, cut.k)
                       for a in answers],  # stopped: the answer's closing brace ends it
        })


def adaptive_continuations(ctx: Context, task, problem, prompt: str, chain: str,
                           completion: str, ks: list[int],
                           seed: int) -> dict[int, tuple[importance.Outcome, ...]]:
    """Continuations after each prefix in `ks`, drawn in rounds by `starter.adaptive` until every
    step is settled (or its prefixes hold n_rollouts): prefix k -> its outcomes.

    Each round is one batched sampling call (concurrent requests through `--backend openai`) and
    one "adaptive_round" row; a rerun replays the rows written and draws only the rest.
    """
    cfg = ctx.cfg
    rules = cfg.adaptive_config()
    if cfg.budget_cap and cfg.budget_cap < cfg.round_size * len(ks):
        raise UsageError(f"budget_cap={cfg.budget_cap} is below the first round of chain {chain} "
                         f"({cfg.round_size} x {len(ks)} prefixes); raise budget_cap or lower "
                         "round_size")
    cuts = {c.k: c for c in prefixes.step_prefixes(chain, completion, ks)}

    def grade(cut: prefixes.Prefix, written: rollouts.Completion) -> importance.Outcome:
        # an Outcome has no search grade: adaptive rows carry none (`found` is left out)
        return to_outcome(outcome(task, problem, cut.text + written.text, written.finished,
                                  cut.k))

    sample = adaptive.model_sampler(ctx.model, prompt, cuts, cfg.sampling(seed), grade)
    result = adaptive.run_adaptive(ks, sample, rules, store=ctx.store, chain=chain)
    return {p.k: p.outcomes for p in result.prefixes}


def run(ctx: Context) -> None:
    cfg = ctx.cfg
    task = get_task_set(cfg.task)
    problems = {p.id: p for p in task.make(cfg.n_problems, seed=cfg.seed)}
    pilots = pilot(ctx, task, list(problems.values()))
    # Problems the pilot saw both solved and missed, closest to half the time first (Thought
    # Anchors kept 25-75%): a problem solved every time has no rise to find. If there is none, the
    # closest problem is kept anyway so that the run still measures one curve.
    ranked = sorted(pilots, key=lambda r: (abs(solve_rate(r) - 0.5)
                                           if math.isfinite(solve_rate(r)) else 9, r["problem"]))
    kept = [r for r in ranked if 0 < solve_rate(r) < 1][: cfg.n_chains] or ranked[:1]
    for i, r in enumerate(kept):
        problem = problems[r["problem"]]
        for outcome_ok in (True, False) if cfg.mirror else (True,):
            picks = [j for j, (c, f) in enumerate(zip(r["correct"], r["finished"]))
                     if f and c == outcome_ok]
            if not picks:
                continue
            completion = r["chains"][picks[0]]
            n_steps = len(prefixes.chain_steps(completion))
            if n_steps < 1:  # a chain without steps has no curve
                continue
            chain = f"{problem.id}:{'correct' if outcome_ok else 'wrong'}"
            extra = {"chain_correct": outcome_ok, "coarse": True, "step_match": cfg.step_match,
                     "entry_rule": cfg.entry_rule,
                     "solution_entry": entry_step(cfg.entry_rule, problem, completion)}
            seed = cfg.seed + 1 + 2 * i + outcome_ok
            ks = prefixes.spaced_ks(n_steps, cfg.max_prefixes)
            resample_chain(ctx, task, problem, r["prompt"], chain, completion, ks, seed, extra)
            if len(ks) == n_steps + 1:
                continue
            coarse = [row for row in chain_rows(ctx.store.rows())[chain] if row["coarse"]]
            fine = refine_ks(ks, [importance.accuracy(to_outcomes(x["outcomes"])) for x in coarse])
            resample_chain(ctx, task, problem, r["prompt"], chain, completion, fine, seed,
                           extra | {"coarse": False})


# %% [markdown]
# ## Analyse: the curve, its largest jump, and the three importance measures per step


# %%
def chain_rows(rows: list[dict]) -> dict[str, list[dict]]:
    """chain -> its prefix rows sorted by k."""
    chains: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("kind") == "prefix":
            chains.setdefault(r["chain"], []).append(r)
    return {c: sorted(rs, key=lambda r: r["k"]) for c, rs in sorted(chains.items())}


OUTCOME_FIELDS = tuple(f.name for f in dataclasses.fields(importance.Outcome))


def to_outcome(record: dict) -> importance.Outcome:
    """An `importance.Outcome` from a row's record (its search grade "found" is read apart)."""
    return importance.Outcome(**{f: record[f] for f in OUTCOME_FIELDS if f in record})


def to_outcomes(records: list[dict]) -> tuple[importance.Outcome, ...]:
    return tuple(to_outcome(o) for o in records)


def search_rate(records: list[dict]) -> float:
    """Share of the finished continuations that found the target by search (`search_found`);
    nan when none is finished or a finished one has no search grade (rows written before it).

    >>> search_rate([{"finished": True, "found": True}, {"finished": True, "found": False},
    ...              {"finished": False, "found": True}])
    0.5
    >>> math.isnan(search_rate([{"finished": True, "correct": True}]))
    True
    """
    done = [o.get("found") for o in records if o["finished"]]
    if not done or any(f is None for f in done):
        return math.nan
    return sum(done) / len(done)


def to_prefix_rollouts(rows: list[dict]) -> list[importance.PrefixRollouts]:
    return [importance.PrefixRollouts(k=r["k"], next_step=r["next_step"],
                                      outcomes=to_outcomes(r["outcomes"]),
                                      forced=to_outcomes(r["forced"])) for r in rows]


def upward_share(curve: list[float]) -> float:
    """The largest single rise over the sum of all rises: in (0, 1], 1 when one step carries all
    the upward movement, 1/n on a steady n-step rise (nan when the curve never rises). Unlike the
    share of the net rise (`prefixes.jump_stats`), a dip before the jump cannot push it above 1.

    >>> upward_share([0.0, 0.25, 0.5, 0.75, 1.0]), upward_share([0.5, 0.25, 0.25, 1.0])
    (0.25, 1.0)
    >>> upward_share([0.0, 0.5, 0.25, 0.75]), math.isnan(upward_share([1.0, 0.5]))
    (0.5, True)
    """
    rises = [max(b - a, 0.0) for a, b in zip(curve, curve[1:])]
    return max(rises) / sum(rises) if sum(rises) > 0 else math.nan


NULL_TRIALS = 2000  # simulated steady curves per chain for the bounded share's null


def steady_null_upward(n_steps: int, p_start: float, p_end: float, n_rollouts: int,
                       min_rise: float = MIN_RISE, trials: int = NULL_TRIALS,
                       seed: int = 0) -> float:
    """Mean `upward_share` of a steady linear rise from `p_start` to `p_end` over `n_steps`, each
    point measured from `n_rollouts` samples; only simulated curves whose net rise passes
    `min_rise` count, as the real ones had to (nan when none does).

    >>> round(steady_null_upward(4, 0.0, 1.0, n_rollouts=100000), 2)  # no noise: 1/4
    0.25
    >>> steady_null_upward(3, 0.4, 0.75, n_rollouts=32) < steady_null_upward(3, 0.4, 0.75, 8)
    True
    """
    import numpy as np

    if n_steps < 1 or n_rollouts < 1:
        raise UsageError(f"need n_steps >= 1 and n_rollouts >= 1; got {n_steps}, {n_rollouts}")
    rng = np.random.default_rng(seed)
    p = np.clip(p_start + (p_end - p_start) * np.arange(n_steps + 1) / n_steps, 0.0, 1.0)
    curves = rng.binomial(n_rollouts, p, size=(trials, n_steps + 1)) / n_rollouts
    rises = np.clip(np.diff(curves, axis=1), 0.0, None)  # [trials, n_steps]
    net = curves[:, -1] - curves[:, 0]
    keep = (net >= min_rise) & (net > 0)
    if not keep.any():
        return math.nan
    return float((rises[keep].max(axis=1) / rises[keep].sum(axis=1)).mean())


# Where the largest rise before the verdict sits, read from the continuations at the prefix just
# before it (review s16_a): they flip the verdict token, miscompute the chain's arithmetic line,
# all write the chain's own step, or write another step (a branch choice: the only search event).
RISE_KINDS = ("branch choice", "verdict flip", "miscopied arithmetic",
              "copied by every continuation")
VERDICT_STEPS = ("Hit.", "Miss.")  # the organism's verify steps
_TRY_EXPRESSION = re.compile(r"Try (\d+[-+*/]\d+)=")


def divergence_kind(chain_step: str, other: str | None) -> str:
    """How a continuation's first step `other` differs from the chain's `chain_step`: a "verdict
    flip" (`Hit.` for `Miss.` or back), "miscopied arithmetic" (the same `Try a op b=` with
    another value) or a "branch choice" (any other step, or none).

    >>> divergence_kind("Miss.", "Hit."), divergence_kind("Try 15-15=0.", "Try 15-15=10.")
    ('verdict flip', 'miscopied arithmetic')
    >>> divergence_kind("Try 15-15=0.", "Try 15+15=30."), divergence_kind("Hit.", None)
    ('branch choice', 'branch choice')
    """
    if chain_step in VERDICT_STEPS and other in VERDICT_STEPS:
        return "verdict flip"
    mine, theirs = _TRY_EXPRESSION.match(chain_step), _TRY_EXPRESSION.match(other or "")
    if mine and theirs and mine.group(1) == theirs.group(1):
        return "miscopied arithmetic"
    return "branch choice"


def rise_kind(chain_step: str, first_steps: list[str | None]) -> str:
    """What a rise at `chain_step` is, from the first steps the continuations wrote in its place:
    "copied by every continuation" when none differs, else the commonest `divergence_kind` of
    those that differ (a tie goes to "branch choice", the search event, so it is not hidden).

    >>> rise_kind("Miss.", ["Hit.", "Miss.", "Hit."]), rise_kind("Try 2+3=5.", ["Try 2+3=5."] * 3)
    ('verdict flip', 'copied by every continuation')
    >>> rise_kind("Try 2+3=5.", ["Try 2+3=6.", "Try 3*2=6."])
    'branch choice'
    """
    kinds = [divergence_kind(chain_step, s) for s in first_steps if s != chain_step]
    if not kinds:
        return "copied by every continuation"
    return max(RISE_KINDS[:3], key=kinds.count)


def first_try_after_backtrack(steps: list[tuple[str | None, str | None]]) -> int | None:
    """The one-line rule for the step entering the solution branch: the first `Try` after the
    chain's last backtrack (the first `Try` when it never backtracks); 1-based, None without one.
    `steps` are (cot tag, text) in order. The strongest simple rung beside the importance measures.

    >>> first_try_after_backtrack([("compute", "Try 8*19=152."), ("plan", "Left: 152, 4."),
    ...     ("backtrack", "Wait, backtrack."), ("compute", "Try 8+19=27.")])
    4
    >>> first_try_after_backtrack([("compute", "Try 4-1=3.")]), first_try_after_backtrack([])
    (1, None)
    """
    last = max((i for i, (tag, _) in enumerate(steps) if tag == "backtrack"), default=-1)
    return next((i + 1 for i, (_, text) in enumerate(steps)
                 if i > last and (text or "").startswith("Try")), None)


def bounded_rise(curve: list[float], coarse: list[importance.PrefixRollouts],
                 ) -> tuple[bool, float, float, int | None]:
    """On a curve measured at `coarse`'s prefixes (its first len(curve)): whether it rose by at
    least MIN_RISE, its `upward_share`, the steady null's (same rollouts, `steady_null_upward`) and
    the index of the prefix its largest rise starts from (nan, nan, None when it did not rise)."""
    if len(curve) < 2 or curve[-1] - curve[0] < MIN_RISE:
        return False, math.nan, math.nan, None
    rises = [b - a for a, b in zip(curve, curve[1:])]
    at = max(range(len(rises)), key=rises.__getitem__)
    n = min(sum(o.finished for o in r.outcomes) for r in coarse[: len(curve)])
    return True, upward_share(curve), steady_null_upward(len(curve) - 1, curve[0], curve[-1],
                                                          n), at


def kind_at(coarse: list[importance.PrefixRollouts], at: int) -> str | None:
    """`rise_kind` of the rise from coarse[at] to coarse[at + 1]: what the continuations from
    the prefix before it write; None when the two prefixes are not adjacent (a spaced run)."""
    if coarse[at + 1].k != coarse[at].k + 1 or coarse[at].next_step is None:
        return None
    return rise_kind(coarse[at].next_step,
                     [o.first_step for o in coarse[at].outcomes if o.finished])


@dataclass(frozen=True)
class ChainResult:
    """One resampled chain, summarised."""

    chain: str  # "<problem>:correct" or "<problem>:wrong"
    problem: str  # the cluster for every interval
    correct: bool  # the chain itself ended with the right answer
    n_steps: int  # steps of its thinking
    p_start: float  # P(correct | prompt only), over finished continuations
    p_end: float  # P(correct | whole thinking)
    unfinished: int  # continuations (all prefixes) that hit the token budget
    rollouts: int  # continuations in all
    moving: bool  # the curve rose (falls, for a wrong chain) by at least MIN_RISE
    largest_share: float  # largest single jump / total rise, on the coarse curve; nan if not moving
    null_share: float  # the same statistic for a steady rise with this noise (steady_null_share)
    # the whole curve's largest jump is its last step (the thinking's final step: `Hit.` on the
    # organism's correct chains); False when not moving or the curve does not end at k = n
    jump_on_last: bool
    # the curve before the final step (k = 0..n-1; the coarse curve without its k = n point)
    before_moving: bool  # it rose (a wrong chain's: fell) by at least MIN_RISE
    before_share: float  # its upward_share (bounded); nan if not before_moving
    before_null: float  # the same on a steady rise with this noise (steady_null_upward)
    before_tag: str | None  # the cot tag of the step with the largest rise before the final step
    # what the continuations from the prefix just before that rise do (`rise_kind`): None when
    # not before_moving or the two prefixes are not adjacent (a spaced run)
    before_kind: str | None
    # the same curve before the final step graded by search, not by the boxed answer: P(found |
    # first k steps), `search_rate` (a wrong chain's: 1 - it); nan points without search grades
    search_moving: bool  # it rose by at least MIN_RISE
    search_share: float  # its upward_share; nan if not search_moving
    search_null: float  # the same on a steady rise with this noise (steady_null_upward)
    search_kind: str | None  # `rise_kind` of its largest rise, as before_kind
    solution_entry: int | None  # organism ground truth: the step entering the solution branch
    rule_entry: int | None  # the one-line rule's entry step (`first_try_after_backtrack`)
    top_step: dict[str, int | None]  # measure -> the step it ranks highest (None: none measured)
    tag_of: dict[int, str]  # step -> its cot tag
    importance: dict[str, dict[int, float]]  # measure -> step -> importance


MEASURES = ("resampling", "counterfactual", "forced")


def summarise_chain(rows: list[dict]) -> ChainResult:
    """The curve and importances of one chain's prefix rows (sorted by k)."""
    first = rows[0]
    sign = 1 if first["chain_correct"] else -1  # a wrong chain's fall is measured as a rise
    records = to_prefix_rollouts(rows)
    coarse = [rec for rec, row in zip(records, rows) if row["coarse"]]
    curve = [importance.accuracy(r.outcomes) for r in coarse]
    # a wrong chain's fall in P(correct) is the rise of 1 - P(correct): the same statistics apply
    rising = curve if sign > 0 else [1 - y for y in curve]
    usable = len(curve) >= 2 and all(math.isfinite(y) for y in curve)
    moving = usable and rising[-1] - rising[0] >= MIN_RISE
    share = null = math.nan
    whole = usable and coarse[-1].k == first["n_steps"]  # the curve ends with the whole thinking
    jump_on_last = False
    if moving:
        jumps = prefixes.jump_stats(rising)
        share = jumps.largest_share
        jump_on_last = whole and jumps.largest_step == len(rising) - 2
        n = min(sum(o.finished for o in r.outcomes) for r in coarse)
        # the null keeps only simulated curves that pass the same MIN_RISE as the real ones
        null = prefixes.steady_null_share(len(rising) - 1, rising[0], rising[-1], n,
                                          min_rise=MIN_RISE)
    # The curve before the final step: on the organism that step is the verdict `Hit.`, whose
    # jump is verify-token and answer-copy noise at T = 1 (after it the answer is copied).
    before = rising[:-1] if whole else rising
    before_moving, before_share, before_null, at = bounded_rise(before, coarse) if usable else (
        False, math.nan, math.nan, None)
    before_tag = before_kind = None
    if at is not None:  # the largest rise is from coarse[at] to coarse[at + 1]
        before_tag = rows[[r["k"] for r in rows].index(coarse[at + 1].k)]["tag"]
        before_kind = kind_at(coarse, at)
    # graded by search: the final step (`Hit.`) is left out as above; on the organism the prefix
    # k = n-1 holds the chain's hitting `Try`, so that point is 1 by construction
    found = [search_rate(row["outcomes"]) for row in rows if row["coarse"]]
    searching = found if sign > 0 else [1 - y for y in found]
    searching = searching[:-1] if whole else searching
    search_moving, search_share, search_null, search_at = (
        bounded_rise(searching, coarse) if all(math.isfinite(y) for y in searching)
        else (False, math.nan, math.nan, None))
    search_kind = kind_at(coarse, search_at) if search_at is not None else None
    same = STEP_MATCHES[first.get("step_match", "exact")]
    scores = {
        "resampling": importance.resampling_importance(records),
        "counterfactual": importance.counterfactual_importance(records, same=same),
        "forced": importance.forced_importance(records),
    }
    values = {m: {s.step: s.value for s in found if math.isfinite(s.value)}
              for m, found in scores.items()}
    top = {m: (max(v, key=lambda step: (sign * v[step], -step)) if v else None)
           for m, v in values.items()}
    outcomes = [o for r in records for o in r.outcomes]
    return ChainResult(
        chain=first["chain"], problem=first["problem"], correct=first["chain_correct"],
        n_steps=first["n_steps"], p_start=curve[0], p_end=curve[-1],
        unfinished=sum(not o.finished for o in outcomes), rollouts=len(outcomes),
        moving=moving, largest_share=share, null_share=null, jump_on_last=jump_on_last,
        before_moving=before_moving, before_share=before_share, before_null=before_null,
        before_tag=before_tag, before_kind=before_kind, search_moving=search_moving,
        search_share=search_share, search_null=search_null, search_kind=search_kind,
        solution_entry=first["solution_entry"],
        rule_entry=first_try_after_backtrack([(r["tag"], r["step_text"]) for r in rows
                                              if r["k"] > 0]),
        top_step=top,
        tag_of={r["k"]: r["tag"] for r in rows if r["k"] > 0}, importance=values,
    )


def random_hit_rate(result: ChainResult) -> float:
    """Chance that a random step with the solution entry's tag is the entry: 1 / such steps.

    The control for "the top step is the entry": a step drawn among the chain's steps of the same
    kind (on the organism, the tries), so a measure is not credited for merely liking tries.
    """
    tag = result.tag_of[result.solution_entry]
    return 1 / sum(t == tag for t in result.tag_of.values())


class Shown(stats.Estimate):
    """An `Estimate` that prints as `stats.describe` writes it (the summary's table uses str)."""

    def __str__(self) -> str:
        return stats.describe(self)


def shown(estimate: stats.Estimate) -> Shown:
    return Shown(**vars(estimate))


def verdict_ready(difference: stats.Estimate) -> stats.Estimate:
    """The estimate, without its interval when it rests on fewer than MIN_PROBLEMS problems.

    `analyse` passes every estimate through it, so no interval from 2-4 problems reaches the text.

    >>> verdict_ready(stats.Estimate(0.4, (0.2, 0.6), n=3, n_items=6)).ci is None
    True
    """
    if difference.n < MIN_PROBLEMS:
        return dataclasses.replace(difference, ci=None)
    return difference


def rule_p_start(pilots: list[dict]) -> float | None:
    """What the luck dial's rule plants for P(correct | prompt only) on the piloted problems: the
    mean of `variants.p_solved_in_budget` (None unless the rows come from a luck variant).

    >>> row = {"model": "tinythinker-lucky", "numbers": [8, 19, 4], "target": 31}
    >>> round(rule_p_start([row]), 3), rule_p_start([{**row, "model": "tinythinker"}])
    (0.708, None)
    """
    names = {r.get("model") for r in pilots}
    if len(names) != 1 or not all(r.get("numbers") for r in pilots):
        return None
    try:
        variant = variants.get_variant(names.pop() or "")
    except ValueError:  # the base or another model: no rule
        return None
    if variant.dial != "luck":
        return None
    planted = [variants.p_solved_in_budget(tuple(r["numbers"]), r["target"],
                                           int(variant.planted["budget"]),
                                           variant.planted["solution_first"]) for r in pilots]
    return sum(planted) / len(planted)


def pilot_p_correct(pilots: list[dict]) -> stats.Estimate:
    """P(correct | prompt only) over every piloted problem (finished chains; clustered by problem):
    the curve's k = 0 point before the pilot keeps the problems solved only sometimes.

    >>> rows = [{"problem": "a", "correct": [True, False], "finished": [True, True]},
    ...         {"problem": "b", "correct": [True, False], "finished": [True, False]}]
    >>> round(pilot_p_correct(rows).value, 3)
    0.667
    """
    values, where = [], []
    for r in pilots:
        done = [c for c, f in zip(r["correct"], r["finished"]) if f]
        values += [float(c) for c in done]
        where += [r["problem"]] * len(done)
    return stats.mean_ci(values, where)


@dataclass(frozen=True)
class Group:
    """One group of resampled chains: the correct ones, or the mirror's wrong ones (whose fall
    in P(correct) is measured as a rise)."""

    p_start: stats.Estimate  # P(correct | prompt only), over the group's chains
    p_end: stats.Estimate  # P(correct | whole thinking)
    unfinished: int  # continuations (all prefixes) that hit the token budget, counted apart
    rollouts: int  # continuations in all
    moving: int  # chains whose curve rose (a wrong chain's: fell) by at least MIN_RISE
    largest_share: stats.Estimate  # largest single jump / the whole rise, moving chains
    null_share: stats.Estimate  # the same statistic on a steady rise with the same noise
    share_minus_null: stats.Estimate  # largest_share - null_share, paired by problem
    jump_on_last: int  # moving chains whose largest jump is the final step (`Hit.`, organism)
    # the curve before the final step (k = 0..n-1), bounded share (`upward_share`)
    before_moving: int  # chains whose curve before the final step rose by at least MIN_RISE
    before_share: stats.Estimate  # largest rise / all rises before the final step
    before_null: stats.Estimate  # the same on a steady rise with the same noise
    before_minus_null: stats.Estimate  # before_share - before_null, paired by problem
    # where that largest rise sits: on a verify step (the organism's `Hit.`/`Miss.`), or a compute
    # step (its `Try`); the rest (plan, backtrack) is before_moving minus both
    before_on_verify: int
    before_on_compute: int
    # the same rises by what the continuations at the prefix before them do (`rise_kind`); chains
    # whose two prefixes are not adjacent (spaced runs) are in none of the four
    before_verdict_flip: int  # they flip the verdict token (a false `Hit.` or a false `Miss.`)
    before_miscopied: int  # they write the chain's `Try a op b=` with another value
    before_copied: int  # every continuation writes the chain's own step (no divergence at all)
    before_branch: int  # they write another step: a branch choice, the only search event
    # the curve before the final step graded by search (`search_found`), not the boxed answer
    search_moving: int  # chains whose search-graded curve rose by at least MIN_RISE
    search_share: stats.Estimate  # its largest rise / all its rises
    search_null: stats.Estimate  # the same on a steady rise with the same noise
    search_minus_null: stats.Estimate  # search_share - search_null, paired by problem
    # where its largest rise sits (`rise_kind`), as before_verdict_flip .. before_branch
    search_verdict_flip: int  # a false `Hit.` ends the search before the target is derived
    search_miscopied: int  # a miscopied `Try` value: the branch no longer has the target
    search_copied: int  # every continuation writes the chain's step (no divergence at all)
    search_branch: int  # continuations write another step: a branch choice


@dataclass(frozen=True)
class MeasureResult:
    """One importance measure against the organism's solution entry, and by step tag."""

    entry_hit: stats.Estimate  # the step the measure ranks highest is the solution entry
    entry_hit_minus_random: stats.Estimate  # entry_hit - a random step of the entry's tag
    entry_hit_minus_rule: stats.Estimate  # entry_hit - the one-line rule's hit rate (paired)
    entry_before: stats.Estimate  # mean importance of the step before the entry
    entry_at: stats.Estimate  # mean importance of the entry step
    entry_after: stats.Estimate  # mean importance of the step after the entry
    by_tag: dict[str, stats.Estimate]  # step tag (STEP_TAGS order) -> mean importance
    top_on_last: int  # `known` chains whose top step is the chain's final step (`Hit.`)


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields.
    `as_dict` writes them under the flat names of the committed results (`entry+0_forced`)."""

    chains: int  # correct chains resampled, one per problem
    wrong_chains: int  # chains that ended wrong, resampled as the mirror
    step_match: str  # the rows' rule for "the same step" (counterfactual importance)
    entry_rule: str  # the rows' rule for the step entering the solution branch
    pilot_problems: int  # problems piloted
    pilot_p_correct: stats.Estimate  # P(correct | prompt only) over every piloted problem
    # continuations the adaptive rounds drew, and the fixed design's count (None: not adaptive)
    adaptive_continuations: int | None
    fixed_continuations: int | None  # the fixed design's continuations (None: not adaptive)
    rule_p_start: float | None  # what the luck variant's rule plants (None: no luck variant)
    correct: Group  # the correct chains
    wrong: Group  # the mirror's wrong chains
    # continuations from the prefix just before a correct chain's final step (k = n-1): how many
    # end wrong, and among those how many write another first step than the chain's final one
    # (on the organism a false `Miss.` where the chain wrote `Hit.`); items: continuations
    wrong_before_final: stats.Estimate  # share of those continuations that end wrong
    flipped_final_step: stats.Estimate  # of the wrong ones, share with another first step
    # finished continuations (correct chains, every prefix with a next step) whose first step is
    # the chain's own next step: how much of the search the rollouts merely copy
    copies_next_step: stats.Estimate
    # finished continuations (correct chains, every prefix) that box a wrong answer although
    # their text derives the target (`search_found`): the boxed grade's verify and copy noise
    found_when_wrong: stats.Estimate
    entry_known: int  # moving correct chains whose solution entry is known
    entry_random_rate: stats.Estimate  # chance a random step of the entry's tag is the entry
    # the strongest simple rung: "the first Try after the last backtrack" is the entry (hit rate)
    backtrack_rule_hit: stats.Estimate
    resampling: MeasureResult  # resampling importance
    counterfactual: MeasureResult  # counterfactual importance
    forced: MeasureResult  # forced-answer importance

    def measure(self, name: str) -> MeasureResult:
        """The result of importance measure `name` (one of MEASURES)."""
        return {"resampling": self.resampling, "counterfactual": self.counterfactual,
                "forced": self.forced}[name]

    def as_dict(self) -> dict[str, object]:
        """The metrics under the names and in the order the committed results were written
        with (`starter.frame.metrics_dict` uses it); the optional numbers only when set."""
        out: dict[str, object] = {
            "chains": self.chains, "wrong_chains": self.wrong_chains,
            "step_match": self.step_match, "entry_rule": self.entry_rule,
            "pilot_problems": self.pilot_problems, "pilot_p_correct": self.pilot_p_correct}
        if self.adaptive_continuations is not None:
            out["adaptive_continuations"] = self.adaptive_continuations
            out["fixed_continuations"] = self.fixed_continuations
        if self.rule_p_start is not None:
            out["rule_p_start"] = self.rule_p_start
        for name, group in (("correct", self.correct), ("wrong", self.wrong)):
            for f in dataclasses.fields(group):
                out[f"{name}_{f.name}"] = getattr(group, f.name)
        out["wrong_before_final"] = self.wrong_before_final
        out["flipped_final_step"] = self.flipped_final_step
        out["copies_next_step"] = self.copies_next_step
        out["found_when_wrong"] = self.found_when_wrong
        out["entry_known"] = self.entry_known
        out["entry_random_rate"] = self.entry_random_rate
        out["backtrack_rule_hit"] = self.backtrack_rule_hit
        for measure in MEASURES:
            r = self.measure(measure)
            out[f"entry_hit_{measure}"] = r.entry_hit
            out[f"entry_hit_{measure}_minus_random"] = r.entry_hit_minus_random
            out[f"entry_hit_{measure}_minus_rule"] = r.entry_hit_minus_rule
            for offset, est in zip((-1, 0, 1), (r.entry_before, r.entry_at, r.entry_after)):
                out[f"entry{offset:+d}_{measure}"] = est
            for tag, est in r.by_tag.items():
                out[f"{measure}_by_tag_{tag}"] = est
            out[f"top_on_last_{measure}"] = r.top_on_last
        return out


def ready(estimate: stats.Estimate) -> Shown:
    """No interval from fewer than MIN_PROBLEMS problems (`verdict_ready`), printed as described:
    `analyse` passes every estimate through it."""
    return shown(verdict_ready(estimate))


def summarise_group(group: list[ChainResult]) -> Group:
    """The curve's ends and the largest jump against the steady null, over one group's chains."""
    probs = [r.problem for r in group]
    moving = [r for r in group if r.moving]
    shares = [r.largest_share for r in moving]
    nulls = [r.null_share for r in moving]
    where = [r.problem for r in moving]
    return Group(
        p_start=ready(stats.mean_ci([r.p_start for r in group], probs)),
        p_end=ready(stats.mean_ci([r.p_end for r in group], probs)),
        unfinished=sum(r.unfinished for r in group), rollouts=sum(r.rollouts for r in group),
        moving=len(moving), largest_share=ready(stats.mean_ci(shares, where)),
        null_share=ready(stats.mean_ci(nulls, where)),
        share_minus_null=ready(stats.difference_ci(shares, where, nulls, where)),
        jump_on_last=sum(r.jump_on_last for r in moving),
        **summarise_before(group))


def summarise_before(group: list[ChainResult]) -> dict:
    """The bounded share before the final step against its null, over the chains that rose."""
    rose = [r for r in group if r.before_moving]
    return {**_rises("before", [(r.problem, r.before_share, r.before_null, r.before_kind)
                                for r in rose]),
            "before_on_verify": sum(r.before_tag == "verify" for r in rose),
            "before_on_compute": sum(r.before_tag == "compute" for r in rose),
            **summarise_search(group)}


def _rises(prefix: str, rose: list[tuple[str, float, float, str]]) -> dict:
    """The bounded share against its null over the chains that rose (problem, share, null, kind
    of the largest rise), and the rises counted by kind; keys start with `prefix`."""
    where = [problem for problem, _, _, _ in rose]
    shares = [share for _, share, _, _ in rose]
    nulls = [null for _, _, null, _ in rose]
    kinds = [kind for _, _, _, kind in rose]
    return {f"{prefix}_moving": len(rose),
            f"{prefix}_share": ready(stats.mean_ci(shares, where)),
            f"{prefix}_null": ready(stats.mean_ci(nulls, where)),
            f"{prefix}_minus_null": ready(stats.difference_ci(shares, where, nulls, where)),
            f"{prefix}_verdict_flip": kinds.count("verdict flip"),
            f"{prefix}_miscopied": kinds.count("miscopied arithmetic"),
            f"{prefix}_copied": kinds.count("copied by every continuation"),
            f"{prefix}_branch": kinds.count("branch choice")}


def summarise_search(group: list[ChainResult]) -> dict:
    """The bounded share of the search-graded curve against its null, over the chains whose
    search-graded curve rose."""
    return _rises("search", [(r.problem, r.search_share, r.search_null, r.search_kind)
                             for r in group if r.search_moving])


def summarise_measure(measure: str, correct: list[ChainResult],
                      known: list[ChainResult]) -> MeasureResult:
    """Measure `measure` at the solution entry of the `known` chains, and by tag over the
    moving `correct` chains."""
    where = [r.problem for r in known]
    chance = [random_hit_rate(r) for r in known]
    hits = [float(r.top_step[measure] == r.solution_entry) for r in known]
    rule = [float(r.rule_entry == r.solution_entry) for r in known]
    # mean importance of the entry step, and of the step just before and after it
    around = [stats.mean_ci([r.importance[measure].get(r.solution_entry + offset, math.nan)
                             for r in known], where) for offset in (-1, 0, 1)]
    by_tag = {}
    for tag in STEP_TAGS:
        vals = [v for r in correct if r.moving
                for step, v in r.importance[measure].items() if r.tag_of[step] == tag]
        probs = [r.problem for r in correct if r.moving
                 for step in r.importance[measure] if r.tag_of[step] == tag]
        by_tag[tag] = ready(stats.mean_ci(vals, probs))
    return MeasureResult(
        entry_hit=ready(stats.mean_ci(hits, where)),
        entry_hit_minus_random=ready(stats.difference_ci(hits, where, chance, where)),
        entry_hit_minus_rule=ready(stats.difference_ci(hits, where, rule, where)),
        entry_before=ready(around[0]), entry_at=ready(around[1]), entry_after=ready(around[2]),
        by_tag=by_tag, top_on_last=sum(r.top_step[measure] == r.n_steps for r in known))


def before_final_step(rows: list[dict]) -> tuple[stats.Estimate, stats.Estimate]:
    """P(wrong) of the finished continuations from each correct chain's prefix k = n-1, and the
    share of those wrong ones whose first step is not the chain's final step (both clustered by
    problem)."""
    wrong, flipped = [], []
    for r in rows:
        if r.get("kind") != "prefix" or not r["chain_correct"] or r["k"] != r["n_steps"] - 1:
            continue
        for o in r["outcomes"]:
            if o["finished"]:
                wrong.append((float(not o["correct"]), r["problem"]))
                if not o["correct"]:
                    flipped.append((float(o["first_step"] != r["next_step"]), r["problem"]))
    return (ready(stats.mean_ci([v for v, _ in wrong], [p for _, p in wrong])),
            ready(stats.mean_ci([v for v, _ in flipped], [p for _, p in flipped])))


def copies_next_step(rows: list[dict]) -> stats.Estimate:
    """Share of finished continuations of correct chains whose first step is the chain's own
    next step, over every prefix that has one (clustered by problem).

    >>> row = {"kind": "prefix", "chain_correct": True, "problem": "a", "next_step": "Hit.",
    ...        "outcomes": [{"finished": True, "first_step": "Hit."},
    ...                     {"finished": True, "first_step": "Miss."},
    ...                     {"finished": False, "first_step": "Miss."}]}
    >>> copies_next_step([row]).value
    0.5
    """
    values, where = [], []
    for r in rows:
        if r.get("kind") != "prefix" or not r["chain_correct"] or r["next_step"] is None:
            continue
        for o in r["outcomes"]:
            if o["finished"]:
                values.append(float(o["first_step"] == r["next_step"]))
                where.append(r["problem"])
    return stats.mean_ci(values, where)


def found_when_wrong(rows: list[dict]) -> stats.Estimate:
    """Of the finished continuations of correct chains that box a wrong answer, the share whose
    text derives the target (`search_found`; clustered by problem; rows without it are skipped).

    >>> row = {"kind": "prefix", "chain_correct": True, "problem": "a",
    ...        "outcomes": [{"finished": True, "correct": False, "found": True},
    ...                     {"finished": True, "correct": False, "found": False},
    ...                     {"finished": True, "correct": True, "found": True}]}
    >>> found_when_wrong([row]).value
    0.5
    """
    values, where = [], []
    for r in rows:
        if r.get("kind") != "prefix" or not r["chain_correct"]:
            continue
        for o in r["outcomes"]:
            if o["finished"] and not o["correct"] and o.get("found") is not None:
                values.append(float(o["found"]))
                where.append(r["problem"])
    return stats.mean_ci(values, where)


def analyse(rows: list[dict]) -> Metrics:
    results = [summarise_chain(rs) for rs in chain_rows(rows).values()]
    pilots = [r for r in rows if r.get("kind") == "pilot"]
    correct = [r for r in results if r.correct]
    wrong = [r for r in results if not r.correct]
    matches = {r.get("step_match", "exact") for r in rows if r.get("kind") == "prefix"}
    entry_rules = {r.get("entry_rule", "search") for r in rows if r.get("kind") == "prefix"}
    # only in adaptive runs: what the rounds drew against the fixed design
    drawn_adaptively = [r for r in rows if r.get("kind") == "prefix" and r.get("adaptive")]
    known = [r for r in correct if r.moving and r.solution_entry in r.tag_of]
    where = [r.problem for r in known]
    wrong_before_final, flipped_final_step = before_final_step(rows)
    return Metrics(
        chains=len(correct), wrong_chains=len(wrong),
        step_match=",".join(sorted(matches)) or "exact",
        entry_rule=",".join(sorted(entry_rules)) or "search",
        pilot_problems=len(pilots), pilot_p_correct=ready(pilot_p_correct(pilots)),
        adaptive_continuations=(sum(len(r["outcomes"]) for r in drawn_adaptively)
                                if drawn_adaptively else None),
        fixed_continuations=(sum(r["n_fixed"] for r in drawn_adaptively)
                             if drawn_adaptively else None),
        rule_p_start=rule_p_start(pilots),  # only on a luck variant (validation)
        correct=summarise_group(correct), wrong=summarise_group(wrong),
        wrong_before_final=wrong_before_final, flipped_final_step=flipped_final_step,
        copies_next_step=ready(copies_next_step(rows)),
        found_when_wrong=ready(found_when_wrong(rows)),
        entry_known=len(known),
        entry_random_rate=ready(stats.mean_ci([random_hit_rate(r) for r in known], where)),
        backtrack_rule_hit=ready(stats.mean_ci(
            [float(r.rule_entry == r.solution_entry) for r in known], where)),
        resampling=summarise_measure("resampling", correct, known),
        counterfactual=summarise_measure("counterfactual", correct, known),
        forced=summarise_measure("forced", correct, known))


# %% [markdown]
# ## Figure: the curve around the solution entry, the jump against the null, importance by tag


# %%
def plot(rows: list[dict], metrics: Metrics):
    fig = plt.figure(figsize=(7, 7))
    grid = fig.add_gridspec(2, 2)
    curves = fig.add_subplot(grid[0, 0])
    shares = fig.add_subplot(grid[0, 1])
    by_tag = fig.add_subplot(grid[1, :])
    for rs in chain_rows(rows).values():
        if not rs[0]["chain_correct"]:
            continue
        ks = [r["k"] for r in rs]
        x = [k / max(rs[0]["n_steps"], 1) for k in ks]
        y = [importance.accuracy(to_outcomes(r["outcomes"])) for r in rs]
        whole = ks[-1] == rs[0]["n_steps"] and len(ks) >= 2
        kept = len(ks) - 1 if whole else len(ks)  # the final step's segment is drawn dotted
        curves.plot(x[:kept], y[:kept], "-", color="C0", alpha=0.5, lw=1)
        if whole:
            curves.plot(x[-2:], y[-2:], ":", color="C0", alpha=0.5, lw=1)
        entry = rs[0]["solution_entry"]
        if entry in ks:
            curves.plot(x[ks.index(entry)], y[ks.index(entry)], "o", color="C3", ms=4)
    curves.plot([], [], "-", color="C0", label="correct chain")
    curves.plot([], [], ":", color="C0", label="its final step")
    curves.plot([], [], "o", color="C3", label="true solution entry")
    curves.set(xlabel="share of the chain's steps kept (k / n)", ylabel="P(correct | first k)",
               ylim=(-0.05, 1.05), title="Resampled success")
    curves.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    # bars: the primary (before the final step, bounded share), the old whole-curve share and the
    # primary's statistic graded by search, each beside its steady null, for the correct chains
    # and the mirror's wrong ones
    slots = [(0, "before_share", "before_null"), (1, "largest_share", "null_share"),
             (2, "search_share", "search_null")]
    for i, label in enumerate(("largest rise (jump)", "steady null")):
        drawn = [(3.5 * j + slot + 0.35 * (i - 0.5), getattr(group, keys[i]))
                 for j, group in enumerate((metrics.correct, metrics.wrong))
                 for slot, *keys in slots]
        drawn = [(x, est) for x, est in drawn if math.isfinite(est.value)]
        if drawn:
            estimate_bars(shares, [x for x, _ in drawn], [est for _, est in drawn], 0.35,
                          color="C0" if i == 0 else "0.6", capsize=2, label=label)
    c, w = metrics.correct, metrics.wrong  # each bar names its chains: n below 5 has no interval
    ticks = [f"correct:\nbefore final\n(primary)\nn={c.before_moving}",
             f"correct:\nwhole curve\n(old)\nn={c.moving}",
             f"correct:\nsearch-graded\nn={c.search_moving}",
             f"wrong:\nbefore final\nn={w.before_moving}", f"wrong:\nwhole curve\nn={w.moving}",
             f"wrong:\nsearch-graded\nn={w.search_moving}"][: 6 if metrics.wrong_chains else 3]
    shares.set_xticks([0, 1, 2, 3.5, 4.5, 5.5][: len(ticks)], ticks, fontsize=6)
    shares.axhline(1, color="k", lw=0.5, ls=":")
    shares.set(ylabel="share of the rise", title="Largest jump vs steady null", ylim=(0, 1.5))
    if shares.get_legend_handles_labels()[0]:
        shares.legend(fontsize=7, ncol=2, loc="upper center")
    for i, measure in enumerate(MEASURES):
        by = metrics.measure(measure).by_tag
        bars = [(t + 0.25 * (i - 1), by[tag]) for t, tag in enumerate(STEP_TAGS)
                if math.isfinite(by[tag].value)]
        if bars:
            estimate_bars(by_tag, [x for x, _ in bars], [est for _, est in bars], 0.25,
                          color=f"C{i}", capsize=2)
    by_tag.axhline(0, color="k", lw=0.5)
    by_tag.set_xticks(range(len(STEP_TAGS)), STEP_TAGS, fontsize=7)
    by_tag.set(ylabel="mean importance", title="Importance by step tag (correct chains)")
    handles = [Patch(color=f"C{i}", label=measure) for i, measure in enumerate(MEASURES)]
    by_tag.legend(handles=handles, fontsize=7, ncol=3, loc="upper center",
                  bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims


# %%
def where_rises_sit(m: Metrics) -> str:
    """Where the largest rise before the final step sits, per chain, in one sentence (read from
    the continuations at the prefix before it, `rise_kind`), and how much the rollouts copy."""
    c = m.correct
    if not c.before_moving:
        return ""
    return (f"Where that rise sits in the {c.before_moving} chains (what the continuations from "
            f"the prefix before it write): a verdict flip (a false `Hit.` after a missed `Try`, "
            f"or a false `Miss.`) in {c.before_verdict_flip}, a miscopied arithmetic line in "
            f"{c.before_miscopied}, a step every continuation writes the same (no divergence: "
            f"sampling noise) in {c.before_copied}, a branch choice in {c.before_branch}; "
            f"{stats.describe(m.copies_next_step)} of all continuations copy the chain's next "
            "step.")


def search_kinds(m: Metrics) -> str:
    """Where the search-graded curve's largest rises sit, and how often a wrong box hid a found
    target, in one sentence."""
    c = m.correct
    said = (f"{stats.describe(m.found_when_wrong)} of the continuations that box a wrong answer "
            "derived the target (a false `Miss.` or a miscopied answer).")
    if not c.search_moving:
        return said
    return said + (f" Its largest rise, in the {c.search_moving} chains that rise by {MIN_RISE}: "
                   f"a false `Hit.` that ends the search before the target in "
                   f"{c.search_verdict_flip}, a miscopied `Try` value in {c.search_miscopied}, "
                   f"a step every continuation writes in {c.search_copied}, a branch choice in "
                   f"{c.search_branch}.")


def search_sentence(m: Metrics) -> str:
    """The search-graded curve (`SEARCH`) in one short sentence, for Read first."""
    c = m.correct
    said = (f"Graded by their search instead (`{SEARCH}`: the text derives the target, whatever "
            f"verdict it writes or boxes), {c.search_moving} of {m.chains} chains rise by "
            f"{MIN_RISE} before the final step")
    if not c.search_moving:
        return said + "."
    return said + ((", too few for a verdict" if c.search_moving < MIN_PROBLEMS else "")
                   + f"; their largest rises: false `Hit.` {c.search_verdict_flip}, miscopied "
                   f"`Try` {c.search_miscopied}, copied {c.search_copied}, branch choice "
                   f"{c.search_branch}.")


def rule_baseline(m: Metrics) -> Baseline:
    """The one-line rule "the first Try after the last backtrack", the entry claims' strongest
    rung (close to the entry's definition on the organism, so it is a ceiling)."""
    return Baseline("one-line rule 'the first Try after the last backtrack (the first Try "
                    "without one)' is the solution entry", m.backtrack_rule_hit)


def claims(m: Metrics) -> list[Claim]:
    out = [compare(
            "On correct chains, before the chain's final step (on the organism the verdict "
            "'Hit.', whose jump is verify and answer-copy noise), the single largest rise in "
            "P(correct | first k steps) carries more of the upward movement than it would on a "
            "steady rise with the same sampling noise. " + where_rises_sit(m)
            + (" In this run the rise is verification and copying noise, not a branch "
               "choice." if m.correct.before_moving and not m.correct.before_branch else "")
            + f" Graded by their search instead (`{SEARCH}`), {m.correct.search_moving} of "
            f"{m.chains} chains rise by {MIN_RISE} before the final step.",
            "largest rise / all rises, k = 0..n-1", m.correct.before_share,
            "steady linear rise, same rollouts (simulated)", "largest rise / all rises",
            m.correct.before_null, m.correct.before_minus_null, key=PRIMARY),
           compare(
            "The old primary (until review 25), on the whole curve including the final step: the "
            "single largest jump carries more of the net rise in P(correct) than it would on a "
            "steady rise with the same sampling noise (a share above 1 when the curve dips "
            "before it jumps).",
            "largest jump's share of the rise", m.correct.largest_share,
            "steady linear rise, same rollouts (simulated)", "largest jump's share",
            m.correct.null_share, m.correct.share_minus_null, key=OLD_PRIMARY),
           compare(
            "Graded by their search, not their boxed answer (added after review s16_a): a "
            "continuation counts as correct when the chain's text derives the target (a `Try a op "
            "b=v.` whose true value, recomputed with the task's rules, is the target, on numbers "
            "its branch truly has), whatever verdict token it writes and whatever it boxes. On "
            "correct chains before the final step, the single largest rise in P(found | first k "
            "steps) carries more of the upward movement than it would on a steady rise with the "
            "same sampling noise."
            + " " + search_kinds(m),
            "largest rise / all rises, search-graded, k = 0..n-1", m.correct.search_share,
            "steady linear rise, same rollouts (simulated)", "largest rise / all rises",
            m.correct.search_null, m.correct.search_minus_null, key=SEARCH)]
    for measure in MEASURES:  # organism ground truth; "no data" on models without one
        out.append(compare(
            f"The step with the highest {measure} importance is the organism's true solution "
            "entry more often than the one-line rule 'the first Try after the last backtrack' "
            "picks it (a random step of the entry's tag hits it "
            f"{stats.describe(m.entry_random_rate)}).",
            f"top {measure} step = solution entry", m.measure(measure).entry_hit,
            "one-line rule: the first Try after the last backtrack", "hits the entry",
            m.backtrack_rule_hit, m.measure(measure).entry_hit_minus_rule,
            key=f"entry-{measure}", strongest_baseline=rule_baseline(m)))
    return declare(out, PRIMARY)


def read_first(m: Metrics) -> str:
    """The summary's first paragraph: what the organism shows, and why the primary changed."""
    if not m.correct.moving:
        return ""
    d = stats.describe
    c = m.correct
    return (
        f"Read first: the largest jump in P(correct | first k steps) is the chain's final "
        f"step in {c.jump_on_last} of the {c.moving} correct chains whose curve moved. On "
        "TinyThinker that step is the verdict `Hit.`: continuations sampled at T = 1 from "
        f"just before it (after the last `Try`) end wrong in {d(m.wrong_before_final)}, and "
        f"{d(m.flipped_final_step)} of those wrong ones begin with another step than the "
        "chain's `Hit.` (a false `Miss.` on a correct value: a base-organism defect, issue 24; "
        "the rest miscopy the answer); with the whole thinking, `Hit.` included, P(correct) "
        f"is {d(c.p_end)}. "
        "There the jump measures noise in the verify token and in answer copying, not progress "
        "towards a key idea. "
        "**So the primary claim changed after review** (issue 25): the old primary "
        f"(`{OLD_PRIMARY}`: the largest jump's share of the net rise on the whole curve, "
        f"{d(c.largest_share)} against a steady null of {d(c.null_share)}) stays as a "
        f"secondary claim; the new one (`{PRIMARY}`) measures the curve only up to the step "
        "before the final one (k = 0..n-1), with a bounded share: the largest rise over the sum "
        "of all rises, in (0, 1] (the old share divides by the net rise and exceeds 1 when the "
        f"curve dips before it jumps). Before the final step, {c.before_moving} of {m.chains} "
        f"correct chains rose by at least {MIN_RISE}; on them the largest rise carries "
        f"{d(c.before_share)} of the upward movement, a steady rise with the same noise "
        f"{d(c.before_null)} (difference {d(c.before_minus_null)}; {c.before_moving} problems, "
        f"no verdict below {MIN_PROBLEMS}). But even there the "
        f"largest rise sits on a verify step in {c.before_on_verify} of these {c.before_moving} "
        f"chains and on a compute step in {c.before_on_compute}. " + where_rises_sit(m)
        + " A compute step is not a search event when every continuation writes it or "
        "miscomputes it: a branch choice is a continuation that writes another step. "
        + ("On TinyThinker, then, P(correct | first k steps) moves with verification and "
           "copying noise, not with the search: the new primary says nothing about lucky or "
           "steady search" if not c.before_branch else
           f"Only the {c.before_branch} rises at a branch choice speak to lucky or steady "
           "search")
        + ", and it rests on the few chains that rise before their final step (the others "
        "are counted, not used). " + search_sentence(m)
        + f" The cpu preset now draws {CPU_ROLLOUTS} continuations per prefix (8 "
        f"before) and keeps up to {CPU_CHAINS} problems (8 before), which lowers the steady "
        "null.")


def findings(m: Metrics) -> str:
    d = stats.describe
    first = read_first(m)
    text = (first + "\n\n" if first else "") + (
            f"On {m.chains} correct chains (one per problem, problems the model solves only "
            "sometimes), P(correct) over finished continuations went from "
            f"{d(m.correct.p_start)} with the prompt only to {d(m.correct.p_end)} with "
            f"the whole thinking ({m.correct.unfinished} of {m.correct.rollouts} "
            "continuations unfinished, counted apart). ")
    if m.adaptive_continuations is not None:
        text += (f"Continuations were drawn adaptively (`adaptive=true`, starter.adaptive): "
                 f"{m.adaptive_continuations} of the fixed design's "
                 f"{m.fixed_continuations}, each step stopping once its interval settled or "
                 "it was surely in or out of the top steps. ")
    if not m.correct.moving:
        return text + (f"No correct chain's curve rose by {MIN_RISE} or more, so there is no jump "
                       "to locate: use more problems or rollouts (a larger preset).")
    text += (f"Whole curve (k = 0..n, the old primary): on the {m.correct.moving} whose curve "
             f"rose at least {MIN_RISE}, the largest single jump carried "
             f"{d(m.correct.largest_share)} of the net rise; a steady rise measured with the same "
             f"rollouts gives {d(m.correct.null_share)} (difference "
             f"{d(m.correct.share_minus_null)}). That jump is the final step in "
             f"{m.correct.jump_on_last} of them.")
    if m.correct.null_share.value > 0.6:
        text += (" With this few rollouts a perfectly steady rise of this size already shows a "
                 "largest jump near the whole net rise: on this statistic the noise hides the "
                 "difference between lucky and steady (more rollouts per prefix lower it).")
    text += (f" Before the final step (k = 0..n-1, the primary): {m.correct.before_moving} "
             f"chains rose at least {MIN_RISE}; the largest rise carried "
             f"{d(m.correct.before_share)} of all their rises, a steady rise with the same noise "
             f"{d(m.correct.before_null)} (difference {d(m.correct.before_minus_null)}).")
    if min(m.correct.moving, m.correct.before_moving, m.entry_known) < MIN_PROBLEMS:
        text += (f" No verdict is drawn from fewer than {MIN_PROBLEMS} problems (the pilot found "
                 f"{m.chains} problems it sometimes missed); a larger pilot (n_problems) "
                 "finds more.")
    if m.entry_known:
        which = ("followed the true search up to the step entering the solution branch"
                 if m.entry_rule == "search" else
                 "opened a branch that reaches the target: its first such \"Try\" is the entry")
        text += (f"\n\nAgainst the organism's ground truth ({m.entry_known} chains that "
                 f"{which}), the step ranked highest was that entry for resampling importance "
                 f"{d(m.resampling.entry_hit)}, counterfactual "
                 f"{d(m.counterfactual.entry_hit)}, forced-answer "
                 f"{d(m.forced.entry_hit)}; a random step with the entry's tag hits it "
                 f"{d(m.entry_random_rate)}, and the one-line rule 'the first Try after the "
                 f"last backtrack' (the entry claims' strongest baseline) "
                 f"{d(m.backtrack_rule_hit)}: the importance measures point at the verdict "
                 "step, the text rule at the entry. Mean resampling importance at the entry step: "
                 f"{d(m.resampling.entry_at)}, at the step after it "
                 f"{d(m.resampling.entry_after)}; forced-answer importance at the entry "
                 f"{d(m.forced.entry_at)}, after it {d(m.forced.entry_after)}. The top step is "
                 "the chain's final step (on the organism the verdict `Hit.`) in "
                 + ", ".join(f"{m.measure(x).top_on_last} ({x})" for x in MEASURES)
                 + f" of these {m.entry_known} chains.")
    if m.step_match == "exact":
        text += (" Counterfactual importance calls a rewritten step the same as the original "
                 "when their text is equal (up to case and spaces): the organism's steps are a "
                 "fixed vocabulary, so this is exact; a step every rewrite reproduced gets no "
                 "counterfactual value.")
    else:
        text += (" Counterfactual importance calls a rewritten step the same as the original "
                 "when their token-set Jaccard similarity is at least "
                 f"{importance.JACCARD_THRESHOLD} (a cheap stand-in for the paper's embedding "
                 "cosine >= 0.8).")
    if not m.wrong_chains:
        text += ("\n\nNo chain that ended with a wrong answer was resampled (the mirror is off in "
                 "this preset, or no problem had one); `Config(mirror=True)` runs it.")
    else:
        text += (f"\n\nMirror: for {m.wrong_chains} of the problems we also resampled a "
                 "chain that ended with a wrong answer; its P(correct) went from "
                 f"{d(m.wrong.p_start)} to {d(m.wrong.p_end)}, and on the "
                 f"{m.wrong.moving} that fell at least {MIN_RISE} the largest single fall "
                 f"carried {d(m.wrong.largest_share)} of it (steady null "
                 f"{d(m.wrong.null_share)}).")
    if m.pilot_problems:
        text += (f"\n\nOver all {m.pilot_problems} piloted problems (before keeping those "
                 "solved only sometimes), P(correct | prompt only) was "
                 f"{d(m.pilot_p_correct)}"
                 + (f"; the luck variant's rule plants {m.rule_p_start:.2f} on them."
                    if m.rule_p_start is not None else "."))
    return text + (f"\n\nSmall-sample estimates on one model; no interval is shown for an "
                   f"estimate from fewer than {MIN_PROBLEMS} problems. The organism result is a "
                   "hypothesis about R1-distill, not evidence about it: on R1-distill "
                   "(`--preset gpu`, not run here: it needs a GPU) the organism's ground truth "
                   "does not exist, so only the jump claim applies there.")


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run lucky-or-steady --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stages of `run`, for planning. Prefixes per chain are an estimate: ~12 steps on
    the organism; on R1, `max_prefixes` spaced cuts plus ~8 more inside the largest bucket."""
    per_chain = cfg.max_prefixes + 8 if cfg.max_prefixes else 12
    chains = cfg.n_chains * (2 if cfg.mirror else 1)
    return [
        Generation("pilot chains", sequences=cfg.n_problems * cfg.pilot_samples,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size),
        Generation(f"continuations, ~{per_chain} prefixes per chain"
                   + (", adaptive: at most" if cfg.adaptive else ""),
                   sequences=chains * per_chain * cfg.n_rollouts, max_new_tokens=cfg.max_new_tokens,
                   batch_size=cfg.batch_size, prompt_tokens=256 + cfg.max_new_tokens // 2),
        Generation("forced answers", sequences=chains * per_chain * cfg.n_forced,
                   max_new_tokens=cfg.forced_max_new_tokens, batch_size=cfg.batch_size,
                   prompt_tokens=256 + cfg.max_new_tokens // 2),
    ]


# %% [markdown]
# ## Does the method work? (planted truth)
# Two TinyThinker variants (`starter/organism/variants.py`, dial "luck") try the first-level
# branches in a random order, at most 3, then give up and answer their last try;
# `tinythinker-heuristic` opens a branch that reaches the target first with probability 0.75.
# Success is a lottery over branches: under the rule, P(correct | first k steps) is flat, falls at
# each "Try" that opens a dead branch (a try of the budget is spent), and jumps to 1 at the "Try"
# that opens the chain's first reaching branch (the rule then goes down it to the hit). So:
# 1. the largest jump carries the whole rise or more: exactly 1 when the reaching branch is
#    opened first (the heuristic's usual chain), more than 1 when dead branches came first (the
#    falls before the jump: the lucky variant's usual correct chain). Planted: lucky >= heuristic.
# 2. the step with the highest resampling importance (the largest jump) is that "Try" (the entry
#    read from the chain itself: `entry_rule=chain`). Planted: hit rate 1 on both.
# 3. P(correct | prompt only) over all piloted problems is the chance of opening a reaching branch
#    within the budget (`variants.p_solved_in_budget`, per problem); heuristic above lucky.
# Sampling is at temperature 1 and top_p 1 (the lottery is the sampling; the variants' eval.json
# samples the same way), with room for three whole branches (220 tokens, as in eval.json).


# %%
VALIDATION_SETTINGS = {
    # smoke checks the path only (5 problems, 4 chains each, 160 tokens): it runs in `make test`
    "smoke": ("entry_rule=chain", "temperature=1.0", "top_p=1.0", "mirror=false", "n_problems=5",
              "pilot_samples=4"),
    # 80 problems piloted, up to 18 chains kept, 8 continuations and 1 forced answer per prefix:
    # about 30 CPU-minutes per run of both arms (6 chains from 30 problems could not separate them)
    # (n_rollouts=8 keeps it at that cost: the cpu preset's own run draws CPU_ROLLOUTS)
    "cpu": ("entry_rule=chain", "temperature=1.0", "top_p=1.0", "max_new_tokens=220",
            "n_problems=80", "n_chains=18", "n_rollouts=8", "n_forced=1"),
}


def measure_share(m: Metrics) -> Measured:
    """The largest jump's share of the rise, over correct chains whose curve moved."""
    return measured_from(m.correct.largest_share)


def measure_before_share(m: Metrics) -> Measured:
    """The primary's statistic: the largest rise's share of all rises before the final (verdict)
    step, over correct chains whose curve rose there."""
    return measured_from(m.correct.before_share)


def measure_entry_hit(m: Metrics) -> Measured:
    """How often the top resampling-importance step (the largest jump) is the entry step."""
    return measured_from(m.resampling.entry_hit)


def measure_p_start(m: Metrics) -> Measured:
    """P(correct | prompt only) over all piloted problems; planted: the rule's, on them."""
    return measured_from(m.pilot_p_correct, planted=m.rule_p_start)


LUCKY = "tinythinker-lucky"
HEURISTIC = "tinythinker-heuristic"
VALIDATION = (
    Validation(  # the primary's statistic (the primary since review s15)
        quantity="primary: largest rise's share of all rises before the verdict step, correct "
                 "chains",
        arms=(Arm(HEURISTIC, None), Arm(LUCKY, None)),  # order only: lucky >= heuristic
        measure=measure_before_share,
        meaning=("Before the verdict step the lucky variant's curve should rise at one step, the "
                 "Try that opens a reaching branch; recovered, a share near 1 on R1-distill reads "
                 "as a lottery over branches, not as the answer-writing noise at the end."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="largest jump's share of the rise in P(correct | first k steps), correct chains",
        arms=(Arm(HEURISTIC, None), Arm(LUCKY, None)),  # order only: lucky >= heuristic (~1)
        measure=measure_share,
        meaning=("One step should carry the whole rise (more, after the falls at dead branches "
                 "on the lucky variant); recovered, a share near 1 on R1-distill reads as a "
                 "lottery, not as sampling noise."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="top resampling-importance step = the first Try opening a reaching branch",
        arms=(Arm(LUCKY, 1.0), Arm(HEURISTIC, 1.0)),
        measure=measure_entry_hit,
        meaning=("The largest jump should sit on the step that opens the branch reaching the "
                 "target; recovered, the step resampling importance ranks first on R1-distill "
                 "is where its chain found the key idea."),
        settings=VALIDATION_SETTINGS),
    Validation(
        quantity="P(correct | prompt only) over all piloted problems (k = 0)",
        arms=(Arm(LUCKY, None, learned="solved_t1"), Arm(HEURISTIC, None, learned="solved_t1")),
        measure=measure_p_start,
        meaning=("The curve's starting point should be the chance of opening a reaching branch "
                 "within the budget; recovered, the k = 0 point of the curve on R1-distill is "
                 "its solve rate, the baseline every jump is measured from."),
        settings=VALIDATION_SETTINGS,
        # the control searches without a branch budget, so its rule solves every (always
        # solvable) problem: both budgeted arms are planted below it (eval.json: 165/200 greedy)
        retrained_planted=1.0),
)


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__, presets=PRESETS,
    black_box=True,  # reads sampled text only: runs through --backend openai too
    concepts=("backtracking", "verification", "uncertainty"),
    try_next=(
        "Raise n_rollouts (Thought Anchors used 100): does the largest jump stay above the null?",
        "Run `--preset gpu` (R1-Distill-Qwen-1.5B): do planning and backtracking steps carry the "
        "jumps, as Thought Anchors found?",
        "Swap `importance.exact_same` for `importance.jaccard_same(0.3)` or an embedding model and "
        "see how counterfactual importance moves on R1 text.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
