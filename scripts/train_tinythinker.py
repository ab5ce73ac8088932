"""Retrain the TinyThinker organism from a seed (see starter/organism/train.py).

    python scripts/train_tinythinker.py                    # the shipped recipe (~55 min on 2 AVX2 cores; 1 min on a GPU)
    python scripts/train_tinythinker.py --steps 4800 --batch-size 16   # 30 min on 2 cores; meets the bar, weaker
    python scripts/train_tinythinker.py --steps 30 --out-dir /tmp/tt   # smoke run
"""

from __future__ import annotations

import argparse
from pathlib import Path

from starter.organism.train import TrainConfig, train


def main() -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="traces per step")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak AdamW learning rate")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=defaults.device)
    parser.add_argument("--out-dir", type=Path, default=defaults.out_dir)
    args = parser.parse_args()
    log = train(TrainConfig(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                            device=args.device, out_dir=args.out_dir))
    print(f"final loss {log['final_loss']:.4f} after {args.steps} steps, {log['wall_seconds']:.0f} s -> {args.out_dir}")


if __name__ == "__main__":
    main()
