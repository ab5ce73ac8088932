"""The Thought Anchors reader on a fixture written by the project in the release's layout."""

import json
import math
import shutil
from pathlib import Path

import pytest

from starter.errors import UsageError
from starter.releases.thought_anchors import read_chain, read_chains

FIXTURE = Path(__file__).parents[1] / "fixtures/thought_anchors"
QWEN_CORRECT = "deepseek-r1-distill-qwen-14b/correct_base_solution/problem_7"


def test_reads_every_chain_with_typed_sentences_and_counts_the_broken_folder():
    found = read_chains(FIXTURE)
    assert [c.key for c in found.chains] == [
        "deepseek-r1-distill-qwen-14b/problem_7/correct",
        "deepseek-r1-distill-qwen-14b/problem_7/incorrect",
    ]
    assert found.n_problems == 1
    assert [(k.path, k.reason) for k in found.skipped] == [
        ("deepseek-r1-distill-llama-8b/correct_base_solution/problem_9", "no chunks_labeled.json")
    ]
    chain = found.chains[0]
    assert [s.tag for s in chain.sentences] == [
        "problem_setup", "plan_generation", "active_computation", "final_answer_emission"]
    assert [s.depends_on for s in chain.sentences] == [(), (0,), (1,), (2,)]
    third = chain.sentences[2]
    assert third.accuracy == 1.0
    assert third.importance.resampling_accuracy == pytest.approx(0.2)
    assert third.importance.overdeterminedness == 0.25
    assert chain.problem.gt_answer == "14"
    assert chain.base.answer == "14"
    # the incorrect chain has no chunks_resampled.json: its sentences have no resamples, not an error
    assert all(s.resampled == () for s in found.chains[1].sentences)


def test_models_filter_keeps_only_the_named_models():
    found = read_chains(FIXTURE, models=["deepseek-r1-distill-llama-8b"])
    assert found.chains == ()
    assert len(found.skipped) == 1


def test_a_missing_or_non_numeric_measure_reads_as_nan(tmp_path):
    copy = tmp_path / "problem_7"
    shutil.copytree(FIXTURE / QWEN_CORRECT, copy)
    labels = json.loads((copy / "chunks_labeled.json").read_text())
    del labels[0]["accuracy"]
    labels[1]["forced_importance_kl"] = "n/a"
    (copy / "chunks_labeled.json").write_text(json.dumps(labels))
    chain = read_chain(copy, model="m", base_correct=True)
    assert math.isnan(chain.sentences[0].accuracy)
    assert math.isnan(chain.sentences[1].importance.forced_kl)
    assert chain.sentences[1].accuracy == 0.5


def test_invalid_json_is_one_line_naming_the_file(tmp_path):
    copy = tmp_path / "problem_7"
    shutil.copytree(FIXTURE / QWEN_CORRECT, copy)
    (copy / "chunks_resampled.json").write_text('{"0": [')
    with pytest.raises(UsageError, match=r"problem_7: chunks_resampled.json is not valid JSON"):
        read_chain(copy)


def test_a_truncated_file_in_a_folder_is_skipped_and_reported(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(FIXTURE, root)
    (root / QWEN_CORRECT / "chunks_labeled.json").write_text("[{")
    found = read_chains(root)
    assert [c.key for c in found.chains] == ["deepseek-r1-distill-qwen-14b/problem_7/incorrect"]
    assert any("chunks_labeled.json is not valid JSON" in k.reason for k in found.skipped)


def test_an_empty_folder_says_what_to_give(tmp_path):
    with pytest.raises(UsageError, match="holds no <model>/correct_base_solution"):
        read_chains(tmp_path)
