"""`mi-starter reanalyse RUN --out NEW`: a finished run's rows analysed again by today's code."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a finished run folder (its results.jsonl is read, not changed)")
    parser.add_argument("--out", required=True, help="a new folder for the reanalysed run")


def main(args: argparse.Namespace) -> int:
    from starter.experiment import reanalyse_run

    reanalyse_run(args.run, args.out)
    return 0
