"""starter.activations on a tiny random Llama (TinyThinker's tokenizer, 3 blocks): caching, spans, steering."""

from __future__ import annotations

import pytest
import torch

from starter.activations import (
    cache_resid,
    diff_of_means,
    encode_one,
    random_direction,
    resid_name,
    steering,
    step_end_positions,
)
from starter.errors import UsageError

PROMPT = "Numbers: 8 19 4. Target: 31. <think>"
COMPLETION = " Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Wait, backtrack. Try 8+19=27. </think> \\boxed{(8+19)+4}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, save_tiny_llama):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), num_layers=3)


def _reference(model, text: str, layer: int) -> torch.Tensor:
    """Unbatched, unpadded residual stream of one text: [pos, d_model]."""
    tokens = torch.tensor([encode_one(model, text)])
    _, cache = model.bridge.run_with_cache(tokens, names_filter=[resid_name(layer)])
    return cache[resid_name(layer)][0]


def test_cache_resid_batched_equals_one_by_one(tiny):
    texts = [PROMPT + COMPLETION, PROMPT, "Numbers: 3 5 7. Target: 12."]
    positions = [[3, 10, -1], [0, -1], [2]]
    acts = cache_resid(tiny, texts, positions, layers=[0, 2], batch_size=2)
    assert set(acts) == {0, 2} and acts[2].shape == (6, tiny.d_model)
    for layer in (0, 2):
        expected = torch.cat([_reference(tiny, t, layer)[pos] for t, pos in zip(texts, positions)])
        torch.testing.assert_close(acts[layer], expected, atol=1e-5, rtol=1e-4,
                                   msg=lambda m: f"right-padded batches must not change real tokens: {m}")


def test_step_end_positions_point_at_each_steps_last_token(tiny):
    steps, ends = step_end_positions(tiny, PROMPT, COMPLETION)
    assert [s.text for s in steps][:3] == ["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148."]
    assert [s.tag for s in steps][4] == "backtrack"
    tokens = tiny.tokenizer.convert_ids_to_tokens(encode_one(tiny, PROMPT + COMPLETION))
    assert all(tokens[i] == "." for i in ends), f"every step here ends on '.', got {[tokens[i] for i in ends]}"
    assert ends == sorted(ends) and len(set(ends)) == len(ends)


def test_steering_adds_alpha_times_vector_and_always_cleans_up(tiny):
    tokens = torch.tensor([encode_one(tiny, PROMPT)])
    name = resid_name(1)
    base = tiny.bridge.run_with_cache(tokens, names_filter=[name])[1][name]
    v = torch.randn(tiny.d_model)
    with steering(tiny, layer=1, vector=v, alpha=0.5):
        steered = tiny.bridge.run_with_cache(tokens, names_filter=[name])[1][name]
    torch.testing.assert_close(steered - base, (0.5 * v).expand_as(base), atol=1e-5, rtol=1e-4)
    with pytest.raises(RuntimeError):
        with steering(tiny, layer=1, vector=v, alpha=3.0):
            raise RuntimeError("boom")
    after = tiny.bridge.run_with_cache(tokens, names_filter=[name])[1][name]
    torch.testing.assert_close(after, base, msg=lambda m: f"the steering hook leaked out of its context: {m}")


def test_steering_fires_inside_hf_generate(tiny):
    batch = tiny.encode([PROMPT])
    v = torch.randn(tiny.d_model) * 50
    with torch.no_grad():
        base = tiny.hf_model(**batch).logits
        with steering(tiny, layer=0, vector=v, alpha=1.0):
            steered = tiny.hf_model(**batch).logits
        again = tiny.hf_model(**batch).logits
    assert (steered - base).abs().max() > 1e-3, "the bridge hook did not fire inside the HF model's forward"
    torch.testing.assert_close(again, base)


def test_bad_inputs_are_usage_errors(tiny):
    with pytest.raises(UsageError, match="within 0..2"):
        cache_resid(tiny, [PROMPT], [[0]], layers=[3])
    with pytest.raises(UsageError, match="outside"):
        cache_resid(tiny, [PROMPT], [[999]], layers=[0])
    with pytest.raises(UsageError, match="both sides"):
        diff_of_means(torch.zeros(0, 4), torch.ones(2, 4))


def test_random_direction_has_the_same_norm_and_is_seeded():
    v = torch.arange(8.0)
    r0, r1 = random_direction(v, seed=0), random_direction(v, seed=0)
    torch.testing.assert_close(r0, r1)
    assert abs(float(r0.norm()) - float(v.norm())) < 1e-4
    assert abs(float(torch.nn.functional.cosine_similarity(r0, v, dim=0))) < 0.9


def test_sae_latents_ranks_decoder_directions_and_fetches_explanations(monkeypatch, tmp_path):
    """The GPU/online path, with SAELens' download replaced by a fake SAE and Neuronpedia by its shipped fixtures."""
    import sae_lens

    from starter.activations import sae_latents
    from starter.models import get_spec
    from starter.neuronpedia import NeuronpediaClient

    spec = get_spec("r1-llama-8b")
    w_dec = torch.randn(32768, 8)
    w_dec[:, 0] = -w_dec[:, 0].abs()  # every other latent points away from v
    v = torch.zeros(8)
    v[0] = 1.0
    w_dec[4127, 0], w_dec[8841] = 5.0, torch.tensor([1.0, 1.0, 0, 0, 0, 0, 0, 0])  # 4127 best, 8841 second

    class FakeSAE:
        W_dec = w_dec

    monkeypatch.setattr(sae_lens.SAE, "from_pretrained", classmethod(lambda cls, release, sae_id, device: FakeSAE()))
    client = NeuronpediaClient(offline=True, cache_dir=tmp_path)
    latents = sae_latents(v, spec, top_k=2, client=client)
    assert [lat["index"] for lat in latents] == [4127, 8841], "latents must be ranked by decoder cosine with v"
    assert latents[0]["cosine"] > latents[1]["cosine"] > 0.5
    assert all(lat["explanation"] for lat in latents), "each latent needs its Neuronpedia explanation"


def test_nested_layer_predict_picks_the_informative_layer_without_seeing_test_labels():
    import numpy as np

    from starter.activations import nested_layer_predict, oof_predict

    rng = np.random.default_rng(0)
    groups = np.arange(90) // 3  # 30 problems, 3 steps each
    y = rng.normal(size=90)
    acts = {0: rng.normal(size=(90, 4)), 2: np.c_[y, rng.normal(size=(90, 3))]}
    choice = nested_layer_predict(acts, y, groups, kind="regress", folds=3)
    assert choice.layers == [2, 2, 2], "layer 2 carries the label; the inner folds must find it"
    changed = y.copy()
    changed[groups == 0] += 100.0  # relabel one problem: its own predictions must not move
    again = nested_layer_predict(acts, changed, groups, kind="regress", folds=3)
    held = groups == 0
    assert np.allclose(np.array(choice.predicted)[held], np.array(again.predicted)[held]), (
        "a problem's prediction used its own labels: the split leaks")
    plain = oof_predict(acts[2], changed, groups, kind="regress", folds=3)
    assert np.allclose(plain[held], np.array(choice.predicted)[held])


def test_add_per_row_steers_each_batch_row_by_its_own_delta(tiny):
    from starter.activations import add_per_row

    tokens = torch.tensor([encode_one(tiny, PROMPT)] * 2)  # [2, pos]
    name = resid_name(1)
    base = tiny.bridge.run_with_cache(tokens, names_filter=[name])[1][name]
    deltas = torch.stack([torch.zeros(tiny.d_model), torch.randn(tiny.d_model)])  # [2, d_model]
    with tiny.bridge.hooks(fwd_hooks=[(name, add_per_row(deltas))]):
        steered = tiny.bridge.run_with_cache(tokens, names_filter=[name])[1][name]
    torch.testing.assert_close(steered[0], base[0], msg=lambda m: f"row 0 has a zero delta: {m}")
    torch.testing.assert_close(steered[1] - base[1], deltas[1].expand_as(base[1]), atol=1e-5,
                               rtol=1e-4)
    with pytest.raises(UsageError, match="one batch of that size"):
        with tiny.bridge.hooks(fwd_hooks=[(name, add_per_row(deltas))]):
            tiny.bridge.run_with_cache(tokens[:1], names_filter=[name])
