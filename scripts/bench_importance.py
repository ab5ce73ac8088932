"""Benchmark: Thought Anchors' fixed 100-rollout design against adaptive resampling, side by side.

Both designs estimate every step's resampling importance (P(correct) from prefix k minus from
prefix k-1) on chains whose true per-prefix accuracies are known, and rank steps by |importance|:

- **published chains**: the per-sentence `accuracy` published with Thought Anchors' chains
  (`<folder>/<model>/<correct|incorrect>_base_solution/problem_<id>/chunks_labeled.json`; only that
  field is read, no text is kept or printed). A rollout from prefix k is right with probability
  accuracy[k] (a binomial draw at the published rate), so the true importances are the published
  curve's differences;
- **planted chains** (`--planted`, simulated): 100 steps whose accuracy holds still, up to a small
  jitter, except for three planted jumps of 0.3 to 0.5: the true top 3 is known by construction.

Per chain and repetition: two independent fixed runs (A, B: 100 rollouts from every prefix) and one
adaptive run (`starter.adaptive`, its own draws). Reported: rollouts used, the share of runs whose
adaptive top 3 (as a set) equals fixed run A's, the same share for fixed run B (the ceiling: the
fixed design is noisy, so it does not agree with itself either), the mean overlap of the top 3, and
the share that equals the true top 3 (the published curve's, or the planted jumps). Shares carry
95% intervals clustered by chain (`starter.stats.mean_ci`), chains being the independent units.
The goal (issue #28): the same top 3 as the fixed design in >= 95% of chains with <= 40% of its
rollouts. Wall time is the simulation's (no model): the number of rounds is what adds latency.

    python scripts/bench_importance.py /work/data/ta              # ~1-2 minutes on 2 cores
    python scripts/bench_importance.py /work/data/ta --reps 20 --planted 40 --set round_size=10
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

import numpy as np

from starter import adaptive, stats
from starter.errors import UsageError
from starter.importance import Outcome

FIXED_N = 100  # Thought Anchors' rollouts per prefix
TOP = 3  # the ranking compared
TARGET_AGREEMENT = 0.95  # same top 3 as the fixed design in >= 95% of chains
TARGET_SHARE = 0.40  # with <= 40% of its rollouts
RIGHT, WRONG = Outcome(correct=True, finished=True), Outcome(correct=False, finished=True)


@dataclasses.dataclass(frozen=True)
class Chain:
    """One chain's true accuracy per prefix (no text)."""

    name: str  # model/solution/problem_<id>, or planted_<i>
    rates: tuple[float, ...]  # P(correct) of a rollout from prefix k, k = 0 .. n-1
    planted: tuple[int, ...] | None = None  # the planted anchors' steps (simulated chains only)


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
        chains.append(Chain(name, tuple(min(1.0, max(0.0, float(r))) for r in rates)))
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


def top_steps(values: np.ndarray) -> frozenset[int]:
    """The TOP steps by |importance| (step k = values[k - 1]); ties go to the earlier step."""
    order = sorted(range(len(values)), key=lambda i: (-abs(values[i]), i))
    return frozenset(i + 1 for i in order[:TOP])


def fixed_run(rates: np.ndarray, rng: np.random.Generator) -> frozenset[int]:
    correct = rng.binomial(FIXED_N, rates) / FIXED_N  # [prefix]
    return top_steps(np.diff(correct))


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


def run_group(chains: list[Chain], reps: int, config: adaptive.AdaptiveConfig,
              rng: np.random.Generator) -> Tally:
    t = Tally()
    for chain in chains:
        rates = np.asarray(chain.rates)
        truth = frozenset(chain.planted) if chain.planted else top_steps(np.diff(rates))
        for _ in range(reps):
            start = time.perf_counter()
            a, b = fixed_run(rates, rng), fixed_run(rates, rng)
            t.seconds_fixed += (time.perf_counter() - start) / 2  # one fixed run's time
            start = time.perf_counter()
            result = adaptive_run(rates, rng, config)
            t.seconds_adaptive += time.perf_counter() - start
            d = frozenset(result.top)
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
            left = 1 - np.arange(len(rates)) / len(rates)  # [prefix] share of the chain rewritten
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


def report(name: str, t: Tally, reps: int) -> list[str]:
    n = len(set(t.chains))
    share = t.rollouts_adaptive / t.rollouts_fixed
    lines = [
        f"### {name}: {n} chains x {reps} repetitions",
        "",
        "| measure | adaptive | fixed (second run) |",
        "|---|---|---|",
        f"| rollouts, share of the fixed design's (pooled) | {share:.2f} "
        f"({t.rollouts_adaptive:,} of {t.rollouts_fixed:,}) | 1.00 |",
        f"| tokens, share of the fixed design's (a rollout from prefix k of n writes ~(n-k)/n of "
        f"a chain) | {t.tokens_adaptive / t.tokens_fixed:.2f} | 1.00 |",
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
        "",
    ]
    return lines


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
    parser.add_argument("folder", type=Path, help="Thought Anchors' chains: the folder holding "
                        "<model>/<correct|incorrect>_base_solution/problem_<id>/")
    parser.add_argument("--reps", type=int, default=10, help="repetitions per chain")
    parser.add_argument("--planted", type=int, default=40, help="simulated planted chains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="an AdaptiveConfig field (first_round, round_size, "
                        "target_half_width, top_k is fixed at 3, max_per_prefix, budget)")
    args = parser.parse_args(argv)
    try:
        config = adaptive.AdaptiveConfig(**{"top_k": TOP, **parse_set(args.set)})
        if config.top_k != TOP:
            raise UsageError(f"the bench compares the top {TOP}; "
                             "leave top_k alone")
        if args.reps < 1 or args.planted < 0:
            raise UsageError(f"--reps {args.reps} / --planted {args.planted}: use reps >= 1, "
                             "planted >= 0")
        if not args.folder.is_dir():
            raise UsageError(f"{args.folder} is not a folder; pass Thought Anchors' chains folder")
        published = read_published(args.folder)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    print(f"config: {config}")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    groups = [("published chains", published, args.reps),
              ("planted chains", planted_chains(args.planted, rng), args.reps)]
    tallies = []
    for name, chains, reps in groups:
        if not chains:
            continue
        t = run_group(chains, reps, config, rng)
        tallies.append((name, t))
        print("\n".join(report(name, t, reps)))
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
