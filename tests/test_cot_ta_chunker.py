"""The Thought-Anchors-compatible chunker, cot.split_steps(text, chunker="thought_anchors").

Every chain here is written by us; the cuts expected are worked out by hand from the rules of
their splitter (utils.split_solution_into_chunks in github.com/interp-reasoning/thought-anchors):
cut after ".", "?" or "!" followed by a space or newline, and at a blank line; strip each piece;
glue a piece under 10 characters to the next one with one space (the last piece to the one before).
The agreement on their 40 public chains is measured by scripts/score_ta_tools.py (not a test: no
test reads the fetched data).
"""

from __future__ import annotations

import pytest

from starter import cot
from starter.errors import UsageError


def _texts(text: str) -> list[str]:
    return [s.text for s in cot.split_steps(text, chunker="thought_anchors")]


def test_sentence_ends_need_a_space_or_newline_after_them():
    text = "The rate is 0.5 per month. So 12 months give 6.0 in all! Is that right? Yes it is."
    assert cot.thought_anchors_chunks(text) == [
        "The rate is 0.5 per month.", "So 12 months give 6.0 in all!", "Is that right?",
        "Yes it is.",
    ]


def test_a_single_newline_does_not_cut_but_a_blank_line_does():
    text = "**Final Answer**\nThe answer is 7\n\nThen we stop here"
    assert cot.thought_anchors_chunks(text) == [
        "**Final Answer**\nThe answer is 7", "Then we stop here"]


def test_short_pieces_join_the_next_one_with_one_space():
    # "Hmm." is under 10 characters and joins "Ok.": "Hmm. Ok." is still under 10, so the merged
    # piece is checked again and joins the next one too.
    text = "Hmm.\n\nOk. Let me recount the apples."
    assert cot.thought_anchors_chunks(text) == ["Hmm. Ok. Let me recount the apples."]
    # ten characters are enough: "Hmm. Wait." stays a chunk of its own
    assert cot.thought_anchors_chunks("Hmm.\n\nWait. Let me recount the apples.") == [
        "Hmm. Wait.", "Let me recount the apples."]
    # the offsets span the original text, blank line included
    steps = cot.split_steps(text, chunker="thought_anchors")
    assert [(s.start, s.end) for s in steps] == [(0, len(text))]
    assert steps[0].text == text


def test_a_short_last_piece_joins_the_one_before():
    text = "So the total is 42 apples. Done."
    assert cot.thought_anchors_chunks(text) == ["So the total is 42 apples. Done."]
    assert _texts(text) == ["So the total is 42 apples. Done."]


def test_only_the_thinking_is_cut_and_offsets_index_the_whole_text():
    text = ("Prompt: add 2 and 3.\n<think>\nFirst add 2 and 3 together. That gives 5 in total."
            "\n</think>\n\nThe answer is \\boxed{5}.")
    steps = cot.split_steps(text, chunker="thought_anchors")
    assert [s.text for s in steps] == ["First add 2 and 3 together.", "That gives 5 in total."]
    for s in steps:
        assert text[s.start:s.end] == s.text
    assert steps[0].start == text.index("First")


def test_text_without_think_tags_is_cut_whole_and_a_single_short_piece_is_kept():
    assert cot.thought_anchors_chunks("Yes.") == ["Yes."]
    assert cot.thought_anchors_chunks("   \n\n  ") == []
    assert cot.split_steps("", chunker="thought_anchors") == []


def test_it_is_coarser_than_the_default_chunker():
    text = "Try 3.5*2=7. Hit.\nOkay, now the next number. It is 9."
    assert [s.text for s in cot.split_steps(text)] == [
        "Try 3.5*2=7.", "Hit.", "Okay, now the next number.", "It is 9."]
    assert _texts(text) == ["Try 3.5*2=7.", "Hit.\nOkay, now the next number. It is 9."]


def test_steps_are_tagged_with_the_scheme_asked_for():
    text = "Wait, that is wrong. Let me recompute 12 * 3 = 36."
    kit = cot.split_steps(text, chunker="thought_anchors")
    assert [s.tag for s in kit] == ["backtrack", "compute"]
    ta = cot.split_steps(text, scheme="thought_anchors_rules", chunker="thought_anchors")
    assert [s.tag for s in ta] == ["uncertainty_management", "active_computation"]
    learned = cot.split_steps(text, scheme="thought_anchors", chunker="thought_anchors")
    assert all(s.tag in cot.TA_TAGS for s in learned)


def test_default_chunker_is_unchanged_and_an_unknown_one_is_a_usage_error():
    assert [(s.text, s.start, s.end) for s in cot.split_steps("Try 3.5*2=7. Hit.\nDone")] == [
        ("Try 3.5*2=7.", 0, 12), ("Hit.", 13, 17), ("Done", 18, 22)]
    with pytest.raises(UsageError, match="unknown chunker 'ta'; available: sentences, "
                                         "thought_anchors"):
        cot.split_steps("x", chunker="ta")
