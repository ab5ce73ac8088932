"""`mi-starter public`: one line for a missing folder, the five artefacts on the fixture, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from starter.cli import main

FIXTURE = Path(__file__).parents[1] / "fixtures" / "thought_anchors"


def test_missing_data_is_one_line(tmp_path, capsys):
    code = main(["public", "determinism", "--data", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1
    assert "does not exist" in err[0] and "mi-starter data fetch thought-anchors" in err[0]
    assert not (tmp_path / "out").exists()


def test_no_cache_says_fetch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path / "cache"))
    code = main(["public", "reasoning-tree", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "mi-starter data fetch thought-anchors" in err[0]


def test_fixture_run_writes_five_artefacts(tmp_path):
    out = tmp_path / "rt"
    assert main(["public", "reasoning-tree", "--data", str(FIXTURE), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["figure.png", "findings.json", "manifest.json", "results.jsonl", "summary.md"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["revision"].startswith("68acc04")
    assert "deepseek-r1-distill-qwen-14b/correct_base_solution/problem_7/chunks_labeled.json" in \
        manifest["files_sha256"]
    findings = json.loads((out / "findings.json").read_text())
    assert sum(f["primary"] for f in findings) == 1


def test_command_module_does_not_import_torch():
    code = ("import sys, argparse; import starter.commands.public as p; "
            "p.configure(argparse.ArgumentParser()); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
