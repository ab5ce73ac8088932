"""Evaluate the TinyThinker checkpoint on held-out problems (see starter/organism/evaluate.py).

    python scripts/eval_tinythinker.py                 # the shipped checkpoint: 300 problems, greedy (~30 s on 2 cores)
    python scripts/eval_tinythinker.py --checkpoint /tmp/tt   # a retrained one
    python scripts/eval_tinythinker.py --n 50 --device cuda

It also measures verification_error_t1 (starter/organism/evaluate.py): 4 samples at temperature 1
of each of the 300 problems, every Try line judged with the task generator's rules (~5 min on one
core; the whole script ~7 min, 2026-12-07, on 2 shared cores).

eval_results.json and eval.png go beside the checkpoint (for the shipped one, eval.png also to the site).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from starter.organism.evaluate import CHECKPOINT_DIR, EvalConfig, evaluate

DOCS_ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets" / "organism"  # the site's copy


def main() -> None:
    defaults = EvalConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=defaults.n)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=defaults.device)
    parser.add_argument("--checkpoint", type=Path, default=defaults.checkpoint)
    parser.add_argument("--t1-n", type=int, default=defaults.t1_n,
                        help="held-out problems of verification_error_t1 (at most --n)")
    parser.add_argument("--t1-samples", type=int, default=defaults.t1_samples,
                        help="samples per problem at temperature 1")
    parser.add_argument("--t1-seed", type=int, default=defaults.t1_seed, help="the sampler's seed")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    args = parser.parse_args()
    shipped = args.checkpoint.resolve() == CHECKPOINT_DIR.resolve()
    # a retrained model must not overwrite the shipped figures; the shipped one also updates the site's
    out_dirs = (CHECKPOINT_DIR, DOCS_ASSETS) if shipped else (args.checkpoint,)
    command = shlex.join(["python", "scripts/eval_tinythinker.py", *sys.argv[1:]])
    cfg = EvalConfig(n=args.n, seed=args.seed, device=args.device, checkpoint=args.checkpoint,
                     out_dirs=out_dirs, t1_n=min(args.t1_n, args.n), t1_samples=args.t1_samples,
                     t1_seed=args.t1_seed, threads=args.threads, command=command)
    results = evaluate(cfg)
    print(json.dumps({k: v for k, v in results.items() if k not in ("config", "examples")}, indent=1))


if __name__ == "__main__":
    main()
