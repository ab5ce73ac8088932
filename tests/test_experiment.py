"""starter/experiment.py: the frame around a starter, with a two-unit starter on the organism (fast to load)."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from starter.errors import StarterError
from starter.experiment import Starter, StarterConfig, execute, parse_overrides

PRESETS = {name: StarterConfig(model="tinythinker", device="cpu") for name in ("smoke", "cpu", "gpu")}


def _run(ctx) -> None:
    for unit in ctx.store.pending(["a", "b"]):
        ctx.store.append({"unit": unit, "score": 1.0})


def _plot(rows, metrics) -> Figure:
    return Figure()


def _starter(analyse) -> Starter:
    return Starter(slug="frame-test", title="Frame test", question="Does the frame work?", presets=PRESETS,
                   run=_run, analyse=analyse, plot=_plot, findings=lambda m: f"Mean score {m['mean']:.2f}.")


def _mean(rows):
    return {"mean": sum(r["score"] for r in rows) / len(rows)}


def test_summary_numbers_come_from_results(tmp_path):
    out = execute(_starter(_mean), parse_overrides(["--offline", "--out", str(tmp_path / "run")]))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["unit"] for r in rows if r["unit"] in ("a", "b")) == ["a", "b"]
    assert "Mean score 1.00." in (out / "summary.md").read_text()
    assert json.loads((out / "manifest.json").read_text())["finished_at"]


def test_rows_an_older_starter_wrote_give_one_clear_error_and_stay_on_disk(tmp_path):
    args = parse_overrides(["--offline", "--out", str(tmp_path / "run")])
    execute(_starter(_mean), args)  # an "older version" wrote rows with `score`
    before = (tmp_path / "run" / "results.jsonl").read_text()

    def newer_analyse(rows):  # today's version reads a field the old rows lack
        return {"mean": sum(r["accuracy"] for r in rows if r["unit"] in ("a", "b")) / 2}

    with pytest.raises(StarterError, match=r"KeyError: 'accuracy'.*rows were written by an earlier run.*new --out"):
        execute(_starter(newer_analyse), args)
    assert (tmp_path / "run" / "results.jsonl").read_text() == before


def test_a_bug_in_a_fresh_run_is_not_blamed_on_old_rows(tmp_path):
    def broken(rows):
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        execute(_starter(broken), parse_overrides(["--offline", "--out", str(tmp_path / "run")]))


def test_docstring_examples_run():
    import doctest

    import starter.experiment

    result = doctest.testmod(starter.experiment)
    assert result.failed == 0, "an example in starter/experiment.py no longer matches the code"
