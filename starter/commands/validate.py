"""`mi-starter validate <slug>`: does the starter's metric recover what organism variants plant?"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the starter, e.g. cot-faithfulness (see `mi-starter list`)")
    parser.add_argument("--preset", default="smoke", help="smoke (default) or cpu")
    parser.add_argument("--out", help="output folder (default: runs/<slug>/validation); an "
                                      "existing one is resumed")
    parser.add_argument("--online", action="store_true",
                        help="let the arms' runs look up Neuronpedia (default: offline)")


def main(args: argparse.Namespace) -> int:
    import json

    from starter.validation import VALIDATION_FILE, run_validation

    out = Path(args.out) if args.out else Path("runs") / args.slug / "validation"
    run_validation(args.slug, args.preset, out, offline=not args.online)
    record = json.loads((out / VALIDATION_FILE).read_text(encoding="utf-8"))
    for block in record.get("validations", [record]):  # several validations: one block each
        arms = block["arms"]
        passed = sum(a["recovered"] for a in arms)
        print(f"[{args.slug}] {block['quantity']}: recovered on {passed} of {len(arms)} arms")
    print(f"[{args.slug}] wrote {out}/{VALIDATION_FILE}, {out}/figure.png and {out}/summary.md")
    return 0
