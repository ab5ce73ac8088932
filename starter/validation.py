"""Does the method work? Run a starter's own metric on organism variants with planted truth.

A starter opts in by defining, in its module, `VALIDATION = Validation(...)`: which registry models
to run (the arms: variants of TinyThinker from `starter.organism.variants`, and the base where it is
the right comparison), what its metric should recover on each (a planted value, or only an order),
and how to read that number from the starter's own `analyse` output. `mi-starter validate <slug>`
runs the starter exactly as `mi-starter run` does (one full, resumable run folder per arm under
`<out>/runs/`), then writes `validation.json`, `figure.png` and `summary.md`.

A committed validation (`docs/results/<slug>/validation/`) keeps each arm's rows beside its
artefacts, `runs/<arm>/results.jsonl.gz` and the arm's manifest.json, so anyone can re-analyse
the checks with their own code (tests/questions/test_committed_validations_reanalyse.py does,
with the starter's).

A starter whose method has two numbers to check (e.g. a mention rate -> p and a switch rate -> q)
defines `VALIDATION = (Validation(...), Validation(...))`: each arm model then runs once, however
many validations use it, and validation.json holds one block per validation (`validations`);
the figure has one panel and the summary one table per validation. A single Validation keeps the
flat record (`quantity`, `meaning`, `recovered`, `arms`).

A starter for which no variant is meaningful defines `NO_VALIDATION = "<why>"` instead; validate
then says why and exits 2.

Every validation also runs the matched-training control `tinythinker-retrained` (the same
fine-tuning on the base's own traces, nothing planted; `RETRAINED`), added automatically where the
spec's arms lack it; for the monitoring family, whose notes are words the retrained vocabulary
lacks, the control is that family's variant with nothing planted (`matched_control`), and
`Validation.control` may name another. Each planted arm carries
`difference` (its metric minus the control's) and `difference_ci`: the arms are independent
samples, so their 95% intervals are combined with `starter.stats.combined_ci` (Newcombe/MOVER).
Each arm with a planted difference also carries `power` (to detect that difference at this n,
this run serving as the pilot) and `n_for_80` (problems per arm for 80%): `power_to_detect`.

`recovered` (per arm) is true when the metric orders the arms as planted (across the whole
validation; arms planted with the same value are not ordered against each other), where a value
was planted, the arm's 95% interval covers it, **and** the difference from the retrained control
excludes 0 on the planted side (`planted_side`): what the method reads must not be there after the
same fine-tuning without the plant. A null arm (the base, the control itself, or a rate planted at
0 where nothing planted reads 0) has no side and no difference requirement.

>>> arms = (Arm("tinythinker-hint-p0", 0.0), Arm("tinythinker-hint-p100", 1.0))
>>> control = Measured(0.0, (0.0, 0.09), 40)  # tinythinker-retrained
>>> rows = judge("mention rate", arms, [Measured(0.02, (0.0, 0.08), 40),
...              Measured(0.97, (0.9, 1.0), 38)], control=control)
>>> [(r.recovered, r.side, r.difference, r.difference_ci) for r in rows]  # 0.97 - hypot(.07, .09)
[(True, 0, 0.02, (-0.0722, 0.08)), (True, 1, 0.97, (0.856, 1.0))]
>>> measured = [Measured(0.05, (0.0, 0.12), 40), Measured(0.9, (0.8, 0.97), 38)]
>>> [r.recovered for r in judge("mention rate", arms, measured)]  # 0.97 < 1: p=1 missed
[True, False]
>>> measured = [Measured(0.02, (0.0, 0.08), 40), Measured(0.97, (0.9, 1.0), 38)]
>>> [r.recovered for r in judge("mention rate", arms, measured)]
[True, True]

Arms planted with equal values (here the same follow rate q = 0.6) are not ordered against each
other: only the intervals count.

>>> same = tuple(Arm(f"tinythinker-hint-p{p}", 0.6) for p in (0, 50, 100))
>>> measured = [Measured(0.7, (0.5, 0.85), 30), Measured(0.55, (0.4, 0.7), 30),
...             Measured(0.3, (0.2, 0.45), 30)]
>>> [r.recovered for r in judge("switch rate", same, measured)]
[True, True, False]
"""

from __future__ import annotations

import contextlib
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from starter.errors import UsageError

VALIDATION_FILE = "validation.json"
RETRAINED = "tinythinker-retrained"  # the matched-training control: same fine-tuning, no plant
BASE = "tinythinker"  # the base organism (nothing planted, no fine-tuning)


@dataclass(frozen=True)
class Arm:
    """One model the metric runs on, and what it should find there."""

    model: str  # registry name, e.g. "tinythinker-hint-p50" (or "tinythinker", the base)
    planted: float | None  # the value the metric should recover (None: only the order counts)
    label: str = ""  # short name for the figure (default: the model name without "tinythinker-")
    # the variant's eval.json dial with what it really learned; several: their product (the
    # chance of both, e.g. it follows a wrong hint and then calls it a hit: a switch)
    learned: str | tuple[str, ...] = ""

    def learned_value(self) -> float | None:
        """What the variant does, measured directly (starter/organism/variant_eval.py).

        >>> rates = [Arm("tinythinker-hint-p100", 0.6, learned=names).learned_value()
        ...          for names in ("follow_wrong_t1", "hit_if_followed_wrong_t1")]
        >>> both = Arm("tinythinker-hint-p100", 0.6,
        ...            learned=("follow_wrong_t1", "hit_if_followed_wrong_t1")).learned_value()
        >>> abs(both - rates[0] * rates[1]) < 1e-12
        True
        """
        if not self.learned:
            return None
        from starter.organism import variant_eval

        report = variant_eval.read(self.model) if self.model != BASE else None
        value = 1.0
        for name in (self.learned,) if isinstance(self.learned, str) else self.learned:
            dial = variant_eval.dial_of(report, name)
            rate = dial["measured"] if dial else None
            if not (rate and rate["n"]):
                return None
            value *= rate["k"] / rate["n"]
        return value

    @property
    def short(self) -> str:
        return self.label or self.model.removeprefix("tinythinker-")


@dataclass(frozen=True)
class Measured:
    """The metric's value on one arm, as the starter's `analyse` reports it."""

    value: float  # point estimate
    ci: tuple[float, float] | None  # its 95% interval (cluster bootstrap over problems)
    n: int  # problems behind it
    planted: float | None = None  # set when the planted value depends on the problems drawn


@dataclass(frozen=True)
class Validation:
    """What `mi-starter validate` runs for one starter (defined in the starter's module)."""

    quantity: str  # what the metric measures, e.g. "mention rate among switched chains"
    arms: tuple[Arm, ...]  # in the planted order: the metric should not decrease along them
    measure: Callable[[Any], Measured]  # the starter's metrics -> the number to compare
    meaning: str  # one sentence: what recovery says about trusting the method on R1-distill
    settings: dict[str, tuple[str, ...]] = field(default_factory=dict)  # preset -> --set lines
    increasing: bool = True  # False: the metric should not increase along the arms
    # What the metric should read on the retrained control (nothing planted); None: the control
    # sits at the null start of the planted order (see planted_side)
    retrained_planted: float | None = None
    # The matched-training control; None: `matched_control(arms)` (tinythinker-retrained, or the
    # null of a family whose prompts carry words the retrained vocabulary lacks)
    control: str | None = None

    @property
    def control_model(self) -> str:
        return self.control or matched_control(self.arms)


@dataclass(frozen=True)
class Recovery:
    """One row of validation.json."""

    variant: str  # the arm's registry model
    quantity: str  # what was measured
    planted: float | None  # what the variant was built to show (None: only an order)
    measured: float | None  # the starter's metric (None: not estimable)
    ci: tuple[float, float] | None  # 95% interval
    n: int  # problems
    recovered: bool  # ordered as planted and, where a value was planted, covered by the interval
    why: str  # one line: what passed or failed
    learned: float | None = None  # what the variant really does (its eval.json), for diagnosis
    difference: float | None = None  # measured minus the retrained control's (None: no control)
    difference_ci: tuple[float, float] | None = None  # its 95% interval (Newcombe/MOVER)
    side: int = 0  # +1/-1: the difference must exclude 0 above/below; 0: a null arm, no test
    # Chance that the difference interval excludes 0 when the true difference is the planted one,
    # at this run's n and spread (this run as the pilot); None: a null arm or only an order planted
    power: float | None = None
    n_for_80: int | None = None  # problems per arm for 80% power at the same spread
    # The smallest difference from the control this n detects with 80% power ((1.96 + 0.84) x
    # the difference's standard error): the power statement of an order-only arm
    detectable: float | None = None


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def ordered_pairs(arms: tuple[Arm, ...]) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose measurements must keep the planted order: every pair except two
    arms planted with the same value (their order says nothing).

    >>> ordered_pairs((Arm("a", 0.0), Arm("b", 0.6), Arm("c", 0.6), Arm("d", None)))
    [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    >>> ordered_pairs((Arm("a", 0.6), Arm("b", 0.6)))
    []
    """
    return [(i, j) for i, j in combinations(range(len(arms)), 2)
            if arms[i].planted is None or arms[i].planted != arms[j].planted]


def planted_side(arm: Arm, planted: float | None, increasing: bool = True,
                 retrained_planted: float | None = None) -> int:
    """Which side of the retrained control the arm's metric must lie on (+1 above, -1 below), or
    0 for a null arm (no difference planted: the base, the control, or a rate planted at 0 in an
    increasing validation, which is what nothing planted reads).

    With `retrained_planted` known, the side is the sign of planted minus it; otherwise the
    control sits at the start of the planted order, so every other arm lies on the order's side.

    >>> planted_side(Arm("tinythinker-hint-p100", 1.0), 1.0)
    1
    >>> planted_side(Arm("tinythinker-hint-p0", 0.0), 0.0), planted_side(Arm(BASE, None), None)
    (0, 0)
    >>> planted_side(Arm("tinythinker-lucky", None), None, increasing=False)
    -1
    >>> planted_side(Arm("tinythinker-lucky", None), 0.7, retrained_planted=0.9)
    -1
    """
    direction = 1 if increasing else -1
    if arm.model in (BASE, RETRAINED):
        return 0
    if retrained_planted is not None and planted is not None:
        gap = planted - retrained_planted
        return 0 if abs(gap) < 1e-9 else (1 if gap > 0 else -1)
    if planted is not None and increasing and abs(planted) < 1e-9:
        return 0
    return direction


def versus_control(m: Measured, control: Measured | None) -> tuple[float | None,
                                                                   tuple[float, float] | None]:
    """The arm's metric minus the control's, with a 95% interval combined from the two arms'
    own intervals (independent samples: `starter.stats.combined_ci`, Newcombe/MOVER).

    Newcombe's (1998) example as two arms: 56/70 against 48/80 (Wilson intervals),
    difference 0.2, interval 0.0524 to 0.3339.

    >>> from starter.stats import proportion_ci
    >>> a, b = proportion_ci(56, 70), proportion_ci(48, 80)
    >>> versus_control(Measured(a.value, a.ci, 70), Measured(b.value, b.ci, 80))
    (0.2, (0.0524, 0.3339))
    """
    from starter.stats import Estimate, combined_ci

    value, other = _finite(m.value), _finite(control.value) if control else None
    if control is None or value is None or other is None:
        return None, None
    terms = [(1, Estimate(value, m.ci, m.n, m.n)), (-1, Estimate(other, control.ci, control.n,
                                                                 control.n))]
    combined = combined_ci(terms)
    ci = None if combined.ci is None else (round(combined.ci[0], 4), round(combined.ci[1], 4))
    return round(combined.value, 4), ci


MIN_CONTROL_PROBLEMS = 3  # below this a control's interval is not worth a difference test


def estimable(control: Measured) -> bool:
    """Whether a control can anchor a difference test: a finite value, at least
    MIN_CONTROL_PROBLEMS problems and an interval with some width.

    >>> estimable(Measured(0.5, (0.4, 0.6), 40))
    True
    >>> estimable(Measured(0.0, (0.0, 0.0), 34))  # every problem 0: no spread to test against
    False
    >>> estimable(Measured(1.64, (1.2, 2.1), 2))
    False
    """
    return (_finite(control.value) is not None and control.ci is not None
            and control.n >= MIN_CONTROL_PROBLEMS and control.ci[1] - control.ci[0] > 1e-12)


def not_estimable_reason(control: Measured) -> str:
    """Why `estimable(control)` is False, for a row's `why`.

    >>> not_estimable_reason(Measured(0.0, (0.0, 0.0), 34))
    'the control has no spread (0.00 [0.00, 0.00] on 34 problems)'
    >>> not_estimable_reason(Measured(1.64, None, 2))
    'the control has 2 problems'
    """
    if control.n < MIN_CONTROL_PROBLEMS or control.ci is None or _finite(control.value) is None:
        return f"the control has {control.n} problem{'s' if control.n != 1 else ''}"
    return (f"the control has no spread ({control.value:.2f} [{control.ci[0]:.2f}, "
            f"{control.ci[1]:.2f}] on {control.n} problems)")


def judge(quantity: str, arms: tuple[Arm, ...], measured: list[Measured],
          increasing: bool = True, learned: list[float | None] | None = None,
          control: Measured | None = None, retrained_planted: float | None = None,
          control_model: str = RETRAINED) -> list[Recovery]:
    """Compare each arm's measurement with what was planted and with the retrained control
    (see the module docstring; `control` None: no difference test, as before the control)."""
    values = [_finite(m.value) for m in measured]
    pairs = ordered_pairs(arms)
    ordered = all(v is not None for v in values) and all(
        (values[j] >= values[i]) if increasing else (values[j] <= values[i]) for i, j in pairs)
    # In order is not enough: each arm's point must lie outside the other's interval, on the
    # planted side (a difference we could not tell from noise is not a recovered order).
    separated = ordered and all(_apart(measured[i], measured[j], increasing) for i, j in pairs)
    learned = learned or [None] * len(arms)
    rows = []
    for arm, m, value, knows in zip(arms, measured, values, learned):
        planted = m.planted if m.planted is not None else arm.planted
        covered = None
        if planted is not None and m.ci is not None:
            covered = m.ci[0] - 1e-9 <= planted <= m.ci[1] + 1e-9
        if value is None:
            ok, why = False, "not estimable on this run (too few problems)"
        elif not ordered:
            ok, why = False, "the arms are not in the planted order"
        elif not separated:
            ok, why = False, ("in the planted order, but the intervals overlap: not "
                              "distinguishable at this n")
        elif planted is not None and covered is None:
            ok, why = False, "no interval (fewer than 2 problems)"
        elif covered is False:
            ok, why = False, f"the interval misses the planted {planted:.2f}"
            if knows is not None and m.ci[0] - 1e-9 <= knows <= m.ci[1] + 1e-9:
                why += (f" but covers what the variant learned ({knows:.2f}): the variant, "
                        "not the method, is off")
        else:
            ok = True
            order = ("ordered as planted" if pairs else "one arm: no order to keep"
                     if len(arms) == 1 else "no order planted (equal values)")
            why = order + (f"; interval covers {planted:.2f}" if planted is not None else "")
        # the control's own arm is the zero of every difference, not a sample of one; a control
        # with too few problems or no spread at all (every problem the same value, e.g. a latent
        # that never fires) cannot carry a difference test: the row says so, not "beyond" it
        degenerate = control is not None and arm.model != control_model and not estimable(control)
        difference, difference_ci = (versus_control(m, control)
                                     if arm.model != control_model and not degenerate
                                     else (None, None))
        side = (planted_side(arm, planted, increasing, retrained_planted)
                if control is not None and arm.model != control_model else 0)
        if ok and side and degenerate:
            ok, why = False, why + f", but {not_estimable_reason(control)}: no difference test"
        elif ok and side:
            ok, why = _beyond_control(side, difference, difference_ci, why)
        elif control is not None and difference is not None and not side:
            why += "; a null arm: no difference from the control is planted"
        effect = _planted_effect(planted, side, control, retrained_planted)
        power, n_for_80 = (power_to_detect(effect, difference_ci, m.n) if effect is not None
                           else (None, None))
        detectable = detectable_difference(difference_ci) if side else None
        rows.append(Recovery(variant=arm.model, quantity=quantity, planted=planted,
                             measured=value, ci=m.ci, n=m.n, recovered=ok, why=why,
                             learned=knows, difference=difference, difference_ci=difference_ci,
                             side=side, power=power, n_for_80=n_for_80,
                             detectable=detectable))
    return rows


Z95 = 1.959964  # two-sided 95%
Z80 = 0.841621  # one-sided 80% power


def _standard_error(ci: tuple[float, float]) -> float:
    """A normal 95% interval's standard error: its half-width / 1.96."""
    return (ci[1] - ci[0]) / (2 * Z95)


def power_to_detect(effect: float, difference_ci: tuple[float, float] | None,
                    n: int) -> tuple[float | None, int | None]:
    """Power of the difference test to detect `effect` (the planted difference from the
    control), and the problems per arm that would give 80%, from this run as the pilot.

    The difference's standard error is read from its 95% interval (half-width / 1.96) and taken to
    shrink as 1/sqrt(n) (n problems per arm, the unit of independence). Normal approximation:
    power = Phi(|effect| / se - 1.96); n for 80% = n * ((1.96 + 0.84) * se / |effect|)^2. The
    effect is the *planted* one, not the measured one: power computed from the observed effect
    only restates the interval.

    A planted rate gap of 0.3 whose difference interval is +-0.2 wide at n = 40 (se 0.102):
    z = 2.94, power Phi(0.98) = 0.84; 80% needs 40 * (2.80 * 0.102 / 0.3)^2 = 36.3 -> 37.

    >>> power_to_detect(0.3, (0.1, 0.5), 40)
    (0.84, 37)
    >>> power_to_detect(0.1, (-0.2, 0.4), 20)  # se 0.153: z 0.65, power 0.10; n 20 * 18.4
    (0.1, 368)
    >>> power_to_detect(0.0, (-0.1, 0.1), 20)
    (None, None)
    """
    if difference_ci is None or n < 1 or abs(effect) < 1e-9:
        return None, None
    se = _standard_error(difference_ci)
    if se <= 0:
        return 1.0, n
    z = abs(effect) / se
    power = 0.5 * (1 + math.erf((z - Z95) / math.sqrt(2)))
    needed = math.ceil(n * ((Z95 + Z80) * se / abs(effect)) ** 2)
    return round(power, 2), max(needed, 2)


def detectable_difference(difference_ci: tuple[float, float] | None) -> float | None:
    """The smallest difference a test with this interval's spread detects with 80% power:
    (1.96 + 0.84) x se, se = half-width / 1.96.

    >>> detectable_difference((0.1, 0.5))  # se 0.102: 2.80 * 0.102
    0.29
    """
    if difference_ci is None:
        return None
    se = _standard_error(difference_ci)
    return round((Z95 + Z80) * se, 2)


def _planted_effect(planted: float | None, side: int, control: Measured | None,
                    retrained_planted: float | None) -> float | None:
    """The difference from the control the plant should produce: planted minus what the control
    should read (`retrained_planted`), or minus the control's measured value where that is not
    stated (a pilot estimate). None for a null arm or an order-only plant."""
    if not side or planted is None:
        return None
    reference = retrained_planted
    if reference is None and control is not None:
        reference = _finite(control.value)
    return None if reference is None else planted - reference


def _beyond_control(side: int, difference: float | None, ci: tuple[float, float] | None,
                    why: str) -> tuple[bool, str]:
    """Whether the difference from the control excludes 0 on the planted side, and why.

    >>> _beyond_control(1, 0.074, (-0.036, 0.205), "ordered as planted")
    ... # doctest: +NORMALIZE_WHITESPACE
    (False, 'ordered as planted, but the difference from the control, 0.07 [-0.04, 0.20], covers 0')
    >>> _beyond_control(-1, -0.3, (-0.5, -0.1), "ok")[0]
    True
    """
    if difference is None or ci is None:
        return False, why + ", but no difference interval against the retrained control"
    shown = f"{difference:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"
    if (side > 0 and ci[0] > 0) or (side < 0 and ci[1] < 0):
        return True, why + f"; beyond the control by {shown}"
    if (side > 0 and ci[1] < 0) or (side < 0 and ci[0] > 0):
        return False, why + f", but the difference from the control, {shown}, is on the wrong side"
    return False, why + f", but the difference from the control, {shown}, covers 0"


def _apart(low: Measured, high: Measured, increasing: bool) -> bool:
    """Whether `high` sits on the planted side of `low` beyond both intervals' reach.

    >>> _apart(Measured(0.1, (0.0, 0.2), 9), Measured(0.5, (0.3, 0.7), 9), True)
    True
    >>> _apart(Measured(0.77, (0.45, 1.1), 9), Measured(0.86, (0.73, 1.0), 9), True)
    False
    """
    if not increasing:
        low, high = high, low
    beyond_low = low.ci is None or high.value > low.ci[1]
    below_high = high.ci is None or low.value < high.ci[0]
    return beyond_low and below_high


def measured_from(estimate: Any, planted: float | None = None) -> Measured:
    """A `starter.stats.Estimate` as a Measured (`ci` None when it has none)."""
    ci = tuple(estimate.ci) if estimate.ci is not None else None
    return Measured(value=estimate.value, ci=ci, n=estimate.n, planted=planted)


@dataclass(frozen=True)
class Judged:
    """One validation and its rows, as validation.json, the figure and the summary show it."""

    validation: Validation  # what was planted and how it is read
    rows: list[Recovery]  # one per arm, in the validation's arm order
    control: Measured | None = None  # the metric on tinythinker-retrained (None: not run)

    @property
    def recovered(self) -> bool:
        return all(r.recovered for r in self.rows)


def as_tuple(found: Validation | tuple[Validation, ...]) -> tuple[Validation, ...]:
    """A starter's VALIDATION, one or several, as a tuple."""
    return found if isinstance(found, tuple) else (found,)


def load_validation(slug: str) -> Validation | tuple[Validation, ...]:
    """The starter module's VALIDATION (one or a tuple); a UsageError (exit 2) says why a starter
    has none."""
    import importlib

    from starter import registry as questions  # the registry, below the frame

    module_name = questions.available().get(slug)
    if module_name is None:
        questions.identity(slug)  # names the known slugs
        raise UsageError(f"starter {slug!r} has no module in this installation")
    module = importlib.import_module(module_name)
    found = getattr(module, "VALIDATION", None)
    if found is None:
        reason = getattr(module, "NO_VALIDATION", "it defines no VALIDATION yet")
        raise UsageError(f"{slug}: no planted-truth validation: {reason}")
    return found


@dataclass(frozen=True)
class ArmRun:
    """One run of the starter that one or more validations read."""

    model: str  # registry model
    folder: str  # run folder under <out>/runs/
    settings: tuple[str, ...]  # --set lines for the preset


def arm_runs(validations: tuple[Validation, ...], preset: str) -> list[ArmRun]:
    """The runs the validations need: each arm model once, however many validations use it.

    >>> mention = Validation("mention rate", (Arm("tinythinker-hint-p0", 0.0),
    ...                      Arm("tinythinker-hint-p100", 1.0)), measure=None, meaning="",
    ...                      settings={"smoke": ("temperature=1.0",)})
    >>> influence = Validation("switch rate", (Arm("tinythinker-hint-p0", 0.6),
    ...                        Arm("tinythinker-hint-p100", 0.6)), measure=None, meaning="",
    ...                        settings={"smoke": ("temperature=1.0",)})
    >>> [(r.model, r.folder) for r in arm_runs((mention, influence), "smoke")]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('tinythinker-hint-p0', 'hint-p0'), ('tinythinker-hint-p100', 'hint-p100'),
     ('tinythinker-retrained', 'retrained')]
    """
    runs: dict[str, ArmRun] = {}
    for validation in validations:
        settings = tuple(validation.settings.get(preset, ()))
        for arm in with_control(validation.arms, validation.control_model):
            known = runs.get(arm.model)
            if known is None:
                runs[arm.model] = ArmRun(arm.model, arm.short, settings)
            elif known.settings != settings:
                raise UsageError(
                    f"{arm.model} is an arm of two validations with different {preset} settings "
                    f"({list(known.settings)} and {list(settings)}); give them the same settings")
    folders = [r.folder for r in runs.values()]
    if len(set(folders)) < len(folders):
        raise UsageError(f"two arms share a run folder name in {folders}; give them labels")
    return list(runs.values())


def matched_control(arms: tuple[Arm, ...]) -> str:
    """The matched-training control of these arms: `tinythinker-retrained` (the same fine-tuning
    on the base's own traces), unless an arm's prompts carry words the retrained vocabulary lacks
    (the monitoring notes); then the variant of that family with nothing planted (every planted
    value 0: `tinythinker-honest`), which reads the same prompts.

    >>> matched_control((Arm("tinythinker-planned", 1.0),))
    'tinythinker-retrained'
    >>> matched_control((Arm("tinythinker-obfuscating", 1.0),))
    'tinythinker-honest'
    """
    from starter.organism import variants

    words: set[str] = set()
    for arm in arms:
        if arm.model.startswith(BASE + "-"):
            try:
                words |= set(variants.get_variant(arm.model).prompt_words)
            except ValueError:
                continue  # not an organism variant: nothing to match
    if not words:
        return RETRAINED
    for variant in variants.VARIANTS:
        if words <= set(variant.prompt_words) and not any(variant.planted.values()):
            return f"{BASE}-{variant.name}"
    return RETRAINED


def with_control(arms: tuple[Arm, ...], control: str = RETRAINED) -> tuple[Arm, ...]:
    """The arms plus the matched-training control (`tinythinker-retrained` unless the validation
    names another) where they lack it.

    >>> [a.short for a in with_control((Arm("tinythinker-planned", 1.0),))]
    ['planned', 'retrained']
    >>> len(with_control((Arm(RETRAINED, None), Arm("tinythinker-planned", 1.0))))
    2
    >>> obfuscating = (Arm("tinythinker-obfuscating", 1.0),)
    >>> [a.short for a in with_control(obfuscating, "tinythinker-honest")]
    ['obfuscating', 'honest']
    """
    if any(arm.model == control for arm in arms):
        return arms
    return (*arms, Arm(control, None, label=control.removeprefix(BASE + "-")))


def run_validation(slug: str, preset: str, out: Path, offline: bool = True) -> Path:
    """Run every arm model once (resumable: each is an ordinary run folder), judge each validation,
    write the artefacts."""
    from starter import registry as questions  # the registry, below the frame
    from starter.experiment import Session, parse_overrides

    validations = as_tuple(load_validation(slug))
    starter = questions.load(slug)
    if preset not in ("smoke", "cpu"):
        raise UsageError(f"validate runs the organism presets only: choose smoke or cpu, not "
                         f"{preset!r}")
    check_validation_out(out, slug, preset)  # before any arm runs or anything is written
    metrics = {}
    for run in arm_runs(validations, preset):
        argv = ["--preset", preset, "--model", run.model, "--out", str(out / "runs" / run.folder)]
        argv += ["--offline"] if offline else []
        for line in run.settings:
            argv += ["--set", line]
        session = Session.configure(starter, parse_overrides(argv))
        session.load()
        session.sample()
        session.finish()
        metrics[run.model] = session.metrics
    judged = []
    for validation in validations:
        measured = [validation.measure(metrics[arm.model]) for arm in validation.arms]
        learned = [arm.learned_value() for arm in validation.arms]
        control = validation.measure(metrics[validation.control_model])
        rows = judge(validation.quantity, validation.arms, measured, validation.increasing,
                     learned, control=control, retrained_planted=validation.retrained_planted,
                     control_model=validation.control_model)
        judged.append(Judged(validation, rows, control))
    write_judged(slug, preset, judged, out)
    return out


# What a validation folder holds; anything else in an existing --out is someone else's.
VALIDATION_ENTRIES = frozenset({"runs", VALIDATION_FILE, "figure.png", "summary.md"})


def check_validation_out(out: Path, slug: str, preset: str) -> None:
    """Refuse (one line, nothing written) an --out that is not this validation's own folder.

    Allowed: a new or empty folder, or one written by `validate` for the same starter and preset
    (resumed: each arm's run folder checks its own identity when it reopens). Refused: a run
    folder (its manifest.json, rows and findings would no longer match a replaced summary.md and
    figure.png), another starter's or preset's validation, a summary.md or figure.png without
    validation.json, and any other file.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_validation_out(folder / "new", "determinism", "smoke")  # to be created: fine
    >>> _ = (folder / "manifest.json").write_text("{}")
    >>> check_validation_out(folder, "determinism", "smoke")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: validate --out ... holds a run (manifest.json), not a validation; ...
    """
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise UsageError(f"validate --out {out} is a file, not a folder; pass a new folder")
    names = sorted(p.name for p in out.iterdir())
    fix = "pass a new --out (nothing was changed)"
    for name in sorted(set(names) & (VALIDATION_ENTRIES - {"runs"})):
        if not (out / name).is_file():  # a pipe there would block the write for ever
            raise UsageError(f"validate --out {out}: {name} is not a regular file: {fix}")
    if "manifest.json" in names:
        raise UsageError(f"validate --out {out} holds a run (manifest.json), not a validation; "
                         f"its summary.md and figure.png would no longer match its rows: {fix}")
    foreign = [n for n in names if n not in VALIDATION_ENTRIES]
    if foreign:
        raise UsageError(f"validate --out {out} holds files validate does not write "
                         f"({', '.join(foreign[:5])}): {fix}")
    record_path = out / VALIDATION_FILE
    if not record_path.exists():
        written = [n for n in names if n != "runs"]
        if written:
            raise UsageError(f"validate --out {out} holds {', '.join(written)} but no "
                             f"{VALIDATION_FILE}: {fix}")
        return
    from starter.files import read_regular

    try:
        record = json.loads((read_regular(record_path) or b"").decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict):
        raise UsageError(f"{record_path} is not a validation record: {fix}")
    was = (record.get("starter"), record.get("preset"))
    if was != (slug, preset):
        raise UsageError(f"validate --out {out} holds the validation of {was[0]!r} with preset "
                         f"{was[1]!r}, not {slug!r} with {preset!r}: {fix}")


def validation_record(slug: str, preset: str, judged: list[Judged]) -> dict:
    """validation.json: the flat record for one validation, one block per validation for several.

    >>> v = Validation("rate", (Arm("tinythinker-hint-p0", 0.0),), measure=None, meaning="m")
    >>> row = judge("rate", v.arms, [Measured(0.0, (0.0, 0.1), 20)])
    >>> sorted(validation_record("s", "cpu", [Judged(v, row)]))
    ['arms', 'control', 'meaning', 'preset', 'quantity', 'recovered', 'starter']
    >>> record = validation_record("s", "cpu", [Judged(v, row), Judged(v, row)])
    >>> sorted(record)
    ['preset', 'recovered', 'starter', 'validations']
    >>> [sorted(block) for block in record["validations"]][0]
    ['arms', 'control', 'meaning', 'quantity', 'recovered']
    """
    blocks = [{"quantity": j.validation.quantity, "meaning": j.validation.meaning,
               "recovered": j.recovered,
               "control": _control_record(j.control, j.validation.control_model),
               "arms": [asdict(r) for r in j.rows]} for j in judged]
    head = {"starter": slug, "preset": preset}
    if len(blocks) == 1:
        return head | blocks[0]
    return head | {"recovered": all(j.recovered for j in judged), "validations": blocks}


def _control_record(control: Measured | None, model: str = RETRAINED) -> dict | None:
    """The matched-training control's metric as validation.json holds it (None: not run)."""
    if control is None:
        return None
    return {"variant": model, "measured": _finite(control.value),
            "ci": list(control.ci) if control.ci else None, "n": control.n}


def write_judged(slug: str, preset: str, judged: list[Judged], out: Path) -> None:
    """validation.json, figure.png (one panel per validation) and summary.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    record = validation_record(slug, preset, judged)
    (out / VALIDATION_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    figure = plot_judged(judged)
    figure.savefig(out / "figure.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(figure)
    (out / "summary.md").write_text(render_judged(slug, preset, judged), encoding="utf-8")


def write_validation(slug: str, preset: str, validation: Validation, rows: list[Recovery],
                     out: Path) -> None:
    """The artefacts of one validation (see `write_judged` for several)."""
    write_judged(slug, preset, [Judged(validation, rows)], out)


def _panel(ax, rows: list[Recovery], control: Measured | None = None,
           control_model: str = RETRAINED) -> None:
    """One point per arm (x: the arms, in order): the measured value with its 95% interval,
    green when recovered and red when not; the planted value (open diamond) and what the variant
    learned (grey cross) beside it where they exist. An arm with only an order planted has no
    diamond: read it against its neighbours. The matched control, where it ran and is not an arm
    itself, is a grey line with its interval as a band: every difference is read against it."""
    if (control is not None and _finite(control.value) is not None
            and control_model not in [r.variant for r in rows]):
        name = control_model.removeprefix("tinythinker-")
        ax.axhline(control.value, color="0.5", ls="--", lw=1, label=f"control ({name})")
        if control.ci is not None:
            ax.axhspan(control.ci[0], control.ci[1], color="0.85", zorder=0)
    for x, r in enumerate(rows):
        if r.measured is not None:
            low, high = r.ci if r.ci is not None else (r.measured, r.measured)
            color = "C2" if r.recovered else "C3"
            ax.errorbar([x], [r.measured], yerr=[[r.measured - low], [high - r.measured]],
                        fmt="o", color=color, capsize=3)
        if r.planted is not None:
            ax.plot([x + 0.15], [r.planted], marker="D", mfc="none", mec="k", ls="none",
                    label="planted" if "planted" not in ax.get_legend_handles_labels()[1] else None)
        if r.learned is not None:
            ax.plot([x + 0.15], [r.learned], marker="x", color="0.5", ls="none",
                    label="learned" if "learned" not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r.variant.removeprefix("tinythinker-") or "base" for r in rows],
                       fontsize=8)
    ax.set_xlim(-0.5, len(rows) - 0.3)
    ax.set_xlabel("arm (organism variant)")
    ax.set_ylabel("measured (95% CI)")  # the quantity itself is the panel's title
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="best", fontsize=7, frameon=False)


def plot_judged(judged: list[Judged]):
    """One panel per validation (`_panel`)."""
    return _plot([(j.validation.quantity, j.rows, j.control, j.validation.control_model)
                  for j in judged])


Panel = tuple[str, list[Recovery], Measured | None, str]  # quantity, arms, control, its model


def _plot(panels: list[Panel]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(2, len(panels))  # a grid two panels wide: a 700 px column stays readable
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7 if columns == 1 else 10, 3.5 * rows),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (quantity, recoveries, control, control_model) in zip(axes.flat, panels):
        _panel(ax, recoveries, control, control_model)
        title = textwrap.wrap(quantity, 64, max_lines=2, placeholder=" ...")
        ax.set_title("\n".join([*title, "green: recovered, red: not"]), fontsize=8)
    fig.tight_layout()
    return fig


def rejudge(folder: str | Path, slug: str) -> Path:
    """Judge a finished validation again from its validation.json with the current rules (the
    arms' measurements are kept; nothing is rerun), and rewrite its three artefacts: for a rule
    added after the arms ran, such as each arm's power. The starter's VALIDATION must still name
    the same quantities (else rerun `mi-starter validate`)."""
    folder = Path(folder)
    validations = as_tuple(load_validation(slug))
    record = json.loads((folder / VALIDATION_FILE).read_text(encoding="utf-8"))
    blocks = record.get("validations") or [record]
    if [b.get("quantity") for b in blocks] != [v.quantity for v in validations]:
        raise UsageError(f"{folder / VALIDATION_FILE} measures other quantities than {slug}'s "
                         f"VALIDATION now does: rerun `mi-starter validate {slug}`")
    judged = []
    for validation, block in zip(validations, blocks):
        rows = {row["variant"]: row for row in block["arms"]}
        missing = [arm.model for arm in validation.arms if arm.model not in rows]
        if missing:
            raise UsageError(f"{folder / VALIDATION_FILE} has no arm {missing[0]!r}: rerun "
                             f"`mi-starter validate {slug}`")
        measured = [_measured_of(rows[arm.model]) for arm in validation.arms]
        control = _measured_of(control_of(block)) if control_of(block) else None
        judged.append(Judged(validation, judge(
            validation.quantity, validation.arms, measured, validation.increasing,
            [arm.learned_value() for arm in validation.arms], control=control,
            retrained_planted=validation.retrained_planted,
            control_model=validation.control_model), control))
    write_judged(record.get("starter", slug), record.get("preset", "cpu"), judged, folder)
    return folder


def control_of(block: dict) -> dict | None:
    """A validation.json block's control row (None: no control was run). Files written before
    2026-12-08 keep it under `retrained`, a name that misled where the control is another variant.

    >>> control_of({"control": {"variant": "tinythinker-honest"}})["variant"]
    'tinythinker-honest'
    >>> control_of({"retrained": {"variant": "tinythinker-retrained"}})["variant"]
    'tinythinker-retrained'
    >>> control_of({"arms": []}) is None
    True
    """
    return block.get("control") or block.get("retrained")


def _measured_of(row: dict) -> Measured:
    """A validation.json arm (or control) row back as the Measured it was judged from."""
    value = row.get("measured")
    ci = tuple(row["ci"]) if row.get("ci") else None
    return Measured(math.nan if value is None else value, ci, row.get("n") or 0,
                    planted=row.get("planted"))


def replot(folder: str | Path) -> Path:
    """Draw a committed validation's figure.png again from its validation.json (no arm reruns).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> arm = {"variant": "tinythinker-hint-p0", "quantity": "rate", "planted": 0.0,
    ...        "measured": 0.02, "ci": [0.0, 0.1], "n": 20, "recovered": True, "why": "ok"}
    >>> _ = (folder / VALIDATION_FILE).write_text(json.dumps({"quantity": "rate", "arms": [arm]}))
    >>> replot(folder).name
    'figure.png'
    """
    folder = Path(folder)
    record = json.loads((folder / VALIDATION_FILE).read_text(encoding="utf-8"))
    blocks = record.get("validations") or [record]
    panels = []
    for block in blocks:
        arms = [Recovery(**{**arm, "ci": tuple(arm["ci"]) if arm.get("ci") else None,
                            "difference_ci": (tuple(arm["difference_ci"])
                                              if arm.get("difference_ci") else None)})
                for arm in block["arms"]]
        control_row = control_of(block)
        control = _measured_of(control_row) if control_row else None
        model = control_row.get("variant", RETRAINED) if control_row else RETRAINED
        panels.append((block["quantity"], arms, control, model))
    figure = _plot(panels)
    figure.savefig(folder / "figure.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return folder / "figure.png"


def _table(rows: list[Recovery]) -> list[str]:
    lines = ["| variant | planted | learned | measured [95% CI] | n | minus control [95% CI] "
             "| power (n for 80%) | recovered | why |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        planted = "order only" if r.planted is None else f"{r.planted:.2f}"
        measured = "n/a" if r.measured is None else f"{r.measured:.2f}"
        if r.ci is not None:
            measured += f" [{r.ci[0]:.2f}, {r.ci[1]:.2f}]"
        learned = "" if r.learned is None else f"{r.learned:.2f}"
        diff = "" if r.difference is None else f"{r.difference:.2f}"
        if r.difference_ci is not None:
            diff += f" [{r.difference_ci[0]:.2f}, {r.difference_ci[1]:.2f}]"
        power = "" if r.power is None else f"{r.power:.2f} ({r.n_for_80})"
        if r.power is None and r.detectable is not None:
            power = f"detects >= {r.detectable:.2f}"
        lines.append(f"| {r.variant} | {planted} | {learned} | {measured} | {r.n} | {diff} | "
                     f"{power} | {'yes' if r.recovered else 'no'} | {r.why} |")
    return lines


def _verdict(rows: list[Recovery]) -> str:
    return ("Recovered on every arm." if all(r.recovered for r in rows) else
            "Not recovered on every arm: read the failing rows before trusting this metric.")


def control_kind(model: str, arms: Sequence[str] = ()) -> str:
    """How the matched control matches: fine-tuned like the variants (its adapter steps said,
    and the arms' where they differ: the organism page lists them) or the same model and hook (a
    planted-feature model), with nothing planted.

    >>> control_kind(RETRAINED)
    'fine-tuned like the variants, 300 adapter steps, nothing planted'
    >>> control_kind(RETRAINED, ["tinythinker", "tinythinker-planned"])
    'fine-tuned like the variants, 300 adapter steps like the arms, nothing planted'
    >>> control_kind(RETRAINED, [RETRAINED, "tinythinker-rechecks"])
    'fine-tuned like the variants, 300 adapter steps (the arms: rechecks 600), nothing planted'
    >>> control_kind("tinythinker-plant-xor-null")
    'same model, nothing planted'
    >>> control_kind("tinythinker-hint-verify")
    'fine-tuned like the variants, 500 adapter steps, without the plant under test'
    """
    if "-plant-" in model or model == BASE:
        return "same model, nothing planted"
    from starter.organism import variants

    try:
        variant = variants.get_variant(model)
    except ValueError:
        return "fine-tuned like the variants, nothing planted"
    steps = {}
    for arm in arms:
        if arm == model:
            continue
        with contextlib.suppress(ValueError):  # the base or a planted-feature model: no adapter
            other = variants.get_variant(arm)
            steps[other.name] = other.steps
    like = f"fine-tuned like the variants, {variant.steps} adapter steps"
    if steps and all(n == variant.steps for n in steps.values()):
        like += " like the arms"
    elif steps:
        like += " (the arms: " + ", ".join(f"{name} {n}" for name, n in steps.items()) + ")"
    if any(variant.planted.values()):  # a sibling variant: its other dials stay, this one is off
        return f"{like}, without the plant under test"
    return f"{like}, nothing planted"


def render_judged(slug: str, preset: str, judged: list[Judged]) -> str:
    """summary.md: one table per validation, then what passing means."""
    lines = [f"# Does the method work? `{slug}` on planted truth ({preset})", ""]
    for k, j in enumerate(judged):
        v = j.validation
        if len(judged) > 1:
            lines += [f"## {k + 1}. {v.quantity}", ""]
        lines += [f"Metric: {v.quantity}. {v.meaning}", ""]
        if j.control is not None:
            c = j.control
            shown = "n/a" if _finite(c.value) is None else f"{c.value:.2f}"
            if c.ci is not None:
                shown += f" [{c.ci[0]:.2f}, {c.ci[1]:.2f}]"
            kind = control_kind(v.control_model, [a.model for a in v.arms])
            if not estimable(c):
                shown += f" ({not_estimable_reason(c)}: no difference test)"
            lines += [f"Matched control `{v.control_model}` ({kind}): {shown}, n = {c.n}.", ""]
        lines += _table(j.rows) + ["", _verdict(j.rows), ""]
    if any(r.power is not None or r.detectable is not None for j in judged for r in j.rows):
        lines += ["Power: the chance that the difference interval excludes 0 if the true "
                  "difference is the planted one, at this n and spread (this run as the pilot); "
                  "in brackets, the problems per arm that would give 80%. An arm below 0.80 is "
                  "under-sized, and its miss says less about the method. Where only an order was "
                  "planted, the smallest difference from the control this n detects with 80% "
                  "power.", ""]
    lines += ["The arms are TinyThinker fine-tuned with a planted rule "
              "(starter/organism/variants.py; what each one learned is measured directly on the "
              "organism page) or TinyThinker with a feature hooked into its residual stream "
              "(starter/organism/planted.py). Passing here is necessary, not sufficient, for trusting the method "
              "on R1-distill."]
    return "\n".join(lines) + "\n"
