"""steering: ground-truth validity of backtracks, and analyse/claims on hand-built rows."""

from __future__ import annotations

import pytest

from starter.findings import check
from starter.questions import steering as st


def test_a_backtrack_after_a_try_is_valid_only_when_the_branch_is_exhausted():
    tags = ["plan", "compute", "verify", "backtrack"]
    early = ["Left: 5, 4.", "Try 5+4=9.", "Miss.", "Wait, backtrack."]
    assert st.backtrack_validity(30, early, tags) == [False], "target 30 > 5, 4: 5*4 not tried yet"
    full = ["Left: 5, 4.", "Try 5+4=9.", "Miss.", "Try 4*5=20.", "Miss.", "Wait, backtrack."]
    assert st.backtrack_validity(30, full, tags[:3] + ["compute", "verify", "backtrack"]) == [True]
    assert st.backtrack_validity(3, ["Left: 9, 4.", "Try 9-4=5.", "Miss.", "Wait, backtrack."],
                                 tags) == [True], "9/4 is not exact: '-' was the only final op"
    assert st.backtrack_validity(3, ["Wait, backtrack."], ["backtrack"]) == [False], "no branch"


def test_repeated_wait():
    assert st.repeated_wait(["verify", "backtrack", "backtrack"], ["Miss.", "W.", "W."])
    assert st.repeated_wait(["compute"] * 3, ["Try 1+2=3."] * 3)
    assert not st.repeated_wait(["verify", "backtrack", "compute"], ["Miss.", "W.", "Try 1+2=3."])


def steer(vector, alpha, problem, backtracks, valid, finished=True, correct=True, wait=False):
    return {"unit": f"steer:{vector}:{alpha:+g}:{problem}", "kind": "steer", "vector": vector,
            "alpha": alpha, "problem": problem, "finished": finished, "correct": correct,
            "backtracks": backtracks, "valid_backtracks": valid, "repeated_wait": wait,
            "n_steps": 9}


def creative(vector, alpha, problem, bigrams):
    return {"unit": f"creative:{vector}:{alpha:+g}:{problem}", "kind": "creative", "model": "m",
            "vector": vector, "alpha": alpha, "problem": problem, "distinct_bigrams": bigrams,
            "distinct_answers": 1.0}


ROWS = [
    {"unit": "vector", "kind": "vector", "layer": 2, "norm_over_resid": 0.5, "n_backtrack_steps": 9,
     "n_check_backtrack": 9, "n_check_continue": 20, "claim_alpha": 0.5, "cosine_matched": 0.7},
    steer("none", 0.0, "p1", 1, 1), steer("none", 0.0, "p2", 0, 0),
    steer("backtrack", 0.5, "p1", 3, 2),
    steer("backtrack", 0.5, "p2", 2, 1, finished=False, correct=False, wait=True),
    steer("matched", 0.5, "p1", 1, 1), steer("matched", 0.5, "p2", 1, 1, correct=False),
    steer("random0", 0.5, "p1", 1, 1), steer("random0", 0.5, "p2", 0, 0),
    steer("random1", 0.5, "p1", 1, 0), steer("random1", 0.5, "p2", 1, 1),
    creative("creative", 0.0, "q1", 0.5), creative("creative", 0.0, "q2", 0.7),
    creative("creative", 4.0, "q1", 0.9), creative("creative", 4.0, "q2", 0.9),
    creative("random", 4.0, "q1", 0.6), creative("random", 4.0, "q2", 0.4),
    creative("prompted", 0.0, "q1", 0.8), creative("prompted", 0.0, "q2", 0.8),
]


def test_analyse_by_hand():
    m = st.analyse(ROWS)
    assert m.alphas == [0.0, 0.5] and m.n_random == 2 and m.claim_alpha == 0.5
    back = m.cells["backtrack"][0.5]
    assert back.valid.value == pytest.approx(1.5), "(2 + 1) / 2 valid backtracks"
    assert back.premature.value == pytest.approx(1.0), "(3 - 2 + 2 - 1) / 2"
    assert (back.accuracy.successes, back.accuracy.n_items) == (1, 1), "finished traces only"
    assert (back.unfinished, back.repeated_wait, back.n) == (1, 1, 2)
    unsteered = m.cells["matched"][0.0]
    assert unsteered.valid.value == pytest.approx(0.5), "alpha 0: the unsteered run"
    assert m.random[0.5].valid.value == pytest.approx(0.5), "(1 + 0 + 0 + 1) / 4"
    assert m.random_spread[0.5] == [0.5, 0.5]
    assert m.backtrack_minus_random.value == pytest.approx(1.0)
    assert m.matched_minus_random.value == pytest.approx(0.5)
    assert m.backtrack_minus_unsteered.value == pytest.approx(1.0)
    assert m.top_alpha == 0.5
    # finished traces only: p2's unfinished backtrack-vector trace is left out
    assert m.premature_finished.backtrack.value == pytest.approx(1.0), "p1: 3 - 2"
    assert m.premature_finished.backtrack.n_items == 1
    assert m.premature_minus_random.value == pytest.approx(1.0 - 0.25), "1 - (0+0+1+0)/4"
    assert m.random_spread_premature == [0.0, 0.5], "random0: 0, 0; random1: 1, 0"
    assert m.diversity["creative"].value == pytest.approx(0.9)
    assert m.creative_minus_random.value == pytest.approx(0.4)
    assert m.creative_minus_random.ci is None, f"2 questions < {st.MIN_PROBLEMS}: no interval"


def widen(rows: list[dict], copies: int) -> list[dict]:
    """The rows repeated over `copies` renamed problems: the same cells on more problems."""
    out = [r for r in rows if r["kind"] == "vector"]
    for i in range(copies):
        out += [{**r, "problem": f"{r['problem']}-{i}"} for r in rows if r["kind"] != "vector"]
    return out


def test_claims_agree_with_their_intervals():
    m = st.analyse(widen(ROWS, 3))  # 6 problems, 6 questions
    claims = st.claims(m)
    assert len(claims) == 4
    assert claims[0].control.estimate.value == pytest.approx(0.5), "control: the random vectors"
    assert "per-vector means 0.50, 0.50" in claims[0].control.name, "spread next to the interval"
    assert "finished traces only" in claims[2].claim
    assert claims[2].estimate.n_items == 3, "the 3 unfinished backtrack-vector traces left out"
    assert claims[3].claim.startswith("On m,"), "the creativity claim names its model"
    for claim in claims:
        check(claim.to_dict())
    text = st.findings(st.analyse(ROWS))
    assert "| +0.5 | matched |" in text and "1/2 | 1/2 |" in text
    assert "between random vectors" in text and "finished traces only" in text


def test_no_claim_and_no_interval_from_fewer_than_min_problems():
    m = st.analyse(ROWS)  # 2 problems, 2 creativity questions
    assert st.claims(m) == [], f"2 problems < {st.MIN_PROBLEMS}: no verdict"
    text = st.findings(m)
    assert "Creativity, on m" in text and "no interval and no claim" in text
    assert all(e.ci is None for e in m.diversity.values())


def test_off_the_organism_validity_is_left_out():
    rows = [r if r.get("kind") != "steer" else {**r, "valid_backtracks": None} for r in ROWS]
    m = st.analyse(widen(rows, 3))
    assert [c.metric for c in st.claims(m)] == ["distinct word pairs across samples"], (
        "valid and premature backtracks need the organism's ground truth")


def test_a_backtrack_at_a_dead_end_is_valid_before_any_try():
    tags = ["plan", "backtrack"]
    # target 30 > 9, 4: finals 9+4=13, 9*4=36, neither 30: a dead end, left at once (planned)
    assert st.backtrack_kinds(30, ["Left: 9, 4.", "Wait, backtrack."], tags) == ["dead_end"]
    assert st.backtrack_validity(30, ["Left: 9, 4.", "Wait, backtrack."], tags) == [True]
    # target 36: 9*4 reaches it, so leaving before trying it is premature
    assert st.backtrack_kinds(36, ["Left: 9, 4.", "Wait, backtrack."], tags) == ["premature"]
    # a dead end tried in full stays "exhausted" (the base's reactive backtrack, unchanged)
    full = ["Left: 9, 4.", "Try 9+4=13.", "Miss.", "Try 9*4=36.", "Miss.", "Wait, backtrack."]
    assert st.backtrack_kinds(30, full, ["plan"] + ["compute", "verify"] * 2 + ["backtrack"]) == [
        "exhausted"]
    half = ["Left: 9, 4.", "Try 9+4=13.", "Miss.", "Wait, backtrack."]
    assert st.backtrack_kinds(30, half, ["plan", "compute", "verify", "backtrack"]) == [
        "premature"], "a dead end left after some tries stays premature (the base's numbers)"


def test_dead_end_backtracks_are_counted_apart():
    rows = [r if r.get("vector") != "none" else {**r, "dead_end_backtracks": 1} for r in ROWS]
    m = st.analyse(rows)
    assert (m.dead_end_unsteered, m.backtracks_unsteered) == (2, 1)
    assert st.analyse(ROWS).dead_end_unsteered == 0, "rows without the field count 0"
    assert "valid only as a dead end left at once: 0 of 1" in st.findings(
        st.analyse(ROWS))


def test_no_validation_says_why():
    from starter.errors import UsageError
    from starter.validation import load_validation

    assert "steering effect" in st.NO_VALIDATION
    with pytest.raises(UsageError, match="no planted-truth validation"):
        load_validation("steering")
