"""The Thought Branches reader on a fixture written by the project in the release's two layouts."""

import json
from pathlib import Path

import pytest

from starter.errors import UsageError
from starter.releases.thought_branches import (
    R1_MODEL,
    WRITER_MODEL,
    Selection,
    read_cued_chains,
    selection_of,
)

FIXTURE = Path(__file__).parents[1] / "fixtures/thought_branches"
FLAT = "Professor_itc_failure_threshold0.3"


def test_reads_both_layouts_into_typed_chains_and_counts_every_skipped_row():
    found = read_cued_chains(FIXTURE)
    assert [(c.file, c.row, c.layout) for c in found.chains] == [
        (FLAT, 0, "flat"), (FLAT, 1, "flat"), ("Professor_itc_failure_threshold0.5", 0, "og_row")]
    r1 = found.chains[0]
    assert (r1.cue_type, r1.cond, r1.gt_answer, r1.cue_answer, r1.answer, r1.original_answer) == (
        "Professor", "itc_failure", "B", "C", "C", "B")
    assert r1.pn == 11 and r1.model == R1_MODEL and r1.source_is_r1 and r1.follows_cue
    assert r1.cue_ranges == ((3, 29),)
    assert r1.reasoning_text.startswith("Okay, a triangle.") and "</think>" not in r1.reasoning_text
    assert r1.question.startswith("user: How many sides")
    assert r1.question_with_cue.startswith("user: The following was answered as (C)")
    assert r1.base_reasoning_text is None and r1.base_gt_reasoning_text is None
    assert [(s.path, s.reason) for s in found.skipped] == [
        (f"{FLAT}.json#2", "missing cue_answer"),
        (f"{FLAT}.json#3", "not a JSON object (str)"),
        ("Professor_itc_failure_threshold0.5.json#1", "no </think> in response_text"),
        ("not_a_list.json", "not a JSON list of chains (dict)"),
    ]


def test_the_older_layout_takes_the_question_from_og_row_and_gives_no_answer():
    old = read_cued_chains(FIXTURE / "Professor_itc_failure_threshold0.5.json").chains[0]
    flat = read_cued_chains(FIXTURE / f"{FLAT}.json").chains[0]
    assert old.answer is None and old.pn is None and old.follows_cue is None
    assert (old.question_with_cue, old.gt_answer, old.cue_answer, old.model) == (
        flat.question_with_cue, flat.gt_answer, flat.cue_answer, flat.model)
    assert old.reasoning_text == flat.reasoning_text  # cut at </think>, as the script cuts it
    assert old.selection == Selection(threshold=0.5, correct_base=False, no_mention=False)


def test_distinct_keeps_each_chain_once_and_models_filters():
    found = read_cued_chains(FIXTURE)
    assert [(c.file, c.row) for c in found.distinct()] == [(FLAT, 0), (FLAT, 1)]
    assert found.n_questions == 2
    only_r1 = read_cued_chains(FIXTURE, models=[R1_MODEL])
    assert [c.model for c in only_r1.chains] == [R1_MODEL, R1_MODEL]
    assert len(only_r1.skipped) == 4, "skipped rows are reported whatever the model filter"
    assert [c.row for c in found.by_file(f"{FLAT}.json")] == [0, 1]
    assert len(found.by_model("qwen/qwq-32b-preview")) == 1


def test_model_names_the_source_row_not_the_writer():
    # B_find_good_problems.py samples every chain from deepseek-r1-distill-qwen-14b and copies
    # `model` from Chua & Evans' row: a "deepseek-reasoner" row is a question picked from R1's row.
    found = read_cued_chains(FIXTURE)
    assert WRITER_MODEL == "DeepSeek-R1-Distill-Qwen-14B"
    assert [(c.model, c.source_is_r1) for c in found.chains[:2]] == [
        (R1_MODEL, True), ("qwen/qwq-32b-preview", False)]
    assert not hasattr(found.chains[0], "is_r1"), "is_r1 read as 'R1 wrote it'; it is gone"


@pytest.mark.parametrize("row, reason", [
    ({"pn": "eleven"}, "pn is not a whole number ('eleven')"),
    ({"cue_ranges": [[3]]}, "cue_ranges is not a list of [start, end] pairs"),
    ({"gt_answer": 2}, "gt_answer is not text (int)"),
    ({"answer": None}, "answer is not text (NoneType)"),
])
def test_mistyped_fields_skip_the_row_with_a_reason(tmp_path, row, reason):
    good = json.loads((FIXTURE / f"{FLAT}.json").read_text())[0]
    (tmp_path / "x.json").write_text(json.dumps([good, good | row]))
    found = read_cued_chains(tmp_path)
    assert len(found.chains) == 1
    assert found.chains[0].selection == Selection(None, False, False)
    ((skipped),) = found.skipped
    assert skipped.path == "x.json#1" and skipped.reason.startswith(reason)


def test_a_file_that_is_not_json_is_skipped_and_a_missing_folder_is_one_line(tmp_path):
    (tmp_path / "bad.json").write_text("[{")
    found = read_cued_chains(tmp_path)
    assert found.chains == () and found.skipped[0].reason.startswith("not valid JSON")
    with pytest.raises(UsageError, match="folder .*none does not exist; fetch it with"):
        read_cued_chains(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no \\*.json files"):
        read_cued_chains(tmp_path / "empty")


def test_selection_is_read_from_the_release_file_names():
    assert selection_of("Professor_itc_failure_threshold0.3_correct_base.json") == Selection(
        threshold=0.3, correct_base=True, no_mention=False)
    assert selection_of("Professor_itc_failure_threshold0.3_no_mention.json") == Selection(
        threshold=0.3, correct_base=False, no_mention=True)
