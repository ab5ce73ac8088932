"""starter.models: the registry's typed loader, name resolution, devices, and load_model on tiny random
Qwen2 and Llama checkpoints saved to tmp_path (no download): bridge vs HF parity, hooks, generation."""

from __future__ import annotations

import doctest

import pytest
import torch
import yaml

from starter import cot, models
from starter.errors import StarterError, UsageError
from starter.models import (
    ModelSpec,
    get_spec,
    list_models,
    load_model,
    parse_registry,
    resolve_device,
)

# ------------------------------------------------------------------------------------------- registry


def test_doctests_in_models_run():
    assert doctest.testmod(models).failed == 0, "a >>> example in starter/models.py is out of date"


def test_registry_has_the_promised_models():
    names = {m.name for m in list_models()}
    assert {"smollm2-135m", "tinythinker", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"} <= names
    assert get_spec("smollm2-135m").source == "embedded-gguf" and get_spec("smollm2-135m").offline
    assert get_spec("tinythinker").prompt_format == "organism" and get_spec("tinythinker").thinking
    llama = get_spec("r1-llama-8b")
    assert llama.neuronpedia_model_id == "deepseek-r1-distill-llama-8b"
    assert llama.sae_release == "llama_scope_r1_distill" and 15 in llama.layers_of_interest
    assert len(llama.sae_ids) == len(llama.neuronpedia_sources) == 3
    assert get_spec("r1-qwen-1.5b").prompt_format == "r1"
    assert models.default_model("cpu").name == "smollm2-135m"
    assert models.default_model(torch.device("cuda")).hf_id == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"


def test_every_registry_entry_uses_known_formats():
    for spec in list_models():
        assert spec.prompt_format in cot.PROMPT_FORMATS, spec.name
        assert isinstance(spec.layers_of_interest, tuple)


GOOD = {"source": "hub", "hf_id": "me/toy", "prompt_format": "r1", "thinking": True, "layers_of_interest": [1]}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({**GOOD, "layer_of_interest": [1]}, "unknown key\\(s\\) layer_of_interest"),
        ({k: v for k, v in GOOD.items() if k != "thinking"}, "missing key\\(s\\) thinking"),
        ({**GOOD, "thinking": "yes"}, "thinking must be a bool"),
        ({**GOOD, "layers_of_interest": [1, "2"]}, "layers_of_interest must be a list of int"),
        ({**GOOD, "source": "ftp"}, "source 'ftp' is not one of"),
        ({**GOOD, "prompt_format": "alpaca"}, "prompt_format 'alpaca'"),
        ({**GOOD, "hf_id": None}, "a hub model needs hf_id"),
        ({**GOOD, "architecture": [1, 2]}, "architecture must be a mapping"),
        ({**GOOD, "architecture": {"model_type": "qwen2", "rms_norm_eps": "1e-6"}}, "write 1.0e-6"),
        ({**GOOD, "source": "random-init", "location": "data/x"}, "random-init model needs arch"),
    ],
)
def test_typed_loader_refuses_bad_entries(entry, message):
    with pytest.raises(StarterError, match=message):
        parse_registry({"toy": entry})


def test_typed_loader_refuses_alias_clashes():
    data = {"a": {**GOOD, "aliases": ["x"]}, "b": {**GOOD, "aliases": ["x"]}}
    with pytest.raises(StarterError, match="alias 'x'"):
        parse_registry(data)


def test_shipped_yaml_parses_to_the_same_registry():
    assert parse_registry(yaml.safe_load(models.REGISTRY_PATH.read_text())) == {m.name: m for m in list_models()}


# ---------------------------------------------------------------------------------- names and devices


def test_unknown_missing_name_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError) as err:
        load_model("nobody-here/no-such-model-xyz", device="cpu")
    message = str(err.value)
    assert "nobody-here/no-such-model-xyz" in message and "HF_HUB_OFFLINE" in message
    assert "smollm2-135m" in message and "tinythinker" in message, "the error must list the offline models"
    assert err.value.__suppress_context__, "no chained HF traceback"


def test_registered_hub_model_missing_offline_is_a_starter_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    toy = ModelSpec(name="r1-toy", source="hub", hf_id="nobody-here/r1-toy-not-cached", prompt_format="r1",
                    thinking=True, layers_of_interest=(1,))
    registry = {"r1-toy": toy, "smollm2-135m": get_spec("smollm2-135m")}
    monkeypatch.setattr(models, "_registry", lambda: registry)
    with pytest.raises(StarterError) as err:
        load_model("r1-toy", device="cpu")
    assert not isinstance(err.value, UsageError)
    assert "nobody-here/r1-toy-not-cached" in str(err.value) and "huggingface-cli download" in str(err.value)


def test_path_like_names_that_do_not_exist_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no folder"):
        get_spec(str(tmp_path / "missing" / "model"))


def test_missing_tinythinker_checkpoint_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "PACKAGE_DIR", tmp_path)
    with pytest.raises(StarterError, match="no checkpoint at .*organism/checkpoint"):
        load_model("tinythinker", device="cpu")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    choices = "choose auto\\|cpu\\|cuda\\|cuda:N\\|mps"
    for bad in ("tpu", "cuda:x", "cuda:", "cpu:0", "mps:1", " cuda", "cuda:-1"):
        with pytest.raises(UsageError, match=f"unknown device {bad!r}; {choices}"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="device 'cuda:1' is not available.*cuda:N"):
            resolve_device("cuda:1")


def test_cuda_n_is_accepted_where_that_gpu_exists(monkeypatch):
    """Two visible GPUs (faked: no GPU needed): cuda:1 resolves, cuda:2 names the visible ones."""
    monkeypatch.setitem(models._DEVICE_AVAILABLE, "cuda", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(UsageError) as err:
        resolve_device("cuda:2")
    message = str(err.value)
    assert "'cuda:2'" in message and "cuda:0 (Fake GPU 0), cuda:1 (Fake GPU 1)" in message
    assert "auto|cpu|cuda|cuda:N|mps" in message and "\n" not in message


def test_check_device_name_needs_no_torch():
    assert models.check_device_name("cuda:12") == "cuda:12"
    with pytest.raises(UsageError, match="choose auto\\|cpu\\|cuda\\|cuda:N\\|mps"):
        models.check_device_name("gpu0")


# ------------------------------------------------------------------------ model-folder errors


def _folder(tmp_path, config: str | None, weights: bool = True, tokenizer: bool = True):
    folder = tmp_path / "my-model"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config)
    if weights:
        (folder / "model.safetensors").write_bytes(b"")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.mark.parametrize(
    "config, weights, tokenizer, message",
    [
        (None, True, True, "has no config.json; point --model at a folder saved with"),
        ('{"model_type": "qwen2",', True, True, "config.json is not valid JSON \\(Expecting"),
        ("\xff\xfe garbage", True, True, "config.json is not valid JSON"),
        ("[1, 2]", True, True, "holds a list, not a JSON object"),
        ('{"model_type": "qwen9000"}', True, True, "model_type 'qwen9000' is not one transformers"),
        ("{}", True, True, "model_type None is not one transformers"),
        ('{"model_type": "qwen2"}', False, True, "holds no weights"),
        ('{"model_type": "qwen2"}', True, False, "holds no tokenizer"),
    ],
)
def test_bad_model_folders_are_one_line_before_loading(tmp_path, monkeypatch, config, weights,
                                                       tokenizer, message):
    folder = _folder(tmp_path, config, weights, tokenizer)
    if config is not None and config.startswith("\xff"):
        (folder / "config.json").write_bytes(b"\xff\xfe garbage")
    loads = []
    monkeypatch.setattr(models, "_load_folder", lambda *args: loads.append(args))
    checks = (lambda: models.validate_model_name(str(folder)),
              lambda: load_model(str(folder), device="cpu"))
    for check in checks:
        with pytest.raises(UsageError, match=message) as err:
            check()
        assert str(folder) in str(err.value) and "\n" not in str(err.value)
        chained = err.value.__context__ is not None and not err.value.__suppress_context__
        assert not chained, "no chained traceback"
    assert loads == [], "nothing may load from a bad folder"


def test_a_file_given_as_model_is_a_usage_error(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(UsageError, match="is a file, not a model folder"):
        models.validate_model_name(str(weights))


def test_validate_model_name_passes_good_names_without_loading(tiny):
    folder, _, _ = tiny
    assert models.validate_model_name(str(folder)).source == "path"
    assert models.validate_model_name("r1-llama-8b").sae_release == "llama_scope_r1_distill"
    with pytest.raises(UsageError, match="not a registered name"):
        models.validate_model_name("no such ./model")


# ------------------------------------------------------------------------------------- tiny checkpoints

CORPUS = [
    "Numbers: 8 19 4. Target: 31. <think> Try 8*19=152. Left: 152, 4. Wait, backtrack. Hit. </think>",
    "Okay, so I need to add 2 and 3. Let me check: 2+3=5. So the answer is \\boxed{5}.",
]
# A ChatML-like template, so the tiny models go through the same prompt path as SmolLM2.
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _tokenizer():
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors, trainers
    from tokenizers import models as tk_models
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(tk_models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<bos>", "<eos>", "<unk>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(CORPUS * 4, trainer)
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>", chat_template=TEMPLATE)


def _save_tiny(kind: str, folder) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    classes = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}
    config_cls, model_cls = classes[kind]
    tokenizer = _tokenizer()
    config = config_cls(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                        bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    model_cls(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module", params=["qwen2", "llama"])
def tiny(request, tmp_path_factory):
    """(folder, LoadedModel, pristine HF model) for a tiny random checkpoint of each architecture."""
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    folder = tmp_path_factory.mktemp(request.param)
    _save_tiny(request.param, folder)
    pristine = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return folder, load_model(str(folder), device="cpu"), pristine


def test_local_folder_loads_with_its_own_tokenizer(tiny):
    folder, lm, _ = tiny
    assert lm.spec.source == "path" and lm.dtype == torch.float32 and lm.device == torch.device("cpu")
    assert (lm.n_layers, lm.d_model) == (2, 64)
    text = CORPUS[0]
    assert lm.tokenizer(text)["input_ids"] == _tokenizer()(text)["input_ids"], (
        "AutoTokenizer picked another tokenizer class for this folder; models._local_tokenizer must fall back")
    assert lm.bridge.tokenizer(text)["input_ids"] == lm.tokenizer(text)["input_ids"], "bridge tokenizer differs"


def test_prompt_encodes_with_exactly_one_bos(tiny):
    _, lm, _ = tiny
    prompt = lm.prompt("What is 2+3?")
    assert prompt.startswith("<|im_start|>user\nWhat is 2+3?") and prompt.endswith("<|im_start|>assistant\n")
    ids = lm.encode(prompt).input_ids[0].tolist()
    assert ids[0] == lm.tokenizer.convert_tokens_to_ids("<|im_start|>") and lm.tokenizer.bos_token_id not in ids
    assert lm.bridge.to_tokens(prompt)[0].tolist() == ids, "bridge.to_tokens must agree with LoadedModel.encode"


def test_bridge_matches_pristine_hf_logits_at_non_padding_positions(tiny):
    _, lm, pristine = tiny
    batch = lm.encode([CORPUS[0], "Hit. </think>"])  # left-padded
    mask = batch.attention_mask.bool()
    with torch.no_grad():
        expected = pristine(**batch).logits  # [batch, pos, d_vocab]
        got = lm.bridge(batch.input_ids, attention_mask=batch.attention_mask)
    assert got.shape == expected.shape
    diff = (got - expected)[mask].abs().max().item()
    assert diff < 1e-4, f"bridge vs HF logits differ by {diff:.2e} at real tokens (padding excluded)"


def test_run_with_cache_gives_resid_post(tiny):
    _, lm, _ = tiny
    tokens = lm.encode(CORPUS[1]).input_ids
    _, cache = lm.bridge.run_with_cache(tokens)
    assert cache["blocks.0.hook_resid_post"].shape == (1, tokens.shape[1], lm.d_model)
    assert f"blocks.{lm.n_layers - 1}.hook_resid_post" in cache


def test_hf_generate_after_boot_matches_pristine_model(tiny):
    _, lm, pristine = tiny
    batch = lm.encode([CORPUS[0][:40], "Okay"])  # left-padded batch, as rollouts use it
    kwargs = dict(max_new_tokens=6, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    with torch.no_grad():
        before = pristine.generate(**batch, **kwargs)
        after = lm.hf_model.generate(**batch, **kwargs)
    assert torch.equal(before, after), "greedy hf_model.generate changed after booting the bridge"


def test_bridge_hooks_fire_inside_hf_generate_and_go_away(tiny):
    """Steering with HF generate: hooks added on the bridge run in hf_model.generate (KV cache: pos 1)."""
    _, lm, _ = tiny
    batch = lm.encode(["Try 8*19", "Left"])
    kwargs = dict(max_new_tokens=4, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    shapes = []

    def record(resid, hook):  # resid: [batch, pos, d_model]
        shapes.append(tuple(resid.shape))
        return resid

    def push(resid, hook):
        return resid + 100.0

    with torch.no_grad():
        plain = lm.hf_model.generate(**batch, **kwargs)
        with lm.bridge.hooks(fwd_hooks=[("blocks.1.hook_resid_post", record)]):
            lm.hf_model.generate(**batch, **kwargs)
        with lm.bridge.hooks(fwd_hooks=[("blocks.0.hook_resid_post", push)]):
            steered = lm.hf_model.generate(**batch, **kwargs)
        again = lm.hf_model.generate(**batch, **kwargs)
    width = batch.input_ids.shape[1]
    assert shapes == [(2, width, 64)] + [(2, 1, 64)] * 3, f"one call per forward step, got {shapes}"
    assert not torch.equal(plain, steered), "a large steering vector must change the generated tokens"
    assert torch.equal(plain, again), "hooks must be removed when the `with` block exits"


# --------------------------------------------------------------------------------------- mi-starter doctor


def test_doctor_reports_versions_device_models_and_never_the_key(monkeypatch, capsys):
    from starter.cli import main

    monkeypatch.setenv("NEURONPEDIA_API_KEY", "sk-secret-value")
    code = main(["doctor"])
    out = capsys.readouterr().out
    for needle in ("torch", "transformer-lens", "sae-lens", "auto ->", "smollm2-135m", "tinythinker",
                   "r1-llama-8b", "neuronpedia", "hub cache"):
        assert needle in out, f"doctor output lacks {needle!r}:\n{out}"
    assert "sk-secret-value" not in out, "doctor must never print the Neuronpedia key"
    expected = 0 if models.weights_status(get_spec("tinythinker")).present else 1
    assert code == expected, "doctor exits 1 exactly when an offline model (or package) is missing"


def test_a_retrained_organism_in_a_folder_gets_the_organism_prompt_format(tmp_path):
    """A folder named like an R1 model would otherwise get the R1 chat prompt, which the organism can't read."""
    from starter.organism.train import CHECKPOINT_DIR

    folder = tmp_path / "my-tinythinker"
    folder.mkdir()
    (folder / "tokenizer.json").write_text((CHECKPOINT_DIR / "tokenizer.json").read_text())
    assert get_spec(str(folder)).prompt_format == "organism"
    (folder / "tokenizer.json").write_text('{"model": {"vocab": {"<pad>": 0, "hello": 1}}}')
    assert get_spec(str(folder)).prompt_format == "r1"  # "think" in the name; not the organism's vocabulary


# ---------------------------------------------------------------------- the plain twin (no bridge)


def test_plain_model_shares_the_weights_and_booting_left_them_untouched(tiny):
    _, lm, pristine = tiny
    booted = {p.data_ptr(): p for p in lm.hf_model.parameters()}
    originals = dict(pristine.named_parameters())
    plain = dict(lm.plain_model.named_parameters())
    assert plain.keys() == originals.keys(), "plain_model must have the pristine parameter names"
    for name, param in plain.items():
        assert param.data_ptr() in booted, f"{name}: plain_model holds a copy, not the booted tensor"
        assert booted[param.data_ptr()] is param, f"{name}: the same Parameter object in both trees"
        assert torch.equal(param, originals[name]), f"{name}: booting changed the weight"
    booted_buffers = {b.data_ptr() for b in lm.hf_model.buffers()}
    assert all(b.data_ptr() in booted_buffers for b in lm.plain_model.buffers()), "buffers copied"
    wrapped = [n for n, m in lm.plain_model.named_modules() if hasattr(m, "_original_component")]
    assert not wrapped, f"bridge wrappers in plain_model: {wrapped[:3]}"
    assert lm.plain_model.config._attn_implementation == "sdpa"
    assert not lm.plain_model.training


def test_plain_model_computes_the_pristine_logits(tiny):
    _, lm, pristine = tiny
    batch = lm.encode([CORPUS[0], "Hit. </think>"])  # left-padded
    with torch.no_grad():
        expected = pristine(**batch).logits  # [batch, pos, d_vocab]
        got = lm.plain_model(**batch).logits
    assert torch.equal(got, expected), "plain_model must be the pristine model, bit for bit"


def test_an_in_place_weight_edit_shows_in_both_trees(tiny):
    _, lm, _ = tiny
    tokens = lm.encode(CORPUS[1]).input_ids
    weight = lm.plain_model.get_output_embeddings().weight  # [vocab, d_model]
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight.mul_(2.0)
            plain = lm.plain_model(tokens).logits
            bridged = lm.bridge(tokens)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert (plain - bridged).abs().max().item() < 1e-4, "one weight tensor: the bridge sees the edit"
