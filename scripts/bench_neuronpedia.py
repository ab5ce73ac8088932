"""Benchmark: Neuronpedia feature lookups, cold (network) vs warm (on-disk cache), side by side.

A local server on 127.0.0.1 stands in for Neuronpedia and adds 50 ms to every answer (a fast real
round trip; the real site is usually slower). The same N features are fetched once cold, then again
from the warm cache by a fresh client (as a new process would), and the ratio is printed.

A second server trickles a body one byte every 0.2 s (each read well inside any read timeout);
the client's per-request deadline must end the lookup within 1.5x its timeout (the old per-read
timeout let such a server hold a lookup for 84 s).

    .venv/bin/python scripts/bench_neuronpedia.py [--n 40] [--latency-ms 50] [--deadline-s 1]
Targets: warm/cold speedup >= 100x; trickle cut off within 1.5x the deadline. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from starter.neuronpedia import FIXTURE_DIR, NeuronpediaClient, NeuronpediaUnreachable

MODEL, SOURCE = "deepseek-r1-distill-llama-8b", "15-llamascope-slimpj-res-32k"
TARGET = 100.0
DEADLINE_SLACK = 1.5  # a trickled lookup must end within this multiple of the client's timeout


def start_server(latency_s: float, hits: list[str]) -> ThreadingHTTPServer:
    template = json.loads((FIXTURE_DIR / f"feature__{MODEL}__{SOURCE}__4127.json").read_text())
    template.pop("_provenance")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            time.sleep(latency_s)
            data = json.dumps({**template, "index": self.path.rsplit("/", 1)[-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def start_trickle_server(pause_s: float) -> ThreadingHTTPServer:
    """Answers a 1000-byte body, one byte every `pause_s` seconds, until the client hangs up."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            stop = threading.Event()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    stop.wait(pause_s)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: what we measure
                return

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def time_trickle(deadline_s: float) -> float:
    """Seconds a lookup against the trickling server takes before the deadline ends it."""
    server = start_trickle_server(0.2)
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    with tempfile.TemporaryDirectory() as cache_dir:
        client = NeuronpediaClient(base_url=url, cache_dir=cache_dir, timeout=deadline_s,
                                   max_retries=0)
        start = time.perf_counter()
        try:
            client.feature(MODEL, SOURCE, 1)
        except NeuronpediaUnreachable:
            elapsed = time.perf_counter() - start
        else:
            raise AssertionError("the trickling server's answer was accepted")
    server.shutdown()
    server.server_close()
    return elapsed


def timed_fetch(client: NeuronpediaClient, indices: list[int]) -> float:
    start = time.perf_counter()
    features = client.features(MODEL, SOURCE, indices)
    assert [f.index for f in features] == indices
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="features to fetch (default 40)")
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="added server latency (default 50)")
    parser.add_argument("--deadline-s", type=float, default=1.0,
                        help="client timeout for the trickling server (default 1)")
    args = parser.parse_args()

    requests_seen: list[str] = []
    server = start_server(args.latency_ms / 1000, requests_seen)
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    indices = list(range(1000, 1000 + args.n))
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = timed_fetch(NeuronpediaClient(base_url=url, cache_dir=cache_dir), indices)
        # a fresh client, like a new run
        warm_client = NeuronpediaClient(base_url=url, cache_dir=cache_dir)
        # best of 3: less scheduler noise
        warm = min(timed_fetch(warm_client, indices) for _ in range(3))
    assert len(requests_seen) == args.n, "the warm passes must come from the cache, not the server"
    server.shutdown()
    server.server_close()

    speedup = cold / warm
    print(f"{args.n} features, {args.latency_ms:g} ms added latency")
    print(f"  cold (server): {cold * 1000:8.1f} ms  ({cold / args.n * 1000:.2f} ms/feature)")
    print(f"  warm (cache):  {warm * 1000:8.1f} ms  ({warm / args.n * 1000:.3f} ms/feature)")
    print(f"neuronpedia warm/cold speedup: {speedup:.0f}x (target >= {TARGET:.0f}x)")
    trickle = time_trickle(args.deadline_s)
    limit = DEADLINE_SLACK * args.deadline_s
    print(f"trickling server (1 byte / 0.2 s) cut off after {trickle:.2f} s "
          f"(timeout {args.deadline_s:g} s, target <= {limit:g} s)")
    return 0 if speedup >= TARGET and trickle <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
