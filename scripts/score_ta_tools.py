"""Score the kit's Thought Anchors tools against Thought Anchors' own public chains.

    python scripts/score_ta_tools.py DATA_DIR [--json OUT]

DATA_DIR is a local copy of their data folder (`mi-starter data fetch thought-anchors`; the layout
<model>/<correct|incorrect>_base_solution/problem_<id>/). Prints, and writes with --json:

1. the chunker: `cot.split_steps(thinking, chunker="thought_anchors")` against their chunks on every
   chain (their `chunk` texts in chunks_labeled.json), as boundary precision/recall/F1 and the
   number of chains whose whole chunk list matches string for string
   (`cot.thought_anchors_chunks`). A boundary is where a chunk ends, counted in non-space
   characters from the start of the thinking, so the one space their splitter puts between
   merged pieces does not count as a difference. The kit's default chunker ("sentences") is
   scored the same way beside it. The text cut is what their splitter cut: the model's solution
   up to </think>.
2. the tagger: `cot.tag_steps(sentences, "thought_anchors")` on the held-out Llama-8B chains (the
   shipped weights saw only the Qwen-14B chains), given their sentences in order, against their main
   function tag. Agreement overall and per tag (recall: of the sentences they gave that tag, the
   share we give it too; and precision), with 95% intervals from a bootstrap over problems
   (`starter.stats.mean_ci`; 10 problems), beside the keyword rules ("thought_anchors_rules"),
   always the most common training tag, and, when scikit-learn is installed, a TF-IDF + logistic
   regression fitted on the Qwen chains; the learned tagger minus each of them, sentence by
   sentence (paired, same interval); then the confusion table of the learned tagger.

No chain text is printed or written: only counts and rates.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from starter import cot, stats
from starter.errors import UsageError
from starter.releases.thought_anchors import MODELS, Chain, read_chains

TRAIN_MODEL = "deepseek-r1-distill-qwen-14b"
HELD_OUT_MODEL = "deepseek-r1-distill-llama-8b"
REVISION = "68acc04a666716c58273ae70837d4b80bf3e1c69"  # interp-reasoning/thought-anchors.com
_SPACE = re.compile(r"\s")


def _ends(chunks: Sequence[str]) -> set[int]:
    """Where each chunk but the last ends, in non-space characters from the start."""
    ends, at = set(), 0
    for chunk in chunks[:-1]:
        at += len(_SPACE.sub("", chunk))
        ends.add(at)
    return ends


def score_chunker(chains: Sequence[Chain], chunker: str) -> dict:
    true_pos = false_pos = false_neg = exact = 0
    for chain in chains:
        thinking = chain.base.solution  # the thought_anchors chunker cuts before </think> itself
        if chunker != "thought_anchors":
            thinking = cot.split_completion(thinking)[0]
        ours = [s.text for s in cot.split_steps(thinking, chunker=chunker)]
        if chunker == "thought_anchors":
            exact += cot.thought_anchors_chunks(thinking) == [s.text for s in chain.sentences]
        else:
            exact += ours == [s.text for s in chain.sentences]
        mine, theirs = _ends(ours), _ends([s.text for s in chain.sentences])
        true_pos += len(mine & theirs)
        false_pos += len(mine - theirs)
        false_neg += len(theirs - mine)
    precision = true_pos / max(true_pos + false_pos, 1)
    recall = true_pos / max(true_pos + false_neg, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"chunker": chunker, "chains": len(chains),
            "sentences": sum(len(c.sentences) for c in chains), "boundary_precision": precision,
            "boundary_recall": recall, "boundary_f1": f1, "chains_exact": exact}


Tagger = Callable[[list[str]], list[str]]


def _gold(chain: Chain) -> list[tuple[str, str]]:
    return [(s.text, s.tag) for s in chain.sentences if s.tag in cot.TA_TAGS]


def _estimate(values: list[float], problems: list[str]) -> dict:
    est = stats.mean_ci(values, problems)
    return {"value": est.value, "ci": list(est.ci) if est.ci else None, "n_problems": est.n,
            "n_sentences": est.n_items}


def score_tagger(chains: Sequence[Chain], tagger: Tagger) -> dict:
    """Agreement overall and per tag, clustered by problem, and the confusion table."""
    gold, got, problems = [], [], []
    for chain in chains:
        pairs = _gold(chain)
        gold += [tag for _, tag in pairs]
        got += tagger([text for text, _ in pairs])
        problems += [chain.problem_id] * len(pairs)
    hit = [float(a == b) for a, b in zip(gold, got)]
    hits_by_problem = (hit, problems)
    per_tag = {}
    for tag in cot.TA_TAGS:
        recall = [(h, p) for h, g, p in zip(hit, gold, problems) if g == tag]
        precision = [(h, p) for h, o, p in zip(hit, got, problems) if o == tag]
        per_tag[tag] = {
            "n_gold": len(recall), "n_predicted": len(precision),
            "recall": _estimate([h for h, _ in recall], [p for _, p in recall]),
            "precision": _estimate([h for h, _ in precision], [p for _, p in precision]),
        }
    confusion = [[sum(1 for g, o in zip(gold, got) if g == a and o == b) for b in cot.TA_TAGS]
                 for a in cot.TA_TAGS]
    return {"agreement": _estimate(hit, problems), "per_tag": per_tag, "confusion": confusion,
            "skipped_untagged": sum(len(c.sentences) for c in chains) - len(gold),
            "hits": hits_by_problem[0], "problems": hits_by_problem[1]}


def tfidf_baseline(train: Sequence[Chain]) -> Tagger | None:
    """TF-IDF of words and word pairs + logistic regression on the training chains (sklearn)."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    pairs = [p for c in train for p in _gold(c)]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    model = LogisticRegression(max_iter=3000)
    model.fit(vectorizer.fit_transform([t for t, _ in pairs]), [g for _, g in pairs])
    return lambda texts: list(model.predict(vectorizer.transform(texts))) if texts else []


def _fmt(est: dict) -> str:
    ci = est["ci"]
    interval = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "[no interval]"
    return f"{est['value']:.3f} {interval}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="Thought Anchors' data folder")
    parser.add_argument("--json", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)
    found = read_chains(args.data_dir, models=MODELS)
    if found.skipped:
        print(f"skipped {len(found.skipped)} folders: "
              + "; ".join(f"{s.path} ({s.reason})" for s in found.skipped))
    train, held = found.by_model(TRAIN_MODEL), found.by_model(HELD_OUT_MODEL)
    if not train or not held:
        raise UsageError(f"{args.data_dir} needs both {TRAIN_MODEL} and {HELD_OUT_MODEL} chains; "
                         f"found {sorted({c.model for c in found.chains})}")
    report: dict = {"source": "github.com/interp-reasoning/thought-anchors.com src/app/data",
                    "revision": REVISION, "chains": len(found.chains),
                    "sentences": sum(len(c.sentences) for c in found.chains),
                    "problems": found.n_problems}
    print(f"Thought Anchors' chains: {report['chains']} chains, {report['sentences']} sentences, "
          f"{report['problems']} problems")

    print("\n1. Chunker against their chunks (all chains)")
    report["chunker"] = [score_chunker(found.chains, name) for name in cot.CHUNKERS]
    for row in report["chunker"]:
        print(f"  {row['chunker']:16s} boundary F1 {row['boundary_f1']:.4f} (precision "
              f"{row['boundary_precision']:.4f}, recall {row['boundary_recall']:.4f}); whole chunk "
              f"list identical on {row['chains_exact']}/{row['chains']} chains")

    majority = Counter(s.tag for c in train for s in c.sentences).most_common(1)[0][0]
    taggers: dict[str, Tagger | None] = {
        "learned (thought_anchors)": lambda texts: cot.tag_steps(texts, "thought_anchors"),
        "keyword rules (thought_anchors_rules)":
            lambda texts: cot.tag_steps(texts, "thought_anchors_rules"),
        f"always {majority}": lambda texts: [majority] * len(texts),
        "TF-IDF + logistic regression": tfidf_baseline(train),
    }
    n_held = sum(len(c.sentences) for c in held)
    print(f"\n2. Tagger on the held-out {HELD_OUT_MODEL} chains ({len(held)} chains, {n_held} "
          f"sentences, {len({c.problem_id for c in held})} problems; trained on {TRAIN_MODEL}); "
          "95% intervals by problem")
    report["tagger"] = {"held_out_model": HELD_OUT_MODEL, "train_model": TRAIN_MODEL,
                        "trained_on": cot.shipped_ta_tagger().trained_on, "methods": {}}
    for name, tagger in taggers.items():
        if tagger is None:
            print(f"  {name}: skipped (scikit-learn is not installed)")
            continue
        scored = score_tagger(held, tagger)
        report["tagger"]["methods"][name] = scored
        print(f"  {name:40s} agreement {_fmt(scored['agreement'])}")
    methods = report["tagger"]["methods"]
    learned = methods["learned (thought_anchors)"]
    print("\n  learned minus each other method, sentence by sentence (paired; 95% interval by "
          "problem)")
    report["tagger"]["learned_minus"] = {}
    for name, scored in methods.items():
        if scored is learned:
            continue
        diff = [a - b for a, b in zip(learned["hits"], scored["hits"])]
        est = _estimate(diff, learned["problems"])
        report["tagger"]["learned_minus"][name] = est
        ci = f"[{est['ci'][0]:+.3f}, {est['ci'][1]:+.3f}]" if est["ci"] else "[no interval]"
        print(f"  {name:40s} {est['value']:+.3f} {ci}")
    for scored in methods.values():  # per-sentence lists: not written
        del scored["hits"], scored["problems"]
    rules = report["tagger"]["methods"]["keyword rules (thought_anchors_rules)"]
    print("\n  per tag (their tag -> share we give it; precision; the rules' share)")
    for tag, row in learned["per_tag"].items():
        print(f"  {tag:24s} n={row['n_gold']:4d}  recall {_fmt(row['recall'])}  precision "
              f"{_fmt(row['precision'])}  rules {_fmt(rules['per_tag'][tag]['recall'])}")
    short = [t.split("_")[0][:7] for t in cot.TA_TAGS]
    print("\n  confusion of the learned tagger (rows: their tag; columns: ours)")
    print("  " + " " * 24 + " ".join(f"{s:>7s}" for s in short))
    for tag, row in zip(cot.TA_TAGS, learned["confusion"]):
        print(f"  {tag:24s}" + " ".join(f"{n:7d}" for n in row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
