"""Look up SAE latents on Neuronpedia: typed results, retries, an on-disk cache and offline fixtures.

Plain `requests`, no torch, so `mi-starter neuronpedia ...` starts instantly. Three places answer:
Neuronpedia itself (`NEURONPEDIA_API_URL`, default https://www.neuronpedia.org/api), the local cache
(`$MI_STARTER_CACHE/neuronpedia`, 7-day TTL) and, offline only, the fixtures shipped in
`starter/data/neuronpedia/`. Every result carries a `Provenance` saying which one it came from;
shipped fixtures are SAMPLE data in the API's shape, never real explanations.

>>> import tempfile
>>> client = NeuronpediaClient(offline=True, cache_dir=tempfile.mkdtemp())
>>> feature = client.feature("deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k", 4127)
>>> feature.provenance.kind, feature.explanations[0].description.startswith("[sample]")
('sample', True)
>>> feature.url
'https://www.neuronpedia.org/deepseek-r1-distill-llama-8b/15-llamascope-slimpj-res-32k/4127'
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from starter.errors import StarterError, UsageError

DEFAULT_API_URL = "https://www.neuronpedia.org/api"
PAGE_URL = "https://www.neuronpedia.org"
DEFAULT_TTL_S = 7 * 24 * 3600
CONNECT_RETRIES = 2  # a refused connection or failed DNS lookup rarely heals in seconds: fail fast
FIXTURE_DIR = Path(__file__).parent / "data" / "neuronpedia"


@dataclass(frozen=True)
class Provenance:
    """Where a result came from. kind: live | cached | sample | recorded."""

    kind: str
    note: str = ""
    date: str | None = None  # when the response was fetched or the sample written
    source: str = ""  # URL or fixture file name

    def describe(self) -> str:
        """One line for humans; the CLI prints it under every answer."""
        if self.kind == "sample":
            return f"sample data in Neuronpedia's format, not fetched from Neuronpedia ({self.source})"
        if self.kind == "recorded":
            return f"recorded Neuronpedia response from {self.date} ({self.source}): {self.note}"
        if self.kind == "cached":
            return f"from the local cache; fetched from Neuronpedia on {self.date} ({self.source})"
        return f"fetched from Neuronpedia on {self.date} ({self.source})"


@dataclass
class Explanation:
    description: str
    type_name: str | None = None
    explainer_model: str | None = None
    score: float | None = None  # first score Neuronpedia lists, if any
    score_type: str | None = None


@dataclass
class ActivationRecord:
    tokens: list[str]
    values: list[float]
    max_value: float
    max_value_token_index: int

    def snippet(self, window: int = 6) -> str:
        """The text around the strongest token, which is wrapped in [[ ]]."""
        i = self.max_value_token_index
        left = "".join(self.tokens[max(0, i - window):i])
        right = "".join(self.tokens[i + 1:i + 1 + window])
        return f"{left}[[{self.tokens[i]}]]{right}" if 0 <= i < len(self.tokens) else "".join(self.tokens)


@dataclass
class Feature:
    """One SAE latent as `GET /feature/{model}/{source}/{index}` describes it."""

    model_id: str
    source: str
    index: int
    explanations: list[Explanation]
    activations: list[ActivationRecord]
    pos_str: list[str]
    pos_values: list[float]
    neg_str: list[str]
    neg_values: list[float]
    frac_nonzero: float | None
    max_act_approx: float | None
    url: str
    provenance: Provenance


@dataclass
class SearchHit:
    """One row of an explanation search: a latent whose explanation matches the query."""

    model_id: str
    source: str
    index: int
    description: str
    explainer_model: str | None
    type_name: str | None
    cosine_similarity: float | None
    url: str
    provenance: Provenance
    query: str = ""  # the search that found it


@dataclass
class TextFeatureHit:
    """One latent that fires on a text (`POST /search-all`), with the token it peaks on."""

    model_id: str
    source: str
    index: int
    max_value: float
    token: str
    description: str
    url: str
    provenance: Provenance


def page_url(model_id: str, source: str, index: int) -> str:
    """The feature's page on Neuronpedia.

    >>> page_url("gpt2-small", "6-res-jb", 7)
    'https://www.neuronpedia.org/gpt2-small/6-res-jb/7'
    """
    return f"{PAGE_URL}/{model_id}/{source}/{index}"


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values or []]


def _explanation(row: dict) -> Explanation:
    scores = [s for s in row.get("scores") or [] if isinstance(s, dict) and "value" in s]
    return Explanation(
        description=str(row.get("description") or ""),
        type_name=row.get("typeName"),
        explainer_model=row.get("explanationModelName"),
        score=float(scores[0]["value"]) if scores else None,
        score_type=scores[0].get("explanationScoreTypeName") if scores else None,
    )


def _activation(row: dict) -> ActivationRecord:
    values = _floats(row.get("values"))
    return ActivationRecord(
        tokens=[str(t) for t in row.get("tokens") or []],
        values=values,
        max_value=float(row.get("maxValue", max(values, default=0.0))),
        max_value_token_index=int(row.get("maxValueTokenIndex", values.index(max(values)) if values else 0)),
    )


def parse_feature(body: dict, provenance: Provenance) -> Feature:
    """Build a `Feature` from a `GET /feature/...` body; unknown keys are ignored."""
    model_id, source, index = body["modelId"], body["layer"], int(body["index"])
    return Feature(
        model_id=model_id, source=source, index=index,
        explanations=[_explanation(e) for e in body.get("explanations") or []],
        activations=[_activation(a) for a in body.get("activations") or []],
        pos_str=list(body.get("pos_str") or []), pos_values=_floats(body.get("pos_values")),
        neg_str=list(body.get("neg_str") or []), neg_values=_floats(body.get("neg_values")),
        frac_nonzero=body.get("frac_nonzero"), max_act_approx=body.get("maxActApprox"),
        url=page_url(model_id, source, index), provenance=provenance,
    )


def parse_search_hit(row: dict, provenance: Provenance, query: str = "") -> SearchHit:
    """Build a `SearchHit` from one `results` row; fields may sit on the row or its nested neuron."""
    nested = row.get("neuron") or row.get("feature") or {}
    model_id = row.get("modelId") or nested["modelId"]
    source = row.get("layer") or row.get("source") or nested["layer"]
    index = int(row.get("index", nested.get("index")))
    explanations = nested.get("explanations") or [{}]
    similarity = row.get("cosine_similarity")
    return SearchHit(
        model_id=model_id, source=source, index=index,
        description=str(row.get("description") or explanations[0].get("description") or ""),
        explainer_model=row.get("explanationModelName"), type_name=row.get("typeName"),
        cosine_similarity=float(similarity) if similarity is not None else None,
        url=page_url(model_id, source, index), provenance=provenance, query=query,
    )


class _Cache:
    """JSON files named by a SHA-256 of the request, so no key can point outside `root`."""

    def __init__(self, root: Path, ttl_s: float):
        self.root, self.ttl_s = root, ttl_s

    def path(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str, *, ignore_ttl: bool = False) -> dict | None:
        """The stored entry, or None on a miss; expired or corrupt entries count as misses."""
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            fetched_at = float(entry["fetched_at"])
            entry["body"]  # noqa: B018 -- a missing body means a corrupt entry
        except OSError:  # missing or unreadable: a miss (an unwritable cache is reported by `put`)
            return None
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # corrupt (half-written, edited): drop it and refetch
            return None
        fresh = time.time() - fetched_at < self.ttl_s
        return entry if (fresh or ignore_ttl) else None

    def put(self, key: str, url: str, body: Any) -> None:
        entry = {"url": url, "fetched_at": time.time(), "body": body}  # never the API key
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out)
            os.replace(tmp, self.path(key))  # atomic: readers see the old entry or the new one
        except OSError as err:
            raise StarterError(f"cannot write the Neuronpedia cache in {self.root} ({err}); "
                               "set MI_STARTER_CACHE to a writable folder") from None


class _Fixtures:
    """The shipped responses, indexed by what they answer (read from the bodies, not the file names)."""

    def __init__(self, root: Path = FIXTURE_DIR):
        self.features: dict[tuple[str, str, int], tuple[dict, Provenance]] = {}
        self.searches: dict[tuple[str, str], tuple[dict, Provenance]] = {}
        for path in sorted(root.glob("*.json")):
            body = json.loads(path.read_text(encoding="utf-8"))
            meta = body.get("_provenance", {})
            prov = Provenance(meta.get("kind", "sample"), meta.get("note", ""), meta.get("date"), path.name)
            if "request" in body:
                request = body["request"]
                self.searches[(request["modelId"], _norm(request["query"]))] = (body, prov)
            else:
                self.features[(body["modelId"], body["layer"], int(body["index"]))] = (body, prov)

    def listing(self) -> str:
        features: dict[str, list[str]] = {}
        for model, source, index in sorted(self.features):
            features.setdefault(f"{model}/{source}", []).append(str(index))
        searches: dict[str, list[str]] = {}
        for model, query in sorted(self.searches):
            searches.setdefault(model, []).append(repr(query))
        return ("shipped features: " + (" ".join(f"{k}/{{{','.join(v)}}}" for k, v in features.items()) or "none")
                + "; shipped searches: " + ("; ".join(f"{k}: {', '.join(v)}" for k, v in searches.items()) or "none"))


def _norm(query: str) -> str:
    return " ".join(query.lower().split())


def default_cache_dir() -> Path:
    return Path(os.environ.get("MI_STARTER_CACHE") or Path.home() / ".cache" / "mi-starter") / "neuronpedia"


class NeuronpediaClient:
    """Reads features and explanation searches from Neuronpedia, through a cache.

    Retries 429/5xx/timeouts with exponential backoff and jitter (honouring Retry-After), never
    waiting more than `max_total_wait` seconds in all, then raises StarterError. Connection errors
    are retried only CONNECT_RETRIES times, so a machine without network learns it in seconds.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | Path | None = None, offline: bool | None = None, timeout: float = 10,
                 max_retries: int = 5, max_total_wait: float = 60, backoff_base: float = 1.0,
                 ttl_s: float = DEFAULT_TTL_S):
        self.base_url = (base_url or os.environ.get("NEURONPEDIA_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._api_key = api_key or os.environ.get("NEURONPEDIA_API_KEY") or None
        env_offline = os.environ.get("NEURONPEDIA_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
        self.offline = env_offline if offline is None else offline
        self.timeout, self.max_retries, self.max_total_wait = timeout, max_retries, max_total_wait
        self.backoff_base = backoff_base
        self.cache = _Cache(Path(cache_dir) if cache_dir else default_cache_dir(), ttl_s)
        self._session: requests.Session | None = None

    def __repr__(self) -> str:  # the key itself never appears, only whether one is set
        key = "set" if self._api_key else "unset"
        return (f"NeuronpediaClient(base_url={self.base_url!r}, offline={self.offline}, "
                f"cache_dir='{self.cache.root}', api_key={key})")

    # --- public API -------------------------------------------------------------------------

    def feature(self, model_id: str, source: str, index: int) -> Feature:
        """One feature with its explanations, top activations and logits."""
        label = f"{model_id}/{source}/{index}"
        path = "/feature/" + "/".join(quote(str(p), safe="") for p in (model_id, source, index))
        fixture = lambda f: f.features.get((model_id, source, int(index)))  # noqa: E731
        body, prov = self._get_json("GET", path, None, f"feature {label}", fixture, f"feature not found: {label}")
        if not isinstance(body, dict) or "modelId" not in body:  # the API has answered `null` with 200
            raise StarterError(f"feature not found: {label} (Neuronpedia returned no feature)")
        return _parsed(lambda: parse_feature(body, prov), prov)

    def features(self, model_id: str, source: str, indices: list[int]) -> list[Feature]:
        """Several features of one source, in the order asked (each cached on its own)."""
        return [self.feature(model_id, source, i) for i in indices]

    def search_explanations(self, model_id: str, query: str, layers: list[str] | None = None,
                            limit: int | None = None) -> list[SearchHit]:
        """Semantic search over explanations, best first, following `nextOffset` up to `limit` hits.

        `layers` are source ids (e.g. "15-llamascope-slimpj-res-32k"); None searches the whole model.
        """
        if len(query.strip()) < 3:
            raise UsageError(f"search query {query!r} is too short; Neuronpedia needs at least 3 characters")
        path = "/explanation/search" if layers else "/explanation/search-model"
        fixture = lambda f: f.searches.get((model_id, _norm(query)))  # noqa: E731
        hits: list[SearchHit] = []
        offset: int | None = 0
        while offset is not None and (limit is None or len(hits) < limit):
            payload = {"modelId": model_id, "query": query, "offset": offset}
            if layers:
                payload["layers"] = list(layers)
            body, prov = self._get_json("POST", path, payload, f"search {query!r} on {model_id}", fixture,
                                        f"model or source not found: {model_id} {layers or ''}".rstrip())
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise StarterError(f"unexpected search response from {self.base_url}{path}: no 'results' list")
            page = _parsed(lambda: [parse_search_hit(r, prov, query) for r in body["results"]], prov)
            hits += [h for h in page if not layers or h.source in layers]  # fixtures span several sources
            offset = body.get("nextOffset") if body.get("hasMore") and body["results"] else None
        return hits[:limit] if limit is not None else hits

    def top_features_for_text(self, model_id: str, source_set: str, text: str,
                              layers: list[str] | None = None, num_results: int = 20) -> list[TextFeatureHit]:
        """The latents of one SAE set that fire most on `text` (runs the model on Neuronpedia's servers).

        `source_set` is a source id without its layer (e.g. "llamascope-slimpj-res-32k"). Only works
        for models Neuronpedia hosts inference for; no fixtures ship for it, so offline it needs a cache.
        """
        if not 1 <= num_results <= 100:
            raise UsageError(f"num_results={num_results} is out of range; Neuronpedia allows 1 to 100")
        payload = {"modelId": model_id, "sourceSet": source_set, "text": text, "selectedLayers": layers or [],
                   "sortIndexes": [], "ignoreBos": True, "densityThreshold": -1, "numResults": num_results}
        body, prov = self._get_json("POST", "/search-all", payload, f"top features for a text on {model_id}",
                                    lambda f: None, f"model or SAE set not found: {model_id}/{source_set}")
        return _parsed(lambda: [_text_hit(row, body.get("tokens") or [], prov) for row in body["result"]], prov)

    def shipped_fixtures(self) -> str:
        """What offline mode can answer without a cache, as one line."""
        return self._fixtures.listing()

    # --- plumbing ---------------------------------------------------------------------------

    @cached_property
    def _fixtures(self) -> _Fixtures:  # read on first offline miss only
        return _Fixtures()

    def _get_json(self, method: str, path: str, payload: dict | None, label: str, fixture,
                  not_found: str) -> tuple[Any, Provenance]:
        """(body, provenance) from the cache, else offline fixtures or the network; `label` names it in errors."""
        url = self.base_url + path
        key = f"{method} {url} {json.dumps(payload, sort_keys=True)}"
        entry = self.cache.get(key, ignore_ttl=self.offline)
        if entry is not None:
            date = datetime.fromtimestamp(entry["fetched_at"], timezone.utc).isoformat(timespec="seconds")
            return entry["body"], Provenance("cached", "", date, url)
        if self.offline:
            found = fixture(self._fixtures)
            if found is None:
                raise StarterError(f"{label} is not available offline (no cache entry, no shipped fixture); "
                                   f"{self._fixtures.listing()}")
            return found
        body = self._fetch(method, url, payload, not_found)
        self.cache.put(key, url, body)
        return body, Provenance("live", "", datetime.now(timezone.utc).isoformat(timespec="seconds"), url)

    def _fetch(self, method: str, url: str, payload: dict | None, not_found: str) -> Any:
        if self._session is None:
            self._session = requests.Session()
        headers = {"User-Agent": "mi-starter", **({"x-api-key": self._api_key} if self._api_key else {})}
        waited, problem, connect_failures = 0.0, "", 0
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._session.request(method, url, json=payload, headers=headers, timeout=self.timeout)
            except requests.Timeout:
                problem = f"timed out after {self.timeout:g} s"
            except requests.ConnectionError as err:
                problem = f"could not connect ({type(err).__name__})"
                connect_failures += 1
            except requests.RequestException as err:  # a malformed URL and the like: retrying cannot help
                raise StarterError(f"cannot request {url!r} ({type(err).__name__}: {err}); "
                                   "check NEURONPEDIA_API_URL") from None
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return self._decode(response, url, not_found)
                problem = f"HTTP {response.status_code}: {_excerpt(response.text)}"
                retry_after = _retry_after(response)
                if retry_after is not None:
                    problem += f" (Retry-After: {retry_after:g} s)"
            if attempt == self.max_retries or connect_failures > CONNECT_RETRIES:
                break
            delay = retry_after if retry_after is not None else self.backoff_base * 2**attempt * random.uniform(0.5, 1.0)
            if waited + delay > self.max_total_wait:
                break
            time.sleep(delay)
            waited += delay
        hint = ("Neuronpedia's rate limit is per IP per hour; wait, set NEURONPEDIA_API_KEY, or use --offline"
                if problem.startswith("HTTP 429") else "check your network, or use --offline for cached/shipped data")
        raise StarterError(f"Neuronpedia request failed for {url} after {attempt + 1} tries "
                           f"({waited:.1f} s of backoff): {problem}; {hint}")

    @staticmethod
    def _decode(response: requests.Response, url: str, not_found: str) -> Any:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:  # plain text, HTML or truncated JSON
            if status == 404:
                raise StarterError(f"{not_found} (HTTP 404 from {url})") from None
            raise StarterError(f"Neuronpedia returned a body that is not valid JSON (HTTP {status}) from {url}: "
                               f"{_excerpt(response.text)}") from None
        if status == 404:
            raise StarterError(f"{not_found} (HTTP 404 from {url})")
        if status >= 400:
            message = (body.get("error") or body.get("message")) if isinstance(body, dict) else body
            raise StarterError(f"Neuronpedia refused the request (HTTP {status}) at {url}: {message}")
        return body


def _text_hit(row: dict, tokens: list[str], prov: Provenance) -> TextFeatureHit:
    peak, index = int(row.get("maxValueIndex", 0)), int(row["index"])
    explanations = (row.get("neuron") or {}).get("explanations") or [{}]
    return TextFeatureHit(
        model_id=row["modelId"], source=row["layer"], index=index, max_value=float(row.get("maxValue", 0.0)),
        token=tokens[peak] if peak < len(tokens) else "", description=str(explanations[0].get("description") or ""),
        url=page_url(row["modelId"], row["layer"], index), provenance=prov)


def _parsed(parse, prov: Provenance):
    """Run a parser; a body of the wrong shape becomes a StarterError naming where it came from."""
    try:
        return parse()
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise StarterError(f"unexpected response shape from {prov.source} ({prov.kind}): "
                           f"{type(err).__name__}: {err}") from None


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:  # absent, or an HTTP date, which Neuronpedia does not send: use our backoff
        return None


def concept_latents(client: NeuronpediaClient, model_id: str, concepts: list[str], layers: list[str] | None,
                    per_concept: int = 3) -> list[SearchHit]:
    """Up to `per_concept` latents per concept, each latent listed once (under the concept that found it).

    Round-robin over concepts, so every concept gets its best latent before any concept gets its second.

    >>> import tempfile
    >>> client = NeuronpediaClient(offline=True, cache_dir=tempfile.mkdtemp())
    >>> hits = concept_latents(client, "deepseek-r1-distill-llama-8b", ["backtracking", "wait"],
    ...                        ["15-llamascope-slimpj-res-32k"], per_concept=2)
    >>> [(h.query, h.index) for h in hits]
    [('backtracking', 4127), ('wait', 8841), ('backtracking', 9310), ('wait', 21655)]
    """
    ranked = {c: iter(client.search_explanations(model_id, c, layers=layers)) for c in concepts}
    seen: set[tuple[str, int]] = set()
    out: list[SearchHit] = []
    for _ in range(per_concept):
        for concept in concepts:
            hit = next((h for h in ranked[concept] if (h.source, h.index) not in seen), None)
            if hit is not None:  # this concept's list is used up once it yields nothing new
                seen.add((hit.source, hit.index))
                out.append(hit)
    return out
