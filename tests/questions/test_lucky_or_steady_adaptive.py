"""lucky-or-steady with `--set adaptive=true` (issue #28): config checks, a smoke run that draws
fewer continuations than the fixed design, a killed run that resumes to the same rows, and the same
loop through `--backend openai` against a loopback server (the starter is black-box)."""

from __future__ import annotations

import json

import pytest

from starter import questions, rollouts
from starter.errors import UsageError
from starter.experiment import execute, parse_overrides
from starter.questions import lucky_or_steady as los

# smoke, with room for the rounds to stop early: at most 24 continuations per prefix, rounds of 4,
# a step settled once its (80%) interval is within 0.2 (8 of 8 against 8 of 8 is: Wilson's lower
# end for 8/8 at 80% is 8 / (8 + 1.28^2) = 0.83)
ADAPTIVE = ["--set", "adaptive=true", "--set", "n_rollouts=24", "--set", "round_size=4",
            "--set", "top_k=1", "--set", "target_half_width=0.2", "--set", "pilot_samples=3",
            "--set", "mirror=false"]


def _args(out, *extra: str) -> list[str]:
    return ["--preset", "smoke", "--offline", "--device", "cpu", "--out", str(out), *ADAPTIVE,
            *extra]


def _rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()
            if line.strip()]


def _prefix_rows(out) -> dict[str, dict]:
    return {r["unit"]: r for r in _rows(out) if r["kind"] == "prefix"}


@pytest.mark.parametrize("bad, name", [
    (dict(round_size=0), "round_size=0"), (dict(top_k=0), "top_k=0"),
    (dict(target_half_width=0.0), "target_half_width=0.0"), (dict(budget_cap=-5), "budget_cap=-5"),
    (dict(adaptive=True, n_rollouts=4, round_size=8), "round_size=8 exceeds n_rollouts=4"),
    (dict(adaptive=True, max_prefixes=8), "max_prefixes=0"),
])
def test_bad_adaptive_fields_are_one_line(bad, name):
    with pytest.raises(UsageError) as err:
        los.Config(**bad)
    assert name in str(err.value) and "\n" not in str(err.value)


def test_adaptive_is_off_by_default_and_maps_onto_the_loop():
    assert not any(p.adaptive for p in los.PRESETS.values()), "committed results stay fixed-design"
    rules = los.Config(adaptive=True, n_rollouts=20, round_size=5, target_half_width=0.2,
                       top_k=2, budget_cap=900).adaptive_config()
    assert (rules.first_round, rules.round_size, rules.max_per_prefix) == (5, 5, 20)
    assert (rules.target_half_width, rules.top_k, rules.budget) == (0.2, 2, 900)


def test_bad_set_values_exit_with_one_line(capsys):
    from starter import cli

    assert cli.main(["run", "lucky-or-steady", "--offline", "--set", "adaptive=true",
                     "--set", "round_size=0", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "round_size=0" in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """One uninterrupted adaptive smoke run (the other tests compare against it)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    execute(questions.load("lucky-or-steady"), parse_overrides(_args(out)))
    return out


@pytest.mark.slow
def test_an_adaptive_smoke_run_finishes_with_fewer_continuations(whole):
    prefix_rows = _prefix_rows(whole)
    rounds = [r for r in _rows(whole) if r["kind"] == "adaptive_round"]
    assert prefix_rows and rounds, "prefix rows and one row per round"
    drawn = [len(r["outcomes"]) for r in prefix_rows.values()]
    assert all(n % 4 == 0 and 4 <= n <= 24 for n in drawn), "whole rounds of 4, at most 24"
    fixed = 24 * len(prefix_rows)
    assert sum(drawn) < fixed, f"adaptive drew {sum(drawn)} of the fixed design's {fixed}"
    # every continuation in a prefix row is one a round drew, in order
    by_k: dict[tuple[str, int], list[dict]] = {}
    for row in sorted(rounds, key=lambda r: r["round"]):
        for draw in row["draws"]:
            by_k.setdefault((row["chain"], draw["k"]), []).extend(draw["outcomes"])
    for r in prefix_rows.values():
        assert r["outcomes"] == by_k[(r["chain"], r["k"])] and r["n_fixed"] == 24
    summary = (whole / "summary.md").read_text()
    assert f"{sum(drawn)} of the fixed design's {fixed}" in summary


@pytest.mark.slow
def test_a_killed_adaptive_run_resumes_to_the_same_rows(whole, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = rollouts.sample
    calls = {"n": 0}

    def dies_in_round_two(model, prompts, n, how, **kw):
        calls["n"] += 1  # call 1: the pilot; 2: adaptive round 0; 3: round 1 (killed)
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-run")
        return real(model, prompts, n, how, **kw)

    monkeypatch.setattr(rollouts, "sample", dies_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        execute(questions.load("lucky-or-steady"), parse_overrides(_args(out)))
    assert [r["round"] for r in _rows(out) if r["kind"] == "adaptive_round"] == [0]
    assert not _prefix_rows(out), "no prefix row before the chain's rounds end"
    monkeypatch.setattr(rollouts, "sample", real)
    execute(questions.load("lucky-or-steady"), parse_overrides(_args(out)))
    assert _prefix_rows(out) == _prefix_rows(whole), "resumed rows = the uninterrupted run's"
    rounds = [r for r in _rows(out) if r["kind"] == "adaptive_round"]
    assert rounds == [r for r in _rows(whole) if r["kind"] == "adaptive_round"]


@pytest.mark.slow
def test_the_adaptive_loop_batches_each_round_through_the_openai_backend(whole, tmp_path):
    from starter.models import load_model
    from tests.openai_server import ModelEngine, OpenAIServer

    lm = load_model("tinythinker", device="cpu")
    out = tmp_path / "remote"
    with OpenAIServer(ModelEngine(lm), max_requests=2000) as server:
        args = [a for a in _args(out) if a not in ("--device", "cpu")]
        execute(questions.load("lucky-or-steady"),
                parse_overrides([*args, "--backend", "openai", "--base-url", server.url,
                                 "--served-model", "served-model"]))
        bodies = [r["body"] for r in server.requests]
    rows = _rows(out)
    rounds = [r for r in rows if r["kind"] == "adaptive_round"]
    prefix_rows = [r for r in rows if r["kind"] == "prefix"]
    assert rounds and prefix_rows
    # continuations go out as one request per open prefix and round, each asking round_size=4 at
    # once (pilot requests ask pilot_samples=3; forced answers and the seed check fewer tokens)
    continuation_requests = [b for b in bodies if b.get("max_tokens") == 160 and b["n"] == 4]
    assert len(continuation_requests) == sum(len(r["draws"]) for r in rounds)
    assert all(d["n"] == 4 for r in rounds for d in r["draws"])
    drawn = sum(len(r["outcomes"]) for r in prefix_rows)
    assert sum(b["n"] for b in continuation_requests) == drawn
    assert drawn < 24 * len(prefix_rows), "fewer than the fixed design through the server too"
    assert json.loads((out / "manifest.json").read_text())["config"]["backend"]["kind"] == "openai"
