"""Shared by the starters' tests: a smoke `mi-starter validate` run and the checks every one of
them must pass (the three artefacts, the fields of every arm)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

ARM_FIELDS = {"variant", "planted", "measured", "ci", "n", "recovered"}  # issue #14's record


@dataclass(frozen=True)
class SmokeValidation:
    """What a smoke validate run wrote."""

    out: Path  # the validation folder (runs/ holds one run per arm)
    record: dict  # validation.json as read
    blocks: list[dict]  # its checks: the record itself for one, else record["validations"]


@pytest.fixture
def smoke_validation(tmp_path):
    """`smoke_validation(slug)` runs the starter's validation at the smoke preset into tmp_path,
    checks figure.png, summary.md and every arm's fields, and returns what it wrote."""

    def run(slug: str) -> SmokeValidation:
        from starter.validation import run_validation

        out = run_validation(slug, "smoke", tmp_path / "v")
        record = json.loads((out / "validation.json").read_text())
        blocks = record.get("validations", [record])
        for block in blocks:
            for arm in block["arms"]:
                assert ARM_FIELDS <= set(arm), f"{slug}: {sorted(arm)}"
        assert (out / "figure.png").exists() and (out / "summary.md").exists()
        return SmokeValidation(out, record, blocks)

    return run
