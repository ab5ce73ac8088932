"""The Neuronpedia client against hostile or broken servers on 127.0.0.1 (issue #11).

Each server answers a bounded number of requests and stops by itself; no test asserts a timing.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import starter.neuronpedia as np_mod
from starter.errors import StarterError, UsageError
from starter.neuronpedia import FIXTURE_DIR, NeuronpediaClient

MODEL, SLIM = "deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k"
SECRET = "np-secret-key-do-not-leak-1234"
# every test: no NEURONPEDIA_* of the user, a fresh cache (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("neuronpedia_env")


class FaultServer:
    """A server whose handler gets the raw request handler: it may stall, trickle, lie or redirect.

    `handle(req, body)` writes the whole answer itself; every request is recorded in `requests`.
    """

    def __init__(self, handle, max_requests: int = 200):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append({"method": self.command, "path": self.path, "body": body,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}})
                if len(outer.requests) > max_requests:  # a runaway client: stop answering
                    self.close_connection = True
                    return
                try:
                    handle(self, body)
                except (BrokenPipeError, ConnectionResetError):  # the client hung up: the point
                    self.close_connection = True

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.origin + "/api"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def send(req, status: int, text: str | bytes = "", headers: dict | None = None) -> None:
    data = text.encode() if isinstance(text, str) else text
    req.send_response(status)
    for k, v in {"Content-Length": str(len(data)), **(headers or {})}.items():
        req.send_header(k, v)
    req.end_headers()
    req.wfile.write(data)


def feature_body(index=4127, model=MODEL, source=SLIM) -> dict:
    body = json.loads((FIXTURE_DIR / f"feature__{MODEL}__{SLIM}__4127.json").read_text())
    body.pop("_provenance")
    body.update(index=str(index), modelId=model, layer=source)
    return body


def search_body(request: dict, indices, has_more=False, next_offset=None, model=MODEL) -> dict:
    rows = [{"modelId": model, "layer": SLIM, "index": str(i), "description": f"latent {i}"}
            for i in indices]
    return {"request": request, "results": rows, "resultsCount": len(rows), "hasMore": has_more,
            **({"nextOffset": next_offset} if next_offset is not None else {})}


@pytest.fixture
def serve():
    servers: list[FaultServer] = []

    def start(handle, **kw):
        servers.append(FaultServer(handle, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def client_for(server, tmp_path, **kw) -> NeuronpediaClient:
    kw.setdefault("backoff_base", 0.001)
    return NeuronpediaClient(base_url=server.url, cache_dir=tmp_path / "cache", **kw)


def unreachable():
    return np_mod.NeuronpediaUnreachable  # an AttributeError before the taxonomy existed


# --- the key goes to the configured origin only ----------------------------------------------

def test_key_is_not_sent_to_another_host_on_redirect(serve, tmp_path):
    other = serve(lambda req, body: send(req, 200, json.dumps(feature_body(7))))
    home = serve(lambda req, body: send(req, 302, "", {"Location": other.origin + req.path}))
    feature = client_for(home, tmp_path, api_key=SECRET).feature(MODEL, SLIM, 7)
    assert feature.index == 7, "a redirect to another host is still followed, only without the key"
    assert home.requests[0]["headers"].get("x-api-key") == SECRET
    assert "x-api-key" not in other.requests[0]["headers"], "key sent to another host"


def test_key_is_not_resent_with_a_post_after_307_to_another_host(serve, tmp_path):
    other = serve(lambda req, body: send(req, 200, json.dumps(search_body(body, [1, 2]))))
    home = serve(lambda req, body: send(req, 307, "", {"Location": other.origin + req.path}))
    client = client_for(home, tmp_path, api_key=SECRET)
    hits = client.search_explanations(MODEL, "wait", layers=[SLIM])
    assert [h.index for h in hits] == [1, 2]
    assert other.requests[0]["method"] == "POST" and other.requests[0]["body"]["query"] == "wait", \
        "a 307 keeps the method and the body"
    assert "x-api-key" not in other.requests[0]["headers"], "the API key was resent after a 307"


def test_key_is_dropped_on_a_redirect_from_https_to_http(serve, tmp_path):
    """Same host and port, only the scheme changes: only the configured https origin is trusted."""
    def handle(req, body):
        if req.path.startswith("/api/"):  # reached as https (see the adapter below)
            send(req, 301, "", {"Location": f"{server.origin}/plain{req.path}"})
        else:
            send(req, 200, json.dumps(feature_body(7)))

    server = serve(handle)

    class HttpsToLocalHttp(requests.adapters.HTTPAdapter):
        """Plays TLS for the test: an https:// URL is carried to the plain local server."""

        def send(self, request, **kw):
            request.url = "http://" + request.url.removeprefix("https://")
            return super().send(request, **kw)

    https_url = "https://" + server.url.removeprefix("http://")
    client = NeuronpediaClient(base_url=https_url, api_key=SECRET, cache_dir=tmp_path / "cache")
    client._session = requests.Session()
    client._session.mount("https://", HttpsToLocalHttp())
    assert client.feature(MODEL, SLIM, 7).index == 7
    assert server.requests[0]["headers"].get("x-api-key") == SECRET, "the https origin gets the key"
    assert "x-api-key" not in server.requests[1]["headers"], "key sent over plain http"


def test_redirect_within_the_origin_keeps_the_key(serve, tmp_path):
    def handle(req, body):
        if req.path.startswith("/api/"):
            send(req, 308, "", {"Location": "/v2" + req.path})
        else:
            send(req, 200, json.dumps(feature_body(7)))

    server = serve(handle)
    client_for(server, tmp_path, api_key=SECRET).feature(MODEL, SLIM, 7)
    assert [r["headers"].get("x-api-key") for r in server.requests] == [SECRET, SECRET]


def test_redirect_hops_are_bounded(serve, tmp_path):
    server = serve(lambda req, body: send(req, 302, "", {"Location": req.path + "x"}),
                   max_requests=40)
    with pytest.raises(StarterError, match="redirected more than") as err:
        client_for(server, tmp_path).feature(MODEL, SLIM, 7)
    assert len(server.requests) == np_mod.MAX_REDIRECTS + 1
    assert not isinstance(err.value, unreachable()), "a redirect loop is not a network failure"


@pytest.mark.parametrize("key", [SECRET + "\n", " " + SECRET, SECRET[:5] + "\t" + SECRET[5:],
                                 SECRET + "\x7f", SECRET + "\u00e9"])
def test_key_with_whitespace_or_control_characters_is_refused_at_start(key, monkeypatch, tmp_path):
    with pytest.raises(UsageError, match="api_key") as err:
        NeuronpediaClient(api_key=key, cache_dir=tmp_path)
    assert SECRET not in str(err.value) and SECRET[:8] not in str(err.value)
    monkeypatch.setenv("NEURONPEDIA_API_KEY", key)
    with pytest.raises(UsageError, match="NEURONPEDIA_API_KEY") as err:
        NeuronpediaClient(cache_dir=tmp_path, offline=True)
    assert SECRET[:8] not in str(err.value)


@pytest.mark.parametrize("status,text", [
    (400, f"bad request: key {SECRET} is not allowed here"),
    (400, json.dumps({"error": f"invalid key {SECRET}"})),
    (500, f"<html>debug: x-api-key={SECRET}</html>"),
])
def test_a_server_echoing_the_key_never_gets_it_printed(serve, tmp_path, sleeps, status, text):
    server = serve(lambda req, body: send(req, status, text))
    with pytest.raises(StarterError) as err:
        client_for(server, tmp_path, api_key=SECRET, max_retries=1).feature(MODEL, SLIM, 7)
    assert SECRET not in str(err.value) and f"HTTP {status}" in str(err.value)


def test_a_successful_body_echoing_the_key_is_scrubbed_before_caching(serve, tmp_path):
    body = feature_body(7)
    body["explanations"][0]["description"] = f"request came with {SECRET}"
    server = serve(lambda req, b: send(req, 200, json.dumps(body)))
    feature = client_for(server, tmp_path, api_key=SECRET).feature(MODEL, SLIM, 7)
    assert SECRET not in json.dumps(feature.explanations[0].__dict__)
    for path in (tmp_path / "cache").rglob("*.json"):
        assert SECRET not in path.read_text(), f"the key reached the cache file {path}"


def test_library_exceptions_are_scrubbed(monkeypatch, tmp_path):
    def boom(self, method, url, **kw):
        raise requests.exceptions.InvalidHeader("Invalid return character or leading space in "
                                                f"header: x-api-key: {SECRET!r}")

    monkeypatch.setattr(requests.Session, "request", boom)
    client = NeuronpediaClient(base_url="http://127.0.0.1:9/api", api_key=SECRET,
                               cache_dir=tmp_path)
    with pytest.raises(StarterError) as err:
        client.feature(MODEL, SLIM, 7)
    assert SECRET not in str(err.value) and "InvalidHeader" in str(err.value)
    assert SECRET not in repr(client) and SECRET not in repr(vars(client))


# --- bounds ----------------------------------------------------------------------------------

def test_search_stops_after_max_pages(serve, tmp_path):
    def endless(req, body):  # always one more page, until a runaway client gets cut off at 300
        offset = body["offset"]
        more = len(server.requests) < 300
        page = search_body(body, [offset], has_more=more, next_offset=offset + 1)
        send(req, 200, json.dumps(page))

    server = serve(endless, max_requests=300)
    hits = client_for(server, tmp_path).search_explanations(MODEL, "backtracking", layers=[SLIM])
    assert len(server.requests) == np_mod.MAX_SEARCH_PAGES, "search must stop at MAX_SEARCH_PAGES"
    assert [h.index for h in hits] == list(range(np_mod.MAX_SEARCH_PAGES))


@pytest.mark.parametrize("next_offset", [0, -3, "1", True, None])
def test_search_stops_when_next_offset_does_not_advance(serve, tmp_path, next_offset):
    def stuck(req, body):
        more = len(server.requests) < 30
        page = search_body(body, [body["offset"]], has_more=more)
        page["nextOffset"] = next_offset
        send(req, 200, json.dumps(page))

    server = serve(stuck, max_requests=30)
    client = client_for(server, tmp_path, ttl_s=0)  # no cache: a stuck client loops here
    hits = client.search_explanations(MODEL, "backtracking", layers=[SLIM])
    assert len(server.requests) == 1 and [h.index for h in hits] == [0]


def _trickle(req, chunks: list[bytes], pause: float) -> None:
    for chunk in chunks:
        req.wfile.write(chunk)
        req.wfile.flush()
        threading.Event().wait(pause)  # not time.sleep, which a later test's `sleeps` patches


def test_a_trickled_body_is_cut_off_at_the_request_deadline(serve, tmp_path):
    """Each byte arrives well inside the read timeout; only a deadline for the request stops it."""
    data = json.dumps(feature_body(7)).encode()[:300]

    def handle(req, body):
        req.send_response(200)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        _trickle(req, [data[i:i + 10] for i in range(0, len(data), 10)], 0.1)  # 3 s in all

    server = serve(handle, max_requests=1)
    with pytest.raises(StarterError, match="timed out after 0.5 s") as err:
        client_for(server, tmp_path, timeout=0.5, max_retries=0).feature(MODEL, SLIM, 7)
    assert isinstance(err.value, unreachable())


def test_trickled_headers_are_cut_off_at_the_request_deadline(serve, tmp_path):
    def handle(req, body):
        req.wfile.write(b"HTTP/1.1 200 OK\r\n")
        _trickle(req, [f"X-Pad-{i}: {'a' * 8}\r\n".encode() for i in range(30)] + [b"\r\n"], 0.1)

    server = serve(handle, max_requests=1)
    with pytest.raises(StarterError, match="timed out after 0.5 s") as err:
        client_for(server, tmp_path, timeout=0.5, max_retries=0).feature(MODEL, SLIM, 7)
    assert isinstance(err.value, unreachable())


def _padded_feature(size: int) -> bytes:
    text = json.dumps(feature_body(7))
    return (text[:-1] + ', "pad": "' + " " * (size - len(text)) + '"}').encode()


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_body_over_the_size_cap_is_refused(serve, tmp_path, declare_length):
    data = _padded_feature(np_mod.MAX_BODY_BYTES + 1024)

    def handle(req, body):
        req.send_response(200)
        if declare_length:
            req.send_header("Content-Length", str(len(data)))
        else:
            req.send_header("Connection", "close")  # the body ends when the connection does
        req.end_headers()
        req.wfile.write(data)

    server = serve(handle, max_requests=2)
    with pytest.raises(StarterError, match="larger than") as err:
        client_for(server, tmp_path).feature(MODEL, SLIM, 7)
    assert not isinstance(err.value, unreachable()) and len(str(err.value)) < 400
    assert not list((tmp_path / "cache").glob("*.json")), "an oversized body must not be cached"


def test_a_gzip_bomb_is_refused(serve, tmp_path):
    bomb = gzip.compress(_padded_feature(np_mod.MAX_BODY_BYTES * 3))
    assert len(bomb) < np_mod.MAX_BODY_BYTES // 100
    server = serve(lambda req, body: send(req, 200, bomb, {"Content-Encoding": "gzip"}),
                   max_requests=2)
    with pytest.raises(StarterError, match="larger than"):
        client_for(server, tmp_path).feature(MODEL, SLIM, 7)


def test_a_normal_gzip_body_is_read(serve, tmp_path):
    data = gzip.compress(json.dumps(feature_body(7)).encode())
    server = serve(lambda req, body: send(req, 200, data, {"Content-Encoding": "gzip"}))
    assert client_for(server, tmp_path).feature(MODEL, SLIM, 7).index == 7


@pytest.mark.parametrize("value,low,high", [
    ("nan", 0.5, 60), ("-5", 0.5, 60), ("0", 1.0, 1.0), ("9" * 400, 60, 60), ("inf", 0.5, 60),
    ("in 30 s", 25, 31), ("an hour ago", 1, 1), ("soon", 0.5, 60),
])
def test_retry_after_is_parsed_safely_with_a_floor_and_a_ceiling(serve, tmp_path, sleeps,
                                                                 value, low, high):
    dates = {"in 30 s": time.time() + 30, "an hour ago": time.time() - 3600}  # HTTP dates
    value = formatdate(dates[value], usegmt=True) if value in dates else value

    def handle(req, body):
        if len(server.requests) == 1:
            send(req, 429, "slow down", {"Retry-After": value})
        else:
            send(req, 200, json.dumps(feature_body(7)))

    server = serve(handle, max_requests=3)
    client_for(server, tmp_path, backoff_base=1.0, max_total_wait=120).feature(MODEL, SLIM, 7)
    assert len(sleeps) == 1 and low <= sleeps[0] <= high, f"Retry-After {value!r} gave {sleeps}"


def test_parse_retry_after_bounds():
    """RFC 9110 delay-seconds are digits: "-1" and "1e999" are unreadable (own backoff)."""
    assert np_mod.parse_retry_after("0") == np_mod.RETRY_AFTER_FLOOR_S
    assert np_mod.parse_retry_after("-1") is None and np_mod.parse_retry_after("1e999") is None
    assert np_mod.parse_retry_after("nan") is None and np_mod.parse_retry_after(None) is None
    assert np_mod.parse_retry_after("9" * 400) == np_mod.RETRY_AFTER_CEILING_S


# --- cache: validated and matched before it is written or served ---------------------------

def test_an_answer_for_another_feature_is_refused_and_not_cached(serve, tmp_path):
    server = serve(lambda req, body: send(req, 200, json.dumps(feature_body(99))))
    client = client_for(server, tmp_path)
    for _ in range(2):
        with pytest.raises(StarterError, match=f"{MODEL}/{SLIM}/7"):
            client.feature(MODEL, SLIM, 7)
    assert len(server.requests) == 2, "a mismatched answer was cached and replayed"
    assert not list((tmp_path / "cache").glob("*.json"))


def test_a_malformed_answer_is_not_cached(serve, tmp_path):
    replies = iter([{"modelId": MODEL, "layer": SLIM, "index": "seven"}, feature_body(7)])
    server = serve(lambda req, body: send(req, 200, json.dumps(next(replies))), max_requests=2)
    client = client_for(server, tmp_path)
    with pytest.raises(StarterError, match="unexpected response shape"):
        client.feature(MODEL, SLIM, 7)
    assert client.feature(MODEL, SLIM, 7).provenance.kind == "live", "bad answer replayed"


def test_a_search_answer_for_another_query_or_model_is_refused(serve, tmp_path):
    def handle(req, body):
        send(req, 200, json.dumps(search_body({**body, "query": "something else"}, [1])))

    server = serve(handle)
    with pytest.raises(StarterError, match="something else"):
        client_for(server, tmp_path).search_explanations(MODEL, "backtracking", layers=[SLIM])
    other_model = serve(lambda req, body: send(req, 200,
                                               json.dumps(search_body(body, [1], model="gpt2"))))
    with pytest.raises(StarterError, match="gpt2"):
        client_for(other_model, tmp_path).search_explanations(MODEL, "backtracking", layers=[SLIM])
    assert not list((tmp_path / "cache").glob("*.json"))


def _entry_path(client: NeuronpediaClient, index: int):
    client.feature(MODEL, SLIM, index)
    [path] = [p for p in (client.cache.root).glob("*.json") if f'/{index}"' in p.read_text()]
    return path


def test_a_cache_entry_for_another_feature_is_a_miss_and_is_removed(serve, tmp_path):
    def handle(req, body):
        send(req, 200, json.dumps(feature_body(int(req.path.rsplit("/")[-1]))))

    server = serve(handle)
    client = client_for(server, tmp_path)
    path7, path8 = _entry_path(client, 7), _entry_path(client, 8)
    path7.write_bytes(path8.read_bytes())  # 7's file now holds feature 8 (copied or tampered)
    assert client.feature(MODEL, SLIM, 7).index == 7 and len(server.requests) == 3
    assert json.loads(path7.read_text())["body"]["index"] == "7", "the bad entry was not replaced"


def test_a_cache_entry_of_the_wrong_shape_is_a_miss_even_offline(serve, tmp_path):
    server = serve(lambda req, body: send(req, 200, json.dumps(feature_body(4127))))
    client = client_for(server, tmp_path)
    path = _entry_path(client, 4127)
    entry = json.loads(path.read_text())
    entry["body"]["index"] = "not a number"
    path.write_text(json.dumps(entry))
    feature = client_for(server, tmp_path, offline=True).feature(MODEL, SLIM, 4127)
    assert feature.provenance.kind == "sample" and not path.exists(), "a bad entry must be removed"


@pytest.mark.parametrize("fetched_at", [1e300, math.nan, math.inf, "1700000000", None, -5, True])
def test_a_bad_fetched_at_is_a_miss_not_a_crash(serve, tmp_path, fetched_at):
    server = serve(lambda req, body: send(req, 200, json.dumps(feature_body(4127))))
    path = _entry_path(client_for(server, tmp_path), 4127)
    entry = json.loads(path.read_text())
    entry["fetched_at"] = fetched_at
    path.write_text(json.dumps(entry))
    offline = client_for(server, tmp_path, offline=True)  # offline ignores the TTL: a guard must
    assert offline.feature(MODEL, SLIM, 4127).provenance.kind == "sample"
    assert not path.exists()


def test_refresh_ignores_the_cache_and_rewrites_it(serve, tmp_path):
    server = serve(lambda req, body: send(req, 200, json.dumps(feature_body(7))))
    client_for(server, tmp_path).feature(MODEL, SLIM, 7)
    feature = client_for(server, tmp_path, refresh=True).feature(MODEL, SLIM, 7)
    assert feature.provenance.kind == "live" and len(server.requests) == 2
    assert client_for(server, tmp_path).feature(MODEL, SLIM, 7).provenance.kind == "cached"


def test_refresh_and_offline_together_are_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="refresh"):
        NeuronpediaClient(offline=True, refresh=True, cache_dir=tmp_path)


def test_an_unwritable_cache_is_a_plain_starter_error_naming_the_path(serve, tmp_path):
    # A file where the cache folder should be: unwritable even for root (a chmod'ed folder is not,
    # and CI runs as root), and the same error path as a read-only folder.
    server = serve(lambda req, body: send(req, 200, json.dumps(feature_body(7))))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    client = NeuronpediaClient(base_url=server.url, cache_dir=blocker / "cache")
    with pytest.raises(StarterError, match="MI_STARTER_CACHE") as err:
        client.feature(MODEL, SLIM, 7)
    assert str(blocker / "cache") in str(err.value)
    assert not isinstance(err.value, unreachable()), "a cache problem is not a network failure"


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "10"])
def test_a_timeout_that_is_no_deadline_is_a_usage_error(tmp_path, timeout):
    with pytest.raises(UsageError, match="timeout"):
        NeuronpediaClient(cache_dir=tmp_path, timeout=timeout)


# --- the exception taxonomy ------------------------------------------------------------------

@pytest.mark.parametrize("status", [429, 500, 503])
def test_5xx_and_429_after_retries_are_unreachable(serve, tmp_path, sleeps, status):
    server = serve(lambda req, body: send(req, status, "busy"), max_requests=5)
    with pytest.raises(StarterError) as err:
        client_for(server, tmp_path, max_retries=2).feature(MODEL, SLIM, 7)
    assert isinstance(err.value, unreachable()) and len(server.requests) == 3


def test_connection_refused_and_timeout_are_unreachable(serve, tmp_path, sleeps):
    client = NeuronpediaClient(base_url="http://127.0.0.1:9/api", cache_dir=tmp_path, max_retries=1)
    with pytest.raises(StarterError) as err:
        client.feature(MODEL, SLIM, 7)
    assert isinstance(err.value, unreachable())


@pytest.mark.parametrize("status,text", [(404, '{"error": "Feature Not Found"}'),
                                         (200, "<html>portal</html>"),
                                         (400, "plain text refusal"), (401, "no key")])
def test_answers_are_not_unreachable(serve, tmp_path, status, text):
    server = serve(lambda req, body: send(req, status, text))
    with pytest.raises(StarterError) as err:
        client_for(server, tmp_path).feature(MODEL, SLIM, 7)
    assert not isinstance(err.value, unreachable()) and len(server.requests) == 1
    assert f"HTTP {status}" in str(err.value)


def test_a_key_the_server_rejects_is_a_usage_error(serve, tmp_path):
    server = serve(lambda req, body: send(req, 401, '{"error": "invalid api key"}'))
    with pytest.raises(UsageError, match="NEURONPEDIA_API_KEY") as err:
        client_for(server, tmp_path, api_key=SECRET).feature(MODEL, SLIM, 7)
    assert SECRET not in str(err.value)
