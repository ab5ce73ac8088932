"""determinism: analyse and claims on hand-built rows, against numbers computed by hand."""

from __future__ import annotations

import math

import pytest

from starter.findings import check
from starter.organism.data import make_trace
from starter.questions import determinism as det
from starter.tasks.countdown import search

TEXT = "abcdefghij"  # every hand-built reference: 10 characters in 5 tokens of 2
STARTS = [0, 2, 4, 6, 8]


def reference(problem: str, finished: bool = True, on_search: bool = False) -> dict:
    return {"unit": f"reference:{problem}", "kind": "reference", "problem": problem, "prompt": "P",
            "completion": TEXT, "finished": finished, "value": "24" if finished else None,
            "n_steps": 3, "token_starts": STARTS, "on_true_search": on_search,
            "decision_spans": [[4, 6]] if on_search else None}  # token 2: the one decision


def regen(problem: str, fraction: float, ref_value: str, values: list, finished: list,
          divergence: list, temperature: float = 0.6) -> dict:
    return {"unit": f"regen:{temperature}:{problem}:{fraction}", "kind": "regen",
            "problem": problem, "temperature": temperature, "fraction": fraction, "k": 0,
            "n_steps": 3,
            "cut_char": round(fraction * 8), "reference_value": ref_value, "values": values,
            "finished": finished, "divergence": divergence}


ROWS = [
    reference("p1", on_search=True),
    reference("p2"),
    reference("p3", finished=False),  # never finished: counted, never regenerated
    regen("p1", 0.0, "24", ["24", "24", "25", None], [True, True, True, False], [None, 4, 6, 9]),
    regen("p1", 0.5, "24", ["24", "24", "24", "24"], [True] * 4, [None, None, 4, 8]),
    regen("p2", 0.0, "10", ["10", "11"], [True, True], [0, 2]),
    regen("p2", 0.5, "10", ["10", "10"], [True, True], [None, 6]),
    {"unit": "greedy:batched", "kind": "control", "mode": "batched", "problems": ["p1", "p2"],
     "texts": ["x", "y"], "device": "cpu", "dtype": "float32"},
    {"unit": "greedy:single:p1", "kind": "control", "mode": "single", "problem": "p1",
     "texts": ["x", "x"], "device": "cpu", "dtype": "float32"},
    {"unit": "greedy:single:p2", "kind": "control", "mode": "single", "problem": "p2",
     "texts": ["y", "z"], "device": "cpu", "dtype": "float32"},
]


def cell(m: det.Metrics, fraction: float) -> det.Cell:
    return next(c for c in m.cells if c.temperature == 0.6 and c.fraction == fraction)


def test_answers_compare_by_value_not_string():
    a = det.answer_value(" Try 12*8=96. </think> \\boxed{(12*8)/4}", "countdown")
    b = det.answer_value(" Try 12+8=20. </think> \\boxed{(12+8)+4}", "countdown")
    assert a == b == "24", "(12*8)/4 and (12+8)+4 both make 24: they must agree by value"
    assert det.answer_value(" Try 12*8=96. Left: 96", "countdown") is None, "unfinished: no answer"
    assert not det.chain_finished(" Try 2+3=5. </think> \\boxed{2+3}", False, "countdown"), (
        "a chain cut off by the token budget has not finished, whatever it wrote")


def test_decision_spans_are_the_search_choices():
    trace = make_trace(search((8, 19, 4), 31))
    words = [trace.completion[a:b] for a, b in det.decision_spans(trace)]
    assert words == ["8*19", "152-4", "Try", "152/4", "Wait", "8+19", "27+4"], (
        "decisions: each Try's operation, and the try-again-or-backtrack word after a Miss.")


def test_counts_and_agreement_by_hand():
    m = det.analyse(ROWS)
    counts = (m.n_references, m.n_references_unfinished, m.n_references_on_true_search)
    assert counts == (3, 1, 1)
    k0, k50 = cell(m, 0.0), cell(m, 0.5)
    assert (k0.n_continuations, k0.n_unfinished) == (6, 1)
    assert k0.agreement.value == pytest.approx(3 / 5), "p1: 24 24 25 (None: unfinished); p2: 10 11"
    assert k50.agreement.value == pytest.approx(1.0)
    h_p1 = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert k0.entropy.value == pytest.approx((h_p1 + 1.0) / 2), "mean over (reference, K) cells"
    assert m.agreement_gain.value == pytest.approx(1.0 - 0.6)


def test_token_level_divergence_by_hand():
    k0 = cell(det.analyse(ROWS), 0.0)
    # cut at 0, tokens start at 0 2 4 6 8: None -> 5/5, char 4 -> 2/5, 6 -> 3/5, 9 -> 4/5,
    # 0 -> 0/5, 2 -> 1/5
    assert k0.followed.value == pytest.approx((1 + 0.4 + 0.6 + 0.8 + 0 + 0.2) / 6)
    assert k0.identical.value == pytest.approx(1 / 6)
    assert det.followed_share(STARTS, cut=4, divergence=4, text_end=10) == 0.0, "diverged at once"


def test_decision_points_against_position_matched_tokens_by_hand():
    m = det.analyse(ROWS)
    # p1 only (p2 is not the true search); token 2 (chars 4-6) is the one decision. K=0 (cut at 0):
    # divergences at chars 4, 6, 9 -> tokens 2, 3, 4; K=50% (cut at char 4): chars 4, 8 -> tokens
    # 2, 4. The control is the decision share of the tokens each continuation reached, from the
    # cut through its diverging token: [0..2] 1/3, [0..3] 1/4, [0..4] 1/5, [2] 1, [2..4] 1/3.
    control = (1 / 3 + 1 / 4 + 1 / 5 + 1 + 1 / 3) / 5
    assert m.divergence_on_decision.value == pytest.approx(2 / 5)
    assert m.random_token_on_decision.value == pytest.approx(control), (
        "the control must be drawn from the span the continuation reached, not the whole rest")
    assert m.decision_excess.value == pytest.approx(2 / 5 - control)
    assert m.decision_excess.ci is None, "one problem: no interval"


def test_agreement_gain_below_the_ceiling_by_hand():
    m = det.analyse(ROWS)
    # At K=0 p1 agrees 2/3 and p2 1/2: both below 1, so the restricted gain is the whole gain.
    assert m.agreement_gain_below_ceiling.value == pytest.approx(1.0 - 0.6)
    only_p1 = [r for r in ROWS if r.get("problem") != "p2" or r["kind"] != "regen"]
    only_p1 = [r if r.get("unit") != "regen:0.6:p1:0.0" else {**r, "values": ["24"] * 4}
               for r in only_p1]
    m = det.analyse(only_p1)
    assert m.agreement_gain_below_ceiling.n_items == 0, "p1 agrees 3/3 at K=0: at the ceiling"
    assert "Restricted to the 2 problems" in det.findings(det.analyse(ROWS))


def test_greedy_control_by_hand():
    g = det.analyse(ROWS).greedy
    assert (g.repeat_identical.successes, g.repeat_identical.n) == (1, 2)
    assert (g.batched_identical.successes, g.batched_identical.n) == (2, 2)


def test_claims_verdicts_follow_their_intervals():
    claims = det.claims(det.analyse(ROWS))
    assert len(claims) == 2
    for claim in claims:
        check(claim.to_dict())  # raises when a verdict disagrees with difference_ci
    agreement, decision = claims
    # Both problems gain (p1: 3/3 vs 2/3, p2: 2/2 vs 1/2), but K=50% is all-agree on 2 problems:
    # Wilson over 2 clusters (0.34 to 1) keeps the difference's interval across zero.
    assert agreement.difference.value > 0 and agreement.difference.ci[0] < 0
    assert agreement.verdict == "not distinguishable"
    assert decision.verdict == "not distinguishable", "one problem on the true search: no interval"


def test_findings_give_counts_below_ten_items():
    text = det.findings(det.analyse(ROWS))
    assert "1/2" in text and "2/2" in text, "the greedy control over 2 problems is shown as counts"
    assert "1 never finished" in text


def test_validation_measure_reads_agreement_at_k0():
    m = det.analyse(ROWS)
    got = det.measure_agreement_k0(m)
    assert got.value == pytest.approx(3 / 5), "K=0 at T=0.6: p1 24 24 25, p2 10 11 vs 24 and 10"
    assert got.n == 2 and got.planted is None


def test_validation_arms_are_base_then_lucky_decreasing():
    gain, v = det.VALIDATION
    assert gain.quantity.startswith("primary:") and gain.measure is det.measure_agreement_gain
    assert gain.increasing, "the lucky variant's prefix decides more than the base's"
    assert gain.arms == v.arms and gain.settings == v.settings, "the same runs serve both"
    assert [a.model for a in v.arms] == ["tinythinker", "tinythinker-lucky"]
    assert all(a.planted is None for a in v.arms), "order only"
    assert not v.increasing, "the lottery agrees less with itself than the base"
    for preset in ("smoke", "cpu"):
        settings = v.settings[preset]
        assert "temperatures=1.0" in settings and "reference_temperature=1.0" in settings


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    blocks = smoke_validation("determinism").record["validations"]
    assert len(blocks) == 2, "the primary's gain, then K=0 agreement"
    for block in blocks:
        assert [a["variant"] for a in block["arms"]] == ["tinythinker", "tinythinker-lucky"]


# ---------------------------------------------------------------- strongest simple baselines (#25)

RIGHT = {"p1": True, "p2": False, "p3": False}  # p2's reference answer is wrong


def with_correct(rows: list[dict]) -> list[dict]:
    return [{**r, "correct": RIGHT[r["problem"]]} if r.get("kind") == "reference" else r
            for r in rows]


def test_prompt_rule_by_hand():
    m = det.analyse(with_correct(ROWS))
    rule = m.prompt_rule
    assert rule is not None
    # the rule predicts 1 on p1's items (reference right) and 0 on p2's: K=50% 4 + 2 items,
    # K=0% 3 + 2 finished items
    assert rule.agreement_k50.value == pytest.approx(4 / 6)
    assert rule.agreement_k0.value == pytest.approx(3 / 5)
    # observed K=50%: 6/6; K=0%: p1 24 24 25 -> 1 1 0, p2 10 11 -> 1 0: 3/5
    assert rule.k50_minus_rule.value == pytest.approx(1 - 4 / 6)
    assert rule.k0_minus_rule.value == pytest.approx(0.0)
    assert rule.n_wrong_references == 1
    assert rule.agreement_k0_wrong.value == pytest.approx(0.5), "p2 repeats its wrong 10 once"
    assert rule.agreement_k50_wrong.value == pytest.approx(1.0)
    # item by item at K=0%: p1 agrees 1 1 0 (rule 1 1 1), p2 agrees 1 0 (rule 0 0): 3 of 5 hits
    assert rule.accuracy_k0.value == pytest.approx(3 / 5)
    assert det.analyse(ROWS).prompt_rule is None, "rows without `correct`: no rule"


CHECKED = "abcd Hit.x"  # "Hit" at characters 5-8: tokens 2 (4-6) and 3 (6-8) are check tokens


def test_check_word_baseline_by_hand():
    assert [CHECKED[a:b] for a, b in det.check_spans(CHECKED)] == ["Hit"]
    rows = [{**r, "completion": CHECKED} if r.get("unit") == "reference:p1" else r for r in ROWS]
    m = det.analyse(rows)
    # divergences of p1 at tokens 2, 3, 4 (K=0%) and 2, 4 (K=50%): 3 of 5 on a check token;
    # reached spans [0..2] 1/3, [0..3] 2/4, [0..4] 2/5, [2] 1, [2..4] 2/3
    assert m.divergence_on_check.value == pytest.approx(3 / 5)
    assert m.random_token_on_check.value == pytest.approx((1 / 3 + 2 / 4 + 2 / 5 + 1 + 2 / 3) / 5)
    assert m.divergence_on_decision.value == pytest.approx(2 / 5), "decisions unchanged"
    # the check word in the claim's units: its share minus the reached span's share, paired
    assert m.check_excess.value == pytest.approx(3 / 5 - m.random_token_on_check.value)
    assert m.n_divergences_on_either == 3, "tokens 2, 3, 2: on a check word or a decision"


def test_decision_claim_counts_what_it_leaves_out():
    m = det.analyse(ROWS)
    # sampled first divergences: p1 3 + 2, p2 2 + 1 (p2 is not the true search: left out)
    assert (m.n_divergences_sampled, m.n_divergences_off_search) == (8, 3)
    assert (m.n_references_off_search, m.n_divergences_past_end) == (1, 0)
    assert m.divergence_on_decision.n_items == 5
    assert "3 of the 8 sampled first divergences come from the 1 regenerated" in det.findings(m)
    past = [{**r, "divergence": [None, None, 4, 10]} if r.get("unit") == "regen:0.6:p1:0.5"
            else r for r in ROWS]  # char 10 is the reference's end
    m = det.analyse(past)
    assert m.n_divergences_past_end == 1 and m.divergence_on_decision.n_items == 4


def test_claims_name_their_strongest_baseline():
    m = det.analyse(with_correct(ROWS))
    agreement, decision = det.claims(m)
    # a gain claim's baseline in its units: a prompt-only rule's gain, 0 by construction
    gain = agreement.strongest_baseline.estimate
    assert gain.exact and gain.value == 0.0 and gain.ci == (0.0, 0.0) and gain.n == 2
    assert "prompt-only" in agreement.strongest_baseline.name
    assert decision.strongest_baseline.estimate is m.check_excess, "excess units, as the claim"
    for claim in (agreement, decision):
        check(claim.to_dict())
        assert claim.to_dict()["strongest_baseline"]["name"]
    text = det.findings(m)
    assert text.startswith("Baseline of the agreement claim, in its units: a prompt-only rule")
    assert "One prompt-only rule, spelled out" in text and "strongest" not in text.split("\n")[0]
    assert "Strongest simple baseline of the decision-point claim" in text
    plain = det.claims(det.analyse(ROWS))
    assert plain[0].strongest_baseline.estimate.value == 0.0, "0 whatever the rows record"
    assert "rule below is not computed" in det.findings(det.analyse(ROWS))
