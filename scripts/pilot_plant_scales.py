"""The pilot that chose the weak planted-feature scales (starter/organism/planted.py FEATURES).

    python scripts/pilot_plant_scales.py          # about 2 min on one core (2026-12-07)

For each plant kind and each scale on a grid, the base's residual after layer 2 (where the hook
writes) plus the plant added exactly as the hook adds it (length = scale x the base's reference
norm; planted.install's doctest pins the hook to this), then a probe held out by problem:
- linear and xor: the step ends of 80 organism traces (make_traces seed 1, test split; the
  linear-representation validation reads seed 0), 5 folds, 120 AdamW steps, the linear probe and
  the 32-wide MLP (the cpu preset's probes);
- sparse: every token after " <think>" of 200 traces (seed 1, train split), classes balanced,
  2 folds (half the problems held out, as sae-vs-probes), a dense linear probe.
Per kind, "mid" is the grid scale whose accuracy is nearest 0.80 and "faint" the one nearest
0.60, with the probe that can read the kind (linear for linear and sparse, the MLP for xor).
The validations' own runs were not looked at when choosing.
"""

from __future__ import annotations

import numpy as np

from starter import activations
from starter.models import load_model
from starter.organism import planted as P
from starter.organism.data import make_traces
from starter.probes import ProbeSpec, hits, predict_held_out

STEP_SCALES = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.12, 0.25)
SPARSE_SCALES = (0.005, 0.01, 0.015, 0.02, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5)


def accuracy(x: np.ndarray, y: np.ndarray, groups, hidden: int, steps: int, folds: int) -> float:
    predicted = predict_held_out(x, y, groups, ProbeSpec(hidden=hidden, steps=steps), folds, 0)
    return float(hits(y, predicted).mean())


def nearest(table: dict[float, float], target: float) -> float:
    """The scale whose accuracy is nearest `target`.

    >>> nearest({0.01: 0.82, 0.02: 0.97}, 0.8)
    0.01
    """
    return min(table, key=lambda s: abs(table[s] - target))


def step_pilot(lm, reference: float) -> None:
    linear, xor = P.get_feature("linear"), P.get_feature("xor")
    texts, positions, groups = [], [], []
    coef: dict[str, list[np.ndarray]] = {"linear": [], "xor": []}  # per step, (u, v) coefficients
    y: dict[str, list[int]] = {"linear": [], "xor": []}  # per step, the plant's label
    for i, trace in enumerate(make_traces(80, seed=1, split="test")):
        _, ends = activations.step_end_positions(lm, trace.prompt, trace.completion)
        ids = activations.encode_one(lm, trace.prompt + trace.completion)
        texts.append(trace.prompt + trace.completion)
        positions.append(ends)
        groups += [i] * len(ends)
        for feature in (linear, xor):
            coef[feature.kind] += [P.coefficients(feature, ids)[e] for e in ends]
            y[feature.kind] += [int(P.labels(feature, ids)[e]) for e in ends]
    x = activations.cache_resid(lm, texts, positions, [2])[2].numpy()
    print(f"steps {len(x)}, problems {len(texts)}")
    read: dict[str, dict[float, float]] = {"linear": {}, "xor": {}}  # kind -> scale -> accuracy of the probe that can read it
    for scale in STEP_SCALES:
        shown = []
        for feature, hidden in ((linear, 0), (xor, 32)):
            uv = P.directions(feature, lm.d_model)
            planted = x + scale * reference * (np.array(coef[feature.kind]) @ uv)
            labels = np.array(y[feature.kind])
            lin = accuracy(planted, labels, groups, 0, 120, 5)
            mlp = accuracy(planted, labels, groups, 32, 120, 5)
            read[feature.kind][scale] = mlp if hidden else lin
            shown.append(f"{feature.kind} plant: linear {lin:.3f}, mlp-32 {mlp:.3f}")
        print(f"scale {scale}: " + "; ".join(shown), flush=True)
    for kind, table in read.items():
        print(f"{kind}: mid {nearest(table, 0.8)}, faint {nearest(table, 0.6)}")


def sparse_pilot(lm, reference: float) -> None:
    sparse = P.get_feature("sparse")
    texts, positions, y, groups = [], [], [], []
    for i, trace in enumerate(make_traces(200, seed=1, split="train")):
        ids = activations.encode_one(lm, trace.prompt + trace.completion)
        start = ids.index(P.think_id()) + 1
        labels = P.labels(sparse, ids)
        texts.append(trace.prompt + trace.completion)
        positions.append(list(range(start, len(ids))))
        y += [int(labels[t]) for t in positions[-1]]
        groups += [i] * len(positions[-1])
    x = activations.cache_resid(lm, texts, positions, [2])[2].numpy()
    y_all, groups_all = np.array(y), np.array(groups)
    ones = np.flatnonzero(y_all == 1)
    zeros = np.random.default_rng(0).choice(np.flatnonzero(y_all == 0), len(ones), False)
    keep = np.sort(np.concatenate([ones, zeros]))
    u = P.directions(sparse, lm.d_model)[0]
    print(f"sparse: {len(keep)} balanced tokens")
    table = {}
    for scale in SPARSE_SCALES:
        planted = x[keep] + scale * reference * np.outer(y_all[keep], u)
        table[scale] = accuracy(planted, y_all[keep], groups_all[keep], 0, 300, 2)
        print(f"sparse scale {scale}: dense linear {table[scale]:.3f}", flush=True)
    print(f"sparse: mid {nearest(table, 0.8)}, faint {nearest(table, 0.6)}")


def main() -> None:
    lm = load_model("tinythinker")
    reference = P.reference_norm(lm, 2)
    print(f"reference norm after layer 2: {reference:.2f}")
    step_pilot(lm, reference)
    sparse_pilot(lm, reference)


if __name__ == "__main__":
    main()
