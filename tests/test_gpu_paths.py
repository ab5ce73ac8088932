"""Every starter's gpu preset on `r1-shaped-tiny` (issue #15): R1's architecture family, tokenizer and
chat template at tiny widths, random weights, on the CPU. The sizes are shrunk with --set so each run
takes seconds; what is exercised is the gpu preset's code path (its prompts, formats, budgets and
analysis on R1-format text), not its results: a random model never finishes a chain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from starter import questions

# per starter: --set overrides that shrink the gpu preset to a few sequences of a few tokens
SHRINK: dict[str, list[str]] = {
    "determinism": ["n_chains=2", "n_continuations=2", "fractions=0,1", "temperatures=0,0.6",
                    "greedy_repeats=1", "max_new_tokens=24"],
    "reasoning-tree": ["n_problems=3", "n_cuts=2", "n_resamples=2", "max_new_tokens=24"],
    "lucky-or-steady": ["n_problems=2", "pilot_samples=2", "n_chains=1", "n_rollouts=2",
                        "n_forced=1", "max_new_tokens=24", "max_prefixes=2"],
    "cot-faithfulness": ["n_problems=2", "n_samples=1", "max_new_tokens=24"],
    "monitored-cot": ["n_problems=2", "max_new_tokens=24"],
    "cot-probing": ["n_problems=4", "samples=2", "max_new_tokens=24", "folds=2", "inner_folds=2"],
    "steering": ["fit_problems=3", "fit_samples=2", "eval_problems=2", "n_random=1",
                 "max_new_tokens=24", "creative_problems=1", "creative_fit_problems=1",
                 "creative_samples=2", "creative_max_new_tokens=8"],
    "sae": ["n_texts=16", "steps=20", "n_seeds=1", "dict_size=64", "k=4", "ce_texts=2",
            "max_new_tokens=24", "finetune_steps=5"],
    "evaluation-awareness": ["n_items=2", "n_templates=2", "n_samples=1", "max_new_tokens=16",
                             "probe_items=4", "item_folds=2", "probe_steps=20"],
    "early-exit": ["n_problems=4", "samples=1", "max_new_tokens=24", "max_boundaries=3",
                   "forced_max_new_tokens=8", "folds=2", "inner_folds=2"],
    "sae-vs-probes": ["n_problems=8", "max_new_tokens=24", "max_steps=8", "dict_size=64",
                      "sae_k=4", "steps=20", "probe_steps=20"],
    "linear-representation": ["n_problems=4", "max_new_tokens=24", "folds=2", "widths=8",
                              "claim_width=8", "probe_steps=10", "window=2"],
    # base: a second random-init tiny model (seed 1) in place of Qwen2.5-Math-1.5B
    "model-diffing": ["n_problems=8", "max_new_tokens=24", "dict_size=32", "k=4", "steps=20",
                      "top_latents=2", "top_contexts=2", "forward_batch=4",
                      "base=r1-shaped-tiny", "base_init_seed=1"],
}


# A random model never writes the behaviour some starters need: they stop with one line saying so.
# Steering fits its vector on traces with and without a backtrack, and a random model has none.
STOPS_ON_RANDOM_WEIGHTS = {"steering": "needs examples on both sides"}


def test_every_starter_has_a_shrink_entry():
    assert set(SHRINK) == set(questions.available())


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(SHRINK))
def test_gpu_preset_runs_on_the_r1_shaped_tiny_model(slug, tmp_path):
    out = tmp_path / slug
    sets = [arg for item in SHRINK[slug] for arg in ("--set", item)]
    cmd = [sys.executable, "-m", "starter.cli", "run", slug, "--preset", "gpu", "--model",
           "r1-shaped-tiny", "--device", "cpu", "--offline", "--out", str(out), *sets]
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
    assert manifest["config"]["preset"] == "gpu" and manifest["model"] == "r1-shaped-tiny"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in rows if isinstance(r.get("prompt"), str)]
    assert all(p.rstrip().endswith("<think>") or "<｜Assistant｜>" in p for p in prompts), \
        f"{slug}: a prompt without R1's chat template"
    assert (out / "findings.json").is_file()
