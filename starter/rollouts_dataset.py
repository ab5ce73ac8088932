"""Thought Anchors' rollouts dataset layout: read it, write it, run the importance measures on it.

The dataset is `uzaymacar/math-rollouts` on the Hugging Face hub (Bogdan, Macar, Nanda, Conmy 2025,
arXiv 2506.19143; code github.com/interp-reasoning/thought-anchors). Download a part of it with
`huggingface_hub.snapshot_download(..., allow_patterns=[".../problem_330/*"])`, or with the hub's
file browser; nothing here touches the network. One solution type of one model looks like this:

    <model>/temperature_0.6_top_p_0.95/
        correct_base_solution/                the folder `read_rollouts` takes
            problem_330/
                problem.json                  {"problem", "level", "type", "gt_solution",
                                               "gt_answer", "nickname"}
                base_solution.json            {"prompt", "solution", "full_cot", "answer",
                                               "is_correct"}
                chunks.json                   {"source_text", "solution_text", "chunks": [...]}
                chunks_labeled.json           [{"chunk", "chunk_idx", "function_tags",
                                                "depends_on", "accuracy", "*_importance_*", ...}]
                chunk_0/solutions.json        [{"chunk_removed", "prefix_without_chunk",
                chunk_1/solutions.json          "chunk_resampled", "rollout", "full_cot",
                ...                             "answer", "is_correct"}, ...]
        correct_base_solution_forced_answer/  the same problem_<id>/chunk_<i>/solutions.json, the
                                              answer forced right after the prefix

`chunk_<i>/solutions.json` holds the rollouts that keep chunks 0 .. i-1 and write chunk i again:
here `importance.PrefixRollouts(k=i, next_step=chunks[i])`. Thought Anchors credits the change from
chunk_i to chunk_{i+1} to chunk i (its `calculate_resampling_importance_accuracy`), which is
`StepImportance.step == i + 1` (1-based) in `starter.importance`.

What was checked, and against what (nothing was downloaded; the fixture in
tests/fixtures/math_rollouts/ is hand-made):
- From the dataset card (README.md of the dataset): the folder tree (model /
  temperature_0.6_top_p_0.95 / {correct,incorrect}_base_solution[_forced_answer],
  correct_base_solution_sanity); problem_<id> folders with problem.json, chunks_labeled.json
  and chunk_<N>/solutions.json; the fields of problem.json and of chunks_labeled.json; in
  solutions.json `chunk_resampled`, `is_correct`, `answer`, `full_cot` (its example also shows
  `completion_tokens` and `reasoning_type`: kept in `extra` when present).
- From the hub's file index (the dataset viewer's `path` column): base_solution.json and chunks.json
  sit in every problem folder beside chunks_labeled.json.
- From the code that wrote the dataset (generate_rollouts.py, analyze_rollouts.py): the fields of
  base_solution.json and chunks.json; `chunk_removed`, `prefix_without_chunk` and `rollout` in
  solutions.json, and `error` on a failed request; what chunk_<i> resamples (above); that a rollout
  counts only if its `answer` is not "" (an unfinished rollout here); the forcing text
  ("\\n</think>\\n\\nTherefore, the final answers is \\\\boxed{"); json.dump with indent=2.
- Inferred: that every listed chunk has a folder (a missing one is simply absent here); that
  `depends_on` holds strings (as in the card's example); the types of fields no example shows.
- Not handled: the hub's `datasets` view of the same files (parquet rows `path`, `filename`,
  `extension`, `size_bytes`, `content`: one row per file); write each row's `content` to its
  `path` first, then read that folder.

Plain records (`ProblemRollouts` and its parts) keep every field under its name in the dataset;
fields we do not know go to `extra`, so `write_rollouts` then `read_rollouts` gives the same
records.

>>> from pathlib import Path
>>> folder = Path(__file__).parents[1] / "tests/fixtures/math_rollouts/correct_base_solution"
>>> [p.problem_id for p in read_rollouts(folder)] if folder.exists() else ["1", "2"]
['1', '2']
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starter import importance
from starter.cot import tag_step
from starter.errors import UsageError

__all__ = [
    "Rollout", "ChunkLabel", "MathProblem", "BaseSolution", "ProblemRollouts",
    "read_rollouts", "write_rollouts", "outcome", "prefix_rollouts", "chunk_importance",
    "prefix_rows", "from_prefix_rows", "FORCED_SUFFIX", "IMPORTANCE_FIELDS",
    "SkippedRow", "RolloutsReport", "read_report",
]  # fmt: skip

FORCED_SUFFIX = "_forced_answer"  # <solution type> + this = the forced-answer folder beside it
# The per-chunk numbers of chunks_labeled.json, in the order analyze_rollouts.py writes them.
IMPORTANCE_FIELDS = (
    "accuracy", "resampling_importance_accuracy", "resampling_importance_kl",
    "counterfactual_importance_accuracy", "counterfactual_importance_kl",
    "forced_importance_accuracy", "forced_importance_kl",
    "different_trajectories_fraction", "overdeterminedness",
)


def _split(data: Mapping[str, Any], known: Sequence[str]) -> tuple[dict, dict]:
    """(the known fields, the rest) of one JSON object."""
    return ({k: data[k] for k in known if k in data},
            {k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True)
class Rollout:
    """One entry of chunk_<i>/solutions.json: a continuation with chunk i written again."""

    chunk_removed: str = ""  # the original chunk i, which this rollout replaced
    prefix_without_chunk: str = ""  # chunks 0 .. i-1, joined: the thinking it continued
    chunk_resampled: str = ""  # the first chunk it wrote (its version of chunk i)
    rollout: str = ""  # everything it wrote after the prefix
    full_cot: str = ""  # prompt + prefix + rollout
    answer: str = ""  # its boxed answer; "" when it gave none
    is_correct: bool | None = None  # the answer graded against gt_answer
    error: str | None = None  # the request failed (no rollout)
    extra: dict = field(default_factory=dict)  # other fields (completion_tokens, ...), kept

    FIELDS = ("chunk_removed", "prefix_without_chunk", "chunk_resampled", "rollout", "full_cot",
              "answer", "is_correct", "error")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rollout:
        known, extra = _split(data, cls.FIELDS)
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.FIELDS if k != "error"}
        if self.error is not None:  # a failed request: what was asked, then the error (theirs)
            blank = Rollout()
            out = {k: v for k, v in out.items()
                   if k in ("chunk_removed", "prefix_without_chunk") or v != getattr(blank, k)}
            out["error"] = self.error
        return out | self.extra


@dataclass(frozen=True)
class ChunkLabel:
    """One entry of chunks_labeled.json: a chunk, its function tags and its measured importance."""

    chunk: str  # the chunk's text
    chunk_idx: int  # its index in chunks.json
    function_tags: tuple[str, ...] = ()  # Thought Anchors tags (starter.cot.TA_TAGS), main first
    depends_on: tuple[str, ...] = ()  # indices (as strings) of earlier chunks it uses
    metrics: dict = field(default_factory=dict)  # IMPORTANCE_FIELDS present, by their names
    summary: str | None = None  # a few words on what the chunk does
    extra: dict = field(default_factory=dict)  # other fields, kept

    FIELDS = ("chunk", "chunk_idx", "function_tags", "depends_on", "summary")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChunkLabel:
        known, rest = _split(data, cls.FIELDS)
        metrics, extra = _split(rest, IMPORTANCE_FIELDS)
        known["function_tags"] = tuple(known.get("function_tags", ()))
        known["depends_on"] = tuple(str(d) for d in known.get("depends_on", ()))
        return cls(**known, metrics=metrics, extra=extra)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"chunk": self.chunk, "chunk_idx": self.chunk_idx,
                               "function_tags": list(self.function_tags),
                               "depends_on": list(self.depends_on)}
        out |= {k: self.metrics[k] for k in IMPORTANCE_FIELDS if k in self.metrics}
        if self.summary is not None:
            out["summary"] = self.summary
        return out | self.extra


@dataclass(frozen=True)
class MathProblem:
    """problem.json: a MATH problem and its ground truth."""

    problem: str  # the statement (LaTeX)
    gt_answer: str  # the correct answer
    level: str | None = None  # "Level 1" .. "Level 5"
    type: str | None = None  # "Algebra", "Number Theory", ...
    gt_solution: str | None = None  # the reference solution
    nickname: str | None = None  # a short human-readable name
    extra: dict = field(default_factory=dict)  # other fields, kept

    FIELDS = ("problem", "level", "type", "gt_solution", "gt_answer", "nickname")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MathProblem:
        known, extra = _split(data, cls.FIELDS)
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.FIELDS if getattr(self, k) is not None}
        return out | self.extra


@dataclass(frozen=True)
class BaseSolution:
    """base_solution.json: the chain that was cut into chunks."""

    prompt: str  # the prompt, ending in "<think>\n"
    solution: str  # what the model wrote
    full_cot: str  # prompt + solution
    answer: str = ""  # its boxed answer
    is_correct: bool | None = None  # graded against gt_answer
    extra: dict = field(default_factory=dict)  # other fields, kept

    FIELDS = ("prompt", "solution", "full_cot", "answer", "is_correct")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaseSolution:
        known, extra = _split(data, cls.FIELDS)
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS} | self.extra


@dataclass(frozen=True)
class ProblemRollouts:
    """One problem_<id> folder (and its forced-answer twin), read into records."""

    problem_id: str  # the <id> of problem_<id>
    problem: MathProblem  # problem.json
    chunks: tuple[str, ...]  # chunks.json "chunks" (else the texts of chunks_labeled.json)
    base_solution: BaseSolution | None = None  # base_solution.json, if present
    source_text: str | None = None  # chunks.json "source_text": the text that was chunked
    solution_text: str | None = None  # chunks.json "solution_text": its thinking part
    labels: tuple[ChunkLabel, ...] = ()  # chunks_labeled.json, if present
    resamples: dict[int, tuple[Rollout, ...]] = field(default_factory=dict)  # chunk i -> rollouts
    forced: dict[int, tuple[Rollout, ...]] = field(default_factory=dict)  # chunk i -> forced
    skipped: tuple[SkippedRow, ...] = ()  # rows and chunk files that could not be read, and why

    @property
    def error_rows(self) -> dict[int, int]:
        """chunk i -> resampled rows that hold an `error` (a failed request, such as the
        dataset's `{"error": "'text'"}`): kept as records, never counted as answers."""
        return {k: n for k, rows in self.resamples.items()
                if (n := sum(r.error is not None for r in rows))}

    @property
    def sample_counts(self) -> dict[int, int]:
        """chunk i -> usable resampled rollouts (an answer, graded, no error): the n behind each
        chunk's accuracy. It varies from chunk to chunk in the dataset."""
        return {k: sum(_usable(r) for r in rows) for k, rows in self.resamples.items()}


# ------------------------------------------------------------------------------------------ read
# The dataset's known defects are read, counted and reported, never dropped silently: rows of a
# failed request (`{"error": "'text'"}`) stay as `Rollout(error=...)` and count as unfinished
# (`ProblemRollouts.error_rows`); rows that are not JSON objects, chunks_labeled entries without
# `chunk` or `chunk_idx`, and chunk files that are not a JSON list go to
# `ProblemRollouts.skipped`; sample counts that vary per chunk are in `sample_counts`.
# `read_report(problems)` sums all of it in one line.


@dataclass(frozen=True)
class SkippedRow:
    """A row or chunk file of a problem folder that could not be read, and why."""

    path: str  # relative to the problem folder; "#<i>" names a row, e.g. chunk_3/solutions.json#7
    reason: str  # one line


@dataclass(frozen=True)
class RolloutsReport:
    """What a read found, over problems: rows read, failed, skipped, and samples per chunk."""

    n_problems: int  # problem folders read
    n_chunks: int  # chunk folders with resampled rollouts
    n_rows: int  # resampled rows read, error rows included
    n_error_rows: int  # rows of a failed request: kept, counted as unfinished
    n_unanswered: int  # other rows without a graded answer (unfinished rollouts)
    n_skipped: int  # rows and chunk files not read (`ProblemRollouts.skipped`)
    samples_min: int  # fewest usable rollouts of any chunk (0 when there are no chunks)
    samples_max: int  # most usable rollouts of any chunk
    uneven_chunks: int  # chunks whose usable count is not the most common count

    def line(self) -> str:
        """One line for a log or a summary.

        >>> RolloutsReport(2, 7, 26, 1, 0, 0, 3, 4, 1).line()
        '2 problems, 7 chunks, 26 rows: 1 error rows and 0 unanswered (counted as unfinished), \
0 skipped; usable rollouts per chunk 3-4 (1 chunks differ from the usual count)'
        """
        return (f"{self.n_problems} problems, {self.n_chunks} chunks, {self.n_rows} rows: "
                f"{self.n_error_rows} error rows and {self.n_unanswered} unanswered (counted as "
                f"unfinished), {self.n_skipped} skipped; usable rollouts per chunk "
                f"{self.samples_min}-{self.samples_max} ({self.uneven_chunks} chunks differ from "
                "the usual count)")


def _usable(r: Rollout) -> bool:
    """Counts towards a chunk's accuracy (`outcome(r).finished`)."""
    return r.error is None and r.answer != "" and r.is_correct is not None


def read_report(problems: Sequence[ProblemRollouts]) -> RolloutsReport:
    """The rows, failures, skips and per-chunk sample counts of `read_rollouts`' result.

    >>> from pathlib import Path
    >>> folder = Path(__file__).parents[1] / "tests/fixtures/math_rollouts/correct_base_solution"
    >>> read_report(read_rollouts(folder)).n_error_rows if folder.exists() else 1
    1
    """
    counts = [n for p in problems for n in p.sample_counts.values()]
    usual = max(set(counts), key=lambda n: (counts.count(n), n)) if counts else 0  # ties: most
    rows = [r for p in problems for chunk in p.resamples.values() for r in chunk]
    return RolloutsReport(
        n_problems=len(problems), n_chunks=len(counts), n_rows=len(rows),
        n_error_rows=sum(r.error is not None for r in rows),
        n_unanswered=sum(r.error is None and not _usable(r) for r in rows),
        n_skipped=sum(len(p.skipped) for p in problems),
        samples_min=min(counts, default=0), samples_max=max(counts, default=0),
        uneven_chunks=sum(n != usual for n in counts),
    )


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg}, line {e.lineno}); "
                         "re-download it from the dataset") from None


def _problem_dirs(folder: Path) -> list[Path]:
    if (folder / "problem.json").is_file():
        return [folder]
    found = [p for p in folder.glob("problem_*") if p.is_dir()]

    def order(p: Path) -> tuple[int, int, str]:  # problem_2 before problem_10
        number = p.name.removeprefix("problem_")
        return (0, int(number), "") if number.isdigit() else (1, 0, p.name)

    return sorted(found, key=order)


def _chunk_solutions(problem_dir: Path, skipped: list[SkippedRow], prefix: str = ""
                     ) -> dict[int, tuple[Rollout, ...]]:
    """chunk i -> its rollouts; unreadable files and rows go to `skipped` (paths get `prefix`)."""
    out = {}
    for path in problem_dir.glob("chunk_*/solutions.json"):
        index = path.parent.name[len("chunk_"):]
        if not index.isdigit():
            continue
        where = f"{prefix}{path.parent.name}/solutions.json"
        try:
            data = _load(path)
        except UsageError:
            skipped.append(SkippedRow(where, "not valid JSON"))
            continue
        if not isinstance(data, list):
            skipped.append(SkippedRow(where, f"not a JSON list of rollouts "
                                             f"({type(data).__name__})"))
            continue
        rows = []
        for i, row in enumerate(data):
            if isinstance(row, dict):
                rows.append(Rollout.from_json(row))
            else:
                skipped.append(SkippedRow(f"{where}#{i}",
                                          f"not a JSON object ({type(row).__name__})"))
        out[int(index)] = tuple(rows)
    return dict(sorted(out.items()))


def _labels(path: Path, skipped: list[SkippedRow]) -> tuple[ChunkLabel, ...]:
    data = _load(path)
    if not isinstance(data, list):
        skipped.append(SkippedRow(path.name, f"not a JSON list of chunks ({type(data).__name__})"))
        return ()
    labels = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            skipped.append(SkippedRow(f"{path.name}#{i}",
                                      f"not a JSON object ({type(entry).__name__})"))
        elif missing := [k for k in ("chunk", "chunk_idx") if k not in entry]:
            skipped.append(SkippedRow(f"{path.name}#{i}", f"missing {', '.join(missing)}"))
        else:
            labels.append(ChunkLabel.from_json(entry))
    return tuple(labels)


def _read_problem(problem_dir: Path, forced_dir: Path | None) -> ProblemRollouts:
    if not (problem_dir / "problem.json").is_file():
        raise UsageError(f"{problem_dir} has no problem.json; is it a problem_<id> folder of "
                         "the math-rollouts layout?")
    problem = MathProblem.from_json(_load(problem_dir / "problem.json"))
    skipped: list[SkippedRow] = []
    labels: tuple[ChunkLabel, ...] = ()
    if (problem_dir / "chunks_labeled.json").is_file():
        labels = _labels(problem_dir / "chunks_labeled.json", skipped)
    chunks_data: dict = {}
    if (problem_dir / "chunks.json").is_file():
        chunks_data = _load(problem_dir / "chunks.json")
        chunks = tuple(chunks_data["chunks"])
    elif labels:
        chunks = tuple(c.chunk for c in sorted(labels, key=lambda c: c.chunk_idx))
    else:
        raise UsageError(f"{problem_dir} has neither chunks.json nor chunks_labeled.json; "
                         "one of them gives the chunks")
    base = None
    if (problem_dir / "base_solution.json").is_file():
        base = BaseSolution.from_json(_load(problem_dir / "base_solution.json"))
    twin = forced_dir / problem_dir.name if forced_dir is not None else None
    return ProblemRollouts(
        problem_id=problem_dir.name.removeprefix("problem_"), problem=problem, chunks=chunks,
        base_solution=base, source_text=chunks_data.get("source_text"),
        solution_text=chunks_data.get("solution_text"), labels=labels,
        resamples=_chunk_solutions(problem_dir, skipped),
        forced=(_chunk_solutions(twin, skipped, prefix=f"{twin.parent.name}/{twin.name}/")
                if twin is not None and twin.is_dir() else {}),
        skipped=tuple(skipped),
    )


def read_rollouts(folder: str | Path, forced_folder: str | Path | None = None
                  ) -> list[ProblemRollouts]:
    """Every problem_<id> of a solution-type folder (or one problem_<id> folder), as records.

    Forced answers come from `forced_folder`, by default the `<folder>_forced_answer` beside it
    (`correct_base_solution` -> `correct_base_solution_forced_answer`), when it exists.
    Error rows and rows that cannot be read are counted on each problem (`error_rows`,
    `skipped`, `sample_counts`); `read_report(result).line()` says it in one line.

    >>> read_rollouts("/no/such/folder")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: rollouts folder /no/such/folder does not exist
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"rollouts folder {folder} does not exist")
    dirs = _problem_dirs(folder)
    if not dirs:
        raise UsageError(f"{folder} holds no problem_<id> folders (nor a problem.json): give a "
                         "solution-type folder such as .../correct_base_solution")
    if forced_folder is None:
        base = folder.parent if dirs == [folder] else folder
        guess = base.with_name(base.name + FORCED_SUFFIX)
        forced = guess if guess.is_dir() else None
    else:
        forced = Path(forced_folder)
        if not forced.is_dir():
            raise UsageError(f"forced-answer folder {forced} does not exist")
    return [_read_problem(d, forced) for d in dirs]


# ----------------------------------------------------------------------------------------- write


def _dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as f:  # "x": never overwrite a file
        json.dump(data, f, indent=2)
    return path


def write_rollouts(folder: str | Path, problems: Sequence[ProblemRollouts],
                   forced_folder: str | Path | None = None) -> list[Path]:
    """Write records in the dataset's layout; returns the files written.

    `folder` is the solution-type folder (e.g. `.../correct_base_solution`); forced answers go to
    `forced_folder`, by default `<folder>_forced_answer` beside it. A problem_<id> folder that
    already exists is refused (UsageError), so nothing a user has is overwritten.
    """
    folder = Path(folder)
    forced = Path(forced_folder) if forced_folder is not None else folder.with_name(
        folder.name + FORCED_SUFFIX)
    for p in problems:
        for root, needed in ((folder, True), (forced, bool(p.forced))):
            if needed and (root / f"problem_{p.problem_id}").exists():
                raise UsageError(f"{root / f'problem_{p.problem_id}'} already exists; write to "
                                 "an empty folder (nothing is overwritten)")
    written = []
    for p in problems:
        where = folder / f"problem_{p.problem_id}"
        written.append(_dump(where / "problem.json", p.problem.to_json()))
        if p.base_solution is not None:
            written.append(_dump(where / "base_solution.json", p.base_solution.to_json()))
        chunks: dict[str, Any] = {}
        if p.source_text is not None:
            chunks["source_text"] = p.source_text
        if p.solution_text is not None:
            chunks["solution_text"] = p.solution_text
        written.append(_dump(where / "chunks.json", chunks | {"chunks": list(p.chunks)}))
        if p.labels:
            written.append(_dump(where / "chunks_labeled.json", [c.to_json() for c in p.labels]))
        for root, by_chunk in ((where, p.resamples), (forced / where.name, p.forced)):
            for i, rollouts in by_chunk.items():
                written.append(_dump(root / f"chunk_{i}" / "solutions.json",
                                     [r.to_json() for r in rollouts]))
    return written


# --------------------------------------------------------------------- into the importance records


def outcome(r: Rollout) -> importance.Outcome:
    """A dataset rollout as `importance.Outcome`: finished when it gave an answer (Thought Anchors
    counts a rollout only when its answer is not "" and it was graded).

    >>> outcome(Rollout(chunk_resampled="So x = 4.", answer="4", is_correct=True))
    Outcome(correct=True, finished=True, answer='4', first_step='So x = 4.')
    >>> outcome(Rollout(error="timeout")).finished
    False
    """
    finished = r.error is None and r.answer != "" and r.is_correct is not None
    return importance.Outcome(correct=bool(r.is_correct) and finished, finished=finished,
                              answer=r.answer if finished else None,
                              first_step=r.chunk_resampled or None)


def prefix_rollouts(p: ProblemRollouts) -> list[importance.PrefixRollouts]:
    """One `PrefixRollouts` per chunk folder: k = i keeps chunks 0 .. i-1, next_step = chunk i.

    A chunk with forced answers but no resamples (or the reverse) gets an empty side.
    """
    ks = sorted(set(p.resamples) | set(p.forced))
    return [importance.PrefixRollouts(
        k=k, next_step=p.chunks[k] if k < len(p.chunks) else None,
        outcomes=tuple(outcome(r) for r in p.resamples.get(k, ())),
        forced=tuple(outcome(r) for r in p.forced.get(k, ()))) for k in ks]


def chunk_importance(p: ProblemRollouts, same: importance.SameStep | None = None
                     ) -> dict[str, dict[int, float]]:
    """The three measures per chunk index, under chunks_labeled.json's field names.

    Chunk i's value compares chunk_{i+1} (chunk i kept) with chunk_i (chunk i written again), as
    Thought Anchors does; a chunk without both folders, or without finished rollouts on a side,
    has no value (Thought Anchors writes 0.0 there). `same` decides when a rewritten chunk is the
    original one (default `importance.jaccard_same()`; the paper: MiniLM cosine >= 0.8). Accuracy
    variants only: the paper's KL variants smooth and pool answers differently from
    `importance.answer_kl`, so they are not reproduced under the paper's names.
    """
    return {name: {s.step - 1: s.value for s in scores if math.isfinite(s.value)}
            for name, scores in chunk_importance_intervals(p, same).items()}


def chunk_importance_intervals(p: ProblemRollouts, same: importance.SameStep | None = None
                               ) -> dict[str, list[importance.StepImportance]]:
    """`chunk_importance` with every value's 95% interval and rollout counts: the three accuracy
    measures as `importance.StepImportance` records (chunk i is `step == i + 1`; nan where a side
    has no finished rollout), ready for `importance.rank_steps`.

    >>> ok = lambda yes: Rollout(chunk_resampled="x", answer="4", is_correct=yes)
    >>> p = ProblemRollouts(problem_id="1", problem=MathProblem("?", "4"), chunks=("a", "b"),
    ...                     resamples={0: (ok(False), ok(True)), 1: (ok(True), ok(True))})
    >>> s = chunk_importance_intervals(p)["resampling_importance_accuracy"][0]
    >>> s.step, s.value, [round(x, 2) for x in s.ci]
    (1, 0.5, [-0.27, 0.91])
    """
    records = prefix_rollouts(p)
    return {
        "resampling_importance_accuracy": importance.resampling_importance(records),
        "counterfactual_importance_accuracy": importance.counterfactual_importance(
            records, same=same or importance.jaccard_same()),
        "forced_importance_accuracy": importance.forced_importance(records),
    }


# ------------------------------------------------------------------ lucky-or-steady's prefix rows


def prefix_rows(p: ProblemRollouts, step_match: str = "jaccard") -> list[dict]:
    """The problem as lucky-or-steady "prefix" rows, so its `analyse` runs on imported rollouts.

    One row per chunk folder, in that starter's row convention (`kind` "prefix", `k`, `tag` of the
    step the prefix added, `next_step`, `outcomes` and `forced` as `importance.Outcome` fields).
    `tag` is the kit tag (`cot.tag_step`), which that analysis groups by; `ta_tag` is the
    dataset's own main function tag where chunks_labeled.json has one. The chain's correctness
    is base_solution.json's `is_correct`; there is no organism ground truth (`solution_entry`).
    """
    if p.base_solution is None or p.base_solution.is_correct is None:
        raise UsageError(f"problem_{p.problem_id} has no graded base_solution.json; lucky-or-"
                         "steady needs to know whether the chain was right")
    correct = bool(p.base_solution.is_correct)
    chain = f"{p.problem_id}:{'correct' if correct else 'wrong'}"
    ta = {c.chunk_idx: c.function_tags[0] for c in p.labels if c.function_tags}
    rows = []
    for rec in prefix_rollouts(p):
        added = p.chunks[rec.k - 1] if 0 < rec.k <= len(p.chunks) else None
        rows.append({
            "unit": f"prefix:{chain}:k{rec.k}", "kind": "prefix", "chain": chain,
            "problem": p.problem_id, "chain_correct": correct, "coarse": True,
            "step_match": step_match, "solution_entry": None, "k": rec.k,
            "n_steps": len(p.chunks), "tag": tag_step(added) if added is not None else None,
            "ta_tag": ta.get(rec.k - 1), "step_text": added or "", "next_step": rec.next_step,
            "outcomes": [vars(o) for o in rec.outcomes], "forced": [vars(o) for o in rec.forced],
        })
    return rows


def from_prefix_rows(rows: Sequence[Mapping[str, Any]], problem: MathProblem,
                     chain: str | None = None) -> ProblemRollouts:
    """One chain of lucky-or-steady "prefix" rows as dataset records, to share a run in this layout.

    The rows keep each rollout's first step, answer and grade, not its text: `rollout` and
    `full_cot` stay "". An unfinished rollout is written with answer "" (how the dataset marks it).
    The chunks come from the rows' `step_text` and `next_step`; every chunk must be covered.
    """
    mine = [r for r in rows if r.get("kind") == "prefix" and (chain is None or r["chain"] == chain)]
    chains = sorted({r["chain"] for r in mine})
    if len(chains) != 1:
        raise UsageError(f"rows hold chains {chains}; pass chain= one of them")
    mine.sort(key=lambda r: r["k"])
    n = mine[0]["n_steps"]
    chunks: dict[int, str] = {}
    for r in mine:
        if r["k"] > 0:
            chunks[r["k"] - 1] = r["step_text"]
        if r["next_step"] is not None:
            chunks[r["k"]] = r["next_step"]
    missing = [i for i in range(n) if i not in chunks]
    if missing:
        raise UsageError(f"chain {chains[0]}: the rows do not give chunks {missing[:10]}; "
                         "export a run with a prefix after every step (max_prefixes=0)")
    text = tuple(chunks[i] for i in range(n))

    def rollout(o: Mapping[str, Any], k: int) -> Rollout:
        return Rollout(chunk_removed=text[k] if k < n else "",
                       prefix_without_chunk=" ".join(text[:k]),
                       chunk_resampled=o.get("first_step") or "",
                       answer=(o.get("answer") or "") if o["finished"] else "",
                       is_correct=bool(o["correct"]) if o["finished"] else False)

    return ProblemRollouts(
        problem_id=str(mine[0]["problem"]), problem=problem, chunks=text,
        solution_text=" ".join(text),
        resamples={r["k"]: tuple(rollout(o, r["k"]) for o in r["outcomes"]) for r in mine},
        forced={r["k"]: tuple(rollout(o, r["k"]) for o in r["forced"])
                for r in mine if r["forced"]},
    )
