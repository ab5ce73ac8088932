"""Adaptive resampling: Thought Anchors' importance ranking for a fraction of its rollouts.

Thought Anchors draws 100 rollouts from every prefix of a chain (about 15,000 generations for a
150-step chain), although most steps change the answer by little and are clearly not among the
most important. This module samples in rounds instead and stops each step as soon as its question
is answered, read from the step's own interval (`importance.accuracy_difference`, Newcombe's) at
`stop_level` (80% by default: cheaper than 95%, and in scripts/bench_importance.py it finds the
top 3 as often as the fixed design; every interval the result reports is 95%):

- round 0 draws `first_round` rollouts from every prefix;
- a step (resampling importance of step k: prefix k against prefix k-1) is *settled* when its
  interval is at most `target_half_width` wide on each side, or when the intervals show it surely
  in the top `top_k` (fewer than `top_k` other steps could still outrank it by more than
  `indifference`), or surely out of it (`top_k` other steps lie above it, less `indifference`);
  while any step is unsettled, the current top `top_k` keep sampling too, since their lower ends
  are what the others are measured against;
- every later round draws `round_size` more rollouts from each prefix that an unsettled step uses,
  up to `max_per_prefix` (the fixed design's count); when a `budget` cap leaves too few for all of
  them, the prefixes of the widest unsettled intervals go first;
- the run stops when every step is settled, every open prefix is full, or the budget is spent.

Sampling is a callback, `sample(requests) -> outcomes`, called once per round with every request
of that round (a batch for the local sampler, concurrent requests for a server), so the same loop
runs on the local sampler and on the OpenAI-compatible backend. `Request.start` is how many rollouts
that prefix already has: a seeded sampler draws samples start .. start+n-1, so a resumed run asks
for exactly what the killed one would have.

Resumable: with a row store (`starter.results.RunStore` or anything with `rows`, `done`, `append`),
each round is written as one row (`kind` "adaptive_round") once its rollouts are back; a rerun
replays those rows (checking that each replayed round asks what the rules ask) and continues. A
round killed before its row was written is drawn again.

>>> from starter.importance import Outcome
>>> rates = {0: 0.1, 1: 0.1, 2: 0.9, 3: 0.9}  # step 2 (prefix 1 -> 2) is the anchor
>>> def sample(requests):  # deterministic: the first round(rate * 10) of every 10 are right
...     return [[Outcome(correct=(r.start + j) % 10 < rates[r.k] * 10, finished=True)
...              for j in range(r.n)] for r in requests]
>>> result = run_adaptive([0, 1, 2, 3], sample, AdaptiveConfig(top_k=1, first_round=10))
>>> result.top, result.generations, result.rounds
((2,), 40, 1)
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from starter import importance, stats
from starter.errors import UsageError
from starter.importance import Outcome, PrefixRollouts, StepImportance

__all__ = ["AdaptiveConfig", "Request", "StepStatus", "AdaptiveResult", "run_adaptive",
           "decide", "model_sampler", "round_seed", "ROW_KIND"]

ROW_KIND = "adaptive_round"  # the `kind` of the rows that record one round's rollouts
Status = Literal["in", "out", "narrow", "open"]


@dataclass(frozen=True)
class AdaptiveConfig:
    """How adaptive resampling spends rollouts (each field can be a starter's `--set` field)."""

    first_round: int = 10  # rollouts every prefix gets before any step may stop
    round_size: int = 10  # rollouts added per round to each prefix an unsettled step still uses
    # a step is settled once its interval (at stop_level) is this narrow on each side
    target_half_width: float = 0.05
    top_k: int = 3  # the ranking to decide: a step also stops once surely in or out of the top k
    # importances closer than this count as tied: a step is out once top_k steps lie above it
    # less this margin (0: exact top-k identification, which never stops on a tie)
    indifference: float = 0.1
    # level of the intervals the stopping rules read (reported intervals stay at 95%); lower stops
    # sooner and errs more often: each step is tested every round
    stop_level: float = 0.8
    max_per_prefix: int = 150  # no prefix gets more (1.5x the fixed design: contested steps)
    budget: int = 0  # most rollouts per chain over all rounds (0: no cap but max_per_prefix)
    rank_by: str = "abs"  # "abs": rank by |importance| (a step that breaks counts); "value"

    def __post_init__(self) -> None:
        for name in ("first_round", "round_size", "top_k", "max_per_prefix"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name}={getattr(self, name)!r}: use a whole number >= 1")
        if self.first_round > self.max_per_prefix:
            raise UsageError(f"first_round={self.first_round} exceeds max_per_prefix="
                             f"{self.max_per_prefix}; use first_round <= max_per_prefix")
        if not 0 < self.target_half_width <= 1:
            raise UsageError(f"target_half_width={self.target_half_width!r}: use a number in "
                             "(0, 1]")
        if not 0 <= self.indifference < 1:
            raise UsageError(f"indifference={self.indifference!r}: use a number in [0, 1)")
        if not 0.5 <= self.stop_level < 1:
            raise UsageError(f"stop_level={self.stop_level!r}: use a number in [0.5, 1)")
        if self.budget < 0:
            raise UsageError(f"budget={self.budget!r}: use 0 (no cap) or a positive count")
        if self.rank_by not in ("abs", "value"):
            raise UsageError(f"rank_by={self.rank_by!r}: use 'abs' or 'value'")


@dataclass(frozen=True)
class Request:
    """Rollouts to draw from one prefix in one round."""

    k: int  # the prefix: steps of the chain kept (as PrefixRollouts.k)
    n: int  # how many rollouts to draw
    start: int  # rollouts this prefix already has (a seeded sampler's first sample index)


Sampler = Callable[[Sequence[Request]], Sequence[Sequence[Outcome]]]


class RowStore(Protocol):
    """What `run_adaptive` needs of a run's row store (`starter.results.RunStore` has it)."""

    def rows(self) -> list[dict]: ...

    def done(self, unit: str) -> bool: ...

    def append(self, row: dict) -> None: ...


@dataclass(frozen=True)
class StepStatus:
    """One step after the last round: its importance and why it stopped (or did not)."""

    importance: StepImportance  # resampling importance (accuracy) with its 95% interval
    status: Status  # "in"/"out": surely in/out of the top k; "narrow": interval narrow; "open"


@dataclass(frozen=True)
class AdaptiveResult:
    """What an adaptive run drew and what it found."""

    prefixes: tuple[PrefixRollouts, ...]  # every rollout drawn, by prefix (for importance.*)
    steps: tuple[StepStatus, ...]  # every step with both prefixes, in step order
    top: tuple[int, ...]  # the top_k steps by point estimate, most important first
    generations: int  # rollouts drawn over all rounds (resumed rounds included)
    rounds: int  # rounds drawn
    complete: bool  # every step settled or its prefixes full; False: the budget ran out first


@dataclass
class _Prefix:
    """The running counts of one prefix."""

    drawn: int = 0  # rollouts requested and returned
    finished: int = 0  # of them, finished (counted by the measures)
    correct: int = 0  # of the finished, correct


def decide(counts: Mapping[int, tuple[int, int, int]], config: AdaptiveConfig,
           spent: int = 0) -> tuple[list[Request], dict[int, StepStatus]]:
    """The next round's requests and every step's status, from counts per prefix.

    `counts[k] = (drawn, finished, correct)`; `spent` rollouts already drawn count against the
    budget. A pure function of its inputs, so a replayed run takes the same decisions. Step k
    (prefix k-1 -> k) exists when both prefixes are present.

    >>> cfg = AdaptiveConfig(top_k=1)
    >>> counts = {0: (10, 10, 3), 1: (10, 10, 5), 2: (10, 10, 9), 3: (100, 100, 90)}
    >>> todo, status = decide(counts, cfg)  # steps 1 and 2 (0.2, 0.4) could each be the top
    >>> {k: s.status for k, s in status.items()}, [(r.k, r.n, r.start) for r in todo]
    ({1: 'open', 2: 'open', 3: 'out'}, [(0, 10, 10), (1, 10, 10), (2, 10, 10)])
    >>> capped = AdaptiveConfig(top_k=1, budget=150)  # 20 left: the widest intervals first
    >>> [(r.k, r.n) for r in decide(counts, capped, spent=130)[0]]
    [(0, 10), (1, 10)]
    """
    steps = {k: importance.accuracy_difference(counts[k][2], counts[k][1],
                                               counts[k - 1][2], counts[k - 1][1])
             for k in sorted(counts) if k - 1 in counts}
    rule = steps if config.stop_level == stats.LEVEL else {
        k: importance.accuracy_difference(counts[k][2], counts[k][1], counts[k - 1][2],
                                          counts[k - 1][1], level=config.stop_level)
        for k in steps}
    by = "abs" if config.rank_by == "abs" else "value"
    score_ci = {k: importance.score_interval(e.ci, by) for k, e in rule.items()}
    known = {k: ci for k, ci in score_ci.items() if ci is not None}
    lows = sorted(c[0] for c in known.values())
    highs = sorted(c[1] for c in known.values())
    status: dict[int, StepStatus] = {}
    for k, est in steps.items():
        ci = known.get(k)
        state: Status = "open"
        if ci is not None:
            margin = config.indifference
            # others wholly above it (less the margin), and others that could still outrank it
            above = (len(lows) - bisect.bisect_right(lows, ci[1] - margin)
                     - (ci[0] > ci[1] - margin))
            could = (len(highs) - bisect.bisect_right(highs, ci[0] + margin)
                     - (ci[1] > ci[0] + margin))
            if above >= config.top_k:
                state = "out"  # top_k steps lie above it (up to the margin)
            elif could < config.top_k:
                state = "in"  # fewer than top_k other steps could still outrank it by the margin
            elif max(rule[k].value - rule[k].ci[0],
                     rule[k].ci[1] - rule[k].value) <= config.target_half_width:
                state = "narrow"
        record = StepImportance(step=k, value=est.value, n_with=counts[k][1],
                                n_without=counts[k - 1][1], ci=est.ci)
        status[k] = StepStatus(importance=record, status=state)
    # a prefix stays open while a step that uses it (steps k and k+1) is open and it has room;
    # while any step is open, so are the current leaders (the top_k by point estimate): their
    # lower ends are what the open steps are measured against, and only rollouts raise them
    open_steps = {k for k, s in status.items() if s.status == "open"}
    if open_steps:
        open_steps |= set(_top(list(status.values()), config))
    width = {k: (s.importance.ci[1] - s.importance.ci[0]) if s.importance.ci else math.inf
             for k, s in status.items() if k in open_steps}
    wanted = {}
    for k in sorted(counts):
        widest = max(width.get(k, -1.0), width.get(k + 1, -1.0))
        room = config.max_per_prefix - counts[k][0]
        if widest >= 0 and room > 0:
            wanted[k] = (widest, min(config.round_size, room))
    left = math.inf if config.budget == 0 else config.budget - spent
    requests = []
    for k in sorted(wanted, key=lambda k: (-wanted[k][0], k)):  # widest intervals first
        n = int(min(wanted[k][1], left))
        if n <= 0:
            break
        requests.append(Request(k=k, n=n, start=counts[k][0]))
        left -= n
    return sorted(requests, key=lambda r: r.k), status


def run_adaptive(ks: Sequence[int], sample: Sampler, config: AdaptiveConfig | None = None,
                 next_steps: Mapping[int, str | None] | None = None,
                 store: RowStore | None = None, chain: str = "chain") -> AdaptiveResult:
    """Sample the prefixes `ks` of one chain in rounds until its ranking is decided.

    `next_steps[k]` is the original step k+1 (kept on the returned `PrefixRollouts` for the
    counterfactual measure). With `store`, every round is a row (unit
    "adaptive:<chain>:round<r>") and a rerun on the same store resumes after the last written
    round. A doctest on a deterministic sampler is in the module docstring.
    """
    config = config or AdaptiveConfig()
    ks = sorted(set(ks))
    if len(ks) < 2:
        raise UsageError(f"adaptive resampling needs at least two prefixes; got ks={ks}")
    if config.budget and config.budget < config.first_round * len(ks):
        raise UsageError(f"budget={config.budget} is below the first round "
                         f"({config.first_round} x {len(ks)} prefixes = "
                         f"{config.first_round * len(ks)}); raise budget or lower first_round")
    state = {k: _Prefix() for k in ks}
    drawn: dict[int, list[Outcome]] = {k: [] for k in ks}
    first = [Request(k=k, n=config.first_round, start=0) for k in ks]
    rounds = spent = 0
    replay = _stored_rounds(store, chain) if store is not None else []
    while True:
        if rounds == 0:
            requests, status = first, {}
        else:
            requests, status = decide({k: (p.drawn, p.finished, p.correct)
                                       for k, p in state.items()}, config, spent)
        if not requests:
            break
        if rounds < len(replay):
            got = _replayed(replay[rounds], requests, chain)
        else:
            got = [tuple(x) for x in sample(requests)]
            _check_returned(requests, got)
            if store is not None:
                store.append(_round_row(chain, rounds, requests, got))
        for r, outs in zip(requests, got):
            p = state[r.k]
            p.drawn += r.n
            p.finished += sum(o.finished for o in outs)
            p.correct += sum(o.finished and o.correct for o in outs)
            drawn[r.k].extend(outs)
        spent += sum(r.n for r in requests)
        rounds += 1
    if len(replay) > rounds:
        raise UsageError(f"chain {chain}: the store holds {len(replay)} adaptive rounds but the "
                         f"rules stop after {rounds}; the config changed: use a new --out")
    steps = tuple(status[k] for k in sorted(status))
    complete = all(s.status != "open" or all(state[j].drawn >= config.max_per_prefix
                                             for j in (s.importance.step - 1, s.importance.step))
                   for s in steps)
    return AdaptiveResult(
        prefixes=tuple(PrefixRollouts(k=k, next_step=(next_steps or {}).get(k),
                                      outcomes=tuple(drawn[k])) for k in ks),
        steps=steps, top=_top(steps, config), generations=spent, rounds=rounds,
        complete=complete)


def _top(steps: Sequence[StepStatus], config: AdaptiveConfig) -> tuple[int, ...]:
    by = "abs" if config.rank_by == "abs" else "value"
    ranked = importance.rank_steps([s.importance for s in steps], by=by)
    return tuple(r.step for r in ranked[:config.top_k])


# ------------------------------------------------------------- a sampler on a model or a server


def round_seed(seed: int, start: int) -> int:
    """The sampling seed of rollouts start, start+1, ... of a prefix: a 31-bit key of both, so
    every round draws fresh samples and a resumed round draws the same ones.

    >>> round_seed(0, 0) == round_seed(0, 0) != round_seed(0, 10)
    True
    """
    digest = hashlib.sha256(f"adaptive:{seed}:{start}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def model_sampler(model: Any, prompt: str, cuts: Mapping[int, Any], sampling: Any,
                  grade: Callable[[Any, Any], Outcome]) -> Sampler:
    """A `Sampler` that continues `prompt + cuts[k].text` on a loaded model or a server.

    `model` is what `starter.rollouts.sample` takes: a local `LoadedModel` or the OpenAI-compatible
    backend's `RemoteModel` (`--backend openai`), which sends a round's requests concurrently.
    `cuts[k]` is the `starter.prefixes.Prefix` of prefix k; `sampling` a `rollouts.SamplingConfig`;
    `grade(cut, completion)` turns one continuation into an `Outcome`. One round is one
    `rollouts.sample` call per distinct (n, start) among its requests (usually one: every open
    prefix asks for `round_size` from the same start), seeded by `round_seed(sampling.seed,
    start)`. Example on the organism: tests/test_adaptive.py.
    """
    from starter import rollouts

    def sample(requests: Sequence[Request]) -> list[list[Outcome]]:
        groups: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.n, r.start), []).append(i)
        out: list[list[Outcome]] = [[] for _ in requests]
        for (n, start), members in groups.items():
            how = dataclasses.replace(sampling, seed=round_seed(sampling.seed, start))
            texts = [prompt + cuts[requests[i].k].text for i in members]
            for i, completions in zip(members, rollouts.sample(model, texts, n, how,
                                                               progress=False)):
                out[i] = [grade(cuts[requests[i].k], c) for c in completions]
        return out

    return sample


# ------------------------------------------------------------------------------- rows (resume)


def _unit(chain: str, round_: int) -> str:
    return f"adaptive:{chain}:round{round_}"


def _round_row(chain: str, round_: int, requests: Sequence[Request],
               got: Sequence[Sequence[Outcome]]) -> dict:
    return {"unit": _unit(chain, round_), "kind": ROW_KIND, "chain": chain, "round": round_,
            "draws": [{"k": r.k, "n": r.n, "start": r.start,
                       "outcomes": [vars(o) for o in outs]} for r, outs in zip(requests, got)]}


def _stored_rounds(store: RowStore, chain: str) -> list[dict]:
    """This chain's stored rounds 0, 1, ... (marked as asked); a gap ends the replay."""
    rows = {r["round"]: r for r in store.rows()
            if r.get("kind") == ROW_KIND and r.get("chain") == chain}
    out = []
    while len(out) in rows and store.done(_unit(chain, len(out))):
        out.append(rows[len(out)])
    return out


def _replayed(row: Mapping[str, Any], requests: Sequence[Request],
              chain: str) -> list[tuple[Outcome, ...]]:
    asked = [(r.k, r.n, r.start) for r in requests]
    stored = [(d["k"], d["n"], d["start"]) for d in row["draws"]]
    if asked != stored:
        raise UsageError(f"chain {chain}, adaptive round {row['round']}: the stored row drew "
                         f"{stored[:3]}... but the rules now ask {asked[:3]}...; the config or "
                         "the data changed: use a new --out")
    return [tuple(Outcome(**o) for o in d["outcomes"]) for d in row["draws"]]


def _check_returned(requests: Sequence[Request], got: Sequence[Sequence[Outcome]]) -> None:
    if len(got) != len(requests) or any(len(g) != r.n for r, g in zip(requests, got)):
        raise ValueError(f"the sampler returned {[len(g) for g in got][:5]} outcomes for "
                         f"requests of {[r.n for r in requests][:5]}; return one list of r.n "
                         "outcomes per request, in order")
