"""`mi-starter run <slug> [--preset smoke|cpu|gpu] [--model NAME] [--device ...] [--out DIR] [--offline] [--seed N]`."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from starter.experiment import configure_parser

    parser.add_argument("slug", help="which starter (see `mi-starter list`)")
    configure_parser(parser)


def main(args: argparse.Namespace) -> int:
    from starter import questions
    from starter.experiment import execute

    execute(questions.load(args.slug), args)
    return 0
