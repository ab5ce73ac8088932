"""mkdocs entry point: every starter as a notebook, notebooks/<slug>.ipynb (sitekit.pages.notebooks)."""

from __future__ import annotations

import sys
from pathlib import Path

# mkdocs loads a hook by path; the site tooling (sitekit/, never installed) is at the repository root.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sitekit.pages.notebooks import on_files  # noqa: E402,F401 (needs the path above)
