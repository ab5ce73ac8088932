"""Determinism on public data: repeat rates by hand, on the project's fixture and on hand-built chains."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from starter.public import determinism
from starter.releases.thought_anchors import read_chains

FIXTURE = Path(__file__).parents[1] / "fixtures" / "thought_anchors"


def test_repeat_rates_all_identical_and_none():
    exact, collision, jac, jac_pair, similar, tolerant, tolerant_pair = determinism.repeat_rates(
        "Wait.", ["wait.", "Wait.", " WAIT. "])
    assert (exact, collision, jac, jac_pair, similar, tolerant, tolerant_pair) == (1, 1, 1, 1, 1, 1, 1)
    assert all(math.isnan(x) for x in determinism.repeat_rates("Wait.", []))


def test_repeat_rates_collision_by_hand():
    # replacements a, a, b, b: pairs 6, equal pairs 2 -> 1/3; none equals the original "c"
    exact, collision, *_ = determinism.repeat_rates("c", ["a", "a", "b", "b"])
    assert exact == 0
    assert collision == pytest.approx(1 / 3)


def test_fixture_rows():
    rows = determinism.sentence_rows(read_chains(FIXTURE).chains)
    # the incorrect chain keeps no resamples: its 3 sentences are left out
    assert [(r.outcome, r.index, r.bin) for r in rows] == [
        ("correct", 0, "1"), ("correct", 1, "2"), ("correct", 2, "3"), ("correct", 3, "4")]
    assert [r.exact for r in rows] == [0, 0, 0, 0]
    # "Okay, so I need to add and then double." vs "Okay, let me think.": tokens
    # {okay , so i need to add and then double .} and {okay , let me think .} share 3 of 14
    first = determinism.jaccard("Okay, so I need to add and then double.", "Okay, let me think.")
    assert first == pytest.approx(3 / 14)
    assert rows[0].jaccard == pytest.approx((3 / 14 + determinism.jaccard(
        "Okay, so I need to add and then double.", "Alright.")) / 2)
    assert math.isnan(rows[3].collision)  # one replacement: no pair
    assert rows[0].embedding_same == 0.25  # the release's overdeterminedness, passed through


def _chain(problem: str, texts_and_resamples: list[tuple[str, tuple[str, ...]]]):
    sentences = tuple(
        SimpleNamespace(index=i, text=t, resampled=r, importance=SimpleNamespace(
            overdeterminedness=0.5))
        for i, (t, r) in enumerate(texts_and_resamples))
    return SimpleNamespace(model="m", problem_id=problem, base_correct=True, sentences=sentences)


def test_primary_claim_by_hand():
    # one sentence per problem. p1 and p3: original "x", resamples ("x", "y"): exact 1/2,
    # collision 0. p2: original "z", resamples ("w", "w"): exact 0, collision 1.
    chains = [_chain("p1", [("x", ("x", "y"))]), _chain("p2", [("z", ("w", "w"))]),
              _chain("p3", [("x", ("x", "y"))])]
    m = determinism.analyse(chains)
    primary = next(c for c in m.claims if c.primary)
    assert primary.key == determinism.PRIMARY
    assert primary.estimate.value == pytest.approx(1 / 3)  # (1/2 + 0 + 1/2) / 3
    assert primary.control.estimate.value == pytest.approx(1 / 3)  # (0 + 1 + 0) / 3
    assert primary.difference.value == pytest.approx(0)
    assert primary.verdict == "not distinguishable"
    assert m.n_problems == 3 and m.n_without == 0
