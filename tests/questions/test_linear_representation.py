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
    assert (m.n_traces, m.n_unfinished, m.claim_layer, m.claim_probe) == (2, 1, 1,
                                                                                  "mlp-8")
    assert m.layers == [0, 1] and m.skipped == {"correct": "1 class(es) among 10 labelled "
                                                                 "steps"}
    r = m.variables["depth"]
    assert (r.n_steps, r.n_problems) == (10, 5)
    assert r.majority.value == pytest.approx(0.7) and r.chance.value == pytest.approx(0.5)
    assert r.score["trained"][1]["linear"].value == pytest.approx(0.8)
    assert r.gain["trained"][1].value == pytest.approx(0.2), "mlp 1.0 - linear 0.8"
    assert r.gain["random"][1].value == pytest.approx(0.1), "mlp 0.4 - linear 0.3"
    assert r.gain["trained"][0].value == pytest.approx(0.0)
    assert r.trained_minus_random[1].value == pytest.approx(0.5)
    assert r.trained_minus_tokens[1].value == pytest.approx(0.2)
    assert r.gain_trained_minus_random.value == pytest.approx(0.1), "0.2 - 0.1"
    assert m.variables["planted_xor"].gain["planted_xor"][1].value == pytest.approx(0.5)


def test_claims_use_the_stronger_untrained_control_and_agree_with_their_intervals():
    found = lr.claims(lr.analyse(ROWS))
    assert len(found) == 3, "depth: MLP vs linear, trained vs untrained; planted control"
    untrained = found[0]
    assert untrained.key == "trained-depth" and untrained.primary, "the primary comes first"
    assert untrained.control.name.startswith("last tokens one-hot"), "tokens 0.6 beat twin 0.3"
    assert untrained.control.estimate.value == pytest.approx(0.6)
    assert untrained.difference.value == pytest.approx(0.2)
    for claim in found:
        check(claim.to_dict())  # the verdict agrees with difference_ci
        assert claim.estimate.n == 5 and claim.estimate.unit == "problem"


def test_the_untrained_reader_is_the_twin_at_its_best_layer_and_ties_are_no_claim():
    """Review s17: the twin's layer 0 (0.9) beats its layer 1 (0.3) and the tokens (0.6), so the
    primary compares trained layer 1 (0.8) with it: -0.1. An MLP that hits the same steps as the
    linear probe at the claim layer makes no MLP claim; the depth rule is the ceiling."""
    rows = ROWS + [probe("random", 0, "depth", "linear", [1] * 9 + [0])]
    rows = [dict(r, hits=[1, 1, 1, 1, 1, 1, 1, 1, 0, 0]) if r["unit"] ==
            "probe:trained:1:depth:mlp-8" else r for r in rows]
    m = lr.analyse(rows)
    r = m.variables["depth"]
    assert r.random_best_layer == 0 and 1 in r.gain_tied["trained"]
    assert r.trained_minus_random_best[1].value == pytest.approx(-0.1)
    found = lr.claims(m)
    assert [c.key for c in found] == ["trained-depth", "mlp-planted_xor"]
    assert found[0].control.name.startswith("random twin at its best layer (0)")
    assert "Linearity itself is not tested" in found[0].claim
    text = lr.findings(m)
    assert "MLP gain 0 on every step (MLP and linear read the same steps" in text


def test_findings_and_figure_render():
    m = lr.analyse(ROWS)
    text = lr.findings(m)
    assert "`correct`: not probed" in text and "Positive control" in text
    fig = lr.plot(ROWS, m)
    assert fig.axes


def test_text_labels_leave_unfinished_chains_ungraded():
    labels = lr.text_labels(["plan", "backtrack"], finished=True, correct=True)
    assert labels == {"tag": [0, 3], "backtrack_next": [1, None], "correct": [1, 1]}


def test_depth_rule_reads_the_depth_label_off_the_text():
    # by hand, on the trace of test_organism_labels_follow_the_search_tree: 'Left: 152, 4.' is
    # step 1 (depth 0, no Left before it), steps 2-5 follow it (1), 'Wait, backtrack.' resets (0),
    # 'Try 8+19=27.' and 'Left: 27, 4.' (0), then 'Try 27+4=31.' and 'Hit.' (1)
    trace = make_trace(search((8, 19, 4), 31))
    assert lr.depth_rule(trace.completion) == [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1]
    from starter.organism.data import make_traces

    for t in make_traces(60, seed=5, split="test"):  # the rule is exact, not just close
        assert lr.depth_rule(t.completion) == lr.organism_labels(t)["depth"], t.completion


RULE_TRACES = [  # two traces whose completions give the depth items of RULE_ROWS
    {"unit": "trace:0", "kind": "trace", "problem": "a", "finished": True,
     "completion": " Try 1+2=3. Left: 3, 4. Try 3+4=7. Hit.", "labels": {"depth": [0, 0, 1, 1]}},
    {"unit": "trace:1", "kind": "trace", "problem": "b", "finished": True,
     "completion": " Try 1*2=2. Left: 2, 4. Try 2+4=6. Miss. Wait, backtrack. Try 1+2=3.",
     "labels": {"depth": [0, 0, 1, 1, 0, 0]}},
]


def test_the_text_rule_is_the_ceiling_never_a_rung():
    # items: 10 steps; the rule predicts 0,0,1,1 | 0,0,1,1,0,0 and the labels below differ on the
    # last step only (label 1 where the rule says 0): 9/10. Trained linear (claim layer 1) 0.8;
    # tokens 0.6, twin 0.3: the control and the strongest baseline are the one-hot; the rule,
    # which computes the label, is the ceiling (review s17), never the strongest baseline
    y = [0, 0, 1, 1, 0, 0, 1, 1, 0, 1]
    problems = ["a"] * 4 + ["b"] * 6
    rows = [*RULE_TRACES, *(dict(r, problems=problems, y=y) if r.get("unit") == "items:depth"
                            else r for r in ROWS[2:])]
    rows[1] = dict(rows[1], labels={"depth": [0, 0, 1, 1, 0, 1]})
    m = lr.analyse(rows)
    r = m.variables["depth"]
    assert r.rule.value == pytest.approx(0.9) and not r.rule.exact
    assert r.trained_minus_rule[1].value == pytest.approx(0.8 - 0.9)
    untrained = lr.claims(m)[0]
    assert untrained.control.name.startswith("last tokens one-hot")
    assert untrained.strongest_baseline.name.startswith("last tokens one-hot")
    text = lr.findings(m)
    assert text.startswith("Read first (review s17): the one-line text rule")
    assert "on 9 of 10 steps" in text
    right = lr.analyse([*rows[:1], dict(rows[1], labels={"depth": [0, 0, 1, 1, 0, 0]}),
                        *(dict(x, y=[0, 0, 1, 1, 0, 0, 1, 1, 0, 0]) if x.get("unit") ==
                          "items:depth" else x for x in rows[2:])])
    assert right.variables["depth"].rule.exact, "1 on every step: a constant, the ceiling"


def test_the_rule_is_left_out_when_its_steps_do_not_line_up():
    m = lr.analyse(ROWS)  # traces without text: no rule, the ladder is twin and one-hot
    assert m.variables["depth"].rule is None
    assert lr.claims(m)[0].strongest_baseline.name == "last tokens one-hot, linear probe"


# --------------------------------------------------------------------------- planted features


def plant_rows(linear_hits, mlp_hits):
    """Hand-built rows of a planted-feature run: the `planted` variable at the claim layer 1."""
    y = [0, 1] * 5
    return [*ROWS,
            {"unit": "items:planted", "kind": "items", "variable": "planted",
             "problems": PROBLEMS, "y": y, "skipped": None},
            probe("trained", 1, "planted", "linear", linear_hits),
            probe("trained", 1, "planted", "mlp-8", mlp_hits),
            probe("random", 1, "planted", "linear", [1, 0] * 5),
            probe("random", 1, "planted", "mlp-8", [1, 0] * 5),
            probe("tokens", None, "planted", "linear", [1, 0] * 5),
            probe("tokens", None, "planted", "mlp-8", [1, 0] * 5),
            probe("trained", 1, "planted", "shuffled", [1, 0] * 5)]


def test_plant_measures_read_the_planted_variable_by_hand():
    linear = lr.analyse(plant_rows([1] * 10, [1] * 10))  # a linear plant: both probes read it
    xor = lr.analyse(plant_rows([1, 0] * 5, [1] * 10))  # an xor plant: linear at chance
    assert lr.measure_plant_gain(linear).value == pytest.approx(0.0)
    assert lr.measure_plant_gain(xor).value == pytest.approx(0.5)
    assert lr.measure_plant_linear(xor).value == pytest.approx(0.5)
    assert lr.measure_plant_linear(linear).n == 5, "5 problems"
    base = lr.measure_plant_gain(lr.analyse(ROWS))  # no plant label: nothing to measure
    assert np.isnan(base.value) and base.n == 0
    found = lr.claims(xor)
    keys = [c.key for c in found]
    assert "mlp-planted" in keys and "trained-planted" not in keys, "no 'training puts' claim"
    assert "label of the model's planted feature" in lr.findings(xor)


def test_plant_validation_fails_a_method_that_always_says_linear_or_nonlinear():
    from starter.validation import Measured, judge

    gain, linear_acc = lr.VALIDATION[:2]  # the strong tier
    assert gain.control_model == linear_acc.control_model == "tinythinker-plant-xor-null"
    null = Measured(0.0, (-0.05, 0.05), 80)

    def verdict(measured):
        return [r.recovered for r in judge(gain.quantity, gain.arms, measured, control=null,
                                           retrained_planted=gain.retrained_planted,
                                           control_model=gain.control_model)]

    works = [Measured(0.0, (0.0, 0.0), 80), Measured(0.5, (0.4, 0.6), 80)]
    always_linear = [Measured(0.0, (0.0, 0.0), 80), Measured(0.01, (-0.02, 0.04), 80)]
    always_nonlinear = [Measured(0.3, (0.2, 0.4), 80), Measured(0.5, (0.4, 0.6), 80)]
    assert verdict(works) == [True, True]
    assert not all(verdict(always_linear)) and not all(verdict(always_nonlinear))
    rows = judge(linear_acc.quantity, linear_acc.arms,
                 [Measured(0.5, (0.4, 0.6), 80), Measured(1.0, (1.0, 1.0), 80)],
                 control=Measured(0.52, (0.42, 0.62), 80),
                 retrained_planted=linear_acc.retrained_planted,
                 control_model=linear_acc.control_model)
    assert [(r.side, r.recovered) for r in rows] == [(0, True), (1, True)]


def test_plant_validation_runs_both_checks_at_every_tier_against_one_null():
    """Three tiers (strong, mid, faint), each the gain check then the linear-probe check, with the
    same planted values; every arm a registered plant of the tier's scale, one shared null."""
    from starter.models import get_spec

    assert len(lr.VALIDATION) == 2 * len(lr.PLANT_TIERS) == 6
    scales = []
    for (suffix, tier), gain, read in zip(lr.PLANT_TIERS, lr.VALIDATION[::2], lr.VALIDATION[1::2]):
        assert gain.measure is lr.measure_plant_gain and read.measure is lr.measure_plant_linear
        assert tier in gain.quantity and tier in read.quantity
        assert [(a.model, a.planted) for a in gain.arms] == [
            (f"tinythinker-plant-linear{suffix}", 0.0), (f"tinythinker-plant-xor{suffix}", None)]
        assert [(a.model, a.planted) for a in read.arms] == [
            (f"tinythinker-plant-xor{suffix}", 0.5), (f"tinythinker-plant-linear{suffix}", None)]
        assert gain.control_model == read.control_model == lr.NULL_PLANT
        scales.append([get_spec(a.model).planted.scale for a in gain.arms])
    assert scales == [[0.25, 0.25], [0.01, 0.07], [0.005, 0.06]]


def test_plant_labels_sit_at_the_step_ends():
    from types import SimpleNamespace

    from starter.organism import planted
    from starter.organism.tokenizer import build_tokenizer

    lm = SimpleNamespace(tokenizer=build_tokenizer(), add_special_tokens=True)
    trace = make_trace(search((8, 19, 4), 31))
    feature = planted.get_feature("sparse")
    got = lr.plant_labels(lm, feature, trace.prompt, trace.completion)
    ids = lm.tokenizer(trace.prompt + trace.completion)["input_ids"]
    ends = [i for i, t in enumerate(lm.tokenizer.convert_ids_to_tokens(ids)) if t == "."
            and i > ids.index(planted.think_id())]  # each step ends with its full stop
    assert got == planted.labels(feature, ids)[ends].tolist()
    assert len(got) == len(lr.organism_labels(trace)["depth"])
