"""A scripted fault server on 127.0.0.1 for the link checker's tests (no internet).

The server answers from a script per path (e.g. 429, 429, 200), counts every request and records
when it arrived, so tests can assert the verdict, how many fetches it cost and how long the checker
waited between them. It can drip a response a byte at a time and send raw (e.g. gzip) bodies.
Every answer is bounded: a drip stops when its bytes are sent or the client hangs up.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sitekit.links import CheckOptions, LinkResult, check_links

# Small timings so each file runs in a few seconds.
FAST = dict(timeout=0.5, retries=2, backoff=0.01, delay=0.0, min_retry_after=0.01,
            max_retry_after=1.0)

HTML = "text/html; charset=utf-8"


@dataclass
class Answer:
    """One scripted response."""

    status: int = 200  # HTTP status
    headers: dict[str, str] = field(default_factory=dict)  # extra headers
    body: str | bytes = ""  # str is UTF-8 encoded; bytes are sent as they are (e.g. gzip)
    delay: float = 0.0  # seconds to wait before answering
    drip: float = 0.0  # when > 0: send the whole response one byte per `drip` seconds


class ScriptedServer(ThreadingHTTPServer):
    """path -> list of answers, consumed in order (the last one repeats); counts (method, path)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[str, list[Answer]] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # path -> time.monotonic() stamps
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def route(self, path: str, *answers: Answer) -> str:
        self.scripts[path] = list(answers)
        return self.base + path

    def total_hits(self, path: str) -> int:
        return sum(count for (_method, hit_path), count in self.hits.items() if hit_path == path)

    def next_answer(self, method: str, path: str) -> Answer:
        with self.lock:
            self.hits[(method, path)] += 1
            self.arrivals[path].append(time.monotonic())
            script = self.scripts.get(path, [Answer(404)])
            return script.pop(0) if len(script) > 1 else script[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        answer = self.server.next_answer(self.command, self.path)
        if answer.delay:
            time.sleep(answer.delay)
        body = answer.body.encode() if isinstance(answer.body, str) else answer.body
        try:
            if answer.drip:
                self._drip(answer, body)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass

    def _drip(self, answer: Answer, body: bytes) -> None:
        head = [f"HTTP/1.1 {answer.status} OK", f"Content-Length: {len(body)}",
                *(f"{name}: {value}" for name, value in answer.headers.items()), "", ""]
        raw = "\r\n".join(head).encode() + (body if self.command != "HEAD" else b"")
        for index in range(len(raw)):
            self.wfile.write(raw[index:index + 1])
            self.wfile.flush()
            time.sleep(answer.drip)
        self.close_connection = True

    do_GET = do_HEAD = _answer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server():
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_urls(tmp_path: Path, *urls: str, **options) -> dict[str, LinkResult]:
    """Check URLs cited from one Markdown file; results by URL."""
    doc = write(tmp_path / "cites.md", "\n".join(f"- <{url}>" for url in urls))
    report = check_links([doc], CheckOptions(**{**FAST, **options}))
    return {link.url: link for link in report.links}


@pytest.fixture
def built_site(tmp_path) -> Path:
    """A tiny built site: directory URLs, anchors, an absolute link with a base path, 2 breaks."""
    site = tmp_path / "site"
    write(site / "index.html", """<html><head>
<link rel="canonical" href="https://example.org/hub/">
<link rel="alternate" hreflang="zh" href="/hub/zh/">
<link rel="stylesheet" href="assets/missing.css">
</head><body>
<a href="guide/">guide</a>
<a href="guide/#setup">setup</a>
<a href="guide/index.html#install">broken anchor</a>
<a href="missing/">broken page</a>
<a href="#top">top</a> <a href="#intro">intro</a><h2 id="intro">Intro</h2>
<a href="/hub/guide/">absolute with base</a>
<a href="mailto:someone@example.org">mail</a>
<a href="javascript:void(0)">js</a>
</body></html>""")
    write(site / "guide" / "index.html", """<h1 id="guide">Guide</h1><h2 id="setup">Setup</h2>
<a href="../">home</a> <a href="../#intro">home intro</a> <img src="../img/plot.png">""")
    write(site / "img" / "plot.png", "png")
    return site
