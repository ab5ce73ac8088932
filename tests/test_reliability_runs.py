"""Issue 26, run folders: merge and validate never mix or overwrite, resume checks the whole
identity of a run, and nothing read back from a run folder is trusted unchecked.

Toy starters only (no model loads); each case fails with one UsageError/StarterError line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import starter.results
from starter import registry
from starter.errors import StarterError, UsageError
from starter.experiment import Session, Starter, StarterConfig, execute, merge_runs, parse_overrides
from starter.results import RunStore

PRESETS = {name: StarterConfig(model="tinythinker", device="cpu")
           for name in ("smoke", "cpu", "gpu")}
PROBLEMS = [f"p{i}" for i in range(4)]


def _run(ctx) -> None:
    for problem in ctx.my_problems(PROBLEMS):
        if not ctx.store.done(problem):
            ctx.store.append({"unit": problem, "kind": "problem", "score": int(problem[1:]) % 3})


def _analyse(rows):
    return {"n": len(rows), "total": sum(r["score"] for r in rows)}


TOY = Starter(slug="lucky-or-steady", title="Toy", question="Do shards merge?", presets=PRESETS,
              run=_run, analyse=_analyse, plot=lambda r, m: Figure(),
              findings=lambda m: f"{m['n']} problems, total {m['total']}.", shardable=True,
              black_box=True)


@pytest.fixture(autouse=True)
def no_model(monkeypatch):
    """The toy starter never uses its model: nothing loads."""
    import starter.models

    monkeypatch.setattr(starter.models, "load_model", lambda *args, **kwargs: None)


@pytest.fixture(autouse=True)
def clean_checkout(monkeypatch):
    """As on a user's clean checkout (this repository is usually mid-edit: "-dirty")."""
    monkeypatch.setattr(starter.results, "_git_commit", lambda: "a" * 40)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(registry, "load", lambda slug: TOY)  # merge looks the slug up there
    return TOY


def _execute(out, *extra) -> Path:
    return execute(TOY, parse_overrides(["--offline", "--out", str(out), *extra]))


def _shards(tmp_path) -> list[Path]:
    return [_execute(tmp_path / f"s{i}", "--shard", f"{i}/2") for i in range(2)]


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _edit_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


# --- 1. merge refuses a shard that never finished ---------------------------------------------


def test_merge_refuses_a_shard_that_never_finished(toy, tmp_path):
    """Item 1: a shard killed mid-run (no finished_at, a torn last line) is not merged."""
    shards = _shards(tmp_path)
    _edit_manifest(shards[1], finished_at=None)
    with open(shards[1] / "results.jsonl", "ab") as f:
        f.write(b'{"unit": "p9", "kind": "prob')
    with pytest.raises(UsageError, match="never finished .*torn line of 28 bytes") as err:
        merge_runs(shards, tmp_path / "merged")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "merged").exists()


def test_a_shard_is_complete_only_as_it_finished(toy, tmp_path):
    """The shared complete-run test: finished, no torn line, rows as recorded at finish."""
    shard = _shards(tmp_path)[0]
    manifest, rows = starter.results.check_complete(shard)
    assert [r["unit"] for r in rows if r.get("kind") == "problem"] == ["p0", "p2"]
    assert manifest["results"]["rows"] == len(rows)
    with open(shard / "results.jsonl", "ab") as f:
        f.write(b'{"unit": "p1"')
    with pytest.raises(UsageError, match="changed after the run finished .*torn line"):
        starter.results.check_complete(shard)


# --- 2. validate --out onto an existing run folder ---------------------------------------------


def test_validate_out_onto_a_run_folder_is_refused_and_changes_nothing(toy, tmp_path,
                                                                       monkeypatch):
    """Item 2: validate never replaces a run folder's summary.md and figure.png."""
    import starter.experiment
    import starter.validation as val

    run = _execute(tmp_path / "run")
    before = _snapshot(run)
    arm = val.Validation("score", (val.Arm("tinythinker", None),), measure=None, meaning="m")
    monkeypatch.setattr(val, "load_validation", lambda slug: arm)
    monkeypatch.setattr(starter.experiment, "Session", None)  # no arm may start
    with pytest.raises(UsageError, match=r"holds a run \(manifest.json\), not a validation"):
        val.run_validation("lucky-or-steady", "smoke", run)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "summary.md").write_text("mine")
    with pytest.raises(UsageError, match="holds summary.md but no validation.json"):
        val.run_validation("lucky-or-steady", "smoke", tmp_path / "other")
    assert _snapshot(run) == before
    assert (tmp_path / "other" / "summary.md").read_text() == "mine"


def test_validate_out_of_another_starter_is_refused(tmp_path):
    import starter.validation as val

    (tmp_path / val.VALIDATION_FILE).write_text(json.dumps({"starter": "sae", "preset": "cpu"}))
    with pytest.raises(UsageError, match="holds the validation of 'sae' with preset 'cpu'"):
        val.check_validation_out(tmp_path, "sae", "smoke")
    val.check_validation_out(tmp_path, "sae", "cpu")  # the same validation: resumed


# --- 3. merge --out into an existing run ---------------------------------------------------------


def test_merge_out_into_an_existing_complete_run_is_refused(toy, tmp_path):
    """Item 3: a second merge into the merged folder (or a shard) appends nothing."""
    shards = _shards(tmp_path)
    merged = merge_runs(shards, tmp_path / "merged")
    before = _snapshot(merged)
    for out in (merged, shards[0]):
        with pytest.raises(UsageError, match="merge writes a new folder"):
            merge_runs(shards, out)
    assert _snapshot(merged) == before


# --- 4. merge: rows the config never asks for, NaN rows, another commit or torch version ---------


@pytest.mark.parametrize("line", [b'{"unit": "stray", "kind": "problem", "score": 1}\n',
                                  b'{"unit": "p8", "kind": "problem", "score": NaN}\n'])
def test_merge_refuses_rows_added_to_a_finished_shard(toy, tmp_path, line):
    shards = _shards(tmp_path)
    with open(shards[0] / "results.jsonl", "ab") as f:
        f.write(line)
    with pytest.raises(StarterError, match="results.jsonl|NaN"):
        merge_runs(shards, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize(("change", "words"), [
    ({"git_commit": "0" * 40}, "commit"),
    ({"packages": {"torch": "1.0.0"}}, "library versions"),
])
def test_merge_refuses_shards_from_another_commit_or_library(toy, tmp_path, change, words):
    shards = _shards(tmp_path)
    _edit_manifest(shards[1], **change)
    with pytest.raises(UsageError, match=f"differs in: {words}"):
        merge_runs(shards, tmp_path / "merged")


def test_the_merged_manifest_records_the_shards_provenance(toy, tmp_path):
    shards = _shards(tmp_path)
    for shard in shards:
        _edit_manifest(shard, git_commit="c" * 40)
    merged = json.loads((merge_runs(shards, tmp_path / "m") / "manifest.json").read_text())
    assert merged["git_commit"] == "c" * 40, "the rows' commit, not the merging process's"
    assert merged["merged_by"]["git_commit"] == "a" * 40, "and the merging process's own"


# --- 6. resume checks the backend's base URL, commit and libraries ------------------------------


def _remote_session(out, url):
    argv = ["--offline", "--out", str(out), "--backend", "openai", "--base-url", url,
            "--served-model", "m"]
    return Session.configure(TOY, parse_overrides(argv))


def test_a_remote_run_does_not_resume_against_another_base_url(tmp_path):
    session = _remote_session(tmp_path / "run", "http://127.0.0.1:8000/v1")
    RunStore.open(session.out, config=session.run_config, model="tinythinker", device="remote")
    _remote_session(tmp_path / "run", "http://127.0.0.1:8000/v1")  # the same server: resumes
    with pytest.raises(UsageError, match="different config .*base_url.*8001"):
        _remote_session(tmp_path / "run", "http://127.0.0.1:8001/v1")


@pytest.mark.parametrize(("change", "words"), [({"git_commit": "f" * 40}, "commit"),
                                               ({"packages": {"torch": "0.1"}}, "library")])
def test_a_run_does_not_resume_under_another_commit_or_library(tmp_path, change, words):
    RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")
    _edit_manifest(tmp_path, **change)
    with pytest.raises(UsageError, match=f"different {words}"):
        RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")


def test_a_checkout_with_local_changes_is_recorded_not_compared(tmp_path, monkeypatch):
    """A "-dirty" commit cannot say which code ran: a resume records it in `resumed`."""
    monkeypatch.setattr(starter.results, "_git_commit", lambda: "b" * 40 + "-dirty")
    RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")
    monkeypatch.setattr(starter.results, "_git_commit", lambda: "c" * 40 + "-dirty")
    RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["git_commit"] == "b" * 40 + "-dirty"
    assert manifest["resumed"][0]["git_commit"] == "c" * 40 + "-dirty"


# --- 11. a NaN inside a resumed row --------------------------------------------------------------


def test_a_nan_edited_into_a_resumed_row_is_refused(toy, tmp_path):
    out = _execute(tmp_path / "run")
    _edit_manifest(out, finished_at=None, results=None)  # killed before it finished
    lines = (out / "results.jsonl").read_text().splitlines()
    lines[-1] = lines[-1].replace('"score": 0', '"score": NaN')
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(StarterError, match=f"line {len(lines)} holds NaN or infinity in 'score'"):
        _execute(out)


def test_a_run_that_writes_nan_itself_resumes(tmp_path):
    store = RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")
    store.append({"unit": "a", "p": float("nan")})
    again = RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu")
    assert again.done("a") and json.loads((tmp_path / "manifest.json").read_text())[
        "nan_fields"] == ["p"]


# --- 12. named pipes in a run folder --------------------------------------------------------------


@pytest.mark.parametrize("name", ["results.jsonl", "manifest.json", "summary.md", "figure.png"])
def test_a_named_pipe_in_a_run_folder_is_refused_without_hanging(tmp_path, name):
    if name != "manifest.json":
        RunStore.open(tmp_path, config={"seed": 0}, model="m", device="cpu").finish()
        (tmp_path / name).unlink(missing_ok=True)
    os.mkfifo(tmp_path / name)
    code = ("from starter.results import RunStore\n"
            f"RunStore.open({str(tmp_path)!r}, config={{'seed': 0}}, model='m', device='cpu')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert f"{tmp_path / name} is a named pipe, not a regular file" in done.stderr


def test_a_named_pipe_in_a_validation_folder_is_refused(tmp_path):
    import starter.validation as val

    (tmp_path / val.VALIDATION_FILE).write_text(json.dumps({"starter": "sae", "preset": "cpu"}))
    os.mkfifo(tmp_path / "figure.png")
    with pytest.raises(UsageError, match="figure.png is not a regular file"):
        val.check_validation_out(tmp_path, "sae", "cpu")
