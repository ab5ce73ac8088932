"""Batched sampling on a tiny random Llama (fast) and, once, on the embedded SmolLM2 (slow)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import pytest
import torch

from starter.errors import UsageError
from starter.rollouts import (
    Completion,
    GumbelSampler,
    SamplingConfig,
    gumbel_noise,
    sample,
    sequence_key,
)
from starter.sampling import completion_of

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
    ran_out = completion_of(tok, _ids("abc"), eos, ())
    assert (ran_out.text, ran_out.n_new_tokens, ran_out.finished) == ("abc", 3, False)
    ended = completion_of(tok, _ids("abc") + [1, 0, 0], eos, ())
    assert (ended.text, ended.token_ids[-1], ended.n_new_tokens, ended.finished) == ("abc", 1, 4, True), \
        "an EOS ends the completion; it is counted as a token but not written into the text"
    stopped = completion_of(tok, _ids("ab</think>cd") + [0, 0], eos, ("</think>",))
    assert (stopped.text, stopped.n_new_tokens, stopped.finished) == ("ab</think>", 10, True)
    padded_with_eos = completion_of(tok, _ids("x.y") + [1, 1], eos, (".",))
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


def _texts(runs) -> list[list[str]]:
    return [[c.text for c in row] for row in runs]


def test_a_sample_does_not_depend_on_its_batch(tiny):
    """Sample j of a prompt is keyed by (seed, prompt, j): alone, in another batch, at another
    position or under another batch_size it is the same text. This is what makes a resumed run equal
    an uninterrupted one."""
    cfg = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=12, batch_size=16, seed=3)
    together = _texts(sample(tiny, PROMPTS, n=3, cfg=cfg, progress=False))
    for batch_size in (1, 2, 5):
        small = SamplingConfig(**{**cfg.__dict__, "batch_size": batch_size})
        assert _texts(sample(tiny, PROMPTS, n=3, cfg=small, progress=False)) == together, \
            f"batch_size={batch_size} changed the samples: noise must not depend on the batch"
    backwards = _texts(sample(tiny, PROMPTS[::-1], n=3, cfg=cfg, progress=False))
    assert backwards[::-1] == together, "the order of prompts (batch position) changed the samples"
    alone = _texts(sample(tiny, [PROMPTS[1]], n=3, cfg=cfg, progress=False))
    assert alone[0] == together[1], "a prompt sampled alone must match the same prompt in a batch"
    assert len(set(together[0])) > 1, "a prompt's n samples must differ (one stream per sample)"


def test_the_same_prompt_twice_gets_the_same_samples(tiny):
    """The documented consequence of keying by prompt text: duplicates in one call are identical."""
    cfg = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=10, seed=0)
    first, second = _texts(sample(tiny, [PROMPTS[2], PROMPTS[2]], n=2, cfg=cfg, progress=False))
    assert first == second


def test_the_organism_samples_the_same_alone_and_batched():
    from starter.models import load_model

    torch.set_num_threads(2)
    lm = load_model("tinythinker", device="cpu")
    raw = ("Numbers: 7 19 2. Target: 24. <think>", "Numbers: 5 20 13. Target: 17. <think>")
    prompts = [lm.prompt(raw_prompt=r) for r in raw]
    cfg = SamplingConfig(temperature=1.0, top_p=0.95, max_new_tokens=40, batch_size=8, seed=0)
    batched = _texts(sample(lm, prompts, n=2, cfg=cfg, progress=False))
    for p, batch_size in enumerate((1, 3)):  # alone, one sequence at a time or in a smaller batch
        other = SamplingConfig(**{**cfg.__dict__, "batch_size": batch_size})
        assert _texts(sample(lm, [prompts[p]], n=2, cfg=other, progress=False))[0] == batched[p], \
            f"TinyThinker prompt {p}: samples changed between batch 8 and batch {batch_size}"


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
    from starter.prefixes import Prefix, resample

    cfg = SamplingConfig(temperature=0, max_new_tokens=30)
    full = sample(tiny, [PROMPTS[1]], n=1, cfg=cfg, progress=False)[0][0].text
    cut = Prefix(chain="c", k=1, n_steps=2, text=full[:12], tag=None, step_text=full[:12])
    rest = resample(tiny, [PROMPTS[1]], [cut], n=2, cfg=cfg)[0]
    assert len(rest) == 2 and full.startswith(cut.text + rest[0].text[:18]), \
        "greedy continuation of a greedy prefix must reproduce the original chain"
    with pytest.raises(UsageError, match="one prompt per prefix"):
        resample(tiny, [PROMPTS[1]], [cut, cut], n=1, cfg=cfg)


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


# --- the sampler itself: exact distribution, counter-based noise ----------------------------------


def _splitmix_reference(key: int, step: int, token: int) -> float:
    """gumbel_noise in plain Python integers (unbounded, masked to 64 bits): what the int64 torch
    ops must reproduce, wrap-around included."""
    import math

    mask, golden = 2**64 - 1, 0x9E3779B97F4A7C15

    def mix(z: int) -> int:
        z &= mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    stream = mix(key + (step + 1) * golden)
    uniform = ((mix(stream + (token + 1) * golden) >> 12) + 0.5) * 2.0**-52
    return -math.log(-math.log(uniform))


def test_gumbel_noise_matches_a_plain_integer_reference():
    keys = [sequence_key(s, "prompt", j) for s in (0, 2**62) for j in range(3)] + [0, 2**63 - 1]
    for step in (0, 7, 10_000):
        tokens = torch.tensor([0, 1, 151_000])
        got = gumbel_noise(torch.tensor(keys)[:, None], step, tokens[None, :])  # [keys, tokens]
        want = [[_splitmix_reference(k, step, t) for t in tokens.tolist()] for k in keys]
        assert got.tolist() == want, "int64 torch arithmetic disagrees with the 64-bit reference"


def test_gumbel_noise_has_the_gumbel_distribution():
    g = gumbel_noise(torch.tensor(sequence_key(0, "moments", 0)), 0, torch.arange(400_000))
    # standard Gumbel: mean = Euler-Mascheroni 0.5772, variance = pi^2 / 6 = 1.645 (n = 4e5)
    assert abs(g.mean().item() - 0.5772) < 0.01 and abs(g.var().item() - 1.6449) < 0.02
    assert -3.61 < g.min().item() and g.max().item() < 36.8


def _expected_top_p(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """softmax(logits / T) cut to the nucleus (HF's rule: drop the tail of mass <= 1 - top_p)."""
    probs = torch.softmax(logits / temperature, dim=-1)
    order = torch.argsort(probs)  # ascending
    tail = torch.cumsum(probs[order], dim=-1)
    keep = torch.ones_like(probs, dtype=torch.bool)
    keep[order[tail <= 1 - top_p]] = False
    return torch.where(keep, probs, 0.0) / probs[keep].sum()


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.6, 0.9), (1.5, 0.7)])
def test_the_sampler_draws_from_softmax_over_the_nucleus(temperature, top_p):
    """Empirical frequencies of 20,000 seeded rows vs softmax(logits/T) after the top-p cut.
    Tolerance 0.015 absolute: about 4 standard errors at n = 20,000 (sd <= 0.0036); the seed is
    fixed, so the test is deterministic."""
    n, logits = 20_000, torch.tensor([2.0, 1.5, 0.5, 0.0, -1.0, -3.0])
    expected = _expected_top_p(logits, temperature, top_p)
    keys = [sequence_key(11, "toy", j) for j in range(n)]
    sampler = GumbelSampler(keys, temperature, top_p, prompt_len=2)
    picks = [sampler(torch.zeros(n, 2 + step, dtype=torch.long), logits.repeat(n, 1)).argmax(-1)
             for step in range(2)]  # two generation steps
    for step, pick in enumerate(picks):
        freq = torch.bincount(pick, minlength=len(logits)) / n
        assert torch.allclose(freq, expected, atol=0.015), \
            f"step {step}: frequencies {freq.tolist()}, expected {expected.tolist()}"
        assert (freq[expected == 0] == 0).all(), "a token outside the nucleus was sampled"
    same = (picks[0] == picks[1]).float().mean().item()
    assert abs(same - (expected**2).sum().item()) < 0.015, "steps must draw independent noise"


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
    for c in runs:  # cut at the first stop string; unfinished only when the budget ran out
        assert "." not in c.text or (c.text.endswith(".") and c.text.count(".") == 1 and c.finished)
        assert c.finished or c.n_new_tokens == 24
    assert len({c.text for c in runs}) > 1, "six samples at temperature 0.8 should not all be identical"


# --- engines: the plain HF model (no hooks) vs the bridge -----------------------------------------

# Prompts of different lengths, so every batch is left-padded.
ORGANISM_RAW = ("Numbers: 7 19 2. Target: 24. <think>", "Numbers: 5 20 13 4. Target: 17. <think>",
                "Numbers: 3 3. Target: 9. <think>")
R1_QUESTIONS = ("What is 2+3?", "Compute 17 times 23, then add 5 and explain each step.", "Hi")


@pytest.fixture(scope="module", params=["tinythinker", "r1-shaped-tiny"])
def shipped(request):
    """(LoadedModel, padded prompts) for the organism and the R1-shaped tiny model (fp32, CPU)."""
    from starter.models import load_model

    torch.set_num_threads(2)
    lm = load_model(request.param, device="cpu")
    if lm.spec.prompt_format == "organism":
        prompts = [lm.prompt(raw_prompt=r) for r in ORGANISM_RAW]
    else:
        prompts = [lm.prompt(question=q) for q in R1_QUESTIONS]
    mask = lm.encode(prompts).attention_mask
    assert not bool(mask.all()), "the prompts must need padding"
    return lm, prompts


@contextmanager
def _forward_calls(module):
    """The list of forward calls of `module` inside the block (a torch hook on the root of the
    tree, not on a bridge hook point, so it does not count as an active hook)."""
    calls: list[int] = []
    handle = module.register_forward_hook(lambda *args: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


def test_greedy_is_the_same_on_the_plain_model_and_the_bridge(shipped):
    lm, prompts = shipped
    cfg = SamplingConfig(temperature=0, max_new_tokens=24, batch_size=8)
    with _forward_calls(lm.plain_model) as calls:
        plain = sample(lm, prompts, n=1, cfg=cfg, progress=False)
    assert calls, "with no hook active, engine='auto' must generate with plain_model"
    with _forward_calls(lm.plain_model) as calls:
        bridge = sample(lm, prompts, n=1, cfg=replace(cfg, engine="bridge"), progress=False)
    assert not calls, "engine='bridge' must not touch plain_model"
    for p in range(len(prompts)):
        assert plain[p][0].token_ids == bridge[p][0].token_ids, (
            f"{lm.spec.name} prompt {p}: greedy tokens differ between the plain model and the "
            "bridge; they share weights, so check plain_twin and the attention implementation")


def test_seeded_samples_are_the_same_on_the_plain_model_and_the_bridge(shipped):
    """The Gumbel-max sampler is a pure function of (logits, key, step): same logits, same samples."""
    lm, prompts = shipped
    # temperature 2: the cleaner base (2026-12-08) is confident enough that its samples of these
    # three prompts at temperature 1 agree, which would hide a sampler that ignores the key
    cfg = SamplingConfig(temperature=2.0, top_p=0.95, max_new_tokens=20, batch_size=8, seed=5)
    plain = _texts(sample(lm, prompts, n=4, cfg=cfg, progress=False))
    bridge = _texts(sample(lm, prompts, n=4, cfg=replace(cfg, engine="bridge"), progress=False))
    assert plain == bridge, f"{lm.spec.name}: seeded samples differ between the two engines"
    assert any(len(set(row)) > 1 for row in plain), "samples at temperature 2 should differ"


def test_a_static_kv_cache_writes_the_same_tokens(shipped):
    lm, prompts = shipped
    cfg = SamplingConfig(temperature=0.6, max_new_tokens=16, batch_size=8, seed=1)
    dynamic = sample(lm, prompts, n=2, cfg=cfg, progress=False)
    static = sample(lm, prompts, n=2, cfg=replace(cfg, kv_cache="static"), progress=False)
    assert [[c.token_ids for c in row] for row in static] == \
        [[c.token_ids for c in row] for row in dynamic], "kv_cache='static' changed the tokens"


def test_a_hook_active_on_the_bridge_sends_sampling_through_the_bridge(shipped):
    from starter.activations import steering
    from starter.rollouts import active_hooks, choose_engine

    lm, prompts = shipped
    cfg = SamplingConfig(temperature=0, max_new_tokens=8, batch_size=8)
    base = _texts(sample(lm, prompts, n=1, cfg=cfg, progress=False))
    vector = torch.ones(lm.d_model) * 50.0
    with _forward_calls(lm.plain_model) as calls, steering(lm, layer=0, vector=vector, alpha=1.0):
        assert active_hooks(lm) == 1 and choose_engine(lm) == "bridge"  # hooks added outside sample
        steered = _texts(sample(lm, prompts, n=1, cfg=cfg, progress=False))
        with pytest.raises(UsageError, match="would not fire"):
            sample(lm, prompts, n=1, cfg=replace(cfg, engine="plain"), progress=False)
    assert not calls, "a hooked run must not generate with plain_model"
    assert steered != base, "a large steering vector must change the output (the hook must fire)"
    assert active_hooks(lm) == 0 and choose_engine(lm) == "plain"
    with pytest.raises(UsageError, match="would not fire"):
        sample(lm, prompts, n=1, cfg=replace(cfg, engine="plain"),
               hooks=[("blocks.0.hook_resid_post", lambda resid, hook: resid)], progress=False)


@pytest.mark.parametrize("field, value", [("engine", "fast"), ("kv_cache", "paged")])
def test_bad_engine_or_cache_is_named(field, value):
    with pytest.raises(UsageError, match=f"{field}='{value}' \\(use one of"):
        SamplingConfig(**{field: value})
