"""Look up SAE latents on Neuronpedia: typed results, retries, a disk cache and offline fixtures.

Plain `requests`, no torch, so `mi-starter neuronpedia ...` starts instantly. Three places answer:
Neuronpedia itself (`NEURONPEDIA_API_URL`, default https://www.neuronpedia.org/api), the local cache
(`$MI_STARTER_CACHE/neuronpedia`, 7-day TTL) and, offline only, the fixtures shipped in
`starter/data/neuronpedia/`. Every result carries a `Provenance` saying which one it came from;
shipped fixtures are SAMPLE data in the API's shape, never real explanations.

What the client promises, whatever the server does:
- The API key (`NEURONPEDIA_API_KEY`) travels only to the configured API origin (scheme, host,
  port). Redirects are followed by hand, at most `MAX_REDIRECTS` hops; a hop to another origin
  (another host, or https -> http) goes without the key. A key with whitespace or control
  characters is refused at start, and the key is scrubbed from every message, cached body and repr.
- Every request ends: one wall-clock deadline (`timeout` seconds) covers connecting, redirects,
  headers and body; a body may be at most `MAX_BODY_BYTES` on the wire and once inflated; a search
  follows at most `MAX_SEARCH_PAGES` pages and stops when `nextOffset` does not advance;
  `Retry-After` is clamped to [`RETRY_AFTER_FLOOR_S`, `RETRY_AFTER_CEILING_S`].
- The cache holds only answers that parsed and match the request (model, source, index or query);
  anything else found there is a miss and is deleted. `refresh=True` (`--refresh`) skips reading it.
- Errors: `NeuronpediaUnreachable` only when the network failed (no connection, the deadline, 5xx or
  429 after the retries): the one case where a caller may fall back to the shipped sample fixtures.
  A bad key is a `UsageError`; an unwritable cache, a refused or malformed answer a `StarterError`.

>>> import tempfile
>>> client = NeuronpediaClient(offline=True, cache_dir=tempfile.mkdtemp())
>>> feature = client.feature("deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k", 4127)
>>> feature.provenance.kind, feature.explanations[0].description.startswith("[sample]")
('sample', True)
>>> feature.url
'https://www.neuronpedia.org/deepseek-r1-distill-llama-8b/15-llamascope-slimpj-res-32k/4127'
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urljoin, urlsplit

import requests

from starter import http
from starter.errors import Secret, StarterError, UsageError
from starter.http import (  # noqa: F401 (part of this module's interface)
    CONNECT_RETRIES,
    RETRY_AFTER_CEILING_S,
    RETRY_AFTER_FLOOR_S,
    DeadlinePassed,
    Reply,
    excerpt,
    parse_retry_after,
    run_before_deadline,
)

DEFAULT_API_URL = "https://www.neuronpedia.org/api"
PAGE_URL = "https://www.neuronpedia.org"
DEFAULT_TTL_S = 7 * 24 * 3600
FIXTURE_DIR = Path(__file__).parent / "data" / "neuronpedia"
MAX_SEARCH_PAGES = 20  # pages one search follows at most (Neuronpedia serves 20 rows a page)
MAX_REDIRECTS = 5  # redirect hops one request follows at most
MAX_BODY_BYTES = 16 * 2**20  # largest body accepted, counted on the wire and again once inflated
_REDIRECTS = {301, 302, 303, 307, 308}
_CLOCK_SKEW_S = 24 * 3600  # a cache entry dated further in the future than this is corrupt


class NeuronpediaUnreachable(StarterError):
    """The network failed: no connection, the request deadline passed, or 5xx/429 after the retries.

    The only Neuronpedia failure after which a caller may fall back to the shipped sample fixtures;
    every other failure (a refused or malformed answer, a bad key, an unwritable cache) is not one.
    """


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
            return (f"sample data in Neuronpedia's format, not fetched from Neuronpedia "
                    f"({self.source})")
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
        if not 0 <= i < len(self.tokens):
            return "".join(self.tokens)
        return f"{left}[[{self.tokens[i]}]]{right}"


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
        max_value_token_index=int(row.get("maxValueTokenIndex",
                                          values.index(max(values)) if values else 0)),
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
    """Build a `SearchHit` from one `results` row; fields sit on the row or its nested neuron."""
    nested = row.get("neuron") or row.get("feature") or {}
    model_id = row.get("modelId") or nested["modelId"]
    source = row.get("layer") or row.get("source") or nested["layer"]
    index = row.get("index", nested.get("index"))
    if index is None:  # like a missing modelId or layer: the row is not a search hit
        raise KeyError("index")
    index = int(index)
    explanations = nested.get("explanations") or [{}]
    similarity = row.get("cosine_similarity")
    return SearchHit(
        model_id=model_id, source=source, index=index,
        description=str(row.get("description") or explanations[0].get("description") or ""),
        explainer_model=row.get("explanationModelName"), type_name=row.get("typeName"),
        cosine_similarity=float(similarity) if similarity is not None else None,
        url=page_url(model_id, source, index), provenance=provenance, query=query,
    )


class _Mismatch(Exception):
    """Internal: a body that parsed but does not answer the request; the message says how."""


def _checked_key(key: str | None, where: str) -> Secret | None:
    """The key, or None when unset; a UsageError (which never shows the key) when it cannot be sent.

    >>> _checked_key("", "api_key") is None
    True
    >>> _checked_key("abc\\n", "NEURONPEDIA_API_KEY")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: NEURONPEDIA_API_KEY has a space, control or non-ASCII character at \
position 4 of 4 (the key is not shown); a Neuronpedia key is printable ASCII without spaces: \
remove it (often a trailing newline)
    """
    return http.checked_key(key, where, kind="Neuronpedia")


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in.

    >>> _origin("https://www.neuronpedia.org/api") == _origin("HTTPS://www.Neuronpedia.org:443/x")
    True
    >>> _origin("https://www.neuronpedia.org/api") == _origin("http://www.neuronpedia.org/api")
    False
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port out of range or not a number: matches no origin
        port = -1
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _valid_timestamp(value: Any) -> bool:
    """A cache entry's `fetched_at`: finite seconds, not before 1970 nor in the future."""
    if type(value) not in (int, float) or not math.isfinite(value):
        return False
    return 0 <= value <= time.time() + _CLOCK_SKEW_S


class _Cache:
    """JSON files named by a SHA-256 of the request, so no key can point outside `root`.

    An entry records the request it answers (`key`), so a file copied or restored under another
    name is caught; an entry that cannot be read back is a miss and is deleted.
    """

    def __init__(self, root: Path, ttl_s: float):
        self.root, self.ttl_s = root, ttl_s

    def path(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str, *, ignore_ttl: bool = False) -> dict | None:
        """The stored entry, or None on a miss; expired entries miss, corrupt ones are deleted."""
        from starter.files import NotRegularFile, read_regular

        path = self.path(key)
        try:
            data = read_regular(path)  # never blocks: a named pipe here is refused, not read
            if data is None:
                return None
            entry = json.loads(data.decode("utf-8"))
        except OSError:  # unreadable: a miss (an unwritable cache is reported by `put`)
            return None
        except (NotRegularFile, ValueError, RecursionError):  # a pipe, half-written or edited:
            self.drop(key)  # drop it and refetch
            return None
        if (not isinstance(entry, dict) or "body" not in entry or entry.get("key", key) != key
                or not _valid_timestamp(entry.get("fetched_at"))):
            self.drop(key)
            return None
        fresh = time.time() - entry["fetched_at"] < self.ttl_s
        return entry if (fresh or ignore_ttl) else None

    def drop(self, key: str) -> None:
        """Delete an entry; one that cannot be deleted stays (the next `put` reports the folder)."""
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError:
            return

    def put(self, key: str, url: str, body: Any) -> None:
        entry = {"key": key, "url": url, "fetched_at": time.time(), "body": body}  # never the key
        tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out)
            os.replace(tmp, self.path(key))  # atomic: readers see the old entry or the new one
        except OSError as err:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise StarterError(f"cannot write the Neuronpedia cache in {self.root} "
                               f"({err.strerror or type(err).__name__}); make that folder writable "
                               "or set MI_STARTER_CACHE to a writable folder") from None


class _Fixtures:
    """The shipped responses, indexed by what they answer (read from the bodies, not file names)."""

    def __init__(self, root: Path = FIXTURE_DIR):
        self.features: dict[tuple[str, str, int], tuple[dict, Provenance]] = {}
        self.searches: dict[tuple[str, str], tuple[dict, Provenance]] = {}
        for path in sorted(root.glob("*.json")):
            body = json.loads(path.read_text(encoding="utf-8"))
            meta = body.get("_provenance", {})
            prov = Provenance(meta.get("kind", "sample"), meta.get("note", ""), meta.get("date"),
                              path.name)
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
        shipped = " ".join(f"{k}/{{{','.join(v)}}}" for k, v in features.items()) or "none"
        queries = "; ".join(f"{k}: {', '.join(v)}" for k, v in searches.items()) or "none"
        return f"shipped features: {shipped}; shipped searches: {queries}"


def _norm(query: str) -> str:
    return " ".join(query.lower().split())


def default_cache_dir() -> Path:
    from starter.settings import cache_root  # the kit's one cache root ($MI_STARTER_CACHE)

    return cache_root() / "neuronpedia"


@dataclass
class _SearchPage:
    """One page of an explanation search, checked against the request."""

    hits: list[SearchHit]  # every row of the page, parsed
    has_more: bool  # the server says another page exists
    next_offset: Any  # the server's nextOffset, unchecked (the caller checks it advances)
    rows: int = field(default=0)  # rows on the page (0 ends the search)


def _scrubbing(method):
    """Re-raise a StarterError from `method` with the client's API key scrubbed from its message."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except StarterError as err:
            message = self._scrub(str(err))
            if message == str(err):
                raise
            raise type(err)(message) from None

    return wrapper


class NeuronpediaClient:
    """Reads features and explanation searches from Neuronpedia, through a cache.

    Retries 429/5xx/timeouts with exponential backoff and jitter (honouring Retry-After within its
    floor and ceiling), never waiting more than `max_total_wait` seconds in all, then raises
    NeuronpediaUnreachable. Connection errors are retried only CONNECT_RETRIES times, so a machine
    without network learns it in seconds. `timeout` is a deadline for each whole request.

    >>> NeuronpediaClient(api_key="k", offline=True, cache_dir="/tmp/np")
    NeuronpediaClient(base_url='https://www.neuronpedia.org/api', offline=True, refresh=False, \
cache_dir='/tmp/np', api_key=set)
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | Path | None = None, offline: bool | None = None,
                 timeout: float = 10, max_retries: int = 5, max_total_wait: float = 60,
                 backoff_base: float = 1.0, ttl_s: float = DEFAULT_TTL_S, refresh: bool = False,
                 max_body_bytes: int = MAX_BODY_BYTES):
        base = base_url or os.environ.get("NEURONPEDIA_API_URL") or DEFAULT_API_URL
        self.base_url = base.rstrip("/")
        if api_key:
            self._api_key = _checked_key(api_key, "the api_key argument")
        else:
            env_key = os.environ.get("NEURONPEDIA_API_KEY")
            self._api_key = _checked_key(env_key, "NEURONPEDIA_API_KEY")
        from starter.settings import env_flag  # 1/true/yes/on, 0/false/no/off; else one line

        self.offline = env_flag("NEURONPEDIA_OFFLINE") if offline is None else offline
        if self.offline and refresh:
            raise UsageError("refresh=True (--refresh) needs the network but the client is offline "
                             "(--offline or NEURONPEDIA_OFFLINE); drop one of them")
        self.refresh = refresh  # True: never read the cache (answers are still written to it)
        if not (type(timeout) in (int, float) and 0 < timeout < math.inf):
            raise UsageError(f"timeout={timeout!r} is not allowed; give a positive number of seconds")
        if not (type(max_body_bytes) is int and max_body_bytes > 0):
            raise UsageError(f"max_body_bytes={max_body_bytes!r} is not allowed; give a positive "
                             "number of bytes")
        self.timeout, self.max_retries, self.max_total_wait = timeout, max_retries, max_total_wait
        self.backoff_base, self.max_body_bytes = backoff_base, max_body_bytes
        self.cache = _Cache(Path(cache_dir) if cache_dir else default_cache_dir(), ttl_s)
        self._session: requests.Session | None = None

    def __repr__(self) -> str:  # the key itself never appears, only whether one is set
        key = "set" if self._api_key else "unset"
        return (f"NeuronpediaClient(base_url={self.base_url!r}, offline={self.offline}, "
                f"refresh={self.refresh}, cache_dir='{self.cache.root}', api_key={key})")

    # --- public API -------------------------------------------------------------------------

    @_scrubbing
    def feature(self, model_id: str, source: str, index: int) -> Feature:
        """One feature with its explanations, top activations and logits."""
        label = f"{model_id}/{source}/{index}"
        path = "/feature/" + "/".join(quote(str(p), safe="") for p in (model_id, source, index))

        def check(body: Any, prov: Provenance) -> Feature:
            if not isinstance(body, dict) or "modelId" not in body:  # the API can answer `null`
                raise _Mismatch(f"feature not found: {label} (Neuronpedia returned no feature)")
            feature = parse_feature(body, prov)
            if (feature.model_id, feature.source, feature.index) != (model_id, source, int(index)):
                got = f"{feature.model_id}/{feature.source}/{feature.index}"
                raise _Mismatch(f"asked for feature {label} but the answer is feature {got}")
            return feature

        return self._answer("GET", path, None, f"feature {label}",
                            lambda f: f.features.get((model_id, source, int(index))),
                            f"feature not found: {label}", check)

    def features(self, model_id: str, source: str, indices: list[int]) -> list[Feature]:
        """Several features of one source, in the order asked (each cached on its own)."""
        return [self.feature(model_id, source, i) for i in indices]

    @_scrubbing
    def search_explanations(self, model_id: str, query: str, layers: list[str] | None = None,
                            limit: int | None = None) -> list[SearchHit]:
        """Semantic search over explanations, best first, following `nextOffset` up to `limit` hits.

        `layers` are source ids (e.g. "15-llamascope-slimpj-res-32k"); None searches the whole
        model. Reads at most MAX_SEARCH_PAGES pages, and stops early when `nextOffset` is not an
        integer beyond the current offset.
        """
        if len(query.strip()) < 3:
            raise UsageError(f"search query {query!r} is too short; "
                             "Neuronpedia needs at least 3 characters")
        path = "/explanation/search" if layers else "/explanation/search-model"

        def check(body: Any, prov: Provenance) -> _SearchPage:
            return _search_page(body, prov, model_id, query)

        hits: list[SearchHit] = []
        offset = 0
        for _ in range(MAX_SEARCH_PAGES):
            if limit is not None and len(hits) >= limit:
                break
            payload: dict[str, Any] = {"modelId": model_id, "query": query, "offset": offset}
            if layers:
                payload["layers"] = list(layers)
            page = self._answer("POST", path, payload, f"search {query!r} on {model_id}",
                                lambda f: f.searches.get((model_id, _norm(query))),
                                f"model or source not found: {model_id} {layers or ''}".rstrip(),
                                check)
            # fixtures span several layers: keep the ones asked for
            hits += [h for h in page.hits if not layers or h.source in layers]
            nxt = page.next_offset
            if not (page.has_more and page.rows and type(nxt) is int and nxt > offset):
                break
            offset = nxt
        return hits[:limit] if limit is not None else hits

    @_scrubbing
    def top_features_for_text(self, model_id: str, source_set: str, text: str,
                              layers: list[str] | None = None,
                              num_results: int = 20) -> list[TextFeatureHit]:
        """The latents of one SAE set that fire most on `text` (run on Neuronpedia's servers).

        `source_set` is a source id without its layer (e.g. "llamascope-slimpj-res-32k"). Only works
        for models Neuronpedia hosts inference for; no fixtures ship for it, so offline it needs a
        cache.
        """
        if not 1 <= num_results <= 100:
            raise UsageError(f"num_results={num_results} is out of range; "
                             "Neuronpedia allows 1 to 100")
        payload = {"modelId": model_id, "sourceSet": source_set, "text": text,
                   "selectedLayers": layers or [], "sortIndexes": [], "ignoreBos": True,
                   "densityThreshold": -1, "numResults": num_results}

        def check(body: Any, prov: Provenance) -> list[TextFeatureHit]:
            tokens = body.get("tokens") or []
            hits = [_text_hit(row, tokens, prov) for row in body["result"]]
            wrong = sorted({h.model_id for h in hits} - {model_id})
            if wrong:
                raise _Mismatch(f"asked about {model_id} but the answer lists latents of {wrong}")
            return hits

        return self._answer("POST", "/search-all", payload,
                            f"top features for a text on {model_id}", lambda f: None,
                            f"model or SAE set not found: {model_id}/{source_set}", check)

    def shipped_fixtures(self) -> str:
        """What offline mode can answer without a cache, as one line."""
        return self._fixtures.listing()

    # --- plumbing ---------------------------------------------------------------------------

    @cached_property
    def _fixtures(self) -> _Fixtures:  # read on first offline miss only
        return _Fixtures()

    def _scrub(self, text: str) -> str:
        """`text` with the API key (raw, URL-quoted or JSON-escaped) replaced by http.REDACTED."""
        if self._api_key is None:
            return text
        key = self._api_key.reveal()
        for form in dict.fromkeys((key, quote(key, safe=""), json.dumps(key)[1:-1])):
            text = text.replace(form, http.REDACTED)
        return text

    def _answer(self, method: str, path: str, payload: dict | None, label: str,
                fixture: Callable[[_Fixtures], tuple[dict, Provenance] | None], not_found: str,
                check: Callable[[Any, Provenance], Any]) -> Any:
        """The parsed answer from the cache, else offline fixtures or the network.

        `check(body, provenance)` parses a body and raises _Mismatch when it does not answer this
        request; a cached body that fails it is deleted, a live one is refused and never cached.
        """
        url = self.base_url + path
        key = f"{method} {url} {json.dumps(payload, sort_keys=True)}"
        entry = None if self.refresh else self.cache.get(key, ignore_ttl=self.offline)
        if entry is not None:
            date = datetime.fromtimestamp(entry["fetched_at"], timezone.utc)
            prov = Provenance("cached", "", date.isoformat(timespec="seconds"), url)
            try:
                return check(entry["body"], prov)
            except (_Mismatch, KeyError, TypeError, ValueError, AttributeError, IndexError):
                self.cache.drop(key)  # a stale format, a tampered or copied file: refetch
        if self.offline:
            found = fixture(self._fixtures)
            if found is None:
                raise StarterError(f"{label} is not available offline (no cache entry, no shipped "
                                   f"fixture); {self._fixtures.listing()}")
            body, prov = found
            return _parsed(lambda: check(body, prov), prov)
        body = self._fetch(method, url, payload, not_found)
        prov = Provenance("live", "", datetime.now(timezone.utc).isoformat(timespec="seconds"), url)
        result = _parsed(lambda: check(body, prov), prov)  # validated and matched before caching
        self.cache.put(key, url, body)
        return result

    def _fetch(self, method: str, url: str, payload: dict | None, not_found: str) -> Any:
        """The JSON body of a successful answer, retrying transient failures within the budget."""
        if self._session is None:
            self._session = requests.Session()
        policy = http.RetryPolicy(
            self.max_retries, self.backoff_base, max_total_wait_s=self.max_total_wait,
            timeout_problem=f"timed out after {self.timeout:g} s (the deadline for one request)")

        def judge(reply: Reply) -> Any:
            if reply.status != 429 and reply.status < 500:
                return self._decode(reply, url, not_found)
            return http.Retry(f"HTTP {reply.status}: {excerpt(reply.text)}",
                              parse_retry_after(reply.retry_after))

        def unrequestable(err: requests.RequestException) -> StarterError:
            return StarterError(self._scrub(f"cannot request {url!r} ({type(err).__name__}: "
                                            f"{err}); check NEURONPEDIA_API_URL"))

        try:
            return http.send_with_retries(policy, lambda: self._attempt(method, url, payload),
                                          judge, unrequestable)
        except http.GaveUp as end:
            rate_limited = end.problem.startswith("HTTP 429")
            hint = ("Neuronpedia's rate limit is per IP per hour; wait, set NEURONPEDIA_API_KEY, "
                    "or use --offline" if rate_limited
                    else "check your network, or use --offline for cached/shipped data")
            raise NeuronpediaUnreachable(
                f"Neuronpedia request failed for {url} after {end.tries} tries "
                f"({end.waited_s:.1f} s of backoff): {end.problem}; {hint}") from None

    def _attempt(self, method: str, url: str, payload: dict | None) -> Reply:
        """One request (with its redirects) under one wall-clock deadline of `timeout` seconds.

        `requests` times each read, not the whole exchange, so the exchange runs in a worker thread
        that is abandoned at the deadline; its socket reads are bounded too, so it ends on its own.
        """
        deadline = time.monotonic() + self.timeout
        return run_before_deadline(
            lambda abandon: self._exchange(method, url, payload, deadline, abandon),
            deadline, "neuronpedia-request")

    def _exchange(self, method: str, url: str, payload: dict | None, deadline: float,
                  abandon: threading.Event) -> Reply:
        """Send the request and follow redirects by hand: the key goes to the home origin only."""
        assert self._session is not None
        home = _origin(self.base_url)
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": "mi-starter", "Accept-Encoding": "gzip, deflate"}
            if self._api_key is not None and _origin(url) == home:
                headers["x-api-key"] = self._api_key.reveal()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or abandon.is_set():
                raise DeadlinePassed()
            response = self._session.request(method, url, json=payload, headers=headers,
                                             timeout=remaining, allow_redirects=False, stream=True)
            try:
                location = response.headers.get("Location")
                if response.status_code in _REDIRECTS and location:
                    target = urljoin(url, location)
                    if urlsplit(target).scheme.lower() not in ("http", "https"):
                        raise StarterError(self._scrub(
                            f"Neuronpedia at {url} redirected to {excerpt(target)}, which is "
                            "not an http(s) URL; check NEURONPEDIA_API_URL"))
                    if response.status_code == 303 or (response.status_code in (301, 302)
                                                       and method == "POST"):
                        method, payload = "GET", None  # what browsers and requests do
                    url = target
                    continue
                data = self._read_body(response, url, deadline, abandon)
            finally:
                response.close()
            text = self._scrub(data.decode("utf-8", errors="replace"))
            return Reply(response.status_code, text, response.headers.get("Retry-After"), url)
        raise StarterError(f"Neuronpedia redirected more than {MAX_REDIRECTS} times (last to "
                           f"{excerpt(self._scrub(url))}); check NEURONPEDIA_API_URL")

    def _read_body(self, response: requests.Response, url: str, deadline: float,
                   abandon: threading.Event) -> bytes:
        """The body, inflated, at most `max_body_bytes` on the wire and after inflating."""
        cap = self.max_body_bytes
        try:
            return http.read_body(response, cap=cap, deadline=deadline, abandon=abandon,
                                  inflate=True)
        except http.BodyTooLarge:
            raise StarterError(f"Neuronpedia's answer from {url} is larger than {cap} bytes (the "
                               "limit against runaway or hostile servers); nothing was cached"
                               ) from None
        except http.UnreadableEncoding as err:
            raise StarterError(f"Neuronpedia answered {url} with Content-Encoding "
                               f"{excerpt(err.encoding)}, which this client cannot read") from None
        except http.CorruptCompression as err:
            raise StarterError(f"Neuronpedia's {err.encoding} answer from {url} does not "
                               f"decompress ({err.detail})") from None

    def _decode(self, reply: Reply, url: str, not_found: str) -> Any:
        """The JSON body of a final answer; a refusal or a non-JSON body is a StarterError."""
        status = reply.status
        try:
            body = json.loads(reply.text)
        except (ValueError, RecursionError):  # plain text, HTML, truncated or absurdly nested JSON
            body = None
            parsed = False
        else:
            parsed = True
        if status == 404:
            raise StarterError(f"{not_found} (HTTP 404 from {url})")
        if status >= 300:
            message = body.get("error") or body.get("message") if isinstance(body, dict) else None
            said = excerpt(str(message) if message else reply.text)
            sent_key = self._api_key is not None and _origin(reply.url) == _origin(self.base_url)
            if status in (401, 403) and sent_key:
                raise UsageError(f"Neuronpedia refused NEURONPEDIA_API_KEY (HTTP {status} at "
                                 f"{url}: {said}); check the key, or unset it to use the public "
                                 "rate limit")
            raise StarterError(f"Neuronpedia refused the request (HTTP {status}) at {url}: {said}")
        if not parsed:
            raise StarterError(f"Neuronpedia returned a body that is not valid JSON "
                               f"(HTTP {status}) from {url}: {excerpt(reply.text)}")
        return body


def _search_page(body: Any, prov: Provenance, model_id: str, query: str) -> _SearchPage:
    """Parse one search page and check it answers a search for `query` on `model_id`."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise _Mismatch(f"unexpected search response from {prov.source}: no 'results' list")
    request = body.get("request")
    if isinstance(request, dict):  # Neuronpedia echoes the request: it must be ours
        asked = (request.get("modelId", model_id), _norm(str(request.get("query", query))))
        if asked != (model_id, _norm(query)):
            raise _Mismatch(f"asked to search {query!r} on {model_id} but the answer is for "
                            f"{request.get('query')!r} on {request.get('modelId')}")
    hits = [parse_search_hit(row, prov, query) for row in body["results"]]
    wrong = sorted({h.model_id for h in hits} - {model_id})
    if wrong:
        raise _Mismatch(f"asked to search {model_id} but the answer lists latents of {wrong}")
    return _SearchPage(hits, body.get("hasMore") is True, body.get("nextOffset"), len(hits))


def _text_hit(row: dict, tokens: list[str], prov: Provenance) -> TextFeatureHit:
    peak, index = int(row.get("maxValueIndex", 0)), int(row["index"])
    explanations = (row.get("neuron") or {}).get("explanations") or [{}]
    return TextFeatureHit(
        model_id=row["modelId"], source=row["layer"], index=index,
        max_value=float(row.get("maxValue", 0.0)),
        token=tokens[peak] if 0 <= peak < len(tokens) else "",
        description=str(explanations[0].get("description") or ""),
        url=page_url(row["modelId"], row["layer"], index), provenance=prov)


def _parsed(parse, prov: Provenance):
    """Run a parser; a body of the wrong shape becomes a StarterError naming where it came from."""
    try:
        return parse()
    except _Mismatch as err:
        raise StarterError(f"{err} (from {prov.source}, {prov.kind}); nothing was cached") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise StarterError(f"unexpected response shape from {prov.source} ({prov.kind}): "
                           f"{type(err).__name__}: {err}") from None


def concept_latents(client: NeuronpediaClient, model_id: str, concepts: list[str],
                    layers: list[str] | None, per_concept: int = 3) -> list[SearchHit]:
    """Up to `per_concept` latents per concept, each listed once (under the concept that found it).

    Round-robin over concepts, so every concept gets its best latent before any gets its second.

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
