"""cot-probing: the text baselines, the labels and analyse/claims on hand-built rows."""

from __future__ import annotations

import dataclasses

import pytest

from starter.cot import split_steps
from starter.findings import check
from starter.organism.data import make_trace, search
from starter.questions import cot_probing as cp
from starter.stats import mean_ci

TEXTS = ["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148.", "Miss.", "Try 152/4=38.", "Miss.",
         "Wait, backtrack.", "Try 8+19=27.", "Left: 27, 4.", "Try 27-4=23.", "Miss."]


def test_rule_backtracks_after_the_last_operation_left():
    flags = [cp.rule_backtrack_next(TEXTS, i) for i in range(len(TEXTS))]
    assert [i for i, f in enumerate(flags) if f] == [5, 10], (
        "after '152-4' misses, 152/4 is exact so '/' comes next (no backtrack); after '/' misses "
        "and after '27-4' (27/4 inexact) the branch is exhausted")


def test_context_features_see_only_the_past():
    full = [cp.context_features(TEXTS, ["compute"] * len(TEXTS), i) for i in range(len(TEXTS))]
    cut = [cp.context_features(TEXTS[:6], ["compute"] * 6, i) for i in range(6)]
    assert full[:6] == cut, "features at step i must not depend on steps after i"
    assert full[3][:5] == [3.0, 2.0, 0.0, 0.0, 1.0], "position, tries, slips, rule, 152/4 exact"
    wrong = cp.context_features(["Try 2+3=6."], ["compute"], 0)
    assert wrong[2] == 1.0, "an arithmetic slip is counted"


def test_distances_label_the_prefix_shared_with_the_true_search():
    truth = make_trace(search((8, 19, 4), 31))
    true_steps = [s for s in truth.steps if s.tag != "conclude"]
    text = " ".join(s.text for s in true_steps[:3]) + " Hit."  # a false "Hit." after step 3
    labels = cp.true_distances([8, 19, 4], 31, split_steps(text))
    assert labels == [s.tree_distance for s in true_steps[:3]] + [None]


def predictions(label, task, y, problems, predicted):
    return {"unit": f"predictions:{label}", "kind": "predictions", "label": label, "task": task,
            "problems": problems, "y": y, "predicted": predicted, "probe_layers": [1, 1],
            "curve": [{"layer": 0, "score": 0.4}, {"layer": 1, "score": 0.6}], "chance": 0.1,
            "skipped": None}


def trace(problem, k, finished, correct):
    return {"unit": f"trace:{problem}:{k}", "kind": "trace", "problem": problem,
            "finished": finished,
            "correct": correct, "tags": ["compute", "verify"], "distance": [1, None]}


ROWS = [
    trace("a", 0, True, True), trace("a", 1, True, False), trace("b", 0, False, False),
    trace("c", 0, True, True),
    predictions("backtrack_after_check", "classify", [1, 0, 1, 0, 1, 0], list("aabbcc"), {
        "probe": [0.9, 0.2, 0.8, 0.4, 0.7, 0.1],  # all right: 1.0
        "words": [0.6] * 6,  # 3/6
        "context": [0.9, 0.1, 0.1, 0.1, 0.9, 0.1],  # 5/6
        "rule": [1, 0, 0, 0, 0, 0]}),  # 4/6
    predictions("distance", "regress", [0.0, 1.0, 2.0, 3.0], list("aabc"), {
        "probe": [0.0, 1.0, 2.0, 3.0],  # |error| 0
        "words": [1.0, 1.0, 1.0, 1.0],  # (1 + 0 + 1 + 2) / 4 = 1.0
        "context": [0.5, 1.5, 2.5, 3.5]}),  # 0.5
    predictions("dead_end", "classify", [1, 0, 1, 0], list("abcd"), {
        "probe": [0.9, 0.2, 0.8, 0.4],  # all right: 1.0
        "words": [0.6] * 4,  # 2/4
        "fitted": [0.9, 0.1, 0.1, 0.1],  # 3/4: the strongest text rung
        "first_left": [1, 1, 0, 0],  # 2/4: the one-line position rule
        "rule": [1, 0, 1, 0]}),  # the label's definition: never the strongest
    {"unit": "predictions:correct", "kind": "predictions", "label": "correct", "task": "classify",
     "problems": [], "y": [], "predicted": {}, "probe_layers": [], "skipped": "too few wrong"},
]


def test_analyse_by_hand():
    m = cp.analyse(ROWS)
    assert (m.n_traces, m.n_unfinished) == (4, 1)
    assert m.accuracy.value == pytest.approx(2 / 3), "over finished traces only"
    assert m.distance_traces == 4 and m.skipped == {"correct": "too few wrong"}
    back = m.labels["backtrack_after_check"]
    assert {k: round(e.value, 4) for k, e in back.score.items()} == {
        "probe": 1.0, "words": 0.5, "context": round(5 / 6, 4), "rule": round(4 / 6, 4),
        "constant": 0.5}
    assert back.strongest == "context", "the strongest baseline is the best one, not the rule"
    assert back.probe_minus_strongest.value == pytest.approx(1 / 6)
    assert back.naive.value == pytest.approx(0.5), "a constant guess is right on half the steps"
    dist = m.labels["distance"]
    assert dist.score["words"].value == pytest.approx(1.0)
    assert dist.naive.value == pytest.approx(1.0), "the mean 1.5 is off by 1.5, .5, .5, 1.5"
    assert dist.strongest == "context" and dist.direction == -1, "for an error lower is better"
    assert dist.probe_minus_strongest.value == pytest.approx(-0.5)
    assert dist.curve == {0: 0.4, 1: 0.6} and dist.chance == 0.1


def test_claims_compare_with_the_strongest_baseline_and_agree_with_their_intervals():
    claims = cp.claims(cp.analyse(ROWS))
    assert [c.control.name.split()[0] for c in claims] == ["context", "context", "fitted"]
    # dead_end is the declared primary claim; it names its strongest rung, the fitted baseline
    assert [c.primary for c in claims] == [False, False, True]
    entry = claims[2].to_dict()
    assert entry["strongest_baseline"]["value"] == 0.75
    assert entry["strongest_baseline"]["name"].startswith("fitted text baseline")
    assert claims[2].difference.value == pytest.approx(0.25)
    for claim in claims:
        check(claim.to_dict())
        lo, hi = claim.difference.ci
        if claim.verdict == "supported":
            assert (lo > 0) if claim.direction > 0 else (hi < 0)
    assert claims[1].direction == -1
    assert "not the search rule" in claims[1].claim, "no rule baseline for distance: say so"
    assert "text does not show" not in claims[1].claim, "beating words/context is not that"
    text = cp.findings(cp.analyse(ROWS))
    assert "not probed (too few wrong)" in text


# ---------------------------------------------------------------- dead_end and planted truth


def test_dead_end_labels_left_states_from_their_numbers():
    labels = [cp.dead_end(TEXTS, i, 31) for i in range(len(TEXTS))]
    assert labels[1] is True, "152+4, 152-4, 152/4 never make 31"
    assert labels[8] is False, "27+4=31"
    assert [i for i, x in enumerate(labels) if x is not None] == [1, 8], "Left steps only"
    assert [cp.step_kind(t) for t in TEXTS[:4]] == ["other", "left", "other", "miss"]


def test_collect_steps_labels_dead_end_and_the_answer_rule_is_never_the_strongest():
    tags = ["compute", "plan", "compute", "verify", "compute", "verify", "backtrack", "compute",
            "plan", "compute", "verify"]
    t = {"problem": "a", "step_text": TEXTS, "tags": tags, "finished": False, "correct": False,
         "distance": [None] * len(TEXTS), "dead_end": [cp.dead_end(TEXTS, i, 31)
                                                      for i in range(len(TEXTS))]}
    steps = cp.collect_steps([t], [len(TEXTS)])
    assert [i for i, v in enumerate(steps.first_left) if v] == [1], "the first Left: only"
    dead = steps.labels["dead_end"]
    assert [(i, v) for i, v in enumerate(dead) if v == v] == [(1, 1.0), (8, 0.0)]
    assert steps.kind[1] == "left" and steps.kind[3] == "miss"
    old = {k: v for k, v in t.items() if k != "dead_end"}  # a run from before the label
    assert all(v != v for v in cp.collect_steps([old], [3]).labels["dead_end"])
    row = predictions("dead_end", "classify", [1, 0, 1, 0], list("aabb"), {
        "probe": [0.9, 0.1, 0.8, 0.6],  # 3/4
        "words": [0.6, 0.6, 0.6, 0.6],  # 2/4
        "context": [0.9, 0.1, 0.4, 0.4],  # 3/4
        "rule": [1, 0, 1, 0]})  # the answer: 4/4
    r = cp.label_result(row)
    assert r.score["rule"].value == 1.0
    assert r.strongest == "context", "the arithmetic rule is given the answer: not a competitor"
    assert r.probe_minus_strongest.value == pytest.approx(0.0)
    # the one-line rule "first Left: is a dead end" is a rung; where it scores best it leads
    ruled = cp.label_result({**row, "predicted": {**row["predicted"],
                                                  "first_left": [1, 0, 1, 0]}})
    assert ruled.strongest == "first_left" and ruled.score["first_left"].value == 1.0
    assert ruled.probe_minus_strongest.value == pytest.approx(-0.25)
    assert cp.claims(_metrics({"dead_end": ruled}))[0].strongest_baseline.name.startswith(
        "one-line rule")
    assert cp.measure_dead_end(_metrics({"dead_end": r})).value == pytest.approx(0.0)
    assert cp.measure_dead_end(_metrics({})).n == 0, "no Left steps: not estimable"
    claim = cp.claims(_metrics({"dead_end": r}))[0]
    assert "not given the answer" in claim.claim and claim.control.name.startswith("context")


def _metrics(labels: dict) -> cp.Metrics:
    """Metrics holding only `labels` (the rest empty): what claims and the measure read."""
    return cp.Metrics(n_traces=0, n_unfinished=0, accuracy=mean_ci([], []), n_steps=0,
                      distance_traces=0, distance_steps=0, skipped={}, labels=labels)


def test_backtrack_next_is_scored_per_kind_of_step():
    row = predictions("backtrack_next", "classify", [1, 0, 1, 0, 0, 1], list("aabbcc"), {
        "probe": [0.9, 0.1, 0.8, 0.4, 0.2, 0.3], "words": [0.1] * 6, "context": [0.1] * 6,
        "rule": [0, 0, 1, 0, 0, 1]})
    row["step_kinds"] = ["left", "left", "miss", "miss", "other", "miss"]
    r = cp.label_result(row)
    left, miss = r.by_kind["left"], r.by_kind["miss"]
    assert (left.n_steps, miss.n_steps) == (2, 3)
    assert left.positives.value == pytest.approx(0.5) and left.score["probe"].value == 1.0
    assert miss.strongest == "rule" and miss.score["rule"].value == 1.0, "the search rule competes"
    assert miss.probe_minus_strongest.value == pytest.approx(2 / 3 - 1)
    text = cp.findings(dataclasses.replace(cp.analyse(ROWS), labels={"backtrack_next": r}))
    assert "Where `backtrack_next` is decodable" in text and "at 2 'Left: a, b.' steps" in text


def test_validation_arms_are_base_then_planned():
    v = cp.VALIDATION
    assert [a.model for a in v.arms] == ["tinythinker", "tinythinker-planned"]
    assert all(a.planted is None for a in v.arms), "order only"
    assert v.increasing


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    record = smoke_validation("cot-probing").record
    assert [a["variant"] for a in record["arms"]] == ["tinythinker", "tinythinker-planned"]
