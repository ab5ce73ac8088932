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
    full = "\n\n".join(t for t, _ in texts_and_resamples)
    return SimpleNamespace(model="m", problem_id=problem, base_correct=True, sentences=sentences,
                           base=SimpleNamespace(full_cot=full))


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


def test_tolerant_pair_uses_all_pairs_like_collision():
    # replacements "so x", "so x", "so x = 4", "wait": 6 pairs; equal 1; "so x" < "so x = 4" twice;
    # consecutive pairs would give 2 of 3 instead
    *_, tolerant, tolerant_pair = determinism.repeat_rates("So x", ["so x", "so x", "so x = 4",
                                                                     "wait"])
    assert tolerant == pytest.approx(3 / 4)
    assert tolerant_pair == pytest.approx(3 / 6)


def test_boundary_mechanism_and_earlier_copies_by_hand():
    texts = ["Wait.", "So x = 4.", "Wait.", "Done."]
    # "Wait." then a paragraph break; "So x = 4." then a space; the second "Wait." found after
    # the first; "Done." at the end (no break after)
    full = "Wait.\n\nSo x = 4. Wait.\n\nDone."
    assert determinism.break_after(full, texts) == [1.0, 0.0, 1.0, 0.0]
    assert determinism.earlier_copies(texts) == [False, False, True, False]
    resamples = (("Wait. Let me see.", "Wait."), ("So x = 4.",), ("Wait. No.", "Hmm."), ("Done.",))
    chain = _chain("p", list(zip(texts, resamples)))
    chain.base.full_cot = full
    rows = determinism.sentence_rows([chain])
    assert [(r.n_longer, r.n_shorter, r.break_after, r.earlier_copy) for r in rows] == [
        (1, 0, 1.0, False), (0, 0, 0.0, False), (1, 0, 1.0, True), (0, 0, 0.0, False)]
    b = determinism.boundary(rows)
    assert (b.n_replacements, b.n_longer, b.n_longer_located, b.n_longer_break) == (6, 2, 2, 2)


def test_primary_without_earlier_copies_drops_them():
    # p1's second sentence repeats its first: dropped from the added claim only
    chains = [_chain("p1", [("x", ("x", "y")), ("x", ("y", "y"))]),
              _chain("p2", [("z", ("w", "w"))]), _chain("p3", [("x", ("x", "y"))])]
    m = determinism.analyse(chains)
    clean = next(c for c in m.claims if c.key == "original-vs-collision-no-earlier-copy")
    assert m.n_earlier_copy == 1
    assert clean.estimate.n_items == 3 and clean.estimate.value == pytest.approx(1 / 3)


def test_boundary_rule_is_the_primary_strongest_baseline():
    # _chain puts a paragraph break after every sentence but the last. p1: original "x",
    # replacements "x y" (the original running on) and "x": 1 of 2 runs on, the rule predicts
    # -1/2; p2 and p3 have no run-on: the rung's mean over the 3 sentences is -1/6.
    chains = [_chain("p1", [("x", ("x y", "x"))]), _chain("p2", [("z", ("w", "w"))]),
              _chain("p3", [("x", ("x", "y"))])]
    m = determinism.analyse(chains)
    primary = next(c for c in m.claims if c.primary)
    assert primary.strongest_baseline.estimate.value == pytest.approx(-1 / 6)
    assert primary.strongest_baseline.name == determinism.BOUNDARY_RULE
    assert primary.to_dict()["strongest_baseline"]["value"] == pytest.approx(-1 / 6, abs=1e-4)
