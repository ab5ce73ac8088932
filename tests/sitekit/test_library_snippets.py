"""Execute every snippet on the libraries page (docs/data/libraries.yaml), so the docs never rot.

Snippets run in-process with the network blocked: only 127.0.0.1 may be reached. The Neuronpedia
snippet is pointed at a local server that answers in the shape of Neuronpedia's feature API.
"""

from __future__ import annotations

import json
import runpy
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sitekit import catalog

pytestmark = pytest.mark.slow  # imports torch, transformer-lens, sae-lens and nnsight (~20 s in all)

LIBRARIES = {lib.id: lib for lib in catalog.load_libraries().libraries}
NEURONPEDIA = "https://www.neuronpedia.org"

# What each snippet must print: real facts (release ids, repos, shapes), not just "it ran".
EXPECTED_OUTPUT = {
    "transformerlens": ["torch.Size([1, 4, 8, 8])", "logit change from ablating L1H0:"],
    "saelens": ["torch.Size([4, 256]) torch.Size([4, 64])", "releases, e.g."],
    "dictionary-learning": ["torch.Size([4, 256]) torch.Size([4, 64])"],
    "nnsight": ["torch.Size([1, 8, 32]) torch.Size([1, 8, 100])"],
    "neuronpedia": ["[test fixture] the word 'Wait' starting a self-correction", "' Wait'",
                    "https://www.neuronpedia.org/deepseek-r1-distill-llama-8b/15-llamascope-slimpj-res-32k/12876"],
    "gemma-scope": ["google/gemma-scope-2b-pt-res for gemma-2-2b", "layer_12/width_16k/canonical", "gemma-2-2b/12-gemmascope-res-16k"],
    "llama-scope": ["fnlp/Llama-Scope-R1-Distill for deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
                    "l15r_800m_openr1_math -> deepseek-r1-distill-llama-8b/15-llamascope-openr1-res-32k"],
    "arena-sae": ["top latents on the last token:"],
}

FEATURE = {  # a trimmed response of GET /api/feature/{model}/{sae}/{index}, same field names
    "modelId": "deepseek-r1-distill-llama-8b",
    "layer": "15-llamascope-slimpj-res-32k",
    "index": "12876",
    "explanations": [{"description": "[test fixture] the word 'Wait' starting a self-correction",
                      "explanationModelName": "fixture", "typeName": "oai_token-act-pair"}],
    "pos_str": [" Wait", " wait", " Hmm", " Actually", " Hold"],
    "pos_values": [1.2, 1.1, 0.9, 0.8, 0.7],
    "neg_str": [" Therefore"],
    "neg_values": [-0.4],
    "activations": [],
}


@pytest.fixture
def offline(monkeypatch) -> None:
    """Refuse every connection that does not go to 127.0.0.1, and keep Hugging Face offline."""
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a snippet tried to reach {address}; snippets must run offline")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def neuronpedia_server() -> Iterator[tuple[str, list[str]]]:
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            requested.append(self.path)
            expected = f"/api/feature/{FEATURE['modelId']}/{FEATURE['layer']}/{FEATURE['index']}"
            body, status = (json.dumps(FEATURE).encode(), 200) if self.path == expected else (b'{"message":"not found"}', 404)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requested
    finally:
        server.shutdown()
        server.server_close()


def run_snippet(source: str, path: Path, capsys) -> str:
    """Run the snippet as a file, the way a reader would after pasting it (nnsight reads its source back)."""
    path.write_text(source, encoding="utf-8")
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


def test_every_library_has_expectations():
    assert set(EXPECTED_OUTPUT) == set(LIBRARIES), "add the new library's expected output to EXPECTED_OUTPUT"


# TransformerLens 3.x marks HookedTransformer deprecated in favour of TransformerBridge; the snippet
# still teaches it because ARENA and SAELens build on it (see the note in the snippet).
@pytest.mark.filterwarnings("ignore::DeprecationWarning:transformer_lens")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:sae_lens")
@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")
@pytest.mark.parametrize("lib_id", [lib_id for lib_id in LIBRARIES if lib_id != "neuronpedia"])
def test_snippet_runs_offline(lib_id, offline, tmp_path, capsys):
    out = run_snippet(LIBRARIES[lib_id].snippet, tmp_path / f"{lib_id.replace('-', '_')}.py", capsys)
    for expected in EXPECTED_OUTPUT[lib_id]:
        assert expected in out, f"{lib_id} snippet printed:\n{out}\nbut not {expected!r}"


def test_neuronpedia_snippet_against_local_api(offline, neuronpedia_server, tmp_path, capsys):
    base_url, requested = neuronpedia_server
    snippet = LIBRARIES["neuronpedia"].snippet
    assert f'NEURONPEDIA = "{NEURONPEDIA}"' in snippet, "the snippet must name the API host in NEURONPEDIA so tests can redirect it"
    local = snippet.replace(f'NEURONPEDIA = "{NEURONPEDIA}"', f'NEURONPEDIA = "{base_url}"')
    out = run_snippet(local, tmp_path / "neuronpedia.py", capsys).replace(base_url, NEURONPEDIA)
    assert requested == ["/api/feature/deepseek-r1-distill-llama-8b/15-llamascope-slimpj-res-32k/12876"]
    for expected in EXPECTED_OUTPUT["neuronpedia"]:
        assert expected in out, f"neuronpedia snippet printed:\n{out}\nbut not {expected!r}"


def test_offline_guard_blocks_the_internet(offline):
    with socket.socket() as sock, pytest.raises(AssertionError, match="snippets must run offline"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed, and never reached here
