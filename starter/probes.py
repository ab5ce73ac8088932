"""Linear and small non-linear probes on activations, split by problem, scored item by item.

One trainer for both kinds, so a comparison between them changes one thing only: a `ProbeSpec` with
`hidden=0` is multinomial logistic regression (a linear probe); `hidden=w` adds one ReLU layer of
width `w` (a 1-hidden-layer MLP). Both standardise the features on the training items, then take
`steps` full-batch AdamW steps on the cross-entropy with the same learning rate and weight decay.

- `fold_of(groups, folds, seed)`: a fold number per item; whole groups (problem ids) stay together.
- `predict_held_out(x, labels, groups, spec, folds, seed)`: the predicted class of every item, each
  from a probe trained on the other folds only (no problem is on both sides).
- `fit_predict(x_train, y_train, groups_train, x_test, spec)`: the same probe on a split made
  beforehand (one probe, no folds).
- `hits(labels, predicted)`: 1.0 where the prediction is right: per-item scores for
  `starter.stats.mean_ci` / `difference_ci` with clusters = problems (a paired comparison of two
  probes is `difference_ci(hits_a, groups, hits_b, groups)`).
- `token_window(ids, positions, window)`: a one-hot of the `window` tokens ending at each position:
  the token-identity baseline (what the nearby text alone gives a probe).

Labels are class indices 0..K-1 (bucket a number before probing it). Everything is seeded: the same
inputs give the same predictions.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(400, 2)); groups = np.arange(400) // 4
>>> xor = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(int)  # not linearly separable
>>> linear = hits(xor, predict_held_out(x, xor, groups, ProbeSpec(hidden=0), folds=4))
>>> mlp = hits(xor, predict_held_out(x, xor, groups, ProbeSpec(hidden=32), folds=4))
>>> float(linear.mean()) < 0.7 < 0.9 < float(mlp.mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from starter.errors import UsageError


@dataclass(frozen=True)
class ProbeSpec:
    """A probe's shape and training; the same training for every width (only `hidden` varies)."""

    hidden: int = 0  # 0: linear probe (logistic regression); w > 0: one ReLU hidden layer of w
    steps: int = 300  # full-batch AdamW steps (the data are small: no minibatches, no early stop)
    lr: float = 3e-2  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    # share of the training problems held back to choose the stopping step (0: no early stopping)
    val_fraction: float = 0.2
    eval_every: int = 10  # steps between checks of the validation loss

    def __post_init__(self) -> None:
        if (self.hidden < 0 or self.steps < 1 or self.lr <= 0 or self.weight_decay < 0
                or not 0 <= self.val_fraction < 1 or self.eval_every < 1):
            raise UsageError(f"probe {self}: need hidden >= 0, steps >= 1, lr > 0, "
                             f"weight_decay >= 0, 0 <= val_fraction < 1, eval_every >= 1")

    @property
    def name(self) -> str:
        """'linear' or 'mlp-<width>'.

        >>> ProbeSpec().name, ProbeSpec(hidden=64).name
        ('linear', 'mlp-64')
        """
        return "linear" if self.hidden == 0 else f"mlp-{self.hidden}"


def fold_of(groups: Sequence | np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number (0..folds-1) per item; the groups are dealt to folds in a seeded order.

    >>> fold_of(["a", "a", "b", "c", "d", "d"], folds=2).tolist()
    [1, 1, 0, 0, 1, 1]
    """
    names = sorted(set(groups), key=str)
    if folds < 2 or len(names) < folds:
        raise UsageError(f"{len(names)} problems cannot be split into {folds} folds; "
                         f"use folds >= 2 and at least as many problems")
    order = np.random.default_rng(seed).permutation(len(names))
    fold = {names[i]: k % folds for k, i in enumerate(order)}
    return np.array([fold[g] for g in groups], dtype=int)


def predict_held_out(features, labels, groups, spec: ProbeSpec, folds: int = 5, seed: int = 0,
                     device: str = "cpu") -> np.ndarray:
    """The predicted class of every item, from a probe that never saw the item's group.

    `features` [n, d], `labels` [n] class indices, `groups` [n] problem ids. Each fold is scored by
    a probe trained on the other folds (`fold_of`), of whose groups a `spec.val_fraction` is held
    back to pick the stopping step: the probe keeps the weights (checked every `spec.eval_every`
    steps) with the lowest validation loss, so a wide MLP is not judged by how far it overfits.
    Every item is predicted exactly once; no test group is used for training or stopping. The
    folds' probes train side by side as one batched network (independent: AdamW is elementwise);
    on the CPU on one thread (small matrices: more threads mostly wait on each other).

    >>> x = np.arange(24.0)[:, None]; y = (x[:, 0] >= 12).astype(int); g = np.arange(24) // 2
    >>> predict_held_out(x, y, g, ProbeSpec(), folds=3).tolist() == y.tolist()
    True
    """
    import torch

    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=int)
    groups = np.asarray(groups)
    if x.ndim != 2 or len(x) != len(y) or len(y) != len(groups):
        raise UsageError(f"features {x.shape}, labels {y.shape} and {len(groups)} groups must "
                         f"share their first dimension (features 2-D)")
    if y.size == 0 or y.min() < 0:
        raise UsageError("labels must be class indices 0..K-1 (bucket numbers before probing)")
    fold = fold_of(groups, folds, seed)
    role = np.full((folds, len(y)), TRAIN)  # [folds, n]: each item's role in each fold's probe
    for k in range(folds):
        role[k, fold == k] = TEST
        train = np.flatnonzero(fold != k)
        if spec.val_fraction > 0 and len(set(groups[train].tolist())) >= 4:
            inner = fold_of(groups[train], max(2, round(1 / spec.val_fraction)), seed + 1 + k)
            role[k, train[inner == 0]] = VAL
    predicted = _fit_seeded(torch, x, y, role, spec, int(y.max()) + 1, device, seed)
    return predicted[fold, np.arange(len(y))]


def fit_predict(x_train, y_train, groups_train, x_test, spec: ProbeSpec, seed: int = 0,
                device: str = "cpu") -> np.ndarray:
    """One probe trained on a fixed split: the predicted class [n_test] of each test row.

    The same trainer as `predict_held_out` (standardised on the training rows, early stopping on
    a `spec.val_fraction` of the training groups), for a split made beforehand, e.g. problems
    held out from an SAE's training as well. `groups_train` are the training rows' problem ids.

    >>> x = np.arange(24.0)[:, None]; y = (x[:, 0] >= 12).astype(int); g = np.arange(24) // 2
    >>> fit_predict(x, y, g, np.array([[-3.0], [30.0]]), ProbeSpec()).tolist()
    [0, 1]
    """
    import torch

    x_train = np.asarray(x_train, dtype=np.float32)
    x_test = np.asarray(x_test, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=int)
    groups = np.asarray(groups_train)
    if (x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]
            or len(x_train) != len(y_train) or len(y_train) != len(groups)):
        raise UsageError(f"training features {x_train.shape}, labels {y_train.shape}, "
                         f"{len(groups)} groups and test features {x_test.shape} do not match")
    if y_train.size == 0 or y_train.min() < 0:
        raise UsageError("labels must be class indices 0..K-1 (bucket numbers before probing)")
    x = np.concatenate([x_train, x_test])  # [n_train + n_test, d]
    y = np.concatenate([y_train, np.zeros(len(x_test), dtype=int)])  # test labels are unused
    role = np.full((1, len(y)), TRAIN)  # [1, n]: one probe
    role[0, len(y_train):] = TEST
    if spec.val_fraction > 0 and len(set(groups.tolist())) >= 4:
        inner = fold_of(groups, max(2, round(1 / spec.val_fraction)), seed + 1)
        role[0, np.flatnonzero(inner == 0)] = VAL
    predicted = _fit_seeded(torch, x, y, role, spec, int(y_train.max()) + 1, device, seed)
    return predicted[0, len(y_train):]


def _fit_seeded(torch, x, y, role, spec: ProbeSpec, classes: int, device: str, seed: int):
    """`_fit_folds` from `seed`, leaving the caller's RNG and (on CPU) thread count as they were."""
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):  # the caller's RNG is left as it was
            torch.manual_seed(seed)
            return _fit_folds(torch, x, y, role, spec, classes, device)
    finally:
        torch.set_num_threads(threads)


TRAIN, VAL, TEST = 0, 1, 2  # an item's role in one fold's probe


def _fit_folds(torch, x: np.ndarray, y: np.ndarray, role: np.ndarray, spec: ProbeSpec,
               n_classes: int, device: str) -> np.ndarray:
    """Train one probe per fold (row of `role`) at once; their predictions [folds, n]."""
    n_folds, d = role.shape[0], x.shape[1]
    xt = torch.as_tensor(x, device=device)  # [n, d]
    yt = torch.as_tensor(y, dtype=torch.long, device=device)  # [n]
    train = torch.as_tensor(role == TRAIN, device=device).float()  # [folds, n]
    val = torch.as_tensor(role == VAL, device=device).float()  # [folds, n]
    count = train.sum(1, keepdim=True)  # [folds, 1]
    mean = train @ xt / count  # [folds, d]: standardised on each fold's training items
    scale = (train @ xt.square() / count - mean.square()).clamp_min(0).sqrt() + 1e-6
    xs = (xt[None] - mean[:, None]) / scale[:, None]  # [folds, n, d]
    shapes = [(d, n_classes)] if spec.hidden == 0 else [(d, spec.hidden), (spec.hidden, n_classes)]
    params = []
    for fan_in, fan_out in shapes:  # torch.nn.Linear's initialisation, one copy per fold
        bound = fan_in ** -0.5
        for shape in ((n_folds, fan_in, fan_out), (n_folds, 1, fan_out)):
            w = (torch.rand(shape, device=device) * 2 - 1) * bound
            params.append(w.requires_grad_())

    def logits(inputs):  # [folds, n, d] -> [folds, n, classes]
        h = inputs @ params[0] + params[1]
        if spec.hidden:
            h = torch.relu(h) @ params[2] + params[3]
        return h

    def losses(out, mask):  # per fold: mean cross-entropy over the masked items -> [folds]
        each = torch.nn.functional.cross_entropy(out.transpose(1, 2), yt.expand(n_folds, -1),
                                                 reduction="none")  # [folds, n]
        return (each * mask).sum(1) / mask.sum(1).clamp_min(1)

    opt = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
    has_val = bool(val.sum(1).min() > 0)
    best = torch.full((n_folds,), float("inf"), device=device)
    kept = [p.detach().clone() for p in params]
    for step in range(1, spec.steps + 1):
        opt.zero_grad()
        out = logits(xs)
        losses(out, train).sum().backward()  # folds share no weights: a sum trains each alone
        opt.step()
        if has_val and step % spec.eval_every and step != spec.steps:
            continue
        with torch.no_grad():
            now = losses(logits(xs), val) if has_val else torch.zeros(n_folds, device=device)
            better = now < best if has_val else torch.ones(n_folds, dtype=torch.bool,
                                                           device=device)
            best = torch.where(better, now, best)
            for saved, p in zip(kept, params):
                saved[better] = p[better]
    with torch.no_grad():
        for saved, p in zip(kept, params):
            p.copy_(saved)
        return logits(xs).argmax(-1).cpu().numpy()  # [folds, n]


def hits(labels, predicted) -> np.ndarray:
    """1.0 where the predicted class is the label, else 0.0 (per-item scores for starter.stats).

    >>> hits([0, 1, 2], [0, 2, 2]).tolist()
    [1.0, 0.0, 1.0]
    """
    return (np.asarray(labels) == np.asarray(predicted)).astype(float)


def token_window(ids: Sequence[Sequence[int]], positions: Sequence[Sequence[int]], window: int,
                 max_vocab: int = 512) -> np.ndarray:
    """One-hot features of the `window` tokens ending at each position: [n_points, window * V].

    `ids[i]` are the token ids of text i and `positions[i]` its positions (rows in that order, as
    `starter.activations.cache_resid` returns them). The `max_vocab - 1` commonest ids at those
    slots keep their own column; rarer ones share one "other" column; slots before the text's start
    are all zero.

    >>> token_window([[5, 6, 7]], [[1, 2]], window=2).tolist()  # columns: 5, 6, 7, other; twice
    [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]
    """
    slots = [[seq[p - j] if p - j >= 0 else -1 for j in range(window - 1, -1, -1)]
             for seq, pos in zip(ids, positions) for p in pos]  # [n_points, window]
    seen, counts = np.unique([t for row in slots for t in row if t >= 0], return_counts=True)
    keep = seen[np.argsort(-counts, kind="stable")][: max_vocab - 1]
    column = {int(t): c for c, t in enumerate(sorted(keep.tolist()))}
    width = len(column) + 1  # the last column: every rarer id
    out = np.zeros((len(slots), window * width), dtype=np.float32)
    for i, row in enumerate(slots):
        for j, token in enumerate(row):
            if token >= 0:
                out[i, j * width + column.get(token, width - 1)] = 1.0
    return out
