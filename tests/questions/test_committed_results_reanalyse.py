"""Today's `analyse` and `claims`, run on every committed `docs/results/<slug>/results.jsonl`,
give back the committed findings.json, finding text and numbers table (`metrics_dict`, as the
frame renders it): a starter's metrics may change type (a dict becomes a frozen dataclass) but
never a name, an order or a value the committed results were built from. Pure analysis of the
committed rows: no model; about 20 s in all (sae-vs-probes' bootstraps are most of it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starter.experiment import metric_rows, metrics_dict, unit_rows
from starter.questions import available, load

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
# the committed runs of a starter (r1-public/ and validation/ are written by other commands)
SLUGS = sorted(p.parent.name for p in RESULTS.glob("*/results.jsonl")
               if p.parent.name in available())


@pytest.fixture(scope="module", params=SLUGS)
def reanalysed(request):
    """(slug, starter, metrics) of the committed rows, analysed once per slug."""
    slug = request.param
    text = (RESULTS / slug / "results.jsonl").read_text(encoding="utf-8")
    rows = unit_rows([json.loads(line) for line in text.splitlines() if line.strip()])
    starter = load(slug)
    return slug, starter, starter.analyse(rows)


def _summary(slug: str) -> str:
    return (RESULTS / slug / "summary.md").read_text(encoding="utf-8")


def test_claims_equal_the_committed_findings(reanalysed):
    slug, starter, metrics = reanalysed
    committed = json.loads((RESULTS / slug / "findings.json").read_text(encoding="utf-8"))
    claims = [c.to_dict() for c in starter.claims(metrics)] if starter.claims else []
    assert json.loads(json.dumps(claims)) == committed, (
        f"{slug}: analyse + claims on the committed rows no longer give docs/results/{slug}/"
        "findings.json; a metric changed its value or a claim reads another metric")


def test_finding_text_is_the_committed_one(reanalysed):
    slug, starter, metrics = reanalysed
    assert starter.findings(metrics).strip() in _summary(slug), (
        f"{slug}: findings(metrics) on the committed rows differs from docs/results/{slug}/"
        "summary.md's Finding section")


def test_numbers_table_keeps_every_committed_name_and_value(reanalysed):
    slug, _, metrics = reanalysed
    table = "\n".join(f"| {name} | {value} |" for name, value in metric_rows(metrics_dict(metrics)))
    assert table in _summary(slug), (
        f"{slug}: the Numbers table of the metrics differs from docs/results/{slug}/summary.md: "
        "a Metrics field was renamed, reordered or changed value (keep the dict's names and order)")


def test_plot_draws_the_committed_rows(reanalysed):
    import matplotlib.pyplot as plt

    slug, starter, metrics = reanalysed
    text = (RESULTS / slug / "results.jsonl").read_text(encoding="utf-8")
    rows = unit_rows([json.loads(line) for line in text.splitlines() if line.strip()])
    figure = starter.plot(rows, metrics)
    assert figure.axes, f"{slug}: plot drew no axes from the committed rows"
    plt.close(figure)


def test_validation_measures_read_the_metrics(reanalysed):
    import importlib

    from starter.questions import module_name

    slug, _, metrics = reanalysed
    module = importlib.import_module(f"starter.questions.{module_name(slug)}")
    validation = getattr(module, "VALIDATION", None)
    if validation is None:
        pytest.skip(f"{slug} declares no validation")
    for one in validation if isinstance(validation, tuple) else (validation,):
        one.measure(metrics)  # reads the fields it needs; a renamed one raises here
