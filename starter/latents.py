"""The Neuronpedia latents a run shows beside its numbers: the question's concepts looked up for
the run's model (or the registry's reference SAE model), and the rows that record them.

>>> latent_rows([])
[]
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from starter.errors import StarterError
from starter.frame import Starter, StarterConfig

if TYPE_CHECKING:
    from starter.models import ModelSpec
    from starter.neuronpedia import SearchHit


def lookup_latents(starter: Starter, cfg: StarterConfig,
                   spec: ModelSpec) -> tuple[list[SearchHit], str]:
    """Neuronpedia explanations for the question's concepts: (hits, a provenance line for the
    summary). Unreachable online, the shipped sample fixtures stand in (and the line says so)."""
    from starter import neuronpedia
    from starter.models import reference_sae_model

    # Starters running a model without SAEs (the organism, SmolLM2, R1-Distill-Qwen) still show the
    # latents of the registry's reference SAE model, to look at once you move to it.
    target = spec if spec.neuronpedia_model_id else reference_sae_model()
    model_id = target.neuronpedia_model_id
    if model_id is None:  # reference_sae_model() picks a model with one: a registry bug
        raise StarterError(f"model {target.name!r} has no Neuronpedia model id to look up latents")
    layers = list(target.neuronpedia_sources[:1])
    client = neuronpedia.NeuronpediaClient(offline=cfg.offline or None)
    try:
        hits = neuronpedia.concept_latents(client, model_id, list(starter.concepts), layers=layers)
    except neuronpedia.NeuronpediaUnreachable as err:  # only then: a bad key is its own error
        if client.offline:
            raise
        print(f"neuronpedia unreachable ({err}); using the shipped sample fixtures instead",
              file=sys.stderr)
        client = neuronpedia.NeuronpediaClient(offline=True)
        hits = neuronpedia.concept_latents(client, model_id, list(starter.concepts), layers=layers)
    kinds = sorted({h.provenance.kind for h in hits}) if hits else ["none"]
    note = f"Neuronpedia latents for `{model_id}` ({', '.join(layers)}); data: {', '.join(kinds)}"
    if "sample" in kinds:
        note += (" (sample data in Neuronpedia's format, not fetched from Neuronpedia: run online "
                 "for real explanations)")
    return hits, note


def latent_rows(hits: list[SearchHit]) -> list[dict[str, Any]]:
    """One `kind: "latent"` row per hit, as results.jsonl records it (the summary lists them)."""
    return [
        {
            "unit": f"latent:{h.source}:{h.index}",
            "kind": "latent",
            "model_id": h.model_id,
            "source": h.source,
            "index": h.index,
            "description": h.description,
            "query": getattr(h, "query", None),
            "url": h.url,
            "provenance": h.provenance.kind,
        }
        for h in hits
    ]
