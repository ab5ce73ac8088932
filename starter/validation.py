"""Does the method work? Run a starter's own metric on organism variants with planted truth.

A starter opts in by defining, in its module, `VALIDATION = Validation(...)`: which registry models
to run (the arms: variants of TinyThinker from `starter.organism.variants`, and the base where it is
the right comparison), what its metric should recover on each (a planted value, or only an order),
and how to read that number from the starter's own `analyse` output. `mi-starter validate <slug>`
runs the starter exactly as `mi-starter run` does (one full, resumable run folder per arm under
`<out>/runs/`), then writes `validation.json`, `figure.png` and `summary.md`.

A starter for which no variant is meaningful defines `NO_VALIDATION = "<why>"` instead; validate
then says why and exits 2.

`recovered` (per arm) is true when the metric orders the arms as planted (across the whole
validation) and, where a value was planted, the arm's 95% interval covers it.

>>> arms = (Arm("tinythinker-hint-p0", 0.0), Arm("tinythinker-hint-p100", 1.0))
>>> measured = [Measured(0.05, (0.0, 0.12), 40), Measured(0.9, (0.8, 0.97), 38)]
>>> [r.recovered for r in judge("mention rate", arms, measured)]  # 0.97 < 1: p=1 missed
[True, False]
>>> measured = [Measured(0.02, (0.0, 0.08), 40), Measured(0.97, (0.9, 1.0), 38)]
>>> [r.recovered for r in judge("mention rate", arms, measured)]
[True, True]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starter.errors import UsageError

VALIDATION_FILE = "validation.json"


@dataclass(frozen=True)
class Arm:
    """One model the metric runs on, and what it should find there."""

    model: str  # registry name, e.g. "tinythinker-hint-p50" (or "tinythinker", the base)
    planted: float | None  # the value the metric should recover (None: only the order counts)
    label: str = ""  # short name for the figure (default: the model name without "tinythinker-")
    learned: str = ""  # key of the variant's eval.json `measured` with what it really learned

    def learned_value(self) -> float | None:
        """What the variant does, measured directly (starter/organism/variant_eval.py)."""
        if not self.learned:
            return None
        from starter.organism import variant_eval

        report = variant_eval.read(self.model) if self.model != "tinythinker" else None
        rate = (report or {}).get("measured", {}).get(self.learned)
        return rate["k"] / rate["n"] if rate and rate["n"] else None

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


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def judge(quantity: str, arms: tuple[Arm, ...], measured: list[Measured],
          increasing: bool = True, learned: list[float | None] | None = None) -> list[Recovery]:
    """Compare each arm's measurement with what was planted (see the module docstring)."""
    values = [_finite(m.value) for m in measured]
    known = [v for v in values if v is not None]
    pairs = list(zip(known, known[1:]))
    ordered = len(known) == len(values) and all(
        (b >= a) if increasing else (b <= a) for a, b in pairs)
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
        elif planted is not None and covered is None:
            ok, why = False, "no interval (fewer than 2 problems)"
        elif covered is False:
            ok, why = False, f"the interval misses the planted {planted:.2f}"
            if knows is not None and m.ci[0] - 1e-9 <= knows <= m.ci[1] + 1e-9:
                why += (f" but covers what the variant learned ({knows:.2f}): the variant, "
                        "not the method, is off")
        else:
            ok = True
            why = "ordered as planted" + (f"; interval covers {planted:.2f}"
                                          if planted is not None else "")
        rows.append(Recovery(variant=arm.model, quantity=quantity, planted=planted,
                             measured=value, ci=m.ci, n=m.n, recovered=ok, why=why,
                             learned=knows))
    return rows


def measured_from(estimate: Any, planted: float | None = None) -> Measured:
    """A `starter.stats.Estimate` as a Measured (`ci` None when it has none)."""
    ci = tuple(estimate.ci) if estimate.ci is not None else None
    return Measured(value=estimate.value, ci=ci, n=estimate.n, planted=planted)


def load_validation(slug: str) -> Validation:
    """The starter module's VALIDATION; a UsageError (exit 2) says why a starter has none."""
    import importlib

    from starter import questions

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


def run_validation(slug: str, preset: str, out: Path, offline: bool = True) -> Path:
    """Run every arm (resumable: each arm is an ordinary run folder), judge, write artefacts."""
    from starter import questions
    from starter.experiment import Session, parse_overrides

    validation = load_validation(slug)
    starter = questions.load(slug)
    if preset not in ("smoke", "cpu"):
        raise UsageError(f"validate runs the organism presets only: choose smoke or cpu, not "
                         f"{preset!r}")
    measured = []
    for arm in validation.arms:
        argv = ["--preset", preset, "--model", arm.model, "--out", str(out / "runs" / arm.short)]
        argv += ["--offline"] if offline else []
        for line in validation.settings.get(preset, ()):
            argv += ["--set", line]
        session = Session.configure(starter, parse_overrides(argv))
        session.load()
        session.sample()
        session.finish()
        measured.append(validation.measure(session.metrics))
    learned = [arm.learned_value() for arm in validation.arms]
    rows = judge(validation.quantity, validation.arms, measured, validation.increasing, learned)
    write_validation(slug, preset, validation, rows, out)
    return out


def write_validation(slug: str, preset: str, validation: Validation, rows: list[Recovery],
                     out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = {"starter": slug, "preset": preset, "quantity": validation.quantity,
              "meaning": validation.meaning, "recovered": all(r.recovered for r in rows),
              "arms": [asdict(r) for r in rows]}
    (out / VALIDATION_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    plot_validation(validation, rows).savefig(out / "figure.png", dpi=120)
    (out / "summary.md").write_text(render_summary(slug, preset, validation, rows),
                                    encoding="utf-8")


def plot_validation(validation: Validation, rows: list[Recovery]):
    """Planted (x) against measured (y) with 95% intervals and the diagonal; arms with only an
    order planted sit at their rank on a second panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    valued = [r for r in rows if r.planted is not None and r.measured is not None]
    others = [r for r in rows if r.planted is None and r.measured is not None]
    for k, r in enumerate(valued + others):
        x = r.planted if r.planted is not None else 1.1 + 0.1 * k
        low, high = r.ci if r.ci is not None else (r.measured, r.measured)
        color = "C2" if r.recovered else "C3"
        ax.errorbar([x], [r.measured], yerr=[[r.measured - low], [high - r.measured]], fmt="o",
                    color=color, capsize=3)
        ax.annotate(r.variant.removeprefix("tinythinker-"), (x, r.measured),
                    textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="measured = planted")
    ax.set_xlabel("planted (arms right of 1: order only)")
    ax.set_ylabel(validation.quantity[:40])
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_title("green: recovered, red: not", fontsize=9)
    fig.tight_layout()
    return fig


def render_summary(slug: str, preset: str, validation: Validation,
                   rows: list[Recovery]) -> str:
    lines = [f"# Does the method work? `{slug}` on planted truth ({preset})", "",
             f"Metric: {validation.quantity}. {validation.meaning}", "",
             "| variant | planted | learned | measured [95% CI] | n | recovered | why |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        planted = "order only" if r.planted is None else f"{r.planted:.2f}"
        measured = "n/a" if r.measured is None else f"{r.measured:.2f}"
        if r.ci is not None:
            measured += f" [{r.ci[0]:.2f}, {r.ci[1]:.2f}]"
        learned = "" if r.learned is None else f"{r.learned:.2f}"
        lines.append(f"| {r.variant} | {planted} | {learned} | {measured} | {r.n} | "
                     f"{'yes' if r.recovered else 'no'} | {r.why} |")
    verdict = ("Recovered on every arm." if all(r.recovered for r in rows) else
               "Not recovered on every arm: read the failing rows before trusting this metric.")
    lines += ["", verdict, "",
              "The variants are TinyThinker fine-tuned with a planted rule "
              "(starter/organism/variants.py); what each one learned is measured directly on the "
              "organism page. Passing here is necessary, not sufficient, for trusting the method "
              "on R1-distill."]
    return "\n".join(lines) + "\n"
