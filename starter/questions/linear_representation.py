# %% [markdown]
# # Is the search state linearly represented?
#
# Question: the linear representation hypothesis says a model stores the variables it uses as
# directions of its residual stream ("The Linear Representation Hypothesis and the Geometry of
# Large Language Models", Park, Choe, Veitch 2023, arXiv 2311.03658); "Not All Language Model
# Features Are Linear" (Engels et al. 2024, arXiv 2405.14860) found circular, multi-dimensional
# ones (days of the week, months). Does the organism's search state read out linearly?
#
# Method: for each ground-truth variable of every step of TinyThinker's traces (from the search
# tree: the current node's depth, whether it is on the solution path, steps to the "Hit." bucketed,
# the current intermediate value mod 3 and its magnitude bucket), at each layer, read the residual
# stream at the step's last token and compare a linear probe with 1-hidden-layer MLPs of a few
# widths. Same trainer, same steps, same weight decay, early stopping on held-back training
# problems, and the same folds split BY PROBLEM (starter/probes.py). The hypothesis predicts that
# the MLP gains little; a gain whose paired interval (clusters = problems) excludes zero says the
# variable is stored, at least in part, non-linearly. ("The current branch can still reach the
# target" equals `on_solution_path` on the organism's first-level steps, because its search stops
# at the first hit; it is not probed separately.)
#
# Controls: (1) a randomly initialised twin of the model (same architecture and tokenizer, fresh
# weights): what the architecture and the tokens alone let a probe read. (2) Shuffled labels
# (chance) and the majority class. (3) A token-identity baseline: a probe on a one-hot of the last
# `window` tokens. The trained model "holds the variable linearly" only where its linear probe
# beats the best of (1) at its best layer and (3) (review s17: the twin is taken at whichever
# layer reads the variable best, not only at the claim layer). (3b) For `depth`, the one-line text
# rule: the number of `Left:` steps written since the last `Wait, backtrack.` (that step reads 0);
# nothing fitted. It computes the label (the generator writes one `Left:` per descent), so it is
# the ceiling, a constant (1 by construction), never a baseline (as sae-vs-probes' ceiling).
# Review s17 found one-line prefix rules for three more variables (`PREFIX_RULES`): stated beside
# their claims, they are ceilings too; a "supported" there is against untrained readers only.
# (4) A positive control for the comparison itself: two random
# directions planted in the residual with random signs, labelled by their XOR; the MLP must beat
# the linear probe there, or a null result on the real variables says nothing. As "Designing and
# Interpreting Probes with Control Tasks" (Hewitt & Liang 2019, arXiv 1909.03368) argue, a probe's
# score means little without the same probe on a control.
#
# - `smoke` / `cpu`: TinyThinker reading its own ground-truth traces (teacher-forced; the organism
#   writes them exactly). On a planted-feature model (`tinythinker-plant-linear`, `-xor`:
#   starter/organism/planted.py) one more variable, `planted`, is probed: the plant's own label at
#   each step (`planted.labels`), which `mi-starter validate linear-representation` checks.
# - `gpu`: DeepSeek-R1-Distill-Qwen-1.5B on its own sampled Countdown traces, with the labels the
#   text gives: each step's tag, whether the next step backtracks, and whether the chain's answer
#   is right (finished chains only).
#
# Run: `mi-starter run linear-representation --preset smoke`. Outputs: results.jsonl (kinds
# "trace", "items", "probe"), figure.png, summary.md, findings.json.
#
# **Primary claim** (`PRIMARY` below): after training, `depth` is linearly decodable at the claim
# layer beyond any untrained reader (the random twin at its best layer, the last tokens one-hot);
# linearity itself is not tested there (linear = MLP at the ceiling). The others are secondary,
# Holm-adjusted. It was declared on 2026-12-07, after the 2026-11-27 rows of seed 0, so the cpu
# preset now runs a fresh seed (`CONFIRM_SEED`) as the confirmatory run.

# %%
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from starter import activations, cot, grading, prefixes, stats
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.organism import planted as planted_features
from starter.plan import Generation
from starter.plotting import estimate_points
from starter.probes import ProbeSpec, hits, predict_held_out, token_window
from starter.validation import Arm, Measured, Validation, measured_from

# The one claim this starter tests (the `key` of its `compare`); every other claim is secondary,
# its interval Holm-adjusted (`starter.findings.declare`). Chosen 2026-12-07 knowing seed 0's rows
# (review s17); declared, worded as above, before the run of `CONFIRM_SEED` (2026-12-07, 18:28
# UTC, commit 239b3f9).
PRIMARY = "trained-depth"
# The cpu preset's seed since 2026-12-07: new problems, folds, shuffles; the confirmatory run of
# the primary above, declared before it ran (seed 0's rows were the exploratory run)
CONFIRM_SEED = 2

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    n_problems: int = 150  # Countdown problems (held-out split); the unit of independence
    samples: int = 1  # model path only: sampled traces per problem
    temperature: float = 0.6  # model path only: sampling temperature (R1's recommended 0.6)
    # model path only: tokens per trace. R1-distill Countdown chains run 500-4000 tokens; 4096
    # keeps most finished (unfinished ones are counted and left out of `correct`).
    max_new_tokens: int = 4096
    max_steps: int = 64  # at most this many steps per trace are probed (R1 traces are long)
    layer_stride: int = 1  # probe every k-th layer (the claim layer is always probed)
    claim_layer: int | None = None  # the claims' layer; None: the model's last layer of interest
    widths: tuple[int, ...] = (8, 32, 64)  # hidden widths of the MLP probes
    claim_width: int = 64  # the MLP width the claims use (one of `widths`; fixed before the run)
    folds: int = 5  # cross-validation folds, grouped by problem
    probe_steps: int = 200  # full-batch AdamW steps per probe (early-stopped on held-back problems)
    window: int = 8  # token-identity baseline: one-hot of the tokens ending at the read position
    plant_scale: float = 0.5  # positive control: planted directions' length / mean residual norm
    twin_seed: int = 1  # torch seed of the random twin's weights
    batch_size: int = 32  # sequences per forward pass (and per generate call on the model path)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < 2 * self.folds or self.folds < 2:
            raise UsageError(f"n_problems={self.n_problems}, folds={self.folds}: need folds >= 2 "
                             f"and n_problems >= 2 * folds")
        if not self.widths or min(self.widths) < 1 or self.claim_width not in self.widths:
            raise UsageError(f"widths={self.widths}, claim_width={self.claim_width}: widths must "
                             f"be >= 1 and contain claim_width")
        if self.samples < 1 or self.layer_stride < 1 or self.window < 1 or self.probe_steps < 1:
            raise UsageError("samples, layer_stride, window and probe_steps must all be >= 1")


PRESETS = {
    "smoke": Config(n_problems=40, folds=4, widths=(16,), claim_width=16, probe_steps=100,
                    window=4),
    # 80 problems (about 800 steps), 4 layers x 3 feature sets, MLP widths 16 and 32: shrunk to
    # fit a 2-core machine shared with other jobs (about 8 min there); raise n_problems on a
    # quieter machine (150 gives intervals about 1.4x narrower)
    "cpu": Config(n_problems=80, widths=(16, 32), claim_width=32, probe_steps=120,
                  seed=CONFIRM_SEED),
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, samples=2,
                  layer_stride=3, batch_size=32, widths=(16, 64, 256), claim_width=256),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=4, max_new_tokens=24, folds=2, widths=(8,),
                                      claim_width=8, probe_steps=10, window=2)
# Ground-truth variables, each a class index per step. Organism: from the search tree.
ORGANISM_VARIABLES = ("depth", "on_solution_path", "steps_to_solution", "value_mod_3",
                      "value_magnitude")
# Text models: what the text itself says (R1-distill has no search tree to read).
TEXT_VARIABLES = ("tag", "backtrack_next", "correct")
PLANTED = "planted_xor"  # the positive control's label
# On a planted-feature model: the plant's own label per step (starter/organism/planted.py)
PLANT_VARIABLE = "planted"
CLASS_NAMES = {
    "depth": ("first-level", "final combine"), "on_solution_path": ("off", "on"),
    "steps_to_solution": ("0", "1-3", "4-9", "10+"), "value_mod_3": ("0", "1", "2"),
    "value_magnitude": ("<10", "10-99", ">=100"), "tag": cot.STEP_TAGS,
    "backtrack_next": ("no", "yes"), "correct": ("wrong", "right"), PLANTED: ("0", "1"),
    PLANT_VARIABLE: ("0", "1"),
}

# %% [markdown]
# ## Sample traces and label every step


# %%
def bucket(value: int, edges: tuple[int, ...]) -> int:
    """The class of `value` among buckets split at `edges` (each edge starts a bucket).

    >>> [bucket(v, (1, 4, 10)) for v in (0, 1, 3, 4, 9, 10, 50)]
    [0, 1, 1, 2, 2, 3, 3]
    """
    return int(np.searchsorted(edges, value, side="right"))


def organism_labels(trace) -> dict[str, list[int]]:
    """Per thinking step of a ground-truth trace (`starter.organism.data.Trace`): each variable."""
    out: dict[str, list[int]] = {name: [] for name in ORGANISM_VARIABLES}
    for step in (s for s in trace.steps if s.tag != "conclude"):
        value = trace.nodes[step.node].value  # the current node's intermediate value
        out["depth"].append(step.depth - 1)  # steps sit at depth 1 (first combine) or 2 (final)
        out["on_solution_path"].append(int(step.on_solution_path))
        out["steps_to_solution"].append(bucket(step.steps_to_solution, (1, 4, 10)))
        out["value_mod_3"].append(value % 3)
        out["value_magnitude"].append(bucket(abs(value), (10, 100)))
    return out


RULE_NAME = "text rule (`Left:` steps since the last backtrack)"
# One-line rules on the text so far that read other organism variables exactly (review s17
# checked each on all 760 steps of seed 0's rows; rechecked on all 819 of seed 2's): like the
# depth rule they compute the label, so they are ceilings, and a "supported" claim there is
# against untrained readers only.
PREFIX_RULES = {
    "on_solution_path": "at a first Try, `reachable(result, the other number, target)`; at "
                        "'Left: a, b.', `reachable(a, b, target)`; at a final Try, result == "
                        "target; Miss and Wait 0; Hit 1",
    "value_mod_3": "the last Try's result (at a backtrack, the last 'Left:' first number) mod 3",
    "value_magnitude": "the last Try's result (at a backtrack, the last 'Left:' first number), "
                       "bucketed",
}


def depth_rule(completion: str) -> list[int]:
    """Per thinking step: how many `Left:` steps were written before it since the last
    `Wait, backtrack.` (0 on that step itself): the organism's `depth` label, read off the text.

    >>> depth_rule(" Try 20-5=15. Left: 15, 13. Try 15+13=28. Miss. Wait, backtrack. "
    ...            "Try 20/5=4. Left: 4, 13. Try 4+13=17. Hit. </think> \\boxed{(20/5)+13}")
    [0, 0, 1, 1, 0, 0, 0, 1, 1]
    """
    out, lefts = [], 0
    for step in prefixes.chain_steps(completion):
        if step.text.startswith("Wait, backtrack"):
            lefts = 0
        out.append(lefts)
        if step.text.startswith("Left:"):
            lefts += 1
    return out


def rule_hits(traces: list[dict], y: list[int]) -> list[float] | None:
    """The depth rule's per-step hits, aligned with the `depth` items (each trace's first steps,
    as many as it has labels); None when the steps do not line up with the items.

    >>> t = {"completion": " Try 1+2=3. Left: 3, 4. Try 3+4=7. Hit.", "labels": {"depth":
    ...      [0, 0, 1]}}
    >>> rule_hits([t], [0, 0, 1]), rule_hits([t], [0, 1, 1]), rule_hits([t], [0, 0])
    ([1.0, 1.0, 1.0], [1.0, 0.0, 1.0], None)
    """
    predicted = []
    for t in traces:
        n = len(t.get("labels", {}).get("depth", []))
        predicted += depth_rule(t.get("completion", ""))[:n]
    if len(predicted) != len(y):
        return None
    return [float(p == v) for p, v in zip(predicted, y)]


def text_labels(tags: list[str], finished: bool, correct: bool) -> dict[str, list[int | None]]:
    """Per step of a sampled trace: its tag, whether the next step backtracks, the chain's grade.

    >>> text_labels(["compute", "verify", "backtrack"], finished=False, correct=False)
    {'tag': [1, 2, 3], 'backtrack_next': [0, 1, None], 'correct': [None, None, None]}
    """
    nxt = [int(t == "backtrack") for t in tags[1:]] + [None]
    grade = int(correct) if finished else None  # an unfinished chain has no answer to grade
    return {"tag": [cot.STEP_TAGS.index(t) for t in tags], "backtrack_next": nxt,
            "correct": [grade] * len(tags)}


def organism_traces(ctx: Context) -> None:
    """One row per problem: the organism's ground-truth trace and its step labels."""
    from starter.organism.data import make_traces

    cfg = ctx.cfg
    feature = ctx.model.spec.planted  # a planted-feature model's plant, else None
    for i, trace in enumerate(make_traces(cfg.n_problems, seed=cfg.seed, split="test")):
        unit = f"trace:{i}"
        if ctx.store.done(unit):
            continue  # a resumed run: this trace is on disk
        labels = {k: v[: cfg.max_steps] for k, v in organism_labels(trace).items()}
        if feature is not None:
            labels[PLANT_VARIABLE] = plant_labels(ctx.model, feature, trace.prompt,
                                                  trace.completion)[: len(labels["depth"])]
        ctx.store.append({"unit": unit, "kind": "trace", "problem": f"p{i}",
                          "prompt": trace.prompt, "completion": trace.completion,
                          "finished": True, "correct": True, "labels": labels})


def plant_labels(lm, feature, prompt: str, completion: str) -> list[int]:
    """The plant's label (its own rule, `planted.labels`) at the last token of each step."""
    ids = activations.encode_one(lm, prompt + completion)
    _, ends = activations.step_end_positions(lm, prompt, completion)
    truth = planted_features.labels(feature, ids)
    return [int(truth[e]) for e in ends]


def sampled_traces(ctx: Context) -> None:
    """Model path: sample traces on Countdown problems; label each step from the text."""
    from starter.rollouts import sample
    from starter.tasks import get_task_set

    task, lm, cfg = get_task_set("countdown"), ctx.model, ctx.cfg
    problems = task.make(cfg.n_problems, seed=cfg.seed)
    todo = [p for p in problems
            if ctx.store.pending(f"trace:{p.id}:{k}" for k in range(cfg.samples))]
    if not todo:
        return  # a resumed run: every trace is on disk
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    samples = sample(lm, prompts, cfg.samples, cfg.sampling())
    for problem, prompt, completions in zip(todo, prompts, samples):
        for k, completion in enumerate(c.text for c in completions):
            unit = f"trace:{problem.id}:{k}"
            if ctx.store.done(unit):
                continue
            steps = cot.split_steps(cot.split_completion(completion)[0])[: cfg.max_steps]
            done = grading.finished(completion)
            correct = bool(task.grade(problem, completion))
            ctx.store.append({"unit": unit, "kind": "trace", "problem": problem.id,
                              "prompt": prompt, "completion": completion, "finished": done,
                              "correct": correct,
                              "labels": text_labels([s.tag for s in steps], done, correct)})


# %% [markdown]
# ## Features: the trained model's residuals, its random twin's, and the nearby tokens


# %%
def random_twin(lm, seed: int):
    """The same architecture and tokenizer with fresh random weights (Hugging Face's init: normal
    with the config's initializer_range, norms at 1, biases at 0), booted like `lm`."""
    import torch

    from starter.models import load_spec

    # a planted feature is not architecture: the twin carries none
    twin = load_spec(dataclasses.replace(lm.spec, planted_feature=None), device=str(lm.device),
                     dtype=lm.dtype)
    std = getattr(twin.hf_model.config, "initializer_range", 0.02)
    devices = [twin.device] if twin.device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for name, p in twin.hf_model.named_parameters():
            if p.ndim > 1:
                p.normal_(0.0, std)  # embeddings and linear maps
            elif "norm" in name:
                p.fill_(1.0)
            else:
                p.zero_()  # biases
    return twin


@dataclass
class Features:
    """Every probed step's features, row-aligned with the labels (trace order, then step order)."""

    problems: list[str]  # cluster of each row
    trained: dict[int, np.ndarray]  # layer -> [rows, d_model], the model's residual stream
    random: dict[int, np.ndarray]  # layer -> [rows, d_model], the random twin's
    tokens: np.ndarray  # [rows, window * vocab] one-hot of the last `window` tokens
    labels: dict[str, list]  # variable -> per row: class index, or None (no label)


def probe_layers(lm, cfg: Config) -> list[int]:
    layers = set(range(0, lm.n_layers, cfg.layer_stride))
    return sorted(layers | {claim_layer(lm, cfg)})


def claim_layer(lm, cfg: Config) -> int:
    layer = cfg.claim_layer if cfg.claim_layer is not None else lm.spec.layers_of_interest[-1]
    if not 0 <= layer < lm.n_layers:
        raise UsageError(f"claim_layer={layer} is outside 0..{lm.n_layers - 1}")
    return layer


def collect_features(ctx: Context, traces: list[dict]) -> Features:
    lm, cfg = ctx.model, ctx.cfg
    texts, positions, ids, problems = [], [], [], []
    labels: dict[str, list] = {}
    for t in traces:
        steps, ends = activations.step_end_positions(lm, t["prompt"], t["completion"])
        n = min(len(ends), *(len(v) for v in t["labels"].values()))
        if n == 0:
            continue  # nothing to probe in this trace
        texts.append(t["prompt"] + t["completion"])
        positions.append(ends[:n])
        ids.append(activations.encode_one(lm, texts[-1]))
        problems.extend([t["problem"]] * n)
        for name, values in t["labels"].items():
            labels.setdefault(name, []).extend(values[:n])
    layers = probe_layers(lm, cfg)
    if not texts:
        return Features([], {}, {}, np.zeros((0, 1)), {})
    trained = activations.cache_resid(lm, texts, positions, layers, batch_size=cfg.batch_size)
    twin = random_twin(lm, cfg.twin_seed)
    random = activations.cache_resid(twin, texts, positions, layers, batch_size=cfg.batch_size)
    del twin
    return Features(problems=problems,
                    trained={L: a.numpy() for L, a in trained.items()},
                    random={L: a.numpy() for L, a in random.items()},
                    tokens=token_window(ids, positions, cfg.window), labels=labels)


def planted(x: np.ndarray, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive control: x plus +-u +-v (random unit directions, random signs per row) at
    `scale` times the mean row norm, and the XOR of the two signs as the label.

    >>> x, y = planted(np.ones((20, 3)), scale=0.5, seed=0)
    >>> x.shape, sorted(set(y.tolist())) == [0, 1]
    ((20, 3), True)
    """
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(2, x.shape[1]))
    u /= np.linalg.norm(u)
    v /= np.linalg.norm(v)
    a = rng.integers(0, 2, size=len(x))
    b = rng.integers(0, 2, size=len(x))
    length = scale * float(np.linalg.norm(x, axis=1).mean())
    shifted = x + length * (np.outer(2 * a - 1, u) + np.outer(2 * b - 1, v))
    return shifted.astype(np.float32), (a ^ b).astype(int)


# %% [markdown]
# ## Probes: every (features, layer, variable, probe), held out by problem


# %%
@dataclass(frozen=True)
class Job:
    """One probe fit: which features, which layer, which variable, which probe."""

    features: str  # "trained" | "random" | "tokens" | "planted"
    layer: int | None  # residual layer (None for tokens)
    variable: str  # a label name
    probe: str  # "linear" | "mlp-<w>" | "shuffled" (linear probe, labels permuted)

    @property
    def unit(self) -> str:
        return f"probe:{self.features}:{self.layer}:{self.variable}:{self.probe}"


def jobs(cfg: Config, layers: list[int], claim: int, variables: list[str]) -> list[Job]:
    """The trained model gets every probe at every layer; the twin the linear and claim-width MLP
    at every layer; tokens the same two; chance and the planted control at the claim layer."""
    mlp = [f"mlp-{w}" for w in cfg.widths]
    pair = ["linear", f"mlp-{cfg.claim_width}"]
    out = [Job(PLANTED, claim, PLANTED, p) for p in pair]
    for v in variables:
        out += [Job("trained", L, v, p) for L in layers for p in ["linear", *mlp]]
        out += [Job("random", L, v, p) for L in layers for p in pair]
        out += [Job("tokens", None, v, p) for p in pair]
        out.append(Job("trained", claim, v, "shuffled"))
    return out


def usable(y: list, problems: list[str], folds: int) -> tuple[np.ndarray, str | None]:
    """Which rows carry a label, and why the variable cannot be probed (None when it can)."""
    keep = np.array([v is not None for v in y], dtype=bool)
    classes = {v for v in y if v is not None}
    n_problems = len({p for p, k in zip(problems, keep) if k})
    if len(classes) < 2:
        return keep, f"{len(classes)} class(es) among {int(keep.sum())} labelled steps"
    if n_problems < 2 * folds:
        return keep, f"{n_problems} problems with labels; need {2 * folds} for {folds} folds"
    return keep, None


def fit_probes(ctx: Context, feats: Features) -> None:
    lm, cfg = ctx.model, ctx.cfg
    claim = claim_layer(lm, cfg)
    variables = [v for v in feats.labels]
    device = "cuda" if str(lm.device).startswith("cuda") else "cpu"
    for variable in [*variables, PLANTED]:
        if ctx.store.done(f"items:{variable}"):
            continue
        if variable == PLANTED:
            keep, why = np.ones(len(feats.problems), dtype=bool), None
            if len(set(feats.problems)) < 2 * cfg.folds:
                why = f"{len(set(feats.problems))} problems; need {2 * cfg.folds}"
            y = planted(feats.trained[claim], cfg.plant_scale, cfg.seed)[1] if not why else []
        else:
            keep, why = usable(feats.labels[variable], feats.problems, cfg.folds)
            y = np.array([v for v in feats.labels[variable] if v is not None], dtype=int)
        groups = [p for p, k in zip(feats.problems, keep) if k]
        ctx.store.append({"unit": f"items:{variable}", "kind": "items", "variable": variable,
                          "problems": groups if not why else [],
                          "y": [int(v) for v in y] if not why else [], "skipped": why})
    items = {r["variable"]: r for r in ctx.store.rows() if r.get("kind") == "items"}
    todo = [j for j in jobs(cfg, probe_layers(lm, cfg), claim, variables)
            if not items[j.variable]["skipped"] and not ctx.store.done(j.unit)]
    for job in todo:
        item = items[job.variable]
        x = job_features(feats, job, claim, cfg)
        y = np.array(item["y"])
        if job.probe == "shuffled":
            y = np.random.default_rng(cfg.seed).permutation(y)
        hidden = 0 if job.probe in ("linear", "shuffled") else int(job.probe.split("-")[1])
        spec = ProbeSpec(hidden=hidden, steps=cfg.probe_steps)
        predicted = predict_held_out(x, y, item["problems"], spec, cfg.folds, cfg.seed, device)
        ctx.store.append({"unit": job.unit, "kind": "probe", "features": job.features,
                          "layer": job.layer, "variable": job.variable, "probe": job.probe,
                          "hits": [int(h) for h in hits(y, predicted)]})


def job_features(feats: Features, job: Job, claim: int, cfg: Config) -> np.ndarray:
    """The rows of the job's features that carry its variable's label: [labelled steps, d]."""
    if job.features == PLANTED:
        return planted(feats.trained[claim], cfg.plant_scale, cfg.seed)[0]
    keep, _ = usable(feats.labels[job.variable], feats.problems, cfg.folds)
    if job.features == "tokens":
        return feats.tokens[keep]
    by_layer = feats.trained if job.features == "trained" else feats.random
    return by_layer[job.layer][keep]


def run(ctx: Context) -> None:
    if ctx.model.spec.prompt_format == "organism":
        organism_traces(ctx)
    else:
        sampled_traces(ctx)
    traces = [r for r in ctx.store.rows() if r.get("kind") == "trace"]
    feats = collect_features(ctx, traces)
    fit_probes(ctx, feats)


# %% [markdown]
# ## Analyse: per-step accuracy of each probe, paired MLP-minus-linear differences by problem


# %%
@dataclass(repr=False)
class VariableResult:
    """One variable: probe accuracies (per step, clusters = problems) and the paired gaps."""

    variable: str
    n_steps: int  # labelled steps
    n_problems: int
    majority: stats.Estimate  # always the commonest class (of all labelled steps)
    chance: stats.Estimate | None  # linear probe on shuffled labels, claim layer (None: planted)
    # (features, layer) -> probe -> accuracy; layer None for tokens
    score: dict[str, dict[int | None, dict[str, stats.Estimate]]] = field(default_factory=dict)
    # features -> layer -> claim-width MLP minus linear (paired)
    gain: dict[str, dict[int | None, stats.Estimate]] = field(default_factory=dict)
    trained_minus_random: dict[int, stats.Estimate] = field(default_factory=dict)  # linear
    trained_minus_tokens: dict[int, stats.Estimate] = field(default_factory=dict)  # linear
    # the one-line text rule (depth only): accuracy per step; 1 on every step is the ceiling, a
    # constant (the rule computes the label), never a baseline
    rule: stats.Estimate | None = None
    trained_minus_rule: dict[int, stats.Estimate] = field(default_factory=dict)  # linear
    gain_trained_minus_random: stats.Estimate | None = None  # claim layer: difference of gains
    random_best_layer: int | None = None  # the layer whose twin linear probe reads it best
    # trained linear probe at a layer minus the twin's linear probe at its best layer (paired)
    trained_minus_random_best: dict[int, stats.Estimate] = field(default_factory=dict)
    # features -> layers where the claim-width MLP and the linear probe hit the same steps: the
    # gain is 0 on every step, untestable there (no claim, out of Holm; review s17)
    gain_tied: dict[str, list[int | None]] = field(default_factory=dict)
    trained_equals_rule: list[int] = field(default_factory=list)  # layers: probe hits = rule's


def _hits(rows: list[dict], features: str, layer, variable: str, probe: str) -> list[float] | None:
    for r in rows:
        if (r["features"], r["layer"], r["variable"], r["probe"]) == (features, layer, variable,
                                                                      probe):
            return [float(h) for h in r["hits"]]
    return None


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings and figure read these fields."""

    n_traces: int  # traces probed
    n_unfinished: int  # of them, never finished
    layers: list[int]  # layers probed on the trained model
    claim_layer: int | None  # the claims' layer (None: no probe rows)
    claim_probe: str | None  # the claims' MLP probe, "mlp-<width>" (None: no MLP rows)
    skipped: dict[str, str]  # variable -> why it was not probed
    variables: dict[str, VariableResult]  # variable -> its probes' scores and differences


def analyse(rows: list[dict]) -> Metrics:
    traces = [r for r in rows if r.get("kind") == "trace"]
    probes = [r for r in rows if r.get("kind") == "probe"]
    layers = sorted({r["layer"] for r in probes if r["features"] == "trained"})
    claim = next((r["layer"] for r in probes if r["probe"] == "shuffled"),
                 next((r["layer"] for r in probes if r["features"] == PLANTED), None))
    widths = sorted({int(r["probe"].split("-")[1]) for r in probes
                     if r["probe"].startswith("mlp-") and r["features"] in ("random", PLANTED)})
    wide = f"mlp-{widths[-1]}" if widths else None
    m: dict = {"n_traces": len(traces), "n_unfinished": sum(not r["finished"] for r in traces),
               "layers": layers, "claim_layer": claim, "claim_probe": wide, "skipped": {},
               "variables": {}}
    for item in (r for r in rows if r.get("kind") == "items"):
        name = item["variable"]
        if item["skipped"]:
            m["skipped"][name] = item["skipped"]
            continue
        groups, y = item["problems"], np.array(item["y"])
        commonest = np.bincount(y).argmax()
        shuffled = _hits(probes, "trained", claim, name, "shuffled")
        res = VariableResult(variable=name, n_steps=len(y), n_problems=len(set(groups)),
                             majority=stats.mean_ci((y == commonest).astype(float), groups),
                             chance=stats.mean_ci(shuffled, groups) if shuffled else None)
        for r in (r for r in probes if r["variable"] == name and r["probe"] != "shuffled"):
            res.score.setdefault(r["features"], {}).setdefault(r["layer"], {})[r["probe"]] = \
                stats.mean_ci(r["hits"], groups)
        for features, by_layer in res.score.items():
            for layer in by_layer:
                lin = _hits(probes, features, layer, name, "linear")
                mlp = _hits(probes, features, layer, name, wide)
                if lin and mlp:
                    res.gain.setdefault(features, {})[layer] = stats.difference_ci(
                        mlp, groups, lin, groups)
                    if mlp == lin:
                        res.gain_tied.setdefault(features, []).append(layer)
        twin_layers = {L: e["linear"] for L, e in res.score.get("random", {}).items()
                       if "linear" in e}
        if twin_layers:
            res.random_best_layer = max(twin_layers, key=lambda L: twin_layers[L].value)
            best = _hits(probes, "random", res.random_best_layer, name, "linear")
            for layer in res.score.get("trained", {}):
                trained = _hits(probes, "trained", layer, name, "linear")
                if trained and best:
                    res.trained_minus_random_best[layer] = stats.difference_ci(
                        trained, groups, best, groups)
        for layer in res.score.get("random", {}):
            trained = _hits(probes, "trained", layer, name, "linear")
            random = _hits(probes, "random", layer, name, "linear")
            if trained and random:
                res.trained_minus_random[layer] = stats.difference_ci(trained, groups, random,
                                                                      groups)
            tokens = _hits(probes, "tokens", None, name, "linear")
            if trained and tokens:
                res.trained_minus_tokens[layer] = stats.difference_ci(trained, groups, tokens,
                                                                      groups)
        rule = rule_hits(traces, item["y"]) if name == "depth" else None
        if rule is not None:
            res.rule = (stats.constant(1.0, len(set(groups)), n_items=len(rule))
                        if all(h == 1 for h in rule) else stats.mean_ci(rule, groups))
            for layer in res.score.get("trained", {}):
                trained = _hits(probes, "trained", layer, name, "linear")
                if trained == rule:
                    res.trained_equals_rule.append(layer)
                if trained:
                    res.trained_minus_rule[layer] = stats.difference_ci(trained, groups, rule,
                                                                        groups)
        parts = [_hits(probes, f, claim, name, p) for f in ("trained", "random")
                 for p in (wide, "linear")]
        if all(parts):
            gain_t = np.array(parts[0]) - np.array(parts[1])
            gain_r = np.array(parts[2]) - np.array(parts[3])
            res.gain_trained_minus_random = stats.difference_ci(gain_t, groups, gain_r, groups)
        m["variables"][name] = res
    return Metrics(**m)


# %% [markdown]
# ## Figure: accuracy by layer (linear vs MLP, trained vs random twin), and the MLP's gain


# %%
def plot(rows: list[dict], m: Metrics):
    import matplotlib.pyplot as plt

    results = [r for r in m.variables.values() if r.variable != PLANTED]
    n = max(1, len(results))
    cols = min(3, n)
    grid_rows = -(-n // cols) + 1
    fig = plt.figure(figsize=(7, 2.6 * grid_rows))
    grid = fig.add_gridspec(grid_rows, cols)
    styles = {("trained", "linear"): ("C0", "-o", "trained, linear"),
              ("trained", m.claim_probe): ("C1", "-s", f"trained, {m.claim_probe}"),
              ("random", "linear"): ("C0", ":o", "random twin, linear"),
              ("random", m.claim_probe): ("C1", ":s", f"random twin, {m.claim_probe}")}
    for i, r in enumerate(results):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        for (features, probe), (colour, style, label) in styles.items():
            points = [(L, e[probe]) for L, e in sorted(r.score.get(features, {}).items())
                      if probe in e]
            if points:
                estimate_points(ax, [L for L, _ in points], [e for _, e in points], fmt=style,
                                color=colour, ms=3, capsize=2, lw=1, label=label)
        ax.axhline(r.majority.value, color="k", lw=0.8, ls="--", label="majority class")
        tokens = r.score.get("tokens", {}).get(None, {}).get("linear")
        if tokens is not None:
            ax.axhline(tokens.value, color="C2", lw=0.8, label="tokens, linear")
        best = r.score.get("random", {}).get(r.random_best_layer, {}).get("linear")
        if best is not None:
            ax.axhline(best.value, color="C0", lw=0.8, ls="-.",
                       label="random twin at its best layer, linear")
        if r.rule is not None:
            ax.axhline(r.rule.value, color="C8", lw=1, ls=(0, (1, 1)),
                       label="text rule (ceiling: computes the label)")
        primary = " (primary)" if f"trained-{r.variable}" == PRIMARY else ""
        ax.set_title(r.variable.replace("_", " ") + primary, fontsize=9)
        ax.set_xlabel("layer", fontsize=8)
        ax.set_ylabel("held-out accuracy", fontsize=8)
        ax.set_xticks(m.layers)
        ax.tick_params(labelsize=7)
    gains = fig.add_subplot(grid[-1, : max(1, cols - 1)] if not n % cols else grid[-1, :])
    names = [r.variable for r in m.variables.values()]
    for j, features in enumerate(("trained", "random")):
        est = [m.variables[v].gain.get(features if v != PLANTED else PLANTED, {})
               .get(m.claim_layer) if (v != PLANTED or features == "trained") else None
               for v in names]
        at = [(i, stats.constant(0.0, e.n, n_items=e.n_items)
               if m.claim_layer in m.variables[names[i]].gain_tied.get(features, []) else e)
              for i, e in enumerate(est) if e is not None and e.ci]  # a tie: exact 0, no bar
        if at:
            estimate_points(gains, [i + (j - 0.5) * 0.3 for i, _ in at], [e for _, e in at],
                            fmt="o", color=f"C{3 + j}", capsize=3,
                            label="trained" if features == "trained" else "random twin")
    gains.axhline(0, color="k", lw=0.8)
    gains.set_xticks(range(len(names)), [v.replace("_", "\n") for v in names], fontsize=7)
    gains.set_ylabel(f"{m.claim_probe} - linear", fontsize=8)
    gains.set_title(f"MLP gain at layer {m.claim_layer} (95% CI, by problem)", fontsize=9)
    handles = fig.axes[0].get_legend_handles_labels() if results else ([], [])
    if n % cols:  # the first empty panel slot holds the key, off the data
        key = fig.add_subplot(grid[n // cols, n % cols])
    else:
        key = fig.add_subplot(grid[-1, -1]) if cols > 1 else None
    if key is not None:
        key.set_axis_off()
        key.legend(*handles, fontsize=7, loc="center")
    if gains.get_legend_handles_labels()[0]:
        gains.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims: does the MLP beat the linear probe? Does training put the variable there linearly?


# %%
@dataclass(frozen=True)
class Untrained:
    """The stronger control without training for one variable at one layer."""

    name: str  # "random twin" | "last tokens one-hot"
    score: stats.Estimate  # its linear probe's accuracy
    lift: stats.Estimate  # trained linear probe minus it (paired by problem)


def untrained_control(r: VariableResult, layer: int) -> Untrained | None:
    """The best untrained reader: the random twin at its best layer or the token window, whichever
    linear probe scores higher (conservative; review s17: not the twin at `layer` only)."""
    found = []
    best = r.random_best_layer
    twin = r.score.get("random", {}).get(best, {}).get("linear")
    if twin is not None and layer in r.trained_minus_random_best:
        found.append(Untrained(f"random twin at its best layer ({best})", twin,
                               r.trained_minus_random_best[layer]))
    tokens = r.score.get("tokens", {}).get(None, {}).get("linear")
    if tokens is not None and layer in r.trained_minus_tokens:
        found.append(Untrained("last tokens one-hot", tokens, r.trained_minus_tokens[layer]))
    return max(found, key=lambda u: u.score.value) if found else None


def strongest_rung(r: VariableResult, layer: int) -> Untrained | None:
    """The best rung of the ladder: the random twin at its best layer or the last tokens one-hot.
    The one-line text rule computes the label: the ceiling, never a rung (review s17).

    >>> e = lambda v: stats.Estimate(v, (v, v), 4, 4)
    >>> r = VariableResult("depth", 8, 4, e(0.5), None, score={"random": {0: {"linear": e(0.9)},
    ...                    2: {"linear": e(0.7)}}, "tokens": {None: {"linear": e(0.8)}}},
    ...                    trained_minus_tokens={2: e(0.2)}, random_best_layer=0,
    ...                    trained_minus_random_best={2: e(0.1)})
    >>> strongest_rung(r, 2).name
    'random twin at its best layer (0)'
    >>> r.rule = stats.constant(1.0, 4, n_items=8)
    >>> strongest_rung(r, 2).name
    'random twin at its best layer (0)'
    """
    return untrained_control(r, layer)


def claims(m: Metrics) -> list[Claim]:
    out = []
    layer, wide = m.claim_layer, m.claim_probe
    for r in m.variables.values():
        features = PLANTED if r.variable == PLANTED else "trained"
        scores = r.score.get(features, {}).get(layer, {})
        gain = r.gain.get(features, {}).get(layer)
        if gain is None or wide not in scores:
            continue
        if r.variable == PLANTED:
            text = (f"Positive control: a 1-hidden-layer MLP ({wide}) reads a planted XOR of two "
                    f"random residual directions (layer {layer}) better than a linear probe, so "
                    f"this comparison can detect a non-linear code at this n.")
        elif r.variable == PLANT_VARIABLE:
            text = (f"A 1-hidden-layer MLP ({wide}) reads the planted feature's label (the "
                    f"model's fixed hook, starter/organism/planted.py) from the residual stream at "
                    f"layer {layer} better than a linear probe: the plant is not (only) linear.")
        else:
            text = (f"A 1-hidden-layer MLP ({wide}) reads `{r.variable}` from the residual "
                    f"stream at layer {layer} better than a linear probe (same folds and "
                    f"training): the variable is not (only) linearly represented.")
        tied = layer in r.gain_tied.get(features, [])
        if not tied or r.variable == PLANTED:  # a tie on every step is no claim (review s17)
            out.append(compare(text, f"held-out per-step accuracy, {wide}", scores[wide],
                               "linear probe, same folds", "held-out per-step accuracy",
                               scores["linear"], gain, key=f"mlp-{r.variable}"))
        control = untrained_control(r, layer)
        if r.variable not in (PLANTED, PLANT_VARIABLE) and control is not None:
            out.append(compare(
                f"After training, `{r.variable}` is linearly decodable at layer {layer} beyond "
                f"any untrained reader: a linear probe there reads it better than the best of "
                f"the random twin at its best layer and the last tokens one-hot. "
                + ceiling_clause(r, layer, tied),
                "held-out per-step accuracy, linear probe", scores["linear"],
                f"{control.name}, linear probe (the best untrained reader)",
                "held-out per-step accuracy", control.score, control.lift,
                key=f"trained-{r.variable}",
                strongest_baseline=_baseline(strongest_rung(r, layer))))
    # the primary first, as the page shows it (review s17, as sae-vs-probes)
    return sorted(declare(out, PRIMARY), key=lambda c: not c.primary)


def ceiling_clause(r: VariableResult, layer: int | None, tied: bool) -> str:
    """What bounds a `trained-` claim: the text rule that computes the label (a ceiling, not a
    baseline), and whether linearity is tested at all (review s17).

    >>> e = lambda v: stats.Estimate(v, (v, v), 4, 4)
    >>> ceiling_clause(VariableResult("value_mod_3", 8, 4, e(0.5), None), 2, False)[:44]
    'A one-line rule on the text so far computes '
    """
    out = []
    if r.variable == "depth":
        out.append("`depth` is a count the text determines: the " + RULE_NAME + " computes it, "
                   "so it is the ceiling, not a baseline.")
    elif r.variable in PREFIX_RULES:
        out.append(f"A one-line rule on the text so far computes it ({PREFIX_RULES[r.variable]}): "
                   "the ceiling, so this is against untrained readers only.")
    out.append("Linearity itself is not tested (the MLP reads the same steps as the linear "
               "probe)." if tied else "Linearity itself is the MLP-versus-linear claim.")
    return " ".join(out)


def _baseline(rung: Untrained) -> Baseline:
    name = rung.name if rung.name == RULE_NAME else f"{rung.name}, linear probe"
    return Baseline(name, rung.score)


def findings(m: Metrics) -> str:
    d = stats.describe
    layer, wide = m.claim_layer, m.claim_probe
    out = [f"{m.n_traces} traces ({m.n_unfinished} unfinished). Every probe is scored on "
           f"problems it never saw (folds by problem); accuracies are per step with 95% intervals "
           f"clustered by problem. Claims use layer {layer} and the {wide} MLP, fixed before the "
           f"run; the figure shows every layer."]
    depth = m.variables.get("depth")
    if depth is not None and depth.rule is not None:
        right = int(round(depth.rule.value * depth.n_steps))
        top = strongest_rung(depth, layer)
        at_ceiling = layer in depth.trained_equals_rule
        tied = layer in depth.gain_tied.get("trained", [])
        lead = (f"Read first (review s17): the one-line {RULE_NAME} reads `depth` on {right} of "
                f"{depth.n_steps} steps ({stats.describe(depth.rule)}): it computes the label, so "
                "it is the ceiling, not a baseline" + (
                    f"; the trained linear probe at layer {layer} reads the same steps (at the "
                    "ceiling)" if at_ceiling else "") + ".")
        if top is not None:
            lead += (f" The primary compares that probe with the best untrained reader, the "
                     f"{_baseline(top).name}: {d(top.score)}; trained minus it "
                     f"{_diff(top.lift)}: {'beyond' if top.lift.excludes_zero else 'not beyond'}"
                     " any untrained layer.")
        if tied:
            lead += (f" Linearity is not tested: the {wide} MLP and the linear probe read the "
                     "same steps (no MLP claim for `depth`).")
        lead += (" The primary was chosen on 2026-12-07 knowing seed 0's rows (2026-11-27); the "
                 f"cpu preset now runs seed {CONFIRM_SEED}, its confirmatory run, declared "
                 "before it ran.\n\n")
        out.insert(0, lead)
    for r in m.variables.values():
        if r.variable == PLANTED:
            s = r.score[PLANTED][layer]
            gain = _diff(r.gain[PLANTED][layer])
            out.append(f"\n\n**Positive control** (planted XOR, layer {layer}): linear "
                       f"{d(s['linear'])}, {wide} {d(s[wide])}; gain {gain}.")
            continue
        s = r.score.get("trained", {}).get(layer, {})
        rs = r.score.get("random", {}).get(layer, {})
        tokens = r.score.get("tokens", {}).get(None, {})
        widths = ", ".join(f"{p} {d(e)}" for p, e in s.items() if p.startswith("mlp-"))
        text = (f"\n\n**`{r.variable}`** ({r.n_steps} steps, {r.n_problems} problems), layer "
                f"{layer}: linear {d(s['linear'])}; MLPs {widths}; MLP gain "
                f"{_gain(r, 'trained', layer)}. Random twin: linear {d(rs['linear'])}, "
                f"{wide} {d(rs[wide])}, gain {_diff(r.gain['random'][layer])}; trained minus "
                f"twin (linear) {_diff(r.trained_minus_random[layer])}, trained minus tokens "
                f"(linear) {_diff(r.trained_minus_tokens.get(layer))}.")
        if r.gain_trained_minus_random is not None:
            text += f" Gain on the trained model minus gain on the twin: " \
                    f"{_diff(r.gain_trained_minus_random)}."
        text += (f" Tokens (last tokens one-hot): linear {d(tokens['linear'])}, {wide} "
                 f"{d(tokens[wide])}.")
        best = r.random_best_layer
        if best is not None and layer in r.trained_minus_random_best:
            text += (f" Twin at its best layer ({best}): linear "
                     f"{d(r.score['random'][best]['linear'])}; trained minus it "
                     f"{_diff(r.trained_minus_random_best[layer])}.")
        if r.rule is not None:
            text += (f" One-line {RULE_NAME}: {d(r.rule)} (the ceiling); trained linear probe "
                     "minus it " + ("0 on every step (both at the ceiling)"
                                    if layer in r.trained_equals_rule
                                    else _diff(r.trained_minus_rule.get(layer))) + ".")
        if r.variable in PREFIX_RULES:
            text += (f" One-line prefix rule (review s17; it computes the label, a ceiling): "
                     f"{PREFIX_RULES[r.variable]}.")
        top = strongest_rung(r, layer)
        if top is not None:
            text += (f" Strongest baseline (best untrained reader): {_baseline(top).name}, "
                     f"{d(top.score)}.")
        text += f" Majority class {d(r.majority)}"
        if r.chance is not None:
            text += f"; shuffled labels {d(r.chance)}"
        others = [f"layer {L}: {_gain(r, 'trained', L)}" for L in sorted(r.gain["trained"])
                  if L != layer]
        if others:
            text += ". MLP gain at the other layers (exploratory): " + "; ".join(others)
        out.append(text + ".")
    for name, why in m.skipped.items():
        out.append(f"\n\n`{name}`: not probed ({why}).")
    if PLANT_VARIABLE in m.variables:
        out.append(f"\n\n`{PLANT_VARIABLE}` is the label of the model's planted feature (a fixed "
                   "hook adds it to the residual stream; starter/organism/planted.py), read by "
                   "the plant's own rule: what `mi-starter validate linear-representation` checks "
                   "the probes against.")
    out.append("\n\nOn the organism these are hypotheses about R1-distill, whose search state has "
               "no ground truth; the gpu preset asks the same of R1-Distill-Qwen-1.5B with the "
               "labels its text gives (step tag, next-step backtrack, final correctness). `depth` "
               "and the other organism variables have no R1 counterpart, so the primary does not "
               "transfer as measured; on R1 the step tag is the tagger's regex on the step (a "
               "one-line rule computes it: a ceiling), so only `backtrack_next` and `correct` ask "
               "the linearity question without a text rule. An MLP "
               "gain that also appears on the random twin is about the tokens, not about what "
               "training built; the twin is one seed (`twin_seed`), and its intervals treat it "
               "as fixed.")
    return "".join(out)


def _gain(r: VariableResult, features: str, layer: int | None) -> str:
    """The MLP's gain, or that it is 0 on every step (the two probes hit the same steps)."""
    if layer in r.gain_tied.get(features, []):
        return "0 on every step (MLP and linear read the same steps: untestable here)"
    return _diff(r.gain[features][layer])


def _diff(e: stats.Estimate | None) -> str:
    if e is None or e.ci is None:
        return "no interval"
    return f"{e.value:+.3f} (95% CI {e.ci[0]:+.3f} to {e.ci[1]:+.3f})"


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run linear-representation --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The model path samples traces; the organism path reads its ground-truth traces (nothing
    generated). Probes then train on cached activations, not counted here."""
    if cfg.model in ("tinythinker", "organism"):
        return []
    return [Generation("traces", sequences=cfg.n_problems * cfg.samples,
                       max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)]


# %% [markdown]
# ## Does the method work? The linear-vs-MLP comparison on planted features
#
# `mi-starter validate linear-representation` runs this starter on planted-feature models
# (starter/organism/planted.py): TinyThinker plus a fixed hook that writes, after layer 2, a hash
# bit of the prompt as +-u (`tinythinker-plant-linear`), or the XOR of two such bits as +-u +-v
# with u orthogonal to v (`tinythinker-plant-xor`: no direction carries it; the class means
# coincide). The label of each step is the plant's own rule, never a probe's. The method must
# find the gain of the MLP over the linear probe at 0 on the linear plant and above 0 on the xor
# one; a method that always says "linear" (gain 0) fails the xor arm, one that always says
# "non-linear" fails the linear arm (its interval must cover 0), and a probe that reads nothing
# fails the second check (the linear plant must be read linearly, beyond the control).
#
# Three strengths (tiers) of each plant, the same two checks at each, so the validation says how
# faint a plant the comparison still gets right, not only that it finds an easy one:
# - strong: scale 0.25 for both (every probe reads them at 1: the machinery at its extreme);
# - mid: linear 0.01, xor 0.07, where a probe reads the plant clearly below saturation;
# - faint: linear 0.005, xor 0.06, near a probe's detection limit.
# The weak scales were chosen before this validation ran, by a pilot on problems it does not use
# (scripts/pilot_plant_scales.py, make_traces seed 1; the rule and the pilot's numbers are in
# starter/organism/planted.py FEATURES): per kind, the grid scale whose pilot accuracy was nearest
# 0.80 (mid) and 0.60 (faint), with the probe that can read the kind (linear for linear: 0.82 and
# 0.62; the 32-wide MLP for xor: 0.69 and 0.58). Declared before the run: the same planted values
# as the strong tier (gain 0 on linear, > 0 on xor; linear probe at chance on xor, above the null
# on linear). A tier whose check fails is reported as failed: it marks where the method stops
# telling the codes apart at this n, not a reason to move the plant.
#
# The control is `tinythinker-plant-xor-null`: the base read with the xor plant's label rule and
# nothing written (a hash of the prompt the base cannot compute: chance for every probe). It
# serves every tier (a plant's scale changes what is written, not the label rule or the base).
# The automatic control, `tinythinker-retrained`, carries no plant label, so there would be
# nothing to measure on it; its fine-tuning is also beside the point here (the plants change no
# weight).
#
# Sizes: a pilot on the cpu preset's 80 test problems (760 steps, 5 folds by problem, 120 steps
# per probe, layer 2) read the linear plant at scale 0.25 at 1.000 with both the linear and the
# 32-wide MLP probe (gain exactly 0), and the xor plant at 0.500 (linear) and 1.000 (MLP): a gain
# of +0.50 against intervals of about +-0.1 at 80 problems, so each strong check has power near
# 1. The weak tiers run at the same n; each row states the difference it detects with 80% power.
#
# Result (cpu, 80 problems an arm, docs/results/linear-representation/validation/): the
# linear-probe check is recovered at every tier (the linear plant read at 1.00, 0.80 and 0.63,
# each beyond the null; the xor plant at chance). The gain check finds the xor plant's gain at
# every tier (+0.49, +0.32, +0.14, each beyond the null) but is not recovered on the linear plant
# below saturation: the 32-wide MLP reads the mid linear plant 0.23 [0.18, 0.28] worse than the
# linear probe, the faint one 0.07 [0.03, 0.11] worse, where the planted gain is 0. So at this
# probe budget the MLP-minus-linear gain is biased down on a faint feature: a negative gain need
# not mean a linear code, and a true non-linear gain of that size could be hidden. (The pilot had
# shown the same gap, MLP 0.60 against linear 0.82 at scale 0.01; the check stayed as declared.)


# %%
def measure_plant_gain(m: Metrics) -> Measured:
    """The claim-width MLP minus the linear probe on `planted` at the claim layer (paired by
    problem); NaN where the run has no plant label."""
    r = m.variables.get(PLANT_VARIABLE)
    gain = r.gain.get("trained", {}).get(m.claim_layer) if r is not None else None
    return measured_from(gain) if gain is not None else Measured(float("nan"), None, 0)


def measure_plant_linear(m: Metrics) -> Measured:
    """The linear probe's held-out per-step accuracy on `planted` at the claim layer."""
    r = m.variables.get(PLANT_VARIABLE)
    score = (r.score.get("trained", {}).get(m.claim_layer, {}).get("linear")
             if r is not None else None)
    return measured_from(score) if score is not None else Measured(float("nan"), None, 0)


NULL_PLANT = "tinythinker-plant-xor-null"  # the base with the xor label rule, nothing written
# The committed validation ran at seed 0, before the cpu preset moved to CONFIRM_SEED: pinned so
# that `mi-starter validate` reproduces its rows
VALIDATION_SETTINGS = {"cpu": ("seed=0",)}
# The tiers: (name suffix, what the quantity says about the scales); strong first
PLANT_TIERS = (("", "strong: scale 0.25"), ("-mid", "mid: linear 0.01, xor 0.07"),
               ("-faint", "faint: linear 0.005, xor 0.06"))


def plant_checks(suffix: str, tier: str) -> tuple[Validation, Validation]:
    """The two checks on one tier of plants (`suffix`: the registry names' tier)."""
    linear = Arm(f"tinythinker-plant-linear{suffix}", 0.0, label=f"plant-linear{suffix}")
    xor = Arm(f"tinythinker-plant-xor{suffix}", None, label=f"plant-xor{suffix}")
    gain = Validation(
        quantity=("MLP minus linear probe, held-out per-step accuracy on the planted label, "
                  f"layer 2 ({tier})"),
        arms=(linear, xor),  # linear: no gain; non-linear: a gain
        measure=measure_plant_gain,
        meaning=("A method that finds no MLP gain on a linearly planted feature and a clear gain "
                 "on an XOR-planted one tells linear from non-linear codes; on R1-distill its "
                 "verdict on a variable is then worth reading."),
        retrained_planted=0.0,  # on the null both probes sit at chance: no gain
        control=NULL_PLANT, settings=VALIDATION_SETTINGS)
    read = Validation(
        quantity=f"linear probe, held-out per-step accuracy on the planted label, layer 2 ({tier})",
        arms=(dataclasses.replace(xor, planted=0.5),  # no direction: chance
              dataclasses.replace(linear, planted=None)),  # read linearly
        measure=measure_plant_linear,
        meaning=("The linear probe reads a linearly planted feature and not an XOR-planted one "
                 "(chance, as on the null), so the gain above compares probes that both work."),
        retrained_planted=0.5,  # the null: a hash the base cannot compute reads at chance
        control=NULL_PLANT, settings=VALIDATION_SETTINGS)
    return gain, read


VALIDATION = tuple(check for suffix, tier in PLANT_TIERS for check in plant_checks(suffix, tier))


# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("backtracking", "verification"),
    try_next=(
        "Probe the intermediate value itself for a circular code (Engels et al.): project the "
        "residual on the top 2 principal components of the class means of value mod k.",
        "Control tasks (Hewitt & Liang): give each token type a random label and report "
        "selectivity (real-task minus control-task accuracy) for the linear and MLP probes.",
        "Check causally: steer along the linear probe's direction for on_solution_path and see "
        "whether the organism backtracks sooner (see the steering starter).",
        "Raise n: the MLP gains at the other layers are exploratory; pre-register one and rerun.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
