# %% [markdown]
# # Can a probe stop a chain of thought early at equal accuracy?
#
# A thinking model often has its answer long before it stops thinking. If a cheap reader of its
# hidden state can tell when the answer is ready, the chain can be cut there and the rest of the
# tokens saved. Zhang et al. 2025 ("Reasoning Models Know When They're Right: Probing Hidden
# States for Self-Verification", arXiv 2504.05419) report about 24% of tokens saved at equal
# accuracy with a probe-based early exit. This starter asks whether that beats *plain* baselines
# that read no activations, on a task with a known right answer; interpretability can lose here.
#
# **Method.** Sample chains on held-out Countdown problems. After every step boundary (a spaced
# subset on long R1 chains) force the answer now, with `</think> \boxed{` (on R1, the suffix of
# "Thought Anchors: Which LLM Reasoning Steps Matter?", Bogdan et al. 2025, arXiv 2506.19143),
# greedily: the label is whether stopping there gives the right answer. A linear probe on
# the residual stream at the step's last token predicts that label; it is fitted **split by
# problem** (cross-fitting: every chain is scored by a probe that never saw its problem). Zhang et
# al. train a small feed-forward probe; this one is linear (logistic regression).
# Policies stop at the first boundary where
# - (a) **probe**: the probe's probability exceeds a threshold;
# - (b) **answer confidence**: the model's own probability of the answer it was forced to give
#   (geometric mean over the answer's tokens) exceeds a threshold (the trial-answer confidence of
#   DEER: Yang et al. 2025, "Dynamic Early Exit in Reasoning Models", arXiv 2504.15895);
# - (c) **end-of-thinking**: the model's probability of closing its thinking (`</think>`) there;
# - (d) **token budget**: the thinking has used a fixed number of tokens;
# - (e) **target rule** (one line of text, the organism's own stopping cue): the last written
#   `Try …=v.` has v = the target. It reads the chain's words only (never fires on a chain with
#   no `Try …=v.` step, such as R1's) and has nothing to fit: it is applied as stated in every
#   fold, its accuracy reported beside the others';
# - (f) **verifier** (one line; Countdown answers are checkable): the forced answer, evaluated as
#   arithmetic, equals the target. It reads the forced answer and the prompt's target only, no
#   activations, and has nothing to fit (reviewer A's stronger rung). It is the oracle's own test
#   without the check of which numbers were used, so it equals the oracle almost everywhere; on R1
#   maths such a verifier needs the reference answer, which a deployed early exit does not have;
# - and otherwise let the chain finish (**full chain**, the reference).
#
# **Controls and the honest comparison.** Every threshold is chosen on the *training* problems of
# each fold (the fewest tokens at no loss of accuracy against the full chain there) and evaluated
# on the held-out problems. The claim is the paired difference, per problem, of the share of
# thinking tokens saved by the probe minus the best baseline (the baseline that saves the most on
# the test problems: a choice that favours the baselines). The **oracle** (stop at the first
# boundary whose forced answer is right) is the ceiling any policy could reach. Thresholds are also
# swept, giving each policy's accuracy-vs-tokens curve.
#
# **Primary claim, declared before the run** (`PRIMARY` below): the probe saves more of the
# thinking than the strongest baseline (the one saving the most on the test problems, the target
# rule and the verifier included). Every other claim is secondary, Holm-adjusted
# (`starter.findings.declare`). Its comparator changed after review A: the verifier joined the
# ladder and, equal to the oracle almost everywhere, is the strongest rung, so the primary now
# compares the probe with the ceiling and cannot be supported on this task. The summary therefore
# leads with the probe's savings as a share of the oracle's (`probe_share_of_oracle`, a cluster
# bootstrap over problems) and with the savings once the final `Hit.` step is excluded.
#
# Run `mi-starter run early-exit --preset smoke|cpu|gpu`. Writes results.jsonl (rows of kind
# "chain" and "probe"), figure.png, summary.md and findings.json.

# %%
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from starter import activations, prefixes, rollouts, stats
from starter.cot import THINK_CLOSE, braced
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.plan import Generation
from starter.plotting import estimate_bars, interval_errors
from starter.tasks import get_task_set
from starter.validation import RETRAINED, Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`); every other claim is secondary.
PRIMARY = "probe-vs-strongest"

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    task: str = "countdown"  # task set (starter.tasks); held-out problems (the test split)
    n_problems: int = 40  # problems; the unit of every interval
    samples: int = 2  # chains sampled per problem
    temperature: float = 1.0  # sampling temperature of the chains (R1: 0.6)
    top_p: float = 0.95  # nucleus sampling of the chains
    max_new_tokens: int = 160  # chain budget (organism traces are <= ~160 tokens)
    max_boundaries: int = 0  # 0: force an answer after every step; else this many, spaced
    # appended to a prefix to force the answer now; the organism's own format (R1's in gpu)
    forced_suffix: str = " </think> \\boxed{"
    forced_max_new_tokens: int = 16  # room for a boxed Countdown expression and its brace
    layer: int = -1  # the probe reads the residual stream after this block (negative: from the end)
    folds: int = 4  # cross-fitting folds, split by problem
    inner_folds: int = 2  # folds inside each training set: out-of-fold scores to pick the threshold
    max_accuracy_drop: float = 0.0  # accuracy a threshold may cost on the training problems
    batch_size: int = 256  # sequences per generate call
    forward_batch_size: int = 32  # sequences per forward pass (confidences, residuals)

    def __post_init__(self) -> None:
        super().__post_init__()
        counts = {"n_problems": self.n_problems, "samples": self.samples,
                  "forced_max_new_tokens": self.forced_max_new_tokens,
                  "forward_batch_size": self.forward_batch_size}
        if bad := {k: v for k, v in counts.items() if v < 1}:
            raise UsageError(f"{bad} must be >= 1")
        if self.folds < 2 or self.inner_folds < 2 or self.n_problems < self.folds:
            raise UsageError(f"need folds >= 2, inner_folds >= 2 and n_problems >= folds; got "
                             f"folds={self.folds}, inner_folds={self.inner_folds}, "
                             f"n_problems={self.n_problems}")
        if not 0 < self.temperature <= 2:
            raise UsageError(f"temperature {self.temperature} must be in (0, 2] (chains are "
                             "sampled)")
        if not 0 <= self.max_accuracy_drop < 1:
            raise UsageError(f"max_accuracy_drop {self.max_accuracy_drop} must be in [0, 1)")
        prefixes.spaced_ks(1, self.max_boundaries)  # refuses 1 and negative values
        if "{" not in self.forced_suffix or THINK_CLOSE not in self.forced_suffix:
            raise UsageError(f"forced_suffix {self.forced_suffix!r} must close the thinking "
                             f"({THINK_CLOSE}) and open a brace, e.g. ' </think> \\boxed{{'")

    def forcing(self) -> rollouts.SamplingConfig:  # greedy: one forced answer per boundary
        return self.sampling(temperature=0.0, max_new_tokens=self.forced_max_new_tokens)


# how Thought Anchors forced R1's answer after a prefix
R1_FORCED_SUFFIX = "\n</think>\n\nTherefore, the final answer is \\boxed{"
PRESETS = {
    "smoke": Config(n_problems=12, samples=1, folds=3),
    # problems, not chains, are the unit: the organism often writes the same chain twice
    "cpu": Config(n_problems=64, samples=1),
    # R1-distill chains on Countdown-3 run ~500-4000 tokens (Thought Anchors allowed 16,384 on
    # MATH): 4096 keeps most finished; the cut ones still give forced answers to train the probe,
    # but only finished chains are scored. 24 spaced boundaries per chain bound the forcing cost.
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, samples=2,
                  temperature=0.6, max_new_tokens=4096, max_boundaries=24,
                  forced_suffix=R1_FORCED_SUFFIX, forced_max_new_tokens=32, folds=5,
                  inner_folds=3, batch_size=64, forward_batch_size=8),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=4, samples=1, max_new_tokens=24, max_boundaries=3,
                                      forced_max_new_tokens=8, folds=2, inner_folds=2)
# "forced_answer_rule" is the verifier (its row name is kept so older runs read the same)
POLICIES = ("probe", "answer_confidence", "end_of_thinking", "token_budget", "target_rule",
            "forced_answer_rule")
BASELINES = POLICIES[1:]  # read no activations
RULES = ("target_rule", "forced_answer_rule")  # one-line rules: nothing fitted, applied as stated
# probability thresholds swept (inf: never stop early); token budgets: shares of the longest chain
THRESHOLDS = (*[round(0.05 * i, 2) for i in range(1, 20)], 0.975, 0.99, 0.995, 0.999, math.inf)
BUDGET_SHARES = (*[round(0.05 * i, 2) for i in range(1, 21)], math.inf)


# %% [markdown]
# ## Sample chains; force an answer at every step boundary
# A chain *finished* when it stopped by itself, closed `</think>` and gave an answer. Forced
# answers are taken on every chain (they label the probe's training data), but policies are scored
# on finished chains only; cut-off chains are counted apart.


# %%
class Boundary(TypedDict):
    """One place a chain could be stopped: after its first k steps."""

    k: int  # steps kept
    tokens: int  # thinking tokens written up to the end of step k
    answer: str | None  # the forced answer (inside the box); None if its brace never closed
    correct: bool  # the forced answer is right
    answer_confidence: float  # geometric-mean probability of the forced answer's tokens
    end_of_thinking: float  # probability of the forcing suffix's tokens up to `</think>`


def forced_answer(suffix: str, written: str) -> str | None:
    r"""The answer inside the brace the suffix opened, or None if it never closes.

    Only that first answer counts: a model may write on after it and box another one.

    >>> forced_answer(" </think> \\boxed{", "2+3} Wait \\boxed{9}"), forced_answer(" {", "2+")
    ('2+3', None)
    """
    return braced(suffix + written, suffix.rindex("{"))


@dataclass(frozen=True)
class SpanLogprob:
    """The log-probability a model gave to one span of a text, teacher-forced."""

    total: float  # summed log-probability of the span's tokens (0.0 for an empty span)
    n_tokens: int  # tokens starting inside the span

    @property
    def mean_probability(self) -> float:
        """exp(mean log-probability): the geometric-mean token probability (nan when empty)."""
        return math.exp(self.total / self.n_tokens) if self.n_tokens else math.nan


def span_logprobs(lm, texts: list[str], spans: list[list[tuple[int, int]]],
                  batch_size: int) -> list[list[SpanLogprob]]:
    """The log-probability of the tokens starting inside each character span of each text.

    Teacher-forced, one forward pass per batch (right-padded, so real tokens are unchanged);
    only the positions needed go through the unembedding (R1's vocabulary is 150k wide).
    """
    import torch

    out: list[list[SpanLogprob]] = []
    base, head = lm.plain_model.base_model, lm.plain_model.get_output_embeddings()
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    for lo in range(0, len(texts), batch_size):
        chunk = spans[lo: lo + batch_size]
        enc = [lm.tokenizer(t, add_special_tokens=lm.add_special_tokens,
                            return_offsets_mapping=True) for t in texts[lo: lo + batch_size]]
        width = max(len(e["input_ids"]) for e in enc)
        ids = torch.full((len(enc), width), pad, dtype=torch.long)  # [batch, pos]
        mask = torch.zeros_like(ids)
        for i, e in enumerate(enc):
            ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
            mask[i, : len(e["input_ids"])] = 1
        rows, cols, owner = [], [], []
        for i, (e, wanted) in enumerate(zip(enc, chunk)):
            for s, (a, b) in enumerate(wanted):
                for t, (start, end) in enumerate(e["offset_mapping"]):
                    if t > 0 and end > start and a <= start < b:
                        rows.append(i)
                        cols.append(t)
                        owner.append((i, s))
        totals = [[0.0] * len(wanted) for wanted in chunk]
        counts = [[0] * len(wanted) for wanted in chunk]
        if rows:
            with torch.no_grad():
                hidden = base(input_ids=ids.to(lm.device),
                              attention_mask=mask.to(lm.device)).last_hidden_state  # [b, pos, d]
                r = torch.tensor(rows, dtype=torch.long)
                c = torch.tensor(cols, dtype=torch.long)
                logits = head(hidden[r.to(hidden.device), (c - 1).to(hidden.device)])  # [n, vocab]
                logp = torch.log_softmax(logits.float(), dim=-1)
                picked = logp[torch.arange(len(rows), device=logp.device),
                              ids[r, c].to(logp.device)]  # [n]: log P(token c | tokens < c)
            for (i, s), value in zip(owner, picked.tolist()):
                totals[i][s] += value
                counts[i][s] += 1
        out.extend([[SpanLogprob(v, n) for v, n in zip(row_totals, row_counts)]
                    for row_totals, row_counts in zip(totals, counts)])
    return out


def boundaries_batch(ctx: Context, task, chains: list[tuple]) -> list[list[Boundary]]:
    """`Boundary` records for many (problem, prompt, completion) chains, in batched calls."""
    cfg, lm = ctx.cfg, ctx.model
    suffix = cfg.forced_suffix
    cuts = []  # (chain index, prefix) for every boundary of every chain
    for i, (_, _, completion) in enumerate(chains):
        n = len(prefixes.chain_steps(completion))
        ks = [k for k in prefixes.spaced_ks(n, cfg.max_boundaries) if k > 0]
        cuts.extend((i, cut) for cut in prefixes.step_prefixes(f"c{i}", completion, ks))
    out: list[list[Boundary]] = [[] for _ in chains]
    if not cuts:
        return out
    forced_prompts = [chains[i][1] + cut.text + suffix for i, cut in cuts]
    written = [row[0].text for row in rollouts.sample(lm, forced_prompts, 1, cfg.forcing())]
    answers = [forced_answer(suffix, w) for w in written]
    scored = [p + (w if a is None else a + "}")
              for p, w, a in zip(forced_prompts, written, answers)]
    close_end = suffix.index(THINK_CLOSE) + len(THINK_CLOSE)
    spans = [[(len(p) - len(suffix), len(p) - len(suffix) + close_end), (len(p), len(text))]
             for p, text in zip(forced_prompts, scored)]
    confidences = span_logprobs(lm, scored, spans, cfg.forward_batch_size)
    prompt_tokens = [len(activations.encode_one(lm, prompt)) for _, prompt, _ in chains]
    for (i, cut), answer, text, (close, said) in zip(cuts, answers, scored, confidences):
        problem, prompt, _ = chains[i]
        forced = text[len(prompt):]
        out[i].append(Boundary(
            k=cut.k,
            tokens=len(activations.encode_one(lm, prompt + cut.text)) - prompt_tokens[i],
            answer=answer,
            correct=answer is not None and task.assess(problem, forced).correct,
            answer_confidence=round(said.mean_probability, 6) if answer is not None else 0.0,
            # nan: no token of the suffix's `</think>` survived tokenisation on its own
            end_of_thinking=round(math.exp(close.total), 6) if close.n_tokens else math.nan))
    return out


def sample_chains(ctx: Context, task, problems) -> None:
    """`samples` chains per problem and their boundaries; one "chain" row per chain."""
    cfg, lm = ctx.cfg, ctx.model
    units = {p.id: [f"chain:{p.id}:{j}" for j in range(cfg.samples)] for p in problems}
    todo = [p for p in problems if ctx.store.pending(units[p.id])]
    if not todo:
        return  # a resumed run: every chain is on disk
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = rollouts.sample(lm, prompts, cfg.samples, cfg.sampling())
    chains = [(p, prompt, c) for p, prompt, row in zip(todo, prompts, samples) for c in row]
    found = boundaries_batch(ctx, task, [(p, prompt, c.text) for p, prompt, c in chains])
    for (problem, prompt, c), bounds in zip(chains, found):
        unit = f"chain:{problem.id}:{c.sample_index}"
        if ctx.store.done(unit):
            continue
        graded = task.assess(problem, c.text)
        ctx.store.append({
            "unit": unit, "kind": "chain", "problem": problem.id, "sample": c.sample_index,
            "prompt": prompt, "completion": c.text, "finished": graded.finished and c.finished,
            "correct": graded.correct, "boundaries": bounds,
        })


# %% [markdown]
# ## Probe: the residual at each boundary predicts "a forced answer here is right"
# Cross-fitted by problem: problems are dealt into `folds` folds; the probe that scores a fold's
# chains never saw their problems. Inside each training set, out-of-fold scores (again split by
# problem) are what the threshold is chosen on, so the threshold never sees a test problem either.
# (A standardised logistic regression from scikit-learn, fitted directly: no shared probe helper
# existed when this was written; `activations.oof_predict` gives the inner scores.)


# %%
def fold_of(problems: list[str], folds: int, seed: int) -> dict[str, int]:
    """Deal problems into folds at random (seeded): {problem: fold}.

    >>> fold_of(["a", "b", "c", "d"], folds=2, seed=0) == fold_of(["d", "c", "b", "a"], 2, 0)
    True
    """
    names = sorted(set(problems))
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[j]: int(i % folds) for i, j in enumerate(order)}


def make_probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def fit_probe(ctx: Context, chains: list[dict]) -> None:
    cfg, lm = ctx.cfg, ctx.model
    if not -lm.n_layers <= cfg.layer < lm.n_layers:
        raise UsageError(f"layer {cfg.layer} is outside {-lm.n_layers}..{lm.n_layers - 1} "
                         f"({lm.spec.name} has {lm.n_layers} blocks)")
    layer = cfg.layer % lm.n_layers
    chains = [c for c in chains if c["boundaries"]]
    folds = fold_of([c["problem"] for c in chains], cfg.folds, cfg.seed)
    # fold_of: problem -> fold; train: per fold, inner out-of-fold scores of its training chains;
    # test: every chain's scores from the probe that did not see its problem
    row = {"unit": "probe", "kind": "probe", "layer": layer, "skipped": None,
           "fold_of": folds, "max_accuracy_drop": cfg.max_accuracy_drop, "train": [], "test": {}}
    texts, positions = [], []
    for c in chains:
        _, ends = activations.step_end_positions(lm, c["prompt"], c["completion"])
        texts.append(c["prompt"] + c["completion"])
        positions.append([ends[b["k"] - 1] for b in c["boundaries"]])
    owner = [c["unit"] for c in chains for _ in c["boundaries"]]
    groups = np.array([c["problem"] for c in chains for _ in c["boundaries"]])
    y = np.array([float(b["correct"]) for c in chains for b in c["boundaries"]])
    fold = np.array([folds[g] for g in groups])
    try:
        if not chains:
            raise UsageError("no chain has a step boundary to probe")
        acts = activations.cache_resid(lm, texts, positions, [layer],
                                       batch_size=cfg.forward_batch_size)[layer].numpy()
        test = np.zeros(len(y))
        for f in range(cfg.folds):
            train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            if len(set(y[train].tolist())) < 2:
                raise UsageError(f"fold {f}'s training problems have forced answers of one grade "
                                 "only; use more problems")
            inner = activations.oof_predict(acts[train], y[train], groups[train], "classify",
                                            cfg.inner_folds, cfg.seed)
            probe = make_probe().fit(acts[train], y[train])
            if len(held):
                test[held] = probe.predict_proba(acts[held])[:, 1]
            row["train"].append(_by_chain([owner[i] for i in train], inner))
        row["test"] = _by_chain(owner, test)
    except UsageError as why:  # e.g. every forced answer right (or wrong): nothing to learn
        row["skipped"] = str(why)
    ctx.store.append(row)


def _by_chain(owner: list[str], scores) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for unit, score in zip(owner, scores):
        out.setdefault(unit, []).append(round(float(score), 6))
    return out


def run(ctx: Context) -> None:
    task = get_task_set(ctx.cfg.task)
    problems = task.make(ctx.cfg.n_problems, seed=ctx.cfg.seed)
    sample_chains(ctx, task, problems)
    if not ctx.store.done("probe"):
        fit_probe(ctx, [r for r in ctx.store.rows() if r.get("kind") == "chain"])


# %% [markdown]
# ## Analyse: each policy's threshold chosen on training problems, scored on held-out ones


# %%
@dataclass(frozen=True)
class Chain:
    """A finished chain as the policies see it."""

    unit: str  # "chain:<problem>:<sample>"
    problem: str  # cluster
    correct: bool  # the full chain's own answer is right
    boundaries: list[Boundary]  # in order; the last is the end of the last step
    probe: list[float] | None  # held-out probe score per boundary (None: no probe)
    target_rule: list[float] | None = None  # 1.0 where the last `Try …=v.` so far has v = target
    forced_answer_rule: list[float] | None = None  # 1.0 where the forced answer equals the target
    final_step: str = ""  # the chain's last thinking step ("Hit." on the organism's traces)

    @property
    def full_tokens(self) -> int:
        return self.boundaries[-1]["tokens"]

    def signal(self, policy: str) -> list[float]:
        """The number each policy compares with its threshold, per boundary."""
        if policy == "probe":
            return list(self.probe) if self.probe is not None else [math.nan] * len(self.boundaries)
        if policy == "token_budget":
            return [float(b["tokens"]) for b in self.boundaries]
        if policy in RULES:
            return list(getattr(self, policy) or [0.0] * len(self.boundaries))
        return [float(b[policy]) for b in self.boundaries]


TRY = re.compile(r"Try [^=]*=\s*(-?\d+(?:\.\d+)?)\s*\.")
TARGET = re.compile(r"Target:\s*(-?\d+)")


def target_rule(prompt: str, completion: str, boundaries: list[Boundary]) -> list[float]:
    """Per boundary, 1.0 when the last `Try …=v.` in the first k steps has v = the target.

    The one-line text rule a reviewer states first on the organism ("stop once the last Try
    reached the target"); 0.0 everywhere when the prompt names no target or no step is a Try.

    >>> b = [{"k": 1}, {"k": 2}, {"k": 3}]
    >>> target_rule("Numbers: 3 4. Target: 7. <think>", " Try 3*4=12. Miss. Try 3+4=7. Hit.", b)
    [0.0, 0.0, 1.0]
    """
    target = TARGET.search(prompt)
    steps = prefixes.chain_steps(completion)
    out = []
    for bound in boundaries:
        tries = [m.group(1) for s in steps[: bound["k"]] for m in TRY.finditer(s.text)]
        hit = target is not None and bool(tries) and float(tries[-1]) == float(target.group(1))
        out.append(float(hit))
    return out


def forced_answer_rule(prompt: str, boundaries: list[Boundary]) -> list[float]:
    """Per boundary, 1.0 when the forced answer, evaluated as arithmetic, equals the target.

    A one-line verifier (Countdown answers are checkable): it reads the forced answer and the
    prompt's target, no activations. Unlike the grader it does not check which numbers were used,
    so it can stop on a wrong answer that hits the target with other numbers.

    >>> b = [{"answer": "3*4"}, {"answer": "3+4"}, {"answer": None}, {"answer": "7/0"}]
    >>> forced_answer_rule("Numbers: 3 4. Target: 7. <think>", b)
    [0.0, 1.0, 0.0, 0.0]
    >>> forced_answer_rule("Numbers: 3 4. Target: 7. <think>", [{"answer": "5+2"}])
    [1.0]
    """
    from starter.tasks.countdown import evaluate_expression

    target = TARGET.search(prompt)
    out = []
    for bound in boundaries:
        hit = False
        if target is not None and bound["answer"]:
            try:
                hit = evaluate_expression(bound["answer"]) == int(target.group(1))
            except ValueError:  # malformed, or a division by zero
                hit = False
        out.append(float(hit))
    return out


def saved_before_last(chain: Chain, outcome: Outcome) -> float:
    """The share of the thinking before the chain's last step that a stop saves: the savings with
    the final step (`Hit.` on the organism) excluded. A stop at or after the boundary before the
    last step saves 0.

    >>> b = [{"tokens": 10, "correct": True}, {"tokens": 40, "correct": True},
    ...      {"tokens": 42, "correct": True}]
    >>> c = Chain("u", "p", True, b, None, final_step="Hit.")
    >>> saved_before_last(c, Outcome(10, True, 0.76)), saved_before_last(c, Outcome(40, True, 0.05))
    (0.75, 0.0)
    """
    if len(chain.boundaries) < 2 or chain.boundaries[-2]["tokens"] <= 0:
        return 0.0
    return max(0.0, 1 - outcome.tokens / chain.boundaries[-2]["tokens"])


def final_step_only(chain: Chain, outcome: Outcome) -> bool:
    """Whether a stop skipped exactly the chain's last step (the boundary before it).

    >>> b = [{"tokens": 10, "correct": True}, {"tokens": 40, "correct": True},
    ...      {"tokens": 42, "correct": True}]
    >>> c = Chain("u", "p", True, b, None, final_step="Hit.")
    >>> final_step_only(c, Outcome(40, True, 2 / 42)), final_step_only(c, Outcome(10, True, 0.76))
    (True, False)
    """
    return len(chain.boundaries) >= 2 and outcome.tokens == chain.boundaries[-2]["tokens"]


@dataclass(frozen=True)
class Outcome:
    """Where a policy stopped one chain."""

    tokens: int  # thinking tokens used
    correct: bool  # the answer given there is right
    saved: float  # share of the full chain's thinking tokens not written


def stop(chain: Chain, signal: list[float], threshold: float) -> Outcome:
    """Stop at the first boundary whose signal reaches the threshold; else let the chain finish.

    >>> b = [{"tokens": 10, "correct": False}, {"tokens": 40, "correct": True}]
    >>> c = Chain("u", "p", True, b, None)
    >>> stop(c, [0.2, 0.9], 0.5), stop(c, [0.2, 0.3], 0.5).saved
    (Outcome(tokens=40, correct=True, saved=0.0), 0.0)
    >>> stop(c, [0.6, 0.9], 0.5)
    Outcome(tokens=10, correct=False, saved=0.75)
    """
    for bound, value in zip(chain.boundaries, signal):
        if value >= threshold:  # nan never does
            saved = 1 - bound["tokens"] / chain.full_tokens
            return Outcome(bound["tokens"], bound["correct"], saved)
    return Outcome(chain.full_tokens, chain.correct, 0.0)


def oracle(chain: Chain) -> Outcome:
    """The ceiling: stop at the first boundary whose forced answer is right (if any)."""
    return stop(chain, [float(b["correct"]) for b in chain.boundaries], 1.0)


def grid(policy: str, chains: list[Chain]) -> list[float]:
    """Thresholds swept: probabilities, or token budgets as shares of the longest chain."""
    if policy != "token_budget":
        return list(THRESHOLDS)
    longest = max((c.full_tokens for c in chains), default=1)
    return [s if s == math.inf else float(round(s * longest)) for s in BUDGET_SHARES]


def choose_threshold(policy: str, chains: list[Chain], signals: list[list[float]],
                     max_drop: float) -> float:
    """The threshold with the most tokens saved at no more than `max_drop` accuracy lost.

    Accuracy is compared with the full chains' on the same (training) chains; ties go to the
    higher, more cautious threshold; `inf` (never stop early) always qualifies.

    >>> b = [{"tokens": 10, "correct": True}, {"tokens": 40, "correct": True}]
    >>> chains = [Chain("u", "p", True, b, None)]
    >>> choose_threshold("probe", chains, [[0.3, 0.9]], 0.0)
    0.3
    >>> choose_threshold("probe", chains, [[0.3, 0.9]], 0.0) == choose_threshold(
    ...     "answer_confidence", chains, [[0.3, 0.9]], 0.0)
    True
    """
    if not chains:
        return math.inf
    full = np.mean([c.correct for c in chains])
    best, best_saved = math.inf, 0.0
    for t in sorted(grid(policy, chains), reverse=True):
        outcomes = [stop(c, s, t) for c, s in zip(chains, signals)]
        accuracy = np.mean([o.correct for o in outcomes])
        saved = float(np.mean([o.saved for o in outcomes]))
        if accuracy >= full - max_drop - 1e-12 and saved > best_saved + 1e-12:
            best, best_saved = t, saved
    return best


@dataclass(frozen=True)
class PolicyResult:
    """One policy at thresholds chosen on training problems, scored on held-out problems."""

    policy: str  # a name in POLICIES, or "oracle"
    accuracy: stats.Estimate  # of the answers it gives (finished chains)
    saved: stats.Estimate  # share of each chain's thinking tokens saved, averaged over chains
    tokens: stats.Estimate  # thinking tokens used per chain
    accuracy_minus_full: stats.Estimate  # paired by problem
    thresholds: list[float]  # chosen in each fold


@dataclass(frozen=True)
class SweepPoint:
    """One threshold of one policy, on every finished chain (held-out probe scores)."""

    policy: str
    threshold: float
    accuracy: stats.Estimate
    saved: stats.Estimate


def chains_of(rows: list[dict]) -> tuple[list[Chain], dict]:
    """Finished chains with a boundary, and the probe row ({} when there is none)."""
    probe = next((r for r in rows if r.get("kind") == "probe"), {})
    scores = probe.get("test") or {}
    return [Chain(r["unit"], r["problem"], bool(r["correct"]), r["boundaries"],
                  scores.get(r["unit"]), target_rule(r["prompt"], r["completion"], r["boundaries"]),
                  forced_answer_rule(r["prompt"], r["boundaries"]), _last_step(r["completion"]))
            for r in rows if r.get("kind") == "chain" and r["finished"] and r["boundaries"]], probe


def _last_step(completion: str) -> str:
    steps = prefixes.chain_steps(completion)
    return steps[-1].text if steps else ""


@dataclass(frozen=True)
class CrossFit:
    """A policy's outcome on every chain, each at the threshold chosen without its problem."""

    outcomes: dict[str, Outcome]  # chain unit -> where it stopped
    thresholds: list[float]  # chosen in each fold


def cross_fit(policy: str, chains: list[Chain], probe: dict, max_drop: float) -> CrossFit:
    """Per fold, the threshold is chosen on the other folds' chains and applied to this fold's."""
    folds = probe.get("fold_of") or fold_of([c.problem for c in chains], 4, 0)
    n_folds = max(folds.values(), default=-1) + 1
    outcomes: dict[str, Outcome] = {}
    chosen = []
    for f in range(n_folds):
        train = [c for c in chains if folds.get(c.problem) != f]
        test = [c for c in chains if folds.get(c.problem) == f]
        if policy == "probe":  # the probe's inner out-of-fold scores on the training problems
            inner = probe["train"][f] if f < len(probe.get("train", [])) else {}
            train = [c for c in train if c.unit in inner]
            signals = [inner[c.unit] for c in train]
        else:
            signals = [c.signal(policy) for c in train]
        # the one-line rules have nothing to fit: applied as stated in every fold (choosing "use
        # it or never" on training problems would weaken the rung a reviewer tries)
        threshold = (1.0 if policy in RULES else
                     choose_threshold(policy, train, signals, max_drop))
        chosen.append(threshold)
        for c in test:
            outcomes[c.unit] = stop(c, c.signal(policy), threshold)
    return CrossFit(outcomes, chosen)


def summarise(policy: str, chains: list[Chain], outcomes: dict[str, Outcome],
              thresholds: list[float]) -> PolicyResult:
    scored = [c for c in chains if c.unit in outcomes]
    where = [c.problem for c in scored]
    correct = [float(outcomes[c.unit].correct) for c in scored]
    saved = stats.mean_ci([outcomes[c.unit].saved for c in scored], where)
    minus_full = stats.difference_ci(correct, where, [float(c.correct) for c in scored], where)
    if scored and thresholds and all(t == math.inf for t in thresholds):
        # never stops early: it saves 0 and answers as the full chain on every chain by
        # construction, a constant, not a sample (no Wilson interval to widen a difference)
        saved = stats.constant(0.0, len(set(where)), n_items=len(scored))
        minus_full = stats.constant(0.0, len(set(where)), n_items=len(scored))
    return PolicyResult(
        policy=policy,
        accuracy=stats.mean_ci(correct, where),
        saved=saved,
        tokens=stats.mean_ci([outcomes[c.unit].tokens for c in scored], where),
        accuracy_minus_full=minus_full,
        thresholds=thresholds)


def sweep(policy: str, chains: list[Chain]) -> list[SweepPoint]:
    where = [c.problem for c in chains]
    points = []
    for t in grid(policy, chains):
        outcomes = [stop(c, c.signal(policy), t) for c in chains]
        points.append(SweepPoint(policy, t, stats.mean_ci([float(o.correct) for o in outcomes],
                                                          where),
                                 stats.mean_ci([o.saved for o in outcomes], where)))
    return points


def best_within(points: list[SweepPoint], policy: str,
                full: stats.Estimate) -> SweepPoint | None:
    """The swept threshold saving the most whose accuracy lies inside the full chain's interval.

    Chosen on the scored chains themselves: optimistic, alike for every policy (the cross-fitted
    thresholds are the honest comparison).

    >>> e = lambda v: stats.Estimate(v, None, 5, 5)
    >>> pts = [SweepPoint("probe", 0.5, e(0.6), e(0.4)), SweepPoint("probe", 0.9, e(0.9), e(0.2))]
    >>> best_within(pts, "probe", stats.Estimate(0.95, (0.8, 1.0), 5, 5)).threshold
    0.9
    """
    if full.ci is None:
        return None
    inside = [p for p in points if p.policy == policy and math.isfinite(p.accuracy.value)
              and full.ci[0] <= p.accuracy.value <= full.ci[1]]
    return max(inside, key=lambda p: (p.saved.value, p.threshold), default=None)


def auroc(chains: list[Chain], policy: str) -> float:
    """Pooled AUROC of a signal for "the forced answer here is right" (nan: one class only)."""
    pairs = [(v, b["correct"]) for c in chains for v, b in zip(c.signal(policy), c.boundaries)
             if math.isfinite(v)]
    labels = {y for _, y in pairs}
    if len(labels) < 2:
        return math.nan
    return activations.score_predictions([float(y) for _, y in pairs], [v for v, _ in pairs])


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings and figure read these fields."""

    n_chains: int  # sampled chains
    n_unfinished: int  # of them, never finished
    n_scored: int  # finished chains with boundaries: the ones the policies are scored on
    n_boundaries: int  # step boundaries where an answer was forced
    label_rate: stats.Estimate  # boundaries whose forced answer is already correct
    full_accuracy: stats.Estimate  # accuracy of the whole chains (no early exit)
    full_tokens: stats.Estimate  # tokens of the whole chains
    n_wrong: int  # scored chains whose final answer is wrong
    n_rescuable: int  # of them, with a boundary whose forced answer is right
    probe_layer: int | None  # the probe's layer (None: no probe row)
    probe_skipped: str | None  # why the probe was not fitted (None: it was)
    policies: dict[str, PolicyResult]  # policy -> accuracy and tokens saved, cross-fitted
    oracle: PolicyResult  # stopping at the first correct boundary (an upper bound)
    sweep: list[SweepPoint]  # every policy at every threshold
    auroc: dict[str, float]  # policy -> AUROC of its score for "already correct"
    within_full_ci: dict[str, SweepPoint | None]  # policy -> most saving within full accuracy
    n_final_hit: int  # scored chains whose last step is the organism's "Hit."
    final_step: dict[str, tuple[int, int]]  # policy -> (stops, stops skipping only the last step)
    best_baseline: str  # the baseline policy that saves most
    probe_minus: dict[str, stats.Estimate]  # baseline -> tokens saved: probe minus it
    # the headline: mean saved by the probe / mean saved by the oracle, same chains (bootstrap)
    probe_share_of_oracle: stats.Estimate
    # policy (and "oracle") -> share saved of the thinking before the chain's last step, i.e.
    # with the final `Hit.` step excluded: a stop that skips only that step saves 0
    saved_before_last: dict[str, stats.Estimate]
    n_scored_boundaries: int  # boundaries of the scored chains
    verifier_disagrees: int  # of them, where the verifier's verdict differs from the grade


def analyse(rows: list[dict]) -> Metrics:
    all_chains = [r for r in rows if r.get("kind") == "chain"]
    chains, probe = chains_of(rows)
    max_drop = float(probe.get("max_accuracy_drop", 0.0))
    where = [c.problem for c in chains]
    has_probe = bool(probe) and not probe.get("skipped")
    policies = POLICIES if has_probe else BASELINES
    fits = {p: cross_fit(p, chains, probe, max_drop) for p in policies}
    m: dict = {
        "n_chains": len(all_chains),
        "n_unfinished": sum(not r["finished"] for r in all_chains),
        "n_scored": len(chains),
        "n_boundaries": sum(len(r["boundaries"]) for r in all_chains),
        "label_rate": stats.mean_ci([float(b["correct"]) for r in all_chains
                                     for b in r["boundaries"]],
                                    [r["problem"] for r in all_chains for _ in r["boundaries"]]),
        "full_accuracy": stats.mean_ci([float(c.correct) for c in chains], where),
        "full_tokens": stats.mean_ci([c.full_tokens for c in chains], where),
        "n_wrong": sum(not c.correct for c in chains),
        "n_rescuable": sum(not c.correct and any(b["correct"] for b in c.boundaries)
                           for c in chains),
        "probe_layer": probe.get("layer"),
        "probe_skipped": probe.get("skipped") if probe else "no probe row",
        "policies": {p: summarise(p, chains, fits[p].outcomes, fits[p].thresholds)
                 for p in policies},
        "oracle": summarise("oracle", chains, {c.unit: oracle(c) for c in chains}, []),
        "sweep": [point for p in policies for point in sweep(p, chains)],
        "auroc": {p: auroc(chains, p) for p in policies},
    }
    m["within_full_ci"] = {p: best_within(m["sweep"], p, m["full_accuracy"]) for p in policies}
    # where the savings come from: stops that skip only the chain's last step (on the organism,
    # the 2-token "Hit." verdict) against all stops, per policy and for the oracle
    m["n_final_hit"] = sum(c.final_step == "Hit." for c in chains)
    m["final_step"] = {}
    for p, outcomes in [*((p, fits[p].outcomes) for p in policies),
                        ("oracle", {c.unit: oracle(c) for c in chains})]:
        stopped = [c for c in chains if outcomes[c.unit].saved > 0]
        m["final_step"][p] = (len(stopped),
                              sum(final_step_only(c, outcomes[c.unit]) for c in stopped))
    baselines = {p: m["policies"][p] for p in BASELINES}
    best = max(baselines, key=lambda p: _finite(baselines[p].saved.value))
    m["best_baseline"] = best
    m["probe_minus"] = {}
    for p in BASELINES:
        if has_probe:
            mine = [fits["probe"].outcomes[c.unit].saved for c in chains]
            theirs = [fits[p].outcomes[c.unit].saved for c in chains]
            m["probe_minus"][p] = (stats.minus_constant(mine, where, 0.0)
                                   if m["policies"][p].saved.exact else
                                   stats.difference_ci(mine, where, theirs, where))
        else:
            m["probe_minus"][p] = stats.mean_ci([], [])
    oracle_saved = [oracle(c).saved for c in chains]
    m["probe_share_of_oracle"] = (
        stats.ratio_ci([fits["probe"].outcomes[c.unit].saved for c in chains], oracle_saved,
                       where) if has_probe else stats.mean_ci([], []))
    m["saved_before_last"] = {}
    for p, outcomes in [*((p, fits[p].outcomes) for p in policies),
                        ("oracle", {c.unit: oracle(c) for c in chains})]:
        before = [saved_before_last(c, outcomes[c.unit]) for c in chains]
        never = p != "oracle" and chains and all(t == math.inf for t in fits[p].thresholds)
        m["saved_before_last"][p] = (stats.constant(0.0, len(set(where)), n_items=len(chains))
                                     if never else stats.mean_ci(before, where))
    m["n_scored_boundaries"] = sum(len(c.boundaries) for c in chains)
    m["verifier_disagrees"] = sum(
        v != float(b["correct"]) for c in chains
        for v, b in zip(c.signal("forced_answer_rule"), c.boundaries))
    return Metrics(**m)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


# %% [markdown]
# ## Figure: accuracy against tokens saved, swept and at the chosen thresholds


# %%
NAMES = {"probe": "probe", "answer_confidence": "answer confidence",
         "end_of_thinking": "P(</think>)", "token_budget": "token budget",
         "target_rule": "target rule (last Try = target)",
         "forced_answer_rule": "verifier (forced answer = target)", "oracle": "oracle"}


def name_of(policy: str, m: Metrics) -> str:
    """A policy's name in the claims and the summary; the verifier's says how far it is from the
    oracle on these chains (review A's point: it is the ceiling, not a baseline)."""
    if policy != "forced_answer_rule":
        return NAMES[policy]
    k = m.verifier_disagrees
    return (f"verifier (equals the oracle except at {k} boundar{'y' if k == 1 else 'ies'} of "
            f"{m.n_scored_boundaries})")


def plot(rows: list[dict], m: Metrics):
    import matplotlib.pyplot as plt

    fig, (curve, bars) = plt.subplots(1, 2, figsize=(7, 3.8))
    for i, policy in enumerate(m.policies):
        points = sorted((p for p in m.sweep if p.policy == policy),
                        key=lambda p: p.saved.value)
        curve.plot([p.saved.value for p in points], [p.accuracy.value for p in points], "-",
                   color=f"C{i}", lw=1, alpha=0.7, label=NAMES[policy])
        chosen = m.policies[policy]
        _point(curve, chosen.saved, chosen.accuracy, f"C{i}")
    full = m.full_accuracy
    if full.ci is not None:
        curve.axhspan(*full.ci, color="0.85", zorder=0, label="full chain (95% CI)")
    _point(curve, m.oracle.saved, m.oracle.accuracy, "k", marker="*")
    curve.plot([], [], "k*", label="oracle")
    curve.set(xlabel="share of thinking tokens saved", ylabel="accuracy (finished chains)",
              title="Sweep; dots: threshold from training problems", ylim=(-0.05, 1.05))
    curve.title.set_fontsize(8)
    names = [*m.policies, "oracle"]
    results = [*m.policies.values(), m.oracle]
    for i, r in enumerate(results):
        _bar(bars, i, r.saved, "k" if r.policy == "oracle" else f"C{i}")
    bars.set_xticks(range(len(names)), [NAMES[n] for n in names], rotation=30, ha="right",
                    fontsize=7)
    bars.set(ylabel="share of thinking tokens saved", title="Held-out problems (95% CI)")
    bars.title.set_fontsize(8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(*curve.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7,
               bbox_to_anchor=(0.5, 0.0))
    return fig


def _point(ax, x: stats.Estimate, y: stats.Estimate, color: str, marker: str = "o") -> None:
    if not (math.isfinite(x.value) and math.isfinite(y.value)):
        return
    xerr = None if x.ci is None else interval_errors([x])
    yerr = None if y.ci is None else interval_errors([y])
    ax.errorbar([x.value], [y.value], xerr=xerr, yerr=yerr, fmt=marker, color=color, ms=5,
                capsize=2)


def _bar(ax, x: float, est: stats.Estimate, color: str) -> None:
    estimate_bars(ax, [x], [est], 0.6, color=color, capsize=2)


# %% [markdown]
# ## Claims: does the probe save more than the best plain baseline, at the same accuracy?


# %%
def claims(m: Metrics) -> list[Claim]:
    best = m.best_baseline
    probe = m.policies.get("probe")
    empty = stats.mean_ci([], [])
    saved = probe.saved if probe else empty
    accuracy = probe.accuracy if probe else empty
    strongest = Baseline(f"{name_of(best, m)} ({_how(best)})", m.policies[best].saved)
    head = ("With thresholds chosen on training problems, stopping where the probe says saves "
            "more of the thinking on held-out problems than ")
    out = [compare(head + "the strongest baseline that reads no activations (the target rule "
                   "and the verifier included).",
                   "share of thinking tokens saved (probe)", saved,
                   f"strongest baseline on the test problems ({name_of(best, m)}, {_how(best)})",
                   "share of thinking tokens saved",
                   m.policies[best].saved, m.probe_minus[best], key=PRIMARY,
                   strongest_baseline=strongest)]
    for other in (p for p in BASELINES if p != best):  # each of the others too
        out.append(compare(head + f"stopping on {name_of(other, m)}.",
                           "share of thinking tokens saved (probe)", saved,
                           f"{name_of(other, m)} ({_how(other)})",
                           "share of thinking tokens saved", m.policies[other].saved,
                           m.probe_minus[other], key=f"probe-vs-{other}"))
    out.append(compare(
        "Stopping where the probe says loses accuracy against letting the chain finish.",
        "accuracy (probe policy)", accuracy, "full chain (never stop early), same chains",
        "accuracy", m.full_accuracy, probe.accuracy_minus_full if probe else empty,
        direction=-1, key="probe-accuracy-loss"))
    return declare(out, PRIMARY)


def _how(policy: str) -> str:
    """How a policy's stopping point was set on held-out problems."""
    if policy in RULES:
        return "a fixed rule, applied as stated"
    return "threshold from training problems"


def headline(m: Metrics) -> str:
    """The summary's first paragraph: the probe as a share of the oracle's savings, and why the
    primary claim cannot be supported on this task.

    >>> from types import SimpleNamespace  # the Metrics fields it reads
    >>> m = SimpleNamespace(probe_share_of_oracle=stats.Estimate(0.4, (0.22, 0.6), 63, 63),
    ...     best_baseline="forced_answer_rule", verifier_disagrees=1, n_scored_boundaries=633)
    >>> print(headline(m))  # doctest: +NORMALIZE_WHITESPACE
    Read first: the probe saves 0.40 (95% CI 0.22 to 0.60; n=63 problems) of what the oracle
    saves (the ratio of the mean shares saved, cluster bootstrap over problems): this share, not
    the primary verdict, is the run's headline. The primary claim's comparator changed after
    review A: the ladder now holds the verifier (forced answer = target), which equals the oracle
    except at 1 of the 633 scored boundaries, and it is the strongest rung, so the primary
    compares the probe with the ceiling itself and is refuted by construction; it is kept as
    declared. On R1 maths such a verifier needs the reference answer (a Countdown target is in
    the prompt, a MATH answer is not), so it is no rule a deployed early exit could use there.
    """
    text = (f"Read first: the probe saves {stats.describe(m.probe_share_of_oracle)} of what the "
            "oracle saves (the ratio of the mean shares saved, cluster bootstrap over problems): "
            "this share, not the primary verdict, is the run's headline. The primary claim's "
            "comparator changed after review A: the ladder now holds the verifier (forced answer "
            f"= target), which equals the oracle except at {m.verifier_disagrees} of the "
            f"{m.n_scored_boundaries} scored boundaries")
    if m.best_baseline == "forced_answer_rule":
        text += (", and it is the strongest rung, so the primary compares the probe with the "
                 "ceiling itself and is refuted by construction; it is kept as declared")
    else:
        text += f"; the strongest rung here is {NAMES[m.best_baseline]}"
    return text + (". On R1 maths such a verifier needs the reference answer (a Countdown target "
                   "is in the prompt, a MATH answer is not), so it is no rule a deployed early "
                   "exit could use there.")


def where_saved(m: Metrics) -> str:
    """The second paragraph of the summary: how much of each policy's savings is the last step,
    and the savings with that step excluded.

    >>> from types import SimpleNamespace  # the four Metrics fields it reads
    >>> e = lambda v: stats.Estimate(v, (v - 0.01, v + 0.01), 63, 63)
    >>> m = SimpleNamespace(n_scored=63, n_final_hit=63, final_step={"target_rule": (58, 55),
    ...                     "probe": (40, 37)}, saved_before_last={"target_rule": e(0.02),
    ...                     "probe": e(0.01)})
    >>> print(where_saved(m))  # doctest: +NORMALIZE_WHITESPACE
    Nearly all of the savings here are the final step. 63 of the 63 scored chains end with the
    step `Hit.`, and a stop at the boundary just before the last step saves only that step. Stops
    earlier than the last step: target rule (last Try = target) 3 of its 58 stops; probe 3 of its
    40 stops. With the final step excluded (each chain counted as ending before it, so a stop that
    skips only that step saves 0), the share saved is: target rule (last Try = target) 0.02 (95%
    CI 0.01 to 0.03; n=63 problems); probe 0.01 (95% CI 0.00 to 0.02; n=63 problems). So the
    shares saved below mostly measure whether a policy skips the verdict step, not whether it
    finds the answer earlier.
    """
    parts = [f"{NAMES[p]} {n - last} of its {n} stops" for p, (n, last) in m.final_step.items()
             if n]
    never = [NAMES[p] for p, (n, _) in m.final_step.items() if not n]
    if never:
        parts.append(f"{' and '.join(never)} never stopped early")
    stops = sum(n for n, _ in m.final_step.values())
    last = sum(k for _, k in m.final_step.values())
    mostly = stops > 0 and last >= 0.8 * stops  # "nearly all" only when the rows say so
    head = ("Nearly all of the savings here are the final step" if mostly else
            "Where the savings come from")
    tail = (" So the shares saved below mostly measure whether a policy skips the verdict step, "
            "not whether it finds the answer earlier." if mostly else "")
    excluded = "; ".join(f"{NAMES[p]} {stats.describe(e)}"
                         for p, e in m.saved_before_last.items())
    return (f"{head}. {m.n_final_hit} of the {m.n_scored} scored chains end "
            "with the step `Hit.`, and a stop at the boundary just before the last step saves "
            "only that step. Stops earlier than the last step: " + "; ".join(parts) + ". With "
            "the final step excluded (each chain counted as ending before it, so a stop that "
            f"skips only that step saves 0), the share saved is: {excluded}." + tail)


def findings(m: Metrics) -> str:
    d = stats.describe
    text = ""
    if m.n_scored and not m.probe_skipped:
        text += headline(m) + "\n\n"
    if m.n_scored:
        text += where_saved(m) + "\n\n"
    text += (f"{m.n_chains} chains sampled, {m.n_unfinished} unfinished (no `</think>` and "
            f"answer; they train the probe but are not scored); {m.n_scored} finished chains "
            f"scored. Full chains: accuracy {d(m.full_accuracy)}, thinking tokens "
            f"{d(m.full_tokens, 1)}. A forced answer was right at {d(m.label_rate)} of "
            f"the {m.n_boundaries} boundaries. The oracle (stop at the first boundary whose "
            f"forced answer is right) saves {d(m.oracle.saved)} of the thinking at accuracy "
            f"{d(m.oracle.accuracy)}: the ceiling for any policy.")
    if m.probe_skipped:
        text += f"\n\nNo probe was fitted ({m.probe_skipped}); only the baselines are scored."
    text += "\n\nAt thresholds chosen on the training problems of each fold, on held-out problems:"
    for policy, r in m.policies.items():
        text += (f"\n- {NAMES[policy]}: saves {d(r.saved)} of the thinking, accuracy "
                 f"{d(r.accuracy)} (minus the full chain's: {_signed(r.accuracy_minus_full)}); "
                 f"thresholds {', '.join(_threshold(t) for t in r.thresholds)}; pooled AUROC "
                 f"for \"a forced answer here is right\" {m.auroc[policy]:.2f} (no interval).")
    inside = [f"{NAMES[p]} {d(point.saved)} (threshold {_threshold(point.threshold)})"
              for p, point in m.within_full_ci.items() if point is not None]
    if inside:
        text += ("\n\nRead off the sweep instead (the most saved at an accuracy inside the full "
                 "chain's 95% interval, chosen on the scored chains themselves, so optimistic for "
                 "every policy alike): " + "; ".join(inside) + ".")
    if not m.probe_skipped:
        diff = m.probe_minus[m.best_baseline]
        verdict = ("more than" if diff.excludes_zero and diff.value > 0 else
                   "less than" if diff.excludes_zero else "not distinguishable from")
        text += (f"\n\nThe probe saves {verdict} the best baseline ({NAMES[m.best_baseline]}, "
                 f"picked on the test problems, which favours the baselines): difference "
                 f"{_signed(diff)}. Against each baseline: "
                 + "; ".join(f"{NAMES[p]} {_signed(e)}" for p, e in m.probe_minus.items())
                 + f". The probe reads the residual stream after block {m.probe_layer}.")
        never = [NAMES[p] for p, r in m.policies.items()
                 if p != "probe" and all(t == math.inf for t in r.thresholds)]
        if never:
            text += (f" The baselines {' and '.join(never)} never stopped early at the "
                     "thresholds chosen (no "
                     "threshold saved tokens without losing accuracy on the training problems), "
                     "so they save exactly 0 on every chain by construction: a constant, not a "
                     "sample, and the probe's difference from them carries the probe's own "
                     "interval (earlier runs gave that side Wilson's interval over the problems, "
                     "which kept the difference from a verdict).")
        weakest = [NAMES[p] for p, e in m.probe_minus.items() if not e.excludes_zero]
        text += (" Against every baseline at once: " + (
            "the probe saves more than each of them." if not weakest else
            f"not shown (not distinguishable from {', '.join(weakest)} at this n)."))
    if m.n_wrong:
        text += (f"\n\n{m.n_rescuable} of the {m.n_wrong} scored chains that ended wrong "
                 "had a right forced answer at an earlier boundary: stopping early can also "
                 "gain accuracy.")
    return text + (f"\n\nThe ceiling is low here: TinyThinker's chains are short "
                   f"({m.full_tokens.value:.0f} thinking tokens on average) and the oracle "
                   f"saves {m.oracle.saved.value:.2f} of them. The target rule (stop once the "
                   "last written `Try …=v.` has v = target) reads the organism's own text cue; "
                   "R1 writes no such line, so there it never fires. The organism result is a "
                   "hypothesis about R1-distill, where Zhang et al. report about 24% of tokens "
                   "saved (`--preset gpu`, not run here: it needs a GPU). The same forced answers "
                   "grade every policy, and a cut-off chain is neither right nor wrong.")


def _signed(e: stats.Estimate) -> str:
    if not math.isfinite(e.value):
        return "no data"
    if e.ci is None:
        return f"{e.value:+.2f} (no interval, n={e.n} {e.unit}s)"
    return f"{e.value:+.2f} (95% CI {e.ci[0]:+.2f} to {e.ci[1]:+.2f}; n={e.n} {e.unit}s)"


def _threshold(t: float) -> str:
    return "never" if t == math.inf else f"{t:g}"


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run early-exit --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stages of `run`, for planning. Boundaries per chain are an estimate: ~10 steps
    on the organism; on R1, `max_boundaries` spaced ones. The forward passes that score the
    confidences and read the residuals are not counted."""
    per_chain = cfg.max_boundaries or 10
    chains = cfg.n_problems * cfg.samples
    return [
        Generation("chains", sequences=chains, max_new_tokens=cfg.max_new_tokens,
                   batch_size=cfg.batch_size),
        Generation(f"forced answers, ~{per_chain} boundaries per chain",
                   sequences=chains * per_chain, max_new_tokens=cfg.forced_max_new_tokens,
                   batch_size=cfg.batch_size, prompt_tokens=256 + cfg.max_new_tokens // 2),
    ]


# %% [markdown]
# ## Validation: does the measure find a planted settled answer? (`mi-starter validate early-exit`)
# `tinythinker-rechecks` (starter/organism/variants.py) writes the base's search, but after the
# step that reaches the answer (`Try …=target.`, then `Hit.`) it re-checks: the winning try and
# `Hit.` twice more, then `</think>`. The answer is settled a known stretch before the thinking
# ends, so an ideal early exit saves that stretch. Where it lies is read from the chains by the
# generator's own rule: the first written `Try …=v.` with v = the target is where the generator
# settles (on the organism that is exactly the target rule's stop, `target_rule`; never the
# probe). Three checks, each against the matched-training control `tinythinker-retrained`:
# 1. the oracle (first boundary whose forced answer is right) must save what the ideal exit saves
#    on each arm (its interval covers that arm's settled share) and more on the variant;
# 2. the probe, which on the base reaches only ~0.3 of the oracle (Read first), is checked as an
#    order: it must save more on the variant than on the control, the difference excluding 0.
#    On the first-stage base it passed against a 100-step control (0.05 [0.02, 0.09]) and failed
#    against the matched 300-step one (0.02 [-0.02, 0.07]); on today's base it fails too
#    (-0.00 [-0.03, 0.02]), the probe saving 0.03-0.04 on both;
# 3. on the variant, the probe's saving as a share of the oracle's (both at the full chain's
#    accuracy): an ideal reader of the forced-answer labels reaches 1. Not the probe against the
#    one-line target rule: there the rule's stop has a right forced answer in only 33 of 63
#    chains, so the two would be compared at different accuracies.
# Sizes: the cpu preset's 64 problems per arm. The plant adds ~22 tokens to ~64-token chains, an
# expected gap of ~0.25 in the oracle's share against intervals of about +-0.05 (power ~1).


# %%
VALIDATION_SETTINGS = {
    "smoke": ("max_new_tokens=220",),  # room for the re-check tail (~22 tokens) on every chain
    "cpu": ("max_new_tokens=220",),
}
VALIDATION_ARMS = (Arm(RETRAINED, None, label="retrained"),
                   Arm("tinythinker-rechecks", None, label="rechecks"))


def measure_oracle_saved(m: Metrics) -> Measured:
    """The oracle's share saved; planted: the share the generator's settle point saves on the
    same chains (the target rule's stop: the first `Try …=v.` with v = target)."""
    return measured_from(m.oracle.saved, planted=m.policies["target_rule"].saved.value)


def measure_probe_saved(m: Metrics) -> Measured:
    """The probe's share saved at thresholds chosen on training problems (nan: no probe)."""
    probe = m.policies.get("probe")
    return measured_from(probe.saved if probe else stats.mean_ci([], []))


def measure_probe_share_of_oracle(m: Metrics) -> Measured:
    """Mean saved by the probe over mean saved by the oracle, same chains (the headline on the
    base). Both keep the full chain's accuracy: the oracle stops only at a right forced answer,
    the probe at thresholds chosen to lose none."""
    return measured_from(m.probe_share_of_oracle)


VALIDATION = (
    Validation(
        quantity="share of thinking tokens saved by the oracle's stop (planted: the settle point)",
        arms=VALIDATION_ARMS, measure=measure_oracle_saved, settings=VALIDATION_SETTINGS,
        meaning=("The forced answers must see a planted settled answer: on each arm the oracle "
                 "saves what stopping at the generator's settle point saves, and on the variant "
                 "that re-checks twice it saves more than on the matched control. Recovered, the "
                 "forced-answer labels the probe is trained on mark where an answer is settled.")),
    Validation(
        quantity="share of thinking tokens saved by the probe's stop (order only)",
        arms=VALIDATION_ARMS, measure=measure_probe_saved, settings=VALIDATION_SETTINGS,
        meaning=("A probe that reads 'the answer is ready' from the residual stream must stop "
                 "earlier, and save more, when the answer is settled a planted stretch before "
                 "the thinking ends. Order only: on the base the probe reaches ~0.3 of the "
                 "oracle, so its level is not planted; the difference from the control must "
                 "exclude 0.")),
    Validation(  # how far the probe is from ideal on the variant (check 3 above)
        quantity="probe's saving as a share of the oracle's, on the variant (ideal: 1)",
        arms=(Arm("tinythinker-rechecks", 1.0, label="rechecks"),),
        measure=measure_probe_share_of_oracle, settings=VALIDATION_SETTINGS,
        meaning=("Where the answer is settled a planted stretch before the thinking ends, an "
                 "ideal reader of the forced-answer labels saves what the oracle saves at the "
                 "same accuracy (share 1). Below 1, the probe's stop, at thresholds that lose no "
                 "accuracy, leaves part of a settled answer unused; the probe's ranking of "
                 "boundaries (its AUROC) can still be good.")),
)


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("final answer", "uncertainty", "verification"),
    try_next=(
        "Run `--preset gpu` (R1-Distill-Qwen-1.5B): does the probe save tokens there, and more "
        "than the model's own confidence, as Zhang et al. report?",
        "Add a text baseline (on the organism: \"the last Try reached the target\"): does the "
        "probe read anything the text does not already show?",
        "Probe another layer (`--set layer=...`) or an MLP probe: is the answer-ready signal "
        "linear, and where does it peak?",
        "Let the policies rescue cut-off chains: force an answer at the token budget instead of "
        "counting them apart.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
