"""The frame every starter runs in, by its old single-module name: every public name of the frame
is re-exported here, so `from starter.experiment import Starter, run_starter, ...` keeps working.

Where each part lives (import from there in new code):

- `starter.frame`: what a starter declares and what `run` gets: `StarterConfig` (and its
  `sampling()`), `Starter` (generic in its metrics; `Starter.from_module`), `Context`, `Shard`,
  `metrics_dict`, `unit_rows`, `PRESET_NAMES`.
- `starter.run_options`: the run's command-line options and their checks: `parse_overrides`,
  `configure_parser`, `resolve_config`, `check_run_request`, `server_config`, `print_plan`.
- `starter.latents`: the Neuronpedia lookup of the question's concepts and its rows.
- `starter.summary`: summary.md (`render_summary`) and the metrics table (`metric_rows`).
- `starter.session`: one run step by step (`Session`, `open_session`) and whole (`execute`,
  `run_starter`), and the one-line wording of a filesystem error (`os_error_line`).
- `starter.merge`: `merge_runs`, joining the shards of one run.
- `starter.reanalyse`: `reanalyse_run`, a finished run's rows analysed again into a new folder.

>>> from starter.experiment import parse_overrides
>>> parse_overrides(["--preset", "smoke", "--seed", "3"]).seed
3
"""

from __future__ import annotations

from starter.frame import (
    DEVICES,
    PRESET_NAMES,
    SAMPLING_FIELDS,
    SEED_LIMIT,
    Context,
    MetricsT,
    Shard,
    Starter,
    StarterConfig,
    metrics_dict,
    unit_rows,
)
from starter.merge import merge_runs, refuse_existing_out
from starter.reanalyse import reanalyse_run
from starter.run_options import (
    BACKENDS,
    MAX_PLANNED_SEQUENCES,
    check_run_request,
    configure_parser,
    parse_overrides,
    print_plan,
    resolve_config,
    server_config,
)
from starter.session import Session, execute, open_session, os_error_line, run_starter
from starter.summary import format_value, metric_rows, render_summary

__all__ = [
    "BACKENDS", "DEVICES", "MAX_PLANNED_SEQUENCES", "PRESET_NAMES", "SAMPLING_FIELDS",
    "SEED_LIMIT", "Context", "MetricsT", "Session", "Shard", "Starter", "StarterConfig",
    "check_run_request", "configure_parser", "execute", "format_value", "merge_runs",
    "metric_rows", "metrics_dict", "open_session", "os_error_line", "parse_overrides",
    "print_plan", "reanalyse_run", "refuse_existing_out", "render_summary", "resolve_config",
    "run_starter", "server_config", "unit_rows",
]
