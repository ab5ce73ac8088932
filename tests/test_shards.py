"""`--shard i/n` and `mi-starter merge` (issue #16): shards of one run merge into the unsharded result."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from starter import cli, registry
from starter.errors import UsageError
from starter.experiment import Starter, StarterConfig, execute, merge_runs, parse_overrides

PRESETS = {name: StarterConfig(model="tinythinker", device="cpu") for name in ("smoke", "cpu", "gpu")}
PROBLEMS = [f"p{i}" for i in range(7)]


def _run(ctx) -> None:
    for problem in ctx.my_problems(PROBLEMS):
        if not ctx.store.done(problem):
            ctx.store.append({"unit": problem, "kind": "problem", "score": int(problem[1:]) % 3})


def _analyse(rows):
    return {"n": len(rows), "total": sum(r["score"] for r in rows)}


def _starter(shardable: bool = True) -> Starter:
    return Starter(slug="lucky-or-steady", title="Shard test", question="Do shards merge?",
                   presets=PRESETS, run=_run, analyse=_analyse, plot=lambda r, m: Figure(),
                   findings=lambda m: f"{m['n']} problems, total {m['total']}.", shardable=shardable)


@pytest.fixture
def toy(monkeypatch):
    """merge finds the starter by the slug in the manifest: point that slug at the toy."""
    starter = _starter()
    monkeypatch.setattr(registry, "load", lambda slug: starter)  # merge looks it up there
    return starter


def _run_dir(starter, out, *extra):
    return execute(starter, parse_overrides(["--offline", "--out", str(out), *extra]))


def _units(out) -> set:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["unit"] for line in lines if json.loads(line).get("kind") == "problem"}


def test_shards_split_the_problems_and_merge_into_the_whole_run(toy, tmp_path):
    whole = _run_dir(toy, tmp_path / "whole")
    parts = [_run_dir(toy, tmp_path / f"s{i}", "--shard", f"{i}/3") for i in range(3)]
    assert [sorted(_units(p)) for p in parts] == [["p0", "p3", "p6"], ["p1", "p4"], ["p2", "p5"]]
    merged = merge_runs(parts, tmp_path / "merged")
    assert _units(merged) == _units(whole) == set(PROBLEMS)
    assert "7 problems, total 6." in (merged / "summary.md").read_text()
    manifest = json.loads((merged / "manifest.json").read_text())
    assert "shard" not in manifest["config"] and len(manifest["merged_from"]) == 3


def test_merge_refuses_missing_or_foreign_shards(toy, tmp_path):
    a = _run_dir(toy, tmp_path / "a", "--shard", "0/2")
    with pytest.raises(UsageError, match="give each of"):
        merge_runs([a, _run_dir(toy, tmp_path / "b", "--shard", "0/2")], tmp_path / "m1")
    other = _run_dir(toy, tmp_path / "c", "--shard", "1/2", "--seed", "5")
    with pytest.raises(UsageError, match=r"differs in: config \(seed: 0 -> 5\); seed \(0 -> 5\)"):
        merge_runs([a, other], tmp_path / "m2")


def test_a_starter_that_cannot_be_sharded_says_so(tmp_path):
    with pytest.raises(UsageError, match="cannot be split with --shard"):
        _run_dir(_starter(shardable=False), tmp_path / "x", "--shard", "0/2")


@pytest.mark.parametrize("text", ["2/2", "a/b", "1", "3/2", "1/0"])
def test_bad_shards_are_one_line(text, tmp_path):
    with pytest.raises(UsageError, match="write i/n with 0 <= i < n"):
        _run_dir(_starter(), tmp_path / "x", "--shard", text)


def test_merge_on_the_command_line_needs_two_folders(capsys, tmp_path):
    assert cli.main(["merge", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "merge needs two or more shard folders" in capsys.readouterr().err
