"""`mi-starter list`: the starters by research area, and the command that runs each.

One heading per area of the MATS guide (its title, in the guide's order), then that area's
questions: the thinking-models ones with their letter a..h, the others by title alone. An area
without questions yet says so. Reads only the package's own data
(`starter/questions/questions.yaml` and the starter modules present), so it works the same from a
checkout, an installed wheel or a Colab runtime.
"""

from __future__ import annotations

import argparse

SLUG_WIDTH = 22  # the slug column; the longest slug today is 21 characters


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from starter import questions

    present = questions.available()
    for number, area in enumerate(questions.areas()):
        if number:
            print()
        print(area.title)
        listed = [q for q in questions.identities() if q.area == area.id]
        if not listed:
            print("  (no questions yet)")
        for q in listed:
            letter = q.letter or "-"
            line = f"  {letter}  {q.slug:<{SLUG_WIDTH}} {q.title}"
            if q.slug in present:
                print(line)
                print(f"     mi-starter run {q.slug} --preset smoke")
            else:
                print(f"{line}  (no starter module in this install)")
    return 0
