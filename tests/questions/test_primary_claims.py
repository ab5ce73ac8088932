"""Every starter declares one primary claim in its file, and committed findings mark it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

QUESTIONS = Path(__file__).resolve().parents[2] / "starter" / "questions"
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
MODULES = sorted(p.stem for p in QUESTIONS.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_each_starter_declares_its_primary_claim_above_the_code(name):
    module = importlib.import_module(f"starter.questions.{name}")
    assert isinstance(getattr(module, "PRIMARY", None), str) and module.PRIMARY
    source = (QUESTIONS / f"{name}.py").read_text(encoding="utf-8")
    assert source.index("\nPRIMARY = ") < source.index("\ndef "), "declared before the code"


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*/findings.json")),
                         ids=lambda p: p.parent.name)
def test_committed_findings_mark_one_primary_claim(path):
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not any("primary" in e for e in entries):
        pytest.skip(f"{path.parent.name}: written before primary claims; regenerate it")
    assert sum(bool(e["primary"]) for e in entries) == 1
    for e in entries:
        if not e["primary"]:
            assert e["ci_level"] >= 0.95, "secondary claims are read at a Holm-adjusted level"
