"""`mi-starter neuronpedia feature|search`: look up SAE latents and their explanations.

    mi-starter neuronpedia feature deepseek-r1-distill-llama-8b 15-llamascope-slimpj-res-32k 4127
    mi-starter neuronpedia search deepseek-r1-distill-llama-8b "backtracking" \\
        --layers 15-llamascope-slimpj-res-32k
    add --offline to answer from the cache and the shipped sample fixtures, --refresh to skip the
    cache and ask Neuronpedia again, --json for machine-readable output

Imports `starter.neuronpedia` (requests, no torch) only when a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

MODEL_HELP = "Neuronpedia model id, e.g. deepseek-r1-distill-llama-8b"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="neuronpedia_command", metavar="{feature,search}",
                                required=True)

    feature = sub.add_parser("feature",
                             help="one latent: explanations, top logits, max activation, page URL")
    feature.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    feature.add_argument("source", metavar="SOURCE",
                         help="SAE source id, e.g. 15-llamascope-slimpj-res-32k")
    feature.add_argument("index", metavar="INDEX", type=int, help="latent index (an integer)")

    search = sub.add_parser("search", help="semantic search over explanations")
    search.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    search.add_argument("query", metavar="QUERY",
                        help="what the latent should be about (3+ characters), e.g. backtracking")
    search.add_argument("--layers", nargs="+", metavar="SOURCE",
                        help="restrict to these SAE source ids")
    search.add_argument("--limit", metavar="N", type=int, default=10,
                        help="most hits to show (default 10)")

    for command in (feature, search):
        command.add_argument("--json", action="store_true", help="print JSON instead of text")
        command.add_argument("--offline", action="store_true",
                             help="no network: answer from the cache, then the shipped sample "
                                  "fixtures")
        command.add_argument("--refresh", action="store_true",
                             help="ignore cached answers and ask Neuronpedia again (the cache is "
                                  "updated)")


def main(args: argparse.Namespace) -> int:
    from starter.errors import UsageError
    from starter.neuronpedia import NeuronpediaClient

    if args.offline and args.refresh:
        raise UsageError("--refresh and --offline exclude each other: --refresh asks Neuronpedia "
                         "again, --offline never asks it; drop one")
    client = NeuronpediaClient(offline=True if args.offline else None, refresh=args.refresh)
    if args.neuronpedia_command == "feature":
        feature = client.feature(args.model, args.source, args.index)
        if args.json:
            print(json.dumps(dataclasses.asdict(feature), indent=2))
        else:
            print(_feature_text(feature))
        return 0
    if args.limit < 1:
        raise UsageError(f"--limit {args.limit} is not allowed; give a positive number of hits")
    hits = client.search_explanations(args.model, args.query, layers=args.layers, limit=args.limit)
    if args.json:
        print(json.dumps([dataclasses.asdict(h) for h in hits], indent=2))
    else:
        print(_search_text(args, hits))
    return 0


def _feature_text(feature) -> str:
    lines = [f"{feature.model_id} / {feature.source} / {feature.index}", "explanations:"]
    for e in feature.explanations or []:
        score = f"{e.score:.2f}" if e.score is not None else "n/a"
        explainer = e.explainer_model or "unknown"
        lines.append(f"  - {e.description}  (explainer: {explainer}, score: {score})")
    if not feature.explanations:
        lines.append("  (none yet)")
    logits = ", ".join(f"{t!r} {v:+.2f}" for t, v in zip(feature.pos_str[:8], feature.pos_values))
    lines.append(f"top positive logits: {logits or '(none)'}")
    top = feature.activations[0] if feature.activations else None
    max_act = feature.max_act_approx
    if max_act is None and top is not None:
        max_act = top.max_value
    lines.append(f"max activation: {max_act if max_act is not None else 'n/a'}")
    if top:
        lines.append(f"top example: {top.snippet()!r}")
    lines += [f"page: {feature.url}", f"provenance: {feature.provenance.describe()}"]
    return "\n".join(lines)


def _search_text(args: argparse.Namespace, hits) -> str:
    where = ", ".join(args.layers) if args.layers else "all sources"
    lines = [f"search {args.query!r} on {args.model} ({where}): {len(hits)} hit(s)"]
    for h in hits:
        similarity = f"{h.cosine_similarity:.2f}" if h.cosine_similarity is not None else " n/a"
        lines.append(f"  {h.source}/{h.index}  sim {similarity}  {h.description}")
        lines.append(f"      {h.url}")
    for line in dict.fromkeys(h.provenance.describe() for h in hits):  # unique, in order
        lines.append(f"provenance: {line}")
    return "\n".join(lines)
