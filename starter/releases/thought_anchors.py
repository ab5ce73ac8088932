"""Thought Anchors' public chains (the data behind thought-anchors.com) as typed records.

The release is `interp-reasoning/thought-anchors.com` on GitHub, folder `src/app/data/` (Bogdan,
Macar, Nanda, Conmy 2025, "Thought Anchors: Which LLM Reasoning Steps Matter?", arXiv 2506.19143).
It holds 40 chains: 10 MATH problems, each solved once correctly and once incorrectly by each of
DeepSeek-R1-Distill-Llama-8B and DeepSeek-R1-Distill-Qwen-14B, cut into 5,814 sentences:

    <model>/<correct|incorrect>_base_solution/problem_<id>/
        problem.json           {"problem", "level", "type", "gt_solution", "gt_answer", "nickname"}
        base_solution.json     {"prompt", "solution", "full_cot", "answer", "is_correct"}
        chunks_labeled.json    per sentence: "chunk", "chunk_idx", "function_tags", "depends_on",
                               "accuracy" (of ~100 rollouts resampled from it), the six importance
                               measures, "different_trajectories_fraction", "overdeterminedness"
        chunks_resampled.json  {"<chunk_idx>": [the first sentence of each resample from it, ...]}
        summary.json, step_importance.json   (not read here)

It is the math-rollouts layout (`starter.rollouts_dataset`) without the full rollouts, plus
`chunks_resampled.json`; the shared files are read by that module's records. Nothing here touches
the network: `mi-starter data fetch thought-anchors` downloads the files, or give any local copy.

The unit of independence is the *problem*: the same 10 problems appear in all four model/outcome
folders, so statistics over chains cluster on `Chain.problem_id`.

A folder that cannot be read (no chunks_labeled.json, a file that is not JSON) is skipped and
counted in `ChainSet.skipped` with its reason, never dropped silently.

>>> from pathlib import Path
>>> folder = Path(__file__).parents[2] / "tests/fixtures/thought_anchors"
>>> found = read_chains(folder)
>>> [(c.model, c.problem_id, c.base_correct, len(c.sentences)) for c in found.chains]
[('deepseek-r1-distill-qwen-14b', '7', True, 4), ('deepseek-r1-distill-qwen-14b', '7', False, 3)]
>>> s = found.chains[0].sentences[1]
>>> s.index, s.tag, s.accuracy, s.resampled
(1, 'plan_generation', 0.5, ('First, compute 3 + 4.', 'Add them.'))
>>> [k.reason for k in found.skipped]
['no chunks_labeled.json']
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starter.errors import UsageError
from starter.rollouts_dataset import BaseSolution, ChunkLabel, MathProblem

__all__ = [
    "MODELS", "SOLUTION_TYPES", "Importance", "Sentence", "Chain", "Skipped", "ChainSet",
    "read_chains", "read_chain",
]  # fmt: skip

MODELS = ("deepseek-r1-distill-llama-8b", "deepseek-r1-distill-qwen-14b")  # the 40 chains' models
# folder name -> whether the base solution is correct
SOLUTION_TYPES = {"correct_base_solution": True, "incorrect_base_solution": False}
UNTAGGED = "unknown"  # the tag of a sentence whose function_tags list is empty


@dataclass(frozen=True)
class Importance:
    """One sentence's measures, as chunks_labeled.json gives them (NaN where missing)."""

    resampling_accuracy: float  # accuracy from sentence i+1 on minus from i, resampled i
    resampling_kl: float  # the same as a KL between answer distributions
    counterfactual_accuracy: float  # resampling, only rollouts whose sentence i differs in meaning
    counterfactual_kl: float  # the same as a KL
    forced_accuracy: float  # answer forced right after the prefix: accuracy change
    forced_kl: float  # the same as a KL
    different_trajectories_fraction: float  # share of resamples whose sentence i differs
    overdeterminedness: float  # share of resamples that wrote sentence i again (in meaning)

    FIELDS = {  # chunks_labeled.json name -> field
        "resampling_importance_accuracy": "resampling_accuracy",
        "resampling_importance_kl": "resampling_kl",
        "counterfactual_importance_accuracy": "counterfactual_accuracy",
        "counterfactual_importance_kl": "counterfactual_kl",
        "forced_importance_accuracy": "forced_accuracy",
        "forced_importance_kl": "forced_kl",
        "different_trajectories_fraction": "different_trajectories_fraction",
        "overdeterminedness": "overdeterminedness",
    }


@dataclass(frozen=True)
class Sentence:
    """One sentence ("chunk") of a chain with its labels and measured importance."""

    index: int  # chunk_idx: 0 is the first sentence of the thinking
    text: str  # the sentence as Thought Anchors cut it
    tag: str  # its main function tag (first of `tags`; starter.cot.TA_TAGS), UNTAGGED if none
    tags: tuple[str, ...]  # every function tag, main first
    depends_on: tuple[int, ...]  # indices of earlier sentences it uses
    accuracy: float  # share of correct answers among rollouts resampled from this sentence on
    importance: Importance  # the measures
    resampled: tuple[str, ...]  # the first sentence of each resample from here (may be empty)


@dataclass(frozen=True)
class Chain:
    """One problem_<id> folder: a base chain, its problem and its sentences in order."""

    model: str  # the model folder, e.g. "deepseek-r1-distill-llama-8b"
    problem_id: str  # the <id> of problem_<id>: the cluster for statistics
    base_correct: bool  # from the folder: correct_base_solution or incorrect_base_solution
    problem: MathProblem  # problem.json
    base: BaseSolution  # base_solution.json
    sentences: tuple[Sentence, ...]  # chunks_labeled.json in chunk_idx order

    @property
    def key(self) -> str:
        """A unique name: model/problem/outcome."""
        outcome = "correct" if self.base_correct else "incorrect"
        return f"{self.model}/problem_{self.problem_id}/{outcome}"


@dataclass(frozen=True)
class Skipped:
    """A folder or part that could not be read, and why."""

    path: str  # the folder or file, relative to the folder given to read_chains
    reason: str  # one line


@dataclass(frozen=True)
class ChainSet:
    """What `read_chains` found: the chains, and everything it skipped."""

    chains: tuple[Chain, ...]
    skipped: tuple[Skipped, ...]

    def by_model(self, model: str) -> tuple[Chain, ...]:
        return tuple(c for c in self.chains if c.model == model)

    @property
    def n_problems(self) -> int:
        return len({c.problem_id for c in self.chains})


def _float(value: Any) -> float:
    """A number from the JSON (they are floats; strings of numbers are accepted), else NaN."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _Unreadable(f"{path.name} is not valid JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise _Unreadable(f"{path.name} is not UTF-8 text") from None


class _Unreadable(Exception):
    """A problem folder that cannot be read: becomes a `Skipped`."""


def _sentence(label: ChunkLabel, resampled: Mapping[str, Any]) -> Sentence:
    tags = tuple(str(t) for t in label.function_tags)
    metrics = label.metrics
    measures = {field: _float(metrics.get(name)) for name, field in Importance.FIELDS.items()}
    firsts = resampled.get(str(label.chunk_idx), ())
    return Sentence(
        index=int(label.chunk_idx), text=label.chunk, tag=tags[0] if tags else UNTAGGED, tags=tags,
        depends_on=tuple(int(d) for d in label.depends_on if str(d).strip().isdigit()),
        accuracy=_float(metrics.get("accuracy")), importance=Importance(**measures),
        resampled=tuple(str(s) for s in firsts) if isinstance(firsts, list) else (),
    )


def read_chain(problem_dir: str | Path, model: str = "", base_correct: bool | None = None) -> Chain:
    """One problem_<id> folder as a Chain; model and outcome default to its parent folders.

    Raises UsageError naming the folder and the file when the folder cannot be read.
    """
    problem_dir = Path(problem_dir)
    try:
        return _read_chain(problem_dir, model, base_correct)
    except _Unreadable as e:
        raise UsageError(f"{problem_dir}: {e}; re-download it with "
                         "`mi-starter data fetch thought-anchors`") from None


def _read_chain(problem_dir: Path, model: str, base_correct: bool | None) -> Chain:
    for name in ("problem.json", "base_solution.json", "chunks_labeled.json"):
        if not (problem_dir / name).is_file():
            raise _Unreadable(f"no {name}")
    labels_json = _load(problem_dir / "chunks_labeled.json")
    if not isinstance(labels_json, list):
        raise _Unreadable("chunks_labeled.json is not a list of sentences")
    labels = sorted((ChunkLabel.from_json(c) for c in labels_json), key=lambda c: c.chunk_idx)
    resampled: Any = {}
    if (problem_dir / "chunks_resampled.json").is_file():
        resampled = _load(problem_dir / "chunks_resampled.json")
        if not isinstance(resampled, dict):
            raise _Unreadable("chunks_resampled.json is not an object of sentence lists")
    base = BaseSolution.from_json(_load(problem_dir / "base_solution.json"))
    if base_correct is None:
        base_correct = SOLUTION_TYPES.get(problem_dir.parent.name, bool(base.is_correct))
    return Chain(
        model=model or problem_dir.parent.parent.name,
        problem_id=problem_dir.name.removeprefix("problem_"), base_correct=base_correct,
        problem=MathProblem.from_json(_load(problem_dir / "problem.json")), base=base,
        sentences=tuple(_sentence(label, resampled) for label in labels),
    )


def _problem_order(p: Path) -> tuple[int, int, str]:
    number = p.name.removeprefix("problem_")
    return (0, int(number), "") if number.isdigit() else (1, 0, p.name)


def read_chains(folder: str | Path, models: Iterable[str] | None = None) -> ChainSet:
    """Every chain under `folder` (the release's `src/app/data`, or a copy of part of it).

    `folder` holds <model>/<solution type>/problem_<id>/ folders; `models` keeps only those models.
    Folders that cannot be read are skipped and listed in `skipped`.

    >>> read_chains("/no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: Thought Anchors folder /no/such/folder does not exist; fetch it ...
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"Thought Anchors folder {folder} does not exist; fetch it with "
                         "`mi-starter data fetch thought-anchors` or give the folder that holds "
                         "<model>/correct_base_solution/")
    wanted = set(models) if models is not None else None
    chains: list[Chain] = []
    skipped: list[Skipped] = []
    for model_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if wanted is not None and model_dir.name not in wanted:
            continue
        for type_name, correct in SOLUTION_TYPES.items():
            type_dir = model_dir / type_name
            if not type_dir.is_dir():
                continue
            problem_dirs = sorted((p for p in type_dir.glob("problem_*") if p.is_dir()),
                                  key=_problem_order)
            for problem_dir in problem_dirs:
                try:
                    chains.append(_read_chain(problem_dir, model_dir.name, correct))
                except _Unreadable as e:
                    skipped.append(Skipped(str(problem_dir.relative_to(folder)), str(e)))
    if not chains and not skipped:
        raise UsageError(f"{folder} holds no <model>/correct_base_solution/problem_<id>/ folders; "
                         "give the release's src/app/data folder")
    return ChainSet(chains=tuple(chains), skipped=tuple(skipped))
