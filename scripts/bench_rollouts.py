"""Benchmark: tokens/s of batched vs one-at-a-time sampling, and of the plain model vs the bridge.

Both sides call `starter.rollouts.sample` with the same prompts, greedy decoding and token budget; only
`batch_size` differs (32 vs 1), so the ratio measures batching alone. Greedy makes both sides write the
same tokens (checked and printed), so tokens/s compares equal work. Timing every one-at-a-time prompt
would take most of the run and tell us nothing new (each takes the same time), so only the first
`--sequential` prompts are timed that way.

Also timed: the same batch sampled at temperature 0.6, top-p 0.95 (the seeded Gumbel-max sampler of
`starter.rollouts`), as tokens/s next to greedy's: the cost of sampling itself (noise, top-p sort);
and the same greedy batch through the TransformerLens bridge (`engine="bridge"`) beside the plain HF
model that `sample` uses when no hook is active (`engine="auto"`, the batched figure above).

    python scripts/bench_rollouts.py                # ~2-4 minutes on 2 CPU cores
    python scripts/bench_rollouts.py --batch 64 --new-tokens 64 --threads 4
    python scripts/bench_rollouts.py --base-url http://HOST:8000/v1 --served-model NAME

On a GPU (`--device cuda`) it compares the two engines instead, side by side in one run, on
`r1-shaped` (R1-Distill-Qwen-1.5B's architecture, random weights, bf16) at batch 64 and 256 x 256
new tokens: greedy through the bridge vs through the plain model (tokens/s, the ratio, and whether
the greedy tokens are identical), plus the plain model sampling at T=0.6 (the starters' path) and,
with `--static-cache`, the plain model with a static KV cache (transformers compiles the decoding
step; timed on a second call, after compiling). Target: plain >= 3x the 5.2k tokens/s the bridge
ran at batch 256 on an H200 (issue #15).

    python scripts/bench_rollouts.py --device cuda                   # ~2-4 minutes on an H100
    python scripts/bench_rollouts.py --device cuda --static-cache --batches 256
    python scripts/bench_rollouts.py --engines --device cpu --model r1-shaped-tiny --batches 4 8 \
        --new-tokens 8                                               # try the GPU mode on a CPU

With `--base-url` and `--served-model` (an OpenAI-compatible server, e.g. vLLM, serving the same
SmolLM2-135M weights), the same prompts and budget also go through `--backend openai`'s client beside
the local path: tokens/s of each and whether the greedy texts are identical.

Prints e.g. `rollouts: batched(32) 9.1x the tokens/s of one-at-a-time (target >= 8x)`. Other processes
on the machine distort both numbers; the load average is printed so a reader can judge.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

TARGET_RATIO = 8.0  # at batch 32 on 2 CPU cores
BRIDGE_TOKENS_PER_S = 5200.0  # the bridge at batch 256 on an H200 (issue #15): the GPU baseline
TARGET_GPU_SPEEDUP = 3.0  # the plain path at batch 256 should reach 3x that


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (batched vs one at a time) or cuda "
                        "(bridge vs plain model on r1-shaped)")
    parser.add_argument("--engines", action="store_true",
                        help="the GPU mode's bridge-vs-plain comparison, on any --device")
    parser.add_argument("--model", help="model to time (default: smollm2-135m on CPU, r1-shaped "
                        "in the engine comparison)")
    parser.add_argument("--batch", type=int, default=32, help="prompts per batched generate call")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256],
                        help="engine comparison: batch sizes")
    parser.add_argument("--new-tokens", type=int, help="new tokens per completion (default: 32 "
                        "on CPU, 256 in the engine comparison)")
    parser.add_argument("--static-cache", action="store_true",
                        help="engine comparison: also the plain model with a static KV cache")
    parser.add_argument("--sequential", type=int, default=8, help="prompts timed one at a time (a subset)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the ratio is below the target")
    parser.add_argument("--base-url", help="also time an OpenAI-compatible server (its API root)")
    parser.add_argument("--served-model", help="the name that server serves SmolLM2-135M under")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("skipped: no CUDA device here (--engines --device cpu tries the engine comparison)")
        return 0
    if args.engines or args.device.startswith("cuda"):
        return engines(args)
    return batched_vs_sequential(args)


def batched_vs_sequential(args: argparse.Namespace) -> int:
    """The CPU benchmark: batched vs one at a time, sampled vs greedy, bridge vs plain model."""
    from starter.models import load_model
    from starter.rollouts import SamplingConfig, sample
    from starter.tasks import get_task_set

    name = args.model or "smollm2-135m"
    args.new_tokens = args.new_tokens or 32
    start = time.perf_counter()
    lm = load_model(name, device=args.device)
    print(f"loaded {name} in {time.perf_counter() - start:.0f} s ({args.threads} threads)")
    problems = get_task_set("arithmetic").make(args.batch, seed=0, difficulty=2)
    prompts = [lm.prompt(p.question) for p in problems]
    greedy = dict(temperature=0, max_new_tokens=args.new_tokens)

    sample(lm, prompts[:2], n=1, cfg=SamplingConfig(**greedy, batch_size=2), progress=False)  # warm-up

    def timed(subset: list[str], batch_size: int, temperature: float = 0.0, engine: str = "auto"):
        settings = {**greedy, "temperature": temperature}
        cfg = SamplingConfig(**settings, top_p=0.95, batch_size=batch_size, engine=engine)
        start = time.perf_counter()
        runs = sample(lm, subset, n=1, cfg=cfg, progress=False)
        seconds = time.perf_counter() - start
        return [row[0] for row in runs], seconds

    batched, t_batched = timed(prompts, args.batch)
    n_seq = min(args.sequential, len(prompts))
    one_by_one, t_single = timed(prompts[:n_seq], 1)
    sampled, t_sampled = timed(prompts, args.batch, temperature=0.6)
    bridged, t_bridged = timed(prompts, args.batch, engine="bridge")

    tok_batched = sum(c.n_new_tokens for c in batched)
    tok_single = sum(c.n_new_tokens for c in one_by_one)
    rate_batched, rate_single = tok_batched / t_batched, tok_single / t_single
    same = sum(a.token_ids == b.token_ids for a, b in zip(batched, one_by_one))
    ratio = rate_batched / rate_single
    print(f"batched({args.batch}):   {len(prompts)} prompts, {tok_batched} tokens in {t_batched:6.1f} s "
          f"= {rate_batched:7.1f} tokens/s")
    print(f"one-at-a-time: {n_seq} prompts (a subset), {tok_single} tokens in {t_single:6.1f} s "
          f"= {rate_single:7.1f} tokens/s")
    print(f"greedy outputs identical batched vs one-at-a-time: {same}/{n_seq}")
    tok_sampled = sum(c.n_new_tokens for c in sampled)
    rate_sampled = tok_sampled / t_sampled
    print(f"sampled({args.batch}, T=0.6, top-p 0.95): {tok_sampled} tokens in {t_sampled:6.1f} s "
          f"= {rate_sampled:7.1f} tokens/s ({rate_sampled / rate_batched:.2f}x greedy batched)")
    tok_bridged = sum(c.n_new_tokens for c in bridged)
    rate_bridged = tok_bridged / t_bridged
    same_bridged = sum(a.token_ids == b.token_ids for a, b in zip(batched, bridged))
    print(f"bridge({args.batch}), greedy: {tok_bridged} tokens in {t_bridged:6.1f} s = "
          f"{rate_bridged:7.1f} tokens/s; the plain model (batched above) ran "
          f"{rate_batched / rate_bridged:.2f}x the bridge's tokens/s; greedy tokens identical "
          f"{same_bridged}/{len(prompts)}")
    if args.base_url and args.served_model:
        from starter.backends.openai import RemoteModel, ServerConfig

        remote = RemoteModel.from_loaded(lm, ServerConfig(base_url=args.base_url,
                                                          served_model=args.served_model))
        start = time.perf_counter()
        served = sample(remote, prompts, n=1, cfg=SamplingConfig(**greedy), progress=False)
        t_served = time.perf_counter() - start
        tok_served = sum(row[0].n_new_tokens for row in served)
        same_served = sum(row[0].text == c.text for row, c in zip(served, batched))
        print(f"backend openai: {tok_served} tokens in {t_served:6.1f} s = "
              f"{tok_served / t_served:7.1f} tokens/s ({tok_served / t_served / rate_batched:.2f}x "
              f"the local batched path); greedy texts identical {same_served}/{len(prompts)}")
    else:
        print("backend openai: not timed (pass --base-url and --served-model of a server running "
              "SmolLM2-135M)")
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    verdict = "" if ratio >= TARGET_RATIO else "  BELOW TARGET"
    print(f"rollouts: batched({args.batch}) {ratio:.1f}x the tokens/s of one-at-a-time "
          f"(target >= {TARGET_RATIO:g}x){verdict}")
    return 1 if args.strict and ratio < TARGET_RATIO else 0


def engines(args: argparse.Namespace) -> int:
    """Bridge vs plain model, side by side, at each batch size (the GPU mode)."""
    import torch

    from starter.models import load_model
    from starter.rollouts import SamplingConfig, sample

    name = args.model or "r1-shaped"
    new_tokens = args.new_tokens or 256
    cuda = args.device.startswith("cuda")
    start = time.perf_counter()
    lm = load_model(name, device=args.device)
    card = torch.cuda.get_device_name(lm.device) if cuda else f"CPU, {args.threads} threads"
    print(f"loaded {name} ({lm.dtype}, {lm.n_layers} layers x {lm.d_model}) in "
          f"{time.perf_counter() - start:.0f} s on {card}; {new_tokens} new tokens per sequence")
    prompts = [lm.prompt(question=f"What is {i} + {2 * i + 1}? Show each step.")
               for i in range(max(args.batches))]

    def run(texts: list[str], batch: int, **settings):
        """(completions, seconds) of one synchronised sample call."""
        base = dict(temperature=0.0, max_new_tokens=new_tokens, batch_size=batch, seed=0)
        cfg = SamplingConfig(**{**base, **settings})
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = [row[0] for row in sample(lm, texts, 1, cfg, progress=False)]
        if cuda:
            torch.cuda.synchronize()
        return out, time.perf_counter() - started

    for engine in ("bridge", "plain"):  # warm-up: kernels, allocator, the tokenizer's caches
        run(prompts[:2], 2, engine=engine, max_new_tokens=4)
    paths = {"bridge": dict(engine="bridge"), "plain": dict(engine="plain"),
             "plain T=0.6": dict(engine="plain", temperature=0.6, top_p=0.95)}
    if args.static_cache:
        paths["plain static cache"] = dict(engine="plain", kv_cache="static")
    failed = False
    for batch in args.batches:
        texts = prompts[:batch]
        rates: dict[str, float] = {}
        outputs = {}
        for path, settings in paths.items():
            if settings.get("kv_cache") == "static":  # first call compiles (on CUDA): untimed
                run(texts, batch, **settings)
            out, seconds = run(texts, batch, **settings)
            tokens = sum(c.n_new_tokens for c in out)
            rates[path], outputs[path] = tokens / seconds, out
            peak = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""
            print(f"batch {batch:4d} {path:18s} {tokens:7d} tokens in {seconds:7.2f} s = "
                  f"{rates[path]:9.1f} tokens/s{peak}")
        same = sum(a.token_ids == b.token_ids for a, b in zip(outputs["bridge"], outputs["plain"]))
        print(f"batch {batch:4d}: plain {rates['plain'] / rates['bridge']:.2f}x the bridge's "
              f"tokens/s; greedy tokens identical bridge vs plain {same}/{batch}")
        if "plain static cache" in outputs:
            static = sum(a.token_ids == b.token_ids
                         for a, b in zip(outputs["plain"], outputs["plain static cache"]))
            speedup = rates["plain static cache"] / rates["plain"]
            print(f"batch {batch:4d}: static cache {speedup:.2f}x the dynamic cache's tokens/s; "
                  f"greedy tokens identical {static}/{batch}")
        if batch == 256 and cuda:
            best = max(rates[p] for p in paths if p != "bridge")
            target = TARGET_GPU_SPEEDUP * BRIDGE_TOKENS_PER_S
            verdict = "" if best >= target else "  BELOW TARGET"
            failed = failed or best < target
            print(f"rollouts (GPU): best plain path {best:,.0f} tokens/s at batch 256 = "
                  f"{best / BRIDGE_TOKENS_PER_S:.1f}x the bridge's 5.2k on an H200 (target >= "
                  f"{TARGET_GPU_SPEEDUP:g}x){verdict}")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
