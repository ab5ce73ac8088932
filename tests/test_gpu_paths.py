"""Every starter's gpu preset on `r1-shaped-tiny` (issue #15): R1's architecture family, tokenizer and
chat template at tiny widths, random weights, on the CPU. Each starter carries the shrunk settings
itself, as its `tiny` preset (the gpu preset with smaller sizes, `model="r1-shaped-tiny"`,
`device="cpu"`), so adding a starter edits nothing here. What is exercised is the gpu preset's
code path (its prompts, formats, budgets and analysis on R1-format text), not its results: a random
model never finishes a chain.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from starter import questions

SLUGS = sorted(questions.available())
TINY_MODEL = "r1-shaped-tiny"

# A random model never writes the behaviour some starters need: they stop with one line saying so.
# Steering fits its vector on traces with and without a backtrack, and a random model has none.
STOPS_ON_RANDOM_WEIGHTS = {"steering": "needs examples on both sides"}


def is_size(value) -> bool:
    """A count, a width or a list of them: what `tiny` may shrink (bools are switches, not sizes)."""
    if isinstance(value, (tuple, list)):
        return all(is_size(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_starter_has_a_tiny_preset_that_is_its_gpu_preset_shrunk(slug):
    presets = questions.load(slug).presets
    assert "tiny" in presets, (
        f"{slug}: PRESETS lacks 'tiny'; add PRESETS['tiny'] = dataclasses.replace(PRESETS['gpu'], "
        f"model='{TINY_MODEL}', device='cpu', <sizes small enough for seconds on a CPU>)")
    tiny, gpu = presets["tiny"], presets["gpu"]
    assert (tiny.model, tiny.device) == (TINY_MODEL, "cpu"), slug
    changed = {f.name: getattr(tiny, f.name) for f in dataclasses.fields(tiny)
               if getattr(tiny, f.name) != getattr(gpu, f.name)}
    others = {k: v for k, v in changed.items()
              if k not in ("model", "device") and not is_size(v) and v != TINY_MODEL}
    assert not others, f"{slug}: `tiny` must keep the gpu preset's code path; it changes {others}"


@pytest.mark.slow
@pytest.mark.parametrize("slug", SLUGS)
def test_gpu_preset_runs_on_the_r1_shaped_tiny_model(slug, tmp_path):
    out = tmp_path / slug
    cmd = [sys.executable, "-m", "starter.cli", "run", slug, "--preset", "tiny", "--offline",
           "--out", str(out)]
    env = {**os.environ, "NEURONPEDIA_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if slug in STOPS_ON_RANDOM_WEIGHTS:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-2000:]
        assert STOPS_ON_RANDOM_WEIGHTS[slug] in errors[0]
        return
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["preset"] == "tiny" and manifest["model"] == TINY_MODEL
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in rows if isinstance(r.get("prompt"), str)]
    assert all(p.rstrip().endswith("<think>") or "<｜Assistant｜>" in p for p in prompts), \
        f"{slug}: a prompt without R1's chat template"
    assert (out / "findings.json").is_file()
