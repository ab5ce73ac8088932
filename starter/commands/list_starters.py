"""`mi-starter list`: the eight starters, their question and whether the file exists yet."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from starter import questions
    from starter.catalog import load_research

    ready = questions.available()
    for q in load_research().questions:
        status = "ready  " if q.slug in ready else "planned"
        print(f"{q.letter}  {q.slug:<18} {status}  {q.title}")
        print(f"   mi-starter run {q.slug} --preset smoke")
    return 0
