"""Today's `analyse` and each VALIDATION's `measure`, run on the arm rows committed with a
validation (`docs/results/<slug>/validation/runs/<arm>/results.jsonl.gz`), give back every
measured value in its validation.json: the committed checks can be re-analysed from the committed
rows, by this test or by a reviewer's own code. Pure analysis, no model; about 45 s in all
(sae-vs-probes' bootstraps are most of it)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from starter.experiment import unit_rows
from starter.questions import load
from starter.validation import as_tuple, control_of, load_validation

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
SLUGS = sorted(p.parent.parent.name for p in RESULTS.glob("*/validation/runs"))


def test_every_committed_validation_commits_its_arm_rows():
    with_record = sorted(p.parent.parent.name for p in RESULTS.glob("*/validation/validation.json"))
    assert with_record == SLUGS, "a validation.json without its arms' rows under runs/"


@pytest.mark.parametrize("slug", SLUGS)
def test_arm_rows_give_back_every_measured_value(slug):
    folder = RESULTS / slug / "validation"
    record = json.loads((folder / "validation.json").read_text(encoding="utf-8"))
    blocks = record.get("validations") or [record]
    starter = load(slug)
    metrics = {}
    for arm in sorted((folder / "runs").iterdir()):
        with gzip.open(arm / "results.jsonl.gz", "rt", encoding="utf-8") as rows_file:
            rows = [json.loads(line) for line in rows_file if line.strip()]
        model = json.loads((arm / "manifest.json").read_text(encoding="utf-8"))["model"]
        metrics[model] = starter.analyse(unit_rows(rows))
    specs = as_tuple(load_validation(slug))
    assert [s.quantity for s in specs] == [b["quantity"] for b in blocks]
    for spec, block in zip(specs, blocks):
        control = [control_of(block)] if control_of(block) else []
        for row in block["arms"] + control:
            measured = spec.measure(metrics[row["variant"]])
            value = None if math.isnan(measured.value) else measured.value
            assert (value is None) == (row["measured"] is None), (slug, row["variant"])
            if value is not None:
                assert value == pytest.approx(row["measured"], abs=1e-6), (
                    f"{slug}: {spec.quantity} on {row['variant']} re-analyses to {value}, "
                    f"validation.json says {row['measured']}")
