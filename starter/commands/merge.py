"""`mi-starter merge DIR DIR ... --out OUT`: combine the shard folders of one `--shard i/n` run."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", help="the shard folders (each run with --shard i/n)")
    parser.add_argument("--out", required=True, help="a new folder for the merged run")


def main(args: argparse.Namespace) -> int:
    from starter.experiment import merge_runs

    merge_runs(args.dirs, args.out)
    return 0
