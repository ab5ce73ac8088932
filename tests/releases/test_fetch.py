"""`mi-starter data fetch` against servers on 127.0.0.1 that redirect, lie, truncate and fail.

A toy release of three files written by the test replaces the registry; nothing touches the
internet. Every server answers a bounded number of requests.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import starter.releases.registry as registry
from starter.cli import main
from starter.errors import StarterError, UsageError
from starter.releases.fetch import FetchConfig, cache_folder, fetch_release, local_copy
from starter.releases.registry import get_release, parse_releases, releases

FILES = {  # path -> bytes of the toy release (written by us)
    "model-a/problem_1/chain.json": b'{"sentences": ["First, add.", "So 7."]}\n',
    "model-a/problem_2/chain.json": b'{"sentences": ["Wait.", "So 9."]}\n' * 50,
    "notes.txt": b"three files\n",
}
FAST = FetchConfig(backoff_s=0.0, timeout_s=5.0)  # no waiting between tries in tests


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _registry() -> dict:
    return parse_releases({"toy": {
        "title": "a toy release", "source": "github", "repository": "us/toy",
        "address": "https://example.invalid/us/toy", "revision": "a" * 40, "folder": "data",
        "url": "https://example.invalid/us/toy/{revision}/data/{path}", "licence": "ours",
        "reads": "three files", "reader": "tests:none", "local_only": None,
        "files": [{"path": p, "size": len(b), "sha256": _sha(b)} for p, b in FILES.items()],
    }})


@pytest.fixture(autouse=True)
def toy_registry(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "releases", _registry)
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MI_STARTER_DATA_URL", raising=False)


class FileServer:
    """Serves FILES under /files/; `faults[path]` (a list, one per request, then none) changes the
    answer: ("status", code), ("redirect", location), ("body", bytes), ("gzip",) (the file,
    gzip-encoded), ("truncate", n) (honest Content-Length, n bytes, hang up), ("short", n) (no
    Content-Length, n bytes, close)."""

    def __init__(self, faults: dict | None = None, max_requests: int = 100):
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.requests.append(self.path)
                if len(outer.requests) > max_requests:
                    self.close_connection = True
                    return
                pending = outer.faults.get(self.path)
                fault = pending.pop(0) if pending else None
                rel = self.path.removeprefix("/files/")
                data = FILES.get(rel)
                if fault and fault[0] == "status":
                    self._send(fault[1], b"nope\n")
                elif fault and fault[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fault[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif fault and fault[0] == "body":
                    self._send(200, fault[1])
                elif fault and fault[0] == "gzip":
                    body = gzip.compress(data)
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif fault and fault[0] in ("truncate", "short"):
                    self.send_response(200)
                    if fault[0] == "truncate":
                        self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[:fault[1]])
                    self.wfile.flush()
                    self.close_connection = True
                elif data is None:
                    self._send(404, b"not found\n")
                else:
                    self._send(200, data)

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _config(server: FileServer, **kw) -> FetchConfig:
    return FetchConfig(base_url=server.url, backoff_s=0.0, timeout_s=5.0, **kw)


def _no_part_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_fetches_every_file_verified_into_the_cache_then_nothing_the_second_time():
    with FileServer() as server:
        report = fetch_release("toy", config=_config(server))
        again = fetch_release("toy", config=_config(server))
    folder = cache_folder(get_release("toy"))
    assert report.folder == folder and folder.name == "a" * 40
    assert sorted(report.downloaded) == sorted(FILES)
    assert report.bytes_downloaded == sum(len(b) for b in FILES.values())
    assert all((folder / p).read_bytes() == b for p, b in FILES.items())
    assert again.downloaded == () and sorted(again.already_present) == sorted(FILES)
    assert len(server.requests) == 3, "the second run asked for nothing"
    assert local_copy("toy") == folder


def test_only_and_to_fetch_a_part_into_a_folder_of_yours(tmp_path):
    with FileServer() as server:
        report = fetch_release("toy", to=tmp_path / "mine", only="model-a/*",
                               config=_config(server))
    assert sorted(report.downloaded) == ["model-a/problem_1/chain.json",
                                         "model-a/problem_2/chain.json"]
    assert sorted(str(p.relative_to(tmp_path / "mine")) for p in (tmp_path / "mine").rglob("*")
                  if p.is_file()) == list(report.downloaded)
    with pytest.raises(UsageError, match=r"--only 'nothing\*' matches none of the 3 files"):
        fetch_release("toy", only="nothing*", config=FAST)


def test_a_failure_resumes_where_it_stopped_and_leaves_no_partial_file():
    second = "/files/model-a/problem_2/chain.json"
    with FileServer({second: [("status", 404)]}) as server:
        with pytest.raises(StarterError) as err:
            fetch_release("toy", config=_config(server))
        message = str(err.value)
        assert "HTTP 404" in message and "[1 of 3 files in place; run the same command again" \
            in message and "\n" not in message
        folder = cache_folder(get_release("toy"))
        assert (folder / "model-a/problem_1/chain.json").is_file()
        assert not (folder / "model-a/problem_2/chain.json").exists()
        assert _no_part_files(folder)
        with pytest.raises(UsageError, match="not in the cache .2 of 3 files missing"):
            local_copy("toy")
        report = fetch_release("toy", config=_config(server))
    assert report.already_present == ("model-a/problem_1/chain.json",)
    assert sorted(report.downloaded) == [
        "model-a/problem_2/chain.json", "notes.txt"]
    assert server.requests.count("/files/model-a/problem_1/chain.json") == 1


def test_redirects_are_followed_hop_by_hop():
    with FileServer({"/files/notes.txt": [("redirect", "/files/elsewhere/notes.txt")],
                     "/files/elsewhere/notes.txt": [("body", FILES["notes.txt"])]}) as server:
        report = fetch_release("toy", only="notes.txt", config=_config(server))
    assert report.downloaded == ("notes.txt",)
    assert server.requests == ["/files/notes.txt", "/files/elsewhere/notes.txt"]


def test_a_gzip_encoded_answer_is_inflated_then_checked():
    path = "/files/model-a/problem_2/chain.json"
    with FileServer({path: [("gzip",)]}) as server:
        report = fetch_release("toy", only="model-a/problem_2/*", config=_config(server))
    assert report.downloaded == ("model-a/problem_2/chain.json",)


def test_a_redirect_loop_and_a_redirect_to_another_scheme_are_refused():
    with FileServer({"/files/notes.txt": [("redirect", "/files/notes.txt")] * 10}) as server:
        with pytest.raises(StarterError, match="more than 2 redirects"):
            fetch_release("toy", only="notes.txt", config=_config(server, max_redirects=2))
    assert len(server.requests) == 3
    with FileServer({"/files/notes.txt": [("redirect", "file:///etc/passwd")]}) as server:
        with pytest.raises(StarterError, match="only http and https addresses are read"):
            fetch_release("toy", only="notes.txt", config=_config(server))


def test_a_checksum_mismatch_writes_nothing():
    wrong = b"three filez\n"  # the same size, other bytes
    assert len(wrong) == len(FILES["notes.txt"])
    with FileServer({"/files/notes.txt": [("body", wrong)]}) as server:
        with pytest.raises(StarterError) as err:
            fetch_release("toy", only="notes.txt", config=_config(server))
    assert "checksum mismatch: sha256 " + _sha(wrong)[:12] in str(err.value)
    assert f"registry pins {_sha(FILES['notes.txt'])[:12]}" in str(err.value)
    folder = cache_folder(get_release("toy"))
    assert not (folder / "notes.txt").exists() and _no_part_files(folder)
    assert len(server.requests) == 1, "a wrong file is not fetched again"


def test_a_longer_file_is_refused():
    with FileServer({"/files/notes.txt": [("body", FILES["notes.txt"] + b"more")]}) as server:
        with pytest.raises(StarterError, match="longer than the pinned 12 bytes"):
            fetch_release("toy", only="notes.txt", config=_config(server))


@pytest.mark.parametrize("fault, words", [
    # an honest Content-Length, then the server hangs up
    ("truncate", "truncated: the connection ended before all 1,700 bytes arrived"),
    ("short", "truncated: 20 of 1,700 bytes arrived"),  # no Content-Length, closed early
])
def test_a_truncated_file_is_tried_again_then_reported(fault, words):
    path = "/files/model-a/problem_2/chain.json"
    assert len(FILES[path.removeprefix("/files/")]) == 1700
    with FileServer({path: [(fault, 20)] * 3}) as server:
        with pytest.raises(StarterError) as err:
            fetch_release("toy", only="model-a/problem_2/*", config=_config(server))
    assert words in str(err.value) and "after 3 tries" in str(err.value)
    assert server.requests.count(path) == 3
    assert _no_part_files(cache_folder(get_release("toy")))


def test_a_truncated_file_then_a_whole_one_succeeds():
    path = "/files/model-a/problem_2/chain.json"
    with FileServer({path: [("short", 20)]}) as server:
        report = fetch_release("toy", only="model-a/problem_2/*", config=_config(server))
    assert report.downloaded == ("model-a/problem_2/chain.json",)


def test_server_errors_are_tried_again_and_a_lasting_one_is_reported(tmp_path):
    with FileServer({"/files/notes.txt": [("status", 503)]}) as server:
        assert fetch_release("toy", only="notes.txt", config=_config(server)).downloaded
    assert server.requests == ["/files/notes.txt"] * 2
    with FileServer({"/files/notes.txt": [("status", 500)] * 5}) as server:
        with pytest.raises(StarterError, match=r"notes.txt: HTTP 500 after 3 tries"):
            fetch_release("toy", to=tmp_path, only="notes.txt", config=_config(server))
    assert server.requests == ["/files/notes.txt"] * 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_is_one_line_and_exit_1_from_the_cli(monkeypatch, capsys):
    port = _closed_port()
    monkeypatch.setenv("MI_STARTER_DATA_URL", f"http://127.0.0.1:{port}")
    assert main(["data", "fetch", "toy"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: toy: model-a/problem_1/chain.json: cannot reach "
                              f"127.0.0.1:{port} (connection refused): are you offline?")
    assert not any("Traceback" in line for line in err)


def test_the_cli_fetches_from_the_mirror_env_and_lists(monkeypatch, capsys, tmp_path):
    with FileServer() as server:
        monkeypatch.setenv("MI_STARTER_DATA_URL", server.url.removesuffix("/files") + "/mirror")
        server.faults = {f"/mirror/toy/{p}": [("body", b)] for p, b in FILES.items()}
        assert main(["data", "fetch", "toy", "--to", str(tmp_path / "copy")]) == 0
    out = capsys.readouterr().out
    assert "toy: 3 files downloaded" in out and str(tmp_path / "copy") in out
    assert sorted(server.requests) == sorted(f"/mirror/toy/{p}" for p in FILES)
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "toy  a toy release" in listing and "in the cache: 0 of 3" in listing
    assert main(["data", "fetch", "tyo"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no release 'tyo'; did you mean toy? Releases: toy")


def test_a_differing_file_of_yours_is_never_overwritten_but_the_cache_is_repaired(tmp_path):
    mine = tmp_path / "mine" / "notes.txt"
    mine.parent.mkdir()
    mine.write_bytes(b"my own notes\n")
    with FileServer() as server:
        with pytest.raises(UsageError, match="notes.txt exist and differ from toy's files"):
            fetch_release("toy", to=tmp_path / "mine", config=_config(server))
        assert mine.read_bytes() == b"my own notes\n"
        assert server.requests == [], "a conflict stops the fetch before anything is fetched"
        cached = cache_folder(get_release("toy")) / "notes.txt"
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"corrupted\n")
        fetch_release("toy", only="notes.txt", config=_config(server))
    assert cached.read_bytes() == FILES["notes.txt"]


# ------------------------------------------------------------------------- the shipped registry


def test_the_shipped_registry_pins_the_forty_chains_and_the_eight_cued_files():
    shipped = registry.releases.__wrapped__() if hasattr(registry.releases, "__wrapped__") \
        else releases()
    ta, tb, mr = shipped["thought-anchors"], shipped["thought-branches"], shipped["math-rollouts"]
    chains = {f.path.rsplit("/", 1)[0] for f in ta.files}
    assert len(chains) == 40 and len(ta.files) == 200
    assert {f.path.rsplit("/", 1)[1] for f in ta.files} == {
        "problem.json", "base_solution.json", "chunks_labeled.json", "chunks_resampled.json",
        "summary.json"}
    assert {c.split("/")[0] for c in chains} == {"deepseek-r1-distill-llama-8b",
                                                 "deepseek-r1-distill-qwen-14b"}
    assert len(tb.files) == 8 and all(f.path.startswith("Professor_itc_failure_threshold")
                                      for f in tb.files)
    assert ta.licence.startswith("MIT") and tb.licence.startswith("MIT")
    assert not mr.fetchable and mr.revision is None and mr.files == ()


@pytest.mark.parametrize("change, words", [
    ({"sha256": "abc"}, "sha256 should be 64 lower-case hex digits"),
    ({"path": "../escape.json"}, "must be relative and stay inside"),
    ({"path": "/etc/passwd"}, "must be relative and stay inside"),
    ({"size": -1}, "size should be a whole number of bytes"),
])
def test_the_registry_loader_refuses_bad_files(change, words):
    entry = _registry()["toy"]
    raw = {"title": "t", "source": "github", "repository": "r", "address": "a",
           "revision": "a" * 40, "folder": "", "url": "u/{path}", "licence": "l", "reads": "r",
           "reader": "m:f", "local_only": None,
           "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} | change
                     for f in entry.files[:1]]}
    with pytest.raises(StarterError, match=words):
        parse_releases({"toy": raw})


def test_the_data_command_and_the_readers_import_without_torch():
    import subprocess
    import sys

    code = ("import sys, starter.cli, starter.commands.data, starter.releases.fetch, "
            "starter.releases.thought_anchors, starter.releases.thought_branches; "
            "starter.cli.build_parser(); sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, \
        "`mi-starter data` and the release readers must stay importable without torch"
