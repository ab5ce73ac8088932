"""Issue 26, config and environment: every bad value is one line before any model loads (items 7,
8, 9, 10, 13 and 16), through `mi-starter run` and `--dry-run` alike."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from matplotlib.figure import Figure

import starter.models
from starter import cli, questions
from starter.errors import UsageError
from starter.experiment import Starter, StarterConfig, execute, parse_overrides
from starter.plan import Generation


@dataclass
class ToyConfig(StarterConfig):
    n_chains: int = 2  # problems, one reference chain each
    fractions: tuple[float, ...] = (0.25, 0.5)  # shares of a chain kept
    temperatures: tuple[float, ...] = (0.0, 0.6)  # regeneration temperatures
    greedy_repeats: int = 1  # greedy control repeats
    top_p: float = 0.95  # nucleus sampling
    max_new_tokens: int = 32  # budget per completion
    batch_size: int = 4  # sequences per generate call


PRESETS = {name: ToyConfig(device="cpu") for name in ("smoke", "cpu", "gpu")}


def _budget(cfg):
    return [Generation("chains", sequences=cfg.n_chains * len(cfg.temperatures) * 8,
                       max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)]


TOY = Starter(slug="determinism", title="Toy", question="Q?", presets=PRESETS,
              run=lambda ctx: None, analyse=lambda rows: {}, plot=lambda r, m: Figure(),
              findings=lambda m: "", shardable=True, budget=_budget)


@pytest.fixture
def loads(monkeypatch):
    """Counts model loads; none may happen for a refused config."""
    calls = []
    monkeypatch.setattr(starter.models, "load_model", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(questions, "load", lambda slug: TOY)
    return calls


def _refused(tmp_path, *argv, dry_run=False) -> str:
    out = tmp_path / "run"
    args = ["--offline", "--out", str(out), *argv, *(["--dry-run"] if dry_run else [])]
    with pytest.raises(UsageError) as err:
        execute(TOY, parse_overrides(args))
    assert not out.exists(), "a refused run leaves no folder"
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(("argv", "words"), [
    # 7: not a repository id, in a run and in --dry-run
    (["--model", "modèle-ü"], "neither a registry name, a folder nor a Hugging Face repository"),
    (["--model", "a" * 97], "neither a registry name, a folder nor a Hugging Face repository"),
    # 8: duplicates after rounding, empty lists, negative counts
    (["--set", "fractions=0.5,0.5"], "0.5 is given twice"),
    (["--set", "fractions=0.5,0.501"], "the same value at two decimals"),
    (["--set", "temperatures=,,,"], "no values; give at least one"),
    (["--set", "greedy_repeats=-1"], "a count cannot be negative"),
    # 9: a size far past anything sane, unless allow_large
    (["--set", "n_chains=1000000000"], "above the ceiling of 1000000"),
    (["--set", "n_chains=99999", "--set", "temperatures=0,.1,.2,.3,.4,.5,.6,.7,.8,.9,1,1.1,1.2"],
     "sequences, above the ceiling"),
    # 10: --seed and --set seed disagree
    (["--seed", "5", "--set", "seed=3"], "--seed 5 and --set seed=3 both set seed"),
    # 16: a shard past the problems, sizes that do nothing
    (["--shard", "5/10"], "--shard 5/10 gets none of the 2 problems"),
    (["--set", "top_p=0"], "top_p must lie in (0, 1]"),
    (["--set", "max_new_tokens=0"], "max_new_tokens must be at least 1"),
    (["--set", "batch_size=0"], "batch_size must be at least 1"),
])
def test_bad_configs_are_one_line_before_the_model_loads(tmp_path, loads, argv, words, dry_run):
    assert words in _refused(tmp_path, *argv, dry_run=dry_run)
    assert loads == []


def test_allow_large_lifts_the_ceiling(tmp_path, loads, capsys):
    execute(TOY, parse_overrides(["--offline", "--set", "n_chains=1000000000", "--set",
                                  "allow_large=true", "--dry-run"]))
    assert "dry run" in capsys.readouterr().out


def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path, loads, capsys):
    code = cli.main(["run", "determinism", "--offline", "--out", str(tmp_path / "r"),
                     "--set", "fractions=0.5,0.5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


# --- 13. boolean environment variables ---------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("1", True), (" TRUE ", True), ("yes", True),
                                            ("on", True), ("0", False), ("off", False),
                                            ("No", False), ("", False)])
def test_boolean_environment_values(monkeypatch, raw, value):
    from starter.settings import env_flag

    monkeypatch.setenv("NEURONPEDIA_OFFLINE", raw)
    assert env_flag("NEURONPEDIA_OFFLINE") is value


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_neuronpedia_offline_refuses_other_values_in_one_line(monkeypatch, tmp_path, raw):
    from starter.neuronpedia import NeuronpediaClient

    monkeypatch.setenv("NEURONPEDIA_OFFLINE", raw)
    with pytest.raises(UsageError, match=f"NEURONPEDIA_OFFLINE='{raw}' is not a yes/no value"):
        NeuronpediaClient(cache_dir=tmp_path)


def test_a_shard_past_the_problems_is_one_line_even_without_a_problem_count():
    """The backstop for a config with neither n_problems nor n_chains: Context.my_problems."""
    from starter.experiment import Context, Shard

    ctx = Context(cfg=StarterConfig(), store=None, model=None, shard=Shard(5, 10))
    with pytest.raises(UsageError, match="--shard 5/10 gets none of the 2 problems"):
        ctx.my_problems(["p0", "p1"])
    assert Context(cfg=StarterConfig(), store=None, model=None, shard=Shard(1, 2)).my_problems(
        ["p0", "p1"]) == ["p1"]


def test_a_bad_boolean_environment_value_is_refused_before_the_run_folder_exists(
        tmp_path, loads, monkeypatch):
    monkeypatch.setenv("NEURONPEDIA_OFFLINE", "maybe")
    with pytest.raises(UsageError, match="NEURONPEDIA_OFFLINE='maybe' is not a yes/no value"):
        execute(TOY, parse_overrides(["--out", str(tmp_path / "run")]))
    assert not (tmp_path / "run").exists() and loads == []
