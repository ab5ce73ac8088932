"""Where a run's outputs live, written so that a killed run resumes without losing or repeating work.

A run directory holds these files, the same for every starter:

    manifest.json   what ran: config, seed, model, device, package versions, git commit, times, command
    results.jsonl   one JSON row per unit of work, each with a unique "unit" key, fsynced as it completes
    figure.png      save_figure(fig, out)
    summary.md      write_summary(out, markdown)

Opening an existing directory resumes it: rows already written are kept, `pending(units)` lists what is
left, and a last line torn by `kill -9` (one without its newline) is dropped before anything is
appended. Opening it with a different config is refused, so two experiments never mix in one file.

A run folder never loses a user's data. `RunStore.open` (and `check_run_dir`, which checks the same
without creating anything, so a run can be refused before its model loads) refuses:

- a path that is a file, lies below a file, or is not writable (a read-only filesystem, say);
- an existing folder that holds files but no manifest.json written by mi-starter: nothing in it is
  written, so a user's own summary.md or figure.png is never overwritten, and rows found without a
  manifest are never adopted;
- a manifest.json that is not valid JSON (e.g. cut short), naming it;
- a results.jsonl line that is not a row (not JSON, invalid UTF-8, no "unit", a unit that is not a
  str or int), naming the file and the line: only a torn last line may be cut, never a complete one.

A run's identity (`RunIdentity`: config incl. starter, preset, shard and server, model, seed,
commit, library versions) must match for a resume; `mi-starter merge` checks the same across
shards. `finish` records what results.jsonl holds, and `check_complete` (merge's test of a shard,
also applied when a finished run is resumed) refuses a run without `finished_at`, with a torn last
line, or whose rows changed since. A NaN or infinity is read back only in a field the run itself
recorded writing one in (`nan_fields` in the manifest), so an edited "T=nan" row is refused. Every
file read back must be a regular file: a named pipe is refused, never waited on.

Rows from another config cannot hide in a resumed file either. The store records every unit the run
asks about (through `done`, `pending` or `append`); `unasked()` lists the rows read from disk that
the current run never asked about, and `check_asked()`, which the frame calls before any analysis,
fails the run with one line naming up to five of their units and what to do (a new --out, or delete
those lines to keep the rest). A write that fails mid-run (a full disk) is one line too; the rows
before it stay.

>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> store = RunStore.open(out, config={"n": 2, "seed": 0}, model="toy", device="cpu")
>>> store.append({"unit": "p0", "correct": True})
>>> store.pending(["p0", "p1"])
['p1']
>>> again = RunStore.open(out, config={"n": 2, "seed": 0}, model="toy", device="cpu")  # resume
>>> [row["unit"] for row in again.rows()], again.done("p0")
(['p0'], True)
>>> again.check_asked()  # every row on disk was asked about: p0, through done()
>>> with open(f"{out}/results.jsonl", "a") as f:
...     _ = f.write('{"unit": "from-elsewhere"}\\n')
>>> third = RunStore.open(out, config={"n": 2, "seed": 0}, model="toy", device="cpu")
>>> third.pending(["p0", "p1"]), [row["unit"] for row in third.unasked()]
(['p1'], ['from-elsewhere'])
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import math
import os
import platform
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, TypeGuard

from starter.errors import StarterError, UsageError
from starter.files import read_regular

try:  # advisory lock so two processes never append to one run; fcntl is POSIX-only
    import fcntl
except ImportError:  # Windows: no lock, everything else works
    fcntl = None  # type: ignore[assignment]  # the module where it exists, else None (checked)

MANIFEST, RESULTS, FIGURE, SUMMARY = "manifest.json", "results.jsonl", "figure.png", "summary.md"
# Versions worth knowing when a number does not reproduce.
_PACKAGES = ("mi-starter", "torch", "transformers", "transformer-lens", "sae-lens", "nnsight", "numpy")
# Keys every manifest mi-starter writes holds; a manifest.json without them is someone else's.
_MANIFEST_KEYS = ("config", "model", "seed", "started_at")
# Files a run folder may hold before its manifest: our lock, a first manifest write cut short.
_BEFORE_MANIFEST = frozenset({".lock", MANIFEST + ".tmp"})
# What to do about a results.jsonl line that is not a row (said in every such error).
_FIX_LINE = ("fix or delete that line (it was left as it is), or pass a new --out; only a last "
             "line without a newline, torn by a crash, is ever cut")
Unit = str | int


@dataclasses.dataclass(frozen=True)
class RunIdentity:
    """What makes two run folders parts of the same run; resume, merge and validate all check it.

    Two runs with equal identities ask for the same rows and compute them the same way, so rows of
    one may complete the other. Everything that changes a row is here: the config (it holds the
    starter, preset, every Config field but `offline`, the shard, and with a server the backend,
    its base URL and served model), the model, the seed, the code's commit and the versions of the
    libraries that compute (`_PACKAGES`). Commits are compared when both name a clean checkout; a
    "-dirty" one cannot say which code ran (it is recorded, in the manifest and each `resumed`).

    >>> a = RunIdentity({"starter": "x", "n": 2}, "toy", 0, "abc", {"torch": "2.4"})
    >>> b = dataclasses.replace(a, config={"starter": "x", "n": 3}, packages={"torch": "2.5"})
    >>> a.differences(b)
    ['config (n: 2 -> 3)', "library versions (torch: '2.4' -> '2.5')"]
    >>> a.differences(b, ignore_config=("n",))
    ["library versions (torch: '2.4' -> '2.5')"]
    >>> a.differences(dataclasses.replace(a, git_commit="def")), a.differences(
    ...     dataclasses.replace(a, git_commit="def-dirty"))
    (["commit ('abc' -> 'def')"], [])
    """

    config: dict  # the run's config as manifest.json records it (starter, preset, fields, ...)
    model: str | None  # registry name, HF id or folder; None: a manifest without one
    seed: Any  # every random choice derives from it
    git_commit: str | None  # the checkout's commit, "-dirty" with local changes; None: no checkout
    packages: dict  # versions of the libraries in _PACKAGES (None: not installed)

    @classmethod
    def current(cls, config: dict, model: str, seed: Any = None) -> RunIdentity:
        """The identity of a run this process would start (its own commit and libraries)."""
        config = _jsonable(config)
        seed = config.get("seed") if seed is None else seed
        return cls(config, model, seed, _git_commit(), dict(_package_versions()))

    @classmethod
    def of(cls, manifest: dict) -> RunIdentity:
        """The identity manifest.json records (keys an older manifest lacks read as None)."""
        return cls(manifest.get("config") or {}, manifest.get("model"), manifest.get("seed"),
                   manifest.get("git_commit"), manifest.get("packages") or {})

    def differences(self, other: RunIdentity, ignore_config: tuple[str, ...] = ()) -> list[str]:
        """What differs from `other`, one phrase per part ("config (seed: 3 -> 5)"); [] if same."""
        found = []
        mine = {k: v for k, v in self.config.items() if k not in ignore_config}
        theirs = {k: v for k, v in other.config.items() if k not in ignore_config}
        if mine != theirs:
            found.append(f"config ({_changes(mine, theirs)})")
        for name, words in (("model", "model"), ("seed", "seed")):
            old, new = getattr(self, name), getattr(other, name)
            if old != new:
                found.append(f"{words} ({old!r} -> {new!r})")
        if _comparable(self.git_commit) and _comparable(other.git_commit) \
                and self.git_commit != other.git_commit:
            found.append(f"commit ({self.git_commit!r} -> {other.git_commit!r})")
        if self.packages != other.packages:
            found.append(f"library versions ({_changes(self.packages, other.packages)})")
        return found


def _comparable(commit: str | None) -> bool:
    """Whether a commit names the code that ran: not for a checkout with local changes ("-dirty":
    two such runs at one commit may differ, at two commits may not) nor outside a checkout (None:
    the mi-starter version in `packages` names the code then)."""
    return isinstance(commit, str) and not commit.endswith("-dirty")


def _changes(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys)


class RunStore:
    """One run directory: its manifest and its append-only, resumable results.jsonl.

    Use `RunStore.open(...)`; the constructor is internal.
    """

    def __init__(self, out: Path, manifest: dict, rows: list[dict]) -> None:
        self.out = out
        self.manifest = manifest
        self._rows = rows
        self._done: set[Unit] = {row["unit"] for row in rows}
        self._asked: set[Unit] = set()  # units this run asked about: done, pending, append
        self.resumed = len(rows)  # rows found on disk when opened: written by an earlier process

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, out_dir: str | os.PathLike, config: dict, model: str, device: str,
             seed: int | None = None) -> RunStore:
        """Create `out_dir`, or resume it if it holds a run with the same config and model.

        `seed` defaults to `config["seed"]`. Raises UsageError when `out_dir` holds a different run
        or someone else's files, StarterError when it cannot be read or written (see the module
        docstring).
        """
        out = Path(out_dir)
        identity = RunIdentity.current(config, model, seed)
        _inspect(out, identity)  # refuse before creating anything
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StarterError(f"cannot create the run folder {out} ({_reason(err)}); "
                               "pass an --out in a writable folder") from None
        _lock(out)
        try:
            found = _inspect(out, identity)  # again, under the lock
            _cut_torn_tail(out / RESULTS, found.keep_bytes)
            manifest = _write_manifest(out / MANIFEST, found.manifest, identity, device=device)
        except BaseException:
            _unlock(out)  # a refused open must not keep the directory locked
            raise
        return cls(out, manifest, found.rows)

    # --- rows ---------------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """Every row written so far, in the order written (a copy: editing it changes nothing)."""
        return [dict(row) for row in self._rows]

    def done(self, unit: Unit) -> bool:
        """Whether `unit` already has a row (so a resumed run skips it); records it as asked."""
        self._asked.add(unit)
        return unit in self._done

    def pending(self, units: Iterable[Unit]) -> list[Unit]:
        """The units of `units` without a row yet, in the given order; records all as asked."""
        units = list(units)
        self._asked.update(units)
        return [u for u in units if u not in self._done]

    def unasked(self) -> list[dict]:
        """Rows read from disk whose unit this run never asked about (done, pending, append).

        After a starter's `run`, these are rows the current config does not produce: rows of another
        version of the starter, or lines pasted from another run.
        """
        return [dict(row) for row in self._rows[: self.resumed] if row["unit"] not in self._asked]

    def check_asked(self, exempt_kinds: tuple[str, ...] = ()) -> None:
        """Raise StarterError if a row on disk (other than of `exempt_kinds`) was never asked about.

        Call it after the run and before analysing `rows()`, so no stray row changes the numbers.
        """
        stray = [row["unit"] for row in self.unasked() if row.get("kind") not in exempt_kinds]
        if not stray:
            return
        shown = ", ".join(repr(u) for u in stray[:5]) + (", ..." if len(stray) > 5 else "")
        raise StarterError(
            f"{self.out / RESULTS} holds {len(stray)} row(s) this run's config never asked for "
            f"(units {shown}), from another config or another version of the starter; pass a new "
            "--out, or delete those lines to keep the rest")

    def append(self, row: dict) -> None:
        """Write one row and make it durable (flush + fsync) before returning.

        The row needs a "unit" key (str or int) not written before; writing a unit twice is a bug in
        the caller (check `done` or iterate over `pending`), so it raises ValueError. A failed write
        (a full disk) raises StarterError and leaves the rows before it as they were.
        """
        unit = row.get("unit")
        if not _is_unit(unit):
            raise ValueError(f"a results row needs a 'unit' key holding a str or int; got {unit!r}")
        if unit in self._done:
            raise ValueError(f"unit {unit!r} already has a row in {self.out / RESULTS}; "
                             "skip it with store.done(unit) or iterate over store.pending(units)")
        row = _jsonable(row)
        new_nan = set(_non_finite_fields(row)) - _nan_fields(self.manifest)
        if new_nan:  # recorded before the row, so a resume knows this run writes them
            self.manifest["nan_fields"] = sorted(_nan_fields(self.manifest) | new_nan)
            _write_atomic(self.out / MANIFEST, json.dumps(self.manifest, indent=2) + "\n")
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
        _append_line(self.out / RESULTS, line, kept=len(self._rows))
        self._rows.append(json.loads(line))
        self._done.add(unit)
        self._asked.add(unit)

    # --- the other artefacts ------------------------------------------------------------------

    @property
    def figure_path(self) -> Path:
        return self.out / FIGURE

    @property
    def summary_path(self) -> Path:
        return self.out / SUMMARY

    def save_figure(self, fig) -> Path:
        return save_figure(fig, self.out)

    def write_summary(self, markdown: str) -> Path:
        return write_summary(self.out, markdown)

    def finish(self) -> None:
        """Record `finished_at` and what results.jsonl holds (rows, bytes, SHA-256: see
        `check_complete`), and release the directory for other processes."""
        self.manifest["results"] = _results_record(self.out / RESULTS)
        self.manifest["finished_at"] = _now()
        try:
            _write_atomic(self.out / MANIFEST, json.dumps(self.manifest, indent=2) + "\n")
        finally:
            _unlock(self.out)


def check_complete(out_dir: str | os.PathLike) -> tuple[dict, list[dict]]:
    """(manifest, rows) of a run that finished and is as it finished; one UsageError line otherwise.

    A run is complete when its manifest has `finished_at`, results.jsonl has no torn last line, and
    results.jsonl is byte for byte what `finish` recorded (so no row was added, edited or cut since:
    every row is one the run's config asked for). `mi-starter merge` takes only complete shards; a
    resume of a finished run checks the same record. Read only: nothing is cut or rewritten.

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> store = RunStore.open(out, config={"seed": 0}, model="toy", device="cpu")
    >>> store.append({"unit": "p0", "score": 1})
    >>> check_complete(out)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: ... never finished (its manifest.json has no finished_at); ...
    >>> store.finish()
    >>> [row["unit"] for row in check_complete(out)[1]]
    ['p0']
    """
    out = Path(out_dir)
    manifest = _read_manifest(out / MANIFEST)
    if manifest is None:
        raise UsageError(f"{out} holds no {MANIFEST}: not an mi-starter run directory")
    rows, keep_bytes = _parse_rows(out / RESULTS, _nan_fields(manifest))
    torn = _torn_bytes(out / RESULTS, keep_bytes)
    if not manifest.get("finished_at"):
        also = f", and its {RESULTS} ends in a torn line of {torn} bytes" if torn else ""
        raise UsageError(f"{out} holds a run that never finished (its {MANIFEST} has no "
                         f"finished_at){also}; run its command again to finish it (it resumes), "
                         "then use it")
    _check_finished_rows(out, manifest, keep_bytes)
    return manifest, rows


def check_run_dir(out_dir: str | os.PathLike, config: dict, model: str,
                  seed: int | None = None) -> None:
    """Raise the error `RunStore.open` would raise for this folder, creating or changing nothing.

    Call it before loading a model, so a bad `--out` fails in a second, not after the load.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_run_dir(folder / "new-run", config={"seed": 0}, model="toy")  # fine: to be created
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_run_dir(folder, config={"seed": 0}, model="toy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --out ... holds files (notes.txt) but no manifest.json ...
    """
    _inspect(Path(out_dir), RunIdentity.current(config, model, seed))


def save_figure(fig, out: str | os.PathLike) -> Path:
    """Save a matplotlib figure as `out/figure.png` and return the path.

    Build figures with `matplotlib.figure.Figure()` (no pyplot, so no GUI backend is needed: saving
    uses Agg); a pyplot figure is closed after saving so loops do not leak memory.

    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(); _ = fig.add_subplot().plot([0, 1], [1, 0])
    >>> save_figure(fig, tempfile.mkdtemp()).name
    'figure.png'
    """
    path = Path(out) / FIGURE
    tmp = path.with_name(FIGURE + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
        os.replace(tmp, path)  # never opened for writing: a pipe in its place cannot block
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StarterError(f"cannot write {path} ({_reason(err)}); free some space or pick a "
                           "writable --out, then run the same command again") from err
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    return path


def write_summary(out: str | os.PathLike, markdown: str) -> Path:
    """Write `out/summary.md` (atomically: a reader never sees half a summary) and return the path."""
    path = Path(out) / SUMMARY
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StarterError(f"cannot create {path.parent} ({_reason(err)}); "
                           "pick a writable folder") from err
    _write_atomic(path, markdown if markdown.endswith("\n") else markdown + "\n")
    return path


# --- reading a run folder -----------------------------------------------------------------------


@dataclasses.dataclass
class _Found:
    """What an existing run folder holds, checked: nothing in it has been changed yet."""

    manifest: dict | None  # the manifest of our run, None for a new or empty folder
    rows: list[dict]  # the intact rows of results.jsonl, in file order
    keep_bytes: int  # results.jsonl's length without a torn last line (0 when there is no file)


def _inspect(out: Path, identity: RunIdentity) -> _Found:
    """Check `out` for a (re)open, reading only; a one-line error for everything refused."""
    _check_out_path(out)
    if not out.exists():
        return _Found(manifest=None, rows=[], keep_bytes=0)
    _refuse_special_files(out)
    manifest = _read_manifest(out / MANIFEST)
    if manifest is None:
        _refuse_foreign_files(out)
        return _Found(manifest=None, rows=[], keep_bytes=0)
    _refuse_mismatch(out, manifest, identity)
    rows, keep_bytes = _parse_rows(out / RESULTS, _nan_fields(manifest))
    if manifest.get("finished_at") and "results" in manifest:  # resuming a finished run:
        _check_finished_rows(out, manifest, keep_bytes)  # its rows must be those it finished with
    return _Found(manifest=manifest, rows=rows, keep_bytes=keep_bytes)


def _check_out_path(out: Path) -> None:
    """A file, a path below a file and a folder we cannot write in are refused with what to do."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder; pass a folder (a new one, or an "
                         "earlier run's to resume it)")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out} lies below {existing}, which is a file; pass a folder path "
                         "that is not inside a file")
    if _read_only_filesystem(existing):
        raise StarterError(f"cannot write in {existing}: it is on a read-only filesystem; pass an "
                           "--out on a writable one")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StarterError(f"cannot write in {existing} (permission denied); pass an --out in a "
                           "folder you can write to")


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows) or no answer: os.access decides
        return False


def _read_manifest(path: Path) -> dict | None:
    """Our manifest, or None when there is none; someone else's or an unparsable one is refused."""
    try:
        data = read_regular(path)  # a named pipe is refused, never waited on
    except OSError as err:
        raise StarterError(f"cannot read {path} ({_reason(err)}); fix its permissions, or pass "
                           "a new --out") from None
    if data is None:
        return None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise StarterError(f"{path} is not valid UTF-8 (byte {err.start + 1}); restore it, or "
                           f"pass a new --out (its {RESULTS} was left as it is)") from None
    except (json.JSONDecodeError, RecursionError) as err:
        where = f"line {err.lineno}" if isinstance(err, json.JSONDecodeError) else "nesting"
        raise StarterError(f"{path} is not valid JSON ({where}), perhaps cut short; restore it, or "
                           f"pass a new --out (its {RESULTS} was left as it is)") from None
    if not isinstance(manifest, dict) or not all(key in manifest for key in _MANIFEST_KEYS) \
            or not isinstance(manifest["config"], dict):
        lacks = ", ".join(_MANIFEST_KEYS)
        raise UsageError(f"{path} was not written by mi-starter (it lacks {lacks}); "
                         "pass a new --out: nothing in that folder was changed")
    return manifest


# Every file a run writes (and the temporary names it writes them through).
_ARTEFACTS = (MANIFEST, RESULTS, FIGURE, SUMMARY, "findings.json", ".lock", MANIFEST + ".tmp",
              SUMMARY + ".tmp", FIGURE + ".tmp", "findings.json.tmp")


def _refuse_special_files(out: Path) -> None:
    """A named pipe (socket, device, folder) where a run writes or reads a file is refused before
    anything opens it: writing to a pipe without a reader would wait forever."""
    from starter.files import NotRegularFile, kind_of

    for name in _ARTEFACTS:
        try:
            mode = os.stat(out / name).st_mode
        except OSError:  # absent (or unreadable: the read itself says so)
            continue
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{out / name} is {kind_of(mode)}, not a regular file; a run "
                                 "folder holds only regular files: remove or rename it, or pass "
                                 "a new --out (nothing was read or changed)")


def _refuse_foreign_files(out: Path) -> None:
    """A folder without our manifest is used only when empty (rows alone are never adopted)."""
    try:
        names = sorted(p.name for p in out.iterdir() if p.name not in _BEFORE_MANIFEST)
    except OSError as err:
        raise StarterError(f"cannot list {out} ({_reason(err)}); pass another --out") from None
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise UsageError(f"--out {out} holds files ({shown}) but no {MANIFEST} of an mi-starter "
                         "run; pass a new or empty folder: nothing in this one was changed")


def _parse_rows(path: Path, nan_fields: frozenset[str] = frozenset()) -> tuple[list[dict], int]:
    """(rows, bytes to keep) of results.jsonl; a complete line that is not a row raises, naming it.

    Only the tail can be torn, because rows are appended one fsynced line at a time with the
    newline in the same write: bytes after the last newline that start like a row are a torn write,
    to be cut. Anything else (a note, a line with a bad unit) means someone edited the file:
    guessing would lose data, so that raises, naming the line.
    """
    try:
        data = read_regular(path)  # a named pipe is refused, never waited on
    except OSError as err:
        raise StarterError(f"cannot read {path} ({_reason(err)}); fix its permissions, or pass "
                           "a new --out") from None
    if data is None:
        return [], 0
    keep = data.rfind(b"\n") + 1
    lines = data[:keep].split(b"\n")[:-1]
    tail = data[keep:]
    if tail.strip() and not tail.lstrip().startswith(b"{"):
        raise StarterError(f"{path}, line {len(lines) + 1} is not a results row "
                           f"(and has no newline): {tail[:80]!r}; {_FIX_LINE}")
    numbered = enumerate(lines, start=1)
    rows = [_parse_row(path, number, raw, nan_fields) for number, raw in numbered if raw.strip()]
    units = [row["unit"] for row in rows]
    if len(set(units)) != len(units):
        dupes = sorted({str(u) for u in units if units.count(u) > 1})
        raise StarterError(f"{path} holds units more than once ({', '.join(dupes[:5])}); "
                           "two processes may have written it; start a new run with another --out")
    return rows, keep


def _parse_row(path: Path, number: int, raw: bytes, nan_fields: frozenset[str]) -> dict:
    where = f"{path}, line {number}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise StarterError(f"{where} is not valid UTF-8 (byte {err.start + 1} of the line); "
                           f"{_FIX_LINE}") from None
    try:
        row = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        row = None
    if not isinstance(row, dict) or "unit" not in row:
        raise StarterError(f"{where} is not a results row: {text[:80]!r}; {_FIX_LINE}")
    if not _is_unit(row["unit"]):
        shown = repr(row["unit"])[:40]
        kind = type(row["unit"]).__name__
        raise StarterError(f"{where} has a 'unit' that is a {kind} ({shown}), "
                           f"not a string or an integer; {_FIX_LINE}")
    odd = [name for name in _non_finite_fields(row) if name not in nan_fields]
    if odd:  # the run records every field it writes NaN in (manifest "nan_fields") first
        raise StarterError(f"{where} holds NaN or infinity in {odd[0]!r}, which this run never "
                           f"writes there: the line was edited or corrupted; {_FIX_LINE}")
    return row


def _non_finite_fields(row: dict) -> list[str]:
    """The fields of `row` holding NaN or an infinity anywhere inside, sorted.

    >>> _non_finite_fields({"unit": "a", "p": float("nan"), "xs": [1.0, float("inf")], "n": 2})
    ['p', 'xs']
    """
    return sorted(name for name, value in row.items() if _has_non_finite(value))


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _nan_fields(manifest: dict | None) -> frozenset[str]:
    """The fields this run writes NaN or infinity in (recorded by `append` before such a row)."""
    fields = (manifest or {}).get("nan_fields") or ()
    return frozenset(f for f in fields if isinstance(f, str))


def _results_record(path: Path) -> dict:
    """What results.jsonl holds now: rows, bytes, SHA-256 (the manifest records it at finish)."""
    data = read_regular(path) or b""
    return {"rows": data.count(b"\n"), "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def _torn_bytes(path: Path, keep_bytes: int) -> int:
    """How many bytes of a torn last line follow the last complete row (0: none)."""
    try:
        return max(0, path.stat().st_size - keep_bytes) if path.exists() else 0
    except OSError:
        return 0


def _check_finished_rows(out: Path, manifest: dict, keep_bytes: int) -> None:
    """A finished run's results.jsonl must be what `finish` recorded; one line naming what moved."""
    recorded = manifest.get("results")
    if not isinstance(recorded, dict):
        raise UsageError(f"{out} finished without a record of its rows ({MANIFEST} has no "
                         f"'results'; written by an older mi-starter?), so its {RESULTS} cannot be "
                         "checked; run it again with a new --out")
    now = _results_record(out / RESULTS)
    if now == recorded:
        return
    torn = _torn_bytes(out / RESULTS, keep_bytes)
    what = (f"it ends in a torn line of {torn} bytes" if torn else
            f"{now['rows']} rows where {recorded.get('rows')} were recorded" if
            now["rows"] != recorded.get("rows") else "a row was edited")
    raise UsageError(f"{out / RESULTS} changed after the run finished ({what}); restore it, or "
                     "run again with a new --out (nothing was changed)")


def _is_unit(value: Any) -> TypeGuard[str | int]:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


# --- writing ------------------------------------------------------------------------------------


def _cut_torn_tail(path: Path, keep_bytes: int) -> None:
    """Truncate results.jsonl to `keep_bytes`, so the next append starts on a clean line."""
    try:
        if not path.exists() or path.stat().st_size <= keep_bytes:
            return
        with open(path, "r+b") as f:
            f.truncate(keep_bytes)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise StarterError(f"cannot cut the torn last line of {path} ({_reason(err)}); free "
                           "some space or fix its permissions, then run the same command again"
                           ) from None


def _append_line(path: Path, line: bytes, kept: int) -> None:
    """Append one complete line and fsync; on failure undo a partial write and raise one line."""
    what_to_do = (f"the {kept} row(s) before it are kept; free some space (or fix the folder) "
                  "and run the same command again to resume")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as err:
        raise StarterError(f"cannot write {path} ({_reason(err)}); {what_to_do}") from err
    try:
        size = os.fstat(fd).st_size
        view = memoryview(line)
        while view:  # os.write may write less than asked (rare on files, but allowed)
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as err:
        # Undo half a line; if even that fails, the line has no newline and the next open cuts it.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise StarterError(f"cannot write {path} ({_reason(err)}); {what_to_do}") from err
    finally:
        os.close(fd)


def _write_manifest(path: Path, existing: dict | None, identity: RunIdentity,
                    device: str) -> dict:
    """Write a fresh manifest, or mark the existing (already checked) one as resumed."""
    now = _now()
    if existing is not None:
        manifest = existing
        manifest["finished_at"] = None
        manifest.pop("results", None)  # recorded again by finish()
        manifest.setdefault("resumed", []).append(
            {"at": now, "device": device, "command": _command_line(),
             "git_commit": identity.git_commit, "packages": identity.packages})
    else:
        manifest = {
            "config": identity.config, "seed": identity.seed, "model": identity.model,
            "device": device, "started_at": now, "finished_at": None,
            "command": _command_line(), "git_commit": identity.git_commit,
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": identity.packages,
        }
    _write_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _refuse_mismatch(out: Path, manifest: dict, identity: RunIdentity) -> None:
    """A folder holding another run (see RunIdentity) is never resumed: one line naming the part."""
    differences = RunIdentity.of(manifest).differences(identity)
    if differences:
        raise UsageError(f"{out} already holds a run with a different {'; '.join(differences)}; "
                         "resume it with the same settings, checkout and libraries, or pass a "
                         "new --out directory")


# Locks this process holds, by directory: re-opening a run in the same process (a notebook cell run
# twice) reuses the lock instead of refusing itself.
_HELD_LOCKS: dict[Path, int] = {}


def _lock(out: Path) -> int | None:
    key = out.resolve()
    if fcntl is None or key in _HELD_LOCKS:
        return _HELD_LOCKS.get(key)
    try:
        fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise StarterError(f"cannot create {out / '.lock'} ({_reason(err)}); pass an --out in a "
                           "writable folder") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(f"another process is writing to {out}; wait for it to finish "
                         "or pass a different --out directory") from None
    _HELD_LOCKS[key] = fd
    return fd


def _unlock(out: Path) -> None:
    fd = _HELD_LOCKS.pop(out.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


def _jsonable(value: Any) -> Any:
    """JSON-ready copy of a config or row: dataclasses -> dicts, tuples -> lists, paths -> str."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):  # numpy arrays, torch tensors
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable: {obj!r:.80}; "
                    "store plain numbers, strings, lists or dicts")


def _write_atomic(path: Path, text: str) -> None:
    """Write `path` through a temporary file: a crash or a full disk leaves the old one intact."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):  # the half-written temporary; the error below matters
            tmp.unlink(missing_ok=True)
        raise StarterError(f"cannot write {path} ({_reason(err)}); free some space or pick a "
                           "writable --out, then run the same command again (results so far are "
                           "kept)") from err


def _reason(err: OSError) -> str:
    """An OSError in a few words ("No space left on device"), without repeating the path."""
    return err.strerror or type(err).__name__


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _command_line() -> list[str]:
    return list(sys.argv)


@functools.cache  # the code this process runs is the code it started with
def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None  # recorded as "not installed", which is itself the fact
    return versions


@functools.cache  # the code this process runs is the code it started with
def _git_commit() -> str | None:
    """The commit of the checkout the package runs from, with "-dirty" if it has local changes;
    None when the package is not in a git checkout (e.g. installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")
