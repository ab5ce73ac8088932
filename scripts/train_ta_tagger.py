"""Train the learned Thought Anchors tagger (`cot.tag_steps(..., scheme="thought_anchors")`).

Reads Thought Anchors' public chains from a local copy (`mi-starter data fetch thought-anchors`, or
any folder in their layout), trains ONLY on the DeepSeek-R1-Distill-Qwen-14B chains (the Llama-8B
chains stay held out for scripts/score_ta_tools.py), and writes the weights, our own, to
starter/data/ta_tagger.json (float16, well under 1 MB). No chain text is written: only feature names
(lower-cased words, word pairs and the first words of a sentence) and their weights.

    python scripts/train_ta_tagger.py /work/data/ta                   # ~2 minutes on 2 cores
    python scripts/train_ta_tagger.py /work/data/ta --select          # + grouped CV, ~15 min
    python scripts/train_ta_tagger.py tests/fixtures/thought_anchors --out /tmp/t.json --model all

The model (see the comment above `cot.TA_TAGGER_FILE`): one multinomial logistic regression on
binary features of each sentence in its chain (`cot.ta_features`). Hyper-parameters were chosen
by cross-validation inside the Qwen chains only
(`--select`: folds by outcome, i.e. a chain's problem is seen but the chain is not, as for the
held-out Llama chains; and folds by problem, which is harder); never on the Llama chains.
scikit-learn is needed here, not at run time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from starter import cot
from starter.errors import UsageError
from starter.releases.thought_anchors import UNTAGGED, Chain, read_chains

TRAIN_MODEL = "deepseek-r1-distill-qwen-14b"  # the only chains the weights see
OUT = Path(__file__).resolve().parents[1] / "starter" / "data" / cot.TA_TAGGER_FILE


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How the tagger is fitted (the defaults are what --select chose on the Qwen chains)."""

    features: cot.TaTaggerConfig = cot.TaTaggerConfig()  # what the tagger reads
    c: float = 3.0  # inverse L2 penalty of the logistic regression (sklearn's C)
    min_count: int = 2  # a feature is kept when this many training sentences have it


def _labelled(chains: Sequence[Chain]) -> list[tuple[list[str], list[int]]]:
    """(texts, tag indices) per chain; sentences without a Thought Anchors tag are dropped."""
    index = {tag: i for i, tag in enumerate(cot.TA_TAGS)}
    out = []
    for chain in chains:
        kept = [s for s in chain.sentences if s.tag != UNTAGGED and s.tag in index]
        out.append(([s.text for s in kept], [index[s.tag] for s in kept]))
    return out


def _sparse(features: list[list[str]], vocabulary: dict[str, int]):
    """Binary features, each row scaled to unit length (as TaTagger.word_log_probs reads them)."""
    from scipy import sparse

    rows, cols, vals = [], [], []
    for r, names in enumerate(features):
        found = sorted({vocabulary[f] for f in names if f in vocabulary})
        rows += [r] * len(found)
        cols += found
        vals += [1 / np.sqrt(len(found))] * len(found)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(features), len(vocabulary)))


def _full_columns(model, n_tags: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's (coef, intercept) with a column for every tag (absent tags never win)."""
    weights = np.zeros((model.coef_.shape[1], n_tags))
    bias = np.full(n_tags, -30.0)
    classes = list(model.classes_)
    if len(classes) == 2:  # sklearn keeps one row for two classes: the second one's log-odds
        weights[:, classes[1]] = model.coef_[0]
        bias[classes[0]], bias[classes[1]] = 0.0, model.intercept_[0]
    else:
        for row, tag in enumerate(classes):
            weights[:, tag], bias[tag] = model.coef_[row], model.intercept_[row]
    return weights, bias


def fit(chains: Sequence[Chain], config: TrainConfig, trained_on: str = "") -> cot.TaTagger:
    """The tagger fitted on `chains` (their sentences with a Thought Anchors tag)."""
    from sklearn.linear_model import LogisticRegression

    data = _labelled(chains)
    features = [f for texts, _ in data for f in cot.ta_features(texts, config.features)]
    tags = np.array([t for _, ys in data for t in ys])
    counts = Counter(f for names in features for f in set(names))
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in counts.items()
                                                    if n >= config.min_count))}
    if len(set(tags.tolist())) < 2:
        raise UsageError(f"training needs at least 2 different tags; got {sorted(set(tags))}")
    model = LogisticRegression(C=config.c, max_iter=3000)
    model.fit(_sparse(features, vocabulary), tags)
    weights, bias = _full_columns(model, len(cot.TA_TAGS))
    return cot.TaTagger(cot.TA_TAGS, config.features, vocabulary, weights.astype(np.float32),
                        bias.astype(np.float32), trained_on)


def agreement(tagger: cot.TaTagger, chains: Sequence[Chain]) -> tuple[int, int]:
    """(sentences tagged as Thought Anchors did, sentences) over `chains`."""
    hits = n = 0
    for texts, ys in _labelled(chains):
        got = tagger.tag(texts)
        hits += sum(cot.TA_TAGS.index(g) == y for g, y in zip(got, ys))
        n += len(ys)
    return hits, n


def cross_validate(chains: Sequence[Chain], config: TrainConfig, by: str) -> float:
    """Pooled agreement over folds of `chains`: by "outcome" (correct vs incorrect chains) or by
    "problem" (5 folds of problems)."""
    if by == "outcome":
        folds = [[c for c in chains if c.base_correct], [c for c in chains if not c.base_correct]]
    else:
        problems = sorted({c.problem_id for c in chains})
        folds = [[c for c in chains if c.problem_id in problems[k::5]] for k in range(5)]
    hits = n = 0
    for held in folds:
        tagger = fit([c for c in chains if c not in held], config)
        h, m = agreement(tagger, held)
        hits, n = hits + h, n + m
    return hits / n


# What --select compares. The mean of the two CV agreements picks the shipped config (the rule was
# fixed before the grid ran); on the 20 Qwen chains (2,885 sentences), 2026-12-07:
#   neighbour words  character n-grams  C    CV by outcome  CV by problem  mean
#   no               no                 10   0.6392         0.5924         0.6158
#   yes              no                 10   0.6461         0.5924         0.6193
#   no               no                 3    0.6447         0.5948         0.6198
#   yes              no                 3    0.6454         0.6017         0.6236
#   yes              no                 1    0.6322         0.5955         0.6139
#   yes              3, 4, 5            3    0.6600         0.6101         0.6350   <- shipped
_WORDS_ONLY = cot.TaTaggerConfig(char_ngrams=(), neighbour_words=False)
_NEIGHBOURS = cot.TaTaggerConfig(char_ngrams=())
GRID = [
    TrainConfig(features=_WORDS_ONLY, c=10.0),
    TrainConfig(features=_NEIGHBOURS, c=10.0),
    TrainConfig(features=_WORDS_ONLY, c=3.0),
    TrainConfig(features=_NEIGHBOURS, c=3.0),
    TrainConfig(features=_NEIGHBOURS, c=1.0),
    TrainConfig(),  # the defaults: shipped
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="Thought Anchors' data folder (<model>/<outcome>/...)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument("--model", default=TRAIN_MODEL,
                        help=f"train on this model's chains ('all': every chain; default "
                             f"{TRAIN_MODEL})")
    parser.add_argument("--select", action="store_true",
                        help="first print grouped-CV agreement of every config of GRID")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise UsageError("training needs scikit-learn (pip install scikit-learn); running the "
                         "tagger does not") from None
    found = read_chains(args.data_dir)
    chains = found.chains if args.model == "all" else found.by_model(args.model)
    if not chains:
        models = sorted({c.model for c in found.chains})
        raise UsageError(f"no chains of model {args.model!r} in {args.data_dir}; found {models}")
    if args.select:
        for config in GRID:
            start = time.time()
            scores = {by: cross_validate(chains, config, by) for by in ("outcome", "problem")}
            print(f"{config}: CV by outcome {scores['outcome']:.4f}, by problem "
                  f"{scores['problem']:.4f} ({time.time() - start:.0f} s)", flush=True)
    n_sentences = sum(len(c.sentences) for c in chains)
    trained_on = (f"Thought Anchors' public chains, {args.model}: {len(chains)} chains, "
                  f"{n_sentences} sentences, {len({c.problem_id for c in chains})} problems; "
                  f"GPT-4o function_tags (main tag) as labels")
    tagger = fit(chains, TrainConfig(), trained_on)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(tagger.to_json(), separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    hits, n = agreement(tagger, chains)
    print(f"wrote {args.out} ({len(text) / 1e6:.2f} MB, {len(tagger.vocabulary)} features); "
          f"agreement on its own training chains {hits}/{n} = {hits / n:.3f} (not a test score: "
          f"see scripts/score_ta_tools.py)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
