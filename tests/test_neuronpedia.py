"""The Neuronpedia client against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import starter.neuronpedia as np_mod
from starter.errors import StarterError, UsageError
from starter.neuronpedia import FIXTURE_DIR, NeuronpediaClient, concept_latents

MODEL, SLIM = "deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k"
SECRET = "np-secret-key-do-not-leak-1234"
# every test: no NEURONPEDIA_* of the user, a fresh cache (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("neuronpedia_env")


class FakeNeuronpedia:
    """A tiny Neuronpedia stand-in. `reply(method, path, body)` returns (status, headers, text)."""

    def __init__(self, reply):
        self.reply, self.requests = reply, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append({"method": self.command, "path": self.path, "body": body,
                                       "headers": dict(self.headers)})
                status, headers, text = outer.reply(self.command, self.path, body)
                data = text.encode()
                self.send_response(status)
                for k, v in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(reply):
        servers.append(FakeNeuronpedia(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def feature_body(index=4127, **extra) -> dict:
    body = json.loads((FIXTURE_DIR / f"feature__{MODEL}__{SLIM}__4127.json").read_text())
    body.pop("_provenance")
    body.update(index=str(index), **extra)
    return body


def ok(body) -> tuple[int, dict, str]:
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def client_for(server, tmp_path, **kw) -> NeuronpediaClient:
    kw.setdefault("backoff_base", 0.001)
    return NeuronpediaClient(base_url=server.url, cache_dir=tmp_path / "cache", **kw)


# --- features --------------------------------------------------------------------------------

def test_feature_200_is_typed_and_tolerates_extra_fields(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body(77, someNewField={"x": 1})))
    feature = client_for(server, tmp_path).feature(MODEL, SLIM, 77)
    assert feature.index == 77 and isinstance(feature.index, int), "index arrives as a string; parse it to int"
    assert feature.explanations[0].explainer_model == "gpt-4o-mini"
    assert feature.explanations[0].score == pytest.approx(0.74)
    assert feature.activations[0].tokens[feature.activations[0].max_value_token_index] == " Wait"
    assert feature.pos_str[0] == " Wait" and feature.max_act_approx == pytest.approx(11.8)
    assert feature.url == f"https://www.neuronpedia.org/{MODEL}/{SLIM}/77"
    assert feature.provenance.kind == "live" and server.url in feature.provenance.source
    assert server.requests[0]["path"] == f"/api/feature/{MODEL}/{SLIM}/77"


def test_feature_with_only_required_fields(serve, tmp_path):
    server = serve(lambda m, p, b: ok({"modelId": MODEL, "layer": SLIM, "index": "5", "explanations": []}))
    feature = client_for(server, tmp_path).feature(MODEL, SLIM, 5)
    assert feature.explanations == [] and feature.activations == [] and feature.pos_str == []
    assert feature.frac_nonzero is None and feature.max_act_approx is None


def test_404_json_is_feature_not_found(serve, tmp_path):
    server = serve(lambda m, p, b: (404, {"Content-Type": "application/json"}, '{"error": "Feature Not Found"}'))
    with pytest.raises(StarterError, match=f"feature not found: {MODEL}/{SLIM}/3"):
        client_for(server, tmp_path).feature(MODEL, SLIM, 3)
    assert len(server.requests) == 1, "a 404 is an answer, not a transient failure: do not retry it"


def test_200_null_body_is_feature_not_found(serve, tmp_path):
    server = serve(lambda m, p, b: ok(None))
    with pytest.raises(StarterError, match="feature not found"):
        client_for(server, tmp_path).feature(MODEL, SLIM, 3)


def test_500_plain_text_names_url_and_status(serve, tmp_path, sleeps):
    server = serve(lambda m, p, b: (500, {"Content-Type": "text/plain"}, "Internal Server Error"))
    with pytest.raises(StarterError) as err:
        client_for(server, tmp_path, max_retries=2).feature(MODEL, SLIM, 3)
    message = str(err.value)
    assert "HTTP 500" in message and f"{server.url}/feature/{MODEL}/{SLIM}/3" in message, message
    assert "Internal Server Error" in message and len(server.requests) == 3, "5xx should be retried max_retries times"


def test_truncated_json_is_a_clear_error(serve, tmp_path):
    server = serve(lambda m, p, b: (200, {"Content-Type": "application/json"}, '{"modelId": "deeps'))
    with pytest.raises(StarterError, match=r"not valid JSON \(HTTP 200\) from http://127\.0\.0\.1"):
        client_for(server, tmp_path).feature(MODEL, SLIM, 3)


def test_429_twice_then_200_backs_off_exponentially(serve, tmp_path, sleeps):
    replies = iter([(429, {}, "Too Many Requests")] * 2 + [ok(feature_body())])
    server = serve(lambda m, p, b: next(replies))
    feature = client_for(server, tmp_path, backoff_base=1.0).feature(MODEL, SLIM, 4127)
    assert feature.index == 4127 and len(server.requests) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0, \
        f"expected jittered exponential backoff (~1 s then ~2 s), got {sleeps}"


def test_retry_after_is_honoured(serve, tmp_path, sleeps):
    replies = iter([(429, {"Retry-After": "3"}, "slow down"), ok(feature_body())])
    server = serve(lambda m, p, b: next(replies))
    client_for(server, tmp_path).feature(MODEL, SLIM, 4127)
    assert sleeps == [3.0]


def test_rate_limit_gives_up_within_total_wait(serve, tmp_path, sleeps):
    server = serve(lambda m, p, b: (429, {}, "Too Many Requests"))
    client = client_for(server, tmp_path, max_retries=10, backoff_base=1.0, max_total_wait=5)
    with pytest.raises(StarterError, match="rate limit") as err:
        client.feature(MODEL, SLIM, 1)
    assert sum(sleeps) <= 5, f"total backoff {sum(sleeps)} s exceeded max_total_wait"
    assert "HTTP 429" in str(err.value) and len(server.requests) < 11


def test_slow_response_times_out(serve, tmp_path):
    def slow(m, p, b):
        time.sleep(1.0)
        return ok(feature_body())

    server = serve(slow)
    start = time.monotonic()
    with pytest.raises(StarterError, match="timed out after 0.2 s"):
        client_for(server, tmp_path, timeout=0.2, max_retries=0).feature(MODEL, SLIM, 4127)
    assert time.monotonic() - start < 0.9, "the timeout did not cut the request short"


def test_connection_refused_fails_fast_with_a_clear_error(tmp_path, sleeps):
    client = NeuronpediaClient(base_url="http://127.0.0.1:9/api", cache_dir=tmp_path, max_retries=5)
    with pytest.raises(StarterError, match="after 3 tries.*could not connect.*--offline"):
        client.feature(MODEL, SLIM, 1)
    assert len(sleeps) == np_mod.CONNECT_RETRIES, "no network should not cost the whole retry budget"


def test_malformed_base_url_is_a_clear_error(tmp_path):
    client = NeuronpediaClient(base_url="not a url", cache_dir=tmp_path)
    with pytest.raises(StarterError, match="check NEURONPEDIA_API_URL"):
        client.feature(MODEL, SLIM, 1)


def test_body_of_the_wrong_shape_is_a_clear_error(serve, tmp_path):
    server = serve(lambda m, p, b: ok({"modelId": MODEL, "layer": SLIM, "index": "seven"}))
    with pytest.raises(StarterError, match="unexpected response shape from http://127.0.0.1"):
        client_for(server, tmp_path).feature(MODEL, SLIM, 7)


# --- search ----------------------------------------------------------------------------------

def _search_pages(method, path, body):
    total, page = 45, 20
    offset = body["offset"]
    rows = [{"modelId": MODEL, "layer": SLIM, "index": str(i), "description": f"latent {i}",
             "explanationModelName": "gpt-4o-mini", "typeName": "oai_token-act-pair",
             "cosine_similarity": 1 - i / 100, "neuron": {"maxActApprox": 3.0}}
            for i in range(offset, min(offset + page, total))]
    more = offset + page < total
    return ok({"request": body, "results": rows, "resultsCount": len(rows), "hasMore": more,
               **({"nextOffset": offset + len(rows)} if more else {})})


def test_search_paginates_over_three_pages(serve, tmp_path):
    server = serve(_search_pages)
    hits = client_for(server, tmp_path).search_explanations(MODEL, "backtracking", layers=[SLIM])
    assert [h.index for h in hits] == list(range(45))
    assert [r["body"]["offset"] for r in server.requests] == [0, 20, 40]
    assert server.requests[0]["path"] == "/api/explanation/search"
    assert server.requests[0]["body"] == {"modelId": MODEL, "layers": [SLIM], "query": "backtracking", "offset": 0}
    assert hits[0].query == "backtracking" and hits[0].cosine_similarity == pytest.approx(1.0)


def test_search_limit_stops_paging_early(serve, tmp_path):
    server = serve(_search_pages)
    hits = client_for(server, tmp_path).search_explanations(MODEL, "backtracking", layers=[SLIM], limit=25)
    assert len(hits) == 25 and len(server.requests) == 2


def test_search_without_layers_uses_search_model(serve, tmp_path):
    server = serve(_search_pages)
    client_for(server, tmp_path).search_explanations(MODEL, "wait", limit=5)
    assert server.requests[0]["path"] == "/api/explanation/search-model"
    assert "layers" not in server.requests[0]["body"]


def test_search_hit_fields_from_nested_neuron(serve, tmp_path):
    row = {"neuron": {"modelId": MODEL, "layer": SLIM, "index": "9", "explanations": [{"description": "d"}]}}
    server = serve(lambda m, p, b: ok({"results": [row], "hasMore": False}))
    [hit] = client_for(server, tmp_path).search_explanations(MODEL, "wait", layers=[SLIM])
    assert (hit.source, hit.index, hit.description, hit.cosine_similarity) == (SLIM, 9, "d", None)


def test_search_404_names_model(serve, tmp_path):
    server = serve(lambda m, p, b: (404, {}, '{"message": "not found"}'))
    with pytest.raises(StarterError, match=f"model or source not found: {MODEL}"):
        client_for(server, tmp_path).search_explanations(MODEL, "wait", layers=[SLIM])


def test_short_query_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="at least 3 characters"):
        NeuronpediaClient(offline=True, cache_dir=tmp_path).search_explanations(MODEL, "hi")


# --- cache -----------------------------------------------------------------------------------

def test_cache_hit_serves_without_a_request(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client = client_for(server, tmp_path)
    first, second = client.feature(MODEL, SLIM, 4127), client.feature(MODEL, SLIM, 4127)
    assert len(server.requests) == 1, "the second lookup should come from the cache"
    assert (first.provenance.kind, second.provenance.kind) == ("live", "cached")
    fresh = client_for(server, tmp_path)  # a new process would see the same on-disk cache
    assert fresh.feature(MODEL, SLIM, 4127).provenance.kind == "cached" and len(server.requests) == 1


def test_expired_entry_is_refetched(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client = client_for(server, tmp_path, ttl_s=0)
    client.feature(MODEL, SLIM, 4127)
    client.feature(MODEL, SLIM, 4127)
    assert len(server.requests) == 2


def test_corrupt_cache_entry_is_dropped_and_refetched(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client = client_for(server, tmp_path)
    client.feature(MODEL, SLIM, 4127)
    [entry] = list((tmp_path / "cache").glob("*.json"))
    entry.write_text('{"fetched_at": 1, "bo')  # a half-written file
    assert client.feature(MODEL, SLIM, 4127).provenance.kind == "live"
    assert len(server.requests) == 2 and json.loads(entry.read_text())["body"]["index"] == "4127"


def test_unwritable_cache_is_a_clear_error(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    client = NeuronpediaClient(base_url=server.url, cache_dir=blocker / "cache")
    with pytest.raises(StarterError, match="set MI_STARTER_CACHE to a writable folder"):
        client.feature(MODEL, SLIM, 4127)


def test_cache_key_with_dotdot_stays_inside_cache_dir(serve, tmp_path):
    server = serve(lambda m, p, b: ok({"modelId": MODEL, "layer": "../../escape", "index": "1"}))
    client_for(server, tmp_path).feature(MODEL, "../../escape", 1)
    cache = (tmp_path / "cache").resolve()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(cache in p.resolve().parents for p in written), written
    assert server.requests[0]["path"] == f"/api/feature/{MODEL}/..%2F..%2Fescape/1", "path segments must be quoted"


def test_api_key_is_sent_but_never_stored_or_shown(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client = client_for(server, tmp_path, api_key=SECRET)
    feature = client.feature(MODEL, SLIM, 4127)
    assert server.requests[0]["headers"].get("x-api-key") == SECRET
    assert SECRET not in repr(client) and "api_key=set" in repr(client)
    assert SECRET not in repr(feature) and SECRET not in json.dumps(feature.provenance.__dict__)
    for path in (tmp_path / "cache").rglob("*"):
        assert SECRET not in path.read_text(), f"API key leaked into cache file {path}"


def test_key_and_url_come_from_the_environment(serve, tmp_path, monkeypatch):
    server = serve(lambda m, p, b: ok(feature_body()))
    monkeypatch.setenv("NEURONPEDIA_API_URL", server.url)
    monkeypatch.setenv("NEURONPEDIA_API_KEY", SECRET)
    NeuronpediaClient(cache_dir=tmp_path).feature(MODEL, SLIM, 4127)
    assert server.requests[0]["headers"].get("x-api-key") == SECRET


def test_no_key_means_no_key_header(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client_for(server, tmp_path).feature(MODEL, SLIM, 4127)
    assert "x-api-key" not in {k.lower() for k in server.requests[0]["headers"]}


# --- offline ---------------------------------------------------------------------------------

def test_offline_answers_from_fixtures_without_network(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body()))
    client = client_for(server, tmp_path, offline=True)
    feature = client.feature(MODEL, SLIM, 4127)
    hits = client.search_explanations(MODEL, "Final  Answer", layers=[SLIM])
    assert server.requests == [], "offline mode must not touch the network"
    assert feature.provenance.kind == "sample" and "not fetched from Neuronpedia" in feature.provenance.describe()
    assert hits and all(h.source == SLIM and h.provenance.kind == "sample" for h in hits)


def test_offline_from_env_and_missing_fixture_lists_what_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURONPEDIA_OFFLINE", "1")
    client = NeuronpediaClient(cache_dir=tmp_path)
    assert client.offline
    with pytest.raises(StarterError, match=r"not available offline.*shipped features: .*4127.*'backtracking'"):
        client.feature(MODEL, SLIM, 1)


def test_offline_prefers_the_cache_even_when_expired(serve, tmp_path):
    server = serve(lambda m, p, b: ok(feature_body(4127, frac_nonzero=0.5)))
    client_for(server, tmp_path, ttl_s=0).feature(MODEL, SLIM, 4127)
    feature = client_for(server, tmp_path, ttl_s=0, offline=True).feature(MODEL, SLIM, 4127)
    assert feature.provenance.kind == "cached" and feature.frac_nonzero == 0.5


def test_concept_latents_dedups_and_every_hit_has_a_feature_fixture(tmp_path):
    client = NeuronpediaClient(offline=True, cache_dir=tmp_path)
    concepts = ["backtracking", "wait", "uncertainty", "verification", "final answer", "creative", "monitor", "hint"]
    hits = concept_latents(client, MODEL, concepts, [SLIM], per_concept=3)
    keys = [(h.source, h.index) for h in hits]
    assert len(keys) == len(set(keys)), "a latent found by two concepts should be listed once"
    assert {h.query for h in hits} == set(concepts), "round-robin should give every concept its best latent"
    for hit in hits:
        assert client.feature(hit.model_id, hit.source, hit.index).provenance.kind == "sample"


def test_every_fixture_declares_provenance_and_labels_samples():
    files = sorted(FIXTURE_DIR.glob("*.json"))
    assert len(files) >= 16
    for path in files:
        body = json.loads(path.read_text())
        prov = body.get("_provenance") or {}
        assert prov.get("kind") in {"sample", "recorded"} and prov.get("date"), f"{path.name}: bad _provenance"
        if prov["kind"] == "sample":
            texts = [e["description"] for e in body.get("explanations", [])] + \
                    [r["description"] for r in body.get("results", [])]
            assert texts and all(t.startswith("[sample] ") for t in texts), f"{path.name}: unlabelled sample text"


# --- top features for a text -----------------------------------------------------------------

def test_top_features_for_text(serve, tmp_path):
    reply = {"tokens": ["<bos>", "Wait", ","], "counts": [], "sortIndexes": [], "result": [
        {"modelId": MODEL, "layer": SLIM, "index": "4127", "values": [0, 9.5, 1], "maxValue": 9.5,
         "maxValueIndex": 1, "neuron": {"explanations": [{"description": "wait tokens"}]}}]}
    server = serve(lambda m, p, b: ok(reply))
    [hit] = client_for(server, tmp_path).top_features_for_text(MODEL, "llamascope-slimpj-res-32k", "Wait,")
    assert (hit.index, hit.token, hit.max_value, hit.description) == (4127, "Wait", 9.5, "wait tokens")
    assert server.requests[0]["path"] == "/api/search-all"
    assert server.requests[0]["body"]["sourceSet"] == "llamascope-slimpj-res-32k"


# --- module hygiene --------------------------------------------------------------------------

def test_docstring_examples_run_offline(monkeypatch, tmp_path):
    result = doctest.testmod(np_mod)
    assert result.attempted >= 4 and result.failed == 0


def test_imports_without_torch():
    code = ("import sys, starter.neuronpedia, starter.commands.neuronpedia; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent).returncode == 0, \
        "starter.neuronpedia must stay importable without torch (fast CLI)"
