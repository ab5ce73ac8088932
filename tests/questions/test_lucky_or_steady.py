"""lucky-or-steady: analyse and claims on hand-built rows, against numbers computed by hand."""

from __future__ import annotations

import math

import pytest

from starter import prefixes, stats
from starter.errors import UsageError
from starter.findings import check
from starter.frame import metrics_dict
from starter.organism import variants
from starter.organism.data import make_trace
from starter.questions import lucky_or_steady as los
from starter.tasks.countdown import search


def o(correct: bool, first_step: str | None = None, finished: bool = True) -> dict:
    return {"correct": correct, "finished": finished, "answer": None, "first_step": first_step}


def chain(problem: str, ok: bool, entry: int | None, tags: list[str], steps: list[str],
          outcomes: list[list[dict]], forced: list[list[dict]]) -> list[dict]:
    """Prefix rows k = 0..n of one chain of n = len(steps) steps."""
    name = f"{problem}:{'correct' if ok else 'wrong'}"
    return [{"unit": f"prefix:{name}:k{k}", "kind": "prefix", "chain": name, "problem": problem,
             "chain_correct": ok, "coarse": True, "step_match": "exact", "solution_entry": entry,
             "k": k, "n_steps": len(steps), "tag": tags[k - 1] if k else None,
             "step_text": steps[k - 1] if k else None,
             "next_step": steps[k] if k < len(steps) else None,
             "outcomes": outcomes[k], "forced": forced[k]} for k in range(len(steps) + 1)]


F, T = o(False), o(True)
ROWS = (
    # p1: P(correct) 0, 0, 1, 1 -- one jump, at step 2, the true solution entry.
    chain("p1", True, 2, ["compute", "compute", "verify"], ["S1", "S2", "S3"],
          outcomes=[[o(False, "S1")] * 4,
                    [o(False, "S2"), o(False, "S2"), o(False, "X"), o(False, "X")],
                    [o(True, "Y")] * 4,
                    [T] * 4],
          forced=[[F, F], [F, F], [T, F], [T, T]])
    # p2: P(correct) 0, 1/2, 1/2, 1 -- two equal jumps (steps 1 and 3); the entry is step 3.
    + chain("p2", True, 3, ["compute", "plan", "compute"], ["T1", "T2", "T3"],
            outcomes=[[o(False, "Z")] * 4,
                      [o(True, "T2"), o(False, "T2"), o(False, "T2", finished=False)],
                      [o(False, "W"), o(True, "T3")],
                      [T] * 4],
            forced=[[F, F], [F, F], [F, F], [T, T]])
    # p1's wrong chain: P(correct) 1, 1/2, 0, 0 -- its fall, largest single fall half of it.
    + chain("p1", False, None, ["compute", "compute", "verify"], ["R1", "R2", "R3"],
            outcomes=[[T] * 2, [T, F], [F] * 2, [F] * 2], forced=[[F]] * 4)
)


def test_analyse_matches_hand_computed_values():
    m = los.analyse(list(ROWS))
    assert (m.chains, m.wrong_chains, m.correct.moving) == (2, 1, 2)
    assert m.correct.p_start.value == 0.0 and m.correct.p_end.value == 1.0
    assert m.correct.unfinished == 1, "p2's unfinished continuation is counted apart"
    # largest share: p1 1.0 (one jump), p2 0.5 (two equal jumps) -> mean 0.75
    assert m.correct.largest_share.value == pytest.approx(0.75)
    # both chains: 3 steps, >= 2 finished; the null keeps rises >= MIN_RISE like the real curves
    null = prefixes.steady_null_share(3, 0.0, 1.0, 4, min_rise=los.MIN_RISE)
    null_p2 = prefixes.steady_null_share(3, 0.0, 1.0, 2, min_rise=los.MIN_RISE)  # p2: >= 2 finished
    assert m.correct.null_share.value == pytest.approx((null + null_p2) / 2)
    assert m.wrong.largest_share.value == pytest.approx(0.5), "1 - P: 0, .5, 1, 1"
    # the largest whole-curve jump: p1 at step 2 (not the last, 3); p2 steps 1 and 3 tie at 0.5
    # and the earlier wins: none on the final step
    assert m.correct.jump_on_last == 0


def test_the_primary_drops_the_final_step_and_bounds_the_share():
    m = los.analyse(list(ROWS))
    # before the final step (k = 0..2): p1 0, 0, 1 (one rise: share 1); p2 0, 1/2, 1/2 (one
    # rise of 1/2: share 1). Both rose >= MIN_RISE.
    assert m.correct.before_moving == 2
    assert m.correct.before_share.value == pytest.approx(1.0)
    null_p1 = los.steady_null_upward(2, 0.0, 1.0, 4)  # k = 0..2: >= 4 finished
    null_p2 = los.steady_null_upward(2, 0.0, 0.5, 2)  # p2's k = 1 has 2 finished
    assert m.correct.before_null.value == pytest.approx((null_p1 + null_p2) / 2)
    # where the largest rise before the final step sits: p1 step 2, p2 step 1, both "compute"
    assert (m.correct.before_on_compute, m.correct.before_on_verify) == (2, 0)
    # from k = n-1 = 2: p1's 4 continuations are right; p2's "W" is wrong (and its first step is
    # not the chain's final "T3"), its "T3" right: 1 wrong of 6, flipped 1 of 1
    assert m.wrong_before_final.value == pytest.approx(1 / 6)
    assert (m.flipped_final_step.successes, m.flipped_final_step.n_items) == (1, 1)
    # the wrong chain: 1 - P = 0, 1/2, 1 before its final step: two equal rises, share 1/2
    assert m.wrong.before_share.value == pytest.approx(0.5)
    # a jump on the last step: P 0, 0, 0, 1 (the verdict) -- the whole curve's largest jump is
    # the final step; before it the curve is flat, so it does not count as moving
    last = los.summarise_chain(chain("q", True, None, ["compute"] * 3, ["A", "B", "C"],
                                     outcomes=[[F] * 4, [F] * 4, [F] * 4, [T] * 4],
                                     forced=[[F]] * 4))
    assert last.moving and last.jump_on_last and not last.before_moving
    assert math.isnan(last.before_share)


def test_upward_share_is_bounded_where_the_net_share_is_not():
    dip = [0.5, 0.25, 0.25, 1.0]  # falls 0.25, then rises 0.75: net rise 0.5
    assert prefixes.jump_stats(dip).largest_share == pytest.approx(1.5), "the old share: > 1"
    assert los.upward_share(dip) == 1.0, "one rise carries all the upward movement"
    assert los.upward_share([0.0, 0.25, 0.5, 0.75, 1.0]) == pytest.approx(0.25)
    assert los.upward_share([0.0, 0.5, 0.25, 0.75]) == pytest.approx(0.5), "rises .5 and .5"
    # no noise: a steady rise shows 1/n; with noise more, less with more rollouts
    assert los.steady_null_upward(4, 0.0, 1.0, 100000) == pytest.approx(0.25, abs=0.01)
    assert los.steady_null_upward(10, 0.4, 0.8, 24) < los.steady_null_upward(10, 0.4, 0.8, 8)


def test_top_steps_against_the_solution_entry():
    m = los.analyse(list(ROWS))
    assert m.entry_known == 2
    # resampling: p1 top = step 2 (= entry); p2 steps 1 and 3 tie at 0.5, the earlier wins -> miss
    assert m.resampling.entry_hit.successes == 1
    # counterfactual: p1 step 1 nan (every rewrite was S1), step 2: 1 - 0 (the "X" rewrites) -> hit;
    # p2 step 1: 0.5 - 0 ("Z"), step 2 nan (all "T2"), step 3: 1 - 0 (only "W" differs from T3)
    assert m.counterfactual.entry_hit.successes == 2
    # forced: p1 0, .5, .5 -> step 2 (hit); p2 0, 0, 1 -> step 3 (hit)
    assert m.forced.entry_hit.successes == 2
    # random step with the entry's tag: p1 has 2 "compute" steps, p2 has 2 -> 1/2 each
    assert m.entry_random_rate.value == pytest.approx(0.5)
    assert m.resampling.entry_hit_minus_random.value == pytest.approx(0.0)
    assert m.forced.entry_at.value == pytest.approx(0.75), "p1 .5, p2 1.0"


def test_claims_verdicts_agree_with_their_intervals():
    claims = los.claims(los.analyse(list(ROWS)))
    assert len(claims) == 6, "three jump claims (before the final step, the old whole curve, "
    "the search-graded curve) and one entry claim per importance measure"
    assert [c.key for c in claims if c.primary] == [los.PRIMARY] == ["jump-before-verdict"]
    assert claims[0].primary and claims[1].key == los.OLD_PRIMARY == "largest-jump"
    for claim in claims:
        check(claim.to_dict())
        assert claim.control.estimate.n == claim.estimate.n
        assert claim.verdict == "not distinguishable", f"2 problems < {los.MIN_PROBLEMS}: no verdict"


def test_findings_reads_without_error_and_names_the_mirror():
    text = los.findings(los.analyse(list(ROWS)))
    assert "wrong answer" in text and "steady" in text
    assert text.startswith("Read first: the largest jump"), "what the organism shows comes first"
    assert "**So the primary claim changed after review**" in text and "largest-jump" in text


def test_solution_entry_comes_from_the_true_tree():
    trace = make_trace(search((8, 19, 4), 31))
    assert los.solution_entry(trace, trace.completion) == 8, "two misses, then Try 8+19=27."
    detour = " Try 8*19=152. Left: 152, 4. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit."
    assert los.solution_entry(trace, detour) is None, "off the true search: no ground truth"


def test_refine_ks_resamples_inside_the_largest_bucket():
    assert los.refine_ks([0, 3, 6], [0.0, 0.8, 1.0]) == [1, 2]
    assert los.refine_ks([0, 3, 6], [0.0, math.nan, 1.0]) == []


def test_plot_draws_from_hand_built_rows():
    fig = los.plot(list(ROWS), los.analyse(list(ROWS)))
    assert len(fig.axes) == 3, "curves, jump vs null, importance by tag"


def test_no_interval_from_fewer_than_min_problems_anywhere():
    m = los.analyse(list(ROWS))  # 2 problems
    numbers = metrics_dict(m).items()
    estimates = {k: v for k, v in numbers if isinstance(v, stats.Estimate)}
    assert estimates, "analyse reports estimates"
    for key, est in estimates.items():
        if est.n < los.MIN_PROBLEMS:
            assert est.ci is None, f"{key} shows an interval from {est.n} problems"
    text = los.findings(m)
    assert "95% CI" not in text, "no interval in the text from 2 problems"
    assert "hypothesis about R1-distill" in text


def test_reaching_entry_reads_the_chain_in_any_branch_order():
    numbers, target = (8, 19, 4), 31
    trace = make_trace(search(numbers, target))
    assert los.reaching_entry(trace.completion, numbers, target) == 8, (
        "on the base's own search it is the true solution entry (Try 8+19=27., step 8)")
    shuffled = (" Try 8*4=32. Left: 32, 19. Try 32-19=13. Miss. Wait, backtrack."
                " Try 19+4=23. Left: 23, 8. Try 23+8=31. Hit.")
    assert los.reaching_entry(shuffled, numbers, target) == 6, "19+4 reaches 31; 8*4 does not"
    final_only = " Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss."
    assert los.reaching_entry(final_only, numbers, target) is None, "no reaching branch opened"


def test_entry_rule_is_checked_and_keeps_the_search_by_default():
    assert los.Config().entry_rule == "search", "the base's runs keep the true-search entry"
    with pytest.raises(UsageError, match="entry_rule"):
        los.Config(entry_rule="tree")


def pilot_row(problem: str, numbers: list[int], target: int, correct: list[bool],
              model: str = "tinythinker-lucky") -> dict:
    return {"unit": f"pilot:{problem}", "kind": "pilot", "problem": problem, "prompt": "P",
            "model": model, "numbers": numbers, "target": target, "chains": [""] * len(correct),
            "correct": correct, "finished": [True] * len(correct)}


PILOTS = [pilot_row("p1", [8, 19, 4], 31, [True, False, False, False]),
          pilot_row("p2", [8, 19, 4], 31, [True, True, False, False])]


def test_validation_measures_read_the_starters_own_metrics():
    m = los.analyse(list(ROWS) + PILOTS)
    share = los.measure_share(m)
    assert share.value == pytest.approx(0.75) and share.ci is None, "2 problems: no interval"
    assert los.measure_entry_hit(m).value == pytest.approx(0.5), "p1 hit, p2 tie -> earlier step"
    start = los.measure_p_start(m)
    assert start.value == pytest.approx(3 / 8), "all piloted chains: 1/4 and 2/4"
    rule = variants.p_solved_in_budget((8, 19, 4), 31, budget=3)
    assert start.planted == pytest.approx(rule), "planted: the lucky rule's P(solved in budget)"
    base = los.analyse(list(ROWS) + [pilot_row("p1", [8, 19, 4], 31, [True], "tinythinker")])
    assert base.rule_p_start is None and "rule_p_start" not in metrics_dict(base)
    assert los.measure_p_start(base).planted is None


def test_validation_arms_and_orders():
    primary, share, hit, start = los.VALIDATION
    assert primary.quantity.startswith("primary:")
    assert primary.measure is los.measure_before_share
    assert [a.model for a in primary.arms] == [a.model for a in share.arms]
    assert [a.model for a in share.arms] == ["tinythinker-heuristic", "tinythinker-lucky"]
    assert all(a.planted is None for a in share.arms) and share.increasing, "lucky >= heuristic"
    assert [a.planted for a in hit.arms] == [1.0, 1.0], "the jump is at the entry on both"
    assert [a.learned for a in start.arms] == ["solved_t1", "solved_t1"]
    for v in los.VALIDATION:
        assert "temperature=1.0" in v.settings["cpu"], "the lottery needs sampling at T=1"
        assert "entry_rule=chain" in v.settings["smoke"]


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    blocks = smoke_validation("lucky-or-steady").record["validations"]
    assert len(blocks) == 4, "the primary, share of the rise, entry hit, P(correct | k=0)"
    for block in blocks:
        assert {a["variant"] for a in block["arms"]} == {"tinythinker-lucky",
                                                         "tinythinker-heuristic"}


def test_where_the_largest_rise_sits_is_read_from_the_continuations():
    # the prefix before the rise: continuations that flip the verdict, miscompute the chain's
    # line, all copy it, or write another step (a branch choice; ties go to it)
    assert los.rise_kind("Miss.", ["Hit.", "Hit.", "Miss."]) == "verdict flip"
    assert los.rise_kind("Try 15-15=0.", ["Try 15-15=10.", "Try 15-15=0."]) == (
        "miscopied arithmetic")
    assert los.rise_kind("Try 17-3=14.", ["Try 17-3=14."] * 24) == "copied by every continuation"
    assert los.rise_kind("Try 2+3=5.", ["Try 2*3=6.", "Try 2+3=6."]) == "branch choice"
    m = los.analyse(list(ROWS))
    # p1: the rise 0 -> 1 is at step 2 ("S2"); from k = 1 two continuations write "S2", two "X":
    # a branch choice. p2: the rise 0 -> 1/2 is at step 1 ("T1"); from k = 0 all write "Z"
    c = m.correct
    assert (c.before_branch, c.before_verdict_flip, c.before_miscopied, c.before_copied) == (
        2, 0, 0, 0)
    # continuations copying the chain's next step (finished, correct chains): p1 k0 "S1" 4 of
    # 4, k1 "S2" 2 of 4, k2 "Y" for "S3" 0 of 4; p2 k0 "Z" for "T1" 0 of 4, k1 "T2" 2 of 2
    # finished, k2 "T3" 1 of 2 -> 9 of 20
    assert (m.copies_next_step.successes, m.copies_next_step.n_items) == (9, 20)
    assert "a branch choice in 2" in los.claims(m)[0].claim


def test_entry_claims_stand_beside_the_first_try_after_the_last_backtrack():
    steps = [("compute", "Try 8*19=152."), ("plan", "Left: 152, 4."),
             ("backtrack", "Wait, backtrack."), ("compute", "Try 8+19=27."),
             ("plan", "Left: 27, 4."), ("backtrack", "Wait, backtrack."), ("compute", "Try 4+8=12.")]
    assert los.first_try_after_backtrack(steps) == 7
    assert los.first_try_after_backtrack(steps[:5]) == 4
    assert los.first_try_after_backtrack([("plan", "Left: 1, 2.")]) is None
    m = los.analyse(list(ROWS))
    # hand-built step texts hold no "Try": the rule never hits, so resampling's 1/2 minus 0
    assert m.backtrack_rule_hit.value == 0.0
    assert m.resampling.entry_hit_minus_rule.value == pytest.approx(0.5)
    entry_claims = [c for c in los.claims(m) if c.key.startswith("entry-")]
    assert len(entry_claims) == 3
    for claim in entry_claims:
        assert claim.strongest_baseline is not None
        assert claim.strongest_baseline.estimate == m.backtrack_rule_hit
        assert claim.control.estimate == m.backtrack_rule_hit
        assert "strongest_baseline" in claim.to_dict()


def test_search_grade_reads_the_derivation_not_the_verdict_or_the_box():
    # a valid derivation counts whatever verdict follows it and whatever value is written
    assert los.search_found(["Try 8+19=27.", "Left: 27, 4.", "Try 27+4=31.", "Miss."],
                            (8, 19, 4), 31)
    assert los.search_found(["Try 8+19=26.", "Left: 26, 4.", "Try 27+4=30.", "Miss."],
                            (8, 19, 4), 31), "true values: 8+19 is 27, 27+4 is 31"
    # a miscopied node value: its later lines use a number the node does not have
    assert not los.search_found(["Try 15-15=10.", "Left: 10, 7.", "Try 10-3=7.", "Hit."],
                                (15, 15, 7), 7)
    # a false Hit. on a missed Try, a final Try that leaves a number unused, and a backtrack
    assert not los.search_found(["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148.", "Hit."],
                                (8, 19, 4), 31)
    assert not los.search_found(["Try 8+19=27.", "Left: 27, 4.", "Wait, backtrack.",
                                 "Try 27+4=31."], (8, 19, 4), 31)
    assert los.search_found(["Try 8*19=152.", "Left: 152, 4.", "Wait, backtrack.",
                             "Try 19+4=23.", "Left: 23, 8.", "Try 23+8=31."], (8, 19, 4), 31)
    t = make_trace(search((15, 15, 7), 7))
    assert los.search_found([s.text for s in prefixes.chain_steps(t.completion)], (15, 15, 7), 7)


def test_the_search_graded_curve_before_the_final_step():
    def g(found: bool, first: str) -> dict:
        return {**o(not found, first), "found": found}  # boxed answers say the opposite
    rows = chain("s1", True, None, ["compute", "plan", "verify"],
                 ["Try 1+2=3.", "Left: 3, 4.", "Hit."],
                 outcomes=[[g(False, "Try 1+2=3.")] * 4,
                           [g(True, "Left: 3, 4."), g(True, "Left: 3, 4."), g(False, "X"),
                            g(False, "X")],
                           [g(True, "Hit.")] * 4, [g(True, None)] * 4],
                 forced=[[F]] * 4)
    r = los.summarise_chain(rows)
    # found before the final step: 0, 1/2, 1 -> two equal rises, share 1/2; the first (k 0 -> 1)
    # is the largest by order, and every continuation from k = 0 writes the chain's step
    assert r.search_moving and r.search_share == pytest.approx(0.5)
    assert r.search_null == pytest.approx(los.steady_null_upward(2, 0.0, 1.0, 4))
    assert r.search_kind == "copied by every continuation"
    assert not r.before_moving, "graded by the box the curve falls: 1, 1/2, 0"
    m = los.analyse(rows)
    assert (m.correct.search_moving, m.correct.search_copied, m.correct.search_branch) == (1, 1, 0)
    # every continuation that boxes a wrong answer here derived the target: 2 + 4 + 4 of 10
    assert (m.found_when_wrong.successes, m.found_when_wrong.n_items) == (10, 10)
    assert "search-before-verdict" in los.claims(m)[0].claim
    # rows without search grades (written before them) give no search curve
    m = los.analyse(list(ROWS))
    assert m.correct.search_moving == 0 and math.isnan(m.correct.search_share.value)
    assert [c.key for c in los.claims(m)][:3] == [los.PRIMARY, los.OLD_PRIMARY, los.SEARCH]


def test_a_rollout_record_carries_its_search_grade():
    task = los.get_task_set("countdown")
    problem = task.make(1, seed=0)[0]
    t = make_trace(search(tuple(problem.meta["numbers"]), problem.meta["target"]))
    record = los.outcome(task, problem, t.completion, True, 0)
    assert record["found"] is True and record["correct"] is True
    assert los.to_outcome(record) == los.importance.Outcome(
        correct=True, finished=True, answer=record["answer"], first_step=record["first_step"])
