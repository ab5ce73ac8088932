"""TinyThinker: the shipped checkpoint loads offline and solves easy problems; training lowers the loss."""

import json

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
