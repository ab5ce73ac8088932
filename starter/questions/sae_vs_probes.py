# %% [markdown]
# # Do SAE latents beat simple baselines?
#
# Question: a sparse autoencoder (SAE) promises latents that each mean one thing. If a property of
# the reasoning is represented, is it easier to read from a few SAE latents than from a few raw
# residual dimensions, a dense linear probe, or the text itself? Matched sparsity makes the
# comparison fair: a probe on k SAE latents against a probe on k residual dimensions, chosen by
# the same rule on the same training problems.
#
# Method (sparse probing: Gao et al. 2024, "Scaling and evaluating sparse autoencoders", arXiv
# 2406.04093; Kantamneni et al. 2025, "Are Sparse Autoencoders Useful? A Case Study in Sparse
# Probing", arXiv 2502.16681; the probing metric of Karvonen et al. 2025, "SAEBench: A
# Comprehensive Benchmark for Sparse Autoencoders in Language Model Interpretability", arXiv
# 2503.09532): residuals at one layer at the tokens where each property is defined; problems split
# into training and held-out halves (the SAE and every probe see only the training problems).
# Per property and k in `ks`:
# (a) SAE latents: the k latents whose class means differ most (in pooled standard deviations) on
#     the training items, then a logistic probe on those k (k=1: the best single latent);
# (b) the k residual dimensions picked by the same rule, same probe;
# (c) a dense logistic probe on the whole residual;
# (d) a text baseline: the current token, the step's words up to it, the previous step's words,
#     the prompt's target and the words since the last "Left:" state (a bag of words each, the
#     last counting repeats), same probe: what the organism's one-line rules read (review B);
# (d') a fitted numeric text reader: gradient boosting (the kit's fitted-baseline settings,
#     `starter.baselines`) on the numbers the text shows up to the site: the prompt's target, the
#     last 'Left:' state's two numbers, the last try's operands, operation and result, the tries
#     and misses since that state, and each number's difference and ratio with the target
#     (`numeric_features`): a reader of the text, never the label's own rule (review s16_b: the
#     bag of words is weak at the arithmetic these labels need);
# (e) on the organism, the one-line rule itself (fixed, nothing fitted): reachable = some op on
#     the 'Left:' numbers gives the target; hit_next = the try's result is the target;
#     backtrack_next = the tries since the 'Left:' state used up its final tries. These are the
#     labels' own definitions (1 on every item by construction): the ceiling, not a baseline.
# Every probe is `starter.probes.fit_predict` (the kit's one linear probe, early-stopped on held-
# back training problems). Training and held-out items are class-balanced by subsampling the
# larger class (seeded), so chance accuracy is 0.5.
# Score: held-out accuracy per item, intervals from a cluster bootstrap over held-out problems,
# and paired differences on the same items (`starter.stats.difference_ci`).
#
# Ground truth. `smoke` / `cpu`: the TinyThinker organism, fed its own true traces (held-out
# Countdown problems) so every token has a known state:
# - `reachable`, at the "." closing "Left: a, b.": some operation on a and b gives the target
#   (computed from the state with `countdown.apply_op`; the branch can still succeed);
# - `hit_next`, at the "." closing a final "Try x?y=z.": the next step is "Hit.";
# - `backtrack_next`, at the "." closing "Miss.": the organism backtracks next (not another try);
# - `on_path`, at every token of the search: the step's node lies on the solution path.
# `gpu`: R1-Distill-Llama-8B's own Countdown chains with the Llama Scope R1-distill SAE from the
# registry (the one trained on R1's math reasoning), read at each step's last token: `is_backtrack`
# (the kit's tagger calls this step a backtrack), `backtrack_next` (the next step is one) and
# `correct` (the finished chain's answer is right). Those labels come from a rule tagger and a
# grader, not from a planted truth.
#
# Controls: the dense probe trained on `n_shuffles` label shuffles (chance: one shuffled fit lands
# anywhere in about 0.3-0.7, so the control is their mean, its interval resampling problems and
# shuffles), the SAE k probe on shuffled labels per SAE seed, and a token-identity baseline
# (a one-hot of the current token alone). At step ends the token is nearly always the same (".")
# so that baseline is chance by construction there: the sites themselves remove token identity,
# and the text baseline is the serious textual control.
#
# Run: `mi-starter run sae-vs-probes --preset smoke` (about a minute) or `--preset cpu`; `--preset
# gpu` downloads R1-Distill-Llama-8B and one Llama Scope SAE. Outputs: results.jsonl (rows of kind
# "items", "probe", "sae" and, for a sampled model, "chain"), figure.png, summary.md, findings.json.
#
# **Primary claim, declared before the run** (`PRIMARY` below): a probe on SAE latents reads
# `reachable` (a property of the numbers that no single token shows) more accurately than the text
# does. The others are secondary, Holm-adjusted. "The text" is the strongest rung of the text
# ladder that does not compute the label: the fitted text baseline, the fitted numeric text
# reader, token identity, a constant guess (issue #25). The organism's one-line rule (e) is the
# label's own definition (for
# `reachable` the same `reachable(a, b, target)` call on the same text): it reads 1 by
# construction, so it is the CEILING, shown as a constant, never a comparator (review s16_b:
# comparing with it made "refuted" certain before any probe was trained). Every SAE-vs-text
# claim is made the same way.

# %%
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from starter import baselines, cot, grading, probes, stats
from starter.activations import cache_resid
from starter.errors import StarterError, UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.models import reference_sae_model
from starter.plan import Generation
from starter.plotting import estimate_bars, estimate_points
from starter.rollouts import SamplingConfig, sample
from starter.saes import TrainConfig, collect, load_pretrained, reconstruction, train_sae
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`), declared before the run;
# every other claim is secondary, its interval Holm-adjusted (`starter.findings.declare`).
PRIMARY = "sae-vs-text-reachable"
# The cpu preset's seed since 2026-12-07 (review s17): new problems, split, SAEs, probes and
# shuffles. The primary and its comparator ladder (text, numeric, token, constant) were frozen at
# commit 3758440 before this seed ran: its confirmatory run; seed 0's rows (the numeric rung added
# after they were known) were the exploratory run.
CONFIRM_SEED = 2

# What each property means and where it is read (the organism's, then a sampled model's).
ORGANISM_PROPERTIES = {
    "reachable": "at the '.' closing 'Left: a, b.': some operation on a and b gives the target",
    "hit_next": "at the '.' closing a final 'Try x?y=z.': the next step is 'Hit.'",
    "backtrack_next": "at the '.' closing 'Miss.': the next step is 'Wait, backtrack.'",
    "on_path": "at every token of the search: its step's node is on the solution path",
}
MODEL_PROPERTIES = {
    "is_backtrack": "at a step's last token: the tagger calls this step a backtrack",
    "backtrack_next": "at a step's last token: the tagger calls the next step a backtrack",
    "correct": "at a step's last token, finished chains: the final answer is right",
}
FAMILIES = ("sae", "resid", "text", "numeric", "token")  # what a probe reads (see the header)
TEXT_NAME = ("text baseline (current token, the step's words so far, the previous step's words, "
             "the target, the words since the last 'Left:' state)")
NUMERIC_NAME = ("fitted numeric text reader (gradient boosting on the target, the 'Left:' "
                "numbers, the last try's operands and result, tries since 'Left:', differences "
                "and ratios with the target)")
RULE_NAME = "the organism's one-line rule on the text (target, 'Left:' numbers, tries so far)"
TRIVIAL_NAME = "a constant guess (0.5 by construction on class-balanced items)"
MIN_PROBLEMS = 2  # a property needs each class in at least this many problems on each side

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    n_problems: int = 400  # problems, one chain each (organism: its true trace, teacher-forced)
    test_fraction: float = 0.5  # share of problems held out: no probe and no SAE trains on them
    layer: int | None = None  # None: the model's last layer of interest (2 of 4 on TinyThinker)
    dict_size: int = 512  # trained SAE: latents (2x TinyThinker's d_model of 256)
    sae_k: int = 16  # trained SAE: active latents per token (BatchTopK's L0)
    steps: int = 600  # trained SAE: optimiser steps
    n_seeds: int = 1  # trained SAE: seeds seed, seed+1, ... (the data stay fixed)
    # shuffled-label dense probes, seeds seed, seed+1, ...: one shuffled fit lands anywhere in
    # about 0.3-0.7 (its direction is random), so chance is read as the mean over several
    n_shuffles: int = 1
    ks: tuple[int, ...] = (1, 4, 16)  # sparsity of the sparse probes: features each may use
    claim_k: int = 16  # the k at which the claims compare SAE latents and residual dimensions
    probe_steps: int = 300  # full-batch AdamW steps per probe (starter.probes.ProbeSpec)
    max_vocab: int = 512  # text baseline: the commonest words kept per bag of words
    # Sampled models only: tokens per chain. R1-distill chains on Countdown run 500-4000 tokens,
    # so 4096 lets most finish; an unfinished chain still has steps, but no `correct` label.
    max_new_tokens: int = 4096
    max_steps: int = 64  # sampled models only: steps per chain that are probed (the first ones)
    batch_size: int = 16  # texts per forward pass when caching residuals
    # A 'planted' property at every token of the search, labelled by this planted feature's own
    # rule (starter/organism/planted.py FEATURES, e.g. "sparse"); None: the model's own plant
    # where it carries one (tinythinker-plant-*), else no such property. On the base the same
    # rule with nothing planted is the validation's matched control (VALIDATION below).
    planted_labels: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < 8:
            raise UsageError(f"n_problems={self.n_problems}: need at least 8 (half are held out)")
        if not 0.1 <= self.test_fraction <= 0.9:
            raise UsageError(f"test_fraction={self.test_fraction}: choose a value in [0.1, 0.9]")
        if not self.ks or min(self.ks) < 1:
            raise UsageError(f"ks={self.ks}: give one or more sparsities, each at least 1")
        if self.claim_k not in self.ks:
            raise UsageError(f"claim_k={self.claim_k} must be one of ks={self.ks}")
        if self.planted_labels is not None:
            from starter.organism.planted import FEATURES

            if self.planted_labels not in FEATURES:
                raise UsageError(f"planted_labels={self.planted_labels!r}: choose one of "
                                 f"{', '.join(FEATURES)} (or none)")
        if min(self.n_seeds, self.n_shuffles, self.probe_steps, self.max_steps) < 1:
            raise UsageError(f"n_seeds={self.n_seeds}, n_shuffles={self.n_shuffles}, "
                             f"probe_steps={self.probe_steps}, max_steps={self.max_steps}: "
                             "each must be at least 1")


PRESETS = {
    # smoke: 80 problems, a small SAE; about a minute on 2 quiet cores.
    "smoke": Config(n_problems=80, dict_size=256, sae_k=8, steps=100, probe_steps=150,
                    max_new_tokens=128),
    # cpu: 400 problems (200 held out), 512 latents, 2 SAE seeds: a few minutes on 2 busy cores
    # (SAE training is most of it: 600 steps of 256 tokens each, about 8 passes over the data).
    # 3 SAE seeds and 8 label shuffles: both spreads go inside the intervals (review B).
    "cpu": Config(n_problems=400, n_seeds=3, n_shuffles=8, max_new_tokens=512,
                  seed=CONFIRM_SEED),
    # gpu: 128 chains of R1-Distill-Llama-8B, the Llama Scope R1-distill SAE at layer 15.
    "gpu": Config(model=reference_sae_model().name, n_problems=128, batch_size=8),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=8, max_new_tokens=24, max_steps=8, dict_size=64,
                                      sae_k=4, steps=20, probe_steps=20)

# %% [markdown]
# ## Sample: chains with labelled steps


# %%
@dataclass(frozen=True)
class Span:
    """One thinking step of a chain, where it sits in the text, and the properties it defines."""

    text: str  # the step's words
    start: int  # character offset in the chain's text (prompt + completion)
    end: int  # exclusive
    at_end: dict[str, int] = field(default_factory=dict)  # read at its last token: name -> 0/1
    at_every: dict[str, int] = field(default_factory=dict)  # read at each of its tokens
    # the one-line rule's call for each at_end property, from the text up to this step only
    rule: dict[str, int] = field(default_factory=dict)
    branch: str = ""  # the steps since the last "Left: a, b." state before this one (organism)


@dataclass(frozen=True)
class Chain:
    """A problem's chain of thought with its labelled steps."""

    problem: str  # problem id: the cluster of every item from this chain
    text: str  # prompt + completion, as the model reads it
    steps: list[Span]
    target: str = ""  # the prompt's "Target: t" words (organism), "" where there is none


_LEFT = re.compile(r"Left: (\d+), (\d+)\.")


def reachable(left: str, target: int) -> bool:
    """Whether one operation on the two numbers of a "Left: a, b." state gives the target.

    >>> reachable("Left: 27, 4.", 31), reachable("Left: 152, 4.", 31)
    (True, False)
    """
    from starter.tasks.countdown import apply_op

    a, b = (int(x) for x in _LEFT.fullmatch(left).groups())
    return any((done := apply_op(a, op, b)) is not None and done[1] == target for op in "+-*/")


def text_rule(prop: str, branch: list[str], target: int) -> int | None:
    """The organism's one-line rule for `prop`, from the text alone: the steps since the last
    "Left: a, b." state up to this one (`branch`, that state first) and the prompt's target.
    reachable: some operation on a and b gives the target; hit_next: the try's result is the
    target; backtrack_next: this miss used up the state's final tries (the search's fixed list,
    `countdown.final_tries`). None where the branch has no "Left:" state.

    >>> text_rule("hit_next", ["Left: 26, 2.", "Try 26-2=24."], 24)
    1
    >>> text_rule("backtrack_next", ["Left: 15, 13.", "Try 15+13=28.", "Miss.", "Try 15*13=195.",
    ...                               "Miss."], 17)  # 17 > 15 and 13: only + and * are tried
    1
    """
    from starter.tasks.countdown import final_tries

    if not branch or _LEFT.fullmatch(branch[0]) is None:
        return None
    if prop == "reachable":
        return int(reachable(branch[0], target))
    if prop == "hit_next":
        found = re.fullmatch(r"Try \d+\s*[-+*/]\s*\d+=(\d+)\.", branch[-1])
        return None if found is None else int(int(found.group(1)) == target)
    if prop == "backtrack_next":
        a, b = (int(x) for x in _LEFT.fullmatch(branch[0]).groups())
        tried = sum(step.startswith("Try ") for step in branch)
        return int(tried >= len(final_tries(a, b, target)))
    return None


def organism_chain(trace, problem: str) -> Chain:
    """A TinyThinker trace with the four organism properties on its steps.

    >>> from starter.organism.data import make_trace, search
    >>> chain = organism_chain(make_trace(search((8, 19, 4), 31)), "p0")
    >>> [(s.text, s.at_end) for s in chain.steps if s.at_end][:3]
    [('Left: 152, 4.', {'reachable': 0}), ('Try 152-4=148.', {'hit_next': 0}), \
('Miss.', {'backtrack_next': 0})]
    """
    spans = []
    branch: list[str] = []  # the steps since the last "Left:" state
    for i, step in enumerate(trace.steps):
        if step.tag == "conclude":
            continue
        branch = [step.text] if step.text.startswith("Left:") else [*branch, step.text]
        after = trace.steps[i + 1]
        at_end = {}
        if step.text.startswith("Left:"):
            at_end["reachable"] = int(reachable(step.text, trace.target))
        elif step.tag == "try" and step.depth == 2:
            at_end["hit_next"] = int(after.text == "Hit.")
        elif step.text == "Miss.":
            at_end["backtrack_next"] = int(after.tag == "backtrack")
        rule = {prop: call for prop in at_end
                if (call := text_rule(prop, branch, trace.target)) is not None}
        spans.append(Span(text=step.text, start=step.char_start, end=step.char_end,
                          at_end=at_end, at_every={"on_path": int(step.on_solution_path)},
                          rule=rule, branch=" ".join(branch[:-1])))
    return Chain(problem=problem, text=trace.text, steps=spans,
                 target=f"Target: {trace.target}")


def organism_chains(cfg: Config) -> list[Chain]:
    """True traces of held-out problems (the organism never trained on them), no hints."""
    from starter.organism.data import make_traces

    traces = make_traces(cfg.n_problems, seed=cfg.seed, split="test")
    return [organism_chain(t, f"p{i}") for i, t in enumerate(traces)]


def sample_chains(ctx: Context) -> None:
    """One chain per Countdown problem from the model; a row of kind "chain" each (resumable)."""
    from starter.tasks import get_task_set

    cfg, lm = ctx.cfg, ctx.model
    task = get_task_set("countdown")
    problems = task.make(cfg.n_problems, seed=cfg.seed)
    todo = [p for p in problems if not ctx.store.done(f"chain:{p.id}")]
    if not todo:
        return
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    for problem, prompt, (out,) in zip(todo, prompts, sample(lm, prompts, 1, sampling)):
        ctx.store.append({"unit": f"chain:{problem.id}", "kind": "chain", "problem": problem.id,
                          "prompt": prompt, "completion": out.text,
                          "finished": grading.finished(out.text),
                          "correct": task.grade(problem, out.text),
                          "n_new_tokens": out.n_new_tokens})


def model_chain(row: dict, max_steps: int) -> Chain:
    """A sampled chain's first `max_steps` steps, labelled by the kit's tagger and the grader.

    >>> row = {"problem": "p", "prompt": "Q <think>", "finished": True, "correct": False,
    ...        "completion": " Try 2+3=5. Wait, that is wrong. Try 2*3=6.</think> \\\\boxed{6}"}
    >>> [(s.text, s.at_end) for s in model_chain(row, 8).steps]
    [('Try 2+3=5.', {'is_backtrack': 0, 'backtrack_next': 1, 'correct': 0}), \
('Wait, that is wrong.', {'is_backtrack': 1, 'backtrack_next': 0, 'correct': 0}), \
('Try 2*3=6.', {'is_backtrack': 0, 'correct': 0})]
    """
    thinking, _ = cot.split_completion(row["completion"])
    steps = cot.split_steps(thinking)
    offset = len(row["prompt"]) + row["completion"].find(thinking)
    spans = []
    for i, step in enumerate(steps[:max_steps]):
        at_end = {"is_backtrack": int(step.tag == "backtrack")}
        if i + 1 < len(steps):
            at_end["backtrack_next"] = int(steps[i + 1].tag == "backtrack")
        if row["finished"]:
            at_end["correct"] = int(row["correct"])
        spans.append(Span(text=step.text, start=offset + step.start, end=offset + step.end,
                          at_end=at_end))
    return Chain(problem=row["problem"], text=row["prompt"] + row["completion"], steps=spans)


# %% [markdown]
# ## Sites: the tokens where each property is read, with what the text shows there


# %%
@dataclass(frozen=True)
class Site:
    """One labelled token: a training or held-out item of one property."""

    prop: str  # the property
    label: int  # 0 or 1
    problem: str  # cluster
    chain: int  # index of the chain
    position: int  # token index in the chain's encoded text
    token: int  # the token id there
    words: str  # the step's text up to and including this token
    previous: str  # the previous step's text ("" for the first)
    target: str = ""  # the prompt's "Target: t" words ("" where there is none)
    branch: str = ""  # the words since the last "Left:" state up to this token (organism)
    rule: int | None = None  # the one-line rule's call here (None: no rule for this property)


def find_sites(model, chains: list[Chain]) -> tuple[list[Site], list[list[int]]]:
    """Every labelled token of every chain, chain by chain (the order cache_resid returns rows in),
    and each chain's token ids. A token belongs to a step when its characters overlap the step's."""
    sites, all_ids = [], []
    for c, chain in enumerate(chains):
        enc = model.tokenizer(chain.text, return_offsets_mapping=True,
                              add_special_tokens=model.add_special_tokens)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        all_ids.append(list(ids))
        for j, step in enumerate(chain.steps):
            inside = [i for i, (a, b) in enumerate(offsets)
                      if i > 0 and b > a and b > step.start and a < step.end]
            if not inside:
                continue
            previous = chain.steps[j - 1].text if j else ""
            base = {"problem": chain.problem, "chain": c, "previous": previous,
                    "target": chain.target}
            for i in inside:
                words = chain.text[step.start:min(offsets[i][1], step.end)]
                for prop, label in step.at_every.items():
                    sites.append(Site(prop=prop, label=label, position=i, token=ids[i],
                                      words=words, branch=f"{step.branch} {words}".strip(),
                                      **base))
            for prop, label in step.at_end.items():
                sites.append(Site(prop=prop, label=label, position=inside[-1],
                                  token=ids[inside[-1]], words=step.text,
                                  branch=f"{step.branch} {step.text}".strip(),
                                  rule=step.rule.get(prop), **base))
    return sites, all_ids


def planted_rule(cfg: Config, model) -> Any:
    """The planted feature whose label rule scores the 'planted' property: `cfg.planted_labels`
    if set, else the model's own plant (None: no such property)."""
    if cfg.planted_labels is not None:
        from starter.organism.planted import get_feature

        return get_feature(cfg.planted_labels)
    return getattr(model.spec, "planted", None)


def planted_description(feature, model) -> str:
    """What the 'planted' property is on this model: the rule, and whether anything is planted."""
    from starter.organism.planted import same_labels

    carried = getattr(model.spec, "planted", None)
    writes = carried is not None and carried.scale > 0 and same_labels(carried, feature)
    here = (f"written as +u after layer {carried.layer} at scale {carried.scale:g}" if writes
            else "nothing planted on this model: the rule alone, the matched control")
    return (f"at every token of the search: the planted '{feature.name}' feature's own label "
            f"({feature.kind}, starter/organism/planted.py `labels`; {here})")


def planted_sites(feature, sites: list[Site], ids: list[list[int]]) -> list[Site]:
    """The 'planted' property at every token of the search (the `on_path` sites), labelled by
    the plant's own rule on the chain's token ids (`planted.labels`: position t depends only on
    ids[: t + 1]), never by a method under test. No one-line rule: the plant's hash is no
    reading of the text a baseline could state.

    >>> from starter.organism.planted import PlantedFeature, labels
    >>> f = PlantedFeature("s", layer=2, kind="sparse", scale=1.0, seed=13, rate=0.5)
    >>> ids = [[1, 24, 36, 22, 15, 7]]
    >>> labels(f, ids[0]).tolist()
    [1, 0, 1, 1, 1, 1]
    >>> sites = [Site("on_path", 1, "p0", 0, t, ids[0][t], "Try", "") for t in (1, 4)]
    >>> [(s.prop, s.position, s.label) for s in planted_sites(f, sites, ids)]
    [('planted', 1, 0), ('planted', 4, 1)]
    """
    from starter.organism.planted import labels

    truth = [labels(feature, chain_ids) for chain_ids in ids]
    return [dataclasses.replace(s, prop="planted", label=int(truth[s.chain][s.position]),
                                rule=None) for s in sites if s.prop == "on_path"]


def split_problems(problems: list[str], test_fraction: float, seed: int) -> set[str]:
    """The held-out problems: a seeded share of them.

    >>> sorted(split_problems(["a", "b", "c", "d"], 0.5, seed=0))
    ['a', 'c']
    """
    names = sorted(set(problems))
    order = np.random.default_rng(seed).permutation(len(names))
    n_test = max(1, round(len(names) * test_fraction))
    return {names[i] for i in order[:n_test]}


@dataclass
class Items:
    """One property's training and held-out items (indices into the sites), both class-balanced."""

    train: np.ndarray  # site indices, training problems
    test: np.ndarray  # site indices, held-out problems
    skipped: str | None = None  # why no probe is fitted (too few of a class), or None


def balance(indices: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """`indices` with the larger class subsampled to the smaller one's size, in their order.

    >>> balance(np.arange(6), np.array([1, 1, 1, 1, 0, 0]), seed=0).tolist()
    [2, 3, 4, 5]
    """
    ones, zeros = indices[labels == 1], indices[labels == 0]
    n = min(len(ones), len(zeros))
    rng = np.random.default_rng(seed)
    keep = [rng.choice(side, n, replace=False) if len(side) > n else side for side in (ones, zeros)]
    return np.sort(np.concatenate(keep))


def items_of(sites: list[Site], prop: str, test: set[str], seed: int) -> Items:
    """Balanced training and held-out items of `prop`, or why there are too few."""
    mine = np.array([i for i, s in enumerate(sites) if s.prop == prop], dtype=int)
    labels = np.array([sites[i].label for i in mine], dtype=int)
    held = np.array([sites[i].problem in test for i in mine], dtype=bool)
    for side, name in ((~held, "training"), (held, "held-out")):
        for label in (0, 1):
            where = {sites[i].problem for i in mine[side & (labels == label)]}
            if len(where) < MIN_PROBLEMS:
                return Items(mine[:0], mine[:0], skipped=(
                    f"label {label} occurs in {len(where)} {name} problems (need "
                    f"{MIN_PROBLEMS})"))
    return Items(train=balance(mine[~held], labels[~held], seed),
                 test=balance(mine[held], labels[held], seed + 1))


# %% [markdown]
# ## Features: residuals, SAE latents, and what the text shows


# %%
def univariate_scores(x, y: np.ndarray) -> np.ndarray:
    """Per column: |mean on class 1 - mean on class 0| / pooled standard deviation.

    `x` is [n, d], dense or scipy sparse (SAE codes are mostly zeros).

    >>> x = np.array([[1.0, 5.0], [1.2, 5.0], [3.0, 5.0], [3.2, 5.0]])
    >>> univariate_scores(x, np.array([0, 0, 1, 1])).round(1).tolist()
    [20.0, 0.0]
    """
    scores = []
    for side in (y == 1, y == 0):
        part = x[np.flatnonzero(side)]
        mean = np.asarray(part.mean(axis=0)).ravel()
        square = part.multiply(part) if hasattr(part, "multiply") else part * part
        scores.append((mean, np.asarray(square.mean(axis=0)).ravel() - mean * mean))
    (mean1, var1), (mean0, var0) = scores
    spread = np.sqrt(np.maximum((var1 + var0) / 2, 0.0))
    return np.abs(mean1 - mean0) / (spread + 1e-6)  # a perfect separator scores high, not 0


def top_k(x, y: np.ndarray, k: int) -> list[int]:
    """The `k` columns with the highest univariate score, best first (ties: the lower column).

    >>> x = np.array([[0.0, 1.0, 0.0], [0.0, 1.2, 1.0], [0.0, 3.0, 0.0], [0.0, 3.2, 2.0]])
    >>> top_k(x, np.array([0, 0, 1, 1]), 2)
    [1, 2]
    """
    scores = univariate_scores(x, y)
    return [int(i) for i in np.argsort(-scores, kind="stable")[: min(k, len(scores))]]


def dense(x, columns: list[int] | None = None) -> np.ndarray:
    """[n, len(columns)] float32 (all columns when None), from a dense or scipy sparse matrix."""
    part = x if columns is None else x[:, columns]
    return np.asarray(part.toarray() if hasattr(part, "toarray") else part, dtype=np.float32)


def text_features(sites: list[Site], ids: list[list[int]], train: np.ndarray,
                  max_vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """(token one-hot, text features) for every site. The text: the token, the step's words so far,
    the previous step's words, the prompt's target and the words since the last "Left:" state
    (bags of words, the last one counting repeats, so a probe can count the tries made; vocabularies
    from the training items only): what the organism's one-line rules read."""
    from sklearn.feature_extraction.text import CountVectorizer

    token = probes.token_window([ids[s.chain] for s in sites], [[s.position] for s in sites],
                                window=1, max_vocab=max_vocab)
    bags = []
    for part in ("words", "previous", "target", "branch"):
        texts = [getattr(s, part) for s in sites]
        bag = CountVectorizer(token_pattern=r"\w+|[^\w\s]", max_features=max_vocab,
                              binary=part != "branch")
        try:
            bag.fit([texts[i] for i in train])
        except ValueError:  # no word at all in the training items (e.g. no previous steps)
            continue
        bags.append(bag.transform(texts).toarray().astype(np.float32))
    return token, np.hstack([token, *bags])


NUMERIC_COLUMNS = (  # what `numeric_features` returns, in order (NaN where the text has none)
    "target", "left_a", "left_b", "try_x", "try_y", "try_z", "try_op", "tries", "misses",
    "step_kind", "left_a-target", "left_b-target", "try_x-target", "try_y-target",
    "try_z-target", "left_a/target", "left_b/target", "try_z/target")
_NUMBER = re.compile(r"\d+")
_TRY = re.compile(r"Try (\d+)\s*([-+*/])\s*(\d+)=(\d+)")
_OPS = "+-*/"
_KINDS = ("Left:", "Try", "Miss.", "Hit.")  # the step's first word: its code (else len(_KINDS))


def numeric_features(site: Site) -> list[float]:
    """The numbers the text shows up to `site` (`NUMERIC_COLUMNS`, NaN where absent): the prompt's
    target, the last "Left: a, b." state in the branch, the last "Try x?y=z." (operands, the
    operation's index in "+-*/", the result), how many tries and misses since that state, the
    step's kind, and each number's difference and ratio with the target. No combination of a
    and b with an operation (that would be the `reachable` rule) and no equality test.

    >>> s = Site("hit_next", 1, "p0", 0, 9, 5, "Try 26-2=24.", "Left: 26, 2.",
    ...          target="Target: 24", branch="Left: 26, 2. Try 26-2=24.")
    >>> dict(zip(NUMERIC_COLUMNS, numeric_features(s)))  # doctest: +NORMALIZE_WHITESPACE
    {'target': 24.0, 'left_a': 26.0, 'left_b': 2.0, 'try_x': 26.0, 'try_y': 2.0, 'try_z': 24.0,
     'try_op': 1.0, 'tries': 1.0, 'misses': 0.0, 'step_kind': 1.0, 'left_a-target': 2.0,
     'left_b-target': -22.0, 'try_x-target': 2.0, 'try_y-target': -22.0, 'try_z-target': 0.0,
     'left_a/target': 1.0833333333333333, 'left_b/target': 0.08333333333333333,
     'try_z/target': 1.0}
    """
    nan = float("nan")
    found = _NUMBER.findall(site.target)
    target = float(found[0]) if found else nan
    lefts = _LEFT.findall(site.branch)
    a, b = (float(v) for v in lefts[-1]) if lefts else (nan, nan)
    since = site.branch.rsplit("Left:", 1)[-1]  # the words since the last state
    tries = _TRY.findall(since)
    x, op, y, z = tries[-1] if tries else (nan, "", nan, nan)
    x, y, z = float(x), float(y), float(z)
    kind = next((i for i, k in enumerate(_KINDS) if site.words.startswith(k)), len(_KINDS))

    def ratio(v: float) -> float:
        return v / target if target else nan

    return [target, a, b, x, y, z, float(_OPS.index(op)) if op else nan,
            float(since.count("Try ")), float(since.count("Miss.")), float(kind),
            a - target, b - target, x - target, y - target, z - target,
            ratio(a), ratio(b), ratio(z)]


def numeric_reader(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   seed: int) -> np.ndarray:
    """Rung (d'): gradient boosting on the numeric text features (the settings of
    `baselines.fitted_predictions`), fitted on the training items; 0/1 calls on the test items.

    >>> x = np.array([[float(i % 8)] for i in range(80)])
    >>> y = np.array([int(v in (2.0, 5.0)) for v in x[:, 0]])  # no single threshold says this
    >>> numeric_reader(x, y, np.array([[2.0], [3.0], [5.0]]), seed=0).tolist()
    [1, 0, 1]
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    # a column with no number on any training item (e.g. no try at a 'Left:' state) cannot be
    # binned and carries nothing learnable
    seen = ~np.isnan(x_train).all(axis=0)
    if len(set(y_train.tolist())) < 2 or not seen.any():  # nothing to fit: the commoner class
        return np.full(len(x_test), int(np.bincount(y_train.astype(int)).argmax()))
    x_train, x_test = x_train[:, seen], x_test[:, seen]
    leaf = max(5, min(20, len(x_train) // 50))
    with threadpool_limits(1):
        model = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=leaf,
                                               random_state=seed)
        model.fit(x_train, y_train.astype(int))
        return model.predict(x_test).astype(int)


def sae_codes(sae, resid: np.ndarray, chunk: int = 1024):
    """SAE latent activations [n, d_sae] of residuals [n, d_model], as a scipy sparse matrix."""
    import scipy.sparse
    import torch

    param = next(sae.parameters())
    parts = []
    with torch.no_grad():
        for lo in range(0, len(resid), chunk):
            x = torch.as_tensor(resid[lo:lo + chunk]).to(param.device, param.dtype)
            parts.append(scipy.sparse.csr_matrix(sae.encode(x).float().cpu().numpy()))
    return scipy.sparse.vstack(parts).tocsr()


def pretrained_sae_id(spec, layer: int) -> str:
    """The registry SAE at `layer`: the one trained on R1's reasoning (openr1, no slimpajama)."""
    ids = [i for i in spec.sae_ids if i.startswith(f"l{layer}r_")]
    if not ids:
        raise UsageError(f"{spec.name} has no {spec.sae_release} SAE at layer {layer}; "
                         f"its ids: {', '.join(spec.sae_ids)}")
    return next((i for i in ids if "openr1" in i and "slimpajama" not in i), ids[0])


def make_sae(ctx: Context, layer: int, train_texts: list[str], seed: int):
    """(name, SAE): the registry's pretrained SAE, or one trained here on the training chains."""
    cfg, spec, device = ctx.cfg, ctx.model.spec, str(ctx.model.device)
    if spec.sae_release:
        sae_id = pretrained_sae_id(spec, layer)
        return f"{spec.sae_release}/{sae_id}", load_pretrained(spec.sae_release, sae_id, device)
    acts = collect(ctx.model, train_texts, layer).acts  # [n_tokens, d_model]
    train = TrainConfig(dict_size=cfg.dict_size, k=cfg.sae_k, steps=cfg.steps, seed=seed,
                        batch_size=min(256, len(acts)))
    return f"trained here ({cfg.dict_size} latents, k={cfg.sae_k})", train_sae(acts, train,
                                                                                device=device)


# %% [markdown]
# ## Run: fit every probe on the training problems, score it on the held-out ones


# %%
def methods(cfg: Config) -> list[str]:
    """Every probe fitted per property, the SAE's (seeded) ones first.

    >>> methods(Config(ks=(1, 4), claim_k=4, n_problems=8))
    ['sae-k1', 'sae-k4', 'shuffled-sae-k4', 'shuffled-resid-dense', 'resid-k1', 'resid-k4', \
'resid-dense', 'text', 'numeric', 'token']
    """
    seeded = [f"sae-k{k}" for k in cfg.ks]
    seeded += [f"shuffled-sae-k{cfg.claim_k}", "shuffled-resid-dense"]
    return seeded + [f"resid-k{k}" for k in cfg.ks] + ["resid-dense", "text", "numeric",
                                                         "token"]


SHUFFLED_DENSE = "shuffled-resid-dense"  # the chance control: seeded by its shuffle, no SAE


def is_seeded(method: str) -> bool:
    """Whether a probe depends on the SAE seed or the shuffle (then it runs once per seed)."""
    return method.startswith(("sae-", "shuffled-"))


def run_seeds(method: str, cfg: Config, sae_seeds: list[int]) -> list[int]:
    """The seeds a probe runs with: its shuffles (the dense chance control), the SAE seeds (SAE
    probes and their shuffled control) or one (the rest).

    >>> cfg = Config(n_problems=8, n_shuffles=3)
    >>> run_seeds(SHUFFLED_DENSE, cfg, [0, 1]), run_seeds("sae-k4", cfg, [0, 1])
    ([0, 1, 2], [0, 1])
    """
    if method == SHUFFLED_DENSE:
        return [cfg.seed + s for s in range(cfg.n_shuffles)]
    return sae_seeds if is_seeded(method) else sae_seeds[:1]


def probe_unit(prop: str, method: str, seed: int) -> str:
    return f"probe:{prop}:{method}:{seed}" if is_seeded(method) else f"probe:{prop}:{method}"


@dataclass
class Features:
    """Every site's features, row for row with the sites."""

    resid: np.ndarray  # [n_sites, d_model]
    text: np.ndarray  # [n_sites, n_text]: token one-hot and bags of words
    token: np.ndarray  # [n_sites, n_tokens]: the token one-hot alone
    numeric: Any = None  # [n_sites, len(NUMERIC_COLUMNS)]: the numbers the text shows
    sae: Any = None  # [n_sites, d_sae] scipy sparse, once an SAE is made


def fit_one(method: str, feats: Features, y: np.ndarray, groups: np.ndarray, items: Items,
            cfg: Config, seed: int) -> dict:
    """Fit one probe on the training items, predict the held-out items: its typed fields."""
    family, _, rest = method.removeprefix("shuffled-").partition("-")
    if family == "numeric":  # gradient boosting on the numbers, not the linear probe
        called = numeric_reader(feats.numeric[items.train], y[items.train],
                                feats.numeric[items.test], seed)
        return {"family": family, "k": None, "shuffled": False, "features": None,
                "hits": (called == y[items.test]).astype(int).tolist()}
    x = {"sae": feats.sae, "resid": feats.resid, "text": feats.text, "token": feats.token}[family]
    y_train = y[items.train]
    if method.startswith("shuffled-"):
        y_train = np.random.default_rng(seed).permutation(y_train)
    k = int(rest[1:]) if rest.startswith("k") else None
    x_train, x_test = x[items.train], x[items.test]
    columns = None if k is None else top_k(x_train, y_train, k)
    x_train, x_test = dense(x_train, columns), dense(x_test, columns)
    # A column constant on the training items (a word or latent only the held-out items have)
    # would be standardised by ~0 and swamp the probe: such columns carry nothing learnable.
    varying = x_train.std(axis=0) > 0
    varying[0] = varying[0] or not varying.any()
    spec = probes.ProbeSpec(steps=cfg.probe_steps)
    predicted = probes.fit_predict(x_train[:, varying], y_train, groups[items.train],
                                   x_test[:, varying], spec, seed=seed)
    return {"family": family, "k": k, "shuffled": method.startswith("shuffled-"),
            "features": columns, "hits": probes.hits(y[items.test], predicted).astype(int).tolist()}


def run(ctx: Context) -> None:
    cfg, model = ctx.cfg, ctx.model
    layer = cfg.layer if cfg.layer is not None else model.spec.layers_of_interest[-1]
    organism = model.spec.prompt_format == "organism"
    if organism:
        chains, described = organism_chains(cfg), ORGANISM_PROPERTIES
    else:
        sample_chains(ctx)
        rows = [r for r in ctx.store.rows() if r.get("kind") == "chain"]
        chains = [model_chain(r, cfg.max_steps) for r in rows]
        described = MODEL_PROPERTIES
    sites, ids = find_sites(model, chains)
    feature = planted_rule(cfg, model)
    unreadable = None  # why the 'planted' property cannot be read at this layer
    if feature is not None:
        if not organism:
            raise UsageError(f"planted_labels={feature.name!r}: planted features live on the "
                             f"organism; {model.spec.name} is not one")
        from starter.activations import encode_one

        if any(list(encode_one(model, c.text)) != list(i) for c, i in zip(chains, ids)):
            raise StarterError("the token ids the plant sees differ from the ids the sites "
                               "index; the planted labels would not line up")
        described = {**described, "planted": planted_description(feature, model)}
        # chain by chain, as cache_resid returns its rows (a stable sort keeps each chain's order)
        sites = sorted(sites + planted_sites(feature, sites, ids), key=lambda s: s.chain)
        if layer < feature.layer:
            unreadable = (f"the plant is written after layer {feature.layer}; layer {layer} is "
                          "read, before it")
    held_out = split_problems([c.problem for c in chains], cfg.test_fraction, cfg.seed)
    n_held_out = len({c.problem for c in chains if c.problem in held_out})
    y = np.array([s.label for s in sites], dtype=int)
    groups = np.array([s.problem for s in sites])
    items = {prop: items_of(sites, prop, held_out, cfg.seed) for prop in described}
    if unreadable:
        items["planted"] = Items(items["planted"].train[:0], items["planted"].test[:0],
                                 skipped=unreadable)
    for prop, got in items.items():
        # before class balancing: what the held-out problems offer, so dropped units are counted
        offered = [s.problem for s in sites if s.prop == prop and s.problem in held_out]
        if not ctx.store.done(f"items:{prop}"):
            ctx.store.append({
                "unit": f"items:{prop}", "kind": "items", "property": prop,
                "description": described[prop], "layer": layer, "ks": list(cfg.ks),
                "claim_k": cfg.claim_k, "skipped": got.skipped,
                "problems": [sites[i].problem for i in got.test],
                "labels": y[got.test].tolist(), "n_train": len(got.train),
                "n_train_problems": len({sites[i].problem for i in got.train}),
                "n_test_before": len(offered), "n_test_problems_before": len(set(offered)),
                "n_held_out_problems": n_held_out})
    probed = [prop for prop, got in items.items() if got.skipped is None]
    for prop in probed:  # the one-line rule: fixed, nothing fitted (organism properties only)
        calls = [sites[i].rule for i in items[prop].test]
        if calls and None not in calls and not ctx.store.done(f"probe:{prop}:rule"):
            ctx.store.append({"unit": f"probe:{prop}:rule", "kind": "probe", "property": prop,
                              "method": "rule", "seed": None, "family": "rule", "k": None,
                              "shuffled": False, "features": None,
                              "hits": [int(c == y[i]) for c, i in zip(calls, items[prop].test)]})
    seeds = [cfg.seed] if model.spec.sae_release else [cfg.seed + s for s in range(cfg.n_seeds)]
    units = {(prop, method, seed): probe_unit(prop, method, seed) for prop in probed
             for method in methods(cfg) for seed in run_seeds(method, cfg, seeds)}
    # each seed's SAE row is written before its probes, so a resumed run whose probes are all on
    # disk has them too; asked for here, or the early return below would leave them unasked
    ctx.store.pending(f"sae:{seed}" for seed in seeds)
    if not ctx.store.pending(units.values()):
        return  # a resumed run with every probe on disk
    if any(a.chain > b.chain for a, b in zip(sites, sites[1:])):
        raise StarterError("sites are not chain by chain: residual rows would not line up")
    by_chain = [[s.position for s in sites if s.chain == c] for c in range(len(chains))]
    resid = cache_resid(model, [c.text for c in chains], by_chain, [layer],
                        batch_size=cfg.batch_size)[layer].numpy()  # [n_sites, d_model]
    train_sites = np.concatenate([items[p].train for p in probed])
    token, text = text_features(sites, ids, train_sites, cfg.max_vocab)
    numeric = np.array([numeric_features(s) for s in sites], dtype=np.float64)
    feats = Features(resid=resid, text=text, token=token, numeric=numeric)
    for (prop, method, seed), unit in units.items():
        if (method == SHUFFLED_DENSE or not is_seeded(method)) and not ctx.store.done(unit):
            fitted = fit_one(method, feats, y, groups, items[prop], cfg, seed)
            ctx.store.append({"unit": unit, "kind": "probe", "property": prop, "method": method,
                              "seed": seed if is_seeded(method) else None, **fitted})
    train_texts = [c.text for c in chains if c.problem not in held_out]
    for seed in seeds:
        mine = [(key, unit) for key, unit in units.items()
                if key[2] == seed and is_seeded(key[1]) and key[1] != SHUFFLED_DENSE]
        if not ctx.store.pending(unit for _, unit in mine):
            continue
        name, sae = make_sae(ctx, layer, train_texts, seed)
        feats.sae = sae_codes(sae, resid)
        import torch

        test_sites = np.concatenate([items[p].test for p in probed])
        quality = reconstruction(sae, torch.as_tensor(resid[test_sites]))
        if not ctx.store.done(f"sae:{seed}"):
            ctx.store.append({"unit": f"sae:{seed}", "kind": "sae", "seed": seed, "name": name,
                              "d_sae": int(feats.sae.shape[1]), "fve": quality["fve"],
                              "l0": quality["l0"], "n_tokens": quality["n_tokens"]})
        for (prop, method, _), unit in mine:
            if not ctx.store.done(unit):
                fitted = fit_one(method, feats, y, groups, items[prop], cfg, seed)
                ctx.store.append({"unit": unit, "kind": "probe", "property": prop,
                                  "method": method, "seed": seed, **fitted})


# %% [markdown]
# ## Analyse: held-out accuracy per property and probe, paired differences by problem


# %%
def _accuracy(row: dict, problems: list[str]) -> stats.Estimate:
    return stats.mean_ci(row["hits"], problems, unit="problem")


def _gap(a: dict, b: dict, problems: list[str]) -> stats.Estimate:
    """Accuracy of probe `a` minus probe `b` on the same held-out items, paired by problem."""
    return stats.difference_ci(a["hits"], problems, b["hits"], problems, unit="problem")


def _sae_minus(sae_rows: list[dict], rung: dict, problems: list[str]) -> stats.Estimate:
    """SAE accuracy minus one rung's on the same items: over several SAE seeds their mean, the
    seeds resampled inside the interval (`stats.seeds_difference_ci`); else one probe's gap."""
    if len(sae_rows) > 1:
        return stats.seeds_difference_ci([r["hits"] for r in sae_rows], rung["hits"], problems)
    return _gap(sae_rows[0], rung, problems)


def rung_name(method: str) -> str:
    """What a non-SAE probe reads, in words (for `strongest_baseline` and the summary).

    >>> rung_name("resid-dense"), rung_name("resid-k4")
    ('dense residual probe (the whole residual)', '4 residual dimensions (same selection rule)')
    """
    if method == "resid-dense":
        return "dense residual probe (the whole residual)"
    if method.startswith("resid-k"):
        return f"{method.removeprefix('resid-k')} residual dimensions (same selection rule)"
    return {"text": TEXT_NAME, "numeric": NUMERIC_NAME,
            "token": "token identity (one-hot of the current token)",
            "rule": RULE_NAME, "trivial": TRIVIAL_NAME}[method]


# the text's comparator rungs; ties go to the first
TEXT_LADDER = ("text", "numeric", "token", "trivial")
TRIVIAL = 0.5  # a constant guess on class-balanced items: 0.5 by construction, not a sample
# The one-line rule computes the label (the organism's generator applies it to the same text): a
# ceiling, shown beside the rungs, never a comparator (review s16_b).
CEILING = "rule"
CEILING_NOTE = "ceiling: the label is a function of the text; the rule computes it"


def ceiling_estimate(hits: list[int], problems: list[str]) -> stats.Estimate:
    """The one-line rule's accuracy: 1 on every item is 1 by construction (the rule is the label's
    definition), so a constant with no interval; anything else is measured like a probe.

    >>> e = ceiling_estimate([1, 1, 1], ["a", "b", "b"])
    >>> e.exact, e.value, stats.describe(e)
    (True, 1.0, '1 by construction (n=2 problems; 3 items)')
    """
    if hits and all(h == 1 for h in hits):
        return stats.constant(1.0, len(set(problems)), n_items=len(hits))
    return stats.mean_ci(hits, problems, unit="problem")


def text_ladder(accuracy: dict[str, stats.Estimate], n_problems: int,
                n_items: int) -> dict[str, stats.Estimate]:
    """The rungs that read only the text and do not compute the label, in `TEXT_LADDER` order:
    the fitted text probe, the fitted numeric reader, token identity and the trivial constant
    guess (exact). The one-line
    rule is the ceiling (`CEILING`), never a rung to beat.

    >>> e = lambda v: stats.Estimate(v, (v - 0.05, v + 0.05), 4, 8)
    >>> ladder = text_ladder({"sae-k16": e(0.9), "resid-dense": e(0.8), "text": e(0.66),
    ...                       "rule": e(1.0), "token": e(0.5), "numeric": e(0.7)},
    ...                      n_problems=4, n_items=8)
    >>> list(ladder), ladder["trivial"].exact, baselines.strongest_of(ladder)
    (['text', 'numeric', 'token', 'trivial'], True, 'numeric')
    """
    ladder = {rung: accuracy[rung] for rung in TEXT_LADDER if rung in accuracy}
    ladder["trivial"] = stats.constant(TRIVIAL, n_problems, n_items=n_items)
    return ladder


def strongest_rung(accuracy: dict[str, stats.Estimate]) -> str:
    """The best non-SAE probe of one property: every residual probe (sparse and dense), the text
    baseline and token identity compete; SAE probes, shuffled-label controls and the ceiling
    (the one-line rule, which computes the label) do not.

    >>> e = lambda v: stats.Estimate(v, None, 4, 4)
    >>> strongest_rung({"sae-k16": e(0.9), "resid-dense": e(0.76), "text": e(0.66),
    ...                 "shuffled-resid-dense": e(0.8), "token": e(0.5), "rule": e(1.0)})
    'resid-dense'
    """
    rungs = {method: e for method, e in accuracy.items()
             if not method.startswith(("sae-", "shuffled-")) and method != CEILING}
    return baselines.strongest_of(rungs)


@dataclass(frozen=True)
class SaeInfo:
    """One trained SAE's diagnostics on the held-out probed tokens (no interval)."""

    name: str  # its name
    d_sae: int  # latents
    fve: float  # fraction of variance explained
    l0: float  # mean active latents per token
    n_tokens: int  # tokens measured


@dataclass(frozen=True)
class ItemCounts:
    """How many items one property's probes were trained and tested on."""

    n_test: int  # held-out items
    n_test_problems: int  # problems they come from
    n_test_positive: int  # of them, positive
    n_train: int  # training items
    n_train_problems: int  # problems they come from
    # held-out items before class balancing (None: rows written before it was recorded)
    n_test_before: int | None = None
    n_test_problems_before: int | None = None  # held-out problems with a site of this property
    n_held_out_problems: int | None = None  # held-out problems in all


@dataclass(frozen=True)
class Pipeline:
    """The positive control: the dense probe against itself on shuffled labels, pooled."""

    dense: stats.Estimate  # dense residual probe's held-out accuracy
    shuffled: stats.Estimate  # the same probe trained on shuffled labels, mean over shuffles
    difference: stats.Estimate  # dense minus shuffled (problems and shuffles resampled)


@dataclass(frozen=True)
class Chance:
    """One property's chance control: the dense probe refitted on `n` label shuffles."""

    n: int  # shuffles
    mean: stats.Estimate  # mean held-out accuracy over them (problems and shuffles resampled)
    minus_half: stats.Estimate  # that minus 0.5, the chance of a balanced set
    by_shuffle: list[float]  # each shuffle's held-out accuracy
    single_excluding_half: int  # shuffles whose own interval (problems only) excludes 0.5


def resampled_mean(hits_by_seed: list[list[int]], problems: list[str],
                   minus: float = 0.0) -> stats.Estimate:
    """The mean of hits measured once per seed (an SAE seed or a label shuffle), minus a constant;
    the interval resamples problems and seeds (`stats.seeds_difference_ci`).

    >>> e = resampled_mean([[1, 1], [0, 0]], ["a", "b"], minus=0.5)
    >>> e.value, e.ci
    (0.0, (-0.5, 0.5))
    """
    return stats.seeds_difference_ci(hits_by_seed, [minus] * len(problems), problems)


def _negated(e: stats.Estimate) -> stats.Estimate:
    """-e, its interval (at every level) flipped."""
    side = e.at_level

    def flip(ci: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if ci is None else (-ci[1], -ci[0])

    return dataclasses.replace(e, value=-e.value, ci=flip(e.ci), successes=None,
                               at_level=None if side is None else lambda lv: flip(side(lv)))


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields."""

    properties: list[str]  # properties probed
    skipped: dict[str, str]  # property -> why it was not probed
    descriptions: dict[str, str]  # property -> what it is
    layer: int | None  # the residual layer read
    ks: list[int]  # sparse probes' feature counts
    claim_k: int | None  # the k the claims use
    seeds: list[int]  # SAE seeds
    n_chains: int  # sampled chains (0 on the organism)
    n_unfinished: int  # of them, unfinished
    sae: dict[int, SaeInfo]  # seed -> its SAE's diagnostics
    items: dict[str, ItemCounts]  # property -> its item counts
    accuracy: dict[str, dict[str, stats.Estimate]]  # property -> method -> held-out accuracy
    sae_minus_resid: dict[str, dict[int, stats.Estimate]]  # property -> k -> SAE minus resid
    sae_minus_dense: dict[str, dict[int, stats.Estimate]]  # property -> k -> SAE minus dense
    sae_minus_text: dict[str, stats.Estimate]  # property -> SAE (claim k) minus text baseline
    sae_minus_resid_by_seed: dict[str, dict[int, stats.Estimate]]  # property -> seed -> gap
    strongest: dict[str, str]  # property -> its strongest non-SAE rung
    sae_minus_strongest: dict[str, stats.Estimate]  # property -> SAE minus that rung
    # property -> the text ladder's rungs (TEXT_LADDER order; "trivial" the constant 0.5)
    text_ladder: dict[str, dict[str, stats.Estimate]]
    text_strongest: dict[str, str]  # property -> the text ladder's top rung
    sae_minus_text_strongest: dict[str, stats.Estimate]  # property -> SAE minus that rung
    pipeline: Pipeline | None = None  # the shuffled-label control (None: no shuffled probes)
    # property -> SAE minus the ceiling (the one-line rule, which computes the label): not a claim
    sae_minus_ceiling: dict[str, stats.Estimate] = field(default_factory=dict)
    chance: dict[str, Chance] = field(default_factory=dict)  # property -> its chance control
    # property -> residual probe (dense; claim k) -> it minus the text ladder's top rung, paired:
    # whether a verdict against the text is about SAEs or about every reading of the residual
    rungs_minus_text_strongest: dict[str, dict[str, stats.Estimate]] = field(
        default_factory=dict)
    # property -> the top text rung, where its hits equal the ceiling's on every held-out item:
    # that rung is the label's rule again, so SAE minus it is no claim (review s17)
    text_at_ceiling: dict[str, str] = field(default_factory=dict)


def analyse(rows: list[dict]) -> Metrics:
    items = {r["property"]: r for r in rows if r.get("kind") == "items"}
    found = [r for r in rows if r.get("kind") == "probe"]
    chains = [r for r in rows if r.get("kind") == "chain"]
    saes = sorted((r for r in rows if r.get("kind") == "sae"), key=lambda r: r["seed"])
    seeds = sorted({r["seed"] for r in found if r["method"].startswith("sae-")})
    shuffles = sorted({r["seed"] for r in found if r["method"] == SHUFFLED_DENSE})
    first = next(iter(items.values()), {})
    m: dict[str, Any] = {
        "properties": [p for p, r in items.items() if r["skipped"] is None],
        "skipped": {p: r["skipped"] for p, r in items.items() if r["skipped"] is not None},
        "descriptions": {p: r["description"] for p, r in items.items()},
        "layer": first.get("layer"), "ks": first.get("ks", []), "claim_k": first.get("claim_k"),
        "seeds": seeds, "n_chains": len(chains),
        "n_unfinished": sum(not r["finished"] for r in chains),
        "sae": {r["seed"]: SaeInfo(name=r["name"], d_sae=r["d_sae"], fve=r["fve"], l0=r["l0"],
                                   n_tokens=r["n_tokens"]) for r in saes},
        "items": {}, "accuracy": {}, "sae_minus_resid": {}, "sae_minus_dense": {},
        "sae_minus_text": {}, "sae_minus_resid_by_seed": {}, "strongest": {},
        "sae_minus_strongest": {}, "text_ladder": {}, "text_strongest": {},
        "sae_minus_text_strongest": {}, "sae_minus_ceiling": {},
        "rungs_minus_text_strongest": {}, "text_at_ceiling": {}}

    def probe(prop: str, method: str, seed: int | None = None) -> dict | None:
        want = seed if is_seeded(method) else None
        if want is None and is_seeded(method):
            mine = shuffles if method == SHUFFLED_DENSE else seeds
            want = mine[0] if mine else None
        return next((r for r in found if r["property"] == prop and r["method"] == method
                     and r["seed"] == want), None)

    pooled: dict[str, list] = {"dense": [], "problems": [],
                               "shuffled": [[] for _ in shuffles]}
    m["chance"] = {}
    for prop in m["properties"]:
        problems = items[prop]["problems"]
        labels = items[prop]["labels"]
        m["items"][prop] = ItemCounts(n_test=len(labels), n_test_problems=len(set(problems)),
                                      n_test_positive=int(sum(labels)),
                                      n_train=items[prop]["n_train"],
                                      n_train_problems=items[prop]["n_train_problems"],
                                      n_test_before=items[prop].get("n_test_before"),
                                      n_test_problems_before=items[prop].get(
                                          "n_test_problems_before"),
                                      n_held_out_problems=items[prop].get("n_held_out_problems"))
        here = {r["method"]: r for r in found if r["property"] == prop}
        m["accuracy"][prop] = {method: _accuracy(probe(prop, method), problems)
                               for method in here}
        if CEILING in here:  # the rule computes the label: 1 by construction, not a sample
            m["accuracy"][prop][CEILING] = ceiling_estimate(here[CEILING]["hits"], problems)
        dense_probe, text_probe = probe(prop, "resid-dense"), probe(prop, "text")
        m["sae_minus_resid"][prop] = {}
        m["sae_minus_dense"][prop] = {}
        sae_rows: list[dict] = []  # SAE k=claim_k, one row per seed
        for k in m["ks"]:
            # every SAE probe averages the SAE seeds and its intervals resample them: one lucky
            # seed is not a finding (one seed: its own probe)
            by_seed = [r for r in (probe(prop, f"sae-k{k}", sd) for sd in seeds) if r is not None]
            if not by_seed:
                continue
            if len(by_seed) > 1:
                m["accuracy"][prop][f"sae-k{k}"] = resampled_mean([r["hits"] for r in by_seed],
                                                                  problems)
            m["sae_minus_resid"][prop][k] = _sae_minus(by_seed, probe(prop, f"resid-k{k}"),
                                                       problems)
            m["sae_minus_dense"][prop][k] = _sae_minus(by_seed, dense_probe, problems)
            if k == m["claim_k"]:
                sae_rows = by_seed
                # the shuffled-label SAE control averages the SAE seeds too (review s16_b)
                shuffled_sae = [r for r in (probe(prop, f"shuffled-sae-k{k}", sd)
                                            for sd in seeds) if r is not None]
                if len(shuffled_sae) > 1:
                    m["accuracy"][prop][f"shuffled-sae-k{k}"] = resampled_mean(
                        [r["hits"] for r in shuffled_sae], problems)
        if sae_rows:
            m["sae_minus_text"][prop] = _sae_minus(sae_rows, text_probe, problems)
            top = strongest_rung(m["accuracy"][prop])
            m["strongest"][prop] = top
            m["sae_minus_strongest"][prop] = _sae_minus(sae_rows, probe(prop, top), problems)
            # the text ladder (issue #25): a "beats the text" claim is made against its top rung
            ladder = text_ladder(m["accuracy"][prop], n_problems=len(set(problems)),
                                 n_items=len(labels))
            top_text = baselines.strongest_of(ladder)
            m["text_strongest"][prop] = top_text
            m["text_ladder"][prop] = ladder
            m["sae_minus_text_strongest"][prop] = _sae_minus(
                sae_rows, {"hits": [TRIVIAL] * len(labels)} if top_text == "trivial"
                else probe(prop, top_text), problems)
            if CEILING in here:
                m["sae_minus_ceiling"][prop] = _sae_minus(sae_rows, here[CEILING], problems)
                if top_text != "trivial" and here[top_text]["hits"] == here[CEILING]["hits"]:
                    m["text_at_ceiling"][prop] = top_text
            if top_text != "trivial":
                m["rungs_minus_text_strongest"][prop] = {
                    rung: _gap(probe(prop, rung), probe(prop, top_text), problems)
                    for rung in ("resid-dense", f"resid-k{m['claim_k']}") if rung in here}
            m["sae_minus_resid_by_seed"][prop] = {
                seed: _gap(probe(prop, f"sae-k{m['claim_k']}", seed),
                           probe(prop, f"resid-k{m['claim_k']}"), problems) for seed in seeds}
        shuffled = [probe(prop, SHUFFLED_DENSE, sd) for sd in shuffles]
        if dense_probe is not None and shuffled and None not in shuffled:
            hits = [r["hits"] for r in shuffled]
            singles = [stats.mean_ci(h, problems) for h in hits]
            m["chance"][prop] = Chance(
                n=len(hits), mean=resampled_mean(hits, problems),
                minus_half=resampled_mean(hits, problems, minus=0.5),
                by_shuffle=[e.value for e in singles],
                single_excluding_half=sum(e.ci is not None and not e.ci[0] <= 0.5 <= e.ci[1]
                                          for e in singles))
            m["accuracy"][prop][SHUFFLED_DENSE] = m["chance"][prop].mean
            pooled["dense"] += dense_probe["hits"]
            for side, h in zip(pooled["shuffled"], hits):
                side += h
            pooled["problems"] += problems
    if pooled["problems"]:
        where = pooled["problems"]
        m["pipeline"] = Pipeline(
            dense=stats.mean_ci(pooled["dense"], where, unit="problem"),
            shuffled=resampled_mean(pooled["shuffled"], where),
            difference=_negated(stats.seeds_difference_ci(pooled["shuffled"], pooled["dense"],
                                                          where)))
    return Metrics(**m)


# %% [markdown]
# ## Figure


# %%
BAR_COLOURS = ("C4", "C5", "C6", "C9")  # one per property (grey and C0-C3 mean probes above)
REFERENCES = (  # horizontal lines in each property's panel: method, label, style
    ("resid-dense", "dense residual probe (band: 95% CI)", {"color": "C2", "ls": "-"}),
    ("text", "text baseline", {"color": "C3", "ls": "--"}),
    ("numeric", "numeric text reader (band: 95% CI)", {"color": "C5", "ls": (0, (3, 1, 1, 1))}),
    ("token", "token identity", {"color": "grey", "ls": ":"}),
    ("rule", "one-line rule (ceiling: computes the label)", {"color": "C8", "ls": (0, (1, 1))}),
)


def plot(rows: list[dict], metrics: Metrics):
    import matplotlib.pyplot as plt

    m = metrics
    props = m.properties
    if not props:
        fig, ax = plt.subplots(figsize=(7, 2))
        ax.set_axis_off()
        ax.set_title("No property had both classes on both sides of the split", fontsize=9)
        return fig
    n_rows = (len(props) + 1) // 2 + 1
    fig, axes = plt.subplots(n_rows, 2, figsize=(7, 3.2 * n_rows), squeeze=False)
    ks = m.ks
    xs = np.arange(len(ks))
    for ax, prop in zip(axes[:-1].ravel(), props):
        acc = m.accuracy[prop]
        for family, colour, label in (("sae", "C0", "SAE latents, top k"),
                                      ("resid", "C1", "residual dims, top k")):
            ests = [acc[f"{family}-k{k}"] for k in ks]
            estimate_points(ax, xs, ests, color=colour, label=label)
        for method, label, style in REFERENCES:
            if method in acc:
                ax.axhline(acc[method].value, lw=1, label=label, **style)
        for method, colour in (("resid-dense", "C2"), ("numeric", "C5")):
            band = acc[method].ci if method in acc else None
            if band:
                ax.axhspan(*band, color=colour, alpha=0.12, lw=0)
        if prop in m.text_at_ceiling:  # the line sits under the ceiling's: say so
            ax.annotate(f"{m.text_at_ceiling[prop]} = ceiling", (xs[0], 0.985), fontsize=7,
                        va="top", color="C5")
        shuffled = acc.get(SHUFFLED_DENSE)
        if shuffled is not None:
            ax.axhline(shuffled.value, color="black", lw=0.8, ls="-.",
                       label="shuffled labels (dense probe, mean of shuffles)")
        ax.set_xticks(xs, [str(k) for k in ks])
        ax.set_ylim(0.3, 1.05)
        ax.set(xlabel="k (features the probe may use)", ylabel="held-out accuracy")
        primary = " (primary)" if f"sae-vs-text-{prop}" == PRIMARY else ""
        ax.set_title(f"{prop}{primary} (n={m.items[prop].n_test_problems} problems)", fontsize=9)
    for ax in axes[:-1].ravel()[len(props):]:
        ax.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    ax = axes[-1, 0]
    width = 0.8 / len(props)
    for j, prop in enumerate(props):
        ests = [m.sae_minus_resid[prop][k] for k in ks]
        estimate_bars(ax, xs + (j - (len(props) - 1) / 2) * width, ests, width, capsize=2,
                      label=prop, color=BAR_COLOURS[j % len(BAR_COLOURS)])
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(xs, [str(k) for k in ks])
    ax.set(xlabel="k (matched)", ylabel="accuracy difference (95% CI)")
    ax.set_title("SAE latents minus residual dims, same k", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    axes[-1, 1].set_axis_off()
    fig.legend(handles, labels, fontsize=7, loc="lower right", frameon=False,
               bbox_to_anchor=(0.98, 0.02), title="accuracy panels", title_fontsize=7)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims


# %%
def claims(m: Metrics) -> list[Claim]:
    k = m.claim_k
    found = []
    over = (f" (SAE probes averaged over {len(m.seeds)} SAE seeds; the interval resamples the "
            "seeds as well as the problems)" if len(m.seeds) > 1 else "")
    for prop in m.properties:
        acc = m.accuracy[prop]
        if f"sae-k{k}" not in acc:
            continue
        # the top non-SAE rung (dense residual, sparse residual, text or token), whichever claim
        # it is: the text baseline is the primary claim's declared control, not the rung to beat
        top = m.strongest[prop]
        strongest = Baseline(rung_name(top), acc[top])
        metric = f"held-out accuracy (balanced), SAE latents k={k}"
        found.append(compare(
            f"At matched sparsity k={k}, a probe on SAE latents reads '{prop}' "
            f"({m.descriptions[prop]}) more accurately than a probe on {k} residual "
            f"dimensions picked by the same rule{over}.",
            metric, acc[f"sae-k{k}"], f"{k} residual dimensions, same selection and probe",
            f"held-out accuracy (balanced), residual k={k}", acc[f"resid-k{k}"],
            m.sae_minus_resid[prop][k], key=f"sae-vs-resid-{prop}",
            strongest_baseline=strongest))
        # against the text ladder's top rung (issue #25); the one-line rule is the label's own
        # definition, a ceiling and not a comparator (review s16_b). A top rung that equals the
        # rule on every held-out item is the ceiling again: no claim, out of Holm (review s17)
        text_top = m.text_strongest[prop]
        if prop in m.text_at_ceiling and f"sae-vs-text-{prop}" != PRIMARY:
            continue
        found.append(compare(
            f"A probe on {k} SAE latents reads '{prop}' more accurately than the strongest "
            "fitted or trivial reading of the text alone: the best of the fitted text baseline "
            "(the current token, the step's words so far, the previous step's words, the target "
            "and the words since the last 'Left:' state), the fitted numeric text reader "
            "(gradient boosting on the numbers the text shows and their differences and ratios "
            "with the target), token identity and a constant guess "
            "(the one-line rule, where the property has one, computes the label: it is the "
            f"ceiling, not a comparator){over}.",
            metric, acc[f"sae-k{k}"], f"strongest text rung: {rung_name(text_top)}",
            f"held-out accuracy (balanced), {text_top}", m.text_ladder[prop][text_top],
            m.sae_minus_text_strongest[prop], key=f"sae-vs-text-{prop}",
            strongest_baseline=strongest))
    if m.pipeline is not None:
        p = m.pipeline
        found.append(compare(
            "Pipeline check (positive control): the dense residual probe beats the same probe "
            f"trained on shuffled labels, pooled over the properties (held-out items; "
            f"{next(iter(m.chance.values())).n if m.chance else 1} shuffles, averaged, the "
            "interval resampling problems and shuffles).",
            "held-out accuracy (balanced), dense residual probe", p.dense,
            "the same probe, shuffled training labels",
            "held-out accuracy (balanced), shuffled labels", p.shuffled, p.difference,
            key="pipeline"))
    # the primary first, as the page shows it (review s16_b); the rest keep their order
    return sorted(declare(found, PRIMARY), key=lambda c: not c.primary)


def _verdict(e: stats.Estimate) -> str:
    if e.excludes_zero:
        return "SAE better" if e.value > 0 else "SAE worse"
    needed = stats.n_needed(e)
    more = f" (roughly {needed} problems would be needed)" if needed else ""
    return f"not distinguishable at this n{more}"


def _short(e: stats.Estimate) -> str:
    """A value with its interval in brackets, for a sentence that lists several.

    >>> _short(stats.Estimate(0.264, (0.191, 0.335), 200, 400))
    '0.26 [0.19, 0.34]'
    """
    return f"{e.value:.2f}" + ("" if e.ci is None else f" [{e.ci[0]:.2f}, {e.ci[1]:.2f}]")


def text_ladder_note(m: Metrics) -> str:
    """Review s16_b's change, from the numbers: the one-line rule computes the label, so it is the
    ceiling and not a comparator; what the primary is compared with now, and its verdict."""
    if not m.text_strongest:
        return ""
    k, d = m.claim_k, stats.describe
    primary_prop = PRIMARY.removeprefix("sae-vs-text-")
    ruled = [p for p in m.properties if CEILING in m.accuracy.get(p, {})]
    note = ("Read first (review s16_b): every SAE-vs-text claim, the primary included, is made "
            "against the strongest text rung that does not compute the label: the fitted text "
            "baseline (bag of words), the fitted numeric text reader (gradient boosting on the "
            "numbers the text shows: target, 'Left:' numbers, the try's operands and result, "
            "tries since 'Left:', differences and ratios with the target; added after review "
            "s16_b found the bag of words weak at arithmetic), token identity, a constant "
            "guess at 0.5.")
    if ruled:
        note += (" The organism's one-line rule is no rung: the label is a function of the text "
                 "and the rule computes it (for `reachable` the same `reachable(a, b, target)` "
                 "call on the same text; for `hit_next` and `backtrack_next` the definition the "
                 "organism's traces are generated by), so it reads "
                 + "; ".join(f"`{p}` {d(m.accuracy[p][CEILING])}" for p in ruled)
                 + ". It is shown as the ceiling. This reverses this morning's change (issue "
                 "#25), which made every SAE-vs-text claim against the rule: that settled "
                 "'refuted' before any probe was trained, on byte-identical rows, and the "
                 "primary's declared comparison is with a fitted reading of the text.")
    if primary_prop in m.text_strongest:
        top = m.text_strongest[primary_prop]
        gap = m.sae_minus_text_strongest[primary_prop]
        note += (f" The primary claim (`{PRIMARY}`, declared before the run) compares SAE k={k} "
                 f"with {rung_name(top)} ({d(m.text_ladder[primary_prop][top])}); SAE k={k} "
                 f"minus it is {d(gap)}: {_verdict(gap)}.")
        if CEILING in m.accuracy.get(primary_prop, {}):
            ceiling_gap = m.sae_minus_ceiling.get(primary_prop)
            if ceiling_gap is not None:
                note += (f" Against the ceiling it would be {d(ceiling_gap)}, which no reader "
                         "of any representation short of the label could avoid.")
        note += primary_scope(m)
    beaten = [p for p in m.properties if p in m.sae_minus_text_strongest
              and CEILING in m.accuracy.get(p, {})
              and m.sae_minus_text_strongest[p].excludes_zero
              and m.sae_minus_text_strongest[p].value > 0]
    changed = [p for p in m.properties if m.text_strongest.get(p) == "numeric"
               and p in m.sae_minus_text]
    if changed:
        bag, top = m.sae_minus_text, m.sae_minus_text_strongest
        note += (f" Where the numeric reader is the strongest text rung, SAE k={k} minus the bag "
                 "of words, then minus the numeric reader: "
                 + "; ".join(f"`{p}` {_short(bag[p])} ({_verdict(bag[p])}) -> {_short(top[p])} "
                             + (f"({_verdict(top[p])})" if p not in m.text_at_ceiling else
                                "(no claim: the numeric reader equals the ceiling on every "
                                "held-out item)") for p in changed)
                 + ".")
    if beaten:
        note += (f" SAE k={k} beats the strongest text rung on "
                 + "; ".join(f"`{p}` (SAE minus {m.text_strongest[p]} "
                             f"{_short(m.sae_minus_text_strongest[p])})" for p in beaten)
                 + ": read these as the fitted text readers being weak at the arithmetic the "
                 "label needs, not as the SAE holding something the text lacks, since the text "
                 "determines the label (the ceiling reads 1).")
    return note


def primary_scope(m: Metrics) -> str:
    """What the primary's verdict is about (review s17): the residual probes against the same text
    rung, the SAE-specific comparison, the bound the text reader sets, and transfer to R1."""
    k, prop = m.claim_k, PRIMARY.removeprefix("sae-vs-text-")
    top = m.text_strongest.get(prop)
    rungs = m.rungs_minus_text_strongest.get(prop, {})
    out = ""
    if top and rungs:
        out += (f" The residual probes minus the same {top} rung, paired: "
                + "; ".join(f"{rung} {_short(e)}" for rung, e in rungs.items()) + ".")
        if all(e.excludes_zero and e.value < 0 for e in rungs.values()):
            out += (f" So no linear reading of layer {m.layer} reaches the {top} reader: the "
                    "verdict is not specific to SAEs.")
    resid = m.sae_minus_resid.get(prop, {}).get(k)
    if resid is not None:
        out += (f" The SAE-specific comparison is SAE k={k} against {k} residual dimensions "
                f"(`sae-vs-resid-{prop}`): {_short(resid)}, {_verdict(resid)}.")
    if prop in ORGANISM_PROPERTIES:
        out += (" On the organism every label is a function of the text read so far, so every "
                "SAE-vs-text verdict is bounded by how strong a text reader one builds.")
    out += (" The primary and its text ladder were frozen on 2026-12-07 before the cpu preset's "
            f"seed {CONFIRM_SEED} ran (its confirmatory run; seed 0's rows, where the numeric rung "
            "was added after the data, were the exploratory run).")
    if prop not in MODEL_PROPERTIES:
        out += (f" `{prop}` does not exist on R1 (the gpu preset probes "
                + ", ".join(f"`{p}`" for p in MODEL_PROPERTIES) + "): the primary has no R1 "
                "counterpart.")
    return out


def dropped_units(n: ItemCounts, prop: str) -> str:
    """Held-out items and problems lost before the probes, counted (empty: rows predating it).

    >>> dropped_units(ItemCounts(336, 194, 168, 380, 197, 350, 196, 200), "reachable")
    ' Kept 336 of 350 held-out items (class balancing); of 200 held-out problems, 4 have no \
`reachable` site and 2 lost all their items to balancing.'
    """
    if n.n_test_before is None or n.n_test_problems_before is None:
        return ""
    out = f" Kept {n.n_test} of {n.n_test_before} held-out items (class balancing)"
    if n.n_held_out_problems is not None:
        out += (f"; of {n.n_held_out_problems} held-out problems, "
                f"{n.n_held_out_problems - n.n_test_problems_before} have no `{prop}` site and "
                f"{n.n_test_problems_before - n.n_test_problems} lost all their items to "
                "balancing")
    return out + "."


def read_first(m: Metrics) -> str:
    """What changed after review B and why, for the top of the summary."""
    spread = [v for c in m.chance.values() for v in c.by_shuffle]
    chance = "" if not spread else (
        f" Chance: the dense probe is refitted on {next(iter(m.chance.values())).n} label "
        f"shuffles per property; single fits range {min(spread):.2f} to {max(spread):.2f}, and "
        "the control is their mean, its interval resampling problems and shuffles.")
    rule = any(CEILING in acc for acc in m.accuracy.values())
    lead = "Before that, after review B," if m.text_strongest else "Read first: after review B"
    return (f"{lead} the controls changed (the primary claim did not). (1) "
            "The text baseline now sees what the organism's rules read: the prompt's target and "
            "the words since the last 'Left:' state (counted), beside the step's words and the "
            "previous step's." + (" (2) The one-line rule itself (target, 'Left:' numbers, tries "
                                  "so far), fixed, nothing fitted, equals the label on every "
                                  "held-out item of the step-end properties: the ceiling (see "
                                  "above), so the SAE-vs-residual comparisons and the fitted "
                                  "text rung are what the probes are measured against."
                                  if rule else "")
            + " (3) Shuffled-label probes of one fit read 0.32-0.60 in the earlier run, not "
            "because of class imbalance (held-out items are subsampled to equal classes, so a "
            "constant guess scores exactly 0.5 and accuracy here is balanced accuracy) nor leakage "
            "(problems are split before any fit; only training labels are shuffled): a probe fit "
            "to shuffled labels is still a hyperplane through the residuals, and when its random "
            "direction happens to correlate with the real label its held-out accuracy lands far "
            "from 0.5 on either side, while the held-out bootstrap holds that one fit fixed."
            + chance + " SAE probes average the SAE seeds, whose spread is inside every SAE "
            "interval.")


def findings(m: Metrics) -> str:
    d = stats.describe
    k = m.claim_k
    ladder = text_ladder_note(m)
    lines = [*([ladder, ""] if ladder else []), read_first(m), "",
             f"Residuals at layer {m.layer}. Accuracy is balanced accuracy: the held-out items "
             "are subsampled to equal classes, so chance (a constant guess) is exactly 0.5; "
             "every interval resamples held-out problems (and SAE seeds or label shuffles where "
             "a probe has several)."]
    primary_prop = PRIMARY.removeprefix("sae-vs-text-")
    if primary_prop in m.strongest:
        top, gap = m.strongest[primary_prop], m.sae_minus_strongest[primary_prop]
        lines.append(
            f"Strongest baseline: the primary claim (declared before the run) compares SAE k={k} "
            f"with the strongest text rung on `{primary_prop}`. Over every non-SAE rung "
            f"(the text's and the residual probes, sparse and dense; not the ceiling) the "
            f"strongest there: {rung_name(top)}, {d(m.accuracy[primary_prop][top])}; SAE k={k} "
            f"minus it is {d(gap)}, {_verdict(gap)}. Every claim's `strongest_baseline` names "
            "that top non-SAE rung (residual probes sparse and dense, text, token identity); "
            "the one-line rule, which computes the label, is the ceiling and never a baseline.")
    if m.n_chains:
        lines.append(f"{m.n_chains} sampled chains, {m.n_unfinished} unfinished (no "
                     "`</think>` and answer within the budget): their steps are probed, but "
                     "they carry no `correct` label.")
    for seed, sae in m.sae.items():
        lines.append(f"- SAE (seed {seed}): {sae.name}, {sae.d_sae} latents; on the "
                     f"held-out probed tokens it explains {sae.fve:.2f} of the variance at "
                     f"L0 {sae.l0:.1f} ({sae.n_tokens} tokens; a diagnostic, no interval).")
    for prop, why in m.skipped.items():
        lines.append(f"- `{prop}` not probed: {why}.")
    for prop in m.properties:
        acc, n = m.accuracy[prop], m.items[prop]
        lines.append(f"\n**{prop}** ({m.descriptions[prop]}): {n.n_test} held-out items "
                     f"from {n.n_test_problems} problems ({n.n_test_positive} positive), "
                     f"{n.n_train} training items from {n.n_train_problems} problems."
                     + dropped_units(n, prop))
        for method, e in acc.items():
            note = f" ({CEILING_NOTE})" if method == CEILING else ""
            lines.append(f"- {method}: {d(e)}{note}")
        for kk, e in m.sae_minus_resid[prop].items():
            lines.append(f"- SAE minus residual at k={kk}: {d(e)}, {_verdict(e)}; SAE k={kk} "
                         f"minus the dense probe: {d(m.sae_minus_dense[prop][kk])}.")
        if prop in m.sae_minus_text:
            lines.append(f"- SAE k={k} minus the fitted text baseline: "
                         f"{d(m.sae_minus_text[prop])}, {_verdict(m.sae_minus_text[prop])}"
                         + (" (not a claim: a stronger text rung reads it)"
                            if m.text_strongest.get(prop, "text") != "text" else "") + ".")
        if prop in m.sae_minus_ceiling:
            lines.append(f"- SAE k={k} minus the ceiling (the one-line rule, which computes the "
                         f"label): {d(m.sae_minus_ceiling[prop])} (not a claim: no reader short "
                         "of the label can reach it).")
        if prop in m.text_strongest:
            top, gap = m.text_strongest[prop], m.sae_minus_text_strongest[prop]
            lines.append(f"- Strongest text rung: {rung_name(top)} (`{top}`), "
                         f"{d(m.text_ladder[prop][top])}; SAE k={k} minus it: {d(gap)}, "
                         + (f"{_verdict(gap)} (the claim `sae-vs-text-{prop}`)."
                            if prop not in m.text_at_ceiling else
                            f"not a claim: the {top} reader's hits equal the ceiling's on "
                            "every held-out item, so it is the label's rule again."))
        if prop in m.strongest:
            top, gap = m.strongest[prop], m.sae_minus_strongest[prop]
            lines.append(f"- Strongest non-SAE rung: {rung_name(top)} (`{top}`), "
                         f"{d(acc[top])}; SAE k={k} minus it: {d(gap)}, {_verdict(gap)}.")
        chance = m.chance.get(prop)
        if chance is not None:
            lines.append(
                f"- Chance control ({chance.n} label shuffles of the dense probe): mean "
                f"{d(chance.mean)}, minus 0.5: {d(chance.minus_half)}; single shuffles "
                f"{', '.join(f'{v:.2f}' for v in chance.by_shuffle)}; "
                f"{chance.single_excluding_half} of {chance.n} single fits have an interval "
                "(problems only) that excludes 0.5: one fit's spread is not in its own interval.")
        by_seed = m.sae_minus_resid_by_seed.get(prop, {})
        if len(by_seed) > 1:
            values = [e.value for e in by_seed.values()]
            lines.append(f"- Per SAE seed, SAE minus residual at k={k}: "
                         + "; ".join(f"seed {s}: {d(e)}" for s, e in by_seed.items())
                         + f" (the claims average the seeds and their intervals resample them; "
                         f"this spread, {min(values):+.2f} to {max(values):+.2f}, is reflected in "
                         "them).")
    if m.pipeline is not None:
        p = m.pipeline
        lines.append(f"\nControl, shuffled labels: the dense probe pooled over properties "
                     f"{d(p.dense)}; trained on shuffled labels {d(p.shuffled)}; "
                     f"difference {d(p.difference)}. Items are pooled with equal weight, so "
                     "the property with the most items (`on_path`: every token) weighs most.")
    lines.append(
        "\nToken identity: at step ends the token is almost always the closing '.', so the "
        "token-identity probe sits at chance there by construction: those sites remove token "
        "identity, and the text baseline (the step's words and the previous step's) is the "
        "textual control that matters. Only `on_path` (every token) lets the token carry "
        "information. Accuracy on balanced items is reported instead of AUROC so that every "
        "interval comes from the kit's cluster bootstrap over problems.")
    if not m.n_chains:
        lines.append(
            "\nAn organism result is a hypothesis about R1-distill, not a finding about it: "
            "TinyThinker is 4 layers wide 256, its SAE is trained here on a few thousand tokens, "
            "and its properties are planted by construction. `--preset gpu` runs the same "
            "comparison on R1-Distill-Llama-8B with the Llama Scope R1-distill SAE, where the "
            "labels come from the kit's step tagger and grader instead of a known search. "
            "There `is_backtrack` is the tagger's regex on the step's own words (a one-line "
            "rule computes it: a ceiling again), so only `backtrack_next` and `correct` test SAE "
            "against text on R1.")
    return "\n".join(lines)


# %% [markdown]
# ## Validation: does a sparse probe on SAE latents find a feature we planted?
#
# `tinythinker-plant-sparse` is the base's own weights plus a fixed hook that adds a known unit
# direction u (length: half the base's mean residual norm) after layer 2 on about 4% of tokens,
# chosen by a seeded hash of (previous token, token, position) (starter/organism/planted.py). The
# 'planted' property labels every search token by that hash; on the base the same labels mark
# nothing the model wrote. What the method claims: a sparse feature that is one direction, not an
# axis of the residual, is read by one SAE latent better than by one residual dimension. So:
# (1) the k=1 SAE probe's held-out accuracy on 'planted' is 1 where it is planted and chance
# (0.5) on the base; (2) SAE minus residual dimensions at k=1 is above 0 where it is planted and
# 0 on the base (a random unit direction in 256 dimensions has components of about 1/16, the
# largest about a fifth, so one residual dimension reads it only partly). The claims compare at
# k=16 (`claim_k`), so (3) and (4) are the same two checks at k=16: accuracy 1 on the strong plant,
# and SAE above residual dimensions. Declared before the validation run.
#
# That plant is large (half the mean residual norm: every probe reads it), so the same four
# checks run on two weaker plants of the same rule: `tinythinker-plant-sparse-mid` (scale 0.02,
# where a dense linear probe reads it clearly below saturation) and `-sparse-faint` (scale 0.01,
# near that probe's detection limit). Their scales were chosen before this validation ran, by a
# pilot on problems it does not use (scripts/pilot_plant_scales.py: a dense linear probe on
# balanced tokens, held out by problem; the grid scale nearest 0.80 and 0.60 accuracy: 0.78 and
# 0.60; starter/organism/planted.py FEATURES). On them nothing says how well an SAE latent should
# read the plant, so only the side is declared: above chance (accuracy) and above the residual
# dimensions (the gap), beyond the base. A weak tier that fails is the method's detection limit
# at this n, reported as such. (The SAE is trained here, on activations that carry the plant; the
# gpu preset's pretrained SAE never saw one, which no organism validation can test.)
#
# Result (cpu, 189 held-out problems an arm, docs/results/sae-vs-probes/validation/): on the
# strong plant the k=1 checks are recovered (accuracy 1.00; SAE minus residual +0.24 [0.21, 0.27]).
# At the claims' k=16 the plant is read at 1.00 [1.00, 1.00], but the base reads the label at
# 0.55 [0.53, 0.58], not chance: the sparse rule is a hash of (previous token, token, position),
# which the residual partly encodes (a dense residual probe read 0.66 on the first-stage base),
# so this null is not chance for a probe with many features. SAE minus residual at k=16 is a tie
# on the strong plant (-0.00 [-0.00, 0.00]; both read it), beyond the base's -0.04 [-0.07, -0.00]
# only because the base favours the residual. On the mid and faint plants no SAE probe, k=1 or
# k=16, reads anything beyond the base (every difference from it between -0.00 and +0.01, each
# interval covering 0), although the dense residual probe read the mid plant at 0.84 on the
# first-stage base (0.66 unplanted): the SAE trained here does not isolate a sparse direction at
# 2% of the residual norm, so every weak check fails. An SAE-probe null on R1-distill therefore
# says little about a faint feature.
#
# The control is the base `tinythinker`, not `tinythinker-retrained`: the plant is a hook on the
# base's own weights (no fine-tuning at all), so the matched model is the base with the same label
# rule and nothing planted (`planted_labels=sparse` on every arm; the weaker tiers share the rule).


# %%
PLANTED = "planted"  # the property the validation reads


def measure_planted_accuracy(m: Metrics, k: int) -> Measured:
    """Held-out accuracy of the k-latent SAE probe on 'planted', seeds averaged and resampled;
    not estimable where the run has no such property."""
    found = m.accuracy.get(PLANTED, {}).get(f"sae-k{k}")
    return measured_from(found) if found is not None else Measured(float("nan"), None, 0)


def measure_planted_gap(m: Metrics, k: int) -> Measured:
    """SAE k minus residual k on 'planted' (paired by problem, SAE seeds resampled)."""
    found = m.sae_minus_resid.get(PLANTED, {}).get(k)
    return measured_from(found) if found is not None else Measured(float("nan"), None, 0)


def measure_planted_k1(m: Metrics) -> Measured:
    """Held-out accuracy of the k=1 SAE probe (the best single latent) on 'planted'."""
    return measure_planted_accuracy(m, 1)


def measure_planted_gap_k1(m: Metrics) -> Measured:
    """SAE k=1 minus residual k=1 on 'planted'."""
    return measure_planted_gap(m, 1)


def measure_planted_k16(m: Metrics) -> Measured:
    """Held-out accuracy of the k=16 SAE probe (the claims' k) on 'planted'."""
    return measure_planted_accuracy(m, 16)


def measure_planted_gap_k16(m: Metrics) -> Measured:
    """SAE k=16 minus residual k=16 on 'planted' (the claims' comparison)."""
    return measure_planted_gap(m, 16)


VALIDATION_CONTROL = "tinythinker"  # the plant is a hook on the base weights: no fine-tuning
# Every arm scores the same label rule; n_shuffles=2 (chance controls the validation does not
# read) keeps an arm near the cpu preset's ~10 min on 2 cores.
VALIDATION_SETTINGS = {"smoke": ("planted_labels=sparse",),
                       # seed 0: the committed validation ran before the cpu preset moved to
                       # CONFIRM_SEED; pinned so that a rerun reproduces its rows
                       "cpu": ("planted_labels=sparse", "n_shuffles=2", "seed=0")}
# The tiers of the sparse plant: (registry name suffix, scale), strong first
SPARSE_TIERS = (("", 0.5), ("-mid", 0.02), ("-faint", 0.01))


def sparse_checks(suffix: str, scale: float, k: int) -> tuple[Validation, Validation]:
    """Accuracy and SAE-minus-residual at `k` on one tier of the sparse plant."""
    strong = not suffix  # only the strong plant has a known accuracy (1: every probe reads it)
    base = Arm(VALIDATION_CONTROL, 0.5, label="base")
    plant = Arm(f"tinythinker-plant-sparse{suffix}", 1.0 if strong else None,
                label=f"plant-sparse{suffix}")
    which = ("the best single SAE latent (k=1 probe)" if k == 1
             else f"the k={k} SAE probe (the claims' k)")
    where = f"the planted sparse feature (scale {scale:g})"
    accuracy = Validation(
        quantity=f"held-out accuracy of {which} on {where}",
        arms=(base, plant),
        measure=measure_planted_k1 if k == 1 else measure_planted_k16,
        meaning=("A sparse probe on SAE latents that reads a planted one-direction feature, "
                 "and reads chance where nothing is planted, can find such a feature; on "
                 "R1-distill a few latents that read a property are then some evidence that "
                 "the property is a direction the SAE isolated."),
        settings=VALIDATION_SETTINGS, retrained_planted=0.5, control=VALIDATION_CONTROL)
    gap = Validation(
        quantity=f"SAE latents minus residual dimensions at k={k} (accuracy) on {where}",
        arms=(dataclasses.replace(base, planted=0.0), dataclasses.replace(plant, planted=None)),
        measure=measure_planted_gap_k1 if k == 1 else measure_planted_gap_k16,
        meaning=("Where a feature is one direction that no residual axis carries, SAE latents "
                 "should read it better than as many residual dimensions; if they do not here, "
                 "where the feature is planted, an SAE-vs-residual gap on R1-distill says little."),
        settings=VALIDATION_SETTINGS, retrained_planted=0.0, control=VALIDATION_CONTROL)
    return accuracy, gap


VALIDATION = tuple(check for suffix, scale in SPARSE_TIERS for k in (1, 16)
                   for check in sparse_checks(suffix, scale, k))


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run sae-vs-probes --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """None on the organism (its traces come from its grammar); else one chain per problem."""
    if cfg.model == "tinythinker":
        return []
    return [Generation("chains, one per problem", sequences=cfg.n_problems,
                       max_new_tokens=cfg.max_new_tokens,
                       batch_size=SamplingConfig().batch_size)]


STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("backtracking", "wait"),  # searches with shipped offline fixtures
    try_next=(
        "Vary the SAE: more latents, another L0, more training tokens; does the SAE-minus-"
        "residual gap at k=1 move with the SAE's variance explained?",
        "Kantamneni et al.'s hard regimes: few training problems, imbalanced classes, shuffled "
        "operators (covariate shift). Where, if anywhere, do SAE probes win?",
        "Read the chosen SAE latents' top contexts (starter.saes.top_examples): is the best "
        "single latent for `reachable` a reachability feature or a digit detector?",
        "Probe every layer: is the property SAE-readable where the residual probe first reads it?",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
