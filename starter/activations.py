"""Residual-stream activations at chosen tokens, difference-of-means directions, and steering hooks.

Three things the probing and steering starters share:

- `cache_resid(model, texts, positions, layers)`: run many texts through the TransformerLens bridge in
  batches and keep `blocks.{L}.hook_resid_post` only at the token positions asked for (e.g. the last
  token of every chain-of-thought step, from `step_end_positions`). Nothing else is stored, and the
  forward pass stops after the last layer asked for.
- `diff_of_means(pos, neg)`: the steering direction of Venhoff et al. 2025 (mean activation before the
  behaviour minus mean activation before everything else).
- `steering(model, layer, vector, alpha)`: a context inside which `alpha * vector` is added to the
  residual stream at `layer` on every forward pass (bridge calls and `hf_model.generate` alike: see
  starter/models.py); the hook is removed when the block exits, even on an error. To steer while sampling,
  pass `steering_hooks(layer, vector, alpha)` to `starter.rollouts.sample(..., hooks=...)` instead.

>>> import torch
>>> resid_name(3)
'blocks.3.hook_resid_post'
>>> diff_of_means(torch.tensor([[2.0, 0.0], [4.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
tensor([ 3., -1.])
>>> hook = add_vector(torch.tensor([1.0, 0.0]), alpha=0.5)
>>> hook(torch.zeros(1, 2, 2), hook=None)  # [batch, pos, d_model]
tensor([[[0.5000, 0.0000],
         [0.5000, 0.0000]]])
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from starter import cot
from starter.errors import UsageError

if TYPE_CHECKING:  # torch stays a function-level import (see CONTRIBUTING: light imports)
    import torch

    from starter.models import LoadedModel


def resid_name(layer: int) -> str:
    """The TransformerLens hook name of the residual stream after block `layer` (0-based)."""
    return f"blocks.{layer}.hook_resid_post"


def _check_layers(model: "LoadedModel", layers: Sequence[int]) -> list[int]:
    layers = sorted(set(int(layer) for layer in layers))
    if not layers or layers[0] < 0 or layers[-1] >= model.n_layers:
        raise UsageError(f"layers {layers} must be non-empty and within 0..{model.n_layers - 1} "
                         f"({model.spec.name} has {model.n_layers} blocks)")
    return layers


def encode_one(model: "LoadedModel", text: str) -> list[int]:
    """Token ids of `text` as the model sees it (BOS added only where the prompt format lacks one)."""
    return model.tokenizer(text, add_special_tokens=model.add_special_tokens)["input_ids"]


def step_end_positions(model: "LoadedModel", prompt: str, completion: str) -> tuple[list[cot.Step], list[int]]:
    """The thinking steps of `completion` and, for each, the index of its last token in `prompt + completion`.

    Indices refer to `encode_one(model, prompt + completion)`, which is how `cache_resid` encodes the text.
    The activation at a step's last token has read the whole step and not yet written the next one: the
    place to ask "what does the model know now?" and "what will it do next?".
    """
    text = prompt + completion
    thinking, _ = cot.split_completion(completion)
    steps = cot.split_steps(thinking)
    if not steps:
        return [], []
    # split_completion strips the thinking: find where it starts inside the full text.
    offset = len(prompt) + completion.find(thinking)
    spans = cot.step_token_spans(model.tokenizer, text, steps, offset, add_special_tokens=model.add_special_tokens)
    return steps, [end - 1 for _, end in spans]


def cache_resid(
    model: "LoadedModel",
    texts: Sequence[str],
    positions: Sequence[Sequence[int]],
    layers: Sequence[int],
    batch_size: int = 16,
) -> "dict[int, torch.Tensor]":
    """Residual stream after each of `layers` at `positions[i]` of `texts[i]`: {layer: [n_points, d_model]}.

    Rows are in order: all positions of text 0, then text 1, ... (n_points = total positions), float32 on
    the CPU. Texts are encoded one by one (`encode_one`) and right-padded into batches: in a causal model
    padding on the right cannot change any real token's activation, and positions keep their meaning.

    >>> from starter.models import load_model
    >>> lm = load_model("tinythinker")
    >>> acts = cache_resid(lm, ["Numbers: 8 19 4. Target: 31. <think>"], [[-1]], layers=[1, 2])
    >>> acts[2].shape
    torch.Size([1, 256])
    """
    import torch

    if len(texts) != len(positions):
        raise UsageError(f"got {len(texts)} texts but {len(positions)} position lists; give one list per text")
    layers = _check_layers(model, layers)
    names = [resid_name(layer) for layer in layers]
    pad_id = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for lo in range(0, len(texts), batch_size):
        ids = [encode_one(model, t) for t in texts[lo : lo + batch_size]]
        wanted = [[p if p >= 0 else len(seq) + p for p in pos] for seq, pos in zip(ids, positions[lo : lo + batch_size])]
        for seq, pos in zip(ids, wanted):
            if any(not 0 <= p < len(seq) for p in pos):
                raise UsageError(f"positions {list(pos)} fall outside a text of {len(seq)} tokens")
        width = max(len(seq) for seq in ids)
        tokens = torch.full((len(ids), width), pad_id, dtype=torch.long)  # [batch, pos]
        mask = torch.zeros_like(tokens)
        for i, seq in enumerate(ids):
            tokens[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        rows = torch.tensor([i for i, pos in enumerate(wanted) for _ in pos], dtype=torch.long)
        cols = torch.tensor([p for pos in wanted for p in pos], dtype=torch.long)
        with torch.no_grad():
            _, cache = model.bridge.run_with_cache(
                tokens.to(model.device), attention_mask=mask.to(model.device),
                names_filter=names, stop_at_layer=layers[-1] + 1,
            )
        for layer, name in zip(layers, names):
            acts = cache[name]  # [batch, pos, d_model]
            out[layer].append(acts[rows.to(acts.device), cols.to(acts.device)].float().cpu())  # [points, d_model]
    d_model = model.d_model
    return {layer: torch.cat(chunks) if chunks else torch.zeros(0, d_model) for layer, chunks in out.items()}


def diff_of_means(pos: "torch.Tensor", neg: "torch.Tensor") -> "torch.Tensor":
    """mean(pos) - mean(neg) over rows: [n_pos, d_model], [n_neg, d_model] -> [d_model]."""
    if len(pos) == 0 or len(neg) == 0:
        raise UsageError(f"difference of means needs examples on both sides; got {len(pos)} and {len(neg)}. "
                         "Collect more traces (the behaviour may be rare for this model).")
    return pos.float().mean(0) - neg.float().mean(0)


def random_direction(like: "torch.Tensor", seed: int) -> "torch.Tensor":
    """A random vector with the same norm as `like` (the control for a steering vector).

    >>> import torch
    >>> v = torch.tensor([3.0, 4.0])
    >>> round(float(random_direction(v, seed=0).norm()), 4)
    5.0
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    r = torch.randn(like.shape, generator=g)
    return r / r.norm() * like.float().norm().cpu()


def add_vector(vector: "torch.Tensor", alpha: float) -> Callable:
    """A TransformerLens forward hook that adds `alpha * vector` at every position of the residual stream."""

    def hook(resid, hook):  # resid: [batch, pos, d_model]
        return resid + (alpha * vector).to(device=resid.device, dtype=resid.dtype)

    return hook


def steering_hooks(layer: int, vector: "torch.Tensor", alpha: float) -> list[tuple[str, Callable]]:
    """Hooks for `starter.rollouts.sample(..., hooks=...)` that steer while it generates (none when alpha is 0).

    >>> import torch
    >>> [name for name, _ in steering_hooks(2, torch.ones(4), alpha=0.5)], steering_hooks(2, torch.ones(4), 0.0)
    (['blocks.2.hook_resid_post'], [])
    """
    return [] if alpha == 0 else [(resid_name(layer), add_vector(vector, alpha))]


def add_per_row(deltas: "torch.Tensor") -> Callable:
    """A hook that adds `deltas[i]` [d_model] at every position of batch row i: many steering
    conditions (vectors x alphas) in one generate call. The batch must have exactly len(deltas) rows.

    >>> import torch
    >>> hook = add_per_row(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    >>> hook(torch.zeros(2, 1, 2), hook=None)  # [batch, pos, d_model]
    tensor([[[ 1.,  0.]],
    <BLANKLINE>
            [[ 0., -1.]]])
    """

    def hook(resid, hook):  # resid: [batch, pos, d_model]
        if resid.shape[0] != deltas.shape[0]:
            raise UsageError(f"per-row steering got a batch of {resid.shape[0]} rows for "
                             f"{deltas.shape[0]} deltas; generate exactly one batch of that size")
        return resid + deltas[:, None, :].to(device=resid.device, dtype=resid.dtype)

    return hook


@contextmanager
def steering(model: "LoadedModel", layer: int, vector: "torch.Tensor", alpha: float) -> Iterator[None]:
    """Add `alpha * vector` to `blocks.{layer}.hook_resid_post` inside the block; removed on exit, always.

    Works for `model.bridge(...)`, `run_with_cache` and `model.hf_model.generate(...)` (the bridge's hooks
    fire inside HF generation, once per forward step, on the new token only once the KV cache is warm).

    >>> import torch
    >>> from starter.models import load_model
    >>> lm = load_model("tinythinker")
    >>> batch = lm.encode(["Numbers: 8 19 4. Target: 31. <think>"])
    >>> v = torch.zeros(lm.d_model)  # a real vector comes from diff_of_means
    >>> with steering(lm, layer=2, vector=v, alpha=0.5):
    ...     out = lm.hf_model.generate(**batch, max_new_tokens=4, do_sample=False)
    >>> out.shape[0]
    1
    """
    _check_layers(model, [layer])
    with model.bridge.hooks(fwd_hooks=steering_hooks(layer, vector, alpha)):  # alpha 0: no hook at all
        yield


def mean_resid_norm(acts: "torch.Tensor") -> float:
    """Average L2 norm of residual vectors [n, d_model]: the scale to compare a steering vector with."""
    return float(acts.float().norm(dim=-1).mean())


# ------------------------------------------------------------------------------------------- probes

PROBE_METRICS = {"classify": "auroc", "regress": "r2"}


def probe_folds(labels, groups, kind: str = "classify", folds: int = 5, seed: int = 0) -> list:
    """Train/test index pairs split by `groups` (problem ids): no group is on both sides of a split.

    "classify" stratifies by class and refuses a split where a training fold could miss a class.

    >>> import numpy as np
    >>> folds = probe_folds(np.array([0, 1] * 6), np.arange(12) // 2, folds=3)
    >>> len(folds), sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(12))
    (3, True)
    """
    import numpy as np
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if kind not in PROBE_METRICS:
        raise UsageError(f"probe kind {kind!r} is not one of {', '.join(PROBE_METRICS)}")
    y, groups = np.asarray(labels), np.asarray(groups)
    n_groups = len(set(groups.tolist()))
    if n_groups < folds:
        raise UsageError(f"{n_groups} groups cannot be split into {folds} folds; use more problems")
    if kind == "regress":
        return list(GroupKFold(n_splits=folds).split(y, y, groups))
    spread = min(len(set(groups[y == 1].tolist())), len(set(groups[y == 0].tolist())))
    if spread < folds:  # otherwise some training fold could miss a class
        raise UsageError(f"a {folds}-fold probe needs each class in >= {folds} groups; got "
                         f"{int(y.sum())} positive of {len(y)}, the rarer class in {spread} groups")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(y, y, groups))


def oof_predict(features, labels, groups, kind: str = "classify", folds: int = 5, seed: int = 0):
    """Out-of-fold predictions [n] of a standardised linear probe, split by `groups` (no leakage).

    `features` is [n, d] (activations, or any design matrix such as a bag of words). "classify"
    fits a logistic regression and returns P(label = 1); "regress" fits a ridge regression and
    returns its prediction. Every example is predicted by a probe that never saw its group.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5)); y = (x[:, 0] > 0).astype(int); g = np.arange(200) // 4
    >>> float(((oof_predict(x, y, g) > 0.5) == y).mean()) > 0.9
    True
    """
    import numpy as np

    y = np.asarray(labels)
    predicted = np.zeros(len(y), dtype=float)
    for train, test in probe_folds(y, groups, kind, folds, seed):
        probe = _make_probe(kind, sparse=_is_sparse(features))
        probe.fit(features[train], y[train])
        if kind == "classify":
            predicted[test] = probe.predict_proba(features[test])[:, 1]
        else:
            predicted[test] = probe.predict(features[test])
    return predicted


def probe_score(
    features, labels, groups, kind: str = "classify", folds: int = 5, seed: int = 0
) -> float:
    """Out-of-fold score of `oof_predict`: AUROC ("classify") or R^2 ("regress"), split by `groups`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5)); y = (x[:, 0] > 0).astype(int); g = np.arange(200) // 4
    >>> probe_score(x, y, g) > 0.95, abs(probe_score(x, rng.permutation(y), g) - 0.5) < 0.15
    (True, True)
    """
    import numpy as np

    predicted = oof_predict(features, labels, groups, kind, folds, seed)
    return score_predictions(np.asarray(labels), predicted, kind)


def score_predictions(labels, predicted, kind: str = "classify") -> float:
    """AUROC of probabilities ("classify") or R^2 of predictions ("regress").

    >>> score_predictions([0, 1, 1], [0.1, 0.8, 0.6])
    1.0
    >>> score_predictions([1.0, 2.0], [1.0, 2.0], "regress")
    1.0
    """
    from sklearn.metrics import r2_score, roc_auc_score

    if kind == "classify":
        return float(roc_auc_score(labels, predicted))
    return float(r2_score(labels, predicted))


@dataclass(frozen=True)
class LayerChoice:
    """Out-of-fold predictions of a probe whose layer was chosen inside each training fold."""

    predicted: list[float]  # one per example, from the outer fold that held it out
    inner_scores: dict[int, float]  # per layer: its inner-CV score, averaged over the outer folds
    layers: list[int]  # per outer fold, the layer chosen by inner cross-validation on its training


def nested_layer_predict(features_by_layer: dict, labels, groups, kind: str = "classify",
                         folds: int = 5, inner_folds: int = 3, seed: int = 0) -> LayerChoice:
    """Out-of-fold predictions with the layer picked on training groups only (no test peeking).

    Per outer fold, every layer is scored (AUROC or R^2) by an inner `inner_folds`-fold split of the
    training groups; the best layer is refitted on all training groups and predicts the held-out
    ones.
    Choosing "the best layer" on the test data instead flatters the probe.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 120); g = np.arange(120) // 3
    >>> signal = np.c_[y + 0.1 * rng.normal(size=120), rng.normal(size=(120, 3))]
    >>> acts = {0: rng.normal(size=(120, 4)), 1: signal}
    >>> choice = nested_layer_predict(acts, y, g, folds=4)
    >>> choice.layers, float(((np.array(choice.predicted) > 0.5) == y).mean()) > 0.9
    ([1, 1, 1, 1], True)
    """
    import numpy as np

    y, groups = np.asarray(labels), np.asarray(groups)
    predicted = np.zeros(len(y), dtype=float)
    chosen = []
    scores: dict[int, list[float]] = {layer: [] for layer in features_by_layer}
    for train, test in probe_folds(y, groups, kind, folds, seed):
        inner = {}
        for layer, x in features_by_layer.items():
            guess = oof_predict(x[train], y[train], groups[train], kind, inner_folds, seed)
            inner[layer] = score_predictions(y[train], guess, kind)
            scores[layer].append(inner[layer])
        best = max(inner, key=lambda layer: (inner[layer], -layer))  # ties: the earlier layer
        x = features_by_layer[best]
        probe = _make_probe(kind, sparse=_is_sparse(x))
        probe.fit(x[train], y[train])
        if kind == "classify":
            predicted[test] = probe.predict_proba(x[test])[:, 1]
        else:
            predicted[test] = probe.predict(x[test])
        chosen.append(int(best))
    return LayerChoice(predicted=[float(p) for p in predicted], layers=chosen,
                       inner_scores={layer: float(np.mean(s)) for layer, s in scores.items()})


def _make_probe(kind: str, sparse: bool):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = LogisticRegression(C=1.0, max_iter=2000) if kind == "classify" else Ridge(alpha=1.0)
    return make_pipeline(StandardScaler(with_mean=not sparse), model)


def _is_sparse(x) -> bool:
    return hasattr(x, "tocsr")  # scipy sparse (a bag of words) cannot be mean-centred


# ------------------------------------------------------------------------ SAE latents of a direction


def sae_layer(sae_id: str) -> int:
    """The residual layer of a Llama Scope SAE id.

    >>> sae_layer("l15r_800m_slimpajama")
    15
    """
    found = re.match(r"l(\d+)r", sae_id)
    if found is None:
        raise UsageError(f"cannot read a layer from SAE id {sae_id!r}; expected e.g. 'l15r_800m_slimpajama'")
    return int(found.group(1))


def sae_latents(vector: "torch.Tensor", spec, top_k: int = 10, device: str = "cpu", client=None) -> list[dict]:
    """The SAE latents whose decoder directions point most along `vector` [d_model], with Neuronpedia explanations.

    Uses the model's first SAE in the registry (`spec.sae_release`, `spec.sae_ids[0]`); `vector` must be read at
    that SAE's layer (`sae_layer(spec.sae_ids[0])`). Downloads the SAE weights through SAELens, so it needs the
    network (or a warm Hugging Face cache): callers skip it offline.
    """
    import torch
    from sae_lens import SAE

    from starter import neuronpedia

    if not spec.sae_release or not spec.sae_ids:
        raise UsageError(f"model {spec.name!r} has no SAEs in starter/models.yaml (sae_release/sae_ids)")
    sae_id, source = spec.sae_ids[0], spec.neuronpedia_sources[0]
    sae = SAE.from_pretrained(spec.sae_release, sae_id, device=device)
    decoder = torch.nn.functional.normalize(sae.W_dec.float(), dim=-1)  # [d_sae, d_model]
    cosine = decoder @ (vector.float() / vector.float().norm()).to(decoder.device)  # [d_sae]
    top = cosine.topk(top_k)
    client = client or neuronpedia.NeuronpediaClient()
    out = []
    for cos, index in zip(top.values.tolist(), top.indices.tolist()):
        feature = client.feature(spec.neuronpedia_model_id, source, index)
        out.append({"sae_id": sae_id, "index": index, "cosine": cos, "url": feature.url,
                    "explanation": feature.explanations[0].description if feature.explanations else ""})
    return out
