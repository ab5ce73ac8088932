"""`mi-starter reanalyse`: a finished run's rows analysed again by today's code, into a new folder.
On a committed cpu run (analysis only, no model: a few seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from starter.errors import UsageError
from starter.experiment import reanalyse_run

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "results" / "determinism"
RUN_FILES = ("manifest.json", "results.jsonl", "summary.md", "findings.json", "figure.png")


@pytest.fixture
def source(tmp_path) -> Path:
    """A copy of a committed finished cpu run (its own files only)."""
    folder = tmp_path / "source"
    folder.mkdir()
    for name in RUN_FILES:
        shutil.copy(COMMITTED / name, folder / name)
    return folder


def test_reanalysed_run_keeps_rows_and_provenance_and_gives_the_committed_findings(source,
                                                                                   tmp_path):
    out = reanalyse_run(source, tmp_path / "again")
    assert (out / "results.jsonl").read_bytes() == (source / "results.jsonl").read_bytes()
    old = json.loads((source / "manifest.json").read_text())
    new = json.loads((out / "manifest.json").read_text())
    assert new["git_commit"] == old["git_commit"], "the rows' commit is the sampling run's"
    assert new["config"] == old["config"] and new["seed"] == old["seed"]
    assert new["reanalysed_from"]["started_at"] == old["started_at"]
    assert "git_commit" in new["reanalysed_by"]
    assert new["finished_at"] and new["results"]["rows"] == old["results"]["rows"]
    # the committed folder was rendered by today's analysis: the same claims and summary
    assert (json.loads((out / "findings.json").read_text())
            == json.loads((source / "findings.json").read_text()))
    assert (out / "summary.md").read_text() == (source / "summary.md").read_text()
    assert (source / "manifest.json").read_text() == (COMMITTED / "manifest.json").read_text(), (
        "the source is never changed")


def test_an_existing_out_is_refused_before_anything_is_written(source, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.md").write_text("keep me")
    with pytest.raises(UsageError, match="already holds notes.md"):
        reanalyse_run(source, out)
    assert [p.name for p in out.iterdir()] == ["notes.md"]


def test_an_unfinished_or_edited_source_is_refused(source, tmp_path):
    rows = (source / "results.jsonl").read_text().splitlines()
    (source / "results.jsonl").write_text("\n".join(rows[:-1]) + "\n")  # a row removed
    with pytest.raises(UsageError):
        reanalyse_run(source, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_the_cli_names_a_missing_run_in_one_line(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "starter.cli", "reanalyse",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "new")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "nowhere" in proc.stderr, proc.stderr
    assert not (tmp_path / "new").exists()
