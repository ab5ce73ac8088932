"""Findings on real reasoning models from their public releases: what every question module shares.

Each module in this package answers one question on public R1-distill data, and reads like a short
paper: the question, the data, the analysis, the control or null, the figure, the claims (one
primary, declared in the module before anything is computed) and what to try next. The data are
downloaded by `mi-starter data fetch NAME` (or given as a local folder); nothing third-party is
committed: `results.jsonl` holds numbers, tags and indices only (`check_rows` refuses free text).

What lives here, once:

- `Source`: a public release (repository, pinned revision, folder), and `SOURCES` by name.
- `resolve_data(source, data)`: the folder to read: `--data`, else the fetch cache, else one line
  saying how to fetch it (a `UsageError`).
- `normalise(text)`: the "normalised exact match" key (case- and whitespace-blind).
- `PublicRun` + `write_run(...)`: the five artefacts (manifest.json naming source, revision, file
  sha256s, command and kit commit; results.jsonl; figure.png; summary.md; findings.json).

>>> normalise("  Wait,  let me CHECK. ")
'wait, let me check.'
>>> SOURCES["thought-anchors"].revision[:12]
'68acc04a6667'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starter.errors import UsageError

QUESTIONS = ("determinism", "lucky-or-steady", "reasoning-tree", "cot-faithfulness")
RESULT_FOLDER = "r1-public"  # docs/results/<slug>/r1-public/: where the committed result lives


@dataclass(frozen=True)
class Source:
    """A public release the kit reads: its name in the release registry, and the models it holds.

    Repository, revision, folder and licence come from the registry (`starter.releases.registry`,
    the one place those facts live)."""

    name: str  # the `mi-starter data fetch` name
    models: tuple[str, ...]  # the reasoning models whose chains it holds, as the pages name them

    @property
    def release(self):
        from starter.releases.registry import get_release

        return get_release(self.name)

    @property
    def repository(self) -> str:
        return self.release.repository

    @property
    def revision(self) -> str:
        return self.release.revision or "unpinned"

    @property
    def folder(self) -> str:
        return self.release.folder

    @property
    def licence(self) -> str:
        return self.release.licence


SOURCES = {
    "thought-anchors": Source("thought-anchors",
                              ("DeepSeek-R1-Distill-Llama-8B", "DeepSeek-R1-Distill-Qwen-14B")),
    # The cued chains were written by DeepSeek-R1-Distill-Qwen-14B (their A_run_cued_uncued_problems.py
    # samples "deepseek/deepseek-r1-distill-qwen-14b"); the files' `model` field names the model of
    # Chua & Evans' original row, not the writer of the chain.
    "thought-branches": Source("thought-branches", ("DeepSeek-R1-Distill-Qwen-14B",)),
}


def normalise(text: str) -> str:
    """Lower case, whitespace runs collapsed, ends stripped: two sentences are "the same" (exact
    match) when their normalised forms are equal."""
    return " ".join(text.lower().split())


def resolve_data(source: Source, data: str | os.PathLike | None) -> Path:
    """The folder to read: `data` when given (it must exist), else the copy `mi-starter data
    fetch` left in the cache (`starter.releases.fetch.local_copy`: every file present, or one
    line saying to fetch).

    >>> resolve_data(SOURCES["thought-anchors"], "/no/such/folder")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --data /no/such/folder does not exist; give a folder holding \
interp-reasoning/thought-anchors.com's src/app/data, or run `mi-starter data fetch thought-anchors`
    """
    if data is not None:
        folder = Path(data)
        if not folder.is_dir():
            raise UsageError(f"--data {data} does not exist; give a folder holding "
                             f"{source.repository}'s {source.folder}, or run "
                             f"`mi-starter data fetch {source.name}`")
        return folder
    from starter.releases.fetch import local_copy

    return local_copy(source.name)  # the fetch cache, complete, or one line saying to fetch


def sha256_files(folder: Path, paths: Iterable[Path]) -> dict[str, str]:
    """relative path -> sha256 of each file read, so a result names exactly the bytes it used.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.json").write_text("[]")
    >>> sha256_files(d, [d / "a.json"])["a.json"][:16]
    '4f53cda18c2baa0c'
    """
    out = {}
    for path in sorted(paths):
        out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# The kit's files an analysis here runs (a change elsewhere in the tree does not touch the result).
KIT_PATHS = ("starter/public", "starter/releases", "starter/stats.py", "starter/findings.py",
             "starter/importance.py", "starter/monitors.py", "starter/results.py")


def kit_commit() -> str | None:
    """The kit's commit, "-dirty" when `KIT_PATHS` have uncommitted changes; None outside a
    checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=all", "--", *KIT_PATHS],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


# Row fields that may hold a string: names and labels we define, never text from a release.
ALLOWED_STRING_FIELDS = frozenset({
    "kind", "model", "problem", "tag", "measure", "rule", "outcome", "file", "group", "question_id",
    "cue_answer", "bin", "null", "arm", "detector", "jump_tag",
})
MAX_LABEL = 64  # longer strings are refused even in allowed fields
LABEL = re.compile(r"[\w.:/-]*")  # a label has no spaces: a sentence cannot pass as one


def check_rows(rows: Sequence[dict]) -> None:
    """Refuse any row that could carry third-party text: strings only in `ALLOWED_STRING_FIELDS`,
    each at most `MAX_LABEL` characters and without spaces.

    >>> check_rows([{"kind": "sentence", "tag": "plan_generation", "value": 0.5}])
    >>> check_rows([{"kind": "sentence", "tag": "Let me add 3 and 4."}])
    Traceback (most recent call last):
    ...
    ValueError: row 0 field 'tag' holds a string; rows carry numbers, tags and indices only
    """
    for i, row in enumerate(rows):
        for key, value in row.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if isinstance(v, str) and (key not in ALLOWED_STRING_FIELDS or len(v) > MAX_LABEL
                                           or not LABEL.fullmatch(v)):
                    raise ValueError(f"row {i} field {key!r} holds a string; rows carry numbers, "
                                     "tags and indices only")


@dataclass(frozen=True)
class PublicRun:
    """What one question module hands to `write_run`."""

    slug: str  # the question, e.g. "determinism"
    source: Source  # the release read
    data_dir: Path  # the folder read (for checksums; its path is not recorded)
    files: tuple[Path, ...]  # every file read
    models: tuple[str, ...]  # the models whose chains were analysed, as the page names them
    n_problems: int  # independent units
    config: dict  # the analysis's fixed choices (thresholds, bins, seeds)
    rows: tuple[dict, ...]  # results.jsonl: numbers, tags and indices only
    summary: str  # summary.md
    claims: tuple  # starter.findings.Claim, primary first


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


def write_run(run: PublicRun, figure, out: str | os.PathLike) -> Path:
    """Write the five artefacts into `out` and return it. Rows are checked for text first."""
    from starter.findings import write_findings
    from starter.results import save_figure, write_summary

    out = Path(out)
    rows = [_jsonable(r) for r in run.rows]
    check_rows(rows)
    out.mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "question": run.slug,
        "model": ", ".join(run.models),
        "models": list(run.models),
        "preset": RESULT_FOLDER,
        "device": "cpu (no model run: analysis of a public release)",
        "source": {"name": run.source.name, "repository": run.source.repository,
                   "revision": run.source.revision, "folder": run.source.folder,
                   "licence": run.source.licence},
        "files_sha256": sha256_files(run.data_dir, run.files),
        "n_problems": run.n_problems,
        "config": _jsonable(run.config),
        "command": ["mi-starter", "public", run.slug, "--data", "<folder>", "--out", str(out)],
        "argv": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],
        "git_commit": kit_commit(),
        "python": platform.python_version(),
        "started_at": started,
        "finished_at": started,
    }
    tmp = out / "results.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                   encoding="utf-8")
    os.replace(tmp, out / "results.jsonl")
    save_figure(figure, out)
    write_summary(out, run.summary)
    write_findings(out, list(run.claims))
    manifest["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / "manifest.json")
    return out


def chain_files(folder: Path) -> tuple[Path, ...]:
    """The Thought Anchors files the readers open (for the manifest's checksums)."""
    names = ("problem.json", "base_solution.json", "chunks_labeled.json", "chunks_resampled.json")
    return tuple(p for p in sorted(folder.rglob("*.json")) if p.name in names)


def fmt_estimate(est, digits: int = 2) -> str:
    """An estimate in words (value, 95% interval, n): `starter.stats.describe`."""
    from starter.stats import describe

    return describe(est, digits)


def errorbar(ax, xs: Sequence[float], estimates: Sequence, **style) -> None:
    """Points with their 95% intervals (the kit's interval style); estimates without one get a
    bare point."""
    ys = [e.value for e in estimates]
    lo = [e.value - e.ci[0] if e.ci else 0.0 for e in estimates]
    hi = [e.ci[1] - e.value if e.ci else 0.0 for e in estimates]
    ax.errorbar(xs, ys, yerr=[lo, hi], capsize=3, marker="o", **style)


def outcome(correct: bool) -> str:
    """The label of a base chain's outcome, as rows carry it."""
    return "correct" if correct else "incorrect"


def short_model(model: str) -> str:
    """'deepseek-r1-distill-qwen-14b' -> 'Qwen-14B', for legends and tables.

    >>> short_model("deepseek-r1-distill-llama-8b")
    'Llama-8B'
    """
    tail = model.removeprefix("deepseek-r1-distill-")
    family, _, size = tail.partition("-")
    return f"{family.capitalize()}-{size.upper()}" if size else tail


def claim_by_key(claims: Sequence, key: str):
    """The claim whose `key` is `key` (KeyError naming the keys there are, if none)."""
    for claim in claims:
        if claim.key == key:
            return claim
    raise KeyError(f"no claim {key!r}; there are {[c.key for c in claims]}")


def fmt_difference(claim, digits: int = 2) -> str:
    """A claim's difference with its interval at the claim's own level (Holm-adjusted for a
    secondary claim) and its verdict, for prose.

    >>> from starter.stats import Estimate
    >>> from starter.findings import compare
    >>> e = Estimate(0.3, (0.1, 0.5), 10, 10)
    >>> fmt_difference(compare("X.", "m", e, "c", "m", e, e))
    '+0.30 (95% CI +0.10 to +0.50; supported)'
    """
    d = claim.difference
    if d.ci is None or not math.isfinite(d.value):
        return f"{d.value:+.{digits}f} (no interval; {claim.verdict})"
    level = ("95%" if abs(claim.ci_level - 0.95) < 1e-9
             else f"Holm-adjusted {100 * claim.ci_level:.1f}%")
    lo, hi = d.ci
    return (f"{d.value:+.{digits}f} ({level} CI {lo:+.{digits}f} to {hi:+.{digits}f}; "
            f"{claim.verdict})")
