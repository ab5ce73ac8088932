"""`mi-starter list`: the eight starters, their status in the catalog and the command that runs each."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from starter.catalog import load_research

    for q in load_research().questions:
        print(f"{q.letter}  {q.slug:<18} {q.status:<8} {q.title}")
        if q.status == "ready":
            print(f"   mi-starter run {q.slug} --preset smoke")
    return 0
