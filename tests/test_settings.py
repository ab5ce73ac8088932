"""`--set field=value` (starter/settings.py) through the frame and the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from matplotlib.figure import Figure

from starter import cli
from starter.errors import UsageError
from starter.experiment import Starter, StarterConfig, execute, parse_overrides
from starter.settings import apply_settings


@dataclass
class Config(StarterConfig):
    n_units: int = 2  # how many units the run writes
    label: str = "x"  # written into every row

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_units < 1:
            raise UsageError(f"n_units={self.n_units} must be >= 1")


PRESETS = {name: Config(model="tinythinker", device="cpu") for name in ("smoke", "cpu", "gpu")}


def _run(ctx) -> None:
    for unit in ctx.store.pending([f"u{i}" for i in range(ctx.cfg.n_units)]):
        ctx.store.append({"unit": unit, "kind": "unit", "label": ctx.cfg.label})


STARTER = Starter(slug="settings-test", title="Settings", question="Do settings apply?", presets=PRESETS,
                  run=_run, analyse=lambda rows: {"n": len(rows)}, plot=lambda r, m: Figure(),
                  findings=lambda m: f"{m['n']} rows.")


def test_settings_change_the_run_and_are_recorded(tmp_path):
    args = parse_overrides(["--offline", "--out", str(tmp_path / "run"), "--set", "n_units=3",
                            "--set", "label=hello world"])
    out = execute(STARTER, args)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    units = [r for r in rows if r.get("kind") == "unit"]
    assert [r["label"] for r in units] == ["hello world"] * 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"] == ["n_units=3", "label=hello world"]
    assert manifest["config"]["n_units"] == 3


def test_a_value_the_config_refuses_is_one_line():
    with pytest.raises(UsageError, match="n_units=0 must be >= 1"):
        apply_settings(PRESETS["smoke"], ["n_units=0"])


@pytest.mark.parametrize("item, message", [
    ("n_units=three", "is not a whole number"),
    ("nunits=3", "did you mean n_units?"),
    ("n_units", "write it as field=value"),
    ("seed=nan", "is not a whole number"),
])
def test_bad_settings_name_the_value_and_what_is_allowed(item, message):
    with pytest.raises(UsageError, match=message):
        apply_settings(PRESETS["smoke"], [item])


def test_the_cli_turns_a_bad_setting_into_one_line_and_exit_2(capsys):
    assert cli.main(["run", "determinism", "--set", "n_chainz=3", "--offline"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean n_chains?" in err[0]
