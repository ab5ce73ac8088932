"""The OpenAI-compatible rollouts backend against a loopback server (issue #16, section 1).

The key test: the server runs the shipped TinyThinker through `starter.rollouts.sample`, so greedy
outputs through the backend must equal the local path's exactly. The rest are the server's faults:
each gives a retry or a one-line error, and the API key never shows. Every server answers a bounded
number of requests and stops by itself; no test asserts a timing.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest
from openai_server import FakeEngine, ModelEngine, OpenAIServer

from starter import http, rollouts
from starter.backends import openai as backend
from starter.backends.openai import (
    BackendError,
    BackendUnavailable,
    RemoteModel,
    ServerConfig,
    load_remote,
    request_seed,
    sample_remote,
)
from starter.errors import StarterError, UsageError
from starter.models import get_spec

SECRET = "sk-test-secret-do-not-leak-7f3a9c"
PROMPTS = ["Numbers: 8 19 4. Target: 31. <think>", "Numbers: 3 5 7. Target: 22. <think>",
           "Numbers: 6 2 9. Target: 21. <think>"]
GREEDY = rollouts.SamplingConfig(temperature=0, max_new_tokens=40)  # 2 of 3 end on EOS
SAMPLED = rollouts.SamplingConfig(temperature=0.8, max_new_tokens=40, seed=3)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv(backend.API_KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def spec():
    return get_spec("tinythinker")


@pytest.fixture(scope="module")
def tokenizer(spec):
    return backend.load_tokenizer(spec)


@pytest.fixture(scope="module")
def lm():
    from starter.models import load_model

    return load_model("tinythinker", device="cpu")


def settings(server: OpenAIServer, **changes) -> ServerConfig:
    """Fast retries for tests: tiny backoff and Retry-After floor, a few tries."""
    options = dict(base_url=server.url, served_model="served-model", backoff_s=0.01,
                   retry_after_floor_s=0.01, retry_after_ceiling_s=0.05, max_retries=3,
                   timeout_s=10.0, concurrency=4)
    return ServerConfig(**{**options, **changes})


def remote_on(server, spec, tokenizer, **changes) -> RemoteModel:
    return RemoteModel(spec, tokenizer, settings(server, **changes))


def error_chain(err: BaseException) -> str:
    """Every message an error carries, its causes and contexts included."""
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err} {err!r}")
        err = err.__cause__ or err.__context__
    return "\n".join(parts)


# --- the key test: greedy outputs equal the local path's -----------------------------------------


@pytest.fixture(scope="module")
def local_greedy(lm):
    return rollouts.sample(lm, PROMPTS, 2, GREEDY, progress=False)


@pytest.mark.parametrize("prompt_as", ["tokens", "text"])
def test_greedy_outputs_equal_the_local_path(lm, local_greedy, prompt_as):
    local = local_greedy
    assert {row[0].finished for row in local} == {True, False}  # EOS and max_new_tokens both seen
    with OpenAIServer(ModelEngine(lm)) as server:
        remote = RemoteModel.from_loaded(lm, settings(server, prompt_as=prompt_as))
        got = sample_remote(remote, PROMPTS, 2, GREEDY, progress=False)
        bodies = [r["body"] for r in server.requests]
    assert got == local, "the backend must return exactly what rollouts.sample returns"
    assert len(bodies) == len(PROMPTS) and all(b["n"] == 1 for b in bodies)  # greedy: once each
    sent = [b["prompt"] for b in bodies]  # in the order the server got them (concurrent)
    if prompt_as == "tokens":
        assert lm.encode(PROMPTS[0]).input_ids[0].tolist() in sent
    else:
        assert PROMPTS[0] in sent and all(b["add_special_tokens"] is True for b in bodies)


class StopEngine:
    """A model that always writes MODEL_TEXT, cut at `stop` as vLLM cuts it (with or without
    its extras)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, request: dict) -> list[dict]:
        stop = request["stop"][0]
        cut = MODEL_TEXT[:MODEL_TEXT.index(stop) + len(stop)]
        keep = request.get("include_stop_str_in_output")
        choice = {"text": cut if keep else cut[:-len(stop)], "finish_reason": "stop",
                  "stop_reason": stop}
        if request.get("return_token_ids"):
            choice["token_ids"] = self.tokenizer(cut, add_special_tokens=False)["input_ids"]
        return [choice] * request["n"]


MODEL_TEXT = " Try 8*19=152. Left: 152, 4. Try 152-4=148."


@pytest.mark.parametrize("extras", [True, False])
def test_stop_strings_end_the_text_as_the_local_path_ends_it(spec, tokenizer, extras):
    """The local record keeps the stop string and the tokens that wrote it; without vLLM's extras
    the server cuts it off and sends no token ids: it comes back from `stop_reason`."""
    cfg = rollouts.SamplingConfig(temperature=0, max_new_tokens=60, stop_strings=(". Left",))
    with OpenAIServer(StopEngine(tokenizer)) as server:
        remote = remote_on(server, spec, tokenizer, vllm_extensions=extras)
        done = sample_remote(remote, PROMPTS[:1], 1, cfg, progress=False)[0][0]
        sent = server.requests[0]["body"]
    assert done.text == " Try 8*19=152. Left" and done.finished
    assert done.token_ids == tuple(tokenizer(done.text, add_special_tokens=False)["input_ids"])
    assert sent["stop"] == [". Left"] and ("include_stop_str_in_output" in sent) is extras


def test_load_remote_gives_the_models_prompt_and_tokenizer_without_weights(lm, spec):
    server = ServerConfig(base_url="http://127.0.0.1:9/v1", served_model="m")
    remote = load_remote("tinythinker", server)
    assert remote.device == "remote" and remote.spec == spec
    assert remote.prompt(raw_prompt=PROMPTS[0]) == lm.prompt(raw_prompt=PROMPTS[0])
    assert remote.prompt_ids(PROMPTS[0]) == lm.encode(PROMPTS[0]).input_ids[0].tolist()
    assert lm.tokenizer.eos_token_id in remote.eos_ids
    assert not hasattr(remote, "hf_model") and not hasattr(remote, "bridge")


# --- seeding -------------------------------------------------------------------------------------


def test_sample_j_is_the_same_whatever_n_per_request(spec, tokenizer):
    """vLLM seeds choice i of a request seeded s with s+i: chunking never changes sample j."""
    runs = []
    for step in (1, 3, 8):
        with OpenAIServer(FakeEngine()) as server:
            remote = remote_on(server, spec, tokenizer, n_per_request=step)
            runs.append(sample_remote(remote, PROMPTS[:2], 5, SAMPLED, progress=False))
            asked = [r["body"] for r in server.requests[2:]]  # after the two seed-check requests
        first = request_seed(SAMPLED.seed, PROMPTS[0], 0)
        chunks = {1: [1] * 5, 3: [3, 2], 8: [5]}[step]
        assert sorted(b["n"] for b in asked) == sorted(chunks * 2)
        mine = sorted(b["seed"] for b in asked if b["prompt"] == remote.prompt_ids(PROMPTS[0]))
        assert mine == [first + j for j in range(0, 5, step)]
    assert runs[0] == runs[1] == runs[2]
    texts = [c.text for c in runs[0][0]]
    assert len(set(texts)) == 5, "the n samples of one prompt must differ"
    assert [c.sample_index for c in runs[0][1]] == [0, 1, 2, 3, 4]


def test_a_server_that_ignores_seed_is_refused(spec, tokenizer):
    with OpenAIServer(FakeEngine(honour_seed=False)) as server:
        remote = remote_on(server, spec, tokenizer)
        with pytest.raises(BackendError, match="ignores `seed`.*check_seed=False"):
            sample_remote(remote, PROMPTS, 2, SAMPLED, progress=False)
        assert len(server.requests) == 2  # the check is two short requests, nothing else ran
        assert all(r["body"]["max_tokens"] == backend.SEED_CHECK_TOKENS for r in server.requests)


def test_the_seed_check_runs_once_per_model_and_never_when_greedy(spec, tokenizer):
    with OpenAIServer(FakeEngine()) as server:
        remote = remote_on(server, spec, tokenizer)
        sample_remote(remote, PROMPTS[:1], 2, GREEDY, progress=False)
        assert len(server.requests) == 1
        sample_remote(remote, PROMPTS[:1], 2, SAMPLED, progress=False)
        sample_remote(remote, PROMPTS[:1], 2, SAMPLED, progress=False)
        assert len(server.requests) == 1 + 2 + 1 + 1


def test_a_server_that_ignores_n_is_refused(spec, tokenizer):
    with OpenAIServer(FakeEngine(), faults=["n-ignored"]) as server:
        remote = remote_on(server, spec, tokenizer, check_seed=False)
        with pytest.raises(BackendError, match=r"1 choice\(s\) for n=4: it ignores `n`.*"
                                               "n_per_request=1"):
            sample_remote(remote, PROMPTS[:1], 4, SAMPLED, progress=False)


# --- faults: retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "429-retry-after", "503", "truncated", "reset"])
def test_transient_faults_are_retried(spec, tokenizer, fault):
    with OpenAIServer(FakeEngine(), faults=[fault, fault]) as server:
        remote = remote_on(server, spec, tokenizer)
        got = sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
        assert len(server.requests) == 3
    expected = FakeEngine()({"seed": request_seed(0, PROMPTS[0], 0), "n": 1})[0]["text"]
    assert got[0][0].text == expected and got[0][0].finished


@pytest.mark.parametrize("fault", ["slow", "trickle"])
def test_a_request_past_its_deadline_is_abandoned_and_retried(spec, tokenizer, fault):
    with OpenAIServer(FakeEngine(), faults=[fault], slow_s=3.0) as server:
        # 1.5 s: well under the fault's 3 s, well over a healthy answer even on a loaded machine
        remote = remote_on(server, spec, tokenizer, timeout_s=1.5)
        got = sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
        assert len(server.requests) >= 2 and got[0][0].finished


def test_retries_end_in_one_line_naming_the_fault(spec, tokenizer):
    with OpenAIServer(FakeEngine(), faults=["503"] * 10) as server:
        remote = remote_on(server, spec, tokenizer, max_retries=2)
        with pytest.raises(BackendUnavailable) as caught:
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
        assert len(server.requests) == 3  # 1 + max_retries, then it stops
    message = str(caught.value)
    assert "after 3 tries" in message and "HTTP 503" in message and "'overloaded'" in message
    assert "\n" not in message and isinstance(caught.value, StarterError)


def test_broken_json_every_time_is_one_line(spec, tokenizer):
    with OpenAIServer(FakeEngine(), faults=["truncated"] * 10) as server:
        remote = remote_on(server, spec, tokenizer, max_retries=1)
        with pytest.raises(BackendUnavailable, match="not valid JSON"):
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)


def test_no_server_is_a_few_quick_tries(spec, tokenizer):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    server = ServerConfig(base_url=f"http://127.0.0.1:{port}/v1", served_model="m",
                          backoff_s=0.01, max_retries=10)
    with pytest.raises(BackendUnavailable, match="could not connect") as caught:
        sample_remote(RemoteModel(spec, tokenizer, server), PROMPTS[:1], 1, GREEDY,
                      progress=False)
    assert f"after {http.CONNECT_RETRIES + 1} tries" in str(caught.value)


@pytest.mark.parametrize("value,expected", [
    ("0", 0.01), ("0.03", 0.03), ("9" * 400, 0.05), ("nan", None), ("soon", None), (None, None),
    # RFC 9110 delay-seconds are digits: these are unreadable, so the client's own backoff applies
    ("1e308", None), ("-4", None),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.01),  # a past date asks for no wait: the floor
])
def test_retry_after_is_clamped_to_floor_and_ceiling(value, expected):
    server = ServerConfig(base_url="http://127.0.0.1:9/v1", served_model="m",
                          retry_after_floor_s=0.01, retry_after_ceiling_s=0.05)
    assert backend._clamped_retry_after(value, server) == expected


# --- faults: refusals -----------------------------------------------------------------------------


def test_a_4xx_is_one_line_with_the_servers_message(spec, tokenizer):
    with OpenAIServer(FakeEngine(), faults=["bad-request"]) as server:
        remote = remote_on(server, spec, tokenizer)
        with pytest.raises(BackendError, match="HTTP 400.*maximum context length") as caught:
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
        assert len(server.requests) == 1  # a refusal is not retried
    assert "\n" not in str(caught.value)


def test_an_unknown_served_model_is_a_usage_error(spec, tokenizer):
    with OpenAIServer(FakeEngine()) as server:
        remote = remote_on(server, spec, tokenizer, served_model="nope")
        with pytest.raises(UsageError, match="--served-model 'nope'.*/models"):
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)


def test_a_body_over_the_cap_is_refused(spec, tokenizer):
    with OpenAIServer(FakeEngine(), faults=["huge"]) as server:
        remote = remote_on(server, spec, tokenizer, max_body_bytes=2**20)
        with pytest.raises(BackendError, match="larger than 1048576 bytes"):
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)


# --- the key --------------------------------------------------------------------------------------


def test_the_key_is_sent_as_a_bearer_token_and_never_shown(spec, tokenizer, monkeypatch, capsys):
    monkeypatch.setenv(backend.API_KEY_ENV, SECRET)
    with OpenAIServer(FakeEngine(), faults=["echo-key"], api_key=SECRET) as server:
        remote = remote_on(server, spec, tokenizer)
        with pytest.raises(UsageError, match="refused OPENAI_API_KEY") as refused:
            sample_remote(remote, PROMPTS[:1], 1, GREEDY)
        got = sample_remote(remote, PROMPTS[:1], 1, GREEDY)  # the right key is accepted
        sent = [r["authorization"] for r in server.requests]
    assert sent == [f"Bearer {SECRET}"] * 2 and got[0][0].finished
    assert "[redacted API key]" in str(refused.value)  # the echo was there, scrubbed
    shown = "\n".join([error_chain(refused.value), repr(remote), str(remote.describe()),
                       repr(remote.server), repr(vars(remote)), *capsys.readouterr()])
    assert SECRET not in shown
    assert remote.describe()["api_key"] == "set"


def test_a_key_echoed_in_a_5xx_never_reaches_the_message(spec, tokenizer, monkeypatch):
    monkeypatch.setenv(backend.API_KEY_ENV, SECRET)
    with OpenAIServer(FakeEngine(), faults=["echo-key-500"] * 5) as server:
        remote = remote_on(server, spec, tokenizer, max_retries=1)
        with pytest.raises(BackendUnavailable) as caught:
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
    assert SECRET not in error_chain(caught.value) and "redacted" in str(caught.value)


def test_no_key_no_header_and_a_401_says_what_to_set(spec, tokenizer):
    with OpenAIServer(FakeEngine(), api_key=SECRET) as server:
        remote = remote_on(server, spec, tokenizer)
        with pytest.raises(UsageError, match="OPENAI_API_KEY is not set"):
            sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)
        assert server.requests[0]["authorization"] is None


def test_a_key_that_cannot_be_sent_is_refused_without_showing_it(spec, tokenizer, monkeypatch):
    monkeypatch.setenv(backend.API_KEY_ENV, SECRET + "\n")
    server = ServerConfig(base_url="http://127.0.0.1:9/v1", served_model="m")
    with pytest.raises(UsageError, match="OPENAI_API_KEY has a space, control") as caught:
        RemoteModel(spec, tokenizer, server)
    assert SECRET not in str(caught.value)


# --- settings and bounds --------------------------------------------------------------------------


@pytest.mark.parametrize("url,match", [
    ("localhost:8000/v1", "use http"), ("http://u:pw-secret@h:8000/v1", "user name or password"),
    ("http://h:8000/v1/completions", "without /completions"), ("http://h:8000/v1?x=1", "query"),
    ("http://h:99999/v1", "port"),
])
def test_bad_base_urls_are_usage_errors(url, match):
    with pytest.raises(UsageError, match=match) as caught:
        ServerConfig(base_url=url, served_model="m")
    assert "pw-secret" not in str(caught.value)


def test_bad_settings_name_every_bad_field():
    with pytest.raises(UsageError) as caught:
        ServerConfig(base_url="http://h/v1", served_model="", concurrency=0, timeout_s=-1,
                     prompt_as="chat")
    message = str(caught.value)
    assert all(name in message for name in ("served_model", "concurrency", "timeout_s",
                                            "prompt_as"))


def test_concurrency_is_bounded(spec, tokenizer):
    in_flight, peak, lock = [0], [0], threading.Lock()
    fake = FakeEngine()

    def engine(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)  # overlap if the client lets requests overlap
        with lock:
            in_flight[0] -= 1
        return fake(request)

    prompts = [f"Numbers: {i} 2 3. Target: 9. <think>" for i in range(8)]
    with OpenAIServer(engine) as server:
        remote = remote_on(server, spec, tokenizer, concurrency=2)
        got = sample_remote(remote, prompts, 1, GREEDY, progress=False)
    assert 1 <= peak[0] <= 2 and len(got) == 8
    assert [row[0].prompt_index for row in got] == list(range(8))


def test_the_fallback_record_without_token_ids(spec, tokenizer):
    """No token ids from the server: re-tokenized text, EOS appended when it stopped on EOS."""
    with OpenAIServer(FakeEngine()) as server:
        remote = remote_on(server, spec, tokenizer, vllm_extensions=False)
        done = sample_remote(remote, PROMPTS[:1], 1, GREEDY, progress=False)[0][0]
    body = tokenizer(done.text, add_special_tokens=False)["input_ids"]
    assert done.token_ids == (*body, tokenizer.eos_token_id)
    assert done.n_new_tokens == len(done.token_ids) and done.finished
    assert replace(done, text="x").text == "x"  # a frozen Completion, the same record type
