"""A run's claims, machine-readable: `findings.json`, the fifth artefact of every run.

Each claim compares a measured quantity with its control and says whether the data support it. The
verdict is never typed by hand: `compare` derives it from the interval of the difference, so a summary
cannot call a difference a finding when its interval covers zero.

    [{"claim": "...", "metric": "agreement at K=50%", "value": 0.91, "ci": [0.84, 0.97], "n": 12,
      "unit": "problem", "control": {"name": "...", "metric": "...", "value": ..., "ci": [...], "n": 12},
      "difference_ci": [0.02, 0.31], "verdict": "supported"}]

Verdicts: "supported" (the difference's interval excludes zero in the predicted direction), "refuted" (it
excludes zero the other way) and "not distinguishable" (it covers zero, or there is no interval).

One claim per run is primary, declared in the starter file above its code (`PRIMARY = "<key>"`, the
`key` of one `compare`): its difference keeps the plain 95% interval. Every other claim is secondary
and `declare(claims, primary=PRIMARY)` adjusts them for multiplicity with Holm's step-down over the
secondary claims only (m of them), on the two-sided p-values of their differences
(`starter.stats.p_value`, the smallest alpha whose (1 - alpha) interval from the same bootstrap
resamples excludes 0). The claim at rank r is read at the interval level 1 - 0.05 / (m - r + 1) while
Holm keeps rejecting; from the first rank k it does not, every later claim is read at
1 - 0.05 / (m - k + 1) (`starter.stats.holm`). The verdict then follows that adjusted interval, so a
secondary claim is "supported" exactly when Holm rejects its null. The entry records
`"primary"`, `"ci_level"` (of `difference_ci`) and `"p_value"`; a claim that compares a method with a
baseline ladder carries `"strongest_baseline": {"name", "value", "ci"}`.

>>> from starter.stats import mean_ci, difference_ci
>>> test = mean_ci([1, 1, 1, 1, 0, 1], clusters="abcdef")
>>> ctrl = mean_ci([0, 0, 1, 0, 0, 0], clusters="abcdef")
>>> diff = difference_ci([1, 1, 1, 1, 0, 1], "abcdef", [0, 0, 1, 0, 0, 0], "abcdef")
>>> claim = compare("Steering raises the backtrack rate above a random direction.", "backtrack rate",
...                 test, "random direction", "backtrack rate", ctrl, diff)
>>> claim.verdict
'supported'
>>> check(claim.to_dict())  # passes silently: the verdict agrees with difference_ci
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from starter.stats import LEVEL, Estimate, describe, holm, interval_at, n_needed, p_value

FINDINGS = "findings.json"
Verdict = Literal["supported", "not distinguishable", "refuted"]
VERDICTS = ("supported", "not distinguishable", "refuted")
# what one independent unit is; "question": a public multiple-choice set with one chain per question
UNITS = ("problem", "question", "chain", "trace", "step")


@dataclass(frozen=True)
class Control:
    """What the claim is compared against: a control condition measured the same way."""

    name: str  # e.g. "random vector of the same norm"
    metric: str  # what was measured on it (usually the claim's metric)
    estimate: Estimate  # its value, interval and n


@dataclass(frozen=True)
class Baseline:
    """The strongest rung of a baseline ladder a method was compared with (starter.baselines)."""

    name: str  # e.g. "fitted text baseline (gradient boosting on step index, depth, tag, words)"
    estimate: Estimate  # its score on the same units, with interval and n

    def to_dict(self) -> dict:
        return {"name": self.name, "value": _num(self.estimate.value),
                "ci": _pair(self.estimate.ci)}


@dataclass(frozen=True)
class Claim:
    """One sentence the run supports, refutes or cannot decide, with the numbers behind it."""

    claim: str  # the hypothesis in one sentence, e.g. "The probe beats the best text baseline."
    metric: str  # what was measured
    estimate: Estimate  # the measured value, its interval and n
    control: Control  # the comparison that rules out the obvious confound
    difference: Estimate  # estimate minus control, from one bootstrap
    verdict: Verdict  # derived by `compare` from `difference`
    direction: int = 1  # +1: the claim predicts estimate > control; -1: estimate < control
    key: str = ""  # a short name the starter's PRIMARY constant can point at, e.g. "probe-vs-text"
    primary: bool = False  # the one claim declared before the run; set by `declare`
    ci_level: float = LEVEL  # level of `difference`'s interval (Holm-adjusted for a secondary claim)
    p_value: float | None = None  # two-sided p of the difference (set by `declare`)
    strongest_baseline: Baseline | None = None  # the strongest rung, for a method-vs-ladder claim

    def to_dict(self) -> dict:
        extra: dict = {"primary": self.primary, "ci_level": round(self.ci_level, 6)}
        if self.key:
            extra["key"] = self.key
        if self.p_value is not None:
            extra["p_value"] = round(self.p_value, 5)
        if self.strongest_baseline is not None:
            extra["strongest_baseline"] = self.strongest_baseline.to_dict()
        return {
            "claim": self.claim,
            "metric": self.metric,
            "value": _num(self.estimate.value),
            "ci": _pair(self.estimate.ci),
            "n": self.estimate.n,
            "unit": self.estimate.unit,
            "control": {"name": self.control.name, "metric": self.control.metric,
                        "value": _num(self.control.estimate.value),
                        "ci": _pair(self.control.estimate.ci), "n": self.control.estimate.n},
            "difference": _num(self.difference.value),
            "difference_ci": _pair(self.difference.ci),
            "verdict": self.verdict,
            **extra,
        }

    def sentence(self) -> str:
        """The claim in plain words with its numbers, for the top of summary.md."""
        verdict = {"supported": "**Supported.**", "refuted": "**Refuted.**",
                   "not distinguishable": "**Not distinguishable at this n.**"}[self.verdict]
        if self.primary:
            verdict = "Primary claim. " + verdict
        text = (f"{verdict} {self.claim} {self.metric}: {describe(self.estimate)}; "
                f"{self.control.name}: {describe(self.control.estimate)}; "
                f"difference {_signed(self.difference, self.ci_level)}.")
        if self.strongest_baseline is not None:
            text += (f" Strongest baseline: {self.strongest_baseline.name}, "
                     f"{describe(self.strongest_baseline.estimate)}.")
        if self.verdict == "not distinguishable":
            text += sizing_note(self.difference)
        return text


SIZING_LIMIT = 20  # sizing from an estimate needing > 20x today's n says nothing: call it ~0


def sizing_note(difference: Estimate) -> str:
    """How many units would bring the interval's end to zero, if the estimate held (~50% power).

    Interval half-widths shrink like 1/sqrt(n) (`starter.stats.n_needed`). An estimate so close
    to zero that this exceeds SIZING_LIMIT times today's n is said to be so, not extrapolated.

    >>> sizing_note(Estimate(0.1, (-0.1, 0.3), n=10, n_items=10))
    " If this estimate held, about 40 problems would put the interval's end at zero (half-widths \
shrink like 1/sqrt(n); about half of such studies would see it)."
    >>> sizing_note(Estimate(0.001, (-0.1, 0.1), n=10, n_items=10))
    ' The estimate is too close to zero to size a larger study from it.'
    """
    needed = n_needed(difference)
    if needed is None:
        return ""
    if needed > SIZING_LIMIT * difference.n:
        return " The estimate is too close to zero to size a larger study from it."
    units = difference.unit + "s"
    return (f" If this estimate held, about {needed} {units} would put the interval's end at zero "
            "(half-widths shrink like 1/sqrt(n); about half of such studies would see it).")


def compare(claim: str, metric: str, estimate: Estimate, control_name: str, control_metric: str,
            control: Estimate, difference: Estimate, direction: int = 1, key: str = "",
            strongest_baseline: Baseline | None = None) -> Claim:
    """A `Claim` whose verdict follows from `difference`'s interval and the predicted `direction`.

    `key` names the claim for the starter's `PRIMARY`; `strongest_baseline` is the top rung of the
    ladder a method was put beside (often the control itself)."""
    if direction not in (1, -1):
        raise ValueError(f"direction={direction!r}: use +1 (estimate > control) or -1 (estimate < control)")
    if estimate.unit not in UNITS:
        raise ValueError(f"unit {estimate.unit!r} is not one of {UNITS}")
    return Claim(claim=claim, metric=metric, estimate=estimate,
                 control=Control(control_name, control_metric, control), difference=difference,
                 verdict=verdict_of(difference, direction), direction=direction, key=key,
                 strongest_baseline=strongest_baseline)


def declare(claims: list[Claim], primary: str) -> list[Claim]:
    """Mark the claim whose `key` is `primary` as the run's primary claim and adjust every other
    claim's difference interval (and so its verdict) by Holm's step-down over them.

    A run whose data did not yield the primary claim (e.g. a smoke run too small for it) gets no
    primary entry; the secondary claims are adjusted all the same. Keys must be unique.

    By hand: three secondary claims whose differences have normal-shaped 95% intervals at
    z = 3, 2.2 and 1: p = 0.0027, 0.0278, 0.3173. Holm: 0.0027 <= 0.05/3 (read at 98.33%),
    0.0278 > 0.05/2 (stop: read at 97.5%, and so is the third). z = 2.2 < 2.2414 = z(0.9875):
    the second claim's 97.5% interval covers 0, no longer "supported".

    >>> from starter.stats import Estimate
    >>> z95 = 1.959964
    >>> def claim(key, z):
    ...     diff = Estimate(z, (z - z95, z + z95), 20, 20)
    ...     return compare("X.", "m", diff, "c", "m", diff, diff, key=key)
    >>> out = declare([claim("main", 5), claim("a", 3), claim("b", 2.2), claim("c", 1)], "main")
    >>> [(c.key, c.primary, round(c.ci_level, 4), c.verdict) for c in out]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('main', True, 0.95, 'supported'), ('a', False, 0.9833, 'supported'),
     ('b', False, 0.975, 'not distinguishable'), ('c', False, 0.975, 'not distinguishable')]
    """
    keys = [c.key for c in claims if c.key]
    if len(keys) != len(set(keys)):
        raise ValueError(f"claim keys repeat: {sorted(keys)}; give each claim its own key")
    secondary = [i for i, c in enumerate(claims) if c.key != primary]
    p_values = [p_value(claims[i].difference) for i in secondary]
    alphas = holm(p_values, 1 - LEVEL)
    out = list(claims)
    for i, claim in enumerate(claims):
        if claim.key == primary:
            out[i] = replace(claim, primary=True, ci_level=LEVEL,
                             p_value=p_value(claim.difference))
    for i, p, alpha in zip(secondary, p_values, alphas):
        claim = claims[i]
        level = 1 - alpha
        difference = replace(claim.difference, ci=interval_at(claim.difference, level))
        out[i] = replace(claim, difference=difference, primary=False, ci_level=level, p_value=p,
                         verdict=verdict_of(difference, claim.direction))
    return out


def verdict_of(difference: Estimate, direction: int = 1) -> Verdict:
    """'supported' / 'refuted' only when the interval excludes zero; else 'not distinguishable'.

    >>> from starter.stats import Estimate
    >>> verdict_of(Estimate(0.2, (0.05, 0.4), 10, 10)), verdict_of(Estimate(0.2, (-0.05, 0.4), 10, 10))
    ('supported', 'not distinguishable')
    >>> verdict_of(Estimate(0.2, (0.05, 0.4), 10, 10), direction=-1)
    'refuted'
    """
    if difference.ci is None or not difference.excludes_zero:
        return "not distinguishable"
    above = difference.ci[0] > 0
    return "supported" if above == (direction > 0) else "refuted"


def check(claim: dict) -> None:
    """Raise ValueError when a findings.json entry lacks a field or its verdict contradicts its interval."""
    required = ("claim", "metric", "value", "ci", "n", "unit", "control", "difference_ci", "verdict")
    missing = [key for key in required if key not in claim]
    if missing:
        raise ValueError(f"claim {claim.get('claim')!r} lacks {missing}")
    if claim["verdict"] not in VERDICTS:
        raise ValueError(f"verdict {claim['verdict']!r} is not one of {VERDICTS}")
    for key in ("name", "metric", "value", "ci", "n"):
        if key not in claim["control"]:
            raise ValueError(f"claim {claim['claim']!r}: control lacks {key!r}")
    ci = claim["difference_ci"]
    excludes = ci is not None and (ci[0] > 0 or ci[1] < 0)
    if excludes == (claim["verdict"] == "not distinguishable"):
        raise ValueError(f"claim {claim['claim']!r}: verdict {claim['verdict']!r} disagrees with "
                         f"difference_ci {ci}")


def write_findings(out: str | os.PathLike, claims: list[Claim]) -> Path:
    """Write `out/findings.json` atomically and return its path (every entry checked first; at
    most one claim may be primary)."""
    entries = [c.to_dict() for c in claims]
    for entry in entries:
        check(entry)
    primaries = [e["claim"] for e in entries if e.get("primary")]
    if len(primaries) > 1:
        raise ValueError(f"{len(primaries)} claims are marked primary; a run declares one: "
                         f"{primaries}")
    path = Path(out) / FINDINGS
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_findings(path: str | os.PathLike) -> list[dict]:
    """Read and check a findings.json (for the site and the tests)."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of claims")
    for entry in entries:
        check(entry)
    return entries


def render_claims(claims: list[Claim]) -> str:
    """Markdown bullets, one claim each, for the top of summary.md."""
    return "\n".join(f"- {c.sentence()}" for c in claims)


def _signed(difference: Estimate, level: float = LEVEL) -> str:
    if not math.isfinite(difference.value):
        return "not measurable"
    if difference.ci is None:
        return f"{difference.value:+.2f} (no interval with n={difference.n})"
    lo, hi = difference.ci
    if abs(level - LEVEL) < 1e-9:
        return f"{difference.value:+.2f} (95% CI {lo:+.2f} to {hi:+.2f})"
    return f"{difference.value:+.2f} (Holm-adjusted {100 * level:.1f}% CI {lo:+.2f} to {hi:+.2f})"


def _num(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None


def _pair(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(float(ci[0]), 6), round(float(ci[1]), 6)]
