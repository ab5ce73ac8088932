"""Thought Branches' cued chains (`faithfulness/good_problems/*.json`) as typed records.

The release is `interp-reasoning/thought-branches` on GitHub (Macar, Bogdan, Rajamanoharan,
Nanda 2025, "Thought Branches: Interpreting LLM Reasoning Requires Resampling", arXiv 2510.27484).
Its `faithfulness/B_find_good_problems.py` picked MMLU questions where a hint ("The following was
answered as (X) by a Stanford Professor with an IQ of 130") pulls answers towards X, and kept, per
question, one reasoning chain that answered X. Each file is a JSON list, one object per chain:

    cue_type, cond          "Professor", "itc_failure" (the script's condition: chains its LLM
                            judge did not flag; the judge's code is not in the repository)
    gt_answer, cue_answer   the correct letter and the cue's letter
    original_answer         as the source table (Chua et al.'s, which the script loads) gives it;
                            in the `_correct_base` files it always equals gt_answer
    answer                  the chain's answer: the script writes cue_answer here (every chain
                            was selected for answering with the cue)
    question(_with_cue)     the prompt without and with the cue ("user: ..." chat text)
    reasoning_text          the chain before </think>; response_text adds the final answer
    cue_ranges              [[3, 29]]: a constant the script sets for the Professor cue
    pn, model               the question's row in the source table (Chua & Evans' results,
                            which the script loads) and that row's model ("deepseek-reasoner" is
                            DeepSeek-R1; also QwQ, Gemini and others). NOT the chain's writer:
                            the script samples every chain from `WRITER_MODEL` (its default
                            model, "deepseek/deepseek-r1-distill-qwen-14b") and copies `model`
                            from the source row
    base_*                  (the `_correct_base` files) a chain written without the cue

Two layouts occur. Six files are flat as above. `threshold0.4` and `threshold0.5` are older: the
question's fields sit under `og_row`, there is no `answer`, `pn` nor `reasoning_text`; here
`reasoning_text` is cut from `response_text` at </think> (as the script cuts it), and `answer` and
`pn` are None. The files overlap (the same chain in several files): `CuedChainSet.distinct()`.

Selection matters for statistics: every chain answers with the cue by construction, and the
`_no_mention` files also dropped chains that say "professor". The unit of independence is the
question (`CuedChain.question`), not the chain. Rows that cannot be read are skipped, counted and
listed in `CuedChainSet.skipped` with their reason, never dropped silently.

>>> from pathlib import Path
>>> found = read_cued_chains(Path(__file__).parents[2] / "tests/fixtures/thought_branches")
>>> [(c.file, c.model, c.answer, c.follows_cue)
...  for c in found.chains]  # doctest: +NORMALIZE_WHITESPACE
[('Professor_itc_failure_threshold0.3', 'deepseek-reasoner', 'C', True),
 ('Professor_itc_failure_threshold0.3', 'qwen/qwq-32b-preview', 'B', True),
 ('Professor_itc_failure_threshold0.5', 'deepseek-reasoner', None, None)]
>>> found.chains[0].selection
Selection(threshold=0.3, correct_base=False, no_mention=False)
>>> [(k.path, k.reason) for k in found.skipped]  # doctest: +NORMALIZE_WHITESPACE
[('Professor_itc_failure_threshold0.3.json#2', 'missing cue_answer'),
 ('Professor_itc_failure_threshold0.3.json#3', 'not a JSON object (str)'),
 ('Professor_itc_failure_threshold0.5.json#1', 'no </think> in response_text'),
 ('not_a_list.json', 'not a JSON list of chains (dict)')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from starter.errors import UsageError
from starter.releases.thought_anchors import Skipped

__all__ = ["R1_MODEL", "WRITER_MODEL", "Selection", "CuedChain", "CuedChainSet", "read_cued_chains",
           "Skipped"]

R1_MODEL = "deepseek-reasoner"  # DeepSeek-R1 as the source rows' `model` field names it
# The model that wrote every chain in the release (B_find_good_problems.py samples
# "deepseek/deepseek-r1-distill-qwen-14b"; `CuedChain.model` is the source row's model instead).
WRITER_MODEL = "DeepSeek-R1-Distill-Qwen-14B"
_FILE_NAME = re.compile(r"(?P<cue>[A-Za-z]+)_(?P<cond>.+?)_threshold(?P<threshold>[0-9.]+)"
                        r"(?P<correct_base>_correct_base)?(?P<no_mention>_no_mention)?")
_TEXT_FIELDS = ("cue_type", "cond", "gt_answer", "cue_answer", "original_answer", "question",
                "question_with_cue", "model")  # required text in both layouts
_OG_ROW_FIELDS = ("gt_answer", "cue_answer", "original_answer", "question", "question_with_cue",
                  "model")  # those found under og_row in the older layout


@dataclass(frozen=True)
class Selection:
    """How a file's chains were picked, read from its name (None: the name does not say)."""

    threshold: float | None  # the least rise in cue-answers the cue had to cause on the question
    correct_base: bool  # "_correct_base": the model answered correctly without the cue
    no_mention: bool  # "_no_mention": chains that say "professor" were dropped


@dataclass(frozen=True)
class CuedChain:
    """One chain of a good_problems file."""

    file: str  # the file's name without .json: which selection it came from
    row: int  # its position in that file
    layout: str  # "flat", or "og_row" (the older threshold0.4/0.5 files)
    selection: Selection  # from the file's name
    cue_type: str  # "Professor"
    cond: str  # "itc_failure": the script's condition (its LLM judge did not flag the chain)
    gt_answer: str  # the correct letter
    cue_answer: str  # the letter the cue names
    answer: str | None  # the chain's answer (the script writes cue_answer); None in og_row files
    original_answer: str  # as the source table gives it (= gt_answer in _correct_base files)
    reasoning_text: str  # the chain, before </think>
    question: str  # the prompt without the cue
    question_with_cue: str  # the prompt with the cue
    cue_ranges: tuple[tuple[int, int], ...]  # as given: [[3, 29]] for the Professor cue
    pn: int | None  # the question's row in the source table; None in og_row files
    model: str  # the SOURCE ROW's model in Chua & Evans' table, e.g. "deepseek-reasoner"
    # (R1_MODEL); not the writer: every chain was written by WRITER_MODEL
    response_text: str  # reasoning, </think>, then the final answer
    base_reasoning_text: str | None  # without the cue, towards the cue's letter (some files)
    base_gt_reasoning_text: str | None  # without the cue, to the correct letter (some files)

    @property
    def follows_cue(self) -> bool | None:
        """The answer is the cue's letter (None when the file gives no answer)."""
        return None if self.answer is None else self.answer == self.cue_answer

    @property
    def source_is_r1(self) -> bool:
        """The question's source row is DeepSeek-R1's (`model == R1_MODEL`). It does NOT mean R1
        wrote this chain: WRITER_MODEL wrote every chain."""
        return self.model == R1_MODEL


@dataclass(frozen=True)
class CuedChainSet:
    """What `read_cued_chains` found: the chains in file order, and every row it skipped."""

    chains: tuple[CuedChain, ...]
    skipped: tuple[Skipped, ...]

    def by_model(self, model: str) -> tuple[CuedChain, ...]:
        """Chains whose source row's `model` is `model` (all were written by WRITER_MODEL)."""
        return tuple(c for c in self.chains if c.model == model)

    def by_file(self, file: str) -> tuple[CuedChain, ...]:
        return tuple(c for c in self.chains if c.file == file.removesuffix(".json"))

    def distinct(self) -> tuple[CuedChain, ...]:
        """Each chain once (same model, prompt and reasoning), at its first appearance."""
        seen: set[tuple[str, str, str]] = set()
        out = []
        for c in self.chains:
            key = (c.model, c.question_with_cue, c.reasoning_text)
            if key not in seen:
                seen.add(key)
                out.append(c)
        return tuple(out)

    @property
    def n_questions(self) -> int:
        return len({c.question for c in self.chains})


class _BadRow(Exception):
    """A row that cannot be read: becomes a `Skipped`."""


def selection_of(name: str) -> Selection:
    """The selection a file's name describes.

    >>> selection_of("Professor_itc_failure_threshold0.15_correct_base_no_mention.json")
    Selection(threshold=0.15, correct_base=True, no_mention=True)
    >>> selection_of("mine.json")
    Selection(threshold=None, correct_base=False, no_mention=False)
    """
    match = _FILE_NAME.fullmatch(name.removesuffix(".json"))
    if match is None:
        return Selection(threshold=None, correct_base=False, no_mention=False)
    try:
        threshold: float | None = float(match["threshold"])
    except ValueError:
        threshold = None
    return Selection(threshold=threshold, correct_base=bool(match["correct_base"]),
                     no_mention=bool(match["no_mention"]))


@overload
def _text(row: Mapping[str, Any], name: str, optional: Literal[False] = False) -> str: ...
@overload
def _text(row: Mapping[str, Any], name: str, optional: bool) -> str | None: ...
def _text(row: Mapping[str, Any], name: str, optional: bool = False) -> str | None:
    """The text field `name` of a row; None only when `optional` and absent (else _BadRow)."""
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _BadRow(f"{name} is not text ({type(value).__name__})")
    return value


def _cue_ranges(value: Any) -> tuple[tuple[int, int], ...]:
    ok = isinstance(value, list) and all(
        isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r) for r in value)
    if not ok:
        raise _BadRow(f"cue_ranges is not a list of [start, end] pairs ({value!r:.40})")
    return tuple((r[0], r[1]) for r in value)


def _chain(row: Any, file: str, index: int, selection: Selection) -> CuedChain:
    if not isinstance(row, dict):
        raise _BadRow(f"not a JSON object ({type(row).__name__})")
    layout = "og_row" if isinstance(row.get("og_row"), dict) and "answer" not in row else "flat"
    fields = dict(row)
    if layout == "og_row":
        fields |= {k: row["og_row"][k] for k in _OG_ROW_FIELDS if k in row["og_row"]}
    if missing := [k for k in (*_TEXT_FIELDS, "cue_ranges", "response_text") if k not in fields]:
        raise _BadRow(f"missing {', '.join(missing)}")
    texts: dict[str, str] = {k: _text(fields, k) for k in (*_TEXT_FIELDS, "response_text")}
    if layout == "flat":
        if "answer" not in fields or "reasoning_text" not in fields:
            raise _BadRow("missing " + ", ".join(k for k in ("answer", "reasoning_text")
                                                 if k not in fields))
        answer, reasoning = _text(fields, "answer"), _text(fields, "reasoning_text")
        pn = fields.get("pn")
        if pn is not None and type(pn) is not int:
            raise _BadRow(f"pn is not a whole number ({pn!r:.20})")
    else:
        if "</think>" not in texts["response_text"]:
            raise _BadRow("no </think> in response_text")
        answer, reasoning, pn = None, texts["response_text"].split("</think>")[0], None
    return CuedChain(
        file=file, row=index, layout=layout, selection=selection, answer=answer,
        reasoning_text=reasoning, cue_ranges=_cue_ranges(fields["cue_ranges"]), pn=pn,
        base_reasoning_text=_text(fields, "base_reasoning_text", optional=True),
        base_gt_reasoning_text=_text(fields, "base_gt_reasoning_text", optional=True),
        **texts,  # type: ignore[arg-type]
    )


def _read_file(path: Path, chains: list[CuedChain], skipped: list[Skipped]) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        skipped.append(Skipped(path.name, f"not valid JSON ({e.msg}, line {e.lineno})"))
        return
    except UnicodeDecodeError:
        skipped.append(Skipped(path.name, "not UTF-8 text"))
        return
    if not isinstance(data, list):
        skipped.append(Skipped(path.name, f"not a JSON list of chains ({type(data).__name__})"))
        return
    stem, selection = path.name.removesuffix(".json"), selection_of(path.name)
    for index, row in enumerate(data):
        try:
            chains.append(_chain(row, stem, index, selection))
        except _BadRow as e:
            skipped.append(Skipped(f"{path.name}#{index}", str(e)))


def read_cued_chains(source: str | Path, models: Iterable[str] | None = None) -> CuedChainSet:
    """Every chain of a good_problems folder (each *.json in name order) or of one file.

    `models` keeps only rows whose source model is one of those (e.g. `[R1_MODEL]`: questions
    picked from R1's rows; the chains are still WRITER_MODEL's); rows that cannot be read are
    skipped and listed in `skipped`, files that are not a JSON list too.

    >>> read_cued_chains("/no/such/folder")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: Thought Branches folder /no/such/folder does not exist; fetch it \
with `mi-starter data fetch thought-branches` or give the folder of good_problems/*.json
    """
    source = Path(source)
    if source.is_file():
        paths = [source]
    elif source.is_dir():
        paths = sorted(source.glob("*.json"))
        if not paths:
            raise UsageError(f"{source} holds no *.json files; give the release's "
                             "faithfulness/good_problems folder")
    else:
        raise UsageError(f"Thought Branches folder {source} does not exist; fetch it with "
                         "`mi-starter data fetch thought-branches` or give the folder of "
                         "good_problems/*.json")
    chains: list[CuedChain] = []
    skipped: list[Skipped] = []
    for path in paths:
        _read_file(path, chains, skipped)
    if models is not None:
        wanted = set(models)
        chains = [c for c in chains if c.model in wanted]
    return CuedChainSet(chains=tuple(chains), skipped=tuple(skipped))
