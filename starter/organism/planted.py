"""Planted-feature models: TinyThinker plus a fixed hook that writes a known feature into its residual.

A method that reads the residual stream (probes, SAEs, the linear-vs-MLP comparison) is validated
on a model where the truth is known because we put it there. A `PlantedFeature` names a layer, a
kind and a label rule; `install(lm, feature)` registers forward hooks on that decoder layer of both
module trees of a `starter.models.LoadedModel` (the booted one, whose bridge hooks and
`hf_model.generate` read it, and the plain one `starter.rollouts.sample` generates with), so every
reader downstream of the layer's output sees the plant: `blocks.{L}.hook_resid_post`, the later
layers, the logits and generation. The label of every token is a pure function of the token ids up
to it (`labels`), computed by the plant's own rule, never by a method under test.

Kinds (u, v: seeded random unit directions, v orthogonal to u; `length` = `scale` times the mean
residual norm of the base at the layer, measured once at install on fixed reference traces):
- "linear": y = a seeded hash bit of the problem's prompt (constant over the chain); adds
  length * u * (2y - 1). A linear probe reads y.
- "xor": a, b = two seeded hash bits of the prompt, y = a XOR b; adds length * (u (2a - 1) +
  v (2b - 1)). The four clouds sit at the corners of a square whose diagonals are the classes:
  the class means are equal, so no direction carries y linearly, and a 1-hidden-layer MLP can.
- "sparse": y = 1 on about `rate` of tokens (a seeded hash of the token, the previous token and
  the position); adds length * u where y = 1, nothing elsewhere.

The registry names them `tinythinker-plant-linear`, `-xor` and `-sparse` (starter/models.yaml,
field `planted_feature`); `load_model` installs the hook. Each kind also comes at two weaker
scales with the same label rule, `-mid` (a probe clearly below saturation) and `-faint` (near its
detection limit; see FEATURES), so a validation can say how faint a plant its method finds.
`tinythinker-plant-xor-null` and `-sparse-null` carry the xor and sparse label rules with scale 0
(nothing written): the base read with the same labels, the matched control of a validation. A
starter reads the truth per position:

>>> from starter.models import load_model
>>> from starter import activations
>>> lm = load_model("tinythinker-plant-sparse")
>>> feature = lm.spec.planted                     # the PlantedFeature, or None on other models
>>> text = "Numbers: 8 19 4. Target: 31. <think> Try 8+19=27."
>>> ids = activations.encode_one(lm, text)        # token ids as the model sees them
>>> y = labels(feature, ids)                      # [len(ids)] 0/1, the plant's own truth
>>> len(y) == len(ids), set(y.tolist()) <= {0, 1}
(True, True)

The base's residual cannot compute any of these labels (a hash of the prompt or of a token's
position), so on `tinythinker` the same labels are chance for every probe: the matched control.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from starter.errors import StarterError

if TYPE_CHECKING:  # torch stays a function-level import
    import torch

# `lm` below is a starter.models.LoadedModel, typed Any: starter.models installs plants when it
# loads a model, so importing it here (even for types) would close an import circle
LoadedModel = Any

KINDS = ("linear", "xor", "sparse")
THINK = " <think>"  # the organism token that ends a prompt: the chain's key ends there


@dataclass(frozen=True)
class PlantedFeature:
    """One planted feature: where it is written, how, and by which label rule."""

    name: str  # registry key (models.yaml `planted_feature`), e.g. "linear"
    layer: int  # decoder layer whose output (blocks.{layer}.hook_resid_post) carries the plant
    kind: str  # one of KINDS: "linear" | "xor" | "sparse"
    # the plant's length over the base's mean residual norm at `layer`; 0: the label rule only,
    # nothing written (a matched null: the base, read with the same labels)
    scale: float
    seed: int  # seeds the random unit directions and the label hash
    rate: float = 0.04  # sparse only: the share of tokens whose bit is on

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StarterError(f"planted feature {self.name!r}: kind {self.kind!r} is not one of "
                               f"{', '.join(KINDS)}")
        if self.layer < 0 or self.scale < 0 or not 0 < self.rate < 1:
            raise StarterError(f"planted feature {self.name!r}: need layer >= 0, scale >= 0 and "
                               f"0 < rate < 1 (got {self.layer}, {self.scale}, {self.rate})")


# The features the registry may name. Layer 2 of 4 is TinyThinker's last layer of interest (what
# linear-representation and sae-vs-probes read by default). The strong scales (0.25, 0.5): a pilot
# on the cpu preset of linear-representation (see VALIDATION there); every probe reads them at 1.
# The weaker tiers, same kind, seed and label rule (so the same null serves every tier), were
# chosen before any validation ran by a pilot (scripts/pilot_plant_scales.py: base residuals of
# problems the validations do not use, the plant added as the hook adds it, a probe held out by
# problem): per kind, on a grid of scales, "mid" is the scale whose pilot accuracy is nearest 0.80
# (clearly below saturation) and "faint" the one nearest 0.60 (near the detection limit). The
# probe: linear for linear and sparse (a dense probe on balanced tokens), the 32-wide MLP for xor
# (no linear probe reads it). Pilot accuracy: linear 0.005 -> 0.62, 0.01 -> 0.82, 0.02 -> 0.97;
# xor 0.06 -> 0.58, 0.07 -> 0.69, 0.08 -> 0.93; sparse 0.01 -> 0.60, 0.02 -> 0.78, 0.05 -> 0.97.
FEATURES = {f.name: f for f in (
    PlantedFeature("linear", layer=2, kind="linear", scale=0.25, seed=11),
    PlantedFeature("xor", layer=2, kind="xor", scale=0.25, seed=12),
    PlantedFeature("sparse", layer=2, kind="sparse", scale=0.5, seed=13, rate=0.04),
    PlantedFeature("linear-mid", layer=2, kind="linear", scale=0.01, seed=11),
    PlantedFeature("linear-faint", layer=2, kind="linear", scale=0.005, seed=11),
    PlantedFeature("xor-mid", layer=2, kind="xor", scale=0.07, seed=12),
    PlantedFeature("xor-faint", layer=2, kind="xor", scale=0.06, seed=12),
    PlantedFeature("sparse-mid", layer=2, kind="sparse", scale=0.02, seed=13, rate=0.04),
    PlantedFeature("sparse-faint", layer=2, kind="sparse", scale=0.01, seed=13, rate=0.04),
    # the matched nulls: the same label rules, nothing written (the base read with these labels)
    PlantedFeature("xor-null", layer=2, kind="xor", scale=0.0, seed=12),
    PlantedFeature("sparse-null", layer=2, kind="sparse", scale=0.0, seed=13, rate=0.04),
)}


def same_labels(a: PlantedFeature, b: PlantedFeature) -> bool:
    """Whether two features label every token alike (same kind, seed and, for sparse, rate):
    the tiers of one kind and its null share a label rule, whatever their scales.

    >>> same_labels(get_feature("sparse-faint"), get_feature("sparse-null"))
    True
    >>> same_labels(get_feature("linear"), get_feature("xor"))
    False
    """
    return (a.kind == b.kind and a.seed == b.seed
            and (a.kind != "sparse" or a.rate == b.rate))


def get_feature(name: str) -> PlantedFeature:
    """The planted feature called `name`; a StarterError names the known ones.

    >>> get_feature("xor").kind
    'xor'
    """
    if name not in FEATURES:
        raise StarterError(f"unknown planted feature {name!r}; known: {', '.join(FEATURES)}")
    return FEATURES[name]


# --------------------------------------------------------------------------- the label rules


def hash_bit(seed: int, salt: str, key: Sequence[int], below: float = 0.5) -> int:
    """1 when the seeded hash of `key` (as a fraction in [0, 1)) is below `below`, else 0.

    The hash is blake2b (8 bytes) of "seed:salt:k0,k1,...": the same on every machine.

    >>> digest = hashlib.blake2b(b"11:y:1,24", digest_size=8).digest()
    >>> round(int.from_bytes(digest, "big") / 2**64, 4)  # the hash as a fraction
    0.821
    >>> hash_bit(11, "y", [1, 24]), hash_bit(11, "y", [1, 24], below=0.9)
    (0, 1)
    """
    text = f"{seed}:{salt}:" + ",".join(str(int(k)) for k in key)
    value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return int(value / 2**64 < below)


@lru_cache(maxsize=1)
def think_id() -> int:
    """The organism token id of " <think>" (ids never move: starter/organism/tokenizer.py)."""
    from starter.organism.tokenizer import VOCAB

    return VOCAB.index(THINK)


def chain_keys(ids: Sequence[int]) -> list[tuple[int, ...]]:
    """Per position: the tokens the chain's bits hash, i.e. the ids from the start up to this
    position or up to the first " <think>", whichever comes first (so the key, and every bit
    derived from it, is constant from the end of the prompt on).

    >>> [len(k) for k in chain_keys([1, 24, think_id(), 40, 41])]
    [1, 2, 3, 3, 3]
    """
    keys, end = [], None
    for t, token in enumerate(ids):
        if end is None and token == think_id():
            end = t + 1
        keys.append(tuple(int(i) for i in ids[: end if end is not None else t + 1]))
    return keys


def chain_bits(feature: PlantedFeature, ids: Sequence[int]) -> np.ndarray:
    """Per position, the bits the plant writes: [len(ids), 2] of 0/1 (the columns are a and b;
    b is 0 except for "xor"). Sparse: a is the token's own bit (see `sparse_bit`).

    >>> f = PlantedFeature("t", layer=0, kind="xor", scale=1.0, seed=0)
    >>> ids = [1, 24, think_id(), 40, 41]
    >>> bits = chain_bits(f, ids)
    >>> bool((bits[2:] == bits[2]).all())  # constant after the prompt
    True
    >>> bits[2].tolist() == [hash_bit(0, "a", ids[:3]), hash_bit(0, "b", ids[:3])]
    True
    """
    ids = [int(i) for i in ids]
    out = np.zeros((len(ids), 2), dtype=np.int64)
    if feature.kind == "sparse":
        for t in range(len(ids)):
            out[t, 0] = sparse_bit(feature, ids, t)
        return out
    cache: dict[tuple[int, ...], tuple[int, int]] = {}
    for t, key in enumerate(chain_keys(ids)):
        if key not in cache:
            b = hash_bit(feature.seed, "b", key) if feature.kind == "xor" else 0
            cache[key] = (hash_bit(feature.seed, "a", key), b)
        out[t] = cache[key]
    return out


def sparse_bit(feature: PlantedFeature, ids: Sequence[int], t: int) -> int:
    """The sparse plant's bit at position t: a seeded hash of (previous token, token, t) below
    `feature.rate` (previous token -1 at t = 0).

    >>> f = PlantedFeature("s", layer=0, kind="sparse", scale=1.0, seed=13, rate=0.04)
    >>> sparse_bit(f, [1, 24, 36], 2) == hash_bit(13, "sparse", [24, 36, 2], below=0.04)
    True
    """
    previous = int(ids[t - 1]) if t > 0 else -1
    return hash_bit(feature.seed, "sparse", [previous, int(ids[t]), t], below=feature.rate)


def labels(feature: PlantedFeature, ids: Sequence[int]) -> np.ndarray:
    """The planted label y of every position of one unpadded token sequence: [len(ids)] of 0/1.
    linear: the chain bit a; xor: a XOR b; sparse: the token's bit. Position t depends only on
    ids[: t + 1] (a causal rule: what the model has seen there).

    >>> ids = [1, 24, think_id(), 40]  # <bos> Numbers <think> Try
    >>> lin = PlantedFeature("l", layer=0, kind="linear", scale=1.0, seed=5)
    >>> labels(lin, ids).tolist(), [hash_bit(5, "a", ids[:k]) for k in (1, 2, 3, 3)]
    ([1, 1, 0, 0], [1, 1, 0, 0])
    >>> xor = PlantedFeature("x", layer=0, kind="xor", scale=1.0, seed=5)
    >>> chain_bits(xor, ids).tolist(), labels(xor, ids).tolist()  # (a, b) and a XOR b
    ([[1, 0], [1, 1], [0, 0], [0, 0]], [1, 0, 0, 0])
    """
    bits = chain_bits(feature, ids)
    if feature.kind == "xor":
        return (bits[:, 0] ^ bits[:, 1]).astype(np.int64)
    return bits[:, 0].copy()


def directions(feature: PlantedFeature, d_model: int) -> np.ndarray:
    """The plant's unit directions u and v: [2, d_model], seeded, v orthogonal to u.

    >>> uv = directions(PlantedFeature("l", layer=0, kind="xor", scale=1.0, seed=5), 8)
    >>> np.round(np.linalg.norm(uv, axis=1), 6).tolist(), round(float(uv[0] @ uv[1]), 6)
    ([1.0, 1.0], 0.0)
    """
    rng = np.random.default_rng(feature.seed)
    u, v = rng.normal(size=(2, d_model))
    u /= np.linalg.norm(u)
    v -= (v @ u) * u  # Gram-Schmidt: the xor plant's class means then coincide exactly
    v /= np.linalg.norm(v)
    return np.stack([u, v])


def coefficients(feature: PlantedFeature, ids: Sequence[int]) -> np.ndarray:
    """Per position, the plant's coefficients on (u, v), in units of its length: [len(ids), 2].
    linear: (2a - 1, 0); xor: (2a - 1, 2b - 1); sparse: (bit, 0).

    >>> f = PlantedFeature("s", layer=0, kind="sparse", scale=1.0, seed=13, rate=0.04)
    >>> c = coefficients(f, [1, 24, 36])
    >>> c[:, 1].tolist(), c[:, 0].tolist() == labels(f, [1, 24, 36]).tolist()
    ([0.0, 0.0, 0.0], True)
    """
    bits = chain_bits(feature, ids).astype(np.float64)
    if feature.kind == "sparse":
        return np.stack([bits[:, 0], np.zeros(len(bits))], axis=1)
    signs = 2 * bits - 1
    if feature.kind == "linear":
        signs[:, 1] = 0.0
    return signs


# --------------------------------------------------------------------------- the hook


def reference_norm(lm: LoadedModel, layer: int, n_traces: int = 8) -> float:
    """The base's mean residual norm after `layer` over every token of `n_traces` fixed organism
    training traces (seed 0): the unit of a plant's `scale`. Read before any plant is installed."""
    import torch

    from starter.organism.data import make_traces

    norms = []
    with torch.no_grad():
        for trace in make_traces(n_traces, seed=0, split="train"):
            batch = lm.encode([trace.prompt + trace.completion])
            out = lm.plain_model(**batch, output_hidden_states=True)
            hidden = out.hidden_states[layer + 1][0]  # [pos, d_model]; [0] is the embeddings
            norms.append(hidden.float().norm(dim=-1))
    return float(torch.cat(norms).mean())


class _TreeHooks:
    """The plant on one HF module tree: a pre-hook on the decoder stack records each row's token
    history (KV-cached generation passes one new token per step), and a forward hook on the
    layer adds the plant at the new positions."""

    def __init__(self, feature: PlantedFeature, vectors: "torch.Tensor", pad_id: int) -> None:
        self.feature = feature
        self.vectors = vectors  # [2, d_model]: length * u, length * v
        self.pad_id = pad_id
        self.history: list[list[int]] = []  # per batch row, every id seen so far (pads included)
        self.new = 0  # positions the current forward adds
        self.handles: list[Any] = []

    def record(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            raise StarterError(f"planted feature {self.feature.name!r}: the model was called "
                               "with inputs_embeds; a plant needs the token ids")
        cache = kwargs.get("past_key_values")
        start = cache.get_seq_length() if cache is not None else 0
        rows = ids.tolist()
        if start == 0:
            self.history = rows
        elif len(self.history) != len(rows) or any(len(h) != start for h in self.history):
            raise StarterError(f"planted feature {self.feature.name!r}: a cached forward at "
                               f"position {start} that does not continue the recorded tokens")
        else:
            self.history = [h + r for h, r in zip(self.history, rows)]
        self.new = len(rows[0]) if rows else 0

    def add(self, module, args, output):
        import torch

        hidden = output[0] if isinstance(output, tuple) else output  # [batch, pos, d_model]
        coef = torch.zeros(hidden.shape[0], self.new, 2, dtype=torch.float32)
        for row, history in enumerate(self.history):
            lead = next((i for i, t in enumerate(history) if t != self.pad_id), len(history))
            c = coefficients(self.feature, history[lead:])  # [real positions, 2]
            width = min(self.new, len(c))
            if width:
                coef[row, self.new - width:] = torch.from_numpy(c[len(c) - width:]).float()
        delta = coef.to(hidden.device) @ self.vectors.to(hidden.device)  # [batch, pos, d_model]
        planted = hidden + delta.to(hidden.dtype)
        return (planted, *output[1:]) if isinstance(output, tuple) else planted

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


@dataclass
class Installed:
    """The hooks of one installed plant (both module trees); `remove()` takes them all out."""

    feature: PlantedFeature
    length: float  # the plant's length in residual units: scale * the base's reference norm
    trees: list[_TreeHooks]

    def remove(self) -> None:
        for tree in self.trees:
            tree.remove()


def _layer_module(hf_model, layer: int):
    """The decoder layer itself: inside the bridge's wrapper on the booted tree (so the wrapper's
    hook_out, i.e. blocks.{layer}.hook_resid_post, reads the planted output)."""
    block = hf_model.model.layers[layer]
    return getattr(block, "_original_component", block)


def install(lm: LoadedModel, feature: PlantedFeature) -> Installed:
    """Plant `feature` into `lm` (both module trees) for good; returns the hooks (`remove()`).

    >>> import torch
    >>> from starter.models import load_model
    >>> lm = load_model("tinythinker")
    >>> batch = lm.encode(["Numbers: 8 19 4. Target: 31. <think>"])
    >>> name = "blocks.2.hook_resid_post"
    >>> before = lm.bridge.run_with_cache(batch.input_ids, names_filter=[name])[1][name]
    >>> plant = install(lm, get_feature("linear"))
    >>> after = lm.bridge.run_with_cache(batch.input_ids, names_filter=[name])[1][name]
    >>> sign = 2 * int(labels(plant.feature, batch.input_ids[0].tolist())[-1]) - 1
    >>> u = torch.from_numpy(directions(plant.feature, lm.d_model)[0]).float()
    >>> torch.allclose(after[0, -1] - before[0, -1], sign * plant.length * u, atol=1e-4)
    True
    >>> plant.remove()
    """
    import torch

    if feature.layer >= lm.n_layers:
        raise StarterError(f"planted feature {feature.name!r}: layer {feature.layer} is outside "
                           f"0..{lm.n_layers - 1} of {lm.spec.name}")
    if feature.scale == 0:  # a null: the label rule without a plant; nothing to hook
        return Installed(feature, 0.0, [])
    length = feature.scale * reference_norm(lm, feature.layer)
    vectors = torch.from_numpy(directions(feature, lm.d_model) * length).to(torch.float32)
    pad_id = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else -1
    trees = []
    for hf_model in (lm.hf_model, lm.plain_model):
        tree = _TreeHooks(feature, vectors, pad_id)
        tree.handles.append(hf_model.model.register_forward_pre_hook(tree.record,
                                                                     with_kwargs=True))
        tree.handles.append(_layer_module(hf_model, feature.layer).register_forward_hook(tree.add))
        trees.append(tree)
    return Installed(feature, length, trees)
