"""sae-vs-probes: ground-truth labels, sites, feature selection, and analyse/claims on hand-built
rows against numbers computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from starter.errors import UsageError
from starter.findings import check
from starter.organism.data import make_trace, make_traces, search
from starter.organism.tokenizer import build_tokenizer
from starter.questions import sae_vs_probes as svp

# ------------------------------------------------------------------ labels: the planted truth


def test_reachable_computed_from_the_state_is_the_trees_own_solution_path():
    """The 'Left: a, b.' state can reach the target exactly when its node is on the solution
    path: the label computed from the text agrees with the search tree on every branch."""
    checked = 0
    for trace in make_traces(60, seed=3, split="test"):
        for step in trace.steps:
            if step.text.startswith("Left:"):
                assert svp.reachable(step.text, trace.target) == step.on_solution_path, (
                    f"{trace.text}: {step.text} -> reachable disagrees with the tree")
                checked += 1
    assert checked >= 60


def test_organism_chain_labels_every_step_kind_once():
    trace = make_trace(search((8, 19, 4), 31))  # one backtrack, then (8+19)+4
    chain = svp.organism_chain(trace, "p")
    labels = [(s.text, s.at_end) for s in chain.steps if s.at_end]
    assert labels == [
        ("Left: 152, 4.", {"reachable": 0}), ("Try 152-4=148.", {"hit_next": 0}),
        ("Miss.", {"backtrack_next": 0}), ("Try 152/4=38.", {"hit_next": 0}),
        ("Miss.", {"backtrack_next": 1}), ("Left: 27, 4.", {"reachable": 1}),
        ("Try 27+4=31.", {"hit_next": 1})], (
        "152-4 misses, then 152/4 is tried (exact): no backtrack")
    on_path = [s.at_every["on_path"] for s in chain.steps]
    assert on_path == [0] * 7 + [1] * 4, "everything before 'Try 8+19' is the abandoned branch"


def test_sites_sit_on_the_closing_dot_and_see_only_the_words_so_far():
    trace = make_trace(search((8, 19, 4), 31))
    lm = SimpleNamespace(tokenizer=build_tokenizer(), add_special_tokens=True)
    sites, ids = svp.find_sites(lm, [svp.organism_chain(trace, "p")])
    decoded = lm.tokenizer.decode
    ends = [s for s in sites if s.prop != "on_path"]
    assert {decoded([s.token]) for s in ends} == {"."}, "every step-end site is the closing '.'"
    reach = [s for s in ends if s.prop == "reachable"]
    assert [s.words for s in reach] == ["Left: 152, 4.", "Left: 27, 4."]
    assert reach[0].previous == "Try 8*19=152."
    path = [s for s in sites if s.prop == "on_path"]
    assert path[0].words == "Try" and path[0].label == 0
    assert len(path) == len(ids[0]) - len(lm.tokenizer(trace.prompt)["input_ids"]) - len(
        lm.tokenizer(" </think> \\boxed{(8+19)+4}", add_special_tokens=False)["input_ids"]), (
        "on_path covers every token of the search and nothing of the prompt or the answer")


def test_items_are_balanced_and_split_by_problem():
    sites = [svp.Site(prop="x", label=int(i % 3 == 0), problem=f"p{i // 3}", chain=i // 3,
                      position=i, token=0, words="", previous="") for i in range(60)]
    held = svp.split_problems([s.problem for s in sites], 0.5, seed=0)
    got = svp.items_of(sites, "x", held, seed=0)
    for side in (got.train, got.test):
        labels = [sites[i].label for i in side]
        assert labels.count(0) == labels.count(1) == 10, "one positive per problem, 10 problems"
    assert not {sites[i].problem for i in got.train} & {sites[i].problem for i in got.test}
    few = svp.items_of(sites[:6], "x", {"p0"}, seed=0)
    assert few.skipped and "need 2" in few.skipped


def test_top_k_picks_the_separating_columns_on_dense_and_sparse_input():
    import scipy.sparse

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 50)
    x = rng.normal(size=(100, 6))
    x[:, 4] += 3 * y  # the best column
    x[:, 1] += 1 * y  # the second
    assert svp.top_k(x, y, 2) == [4, 1]
    assert svp.top_k(scipy.sparse.csr_matrix(np.maximum(x, 0)), y, 1) == [4]


def test_config_refuses_a_claim_k_that_is_not_probed():
    with pytest.raises(UsageError, match="claim_k=8"):
        svp.Config(ks=(1, 4), claim_k=8)


# ------------------------------------------------------------ analyse and claims, by hand

PROBLEMS = [f"p{i}" for i in range(8) for _ in range(2)]  # 8 problems, 2 held-out items each
LABELS = [1, 0] * 8


def items(prop: str, skipped: str | None = None) -> dict:
    return {"unit": f"items:{prop}", "kind": "items", "property": prop,
            "description": f"{prop} here", "layer": 2, "ks": [1, 4], "claim_k": 4,
            "skipped": skipped, "problems": [] if skipped else PROBLEMS,
            "labels": [] if skipped else LABELS, "n_train": 20, "n_train_problems": 8}


def probe(prop: str, method: str, hits: list[int], seed: int | None = None) -> dict:
    family = method.removeprefix("shuffled-").split("-")[0]
    unit = f"probe:{prop}:{method}" + ("" if seed is None else f":{seed}")
    return {"unit": unit, "kind": "probe", "property": prop, "method": method, "seed": seed,
            "family": family, "k": None, "shuffled": method.startswith("shuffled-"),
            "features": None, "hits": hits}


ALL = [1] * 16
HALF = [1, 0] * 8
MOST = [1] * 14 + [0, 0]  # 14/16: wrong on both items of p7


def rows() -> list[dict]:
    out = [items("a"), items("b", skipped="label 1 occurs in 0 training problems (need 2)")]
    for seed, sae4 in ((0, ALL), (1, MOST)):
        out += [probe("a", "sae-k1", HALF, seed), probe("a", "sae-k4", sae4, seed),
                probe("a", "shuffled-sae-k4", HALF, seed),
                probe("a", "shuffled-resid-dense", HALF, seed)]
    out += [probe("a", "resid-k1", ALL), probe("a", "resid-k4", HALF),
            probe("a", "resid-dense", MOST), probe("a", "text", HALF), probe("a", "token", HALF)]
    out.append({"unit": "sae:0", "kind": "sae", "seed": 0, "name": "trained here", "d_sae": 64,
                "fve": 0.8, "l0": 4.0, "n_tokens": 100})
    return out


def test_analyse_matches_hand_computed_accuracies_and_differences():
    m = svp.analyse(rows())
    assert m.properties == ["a"] and "b" in m.skipped
    assert m.seeds == [0, 1] and m.claim_k == 4 and m.ks == [1, 4]
    acc = m.accuracy["a"]
    # the claims average the two SAE seeds: (16 + 14) / 32 right; their intervals resample the
    # seeds too: a replicate drawing seed 0 twice gives exactly 1 - 0.5 = 0.5 (the upper end, as
    # every problem's resid-k4 mean is 0.5), seed 1 twice 14/16 - 0.5 = 0.375 or less
    assert acc["sae-k4"].value == pytest.approx(30 / 32)
    assert acc["resid-k4"].value == 0.5 and acc["resid-dense"].value == pytest.approx(14 / 16)
    gap = m.sae_minus_resid["a"][4]
    assert gap.value == pytest.approx(30 / 32 - 0.5)
    assert gap.ci[1] == pytest.approx(0.5) and gap.ci[0] < 0.375
    assert m.sae_minus_resid["a"][1].value == pytest.approx(-0.5)
    assert m.sae_minus_dense["a"][4].value == pytest.approx(30 / 32 - 14 / 16), "seeds averaged"
    assert m.sae_minus_text["a"].value == pytest.approx(30 / 32 - 0.5)
    by_seed = m.sae_minus_resid_by_seed["a"]
    assert by_seed[0].value == pytest.approx(0.5) and by_seed[1].value == pytest.approx(6 / 16)
    assert m.items["a"] == svp.ItemCounts(n_test=16, n_test_problems=8, n_test_positive=8,
                                          n_train=20, n_train_problems=8)
    pipe = m.pipeline
    assert pipe.dense.value == pytest.approx(14 / 16) and pipe.shuffled.value == 0.5
    assert pipe.difference.value == pytest.approx(14 / 16 - 0.5)
    assert pipe.difference.n == 8 and pipe.difference.unit == "problem"


def test_claims_agree_with_their_intervals():
    m = svp.analyse(rows())
    found = svp.claims(m)
    assert len(found) == 3, "two per probed property (vs residual, vs text) and the pipeline check"
    for claim in found:
        check(claim.to_dict())  # raises when a verdict contradicts its difference_ci
        assert claim.control.name and claim.estimate.unit == "problem"
    vs_resid, vs_text, pipeline = found
    assert vs_resid.difference.ci[0] > 0 and vs_resid.verdict == "supported"
    assert vs_text.verdict == "supported" and pipeline.verdict == "supported"
    # no rule here: the fitted text probe (8/16) ties token identity and the constant 0.5, and
    # ties go to the first rung of TEXT_LADDER, so the claim's comparator is that probe
    assert m.text_strongest["a"] == "text" and vs_text.control.name.endswith(svp.TEXT_NAME)
    assert vs_text.difference.value == pytest.approx(30 / 32 - 0.5)
    text = svp.findings(m)
    assert "`b` not probed" in text and "hypothesis about R1-distill" in text


def test_a_worse_sae_is_refuted_not_hidden():
    flipped = [dict(r, hits=HALF) if r.get("method") == "sae-k4" else r for r in rows()]
    flipped = [dict(r, hits=ALL) if r.get("method") == "resid-k4" else r for r in flipped]
    vs_resid = svp.claims(svp.analyse(flipped))[0]
    assert vs_resid.verdict == "refuted" and vs_resid.difference.value == pytest.approx(-0.5)


def test_every_property_skipped_gives_no_claims_and_a_figure():
    only = [items("a", skipped="label 1 occurs in 0 held-out problems (need 2)")]
    m = svp.analyse(only)
    assert svp.claims(m) == [] and m.properties == []
    assert svp.plot(only, m) is not None


# ------------------------------------------------- the sampled-model path, on R1's tokenizer

THINKING = ("Let me try {a}+{b}={s}. Then {s}-2={d}. Wait, I should check that. {s}-2 is {d}, "
            "yes. Hmm, maybe another way. Try {a}*{b}={p}. That is too big. So the answer is {d}.")


@pytest.mark.slow
def test_model_path_probes_hand_written_r1_chains_on_the_r1_shaped_tiny_model(tmp_path):
    """A random model writes no backtracks, so the gpu preset's CLI run on r1-shaped-tiny stops
    before probing (tests/test_gpu_paths.py). Here the chains are written by hand in R1's format
    and the rest of the model path runs on r1-shaped-tiny: R1's tokenizer and chat template,
    tagger labels, residuals, an SAE trained here, every probe, analyse and claims."""
    from starter.experiment import Context
    from starter.models import load_model
    from starter.results import RunStore

    lm = load_model("r1-shaped-tiny", device="cpu")
    cfg = svp.Config(model="r1-shaped-tiny", device="cpu", n_problems=24, dict_size=64, sae_k=4,
                     steps=20, ks=(1, 4), claim_k=4)
    store = RunStore.open(tmp_path / "run", config=cfg.to_dict(), model=cfg.model, device="cpu")
    names = [f"countdown-test-s0-{i}" for i in range(cfg.n_problems)]
    held = svp.split_problems(names, cfg.test_fraction, cfg.seed)
    for side in (held, set(names) - held):  # each side: right and wrong answers, 2+ of each
        for j, name in enumerate(sorted(side)):
            i = names.index(name)
            a, b = 3 + i, 5 + i
            thinking = THINKING.format(a=a, b=b, s=a + b, d=a + b - 2, p=a * b)
            prompt = lm.prompt(question=f"Make {a + b - 2} from {a}, {b}, 2.")
            store.append({"unit": f"chain:{name}", "kind": "chain", "problem": name,
                          "prompt": prompt, "completion": f"{thinking}\n</think>\n\n\\boxed{{1}}",
                          "finished": True, "correct": j % 2 == 0, "n_new_tokens": 60})
    svp.run(Context(cfg=cfg, store=store, model=lm, preset="gpu"))
    rows = store.rows()
    assert "<｜Assistant｜>" in rows[0]["prompt"], "R1's chat template"
    probed = {r["property"] for r in rows if r["kind"] == "probe"}
    assert probed == {"is_backtrack", "backtrack_next", "correct"}
    m = svp.analyse(rows)
    found = svp.claims(m)
    assert len(found) == 2 * 3 + 1
    for claim in found:
        check(claim.to_dict())
    assert m.accuracy["is_backtrack"]["text"].value >= 0.9, (
        "the step's own words say 'Wait' / 'Hmm': the text baseline should read is_backtrack")
    assert m.accuracy["is_backtrack"]["token"].value == 0.5, "every step ends in '.'"


def test_strongest_baseline_is_the_top_non_sae_rung_not_the_text_baseline():
    """Hand-built rows: among the non-SAE probes of 'a' resid-k1 reads 16/16, resid-dense 14/16,
    resid-k4, text and token 8/16; SAE probes and shuffled controls do not compete. Both SAE
    claims name resid-k1 (1.0), and SAE k=4 (seeds averaged, 30/32) minus it is -2/32."""
    m = svp.analyse(rows())
    assert m.strongest["a"] == "resid-k1"
    assert m.sae_minus_strongest["a"].value == pytest.approx(30 / 32 - 1.0)
    vs_resid, vs_text, _ = svp.claims(m)
    for claim in (vs_resid, vs_text):
        assert claim.strongest_baseline.name == "1 residual dimensions (same selection rule)"
        assert claim.strongest_baseline.estimate.value == 1.0
    assert vs_text.control.name == f"strongest text rung: {svp.TEXT_NAME}", (
        "the comparator is the text ladder's top rung, the residual probes are not text")
    assert "Strongest non-SAE rung: 1 residual dimensions" in svp.findings(m)
    # resid-k1 at chance: the dense probe (14/16) is the rung to beat
    fewer = [dict(r, hits=HALF) if r.get("method") == "resid-k1" else r for r in rows()]
    m = svp.analyse(fewer)
    assert m.strongest["a"] == "resid-dense"
    assert m.sae_minus_strongest["a"].value == pytest.approx(30 / 32 - 14 / 16)
    assert svp.claims(m)[1].strongest_baseline.name == "dense residual probe (the whole residual)"


def test_chance_is_the_mean_over_label_shuffles_with_their_spread_inside_the_interval():
    """Four shuffles of the dense probe on 'a': 16/16, 0/16 and two at 8/16. Their mean is 0.5;
    each single fit of 1.0 or 0.0 has an interval (problems only) that excludes 0.5, and a
    replicate drawing the first shuffle four times reads 1.0, so the mean's interval is wide."""
    shuffled = [ALL, [0] * 16, HALF, HALF]
    out = [r for r in rows() if r.get("method") != "shuffled-resid-dense"]
    out += [probe("a", "shuffled-resid-dense", h, seed) for seed, h in enumerate(shuffled)]
    m = svp.analyse(out)
    chance = m.chance["a"]
    assert chance.n == 4 and chance.by_shuffle == [1.0, 0.0, 0.5, 0.5]
    assert chance.mean.value == pytest.approx(0.5)
    assert chance.minus_half.value == pytest.approx(0.0)
    assert chance.minus_half.ci[0] < -0.2 and chance.minus_half.ci[1] > 0.2
    assert chance.single_excluding_half == 2
    assert m.accuracy["a"]["shuffled-resid-dense"] == chance.mean
    assert m.seeds == [0, 1], "shuffle seeds are not SAE seeds"
    # pooled: dense 14/16 minus the shuffles' mean 0.5
    assert m.pipeline.difference.value == pytest.approx(14 / 16 - 0.5)
    assert m.pipeline.difference.ci[0] < m.pipeline.difference.value < m.pipeline.difference.ci[1]
    text = svp.findings(m)
    assert text.startswith("Read first (review s16_b)")
    assert "Before that, after review B," in text
    assert "2 of 4 single fits have an interval" in text


def test_the_one_line_rule_is_the_ceiling_never_the_strongest():
    """Review s16_b: the rule computes the label (16/16 by construction), so it is shown as an
    exact constant, labelled the ceiling, and never chosen as a claim's strongest baseline."""
    only_rule = [dict(r, hits=HALF) if r.get("method") == "resid-k1" else r for r in rows()]
    m = svp.analyse(only_rule + [probe("a", "rule", ALL)])
    rule = m.accuracy["a"]["rule"]
    assert rule.exact and rule.value == 1.0 and rule.ci == (1.0, 1.0)
    assert m.strongest["a"] == "resid-dense", "the dense probe (14/16), not the rule (16/16)"
    assert all(c.strongest_baseline is None or c.strongest_baseline.name != svp.RULE_NAME
               for c in svp.claims(m))
    text = svp.findings(m)
    assert f"- rule: 1 by construction (n=8 problems; 16 items) ({svp.CEILING_NOTE})" in text
    assert "The one-line rule itself" in text and "This reverses this morning's change" in text


def test_a_win_over_the_fitted_text_is_judged_against_the_text_not_the_rule():
    """SAE k=4 (30/32) beats the fitted text probe (8/16) by 7/16 and the rule reads 16/16: the
    SAE-vs-text claim compares with the fitted text (supported); SAE minus the ceiling (30/32 - 1)
    is reported as a line, not a claim."""
    m = svp.analyse(rows() + [probe("a", "rule", ALL)])
    assert m.text_strongest["a"] == "text"
    assert list(m.text_ladder["a"]) == ["text", "token", "trivial"]
    assert m.text_ladder["a"]["trivial"].exact and m.text_ladder["a"]["trivial"].value == 0.5
    assert m.sae_minus_ceiling["a"].value == pytest.approx(30 / 32 - 1.0)
    vs_text = svp.claims(m)[1]
    assert vs_text.key == "sae-vs-text-a" and vs_text.control.estimate.value == 0.5
    assert vs_text.control.name == f"strongest text rung: {svp.TEXT_NAME}"
    assert vs_text.difference.value == pytest.approx(30 / 32 - 0.5)
    assert vs_text.verdict == "supported"
    check(vs_text.to_dict())
    text = svp.findings(m)
    assert "SAE k=4 minus the ceiling (the one-line rule" in text
    assert "- Strongest text rung: " + svp.TEXT_NAME in text


def test_the_primary_claim_comes_first():
    out = [dict(r, property="reachable") if r.get("property") == "a" else r for r in rows()]
    found = svp.claims(svp.analyse(out))
    assert [c.key for c in found][:2] == ["sae-vs-text-reachable", "sae-vs-resid-reachable"]
    assert found[0].primary and not any(c.primary for c in found[1:])


def test_the_shuffled_sae_control_averages_the_sae_seeds():
    """Seed 0's shuffled SAE probe reads 16/16, seed 1's 0/16: the line shows their mean 0.5."""
    out = [dict(r, hits=ALL if r["seed"] == 0 else [0] * 16)
           if r.get("method") == "shuffled-sae-k4" else r for r in rows()]
    m = svp.analyse(out)
    assert m.accuracy["a"]["shuffled-sae-k4"].value == pytest.approx(0.5)


def test_a_text_probe_below_chance_leaves_the_constant_guess_as_the_rung():
    """Text and token at 4/16 (below the constant 0.5) and no rule: the comparator is the exact
    constant 0.5, so SAE k=4 minus it is 30/32 - 0.5 and the control adds no error."""
    low = [1, 0, 0, 0] * 4  # 4/16 right
    out = [dict(r, hits=low) if r.get("method") in ("text", "token") else r for r in rows()]
    m = svp.analyse(out)
    assert m.text_strongest["a"] == "trivial"
    vs_text = svp.claims(m)[1]
    assert vs_text.control.estimate.exact and vs_text.control.name.endswith(svp.TRIVIAL_NAME)
    assert vs_text.difference.value == pytest.approx(30 / 32 - 0.5)


def test_organism_rule_equals_the_label_and_the_text_sees_the_target():
    from starter.organism.data import make_trace, search

    chain = svp.organism_chain(make_trace(search((5, 20, 13), 17)), "p0")
    assert chain.target == "Target: 17"
    for step in chain.steps:
        for prop, label in step.at_end.items():
            assert step.rule[prop] == label, (step.text, prop)
    misses = [s for s in chain.steps if s.text == "Miss."]
    assert misses and all(s.branch.startswith("Left:") for s in misses), "words since 'Left:'"


# ------------------------------------------------- the validation: a planted sparse feature


def test_validation_reads_the_planted_property_seeds_averaged():
    """'planted' probed like 'a': SAE k=1 reads 16/16 on seed 0 and 14/16 on seed 1 (mean 30/32),
    resid-k1 8/16: the k=1 measure is the seeds' mean and the gap 30/32 - 1/2; a run without the
    property (the committed tinythinker run) measures nothing, not a number."""
    out = [r for r in rows() if r.get("property") != "a" or r["kind"] == "items"]
    out = [dict(r, unit="items:planted", property="planted") if r.get("kind") == "items"
           and r["property"] == "a" else r for r in out]
    for seed, k1 in ((0, ALL), (1, MOST)):
        out += [probe("planted", "sae-k1", k1, seed), probe("planted", "sae-k4", HALF, seed)]
    out += [probe("planted", m, HALF) for m in ("resid-k1", "resid-k4", "resid-dense", "text",
                                                 "token")]
    m = svp.analyse(out)
    k1 = svp.measure_planted_k1(m)
    assert k1.value == pytest.approx(30 / 32) and k1.n == 8 and k1.ci[0] < 30 / 32 <= k1.ci[1]
    assert svp.measure_planted_gap_k1(m).value == pytest.approx(30 / 32 - 0.5)
    empty = svp.measure_planted_k1(svp.analyse(rows()))
    assert empty.n == 0 and empty.ci is None and empty.value != empty.value  # nan
    for v in svp.VALIDATION:
        assert v.control_model == "tinythinker" and v.arms[0].model == "tinythinker"
        assert "planted_labels=sparse" in v.settings["cpu"]


def test_validation_checks_k1_and_the_claims_k16_at_every_tier():
    """Per tier (scale 0.5, 0.02, 0.01) and k in (1, 16): accuracy, then SAE minus residual. Only
    the strong plant has a known accuracy (1); the weaker tiers declare a side only."""
    from starter.models import get_spec

    assert len(svp.VALIDATION) == 12 and svp.Config().claim_k == 16
    blocks = iter(svp.VALIDATION)
    for suffix, scale in svp.SPARSE_TIERS:
        model = f"tinythinker-plant-sparse{suffix}"
        assert get_spec(model).planted.scale == scale
        for k in (1, 16):
            accuracy, gap = next(blocks), next(blocks)
            assert f"k={k}" in accuracy.quantity and f"k={k}" in gap.quantity
            assert f"scale {scale:g})" in accuracy.quantity
            assert [(a.model, a.planted) for a in accuracy.arms] == [
                ("tinythinker", 0.5), (model, 1.0 if not suffix else None)]
            assert [(a.model, a.planted) for a in gap.arms] == [("tinythinker", 0.0), (model, None)]
            assert accuracy.settings == gap.settings == svp.VALIDATION_SETTINGS
    out = [r for r in rows() if r.get("property") != "a" or r["kind"] == "items"]
    out = [dict(r, unit="items:planted", property="planted") if r.get("kind") == "items"
           and r["property"] == "a" else r for r in out]
    out += [probe("planted", "sae-k1", HALF), probe("planted", "sae-k4", ALL)]
    out += [probe("planted", m, HALF) for m in ("resid-k1", "resid-k4", "resid-dense", "text",
                                                 "token")]
    m = svp.analyse(out)
    assert svp.measure_planted_accuracy(m, 4).value == pytest.approx(1.0)
    assert svp.measure_planted_gap(m, 4).value == pytest.approx(0.5)
    assert svp.measure_planted_k1(m).value == pytest.approx(0.5)
    assert np.isnan(svp.measure_planted_k16(m).value), "no k=16 rows: nothing measured"


def test_planted_description_says_whether_this_model_writes_the_rule():
    from types import SimpleNamespace

    from starter.models import get_spec
    from starter.organism.planted import get_feature

    rule = get_feature("sparse")
    faint = SimpleNamespace(spec=get_spec("tinythinker-plant-sparse-faint"))
    assert "written as +u after layer 2 at scale 0.01" in svp.planted_description(rule, faint)
    base = SimpleNamespace(spec=get_spec("tinythinker"))
    assert "nothing planted on this model" in svp.planted_description(rule, base)


def test_planted_labels_must_name_a_planted_feature():
    pytest.importorskip("starter.organism.planted")
    assert svp.Config(n_problems=8, planted_labels="sparse").planted_labels == "sparse"
    with pytest.raises(UsageError, match="planted_labels='dense'"):
        svp.Config(n_problems=8, planted_labels="dense")


def test_planted_labels_line_up_with_the_plant_at_the_layer_read():
    """On tinythinker-plant-sparse the 'planted' sites' labels are the plant's own rule on the ids
    the residuals are read at: at layer 2 (the plant's and the starter's) the residual's
    projection on the plant direction u separates label 1 from label 0 by many standard
    deviations; the same labels moved one token later do not."""
    from starter.models import load_model
    from starter.organism import planted

    lm = load_model("tinythinker-plant-sparse", device="cpu")
    cfg = svp.Config(n_problems=16)
    feature = svp.planted_rule(cfg, lm)
    layer = lm.spec.layers_of_interest[-1]
    assert feature.name == "sparse" and feature.layer == layer == 2
    chains = svp.organism_chains(cfg)
    sites, ids = svp.find_sites(lm, chains)
    mine = svp.planted_sites(feature, sites, ids)
    assert len(mine) == sum(s.prop == "on_path" for s in sites)
    assert 0 < sum(s.label for s in mine) < len(mine) / 5, "about 4% of tokens"
    by_chain = [[s.position for s in mine if s.chain == c] for c in range(len(chains))]
    resid = svp.cache_resid(lm, [c.text for c in chains], by_chain, [layer])[layer].numpy()
    proj = resid @ planted.directions(feature, lm.d_model)[0]
    y = np.array([s.label for s in mine])
    assert proj[y == 1].mean() - proj[y == 0].mean() > 3 * proj[y == 0].std()
    later = np.roll(y, 1)  # each label on the next site (mostly the next token), unplanted ones
    moved, rest = (later == 1) & (y == 0), (later == 0) & (y == 0)
    assert abs(proj[moved].mean() - proj[rest].mean()) < proj[y == 0].std()


def test_run_keeps_planted_sites_in_the_rows_cache_resid_returns(tmp_path):
    """The starter's own run on the planted model, tiny: the dense residual probe reads the
    planted sparse feature (every residual row belongs to its site: sites stay chain by chain)."""
    from starter.experiment import Context
    from starter.models import load_model
    from starter.results import RunStore

    lm = load_model("tinythinker-plant-sparse", device="cpu")
    cfg = svp.Config(model="tinythinker-plant-sparse", n_problems=24, dict_size=64, sae_k=4,
                     steps=20, probe_steps=100, ks=(1,), claim_k=1)
    store = RunStore.open(tmp_path / "run", config=cfg.to_dict(), model=cfg.model, device="cpu")
    svp.run(Context(cfg=cfg, store=store, model=lm, preset="smoke"))
    m = svp.analyse(store.rows())
    assert "planted" in m.properties
    assert m.accuracy["planted"]["resid-dense"].value > 0.9


def test_numeric_features_read_the_numbers_the_text_shows_by_hand():
    """Target 31, trace 'Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. ...': at the
    second 'Miss.' the reader sees the state (152, 4), the last try 152/4=38 (op index 3), two
    tries and two misses since the state; differences and ratios with 31 by hand."""
    trace = make_trace(search((8, 19, 4), 31))
    lm = SimpleNamespace(tokenizer=build_tokenizer(), add_special_tokens=True)
    sites, _ = svp.find_sites(lm, [svp.organism_chain(trace, "p")])
    misses = [s for s in sites if s.prop == "backtrack_next"]
    got = dict(zip(svp.NUMERIC_COLUMNS, svp.numeric_features(misses[1])))
    assert got["target"] == 31 and (got["left_a"], got["left_b"]) == (152, 4)
    assert (got["try_x"], got["try_op"], got["try_y"], got["try_z"]) == (152, 3, 4, 38)
    assert (got["tries"], got["misses"], got["step_kind"]) == (2, 2, 2)  # kind 2: "Miss."
    assert got["try_z-target"] == 7 and got["left_a-target"] == 121
    assert got["try_z/target"] == pytest.approx(38 / 31)
    reach = [s for s in sites if s.prop == "reachable"]
    first = dict(zip(svp.NUMERIC_COLUMNS, svp.numeric_features(reach[1])))
    assert (first["left_a"], first["left_b"], first["tries"], first["step_kind"]) == (27, 4, 0, 0)
    assert np.isnan(first["try_x"]) and np.isnan(first["try_z-target"]), "no try yet"
    no_target = svp.Site("on_path", 0, "p", 0, 1, 1, "Try", "")
    assert all(np.isnan(v) for v in svp.numeric_features(no_target)[:7])


def test_a_numeric_reader_above_the_bag_of_words_becomes_the_text_rung():
    """The numeric reader reads 14/16 and the bag of words 8/16: the SAE-vs-text claim compares
    SAE k=4 (30/32) with the numeric reader, 30/32 - 14/16 = 1/16, and Read first says so."""
    m = svp.analyse(rows() + [probe("a", "numeric", MOST), probe("a", "rule", ALL)])
    assert list(m.text_ladder["a"]) == ["text", "numeric", "token", "trivial"]
    assert m.text_strongest["a"] == "numeric"
    vs_text = svp.claims(m)[1]
    assert vs_text.control.name == f"strongest text rung: {svp.NUMERIC_NAME}"
    assert vs_text.difference.value == pytest.approx(30 / 32 - 14 / 16)
    assert m.sae_minus_text["a"].value == pytest.approx(30 / 32 - 0.5), "bag of words kept"
    text = svp.findings(m)
    assert "Where the numeric reader is the strongest text rung" in text
    assert "`a` 0.44" in text


def test_the_numeric_reader_learns_a_non_threshold_rule_on_held_out_items():
    x = np.array([[float(i % 8), float(i)] for i in range(160)])
    y = np.array([int(v in (2.0, 5.0)) for v in x[:, 0]])
    called = svp.numeric_reader(x[:120], y[:120], x[120:], seed=0)
    assert (called == y[120:]).all()
    assert svp.numeric_reader(x[:4], np.zeros(4, int), x[4:6], seed=0).tolist() == [0, 0]


def test_a_text_rung_equal_to_the_ceiling_gives_no_claim_and_residual_rungs_are_paired():
    """Review s17: a numeric reader right on exactly the rule's items (16/16) is the ceiling again,
    so its SAE-vs-text claim is dropped (out of Holm); the residual probes minus it are paired:
    resid-dense 14/16 - 1 = -1/8, resid-k4 8/16 - 1 = -1/2."""
    m = svp.analyse(rows() + [probe("a", "rule", ALL), probe("a", "numeric", ALL)])
    assert m.text_strongest["a"] == "numeric" and m.text_at_ceiling == {"a": "numeric"}
    gaps = m.rungs_minus_text_strongest["a"]
    assert gaps["resid-dense"].value == pytest.approx(-1 / 8)
    assert gaps["resid-k4"].value == pytest.approx(-1 / 2)
    assert [c.key for c in svp.claims(m)] == ["sae-vs-resid-a", "pipeline"]
    assert "not a claim: the numeric reader's hits equal the ceiling's" in svp.findings(m)


def test_the_primary_scope_names_the_residual_rungs_and_r1():
    """The primary's paragraph: residual rungs minus the numeric reader (16/16 on 'reachable'),
    the SAE-specific comparison, the text bound, and that `reachable` has no R1 counterpart."""
    out = [dict(r, property="reachable") if r.get("property") == "a" else r for r in rows()]
    out += [probe("reachable", "numeric", ALL),
            dict(items("reachable"), n_test_before=20, n_test_problems_before=8,
                 n_held_out_problems=9)]
    out = [r for r in out if not (r.get("kind") == "items" and r["property"] == "reachable"
                                  and "n_test_before" not in r)]
    m = svp.analyse(out)
    note = svp.text_ladder_note(m)
    assert "resid-dense -0.12 [" in note and "resid-k4 -0.50 [" in note
    # resid-dense's interval reaches 0 (one problem carries its misses): no "not specific" line
    assert "not specific to SAEs" not in note and "(`sae-vs-resid-reachable`)" in note
    assert "bounded by how strong a text reader one builds" in note
    assert "the primary has no R1 counterpart" in note
    assert ("Kept 16 of 20 held-out items (class balancing); of 9 held-out problems, 1 have no "
            "`reachable` site and 0 lost all their items to balancing.") in svp.findings(m)
