"""starter/plan.py and `--dry-run`: a plan printed from the registry, with no weights loaded."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from starter import plan
from starter.errors import StarterError
from starter.experiment import Starter, StarterConfig, execute, parse_overrides

PRESETS = {name: StarterConfig(model="r1-shaped", device="cpu") for name in ("smoke", "cpu", "gpu")}


def _starter(budget) -> Starter:
    return Starter(slug="plan-test", title="Plan test", question="What will it cost?", presets=PRESETS,
                   run=lambda ctx: None, analyse=lambda rows: {}, plot=lambda r, m: Figure(),
                   findings=lambda m: "", budget=budget)


def _budget(cfg):
    return [plan.Generation("chains", sequences=100, max_new_tokens=1000, batch_size=50,
                            prompt_tokens=200)]


def test_kv_cache_by_hand():
    # 2 (K and V) x 28 layers x 2 KV heads x 128 dims x 2 bytes = 28,672 bytes per token
    arch = {"num_hidden_layers": 28, "hidden_size": 1536, "num_attention_heads": 12,
            "num_key_value_heads": 2}
    assert plan.kv_cache_bytes(arch, batch_size=50, tokens=1200, bytes_per_value=2) == 28672 * 60000


def test_dry_run_prints_the_plan_and_loads_nothing(tmp_path, monkeypatch, capsys):
    import starter.models

    def no_loading(*args, **kwargs):
        raise AssertionError("a dry run must not load weights")

    monkeypatch.setattr(starter.models, "load_model", no_loading)
    out = tmp_path / "run"
    execute(_starter(_budget), parse_overrides(["--dry-run", "--preset", "gpu", "--out", str(out)]))
    text = capsys.readouterr().out
    assert "100,000" in text  # 100 sequences x 1000 tokens budgeted
    assert "weights 7.1 GB" in text  # 1,777,088,000 parameters in fp32 on the cpu device
    assert "time:" in text and "5,200 tokens/s" in text
    assert not out.exists()


def test_a_starter_without_a_budget_says_so(tmp_path):
    with pytest.raises(StarterError, match="declares no sampling budget"):
        execute(_starter(None), parse_overrides(["--dry-run", "--out", str(tmp_path / "run")]))
