"""starter/experiment.py: the frame around a starter, with a two-unit starter on the organism (fast to load)."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass

import pytest
from matplotlib.figure import Figure

from starter.errors import StarterError, UsageError
from starter.experiment import Starter, StarterConfig, execute, metrics_dict, parse_overrides
from starter.stats import proportion_ci

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


def test_a_session_steps_through_the_same_run_execute_makes(tmp_path, monkeypatch):
    import starter.models
    from starter.experiment import open_session

    monkeypatch.setattr(starter.models, "load_model", lambda *args, **kwargs: "a model")
    argv = ["--offline", "--out", str(tmp_path / "whole")]
    whole = execute(_starter(_mean), parse_overrides(argv))

    session = open_session(_starter(_mean), "smoke", out=tmp_path / "steps", argv=["--offline"])
    assert session.cfg.offline and not (tmp_path / "steps").exists(), (
        "configuring checks the options and the folder but creates nothing")
    assert session.load() == "a model"
    rows = session.sample()
    assert sorted(r["unit"] for r in rows if r.get("kind") != "latent") == ["a", "b"]
    assert session.analyse() == {"mean": 1.0}
    assert session.claims() == []
    assert isinstance(session.plot(), Figure)
    assert session.finish() == tmp_path / "steps"
    for name in ("summary.md", "findings.json", "results.jsonl"):
        assert (tmp_path / "steps" / name).read_text() == (whole / name).read_text(), (
            f"the session's {name} differs from execute's: the two paths must be one")


def test_a_session_step_out_of_order_says_which_step_comes_first(tmp_path):
    from starter.errors import UsageError
    from starter.experiment import open_session

    session = open_session(_starter(_mean), out=tmp_path / "run", argv=["--offline"])
    with pytest.raises(UsageError, match=r"call session\.load\(\) first"):
        session.sample()
    with pytest.raises(UsageError, match=r"call session\.sample\(\) first"):
        session.analyse()
    with pytest.raises(UsageError, match=r"unknown preset 'huge'"):
        open_session(_starter(_mean), preset="huge")


# --- #23: the sampling helper, Starter.from_module and typed metrics ------------------------------


@dataclass
class _SamplingConfig(StarterConfig):
    temperature: float = 0.3  # sampling temperature
    top_p: float = 0.9  # nucleus
    max_new_tokens: int = 40  # per completion
    batch_size: int = 2  # sequences per call
    n_chains: int = 5  # not a sampling field: never handed on


def test_sampling_takes_the_configs_fields_and_overrides_win():
    sampling = _SamplingConfig(seed=7).sampling(max_new_tokens=9)
    assert (sampling.temperature, sampling.top_p, sampling.max_new_tokens, sampling.batch_size,
            sampling.seed) == (0.3, 0.9, 9, 2, 7)
    plain = StarterConfig(seed=4).sampling()  # only the seed is a sampling field here
    assert (plain.temperature, plain.seed, plain.max_new_tokens) == (0.6, 4, 512)


def _module(name: str, **functions) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in functions.items():
        setattr(module, key, value)
    sys.modules[name] = module
    return module


def test_from_module_takes_the_functions_by_name_and_derives_the_slug():
    def claims(metrics):
        return []

    module = _module("tests_fake.backtracking_pays", run=_run, analyse=_mean, plot=_plot,
                     findings=str, claims=claims)
    try:
        made = Starter.from_module(module.__name__, presets=PRESETS, title="T", question="Q?",
                                   concepts=("backtracking",), black_box=True)
        assert made.slug == "backtracking-pays"
        assert (made.run, made.analyse, made.claims, made.budget) == (_run, _mean, claims, None)
        assert (made.concepts, made.black_box) == (("backtracking",), True)
        named = Starter.from_module(module.__name__, presets=PRESETS, slug="other", title="T",
                                    question="Q?")
        assert named.slug == "other"
        del module.plot
        with pytest.raises(UsageError) as err:
            Starter.from_module(module.__name__, presets=PRESETS, title="T", question="Q?")
        assert str(err.value) == (
            "module tests_fake.backtracking_pays defines no `plot`; define def plot(rows, metrics) "
            "-> Figure in it (the Starter takes run, analyse, plot and findings by name)")
    finally:
        del sys.modules[module.__name__]


@dataclass(frozen=True)
class _Metrics:
    mean: float  # mean score
    solved: object  # an Estimate
    parts: tuple  # nested dataclasses


@dataclass(frozen=True)
class _Part:
    name: str  # which part
    value: int  # its count


def test_metrics_dict_keeps_estimates_and_flattens_dataclasses():
    estimate = proportion_ci(3, 4)
    got = metrics_dict(_Metrics(0.5, estimate, (_Part("a", 1), _Part("b", 2))))
    assert got == {"mean": 0.5, "solved": estimate,
                   "parts": ({"name": "a", "value": 1}, {"name": "b", "value": 2})}
    assert got["solved"] is estimate
    plain = {"mean": 0.5, "nested": {"n": 2}}
    assert metrics_dict(plain) == plain


def test_typed_metrics_reach_findings_and_the_summary(tmp_path):
    seen = []

    def analyse(rows) -> _Metrics:
        return _Metrics(sum(r["score"] for r in rows) / len(rows), proportion_ci(2, 2), ())

    def findings(metrics: _Metrics) -> str:
        seen.append(metrics)
        return f"Mean score {metrics.mean:.2f}."

    typed = Starter(slug="frame-test", title="Frame test", question="Does the frame work?",
                    presets=PRESETS, run=_run, analyse=analyse, plot=_plot, findings=findings)
    out = execute(typed, parse_overrides(["--offline", "--out", str(tmp_path / "run")]))
    summary = (out / "summary.md").read_text()
    assert isinstance(seen[0], _Metrics)
    assert "Mean score 1.00." in summary
    assert "| mean | 1.000 |" in summary and "| solved | 2/2 (n=2 problems) |" in summary


def test_a_starter_file_runs_as_a_script():
    # `python starter/questions/<slug>.py` (the header cells advertise it): the module is then
    # __main__, and Starter.from_module must still find its slug from the file name
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "starter" / "questions" / "determinism.py"
    done = subprocess.run([sys.executable, str(script), "--preset", "gpu", "--dry-run"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "total" in done.stdout
