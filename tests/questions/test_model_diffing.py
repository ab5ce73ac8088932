"""model-diffing: sites, analyse and claims on hand-built rows, against numbers computed by hand."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest

from starter.findings import check
from starter.questions import model_diffing as md
from starter.validation import Measured


def chain(writer: str, problem: str, finished: bool = True) -> dict:
    return {"unit": f"chain:{writer}:{problem}", "kind": "chain", "writer": writer,
            "model": f"tinythinker-{writer}", "problem": problem, "train": False,
            "prompt": "Numbers: 8 19 4. Target: 31. <think>", "completion": " Try",
            "finished": finished, "n_new_tokens": 1}


def text(pair: str, problem: str, norm: float, kl: float) -> dict:
    return {"unit": f"text:{pair}:base:{problem}", "kind": "text", "pair": pair, "texts": "base",
            "problem": problem, "n_tokens": 50, "mean_sae": 1.0, "mean_proj": 1.0,
            "mean_kl": kl, "mean_norm": norm}


def site(pair: str, problem: str, position: int, context: str, rel: float) -> dict:
    """Every measure gets the same relative value, so each measure's numbers are the same."""
    return {"unit": f"site:{pair}:base:{problem}:{position}", "kind": "site", "pair": pair,
            "texts": "base", "problem": problem, "position": position, "context": context,
            **{m: rel for m in md.MEASURES}, **{f"rel_{m}": rel for m in md.MEASURES}}


def latent(pair: str, sites: list[str]) -> dict:
    return {"unit": f"diff_latent:{pair}:0", "kind": "diff_latent", "pair": pair, "rank": 0,
            "latent": 5, "top_share": 0.25,
            "top": [{"context": f"Left: 1, 2[[.]] ({s})", "site": s, "activation": 1.0}
                    for s in sites]}


# Planted pair: p0 dead 3 and 5, live 1 -> contrast 3; p2 dead 2, live 2 -> 0; p4 has no live
# state (left out of every paired number). No-change pair: p0 1 vs 1 -> 0; p2 1 vs 0 -> 1.
ROWS = (
    [chain(w, p, finished=(w, p) != ("tuned", "p4")) for w in ("base", "tuned", "control")
     for p in ("p0", "p2", "p4")]
    + [text("tuned", p, 30.0, 0.2) for p in ("p0", "p2", "p4")]
    + [text("control", p, 20.0, 0.05) for p in ("p0", "p2", "p4")]
    + [site("tuned", "p0", 10, "dead", 3.0), site("tuned", "p0", 20, "dead", 5.0),
       site("tuned", "p0", 30, "alive", 1.0),
       site("tuned", "p2", 10, "dead", 2.0), site("tuned", "p2", 20, "alive", 2.0),
       site("tuned", "p4", 10, "dead", 4.0)]
    + [site("control", "p0", 10, "dead", 1.0), site("control", "p0", 30, "alive", 1.0),
       site("control", "p2", 10, "dead", 1.0), site("control", "p2", 20, "alive", 0.0),
       site("control", "p4", 10, "dead", 1.0)]
    + [latent("tuned", ["dead", "dead", "other"]), latent("control", ["other", "alive"])]
)


def test_analyse_site_numbers_by_hand():
    m = md.analyse(ROWS)
    assert m.contexts == ["dead", "alive"] and m.headline == "base"
    assert m.pairs == ["tuned", "control"]
    s = m.sites["tuned"]["base"]["sae"]
    assert s.target.value == pytest.approx(10 / 3), "dead sites of p0 and p2 only (p4: no live)"
    assert s.target.n == 2 and s.target.n_items == 3
    assert s.control.value == pytest.approx(1.5)
    assert s.difference.value == pytest.approx(10 / 3 - 1.5)
    assert s.contrast.value == pytest.approx(1.5), "per problem: (3 + 0) / 2"
    c = m.sites["control"]["base"]["kl"]
    assert c.contrast.value == pytest.approx(0.5), "per problem: (0 + 1) / 2"
    assert m.between["base"]["norm"].value == pytest.approx(1.0), "mean of 3-0 and 0-1"
    assert m.n_sites["tuned"]["base"] == {"dead": 4, "alive": 2}


def test_analyse_chains_sizes_and_latents():
    m = md.analyse(ROWS)
    assert m.chains["tuned"] == md.ChainCount(n=3, unfinished=1, model="tinythinker-tuned")
    assert m.size["tuned"]["norm"].value == pytest.approx(30.0)
    assert m.size["control"]["kl"].value == pytest.approx(0.05)
    lat = m.latents["tuned"]
    assert (lat.at_target, lat.at_control, lat.shown) == (2, 0, 3)
    assert m.latents["control"].at_control == 1


def test_claims_verdicts_agree_with_their_intervals():
    found = md.claims(md.analyse(ROWS))
    assert len(found) == len(md.MEASURES) + 5, ("the SAE's AUROC against KL, norm and position, "
                                                "one per measure, planted and no-change SAE")
    for claim in found:
        check(claim.to_dict())
        assert claim.control.name, "every claim has a control"
    assert [c.primary for c in found] == [True] + [False] * (len(found) - 1)
    assert found[0].key == md.PRIMARY and found[0].strongest_baseline is not None
    # every measure has the same values here, so each AUROC is the same: the planted pair's
    # target sites (3, 5, 2, 4) against controls (1, 2): 7 of 8 pairs right, one tie: 7.5 / 8.
    # Position rule (-position): targets at 10, 20, 10, 10 against controls at 30, 20:
    # all 4 right against 30; against 20: 10 < 20 three times, one tie: 3.5; (4 + 3.5) / 8
    auroc = {c.key: c for c in found if c.key.startswith("sae-auroc-vs-")}
    assert set(auroc) == {"sae-auroc-vs-strongest", "sae-auroc-vs-norm",
                          "sae-auroc-vs-position"}
    strongest = auroc["sae-auroc-vs-strongest"]
    assert strongest.control.name == md.RUNG_NAMES["kl"], "KL and norm tie: KL, listed first"
    for claim in auroc.values():
        assert claim.estimate.value == pytest.approx(7.5 / 8)
        assert claim.strongest_baseline.name == md.RUNG_NAMES["kl"]
    assert auroc["sae-auroc-vs-norm"].difference.value == 0.0
    assert auroc["sae-auroc-vs-norm"].verdict == "not distinguishable"
    assert auroc["sae-auroc-vs-position"].control.estimate.value == pytest.approx(7.5 / 8)
    old = next(c for c in found if c.key == md.OLD_PRIMARY)
    assert old.difference.value == pytest.approx(1.0) and not old.primary


def test_without_a_control_pair_each_measure_is_claimed_within_the_pair():
    rows = [r for r in ROWS if r.get("pair") != "control" and r.get("writer") != "control"]
    m = md.analyse(rows)
    assert m.between == {}
    found = md.claims(m)
    assert len(found) == len(md.MEASURES) + 3, "within the pair, and the three AUROC claims"
    assert [c.key for c in found if c.primary] == [md.PRIMARY]
    for claim in found:
        check(claim.to_dict())
    assert "No no-change pair" in md.findings(m)


def test_findings_and_plot_run_on_hand_built_rows():
    m = md.analyse(ROWS)
    text_ = md.findings(m)
    assert "Planted minus no-change pair" in text_ and "2 unfinished" not in text_
    fig = md.plot(ROWS, m)
    assert len(fig.axes) == 2


def test_sites_of_an_organism_text():
    text_ = "P <think> Try 8*19=152. Left: 152, 4. Try 152+4=156. Miss. Left: 27, 4. Try"
    got = md.char_sites(text_, 9, 31)
    assert [c for _, c in got] == ["dead", "alive"], "152 and 4 cannot make 31; 27+4 can"
    assert all(text_[char] == "." for char, _ in got)
    offsets = [(0, 0)] + [(i, i + 1) for i in range(len(text_))]  # BOS, then one token per char
    assert [s.position for s in md.label_sites(offsets, text_, 9, 31)] == [
        char + 1 for char, _ in got]


def test_r1_sites_are_backtracking_words_and_sentence_starts():
    got = md.char_sites("2+2=4. Hmm, check. So it is 4.\nWait", 0, None)
    assert [c for _, c in got] == ["wait", "start", "wait"]


def test_measure_reads_the_planted_pairs_sae_difference():
    m = md.analyse(ROWS)
    measured = md.measure_localisation(m)
    assert measured.value == pytest.approx(10 / 3 - 1.5) and measured.n == 2
    no_sites = dataclasses.replace(m, sites={})
    assert math.isnan(md.measure_localisation(no_sites).value)


def test_validation_arms_are_retrained_then_planned_and_the_primary_comes_first():
    primary, localisation = md.VALIDATION
    for v in (primary, localisation):
        assert [a.model for a in v.arms] == ["tinythinker-retrained", "tinythinker-planned"]
        assert all(a.planted is None for a in v.arms), "order only"
    assert primary.settings == localisation.settings, "one pair of runs serves both checks"
    assert primary.quantity.startswith("primary:") and primary.measure is md.measure_auroc


def test_measure_auroc_reads_the_diff_saes_auroc_or_is_not_estimable():
    from starter import stats

    m = SimpleNamespace(auroc={"sae": stats.Estimate(0.8, (0.7, 0.9), 30, 30)})
    assert md.measure_auroc(m) == Measured(0.8, (0.7, 0.9), 30)
    assert math.isnan(md.measure_auroc(SimpleNamespace(auroc={})).value)


def test_config_refuses_bad_values():
    from starter.errors import UsageError

    with pytest.raises(UsageError, match="top_latents"):
        md.Config(top_latents=0)
    with pytest.raises(UsageError, match="n_problems"):
        md.Config(n_problems=4)


@pytest.mark.slow
def test_validate_smoke(smoke_validation):
    blocks = smoke_validation("model-diffing").record["validations"]
    assert len(blocks) == 2, "the primary's AUROC, then the localisation"
    for block in blocks:
        assert [a["variant"] for a in block["arms"]] == ["tinythinker-retrained",
                                                         "tinythinker-planned"]
