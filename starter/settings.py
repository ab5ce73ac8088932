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
# The frame's own --set names (not a Config field): allow_large=true lifts MAX_COUNT.
ALLOW_LARGE = "allow_large"
# The largest whole number a --set may give a count or size without allow_large=true: far above
# any preset (the gpu presets stay below 10,000; SAE widths like 2**17 fit), far below what would
# exhaust a machine. Products of sizes are bounded by the plan's ceiling (experiment.py).
MAX_COUNT = 1_000_000
# Whole-number fields that may be negative (a layer counted from the end) or zero-or-more; every
# other whole-number field set from the command line must be >= 0, and those below >= 1.
_SIGNED = ("layer",)  # a field whose name contains this may be negative
_AT_LEAST_ONE = ("batch", "max_new_tokens", "folds")  # sizes: 0 would do nothing or divide by 0


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable: unset or empty is `default`; 1/true/yes/on and
    0/false/no/off (any case, surrounding spaces ignored) are the documented values; anything else
    is one UsageError line naming the variable and what is allowed.

    >>> import os
    >>> os.environ["MI_STARTER_EXAMPLE"] = " Yes "
    >>> env_flag("MI_STARTER_EXAMPLE")
    True
    >>> os.environ["MI_STARTER_EXAMPLE"] = "maybe"
    >>> env_flag("MI_STARTER_EXAMPLE")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: MI_STARTER_EXAMPLE='maybe' is not a yes/no value; set it to one of \
1, true, yes, on (yes) or 0, false, no, off (no), or unset it
    """
    import os

    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    shown = raw if len(raw) <= 40 else raw[:40] + "..."
    raise UsageError(f"{name}={shown!r} is not a yes/no value; set it to one of "
                     "1, true, yes, on (yes) or 0, false, no, off (no), or unset it")


def parse_setting(item: str) -> tuple[str, str]:
    """Split "field=value" (the value may itself contain '=')."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--set {item!r}: write it as field=value, e.g. --set n_chains=4")
    return name.strip(), value.strip()


def allows_large(items: list[str]) -> bool:
    """Whether the --set items include allow_large=true (the last one counts)."""
    flags = [raw for name, raw in map(parse_setting, items) if name == ALLOW_LARGE]
    if not flags:
        return False
    return _parse(flags[-1], bool, f"{ALLOW_LARGE}={flags[-1]}")


def apply_settings(cfg: Any, items: list[str]) -> Any:
    """A copy of the dataclass `cfg` with each "field=value" of `items` applied (later items win).

    Values are checked before the Config's own checks (see `check_value`): no empty list, no
    repeated value (floats compared at two decimals, as units name them: 0.5 and 0.501 are both
    K50), no negative count, no zero size, top_p in (0, 1], and no count above MAX_COUNT unless
    `--set allow_large=true`.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Config:
    ...     fractions: tuple[float, ...] = (0.5,)  # shares of the chain kept
    >>> apply_settings(Config(), ["fractions=0.5,0.501"])
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --set fractions=0.5,0.501: 0.5 and 0.501 are the same value at two \
decimals (units are named by it); give each value once
    """
    if not items:
        return cfg
    hints = typing.get_type_hints(type(cfg))
    fields = sorted(f.name for f in dataclasses.fields(cfg))
    changes: dict[str, Any] = {}
    allow_large = allows_large(items)
    for item in items:
        name, raw = parse_setting(item)
        if name == ALLOW_LARGE and name not in fields:
            continue  # the frame's own switch, read above
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(f"--set {item}: {type(cfg).__name__} has no field {name!r}; {hint}"
                             f"Fields: {', '.join(fields)}")
        changes[name] = _parse(raw, hints[name], item)
        check_value(name, changes[name], item, allow_large)
    try:
        return dataclasses.replace(cfg, **changes)  # the Config's __post_init__ checks the values
    except (TypeError, ValueError) as err:
        raise UsageError(f"--set {' '.join(items)}: {err}") from None


def check_value(name: str, value: Any, item: str, allow_large: bool = False) -> None:
    """Refuse a parsed --set value that no Config could mean (see `apply_settings`), one line.

    >>> check_value("greedy_repeats", -1, "greedy_repeats=-1")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --set greedy_repeats=-1: a count cannot be negative; give 0 or more
    >>> check_value("n_chains", 10**9, "n_chains=1000000000")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --set n_chains=1000000000: above the ceiling of 1000000 for one \
setting; add --set allow_large=true if you mean it
    >>> check_value("n_chains", 10**9, "n_chains=1000000000", allow_large=True)
    >>> check_value("layer", -1, "layer=-1")  # a layer counted from the end
    """
    if isinstance(value, tuple):
        if not value:
            raise UsageError(f"--set {item}: no values; give at least one, comma-separated")
        seen: dict[Any, Any] = {}
        for element in value:
            key = round(element, 2) if isinstance(element, float) else element
            if key in seen:
                same = (f"{seen[key]!r} is given twice" if seen[key] == element else
                        f"{seen[key]!r} and {element!r} are the same value at two decimals "
                        "(units are named by it)")
                raise UsageError(f"--set {item}: {same}; give each value once")
            seen[key] = element
            check_value(name, element, item, allow_large)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if name == "top_p" and not 0 < value <= 1:
        raise UsageError(f"--set {item}: top_p must lie in (0, 1]; 1 keeps every token")
    if not isinstance(value, int) or any(word in name for word in _SIGNED) or "seed" in name:
        return  # a seed's range is StarterConfig's to check
    if value < 0:
        raise UsageError(f"--set {item}: a count cannot be negative; give 0 or more")
    if value == 0 and any(word in name for word in _AT_LEAST_ONE):
        raise UsageError(f"--set {item}: {name} must be at least 1")
    if value > MAX_COUNT and not allow_large:
        raise UsageError(f"--set {item}: above the ceiling of {MAX_COUNT} for one setting; add "
                         f"--set {ALLOW_LARGE}=true if you mean it")


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
