"""mkdocs entry point: the pages generated from `docs/data/*.yaml` (sitekit.pages).

The events live in sitekit/pages/events.py, the renderers in render.py, the Chinese edition in
i18n.py; this file only makes the site tooling importable and hands mkdocs the events.
"""

from __future__ import annotations

import sys
from pathlib import Path

# mkdocs loads a hook by path; the site tooling (sitekit/, never installed) is at the repository root.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sitekit.pages.events import (  # noqa: E402,F401
    on_config,
    on_files,
    on_page_markdown,
    on_post_page,
)
