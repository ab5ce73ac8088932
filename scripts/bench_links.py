"""Benchmark the link checker against local servers: concurrency efficiency and the cache speed-up.

    python scripts/bench_links.py

200 unique URLs spread over 4 local hosts (4 threaded servers on 127.0.0.1, different ports) that
each answer after 100 ms; per-host cap 4, so 16 requests in flight at best. Lower bound for the first
run: 200 x 0.1 s / 16 = 1.25 s. The second run finds every verdict in the cache.

Prints, for example:
    links: 1.08x the lower bound (target <= 1.5x)
    links cache: 310x faster (target >= 50x)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

# sitekit/ is site tooling, not installed with the package: import it from this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitekit.links import CheckOptions, check_links  # noqa: E402

HOSTS = 4
URLS = 200
LATENCY = 0.1  # seconds every server waits before answering
PER_HOST = 4


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def _answer(self) -> None:
        time.sleep(LATENCY)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def serve() -> None:
    """Child process: start the servers, print their ports, serve until stdin closes."""
    servers = [_Server(("127.0.0.1", 0), _SlowHandler) for _ in range(HOSTS)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(" ".join(str(server.server_address[1]) for server in servers), flush=True)
    sys.stdin.read()


def start_servers() -> tuple[subprocess.Popen, list[int]]:
    # The servers live in their own process, as real ones do: in ours, their 16 threads would compete
    # with the checker for the GIL and we would be timing that contention instead of the checker.
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    ports = [int(port) for port in child.stdout.readline().split()]
    return child, ports


def bare_httpx_seconds(urls: list[str]) -> float:
    """The same requests through bare httpx with the same caps: what this machine allows at best."""

    async def run() -> float:
        slots = {host: asyncio.Semaphore(PER_HOST) for host in {url.split("/")[2] for url in urls}}
        async with httpx.AsyncClient() as client:

            async def head(url: str) -> None:
                async with slots[url.split("/")[2]]:
                    (await client.head(url)).raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(head(url) for url in urls))
            return time.perf_counter() - started

    return asyncio.run(run())


def timed_check(doc: Path, options: CheckOptions) -> float:
    started = time.perf_counter()
    report = check_links([doc], options)
    elapsed = time.perf_counter() - started
    if report.summary["ok"] != URLS:
        sys.exit(f"benchmark invalid: expected {URLS} ok links, got {report.summary}")
    return elapsed


def main() -> int:
    child, ports = start_servers()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            urls = [f"http://127.0.0.1:{ports[i % HOSTS]}/paper/{i}" for i in range(URLS)]
            doc = Path(tmp) / "reading_list.md"
            doc.write_text("\n".join(f"- [paper {i}]({url})" for i, url in enumerate(urls)) + "\n")
            # delay=0: the politeness delay is a courtesy to real servers, which these local ones don't
            # need. With it, each slot idles `delay` after every answer and the bound becomes
            # URLS x (LATENCY + delay) / concurrency; we want to measure our scheduling overhead against
            # the pure-latency bound instead.
            options = CheckOptions(max_per_host=PER_HOST, delay=0.0, timeout=5.0,
                                   cache_path=Path(tmp) / "links.json")
            first = timed_check(doc, options)
            cached = timed_check(doc, options)
            bare = bare_httpx_seconds([url.replace("/paper/", "/bare/") for url in urls])
    finally:
        child.stdin.close()
        child.wait(timeout=10)

    bound = URLS * LATENCY / (HOSTS * PER_HOST)
    print(f"first run {first:.2f} s, lower bound {bound:.2f} s; cached run {cached * 1000:.1f} ms")
    print(f"reference: bare httpx HEADs with the same caps take {bare:.2f} s ({bare / bound:.2f}x the bound) "
          "on this machine now")
    print(f"links: {first / bound:.2f}x the lower bound (target <= 1.5x)")
    print(f"links cache: {first / cached:.0f}x faster (target >= 50x)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(main())
