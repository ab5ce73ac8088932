"""The result card and the honest Neuronpedia section, from hand-built result folders."""

from __future__ import annotations

import json
from pathlib import Path

from sitekit.pages import home, i18n, results

CLAIM = {
    "claim": "Steering raises the backtrack rate above a random direction.",
    "metric": "backtracks per chain", "value": 1.3, "ci": [1.2, 1.4], "n": 86, "unit": "problem",
    "control": {"name": "random direction", "metric": "backtracks per chain", "value": 0.3,
                "ci": [0.1, 0.6], "n": 33},
    "difference": 1.0, "difference_ci": [0.76, 1.26], "verdict": "supported",
}
SAMPLE = {"kind": "latent", "model_id": "deepseek-r1-distill-llama-8b", "source": "15-res",
          "index": 4127, "description": "[sample] sentence-initial 'Wait'", "query": "backtracking",
          "url": "https://www.neuronpedia.org/deepseek-r1-distill-llama-8b/15-res/4127",
          "provenance": "sample"}
SUMMARY = ("# Title\n\n> quote\n\n## Finding\n\nSteering works. More text.\n\n## Numbers\n\n"
           "| metric | value |\n|---|---|\n| a_b_c | 1 |\n\n"
           "## Neuronpedia latents\n\n- [sample] x\n\n## What to try next\n\n- More.\n")


def result_dir(tmp_path: Path, findings: list | None, latents: list[dict]) -> Path:
    folder = tmp_path / "steering"
    folder.mkdir()
    manifest = {"model": "tinythinker", "device": "cpu", "config": {"preset": "cpu"},
                "started_at": "2026-11-27T15:04:26+00:00",
                "finished_at": "2026-11-27T15:12:19+00:00"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if findings is not None:
        (folder / "findings.json").write_text(json.dumps(findings))
    (folder / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in latents))
    (folder / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "summary.md").write_text(SUMMARY)
    return folder


def test_card_states_each_claim_with_interval_control_verdict_model_and_runtime(tmp_path):
    run = results.load_run(result_dir(tmp_path, [CLAIM], []))
    card = "\n".join(results.result_card(run, "Steering", i18n.EN.words))
    assert card.startswith('<div class="result-card" markdown>')
    assert "mi-verdict--supported" in card and CLAIM["claim"] in card
    numbers = ("1.30 [1.20, 1.40] (n = 86 problems) "
               "vs random direction 0.30 [0.10, 0.60] (n = 33)")
    assert numbers in card
    assert "difference +1 [0.76, 1.26]" in card
    assert 'class="mi-legend"' in card and "not distinguishable" in card, "the verdict legend"
    organism = "(../organism.md){ .mi-badge .mi-badge--organism }"
    assert organism in card, "the organism gets its badge"
    assert "7 min 53 s on 2 CPU cores (preset `cpu`)" in card
    assert "<figcaption>n = 86 problems. What to look for: backtracks per chain: 1.30" in card
    alt = card[card.index("[![") + 3:card.index("](../results")]
    assert alt == ("Plot: backtracks per chain against random direction, with 95% intervals. "
                   "Look for intervals that clear the control (1 supported)."), alt


def test_no_findings_no_card(tmp_path):
    run = results.load_run(result_dir(tmp_path, None, []))
    assert results.result_card(run, "Steering", i18n.EN.words) == []
    assert results.one_line_finding(run) is None
    alt = results.alt_text(run, "Steering")
    assert alt == "Plot: the run's measurements. Steering works.", "alt falls back to the summary"


def test_sample_latents_never_shown_offline_run_says_so(tmp_path):
    run = results.load_run(result_dir(tmp_path, [CLAIM], [SAMPLE]))
    body = "\n".join(results.summary_body(run, i18n.EN.words))
    assert "[sample]" not in body and "4127" not in body, "sample latents are not findings"
    assert "run it online to fetch real explanations" in body
    assert "https://www.neuronpedia.org/search-explanations/?q=backtracking" in body
    assert '<details class="mi-numbers" data-search-exclude markdown>' in body
    assert "(../results/steering/results.jsonl)" in body
    assert "#### What to try next" in body and "# Title" not in body


def test_fetched_latents_show_with_their_date(tmp_path):
    fetched = {**SAMPLE, "description": "revises an earlier step", "provenance": "live",
               "fetched_at": "2026-11-20T10:00:00+00:00"}
    run = results.load_run(result_dir(tmp_path, [CLAIM], [fetched]))
    body = "\n".join(results.neuronpedia_block(run, i18n.EN.words))
    assert "revises an earlier step (fetched 2026-11-20)" in body
    assert "run it online" not in body


def test_first_command_uses_repo_url():
    lines = home.first_command("https://github.com/mi-starter/thinking-models-hub")
    assert lines[1:3] == ["git clone https://github.com/mi-starter/thinking-models-hub",
                          "cd thinking-models-hub"]


def test_a_claims_strongest_baseline_is_shown_with_its_numbers():
    from sitekit.pages.results import Claim, claim_numbers

    row = {"claim": "A beats the text.", "metric": "accuracy", "value": 0.63, "ci": [0.52, 0.73],
           "n": 48, "unit": "problem", "control": {"name": "text", "value": 0.74,
                                                   "ci": [0.66, 0.82], "n": 48},
           "difference": -0.11, "difference_ci": [-0.23, -0.003], "verdict": "refuted",
           "strongest_baseline": {"name": "fitted text baseline", "value": 0.741,
                                  "ci": [0.664, 0.818]}}
    shown = claim_numbers(Claim.from_dict(row))
    assert shown.endswith("Strongest simple baseline: fitted text baseline 0.74 [0.66, 0.82].")
    del row["strongest_baseline"]
    assert "Strongest" not in claim_numbers(Claim.from_dict(row)), "none named: nothing shown"
