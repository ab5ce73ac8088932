"""The eight starters, one module per sub-question of "Understanding thinking models".

A module `lucky_or_steady.py` is the starter with slug `lucky-or-steady`; it defines `STARTER`
(a `starter.experiment.Starter`). Discovery reads file names only, so `mi-starter list` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

from starter.errors import UsageError


def available() -> dict[str, str]:
    """slug -> module name, for every starter module in this package."""
    return {
        info.name.replace("_", "-"): f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    }


def load(slug: str):
    """Import the starter for `slug` and return its `STARTER`."""
    modules = available()
    if slug not in modules:
        raise UsageError(f"unknown starter {slug!r}; available: {', '.join(sorted(modules)) or 'none yet'}")
    return importlib.import_module(modules[slug]).STARTER
