"""The sampling interface both samplers share: what a request asks for (`SamplingConfig`), what
comes back (`Completion`), how a generated row is trimmed to what the model wrote
(`completion_of`), which tokens end a completion (`eos_ids`) and each sequence's random-stream key
(`sequence_key`).

Two implementations take a SamplingConfig and return Completions: `starter.rollouts.sample` (the
local HF model) and `starter.backends.openai.sample_remote` (an OpenAI-compatible server). They
import this module, never each other's internals.

>>> SamplingConfig(temperature=0).greedy
True
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from starter.errors import UsageError

if TYPE_CHECKING:
    from starter.models import LoadedModel

ENGINES = ("auto", "bridge", "plain")  # SamplingConfig.engine: which module tree runs generate
KV_CACHES = ("dynamic", "static")  # SamplingConfig.kv_cache: HF generate's cache_implementation


@dataclass
class SamplingConfig:
    """How to sample: checked on creation, so a bad value fails before any model runs.

    >>> SamplingConfig(top_p=0)
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: bad sampling settings: top_p=0 (use 0 < top_p <= 1; 1 = off)
    """

    temperature: float = 0.6  # 0 = greedy (argmax); 0.6: DeepSeek's recommendation for R1 distills
    top_p: float = 0.95  # nucleus sampling: keep the smallest token set with this much probability
    max_new_tokens: int = 512  # per completion; a completion that hits it has finished=False
    batch_size: int = 16  # sequences per generate call: more is faster until memory runs out
    seed: int = 0  # sample j of prompt P draws its noise from a stream keyed by (seed, P, j)
    stop_strings: tuple[str, ...] = ()  # also stop once the new text holds one, e.g. ("</think>",)
    # "auto": the plain HF model (fast) unless a hook is active, then the bridge; "bridge" | "plain"
    # force one (see starter.rollouts' docstring); the same tokens either way, up to float noise
    engine: str = "auto"
    # "dynamic": HF's default cache, grown per step; "static": preallocated for prompt +
    # max_new_tokens (on CUDA, transformers then compiles the decoding step with torch.compile:
    # the first call per shape is slow). The same tokens either way; scripts/gpu_check.py times
    # both on a GPU.
    kv_cache: str = "dynamic"

    def __post_init__(self) -> None:
        self.stop_strings = tuple(self.stop_strings)
        problems = []
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature >= 0):
            problems.append(f"temperature={self.temperature!r} (use a number >= 0; 0 = greedy)")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            problems.append(f"top_p={self.top_p!r} (use 0 < top_p <= 1; 1 = off)")
        for name in ("max_new_tokens", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r} (use a whole number >= 1)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            problems.append(f"seed={self.seed!r} (use a whole number)")
        if not all(isinstance(s, str) and s for s in self.stop_strings):
            problems.append(f"stop_strings={self.stop_strings!r} (use non-empty strings)")
        if self.engine not in ENGINES:
            problems.append(f"engine={self.engine!r} (use one of {', '.join(ENGINES)})")
        if self.kv_cache not in KV_CACHES:
            problems.append(f"kv_cache={self.kv_cache!r} (use one of {', '.join(KV_CACHES)})")
        if problems:
            raise UsageError("bad sampling settings: " + "; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One sampled continuation, as both samplers return it."""

    prompt_index: int  # which prompt (or prefix) this continues
    sample_index: int  # 0 .. n-1 among that prompt's samples
    text: str  # the new text only, up to and including a stop string; without EOS or padding
    token_ids: tuple[int, ...]  # the new tokens, including a final EOS if one was generated
    n_new_tokens: int  # len(token_ids)
    finished: bool  # True: ended on EOS or a stop string; False: ran out of max_new_tokens


def completion_of(tokenizer: Any, ids: list[int], eos_ids: Sequence[int],
                  stop_strings: tuple[str, ...]) -> Completion:
    """Trim one generated row to what the model actually wrote (both samplers use this).

    generate pads a row that finished early (EOS or stop string) up to the longest row, so: cut
    after the first EOS, then cut at the first stop string, counting only the tokens needed to
    write it. Prompt and sample index are -1: the sampler sets them.

    >>> class Letters:  # a tokenizer whose token i is the letter chr(97 + i)
    ...     def decode(self, ids, skip_special_tokens=False):
    ...         return "".join(chr(97 + i) for i in ids)
    >>> done = completion_of(Letters(), [0, 1, 25, 2, 2], eos_ids=[25], stop_strings=())
    >>> done.text, done.token_ids, done.finished  # cut after the EOS (25), which is not text
    ('ab', (0, 1, 25), True)
    >>> completion_of(Letters(), [0, 1, 2, 3], eos_ids=[25], stop_strings=("bc",)).token_ids
    (0, 1, 2)
    """
    eos_at = next((i for i, t in enumerate(ids) if t in eos_ids), None)
    finished = eos_at is not None
    body = ids if eos_at is None else ids[:eos_at]  # the text never includes the EOS token
    end = len(ids) if eos_at is None else eos_at + 1
    text = tokenizer.decode(body, skip_special_tokens=False)
    hits = [(text.find(s), s) for s in stop_strings if s in text]
    if hits:
        at, stop = min(hits)
        text = text[:at + len(stop)]
        end = _tokens_to_write(tokenizer, body, text)
        finished = True
    token_ids = tuple(ids[:end])
    return Completion(prompt_index=-1, sample_index=-1, text=text, token_ids=token_ids,
                      n_new_tokens=len(token_ids), finished=finished)


def _tokens_to_write(tokenizer: Any, ids: list[int], target: str) -> int:
    """The fewest leading tokens of `ids` whose text contains `target` (a prefix of their full
    text)."""
    lo, hi = 1, len(ids)
    # binary search: "decoded text contains target" only turns on as more tokens come
    while lo < hi:
        mid = (lo + hi) // 2
        if target in tokenizer.decode(ids[:mid], skip_special_tokens=False):
            hi = mid
        else:
            lo = mid + 1
    return lo


def eos_ids(model: LoadedModel) -> list[int]:
    """Every token that ends a completion: the checkpoint's generation_config plus the
    tokenizer's EOS (`model.hf_model` and `model.tokenizer` are read; nothing runs)."""
    configured = model.hf_model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in ids + [model.tokenizer.eos_token_id] if i is not None]
    return sorted(set(ids))


def sequence_key(seed: int, prompt: str, sample_index: int) -> int:
    """The 63-bit key of one sequence's random stream: stable across runs, machines and batchings.

    >>> sequence_key(0, "What is 2+3?", 0) == sequence_key(0, "What is 2+3?", 0)
    True
    >>> len({sequence_key(0, "What is 2+3?", j) for j in range(100)})  # one stream per sample
    100
    """
    text = f"rollouts-v2\x00{seed}\x00{sample_index}\x00{prompt}"  # no Python hash randomisation
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
