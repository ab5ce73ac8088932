"""`mi-starter list`: the starters by research area, and the command that runs each.

Reads only the package's own data (`starter/questions/questions.yaml` and the starter modules
present), so it works the same from a checkout, an installed wheel or a Colab runtime.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from starter import questions

    present = questions.available()
    area = None
    for q in questions.identities():
        if q.area != area:
            area = q.area
            print(q.area_title)
        if q.slug in present:
            print(f"  {q.letter}  {q.slug:<18} {q.title}")
            print(f"     mi-starter run {q.slug} --preset smoke")
        else:
            print(f"  {q.letter}  {q.slug:<18} {q.title}  (no starter module in this install)")
    return 0
