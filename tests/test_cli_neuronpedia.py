"""`mi-starter neuronpedia ...` through `starter.cli.main`: output and exit codes 0/1/2."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import starter.cli as cli
import starter.neuronpedia as np_mod

MODEL, SLIM = "deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k"
SECRET = "np-secret-key-do-not-leak-1234"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    # Only this command: the others are tested in their own files and may import torch.
    monkeypatch.setattr(cli, "COMMANDS", {"neuronpedia": cli.COMMANDS["neuronpedia"]})
    for var in ("NEURONPEDIA_API_URL", "NEURONPEDIA_API_KEY", "NEURONPEDIA_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path))
    monkeypatch.setattr(np_mod.time, "sleep", lambda s: None)  # retries without real waiting


@pytest.fixture
def server(monkeypatch):
    """A local server answering 404 for feature 404, 429 for feature 429, and a feature otherwise."""
    seen_keys: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen_keys.append(self.headers.get("x-api-key"))
            index = self.path.rsplit("/", 1)[-1]
            status = int(index) if index in {"404", "429"} else 200
            body = {"error": "Feature Not Found"} if status == 404 else "slow down" if status == 429 else {
                "modelId": MODEL, "layer": SLIM, "index": index, "explanations": [
                    {"description": "live description", "explanationModelName": "m", "scores": []}]}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("NEURONPEDIA_API_URL", f"http://127.0.0.1:{httpd.server_address[1]}/api")
    yield seen_keys
    httpd.shutdown()
    httpd.server_close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["neuronpedia", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_feature_offline_prints_everything_and_provenance(capsys):
    code, out, err = run(capsys, "feature", MODEL, SLIM, "4127", "--offline")
    assert code == 0, err
    assert "[sample] sentence-initial 'Wait'" in out and "explainer: gpt-4o-mini, score: 0.74" in out
    assert "top positive logits: ' Wait' +0.92" in out and "max activation: 11.8" in out
    assert f"page: https://www.neuronpedia.org/{MODEL}/{SLIM}/4127" in out
    assert "provenance: sample data in Neuronpedia's format, not fetched from Neuronpedia" in out


def test_feature_json(capsys):
    code, out, _ = run(capsys, "feature", MODEL, SLIM, "4127", "--offline", "--json")
    data = json.loads(out)
    assert code == 0 and data["index"] == 4127 and data["provenance"]["kind"] == "sample"


def test_search_offline(capsys):
    code, out, _ = run(capsys, "search", MODEL, "final answer", "--layers", SLIM, "--limit", "2", "--offline")
    assert code == 0 and "2 hit(s)" in out and f"{SLIM}/30288" in out
    assert out.count("provenance: sample data") == 1


def test_search_json(capsys):
    code, out, _ = run(capsys, "search", MODEL, "hint", "--offline", "--json")
    hits = json.loads(out)
    assert code == 0 and hits[0]["index"] == 6543 and hits[0]["query"] == "hint"


def test_not_available_offline_exits_1_with_one_line(capsys):
    code, out, err = run(capsys, "feature", MODEL, SLIM, "1", "--offline")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "not available offline" in err


def test_non_integer_index_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["neuronpedia", "feature", MODEL, SLIM, "four"])
    assert exit_info.value.code == 2 and "invalid int value: 'four'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["search", MODEL, "ab", "--offline"],
                                  ["search", MODEL, "wait", "--limit", "0", "--offline"]])
def test_bad_search_usage_exits_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ")


def test_online_feature_sends_key_but_never_prints_it(capsys, server, monkeypatch):
    monkeypatch.setenv("NEURONPEDIA_API_KEY", SECRET)
    code, out, err = run(capsys, "feature", MODEL, SLIM, "7")
    assert code == 0 and "live description" in out and "provenance: fetched from Neuronpedia" in out
    code404, out404, err404 = run(capsys, "feature", MODEL, SLIM, "404")
    assert code404 == 1 and err404 == f"error: feature not found: {MODEL}/{SLIM}/404 " \
        f"(HTTP 404 from {np_mod.os.environ['NEURONPEDIA_API_URL']}/feature/{MODEL}/{SLIM}/404)\n"
    assert server == [SECRET, SECRET], "the key should travel in the x-api-key header"
    assert SECRET not in out + err + out404 + err404


def test_rate_limited_after_retries_exits_1(capsys, server):
    code, _, err = run(capsys, "feature", MODEL, SLIM, "429")
    assert code == 1 and "HTTP 429" in err and "rate limit" in err and len(server) == 6


def test_unreachable_exits_1(capsys, monkeypatch):
    monkeypatch.setenv("NEURONPEDIA_API_URL", "http://127.0.0.1:9/api")
    code, _, err = run(capsys, "search", MODEL, "backtracking")
    assert code == 1 and "could not connect" in err and "--offline" in err


def test_refresh_asks_again_instead_of_the_cache(capsys, server):
    assert run(capsys, "feature", MODEL, SLIM, "7")[0] == 0
    code, out, _ = run(capsys, "feature", MODEL, SLIM, "7")
    assert code == 0 and "provenance: from the local cache" in out and len(server) == 1
    code, out, _ = run(capsys, "feature", MODEL, SLIM, "7", "--refresh")
    assert code == 0 and "provenance: fetched from Neuronpedia" in out and len(server) == 2


def test_refresh_with_offline_exits_2(capsys):
    code, out, err = run(capsys, "search", MODEL, "wait", "--refresh", "--offline")
    assert code == 2 and out == "" and "--refresh" in err and err.count("\n") == 1


@pytest.mark.parametrize("key", [SECRET + "\n", " " + SECRET])
def test_a_key_with_whitespace_exits_2_without_printing_it(capsys, server, monkeypatch, key):
    monkeypatch.setenv("NEURONPEDIA_API_KEY", key)
    code, out, err = run(capsys, "feature", MODEL, SLIM, "7")
    assert code == 2 and out == "" and err.count("\n") == 1 and "NEURONPEDIA_API_KEY" in err
    assert SECRET not in err and server == [], "a key that cannot be sent is refused before a request"


def test_unreachable_is_the_taxonomy_error(capsys, monkeypatch):
    monkeypatch.setenv("NEURONPEDIA_API_URL", "http://127.0.0.1:9/api")
    client = np_mod.NeuronpediaClient()
    with pytest.raises(np_mod.NeuronpediaUnreachable):
        client.feature(MODEL, SLIM, 1)
