"""The learned Thought Anchors tagger: the shipped weights load, are small, give a valid tag to
every sentence deterministically; the weights round-trip through their JSON; and the training
script runs end to end on our fixture (tests/fixtures/thought_anchors, written by us in their
layout).

Its agreement with Thought Anchors' labels is measured on their public chains by
scripts/score_ta_tools.py and reported on docs/tools/tagger.md, not here: no test reads fetched
data.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from starter import cot

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "thought_anchors"

# A chain written by us in the style of an R1-distill chain on a MATH problem.
CHAIN = [
    "Okay, so I need to find how many positive divisors 72 has.",
    "Hmm, let me think about how to approach this.",
    "I remember that the number of divisors comes from the prime factorization.",
    "First, I'll factor 72.",
    "72 divided by 2 is 36, divided by 2 again is 18, and again is 9.",
    "So 72 = 2^3 * 3^2.",
    "Then the number of divisors is (3+1)(2+1) = 12.",
    "Wait, let me double-check by listing them: 1, 2, 3, 4, 6, 8, 9, 12, 18, 24, 36, 72.",
    "Yes, that is 12 divisors.",
    "So the final answer is \\boxed{12}.",
]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_shipped_weights_load_and_are_at_most_one_megabyte():
    resource = importlib.resources.files("starter").joinpath("data", cot.TA_TAGGER_FILE)
    size = len(resource.read_bytes())
    assert size <= 1_000_000, f"{cot.TA_TAGGER_FILE} is {size} bytes; the budget is 1 MB"
    tagger = cot.shipped_ta_tagger()
    assert tagger.tags == cot.TA_TAGS
    assert tagger.weights.shape == (len(tagger.vocabulary), len(cot.TA_TAGS))
    assert "deepseek-r1-distill-qwen-14b" in tagger.trained_on
    assert cot.shipped_ta_tagger() is tagger, "loaded once (functools.cache)"


def test_every_sentence_gets_a_valid_tag_deterministically():
    first = cot.tag_steps(CHAIN, "thought_anchors")
    assert len(first) == len(CHAIN) and set(first) <= set(cot.TA_TAGS)
    assert cot.tag_steps(CHAIN, "thought_anchors") == first
    probs = np.exp(cot.shipped_ta_tagger().log_probs(CHAIN))
    assert probs.shape == (len(CHAIN), len(cot.TA_TAGS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert cot.tag_steps([], "thought_anchors") == []


def test_the_clearest_sentences_get_the_tag_their_definition_names():
    # Only the opening restatement and the boxed answer: the model agrees with Thought Anchors on
    # about two sentences in three (docs/tools/tagger.md), and on this chain it calls the recalled
    # fact (CHAIN[2]) plan_generation, for one.
    tags = cot.tag_steps(CHAIN, "thought_anchors")
    assert tags[0] == "problem_setup"
    assert tags[-1] == "final_answer_emission"


def test_organism_grammar_keeps_its_exact_tags():
    steps = ["Try 8*19=152.", "Left: 152, 4.", "Miss.", "Wait, backtrack.", "Hit."]
    assert cot.tag_steps(steps, "thought_anchors") == [
        "active_computation", "result_consolidation", "self_checking", "uncertainty_management",
        "self_checking"]


def test_weights_round_trip_through_json():
    tagger = cot.shipped_ta_tagger()
    again = cot.TaTagger.from_json(json.loads(json.dumps(tagger.to_json())))
    assert again.vocabulary == tagger.vocabulary
    assert np.array_equal(again.weights, tagger.weights)
    assert again.tag(CHAIN) == tagger.tag(CHAIN)


def test_a_file_that_is_not_a_tagger_is_refused():
    with pytest.raises(cot.StarterError, match="not a TaTagger file"):
        cot.TaTagger.from_json({"format": "something else"})


def test_features_see_words_neighbours_and_position():
    features = cot.ta_features(["So 12 = 3 * 4.", "Wait, is that right?"])
    assert {"w:so", "w:0", "has:=", "idx:0", "pos:0", "nh1:wait"} <= set(features[0])
    assert {"end:?", "ph1:so", "ridx:0", "pos:9"} <= set(features[1])


def test_training_script_runs_end_to_end_on_the_fixture(tmp_path, capsys):
    pytest.importorskip("sklearn")
    train = _load_script("train_ta_tagger")
    out = tmp_path / "tagger.json"
    assert train.main([str(FIXTURE), "--out", str(out), "--model", "all"]) == 0
    tagger = cot.TaTagger.from_json(json.loads(out.read_text(encoding="utf-8")))
    assert tagger.tags == cot.TA_TAGS and tagger.vocabulary
    assert "2 chains, 7 sentences, 1 problems" in tagger.trained_on
    # 7 labelled sentences, fitted on themselves: the fit reproduces most of its training labels
    assert "agreement on its own training chains" in capsys.readouterr().out
    assert set(tagger.tag(CHAIN)) <= set(cot.TA_TAGS)


def test_training_script_refuses_a_model_it_does_not_have(tmp_path, capsys):
    pytest.importorskip("sklearn")
    train = _load_script("train_ta_tagger")
    with pytest.raises(cot.UsageError, match="no chains of model 'gpt-2'"):
        train.main([str(FIXTURE), "--out", str(tmp_path / "t.json"), "--model", "gpt-2"])
    assert not (tmp_path / "t.json").exists()
