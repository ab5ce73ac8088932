"""starter.adaptive: rounds, stopping rules, the budget cap and resuming, on deterministic samplers.

The fake sampler is exact: from a prefix with rate r (a multiple of 0.1), sample j is right when
j % 10 < 10 r, so every 10 consecutive samples hold exactly 10 r right ones and every count is
known by hand.
"""

from __future__ import annotations

import math

import pytest

from starter import adaptive
from starter.adaptive import AdaptiveConfig, Request, decide, run_adaptive
from starter.errors import UsageError
from starter.importance import Outcome
from starter.results import RunStore


class Exact:
    """Deterministic sampler over per-prefix rates; records every request it was sent."""

    def __init__(self, rates: dict[int, float], fail_on_call: int | None = None):
        self.rates = rates
        self.calls: list[list[Request]] = []
        self.fail_on_call = fail_on_call

    def __call__(self, requests):
        self.calls.append(list(requests))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt("killed mid-run")
        return [[Outcome(correct=(r.start + j) % 10 < round(self.rates[r.k] * 10), finished=True)
                 for j in range(r.n)] for r in requests]


# 30 prefixes at 0.5, one planted jump to 0.9 at prefix 12 (step 12), back down at prefix 20
PLANTED = {k: (0.9 if 12 <= k < 20 else 0.5) for k in range(30)}


def test_config_refuses_bad_values_with_one_line():
    for bad in (dict(first_round=0), dict(target_half_width=0.0), dict(top_k=0),
                dict(first_round=300), dict(budget=-1), dict(rank_by="size"),
                dict(indifference=1.0), dict(stop_level=0.3)):
        with pytest.raises(UsageError) as err:
            AdaptiveConfig(**bad)
        name = next(iter(bad))
        assert name in str(err.value) and "\n" not in str(err.value)


def test_decide_by_hand():
    # prefixes at 10/100, 10/100, 90/100, 90/100: step 2 = +0.8, steps 1 and 3 = 0
    counts = {0: (100, 100, 10), 1: (100, 100, 10), 2: (100, 100, 90), 3: (100, 100, 90)}
    cfg = AdaptiveConfig(top_k=1, stop_level=0.95, indifference=0.0, max_per_prefix=100)
    todo, status = decide(counts, cfg)
    # step 1: Newcombe for 10/100 - 10/100 is about +-0.08, so |d| lies in [0, 0.08]; step 2's
    # lower end is about 0.7: step 2 is surely the top 1, steps 1 and 3 surely not
    assert {k: s.status for k, s in status.items()} == {1: "out", 2: "in", 3: "out"}
    assert status[2].importance.value == pytest.approx(0.8)
    assert todo == [], "every step settled: nothing more to draw"
    # the same counts at 10 rollouts per prefix cannot tell: 1/10 vs 1/10 spans [-0.37, 0.37]
    small = {k: (10, 10, c // 10) for k, (_, _, c) in counts.items()}
    todo, status = decide(small, cfg)
    assert status[2].status == "in" and status[1].status == "out"


def test_a_planted_anchor_is_found_with_fewer_rollouts():
    sampler = Exact(PLANTED)
    result = run_adaptive(range(30), sampler, AdaptiveConfig(top_k=2))
    assert set(result.top) == {12, 20}, "the two planted jumps (+0.4 at 12, -0.4 at 20)"
    assert result.generations < 30 * 100 * 0.4, "well under the fixed design's 3000"
    assert result.complete
    # round 0 asks every prefix for first_round rollouts, starting at sample 0
    assert [(r.k, r.n, r.start) for r in sampler.calls[0]] == [(k, 10, 0) for k in range(30)]
    # later requests continue where each prefix left off, one batch per round
    seen: dict[int, int] = {}
    for call in sampler.calls:
        for r in call:
            assert r.start == seen.get(r.k, 0)
            seen[r.k] = r.start + r.n
    assert len(sampler.calls) == result.rounds
    assert sum(len(p.outcomes) for p in result.prefixes) == result.generations


def test_the_stopping_rule_stops_on_a_chain_with_no_anchor():
    # a flat chain: every step ties. Exact top-k identification (indifference 0) cannot decide
    # a tie, so it draws until every prefix is full and stops there: 5 x 40 = 200 rollouts.
    flat = {k: 0.5 for k in range(5)}
    exact = run_adaptive(range(5), Exact(flat), AdaptiveConfig(
        top_k=1, indifference=0.0, target_half_width=0.01, max_per_prefix=40))
    assert exact.generations == 5 * 40 and exact.rounds == 4  # 10 + 3 rounds of 10
    assert all(s.status == "open" for s in exact.steps) and exact.complete
    # with an indifference of 0.3, ties stop as soon as no step can beat another by 0.3
    tied = run_adaptive(range(5), Exact(flat), AdaptiveConfig(
        top_k=1, indifference=0.3, target_half_width=0.01, max_per_prefix=40))
    assert tied.generations < exact.generations
    assert all(s.status in ("in", "out") for s in tied.steps)


def test_narrow_intervals_stop_a_step():
    # accuracy 1.0 everywhere: Wilson's interval for 10/10 is [0.72, 1], so a difference of two
    # such sides has half-width about 0.28 and stops at target 0.3 after the first round
    ones = {k: 1.0 for k in range(4)}
    result = run_adaptive(range(4), Exact(ones), AdaptiveConfig(
        top_k=1, target_half_width=0.3, indifference=0.0, stop_level=0.95))
    assert result.rounds == 1 and result.generations == 40


def test_the_budget_caps_the_rollouts():
    result = run_adaptive(range(30), Exact(PLANTED), AdaptiveConfig(top_k=2, budget=400))
    assert result.generations <= 400
    assert not result.complete, "steps were still open when the budget ran out"
    with pytest.raises(UsageError, match="budget=100 is below the first round"):
        run_adaptive(range(30), Exact(PLANTED), AdaptiveConfig(budget=100))


# a smaller jump (0.5 -> 0.7 at step 12) takes several rounds to tell from the ties
STEP_UP = {k: (0.7 if k >= 12 else 0.5) for k in range(30)}


def test_a_killed_run_resumes_from_its_rows(tmp_path):
    cfg = AdaptiveConfig(top_k=1)
    whole = run_adaptive(range(30), Exact(STEP_UP), cfg)
    assert whole.rounds == 4 and whole.top == (12,)
    config = {"seed": 0, "adaptive": vars(cfg)}
    store = RunStore.open(tmp_path, config=config, model="fake", device="cpu")
    killed = Exact(STEP_UP, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        run_adaptive(range(30), killed, cfg, store=store, chain="c1")
    assert [r["round"] for r in store.rows()] == [0, 1], "two rounds written before the kill"
    again = RunStore.open(tmp_path, config=config, model="fake", device="cpu")
    sampler = Exact(STEP_UP)
    resumed = run_adaptive(range(30), sampler, cfg, store=again, chain="c1")
    again.check_asked()  # every stored row was replayed, none left unasked
    assert resumed.top == whole.top and resumed.generations == whole.generations
    assert resumed.prefixes == whole.prefixes
    assert len(sampler.calls) == whole.rounds - 2, "only the rounds not yet written are drawn"
    assert sampler.calls[0] == killed.calls[2], "the first new round asks what the killed one did"
    # the same store under other rules is refused, not mixed
    with pytest.raises(UsageError, match="use a new --out"):
        run_adaptive(range(30), Exact(STEP_UP), AdaptiveConfig(top_k=1, first_round=20),
                     store=again, chain="c1")


def test_a_sampler_that_returns_the_wrong_count_is_an_error():
    def short(requests):
        return [[Outcome(True, True)] * (r.n - 1) for r in requests]

    with pytest.raises(ValueError, match="one list of r.n outcomes per request"):
        run_adaptive(range(3), short)


def test_unfinished_rollouts_count_as_drawn_not_as_answers():
    def never(requests):
        return [[Outcome(False, finished=False)] * r.n for r in requests]

    result = run_adaptive(range(3), never, AdaptiveConfig(top_k=1, max_per_prefix=20))
    assert result.generations == 3 * 20, "no step can be measured: every prefix fills up"
    assert all(math.isnan(s.importance.value) and s.importance.ci is None for s in result.steps)
    assert result.top == () and adaptive.ROW_KIND == "adaptive_round"


# --- the same loop on the organism, locally and through the OpenAI-compatible backend -----------

PROMPT = "Numbers: 8 19 4. Target: 31. <think>"
CHAIN = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Wait, backtrack."
         " Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}")
SMALL = AdaptiveConfig(top_k=1, first_round=2, round_size=2, max_per_prefix=4)


@pytest.fixture(scope="module")
def lm():
    from starter.models import load_model

    return load_model("tinythinker", device="cpu")


def organism_sampler(model):
    from starter import prefixes, rollouts

    cuts = {c.k: c for c in prefixes.step_prefixes("c", CHAIN)}

    def grade(cut, completion):  # right when the continuation reaches the target ("Hit.")
        return Outcome(correct=completion.finished and "Hit." in completion.text,
                       finished=completion.finished)

    how = rollouts.SamplingConfig(temperature=1.0, max_new_tokens=24, seed=5, batch_size=64)
    return sorted(cuts)[:6], adaptive.model_sampler(model, PROMPT, cuts, how, grade)


@pytest.mark.slow
def test_model_sampler_runs_rounds_on_the_local_organism(lm):
    ks, sample = organism_sampler(lm)
    rounds: list[list[Request]] = []

    def recorded(requests):
        rounds.append(list(requests))
        return sample(requests)

    result = run_adaptive(ks, recorded, SMALL)
    assert ks == [0, 1, 2, 3, 4, 5] and result.generations <= 6 * 4
    assert [len(p.outcomes) for p in result.prefixes] == [
        sum(r.n for rs in rounds for r in rs if r.k == k) for k in ks]
    # seeded per (seed, start): asking round 0 again gives the same rollouts
    assert sample(rounds[0]) == [list(p.outcomes[:2]) for p in result.prefixes]


@pytest.mark.slow
def test_model_sampler_batches_each_round_through_a_local_server(lm):
    from openai_server import ModelEngine, OpenAIServer

    from starter.backends.openai import RemoteModel, ServerConfig

    with OpenAIServer(ModelEngine(lm), max_requests=200) as server:
        remote = RemoteModel.from_loaded(lm, ServerConfig(
            base_url=server.url, served_model="served-model", backoff_s=0.01, max_retries=2,
            timeout_s=30.0, concurrency=4))
        ks, sample = organism_sampler(remote)
        rounds: list[list[Request]] = []

        def recorded(requests):
            rounds.append(list(requests))
            return sample(requests)

        result = run_adaptive(ks, recorded, SMALL)
        bodies = [r["body"] for r in server.requests if r["body"].get("max_tokens") == 24]
    # every rollout came from the server: one request per prefix and round, asking n at once
    assert len(bodies) == sum(len(rs) for rs in rounds)
    assert sorted(b["n"] for b in bodies) == sorted(r.n for rs in rounds for r in rs)
    assert sum(b["n"] for b in bodies) == result.generations
    assert result.rounds == len(rounds) >= 1


# --- scripts/bench_importance.py runs on a folder in the published layout (written here) --------


def test_the_bench_runs_on_accuracy_only_chains(tmp_path, capsys, monkeypatch):
    import importlib.util
    import json
    import sys
    from pathlib import Path

    import numpy as np

    path = Path(__file__).parents[1] / "scripts" / "bench_importance.py"
    spec = importlib.util.spec_from_file_location("bench_importance", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_importance", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    for i, solution in enumerate(("correct", "incorrect")):
        where = tmp_path / "model-x" / f"{solution}_base_solution" / f"problem_{i}"
        where.mkdir(parents=True)
        rates = [0.2] * 5 + [0.8] * 5 + [0.4] * 5 + [0.9] * 5
        (where / "chunks_labeled.json").write_text(json.dumps(
            [{"chunk_idx": k, "accuracy": r} for k, r in enumerate(rates)]))
    chains = bench.read_published(tmp_path)
    assert [len(c.rates) for c in chains] == [20, 20]
    # true importances: +0.6 at step 5, -0.4 at step 10, +0.5 at step 15
    assert bench.top_steps(np.diff(chains[0].rates)) == {5, 10, 15}
    assert bench.main([str(tmp_path), "--reps", "2", "--planted", "2",
                       "--organism-reps", "1"]) == 0
    printed = capsys.readouterr().out
    assert "published chains: 2 chains x 2 repetitions" in printed and "planted chains" in printed
    assert bench.main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
