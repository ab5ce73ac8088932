"""Chain-of-thought helpers: prompt formats, the thinking block, steps and their tags. No torch needed.

A thinking model writes `<think> ... </think>` and then its answer. This module turns a question into the
prompt each model family expects, splits a completion into (thinking, answer), cuts the thinking into
steps (sentences or lines) with character offsets, tags every step with ONE transparent rule list, and
maps steps to token spans so activations can be read per step.

>>> thinking, answer = split_completion("First, add them. 2+3=5. Wait, check: 5-3=2. Yes.</think>So \\\\boxed{5}")
>>> [(s.text, s.tag) for s in split_steps(thinking)]
[('First, add them.', 'plan'), ('2+3=5.', 'compute'), ('Wait, check: 5-3=2.', 'backtrack'), ('Yes.', 'verify')]
>>> extract_boxed(answer)
'5'

The tags (plan, compute, verify, backtrack, conclude) come from `TAG_RULES`, the single source of truth:
an ordered list of (tag, regex); the first rule whose regex matches a step wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from starter.errors import StarterError, UsageError

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# DeepSeek's recommended instruction for R1 and its distills (math): reason, then box the final answer.
STEP_BY_STEP = "Please reason step by step, and put your final answer within \\boxed{}."

# The R1-distill prompt when the tokenizer carries no chat template: what their template renders for one
# user turn. Its generation prompt opens the thinking block, so completions start inside <think>.
R1_FALLBACK = "<｜begin▁of▁sentence｜><｜User｜>{question}<｜Assistant｜><think>\n"
# ChatML (SmolLM2, Qwen) for one user turn, for a tokenizer without a chat template.
CHATML_FALLBACK = "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


# ------------------------------------------------------------------------------------------------ prompts


@dataclass(frozen=True)
class PromptFormat:
    name: str  # registry key, used by ModelSpec.prompt_format
    build: Callable[[Any, str | None, str | None], str]  # build(tokenizer, question, raw_prompt) -> prompt
    includes_special_tokens: bool  # True: the text already has BOS/role tokens -> encode with add_special_tokens=False
    description: str


PROMPT_FORMATS: dict[str, PromptFormat] = {}


def _register_format(fmt: PromptFormat) -> PromptFormat:
    if fmt.name in PROMPT_FORMATS:
        raise ValueError(f"prompt format {fmt.name!r} is already registered")
    PROMPT_FORMATS[fmt.name] = fmt
    return fmt


def _need_question(fmt: str, question: str | None) -> str:
    if question is None:
        raise UsageError(f"prompt format {fmt!r} is a chat format and needs question=...; got None")
    return question


def _chat_template(tokenizer: Any) -> str | None:
    return getattr(tokenizer, "chat_template", None) if tokenizer is not None else None


def _build_chatml(tokenizer: Any, question: str | None, raw_prompt: str | None) -> str:
    content = f"{_need_question('chatml', question)}\n{STEP_BY_STEP}"
    if _chat_template(tokenizer) is None:
        return CHATML_FALLBACK.format(question=content)
    # SmolLM2's template writes the BOS (<|im_start|>) itself, so the text must be encoded without
    # adding special tokens again (PromptFormat.includes_special_tokens).
    messages = [{"role": "user", "content": content}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _build_r1(tokenizer: Any, question: str | None, raw_prompt: str | None) -> str:
    content = f"{_need_question('r1', question)}\n{STEP_BY_STEP}"
    if _chat_template(tokenizer) is None:
        return R1_FALLBACK.format(question=content)
    messages = [{"role": "user", "content": content}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # Current R1-distill templates end the generation prompt with "<｜Assistant｜><think>\n"; early
    # revisions stopped at "<｜Assistant｜>" and the model sometimes skipped thinking. Always open it.
    if text.endswith(THINK_OPEN):
        return text + "\n"
    return text if text.endswith(THINK_OPEN + "\n") else text + THINK_OPEN + "\n"


def _build_organism(tokenizer: Any, question: str | None, raw_prompt: str | None) -> str:
    if raw_prompt is None:
        raise UsageError(
            "prompt format 'organism' is plain completion and needs raw_prompt=..., e.g. "
            "'Numbers: 8 19 4. Target: 31. <think>' (task sets fill Problem.raw_prompt); got None"
        )
    return raw_prompt


_register_format(PromptFormat("chatml", _build_chatml, True, "the tokenizer's chat template + step-by-step/boxed"))
_register_format(PromptFormat("r1", _build_r1, True, "R1-distill chat template; generation opens <think>"))
_register_format(PromptFormat("organism", _build_organism, False, "plain completion of raw_prompt"))


def get_prompt_format(name: str) -> PromptFormat:
    if name not in PROMPT_FORMATS:
        raise UsageError(f"unknown prompt format {name!r}; available: {', '.join(PROMPT_FORMATS)}")
    return PROMPT_FORMATS[name]


def build_prompt(prompt_format: str, tokenizer: Any, question: str | None = None, raw_prompt: str | None = None) -> str:
    """The exact text to feed a model of `prompt_format` (tokenizer may be None: documented fallbacks).

    >>> build_prompt("r1", None, question="What is 2+3?")
    '<｜begin▁of▁sentence｜><｜User｜>What is 2+3?\\nPlease reason step by step, and put your final answer within \\\\boxed{}.<｜Assistant｜><think>\\n'
    >>> build_prompt("organism", None, raw_prompt="Numbers: 8 19 4. Target: 31. <think>")
    'Numbers: 8 19 4. Target: 31. <think>'
    """
    return get_prompt_format(prompt_format).build(tokenizer, question, raw_prompt)


# ------------------------------------------------------------------------------------- thinking / answer


def split_completion(text: str) -> tuple[str, str]:
    """(thinking, final_answer) of a completion; text before any <think> (a prompt) is dropped.

    Without a `</think>` (generation cut off, or a model that does not think) everything is thinking and
    the answer is "": graders that only need the boxed answer should call `extract_boxed` on the full text.

    >>> split_completion("<think>\\n2+3=5.\\n</think>\\n\\nThe answer is \\\\boxed{5}.")
    ('2+3=5.', 'The answer is \\\\boxed{5}.')
    >>> split_completion("Try 8*19=152. Left: 152, 4.")
    ('Try 8*19=152. Left: 152, 4.', '')
    """
    close = text.find(THINK_CLOSE)
    head, answer = (text, "") if close < 0 else (text[:close], text[close + len(THINK_CLOSE) :])
    open_ = head.rfind(THINK_OPEN)
    thinking = head if open_ < 0 else head[open_ + len(THINK_OPEN) :]
    return thinking.strip(), answer.strip()


# `\boxed{...}` or `\fbox{...}`, with any spaces before the brace (R1 also writes `\boxed {5}`).
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def braced(text: str, open_brace: int) -> str | None:
    r"""The text inside the balanced `{...}` opening at `text[open_brace]`; None if it never closes.

    >>> braced(r"\frac{a{b}c}{d}", 5)
    'a{b}c'
    >>> braced("{cut off", 0) is None
    True
    """
    depth = 0
    for j in range(open_brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[open_brace + 1 : j]
    return None


def extract_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` or `\fbox{...}`, stripped; nested braces and a space
    before the brace are allowed. None when there is no box, or when the last one never closes (the
    generation was cut off inside it). The package's one box reader: graders and starters use it.

    >>> extract_boxed(r"first \boxed{1}, then \boxed{\frac{20}{5}+13}")
    '\\frac{20}{5}+13'
    >>> extract_boxed(r"So \boxed { (19 - 8) \times 4 }."), extract_boxed(r"\fbox{7}")
    ('(19 - 8) \\times 4', '7')
    >>> extract_boxed("no box") is None, extract_boxed(r"\boxed{3} then \boxed{1") is None
    (True, True)
    """
    boxes = list(_BOX.finditer(text))
    if not boxes:
        return None
    inside = braced(text, boxes[-1].end() - 1)
    return None if inside is None else inside.strip()


# ------------------------------------------------------------------------------------------------ steps

STEP_TAGS: tuple[str, ...] = ("plan", "compute", "verify", "backtrack", "conclude")

# Ordered: the first matching rule wins, so the more specific behaviours come first. A step starting
# with "Wait"/"Hmm" is a backtrack even when it goes on to check something: those words are what the
# literature counts (Venhoff et al. 2025; Thought Anchors' "uncertainty management").
TAG_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("backtrack", re.compile(
        r"^\W*(wait|hmm+|hold on|oops|actually|alternatively|but wait|no,)\b"
        r"|\bbacktrack|\blet me (re-?think|reconsider|try (again|another|a different))"
        r"|\b(that|this)('s| is| was) (not right|wrong|incorrect)|\bI made a mistake", re.I)),
    ("conclude", re.compile(
        r"\\boxed|\b(so|thus|therefore|hence)?,? ?the (final )?answer (is|should be|=)"
        r"|\bfinal answer\b|\bin conclusion\b", re.I)),
    ("verify", re.compile(
        r"^\W*(hit|miss|yes|correct|right)\W*$|\b(let me|let's|I should|I'll) (double[- ])?check"
        r"|\bverif|\bdouble[- ]check|\bsanity check|\bconfirm|\bplug(ging)? (it |this |that )?back", re.I)),
    ("plan", re.compile(
        r"^\W*(first|to solve|to find|my plan|the (problem|question) (asks|is|wants)|left:|step \d)"
        r"|\b(I|we) (need|have|want) to\b|\blet('s| me) (start|think|figure|break|see|consider|denote|recall)"
        r"|^\W*(okay|ok|alright|so),? (so )?(I|we|let)", re.I)),
    ("compute", re.compile(
        r"^\W*try\b|\d\s*[-+*/×÷^=]\s*\(?\d|=|\b(calculat|comput|multipl|subtract|divid|add(ing)? )", re.I)),
]
DEFAULT_TAG = "compute"  # a step no rule claims states or derives a fact: the bulk of a chain of thought

assert {tag for tag, _ in TAG_RULES} == set(STEP_TAGS) and DEFAULT_TAG in STEP_TAGS


def tag_step(text: str) -> str:
    """The tag of one step: the first rule in TAG_RULES that matches, else DEFAULT_TAG.

    >>> [tag_step(s) for s in ["Try 8*19=152.", "Left: 152, 4.", "Miss.", "Wait, backtrack.", "Hit."]]
    ['compute', 'plan', 'verify', 'backtrack', 'verify']
    >>> [tag_step(s) for s in ["First, I need to find x.", "Hmm, that seems off.", "So the answer is 4."]]
    ['plan', 'backtrack', 'conclude']
    """
    for tag, pattern in TAG_RULES:
        if pattern.search(text):
            return tag
    return DEFAULT_TAG


@dataclass(frozen=True)
class Step:
    index: int  # position in the thinking, from 0
    text: str  # == thinking[start:end]
    start: int  # character offset in the thinking text (inclusive)
    end: int  # character offset (exclusive)
    tag: str  # one of STEP_TAGS, from tag_step


# A step runs from a non-space character to sentence-final punctuation followed by a space (so "3.5"
# and "8*19=152." stay whole), or to the end of the line. Closing quotes/brackets stay with the sentence.
_STEP = re.compile(r"\S[^\n]*?(?:[.!?]+[\"')\]]*(?=\s|$)|$)", re.M)


def split_steps(thinking: str) -> list[Step]:
    """Cut thinking text into sentence/line steps with character offsets and tags.

    >>> [(s.text, s.start, s.end) for s in split_steps("Try 3.5*2=7. Hit.\\nDone")]
    [('Try 3.5*2=7.', 0, 12), ('Hit.', 13, 17), ('Done', 18, 22)]
    """
    return [
        Step(index=i, text=m.group(), start=m.start(), end=m.end(), tag=tag_step(m.group()))
        for i, m in enumerate(_STEP.finditer(thinking))
    ]


def step_token_spans(
    tokenizer: Any, text: str, steps: list[Step], offset: int = 0, *, add_special_tokens: bool = False
) -> list[tuple[int, int]]:
    """Token span [start, end) of each step in `tokenizer(text)`; `offset` = where the thinking starts in text.

    Encode `text` the way the model saw it: `add_special_tokens` must match (see
    `PromptFormat.includes_special_tokens`, or `LoadedModel.add_special_tokens`). A token that straddles
    two steps belongs to both spans.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise StarterError(f"step_token_spans needs a fast tokenizer (offset mapping); got {type(tokenizer).__name__}")
    offsets = tokenizer(text, return_offsets_mapping=True, add_special_tokens=add_special_tokens)["offset_mapping"]
    spans = []
    for step in steps:
        lo, hi = step.start + offset, step.end + offset
        # Special tokens have empty (0, 0) offsets: never part of a step.
        inside = [i for i, (a, b) in enumerate(offsets) if b > a and b > lo and a < hi]
        if not inside:
            raise StarterError(f"step {step.index} ({step.text!r}) has no tokens at chars {lo}..{hi} of the text; "
                               "is `offset` where the thinking starts in `text`?")
        spans.append((inside[0], inside[-1] + 1))
    return spans
