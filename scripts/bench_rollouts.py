"""Benchmark: tokens/s of batched sampling vs one sequence at a time, on the embedded SmolLM2-135M.

Both sides call `starter.rollouts.sample` with the same prompts, greedy decoding and token budget; only
`batch_size` differs (32 vs 1), so the ratio measures batching alone. Greedy makes both sides write the
same tokens (checked and printed), so tokens/s compares equal work. Timing every one-at-a-time prompt
would take most of the run and tell us nothing new (each takes the same time), so only the first
`--sequential` prompts are timed that way.

Also timed: the same batch sampled at temperature 0.6, top-p 0.95 (the seeded Gumbel-max sampler of
`starter.rollouts`), as tokens/s next to greedy's: the cost of sampling itself (noise, top-p sort).

    python scripts/bench_rollouts.py                # ~2-4 minutes on 2 CPU cores
    python scripts/bench_rollouts.py --batch 64 --new-tokens 64 --threads 4
    python scripts/bench_rollouts.py --base-url http://HOST:8000/v1 --served-model NAME

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="prompts per batched generate call")
    parser.add_argument("--new-tokens", type=int, default=32, help="new tokens per completion")
    parser.add_argument("--sequential", type=int, default=8, help="prompts timed one at a time (a subset)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the ratio is below the target")
    parser.add_argument("--base-url", help="also time an OpenAI-compatible server (its API root)")
    parser.add_argument("--served-model", help="the name that server serves SmolLM2-135M under")
    args = parser.parse_args(argv)

    import torch

    from starter.models import load_model
    from starter.rollouts import SamplingConfig, sample
    from starter.tasks import get_task_set

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    lm = load_model("smollm2-135m", device="cpu")
    print(f"loaded smollm2-135m in {time.perf_counter() - start:.0f} s ({args.threads} threads)")
    problems = get_task_set("arithmetic").make(args.batch, seed=0, difficulty=2)
    prompts = [lm.prompt(p.question) for p in problems]
    greedy = dict(temperature=0, max_new_tokens=args.new_tokens)

    sample(lm, prompts[:2], n=1, cfg=SamplingConfig(**greedy, batch_size=2), progress=False)  # warm-up

    def timed(subset: list[str], batch_size: int, temperature: float = 0.0):
        settings = {**greedy, "temperature": temperature}
        cfg = SamplingConfig(**settings, top_p=0.95, batch_size=batch_size)
        start = time.perf_counter()
        runs = sample(lm, subset, n=1, cfg=cfg, progress=False)
        seconds = time.perf_counter() - start
        return [row[0] for row in runs], seconds

    batched, t_batched = timed(prompts, args.batch)
    n_seq = min(args.sequential, len(prompts))
    one_by_one, t_single = timed(prompts[:n_seq], 1)
    sampled, t_sampled = timed(prompts, args.batch, temperature=0.6)

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


if __name__ == "__main__":
    sys.exit(main())
