"""kill -9 a smoke run, resume it with the same command: its rows equal an uninterrupted run's.

(Issue 11.) The run: `mi-starter run reasoning-tree --preset smoke --model <a tiny random Llama>`.
Its 8 chains are sampled (T=1) in one generate call and appended one fsynced row at a time, so a
kill between two appends leaves part of that sampling batch on disk; the resumed run samples the
rest as a smaller batch, at other positions. Rows can only match because each sequence's randomness
is keyed by (seed, prompt text, sample index), never by its batch (`starter.rollouts`).

Why a random model rather than the shipped TinyThinker: TinyThinker is so sure of itself that most
of its samples do not depend on the noise at all (with the old per-batch seeds, 6 of 7 chains came
out the same after a resume), so a resume test on it passes with the bug. A random model's every
token depends on the noise, it samples in seconds, and it writes no backtracks, so the run has no
resampling batch (tests/test_prefixes.py checks resampling a subset of prefixes directly).

Kill points (each resumed with the same command and compared row by row with one uninterrupted run):
- a real `kill -9` of the CLI process as soon as the first chain row is on disk, inside the chain
  batch (should the batch's other appends beat the kill, the file is cut back to that first row and
  half of the next line: what the kill, a moment earlier, would have left);
- inside the chain batch, exactly: a copy of the uninterrupted run's folder with results.jsonl cut
  after 5 chain rows and half of the sixth, without the files a finished run writes;
- while writing the last row: that row and the analysis are left to do.

The uninterrupted run and the killed one run side by side, one thread each, to halve the wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLUG = "reasoning-tree"
RESULTS = "results.jsonl"
FINAL = ("summary.md", "figure.png", "findings.json")  # written only once the run has finished
RUN_SECONDS = 600  # ample for one smoke run on 2 busy cores; a run that takes longer is hung
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two runs share 2 cores

pytestmark = pytest.mark.slow


class _Run:
    """The smoke run in `out`, started in the background (a new run, or a resume)."""

    def __init__(self, out: Path, model: Path) -> None:
        self.out = out
        command = [sys.executable, "-m", "starter.cli", "run", SLUG, "--preset", "smoke",
                   "--model", str(model), "--offline", "--out", str(out)]
        self.log = out.parent / f"{out.name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=REPO, env=ENV, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.deadline = time.monotonic() + RUN_SECONDS

    def finish(self) -> Path:
        """Wait for the run to end; it must succeed."""
        try:
            rc = self.proc.wait(timeout=max(self.deadline - time.monotonic(), 1))
        finally:
            self.kill()
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        assert rc == 0, f"{SLUG} smoke run in {self.out} failed (rc {rc}):\n{tail}"
        return self.out

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)


def _lines(out: Path) -> list[bytes]:
    """results.jsonl's lines, a torn last one included (as bytes, newline kept)."""
    try:
        return (out / RESULTS).read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return []


def _unit(line: bytes) -> str:
    return json.loads(line)["unit"]


def _rows(out: Path) -> dict[str, dict]:
    """The rows by unit (their order may differ after a resume); no row has timing fields."""
    rows = [json.loads(line) for line in _lines(out)]
    by_unit = {row["unit"]: row for row in rows}
    assert len(by_unit) == len(rows), f"{out / RESULTS} holds a unit twice"
    return by_unit


def _cut_back(out: Path, keep: int) -> None:
    """Leave `out` as a kill -9 leaves a run: `keep` rows, half of the next line, no final files."""
    lines = _lines(out)
    torn = lines[keep][: len(lines[keep]) // 2]  # no newline: a write cut short
    (out / RESULTS).write_bytes(b"".join(lines[:keep]) + torn)
    for name in FINAL:
        (out / name).unlink(missing_ok=True)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("finished_at", None)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _first_row_of(out: Path, prefix: str) -> int:
    return next(i for i, line in enumerate(_lines(out)) if _unit(line).startswith(prefix))


def _chain_rows(out: Path) -> int:
    """Complete chain rows on disk."""
    return sum(_unit(line).startswith("chain:") for line in _lines(out) if line.endswith(b"\n"))


def _assert_same_rows(resumed: Path, reference: Path, where: str) -> None:
    got, want = _rows(resumed), _rows(reference)
    missing = sorted(got.keys() ^ want.keys())
    assert not missing, f"killed {where}: these units are in one run only: {missing}"
    changed = sorted(unit for unit in want if got[unit] != want[unit])
    assert not changed, (f"killed {where}, the resumed run wrote other rows for {changed}: a "
                         "sequence's sample must depend on (seed, prompt, sample index) only")


@pytest.fixture(scope="module")
def model(save_tiny_llama, tmp_path_factory) -> Path:
    """A 2-layer random Llama with the organism's tokenizer, saved as a checkpoint folder."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    save_tiny_llama(folder, num_layers=2)
    return folder


@pytest.fixture(scope="module")
def reference(model, tmp_path_factory):
    """One uninterrupted smoke run, started at once in the background; every kill point uses it."""
    run = _Run(tmp_path_factory.mktemp("resume") / "uninterrupted", model)
    yield run
    run.kill()


def _finished(reference: _Run) -> Path:
    from starter.questions.reasoning_tree import PRESETS

    out = reference.finish()
    assert _chain_rows(out) == PRESETS["smoke"].n_problems >= 6, \
        "the smoke preset changed: pick kill points that fall inside its chain batch again"
    return out


def test_kill_9_inside_the_chain_batch_then_resume(model, reference, tmp_path):
    from starter.questions.reasoning_tree import PRESETS

    killed = _Run(tmp_path / "killed", model)
    try:
        while _chain_rows(killed.out) == 0:
            assert killed.proc.poll() is None, f"it ended before its first chain row: {killed.log}"
            assert time.monotonic() < killed.deadline, f"no chain row after {RUN_SECONDS} s"
            time.sleep(0.005)
    finally:
        killed.kill()
    assert killed.proc.returncode == -signal.SIGKILL
    if _chain_rows(killed.out) >= PRESETS["smoke"].n_problems:  # killed after the whole batch: go
        _cut_back(killed.out, keep=_first_row_of(killed.out, "chain:") + 1)  # back to its first row
    held = _chain_rows(killed.out)
    _Run(killed.out, model).finish()
    _assert_same_rows(killed.out, _finished(reference), f"by kill -9 with {held} chain rows on disk")


def test_kill_in_the_middle_of_the_chain_batch_then_resume(model, reference, tmp_path):
    done = _finished(reference)
    out = tmp_path / "killed"
    shutil.copytree(done, out)
    _cut_back(out, keep=_first_row_of(done, "chain:") + 5)
    _Run(out, model).finish()
    _assert_same_rows(out, done, "inside the chain batch (5 of its rows on disk)")


def test_kill_while_writing_the_last_row_then_resume(model, reference, tmp_path):
    done = _finished(reference)
    out = tmp_path / "killed"
    shutil.copytree(done, out)
    _cut_back(out, keep=len(_lines(done)) - 1)  # the last row torn: that row and the analysis left
    _Run(out, model).finish()
    _assert_same_rows(out, done, "while writing the last row")
    assert all((out / name).exists() for name in FINAL), "a resumed run must write every final file"
