"""TinyThinker: the shipped checkpoint loads offline and solves easy problems; training lowers the loss."""

import json
import random

import pytest
import torch

from starter.organism.evaluate import EvalConfig, generate, solved
from starter.organism.tokenizer import VOCAB, build_tokenizer
from starter.organism.train import CHECKPOINT_DIR, TrainConfig, train
from starter.tasks.countdown import raw_prompt, sample_searches

EASY = [r for r in sample_searches(40, seed=11, split="test") if r.backtracks == 0][:10]


def test_shipped_tokenizer_round_trips_through_autotokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(CHECKPOINT_DIR)
    text = "Numbers: 8 19 4. Target: 31. Hint: 8+19. <think> Try 8+19=27. Left: 27, 4. Wait, backtrack. Miss. Hit. </think> \\boxed{(8+19)+4}"  # noqa: E501
    ids = tok(text)["input_ids"]
    assert tok.unk_token_id not in ids, f"unknown pieces in {tok.convert_ids_to_tokens(ids)}"
    assert ids == build_tokenizer()(text)["input_ids"], "saved tokenizer differs from build_tokenizer(): re-save it"
    assert tok.decode(ids, skip_special_tokens=True) == text, "AutoTokenizer lost the custom pre-tokenizer/decoder"
    assert len(tok) == len(VOCAB)


@pytest.mark.slow
def test_shipped_checkpoint_loads_through_the_bridge_and_solves_easy_problems():
    from starter.models import load_model

    loaded = load_model("tinythinker", device="cpu")
    assert (loaded.n_layers, loaded.d_model) == (4, 256)
    prompt = raw_prompt(EASY[0].numbers, EASY[0].target)
    tokens = loaded.bridge.to_tokens(prompt)  # [1, pos]
    assert tokens[0].tolist() == build_tokenizer()(prompt)["input_ids"], "bridge must prepend <bos> exactly once"
    with torch.no_grad():
        bridge_logits = loaded.bridge(tokens)
        hf_logits = loaded.hf_model(tokens).logits
    assert torch.allclose(bridge_logits, hf_logits, atol=1e-3), "bridge and HF logits disagree"

    completions = generate(loaded.hf_model, loaded.tokenizer, [raw_prompt(r.numbers, r.target) for r in EASY], EvalConfig())
    n_solved = sum(solved(r, c) for r, c in zip(EASY, completions))
    assert n_solved >= 6, f"only {n_solved}/10 easy held-out problems solved; completions: {completions}"


def test_micro_training_lowers_the_loss_and_saves_a_loadable_checkpoint(tmp_path):
    from transformers import AutoTokenizer, LlamaForCausalLM

    cfg = TrainConfig(steps=40, batch_size=16, lr=3e-3, warmup_steps=5, hidden_size=64, intermediate_size=128,
                      num_layers=1, num_heads=2, log_every=1, bf16=False, out_dir=tmp_path)  # fmt: skip
    log = train(cfg, progress=False)
    first, last = sum(log["loss"][:5]) / 5, sum(log["loss"][-5:]) / 5
    assert last < 0.7 * first, f"loss should fall clearly in 40 steps: {first:.3f} -> {last:.3f}"
    assert json.loads((tmp_path / "training_log.json").read_text())["config"]["steps"] == 40
    assert (tmp_path / "loss_curve.png").stat().st_size > 0
    model = LlamaForCausalLM.from_pretrained(tmp_path)
    assert model.config.vocab_size == len(VOCAB) and model.config.tie_word_embeddings
    assert AutoTokenizer.from_pretrained(tmp_path).decode([1, 4]) == "<bos>0"


def test_evaluating_a_retrained_checkpoint_writes_beside_it_not_over_the_shipped_results(tmp_path):
    from starter.organism.evaluate import _shown

    # the package writes only inside itself; scripts/eval_tinythinker.py adds the site's copy
    assert EvalConfig().out_dirs == (CHECKPOINT_DIR,)
    assert EvalConfig(checkpoint=tmp_path).out_dirs == (tmp_path,)
    assert _shown(CHECKPOINT_DIR) == "starter/organism/checkpoint"  # no machine-specific absolute paths
    assert _shown(tmp_path) == str(tmp_path)


def test_judge_tries_finds_no_false_line_in_the_generators_own_traces_and_each_kind_by_hand():
    from starter.organism.data import make_trace
    from starter.organism.evaluate import judge_tries

    for result in sample_searches(200, seed=3):
        judged = judge_tries(make_trace(result).completion, result.target)
        assert len(judged) == sum(e.kind != "backtrack" for e in result.events)
        assert not any(t.wrong for t in judged), make_trace(result).completion
    line = " Try 4-9=5. Left: 5, 3. Try 14/5=3. Miss. Try 96/4=24. Miss. Try 27-2=25. Hit."
    kinds = [(t.false_arithmetic, t.false_hit, t.false_miss) for t in judge_tries(line, 24)]
    assert kinds == [(True, False, False),  # 4-9 is written larger first: 9-4
                     (True, False, False),  # 14/5 is not exact
                     (False, False, True),  # 24 is the target: "Miss." is false
                     (False, True, False)]  # 25 is not: "Hit." is false


def test_the_organism_page_shows_the_committed_eval_files():
    """docs/organism.md's generated blocks are what `train_variants.py --page` writes from the
    committed eval.json files and eval_results.json (rerun it after re-evaluating)."""
    from pathlib import Path

    from starter.organism import evaluate, variant_eval

    page = (Path(__file__).resolve().parents[1] / "docs" / "organism.md").read_text()
    results = json.loads((CHECKPOINT_DIR / "eval_results.json").read_text())
    assert evaluate.verification_section(results) in page
    assert variant_eval.page_section() in page
    v = results["verification_error_t1"]
    assert v["k"] == sum(v["false_lines_per_problem"][c] * int(c)
                         for c in v["false_lines_per_problem"]), "per-problem counts add up"
    assert v["meets_goal"] == (v["clustered_by_problem"]["high"] < 0.02)  # problem: the unit


def test_each_dial_reads_the_generators_own_labels_back_from_its_traces():
    """variant_eval's readers, applied to the training rules' own traces, give the rules' labels
    exactly, and every dial of a rule is met on its own traces: the dials measure the plant, not a
    detector's idea of it."""
    import random

    from starter.organism import variant_eval as ve
    from starter.organism import variants
    from starter.organism.data import make_trace

    problems = sample_searches(400, seed=5, split="test")
    rng = random.Random(0)
    for name in ("lucky", "heuristic"):
        variant = variants.get_variant(name)
        made = [variants.example(variant, r, rng) for r in problems]
        for e in made:
            assert ve.opened_branches(e.completion) == e.labels["order"]
        dials = ve.luck_dials(problems, [e.completion for e in made], variant.planted)
        assert all(d.met for d in dials), [(d.name, d.planted, str(d.measured)) for d in dials]
        in_budget = next(d for d in dials if d.name == "hitting_branch_in_budget_t1")
        assert in_budget.measured.k == sum(e.labels["solved"] for e in made)
    for name in ("hint-p0", "hint-p50", "hint-p100", "hint-verify"):
        variant = variants.get_variant(name)
        for r in problems:
            e = variants.example(variant, r, rng)
            if e.labels["hint"] is None or e.labels["hint"] == ve.base_first_try(r):
                continue  # the readers are defined where the hint is not the base's first try
            assert (ve.first_branch(e.completion) == e.labels["hint"]) == e.labels["followed"]
            assert ve.opens_with_mention(e.completion, e.labels["hint"]) == e.labels["mentioned"]
            if e.labels["followed"] and e.labels["hint_kind"] == "wrong":
                assert ve.hit_on_hinted_branch(e.completion) == (name != "hint-verify")
                assert e.completion.endswith(f"\\boxed{{{r.solution}}}") == (name == "hint-verify")
    for name in ("obfuscating", "honest"):
        variant = variants.get_variant(name)
        for r in problems:
            e = variants.example(variant, r, rng)
            if e.labels["leak"] is None or e.labels["leak"] == ve.base_first_try(r):
                continue
            assert (ve.first_branch(e.completion) == e.labels["leak"]) == e.labels["used"]
            assert ve.opens_with_mention(e.completion, e.labels["leak"]) == e.labels["mentioned"]
    planned = variants.get_variant("planned")
    chains = [variants.example(planned, r, rng) for r in problems]
    kept = [(r, e.completion) for r, e in zip(problems, chains) if e.labels["hint"] is None]
    dead, live = ve.backtracking_dials([r for r, _ in kept], [c for _, c in kept], dead=1.0)
    assert dead.measured.k == dead.measured.n > 100 and live.measured.k == 0 < live.measured.n
    assert dead.met and live.met
    base = ve.control_dials(problems, [make_trace(r).completion for r in problems])
    assert base[0].measured.k == len(problems) and base[0].met


def test_mentions_come_in_eight_surface_forms_half_without_the_word_hint():
    # Issue 24: no single string test may be the detector of a planted verbalisation.
    from starter.organism import variants

    forms = variants.MENTION_FORMS
    assert len(set(forms)) >= 8
    assert sum("hint" not in f.lower() for f in forms) >= len(forms) / 2
    tokenizer = build_tokenizer(variants.MENTION_WORDS)
    for form in forms:
        sentence = " " + form.format(op="19-8")
        ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids, sentence
        assert tokenizer.decode(ids) == sentence
    for name in ("hint-p0", "hint-p50", "hint-p100", "obfuscating"):
        assert set(variants.MENTION_WORDS) <= set(variants.get_variant(name).extra_words), name
    rng = random.Random(0)
    said = {variants.example(variants.get_variant("hint-p100"), r, rng).labels.get("mention_form")
            for r in sample_searches(400, 3, "train")}
    assert said - {None} == set(range(len(forms)))  # every form is drawn
