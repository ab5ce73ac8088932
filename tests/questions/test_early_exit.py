"""early-exit: `analyse` and `claims` on hand-built rows, against numbers worked out by hand.

Four problems, one finished chain each, three boundaries per chain:
- type A (p0, p2): thinking tokens 10, 20, 40; a forced answer is right from the 2nd boundary on;
- type B (p1, p3): thinking tokens 20, 60, 80; right only at the 3rd (the end of the thinking).
The probe scores A 0.1, 0.9, 0.95 and B 0.2, 0.3, 0.92; the model's answer confidence is 0.99
everywhere (confident when wrong too) and P(</think>) is high only at the last boundary. Folds:
{p0, p1} and {p2, p3}, so each fold trains on one chain of each type.
By hand: the probe's threshold (fewest tokens at no accuracy lost on training chains) is 0.9: A
stops at its 2nd boundary (saves 1 - 20/40 = 0.5), B at its 3rd (saves 0); a lower one stops B
early and wrong. Every baseline either stops a chain early and wrong or saves nothing: it keeps
`inf` (never stop early). A fifth chain is cut off (unfinished): counted, not scored.
"""

import math

import pytest

from starter.findings import check
from starter.questions import early_exit as ee

A_TOKENS, A_RIGHT, A_PROBE = [10, 20, 40], [False, True, True], [0.1, 0.9, 0.95]
B_TOKENS, B_RIGHT, B_PROBE = [20, 60, 80], [False, False, True], [0.2, 0.3, 0.92]


def chain_row(problem, tokens, right, finished=True):
    bounds = [{"k": k + 1, "tokens": t, "answer": "x", "correct": c, "answer_confidence": 0.99,
               "end_of_thinking": 0.9 if k == len(tokens) - 1 else 0.0}
              for k, (t, c) in enumerate(zip(tokens, right))]
    return {"unit": f"chain:{problem}:0", "kind": "chain", "problem": problem, "sample": 0,
            "prompt": "P", "completion": "C", "finished": finished, "correct": True,
            "boundaries": bounds}


def rows(skipped=None):
    chains = [chain_row("p0", A_TOKENS, A_RIGHT), chain_row("p1", B_TOKENS, B_RIGHT),
              chain_row("p2", A_TOKENS, A_RIGHT), chain_row("p3", B_TOKENS, B_RIGHT),
              chain_row("p4", [], [], finished=False)]
    scores = {"chain:p0:0": A_PROBE, "chain:p1:0": B_PROBE,
              "chain:p2:0": A_PROBE, "chain:p3:0": B_PROBE}
    probe = {"unit": "probe", "kind": "probe", "layer": 3, "skipped": skipped,
             "fold_of": {"p0": 0, "p1": 0, "p2": 1, "p3": 1}, "max_accuracy_drop": 0.0,
             "train": [{"chain:p2:0": A_PROBE, "chain:p3:0": B_PROBE},
                       {"chain:p0:0": A_PROBE, "chain:p1:0": B_PROBE}],
             "test": scores}
    return chains + [probe]


def test_counts_and_reference_numbers():
    m = ee.analyse(rows())
    assert (m.n_chains, m.n_unfinished, m.n_scored, m.n_boundaries) == (5, 1, 4, 12)
    assert m.label_rate.value == pytest.approx(6 / 12), "right forced answers: 2+1+2+1 of 12"
    assert m.full_accuracy.value == 1.0
    assert m.full_tokens.value == pytest.approx(60.0), "mean of 40, 80, 40, 80"
    assert m.oracle.saved.value == pytest.approx(0.25), "A saves 0.5 at its 2nd boundary, B 0"


def test_probe_threshold_and_savings_match_the_hand_computation():
    probe = ee.analyse(rows()).policies["probe"]
    assert probe.thresholds == [0.9, 0.9], "0.9 is the most cautious threshold that saves 0.25"
    assert probe.saved.value == pytest.approx(0.25)
    assert probe.tokens.value == pytest.approx((20 + 80 + 20 + 80) / 4)
    assert probe.accuracy.value == 1.0 and probe.accuracy_minus_full.value == 0.0


def test_baselines_never_stop_early_here():
    m = ee.analyse(rows())
    for name in ee.BASELINES[:-2]:  # the two rules are fixed (threshold 1.0), tested below
        result = m.policies[name]
        assert result.thresholds == [math.inf, math.inf], f"{name} should keep 'never stop'"
        assert result.saved.value == 0.0 and result.accuracy.value == 1.0
        # never stopping saves 0 by construction: a constant, not a Wilson-widened sample
        assert result.saved.exact and result.saved.ci == (0.0, 0.0)
        assert result.accuracy_minus_full.exact
    assert m.probe_minus["token_budget"].value == pytest.approx(0.25)
    probe = m.policies["probe"].saved
    assert m.probe_minus["token_budget"].ci == pytest.approx(probe.ci), "the probe's own interval"


def test_sweep_point_at_the_chosen_threshold():
    m = ee.analyse(rows())
    point = next(p for p in m.sweep if p.policy == "probe" and p.threshold == 0.9)
    assert point.saved.value == pytest.approx(0.25) and point.accuracy.value == 1.0
    low = next(p for p in m.sweep if p.policy == "probe" and p.threshold == 0.25)
    assert low.accuracy.value == pytest.approx(0.5), "at 0.25 both B chains stop wrong at k=2"


def test_claims_agree_with_their_intervals():
    m = ee.analyse(rows())
    found = ee.claims(m)
    assert len(found) == 6, "strongest baseline, the four others, accuracy"
    for claim in found:
        check(claim.to_dict())  # raises if a verdict contradicts its difference interval
    assert found[0].estimate.value == pytest.approx(0.25)
    assert found[0].difference.value == pytest.approx(0.25)
    assert [c.primary for c in found] == [True, False, False, False, False, False]
    assert found[0].strongest_baseline is not None
    assert found[0].to_dict()["strongest_baseline"]["value"] == 0.0
    assert all(c.ci_level > 0.95 for c in found[1:]), "secondary claims are Holm-adjusted"
    assert "probe" in ee.findings(m)


def test_target_rule_stops_at_the_first_try_that_reaches_the_target():
    # 'Try 3*4=12.' (k=1: 12 != 7), 'Miss.' (k=2: last Try still 12), 'Try 3+4=7.' (k=3: 7 = 7)
    bounds = [{"k": k} for k in (1, 2, 3, 4)]
    signal = ee.target_rule("Numbers: 3 4. Target: 7. <think>",
                            " Try 3*4=12. Miss. Try 3+4=7. Hit. </think> \\boxed{3+4}", bounds)
    assert signal == [0.0, 0.0, 1.0, 1.0]
    assert ee.target_rule("no target here", " Try 1+1=2.", bounds[:1]) == [0.0]


def test_target_rule_is_a_baseline_that_can_win():
    # write the A chains' text so the rule fires at their 2nd boundary (where the answer is right):
    # it saves 0.5 on A and nothing on B, as the probe does: the difference is 0 (by hand)
    data = rows()
    for r in data:
        if r.get("kind") == "chain" and r["problem"] in ("p0", "p2"):
            r["prompt"], r["completion"] = ("Numbers: 3 4. Target: 7. <think>",
                                            " Try 3*4=12. Try 3+4=7. Hit. </think> \\boxed{3+4}")
    m = ee.analyse(data)
    rule = m.policies["target_rule"]
    assert rule.thresholds == [1.0, 1.0], "a fixed rule: applied as stated, nothing chosen"
    assert rule.saved.value == pytest.approx(0.25)
    assert m.best_baseline == "target_rule"
    assert m.probe_minus["target_rule"].value == pytest.approx(0.0)


def test_forced_answer_rule_evaluates_the_forced_answer_against_the_target():
    bounds = [{"answer": a} for a in ("3*4", "3+4", "(3+4", None, "9-2", "7/0")]
    # 12 != 7; 7 = 7; unbalanced: no value; no answer; 9-2 = 7 with the wrong numbers (the rule
    # checks the value only, so it fires where the grader would not); a division by zero
    assert ee.forced_answer_rule("Numbers: 3 4. Target: 7. <think>", bounds) == [
        0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert ee.forced_answer_rule("no target", bounds[1:2]) == [0.0]


def with_text(data):
    """The A chains (p0, p2) written out: prompt target 7, forced answer 3+4 from the 2nd boundary
    on (where it is right), ending 'Hit.'; the B chains keep answer 'x' and no target."""
    for r in data:
        if r.get("kind") == "chain" and r["problem"] in ("p0", "p2"):
            r["prompt"], r["completion"] = ("Numbers: 3 4. Target: 7. <think>",
                                            " Try 3*4=12. Try 3+4=7. Hit. </think> \\boxed{3+4}")
            for b, answer in zip(r["boundaries"], ("3*4", "3+4", "3+4")):
                b["answer"] = answer
    return data


def test_forced_answer_rule_is_a_fixed_rung_that_can_be_the_strongest():
    # fires at A's 2nd boundary (saves 1 - 20/40 = 0.5), never on B: mean 0.25, as the probe; the
    # target rule fires at the same boundary, so the two tie (the first in BASELINES order wins)
    m = ee.analyse(with_text(rows()))
    rule = m.policies["forced_answer_rule"]
    assert rule.thresholds == [1.0, 1.0], "a fixed rule: applied as stated, nothing chosen"
    assert rule.saved.value == pytest.approx(0.25) and rule.accuracy.value == 1.0
    assert m.probe_minus["forced_answer_rule"].value == pytest.approx(0.0)
    # make the target rule miss (no Try reaches the target): the forced-answer rule is strongest
    data = with_text(rows())
    for r in data:
        r["completion"] = r.get("completion", "").replace("Try 3+4=7.", "Try 3+4=8.")
    m = ee.analyse(data)
    assert m.policies["target_rule"].saved.value == 0.0
    assert m.best_baseline == "forced_answer_rule"
    primary = ee.claims(m)[0]
    assert primary.key == ee.PRIMARY and primary.strongest_baseline.name.startswith(
        "verifier (equals the oracle except at 2 boundaries of 12)")  # B's last: answer x


def test_summary_says_first_how_many_stops_skip_only_the_final_hit():
    # the probe stops both A chains at their 2nd of 3 boundaries: exactly the final 'Hit.' step;
    # the B chains end with step 'C' (no Hit.) and are never stopped early
    m = ee.analyse(with_text(rows()))
    assert m.n_final_hit == 2
    assert m.final_step["probe"] == (2, 2)
    assert m.final_step["forced_answer_rule"] == (2, 2)
    assert m.final_step["oracle"] == (2, 2)
    assert m.final_step["token_budget"] == (0, 0)
    text = ee.findings(m)
    second = text.split("\n\n")[1]
    assert second.startswith("Nearly all of the savings here are the final step. 2 of "
                             "the 4 scored chains end with the step `Hit.`")
    assert "probe 0 of its 2 stops" in second and "token budget" in second


def test_headline_is_the_probe_as_a_share_of_the_oracle():
    # the probe and the oracle both stop A at its 2nd boundary (saves 0.5) and let B finish:
    # the probe saves all the oracle saves (ratio 1); both stops skip only A's last step, so with
    # the final step excluded both save 0; the verifier disagrees with the grade only at the two
    # B chains' last boundaries (right there, but their forced answer is the text "x")
    m = ee.analyse(with_text(rows()))
    assert m.probe_share_of_oracle.value == pytest.approx(1.0)
    assert m.saved_before_last["probe"].value == 0.0
    assert m.saved_before_last["oracle"].value == 0.0
    assert (m.verifier_disagrees, m.n_scored_boundaries) == (2, 12)
    text = ee.findings(m)
    assert text.startswith("Read first: the probe saves 1.00 (95% CI ")
    assert "comparator changed after review A" in text and "reference answer" in text


def test_saved_before_last_counts_only_stops_before_the_last_step():
    bounds = [{"tokens": 10, "correct": True}, {"tokens": 40, "correct": True},
              {"tokens": 42, "correct": True}]
    chain = ee.Chain("u", "p", True, bounds, None, final_step="Hit.")
    assert ee.saved_before_last(chain, ee.Outcome(10, True, 1 - 10 / 42)) == pytest.approx(0.75)
    assert ee.saved_before_last(chain, ee.Outcome(40, True, 1 - 40 / 42)) == 0.0
    assert ee.saved_before_last(chain, ee.Outcome(42, True, 0.0)) == 0.0


def test_a_skipped_probe_leaves_only_the_baselines_and_no_verdict():
    m = ee.analyse(rows(skipped="one grade only"))
    assert set(m.policies) == set(ee.BASELINES)
    found = ee.claims(m)
    assert {c.verdict for c in found} == {"not distinguishable"}
    for claim in found:
        check(claim.to_dict())
    assert "No probe was fitted (one grade only)" in ee.findings(m)


def test_plot_draws_without_error():
    m = ee.analyse(rows())
    fig = ee.plot(rows(), m)
    assert len(fig.axes) == 2
