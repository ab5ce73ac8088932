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


def _earlier_run(out, results: bytes | str) -> None:
    """A run folder of ours (manifest written by RunStore) whose results.jsonl holds `results`."""
    RunStore.open(out, config=CONFIG, model="m", device="cpu").finish()
    data = results.encode() if isinstance(results, str) else results
    (out / "results.jsonl").write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())  # killed before it finished
    manifest.update(finished_at=None, results=None)
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_corrupt_middle_line_raises_instead_of_guessing(tmp_path):
    _earlier_run(tmp_path, '{"unit": "a"}\nnot json\n{"unit": "b"}\n')
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
    _earlier_run(tmp_path, '{"unit": "a"}\n{"unit": "b", "x"')
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


# --- run folders never lose a user's data (issue 11) --------------------------------------------


def _snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message, f"errors are one line: {message!r}"
    return message


def test_a_folder_of_someone_elses_files_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "summary.md").write_text("my own notes\n")
    (tmp_path / "figure.png").write_bytes(b"my figure")
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as err:
        starter.results.check_run_dir(tmp_path, config=CONFIG, model="m")
    assert "figure.png, summary.md" in _one_line(err) and "no manifest.json" in str(err.value)
    with pytest.raises(UsageError, match="pass a new or empty folder"):
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert _snapshot(tmp_path) == before, "a refused folder must be left as it was (no .lock)"


def test_rows_without_a_manifest_are_not_adopted(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"unit": "a", "score": 99}\n')
    with pytest.raises(UsageError, match=r"holds files \(results.jsonl\) but no manifest.json"):
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert not (tmp_path / "manifest.json").exists()


def test_an_empty_folder_and_a_new_path_are_fine_and_checking_creates_nothing(tmp_path):
    starter.results.check_run_dir(tmp_path / "new" / "run", config=CONFIG, model="m")
    assert not (tmp_path / "new").exists(), "check_run_dir must not create anything"
    RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu").finish()  # empty: used
    assert (tmp_path / "manifest.json").exists()


def test_a_manifest_someone_else_wrote_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text('{"name": "my-package", "version": "1.0"}\n')
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as err:
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert "was not written by mi-starter" in _one_line(err)
    assert _snapshot(tmp_path) == before


def test_a_truncated_manifest_is_one_line_naming_it(tmp_path):
    _earlier_run(tmp_path, '{"unit": "a"}\n')
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:40])
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert f"{manifest} is not valid JSON" in _one_line(err)
    assert (tmp_path / "results.jsonl").read_text() == '{"unit": "a"}\n'


def test_out_at_a_file_or_below_a_file_is_one_usage_line(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    with pytest.raises(UsageError) as err:
        RunStore.open(afile, config=CONFIG, model="m", device="cpu")
    assert f"--out {afile} is a file" in _one_line(err)
    with pytest.raises(UsageError) as err:
        starter.results.check_run_dir(afile / "run", config=CONFIG, model="m")
    assert f"lies below {afile}, which is a file" in _one_line(err)
    assert afile.read_text() == "mine"


def test_a_read_only_filesystem_is_one_line_naming_the_folder(tmp_path, monkeypatch):
    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(starter.results.os, "statvfs", lambda path: ReadOnly())
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path / "run", config=CONFIG, model="m", device="cpu")
    assert f"cannot write in {tmp_path}: it is on a read-only filesystem" in _one_line(err)


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    import errno
    import pathlib

    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path / "run", config=CONFIG, model="m", device="cpu")
    expected = f"cannot create the run folder {tmp_path / 'run'} (Read-only file system)"
    assert expected in _one_line(err)


@pytest.mark.parametrize("written_before_failing", [0, 7])
def test_a_full_disk_mid_run_is_one_line_and_keeps_the_rows(tmp_path, monkeypatch,
                                                             written_before_failing):
    import errno

    store = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    store.append({"unit": "a"})
    store.append({"unit": "b"})
    real_write = os.write

    def full_disk(fd, data):
        if written_before_failing and len(data) > written_before_failing:  # half a line, then full
            return real_write(fd, bytes(data[:written_before_failing]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(starter.results.os, "write", full_disk)
    with pytest.raises(StarterError) as err:
        store.append({"unit": "c", "text": "x" * 100})
    message = _one_line(err)
    assert f"cannot write {tmp_path / 'results.jsonl'} (No space left on device)" in message
    assert "the 2 row(s) before it are kept" in message
    monkeypatch.undo()
    assert _units_in_file(tmp_path) == ["a", "b"], "a failed write must leave earlier rows intact"
    store.finish()
    again = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert again.pending(["a", "b", "c"]) == ["c"]
    again.append({"unit": "c"})
    assert _units_in_file(tmp_path) == ["a", "b", "c"]


def test_a_full_disk_while_writing_the_summary_is_one_line_and_keeps_the_old_one(tmp_path,
                                                                                  monkeypatch):
    import builtins
    import errno

    write_summary(tmp_path, "old")
    real_open = builtins.open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_disk)
    with pytest.raises(StarterError) as err:
        write_summary(tmp_path, "new")
    monkeypatch.undo()
    assert "summary.md (No space left on device)" in _one_line(err)
    assert (tmp_path / "summary.md").read_text() == "old\n"


def test_a_complete_last_line_that_is_not_a_row_is_kept_and_named(tmp_path):
    text = '{"unit": "a"}\nremember: rerun with T=1\n'
    _earlier_run(tmp_path, text)
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert f"{tmp_path / 'results.jsonl'}, line 2 is not a results row" in _one_line(err)
    assert (tmp_path / "results.jsonl").read_text() == text, "a complete line must never be deleted"


def test_a_note_without_newline_is_not_taken_for_a_torn_row(tmp_path):
    text = '{"unit": "a"}\nmy note, no newline'
    _earlier_run(tmp_path, text)
    with pytest.raises(StarterError, match="line 2 is not a results row"):
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert (tmp_path / "results.jsonl").read_text() == text


def test_a_line_with_invalid_utf8_is_one_line_naming_file_and_line(tmp_path):
    _earlier_run(tmp_path, b'{"unit": "a"}\n{"unit": "b\xff\xfe"}\n')
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert f"{tmp_path / 'results.jsonl'}, line 2 is not valid UTF-8" in _one_line(err)


@pytest.mark.parametrize("unit", [[1, 2], 1.5, True, None, {"a": 1}])
def test_a_unit_that_is_not_a_str_or_int_is_one_line(tmp_path, unit):
    _earlier_run(tmp_path, '{"unit": "a"}\n' + json.dumps({"unit": unit}) + "\n")
    with pytest.raises(StarterError) as err:
        RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    message = _one_line(err)
    where = f"{tmp_path / 'results.jsonl'}, line 2"
    assert f"{where} has a 'unit' that is a {type(unit).__name__}" in message


def test_rows_the_run_never_asked_about_are_named_before_analysis(tmp_path):
    store = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    for unit in ["p0", "p1", *[f"old{i}" for i in range(6)], "lookup"]:
        store.append({"unit": unit, **({"kind": "latent"} if unit == "lookup" else {})})
    store.finish()

    again = RunStore.open(tmp_path, config=CONFIG, model="m", device="cpu")
    assert again.pending(["p0", "p1", "p2"]) == ["p2"]
    assert [r["unit"] for r in again.unasked()] == [*[f"old{i}" for i in range(6)], "lookup"]
    with pytest.raises(StarterError) as err:
        again.check_asked(exempt_kinds=("latent",))
    message = _one_line(err)
    assert "holds 6 row(s)" in message and "'old0', 'old1', 'old2', 'old3', 'old4', ..." in message
    assert "'old5'" not in message, "up to five units are named"
    assert "lookup" not in message, "rows of an exempt kind are not checked"
    assert "pass a new --out, or delete those lines" in message
    for unit in [f"old{i}" for i in range(6)]:
        again.done(unit)
    again.check_asked(exempt_kinds=("latent",))  # all asked now: passes
    again.finish()
