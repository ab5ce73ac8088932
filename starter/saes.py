"""Sparse autoencoders on the residual stream: collect activations, train or load an SAE, and evaluate it.

An SAE here is anything with `encode(x) -> codes` and `decode(codes) -> x_hat` on raw residual vectors
([n, d_model] -> [n, d_sae] -> [n, d_model]): a SAELens `SAE` (e.g. the Llama Scope R1-distill SAEs) or
the dictionary_learning `BatchTopKSAE` that `train_sae` returns. Everything below works on both.

- `collect(model, texts, layer)`: residuals at every token but the first (BOS / attention sink: huge norm,
  left out of SAE training by convention), with each token's text so latents can be read.
- `train_sae(acts, TrainConfig(...))`: a BatchTopK SAE (Bussmann et al. 2024; k fixes the L0, so there is
  no sparsity coefficient to tune on a small dataset).
- `finetune(sae, acts, steps)`: continue training a pretrained SAE on new activations (reconstruction loss).
- `reconstruction(sae, acts, mask)`: fraction of variance explained (about the scored rows' own mean)
  and L0; `per_token(sae, acts)`: the squared error and L0 of every row, to group by text.
- `spliced_ce(model, sae, layer, texts)`: next-token loss with the SAE's reconstruction in place of the
  residual stream (via a TransformerLens hook), against the clean model and a zero-ablated layer.
- `latent_contrast(sae, acts, mask)` / `top_examples(...)`: latents firing on chosen tokens (e.g. "Wait").
- `load_pretrained(release, sae_id)`: SAELens `SAE.from_pretrained` (downloads from Hugging Face).

>>> import torch
>>> acts = torch.randn(512, 16)  # [n, d_model]
>>> sae = train_sae(acts, TrainConfig(dict_size=64, k=8, steps=60, batch_size=64))
>>> stats = reconstruction(sae, acts)
>>> 0.0 < stats["fve"] <= 1.0, stats["l0"] > 0
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from starter.activations import cache_resid, encode_one, resid_name
from starter.errors import StarterError, UsageError

if TYPE_CHECKING:
    import torch

    from starter.models import LoadedModel


# ------------------------------------------------------------------------------------------ activations


@dataclass
class Activations:
    """Residuals at every token (but each text's first) of some texts, with what each row is."""

    acts: "torch.Tensor"  # [n, d_model] float32 on the CPU
    tokens: list[str]  # the token at each row, decoded
    text_index: list[int]  # which text each row comes from
    position: list[int]  # the row's token position in that text (as encode_one numbers it)

    def __len__(self) -> int:
        return len(self.tokens)

    def mask(self, words: Sequence[str]) -> "torch.Tensor":
        """[n] bool: rows whose token, stripped and lower-cased, is one of `words` (e.g. "wait")."""
        import torch

        return torch.tensor([t.strip().lower() in words for t in self.tokens], dtype=torch.bool)

    def context(self, texts_ids: Sequence[Sequence[int]], row: int, tokenizer: Any, before: int = 12) -> str:
        """The text leading up to row `row`, its own token marked with [[ ]]: how top examples are shown."""
        ids = texts_ids[self.text_index[row]]
        pos = self.position[row]
        return tokenizer.decode(ids[max(0, pos - before) : pos]) + "[[" + tokenizer.decode(ids[pos : pos + 1]) + "]]"


def collect(model: "LoadedModel", texts: Sequence[str], layer: int, batch_size: int = 16) -> Activations:
    """`blocks.{layer}.hook_resid_post` at tokens 1.. of every text (see the module docstring for why not 0)."""
    ids = [encode_one(model, t) for t in texts]
    positions = [list(range(1, len(seq))) for seq in ids]
    acts = cache_resid(model, texts, positions, [layer], batch_size=batch_size)[layer]  # [n, d_model]
    return Activations(
        acts=acts,
        tokens=[str(model.tokenizer.decode([seq[p]])) for seq, pos in zip(ids, positions)
                for p in pos],
        text_index=[i for i, pos in enumerate(positions) for _ in pos],
        position=[p for pos in positions for p in pos],
    )


def _batches(acts: "torch.Tensor", batch_size: int, seed: int) -> Iterator["torch.Tensor"]:
    """Shuffled batches for ever (a new permutation every epoch): the plain iterator the trainers consume."""
    import torch

    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(acts), generator=g)
        for lo in range(0, len(acts) - batch_size + 1, batch_size):
            yield acts[order[lo : lo + batch_size]]


# ------------------------------------------------------------------------------------------- training


def _batch_top_k_trainer():
    """dictionary_learning's BatchTopKTrainer, or a StarterError saying the one line to install it."""
    try:
        from dictionary_learning.trainers.batch_top_k import BatchTopKTrainer
    except ImportError:
        from starter import NO_DEPS_EXTRA, pins

        pin = pins(NO_DEPS_EXTRA).get("dictionary-learning")
        wanted = f"dictionary-learning=={pin}" if pin else "dictionary-learning"
        raise StarterError(f"training an SAE needs dictionary-learning, which is not installed; "
                           f"run: pip install --no-deps {wanted}") from None
    return BatchTopKTrainer


@dataclass
class TrainConfig:
    dict_size: int = 1024  # latents; a few x d_model is plenty for a small model
    k: int = 16  # active latents per token on average (BatchTopK): the L0 you get
    steps: int = 1500  # optimiser steps
    batch_size: int = 256  # tokens per step
    lr: float | None = None  # None: dictionary_learning's 2e-4 / sqrt(dict_size / 2**14)
    seed: int = 0  # initialisation and batch order

    def __post_init__(self) -> None:
        if not 0 < self.k < self.dict_size or self.steps < 10 or self.batch_size < 1:
            raise UsageError(f"need 0 < k < dict_size, steps >= 10, batch_size >= 1; got k={self.k}, "
                             f"dict_size={self.dict_size}, steps={self.steps}, batch_size={self.batch_size}")


def train_sae(acts: "torch.Tensor", cfg: TrainConfig, device: str = "cpu"):
    """Train a dictionary_learning BatchTopK SAE on `acts` [n, d_model]; it then reads raw activations.

    We drive `BatchTopKTrainer.update` ourselves, as `trainSAE` does: `trainSAE` returns nothing (it only
    writes to disk), and its `ActivationBuffer` does not work with nnsight 0.8.1. Activations are scaled to
    unit mean squared norm for training (dictionary_learning's `normalize_activations`), and the scale is
    folded back into the biases afterwards (`scale_biases`), exactly as `trainSAE` does.
    """

    BatchTopKTrainer = _batch_top_k_trainer()
    if len(acts) < cfg.batch_size:
        raise UsageError(f"{len(acts)} activations cannot fill one batch of {cfg.batch_size}; "
                         "use more or longer texts, or a smaller batch_size")
    scale = float(acts.float().pow(2).sum(-1).mean().sqrt())
    trainer = BatchTopKTrainer(
        steps=cfg.steps, activation_dim=acts.shape[1], dict_size=cfg.dict_size, k=cfg.k, layer=0,
        lm_name="starter", lr=cfg.lr, seed=cfg.seed, device=str(device),
        warmup_steps=max(1, cfg.steps // 20), decay_start=int(cfg.steps * 0.8),
        # The inference threshold (which replaces batch top-k after training) is an average of the
        # smallest kept activation; start averaging once the dictionary has settled a little.
        threshold_start_step=cfg.steps // 4,
    )
    for step, batch in zip(range(cfg.steps), _batches(acts.float() / scale, cfg.batch_size, cfg.seed)):
        trainer.update(step, batch.to(device))  # batch: [batch_size, d_model]
    trainer.ae.scale_biases(scale)
    return trainer.ae.eval()


def finetune(sae, acts: "torch.Tensor", steps: int, batch_size: int = 256, lr: float = 1e-5, seed: int = 0):
    """Continue training a (pretrained) SAE on new activations: Adam on the mean squared reconstruction error.

    There is no sparsity term, so compare L0 before and after (`reconstruction`): with few steps and a small
    lr it barely moves; a finetune that buys variance explained with many more active latents is no gain.
    JumpReLU thresholds get no gradient here, so they stay as trained.
    """
    import torch

    params = [p for p in sae.parameters() if p.is_floating_point()]
    device = params[0].device
    opt = torch.optim.Adam(params, lr=lr)
    sae.train()
    for _, batch in zip(range(steps), _batches(acts.float(), batch_size, seed)):
        x = batch.to(device=device, dtype=params[0].dtype)  # [batch_size, d_model]
        loss = (sae.decode(sae.encode(x)) - x).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return sae.eval()


def load_pretrained(release: str, sae_id: str, device: str = "cpu"):
    """SAELens `SAE.from_pretrained(release, sae_id)`; a one-line StarterError when it cannot be had.

    The Llama Scope SAEs are ~0.5 GB each and download from Hugging Face on first use, so this needs the
    network (or a filled HF cache); it is used by the sae starter's gpu preset only.
    """
    from sae_lens import SAE

    try:
        return SAE.from_pretrained(release, sae_id, device=str(device))
    except OSError as err:  # not cached and no network (huggingface_hub raises OSError subclasses)
        raise StarterError(f"cannot load SAE {release}/{sae_id}: {str(err).splitlines()[0]} "
                           "It downloads from Hugging Face on first use: run once with network.") from None
    except ValueError as err:  # SAELens: unknown release or id
        raise UsageError(f"unknown SAE {release}/{sae_id}: {str(err).splitlines()[0]}") from None


# ----------------------------------------------------------------------------------------- evaluation


def _codes(sae, acts: "torch.Tensor", batch_size: int) -> Iterator[tuple["torch.Tensor", "torch.Tensor", slice]]:
    """(x, codes) per batch on the SAE's device, in its dtype; codes: [batch, d_sae]."""
    import torch

    param = next(sae.parameters())
    with torch.no_grad():
        for lo in range(0, len(acts), batch_size):
            x = acts[lo : lo + batch_size].to(device=param.device, dtype=param.dtype)
            yield x, sae.encode(x), slice(lo, lo + batch_size)


def reconstruction(sae, acts: "torch.Tensor", mask: "torch.Tensor | None" = None, batch_size: int = 1024) -> dict:
    """Fraction of variance explained (FVE) and mean L0 on `acts` [n, d_model], or on the rows in `mask`.

    FVE = 1 - sum |x - x_hat|^2 / sum |x - mean(x)|^2 over the scored rows, with the mean of those rows
    themselves: a subset (say the "Wait" tokens) is scored against its own mean, so an SAE that only
    gets the subset's average right earns nothing for it (with the whole set's mean, the subset's
    offset from it would count as variance explained).

    >>> import torch
    >>> class Mean(torch.nn.Module):  # reconstructs every row as the mean of the first two
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = torch.nn.Parameter(torch.zeros(1))
    ...     def encode(self, x):
    ...         return x
    ...     def decode(self, codes):
    ...         return torch.full_like(codes, 1.5)
    >>> acts = torch.tensor([[1.0], [2.0], [10.0], [12.0]])  # [n, d_model]
    >>> reconstruction(Mean(), acts, torch.tensor([True, True, False, False]))["fve"]
    0.0
    """
    import torch

    mask = torch.ones(len(acts), dtype=torch.bool) if mask is None else mask.bool()
    if not mask.any():
        raise UsageError("reconstruction() got an empty mask: no activations to score")
    mean = acts[mask].float().mean(0)  # [d_model]: the scored rows' own mean
    sse, sst, l0 = 0.0, 0.0, 0.0
    for x, codes, rows in _codes(sae, acts, batch_size):
        keep = mask[rows].to(x.device)
        x, codes = x.float()[keep], codes.float()[keep]
        sse += float((sae.decode(codes.to(next(sae.parameters()).dtype)).float() - x).pow(2).sum())
        sst += float((x - mean.to(x.device)).pow(2).sum())
        l0 += float((codes > 0).sum())
    n = int(mask.sum())
    return {"fve": 1.0 - sse / sst, "l0": l0 / n, "n_tokens": n}


def spliced_ce(model: "LoadedModel", sae, layer: int, texts: Sequence[str], batch_size: int = 8) -> dict:
    """Mean next-token loss: clean, with the SAE reconstruction spliced in at `layer`, and with it zeroed.

    Splicing replaces `blocks.{layer}.hook_resid_post` at every position but the first (see `collect`);
    only predictions made from those positions are scored. `ce_increase` = spliced - clean (0 is perfect),
    `ce_recovered` = (zeroed - spliced) / (zeroed - clean) (1 is perfect).
    """
    import torch

    param = next(sae.parameters())

    def splice(resid, hook):  # resid: [batch, pos, d_model]
        head, rest = resid[:, :1], resid[:, 1:]
        recon = sae.decode(sae.encode(rest.to(param.dtype).to(param.device))).to(resid.dtype).to(resid.device)
        return torch.cat([head, recon], dim=1)

    def zero(resid, hook):
        return torch.cat([resid[:, :1], torch.zeros_like(resid[:, 1:])], dim=1)

    totals = {"clean": 0.0, "spliced": 0.0, "zeroed": 0.0}
    count = 0
    for lo in range(0, len(texts), batch_size):
        ids = [encode_one(model, t) for t in texts[lo : lo + batch_size]]
        tokens = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)  # [batch, pos], right-padded
        attn = torch.zeros_like(tokens)
        for i, seq in enumerate(ids):
            tokens[i, : len(seq)], attn[i, : len(seq)] = torch.tensor(seq), 1
        tokens, attn = tokens.to(model.device), attn.to(model.device)
        # Score predictions of token t+1 made at positions t >= 1 (the spliced ones), real tokens only.
        scored = attn[:, 2:].bool()
        for name, hook in (("clean", None), ("spliced", splice), ("zeroed", zero)):
            hooks = [(resid_name(layer), hook)] if hook else []
            with torch.no_grad(), model.bridge.hooks(fwd_hooks=hooks):
                logits = model.bridge(tokens, attention_mask=attn)  # [batch, pos, vocab]
            logp = torch.log_softmax(logits[:, 1:-1].float(), dim=-1)
            nll = -logp.gather(-1, tokens[:, 2:, None])[..., 0]  # [batch, pos - 2]
            totals[name] += float(nll[scored].sum())
        count += int(scored.sum())
    if count == 0:
        raise UsageError("spliced_ce needs texts of at least 3 tokens")
    ce = {k: v / count for k, v in totals.items()}
    return {"ce_clean": ce["clean"], "ce_spliced": ce["spliced"], "ce_zeroed": ce["zeroed"],
            "ce_increase": ce["spliced"] - ce["clean"],
            "ce_recovered": (ce["zeroed"] - ce["spliced"]) / (ce["zeroed"] - ce["clean"])}


def latent_contrast(sae, acts: "torch.Tensor", mask: "torch.Tensor", top: int = 5, batch_size: int = 1024) -> list[dict]:
    """The `top` latents most specific to the rows in `mask` (e.g. "Wait" tokens), best first.

    Score: mean activation on the masked tokens minus mean activation elsewhere. Each entry also says how
    often the latent fires on and off the mask, so a latent that fires everywhere is visible as such.
    """
    import torch

    mask = mask.bool()
    if not mask.any() or mask.all():
        raise UsageError(f"latent_contrast needs tokens both in and out of the mask; got {int(mask.sum())} "
                         f"of {len(mask)} in it (the behaviour may be absent from these texts)")
    sums: dict[bool, Any] = {True: 0.0, False: 0.0}  # 0.0, then a [d_sae] tensor per side
    fires: dict[bool, Any] = {True: 0.0, False: 0.0}
    for _, codes, rows in _codes(sae, acts, batch_size):
        codes = codes.float().cpu()  # [batch, d_sae]
        for side in (True, False):
            sel = codes[mask[rows] == side]
            sums[side] = sums[side] + sel.sum(0)
            fires[side] = fires[side] + (sel > 0).float().sum(0)
    n_on, n_off = int(mask.sum()), int((~mask).sum())
    score = sums[True] / n_on - sums[False] / n_off  # [d_sae]
    best = torch.topk(score, top).indices.tolist()
    return [{"latent": i, "score": float(score[i]), "mean_on": float(sums[True][i] / n_on),
             "mean_off": float(sums[False][i] / n_off), "fire_rate_on": float(fires[True][i] / n_on),
             "fire_rate_off": float(fires[False][i] / n_off)} for i in best]


def top_examples(sae, acts: "torch.Tensor", latent: int, top: int = 5, batch_size: int = 1024) -> list[tuple[int, float]]:
    """(row, activation) of the `top` rows where `latent` fires hardest: its top-activating tokens."""
    import torch

    values = torch.cat([codes[:, latent].float().cpu() for _, codes, _ in _codes(sae, acts, batch_size)])  # [n]
    found = torch.topk(values, min(top, len(values)))
    return [(int(r), float(v)) for r, v in zip(found.indices, found.values) if v > 0]


@dataclass
class PerToken:
    """What an SAE does to each row of some activations."""

    sq_error: "torch.Tensor"  # [n] |x - x_hat|^2
    l0: "torch.Tensor"  # [n] active latents


def per_token(sae, acts: "torch.Tensor", batch_size: int = 1024) -> PerToken:
    """Squared reconstruction error and L0 at every row of `acts` [n, d_model] (on the CPU).

    Summed over a subset and divided by that subset's `sum |x - mean|^2`, the error gives the
    subset's FVE as `reconstruction` computes it; kept per row, it can be grouped by text.

    >>> import torch
    >>> got = per_token(train_sae(torch.randn(256, 8), TrainConfig(dict_size=16, k=2, steps=10,
    ...                                                            batch_size=64)), torch.randn(5, 8))
    >>> got.sq_error.shape, got.l0.shape
    (torch.Size([5]), torch.Size([5]))
    """
    import torch

    errors, l0 = [], []
    dtype = next(sae.parameters()).dtype
    for x, codes, _ in _codes(sae, acts, batch_size):
        x_hat = sae.decode(codes.to(dtype)).float()
        errors.append((x_hat - x.float()).pow(2).sum(-1).cpu())
        l0.append((codes > 0).sum(-1).float().cpu())
    return PerToken(sq_error=torch.cat(errors), l0=torch.cat(l0))
