"""starter.rollouts_dataset on a hand-made fixture in the layout of Thought Anchors' math-rollouts.

tests/fixtures/math_rollouts/ holds two problems (4 and 3 chunks, 3-4 rollouts per chunk, forced
answers for problem 1 only). Every number expected below is worked out by hand in the comments.
"""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import pytest

from starter import importance, rollouts_dataset
from starter.errors import UsageError
from starter.rollouts_dataset import (
    Rollout,
    chunk_importance,
    from_prefix_rows,
    outcome,
    prefix_rollouts,
    prefix_rows,
    read_rollouts,
    write_rollouts,
)

FIXTURE = Path(__file__).parent / "fixtures" / "math_rollouts"
CORRECT = FIXTURE / "correct_base_solution"


def test_doctests_run():
    result = doctest.testmod(rollouts_dataset)
    assert result.failed == 0 and result.attempted > 0


def test_reads_both_problems_with_their_files():
    one, two = read_rollouts(CORRECT)
    assert (one.problem_id, two.problem_id) == ("1", "2")
    assert one.problem.gt_answer == "11" and one.problem.nickname == "Order of operations"
    assert one.chunks[1] == "Multiplication comes first, so 4 * 2 = 8."
    assert one.base_solution is not None and one.base_solution.is_correct is True
    assert one.solution_text == " ".join(one.chunks)
    assert sorted(one.resamples) == [0, 1, 2, 3] and sorted(one.forced) == [0, 1, 2, 3]
    assert [len(one.resamples[i]) for i in range(4)] == [4, 4, 4, 4]
    assert two.forced == {}, "problem 2 has no forced-answer folder"
    assert [c.function_tags for c in one.labels][:2] == [
        ("problem_setup",), ("fact_retrieval", "active_computation")]
    assert one.labels[1].depends_on == ("0",) and one.labels[0].summary == "restate the problem"
    assert one.labels[0].metrics["resampling_importance_accuracy"] == pytest.approx(5 / 12)
    assert one.resamples[0][1].extra == {"completion_tokens": 42}, "unknown fields are kept"
    failed = two.resamples[2][3]
    assert failed.error == "Streaming exception: timeout" and failed.answer == ""


def test_one_problem_folder_reads_alone_with_its_forced_twin():
    (one,) = read_rollouts(CORRECT / "problem_1")
    assert one.problem_id == "1" and sorted(one.forced) == [0, 1, 2, 3]


def test_round_trip_gives_the_same_records_and_the_same_json(tmp_path):
    problems = read_rollouts(CORRECT)
    out = tmp_path / "correct_base_solution"
    written = write_rollouts(out, problems)
    assert read_rollouts(out) == problems
    originals = sorted(p.relative_to(FIXTURE) for p in FIXTURE.rglob("*.json"))
    assert sorted(p.relative_to(tmp_path) for p in written) == originals
    for rel in originals:
        ours = json.loads((tmp_path / rel).read_text())
        assert ours == json.loads((FIXTURE / rel).read_text()), f"{rel} changed in the round trip"


def test_write_never_overwrites(tmp_path):
    problems = read_rollouts(CORRECT)
    write_rollouts(tmp_path / "out", problems[:1])
    before = (tmp_path / "out" / "problem_1" / "problem.json").read_text()
    with pytest.raises(UsageError, match="problem_1 already exists"):
        write_rollouts(tmp_path / "out", problems)
    assert (tmp_path / "out" / "problem_1" / "problem.json").read_text() == before
    assert not (tmp_path / "out" / "problem_2").exists(), "nothing is written when one is refused"


def test_outcomes_follow_the_datasets_finished_rule():
    assert outcome(Rollout(chunk_resampled="Hmm.", answer="", is_correct=False)).finished is False
    assert outcome(Rollout(error="timeout")) == importance.Outcome(False, False, None, None)
    done = outcome(Rollout(chunk_resampled="3 + 4 is 7.", answer="14", is_correct=False))
    assert done == importance.Outcome(False, True, "14", "3 + 4 is 7.")


def test_prefix_records_keep_chunks_before_the_folder_index():
    one = read_rollouts(CORRECT)[0]
    recs = prefix_rollouts(one)
    assert [r.k for r in recs] == [0, 1, 2, 3]
    assert [r.next_step for r in recs] == list(one.chunks), "chunk_i rewrites chunk i"
    # chunk_0: 14 wrong, 11 right, 14 wrong, no answer -> 1 of 3 finished
    assert importance.accuracy(recs[0].outcomes) == pytest.approx(1 / 3)
    assert importance.accuracy(recs[0].forced) == pytest.approx(1 / 3)  # 7, 14, 11


def test_importance_on_the_fixture_matches_hand_values():
    one, two = read_rollouts(CORRECT)
    got = chunk_importance(one)
    # Problem 1 accuracies per chunk folder: 1/3, 3/4, 1, 1 (chunk_0 has one unanswered rollout).
    # Resampling importance of chunk i = acc(chunk_{i+1}) - acc(chunk_i); chunk 3 has no chunk_4.
    assert got["resampling_importance_accuracy"] == pytest.approx({0: 3 / 4 - 1 / 3, 1: 1 / 4,
                                                                  2: 0.0})
    # Counterfactual, token-set Jaccard >= 0.5 = "the same chunk":
    # chunk 0: the rewrites "Let me add 3 and 4 first." (J = 3/18) and "3 + 4 is 7." (J = 4/15)
    #   differ and are both wrong ("Hmm." differs but gave no answer) -> 0; kept side 3/4 -> 0.75.
    # chunk 1: "Adding first gives 7." (J = 2/14, wrong) differs; "I think 4 * 2 = 8 first."
    #   (J = 7/13 = 0.54) and the copy without its period (J = 10/11) count as the same -> 0;
    #   kept side (chunk_2) 1 -> 1.0.
    # chunk 2: every rewrite is the original -> no "different" side -> no value (nan).
    assert got["counterfactual_importance_accuracy"] == pytest.approx({0: 0.75, 1: 1.0})
    # Forced answers per chunk folder: 1/3 (7, 14, 11), 2/3 (14, 11, 11), 2/3 (11, 11, 8), 1.
    assert got["forced_importance_accuracy"] == pytest.approx({0: 1 / 3, 1: 0.0, 2: 1 / 3})
    # The fixture's chunks_labeled.json carries Thought Anchors-style values for the same measure.
    stored = {c.chunk_idx: c.metrics["resampling_importance_accuracy"] for c in one.labels}
    for i, value in got["resampling_importance_accuracy"].items():
        assert value == pytest.approx(stored[i])

    got = chunk_importance(two)
    # Problem 2: accuracies 1/3, 2/3, 1 (the failed request in chunk_2 is not counted).
    assert got["resampling_importance_accuracy"] == pytest.approx({0: 1 / 3, 1: 1 / 3})
    # chunk 0: both wrong rewrites differ (J = 6/17, 4/14) -> 0 vs 2/3; chunk 1: "10 - 1 = 9."
    # (J = 4/12, wrong) differs -> 0 vs 1.
    assert got["counterfactual_importance_accuracy"] == pytest.approx({0: 2 / 3, 1: 1.0})
    assert got["forced_importance_accuracy"] == {}


def test_exact_match_changes_counterfactual_as_expected():
    one = read_rollouts(CORRECT)[0]
    got = chunk_importance(one, same=importance.exact_same)
    # chunk 1 with exact matching: the period-less copy and "I think ..." now differ: the
    # "different" side is 11 right, 14 wrong, 11 right -> 2/3; kept side 1 -> 1/3.
    assert got["counterfactual_importance_accuracy"][1] == pytest.approx(1 / 3)


def test_lucky_or_steady_analysis_runs_on_imported_rollouts():
    from starter.questions import lucky_or_steady

    rows = [row for p in read_rollouts(CORRECT) for row in prefix_rows(p)]
    assert {r["chain"] for r in rows} == {"1:correct", "2:correct"}
    assert [r["tag"] for r in rows if r["chain"] == "1:correct"] == [
        None, "plan", "compute", "compute"]
    assert [r["ta_tag"] for r in rows if r["chain"] == "1:correct"][1:] == [
        "problem_setup", "fact_retrieval", "active_computation"]
    m = lucky_or_steady.analyse(rows)
    assert m.chains == 2 and m.wrong_chains == 0
    # P(correct | prompt only) is 1/3 on both problems; with 3 of 4 chunks kept, 1 and 1.
    assert m.correct.p_start.value == pytest.approx(1 / 3)
    assert m.correct.p_end.value == pytest.approx(1.0)
    assert m.correct.moving == 2
    assert m.entry_known == 0, "imported rollouts have no organism ground truth"


def test_our_rows_export_to_the_layout_and_back(tmp_path):
    for p in read_rollouts(CORRECT):
        rows = prefix_rows(p)
        shared = from_prefix_rows(rows, p.problem)
        assert shared.chunks == p.chunks
        assert chunk_importance(shared) == chunk_importance(p), "the measures survive the export"
        write_rollouts(tmp_path / "ours", [shared])
        assert read_rollouts(tmp_path / "ours" / f"problem_{p.problem_id}") == [shared]


def test_export_needs_every_chunk():
    rows = [r for r in prefix_rows(read_rollouts(CORRECT)[0]) if r["k"] != 2]
    rows = [r for r in rows if r["k"] != 1]  # chunks 0..3: k=0 gives 0, k=3 gives 2 and 3
    with pytest.raises(UsageError, match=r"do not give chunks \[1\]"):
        from_prefix_rows(rows, read_rollouts(CORRECT)[0].problem)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "does not exist"),
    (lambda d: d, "holds no problem_<id> folders"),
])
def test_bad_folders_are_usage_errors(tmp_path, make, message):
    with pytest.raises(UsageError, match=message):
        read_rollouts(make(tmp_path))


def test_broken_json_names_the_file(tmp_path):
    bad = tmp_path / "problem_7"
    bad.mkdir()
    (bad / "problem.json").write_text('{"problem": "x", "gt_answer": ')
    with pytest.raises(UsageError, match="problem_7/problem.json is not valid JSON"):
        read_rollouts(tmp_path)


def test_no_value_is_reported_as_zero():
    two = read_rollouts(CORRECT)[1]
    values = chunk_importance(two)
    assert all(math.isfinite(v) for vals in values.values() for v in vals.values())
    assert 2 not in values["resampling_importance_accuracy"], "no chunk_3 folder: no value"


# ------------------------------------------- the dataset's known defects: counted, never dropped


def _defective_copy(tmp_path: Path) -> Path:
    """problem_1 and its forced twin, with the defects the dataset has and a few worse ones."""
    import shutil

    root = tmp_path / "copy"
    for name in ("correct_base_solution", "correct_base_solution_forced_answer"):
        shutil.copytree(FIXTURE / name / "problem_1", root / name / "problem_1")
    problem = root / "correct_base_solution" / "problem_1"

    def edit(rel: str, change) -> None:
        path = problem / rel
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    edit("chunk_1/solutions.json", lambda rows: rows + [{"error": "'text'"}])  # the dataset's
    edit("chunk_2/solutions.json", lambda rows: rows[:-1])  # one sample fewer
    edit("chunk_3/solutions.json", lambda rows: rows + [None])  # not an object
    edit("chunks_labeled.json", lambda rows: rows + [{"chunk": "no index"}])
    forced = root / "correct_base_solution_forced_answer" / "problem_1" / "chunk_0"
    (forced / "solutions.json").write_text('{"oops": 1}')
    return root / "correct_base_solution"


def test_error_rows_and_uneven_samples_are_counted_and_bad_rows_listed(tmp_path):
    (p,) = read_rollouts(_defective_copy(tmp_path))
    # fixture problem_1: 4 rows per chunk, all usable but one unanswered row in chunk_0
    assert {k: len(v) for k, v in p.resamples.items()} == {0: 4, 1: 5, 2: 3, 3: 4}
    assert p.error_rows == {1: 1}
    assert p.resamples[1][-1] == Rollout(error="'text'"), "an error row is kept, not dropped"
    assert p.sample_counts == {0: 3, 1: 4, 2: 3, 3: 4}
    assert [(s.path, s.reason) for s in p.skipped] == [
        ("chunks_labeled.json#4", "missing chunk_idx"),
        ("chunk_3/solutions.json#4", "not a JSON object (NoneType)"),
        ("correct_base_solution_forced_answer/problem_1/chunk_0/solutions.json",
         "not a JSON list of rollouts (dict)"),
    ]
    assert len(p.labels) == 4 and sorted(p.forced) == [1, 2, 3]
    report = rollouts_dataset.read_report([p])
    assert report == rollouts_dataset.RolloutsReport(
        n_problems=1, n_chunks=4, n_rows=16, n_error_rows=1, n_unanswered=1, n_skipped=3,
        samples_min=3, samples_max=4, uneven_chunks=2)  # counts 3,4,3,4: a tie, the larger wins
    assert report.line().startswith("1 problems, 4 chunks, 16 rows: 1 error rows and 1 unanswered")
    # the importance measures run on what was read: the error row is an unfinished rollout
    assert chunk_importance(p)["resampling_importance_accuracy"]


def test_an_error_row_survives_a_write_and_read_again(tmp_path):
    (p,) = read_rollouts(_defective_copy(tmp_path))
    write_rollouts(tmp_path / "out" / "correct_base_solution", [p])
    (again,) = read_rollouts(tmp_path / "out" / "correct_base_solution")
    assert again.error_rows == {1: 1} and again.resamples == p.resamples
    assert again.skipped == (), "what was skipped is not written back"
