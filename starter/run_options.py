"""The options of a starter run (`mi-starter run <slug> ...`, a starter run as a script): parse
them, resolve a preset into the run's config, check what needs no model (model name, shard,
planned size, backend) and print the `--dry-run` plan.

>>> parse_overrides(["--preset", "smoke", "--seed", "3"]).seed
3
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import TYPE_CHECKING, Any

from starter.errors import UsageError
from starter.frame import DEVICES, PRESET_NAMES, Shard, Starter, StarterConfig

if TYPE_CHECKING:
    from starter.backends.openai import ServerConfig
    from starter.models import ModelSpec

# where samples come from: this process, or an OpenAI-compatible server
BACKENDS = ("local", "openai")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=True)
    p.add_argument("--preset", default="smoke",
                   help=f"one of: {', '.join(PRESET_NAMES)} (default: smoke)")
    p.add_argument("--model",
                   help="override the preset's model (registry name, HF name or local path)")
    p.add_argument("--device", help=f"override the device: {', '.join(DEVICES)}")
    p.add_argument("--out", help="run directory (default: runs/<slug>/<timestamp>); an existing "
                                 "one is resumed")
    p.add_argument("--offline", action="store_true",
                   help="Neuronpedia from cache and shipped fixtures only")
    p.add_argument("--seed", type=int, help="override the preset's seed (0 <= seed < 2**63)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="settings",
                   help="change one field of the starter's Config, e.g. --set n_chains=4 "
                        "(repeatable; tuples comma-separated; sizes above 1,000,000, or a plan "
                        "above 10M sequences, need --set allow_large=true)")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help="local: load the model here; openai: sample from an OpenAI-compatible "
                        "server (vLLM, SGLang, ...; black-box starters only; key from "
                        "$OPENAI_API_KEY)")
    p.add_argument("--base-url",
                   help="with --backend openai: the API root, e.g. http://HOST:8000/v1")
    p.add_argument("--served-model", help="with --backend openai: the model name the server serves")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="run only shard I of N of the problems (0-based), each into its own --out; "
                        "combine them with `mi-starter merge`")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (generations, tokens, memory, time) without loading "
                        "weights")
    return p


def parse_overrides(argv: list[str] | tuple[str, ...]) -> argparse.Namespace:
    """The run's options from `argv` (argparse exits with its usage line on a bad option)."""
    return _parser().parse_args(list(argv))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the shared starter options to another parser (used by `mi-starter run`)."""
    for action in _parser()._actions:
        if action.dest != "help":
            parser._add_action(action)


def resolve_config(starter: Starter, args: argparse.Namespace) -> StarterConfig:
    """The run's config: the preset, then `--set`, then --model/--device/--seed/--offline; checked
    (`check_run_request`) before anything loads."""
    if args.preset not in starter.presets:
        raise UsageError(f"unknown preset {args.preset!r}; choose one of: "
                         f"{', '.join(starter.presets)}")
    overrides: dict[str, Any] = {k: getattr(args, k) for k in ("model", "device", "seed")
                                 if getattr(args, k, None) is not None}
    if getattr(args, "offline", False):
        overrides["offline"] = True
    from starter.settings import allows_large, apply_settings, parse_setting

    items = list(getattr(args, "settings", None) or [])
    set_names = {parse_setting(item)[0]: item for item in items}
    for name, value in overrides.items():  # `--seed 5 --set seed=3`: which one? say so
        if name in set_names and name != "offline":
            raise UsageError(f"--{name} {value} and --set {set_names[name]} both set {name}; "
                             "give it once")
    cfg = apply_settings(starter.presets[args.preset], items)
    cfg = dataclasses.replace(cfg, **overrides)
    check_run_request(starter, cfg, getattr(args, "shard", None) or "0/1",
                      allow_large=allows_large(items))
    return cfg


# The most sequences a run may plan without `--set allow_large=true` (the gpu presets plan
# well under a million).
MAX_PLANNED_SEQUENCES = 10_000_000
# A Hugging Face repository id: "name" or "owner/name", ASCII letters, digits, "-", "_", ".",
# not starting or ending with "-" or ".", at most 96 characters each (the hub's own rule).
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")


def check_run_request(starter: Starter, cfg: StarterConfig, shard_text: str,
                      allow_large: bool = False) -> None:
    """Checks of a resolved config that need no model, for `run` and `--dry-run` alike: the model
    name is a registry name, a folder or a valid hub id; `--shard` leaves this process at least
    one problem; the plan stays under MAX_PLANNED_SEQUENCES unless allow_large.

    >>> check_run_request(None, StarterConfig(model="modèle-ü"), "0/1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --model 'modèle-ü' is neither a registry name, a folder nor a \
Hugging Face repository id ...
    """
    from starter.models import validate_model_name

    spec = validate_model_name(cfg.model)
    if spec.source == "hub":
        name = spec.hf_id or ""
        if not _REPO_ID.fullmatch(name) or "--" in name or ".." in name:
            shown = name if len(name) <= 60 else name[:60] + "..."
            raise UsageError(f"--model {shown!r} is neither a registry name, a folder nor a "
                             "Hugging Face repository id (owner/name: ASCII letters, digits, "
                             "-, _ and ., at most 96 characters each; see `mi-starter doctor` "
                             "for the registry)")
    shard = Shard.parse(shard_text)
    problems = _problem_count(cfg)
    if shard.count > 1 and problems is not None and shard.index >= problems:
        raise UsageError(f"--shard {shard} gets none of the {problems} problems; with "
                         f"{problems} problems use at most {problems} shards "
                         f"(--shard i/{problems})")
    if starter is None or starter.budget is None or allow_large:
        return
    from starter import plan

    sequences = plan.make_plan(starter.budget(cfg)).sequences
    if sequences > MAX_PLANNED_SEQUENCES:
        raise UsageError(f"this config plans {sequences:,} sequences, above the ceiling of "
                         f"{MAX_PLANNED_SEQUENCES:,}; lower the sizes, or add --set "
                         "allow_large=true if you mean it")


def _problem_count(cfg: StarterConfig) -> int | None:
    """How many problems a shardable starter splits: its `n_problems`, else its `n_chains` (one
    reference chain per problem); None when the config has neither."""
    for name in ("n_problems", "n_chains"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def server_config(starter: Starter, args: argparse.Namespace) -> ServerConfig | None:
    """The OpenAI-compatible server to sample from, or None for the local path (checked here)."""
    backend = getattr(args, "backend", "local") or "local"
    if backend == "local":
        if getattr(args, "base_url", None) or getattr(args, "served_model", None):
            raise UsageError("--base-url and --served-model need --backend openai")
        return None
    if not starter.black_box:
        raise UsageError(f"starter {starter.slug!r} reads activations or steers the model, which a "
                         "server cannot give; run it with --backend local")
    if not (args.base_url and args.served_model):
        raise UsageError("--backend openai needs --base-url URL and --served-model NAME")
    from starter.backends.openai import ServerConfig

    return ServerConfig(base_url=args.base_url, served_model=args.served_model)


def print_plan(starter: Starter, cfg: StarterConfig, preset: str, spec: ModelSpec) -> None:
    """`--dry-run`: the preset's sampling stages, totals, memory and time; nothing loads or is
    written."""
    from starter import plan

    budget = plan.require_budget(starter)
    device_type = "cpu" if cfg.device == "cpu" else ("cuda" if preset == "gpu" else cfg.device)
    device_type = device_type.split(":")[0] if device_type != "auto" else "cpu"
    print(f"[{starter.slug}] dry run: preset={preset} model={cfg.model} device={cfg.device} "
          "(no weights loaded, nothing written)")
    print(plan.describe_plan(plan.make_plan(budget(cfg)), spec, device_type))
