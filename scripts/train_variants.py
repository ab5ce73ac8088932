"""Train the organism variants with planted truth (starter/organism/variants.py) and evaluate them.

Usage: `python scripts/train_variants.py [NAME ...] [--steps N] [--skip-eval]` (all variants by
default; each takes 2-8 minutes on 2 CPU cores, `--threads 1` beside another job). Writes
starter/organism/variant_checkpoints/<name>/ (the adapter, its config, the tokenizer,
training_log.json) and, unless --skip-eval, eval.json there.

`python scripts/train_variants.py --eval-only [NAME ...]` re-measures the trained variants' dials
(starter/organism/variant_eval.py; 1-4 minutes each on one core) without training anything;
`--page` rewrites the organism page's model cards from the eval.json files.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from starter.organism import variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="variants to train (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="override each variant's steps")
    parser.add_argument("--threads", type=int, default=variants.VariantTraining.threads,
                        help="torch CPU threads (1 when another job shares the cores)")
    parser.add_argument("--skip-eval", action="store_true", help="train only")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the trained variants")
    parser.add_argument("--eval-n", type=int, default=200, help="held-out problems per measure")
    parser.add_argument("--page", action="store_true",
                        help="rewrite the model cards on docs/organism.md from the eval.json files")
    args = parser.parse_args(argv)
    try:
        chosen = [variants.get_variant(n) for n in args.names] or list(variants.VARIANTS)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.page:
        return write_page()
    for variant in chosen:
        out = variants.VARIANTS_DIR / variant.name
        if not args.eval_only:
            training = variants.VariantTraining(threads=args.threads)
            log = variants.train_variant(variant, out, steps=args.steps, training=training,
                                         progress=True)
            print(f"{variant.name}: {log['steps']} steps in {log['wall_seconds']} s, "
                  f"final loss {log['final_loss']}", flush=True)
        if not args.skip_eval:
            from starter.organism import variant_eval

            command = shlex.join(["python", "scripts/train_variants.py", *(argv or sys.argv[1:])])
            report = variant_eval.evaluate(variant.name, n=args.eval_n, command=command)
            variant_eval.write(report, out)
            print(f"{variant.name}: {report.headline()}", flush=True)
    return 0


def write_page() -> int:
    import json
    from pathlib import Path

    from starter.organism import evaluate, variant_eval

    page = Path(__file__).resolve().parents[1] / "docs" / "organism.md"
    text = page.read_text(encoding="utf-8")
    results_path = evaluate.CHECKPOINT_DIR / "eval_results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else {}
    blocks = ((variant_eval.PAGE_START, variant_eval.PAGE_END, variant_eval.page_section()),
              (evaluate.BASE_PAGE_START, evaluate.BASE_PAGE_END,
               evaluate.verification_section(results)))
    for start, end, section in blocks:
        if start not in text or end not in text:
            print(f"error: {page} has no {start} ... {end} block", file=sys.stderr)
            return 2
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    page.write_text(text, encoding="utf-8")
    print(f"wrote the model cards and the base's T=1 verification into {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
