"""starter.validation: judging, several validations per starter, and the artefacts on hand-built
rows (no model runs here; each starter's own test runs `validate --preset smoke`)."""

from __future__ import annotations

import argparse
import json

import pytest

from starter import validation as val
from starter.errors import UsageError
from starter.validation import Arm, Judged, Measured, Validation

P_ARMS = (Arm("tinythinker-hint-p0", 0.0), Arm("tinythinker-hint-p50", 0.5),
          Arm("tinythinker-hint-p100", 1.0))
Q_ARMS = tuple(Arm(a.model, 0.6) for a in P_ARMS)
SETTINGS = {"smoke": ("temperature=1.0",), "cpu": ("temperature=1.0",)}


def measure_p(m: dict) -> Measured:
    return m["p"]


def measure_q(m: dict) -> Measured:
    return m["q"]


MENTION = Validation("mention rate", P_ARMS, measure=measure_p, meaning="p.", settings=SETTINGS)
INFLUENCE = Validation("switch rate", Q_ARMS, measure=measure_q, meaning="q.", settings=SETTINGS)


def test_judge_orders_distinct_planted_values_only():
    flat = [Measured(0.6, (0.45, 0.75), 30), Measured(0.7, (0.5, 0.8), 30),
            Measured(0.5, (0.4, 0.65), 30)]
    rows = val.judge("switch rate", Q_ARMS, flat)
    assert [r.recovered for r in rows] == [True, True, True], (
        "arms planted with the same q must not be ordered against each other")
    assert all(r.why.startswith("no order planted") for r in rows)
    single = val.judge("switch rate", Q_ARMS[:1], flat[:1])
    assert single[0].recovered and single[0].why.startswith("one arm: no order to keep")
    rows = val.judge("mention rate", P_ARMS, flat)
    assert not any(r.recovered for r in rows), "0.7 then 0.5 breaks the planted order p50 < p100"
    assert rows[0].why == "the arms are not in the planted order"


def test_judge_mixed_equal_and_distinct_values_checks_across_groups():
    arms = (Arm("a", 0.0), Arm("b", 0.5), Arm("c", 0.5), Arm("d", 1.0))
    assert val.ordered_pairs(arms) == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    measured = [Measured(0.1, (0.0, 0.2), 9), Measured(0.6, (0.4, 0.7), 9),
                Measured(0.4, (0.3, 0.6), 9), Measured(0.5, (0.4, 1.0), 9)]
    rows = val.judge("rate", arms, measured)
    assert not rows[3].recovered, "d (planted 1) measured below b (planted 0.5): out of order"


def test_judge_names_what_the_variant_learned_when_the_interval_misses_the_plant():
    rows = val.judge("switch rate", Q_ARMS[:1], [Measured(0.45, (0.35, 0.55), 40)],
                     learned=[0.5])
    assert not rows[0].recovered and rows[0].learned == 0.5
    assert "covers what the variant learned (0.50)" in rows[0].why


def test_arm_runs_runs_each_model_once_and_refuses_conflicting_settings():
    runs = val.arm_runs((MENTION, INFLUENCE), "cpu")
    assert [r.model for r in runs] == [a.model for a in P_ARMS] + [val.RETRAINED], (
        "the matched-training control is added once, after the spec's arms")
    assert runs[0].settings == ("temperature=1.0",) and runs[0].folder == "hint-p0"
    other = Validation("x", Q_ARMS, measure=measure_q, meaning="", settings={"cpu": ()})
    with pytest.raises(UsageError, match="tinythinker-hint-p0 is an arm of two validations"):
        val.arm_runs((MENTION, other), "cpu")


class FakeSession:
    """Stands in for starter.experiment.Session: records each run, returns planted metrics."""

    runs: list[argparse.Namespace] = []

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.metrics: dict = {}

    @classmethod
    def configure(cls, starter, args: argparse.Namespace) -> FakeSession:
        cls.runs.append(args)
        return cls(args)

    def load(self) -> None:
        pass

    def sample(self) -> None:
        pass

    def finish(self) -> None:
        p = {"tinythinker-hint-p0": 0.0, "tinythinker-hint-p50": 0.5,
             "tinythinker-hint-p100": 1.0, val.RETRAINED: 0.0}[self.args.model]
        q = (0.3, (0.2, 0.4)) if self.args.model == val.RETRAINED else (0.6, (0.5, 0.7))
        self.metrics = {"p": Measured(p, (max(p - 0.1, 0), min(p + 0.1, 1)), 20),
                        "q": Measured(q[0], q[1], 20)}  # the control follows less


def test_run_validation_with_a_tuple_runs_each_arm_once_and_writes_one_block_each(
        tmp_path, monkeypatch):
    import starter.experiment
    import starter.registry

    FakeSession.runs = []
    monkeypatch.setattr(val, "load_validation", lambda slug: (MENTION, INFLUENCE))
    monkeypatch.setattr(starter.registry, "load", lambda slug: None)
    monkeypatch.setattr(starter.experiment, "Session", FakeSession)
    out = val.run_validation("cot-faithfulness", "smoke", tmp_path / "v")
    assert [a.model for a in FakeSession.runs] == [a.model for a in P_ARMS] + [val.RETRAINED], (
        "three models and the control, each run once although two validations read them")
    assert all(a.settings == ["temperature=1.0"] for a in FakeSession.runs)
    assert FakeSession.runs[1].out == str(tmp_path / "v" / "runs" / "hint-p50")
    record = json.loads((out / val.VALIDATION_FILE).read_text())
    assert record["recovered"] is True
    assert [b["quantity"] for b in record["validations"]] == ["mention rate", "switch rate"]
    assert [a["planted"] for a in record["validations"][1]["arms"]] == [0.6, 0.6, 0.6]
    switch = record["validations"][1]
    assert switch["control"] == {"variant": val.RETRAINED, "measured": 0.3, "ci": [0.2, 0.4],
                                   "n": 20}
    # 0.6 [0.5, 0.7] minus 0.3 [0.2, 0.4]: 0.3 -/+ hypot(0.1, 0.1) = [0.1586, 0.4414]
    assert [(a["difference"], a["difference_ci"]) for a in switch["arms"]] == [
        (0.3, [0.1586, 0.4414])] * 3
    mention = record["validations"][0]["arms"]
    assert [a["side"] for a in mention] == [0, 1, 1], "hint-p0 is a null arm: no side"


def rows_of(validation: Validation, values: list[float]) -> list[val.Recovery]:
    measured = [Measured(v, (v - 0.1, v + 0.1), 20) for v in values]
    return val.judge(validation.quantity, validation.arms, measured)


def png_width(path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big")


def test_write_validation_single_keeps_the_flat_record(tmp_path):
    rows = rows_of(MENTION, [0.0, 0.5, 1.0])
    val.write_validation("cot-faithfulness", "cpu", MENTION, rows, tmp_path)
    record = json.loads((tmp_path / "validation.json").read_text())
    assert record["quantity"] == "mention rate" and record["recovered"] is True
    assert "validations" not in record
    for arm in record["arms"]:
        assert {"variant", "planted", "measured", "ci", "n", "recovered"} <= set(arm)
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("| variant | planted |") == 1 and "## 1." not in summary
    assert png_width(tmp_path / "figure.png") == 7 * 120


def test_write_judged_several_gives_a_block_a_panel_and_a_table_each(tmp_path):
    judged = [Judged(MENTION, rows_of(MENTION, [0.0, 0.5, 1.0])),
              Judged(INFLUENCE, rows_of(INFLUENCE, [0.6, 0.3, 0.6]))]
    val.write_judged("cot-faithfulness", "cpu", judged, tmp_path)
    record = json.loads((tmp_path / "validation.json").read_text())
    assert record["recovered"] is False, "hint-p50's switch rate 0.3 [0.2, 0.4] misses 0.6"
    assert [b["recovered"] for b in record["validations"]] == [True, False]
    assert [a["recovered"] for a in record["validations"][1]["arms"]] == [True, False, True]
    summary = (tmp_path / "summary.md").read_text()
    assert "## 1. mention rate" in summary and "## 2. switch rate" in summary
    assert summary.count("| variant | planted |") == 2
    assert "the interval misses the planted 0.60" in summary
    assert png_width(tmp_path / "figure.png") == 10 * 120, "two panels side by side"


# --- the matched-training control: difference and difference_ci (hand-computed) -----------------


def test_recovered_needs_the_difference_from_retrained_to_exclude_zero():
    """The issue's case: an arm whose interval covers its plant, but which the retrained control
    matches, is not recovered."""
    arm = (Arm("tinythinker-planned", 0.5),)
    control = Measured(0.45, (0.35, 0.55), 40)
    row = val.judge("rate", arm, [Measured(0.5, (0.4, 0.6), 40)], control=control)[0]
    # 0.05 -/+ sqrt(0.1**2 + 0.1**2) = 0.05 -/+ 0.141421
    assert row.difference == 0.05 and row.difference_ci == (-0.0914, 0.1914)
    assert row.side == 1 and not row.recovered
    assert "covers 0" in row.why
    without = val.judge("rate", arm, [Measured(0.5, (0.4, 0.6), 40)])[0]
    assert without.recovered and without.difference is None, "no control: the old rule alone"


def test_difference_ci_is_newcombes_interval_for_two_wilson_proportions():
    from starter.stats import proportion_ci

    a, b = proportion_ci(56, 70), proportion_ci(48, 80)  # Newcombe (1998), Table II
    row = val.judge("rate", (Arm("tinythinker-hint-p100", None),),
                    [Measured(a.value, a.ci, 70)], control=Measured(b.value, b.ci, 80))[0]
    assert row.difference == 0.2 and row.difference_ci == (0.0524, 0.3339)
    assert row.recovered and "beyond the control by 0.20 [0.05, 0.33]" in row.why


def test_a_difference_on_the_wrong_side_fails_and_a_decreasing_metric_looks_below():
    arm = (Arm("tinythinker-lucky", None),)
    low, high = Measured(0.2, (0.1, 0.3), 30), Measured(0.7, (0.6, 0.8), 30)
    up = val.judge("agreement", arm, [low], control=high)[0]
    assert up.side == 1 and not up.recovered and "wrong side" in up.why
    down = val.judge("agreement", arm, [low], increasing=False, control=high)[0]
    # -0.5 -/+ hypot(0.1, 0.1)
    assert down.side == -1 and down.difference_ci == (-0.6414, -0.3586) and down.recovered


def test_retrained_planted_sets_the_side_and_null_arms_have_none():
    arms = (Arm("tinythinker", 0.0, label="base"), Arm("tinythinker-lucky", 0.7))
    assert val.planted_side(arms[0], 0.0) == 0
    assert val.planted_side(arms[1], 0.7, retrained_planted=0.9) == -1
    assert val.planted_side(arms[1], 0.9, retrained_planted=0.9) == 0
    measured = [Measured(0.1, (0.0, 0.2), 30), Measured(0.7, (0.6, 0.8), 30)]
    rows = val.judge("p", arms, measured, control=Measured(0.9, (0.85, 0.95), 30),
                     retrained_planted=0.9)
    assert [r.side for r in rows] == [0, -1]
    assert rows[0].recovered and "null arm" in rows[0].why
    assert rows[1].recovered and rows[1].difference == -0.2


@pytest.mark.parametrize("control, reason", [
    (Measured(0.0, (0.0, 0.0), 34), "the control has no spread (0.00 [0.00, 0.00] on 34 problems)"),
    (Measured(1.64, (1.2, 2.1), 2), "the control has 2 problems"),
])
def test_a_control_without_spread_or_problems_gives_no_difference_and_no_recovery(control, reason):
    """sae's control latent never fired (every problem 0.00) and lucky-or-steady's control kept 2
    problems: an arm 'beyond' such a control was only beyond 0, so it is not recovered."""
    arms = (Arm(val.RETRAINED, None, label="retrained"), Arm("tinythinker-planned", None))
    rows = val.judge("gap", arms, [Measured(0.0, (0.0, 0.0), 34),
                                   Measured(0.35, (0.2, 0.52), 34)], control=control)
    planned = rows[1]
    assert (planned.difference, planned.difference_ci) == (None, None)
    assert not planned.recovered
    assert planned.why == f"ordered as planted, but {reason}: no difference test"
    summary = val.render_judged("sae", "cpu", [Judged(Validation(
        "gap", arms, measure=measure_p, meaning="", settings=SETTINGS), rows, control)])
    assert f"({reason}: no difference test), n = " in summary


def test_the_retrained_arm_of_a_spec_is_not_added_twice():
    arms = (Arm(val.RETRAINED, None, label="retrained"), Arm("tinythinker-planned", None))
    assert val.with_control(arms) == arms
    spec = Validation("gap", arms, measure=measure_p, meaning="", settings=SETTINGS)
    assert [r.model for r in val.arm_runs((spec,), "cpu")] == [a.model for a in arms]


def test_summary_and_replot_carry_the_control(tmp_path):
    rows = val.judge("mention rate", P_ARMS, [Measured(v, (max(v - 0.1, 0), min(v + 0.1, 1)), 20)
                                              for v in (0.0, 0.5, 1.0)],
                     control=Measured(0.0, (0.0, 0.1), 20))
    val.write_judged("cot-faithfulness", "cpu", [Judged(MENTION, rows,
                                                        Measured(0.0, (0.0, 0.1), 20))], tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "Matched control `tinythinker-retrained` (fine-tuned like the variants, 300" in summary
    # 0.5 [0.4, 0.6] minus 0.0 [0.0, 0.1]: low 0.5 - hypot(0.1, 0.1); high 0.5 + hypot(0.1, 0.0)
    assert "| 0.50 [0.36, 0.60] |" in summary
    assert val.replot(tmp_path).stat().st_size > 0, "a record with differences replots"


def test_monitoring_arms_get_their_familys_null_as_the_matched_control(tmp_path):
    """Monitoring prompts carry words the retrained vocabulary lacks: the control is the family's
    variant with nothing planted, run once and compared against (and itself a null arm)."""
    arms = (Arm("tinythinker-obfuscating", 1.0),)
    spec = Validation("mention", arms, measure=measure_p, meaning="", settings=SETTINGS)
    assert spec.control_model == "tinythinker-honest", "the monitoring family's null, by default"
    assert [r.model for r in val.arm_runs((spec,), "cpu")] == ["tinythinker-obfuscating",
                                                               "tinythinker-honest"]
    rows = val.judge("mention", arms, [Measured(0.9, (0.8, 0.96), 40)],
                     control=Measured(0.0, (0.0, 0.09), 40), control_model="tinythinker-honest")
    # 0.9 - hypot(0.1, 0.09) = 0.7655; 0.9 + hypot(0.06, 0) = 0.96
    assert rows[0].difference_ci == (0.7655, 0.96) and rows[0].side == 1
    val.write_judged("monitored-cot", "cpu", [Judged(spec, rows, Measured(0.0, (0.0, 0.09), 40))],
                     tmp_path)
    record = json.loads((tmp_path / "validation.json").read_text())
    assert record["control"]["variant"] == "tinythinker-honest"
    assert "Matched control `tinythinker-honest`" in (tmp_path / "summary.md").read_text()


def test_a_validation_can_name_its_control_and_a_plain_one_gets_retrained():
    plain = Validation("rate", P_ARMS, measure=measure_p, meaning="")
    assert plain.control_model == val.RETRAINED
    named = Validation("rate", P_ARMS, measure=measure_p, meaning="", control="tinythinker-hint-p0")
    assert named.control_model == "tinythinker-hint-p0"
    assert [r.model for r in val.arm_runs((named,), "cpu")] == [a.model for a in P_ARMS]


def test_power_is_for_the_planted_difference_and_null_or_order_only_arms_have_none(tmp_path):
    """Power uses the planted effect (planted minus what the control should read), not the
    measured one, and the summary states it with the problems 80% would need."""
    arms = (Arm("tinythinker", 0.0, label="base"), Arm("tinythinker-lucky", 0.7),
            Arm("tinythinker-heuristic", None))
    measured = [Measured(0.1, (0.0, 0.2), 30), Measured(0.5, (0.4, 0.6), 30),
                Measured(0.3, (0.2, 0.4), 30)]
    control = Measured(0.9, (0.85, 0.95), 30)
    rows = val.judge("p", arms, measured, control=control, retrained_planted=0.9, increasing=False)
    base, lucky, heuristic = rows
    assert (base.power, base.n_for_80) == (None, None), "a null arm has nothing to detect"
    assert heuristic.power is None, "only an order planted: no size to power for"
    # lucky: difference -0.4, interval -0.4 -/+ hypot(0.1, 0.05) = [-0.5118, -0.2882], se 0.05705;
    # effect 0.7 - 0.9 = -0.2: z 3.506, power Phi(1.546) = 0.94; n 30 * (2.8016 * 0.05705 / 0.2)^2
    assert (lucky.power, lucky.n_for_80) == (0.94, 20)
    assert lucky.power == val.power_to_detect(-0.2, lucky.difference_ci, 30)[0]
    spec = Validation("p", arms, measure=measure_p, meaning="m.", increasing=False,
                      retrained_planted=0.9)
    val.write_judged("lucky-or-steady", "cpu", [Judged(spec, rows, control)], tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| 0.94 (20) |" in summary and "Power: the chance" in summary
    assert json.loads((tmp_path / "validation.json").read_text())["arms"][1]["n_for_80"] == 20


def test_rejudge_keeps_the_measurements_and_applies_the_current_rules(tmp_path, monkeypatch):
    """A validation judged before power existed gets it back from its own validation.json; an
    order-only arm states the smallest difference it could detect; a changed spec is refused."""
    arms = (Arm("tinythinker", None, label="base"), Arm("tinythinker-lucky", None))
    spec = Validation("agreement", arms, measure=measure_p, meaning="m.", increasing=False)
    control = Measured(0.8, (0.7, 0.89), 32)
    rows = val.judge("agreement", arms, [Measured(0.88, (0.8, 0.94), 32),
                                         Measured(0.22, (0.14, 0.32), 32)], increasing=False,
                     control=control)
    val.write_judged("determinism", "cpu", [Judged(spec, rows, control)], tmp_path)
    record = json.loads((tmp_path / "validation.json").read_text())
    for arm in record["arms"]:  # as written before power was added
        for key in ("power", "n_for_80", "detectable"):
            arm.pop(key)
    (tmp_path / "validation.json").write_text(json.dumps(record))
    monkeypatch.setattr(val, "load_validation", lambda slug: spec)
    val.rejudge(tmp_path, "determinism")
    again = json.loads((tmp_path / "validation.json").read_text())
    base, lucky = again["arms"]
    assert [a["measured"] for a in again["arms"]] == [0.88, 0.22] and again["recovered"]
    assert base["detectable"] is None, "a null arm has no power statement"
    # lucky - control: -0.58, interval -0.58 - hypot(0.08, 0.09), -0.58 + hypot(0.1, 0.1)
    # = [-0.700, -0.439]; se 0.0668; 2.8016 * se = 0.187
    assert lucky["power"] is None and lucky["detectable"] == 0.19
    assert "detects >= 0.19" in (tmp_path / "summary.md").read_text()
    other = Validation("another quantity", arms, measure=measure_p, meaning="m.")
    monkeypatch.setattr(val, "load_validation", lambda slug: other)
    with pytest.raises(UsageError, match="other quantities"):
        val.rejudge(tmp_path, "determinism")


def test_the_figure_draws_the_control_unless_it_is_an_arm():
    arms = (Arm("tinythinker-planned", None),)
    control = Measured(0.3, (0.2, 0.4), 30)
    rows = val.judge("gap", arms, [Measured(0.7, (0.6, 0.8), 30)], control=control)
    spec = Validation("gap", arms, measure=measure_p, meaning="m.")
    figure = val.plot_judged([Judged(spec, rows, control)])
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "control (retrained)" in labels
    own = (Arm(val.RETRAINED, None), Arm("tinythinker-planned", None))
    rows = val.judge("gap", own, [control, Measured(0.7, (0.6, 0.8), 30)], control=control)
    figure = val.plot_judged([Judged(Validation("gap", own, measure=measure_p, meaning="m."),
                                     rows, control)])
    assert not any(label.startswith("control") for label in
                   figure.axes[0].get_legend_handles_labels()[1]), "drawn as an arm already"
