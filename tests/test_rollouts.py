"""Batched sampling on a tiny random Llama (fast) and, once, on the embedded SmolLM2 (slow)."""

from __future__ import annotations

import pytest
import torch

from starter.errors import UsageError
from starter.rollouts import (
    Completion,
    SamplingConfig,
    _completion,
    resample_from_prefix,
    resample_prefixes,
    sample,
)

CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 .,:;?!+-*/=()<>{}\\\n"
PROMPTS = ["Numbers: 8 19 4. Target: 31. <think>", "What is 2+3?", "hi"]  # different lengths: padding


def _tiny_folder(folder) -> None:
    """A 2-layer random Llama with a one-character-per-token tokenizer, saved like a real checkpoint."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<bos>", "<eos>", "<unk>", *CHARS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # every character is a token
    core.decoder = decoders.Fuse()  # and decoding joins them back without spaces
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>",
                                        pad_token="<pad>", unk_token="<unk>")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from starter.models import load_model

    torch.set_num_threads(2)
    folder = tmp_path_factory.mktemp("tiny-llama")
    _tiny_folder(folder)
    return load_model(str(folder), device="cpu")


def _hooks_left(lm) -> int:
    return sum(len(hp.fwd_hooks) for hp in lm.bridge.hook_dict.values())


def test_docstring_examples_run():
    import doctest

    import starter.rollouts

    assert doctest.testmod(starter.rollouts).failed == 0, "an example in starter/rollouts.py is out of date"


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, named", [
    (dict(temperature=-1), "temperature=-1"),
    (dict(top_p=0), "top_p=0"),
    (dict(max_new_tokens=0), "max_new_tokens=0"),
    (dict(batch_size=2.5), "batch_size=2.5"),
    (dict(stop_strings=[""]), "stop_strings"),
])
def test_bad_sampling_settings_are_named(bad, named):
    with pytest.raises(UsageError, match=named.replace("(", r"\(").replace("*", r"\*")):
        SamplingConfig(**bad)


def test_stop_strings_accept_a_list():
    assert SamplingConfig(stop_strings=["</think>"]).stop_strings == ("</think>",)


# --- trimming a generated row ---------------------------------------------------------------------


class _CharTokenizer:
    """decode() for ids 0..: 0 = <pad>, 1 = <eos>, others = CHARS[id - 2]."""

    def decode(self, ids, skip_special_tokens=False):
        return "".join({0: "<pad>", 1: "<eos>"}.get(i) or CHARS[i - 2] for i in ids)


def _ids(text: str) -> list[int]:
    return [CHARS.index(c) + 2 for c in text]


def test_completion_trimming():
    tok, eos = _CharTokenizer(), [1]
    ran_out = _completion(tok, _ids("abc"), eos, ())
    assert (ran_out.text, ran_out.n_new_tokens, ran_out.finished) == ("abc", 3, False)
    ended = _completion(tok, _ids("abc") + [1, 0, 0], eos, ())
    assert (ended.text, ended.token_ids[-1], ended.n_new_tokens, ended.finished) == ("abc", 1, 4, True), \
        "an EOS ends the completion; it is counted as a token but not written into the text"
    stopped = _completion(tok, _ids("ab</think>cd") + [0, 0], eos, ("</think>",))
    assert (stopped.text, stopped.n_new_tokens, stopped.finished) == ("ab</think>", 10, True)
    padded_with_eos = _completion(tok, _ids("x.y") + [1, 1], eos, (".",))
    assert (padded_with_eos.text, padded_with_eos.n_new_tokens) == ("x.", 2), \
        "when pad == EOS, padding after a stop string must not count as generated"


# --- sampling on the tiny model -------------------------------------------------------------------


def test_shapes_indices_and_text(tiny):
    cfg = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=12, batch_size=5, seed=1)
    runs = sample(tiny, PROMPTS, n=4, cfg=cfg, progress=False)  # 12 sequences in batches of 5
    assert [len(r) for r in runs] == [4, 4, 4]
    for p, row in enumerate(runs):
        for s, c in enumerate(row):
            assert isinstance(c, Completion) and (c.prompt_index, c.sample_index) == (p, s)
            assert 1 <= c.n_new_tokens == len(c.token_ids) <= 12
            body = [t for t in c.token_ids if t != tiny.tokenizer.eos_token_id]
            assert c.text == tiny.tokenizer.decode(body), "text must be exactly the new tokens, decoded"
            assert c.finished == (c.n_new_tokens < 12 or c.token_ids[-1] == tiny.tokenizer.eos_token_id)


def test_seeded_sampling_is_reproducible_and_leaves_global_rng_alone(tiny):
    cfg = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=10, batch_size=4, seed=7)
    state = torch.get_rng_state()
    first = sample(tiny, PROMPTS, n=3, cfg=cfg, progress=False)
    assert torch.equal(state, torch.get_rng_state()), "sample() must not advance the caller's RNG"
    torch.manual_seed(12345)  # the caller's global seed must not matter either
    again = sample(tiny, PROMPTS, n=3, cfg=cfg, progress=False)
    other = sample(tiny, PROMPTS, n=3, cfg=SamplingConfig(**{**cfg.__dict__, "seed": 8}), progress=False)
    texts = lambda runs: [[c.text for c in row] for row in runs]  # noqa: E731
    assert texts(first) == texts(again), "same seed, same prompts, same config -> same completions"
    assert texts(first) != texts(other), "a different seed should give different samples"
    assert len({c.text for c in first[0]}) > 1, "samples of one prompt should differ at temperature 1"


def test_greedy_batched_equals_one_at_a_time(tiny):
    """Left padding + attention mask: a prompt's greedy completion must not depend on its batch-mates."""
    cfg = SamplingConfig(temperature=0, max_new_tokens=15, batch_size=8)
    batched = sample(tiny, PROMPTS, n=2, cfg=cfg, progress=False)
    for p, prompt in enumerate(PROMPTS):
        alone = sample(tiny, [prompt], n=1, cfg=cfg, progress=False)[0][0]
        assert batched[p][0].token_ids == alone.token_ids, f"prompt {p} changed when batched (padding bug?)"
        assert batched[p][1].text == batched[p][0].text and batched[p][1].sample_index == 1


def test_stop_string_ends_a_completion(tiny):
    greedy = SamplingConfig(temperature=0, max_new_tokens=40)
    full = sample(tiny, [PROMPTS[0]], n=1, cfg=greedy, progress=False)[0][0].text
    stop = full[8:10]  # two characters the model writes anyway; stop at their first occurrence
    cut = full[: full.index(stop) + len(stop)]
    got = sample(tiny, [PROMPTS[0]], n=1, cfg=SamplingConfig(temperature=0, max_new_tokens=40,
                                                              stop_strings=(stop,)), progress=False)[0][0]
    assert got.text == cut and got.finished, f"expected the text up to the stop string {stop!r}"
    assert got.n_new_tokens == len(cut), "one token per character: the count must match the text"


def test_resample_from_a_prefix_continues_the_chain(tiny):
    cfg = SamplingConfig(temperature=0, max_new_tokens=30)
    full = sample(tiny, [PROMPTS[1]], n=1, cfg=cfg, progress=False)[0][0].text
    prefix = full[:12]
    rest = resample_from_prefix(tiny, PROMPTS[1], prefix, n=2, cfg=cfg, progress=False)
    assert len(rest) == 2 and full.startswith(prefix + rest[0].text[:18]), \
        "greedy continuation of a greedy prefix must reproduce the original chain"
    many = resample_prefixes(tiny, PROMPTS[1], [full[:4], full[:8]], n=3,
                             cfg=SamplingConfig(temperature=1.0, max_new_tokens=8, batch_size=4), progress=False)
    assert [len(r) for r in many] == [3, 3] and [r[0].prompt_index for r in many] == [0, 1]
    with pytest.raises(UsageError, match="list of strings"):
        resample_prefixes(tiny, PROMPTS[1], "one prefix", n=1, cfg=cfg)


def test_hooks_fire_change_the_output_and_are_removed(tiny):
    cfg = SamplingConfig(temperature=0, max_new_tokens=10)
    before = sample(tiny, PROMPTS[:2], n=1, cfg=cfg, progress=False)
    calls = []

    def zero_resid(resid, hook):  # resid: [batch, pos, d_model]
        calls.append(resid.shape[1])
        return torch.zeros_like(resid)

    steered = sample(tiny, PROMPTS[:2], n=1, cfg=cfg, hooks=[("blocks.1.hook_resid_post", zero_resid)],
                     progress=False)
    assert calls and calls[0] > 1 and set(calls[1:]) == {1}, "the hook runs on the prompt, then per new token"
    assert [r[0].text for r in steered] != [r[0].text for r in before], "zeroing the residual must change output"
    assert _hooks_left(tiny) == 0, "hooks must be removed after sample() returns"
    after = sample(tiny, PROMPTS[:2], n=1, cfg=cfg, progress=False)
    assert [r[0].text for r in after] == [r[0].text for r in before]


def test_hooks_are_removed_when_generation_fails(tiny):
    def broken(resid, hook):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        sample(tiny, PROMPTS[:1], n=1, cfg=SamplingConfig(max_new_tokens=3),
               hooks=[("blocks.0.hook_resid_post", broken)], progress=False)
    assert _hooks_left(tiny) == 0, "a failing hook must not stay attached"


def test_unknown_hook_name_suggests_the_right_one(tiny):
    with pytest.raises(UsageError, match="did you mean blocks.1.hook_resid_post"):
        sample(tiny, PROMPTS[:1], n=1, hooks=[("blocks.1.hook_resid_pots", lambda x, hook: x)], progress=False)


def test_bad_arguments(tiny):
    with pytest.raises(UsageError, match="list of strings"):
        sample(tiny, "just one prompt", n=1)
    with pytest.raises(UsageError, match="n=0"):
        sample(tiny, PROMPTS, n=0)


# --- the embedded SmolLM2, once -------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_batched_sampling_is_consistent():
    from starter.models import load_model

    torch.set_num_threads(2)
    lm = load_model("smollm2-135m", device="cpu")
    prompts = [lm.prompt(q) for q in ("What is 2+3?", "What is 12 times 4?", "Name a colour.")]
    greedy = SamplingConfig(temperature=0, max_new_tokens=16, batch_size=8)
    batched = sample(lm, prompts, n=1, cfg=greedy, progress=False)
    for p, prompt in enumerate(prompts):
        alone = sample(lm, [prompt], n=1, cfg=greedy, progress=False)[0][0]
        assert batched[p][0].text == alone.text, f"SmolLM2 greedy output changed when batched: prompt {p}"
    assert "<|im_end|>" not in batched[0][0].text and batched[0][0].text.strip(), "text should be new words only"
    cfg = SamplingConfig(temperature=0.8, max_new_tokens=24, batch_size=8, seed=0, stop_strings=(".",))
    runs = sample(lm, prompts[:1], n=6, cfg=cfg, progress=False)[0]
    assert all(c.finished == c.text.endswith(".") for c in runs if c.n_new_tokens < 24)
    assert len({c.text for c in runs}) > 1, "six samples at temperature 0.8 should not all be identical"
