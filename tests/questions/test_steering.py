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


def test_the_degeneration_filter_catches_word_loops_and_step_loops():
    assert st.degenerate(" Try 6 Try 6 Try 6 Try 6+6= Try 6 Miss Miss"), "'Try 6' three times"
    assert st.degenerate(" Try 17*4=68. Left: 68, 15. Try 68-15=53. Wait Wait, Wait, backtrack.")
    loop = " Wait, backtrack. Try 18/3=6. Left: 6, 5. Try 6+5=11. Miss." * 6
    assert st.degenerate(loop), "no word run repeats, but the text compresses > 2.5 times"
    normal = (" Try 2+1=3. Left: 3, 17. Try 3+17=20. Miss. Try 3*17=51. Miss. Wait, backtrack."
              " Try 2-1=1. Left: 1, 17. Try 1+17=18. Miss. Try 1*17=17. Miss. Wait, backtrack."
              " Try 2*17=34. Left: 34, 1. Try 34+1=35. Hit. </think> \\boxed{(2*17)+1}")
    assert not st.degenerate(normal), "a long reactive trace with two backtracks is not"


def test_a_covariance_matched_direction_has_the_norm_and_lies_in_the_span():
    import torch

    acts = torch.tensor([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0], [2.0, 5.0, 0.0]])
    like = torch.tensor([0.0, 0.0, 3.0])
    v = st.covariance_direction(acts, like, seed=1)
    assert float(v.norm()) == pytest.approx(3.0)
    assert float(v[2]) == 0.0, "no residual variance on axis 2: an isotropic vector would use it"


def steer(vector, alpha, problem, backtracks, valid, finished=True, correct=True, wait=False,
          degenerate=False):
    return {"unit": f"steer:{vector}:{alpha:+g}:{problem}", "kind": "steer", "vector": vector,
            "alpha": alpha, "problem": problem, "finished": finished, "correct": correct,
            "backtracks": backtracks, "valid_backtracks": valid, "repeated_wait": wait,
            "degenerate": degenerate, "compression": 1.2, "n_steps": 9}


def creative(vector, alpha, problem, bigrams):
    return {"unit": f"creative:{vector}:{alpha:+g}:{problem}", "kind": "creative", "model": "m",
            "vector": vector, "alpha": alpha, "problem": problem, "distinct_bigrams": bigrams,
            "distinct_answers": 1.0}


ROWS = [
    {"unit": "vector", "kind": "vector", "layer": 2, "norm_over_resid": 0.5, "n_backtrack_steps": 9,
     "n_check_backtrack": 9, "n_check_continue": 20, "claim_alpha": 0.5, "cosine_matched": 0.7},
    steer("none", 0.0, "p1", 1, 1), steer("none", 0.0, "p2", 0, 0),
    steer("backtrack", 0.5, "p1", 3, 2),
    steer("backtrack", 0.5, "p2", 2, 1, finished=False, correct=False, wait=True,
          degenerate=True),
    steer("matched", 0.5, "p1", 1, 1), steer("matched", 0.5, "p2", 1, 1, correct=False),
    steer("random0", 0.5, "p1", 1, 1), steer("random0", 0.5, "p2", 0, 0),
    steer("random1", 0.5, "p1", 1, 0), steer("random1", 0.5, "p2", 1, 1),
    steer("covrandom0", 0.5, "p1", 2, 2), steer("covrandom0", 0.5, "p2", 1, 0),
    creative("creative", 0.0, "q1", 0.5), creative("creative", 0.0, "q2", 0.7),
    creative("creative", 4.0, "q1", 0.9), creative("creative", 4.0, "q2", 0.9),
    creative("random", 4.0, "q1", 0.6), creative("random", 4.0, "q2", 0.4),
    creative("prompted", 0.0, "q1", 0.8), creative("prompted", 0.0, "q2", 0.8),
]


def test_analyse_by_hand():
    m = st.analyse(ROWS)
    assert m.alphas == [0.0, 0.5] and m.n_random == 2 and m.claim_alpha == 0.5
    assert m.n_cov_random == 1 and m.alpha_pick is None and m.old_primary is None
    back = m.cells["backtrack"][0.5]
    assert back.valid.value == pytest.approx(1.0), "(2 + 0) / 2: p2 is degenerate, scores 0"
    assert back.premature.value == pytest.approx(0.5), "(3 - 2 + 0) / 2"
    assert (back.accuracy.successes, back.accuracy.n_items) == (1, 1), "finished traces only"
    assert back.solved.value == pytest.approx(0.5), "p1 solved; p2 degenerate (and wrong)"
    assert (back.unfinished, back.degenerate, back.repeated_wait, back.n) == (1, 1, 1, 2)
    unsteered = m.cells["matched"][0.0]
    assert unsteered.valid.value == pytest.approx(0.5), "alpha 0: the unsteered run"
    assert m.random[0.5].valid.value == pytest.approx(0.5), "(1 + 0 + 0 + 1) / 4"
    assert m.random_spread[0.5] == [0.5, 0.5]
    assert m.cov_random[0.5].valid.value == pytest.approx(1.0) and m.cov_spread[0.5] == [1.0]
    assert m.strongest_control == "covariance", "1.0 > 0.5 (isotropic) = 0.5 (unsteered)"
    assert m.backtrack_minus_strongest.value == pytest.approx(0.0)
    assert m.backtrack_minus_random.value == pytest.approx(0.5)
    assert m.backtrack_minus_cov.value == pytest.approx(0.0)
    assert m.matched_minus_strongest.value == pytest.approx(0.0), "(1 + 1) / 2 - 1"
    assert m.backtrack_minus_unsteered.value == pytest.approx(0.5)
    assert m.top_alpha == 0.5 and m.bottom_alpha == 0.0
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
    assert [c.key for c in claims] == [st.PRIMARY, "matched-vs-random", "backtrack-vs-isotropic",
                                       "subtract-vs-covariance", "premature-vs-random",
                                       "creative-vs-random"], "covariance is the strongest"
    assert claims[0].control.estimate.value == pytest.approx(1.0), "the strongest control"
    assert "per-vector means 1.00" in claims[0].control.name, "spread next to the interval"
    assert claims[0].to_dict()["strongest_baseline"]["value"] == pytest.approx(1.0)
    premature = next(c for c in claims if c.key == "premature-vs-random")
    assert "finished traces only" in premature.claim
    assert premature.estimate.n_items == 3, "the 3 unfinished backtrack-vector traces left out"
    assert claims[-1].claim.startswith("On m,"), "the creativity claim names its model"
    for claim in claims:
        check(claim.to_dict())
    text = st.findings(st.analyse(ROWS))
    assert "| +0.5 | matched |" in text and "1/2 | 1/2 |" in text, "unfinished, degenerate"
    assert "between random vectors" in text and "finished traces only" in text
    assert "Read first" not in text, "a fixed claim alpha: the primary did not change"


def test_a_picked_claim_alpha_is_read_first_and_keeps_the_old_primary():
    rows = [{**r, "claim_alpha": 1.0} if r["kind"] == "vector" else r for r in ROWS]
    rows += [steer("backtrack", 1.0, "p1", 0, 0), steer("backtrack", 1.0, "p2", 0, 0),
             {"unit": "alpha-pick", "kind": "alpha-pick", "n_fit": 4, "min_changed": 0.25,
              "changed": {"+0.5": 0.0, "+1": 0.5}, "claim_alpha": 1.0}]
    m = st.analyse(rows)
    assert m.claim_alpha == 1.0 and m.alpha_pick.changed["+1"] == 0.5
    assert m.old_primary.value == pytest.approx(0.5), "backtrack 1.0 - isotropic 0.5 at +0.5"
    text = st.findings(m)
    assert text.startswith("**Read first.**") and "+0.5: 0.00, +1: 0.50" in text


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


def test_a_resumed_run_keeps_its_alpha_pick_and_asks_for_the_row(tmp_path):
    # The cpu preset picks claim_alpha and records the pick as a row. A resumed run read that row
    # without asking for its unit, so check_asked refused every resume of a finished cpu run.
    from types import SimpleNamespace

    from starter.results import RunStore

    config = {"preset": "cpu", "seed": 0}
    store = RunStore.open(tmp_path, config=config, model="toy", device="cpu")
    store.append({"unit": "alpha-pick", "kind": "alpha-pick", "n_fit": 20, "min_changed": 0.25,
                  "changed": {"+0.5": 0.25}, "claim_alpha": 0.5})
    resumed = RunStore.open(tmp_path, config=config, model="toy", device="cpu")
    ctx = SimpleNamespace(cfg=st.PRESETS["cpu"], store=resumed, model=None)
    assert st.PRESETS["cpu"].claim_alpha is None, "the cpu preset picks its alpha"
    assert st.pick_claim_alpha(ctx, fit=[], direction=None) == 0.5
    resumed.check_asked()  # raised StarterError ('units alpha-pick') before the fix
