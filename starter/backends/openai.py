"""Rollouts from an OpenAI-compatible server (vLLM, SGLang, a hosted API) through `/v1/completions`.

Raw-prompt continuation, not chat turns: prefix resampling continues `prompt + prefix` as text.
The prompt is made here by the model's own tokenizer (`RemoteModel.prompt`, the same code as
`LoadedModel.prompt`) and, by default, sent as its token ids, so the server sees exactly the tokens
the local path feeds `generate`. Completions come back as `starter.sampling.Completion` records.

    >>> server = ServerConfig(base_url="http://127.0.0.1:8000/v1/", served_model="r1")
    >>> server.base_url, server.completions_url
    ('http://127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1/completions')
    >>> remote = load_remote("tinythinker", server)  # doctest: +SKIP
    >>> cfg = SamplingConfig(temperature=0.6, max_new_tokens=64, seed=0)
    >>> prompt = remote.prompt(raw_prompt="Numbers: 8 19 4. Target: 31. <think>")  # doctest: +SKIP
    >>> runs = sample_remote(remote, [prompt], n=8, cfg=cfg)  # doctest: +SKIP

Seeding. Sample j of prompt P is asked for with seed `request_seed(cfg.seed, P, j)` = a 31-bit
key of (cfg.seed, P) plus j. A request for samples j0 .. j0+m-1 sends n=m and the seed of j0:
vLLM draws choice i of a request seeded s with seed s+i (vllm/v1/engine/parallel_sampling.py), so
on vLLM sample j gets the same seed whatever `n_per_request`, and a resumed run asks for what the
killed one would have. Other servers may seed the choices of one request otherwise: set
`n_per_request=1` there (one request per sample). The remote stream is not the local sampler's
(`rollouts.sequence_key` drives a Gumbel-max sampler the server does not have): at temperature > 0
remote and local samples differ; greedy (temperature 0) outputs are equal on the same weights.

What the client promises, whatever the server does:
- The key comes from `OPENAI_API_KEY` (or `api_key=`) and is sent only as `Authorization: Bearer`
  to the configured origin; redirects are not followed. It never appears in a message, a repr or
  `RemoteModel.describe()` (what a manifest records): every error text is scrubbed of it.
- At most `concurrency` requests in flight; each has one wall-clock deadline (`timeout_s`: connect,
  queue, generate, body) and a body of at most `max_body_bytes`.
- 429, 5xx, timeouts, broken connections and unparseable bodies are retried `max_retries` times
  with exponential backoff and jitter, or after `Retry-After` clamped to [floor, ceiling].
- A request that still fails raises `BackendUnavailable`; a refusal (4xx) raises `BackendError`
  with the server's message, or `UsageError` for a refused key (401/403) or an unknown model (404).
  Both are `StarterError`s: the CLI shows them as one line.
- Nothing the server returns is stored unchecked: token ids must be a non-empty list inside the
  tokenizer's vocabulary, text must be valid Unicode (no lone surrogate), and the answer's `model`
  must be the served model asked for (recorded in `describe()["answered_models"]`); otherwise
  `BackendError`, one line, and nothing is stored.
- A server that returns fewer choices than `n` asked for, or (`check_seed`, once per model, at
  temperature > 0) different text for the same seeded request twice, is refused with an error
  saying what to change.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence
from urllib.parse import urlsplit

import requests

from starter import cot, http
from starter.errors import Secret, StarterError, UsageError
from starter.http import DeadlinePassed, Reply, excerpt, run_before_deadline
from starter.sampling import Completion, SamplingConfig, completion_of, eos_ids, sequence_key

if TYPE_CHECKING:
    from starter.models import LoadedModel, ModelSpec

__all__ = [
    "API_KEY_ENV", "BackendError", "BackendUnavailable", "RemoteModel", "ServerConfig",
    "check_seed", "load_remote", "request_seed", "sample_remote",
]

API_KEY_ENV = "OPENAI_API_KEY"  # the convention of OpenAI-compatible clients
MAX_BODY_BYTES = 64 * 2**20  # n=64 choices of 16k tokens with their token ids fit with room
PROMPT_MODES = ("tokens", "text")
SEED_CHECK_TOKENS = 16  # tokens the seed check asks for (twice)


class BackendError(StarterError):
    """The server refused a request or answered something unusable (exit status 1, one line)."""


class BackendUnavailable(BackendError):
    """No usable answer after the retries: no connection, deadlines, 429 or 5xx, broken bodies."""


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to talk to it; safe to record (it holds no key).

    >>> ServerConfig(base_url="ftp://x/v1", served_model="m")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: bad --base-url 'ftp://x/v1': use http(s)://HOST[:PORT]/v1 ...
    """

    base_url: str  # the API root, e.g. http://HOST:8000/v1 (`/completions` is appended)
    served_model: str  # the model name the server knows (`vllm serve NAME` or --served-model-name)
    concurrency: int = 8  # requests in flight at once (the server batches them)
    n_per_request: int = 16  # most choices one request asks for; 1 = one request per sample
    prompt_as: str = "tokens"  # "tokens": the local tokenizer's ids (exact); "text": the text
    vllm_extensions: bool = True  # send vLLM's extra fields: token ids back, stop strings kept
    timeout_s: float = 900.0  # wall-clock deadline of one request: connect, queue, generate, body
    max_retries: int = 5  # retries of one request after 429/5xx/timeouts/broken bodies
    backoff_s: float = 1.0  # first wait without Retry-After; doubles per retry, times 0.5-1 jitter
    retry_after_floor_s: float = 1.0  # shortest wait a Retry-After header can ask for
    retry_after_ceiling_s: float = 60.0  # longest wait a Retry-After header can ask for
    max_body_bytes: int = MAX_BODY_BYTES  # largest answer accepted
    check_seed: bool = True  # before the first sampled call: the same seeded request twice agrees

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", _checked_base_url(self.base_url))
        problems = []
        if not isinstance(self.served_model, str) or not self.served_model.strip():
            problems.append(f"served_model={self.served_model!r} (use the name the server serves)")
        for name in ("concurrency", "n_per_request", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r} (use a whole number >= 1)")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) \
                or self.max_retries < 0:
            problems.append(f"max_retries={self.max_retries!r} (use a whole number >= 0)")
        for name in ("timeout_s", "backoff_s", "retry_after_floor_s", "retry_after_ceiling_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not (0 < value < math.inf):
                problems.append(f"{name}={value!r} (use a positive number of seconds)")
        if not problems and self.retry_after_floor_s > self.retry_after_ceiling_s:
            problems.append(f"retry_after_floor_s={self.retry_after_floor_s!r} is above "
                            f"retry_after_ceiling_s={self.retry_after_ceiling_s!r}")
        if self.prompt_as not in PROMPT_MODES:
            problems.append(f"prompt_as={self.prompt_as!r} (use one of {', '.join(PROMPT_MODES)})")
        if problems:
            raise UsageError("bad server settings: " + "; ".join(problems))

    @property
    def completions_url(self) -> str:
        return self.base_url + "/completions"


def _checked_base_url(url: Any) -> str:
    """The base URL without a trailing slash; UsageError naming it when it cannot be used."""
    hint = "use http(s)://HOST[:PORT]/v1 (the API root that /completions hangs off)"
    if not isinstance(url, str):
        raise UsageError(f"bad --base-url {url!r}: {hint}")
    parts = urlsplit(url.strip())
    shown = excerpt(url, 80)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad --base-url {shown}: {hint}")
    if parts.username or parts.password:
        raise UsageError("bad --base-url: it carries a user name or password (not shown); put the "
                         f"key in {API_KEY_ENV} instead, and {hint}")
    if parts.query or parts.fragment:
        raise UsageError(f"bad --base-url {shown}: no ?query or #fragment; {hint}")
    try:
        _ = parts.port  # urllib checks the port only when it is read
    except ValueError:
        raise UsageError(f"bad --base-url {shown}: the port is not a number 1-65535; {hint}"
                         ) from None
    base = url.strip().rstrip("/")
    if base.endswith("/completions"):
        raise UsageError(f"bad --base-url {shown}: give the API root without /completions, "
                         "e.g. http://HOST:8000/v1")
    return base


def _read_key(api_key: str | None) -> Secret | None:
    """The key (argument, else OPENAI_API_KEY), or None when unset; refused if it cannot be sent."""
    where = "the api_key argument" if api_key else API_KEY_ENV
    return http.checked_key(api_key or os.environ.get(API_KEY_ENV), where)


class _Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer KEY` (an auth object, so a ~/.netrc entry cannot replace it)."""

    def __init__(self, key: Secret):
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.key.reveal()}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(<redacted>)"


# --------------------------------------------------------------------------------- the remote model


class RemoteModel:
    """A model served elsewhere: its registry spec and local tokenizer, no weights.

    Stands in for a `LoadedModel` in black-box work: `prompt(...)`, `tokenizer`, `spec`,
    `device == "remote"`; `rollouts.sample` hands it to `sample_remote`. Nothing white-box
    (bridge, hooks, activations) exists here.
    """

    device = "remote"  # what run records and summaries print where a torch device would be
    dtype = "remote"  # the server decides (vllm serve --dtype)

    def __init__(self, spec: ModelSpec, tokenizer: Any, server: ServerConfig,
                 api_key: str | None = None, eos_ids: Sequence[int] = ()):
        self.spec = spec  # registry entry: prompt format, thinking, ...
        self.tokenizer = tokenizer  # the model's own tokenizer, loaded locally
        self.server = server
        ids = [*eos_ids, tokenizer.eos_token_id]
        self.eos_ids = sorted({i for i in ids if i is not None})  # tokens that end a completion
        self._key = _read_key(api_key)
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._seed_checked = False
        self.answered_models: set[str] = set()  # the `model` every answer named (recorded)

    @classmethod
    def from_loaded(cls, model: LoadedModel, server: ServerConfig,
                    api_key: str | None = None) -> RemoteModel:
        """Reuse a loaded model's spec, tokenizer and EOS tokens (e.g. to compare both paths)."""

        return cls(model.spec, model.tokenizer, server, api_key=api_key, eos_ids=eos_ids(model))

    @property
    def add_special_tokens(self) -> bool:
        """Whether the tokenizer adds BOS when encoding a prompt (chat prompts already hold it)."""
        return not cot.get_prompt_format(self.spec.prompt_format).includes_special_tokens

    def prompt(self, question: str | None = None, raw_prompt: str | None = None) -> str:
        """The model's prompt for a question (chat models) or a raw prompt (the organism)."""
        return cot.build_prompt(self.spec.prompt_format, self.tokenizer, question=question,
                                raw_prompt=raw_prompt)

    def prompt_ids(self, text: str) -> list[int]:
        """The prompt's token ids exactly as `LoadedModel.encode` makes them (without padding)."""
        return list(self.tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"])

    def describe(self) -> dict[str, Any]:
        """What a manifest may record: the server settings and whether a key is set (never it)."""
        return {"backend": "openai", **asdict(self.server),
                "api_key": "set" if self._key else "unset", "model": self.spec.name,
                "answered_models": sorted(self.answered_models)}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __repr__(self) -> str:
        key = "set" if self._key else "unset"
        return (f"RemoteModel(model={self.spec.name!r}, base_url={self.server.base_url!r}, "
                f"served_model={self.server.served_model!r}, api_key={key})")

    def _scrub(self, text: str) -> str:
        if self._key is None:
            return text
        return text.replace(self._key.reveal(), http.REDACTED)

    def _http(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = requests.Session()
                adapter = requests.adapters.HTTPAdapter(pool_maxsize=2 * self.server.concurrency)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session


def _model_folder(spec: ModelSpec) -> Path:
    """The folder of a package-dir, random-init or path model."""
    from starter import models

    return (Path(spec.folder_location) if spec.source == "path"
            else models.PACKAGE_DIR / spec.folder_location)


def load_tokenizer(spec: ModelSpec) -> Any:
    """The tokenizer `load_model` would load for `spec`, without weights (left-padded, a pad)."""
    from starter import models

    if spec.source in ("package-dir", "random-init", "path"):
        folder = _model_folder(spec)
        if not any((folder / name).is_file() for name in models.TOKENIZER_FILES):
            raise StarterError(f"{spec.name}: no tokenizer in {folder}; it ships with the "
                               "package (reinstall), or pass a folder saved with save_pretrained()")
        tokenizer = models._local_tokenizer(folder)
    elif spec.source == "hub":
        from huggingface_hub import try_to_load_from_cache
        from transformers import AutoTokenizer

        cached = isinstance(try_to_load_from_cache(spec.repo_id, "tokenizer_config.json"), str)
        if not cached and (models._hub_offline() or not models._hub_reachable()):
            why = ("HF_HUB_OFFLINE is set" if models._hub_offline()
                   else "the Hugging Face hub cannot be reached")
            models._raise_unavailable(spec, f"its tokenizer is not in the local Hugging Face "
                                            f"cache and {why}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(spec.hf_id)
        except OSError as err:
            models._raise_unavailable(spec, str(err).splitlines()[0])
    else:  # embedded-gguf
        import importlib.util

        from transformers import AutoTokenizer

        package, gguf_file = spec.folder_location.split("/", 1)
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise StarterError(f"{spec.name}: package {package!r} is not installed; run "
                               "`make install`")
        folder = Path(found.submodule_search_locations[0])
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def _generation_eos_ids(spec: ModelSpec) -> list[int]:
    """EOS ids from the model's generation_config.json when it is on disk (none otherwise)."""

    if spec.source in ("package-dir", "path"):
        path: Any = _model_folder(spec) / "generation_config.json"
    elif spec.source == "hub":
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(spec.repo_id, "generation_config.json")
    else:
        return []
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        return []
    try:
        configured = json.loads(Path(path).read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError, AttributeError):
        return []
    ids = configured if isinstance(configured, list) else [configured]
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def load_remote(name: str, server: ServerConfig, api_key: str | None = None) -> RemoteModel:
    """A `RemoteModel` for registry name (or folder / HF id) `name`: its tokenizer, no weights.

    The key defaults to `OPENAI_API_KEY`; the server is not contacted here.
    """
    from starter.models import get_spec

    spec = get_spec(name)
    return RemoteModel(spec, load_tokenizer(spec), server, api_key=api_key,
                       eos_ids=_generation_eos_ids(spec))


# ---------------------------------------------------------------------------------------- sampling


def request_seed(seed: int, prompt: str, sample_index: int) -> int:
    """The `seed` field asking for sample `sample_index` of `prompt` (31-bit key + index).

    >>> request_seed(0, "What is 2+3?", 5) - request_seed(0, "What is 2+3?", 0)
    5
    >>> 0 <= request_seed(0, "x", 0) < 2**31 and request_seed(1, "x", 0) != request_seed(0, "x", 0)
    True
    """
    return (sequence_key(seed, prompt, 0) >> 32) + sample_index


@dataclass(frozen=True)
class _Job:
    prompt_index: int  # which prompt
    first: int  # sample index of the request's first choice
    count: int  # choices asked for (the request's n)


def sample_remote(remote: RemoteModel, prompts: Sequence[str], n: int,
                  cfg: SamplingConfig | None = None,
                  progress: bool = True) -> list[list[Completion]]:
    """`n` completions of each prompt from the server: `result[i][j]` is sample j of prompts[i].

    The same contract as `rollouts.sample`: full model prompts in, `Completion` records out (text
    up to and including a stop string, token ids including a final EOS, finished = ended on EOS or
    a stop string). With temperature 0 each prompt is asked for once and repeated n times.
    """
    cfg = cfg or SamplingConfig()
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise UsageError("prompts must be a non-empty list of strings (wrap a single prompt in a "
                         "list)")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"n={n!r}: the number of samples per prompt must be a whole number >= 1")
    from tqdm.auto import tqdm

    with _scrubbed(remote):
        if not cfg.greedy and remote.server.check_seed and not remote._seed_checked:
            check_seed(remote, prompts[0], cfg)
        per_prompt = 1 if cfg.greedy else n
        step = remote.server.n_per_request
        jobs = [_Job(p, first, min(step, per_prompt - first))
                for p in range(len(prompts)) for first in range(0, per_prompt, step)]
        got: dict[tuple[int, int], Completion] = {}
        pool = ThreadPoolExecutor(max_workers=remote.server.concurrency,
                                  thread_name_prefix="openai-backend")
        cancel = threading.Event()  # set on the first failure: queued and retrying jobs stop
        with tqdm(total=len(prompts) * per_prompt, desc="sampling (remote)", unit="seq",
                  disable=not progress) as bar:
            try:
                futures = {pool.submit(_run_job, remote, prompts[job.prompt_index], job, cfg,
                                       cancel): job for job in jobs}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        job = futures[future]
                        for offset, completion in enumerate(future.result()):  # raises the error
                            got[job.prompt_index, job.first + offset] = completion
                        bar.update(job.count)
            finally:
                cancel.set()
                pool.shutdown(wait=True, cancel_futures=True)
    results = [[got[p, s] for s in range(per_prompt)] for p in range(len(prompts))]
    if cfg.greedy:
        results = [[_with_index(row[0], p, s) for s in range(n)] for p, row in enumerate(results)]
    return results


def check_seed(remote: RemoteModel, prompt: str, cfg: SamplingConfig) -> None:
    """Ask the server the same seeded request twice (16 tokens, cfg's temperature); refuse one that
    gives different text. Cheap and one-sided: identical text does not prove the seed is honoured.
    """
    temperature = cfg.temperature if cfg.temperature > 0 else 1.0
    probe = SamplingConfig(temperature=temperature, top_p=cfg.top_p, seed=cfg.seed,
                           max_new_tokens=min(SEED_CHECK_TOKENS, cfg.max_new_tokens))
    job = _Job(prompt_index=0, first=0, count=1)
    with _scrubbed(remote):
        first = _run_job(remote, prompt, job, probe)[0]
        second = _run_job(remote, prompt, job, probe)[0]
    if (first.text, first.token_ids) != (second.text, second.token_ids):
        raise BackendError(
            f"the server at {remote.server.base_url} ignores `seed`: the same seeded request "
            f"(temperature {temperature:g}, {probe.max_new_tokens} tokens) gave different text "
            f"twice ({excerpt(first.text, 40)} vs {excerpt(second.text, 40)}), so runs would "
            "be neither reproducible nor resumable; serve with vLLM (it honours per-request "
            "seeds), or set check_seed=False to sample anyway")
    remote._seed_checked = True


class _scrubbed:
    """Re-raise a StarterError raised inside with the key scrubbed from its message (one line)."""

    def __init__(self, remote: RemoteModel):
        self.remote = remote

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> Literal[False]:
        if err is None or not isinstance(err, StarterError):
            return False
        message = " ".join(self.remote._scrub(str(err)).split())
        if message == str(err):
            return False
        raise type(err)(message) from None


def _with_index(done: Completion, prompt_index: int, sample_index: int) -> Completion:
    from dataclasses import replace

    return replace(done, prompt_index=prompt_index, sample_index=sample_index)


def _run_job(remote: RemoteModel, prompt: str, job: _Job, cfg: SamplingConfig,
             cancel: threading.Event | None = None) -> list[Completion]:
    """One request: `job.count` choices of `prompt`, as Completion records in choice order."""
    body = _request_body(remote, prompt, job, cfg)
    answer = _post(remote, body, cancel)
    choices = answer.get("choices") if isinstance(answer, dict) else None
    where = f"the server at {remote.server.completions_url}"
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise BackendError(f"{where} answered without a `choices` list of objects: "
                           f"{excerpt(remote._scrub(json.dumps(answer)[:2000]))}")
    _check_answered_model(remote, answer, where)
    if len(choices) < job.count:
        raise BackendError(
            f"{where} returned {len(choices)} choice(s) for n={job.count}: it ignores `n`; set "
            "n_per_request=1 (one request per sample) or use a server that supports n (vLLM)")
    by_index: dict[int, dict] = {}
    for position, choice in enumerate(choices):
        index = choice.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or index in by_index:
            raise BackendError(f"{where} returned a choice with a bad or repeated index {index!r}")
        by_index[index] = choice
    if sorted(by_index) != list(range(job.count)):
        raise BackendError(f"{where} returned choices {sorted(by_index)[:8]} for n={job.count}; "
                           f"expected indices 0..{job.count - 1}")
    return [_with_index(_choice_completion(remote, by_index[i], cfg, where), job.prompt_index,
                        job.first + i) for i in range(job.count)]


def _request_body(remote: RemoteModel, prompt: str, job: _Job, cfg: SamplingConfig) -> dict:
    server = remote.server
    body: dict[str, Any] = {
        "model": server.served_model,
        "prompt": remote.prompt_ids(prompt) if server.prompt_as == "tokens" else prompt,
        "n": job.count,
        "max_tokens": cfg.max_new_tokens,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "seed": request_seed(cfg.seed, prompt, job.first),
        "stream": False,
    }
    if cfg.stop_strings:
        body["stop"] = list(cfg.stop_strings)
    if server.vllm_extensions:
        body.update(return_token_ids=True, include_stop_str_in_output=True,
                    skip_special_tokens=False, spaces_between_special_tokens=False)
        if server.prompt_as == "text":
            body["add_special_tokens"] = remote.add_special_tokens
    return body


def _choice_completion(remote: RemoteModel, choice: dict, cfg: SamplingConfig,
                       where: str) -> Completion:
    """One choice as a Completion, cut exactly as the local path cuts `generate`'s output."""
    reason = choice.get("finish_reason")
    text = choice.get("text")
    if reason not in ("stop", "length") or not isinstance(text, str):
        raise BackendError(f"{where} returned a choice with finish_reason {reason!r} and text of "
                           f"type {type(text).__name__}; expected 'stop' or 'length' and a string")
    _check_text(text, where)
    ids = choice.get("token_ids")
    if ids is not None:
        _check_token_ids(remote, ids, where)
        # The server's tokens are the truth: decode and trim them as rollouts does its own.
        done = completion_of(remote.tokenizer, ids, remote.eos_ids, cfg.stop_strings)
        if reason == "stop" and not done.finished:  # a stop token the EOS list does not know
            done = Completion(-1, -1, done.text, done.token_ids, done.n_new_tokens, True)
        return done
    stop_reason = choice.get("stop_reason")
    hits = [(text.find(s), s) for s in cfg.stop_strings if s in text]
    if hits:
        at, stop = min(hits)
        text = text[:at + len(stop)]
    elif reason == "stop" and isinstance(stop_reason, str) and stop_reason in cfg.stop_strings:
        text += stop_reason  # the server cut the stop string off: put it back, as the local path
    ended_on_eos = reason == "stop" and not hits and not isinstance(stop_reason, str)
    token_ids = list(remote.tokenizer(text, add_special_tokens=False)["input_ids"])
    eos = remote.tokenizer.eos_token_id
    if ended_on_eos and (eos is not None or remote.eos_ids):
        token_ids.append(eos if eos is not None else remote.eos_ids[0])
    return Completion(prompt_index=-1, sample_index=-1, text=text, token_ids=tuple(token_ids),
                      n_new_tokens=len(token_ids), finished=reason == "stop")


def _check_text(text: str, where: str) -> None:
    """Text that cannot be stored (a lone surrogate: not encodable as UTF-8) is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BackendError(f"{where} returned text that is not valid Unicode (a lone surrogate "
                           f"at character {err.start}); nothing was stored: check the server "
                           "and its --served-model") from None


def _check_token_ids(remote: RemoteModel, ids: Any, where: str) -> None:
    """`token_ids` must be a non-empty list of ids in this tokenizer's vocabulary: anything else
    means the server runs another tokenizer (or is broken), and decoding it would store another
    text or raise."""
    vocab = len(remote.tokenizer)
    hint = (f"nothing was stored; the server may serve another model than {remote.spec.name!r} "
            f"(check --served-model {remote.server.served_model!r} and --model)")
    if not isinstance(ids, list) or not ids:
        shown = "an empty list" if ids == [] else f"a {type(ids).__name__}"
        raise BackendError(f"{where} returned token_ids as {shown}, not a list of token ids; "
                           f"{hint}")
    bad = [i for i in ids if type(i) is not int or not 0 <= i < vocab]
    if bad:
        shown = repr(bad[0])[:40]
        raise BackendError(f"{where} returned token id {shown}, outside this tokenizer's "
                           f"vocabulary (0..{vocab - 1}); {hint}")


def _check_answered_model(remote: RemoteModel, answer: dict, where: str) -> None:
    """The answer's `model` must be the served model asked for; it is recorded (describe())."""
    answered = answer.get("model")
    if answered is None:
        return
    if not isinstance(answered, str) or answered != remote.server.served_model:
        raise BackendError(f"{where} answered for model {excerpt(str(answered), 60)}, not "
                           f"--served-model {remote.server.served_model!r}; nothing was stored: "
                           "check that --base-url points at the server you meant, and pass the "
                           "name it serves as --served-model")
    remote.answered_models.add(answered)


# --------------------------------------------------------------------------------------- transport


def _post(remote: RemoteModel, body: dict, cancel: threading.Event | None = None) -> Any:
    """POST `body` to /completions; the parsed JSON answer, retrying what a retry can fix.

    `cancel` set (another request of the call failed): stop before the next try.
    """
    server = remote.server
    url = server.completions_url
    policy = http.RetryPolicy(server.max_retries, server.backoff_s,
                              timeout_problem=f"no answer within timeout_s={server.timeout_s:g} s")

    def judge(reply: Reply) -> Any:
        if reply.status == 429 or reply.status >= 500:
            return http.Retry(f"HTTP {reply.status}: {_server_message(reply)}",
                              _clamped_retry_after(reply.retry_after, server))
        if reply.status >= 300 or reply.status < 200:
            _refuse(remote, reply)
        try:
            return json.loads(reply.text)
        except (ValueError, RecursionError):
            return http.Retry(f"HTTP {reply.status} with a body that is not valid JSON "
                              f"(truncated?): {excerpt(reply.text, 80)}")

    def unrequestable(err: requests.RequestException) -> BackendError:
        return BackendError(remote._scrub(f"cannot request {url} ({type(err).__name__}: "
                                          f"{err}); check --base-url"))

    def cancelled() -> BackendError:
        return BackendError("cancelled: another request of this call failed")

    try:
        return http.send_with_retries(policy, lambda: _attempt(remote, url, body), judge,
                                      unrequestable, cancel=cancel, cancelled=cancelled)
    except http.GaveUp as end:
        raise BackendUnavailable(remote._scrub(
            f"the server at {url} gave no usable answer after {end.tries} tries "
            f"({end.waited_s:.1f} s of backoff): {end.problem}; check that it is up (GET "
            f"{server.base_url}/models) and not overloaded (lower concurrency), then run again: "
            "finished rows are kept")) from None


def _clamped_retry_after(value: str | None, server: ServerConfig) -> float | None:
    """Seconds a Retry-After asks for (seconds or an HTTP date), clamped to the server config's
    floor and ceiling."""
    return http.parse_retry_after(value, floor=server.retry_after_floor_s,
                                  ceiling=server.retry_after_ceiling_s)


def _server_message(reply: Reply) -> str:
    """The server's error message (OpenAI's {"error": {"message"}}, vLLM's {"message"}), quoted."""
    try:
        body = json.loads(reply.text)
    except (ValueError, RecursionError):
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or body.get("message") or body.get("detail")
    return excerpt(str(message) if message else reply.text)


def _refuse(remote: RemoteModel, reply: Reply) -> None:
    """A 4xx (or a redirect, or another status outside 2xx): one line, the server's message."""
    server = remote.server
    said = _server_message(reply)
    url = server.completions_url
    if 300 <= reply.status < 400:
        raise BackendError(f"the server at {url} redirected (HTTP {reply.status}); redirects are "
                           "not followed (the key stays with its origin): give the final address "
                           "as --base-url")
    if reply.status in (401, 403):
        what = (f"refused {API_KEY_ENV}" if remote._key else f"wants a key and {API_KEY_ENV} is "
                "not set")
        raise UsageError(f"the server at {url} {what} (HTTP {reply.status}: {said}); set "
                         f"{API_KEY_ENV} to the key it expects (vllm serve --api-key)")
    if reply.status == 404:
        raise UsageError(f"the server at {url} answered HTTP 404 ({said}): check --served-model "
                         f"{server.served_model!r} (GET {server.base_url}/models lists what it "
                         "serves) and that --base-url is the API root, e.g. http://HOST:8000/v1")
    hint = ""
    if reply.status in (400, 422) and server.prompt_as == "tokens":
        hint = "; a server that takes no token-id prompts needs prompt_as='text'"
    raise BackendError(f"the server at {url} refused the request (HTTP {reply.status}): {said}"
                       f"{hint}")


def _attempt(remote: RemoteModel, url: str, body: dict) -> Reply:
    """One POST under one wall-clock deadline of `timeout_s`.

    `requests` times each socket read, not the whole exchange, so the exchange runs in a worker
    thread that is abandoned at the deadline; its reads are bounded too, so it ends on its own.
    """
    deadline = time.monotonic() + remote.server.timeout_s
    return run_before_deadline(lambda abandon: _exchange(remote, url, body, deadline, abandon),
                               deadline, "openai-request")


def _exchange(remote: RemoteModel, url: str, body: dict, deadline: float,
              abandon: threading.Event) -> Reply:
    headers = {"User-Agent": "mi-starter", "Accept-Encoding": "identity",
               "Content-Type": "application/json"}
    auth = _Bearer(remote._key) if remote._key is not None else None
    remaining = deadline - time.monotonic()
    if remaining <= 0 or abandon.is_set():
        raise DeadlinePassed()
    response = remote._http().post(url, data=json.dumps(body), headers=headers, auth=auth,
                                   timeout=remaining, allow_redirects=False, stream=True)
    try:
        data = _read_body(remote, response, deadline, abandon)
    finally:
        response.close()
    text = remote._scrub(data.decode("utf-8", errors="replace"))
    return Reply(response.status_code, text, response.headers.get("Retry-After"), url,
                 response.headers.get("Content-Type", ""))


def _read_body(remote: RemoteModel, response: requests.Response, deadline: float,
               abandon: threading.Event) -> bytes:
    """The body, at most `max_body_bytes`, read in chunks between deadline checks."""
    cap = remote.server.max_body_bytes
    try:
        return http.read_body(response, cap=cap, deadline=deadline, abandon=abandon, inflate=False)
    except http.BodyTooLarge:
        raise BackendError(f"the answer from {remote.server.completions_url} is larger than {cap} "
                           "bytes (max_body_bytes): ask for fewer choices per request "
                           "(n_per_request) or fewer tokens, or raise max_body_bytes") from None
    except http.UnreadableEncoding as err:
        raise BackendError(f"the server at {remote.server.completions_url} answered with "
                           f"Content-Encoding {excerpt(err.encoding, 20)} though asked for "
                           "identity") from None
