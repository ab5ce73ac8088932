"""The results store: manifest, resumable results.jsonl (including after kill -9), figure, summary."""

from __future__ import annotations

import doctest
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import starter.results
from starter.errors import StarterError, UsageError
from starter.results import RunStore, save_figure, write_summary

CONFIG = {"n_problems": 4, "temperature": 0.6, "seed": 3}


def _units_in_file(out) -> list:
    lines = (out / "results.jsonl").read_text().splitlines()
    return [json.loads(line)["unit"] for line in lines]


def test_docstring_examples_run():
    result = doctest.testmod(starter.results)
    assert result.failed == 0, "an example in starter/results.py no longer matches what the code does"


def test_manifest_records_what_ran(tmp_path):
    store = RunStore.open(tmp_path, config=CONFIG, model="smollm2-135m", device="cpu")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"] == CONFIG
    assert manifest["seed"] == 3, "the seed defaults to config['seed']"
    assert (manifest["model"], manifest["device"]) == ("smollm2-135m", "cpu")
    assert manifest["packages"]["torch"], "package versions should include torch"
    assert manifest["started_at"] and manifest["finished_at"] is None
    assert isinstance(manifest["command"], list)
    assert "git_commit" in manifest
    store.finish()
    finished = json.loads((tmp_path / "manifest.json").read_text())["finished_at"]
    assert finished and finished >= manifest["started_at"], "finish() must set an ISO finished_at"


def test_rows_resume_and_refuse_duplicates(tmp_path):
    store = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    store.append({"unit": "a", "x": 1})
    store.append({"unit": 7, "x": 2})
    with pytest.raises(ValueError, match="already has a row"):
        store.append({"unit": "a", "x": 3})
    with pytest.raises(ValueError, match="'unit' key"):
        store.append({"x": 4})
    store.finish()

    again = RunStore.open(tmp_path, config=CONFIG, model="m", device="cuda")
    assert [r["unit"] for r in again.rows()] == ["a", 7]
    assert again.done("a") and again.done(7) and not again.done("b")
    assert again.pending(["a", "b", 7, "c"]) == ["b", "c"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["device"] == "cpu" and manifest["resumed"][0]["device"] == "cuda", \
        "a resume keeps the original manifest and records the resume"


def test_different_config_is_refused(tmp_path):
    RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu").finish()
    with pytest.raises(UsageError, match=r"temperature: 0\.6 -> 1\.0"):
        RunStore.open(tmp_path, config={**CONFIG, "temperature": 1.0}, model="m", device="cpu")
    with pytest.raises(UsageError, match="different model"):
        RunStore.open(tmp_path, config=CONFIG, model="other", device="cpu")


def test_second_process_is_refused_while_a_run_is_open(tmp_path):
    store = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    code = (f"from starter.results import RunStore; "
            f"RunStore.open({str(tmp_path)!r}, config={CONFIG!r}, model='m', device='cpu')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "another process is writing" in proc.stderr
    store.finish()


def test_corrupt_middle_line_raises_instead_of_guessing(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"unit": "a"}\nnot json\n{"unit": "b"}\n')
    with pytest.raises(StarterError, match="line 2"):
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")


WRITER = textwrap.dedent("""
    import sys, time
    from starter.results import RunStore
    store = RunStore.open(sys.argv[1], config={"k": 1}, model="m", device="cpu")
    for unit in store.pending([f"u{i}" for i in range(int(sys.argv[2]))]):
        time.sleep(0.05)
        store.append({"unit": unit, "value": unit.upper() * 50})
    store.finish()
""")


def test_resume_after_kill_9_and_a_torn_line(tmp_path):
    n = 40
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(n)])
    deadline = time.time() + 60
    while time.time() < deadline:
        path = out / "results.jsonl"
        if path.exists() and path.read_text().count("\n") >= 5:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    written = _units_in_file(out)
    assert 5 <= len(written) < n, "the writer should have been killed mid-run"
    with open(out / "results.jsonl", "a") as f:  # what a write cut short by kill -9 leaves behind
        f.write('{"unit": "u39", "value": "U39U3')

    # resume in a subprocess too, with the same script: the torn line is dropped and the rest written
    subprocess.run([sys.executable, str(script), str(out), str(n)], check=True, timeout=120)
    units = _units_in_file(out)
    assert sorted(units) == sorted(f"u{i}" for i in range(n)), \
        "after resume every unit must appear exactly once (none lost, none repeated, no torn line)"
    assert units[: len(written)] == written, "rows written before the kill must be kept as they were"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["finished_at"] and len(manifest["resumed"]) == 1


def test_torn_line_is_truncated_before_appending(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"unit": "a"}\n{"unit": "b", "x"')
    store = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert [r["unit"] for r in store.rows()] == ["a"]
    store.append({"unit": "b"})
    assert (tmp_path / "results.jsonl").read_text() == '{"unit": "a"}\n{"unit": "b"}\n'
    store.finish()


def test_figure_and_summary(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1, 2], [1, 0, 1])
    path = save_figure(fig, tmp_path)
    assert path == tmp_path / "figure.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "figure.png must be a PNG"
    summary = write_summary(tmp_path, "# Result\n\naccuracy 0.5")
    assert summary.read_text() == "# Result\n\naccuracy 0.5\n"
    store = RunStore.open(tmp_path / "run", config=CONFIG, model="m", device="cpu")
    assert store.save_figure(fig) == store.figure_path and store.figure_path.exists()
    assert store.write_summary("x") == store.summary_path
    store.finish()


def test_a_refused_open_does_not_keep_the_directory_locked(tmp_path):
    RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu").finish()
    with pytest.raises(UsageError):
        RunStore.open(tmp_path, config={"other": 1}, model="m", device="cpu")
    code = (f"from starter.results import RunStore; "
            f"RunStore.open({str(tmp_path)!r}, config={CONFIG!r}, model='m', device='cpu').finish()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"the lock leaked after a refused open: {proc.stderr[-300:]}"
