"""A question page's GPU tab: the model the `gpu` preset loads, the plan that
`mi-starter run <slug> --preset gpu --dry-run` prints (generations, tokens, weights + KV-cache
memory, time), and how to install on a CUDA machine. Computed at build time with the package's
own planning code (starter/plan.py), so the page and `--dry-run` cannot disagree.

This module imports the starters (and so torch) on first use; the result is cached per slug,
so both language passes of a build pay once.

>>> print(summary_line(GpuPlan("m", 3, 100, 2.0e9, 1.5e9, 12.4, "x")).replace("; ", ";\\n"))
3 generations, at most 100 tokens;
memory 2.0 GB weights + 1.5 GB KV cache = 3.5 GB;
time at most 12 min (x)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sitekit import pins

GPU_PRESET = "gpu"
CUDA_DEVICE = "cuda"  # the device type the gpu preset plans for (bf16 weights)


@dataclass(frozen=True)
class GpuPlan:
    """What `--preset gpu --dry-run` computes for one starter, as numbers."""

    model: str  # the model the gpu preset loads (registry name or HF id)
    generations: int  # completions over all sampling stages
    tokens: int  # the most tokens the run can generate (budgets, not expectations)
    weights_bytes: float | None  # bf16 weights; None when the registry has no architecture
    kv_bytes: float | None  # KV cache of the largest batch; None as above
    minutes: float | None  # at the measured throughput; None when none is measured
    throughput_where: str  # where that throughput was measured ("" when none)
    printed: str = ""  # the lines `--dry-run` prints, verbatim


def summary_line(p: GpuPlan) -> str:
    """The plan in one line of plain words."""
    parts = [f"{p.generations:,} generations, at most {p.tokens:,} tokens"]
    if p.weights_bytes is not None and p.kv_bytes is not None:
        total = (p.weights_bytes + p.kv_bytes) / 1e9
        parts.append(f"memory {p.weights_bytes / 1e9:.1f} GB weights + {p.kv_bytes / 1e9:.1f} GB "
                     f"KV cache = {total:.1f} GB")
    else:
        parts.append("memory not estimated (no architecture in the model registry)")
    if p.minutes is not None:
        parts.append(f"time at most {p.minutes:,.0f} min ({p.throughput_where})")
    else:
        parts.append("time not estimated (no measured throughput for this model's shape)")
    return "; ".join(parts)


@cache
def gpu_plan(slug: str) -> GpuPlan | None:
    """The gpu preset's plan of starter `slug`; None for a starter without a sampling budget."""
    from starter import plan
    from starter.models import validate_model_name
    from starter.questions import available, load

    if slug not in available():
        return None
    starter = load(slug)
    if getattr(starter, "budget", None) is None or GPU_PRESET not in starter.presets:
        return None
    cfg = starter.presets[GPU_PRESET]
    spec = validate_model_name(cfg.model)
    made = plan.make_plan(starter.budget(cfg))
    printed = plan.describe_plan(made, spec, CUDA_DEVICE)
    weights = kv = minutes = None
    where = ""
    architecture = getattr(spec, "architecture", None)
    if architecture and made.stages:
        weights = float(plan.parameter_count(architecture) * plan.BF16_BYTES)
        widest = max(made.stages, key=lambda s: s.batch_size * (s.prompt_tokens + s.max_new_tokens))
        kv = float(plan.kv_cache_bytes(architecture, widest.batch_size,
                                       widest.prompt_tokens + widest.max_new_tokens,
                                       plan.BF16_BYTES))
        shape = (architecture.get("model_type"), architecture.get("num_hidden_layers"),
                 architecture.get("hidden_size"))
        measured = plan.MEASURED.get(shape)
        if measured is not None:
            minutes = made.tokens_budgeted / measured.tokens_per_s / 60
            where = f"{measured.tokens_per_s:,.0f} tokens/s measured on {measured.where}"
    return GpuPlan(cfg.model, made.sequences, made.tokens_budgeted, weights, kv, minutes, where,
                   printed)


def torch_pin() -> str:
    """The torch pin of pyproject.toml (its one home), e.g. 'torch==2.13.0'."""
    return next((p for p in pins.extra("pinned") if p.startswith("torch")), "torch")


def install_lines(repo_url: str | None) -> list[str]:
    """Shell lines that set up a CUDA machine (Linux): PyPI's torch wheel there is the CUDA
    build, so `make install` needs no extra index."""
    url = (repo_url or "").rstrip("/")
    folder = url.rsplit("/", 1)[-1].removesuffix(".git") or "."
    return [
        f"git clone {url} && cd {folder}",
        f"make install                  # .venv with {torch_pin()} (on Linux, PyPI's wheel is "
        "the CUDA build)",
        ".venv/bin/mi-starter doctor    # should list your GPU and its CUDA version",
    ]

