"""`--set field=value`: change any field of a starter's Config from the command line, typed and checked.

Nobody should edit a preset to change `n_rollouts` or `max_new_tokens`. Each `--set` names a field of the
starter's Config dataclass; the value is parsed by the field's annotation (int, float, bool, str, or a tuple
of those written comma-separated) and the Config's own `__post_init__` checks the result, so a bad value
fails with one line before any model loads. The manifest records the overrides.

>>> from dataclasses import dataclass
>>> @dataclass
... class Config:
...     n_chains: int = 8  # chains
...     temperatures: tuple[float, ...] = (0.6,)  # sampling temperatures
...     greedy_control: bool = True  # run the control
>>> apply_settings(Config(), ["n_chains=3", "temperatures=0,0.6,1", "greedy_control=false"])
Config(n_chains=3, temperatures=(0.0, 0.6, 1.0), greedy_control=False)
>>> apply_settings(Config(), ["n_chain=3"])
Traceback (most recent call last):
...
starter.errors.UsageError: --set n_chain=3: Config has no field 'n_chain'; did you mean n_chains? \
Fields: greedy_control, n_chains, temperatures
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import typing
from pathlib import Path
from typing import Any

from starter.errors import UsageError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_setting(item: str) -> tuple[str, str]:
    """Split "field=value" (the value may itself contain '=')."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--set {item!r}: write it as field=value, e.g. --set n_chains=4")
    return name.strip(), value.strip()


def apply_settings(cfg: Any, items: list[str]) -> Any:
    """A copy of the dataclass `cfg` with each "field=value" of `items` applied (later items win)."""
    if not items:
        return cfg
    hints = typing.get_type_hints(type(cfg))
    fields = sorted(f.name for f in dataclasses.fields(cfg))
    changes: dict[str, Any] = {}
    for item in items:
        name, raw = parse_setting(item)
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(f"--set {item}: {type(cfg).__name__} has no field {name!r}; {hint}"
                             f"Fields: {', '.join(fields)}")
        changes[name] = _parse(raw, hints[name], item)
    try:
        return dataclasses.replace(cfg, **changes)  # the Config's __post_init__ checks the values
    except (TypeError, ValueError) as err:
        raise UsageError(f"--set {' '.join(items)}: {err}") from None


def _parse(raw: str, annotation: Any, item: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(raw, inner[0], item)
    if origin is tuple:
        element = args[0] if args else str
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return tuple(_parse(p, element, item) for p in parts)
    if origin is typing.Literal:
        if raw not in args:
            raise UsageError(f"--set {item}: choose one of {', '.join(map(str, args))}")
        return raw
    if annotation is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise UsageError(f"--set {item}: {raw!r} is not true/false")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise UsageError(f"--set {item}: {raw!r} is not a whole number") from None
    if annotation is float:
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"--set {item}: {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"--set {item}: {raw!r} is not a finite number")
        return value
    if annotation is str:
        return raw
    raise UsageError(f"--set {item}: fields of type {annotation} cannot be set from the command line")


# ------------------------------------------------------------------- the kit's cache folder (data)


def cache_root() -> Path:
    """Where the kit keeps what it downloads: $MI_STARTER_CACHE, else ~/.cache/mi-starter.

    Releases fetched by `mi-starter data fetch` go under `<root>/releases/<name>/<revision>/`
    (the Neuronpedia client keeps its answers under `<root>/neuronpedia/`).

    >>> saved = os.environ.pop("MI_STARTER_CACHE", None)
    >>> os.environ["MI_STARTER_CACHE"] = "/tmp/kit-cache"
    >>> str(cache_root())
    '/tmp/kit-cache'
    >>> os.environ.pop("MI_STARTER_CACHE") and os.environ.update({} if saved is None else
    ...                                                         {"MI_STARTER_CACHE": saved})
    """
    root = os.environ.get("MI_STARTER_CACHE", "").strip()
    return Path(root).expanduser() if root else Path.home() / ".cache" / "mi-starter"
