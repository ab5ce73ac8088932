"""The R1-shaped test models.

r1-shaped's config equals R1-Distill-Qwen-1.5B's (checked without building weights); r1-shaped-tiny
loads through load_model on CPU with R1's prompt format, generates and hooks like any model; the
shipped tokenizer is what starter.r1_shaped builds."""

from __future__ import annotations

import doctest
import json

import pytest
import torch

from starter import cot, models, r1_shaped
from starter.models import architecture_config, get_spec, load_model

# deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B's config.json (architecture fields), copied here as the
# reference the registry entry must match.
REAL_CONFIG = {
    "model_type": "qwen2", "num_hidden_layers": 28, "hidden_size": 1536, "intermediate_size": 8960,
    "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
    "hidden_act": "silu", "use_sliding_window": False, "sliding_window": None,
}
QUESTION = "What is 2+3?"


def test_doctests_in_r1_shaped_run():
    failed = doctest.testmod(r1_shaped).failed
    assert failed == 0, "a >>> example in starter/r1_shaped.py is out of date"


def test_r1_shaped_config_is_r1_distill_qwen_1_5b_without_building_weights():
    config = architecture_config(get_spec("r1-shaped"))  # a config object only: no weights
    got = {key: getattr(config, key) for key in REAL_CONFIG}
    assert got == REAL_CONFIG, "models.yaml's r1-shaped architecture drifted from R1-distill's"
    assert config.rope_parameters["rope_theta"] == 10000.0
    assert config.hidden_size // config.num_attention_heads == 128, "head_dim"
    assert get_spec("r1-shaped").architecture == get_spec("r1-qwen-1.5b").architecture, (
        "r1-shaped must have the hub entry's architecture (one YAML anchor in models.yaml)")


def test_r1_shaped_parameter_count_on_the_meta_device():
    """Build the full-size module tree on the meta device (no memory) and count its parameters."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(architecture_config(get_spec("r1-shaped")))
    d, ff, vocab, layers, kv = 1536, 8960, 151936, 28, 256  # kv: 2 KV heads x 128
    # q, k, v (with bias), o, the MLP's three matrices, two norms
    per_layer = (d * d + d) + 2 * (d * kv + kv) + d * d + 3 * d * ff + 2 * d
    expected = layers * per_layer + d + 2 * vocab * d  # final norm, embedding, untied unembedding
    assert sum(p.numel() for p in model.parameters()) == expected == 1_777_088_000
    assert type(model).__name__ == "Qwen2ForCausalLM"


def test_registry_entries_speak_r1():
    for name in ("r1-shaped", "r1-shaped-tiny"):
        spec = get_spec(name)
        facts = (spec.source, spec.prompt_format, spec.thinking, spec.offline)
        assert facts == ("random-init", "r1", True, True)
        assert models.weights_status(spec).present
    assert models.validate_model_name("r1-shaped").name == "r1-shaped"


def test_tiny_vocab_is_the_tokenizer_and_other_fields_are_r1s():
    tiny = get_spec("r1-shaped-tiny").architecture
    full = get_spec("r1-shaped").architecture
    assert tiny["vocab_size"] == len(r1_shaped.load_tokenizer())
    widths = ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
              "num_key_value_heads", "vocab_size")
    same = {k for k in full if k not in widths}
    assert {k: tiny[k] for k in same} == {k: full[k] for k in same}


def test_shipped_tokenizer_is_what_the_recipe_builds(tmp_path):
    written = r1_shaped.write_tokenizer(tmp_path)
    for path in written:
        shipped = r1_shaped.TOKENIZER_DIR / path.name
        assert json.loads(path.read_text()) == json.loads(shipped.read_text()), (
            f"{shipped} differs from the recipe: run `python -m starter.r1_shaped` and commit it")
    names = {p.name for p in written}
    assert names == {"tokenizer.json", "tokenizer_config.json"}, "only files package data ships"


def test_tokenizer_carries_r1s_tokens_and_flags():
    tokenizer = r1_shaped.load_tokenizer()
    for token in r1_shaped.R1_ADDED_TOKENS:
        ids = tokenizer(token.content, add_special_tokens=False).input_ids
        assert len(ids) == 1, f"{token.content} must be one token, got {ids}"
        kept = tokenizer.decode(ids, skip_special_tokens=True) == token.content
        assert kept == (not token.special), f"{token.content}: special={token.special} as in R1"
    assert (tokenizer.bos_token, tokenizer.eos_token) == (r1_shaped.BOS, r1_shaped.EOS)
    first = tokenizer("2+3").input_ids[0]
    assert first == tokenizer.bos_token_id, "plain text gets BOS, as with R1-distill's tokenizer"


def test_chat_template_renders_a_conversation_as_r1_distill():
    tokenizer = r1_shaped.load_tokenizer()
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "1+1?"},
                {"role": "assistant", "content": "<think>\nEasy.\n</think>\n\n2"},
                {"role": "user", "content": "2+2?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == ("<｜begin▁of▁sentence｜>Be brief.<｜User｜>1+1?<｜Assistant｜>\n\n2"
                    "<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n"), (
        "R1-distill's template drops the thinking of past turns")


# ------------------------------------------------------------------------ r1-shaped-tiny, loaded


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be fetched
        return load_model("r1-shaped-tiny", device="cpu")


def test_tiny_loads_with_r1_prompt_format(tiny):
    assert (tiny.n_layers, tiny.d_model, tiny.dtype) == (2, 64, torch.float32)
    prompt = tiny.prompt(question=QUESTION)
    assert prompt == cot.build_prompt("r1", None, question=QUESTION), "R1's format via its template"
    assert prompt.startswith("<｜begin▁of▁sentence｜><｜User｜>What is 2+3?")
    assert prompt.endswith("<｜Assistant｜><think>\n")
    ids = tiny.encode(prompt).input_ids[0].tolist()
    assert ids.count(tiny.tokenizer.bos_token_id) == 1 and ids[0] == tiny.tokenizer.bos_token_id
    assert tiny.bridge.to_tokens(prompt)[0].tolist() == ids, "bridge.to_tokens must agree"


def test_tiny_weights_are_seeded_and_leave_the_global_rng_alone(tiny):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    again = load_model("r1-shaped-tiny", device="cpu")
    after = torch.rand(3)
    assert torch.equal(before, after), "loading a random-init model must leave the caller's RNG"
    pairs = zip(tiny.hf_model.named_parameters(), again.hf_model.named_parameters())
    for (name, a), (_, b) in pairs:
        assert torch.equal(a, b), f"{name} differs between two loads with the same init_seed"


def test_tiny_generates_a_few_tokens_greedy_and_batched(tiny):
    batch = tiny.encode([tiny.prompt(question=QUESTION), tiny.prompt(question="Tom has 12.")])
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tiny.tokenizer.pad_token_id)
    with torch.no_grad():
        out = tiny.hf_model.generate(**batch, **kwargs)
        again = tiny.hf_model.generate(**batch, **kwargs)
    width = batch.input_ids.shape[1]
    assert out.shape[0] == 2 and width < out.shape[1] <= width + 5
    assert torch.equal(out, again), "greedy decoding is deterministic"
    assert int(out[:, width:].max()) < len(tiny.tokenizer), "only tokens the tokenizer can write"


def test_tiny_bridge_hooks_fire_in_generate_and_go_away(tiny):
    batch = tiny.encode([tiny.prompt(question=QUESTION)])
    kwargs = dict(max_new_tokens=3, do_sample=False, pad_token_id=tiny.tokenizer.pad_token_id)
    shapes = []

    def record(resid, hook):  # resid: [batch, pos, d_model]
        shapes.append(tuple(resid.shape))
        return resid

    with torch.no_grad():
        with tiny.bridge.hooks(fwd_hooks=[("blocks.1.hook_resid_post", record)]):
            tiny.hf_model.generate(**batch, **kwargs)
        tiny.hf_model.generate(**batch, **kwargs)
    width = batch.input_ids.shape[1]
    assert shapes == [(1, width, 64), (1, 1, 64), (1, 1, 64)], f"one call per step, got {shapes}"
    _, cache = tiny.bridge.run_with_cache(batch.input_ids)
    assert cache["blocks.0.hook_resid_post"].shape == (1, width, 64)


def test_unused_embedding_rows_are_zero_in_a_wider_vocab(monkeypatch):
    """The full model has 151,936 rows for ~700 tokens: rows past the tokenizer are zeroed."""
    spec = get_spec("r1-shaped-tiny")
    wide = dict(spec.architecture, vocab_size=1000)
    monkeypatch.setattr(models, "_registry", lambda: {"wide": models.ModelSpec(
        **{**spec.__dict__, "name": "wide", "architecture": wide})})
    lm = load_model("wide", device="cpu")
    used = len(lm.tokenizer)
    rows = lm.hf_model.get_output_embeddings().weight  # [vocab, d_model]
    assert rows.shape[0] == 1000 and rows[used:].abs().sum() == 0 and rows[:used].abs().sum() > 0
    assert lm.hf_model.get_input_embeddings().weight[used:].abs().sum() == 0
