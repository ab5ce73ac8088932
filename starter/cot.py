"""Chain-of-thought helpers: prompt formats, the thinking block, steps and their tags. No torch needed.

A thinking model writes `<think> ... </think>` and then its answer. This module turns a question into the
prompt each model family expects, splits a completion into (thinking, answer), cuts the thinking into
steps (sentences or lines, or Thought Anchors' chunks) with character offsets, tags every step, and
maps steps to token spans so activations can be read per step.

>>> thinking, answer = split_completion("First, add them. 2+3=5. Wait, check: 5-3=2. Yes.</think>So \\\\boxed{5}")
>>> [(s.text, s.tag) for s in split_steps(thinking)]
[('First, add them.', 'plan'), ('2+3=5.', 'compute'), ('Wait, check: 5-3=2.', 'backtrack'), ('Yes.', 'verify')]
>>> extract_boxed(answer)
'5'

Tags come from `TAG_SCHEMES`, the single source of truth, read by `tag_step(text, scheme=...)` and
`tag_steps(steps, scheme=...)`: "kit" (plan, compute, verify, backtrack, conclude; `TAG_RULES`, the
default), "thought_anchors" (Thought Anchors' 8 function tags by a small learned tagger that reads
the whole chain, `shipped_ta_tagger`; or an LLM judge via `judge_tags`) and "thought_anchors_rules"
(the same tags by keyword rules, `TA_RULES`). Rules are an ordered list of (tag, regex); the first
rule whose regex matches a step wins.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

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
#
# Step tags come in schemes (`TAG_SCHEMES`), each an ordered rule list read by the one tagger,
# `tag_step(text, scheme=...)`: the first rule whose regex matches a step wins, else the scheme's
# default. Two schemes:
#
# - "kit" (the default; every starter's `Step.tag`): plan, compute, verify, backtrack, conclude.
#   Exact on the TinyThinker organism, whose traces a fixed grammar writes.
# - "thought_anchors": the 8 function tags of Thought Anchors (Bogdan, Macar, Nanda, Conmy 2025,
#   arXiv 2506.19143), used by its dataset (`function_tags` in `chunks_labeled.json` of
#   huggingface.co/datasets/uzaymacar/math-rollouts) and thought-anchors.com. Names and definitions
#   are those of `DAG_PROMPT` in github.com/interp-reasoning/thought-anchors, `prompts.py` (MIT).
#   Learned here (a logistic regression trained on their own labels, scored on held-out chains:
#   docs/tools/tagger.md); "thought_anchors_rules" keeps the keyword rules (documented per tag,
#   measured against 40 hand-labelled R1 sentences in tests/test_taxonomy.py); `judge_tags` asks
#   an LLM instead, with their prompt's tag definitions and output format.

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
        r"|\bverif|\bdouble[- ]check|\bsanity check|\bconfirm"
        r"|\bplug(ging)? (it |this |that )?back", re.I)),
    ("plan", re.compile(
        r"^\W*(first|to solve|to find|my plan|the (problem|question) (asks|is|wants)|left:|step \d)"
        r"|\b(I|we) (need|have|want) to\b"
        r"|\blet('s| me) (start|think|figure|break|see|consider|denote|recall)"
        r"|^\W*(okay|ok|alright|so),? (so )?(I|we|let)", re.I)),
    ("compute", re.compile(
        r"^\W*try\b|\d\s*[-+*/×÷^=]\s*\(?\d|="
        r"|\b(calculat|comput|multipl|subtract|divid|add(ing)? )", re.I)),
]
# a step no rule claims states or derives a fact: the bulk of a chain of thought
DEFAULT_TAG = "compute"

assert {tag for tag, _ in TAG_RULES} == set(STEP_TAGS) and DEFAULT_TAG in STEP_TAGS

# Thought Anchors' 8 function tags with the definitions of their DAG_PROMPT (prompts.py), in order.
TA_DEFINITIONS: dict[str, str] = {
    "problem_setup": "Parsing or rephrasing the problem (initial reading or comprehension).",
    "plan_generation": "Stating or deciding on a plan of action (often meta-reasoning).",
    "fact_retrieval": "Recalling facts, formulas, problem details (without immediate computation).",
    "active_computation": "Performing algebra, calculations, manipulations toward the answer.",
    "result_consolidation": (
        "Aggregating intermediate results, summarizing, or preparing final answer."),
    "uncertainty_management": (
        "Expressing confusion, re-evaluating, proposing alternative plans (includes "
        "backtracking)."),
    "final_answer_emission": (
        "Explicit statement of the final boxed answer or earlier chunks that contain the final "
        "answer."),
    "self_checking": "Verifying previous steps, Pythagorean checking, re-confirmations.",
}
TA_TAGS: tuple[str, ...] = tuple(TA_DEFINITIONS)
# The DAG prompt's escape label ("use only if the chunk does not fit any of the above tags"): a
# judge may answer it; the rules never do.
TA_UNKNOWN = "unknown"

# The organism's kit tags in Thought Anchors' terms. Exact on organism traces, whose five sentence
# kinds are fixed: "Try a op b=v." (compute), "Left: x, y." (plan: it restates the numbers the try
# left, i.e. aggregates an intermediate result), "Hit." / "Miss." (verify), "Wait, backtrack."
# (backtrack), "</think> \boxed{...}" (conclude). On free text a kit "plan" is usually Thought
# Anchors' plan_generation instead: tag R1 text with scheme="thought_anchors", not through this map.
ORGANISM_TO_TA: dict[str, str] = {
    "compute": "active_computation",
    "plan": "result_consolidation",
    "verify": "self_checking",
    "backtrack": "uncertainty_management",
    "conclude": "final_answer_emission",
}
# TinyThinker's own ground-truth tags (starter.organism.data.TAGS) in Thought Anchors' terms, where
# one tag maps to one function tag ("try" covers both "Try ..." and "Left: ...": use
# ORGANISM_TO_TA on the kit tags for those).
ORGANISM_TRUTH_TO_TA: dict[str, str] = {
    "check": "self_checking",
    "backtrack": "uncertainty_management",
    "conclude": "final_answer_emission",
}

_NO_NEW_ARITHMETIC = r"(?!.*\d\s*[-+*/×÷^]\s*\(?\d)"  # lookahead: the step computes nothing new

# Rules for "thought_anchors", ordered, first match wins. Each rule's comment says what it claims.
TA_RULES: list[tuple[str, re.Pattern[str]]] = [
    # The organism grammar, exact (full match): the same tags as ORGANISM_TO_TA[kit tag].
    ("active_computation", re.compile(r"\s*Try \S+=-?\d+\.\s*")),
    ("result_consolidation", re.compile(r"\s*Left: -?\d+, -?\d+\.\s*")),
    ("self_checking", re.compile(r"\s*(Hit|Miss)\.\s*")),
    ("uncertainty_management", re.compile(r"\s*Wait, backtrack\.\s*")),
    ("final_answer_emission", re.compile(r"\s*</think>\s*\\boxed\{.*\}\s*", re.S)),
    # final_answer_emission: a box, or "the (final) answer is ...".
    ("final_answer_emission", re.compile(
        r"\\boxed|\bfinal answer\b|\b(so|thus|therefore|hence),? the answer (is|should be|=)"
        r"|^\W*the answer (is|should be|=)", re.I)),
    # uncertainty_management: opens with hesitation ("Wait", "Hmm", "But", "Alternatively", "Hold
    # on"), states an error or doubt, or proposes another approach.
    ("uncertainty_management", re.compile(
        r"^\W*(wait|hmm+|hold on|oops|actually|alternatively|but wait|no,|but\b)"
        r"|\b(I|I've) (made a|must have made a) mistake|\bI('m| am) (not sure|confused|unsure)"
        r"|\b(that|this)('s| is| was| can't be| cannot be) (not right|wrong|incorrect|impossible)"
        r"|\bthat doesn't (seem|make sense|match)|\bmaybe I (misread|made|should try)"
        r"|\blet me (re-?think|reconsider|start over|try (again|another|a different))"
        r"|\b(another|a different) (way|approach|method)\b", re.I)),
    # self_checking: verifying or re-confirming an earlier step or result.
    ("self_checking", re.compile(
        r"^\W*(yes|yep|correct|right)\b.{0,30}$"
        r"|\b(let me|let's|I should|I'll|to) (double[- ])?check"
        r"|\bverif|\bdouble[- ]check|\bsanity check|\bconfirm|\bplug(ging)? (it |this |that |)back"
        r"|\b(that|this|it) (checks out|matches|works)|\bmakes sense\b"
        r"|\bto be (sure|safe)\b", re.I)),
    # problem_setup: reading or restating the problem ("Okay, so I have this problem...", "We are
    # given ...", "The problem asks ...", R1's opening "Okay, so I need to ...").
    ("problem_setup", re.compile(
        r"\b(this|the) (problem|question)( here)? (says|asks|states|gives|is asking|wants)"
        r"|\bI (have|got|need to solve) (this|a|the) (problem|question)"
        r"|\b(we are|we're|I'm|I am) (given|asked|told)\b|^\W*given (that|a|an|the)\b"
        r"|^\W*(okay|ok|alright),? (so,? )?(I|we) (need|have|want) to\b", re.I)),
    # fact_retrieval: recalling a fact, formula or definition ("I remember", "recall that", "the
    # formula for", "by definition", "there are 60 minutes in an hour").
    ("fact_retrieval", re.compile(
        r"\bI (remember|recall|know) (that|the)|\brecall(ing)? (that|the)|\bthe formula (for|is)"
        r"|\bby definition\b|\bis defined as\b|\b(theorem|identity|rule) (says|states|tells)"
        r"|\bthere are \d+ \w+ in (a|an|one)\b", re.I)),
    # plan_generation: deciding what to do next ("Let me ...", "First, I'll ...", "I need to find",
    # "Maybe I can ...", "The idea is ...").
    ("plan_generation", re.compile(
        r"^\W*(first|next|now|then),? (I|we|let)|\blet('s| me) (start|try|think|figure|break|see"
        r"|consider|denote|write|set|compute|calculate|find|work|use|look|go|approach|solve)"
        r"|\b(I|we) (need|have|want|should|will|'ll|can) (to )?(find|figure|compute|calculate|"
        r"determine|solve|express|use|set|write|start|consider|approach|break)"
        r"|\bmaybe (I|we) (can|could|should)|\bthe (idea|plan|approach|strategy|goal) (is|here)"
        r"|^\W*(to (find|solve|compute|determine))", re.I)),
    # result_consolidation: "So / Therefore / That means ..." summing up without new arithmetic, or
    # collecting results ("so far", "in total", "putting it together").
    ("result_consolidation", re.compile(
        _NO_NEW_ARITHMETIC
        + r"(^\W*(so|thus|therefore|hence|that means|this means|which means|altogether)\b"
        r"|\bso far\b|\bin total\b|\bputting (it|this|these|everything) together\b"
        r"|\bin summary\b|\bto summarize\b)", re.I)),
    # active_computation: arithmetic, an equation, or a verb of calculation.
    ("active_computation", re.compile(
        r"\d\s*[-+*/×÷^=]\s*\(?\d|=|\b(calculat|comput|multipl|subtract|divid|simplif|expand"
        r"|factor|substitut|plug(ging)? in|solv(e|ing) for)", re.I)),
]
TA_DEFAULT = "active_computation"  # a step no rule claims is most often a step of the working
assert {tag for tag, _ in TA_RULES} == set(TA_TAGS) and TA_DEFAULT in TA_TAGS
assert set(ORGANISM_TO_TA) == set(STEP_TAGS) and set(ORGANISM_TO_TA.values()) <= set(TA_TAGS)
# The organism rules of TA_RULES are full matches; the others search anywhere in the step.
_FULL_MATCH_RULES = 5


@dataclass(frozen=True)
class TagScheme:
    """A step-tag vocabulary and the ordered rules that assign it."""

    name: str  # registry key: tag_step(text, scheme=name)
    tags: tuple[str, ...]  # every tag a rule may give
    rules: tuple[tuple[str, re.Pattern[str]], ...]  # (tag, regex), first match wins
    full_match: int  # the first `full_match` rules must match the whole step, the rest anywhere
    default: str  # the tag of a step no rule claims
    description: str  # one line for listings
    # True: a step no full-match rule claims is tagged by the shipped learned tagger, which reads
    # the whole chain (tag_steps); the scheme's other rules are not used.
    learned: bool = False


TAG_SCHEMES: dict[str, TagScheme] = {}


def _register_scheme(scheme: TagScheme) -> TagScheme:
    if scheme.name in TAG_SCHEMES:
        raise ValueError(f"tag scheme {scheme.name!r} is already registered")
    TAG_SCHEMES[scheme.name] = scheme
    return scheme


_register_scheme(TagScheme(
    "kit", STEP_TAGS, tuple(TAG_RULES), 0, DEFAULT_TAG,
    "plan/compute/verify/backtrack/conclude; exact on the TinyThinker organism"))
_register_scheme(TagScheme(
    "thought_anchors", TA_TAGS, tuple(TA_RULES[:_FULL_MATCH_RULES]), _FULL_MATCH_RULES,
    TA_DEFAULT, "Thought Anchors' 8 function tags (arXiv 2506.19143), by a tagger trained on "
    "their labels (docs/tools/tagger.md)", learned=True))
_register_scheme(TagScheme(
    "thought_anchors_rules", TA_TAGS, tuple(TA_RULES), _FULL_MATCH_RULES, TA_DEFAULT,
    "Thought Anchors' 8 function tags by keyword rules (the kit's first tagger; weaker)"))


def get_tag_scheme(name: str) -> TagScheme:
    if name not in TAG_SCHEMES:
        raise UsageError(f"unknown tag scheme {name!r}; available: {', '.join(TAG_SCHEMES)}")
    return TAG_SCHEMES[name]


def tag_step(text: str, scheme: str = "kit") -> str:
    """The tag of one step: the first rule of the scheme that matches, else its default. For a
    learned scheme ("thought_anchors") the step is tagged as a chain of one sentence: tag a chain
    with `tag_steps`, which lets the tagger read each sentence's neighbours.

    >>> organism = ["Try 8*19=152.", "Left: 152, 4.", "Miss.", "Wait, backtrack.", "Hit."]
    >>> [tag_step(s) for s in organism]
    ['compute', 'plan', 'verify', 'backtrack', 'verify']
    >>> r1 = ["First, I need to find x.", "Hmm, that seems off.", "So the answer is 4."]
    >>> [tag_step(s) for s in r1]
    ['plan', 'backtrack', 'conclude']

    Thought Anchors' taxonomy by the keyword rules, one R1-style sentence per tag:

    >>> ta = lambda s: tag_step(s, scheme="thought_anchors_rules")
    >>> ta("Okay, so I have this problem where a train travels 120 miles in 2 hours.")
    'problem_setup'
    >>> ta("Let me start by finding its speed.")
    'plan_generation'
    >>> ta("I remember that speed is distance divided by time.")
    'fact_retrieval'
    >>> ta("120 / 2 = 60.")
    'active_computation'
    >>> ta("Wait, the question asks for kilometres, not miles.")
    'uncertainty_management'
    >>> ta("So the speed is 60 miles per hour.")
    'result_consolidation'
    >>> ta("Let me double-check: 60 times 2 is 120, which matches.")
    'self_checking'
    >>> ta("So the final answer is \\\\boxed{60}.")
    'final_answer_emission'

    On organism traces the schemes agree through ORGANISM_TO_TA (exact full-match rules, the
    learned scheme's too):

    >>> organism = ["Try 8*19=152.", "Left: 152, 4.", "Hit.", "Wait, backtrack."]
    >>> [ta(s) for s in organism] == [tag_step(s, "thought_anchors") for s in organism]
    True
    >>> [ta(s) for s in organism]
    ['active_computation', 'result_consolidation', 'self_checking', 'uncertainty_management']
    """
    rules = get_tag_scheme(scheme)
    if rules.learned:
        return tag_steps([text], scheme)[0]
    for i, (tag, pattern) in enumerate(rules.rules):
        found = pattern.fullmatch(text) if i < rules.full_match else pattern.search(text)
        if found:
            return tag
    return rules.default


# ------------------------------------------------------------------- an LLM judge for TA tags

# The judge's prompt: Thought Anchors' DAG_PROMPT asks for function tags and dependencies of every
# chunk at once; this one keeps its tag definitions, its chunk listing and its output format
# ({"<chunk index>": {"function_tags": [...]}}) and drops the dependencies.
JUDGE_PROMPT = """You are an expert in interpreting how language models solve math problems using \
multi-step reasoning. Label every chunk of the Chain-of-Thought below with function_tags: one or \
more labels saying what the chunk is doing in the reasoning. Put the main label first.

Function tags:
{definitions}
{n_tags}. `unknown`: use only if the chunk does not fit any of the above tags.

Return one JSON object and nothing else, with one entry per chunk: the chunk index as a string \
key, and as value an object with "function_tags", a list of tag strings. Example:
{{"0": {{"function_tags": ["problem_setup"]}}, "1": {{"function_tags": ["plan_generation"]}}}}

Here is the math problem:

[PROBLEM]
{problem}

Here is the full Chain of Thought, broken into chunks:

[CHUNKS]
{chunks}
Now label each chunk with function tags."""

_FENCED = re.compile(r"\s*```(?:json)?\s*\n(.*)\n\s*```\s*", re.S)


def judge_prompt(steps: Sequence[str], problem: str = "") -> str:
    """The prompt `judge_tags` sends: the tag definitions, the problem and the numbered steps.

    >>> p = judge_prompt(["Let me think.", "2+2=4."], problem="What is 2+2?")
    >>> "2. `plan_generation`: Stating or deciding on a plan" in p, "Chunk 1:\\n2+2=4." in p
    (True, True)
    """
    definitions = "\n".join(f"{i}. `{tag}`: {text}"
                            for i, (tag, text) in enumerate(TA_DEFINITIONS.items(), start=1))
    chunks = "".join(f"Chunk {i}:\n{s}\n\n" for i, s in enumerate(steps))
    return JUDGE_PROMPT.format(definitions=definitions, n_tags=len(TA_DEFINITIONS) + 1,
                               problem=problem, chunks=chunks)


def parse_judge_answer(answer: str, n_steps: int) -> list[tuple[str, ...]]:
    """The function tags of each of `n_steps` steps from a judge's answer, read strictly.

    The answer must be one JSON object (bare, or alone in one ```json fence) with exactly the keys
    "0" .. "n_steps-1", each holding {"function_tags": [...]}: a non-empty list of Thought Anchors
    tags or "unknown" (Thought Anchors' own output format; other fields such as "depends_on" are
    allowed and ignored). Anything else raises StarterError naming what was wrong.

    >>> parse_judge_answer('{"0": {"function_tags": ["plan_generation"]}, '
    ...                    '"1": {"function_tags": ["active_computation", "self_checking"]}}', 2)
    [('plan_generation',), ('active_computation', 'self_checking')]
    >>> parse_judge_answer('{"0": {"function_tags": ["guessing"]}}', 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.StarterError: judge tagged step 0 'guessing'; allowed: problem_setup, ...
    """
    fenced = _FENCED.fullmatch(answer)
    body = fenced.group(1) if fenced else answer
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise StarterError(f"judge answer is not one JSON object ({e.msg} at char {e.pos}): "
                           f"{answer[:80]!r}") from None
    if not isinstance(data, dict):
        raise StarterError(f"judge answer is JSON but not an object: {answer[:80]!r}")
    expected = [str(i) for i in range(n_steps)]
    if sorted(data, key=lambda k: (len(k), k)) != expected:
        raise StarterError(f"judge answer has keys {sorted(data)[:8]}; "
                           f"expected '0'..'{n_steps - 1}'")
    allowed = set(TA_TAGS) | {TA_UNKNOWN}
    tags: list[tuple[str, ...]] = []
    for key in expected:
        entry = data[key]
        found = entry.get("function_tags") if isinstance(entry, dict) else None
        if not isinstance(found, list) or not found or not all(isinstance(t, str) for t in found):
            raise StarterError(f"judge step {key}: expected {{\"function_tags\": [tag, ...]}}, "
                               f"got {json.dumps(entry)[:80]}")
        for tag in found:
            if tag not in allowed:
                raise StarterError(f"judge tagged step {key} {tag!r}; allowed: "
                                   f"{', '.join(TA_TAGS)}, {TA_UNKNOWN}")
        tags.append(tuple(found))
    return tags


def judge_tags(steps: Sequence[str], judge: Callable[[str], str],
               problem: str = "") -> list[tuple[str, ...]]:
    """Thought Anchors tags of `steps` from an LLM: `judge(prompt) -> answer text`, parsed strictly.

    `judge` is any callable, e.g. a chat call through an OpenAI-compatible backend at temperature 0
    (Thought Anchors used GPT-4o with JSON output). Each step gets a tuple of tags, main tag first.

    >>> fake = lambda prompt: '{"0": {"function_tags": ["problem_setup"]}}'
    >>> judge_tags(["Okay, so we need the area of a circle."], fake)
    [('problem_setup',)]
    """
    if not steps:
        return []
    return parse_judge_answer(judge(judge_prompt(steps, problem)), len(steps))


def tag_steps(steps: Sequence[str], scheme: str = "kit",
              judge: Callable[[str], str] | None = None, problem: str = "") -> list[str]:
    """One tag per step of one chain, in order: by the scheme's rules; for "thought_anchors" by
    the learned tagger (`shipped_ta_tagger`), which reads the whole chain; or, with a `judge` (a
    Thought Anchors scheme), the main tag an LLM judge gives (`judge_tags`; the gold option).

    >>> tag_steps(["Try 2+3=5.", "Hit."]), tag_steps(["Try 2+3=5.", "Hit."], "thought_anchors")
    (['compute', 'verify'], ['active_computation', 'self_checking'])
    >>> chain = ["Okay, so I need to find the area of a circle with radius 3.",
    ...          "I remember that the area is pi times the radius squared.",
    ...          "So 3 squared is 9, and the area is 9 pi.",
    ...          "Wait, let me double-check the radius.",
    ...          "Yes, the radius is 3.",
    ...          "So the final answer is \\\\boxed{9\\\\pi}."]
    >>> tag_steps(chain, "thought_anchors")  # doctest: +NORMALIZE_WHITESPACE
    ['problem_setup', 'fact_retrieval', 'fact_retrieval', 'self_checking', 'fact_retrieval',
     'final_answer_emission']
    >>> tag_steps(chain, "thought_anchors_rules")  # the keyword rules, for comparison
    ... # doctest: +NORMALIZE_WHITESPACE
    ['problem_setup', 'fact_retrieval', 'result_consolidation', 'uncertainty_management',
     'self_checking', 'final_answer_emission']

    Both err on a chain this short (the learned tagger agrees with Thought Anchors' labels on
    about two sentences in three: docs/tools/tagger.md).
    """
    rules = get_tag_scheme(scheme)
    if judge is not None:
        if rules.tags != TA_TAGS:
            raise UsageError(f"an LLM judge tags with scheme 'thought_anchors'; got scheme "
                             f"{scheme!r}")
        return [tags[0] for tags in judge_tags(steps, judge, problem)]
    if not rules.learned:
        return [tag_step(s, scheme) for s in steps]
    exact = [next((tag for tag, pattern in rules.rules[:rules.full_match]
                   if pattern.fullmatch(s)), None) for s in steps]
    if all(tag is not None for tag in exact):  # organism grammar throughout: no model needed
        return [str(tag) for tag in exact]
    learned = shipped_ta_tagger().tag(list(steps))
    return [tag if tag is not None else guess for tag, guess in zip(exact, learned)]


# ---------------------------------------------------- a learned tagger for Thought Anchors' tags
#
# scheme "thought_anchors" tags a chain with a small model trained on Thought Anchors' own labels
# (GPT-4o's `function_tags` of the 20 DeepSeek-R1-Distill-Qwen-14B chains they published); its
# agreement on their 20 held-out Llama-8B chains is on the tool card (docs/tools/tagger.md,
# scripts/score_ta_tools.py). It is one multinomial logistic regression, numpy only at run time, on
# binary features of each sentence read in its chain: its words, word pairs and the character
# 3- to 5-grams inside its words, its first words,
# its neighbours' words and first words, its position, and what it repeats of the chain so far
# (numbers, words). The weights are package data, built by scripts/train_ta_tagger.py from the fetched data.

TA_TAGGER_FILE = "ta_tagger.json"  # under starter/data/
# Words as the tagger sees them: lower-case letters, digit runs (read as "0"), LaTeX commands, and
# single punctuation marks.
_TA_WORD = re.compile(r"[a-z]+|\d+|\\[a-z]+|[^\sa-z\d]")
_TA_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class TaTaggerConfig:
    """What the learned tagger reads; stored with its weights (scripts/train_ta_tagger.py)."""

    word_pairs: bool = True  # adjacent word pairs as features, besides single words
    char_ngrams: tuple[int, ...] = (3, 4, 5)  # lengths of character n-grams inside words; ()
    head_words: int = 3  # the first 1..head_words words, joined, as features of their own
    neighbour_heads: bool = True  # the previous and next sentences' first one and two words
    neighbour_words: bool = True  # the previous and next sentences' words, as their own features
    repeats: bool = True  # what the sentence repeats of the chain so far (ta_repeats), binned


def _ta_words(text: str) -> list[str]:
    return ["0" if w.isdigit() else w for w in _TA_WORD.findall(text.lower())]


def _ta_own_features(text: str, config: TaTaggerConfig) -> list[str]:
    words = _ta_words(text)
    features = ["w:" + w for w in words]
    if config.word_pairs:
        padded = ["<s>", *words, "</s>"]
        features += ["b:" + a + "_" + b for a, b in zip(padded, padded[1:])]
    features += [f"h{k}:" + "_".join(words[:k]) for k in range(1, config.head_words + 1)]
    if config.char_ngrams:
        for word in re.sub(r"\d", "0", text.lower()).split():
            word = f" {word} "
            features += ["c:" + word[i:i + n] for n in config.char_ngrams
                         for i in range(len(word) - n + 1)]
    features.append(f"len:{min(len(words).bit_length(), 7)}")
    end = text.rstrip()[-1:]
    features += [f for f, on in (("has:=", "=" in text), ("has:boxed", "\\boxed" in text),
                                 ("has:digit", any(c.isdigit() for c in text)),
                                 ("end:?", end == "?"), ("end::", end == ":")) if on]
    return features


def ta_features(texts: Sequence[str], config: TaTaggerConfig = TaTaggerConfig()) -> list[list[str]]:
    """The tagger's sparse features of each sentence of one chain, in order (names, not counts).

    >>> f = ta_features(["Okay, so we add 2 and 3.", "That gives 5."])
    >>> "w:add" in f[0], "h2:okay_," in f[0], "nh1:that" in f[0], "ph1:<none>" in f[0]
    (True, True, True, True)
    >>> "pos:9" in f[1], "r:new2" in f[0], "r:old2" in f[1]
    (True, True, False)
    """
    own = [_ta_own_features(t, config) for t in texts]
    repeats = ta_repeats(texts) if config.repeats else None
    heads = [[f for f in fs if f.startswith(("h1:", "h2:"))] for fs in own]
    n = len(texts)
    out = []
    for i, features in enumerate(own):
        features = list(features)
        features.append(f"pos:{min(int(10 * i / max(n - 1, 1)), 9)}")
        if i < 3:
            features.append(f"idx:{i}")
        if i >= n - 3:
            features.append(f"ridx:{n - 1 - i}")
        if config.neighbour_heads:
            before = heads[i - 1] if i > 0 else ["h1:<none>"]
            after = heads[i + 1] if i + 1 < n else ["h1:<none>"]
            features += ["p" + f for f in before] + ["n" + f for f in after]
        if config.neighbour_words:
            features += ["p" + f for f in (own[i - 1] if i else []) if f.startswith("w:")]
            features += ["n" + f for f in (own[i + 1] if i + 1 < n else []) if f.startswith("w:")]
        if repeats is not None:  # config.repeats
            new, old, seen, first = repeats[i, :4]
            features += [f"r:new{round(2 * new)}", f"r:old{round(2 * old)}",
                         f"r:seen{round(4 * seen)}", f"r:first{round(4 * first)}"]
        out.append(features)
    return out


def ta_repeats(texts: Sequence[str]) -> np.ndarray:
    """Per sentence: share of its numbers new to the chain, share already seen, share of its words
    (over 3 letters) seen before, share seen in the first 3 sentences (from the 4th sentence on),
    whether it has a number, and its relative position. Shape (n, 6).

    >>> ta_repeats(["The price is 12 dollars.", "So 12 times 3 is 36."]).round(2).tolist()
    [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.67, 0.33, 0.0, 0.0, 1.0, 1.0]]
    """
    rows = []
    seen_numbers: set[str] = set()
    seen_words: set[str] = set()
    first_words = {w for t in texts[:3] for w in _ta_words(t) if len(w) > 3}
    for i, text in enumerate(texts):
        numbers = set(_TA_NUMBER.findall(text))
        words = {w for w in _ta_words(text) if len(w) > 3}
        share = (lambda part, whole: len(part) / len(whole) if whole else 0.0)
        rows.append([share(numbers - seen_numbers, numbers), share(numbers & seen_numbers, numbers),
                     share(words & seen_words, words),
                     share(words & first_words, words) if i >= 3 else 0.0,
                     float(bool(numbers)), i / max(len(texts) - 1, 1)])
        seen_numbers |= numbers
        seen_words |= words
    return np.array(rows, dtype=np.float64).reshape(len(texts), 6)


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class TaTagger:
    """The learned Thought Anchors tagger (see the comment above TA_TAGGER_FILE)."""

    tags: tuple[str, ...]  # the order of the weights' columns (TA_TAGS)
    config: TaTaggerConfig  # how features are read
    vocabulary: dict[str, int]  # feature name -> row of `weights`
    weights: np.ndarray  # (n_features, n_tags), on binary features scaled to unit length per row
    bias: np.ndarray  # (n_tags,)
    trained_on: str  # one line: what data built it

    def log_probs(self, texts: Sequence[str]) -> np.ndarray:
        """Log-probability of each tag for each sentence of one chain, (n_sentences, n_tags)."""
        scores = np.tile(self.bias.astype(np.float64), (len(texts), 1))
        for i, features in enumerate(ta_features(texts, self.config)):
            rows = sorted({self.vocabulary[f] for f in features if f in self.vocabulary})
            if rows:
                scores[i] += self.weights[rows].astype(np.float64).sum(0) / np.sqrt(len(rows))
        return _log_softmax(scores)

    def tag(self, texts: Sequence[str]) -> list[str]:
        """The most likely tag of each sentence of one chain, in order."""
        if not texts:
            return []
        return [self.tags[i] for i in self.log_probs(texts).argmax(axis=1)]

    def to_json(self) -> dict:
        return {"format": "starter.cot.TaTagger/1", "tags": list(self.tags),
                "config": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in self.config.__dict__.items()},
                "trained_on": self.trained_on,
                "features": sorted(self.vocabulary, key=self.vocabulary.__getitem__),
                "weights": {"shape": list(self.weights.shape), "float16_base64":
                            base64.b64encode(self.weights.astype("<f2").tobytes()).decode("ascii")},
                "bias": [float(b) for b in self.bias]}

    @classmethod
    def from_json(cls, data: dict) -> TaTagger:
        if data.get("format") != "starter.cot.TaTagger/1":
            raise StarterError(f"not a TaTagger file (format {data.get('format')!r})")
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data["config"].items()}
        config = TaTaggerConfig(**fields)
        packed = data["weights"]
        weights = np.frombuffer(base64.b64decode(packed["float16_base64"]), dtype="<f2")
        return cls(tags=tuple(data["tags"]), config=config,
                   vocabulary={f: i for i, f in enumerate(data["features"])},
                   weights=weights.astype(np.float32).reshape(packed["shape"]),
                   bias=np.array(data["bias"], dtype=np.float32), trained_on=data["trained_on"])


@functools.cache
def shipped_ta_tagger() -> TaTagger:
    """The tagger shipped as package data (starter/data/ta_tagger.json), loaded once.

    >>> tagger = shipped_ta_tagger()
    >>> tagger.tags == TA_TAGS, len(tagger.vocabulary) > 1000
    (True, True)
    """
    resource = importlib.resources.files("starter").joinpath("data", TA_TAGGER_FILE)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StarterError(f"the learned tagger's weights starter/data/{TA_TAGGER_FILE} are "
                           "missing; rebuild them with scripts/train_ta_tagger.py, or tag with "
                           "scheme='thought_anchors_rules'") from None
    return TaTagger.from_json(json.loads(text))


@dataclass(frozen=True)
class Step:
    index: int  # position in the thinking, from 0
    text: str  # == thinking[start:end]
    start: int  # character offset in the thinking text (inclusive)
    end: int  # character offset (exclusive)
    tag: str  # tag_step(text, scheme): one of STEP_TAGS for the default scheme "kit"


# A step runs from a non-space character to sentence-final punctuation followed by a space (so "3.5"
# and "8*19=152." stay whole), or to the end of the line. Closing quotes/brackets stay with the sentence.
_STEP = re.compile(r"\S[^\n]*?(?:[.!?]+[\"')\]]*(?=\s|$)|$)", re.M)

# How `split_steps` may cut: "sentences" (the kit's own, above) or "thought_anchors" (theirs).
CHUNKERS: tuple[str, ...] = ("sentences", "thought_anchors")

# Thought Anchors' splitter (`split_solution_into_chunks` in utils.py of
# github.com/interp-reasoning/thought-anchors, as it ran for their public chains), re-implemented
# from its description: it cuts the thinking only (after the first <think>, before </think>),
# after ".", "?" or "!" followed by a space or a newline, and after the first newline of a blank
# line; each piece is stripped; then a piece shorter than _TA_MIN_CHARS is glued with one space to
# the start of the next piece (the last piece to the end of the one before it). Reproduces all of
# their 5,814 chunks on the 40 public chains (scripts/score_ta_tools.py).
_TA_MIN_CHARS = 10
_TA_SENTENCE_END = ".?!"


def _ta_region(text: str) -> tuple[int, int]:
    """[start, end) of the text their splitter reads: between the first <think> and the next
    <think> or </think>, whitespace stripped; the whole text when there is no <think>."""
    start, end = 0, len(text)
    opened = text.find(THINK_OPEN)
    if opened >= 0:
        start = opened + len(THINK_OPEN)
        again = text.find(THINK_OPEN, start)
        end = again if again >= 0 else end
    closed = text.find(THINK_CLOSE, start, end)
    end = closed if closed >= 0 else end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`text[start:end]` without outer whitespace, as offsets; None when it is all whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _ta_pieces(text: str) -> list[tuple[int, int]]:
    """Their pieces before short ones are merged, as [start, end) offsets in `text`."""
    lo, hi = _ta_region(text)
    pieces: list[tuple[int, int]] = []
    piece_start = lo
    for i in range(lo, hi):
        blank_line = text.startswith("\n\n", i, hi) or text.startswith("\r\n\r\n", i, hi)
        sentence_end = text[i] in _TA_SENTENCE_END and i + 1 < hi and text[i + 1] in " \n"
        if blank_line or sentence_end:
            piece = _stripped(text, piece_start, i + 1)
            if piece is not None:  # a piece of whitespace only runs on into the next one
                pieces.append(piece)
                piece_start = i + 1
    last = _stripped(text, piece_start, hi)
    if last is not None:
        pieces.append(last)
    return pieces


def _merge_short(spans: list[tuple[int, int]],
                 texts: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """Their merge of short pieces: each piece under _TA_MIN_CHARS characters joins the next one
    with one space (the last one joins the one before), and the merged piece is checked again."""
    spans, texts = list(spans), list(texts)
    i = 0
    while i < len(texts):
        if len(texts[i]) >= _TA_MIN_CHARS or len(texts) == 1:
            i += 1
        elif i == len(texts) - 1:
            spans[i - 1] = (spans[i - 1][0], spans[i][1])
            texts[i - 1] = texts[i - 1] + " " + texts[i]
            del spans[i], texts[i]
        else:
            spans[i + 1] = (spans[i][0], spans[i + 1][1])
            texts[i + 1] = texts[i] + " " + texts[i + 1]
            del spans[i], texts[i]
    return spans, texts


def thought_anchors_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) offsets in `text` of each chunk Thought Anchors' splitter makes of it.

    A merged chunk spans its pieces and the whitespace between them (their text joins the pieces
    with one space instead: `thought_anchors_chunks`).

    >>> text = "Okay, so we need 2+3. That is 5.\\n\\nYes. So the sum is 5."
    >>> [text[a:b] for a, b in thought_anchors_spans(text)]
    ['Okay, so we need 2+3.', 'That is 5.', 'Yes. So the sum is 5.']
    """
    pieces = _ta_pieces(text)
    return _merge_short(pieces, [text[a:b] for a, b in pieces])[0]


def thought_anchors_chunks(text: str) -> list[str]:
    """The chunks exactly as Thought Anchors' splitter writes them (`chunk` in chunks_labeled.json):
    pieces merged for being short are joined with one space.

    >>> thought_anchors_chunks("<think>\\nHmm.\\n\\nLet me add 2 and 3.\\n</think>\\nThe sum is 5.")
    ['Hmm. Let me add 2 and 3.']
    """
    pieces = _ta_pieces(text)
    return _merge_short(pieces, [text[a:b] for a, b in pieces])[1]


def split_steps(thinking: str, scheme: str = "kit", chunker: str = "sentences") -> list[Step]:
    """Cut thinking text into steps with character offsets and tags of `scheme`.

    chunker "sentences" (the default) cuts at sentence ends and line ends; "thought_anchors" cuts
    as Thought Anchors' splitter does (`thought_anchors_spans`: coarser, pieces under 10 characters
    merged, only the thinking of a text with <think>/</think>), for results comparable with theirs.

    >>> [(s.text, s.start, s.end) for s in split_steps("Try 3.5*2=7. Hit.\\nDone")]
    [('Try 3.5*2=7.', 0, 12), ('Hit.', 13, 17), ('Done', 18, 22)]
    >>> [s.tag for s in split_steps("Try 3.5*2=7. Hit.", scheme="thought_anchors")]
    ['active_computation', 'self_checking']
    >>> text = "Add 3.5 and 2. That gives 5.5.\\nYes."
    >>> [s.text for s in split_steps(text, chunker="thought_anchors")]
    ['Add 3.5 and 2.', 'That gives 5.5.\\nYes.']
    """
    get_tag_scheme(scheme)  # an unknown scheme is refused even for text without steps
    if chunker == "sentences":
        spans = [(m.start(), m.end()) for m in _STEP.finditer(thinking)]
    elif chunker == "thought_anchors":
        spans = thought_anchors_spans(thinking)
    else:
        raise UsageError(f"unknown chunker {chunker!r}; available: {', '.join(CHUNKERS)}")
    tags = tag_steps([thinking[a:b] for a, b in spans], scheme)
    return [Step(index=i, text=thinking[a:b], start=a, end=b, tag=tag)
            for i, ((a, b), tag) in enumerate(zip(spans, tags))]


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
