"""linear-representation: labels from the search tree, and analyse/claims on hand-built rows."""

from __future__ import annotations

import numpy as np
import pytest

from starter.findings import check
from starter.organism.data import make_trace, search
from starter.questions import linear_representation as lr


def test_organism_labels_follow_the_search_tree():
    # "Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Wait, backtrack.
    #  Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit."
    labels = lr.organism_labels(make_trace(search((8, 19, 4), 31)))
    assert labels["depth"] == [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1]
    assert labels["on_solution_path"] == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert labels["value_magnitude"][:3] == [2, 2, 2], "152, 152, 148 are >= 100"
    assert labels["value_mod_3"][-1] == 31 % 3
    # steps to the Hit (index 10): 10, 9, ..., 0 -> buckets 10+ / 4-9 / 1-3 / 0
    assert labels["steps_to_solution"] == [3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0]


def test_planted_xor_is_invisible_to_each_direction_alone():
    x, y = lr.planted(np.ones((400, 8)), scale=0.5, seed=1)
    assert 0.4 < y.mean() < 0.6
    assert x.shape == (400, 8)


def probe(features, layer, variable, name, hits):
    return {"unit": f"probe:{features}:{layer}:{variable}:{name}", "kind": "probe",
            "features": features, "layer": layer, "variable": variable, "probe": name,
            "hits": hits}


PROBLEMS = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"]
ROWS = [
    {"unit": "trace:0", "kind": "trace", "problem": "a", "finished": True},
    {"unit": "trace:1", "kind": "trace", "problem": "b", "finished": False},
    {"unit": "items:depth", "kind": "items", "variable": "depth", "problems": PROBLEMS,
     "y": [0, 1, 0, 1, 0, 0, 1, 0, 0, 0], "skipped": None},  # majority 0: 7/10
    {"unit": "items:correct", "kind": "items", "variable": "correct", "problems": [], "y": [],
     "skipped": "1 class(es) among 10 labelled steps"},
    probe("trained", 1, "depth", "linear", [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),  # 0.8
    probe("trained", 1, "depth", "mlp-8", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),  # 1.0
    probe("trained", 0, "depth", "linear", [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]),  # 0.5
    probe("trained", 0, "depth", "mlp-8", [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]),
    probe("random", 1, "depth", "linear", [1, 0, 1, 0, 1, 0, 0, 0, 0, 0]),  # 0.3
    probe("random", 1, "depth", "mlp-8", [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]),  # 0.4
    probe("tokens", None, "depth", "linear", [1, 1, 1, 0, 1, 1, 0, 0, 1, 0]),  # 0.6
    probe("tokens", None, "depth", "mlp-8", [1, 1, 1, 0, 1, 1, 0, 0, 1, 0]),
    probe("trained", 1, "depth", "shuffled", [1, 0, 0, 1, 1, 0, 0, 1, 0, 1]),  # 0.5
    {"unit": "items:planted_xor", "kind": "items", "variable": "planted_xor",
     "problems": PROBLEMS, "y": [0, 1] * 5, "skipped": None},
    probe("planted_xor", 1, "planted_xor", "linear", [1, 0, 0, 1, 1, 0, 0, 1, 1, 0]),  # 0.5
    probe("planted_xor", 1, "planted_xor", "mlp-8", [1] * 10),
]


def test_analyse_by_hand():
    m = lr.analyse(ROWS)
    assert (m["n_traces"], m["n_unfinished"], m["claim_layer"], m["claim_probe"]) == (2, 1, 1,
                                                                                  "mlp-8")
    assert m["layers"] == [0, 1] and m["skipped"] == {"correct": "1 class(es) among 10 labelled "
                                                                 "steps"}
    r = m["variables"]["depth"]
    assert (r.n_steps, r.n_problems) == (10, 5)
    assert r.majority.value == pytest.approx(0.7) and r.chance.value == pytest.approx(0.5)
    assert r.score["trained"][1]["linear"].value == pytest.approx(0.8)
    assert r.gain["trained"][1].value == pytest.approx(0.2), "mlp 1.0 - linear 0.8"
    assert r.gain["random"][1].value == pytest.approx(0.1), "mlp 0.4 - linear 0.3"
    assert r.gain["trained"][0].value == pytest.approx(0.0)
    assert r.trained_minus_random[1].value == pytest.approx(0.5)
    assert r.trained_minus_tokens[1].value == pytest.approx(0.2)
    assert r.gain_trained_minus_random.value == pytest.approx(0.1), "0.2 - 0.1"
    assert m["variables"]["planted_xor"].gain["planted_xor"][1].value == pytest.approx(0.5)


def test_claims_use_the_stronger_untrained_control_and_agree_with_their_intervals():
    found = lr.claims(lr.analyse(ROWS))
    assert len(found) == 3, "depth: MLP vs linear, trained vs untrained; planted control"
    untrained = found[1]
    assert untrained.control.name.startswith("last tokens one-hot"), "tokens 0.6 beat twin 0.3"
    assert untrained.control.estimate.value == pytest.approx(0.6)
    assert untrained.difference.value == pytest.approx(0.2)
    for claim in found:
        check(claim.to_dict())  # the verdict agrees with difference_ci
        assert claim.estimate.n == 5 and claim.estimate.unit == "problem"


def test_findings_and_figure_render():
    m = lr.analyse(ROWS)
    text = lr.findings(m)
    assert "`correct`: not probed" in text and "Positive control" in text
    fig = lr.plot(ROWS, m)
    assert fig.axes


def test_text_labels_leave_unfinished_chains_ungraded():
    labels = lr.text_labels(["plan", "backtrack"], finished=True, correct=True)
    assert labels == {"tag": [0, 3], "backtrack_next": [1, None], "correct": [1, 1]}
