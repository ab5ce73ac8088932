"""`mi-starter public <question> [--data DIR] [--out DIR]`: a question answered on public R1-distill data.

No model is loaded: the command reads a public release (fetched with `mi-starter data fetch NAME`,
or any local copy given with --data) and writes the five artefacts. Nothing heavy is imported
until the command runs.
"""

from __future__ import annotations

import argparse
import importlib

# question -> module in starter.public
MODULES = {
    "determinism": "starter.public.determinism",
    "lucky-or-steady": "starter.public.lucky_or_steady",
    "reasoning-tree": "starter.public.reasoning_tree",
    "cot-faithfulness": "starter.public.cot_faithfulness",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", choices=sorted(MODULES), metavar="QUESTION",
                        help="one of: " + ", ".join(sorted(MODULES)))
    parser.add_argument("--data", default=None,
                        help="a local copy of the release (default: the `mi-starter data fetch` "
                             "cache)")
    parser.add_argument("--out", default=None,
                        help="where to write the artefacts (default: results/public/QUESTION)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from starter.public import resolve_data, write_run

    module = importlib.import_module(MODULES[args.question])
    folder = resolve_data(module.SOURCE, args.data)
    out = Path(args.out or Path("results") / "public" / args.question)
    run, figure = module.run(folder)
    write_run(run, figure, out)
    primary = next((c for c in run.claims if c.primary), None)
    print(f"wrote {out}/ (manifest.json, results.jsonl, figure.png, summary.md, findings.json)")
    if primary is not None:
        print(f"primary claim: {primary.verdict}: {primary.claim}")
    return 0
