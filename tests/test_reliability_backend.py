"""Issue 26, item 5 and the cache half of item 12: nothing a server returns is stored unchecked,
and a named pipe in the Neuronpedia cache is never read.

A loopback server (tests/openai_server.py) answers with what a broken or foreign server might send;
each answer is one BackendError line and no completion comes back.
"""

from __future__ import annotations

import os
import threading

import pytest
from openai_server import OpenAIServer

from starter import rollouts
from starter.backends import openai as backend
from starter.backends.openai import BackendError, RemoteModel, ServerConfig, sample_remote
from starter.models import get_spec

PROMPT = "Numbers: 8 19 4. Target: 31. <think>"
GREEDY = rollouts.SamplingConfig(temperature=0, max_new_tokens=8)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv(backend.API_KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def spec():
    return get_spec("tinythinker")


@pytest.fixture(scope="module")
def tokenizer(spec):
    return backend.load_tokenizer(spec)


class Fixed:
    """An engine answering one fixed choice, whatever was asked."""

    def __init__(self, choice: dict):
        self.choice = choice

    def __call__(self, request: dict) -> list[dict]:
        return [dict(self.choice) for _ in range(int(request.get("n", 1)))]


def _sample(spec, tokenizer, choice: dict, answered_model: str | None = None):
    with OpenAIServer(Fixed(choice)) as server:
        server.answered_model = answered_model
        config = ServerConfig(base_url=server.url, served_model="served-model", max_retries=0,
                              timeout_s=10.0, check_seed=False)
        remote = RemoteModel(spec, tokenizer, config)
        return remote, sample_remote(remote, [PROMPT], 1, GREEDY, progress=False)


@pytest.mark.parametrize(("choice", "words"), [
    ({"text": "x", "finish_reason": "length", "token_ids": [10**12, 5]},
     "token id 1000000000000, outside this tokenizer's vocabulary (0..47)"),
    ({"text": "x", "finish_reason": "length", "token_ids": [5, 48]},
     "token id 48, outside this tokenizer's vocabulary"),
    ({"text": "x", "finish_reason": "length", "token_ids": [5, -1]}, "token id -1"),
    ({"text": "x", "finish_reason": "length", "token_ids": [5, 2.0]}, "token id 2.0"),
    ({"text": "", "finish_reason": "stop", "token_ids": []}, "token_ids as an empty list"),
    ({"text": "a\ud800b", "finish_reason": "length"}, "lone surrogate at character 1"),
    ({"text": "a\ud800b", "finish_reason": "length", "token_ids": [5]}, "lone surrogate"),
])
def test_what_the_server_returns_is_checked_before_it_is_stored(spec, tokenizer, choice, words):
    with pytest.raises(BackendError) as err:
        _sample(spec, tokenizer, choice)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_an_answer_for_another_model_is_refused(spec, tokenizer):
    choice = {"text": "x", "finish_reason": "length", "token_ids": [5, 6]}
    words = "answered for model 'other-model', not --served-model 'served-model'"
    with pytest.raises(BackendError, match=words):
        _sample(spec, tokenizer, choice, answered_model="other-model")


def test_the_answered_model_is_recorded(spec, tokenizer):
    choice = {"text": "x", "finish_reason": "length", "token_ids": [5, 6]}
    remote, got = _sample(spec, tokenizer, choice)
    assert got[0][0].token_ids == (5, 6)
    assert remote.describe()["answered_models"] == ["served-model"]


def test_a_named_pipe_in_the_neuronpedia_cache_is_a_miss_not_a_hang(tmp_path):
    from starter.neuronpedia import _Cache

    cache = _Cache(tmp_path, ttl_s=3600)
    os.mkfifo(cache.path("k"))
    got = []
    reader = threading.Thread(target=lambda: got.append(cache.get("k")), daemon=True)
    reader.start()
    reader.join(20)
    if reader.is_alive():  # unblock the stuck reader so the test process can end
        with open(cache.path("k"), "wb"):
            pass
        pytest.fail("reading a named pipe in the cache blocked")
    assert got == [None] and not cache.path("k").exists(), "dropped like a corrupt entry"
    cache.put("k", "https://x", {"a": 1})
    assert cache.get("k")["body"] == {"a": 1}
