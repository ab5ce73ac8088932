"""What a run will cost, before any weights load: `mi-starter run <slug> --preset gpu --dry-run`.

A starter declares its sampling stages for a config (`Starter.budget(cfg) -> list[Generation]`); this module
adds up generations and budgeted tokens, estimates GPU memory from the model registry's architecture
(weights plus the KV cache of one batch) and the time at a measured throughput. Budgets are maxima: chains
that finish early cost less, so the time is an upper bound at that throughput.

>>> stages = [Generation("reference chains", sequences=8, max_new_tokens=4096, batch_size=8),
...           Generation("continuations", sequences=640, max_new_tokens=4096, batch_size=128)]
>>> plan = make_plan(stages)
>>> plan.sequences, plan.tokens_budgeted
(648, 2654208)
>>> kv_cache_bytes({"num_hidden_layers": 28, "hidden_size": 1536, "num_attention_heads": 12,
...                 "num_key_value_heads": 2}, batch_size=1, tokens=1, bytes_per_value=2)
28672
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

from starter.errors import StarterError

BF16_BYTES = 2  # the gpu presets run in bf16
CPU_BYTES = 4  # and the cpu ones in fp32


@dataclass(frozen=True)
class Generation:
    """One batched sampling stage of a run."""

    name: str  # what is generated, e.g. "reference chains"
    sequences: int  # completions generated in this stage (prompts x samples per prompt)
    max_new_tokens: int  # the budget of each completion
    batch_size: int = 1  # sequences per generate call
    prompt_tokens: int = 256  # a typical prompt (+ kept prefix) length, for the KV cache


@dataclass(frozen=True)
class Throughput:
    """A measured generation speed, with where it was measured."""

    tokens_per_s: float  # generated tokens per second, all sequences of a batch together
    where: str  # the card, model, batch and path it was measured on


# Measured figures (docs/benchmarks.md says how). Keyed by registry architecture shape (model_type,
# layers, hidden size), so a model with the same shape (r1-shaped) shares them.
MEASURED: dict[tuple[str, int, int], Throughput] = {
    ("qwen2", 28, 1536): Throughput(
        5200.0, "H200, R1-Distill-Qwen-1.5B shape, batch 256, TransformerLens bridge (2026-11)"),
}


@dataclass(frozen=True)
class Plan:
    """The totals of a list of stages."""

    stages: tuple[Generation, ...]  # in the order the run does them
    sequences: int  # completions over all stages
    tokens_budgeted: int  # sum of sequences x max_new_tokens: the most the run can generate


def make_plan(stages: list[Generation]) -> Plan:
    """Add up `stages` (checked: positive counts)."""
    for stage in stages:
        if min(stage.sequences, stage.max_new_tokens, stage.batch_size) < 0:
            raise ValueError(f"stage {stage.name!r} has a negative count")
    sequences = sum(s.sequences for s in stages)
    tokens = sum(s.sequences * s.max_new_tokens for s in stages)
    return Plan(tuple(stages), sequences, tokens)


def parameter_count(architecture: dict[str, Any]) -> int:
    """Parameters of a registry architecture, counted on the meta device (no memory is used).

    >>> from starter.models import get_spec
    >>> parameter_count(get_spec("r1-shaped").architecture)
    1777088000
    """
    return _count(json.dumps(architecture, sort_keys=True))


@cache
def _count(architecture_json: str) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    architecture = json.loads(architecture_json)
    fields = {k: v for k, v in architecture.items() if k != "model_type"}
    config = AutoConfig.for_model(architecture["model_type"], **fields)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def kv_cache_bytes(architecture: dict[str, Any], batch_size: int, tokens: int,
                   bytes_per_value: int) -> int:
    """Keys and values of every layer for `batch_size` sequences of `tokens` tokens."""
    heads = architecture["num_attention_heads"]
    head_dim = architecture.get("head_dim") or architecture["hidden_size"] // heads
    kv_heads = architecture.get("num_key_value_heads") or heads
    per_token = 2 * architecture["num_hidden_layers"] * kv_heads * head_dim * bytes_per_value
    return per_token * batch_size * tokens


def describe_plan(plan: Plan, spec: Any, device_type: str) -> str:
    """The plan as the lines `--dry-run` prints: stages, totals, memory and time."""
    lines = [f"  {'stage':<44} {'sequences':>10} {'max new':>8} {'batch':>6} {'tokens budgeted':>16}"]
    for s in plan.stages:
        lines.append(f"  {s.name:<44} {s.sequences:>10,} {s.max_new_tokens:>8,} {s.batch_size:>6} "
                     f"{s.sequences * s.max_new_tokens:>16,}")
    lines.append(f"  {'total':<44} {plan.sequences:>10,} {'':>8} {'':>6} {plan.tokens_budgeted:>16,}")
    architecture = getattr(spec, "architecture", None)
    if not architecture:
        lines.append(f"  memory: unknown ({spec.name!r} has no architecture in starter/models.yaml)")
        lines.append("  time: unknown (no measured throughput for this model)")
        return "\n".join(lines)
    width = BF16_BYTES if device_type == "cuda" else CPU_BYTES
    weights = parameter_count(architecture) * width
    widest = max(plan.stages, key=lambda s: s.batch_size * (s.prompt_tokens + s.max_new_tokens),
                 default=None)
    cache = 0 if widest is None else kv_cache_bytes(
        architecture, widest.batch_size, widest.prompt_tokens + widest.max_new_tokens, width)
    lines.append(f"  memory: weights {weights / 1e9:.1f} GB + KV cache {cache / 1e9:.1f} GB "
                 f"(the largest batch: {widest.batch_size if widest else 0} x "
                 f"{(widest.prompt_tokens + widest.max_new_tokens) if widest else 0} tokens) "
                 f"= {(weights + cache) / 1e9:.1f} GB, plus activations and allocator slack")
    shape = (architecture.get("model_type"), architecture.get("num_hidden_layers"),
             architecture.get("hidden_size"))
    measured = MEASURED.get(shape)
    if measured is None:
        lines.append("  time: no measured throughput for this shape "
                     "(measure it: python scripts/gpu_check.py --checks r1)")
    else:
        minutes = plan.tokens_budgeted / measured.tokens_per_s / 60
        lines.append(f"  time: at most {minutes:,.0f} min at {measured.tokens_per_s:,.0f} tokens/s "
                     f"({measured.where}); chains that stop early cost less")
    return "\n".join(lines)


def require_budget(starter: Any) -> Callable[[Any], list[Generation]]:
    """The starter's `budget` function (config -> its sampling stages); refused (one line) when
    it declares none, since `--dry-run` cannot plan it."""
    budget = getattr(starter, "budget", None)
    if budget is None:
        raise StarterError(f"starter {starter.slug!r} declares no sampling budget (Starter.budget); "
                           "--dry-run cannot plan it")
    return budget
