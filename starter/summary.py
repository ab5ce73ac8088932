"""summary.md of a run, and the metrics table every view of a run shares (the CLI's summary,
a notebook's metrics cell): every number with its interval and n.

>>> format_value(0.25), format_value(3)
('0.250', '3')
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starter.frame import Starter, StarterConfig, metrics_dict


def render_summary(starter: Starter, cfg: StarterConfig, preset: str, metrics: Any,
                   rows: list[dict], note: str, claims: list | None = None) -> str:
    """summary.md of a run: title, question, claims, the finding (`starter.findings(metrics)`),
    every number of `metrics_dict(metrics)`, the Neuronpedia latents and what to try next."""
    from starter.findings import render_claims

    latents = [r for r in rows if r.get("kind") == "latent"]
    lines = [
        f"# {starter.title}",
        "",
        f"> {starter.question}",
        "",
        f"Model `{cfg.model}` · preset `{preset}` · seed {cfg.seed}",
        "",
    ]
    if claims:
        lines += ["## Claims", "", render_claims(claims), ""]
    lines += [
        "## Finding",
        "",
        starter.findings(metrics).strip(),
        "",
        "## Numbers",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {text} |" for name, text in metric_rows(metrics_dict(metrics))]
    lines += ["", "## Neuronpedia latents", "", note, ""]
    fetched = [r for r in latents if r.get("provenance") != "sample"]
    # Shipped sample latents illustrate the format only: never list them as if they were findings.
    lines += [f"- [{r['source']}/{r['index']}]({r['url']}) ({r['query']}): {r['description']}"
              for r in fetched]
    if latents and not fetched:
        lines.append("Run online to fetch real explanations for this question's concepts.")
    if starter.try_next:
        lines += ["", "## What to try next", ""] + [f"- {t}" for t in starter.try_next]
    return "\n".join(lines) + "\n"


def metric_rows(metrics: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(name, text) for every number in `metrics`: nested dicts and dataclasses become dotted names,
    estimates are shown with their interval and n (starter.stats.describe).

    >>> from starter.stats import proportion_ci
    >>> metric_rows({"solved": proportion_ci(3, 4), "greedy": {"identical": 1.0}, "n": 4})
    [('solved', '3/4 (n=4 problems)'), ('greedy.identical', '1.000'), ('n', '4')]
    """
    from starter.stats import Estimate, describe

    if isinstance(metrics, Estimate):
        return [(prefix, describe(metrics))]
    if dataclasses.is_dataclass(metrics) and not isinstance(metrics, type):
        metrics = {f.name: getattr(metrics, f.name) for f in dataclasses.fields(metrics)}
    if isinstance(metrics, dict):
        rows: list[tuple[str, str]] = []
        for key, value in metrics.items():
            rows += metric_rows(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(metrics, (list, tuple)) and any(
            isinstance(v, (dict, Estimate)) or dataclasses.is_dataclass(v) for v in metrics):
        rows = []
        for i, value in enumerate(metrics):
            rows += metric_rows(value, f"{prefix}[{i}]")
        return rows
    return [(prefix, format_value(metrics))]


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
