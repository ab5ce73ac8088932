"""starter.cot: prompts, thinking/answer split, steps, tags and token spans, on R1-style and organism text."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

from starter import cot
from starter.cot import (
    STEP_TAGS,
    TAG_RULES,
    build_prompt,
    extract_boxed,
    split_completion,
    split_steps,
    step_token_spans,
    tag_step,
)
from starter.errors import UsageError

ORGANISM = (
    "Numbers: 8 19 4. Target: 31. <think> Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Wait, backtrack. "
    "Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}"
)
R1 = (
    "<think>\nOkay, so I need to find how many apples Tom has left. First, I need to figure out the total.\n\n"
    "He starts with 12 apples and eats 3.5 of them, so 12 - 3.5 = 8.5.\n\n"
    "Wait, can you eat half an apple? Hmm, the problem says 3.5, so yes.\n\n"
    "Let me check: 8.5 + 3.5 = 12. That matches.\n\n"
    "Alternatively, I could count what he ate.\n\n"
    "So the answer is 8.5.\n</think>\n\nTom has \\boxed{8.5} apples left."
)


def test_doctests_in_cot_run():
    result = doctest.testmod(cot)
    assert result.failed == 0, "a >>> example in starter/cot.py is out of date; run pytest --doctest-modules"


# ------------------------------------------------------------------------------------------ completion


def test_split_completion_organism_trace_drops_the_prompt():
    thinking, answer = split_completion(ORGANISM)
    assert thinking.startswith("Try 8*19=152.") and thinking.endswith("Hit."), thinking
    assert answer == "\\boxed{(8+19)+4}"


def test_split_completion_r1():
    thinking, answer = split_completion(R1)
    assert thinking.startswith("Okay, so I need") and thinking.endswith("So the answer is 8.5.")
    assert answer == "Tom has \\boxed{8.5} apples left."


def test_split_completion_without_close_tag_is_all_thinking():
    assert split_completion("<think>\nLet me see. 2+2=4") == ("Let me see. 2+2=4", "")
    assert split_completion("") == ("", "")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\boxed{8.5}", "8.5"),
        ("a \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{(8+19)+4}", "(8+19)+4"),
        ("no answer", None),
        ("cut off \\boxed{12", None),
        ("\\boxed{\\frac{20}{5}+13}", "\\frac{20}{5}+13"),  # nested braces (a regex copy gave None)
        ("So \\boxed { (19 - 8) \\times 4 }.", "(19 - 8) \\times 4"),  # spaces before and inside
        ("\\fbox{7}", "7"),
        ("\\boxed{25} ... corrected: \\fbox{27}", "27"),  # the last box of either kind wins
        ("\\boxed{3} then \\boxed{1", None),  # the last box never closed: cut off inside it
        ("\\boxed{}", ""),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


def test_there_is_one_extract_boxed():
    """Every grader and starter reads boxes through starter.cot.extract_boxed; no second copy."""
    package = Path(cot.__file__).parent
    defining = [str(f.relative_to(package)) for f in package.rglob("*.py")
                if re.search(r"^\s*def extract_boxed\b", f.read_text(encoding="utf-8"), re.M)]
    assert defining == ["cot.py"], f"extract_boxed defined in {defining}; import starter.cot's"


# ----------------------------------------------------------------------------------------------- steps


def test_organism_steps_and_tags():
    thinking, _ = split_completion(ORGANISM)
    steps = split_steps(thinking)
    got = [(s.text, s.tag) for s in steps]
    assert got == [
        ("Try 8*19=152.", "compute"),
        ("Left: 152, 4.", "plan"),
        ("Try 152-4=148.", "compute"),
        ("Miss.", "verify"),
        ("Wait, backtrack.", "backtrack"),
        ("Try 8+19=27.", "compute"),
        ("Left: 27, 4.", "plan"),
        ("Try 27+4=31.", "compute"),
        ("Hit.", "verify"),
    ], "organism sentences must split at '. ' and tag by TAG_RULES"


def test_the_organism_answer_is_conclude():
    assert tag_step("\\boxed{(8+19)+4}") == "conclude"
    assert tag_step("</think> \\boxed{(8+19)+4}") == "conclude"


def test_r1_steps_keep_decimals_whole_and_tag_r1_words():
    thinking, _ = split_completion(R1)
    steps = split_steps(thinking)
    texts = [s.text for s in steps]
    assert "He starts with 12 apples and eats 3.5 of them, so 12 - 3.5 = 8.5." in texts, texts
    tags = {s.text: s.tag for s in steps}
    assert tags["Okay, so I need to find how many apples Tom has left."] == "plan"
    assert tags["First, I need to figure out the total."] == "plan"
    assert tags["He starts with 12 apples and eats 3.5 of them, so 12 - 3.5 = 8.5."] == "compute"
    assert tags["Wait, can you eat half an apple?"] == "backtrack"
    assert tags["Hmm, the problem says 3.5, so yes."] == "backtrack"
    assert tags["Let me check: 8.5 + 3.5 = 12."] == "verify"
    assert tags["Alternatively, I could count what he ate."] == "backtrack"
    assert tags["So the answer is 8.5."] == "conclude"


@pytest.mark.parametrize(
    "sentence, tag",
    [
        ("We need to verify this result.", "verify"),  # 'verify' outranks the planning phrase
        ("Let me double-check the multiplication.", "verify"),
        ("Therefore, the final answer is 42.", "conclude"),
        ("Hold on, I made an error.", "backtrack"),
        ("That is wrong.", "backtrack"),
        ("The problem asks for the area.", "plan"),
        ("Multiply both sides by 2.", "compute"),
        ("The sky is blue.", cot.DEFAULT_TAG),
    ],
)
def test_tag_rules_on_common_phrases(sentence, tag):
    assert tag_step(sentence) == tag


def test_offsets_index_the_thinking_text():
    thinking, _ = split_completion(R1)
    for i, step in enumerate(split_steps(thinking)):
        assert step.index == i
        assert thinking[step.start : step.end] == step.text, "Step.start/end must slice the thinking text"
        assert step.tag in STEP_TAGS


def test_tag_rules_cover_exactly_the_step_tags():
    assert {tag for tag, _ in TAG_RULES} == set(STEP_TAGS)


# --------------------------------------------------------------------------------------------- prompts


class _ChatTokenizer:
    """Stands in for a tokenizer with a chat template (only the two attributes build_prompt uses)."""

    def __init__(self, template_tail: str):
        self.chat_template = "set"
        self.tail = template_tail

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return f"<BOS><|user|>{messages[0]['content']}{self.tail}"


def test_r1_prompt_opens_the_thinking_block():
    for tail in ("<|assistant|><think>\n", "<|assistant|><think>", "<|assistant|>"):
        prompt = build_prompt("r1", _ChatTokenizer(tail), question="What is 2+3?")
        assert prompt.endswith("<think>\n") and prompt.count("<think>") == 1, (tail, prompt)
        assert "What is 2+3?" in prompt and "\\boxed{}" in prompt


def test_r1_fallback_without_a_template():
    prompt = build_prompt("r1", None, question="Q?")
    assert prompt.startswith("<｜begin▁of▁sentence｜><｜User｜>Q?") and prompt.endswith("<｜Assistant｜><think>\n")


def test_chatml_prompt_asks_for_steps_and_a_box():
    prompt = build_prompt("chatml", _ChatTokenizer("<|assistant|>"), question="What is 2+3?")
    assert "step by step" in prompt and "\\boxed{}" in prompt and prompt.endswith("<|assistant|>")


def test_organism_prompt_is_the_raw_prompt_and_needs_one():
    assert build_prompt("organism", None, raw_prompt="Numbers: 1 2 3. Target: 6. <think>") == (
        "Numbers: 1 2 3. Target: 6. <think>"
    )
    with pytest.raises(UsageError, match="raw_prompt"):
        build_prompt("organism", None, question="What is 2+3?")
    with pytest.raises(UsageError, match="question"):
        build_prompt("r1", None, raw_prompt="x")
    with pytest.raises(UsageError, match="available: chatml, r1, organism"):
        build_prompt("alpaca", None, question="x")


# ----------------------------------------------------------------------------------------- token spans


def _bpe_tokenizer():
    """A small byte-level BPE trained in memory (real merges and offsets, no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator([ORGANISM, R1] * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


@pytest.mark.parametrize("text", [ORGANISM, R1])
def test_token_spans_line_up_with_step_text(text):
    tokenizer = _bpe_tokenizer()
    thinking, _ = split_completion(text)
    offset = text.index(thinking)  # where the thinking starts in the full text
    steps = split_steps(thinking)
    spans = step_token_spans(tokenizer, text, steps, offset=offset)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(spans) == len(steps)
    for step, (start, end) in zip(steps, spans):
        decoded = tokenizer.decode(ids[start:end])
        assert step.text in decoded and len(decoded) <= len(step.text) + 2, (
            f"tokens {start}:{end} decode to {decoded!r}, expected the step {step.text!r}"
        )
    assert all(a[0] <= b[0] for a, b in zip(spans, spans[1:])), "spans must be in order"
