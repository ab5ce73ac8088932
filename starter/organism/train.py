"""Train TinyThinker from a seed: a 4.2M-parameter Llama that learns the Countdown-3 search with backtracking.

Usage: `python scripts/train_tinythinker.py` (about 25-30 minutes on 2 CPU cores; `--steps 30` for a smoke run).
Outputs in `TrainConfig.out_dir` (default: the shipped checkpoint folder): `config.json` +
`model.safetensors` (LlamaForCausalLM), the tokenizer files, `training_log.json` (this config, the loss at
every logged step, wall time) and `loss_curve.png`.

Reproducible by construction: data, initialisation and batch order come from `seed`, training runs a fixed
number of steps (never "until time runs out"), and CPU bf16 autocast with a fixed thread count.

>>> cfg = TrainConfig(steps=2, batch_size=4, hidden_size=32, intermediate_size=64, num_layers=1, out_dir=None)
>>> log = train(cfg, progress=False)
>>> len(log["loss"]) == 2
True

Continue training a saved checkpoint (`init_from`) on traces of another seed:

>>> import tempfile
>>> saved = Path(tempfile.mkdtemp())
>>> cfg = TrainConfig(steps=2, batch_size=4, hidden_size=32, intermediate_size=64, num_layers=1,
...                   out_dir=saved)
>>> _ = train(cfg, progress=False)
>>> more = TrainConfig(steps=2, batch_size=4, seed=7, init_from=saved, out_dir=None)
>>> len(train(more, progress=False)["loss"])
2
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from starter.organism.data import Trace, make_traces
from starter.organism.tokenizer import VOCAB, build_tokenizer

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoint"
IGNORE = -100  # label for positions that carry no loss (prompt and padding)


@dataclass
class TrainConfig:
    seed: int = 0  # drives data, initialisation and batch order
    steps: int = 2650  # optimiser steps (~170k traces; 1.25 s each on 2 AVX2 CPU cores, ~1 min in all on a GPU)
    batch_size: int = 64  # traces per step
    lr: float = 1.5e-3  # peak AdamW learning rate
    betas: tuple[float, float] = (0.9, 0.98)  # AdamW betas
    weight_decay: float = 0.05  # AdamW weight decay
    warmup_steps: int = 100  # linear warm-up, then cosine decay
    min_lr_ratio: float = 0.1  # cosine ends at lr * min_lr_ratio
    grad_clip: float = 1.0  # max global gradient norm
    hinted_fraction: float = 0.15  # share of training prompts that carry a "Hint: <first correct op>."
    bucket_batches: int = 50  # batches per length bucket: sort this many batches' traces by length, then split
    hidden_size: int = 256  # residual stream width
    intermediate_size: int = 1024  # MLP width
    num_layers: int = 4  # transformer blocks
    num_heads: int = 4  # attention heads (no grouped KV)
    max_positions: int = 256  # context length (longest trace is ~170 tokens)
    threads: int = 2  # torch CPU threads (the reference machine has 2 cores)
    device: str = "cpu"  # "cpu" or "cuda"; the shipped checkpoint was trained on "cuda" (see the model card)
    bf16: bool | None = None  # bf16 autocast (weights stay fp32); None = on CUDA and on CPUs with AVX-512
    log_every: int = 10  # record the loss every this many steps
    out_dir: Path | None = CHECKPOINT_DIR  # where to save; None = don't save (tests)
    # continue from this checkpoint's weights instead of a fresh initialisation (its size, not
    # the size fields above; the data still come from `seed`: use one the checkpoint was not
    # trained on); None = train from scratch
    init_from: Path | None = None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        if not 0.0 <= self.hinted_fraction <= 1.0:
            raise ValueError(f"hinted_fraction must be in [0, 1], got {self.hinted_fraction}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.init_from is not None and not (Path(self.init_from) / "config.json").is_file():
            raise ValueError(f"init_from={str(self.init_from)!r} holds no config.json; pass a "
                             "checkpoint folder (e.g. starter/organism/checkpoint)")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")


def use_bf16(cfg: TrainConfig) -> bool:
    """bf16 autocast pays off on CUDA and on CPUs with AVX-512 (bf16 kernels); on AVX2-only CPUs it is ~10x slower."""
    if cfg.bf16 is not None:
        return cfg.bf16
    return cfg.device == "cuda" or "AVX512" in torch.backends.cpu.get_cpu_capability()


def build_model(cfg: TrainConfig):
    """A freshly initialised LlamaForCausalLM of the configured size (seeded by the caller)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(VOCAB),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config)


def load_weights(path: Path):
    """A saved TinyThinker (config.json + model.safetensors) to continue training from."""
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(path)


def encode(traces: list[Trace], tokenizer) -> list[tuple[list[int], int]]:
    """(token ids, prompt length) per trace: `<bos> prompt completion <eos>`; loss starts after the prompt."""
    prompts = tokenizer([t.prompt for t in traces])["input_ids"]
    completions = tokenizer([t.completion for t in traces], add_special_tokens=False)["input_ids"]
    return [(p + c + [tokenizer.eos_token_id], len(p)) for p, c in zip(prompts, completions)]


def length_bucketed_batches(examples: list[tuple[list[int], int]], cfg: TrainConfig) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), batch order shuffled by the seed."""
    rng = random.Random(cfg.seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = cfg.batch_size * cfg.bucket_batches
    batches = []
    for start in range(0, len(order), chunk):
        bucket = sorted(order[start : start + chunk], key=lambda i: len(examples[i][0]))
        batches += [bucket[k : k + cfg.batch_size] for k in range(0, len(bucket), cfg.batch_size)]
    rng.shuffle(batches)
    return [b for b in batches if len(b) == cfg.batch_size]


def collate(examples: list[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id)  # [batch, pos]
    labels = torch.full((len(examples), width), IGNORE)  # [batch, pos]
    mask = torch.zeros((len(examples), width), dtype=torch.long)  # [batch, pos]
    for row, (ids, prompt_len) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    """Train and (if `cfg.out_dir`) save; returns the training log."""
    from tqdm.auto import tqdm

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    tokenizer = build_tokenizer()
    model = build_model(cfg) if cfg.init_from is None else load_weights(cfg.init_from)
    model = model.to(cfg.device)
    bf16 = use_bf16(cfg)
    traces = make_traces(cfg.steps * cfg.batch_size * 21 // 20, cfg.seed, "train", cfg.hinted_fraction)
    examples = encode(traces, tokenizer)
    batches = length_bucketed_batches(examples, cfg)[: cfg.steps]
    if len(batches) < cfg.steps:
        raise RuntimeError(f"built only {len(batches)} full batches for {cfg.steps} steps; generate more traces")

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    log = {"config": _jsonable(asdict(cfg)), "parameters": sum(p.numel() for p in model.parameters()),
           "traces": len(traces), "bf16": bf16, "device": cfg.device, "step": [], "loss": [], "lr": []}  # fmt: skip
    model.train()
    started, tokens = time.time(), 0
    bar = tqdm(batches, desc="train", disable=not progress, mininterval=5)
    for step, batch_ids in enumerate(bar):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = collate([examples[i] for i in batch_ids], tokenizer.pad_token_id)
        batch = {k: v.to(cfg.device) for k, v in batch.items()}
        with torch.autocast(cfg.device, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            log["step"].append(step)
            log["loss"].append(round(loss.item(), 5))
            log["lr"].append(lr_at(step, cfg))
            bar.set_postfix(loss=f"{loss.item():.3f}")
    log["wall_seconds"] = round(time.time() - started, 1)
    log["tokens_per_second"] = round(tokens / max(log["wall_seconds"], 1e-9), 1)
    log["final_loss"] = log["loss"][-1]
    if cfg.out_dir is not None:
        save(model.to("cpu"), tokenizer, log, Path(cfg.out_dir))
    return log


def save(model, tokenizer, log: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)  # config.json + model.safetensors
    tokenizer.save_pretrained(out_dir)
    (out_dir / "training_log.json").write_text(json.dumps(log, indent=1) + "\n")
    plot_loss(log, out_dir / "loss_curve.png")


def plot_loss(log: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(log["step"], log["loss"], lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss on the trace (log scale)")
    ax.set_title(f"TinyThinker training: {log['parameters'] / 1e6:.1f}M params, final loss {log['final_loss']:.3f}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _jsonable(data: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}
