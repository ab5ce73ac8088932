"""Benchmark: Thought Anchors' fixed 100-rollout design against adaptive resampling, side by side.

Both designs estimate every step's resampling importance (P(correct) from prefix k minus from
prefix k-1) on chains whose true per-prefix accuracies are known, and rank steps by |importance|:

- **published chains**: the per-sentence `accuracy` published with Thought Anchors' chains
  (`<folder>/<model>/<correct|incorrect>_base_solution/problem_<id>/chunks_labeled.json`; only that
  field is read, no text is kept or printed). A rollout from prefix k is right with probability
  accuracy[k] (a binomial draw at the published rate), so the true importances are the published
  curve's differences;
- **planted chains** (`--planted`, simulated): 100 steps whose accuracy holds still, up to a small
  jitter, except for three planted jumps of 0.3 to 0.5: the true top 3 is known by construction;
- **organism chains** (simulated at rates measured on real rollouts): chains written by the rule of
  `tinythinker-lucky` (`starter/organism/variants.py`: first-level branches in a random order, at
  most 3, then it gives up) that open two dead branches and then a reaching one. The rule's
  labels (`labels["order"]`) give the three steps that open a branch; under the rule P(correct)
  falls at the two dead openings and jumps to 1 at the reaching one, the planted anchor. Those
  three steps are the planted top 3 and the anchor the planted top 1, read from the generator,
  never from an importance. The accuracy per prefix is measured once on the variant itself
  (`--measure-organism`: `--organism-rollouts` real rollouts from every prefix, the
  lucky-or-steady validation's sampling) and committed as derived counts
  (bench_importance_organism.json); the bench then draws binomially at those rates.
  `--organism-rule` adds the same chains at the rule's exact curve (no model).

Per chain and repetition: two independent fixed runs (A, B: 100 rollouts from every prefix) and one
adaptive run (`starter.adaptive`, its own draws). Reported: rollouts used, the share of runs whose
adaptive top 3 (as a set) equals fixed run A's, the same share for fixed run B (the ceiling: the
fixed design is noisy, so it does not agree with itself either), the mean overlap of the top 3, and
the share that equals the true top 3 (the published curve's, or the planted steps), and on the
organism how often the planted anchor is ranked first (also by an adaptive run asked only for
the top step, `top_k=1`) and the sampling time the pilot's measured speed gives. Shares carry
95% intervals clustered by chain (`starter.stats.mean_ci`), chains being the independent units.
The goal (issue #28): the same top 3 as the fixed design in >= 95% of chains with <= 40% of its
rollouts. Wall time is the simulation's (no model): the number of rounds is what adds latency.

    python scripts/bench_importance.py /work/data/ta              # ~1-2 minutes on 2 cores
    python scripts/bench_importance.py /work/data/ta --reps 20 --planted 40 --set round_size=10
    python scripts/bench_importance.py --planted 0 --organism-rule   # organism only, seconds
    python scripts/bench_importance.py --measure-organism   # the pilot: ~7 CPU-minutes, resumable
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from starter import adaptive, stats
from starter.errors import UsageError
from starter.importance import Outcome
from starter.sampling import SamplingConfig

FIXED_N = 100  # Thought Anchors' rollouts per prefix
TOP = 3  # the ranking compared
TARGET_AGREEMENT = 0.95  # same top 3 as the fixed design in >= 95% of chains
TARGET_SHARE = 0.40  # with <= 40% of its rollouts
RIGHT, WRONG = Outcome(correct=True, finished=True), Outcome(correct=False, finished=True)


@dataclasses.dataclass(frozen=True)
class Chain:
    """One chain's true accuracy per prefix (no text)."""

    name: str  # model/solution/problem_<id>, planted_<i>, or organism/<numbers>-><target>
    rates: tuple[float, ...]  # P(correct) of a rollout from prefix k, k = 0 .. n-1
    # the planted steps, the truth for the top 3 (planted chains: the jumps; the organism: the
    # three branch openings); None: the published curve's own top 3
    planted: tuple[int, ...] | None = None
    anchor: int | None = None  # the organism's reaching step (its rule's label), else None
    # new tokens of a rollout from prefix k (the organism's measured means); None: (n - k) / n
    tokens: tuple[float, ...] | None = None
    seconds_per_rollout: float | None = None  # the organism pilot's real rollouts, per rollout


def read_published(folder: Path) -> list[Chain]:
    """Every chunks_labeled.json below `folder`: its `accuracy` field, by chunk index."""
    files = sorted(folder.glob("*/*_base_solution/problem_*/chunks_labeled.json"))
    if not files:
        raise UsageError(f"no <model>/<correct|incorrect>_base_solution/problem_<id>/"
                         f"chunks_labeled.json below {folder}; pass the folder holding the models")
    chains = []
    for f in files:
        rows = json.loads(f.read_text())
        acc = {int(r["chunk_idx"]): r.get("accuracy") for r in rows}
        rates = [acc.get(i) for i in range(len(acc))]
        if len(rates) < TOP + 2 or any(r is None for r in rates):
            continue  # too short to rank, or a chunk without a published accuracy
        name = "/".join(f.parts[-4:-1])
        chains.append(Chain(name, tuple(min(1.0, max(0.0, float(r))) for r in rates
                                        if r is not None)))
    return chains


def planted_chains(count: int, rng: np.random.Generator, steps: int = 100) -> list[Chain]:
    """Chains of `steps` prefixes, flat up to a jitter of sd 0.02, with three planted jumps."""
    chains = []
    for i in range(count):
        where = tuple(sorted(rng.choice(np.arange(5, steps - 5), size=TOP, replace=False)))
        level = rng.uniform(0.2, 0.8)
        rates = []
        for k in range(steps):
            if k in where:
                up = 0.95 - level >= level - 0.05  # jump towards the larger room
                size = min(rng.uniform(0.3, 0.5), max(0.95 - level, level - 0.05))
                level += size if up else -size
            rates.append(float(np.clip(level + rng.normal(0, 0.02), 0.0, 1.0)))
        chains.append(Chain(f"planted_{i}", tuple(rates), planted=tuple(int(k) for k in where)))
    return chains


# ------------------------------------------------------------------ the organism: a planted anchor

ORGANISM_VARIANT = "lucky"  # tinythinker-lucky: random branch order, gives up after 3 branches
ORGANISM_RATES = Path(__file__).with_name("bench_importance_organism.json")  # the measured pilot
ORGANISM_TRIES = 3  # chains that open two dead branches, then the reaching one: 3 planted steps
# the lucky-or-steady validation's sampling: the lottery is the sampling, room for three branches
ORGANISM_SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=220, batch_size=256)
SAMPLING_RECORDED = ("temperature", "top_p", "max_new_tokens", "batch_size")  # in the pilot file


@dataclasses.dataclass(frozen=True)
class OrganismChain:
    """A chain written by the variant's rule (`variants.example`), with what its labels plant."""

    name: str  # "<numbers>-><target>", e.g. "17,10,16->23"
    numbers: tuple[int, ...]
    target: int
    prompt: str  # the organism's raw prompt, ending " <think>"
    completion: str  # the rule's chain: " Try ... Hit. </think> \\boxed{...}"
    n_steps: int  # steps of the chain (`prefixes.chain_steps`); prefixes are k = 0 .. n_steps
    opened: tuple[int, ...]  # the step (1-based) of the "Try" that opens each branch, in order
    anchor: int  # the step that opens the reaching branch (the last opened: the rule hits there)


def opened_steps(steps: list[str], order: list[str]) -> tuple[int, ...]:
    """The 1-based steps that open the branches `order` (the rule's label): "Try <op>=v." followed
    by "Left:", searched in order.

    >>> opened_steps(["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148.", "Miss.",
    ...               "Wait, backtrack.", "Try 8+19=27.", "Left: 27, 4.", "Try 27+4=31.", "Hit."],
    ...              ["8*19", "8+19"])
    (1, 6)
    """
    found: list[int] = []
    for op in order:
        after = found[-1] if found else 0
        found.append(next(i + 1 for i in range(after, len(steps) - 1)
                          if steps[i].startswith(f"Try {op}=") and
                          steps[i + 1].startswith("Left:")))
    return tuple(found)


def organism_chains(count: int, seed: int, variant: str = ORGANISM_VARIANT,
                    tries: int = ORGANISM_TRIES) -> list[OrganismChain]:
    """The first `count` solved chains of the variant's rule on held-out problems that open
    exactly `tries` branches; the anchor comes from the rule's labels, not from any importance.

    >>> c = organism_chains(1, seed=3)[0]
    >>> c.name, c.n_steps, c.opened, c.anchor
    ('17,10,16->23', 14, (1, 6, 11), 11)
    """
    import random

    from starter import prefixes
    from starter.organism import variants
    from starter.tasks.countdown import sample_searches

    rule = variants.get_variant(variant)
    rng = random.Random(f"{rule.name}-{seed}")
    out = []
    for result in sample_searches(count * 40, seed, split="test"):
        ex = variants.example(rule, result, rng)
        if not ex.labels["solved"] or len(ex.labels["order"]) != tries:
            continue
        steps = [s.text for s in prefixes.chain_steps(ex.completion)]
        opened = opened_steps(steps, ex.labels["order"])
        name = f"{','.join(map(str, result.numbers))}->{result.target}"
        out.append(OrganismChain(name, tuple(result.numbers), result.target, ex.prompt,
                                 ex.completion, len(steps), opened, opened[-1]))
        if len(out) == count:
            break
    return out


def rule_curve(chain: OrganismChain, budget: int = 3) -> tuple[float, ...]:
    """The rule's planted P(correct | first k steps), k = 0 .. n_steps: the chance that a reaching
    branch is opened within the budget left; it falls at each dead branch opened, and is 1 from
    the anchor on (the rule then goes down the reaching branch to its hit).

    >>> c = organism_chains(1, seed=3)[0]  # 9 branches, 3 reaching; dead at 1 and 6, anchor 11
    >>> [round(p, 3) for p in rule_curve(c)][::5]  # 1 - (6/9)(5/8)(4/7), 1 - (5/8)(4/7), 3/7
    [0.762, 0.643, 0.429]
    >>> [round(p, 3) for p in rule_curve(c)[10:12]]  # the anchor: 3/7 -> 1
    [0.429, 1.0]
    """
    from starter.organism import variants

    order = variants.branches(chain.numbers, chain.target)
    m, s = len(order), sum(b.hit is not None for b in order)
    curve = []
    for k in range(chain.n_steps + 1):
        if k >= chain.anchor:
            curve.append(1.0)
            continue
        dead = sum(step <= k for step in chain.opened[:-1])
        misses = 1.0
        for i in range(budget - dead):
            misses *= max(m - dead - s - i, 0) / (m - dead - i)
        curve.append(1.0 - misses)
    return tuple(curve)


def _pilot_json(pilot: dict) -> str:
    """The pilot as JSON with one line per chain (readable diffs)."""
    head = {k: v for k, v in pilot.items() if k != "chains"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    chains = ",\n".join(f"  {json.dumps(c)}" for c in pilot["chains"])
    return "{\n" + "\n".join(lines) + '\n "chains": [\n' + chains + "\n ]\n}\n"


def measure_organism(chains: list[OrganismChain], n: int, seed: int, out: Path) -> None:
    """`n` rollouts of the variant from every prefix of every chain; per prefix the finished and
    correct counts and mean new tokens, written to `out` after each chain (a rerun skips the
    chains already there: resumable)."""
    from starter import prefixes, rollouts
    from starter.models import load_model
    from starter.tasks.base import Problem, get_task_set

    header: dict[str, Any] = {"variant": f"tinythinker-{ORGANISM_VARIANT}",
                              "rollouts_per_prefix": n, "seed": seed,
                              "sampling": {f: getattr(ORGANISM_SAMPLING, f)
                                           for f in SAMPLING_RECORDED},
                              "tries": ORGANISM_TRIES}
    done: dict[str, Any] = (json.loads(out.read_text()) if out.exists()
                            else {**header, "chains": []})
    if {k: done.get(k) for k in header} != header:
        raise UsageError(f"{out} holds a pilot with other settings "
                         f"({ {k: done.get(k) for k in header} }); pass another --organism path")
    measured = {c["name"] for c in done["chains"]}
    todo = [c for c in chains if c.name not in measured]
    if not todo:
        print(f"all {len(chains)} chains are already measured in {out}")
        return
    model = load_model(header["variant"], device="cpu")
    task = get_task_set("countdown")
    how = dataclasses.replace(ORGANISM_SAMPLING, seed=seed)
    for chain in todo:
        problem = Problem(id=chain.name, question="", answer="",
                          meta={"numbers": list(chain.numbers), "target": chain.target})
        cuts = prefixes.step_prefixes(chain.name, chain.completion)
        start = time.perf_counter()
        drawn = rollouts.sample(model, [chain.prompt + c.text for c in cuts], n, how,
                                progress=False)
        seconds = time.perf_counter() - start
        finished, correct, tokens = [], [], []
        for cut, row in zip(cuts, drawn):
            graded = [(task.assess(problem, cut.text + c.text), c) for c in row]
            done_here = [g.finished and c.finished for g, c in graded]
            finished.append(sum(done_here))
            correct.append(sum(g.correct and f for (g, _), f in zip(graded, done_here)))
            tokens.append(sum(c.n_new_tokens for c in row) / n)
        done["chains"].append({
            "name": chain.name, "numbers": list(chain.numbers), "target": chain.target,
            "n_steps": chain.n_steps, "opened": list(chain.opened), "anchor": chain.anchor,
            "rule": [round(p, 4) for p in rule_curve(chain)], "finished": finished,
            "correct": correct, "mean_new_tokens": [round(t, 1) for t in tokens],
            "seconds": round(seconds, 1)})
        out.write_text(_pilot_json(done))
        print(f"{chain.name}: {n} x {len(cuts)} rollouts in {seconds:.0f} s; accuracy "
              + " ".join(f"{c / f:.2f}" if f else "-" for c, f in zip(correct, finished)),
              flush=True)


def read_organism(path: Path) -> list[Chain]:
    """The organism pilot's chains (`--measure-organism`): measured P(correct) per prefix, the
    planted steps and anchor from the rule's labels, the measured tokens and seconds.

    >>> row = {"name": "1,2,3->7", "opened": [1, 3, 5], "anchor": 5, "finished": [4, 4, 2],
    ...        "correct": [1, 2, 2], "mean_new_tokens": [30.0, 20.0, 10.0], "seconds": 6.0}
    >>> c = _organism_chain(row, rollouts=4)
    >>> c.rates, c.planted, c.anchor, c.seconds_per_rollout
    ((0.25, 0.5, 1.0), (1, 3, 5), 5, 0.5)
    """
    pilot = json.loads(path.read_text())
    n = int(pilot["rollouts_per_prefix"])
    return [_organism_chain(c, n) for c in pilot["chains"] if all(c["finished"])]


def _organism_chain(row: dict, rollouts: int) -> Chain:
    rates = tuple(c / f for c, f in zip(row["correct"], row["finished"]))
    return Chain(f"organism/{row['name']}", rates, planted=tuple(row["opened"]),
                 anchor=int(row["anchor"]), tokens=tuple(row["mean_new_tokens"]),
                 seconds_per_rollout=row["seconds"] / (rollouts * len(rates)))


def rule_chains(count: int, seed: int) -> list[Chain]:
    """The organism's chains at its rule's planted curve (`rule_curve`): no model, no pilot.

    >>> c = rule_chains(1, seed=3)[0]
    >>> c.name, c.planted, c.anchor, ranked_steps(np.diff(c.rates))  # the jump, then the falls
    ('rule/17,10,16->23', (1, 6, 11), 11, (11, 6, 1))
    """
    return [Chain(f"rule/{c.name}", rule_curve(c), planted=c.opened, anchor=c.anchor)
            for c in organism_chains(count, seed)]


def ranked_steps(values: np.ndarray) -> tuple[int, ...]:
    """The TOP steps by |importance| (step k = values[k - 1]), most important first; ties go to
    the earlier step.

    >>> ranked_steps(np.array([0.1, -0.5, 0.0, 0.5, 0.2]))
    (2, 4, 5)
    """
    order = sorted(range(len(values)), key=lambda i: (-abs(values[i]), i))
    return tuple(i + 1 for i in order[:TOP])


def top_steps(values: np.ndarray) -> frozenset[int]:
    """The TOP steps by |importance| as a set (`ranked_steps`)."""
    return frozenset(ranked_steps(values))


def fixed_run(rates: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
    """One fixed run: FIXED_N rollouts from every prefix; its top steps, most important first."""
    correct = rng.binomial(FIXED_N, rates) / FIXED_N  # [prefix]
    return ranked_steps(np.diff(correct))


def adaptive_run(rates: np.ndarray, rng: np.random.Generator,
                 config: adaptive.AdaptiveConfig) -> adaptive.AdaptiveResult:
    def sample(requests):
        out = []
        for r in requests:
            c = int(rng.binomial(r.n, rates[r.k]))
            out.append([RIGHT] * c + [WRONG] * (r.n - c))
        return out

    return adaptive.run_adaptive(range(len(rates)), sample, config)


@dataclasses.dataclass
class Tally:
    """Per (chain, repetition) outcomes of one group of chains."""

    chains: list[str] = dataclasses.field(default_factory=list)
    same_adaptive: list[float] = dataclasses.field(default_factory=list)  # adaptive == fixed A
    same_fixed: list[float] = dataclasses.field(default_factory=list)  # fixed B == fixed A
    overlap_adaptive: list[float] = dataclasses.field(default_factory=list)
    overlap_fixed: list[float] = dataclasses.field(default_factory=list)
    truth_adaptive: list[float] = dataclasses.field(default_factory=list)  # adaptive == true
    truth_fixed: list[float] = dataclasses.field(default_factory=list)  # fixed A == true
    # adaptive == fixed A, on the runs where fixed A found the true top 3 (chain of each)
    same_when_fixed_true: list[float] = dataclasses.field(default_factory=list)
    fixed_same_when_true: list[float] = dataclasses.field(default_factory=list)  # B == A there
    chains_fixed_true: list[str] = dataclasses.field(default_factory=list)
    share: list[float] = dataclasses.field(default_factory=list)  # adaptive / fixed rollouts
    rounds: list[int] = dataclasses.field(default_factory=list)
    seconds_fixed: float = 0.0
    seconds_adaptive: float = 0.0
    rollouts_fixed: int = 0
    rollouts_adaptive: int = 0
    # tokens, in units of whole chains: a rollout from prefix k of n rewrites the n - k steps left
    tokens_fixed: float = 0.0
    tokens_adaptive: float = 0.0
    # chains with a planted anchor (the organism): is it ranked first / in the top 3?
    anchor_chains: list[str] = dataclasses.field(default_factory=list)
    anchor_first_adaptive: list[float] = dataclasses.field(default_factory=list)
    anchor_first_fixed: list[float] = dataclasses.field(default_factory=list)  # fixed run A
    anchor_in_adaptive: list[float] = dataclasses.field(default_factory=list)
    anchor_in_fixed: list[float] = dataclasses.field(default_factory=list)
    # the same chains asked only for the top step (an adaptive run with top_k=1, its own draws)
    anchor_first_top1: list[float] = dataclasses.field(default_factory=list)
    rollouts_top1: int = 0
    # the organism's real rollouts at the pilot's measured seconds per rollout (0: none)
    real_seconds_fixed: float = 0.0
    real_seconds_adaptive: float = 0.0


def run_group(chains: list[Chain], reps: int, config: adaptive.AdaptiveConfig,
              rng: np.random.Generator) -> Tally:
    t = Tally()
    for chain in chains:
        rates = np.asarray(chain.rates)
        truth = frozenset(chain.planted) if chain.planted else top_steps(np.diff(rates))
        for _ in range(reps):
            start = time.perf_counter()
            ranked_a, b_ranked = fixed_run(rates, rng), fixed_run(rates, rng)
            t.seconds_fixed += (time.perf_counter() - start) / 2  # one fixed run's time
            start = time.perf_counter()
            result = adaptive_run(rates, rng, config)
            t.seconds_adaptive += time.perf_counter() - start
            a, b, d = frozenset(ranked_a), frozenset(b_ranked), frozenset(result.top)
            if chain.anchor is not None:
                t.anchor_chains.append(chain.name)
                t.anchor_first_adaptive.append(float(result.top[:1] == (chain.anchor,)))
                t.anchor_first_fixed.append(float(ranked_a[:1] == (chain.anchor,)))
                t.anchor_in_adaptive.append(float(chain.anchor in d))
                t.anchor_in_fixed.append(float(chain.anchor in a))
                one = adaptive_run(rates, rng, dataclasses.replace(config, top_k=1))
                t.anchor_first_top1.append(float(one.top == (chain.anchor,)))
                t.rollouts_top1 += one.generations
            if chain.seconds_per_rollout is not None:
                t.real_seconds_fixed += FIXED_N * len(rates) * chain.seconds_per_rollout
                t.real_seconds_adaptive += result.generations * chain.seconds_per_rollout
            t.chains.append(chain.name)
            t.same_adaptive.append(float(d == a))
            t.same_fixed.append(float(b == a))
            t.overlap_adaptive.append(len(d & a) / TOP)
            t.overlap_fixed.append(len(b & a) / TOP)
            t.truth_adaptive.append(float(d == truth))
            t.truth_fixed.append(float(a == truth))
            if a == truth:
                t.same_when_fixed_true.append(float(d == a))
                t.fixed_same_when_true.append(float(b == a))
                t.chains_fixed_true.append(chain.name)
            t.share.append(result.generations / (FIXED_N * len(rates)))
            t.rounds.append(result.rounds)
            t.rollouts_fixed += FIXED_N * len(rates)
            t.rollouts_adaptive += result.generations
            # [prefix] new tokens of one rollout: measured, or the share of the chain rewritten
            left = (np.asarray(chain.tokens) if chain.tokens is not None
                    else 1 - np.arange(len(rates)) / len(rates))
            t.tokens_fixed += FIXED_N * float(left.sum())
            t.tokens_adaptive += float(sum(len(p.outcomes) * left[p.k] for p in result.prefixes))
    return t


def _ci(values: list[float], clusters: list[str]) -> str:
    est = stats.mean_ci(values, clusters, unit="chain")
    lo, hi = est.ci if est.ci else (math.nan, math.nan)
    return f"{est.value:.2f} [{lo:.2f}, {hi:.2f}]"


def _diff(a: list[float], b: list[float], clusters: list[str]) -> str:
    est = stats.difference_ci(a, clusters, b, clusters, unit="chain")
    lo, hi = est.ci if est.ci else (math.nan, math.nan)
    return f"{est.value:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def report(name: str, t: Tally, reps: int, measured_tokens: bool = False) -> list[str]:
    n = len(set(t.chains))
    share = t.rollouts_adaptive / t.rollouts_fixed
    tokens_how = ("the pilot's measured new tokens per rollout from each prefix" if measured_tokens
                  else "a rollout from prefix k of n writes ~(n-k)/n of a chain")
    lines = [
        f"### {name}: {n} chains x {reps} repetitions",
        "",
        "| measure | adaptive | fixed (second run) |",
        "|---|---|---|",
        f"| rollouts, share of the fixed design's (pooled) | {share:.2f} "
        f"({t.rollouts_adaptive:,} of {t.rollouts_fixed:,}) | 1.00 |",
        f"| tokens, share of the fixed design's ({tokens_how}) | "
        f"{t.tokens_adaptive / t.tokens_fixed:.2f} | 1.00 |",
        f"| rollouts per chain, mean share | {_ci(t.share, t.chains)} | 1.00 |",
        f"| top 3 = fixed run A's (share of runs) | {_ci(t.same_adaptive, t.chains)} | "
        f"{_ci(t.same_fixed, t.chains)} |",
        f"| top 3 = fixed run A's, on the runs where A's is the true top 3 "
        f"({len(t.same_when_fixed_true)} runs) | "
        + (f"{_ci(t.same_when_fixed_true, t.chains_fixed_true)} | "
           f"{_ci(t.fixed_same_when_true, t.chains_fixed_true)} |" if t.same_when_fixed_true
           else "- | - |"),
        f"| top-3 overlap with fixed run A | {_ci(t.overlap_adaptive, t.chains)} | "
        f"{_ci(t.overlap_fixed, t.chains)} |",
        f"| top 3 = the true top 3 | {_ci(t.truth_adaptive, t.chains)} | "
        f"{_ci(t.truth_fixed, t.chains)} (run A) |",
        f"| top 3 = fixed run A's: adaptive minus fixed run B (paired by chain) | "
        f"{_diff(t.same_adaptive, t.same_fixed, t.chains)} | |",
        f"| top 3 = the true top 3: adaptive minus fixed run A (paired by chain) | "
        f"{_diff(t.truth_adaptive, t.truth_fixed, t.chains)} | |",
        f"| rounds (sequential batches) | {np.mean(t.rounds):.1f} (max {max(t.rounds)}) | 1 |",
        f"| wall time, simulation only | {t.seconds_adaptive:.1f} s | {t.seconds_fixed:.2f} s |",
    ]
    if t.anchor_chains:
        lines[-2:-2] = [
            f"| the planted anchor ranked first | {_ci(t.anchor_first_adaptive, t.anchor_chains)} "
            f"| {_ci(t.anchor_first_fixed, t.anchor_chains)} (run A) |",
            f"| the planted anchor in the top 3 | {_ci(t.anchor_in_adaptive, t.anchor_chains)} | "
            f"{_ci(t.anchor_in_fixed, t.anchor_chains)} (run A) |",
            f"| anchor ranked first: adaptive minus fixed run A (paired by chain) | "
            f"{_diff(t.anchor_first_adaptive, t.anchor_first_fixed, t.anchor_chains)} | |",
            f"| asked only for the top step (adaptive, top_k=1): the anchor ranked first; "
            f"rollouts, share of the fixed design's | "
            f"{_ci(t.anchor_first_top1, t.anchor_chains)}; "
            f"{t.rollouts_top1 / t.rollouts_fixed:.2f} | |",
        ]
    if t.real_seconds_fixed:
        lines.append(f"| organism sampling time at the pilot's measured s per rollout, per chain "
                     f"run | {t.real_seconds_adaptive / len(t.chains):.0f} s | "
                     f"{t.real_seconds_fixed / len(t.chains):.0f} s |")
    return lines + [""]


def curve_check(chains: list[Chain]) -> str:
    """How often the measured curve itself has the planted steps as its top 3, and the anchor
    first: what the pilot's rates make findable at all.

    >>> c = Chain("x", (0.5, 0.3, 0.3, 0.1, 1.0), planted=(1, 3, 4), anchor=4)
    >>> print(curve_check([c]))
    measured curves: top 3 = the planted steps in 1 of 1 chains; the anchor first in 1 of 1
    """
    top3 = sum(top_steps(np.diff(c.rates)) == frozenset(c.planted or ()) for c in chains)
    first = sum(ranked_steps(np.diff(c.rates))[:1] == (c.anchor,) for c in chains)
    return (f"measured curves: top 3 = the planted steps in {top3} of {len(chains)} chains; "
            f"the anchor first in {first} of {len(chains)}")


def parse_set(pairs: list[str]) -> dict:
    fields = {f.name: f.type for f in dataclasses.fields(adaptive.AdaptiveConfig)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in fields:
            raise UsageError(f"--set {pair!r}: use FIELD=VALUE with FIELD one of {sorted(fields)}")
        kind = {"int": int, "float": float, "str": str}[str(fields[key])]
        try:
            out[key] = kind(value)
        except ValueError:
            what = {"int": "a whole number", "float": "a number", "str": "text"}[str(fields[key])]
            raise UsageError(f"--set {pair!r}: {key} takes {what}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="Thought Anchors' chains: the "
                        "folder holding <model>/<correct|incorrect>_base_solution/problem_<id>/ "
                        "(left out: no published chains)")
    parser.add_argument("--reps", type=int, default=10, help="repetitions per chain")
    parser.add_argument("--planted", type=int, default=40, help="simulated planted chains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="an AdaptiveConfig field (first_round, round_size, "
                        "target_half_width, top_k is fixed at 3, max_per_prefix, budget)")
    parser.add_argument("--organism", type=Path, default=ORGANISM_RATES,
                        help="the organism pilot's measured rates (default: the committed "
                        f"{ORGANISM_RATES.name}; skipped when that file is absent)")
    parser.add_argument("--measure-organism", action="store_true",
                        help="measure the pilot instead: real rollouts of tinythinker-"
                        f"{ORGANISM_VARIANT} from every prefix, written to --organism")
    parser.add_argument("--organism-chains", type=int, default=6,
                        help="chains measured by --measure-organism")
    parser.add_argument("--organism-rule", action="store_true",
                        help="also simulate the organism's chains at its rule's planted curve "
                        "(no model; --organism-chains of them)")
    parser.add_argument("--organism-reps", type=int, default=50,
                        help="repetitions per organism chain (its own random stream)")
    parser.add_argument("--organism-rollouts", type=int, default=40,
                        help="rollouts per prefix of --measure-organism")
    args = parser.parse_args(argv)
    if args.measure_organism:
        try:
            if args.organism_chains < 1 or args.organism_rollouts < 1:
                raise UsageError(f"--organism-chains {args.organism_chains} / "
                                 f"--organism-rollouts {args.organism_rollouts}: use >= 1")
            to_measure = organism_chains(args.organism_chains, args.seed)
            measure_organism(to_measure, args.organism_rollouts, args.seed, args.organism)
        except UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    try:
        config = adaptive.AdaptiveConfig(**{"top_k": TOP, **parse_set(args.set)})
        if config.top_k != TOP:
            raise UsageError(f"the bench compares the top {TOP}; "
                             "leave top_k alone")
        if args.reps < 1 or args.planted < 0 or args.organism_reps < 1:
            raise UsageError(f"--reps {args.reps} / --planted {args.planted} / --organism-reps "
                             f"{args.organism_reps}: use reps >= 1, planted >= 0")
        published = []
        if args.folder is not None:
            if not args.folder.is_dir():
                raise UsageError(f"{args.folder} is not a folder; pass Thought Anchors' chains "
                                 "folder")
            published = read_published(args.folder)
        organism = []
        if args.organism.is_file():
            organism = read_organism(args.organism)
        elif args.organism != ORGANISM_RATES:
            raise UsageError(f"--organism {args.organism}: no such file; measure it with "
                             "--measure-organism")
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    print(f"config: {config}")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    groups = [("published chains", published, args.reps, rng),
              ("planted chains", planted_chains(args.planted, rng), args.reps, rng),
              # its own stream: the same figures with or without the other groups
              (f"organism chains (tinythinker-{ORGANISM_VARIANT}, simulated at measured rates)",
               organism, args.organism_reps, np.random.default_rng([args.seed, 28])),
              ("organism chains at the rule's planted curve (no model)",
               rule_chains(args.organism_chains, args.seed) if args.organism_rule else [],
               args.organism_reps, np.random.default_rng([args.seed, 29]))]
    tallies = []
    for name, chains, reps, stream in groups:
        if not chains:
            continue
        t = run_group(chains, reps, config, stream)
        tallies.append((name, t))
        print("\n".join(report(name, t, reps, measured_tokens=chains[0].tokens is not None)))
        if chains[0].anchor is not None:
            print(curve_check(chains) + "\n")
    for name, t in tallies:
        agreement = float(np.mean(t.same_adaptive))
        share = t.rollouts_adaptive / t.rollouts_fixed
        ok = agreement >= TARGET_AGREEMENT and share <= TARGET_SHARE
        print(f"{name}: adaptive top 3 = fixed's in {agreement:.1%} of runs (target >= "
              f"{TARGET_AGREEMENT:.0%}; fixed vs fixed {np.mean(t.same_fixed):.1%}) with "
              f"{share:.1%} of its rollouts (target <= {TARGET_SHARE:.0%}): "
              f"{'met' if ok else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
