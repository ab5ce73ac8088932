"""Batched sampling: many completions of many prompts, from a prompt or from a partial chain of thought.

One call to `sample` runs every (prompt, sample) pair through HF `generate` in left-padded batches
of `cfg.batch_size` with the KV cache, which on CPU is roughly an order of magnitude more tokens/s than
one sequence at a time (`scripts/bench_rollouts.py` measures it).

Reproducible whatever the batching: every sequence draws its randomness from its own stream,
keyed by `(cfg.seed, prompt text, sample index)`, never from a shared generator. Sample j of a
prompt is the same text alone, in a batch with other prompts, at another position or under another
`batch_size` (up to the floating-point noise that padding adds to the logits), so a run killed
half-way and resumed on the missing units writes what the uninterrupted run would have.
How: the Gumbel-max trick. Each step adds Gumbel noise to the temperature-scaled, top-p-filtered
logits and takes the argmax, an exact sample from the top-p distribution; the noise of
(sequence, step, token) is a counter-based hash, drawn for the whole batch in a few vectorised
integer ops. Temperature 0 is plain greedy decoding.

One consequence: the same prompt twice in one call, with the same seed, gets the same samples (its n
samples differ from each other: their sample indices differ).

    >>> from starter.models import load_model  # doctest: +SKIP
    >>> lm = load_model("smollm2-135m")  # doctest: +SKIP
    >>> cfg = SamplingConfig(temperature=0.6, max_new_tokens=64, batch_size=16, seed=0)
    >>> runs = sample(lm, [lm.prompt("What is 2+3?")], n=8, cfg=cfg)  # doctest: +SKIP
    >>> len(runs[0]), runs[0][0].n_new_tokens <= 64  # doctest: +SKIP
    (8, True)

Resampling after a partial chain of thought is the same call on `prompt + prefix` texts; the one API
for it, over step prefixes cut by the step splitter, is `starter.prefixes.resample`.

Steering: `hooks=[(hook_name, fn)]` adds TransformerLens hooks on `model.bridge` for the duration of the
call (the bridge and `hf_model` are one network, so they fire inside `generate`: first on the whole
prompt, then once per new token with pos == 1). They are removed when the call returns or raises.

Engines: the bridge's wrappers cost speed at every step, so without hooks `sample` generates with
`model.plain_model`, the pristine HF model over the same weight tensors (starter.models.plain_twin).
`cfg.engine` picks: "auto" (default) uses the plain model unless a hook is active: one passed in
`hooks`, or one already added on the bridge (e.g. inside `with activations.steering(...)`), or any
torch hook on the booted modules; then the bridge. "bridge" forces the booted model (what every
run used before), "plain" the plain one (an error if a hook is active: it would not fire). Both
compute the same function: greedy outputs, and seeded samples, are the same on either
(tests/test_rollouts.py; in bf16 a near-tie can still flip a token).
"""

from __future__ import annotations

import difflib
import math
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, cast

from starter.errors import UsageError
from starter.sampling import (  # the sampling interface, shared with starter.backends.openai
    ENGINES,
    Completion,
    SamplingConfig,
    completion_of,
    eos_ids,
    sequence_key,
)

if TYPE_CHECKING:  # torch is imported inside functions, like the rest of the core
    from starter.backends.openai import RemoteModel
    from starter.models import LoadedModel

Hook = tuple[str | Callable[[str], bool], Callable]  # (hook name or name filter, fn(activation, hook))


def sample(model: LoadedModel | RemoteModel, prompts: Sequence[str], n: int, cfg: SamplingConfig | None = None,
           hooks: Sequence[Hook] = (), progress: bool = True) -> list[list[Completion]]:
    """`n` completions of each prompt: `result[i][j]` is sample j of prompts[i].

    Prompts are full model prompts (e.g. `model.prompt(question)`). With temperature 0 every sample of a
    prompt is the same, so each prompt is generated once and its completion repeated n times.
    Generation runs on the plain HF model unless a hook is active (`cfg.engine`, choose_engine).
    """
    cfg = cfg or SamplingConfig()
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise UsageError("prompts must be a non-empty list of strings (wrap a single prompt in a list)")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"n={n!r}: the number of samples per prompt must be a whole number >= 1")
    if getattr(model, "device", None) == "remote":  # starter.backends.openai.RemoteModel
        if hooks:
            raise UsageError("hooks need a locally loaded model; --backend openai is black-box only")
        from starter.backends.openai import sample_remote

        # a server's model (its device says so; tests stand in for it with look-alikes)
        return sample_remote(cast("RemoteModel", model), prompts, n, cfg, progress=progress)
    model = cast("LoadedModel", model)  # not remote: the weights are here
    from tqdm.auto import tqdm

    per_prompt = 1 if cfg.greedy else n
    jobs = [(p, s) for p in range(len(prompts)) for s in range(per_prompt)]  # prompt-major: little padding
    results: list[list[Completion]] = [[] for _ in prompts]
    engine = choose_engine(model, cfg.engine, hooks)
    hf_model = model.plain_model if engine == "plain" else model.hf_model
    with _hooks_applied(model, hooks), tqdm(total=len(jobs), desc="sampling", unit="seq",
                                            disable=not progress) as bar:
        for start in range(0, len(jobs), cfg.batch_size):
            chunk = jobs[start:start + cfg.batch_size]
            texts = [prompts[p] for p, _ in chunk]
            keys = [sequence_key(cfg.seed, prompts[p], s) for p, s in chunk]
            for (p, s), done in zip(chunk, _generate(model, hf_model, texts, cfg, keys)):
                results[p].append(replace(done, prompt_index=p, sample_index=s))
            bar.update(len(chunk))
    if cfg.greedy:
        results = [[replace(row[0], sample_index=s) for s in range(n)] for row in results]
    return results


# --- which module tree generates ------------------------------------------------------------


def choose_engine(model: LoadedModel, engine: str = "auto", hooks: Sequence[Hook] = ()) -> str:
    """"bridge" or "plain": the module tree `sample` generates with (see the module docstring).

    >>> from starter.models import load_model
    >>> lm = load_model("tinythinker")
    >>> choose_engine(lm), choose_engine(lm, "bridge")
    ('plain', 'bridge')
    >>> choose_engine(lm, hooks=[("blocks.0.hook_resid_post", lambda resid, hook: resid)])
    'bridge'
    """
    if engine not in ENGINES:
        raise UsageError(f"engine={engine!r} is not one of {', '.join(ENGINES)}")
    hooked = bool(hooks) or active_hooks(model) > 0
    if engine == "plain" and hooked:
        raise UsageError("engine='plain' runs without the bridge, so the active hooks would not "
                         "fire; use engine='auto' or 'bridge' with hooks")
    if engine == "auto":
        return "bridge" if hooked else "plain"
    return engine


def active_hooks(model: LoadedModel) -> int:
    """How many hooks sit on the bridge's hook points now (`blocks.{L}.hook_resid_post`, ...).

    Every TransformerLens hook is a torch hook on a HookPoint module; a bridge has none between
    `with bridge.hooks(...)` blocks. Not counted: the bridge's own internal hooks (it wires some
    on its norm wrappers at the first forward) and torch hooks a user registers directly on other
    modules of `hf_model`; for the latter pass engine="bridge".

    >>> from starter.models import load_model
    >>> lm = load_model("tinythinker")
    >>> with lm.bridge.hooks(fwd_hooks=[("blocks.0.hook_resid_post", lambda resid, hook: resid)]):
    ...     active_hooks(lm)
    1
    >>> active_hooks(lm)
    0
    """
    from transformer_lens.hook_points import HookPoint

    modules = {id(m): m for m in (*model.bridge.modules(), *model.hf_model.modules())}
    points = [m for m in modules.values() if isinstance(m, HookPoint)]
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in points)


# --- one generate call ----------------------------------------------------------------------------


def _generate(model: LoadedModel, hf_model: Any, texts: list[str], cfg: SamplingConfig,
              keys: list[int]) -> list[Completion]:
    """Generate one batch with `hf_model` (the booted or the plain tree); `keys[i]` seeds row i's
    noise (unused when greedy)."""
    import torch
    from transformers import LogitsProcessorList

    batch = model.encode(texts)  # left-padded, with the BOS policy of the model's prompt format
    ends = eos_ids(model)
    # do_sample=False always: greedy takes the argmax of the logits, sampling the argmax of the
    # noised logits (GumbelSampler), so no shared generator is involved. None overrides sampling
    # settings that a checkpoint's generation_config may carry.
    settings: dict[str, Any] = dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    if not cfg.greedy:
        prompt_len = batch.input_ids.shape[1]
        sampler = GumbelSampler(keys, cfg.temperature, cfg.top_p, prompt_len=prompt_len)
        settings.update(logits_processor=LogitsProcessorList([sampler]))
    if cfg.stop_strings:
        settings.update(stop_strings=list(cfg.stop_strings), tokenizer=model.tokenizer)
    if cfg.kv_cache == "static":
        settings.update(cache_implementation="static")
    with torch.no_grad():
        out = hf_model.generate(
            **batch, max_new_tokens=cfg.max_new_tokens, eos_token_id=ends, repetition_penalty=None,
            pad_token_id=model.tokenizer.pad_token_id, **settings,
        )  # [batch, prompt_len + new]
    new = out[:, batch.input_ids.shape[1]:].tolist()
    return [completion_of(model.tokenizer, ids, ends, cfg.stop_strings) for ids in new]








# --- batch-invariant sampling --------------------------------------------------------------------

_MASK64 = 2**64 - 1




def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 that holds it (torch has no uint64 arithmetic)."""
    value &= _MASK64
    return value - 2**64 if value >= 2**63 else value


_GOLDEN = _signed(0x9E3779B97F4A7C15)  # splitmix64's increment (2**64 / golden ratio)
_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shr(z, bits: int):
    """Logical right shift of int64 tensors (torch's >> is arithmetic: mask the sign bits out)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _mix64(z):
    """splitmix64's finaliser on an int64 tensor: a bijection of 64-bit patterns whose output
    bits all depend on every input bit. Products wrap modulo 2**64, as uint64 arithmetic does."""
    z = (z ^ _shr(z, 30)) * _MIX1
    z = (z ^ _shr(z, 27)) * _MIX2
    return z ^ _shr(z, 31)


def gumbel_noise(keys, step: int, tokens):
    """Standard Gumbel noise for token `tokens[i]` of the sequence keyed `keys[i]` at generation
    step `step`: a pure function of (key, step, token), so a row's noise never depends on the other
    rows of its batch.

    keys, tokens: int64 tensors of one shape (or broadcastable); returns float64 noise of that
    shape, bounded (its uniforms take 2**52 values inside (0, 1)): -3.61 < noise < 36.8.

    >>> import torch
    >>> keys = torch.tensor([[sequence_key(0, "a", 0)], [sequence_key(0, "b", 0)]])  # [2, 1]
    >>> tokens = torch.arange(5)  # [5]
    >>> both, alone = gumbel_noise(keys, 3, tokens), gumbel_noise(keys[1:], 3, tokens)
    >>> torch.equal(both[1:], alone), both.shape
    (True, torch.Size([2, 5]))
    """
    import torch

    stream = _mix64(keys + _signed((step + 1) * _GOLDEN))  # the stream of (key, step)
    bits = _mix64(stream + (tokens + 1) * _GOLDEN)  # splitmix64 with the token as its counter
    uniform = (_shr(bits, 12).to(torch.float64) + 0.5) * 2.0**-52  # 2**-53 .. 1 - 2**-53, exact
    return -torch.log(-torch.log(uniform))


# A token whose score is this far below its row's best can never win: noise spans less than 40.5.
_NOISE_SPAN = 41.0


class GumbelSampler:
    """A logits processor for `generate(do_sample=False)` that turns its argmax into a seeded
    sample: scores / temperature, top-p filter (-inf outside the nucleus), plus Gumbel noise. The
    argmax of `log p + Gumbel` is an exact sample from p (the Gumbel-max trick).

    The step is the number of tokens generated so far, the same for every left-padded row. Noise is
    drawn only for tokens that can still win (inside the nucleus and within the noise's span of the
    row's best score), so sampling costs little beyond the top-p sort.

    >>> import torch
    >>> keys = [sequence_key(0, "x", j) for j in range(4000)]
    >>> sampler = GumbelSampler(keys, temperature=1.0, top_p=1.0, prompt_len=0)
    >>> logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).repeat(4000, 1)  # [batch, vocab]
    >>> picks = sampler(torch.zeros(4000, 0, dtype=torch.long), logits).argmax(-1)
    >>> [round(share, 1) for share in torch.bincount(picks, minlength=3).div(4000).tolist()]
    [0.7, 0.2, 0.1]
    """

    def __init__(self, keys: Sequence[int], temperature: float, top_p: float,
                 prompt_len: int) -> None:
        self.keys = list(keys)  # one 63-bit stream key per row (sequence_key)
        self.temperature = float(temperature)  # > 0
        self.top_p = float(top_p)  # 1 = no nucleus filter
        self.prompt_len = prompt_len  # input_ids columns before the first generated token
        self._keys_on: dict[str, Any] = {}  # the key tensor, per device

    def __call__(self, input_ids, scores):  # [batch, prompt_len + step], [batch, vocab]
        import torch
        from transformers.generation.logits_process import TopPLogitsWarper

        step = input_ids.shape[1] - self.prompt_len
        device = str(scores.device)
        if device not in self._keys_on:
            self._keys_on[device] = torch.tensor(self.keys, dtype=torch.int64, device=scores.device)
        scores = scores.to(torch.float32) / self.temperature  # [batch, vocab]
        if self.top_p < 1.0:
            scores = TopPLogitsWarper(self.top_p)(input_ids, scores)
        best = scores.max(dim=-1, keepdim=True).values  # [batch, 1]
        candidates = scores > best - _NOISE_SPAN  # [batch, vocab]: tokens that can still win
        rows, tokens = torch.nonzero(candidates, as_tuple=True)  # [n_candidates] each
        noise = gumbel_noise(self._keys_on[device][rows], step, tokens)  # [n_candidates]
        noised = torch.full_like(scores, -math.inf)
        noised[rows, tokens] = (scores[rows, tokens].to(torch.float64) + noise).to(noised.dtype)
        return noised


# --- hooks ----------------------------------------------------------------------------------------


@contextmanager
def _hooks_applied(model: LoadedModel, hooks: Sequence[Hook]) -> Iterator[None]:
    """Add `hooks` on the bridge for the duration of the block; bridge.hooks() removes them on any exit."""
    if not hooks:
        yield
        return
    known = model.bridge.hook_dict
    for name, fn in hooks:
        if not callable(fn):
            raise UsageError(f"hook for {name!r} is not callable; pass (hook_name, fn(activation, hook))")
        if isinstance(name, str) and name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see model.bridge.hook_dict for names"
            raise UsageError(f"unknown hook point {name!r}; {hint}")
    with model.bridge.hooks(fwd_hooks=list(hooks)):
        yield
