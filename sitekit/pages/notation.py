"""One notation for every interval on the site: `0.41 [0.22, 0.60]`, the 95% interval in
brackets after the value (`interval`). The starters' summaries write their own notations
("0.90 (95% CI 0.80 to 1.00; n=30 problems)", "(0.02–0.07)", "(-0.59–-0.53)"); `normalise`
rewrites them in a page's markdown, outside code, so a reader meets one notation everywhere.

>>> interval("0.41", "0.22", "0.60")
'0.41 [0.22, 0.60]'
>>> normalise("accuracy 0.90 (95% CI 0.80 to 1.00; n=30 problems) over chains")
'accuracy 0.90 [0.80, 1.00] (n=30 problems) over chains'
>>> normalise("mlp-32 1 (95% CI 0.95–1, n = 80 problems) vs 0.37 (0.24–0.50, n = 5)")
'mlp-32 1 [0.95, 1] (n = 80 problems) vs 0.37 [0.24, 0.50] (n = 5)'
>>> normalise("difference -0.55 (-0.59–-0.53).")
'difference -0.55 [-0.59, -0.53].'
>>> normalise("0.03 (95% CI 0.00 to 0.08)")
'0.03 [0.00, 0.08]'
>>> normalise("seed 0: -0.59 (-0.93 to -0.19); difference -0.243, 95% CI -0.370 to -0.105.")
'seed 0: -0.59 [-0.93, -0.19]; difference -0.243 [-0.370, -0.105].'
>>> normalise("papers (2023–2024), `x (0.1–0.2)` in code")
'papers (2023–2024), `x (0.1–0.2)` in code'
"""

from __future__ import annotations

import re

NUMBER = r"[-+−]?\d+(?:\.\d+)?"
# "(95% CI a to b; rest)", "(95% CI a–b, rest)", "(a–b, rest)", "(a–b)": the interval, then
# the rest
_PAREN = re.compile(
    rf"\((?P<ci>95% CI:? )?(?P<lo>{NUMBER})(?P<sep> to |–| – )(?P<hi>{NUMBER})"
    r"(?:[;,] (?P<rest>[^()]*))?\)")
# "difference -0.243, 95% CI -0.370 to -0.105": the value, then its interval
_TRAILING = re.compile(
    rf"(?P<value>{NUMBER}),? 95% CI:? (?P<lo>{NUMBER})(?: to |–)(?P<hi>{NUMBER})")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`[^`]*`")


def interval(value: str, lo: str, hi: str) -> str:
    """The site's notation for a value with its 95% interval."""
    return f"{value} [{lo}, {hi}]"


def _rewrite(match: re.Match) -> str:
    rest = match.group("rest")
    lo, hi = match.group("lo"), match.group("hi")
    if not match.group("ci"):
        decimals = ("." in lo) + ("." in hi)
        if decimals < (2 if match.group("sep") == " to " else 1):
            return match.group()  # "(2023–2024)", "(1 to 3)": a range, not an interval
    return f"[{lo}, {hi}]" + (f" ({rest.strip()})" if rest and rest.strip() else "")


def _text(text: str) -> str:
    text = _PAREN.sub(_rewrite, text)
    return _TRAILING.sub(lambda m: interval(m["value"], m["lo"], m["hi"]), text)


def _line(line: str) -> str:
    """One line, code spans left alone."""
    out, last = [], 0
    for span in _CODE_SPAN.finditer(line):
        out += [_text(line[last:span.start()]), span.group()]
        last = span.end()
    out.append(_text(line[last:]))
    return "".join(out)


def normalise(markdown: str) -> str:
    """Every interval of `markdown` in the site's notation; fenced code is left as it is (a
    fence closes only on a run of the same character at least as long as the one that opened).

    >>> normalise("````python\\nx = '(0.1–0.2)'\\n```\\n````\\n(0.1–0.2)")
    "````python\\nx = '(0.1–0.2)'\\n```\\n````\\n[0.1, 0.2]"
    """
    lines, fence = [], ""
    for line in markdown.split("\n"):
        opened = _FENCE.match(line)
        marks = re.match(r"`+|~+", line.lstrip())
        if opened and marks:  # a fence line starts with its marks
            run = marks.group()
            if not fence:
                fence = run
            elif run[0] == fence[0] and len(run) >= len(fence) and not line.strip()[len(run):]:
                fence = ""
            lines.append(line)
            continue
        lines.append(line if fence else _line(line))
    return "\n".join(lines)
