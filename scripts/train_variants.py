"""Train the organism variants with planted truth (starter/organism/variants.py) and evaluate them.

Usage: `python scripts/train_variants.py [NAME ...] [--steps N] [--skip-eval]` (all variants by
default; each takes 2-5 minutes on 2 CPU cores). Writes starter/organism/variant_checkpoints/<name>/ (the
adapter, its config, the tokenizer, training_log.json) and, unless --skip-eval, eval.json there.
"""

from __future__ import annotations

import argparse
import sys

from starter.organism import variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="variants to train (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="override each variant's steps")
    parser.add_argument("--skip-eval", action="store_true", help="train only")
    args = parser.parse_args(argv)
    try:
        chosen = [variants.get_variant(n) for n in args.names] or list(variants.VARIANTS)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for variant in chosen:
        out = variants.VARIANTS_DIR / variant.name
        log = variants.train_variant(variant, out, steps=args.steps, progress=True)
        print(f"{variant.name}: {log['steps']} steps in {log['wall_seconds']} s, "
              f"final loss {log['final_loss']}", flush=True)
        if not args.skip_eval:
            from starter.organism import variant_eval

            report = variant_eval.evaluate(variant.name)
            variant_eval.write(report, out)
            print(f"{variant.name}: {report.headline()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
