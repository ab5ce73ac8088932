"""Planted-feature models (starter/organism/planted.py): the label rules against an independent
re-implementation, the hook against the unplanted model, and probes against the two plants."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from starter import activations
from starter.errors import StarterError
from starter.models import get_spec, list_models
from starter.organism import planted as P
from starter.organism.data import make_traces
from starter.organism.tokenizer import build_tokenizer


def reference_bit(seed: int, salt: str, key, below: float = 0.5) -> int:
    """The hash written out again, from its documented definition (blake2b, 8 bytes)."""
    text = f"{seed}:{salt}:" + ",".join(str(k) for k in key)
    return int(int(hashlib.blake2b(text.encode(), digest_size=8).hexdigest(), 16) < below * 2**64)


@pytest.fixture(scope="module")
def token_ids() -> list[list[int]]:
    tok = build_tokenizer()
    return [tok(t.prompt + t.completion)["input_ids"] for t in make_traces(60, seed=3, split="test")]


def test_planted_label_rules_match_their_definition(token_ids):
    linear, xor, sparse = (P.get_feature(n) for n in ("linear", "xor", "sparse"))
    think = P.think_id()
    for ids in token_ids[:10]:
        end = ids.index(think) + 1
        a = reference_bit(linear.seed, "a", ids[:end])
        y = P.labels(linear, ids)
        assert (y[end - 1:] == a).all(), "linear: one bit of the prompt, constant over the chain"
        assert y[0] == reference_bit(linear.seed, "a", ids[:1]), "before <think>: the prefix"
        a, b = (reference_bit(xor.seed, s, ids[:end]) for s in "ab")
        assert (P.labels(xor, ids)[end - 1:] == a ^ b).all(), "xor: a XOR b of the prompt"
        expected = [reference_bit(sparse.seed, "sparse", [ids[t - 1] if t else -1, ids[t], t],
                                  below=sparse.rate) for t in range(len(ids))]
        assert P.labels(sparse, ids).tolist() == expected


def test_planted_labels_are_causal_and_balanced(token_ids):
    for feature in P.FEATURES.values():
        for ids in token_ids[:5]:
            full = P.labels(feature, ids)
            assert P.labels(feature, ids[:20]).tolist() == full[:20].tolist(), feature.name
    chain = [P.labels(P.get_feature(n), ids)[-1] for n in ("linear", "xor") for ids in token_ids]
    assert 0.3 < np.mean(chain) < 0.7, "the chain bits are roughly balanced"
    rate = np.concatenate([P.labels(P.get_feature("sparse"), ids) for ids in token_ids]).mean()
    assert 0.02 < rate < 0.06, f"the sparse bit should be on for about 4% of tokens, got {rate}"


def test_planted_registry_entries():
    names = {m.name: m.planted for m in list_models() if m.planted is not None}
    assert {n: f.kind for n, f in names.items()} == {
        "tinythinker-plant-linear": "linear", "tinythinker-plant-xor": "xor",
        "tinythinker-plant-sparse": "sparse", "tinythinker-plant-xor-null": "xor",
        "tinythinker-plant-sparse-null": "sparse",
        **{f"tinythinker-plant-{k}-{t}": k for k in P.KINDS for t in ("mid", "faint")}}
    assert get_spec("tinythinker-plant-xor-null").planted.scale == 0, "the null writes nothing"
    assert get_spec("tinythinker-plant-xor").folder_location == "organism/checkpoint"
    with pytest.raises(StarterError, match="planted_feature 'nope' must be one of"):
        type(get_spec("tinythinker"))(**{**get_spec("tinythinker").__dict__,
                                         "planted_feature": "nope"})


def test_weak_tiers_share_their_kinds_label_rule_at_smaller_scales(token_ids):
    """mid and faint: the strong plant's kind, seed and rule (so one null serves them all), at
    scales strong > mid > faint > 0, as the pilot chose (scripts/pilot_plant_scales.py)."""
    scales = {}
    for kind in P.KINDS:
        strong, mid, faint = (P.get_feature(f"{kind}{t}") for t in ("", "-mid", "-faint"))
        assert P.same_labels(strong, mid) and P.same_labels(strong, faint)
        assert strong.layer == mid.layer == faint.layer == 2
        for ids in token_ids[:3]:
            assert P.labels(faint, ids).tolist() == P.labels(strong, ids).tolist()
        scales[kind] = (strong.scale, mid.scale, faint.scale)
    assert scales == {"linear": (0.25, 0.01, 0.005), "xor": (0.25, 0.07, 0.06),
                      "sparse": (0.5, 0.02, 0.01)}
    assert P.same_labels(P.get_feature("xor-faint"), P.get_feature("xor-null"))
    assert not P.same_labels(P.get_feature("sparse"),
                             P.PlantedFeature("s", layer=2, kind="sparse", scale=0.5, seed=13,
                                              rate=0.1))


@pytest.fixture(scope="module")
def lm():
    from starter.models import load_model

    return load_model("tinythinker")


def _resid(lm, texts, layers):
    names = [activations.resid_name(L) for L in layers]
    batch = lm.encode(texts)
    with torch.no_grad():
        _, cache = lm.bridge.run_with_cache(batch.input_ids, attention_mask=batch.attention_mask,
                                            names_filter=names)
    return batch, {L: cache[n] for L, n in zip(layers, names)}


@pytest.mark.parametrize("name", ["linear", "xor", "sparse"])
def test_planted_hook_changes_exactly_its_layer_by_the_planted_vector(lm, name):
    feature = P.get_feature(name)
    texts = ["Numbers: 8 19 4. Target: 31. <think> Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.",
             "Numbers: 3 5. <think> Try"]  # the second row is left-padded
    batch, before = _resid(lm, texts, [0, 1, 2, 3])
    plant = P.install(lm, feature)
    try:
        _, after = _resid(lm, texts, [0, 1, 2, 3])
    finally:
        plant.remove()
    for layer in (0, 1):
        assert torch.equal(before[layer], after[layer]), f"layer {layer} is before the plant"
    uv = torch.from_numpy(P.directions(feature, lm.d_model)).float() * plant.length
    for row in range(len(texts)):
        real = batch.attention_mask[row].bool()
        ids = batch.input_ids[row][real].tolist()
        expected = torch.from_numpy(P.coefficients(feature, ids)).float() @ uv  # [pos, d_model]
        got = after[2][row][real] - before[2][row][real]
        assert torch.allclose(got, expected, atol=1e-4), f"{name}: layer 2 moved by the plant"
        assert torch.equal(after[2][row][~real], before[2][row][~real]), "pads: nothing planted"
    assert not torch.allclose(after[3], before[3]), "later layers read the plant"
    _, again = _resid(lm, texts, [2])
    assert torch.equal(again[2], before[2]), "remove() takes the plant out"


def test_planted_hook_follows_cached_generation(lm):
    """Generation with a KV cache passes one token per step: the plant reads the recorded history,
    so the greedy continuation equals the one re-computed with the full sequence each step."""
    feature = P.get_feature("sparse")
    plant = P.install(lm, feature)
    try:
        batch = lm.encode(["Numbers: 8 19 4. Target: 31. <think>", "Numbers: 3 5. <think>"])
        cached = lm.plain_model.generate(**batch, max_new_tokens=12, do_sample=False)
        ids = batch.input_ids
        mask = batch.attention_mask
        for _ in range(12):  # no cache: every step runs the whole sequence
            with torch.no_grad():
                where = (mask.cumsum(-1) - 1).clamp(min=0)  # positions as generate counts them
                logits = lm.plain_model(input_ids=ids, attention_mask=mask, position_ids=where,
                                        use_cache=False).logits
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        assert cached.tolist() == ids.tolist()
    finally:
        plant.remove()


def test_planted_linear_probe_reads_linear_plant_not_xor(lm):
    """At the planted layer a linear probe reads the linear plant's label and not the xor one's
    (chance), which a 1-hidden-layer MLP does read; on the base neither label is readable."""
    from starter.probes import ProbeSpec, hits, predict_held_out

    traces = make_traces(40, seed=5, split="test")
    texts = [t.prompt + t.completion for t in traces]
    ids = [activations.encode_one(lm, t) for t in texts]
    positions = [list(range(len(s) - 8, len(s))) for s in ids]  # the chain's last 8 tokens
    groups = [i for i, p in enumerate(positions) for _ in p]

    def accuracy(feature, plant: bool, hidden: int) -> float:
        handle = P.install(lm, feature) if plant else None
        try:
            x = activations.cache_resid(lm, texts, positions, [feature.layer])[feature.layer]
        finally:
            if handle is not None:
                handle.remove()
        y = np.concatenate([P.labels(feature, s)[p] for s, p in zip(ids, positions)])
        spec = ProbeSpec(hidden=hidden, steps=120)
        return float(hits(y, predict_held_out(x.numpy(), y, groups, spec, 4, 0, "cpu")).mean())

    linear, xor = P.get_feature("linear"), P.get_feature("xor")
    assert accuracy(linear, True, 0) > 0.95
    assert accuracy(xor, True, 0) < 0.75
    assert accuracy(xor, True, 32) > 0.9
    assert accuracy(linear, False, 0) < 0.8, "the base cannot compute the hash"
