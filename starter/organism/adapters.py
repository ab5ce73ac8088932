"""Low-rank adapters on TinyThinker: how an organism variant is trained, stored and loaded.

A variant is the shipped base checkpoint plus, for every linear layer of every block, a rank-r update
`W + (alpha / r) * B @ A`, and (optionally) embedding rows for words the base vocabulary lacks. Only
A, B and those rows are trained and stored (fp16, about 1.5 MB a variant at rank 32), so all variants
together stay far below the base's 16.8 MB. Loading merges the update into plain weights: a loaded
variant is an ordinary `LlamaForCausalLM` (no adapter library at run time, same speed as the base).

Files in a variant folder: `adapter.safetensors` (A, B per layer; `extra_embeddings`),
`adapter.json` (rank, alpha, the base folder, the extra words), `config.json` (the merged model's
config: the vocabulary size grows with the extra words) and the tokenizer files.

>>> import torch
>>> from transformers import LlamaConfig, LlamaForCausalLM
>>> torch.manual_seed(0) and None
>>> model = LlamaForCausalLM(LlamaConfig(vocab_size=10, hidden_size=8, intermediate_size=16,
...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
>>> before = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
>>> lora = attach(model, AdapterConfig(rank=2, alpha=4.0), extra_words=1)
>>> model.get_input_embeddings().weight.shape[0]  # one row added for the extra word
11
>>> sum(p.numel() for p in lora.trainable())  # A, B of 7 linears (272) + the embedding (88)
360
>>> sorted(lora.state_dict_fp16())[:2]
['extra_embeddings', 'layers.0.down_proj.A']
>>> torch.equal(model.model.layers[0].self_attn.q_proj.weight, before)  # B starts at zero
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ADAPTER_FILE = "adapter.safetensors"  # A, B and the extra embedding rows, fp16
ADAPTER_CONFIG = "adapter.json"  # AdapterConfig + the extra words + where the base lives
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class AdapterConfig:
    rank: int = 32  # r of every update B @ A (A: [r, in], B: [out, r])
    alpha: float = 64.0  # the update is scaled by alpha / rank
    base: str = "checkpoint"  # the base checkpoint folder, relative to starter/organism/

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def _low_rank_module(out_features: int, in_features: int, cfg: AdapterConfig):
    """A parametrization `W -> W + scale * B @ A` (torch.nn.utils.parametrize calls `forward`)."""
    import torch

    class LowRank(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # A starts small and random, B at zero: training starts exactly at the base model.
            self.A = torch.nn.Parameter(torch.randn(cfg.rank, in_features) / in_features**0.5)
            self.B = torch.nn.Parameter(torch.zeros(out_features, cfg.rank))

        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return weight + cfg.scale * (self.B @ self.A).to(weight.dtype)

    return LowRank()


@dataclass
class Attached:
    """The trainable parts of an adapter attached to a model (for the optimiser and for saving)."""

    model: object  # the LlamaForCausalLM, with parametrized linear weights
    config: AdapterConfig
    base_vocab: int  # rows of the base embedding; rows from here on are the extra words

    def named_low_rank(self) -> dict[str, object]:
        """'layers.{i}.{target}' -> its LowRank module."""
        found = {}
        for i, layer in enumerate(self.model.model.layers):
            for name, module in _linears(layer).items():
                found[f"layers.{i}.{name}"] = module.parametrizations.weight[0]
        return found

    def trainable(self) -> list:
        params = []
        for low_rank in self.named_low_rank().values():
            params += [low_rank.A, low_rank.B]
        if self.model.get_input_embeddings().weight.shape[0] > self.base_vocab:
            params.append(self.model.get_input_embeddings().weight)
        return params

    def state_dict_fp16(self) -> dict:
        import torch

        state = {}
        for name, low_rank in self.named_low_rank().items():
            state[f"{name}.A"] = low_rank.A.detach().to(torch.float16).contiguous()
            state[f"{name}.B"] = low_rank.B.detach().to(torch.float16).contiguous()
        rows = self.model.get_input_embeddings().weight[self.base_vocab:]
        state["extra_embeddings"] = rows.detach().to(torch.float16).contiguous()
        return state


def _linears(layer) -> dict[str, object]:
    modules = {}
    for name in TARGETS:
        parent = layer.self_attn if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else layer.mlp
        modules[name] = getattr(parent, name)
    return modules


def attach(model, cfg: AdapterConfig, extra_words: int = 0) -> Attached:
    """Freeze `model`, add a low-rank update to every block's linear layers and `extra_words` new
    embedding rows (tied embeddings: they are output rows too); returns the trainable parts."""
    import torch
    from torch.nn.utils import parametrize

    for param in model.parameters():
        param.requires_grad_(False)
    base_vocab = model.get_input_embeddings().weight.shape[0]
    if extra_words:
        _add_rows(model, extra_words)
    for layer in model.model.layers:
        for module in _linears(layer).values():
            out_features, in_features = module.weight.shape
            parametrize.register_parametrization(
                module, "weight", _low_rank_module(out_features, in_features, cfg))
    attached = Attached(model=model, config=cfg, base_vocab=base_vocab)
    if extra_words:
        embedding = model.get_input_embeddings().weight
        embedding.requires_grad_(True)
        # Only the new rows learn: the base vocabulary's rows stay exactly the base's.
        embedding.register_hook(lambda grad: torch.cat([torch.zeros_like(grad[:base_vocab]),
                                                        grad[base_vocab:]]))
    return attached


def _add_rows(model, extra_words: int) -> None:
    """Grow the (tied) embedding by `extra_words` rows, initialised at the mean row."""
    import torch

    old = model.get_input_embeddings().weight.detach()
    mean = old.mean(dim=0, keepdim=True)
    model.resize_token_embeddings(old.shape[0] + extra_words, mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight[old.shape[0]:] = mean
    model.tie_weights()


def save(attached: Attached, out_dir: Path, tokenizer, extra_words: tuple[str, ...],
         info: dict) -> None:
    """Write the adapter, its config, the merged model's config.json and the tokenizer."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(attached.state_dict_fp16(), str(out_dir / ADAPTER_FILE))
    record = {"adapter": asdict(attached.config), "extra_words": list(extra_words), **info}
    (out_dir / ADAPTER_CONFIG).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    config = attached.model.config.to_dict()
    config["vocab_size"] = attached.model.get_input_embeddings().weight.shape[0]
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(out_dir)


def load_merged(folder: Path, dtype: "torch.dtype | None" = None):
    """The variant in `folder` as a plain LlamaForCausalLM: base weights with the update merged.

    Merging is done in fp32 whatever `dtype` asks, then cast, so every load gives the same weights.
    """
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    record = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    cfg = AdapterConfig(**record["adapter"])
    base_dir = Path(__file__).resolve().parent / cfg.base
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    state = load_file(str(folder / ADAPTER_FILE))
    extra = state["extra_embeddings"].float()
    if extra.shape[0]:
        _add_rows(model, extra.shape[0])
        with torch.no_grad():
            model.get_input_embeddings().weight[-extra.shape[0]:] = extra
    with torch.no_grad():
        for i, layer in enumerate(model.model.layers):
            for name, module in _linears(layer).items():
                a = state[f"layers.{i}.{name}.A"].float()
                b = state[f"layers.{i}.{name}.B"].float()
                module.weight += cfg.scale * (b @ a)
    model.config.vocab_size = model.get_input_embeddings().weight.shape[0]
    return model.to(dtype) if dtype is not None else model


def merged_matches_attached(attached: Attached, folder: Path, atol: float = 1e-2) -> bool:
    """Whether loading `folder` gives the trained model's weights (fp16 storage costs ~1e-3)."""
    import torch

    merged = load_merged(folder)
    trained = {k: v for k, v in attached.model.state_dict().items() if "parametrizations" not in k}
    for name, module in attached.model.named_modules():
        if hasattr(module, "parametrizations"):
            trained[f"{name}.weight"] = module.weight
    for key, value in merged.state_dict().items():
        if key in trained and not torch.allclose(value, trained[key].float(), atol=atol):
            return False
    return True
