"""A loopback server that follows OpenAI's `/v1/completions` API, for tests (issue #16).

`OpenAIServer(engine, faults=[...])` answers on 127.0.0.1 (a free port) in a daemon thread. Each
request takes the next fault from `faults` (then none); `engine(request) -> choices` writes the
answer. Engines: `ModelEngine(lm)` runs a real model through `starter.rollouts.sample` (choice i
of a request seeded s is sampled with seed s+i, as vLLM does); `FakeEngine` writes short text fixed
by the seed (or random text: a server that ignores `seed`).

Faults: "429", "429-retry-after" (Retry-After: 0), "503", "slow" (answers after `slow_s`),
"trickle" (a valid answer one byte per 0.1 s), "truncated" (half a JSON body, honest length),
"reset" (hangs up mid-body), "n-ignored" (one choice, whatever n), "echo-key" (HTTP 401 whose body
echoes the Authorization header), "echo-key-500" (the same with 500), "huge" (a body longer than
any test's cap), "bad-request" (400 with an OpenAI error object).

Bounded: a server answers at most `max_requests` requests (then hangs up), and every stall ends by
itself within `slow_s`; it records each request (`requests`) and its Authorization header.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Engine = Callable[[dict], list[dict]]  # a request body -> its choices (without "index")


class FakeEngine:
    """Deterministic short completions from the seed; `honour_seed=False` answers at random."""

    def __init__(self, honour_seed: bool = True):
        self.honour_seed = honour_seed

    def __call__(self, request: dict) -> list[dict]:
        seed = int(request.get("seed") or 0)
        choices = []
        for i in range(int(request.get("n", 1))):
            value = seed + i if self.honour_seed else random.randrange(10**6)
            choices.append({"text": f" {value % 997}+{value % 89}.", "finish_reason": "stop"})
        return choices


class ModelEngine:
    """The same model as the local path, through `starter.rollouts.sample`, with vLLM's extras."""

    def __init__(self, lm: Any):
        self.lm = lm
        self.lock = threading.Lock()  # one generate at a time: the server's threads share the model

    def _prompt_text(self, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        ids = list(prompt)
        bos = self.lm.tokenizer.bos_token_id
        start = 1 if self.lm.add_special_tokens and ids[:1] == [bos] else 0
        text = self.lm.tokenizer.decode(ids[start:], skip_special_tokens=False)
        again = self.lm.tokenizer(text, add_special_tokens=self.lm.add_special_tokens)["input_ids"]
        if list(again) != ids:
            raise ValueError("prompt token ids do not round-trip through the tokenizer")
        return text

    def __call__(self, request: dict) -> list[dict]:
        from starter import rollouts

        prompt = self._prompt_text(request["prompt"])
        stops = request.get("stop") or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        keep_stop = bool(request.get("include_stop_str_in_output"))
        choices = []
        for i in range(int(request.get("n", 1))):
            cfg = rollouts.SamplingConfig(
                temperature=float(request.get("temperature", 1.0)),
                top_p=float(request.get("top_p", 1.0)),
                max_new_tokens=int(request.get("max_tokens", 16)),
                seed=int(request.get("seed") or 0) + i, stop_strings=tuple(stops))
            with self.lock:
                done = rollouts.sample(self.lm, [prompt], 1, cfg, progress=False)[0][0]
            hit = next((s for s in stops if done.text.endswith(s)), None) if done.finished else None
            text = done.text if keep_stop or hit is None else done.text[:-len(hit)]
            choice = {"text": text, "finish_reason": "stop" if done.finished else "length",
                      "stop_reason": hit}
            if request.get("return_token_ids"):
                choice["token_ids"] = list(done.token_ids)
            choices.append(choice)
        return choices


class OpenAIServer:
    """In-process `/v1/completions` on 127.0.0.1; use as a context manager (it stops on exit)."""

    def __init__(self, engine: Engine, faults: list[str] | None = None, api_key: str | None = None,
                 max_requests: int = 60, slow_s: float = 3.0):
        self.engine = engine
        self.faults = list(faults or [])
        self.api_key = api_key  # when set, other keys get 401
        self.max_requests = max_requests
        self.slow_s = slow_s
        self.requests: list[dict] = []  # every request: path, body, authorization header
        self.answered_model: str | None = None  # the answer's `model` (None: the one asked for)
        self.closing = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                outer._serve(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def __enter__(self) -> OpenAIServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- one request ---------------------------------------------------------------------------

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        with self._lock:
            self.requests.append({"path": req.path, "body": body,
                                  "authorization": req.headers.get("Authorization")})
            count = len(self.requests)
            fault = self.faults.pop(0) if self.faults else None
        if count > self.max_requests:  # a runaway client: stop answering
            req.close_connection = True
            return
        try:
            self._answer(req, body, fault)
        except (BrokenPipeError, ConnectionResetError):  # the client hung up (deadline tests)
            req.close_connection = True

    def _answer(self, req: BaseHTTPRequestHandler, body: Any, fault: str | None) -> None:
        auth = req.headers.get("Authorization") or ""
        if fault in ("echo-key", "echo-key-500"):
            status = 401 if fault == "echo-key" else 500
            error = {"message": f"invalid key: {auth!r} rejected", "type": "auth", "code": status}
            return send_json(req, status, {"error": error})
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return send_json(req, 401, {"error": {"message": "bad key", "code": 401}})
        if req.path != "/v1/completions" or not isinstance(body, dict):
            return send_json(req, 404, {"object": "error", "message": f"no route {req.path}"})
        if body.get("model") != "served-model":
            message = f"The model `{body.get('model')}` does not exist."
            return send_json(req, 404, {"object": "error", "message": message})
        if fault == "429":
            return send_json(req, 429, {"error": {"message": "slow down"}})
        if fault == "429-retry-after":
            return send_json(req, 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        if fault == "503":
            return send_json(req, 503, {"error": {"message": "overloaded"}})
        if fault == "bad-request":
            message = "This model's maximum context length is 64 tokens."
            return send_json(req, 400, {"error": {"message": message, "code": 400}})
        if fault == "slow":
            self.closing.wait(self.slow_s)
        choices = self.engine(body)
        if fault == "n-ignored":
            choices = choices[:1]
        numbered = [{"index": i, **choice} for i, choice in enumerate(choices)]
        answer = {"id": "cmpl-test", "object": "text_completion", "created": int(time.time()),
                  "model": self.answered_model or body["model"], "choices": numbered,
                  "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
        data = json.dumps(answer).encode()
        if fault == "truncated":
            data = data[:len(data) // 2]
        if fault == "huge":
            data = b" " * (2 * 2**20) + data
        if fault == "reset":
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data[:len(data) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        if fault == "trickle":
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.send_header("Content-Type", "application/json")
            req.end_headers()
            stop_at = time.monotonic() + self.slow_s
            for i in range(len(data)):
                if self.closing.is_set() or time.monotonic() > stop_at:
                    req.close_connection = True
                    return
                req.wfile.write(data[i:i + 1])
                req.wfile.flush()
                time.sleep(0.1)
            return
        send(req, 200, data, {"Content-Type": "application/json"})


def send(req: BaseHTTPRequestHandler, status: int, data: bytes,
         headers: dict[str, str] | None = None) -> None:
    req.send_response(status)
    for key, value in {"Content-Length": str(len(data)), **(headers or {})}.items():
        req.send_header(key, value)
    req.end_headers()
    req.wfile.write(data)


def send_json(req: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:
    send(req, status, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                  **(headers or {})})
