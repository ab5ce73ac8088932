"""starter/saes.py: training recovers planted features, evaluation is exact on known SAEs, splicing via hooks."""

from __future__ import annotations

import pytest
import torch

from starter.activations import cache_resid, encode_one
from starter.errors import StarterError, UsageError
from starter.saes import (
    TrainConfig,
    collect,
    finetune,
    latent_contrast,
    load_pretrained,
    reconstruction,
    spliced_ce,
    top_examples,
    train_sae,
)

TEXTS = ["Numbers: 8 19 4. Target: 31. <think> Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Wait, backtrack.",
         "Numbers: 3 5 7. Target: 12. <think> Try 5+7=12. Hit. </think>"]


class Identity(torch.nn.Module):
    """A perfect 'SAE' (codes = x, clipped at 0 for L0): reconstruction is exact."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale))

    def encode(self, x):
        return x * self.scale

    def decode(self, codes):
        return codes / self.scale


class Zero(Identity):
    def decode(self, codes):
        return torch.zeros_like(codes)


def planted(n: int = 3000, d: int = 24, n_features: int = 32, seed: int = 0):
    """Activations that are sparse sums of unit directions: [n, d], plus which features are on [n, n_features]."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn(n_features, d, generator=g)
    directions /= directions.norm(dim=1, keepdim=True)
    on = torch.rand(n, n_features, generator=g) < 0.08
    codes = on * (1 + torch.rand(n, n_features, generator=g))
    return codes @ directions, on


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, save_tiny_llama):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama-sae"), num_layers=2)


def test_trained_batchtopk_sae_explains_planted_features():
    acts, on = planted()
    sae = train_sae(acts, TrainConfig(dict_size=96, k=3, steps=400, batch_size=128))
    stats = reconstruction(sae, acts)
    assert stats["fve"] > 0.7, f"BatchTopK SAE explains only {stats['fve']:.2f} of planted sparse data; training broke"
    assert 1 <= stats["l0"] <= 6, f"L0 {stats['l0']:.1f} should be near k=3 once the inference threshold is set"
    best = latent_contrast(sae, acts, on[:, 0], top=1)[0]
    assert best["fire_rate_on"] > 0.5 > best["fire_rate_off"] * 5, f"no latent tracks planted feature 0: {best}"
    rows = top_examples(sae, acts, best["latent"], top=5)
    assert sum(bool(on[r, 0]) for r, _ in rows) >= 4, "a feature's top examples should be where it is planted"


def test_reconstruction_is_exact_for_known_saes():
    acts, _ = planted(n=200)
    assert reconstruction(Identity(), acts)["fve"] == pytest.approx(1.0, abs=1e-6)
    # Decoding to zero explains -|mean|^2/var of the variance: below zero, as it should be.
    assert reconstruction(Zero(), acts)["fve"] < 0
    mask = torch.zeros(200, dtype=torch.bool)
    mask[:10] = True
    assert reconstruction(Identity(), acts, mask)["n_tokens"] == 10
    with pytest.raises(UsageError, match="empty mask"):
        reconstruction(Identity(), acts, torch.zeros(200, dtype=torch.bool))


def test_finetune_lowers_error_on_new_activations():
    acts, _ = planted(seed=0)
    sae = train_sae(acts, TrainConfig(dict_size=96, k=3, steps=200, batch_size=128))
    shifted = acts + 0.5  # a new distribution: the same features around a different mean
    before = reconstruction(sae, shifted)["fve"]
    after = reconstruction(finetune(sae, shifted, steps=150, lr=1e-3), shifted)["fve"]
    assert after > before + 0.05, f"finetuning on the new activations should help: FVE {before:.2f} -> {after:.2f}"


def test_collect_skips_the_first_token_and_keeps_token_text(tiny):
    got = collect(tiny, TEXTS, layer=1, batch_size=1)
    lengths = [len(encode_one(tiny, t)) for t in TEXTS]
    assert len(got) == sum(n - 1 for n in lengths) and got.acts.shape == (len(got), tiny.d_model)
    assert got.position[0] == 1 and got.text_index[-1] == 1
    ref = cache_resid(tiny, TEXTS[1:], [[3]], [1])[1]
    row = got.text_index.index(1) + 2  # position 3 of text 1
    torch.testing.assert_close(got.acts[row], ref[0])
    words = [t.strip() for t in got.tokens]
    assert "Wait" in words, "collect must keep each row's token so latents can be read"
    ids = [encode_one(tiny, t) for t in TEXTS]
    assert got.context(ids, words.index("Wait"), tiny.tokenizer).endswith("Wait]]")
    assert got.mask(("wait", "backtrack")).sum() == 2 and got.mask(("wait",))[words.index("Wait")]


def test_spliced_ce_perfect_and_zero_saes(tiny):
    perfect = spliced_ce(tiny, Identity(), layer=0, texts=TEXTS, batch_size=2)
    assert perfect["ce_increase"] == pytest.approx(0.0, abs=1e-4), "an exact reconstruction must not change the loss"
    assert perfect["ce_recovered"] == pytest.approx(1.0, abs=1e-3)
    zero = spliced_ce(tiny, Zero(), layer=0, texts=TEXTS, batch_size=1)
    assert zero["ce_spliced"] == pytest.approx(zero["ce_zeroed"], abs=1e-5)
    assert zero["ce_clean"] == pytest.approx(perfect["ce_clean"], abs=1e-5), "batching must not change the loss"


def test_bad_training_inputs_are_usage_errors():
    with pytest.raises(UsageError, match="k < dict_size"):
        TrainConfig(dict_size=8, k=8)
    with pytest.raises(UsageError, match="one batch"):
        train_sae(torch.randn(10, 4), TrainConfig(dict_size=8, k=2, batch_size=64))
    with pytest.raises(UsageError, match="both in and out"):
        latent_contrast(Identity(), torch.randn(5, 4), torch.ones(5, dtype=torch.bool))


@pytest.mark.slow
def test_load_pretrained_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StarterError, match="downloads from Hugging Face"):
        load_pretrained("llama_scope_r1_distill", "l15r_800m_openr1_math")
