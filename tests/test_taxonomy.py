"""Thought Anchors' sentence taxonomy in starter.cot: the keyword-rule tagger
(scheme "thought_anchors_rules") against hand labels, the organism mapping, and the LLM-judge hook's
strict parsing. The learned tagger (scheme "thought_anchors") is tested in tests/test_ta_tagger.py
and scored on Thought Anchors' own chains by scripts/score_ta_tools.py."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from starter import cot
from starter.cot import ORGANISM_TO_TA, TA_TAGS, judge_tags, parse_judge_answer, tag_step, tag_steps
from starter.errors import StarterError, UsageError
from starter.organism.data import make_trace, search

# 40 R1-style sentences (written in the style of DeepSeek-R1-Distill chains on MATH problems), each
# labelled by hand with the Thought Anchors function tag its DAG_PROMPT definition fits best,
# before the rules were run on them. Five per tag.
LABELLED: list[tuple[str, str]] = [
    ("Okay, so I have this problem where I need to find the number of positive divisors of 3600.",
     "problem_setup"),
    ("The problem says that the sum of two numbers is 25 and their difference is 7.",
     "problem_setup"),
    ("We are given a right triangle with legs 6 and 8.", "problem_setup"),
    ("Alright, let's see, the question is asking for the probability of rolling two sixes.",
     "problem_setup"),
    ("So, there's a circle inscribed in a square whose side length is 10.", "problem_setup"),
    ("First, I should factor 3600 into primes.", "plan_generation"),
    ("Let me try to set up an equation for this.", "plan_generation"),
    ("Maybe I can use the Pythagorean theorem here.", "plan_generation"),
    ("I need to find the value of x that satisfies both equations.", "plan_generation"),
    ("The idea is to count the complement instead.", "plan_generation"),
    ("I remember that the number of divisors is the product of each exponent plus one.",
     "fact_retrieval"),
    ("Recall that the area of a circle is pi times the radius squared.", "fact_retrieval"),
    ("There are 60 minutes in an hour.", "fact_retrieval"),
    ("The formula for the sum of an arithmetic series is n over 2 times the first plus last term.",
     "fact_retrieval"),
    ("A die has six faces, each equally likely.", "fact_retrieval"),
    ("3600 = 2^4 * 3^2 * 5^2.", "active_computation"),
    ("Adding the two equations gives 2x = 32, so x = 16.", "active_computation"),
    ("Then 6 squared plus 8 squared is 36 + 64 = 100.", "active_computation"),
    ("Multiplying both sides by 4 gives 12y - 8.", "active_computation"),
    ("(4+1)(2+1)(2+1) = 45.", "active_computation"),
    ("Wait, that doesn't seem right.", "uncertainty_management"),
    ("Hmm, maybe I misread the problem.", "uncertainty_management"),
    ("Alternatively, I could solve it by substitution.", "uncertainty_management"),
    ("But hold on, the radius is half the side, not the whole side.", "uncertainty_management"),
    ("I'm not sure whether the order of the dice matters here.", "uncertainty_management"),
    ("So the hypotenuse is 10.", "result_consolidation"),
    ("Therefore, the two numbers are 16 and 9.", "result_consolidation"),
    ("So far we have three cases that work.", "result_consolidation"),
    ("Putting it all together, the total is the sum of these cases.", "result_consolidation"),
    ("That means the probability is one over thirty-six.", "result_consolidation"),
    ("Let me double-check that: 16 + 9 = 25 and 16 - 9 = 7.", "self_checking"),
    ("Yes, that's correct.", "self_checking"),
    ("Plugging x = 16 back into the first equation, it works.", "self_checking"),
    ("To verify, the area of the square is 100, which is larger than the circle's.",
     "self_checking"),
    ("Just to be sure, I'll count the divisors of a smaller number like 12.", "self_checking"),
    ("So the final answer is \\boxed{45}.", "final_answer_emission"),
    ("Therefore, the answer is 16.", "final_answer_emission"),
    ("**Final Answer** \\boxed{\\frac{1}{36}}", "final_answer_emission"),
    ("The answer is 25 pi.", "final_answer_emission"),
    ("Thus, the number of positive divisors of 3600 is \\boxed{45}.", "final_answer_emission"),
]

# The share of LABELLED the rules tag as the hand label. Measured when the rules were written: 37/40
# (92.5%); the misses were left as they are (not tuned away), and are printed by
# test_rule_agreement_is_reported. The sentences and the rules have one author, so this is an
# optimistic estimate: expect less on real R1 chains (compare with the dataset's GPT-4o
# `function_tags`, starter.rollouts_dataset). The floor only guards against a rule that starts
# claiming what it should not.
MIN_AGREEMENT = 0.85
RULES = "thought_anchors_rules"  # the keyword rules; "thought_anchors" is the learned tagger


def test_hand_labels_cover_every_tag_evenly():
    assert len(LABELLED) >= 30
    assert Counter(tag for _, tag in LABELLED) == {tag: 5 for tag in TA_TAGS}


def test_rule_agreement_is_reported(capsys):
    misses = [(s, want, tag_step(s, scheme=RULES)) for s, want in LABELLED
              if tag_step(s, scheme=RULES) != want]
    agreement = 1 - len(misses) / len(LABELLED)
    with capsys.disabled():
        print(f"\nThought Anchors rule tagger: {agreement:.1%} agreement with "
              f"{len(LABELLED)} hand labels")
        for s, want, got in misses:
            print(f"  miss: {s!r}: hand {want}, rules {got}")
    assert agreement >= MIN_AGREEMENT, (
        f"rule agreement fell to {agreement:.1%} (< {MIN_AGREEMENT:.0%}); misses: {misses}; "
        "a rule in cot.TA_RULES now claims sentences it should not (rules are first-match-wins)")


def test_every_ta_rule_is_reachable():
    """Each tag is reached by at least one of the hand-labelled sentences."""
    got = {tag_step(s, scheme=RULES) for s, _ in LABELLED}
    assert got == set(TA_TAGS)


def test_organism_tags_map_exactly_to_thought_anchors():
    """On organism traces, TA tags from the TA scheme == ORGANISM_TO_TA[kit tag], step by step."""
    for numbers, target in [((8, 19, 4), 31), ((3, 5, 7), 22), ((2, 9, 6), 6)]:
        trace = make_trace(search(numbers, target))
        steps = cot.split_steps(trace.completion)
        assert steps, "an organism trace has steps"
        for step in steps:
            for scheme in (RULES, "thought_anchors"):
                ta = tag_step(step.text, scheme=scheme)
                assert ta == ORGANISM_TO_TA[step.tag], (
                    f"organism step {step.text!r}: kit tag {step.tag} maps to "
                    f"{ORGANISM_TO_TA[step.tag]}, but scheme {scheme} says {ta}")


def test_organism_truth_tags_map_where_one_to_one():
    trace = make_trace(search((8, 19, 4), 31))
    for step in trace.steps:
        if step.tag in cot.ORGANISM_TRUTH_TO_TA:
            assert tag_step(step.text, RULES) == cot.ORGANISM_TRUTH_TO_TA[step.tag]
            assert tag_step(step.text, "thought_anchors") == cot.ORGANISM_TRUTH_TO_TA[step.tag]


def test_default_scheme_is_unchanged_and_unknown_scheme_is_a_usage_error():
    assert tag_step("Wait, backtrack.") == "backtrack"
    assert [s.tag for s in cot.split_steps("Try 2+3=5. Hit.")] == ["compute", "verify"]
    allowed = "unknown tag scheme 'ta'; available: kit, thought_anchors, thought_anchors_rules"
    with pytest.raises(UsageError, match=allowed):
        tag_step("x", scheme="ta")
    with pytest.raises(UsageError, match="unknown tag scheme"):
        cot.split_steps("", scheme="ta")


def test_definitions_are_thought_anchors_dag_prompt_tags():
    assert TA_TAGS == ("problem_setup", "plan_generation", "fact_retrieval", "active_computation",
                       "result_consolidation", "uncertainty_management", "final_answer_emission",
                       "self_checking")


# ------------------------------------------------------------------------------ the judge hook


def _answer(tags: list[str], **extra) -> str:
    return json.dumps({str(i): {"function_tags": [t], **extra} for i, t in enumerate(tags)})


def test_judge_gets_the_steps_and_definitions_and_its_tags_are_used():
    steps = [s for s, _ in LABELLED[:3]]
    seen: list[str] = []

    def judge(prompt: str) -> str:
        seen.append(prompt)
        return _answer(["problem_setup", "unknown", "fact_retrieval"], depends_on=[])

    assert tag_steps(steps, "thought_anchors", judge=judge, problem="How many?") == [
        "problem_setup", "unknown", "fact_retrieval"]
    assert len(seen) == 1, "one judge call for all steps (their DAG prompt labels all at once)"
    prompt = seen[0]
    assert "How many?" in prompt and all(f"Chunk {i}:\n{s}" in prompt for i, s in enumerate(steps))
    assert all(f"`{tag}`: {text}" in prompt for tag, text in cot.TA_DEFINITIONS.items())


def test_judge_answer_in_a_json_fence_is_accepted():
    fenced = "```json\n" + _answer(["self_checking"]) + "\n```"
    assert parse_judge_answer(fenced, 1) == [("self_checking",)]


@pytest.mark.parametrize("answer, message", [
    ("Sure! Here are the tags: {}", "not one JSON object"),
    ("[\"plan_generation\"]", "not an object"),
    (_answer(["plan_generation"]), "expected '0'..'1'"),  # one step missing
    (_answer(["plan_generation", "active_computation", "self_checking"]), "expected '0'..'1'"),
    (json.dumps({"0": {"function_tags": []}, "1": {"function_tags": ["x"]}}), "function_tags"),
    (json.dumps({"0": ["plan_generation"], "1": {"function_tags": ["plan_generation"]}}),
     "judge step 0"),
    (_answer(["plan_generation", "Planning"]), "judge tagged step 1 'Planning'"),
    (_answer(["plan_generation", "self_checking"]) + " trailing", "not one JSON object"),
])
def test_judge_answers_are_parsed_strictly(answer, message):
    with pytest.raises(StarterError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_judge_answer(answer, 2)


def test_judge_only_for_thought_anchors_and_no_call_without_steps():
    with pytest.raises(UsageError, match="scheme 'kit'"):
        tag_steps(["x"], "kit", judge=lambda p: "{}")
    assert judge_tags([], judge=lambda p: pytest.fail("judge called for no steps")) == []
