"""Where a run's outputs live, written so that a killed run resumes without losing or repeating work.

A run directory holds four files, the same for every starter:

    manifest.json   what ran: config, seed, model, device, package versions, git commit, times, command
    results.jsonl   one JSON row per unit of work, each with a unique "unit" key, fsynced as it completes
    figure.png      save_figure(fig, out)
    summary.md      write_summary(out, markdown)

Opening an existing directory resumes it: rows already written are kept, `pending(units)` lists what is
left, and a last line torn by `kill -9` is dropped before anything is appended. Opening it with a
different config is refused, so two experiments never mix in one file.

>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> store = RunStore.open(out, config={"n": 2, "seed": 0}, model="toy", device="cpu")
>>> store.append({"unit": "p0", "correct": True})
>>> store.pending(["p0", "p1"])
['p1']
>>> again = RunStore.open(out, config={"n": 2, "seed": 0}, model="toy", device="cpu")  # resume
>>> [row["unit"] for row in again.rows()], again.done("p0")
(['p0'], True)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from starter.errors import StarterError, UsageError

try:  # advisory lock so two processes never append to one run; fcntl is POSIX-only
    import fcntl
except ImportError:  # Windows: no lock, everything else works
    fcntl = None

MANIFEST, RESULTS, FIGURE, SUMMARY = "manifest.json", "results.jsonl", "figure.png", "summary.md"
# Versions worth knowing when a number does not reproduce.
_PACKAGES = ("mi-starter", "torch", "transformers", "transformer-lens", "sae-lens", "nnsight", "numpy")
Unit = str | int


class RunStore:
    """One run directory: its manifest and its append-only, resumable results.jsonl.

    Use `RunStore.open(...)`; the constructor is internal.
    """

    def __init__(self, out: Path, manifest: dict, rows: list[dict]) -> None:
        self.out = out
        self.manifest = manifest
        self._rows = rows
        self._done: set[Unit] = {row["unit"] for row in rows}
        self.resumed = len(rows)  # rows found on disk when opened: written by an earlier process

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, out_dir: str | os.PathLike, config: dict, model: str, device: str,
             seed: int | None = None) -> RunStore:
        """Create `out_dir`, or resume it if it holds a run with the same config and model.

        `seed` defaults to `config["seed"]`. Raises UsageError when `out_dir` holds a different run.
        """
        out = Path(out_dir)
        config = _jsonable(config)
        seed = config.get("seed") if seed is None else seed
        out.mkdir(parents=True, exist_ok=True)
        _lock(out)
        try:
            manifest = _open_manifest(out / MANIFEST, config=config, model=model, seed=seed, device=device)
            rows = _load_rows(out / RESULTS)
        except BaseException:
            _unlock(out)  # a refused open must not keep the directory locked
            raise
        return cls(out, manifest, rows)

    # --- rows ---------------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """Every row written so far, in the order written (a copy: editing it changes nothing)."""
        return [dict(row) for row in self._rows]

    def done(self, unit: Unit) -> bool:
        """Whether `unit` already has a row (so a resumed run skips it)."""
        return unit in self._done

    def pending(self, units: Iterable[Unit]) -> list[Unit]:
        """The units of `units` without a row yet, in the given order."""
        return [u for u in units if u not in self._done]

    def append(self, row: dict) -> None:
        """Write one row and make it durable (flush + fsync) before returning.

        The row needs a "unit" key (str or int) not written before; writing a unit twice is a bug in
        the caller (check `done` or iterate over `pending`), so it raises ValueError.
        """
        unit = row.get("unit")
        if isinstance(unit, bool) or not isinstance(unit, (str, int)):
            raise ValueError(f"a results row needs a 'unit' key holding a str or int; got {unit!r}")
        if unit in self._done:
            raise ValueError(f"unit {unit!r} already has a row in {self.out / RESULTS}; "
                             "skip it with store.done(unit) or iterate over store.pending(units)")
        line = (json.dumps(_jsonable(row), ensure_ascii=False) + "\n").encode()
        fd = os.open(self.out / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:  # os.write may write less than asked (rare on files, but allowed)
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._rows.append(json.loads(line))
        self._done.add(unit)

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
        """Record `finished_at` and release the directory for other processes."""
        self.manifest["finished_at"] = _now()
        _write_atomic(self.out / MANIFEST, json.dumps(self.manifest, indent=2) + "\n")
        _unlock(self.out)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=150, bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def write_summary(out: str | os.PathLike, markdown: str) -> Path:
    """Write `out/summary.md` (atomically: a reader never sees half a summary) and return the path."""
    path = Path(out) / SUMMARY
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, markdown if markdown.endswith("\n") else markdown + "\n")
    return path


# --- helpers ------------------------------------------------------------------------------------


def _load_rows(path: Path) -> list[dict]:
    """Read results.jsonl, cutting away a torn last line (a write interrupted by kill -9 or power loss).

    Only the tail can be torn, because rows are appended one fsynced line at a time; a bad line in
    the middle means someone edited the file, and guessing would lose data, so that raises.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    # Every row ends with "\n" in the same write, so bytes after the last newline are a torn write.
    lines = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
    rows: list[dict] = []
    offset = good_end = 0  # good_end: byte offset just past the last intact row
    for i, raw in enumerate(lines):
        offset += len(raw) + 1
        if raw.strip():
            try:
                row = json.loads(raw)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or "unit" not in row:
                if any(rest.strip() for rest in lines[i + 1:]):
                    raise StarterError(f"{path}, line {i + 1} is not a results row: {raw[:80]!r}; "
                                       "fix or delete that line, or start a new run with another --out")
                break  # a garbled last line (e.g. after power loss): dropped like a torn one
            rows.append(row)
        good_end = offset
    if good_end < len(data):
        with open(path, "r+b") as f:  # truncate, so the next append starts on a clean line
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    units = [row["unit"] for row in rows]
    if len(set(units)) != len(units):
        dupes = sorted({str(u) for u in units if units.count(u) > 1})
        raise StarterError(f"{path} holds units more than once ({', '.join(dupes[:5])}); "
                           "two processes may have written it; start a new run with another --out")
    return rows


def _open_manifest(path: Path, *, config: dict, model: str, seed: Any, device: str) -> dict:
    """Write a fresh manifest, or mark an existing one as resumed after checking it is the same run."""
    now = _now()
    if path.exists():
        manifest = json.loads(path.read_text())
        _refuse_mismatch(path.parent, manifest, config=config, model=model, seed=seed)
        manifest["finished_at"] = None
        manifest.setdefault("resumed", []).append({"at": now, "device": device, "command": _command_line()})
    else:
        manifest = {
            "config": config, "seed": seed, "model": model, "device": device,
            "started_at": now, "finished_at": None, "command": _command_line(),
            "git_commit": _git_commit(), "python": platform.python_version(),
            "platform": platform.platform(), "packages": _package_versions(),
        }
    _write_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _refuse_mismatch(out: Path, manifest: dict, **expected: Any) -> None:
    for key, value in expected.items():
        old = manifest.get(key)
        if old == value:
            continue
        if key == "config" and isinstance(old, dict):
            keys = sorted(k for k in set(old) | set(value) if old.get(k) != value.get(k))
            detail = "; ".join(f"{k}: {old.get(k)!r} -> {value.get(k)!r}" for k in keys)
        else:
            detail = f"{old!r} -> {value!r}"
        raise UsageError(f"{out} already holds a run with a different {key} ({detail}); "
                         "resume it with the same settings, or pass a new --out directory")


# Locks this process holds, by directory: re-opening a run in the same process (a notebook cell run
# twice) reuses the lock instead of refusing itself.
_HELD_LOCKS: dict[Path, int] = {}


def _lock(out: Path) -> int | None:
    key = out.resolve()
    if fcntl is None or key in _HELD_LOCKS:
        return _HELD_LOCKS.get(key)
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
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
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _command_line() -> list[str]:
    return list(sys.argv)


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None  # recorded as "not installed", which is itself the fact
    return versions


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
