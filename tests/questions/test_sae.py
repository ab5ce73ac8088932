"""sae: sites, analyse and claims on hand-built rows, against numbers computed by hand."""

from __future__ import annotations

import dataclasses
import math
import sys

import pytest
import torch

from starter.errors import StarterError
from starter.findings import check
from starter.questions import sae
from starter.saes import Activations, TrainConfig, reconstruction, train_sae

OWN, OTHER = "sae-backtracking", "sae-straight"
SSE = {OWN: [4.0, 4.0, 4.0, 4.0], OTHER: [8.0, 8.0, 8.0, 8.0]}  # per trace, 10 tokens each
SSE_WAIT = {OWN: [0.2, 0.4, 0.6, 0.4], OTHER: [2.0, 2.0, 2.0, 2.0]}  # per trace, 2 words each


def trace(name: str, data: str, t: int, seed: int = 0) -> dict:
    words = data == "backtracking"
    return {"unit": f"trace:{seed}:{name}:{data}:{t}", "kind": "trace", "seed": seed, "sae": name,
            "data": data, "trace": t, "n_tokens": 10, "sse": SSE[name][t], "l0_sum": 50.0,
            "n_wait": 2 if words else 0, "sse_wait": SSE_WAIT[name][t] if words else 0.0,
            "var_all": 2.0, "var_wait": 1.0 if words else None,
            "ce_increase": 0.1 * (t + 1) if t < 2 else None}


def site(t: int, context: str, decision: float, wait: float, position: int,
         operator: str | None = None) -> dict:
    return {"unit": f"site:0:{t}:{position}", "kind": "site", "seed": 0, "trace": t,
            "position": position, "token": " Wait" if context == "wait" else ".",
            "context": context, "operator": operator, "act_wait": wait, "act_decision": decision,
            "rel_wait": wait / 5.0, "rel_decision": decision}  # training means 5 and 1


def latent(role: str, target: str, tops: list[str]) -> dict:
    return {"unit": f"sae_latent:0:{OWN}:{role}", "kind": "sae_latent", "seed": 0, "sae": OWN,
            "role": role, "latent": 7, "train_score": 1.0, "target": target, "fire_rate_on": 1.0,
            "fire_rate_off": 0.0, "explanation": "trained here: no Neuronpedia page",
            "top": [{"context": f"Miss[[{s}]]", "token": ".", "site": s, "activation": 2.0}
                    for s in tops]}


TRACES = [trace(n, d, t) for n in (OWN, OTHER) for d in ("backtracking", "straight")
          for t in range(4)]
SITES = [
    site(0, "backtrack", 1.0, 0.0, 20, "-"), site(0, "continue", 0.0, 0.0, 10, "+"),
    site(0, "wait", 0.0, 5.0, 21),
    site(1, "backtrack", 1.0, 0.0, 20, "*"), site(1, "continue", 0.5, 0.0, 10, "-"),
    site(1, "wait", 0.0, 5.0, 21),
    site(2, "backtrack", 1.0, 0.0, 20, "-"), site(2, "wait", 0.0, 4.0, 21),  # no continue
    site(3, "backtrack", 0.0, 0.0, 20, "-"), site(3, "continue", 0.0, 0.0, 10, "-"),
    site(3, "wait", 0.0, 6.0, 21),
]
LATENTS = [latent("wait", "wait", ["wait", "wait", "other"]),
           latent("decision", "backtrack", ["backtrack", "continue"])]
ROWS = TRACES + SITES + LATENTS


def test_label_sites_reads_the_decision_from_the_next_token_within_a_text():
    words = [" Try", "*", " Miss", ".", " Wait", " Miss", ".", " Try", " Miss", "."]
    texts = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]  # the last "." ends text 1: nothing follows, no site
    acts = Activations(torch.zeros(10, 2), words, texts, [1, 2, 3, 4, 5, 6, 7, 8, 1, 2])
    found = sae.label_sites(acts)
    assert [(s.row, s.context, s.operator) for s in found] == [
        (3, "backtrack", "*"), (4, "wait", None), (6, "continue", "*")]


def test_fve_per_subset_by_hand():
    m = sae.analyse(ROWS)
    assert m.saes == [OWN, OTHER] and m.data == ["backtracking", "straight"]
    # all tokens: 1 - 16 / (40 tokens * variance 2) and 1 - 32 / 80
    assert m.fve[OWN]["backtracking"].value == pytest.approx(0.8)
    assert m.fve[OTHER]["backtracking"].value == pytest.approx(0.6)
    # the words, about their own mean (variance 1): 1 - 1.6 / 8 and 1 - 8 / 8
    assert m.fve_words[OWN].value == pytest.approx(0.8)
    assert m.fve_words[OTHER].value == pytest.approx(0.0)
    assert m.fve_words[OWN].n == 4 and m.fve_words[OWN].unit == "trace"
    assert m.fve_words_difference.value == pytest.approx(0.8)
    assert m.fve_words_difference_by_seed[0].value == pytest.approx(0.8)
    assert m.l0[OWN]["straight"].value == pytest.approx(5.0)
    assert m.ce_increase[OWN]["backtracking"].value == pytest.approx(0.15), "mean of 0.1, 0.2"


def test_decision_sites_by_hand_only_traces_with_both_kinds():
    m = sae.analyse(ROWS)
    decision = m.sites["decision"]
    assert decision.backtrack.value == pytest.approx(2 / 3), "traces 0, 1, 3 (2 has no control)"
    assert decision.control.value == pytest.approx(0.5 / 3), "(0 + 0.5 + 0) / 3"
    assert decision.difference.value == pytest.approx(2 / 3 - 0.5 / 3)
    assert decision.on_words.value == pytest.approx(0.0)
    assert m.fires["decision"].control.value == pytest.approx(1 / 3), "only trace 1 fires"
    wait = m.sites["wait"]
    assert wait.on_words.value == pytest.approx((5 + 5 + 4 + 6) / 4 / 5.0) and wait.on_words.n == 4
    assert m.fires["wait"].on_words.value == pytest.approx(1.0)
    assert wait.difference.value == pytest.approx(0.0)
    assert m.position_backtrack.value == pytest.approx(20) and m.position_continue.value == 10
    # matched on the operator ('-': 3 before a backtrack, 2 before a try), any trace
    assert m.matched_operator == "-"
    same = m.sites_same_operator["decision"]
    assert same.backtrack.value == pytest.approx(2 / 3), "traces 0, 2 fire, 3 does not"
    assert same.control.value == pytest.approx(0.25), "trace 1: 0.5, trace 3: 0"
    assert same.difference.value == pytest.approx(2 / 3 - 0.25)
    assert m.top_match["wait"] == sae.TopMatch(matched=2, shown=3, target="wait")
    assert m.top_match["decision"] == sae.TopMatch(matched=1, shown=2, target="backtrack")


def test_claims_have_controls_and_verdicts_that_agree_with_their_intervals():
    found = sae.claims(sae.analyse(ROWS))
    assert len(found) == 4
    for claim in found:
        check(claim.to_dict())
    assert found[0].verdict == "supported", "every trace's words: own SAE better by 0.8"
    assert found[0].claim.startswith("Positive control"), "sae-straight never saw the words"
    assert "operator not matched" in found[1].claim
    assert "mostly explained by the operator" not in found[1].claim, "matched 0.42 vs 0.5"
    assert found[2].claim.startswith("Exploratory (added after seeing the data)")
    # the wait latent never fires at a '.': its gap (0) falls short of the minimum gap SMALL
    assert found[3].difference.value == pytest.approx(-sae.SMALL)
    assert found[3].control.estimate.value == pytest.approx(sae.SMALL)
    # all-zero on few traces: Wilson's interval over them keeps the verdict open
    assert found[3].verdict in ("refuted", "not distinguishable")
    assert found[3].difference.ci[0] < 0
    text = sae.findings(sae.analyse(ROWS))
    assert "treats the SAE seed as fixed" in text
    assert "cannot separate ' Wait' from backtracking" in text
    assert "a token detector here" in text, "the wait latent never separates the decisions"


def test_without_decision_points_the_summary_says_the_control_needs_the_organism():
    m = sae.analyse(TRACES + [{"unit": "chain:0", "kind": "chain", "trace": 0, "finished": False,
                               "n_new_tokens": 9}])
    assert (m.n_chains, m.n_unfinished) == (1, 1)
    assert len(sae.claims(m)) == 1
    assert "organism only" in sae.findings(m)


def test_plot_draws_every_panel():
    import matplotlib

    matplotlib.use("Agg")
    fig = sae.plot(ROWS, sae.analyse(ROWS))
    assert len(fig.axes) == 4


def test_subset_fve_uses_the_subsets_own_mean():
    class Shift(torch.nn.Module):  # reconstructs each row as itself plus a constant offset
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            return x

        def decode(self, codes):
            return codes + 1.0

    acts = torch.tensor([[0.0], [2.0], [100.0], [102.0]])  # [n, d_model]
    mask = torch.tensor([True, True, False, False])
    # about the subset's own mean (1): variance 1 per row, error 1 per row -> FVE 0
    assert reconstruction(Shift(), acts, mask)["fve"] == pytest.approx(0.0)


def test_missing_dictionary_learning_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dictionary_learning.trainers.batch_top_k", None)
    with pytest.raises(StarterError, match="pip install --no-deps dictionary-learning"):
        train_sae(torch.randn(64, 4), TrainConfig(dict_size=8, k=2, steps=10, batch_size=16))


# ---------------------------------------------------------------- a known latent: dead ends


def test_label_sites_marks_dead_and_live_left_states():
    words = [" Target", ":", " 3", "1", ".", " <think>", " Try", " 8", "*", "1", "9", "=", "1",
             "5", "2", ".", " Left", ":", " 1", "5", "2", ",", " 4", ".", " Try"]
    acts = Activations(torch.zeros(len(words), 2), words, [0] * len(words),
                       list(range(len(words))))
    found = sae.label_sites(acts)
    assert [(s.row, s.context) for s in found] == [(23, "dead")], (
        "152 and 4 never make 31; the '.' closing 'Try 8*19=152' and 'Target: 31' are no sites")
    no_target = Activations(torch.zeros(len(words) - 5, 2), words[5:], [0] * (len(words) - 5),
                            list(range(len(words) - 5)))
    assert sae.label_sites(no_target) == [], "without 'Target: t.' dead-endness is unknown"


def left(t: int, context: str, act: float, position: int) -> dict:
    return {"unit": f"site:0:{t}:{position}", "kind": "site", "seed": 0, "trace": t,
            "position": position, "token": ".", "context": context, "operator": None,
            "act_wait": 0.0, "act_decision": 0.0, "act_dead_end": act, "rel_wait": 0.0,
            "rel_decision": 0.0, "rel_dead_end": act / 2.0}  # training mean 2 at dead states


LEFTS = [left(0, "dead", 2.0, 5), left(0, "alive", 0.0, 30), left(1, "dead", 3.0, 5),
         left(1, "alive", 1.0, 30), left(2, "dead", 4.0, 5)]  # trace 2 has no live state


def test_dead_end_latent_against_the_same_token_at_live_states_by_hand():
    m = sae.analyse(ROWS + LEFTS)
    site = m.sites["dead_end"]
    assert site.backtrack.value == pytest.approx((1.0 + 1.5) / 2), "traces 0, 1 (2 has no control)"
    assert site.control.value == pytest.approx(0.25)
    assert site.difference.value == pytest.approx(1.25 - 0.25)
    assert m.fires["dead_end"].control.value == pytest.approx(0.5), "only trace 1 fires"
    assert "dead_end" not in m.sites_same_operator, "no operator at a Left state"
    assert sae.measure_dead_end(m).value == pytest.approx(1.0)
    assert sae.measure_dead_end(sae.analyse(ROWS)).n == 0, "no Left states: not estimable"
    # Position bins of 16 tokens: 5 holds the three dead states, 30 the two live ones; no bin
    # holds both, so nothing is left to compare at matched positions.
    assert m.sites_same_position["dead_end"].difference.n == 0
    found = sae.claims(m)
    keys = ["dead_end", "dead_end-not-first", "dead_end-vs-baselines", "dead_end-same-position"]
    assert [c.key for c in found[-4:]] == keys
    assert found[-4].claim.startswith("The primary claim until review s15")
    assert [c.key for c in found if c.primary] == ["dead_end-not-first"]
    for claim in found[-4:]:
        check(claim.to_dict())
    near = sae.analyse(ROWS + LEFTS + [left(2, "alive", 0.0, 6)])  # a live state in bin 0 too
    binned = near.sites_same_position["dead_end"]
    assert binned.backtrack.value == pytest.approx((1.0 + 1.5 + 2.0) / 3), "all dead, unpaired"
    assert binned.control.value == pytest.approx(0.0), "only the live state at token 6"
    assert near.position_dead_end_binned["alive"].value == 6
    assert "'dead_end' latent" in sae.findings(m)


def test_roles_follow_the_contexts_seen_in_training():
    words = [" Wait", "."]
    acts = Activations(torch.zeros(2, 2), words, [0, 0], [0, 1])
    site = sae.Site(row=1, trace=0, position=1, token=".", context="dead")
    assert sae.roles_in(acts, [site]) == ["wait"], "dead states without live ones: no contrast"
    live = dataclasses.replace(site, context="alive")
    assert sae.roles_in(acts, [site, live]) == ["wait", "dead_end"]
    quiet = Activations(torch.zeros(2, 2), [" Try", "."], [0, 0], [0, 1])
    assert sae.roles_in(quiet, [site, live]) == [], "a model that never writes 'Wait'"


def test_validation_arms_are_base_then_planned():
    primary, unmatched, by_position = sae.VALIDATION
    assert primary.quantity.startswith("primary:")
    assert primary.measure is sae.measure_dead_end_not_first
    assert math.isnan(primary.measure(sae.analyse(ROWS)).value), "no later dead state"
    for v in (primary, unmatched, by_position):
        assert [a.model for a in v.arms] == ["tinythinker", "tinythinker-planned"]
        assert all(a.planted is None for a in v.arms), "order only"
    assert unmatched.settings == by_position.settings, "one pair of runs serves both checks"
    near = sae.analyse(ROWS + LEFTS + [left(2, "alive", 0.0, 6)])
    assert by_position.measure(near).value == pytest.approx(1.5), "(1 + 1.5 + 2) / 3 - 0"
    assert by_position.measure(sae.analyse(ROWS)).n == 0, "no Left states: not estimable"


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    blocks = smoke_validation("sae").record["validations"]
    assert len(blocks) == 3, "the primary, unmatched, then matched on position"
    for block in blocks:
        assert [a["variant"] for a in block["arms"]] == ["tinythinker", "tinythinker-planned"]


def test_primary_leaves_out_each_traces_first_left_state_by_hand():
    # a second dead state in traces 0 and 1 (after the first, before the live one)
    later = [left(0, "dead", 0.0, 12), left(1, "dead", 2.0, 12)]
    m = sae.analyse(ROWS + LEFTS + later)
    assert m.first_state_dead == (3, 3), "every trace's first 'Left:' is dead"
    site = m.sites_not_first["dead_end"]
    assert site.backtrack.value == pytest.approx((0.0 + 1.0) / 2), "rel at token 12 only"
    assert site.control.value == pytest.approx((0.0 + 0.5) / 2)
    # per trace: 0 - 0 and 1.0 - 0.5; trace 2 has no live state
    assert m.not_first_difference.value == pytest.approx(0.25)
    assert m.not_first_difference.n == 2
    lad = m.dead_end_ladder
    # positives (rel) 1.0, 0, 1.5, 1.0, 2.0 against negatives 0, 0.5: 8.5 of 10 pairs
    assert lad.auroc[sae.LATENT].value == pytest.approx(0.85)
    # first-state flags 1, 0, 1, 0, 1 against 0, 0: 6 pairs right, 4 ties: 8 of 10
    assert lad.auroc[sae.FIRST_RULE].value == pytest.approx(0.8)
    assert lad.auroc[sae.POSITION_RULE].value == pytest.approx(1.0), "dead at 5, 12; live at 30"
    assert lad.auroc[lad.strongest].value == pytest.approx(1.0)
    assert lad.latent_minus_strongest.value == pytest.approx(0.85 - 1.0)
    assert (lad.n_states, lad.n_traces) == (7, 3)
    claim = next(c for c in sae.claims(m) if c.key == "dead_end-vs-baselines")
    assert claim.strongest_baseline.name == lad.strongest
    text = sae.findings(m)
    assert text.startswith("Read first: the primary claim changed after review s15")
    assert "| rule: is the trace's first 'Left:' state | 0.80" in text


def test_seeds_auroc_difference_puts_the_seed_spread_in_the_interval():
    one_seed = sae.seeds_auroc_difference([[2.0, 1.0, 2.0, 1.0]], None, [1, 0, 1, 0], [0, 0, 1, 1])
    assert (one_seed.value, one_seed.ci) == (1.0, (1.0, 1.0))
    minus = sae.seeds_auroc_difference([[2.0, 1.0, 2.0, 1.0]], [1.0, 2.0, 2.0, 1.0],
                                       [1, 0, 1, 0], [0, 0, 1, 1])
    assert minus.value == pytest.approx(1.0 - 0.5), "the baseline orders 2 of 4 pairs"
