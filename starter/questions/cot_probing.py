# %% [markdown]
# # What can we probe for in the chain of thought?
#
# Zhang et al. 2025 ("Reasoning Models Know When They're Right", arXiv 2504.05419) read hidden
# states at the end of each reasoning chunk and trained linear probes that predict whether the
# answer reached so far is correct. This starter asks the same of every step of a chain of thought,
# for four labels:
#
# - **correct**: will this trace's final answer be right? (finished traces only)
# - **backtrack_next**: is the next step a backtrack ("Wait, ...")? Any step that is not a check is
#   an easy "no", so **backtrack_after_check** asks the hard part: among check steps ("Miss."),
#   which come before one?
# - **distance** (organism only): edges in the ground-truth search tree between this step's node and
#   the solution. Every trace is labelled on the steps it shares with the organism's own search (its
#   longest common prefix with the true trace); steps after it first leaves the search have no node.
# - **dead_end** (organism only, "Left: a, b." steps): is this state a dead end (no final try the
#   search makes from it reaches the target)? No single token of "Left: 152, 4." shows it; read at
#   the step's last token, before the model writes its next step. The planned-backtracking variant
#   must compute it there (it writes "Wait, backtrack." next iff the state is dead); the base need
#   not.
#
# Method: one linear probe on the residual stream at each step's last token, split **by problem**
# (no problem is in both train and test); the layer is chosen inside each training fold, never on
# the test problems. **Controls: text baselines** that see what the text shows: the step's words; a
# context model (the two previous steps' words, the step's position and tags, the last operation,
# whether its division is exact, counts so far); and, for the backtrack labels, the search's own
# rule (after a miss, backtrack iff the missed operation was the last one left: `*`, `/`, or `-`
# when the division is not exact); for `dead_end`, the arithmetic rule that computes the label from
# the state's numbers and the target (it is given the answer: reported beside the others, never
# the strongest baseline the probe must beat). The probe "reads something the text does not show"
# only where its per-step score beats the strongest baseline with a paired cluster-bootstrap
# interval (clusters = problems). Shuffled labels give chance. A **fitted text baseline**
# (`starter.baselines`: gradient boosting on step index, position, depth, tag, last token, the
# context features and the step's words, split by problem) is one more rung, and for `dead_end` a
# one-line position rule ("the trace's first `Left:` state is a dead end") is another: the
# strongest rung is named in every claim.
#
# **Primary claim, declared before the run** (`PRIMARY` below): the probe predicts `dead_end`
# better than the strongest text baseline (the one label the text shows in no single token, and
# the planted truth of the validation). The other labels' claims are secondary, Holm-adjusted.
#
# Run: `mi-starter run cot-probing --preset smoke`. Outputs: results.jsonl (kinds "trace" and
# "predictions"), figure.png, summary.md, findings.json.

# %%
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from starter import activations, baselines, cot, grading, stats
from starter.errors import UsageError
from starter.experiment import Context, Starter, StarterConfig, run_starter
from starter.findings import Baseline, Claim, compare, declare
from starter.plan import Generation
from starter.plotting import estimate_bars
from starter.rollouts import sample
from starter.tasks import get_task_set
from starter.tasks.countdown import search
from starter.validation import Arm, Measured, Validation, measured_from

# %% [markdown]
# ## Setup


# %%
@dataclass
class Config(StarterConfig):
    n_problems: int = 40  # Countdown problems (held-out split: the organism never trained on them)
    samples: int = 4  # sampled traces per problem: right and wrong answers from the same problem
    temperature: float = 1.0  # sampling temperature (higher: more wrong answers to learn from)
    max_new_tokens: int = 160  # organism traces are <= 143 tokens; longer: cut off (unfinished)
    layer_stride: int = 1  # probe every k-th layer (1: all of them)
    max_steps: int = 64  # at most this many steps per trace go into the probes (R1 traces are long)
    folds: int = 5  # outer cross-validation folds, grouped by problem
    inner_folds: int = 3  # folds inside each training set that choose the probe's layer
    batch_size: int = 32  # sequences per generate call / per forward pass when caching activations

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_problems < self.folds or self.samples < 1 or self.layer_stride < 1:
            raise UsageError(f"need n_problems >= folds, samples >= 1, layer_stride >= 1; "
                             f"got {self}")
        if self.folds < 2 or self.inner_folds < 2:
            raise UsageError(f"folds and inner_folds must be >= 2; got {self.folds}, "
                             f"{self.inner_folds}")


PRESETS = {
    "smoke": Config(n_problems=16, samples=3, folds=4, inner_folds=2, batch_size=48),
    # 2 generate calls: on 2 busy cores a call costs about the same at batch 32 or 96
    "cpu": Config(n_problems=48, samples=4, inner_folds=2, batch_size=96),
    # R1-distill Countdown chains run 500-2000 tokens: 2048 keeps most finished (the rest counted).
    "gpu": Config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", n_problems=100, samples=4,
                  temperature=0.6, max_new_tokens=2048, layer_stride=3, batch_size=8),
}
# the gpu preset's code path on a random-weight R1-shaped model, in seconds on a CPU
# (tests/test_gpu_paths.py runs every starter's `tiny` preset)
PRESETS["tiny"] = dataclasses.replace(PRESETS["gpu"], model="r1-shaped-tiny", device="cpu",
                                      n_problems=4, samples=2, max_new_tokens=24, folds=2,
                                      inner_folds=2)
LABELS = {"correct": "classify", "backtrack_next": "classify", "backtrack_after_check": "classify",
          "distance": "regress", "dead_end": "classify"}
# The one claim this starter tests (the `key` of its `compare`); every other claim is secondary.
PRIMARY = "probe-dead_end"
# text-only predictors; "fitted": gradient boosting (starter.baselines); "rule": RULES labels only;
# "first_left": dead_end only, the one-line rule "the trace's first `Left:` state is a dead end"
BASELINES = ("words", "context", "fitted", "rule", "first_left")
# The rule baseline of a label: "search", the organism's search rule (the whole of what the base's
# text determines; a competitor like any other baseline), or "answer", the label's own definition
# computed from the numbers in the text (shown separately, never the strongest baseline).
RULES = {"backtrack_next": "search", "backtrack_after_check": "search", "dead_end": "answer"}

# %% [markdown]
# ## Sample traces and label every step


# %%
def true_distances(numbers: list[int], target: int, steps: list[cot.Step]) -> list[int | None]:
    """Tree distance to the solution of the steps a trace shares with the true search, else None."""
    from starter.organism.data import make_trace

    truth = [s for s in make_trace(search(tuple(numbers), target)).steps if s.tag != "conclude"]
    out: list[int | None] = [None] * len(steps)
    for i, (mine, true) in enumerate(zip(steps, truth)):
        if mine.text != true.text:
            break  # it left the search here (e.g. a false "Hit."): later steps have no true node
        out[i] = true.tree_distance
    return out


def sample_traces(ctx: Context, problems) -> None:
    """One row per (problem, sample): completion, finished, grade and its tagged steps."""
    task, lm, cfg = get_task_set("countdown"), ctx.model, ctx.cfg
    units = {p.id: [f"trace:{p.id}:{k}" for k in range(cfg.samples)] for p in problems}
    todo = [p for p in problems if ctx.store.pending(units[p.id])]
    if not todo:
        return  # a resumed run: every trace is on disk
    prompts = [lm.prompt(question=p.question, raw_prompt=p.raw_prompt) for p in todo]
    organism = lm.spec.prompt_format == "organism"
    samples = sample(lm, prompts, cfg.samples, cfg.sampling())
    for problem, prompt, completions in zip(todo, prompts, samples):
        for k, completion in enumerate(c.text for c in completions):
            if ctx.store.done(f"trace:{problem.id}:{k}"):
                continue  # a resumed run: this sample is on disk
            steps = cot.split_steps(cot.split_completion(completion)[0])[: cfg.max_steps]
            numbers, target = problem.meta["numbers"], problem.meta["target"]
            texts = [s.text for s in steps]
            ctx.store.append({
                "unit": f"trace:{problem.id}:{k}", "kind": "trace", "problem": problem.id,
                "numbers": list(numbers), "target": target, "prompt": prompt,
                "completion": completion, "finished": grading.finished(completion),
                "correct": task.grade(problem, completion),
                "tags": [s.tag for s in steps], "step_text": [s.text for s in steps],
                "distance": (true_distances(numbers, target, steps) if organism
                             else [None] * len(steps)),
                "dead_end": ([dead_end(texts, i, target) for i in range(len(steps))] if organism
                             else [None] * len(steps)),
            })


# %% [markdown]
# ## Text baselines: what the words, the context and the search's rule already give away


# %%
_TRY = re.compile(r"Try (\d+)([-+*/])(\d+)=(-?\d+)")
_OPS = "+-*/"


def rule_backtrack_next(texts: list[str], i: int) -> bool:
    """The organism's search rule: after a miss, backtrack iff the missed operation was the last."""
    if texts[i].strip() != "Miss." or i == 0 or not (m := _TRY.search(texts[i - 1])):
        return False
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    return op in "*/" or (op == "-" and (b == 0 or a % b != 0))  # after "-" comes "/" only if exact


_LEFT = re.compile(r"Left: (\d+), (\d+)\.")


def dead_end(texts: list[str], i: int, target: int) -> bool | None:
    """At a "Left: a, b." step: True when no final try the search makes from (a, b) reaches the
    target (the planned variant backtracks at once there); None at any other step.

    >>> dead_end(["Try 8*19=152.", "Left: 152, 4."], 1, 31), dead_end(["Left: 27, 4."], 0, 31)
    (True, False)
    >>> dead_end(["Try 8*19=152."], 0, 31) is None
    True
    """
    from starter.tasks.countdown import final_tries

    m = _LEFT.fullmatch(texts[i].strip())
    if m is None:
        return None
    value, rest = int(m.group(1)), int(m.group(2))
    return not any(v == target for _, v in final_tries(value, rest, target))


def step_kind(text: str) -> str:
    """"left" (a "Left: a, b." state), "miss" (a "Miss." check) or "other".

    >>> [step_kind(t) for t in ("Left: 27, 4.", "Miss.", "Try 27+4=31.")]
    ['left', 'miss', 'other']
    """
    if _LEFT.fullmatch(text.strip()):
        return "left"
    return "miss" if text.strip() == "Miss." else "other"


def first_left(texts: list[str], i: int) -> bool:
    """Step i is the trace's first "Left: a, b." state (the one-line `dead_end` rule's guess).

    >>> [first_left(["Try 8*19=152.", "Left: 152, 4.", "Miss.", "Left: 27, 4."], i)
    ...  for i in range(4)]
    [False, True, False, False]
    """
    return step_kind(texts[i]) == "left" and not any(step_kind(t) == "left" for t in texts[:i])


def context_features(texts: list[str], tags: list[str], i: int) -> list[float]:
    """Text-visible facts at step i: position, tags, last operation, exactness, counts, the rule."""
    m = next((m for t in reversed(texts[: i + 1]) if (m := _TRY.search(t))), None)
    op = m.group(2) if m else ""
    exact = bool(m) and int(m.group(3)) != 0 and int(m.group(1)) % int(m.group(3)) == 0
    tries = [m for t in texts[: i + 1] if (m := _TRY.search(t))]
    wrong = sum(_arith(x) != int(x.group(4)) for x in tries)
    previous = tags[i - 1] if i else ""
    rule = float(rule_backtrack_next(texts, i))
    return ([float(i), float(len(tries)), float(wrong), rule, float(exact)]
            + [float(tags[: i + 1].count(tag)) for tag in cot.STEP_TAGS]
            + [float(tags[i] == tag) for tag in cot.STEP_TAGS]
            + [float(previous == tag) for tag in cot.STEP_TAGS] + [float(op == o) for o in _OPS])


def step_features(texts: list[str], tags: list[str], i: int) -> baselines.Features:
    """What the fitted text baseline sees at step i: index, character position, search depth
    ("Left:" states entered minus backtracks so far), tag, last token, words, context features.
    Position by hand: "Try 2+3=5." and "Left: 5, 4." with a space each, 11 + 12 = 23 characters.

    >>> f = step_features(["Try 2+3=5.", "Left: 5, 4.", "Miss."], ["compute"] * 2 + ["verify"], 2)
    >>> f.step_index, f.position, f.depth, f.tag, f.token
    (2, 23, 1, 'verify', 'Miss.')
    """
    lefts = sum(step_kind(t) == "left" for t in texts[: i + 1])
    backs = tags[: i + 1].count("backtrack")
    words = texts[i].split()
    return baselines.Features(step_index=i, position=sum(len(t) + 1 for t in texts[:i]),
                              depth=max(0, lefts - backs), tag=tags[i],
                              token=words[-1] if words else "", text=texts[i],
                              extra=tuple(context_features(texts, tags, i)))


def _arith(m: re.Match) -> float:
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}[op]


# %% [markdown]
# ## Probes: cache the residual stream at every step's end, fit per layer and nested


# %%
@dataclass
class Steps:
    """Every probed step, in trace order: its problem, text, context and labels."""

    problem: list[str] = field(default_factory=list)  # cluster (problem id) of each step
    text: list[str] = field(default_factory=list)  # the step's own words
    before: list[str] = field(default_factory=list)  # the two previous steps' words
    context: list[list[float]] = field(default_factory=list)  # context_features
    rule: list[float] = field(default_factory=list)  # rule_backtrack_next (0/1)
    kind: list[str] = field(default_factory=list)  # step_kind: "left" | "miss" | "other"
    first_left: list[float] = field(default_factory=list)  # 1: the trace's first "Left:" step
    features: list[baselines.Features] = field(default_factory=list)  # for the fitted baseline
    labels: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LABELS})


def collect_steps(traces: list[dict], n_positions: list[int]) -> Steps:
    """Labels per step (nan where undefined) for the first `n_positions[j]` steps of trace j."""
    out = Steps()
    for t, n in zip(traces, n_positions):
        texts, tags = t["step_text"], t["tags"]
        for i in range(n):
            nxt = tags[i + 1] if i + 1 < len(tags) else None
            back = np.nan if nxt is None else float(nxt == "backtrack")
            out.problem.append(t["problem"])
            out.text.append(texts[i])
            out.before.append(" ".join(texts[max(0, i - 2): i]))
            out.context.append(context_features(texts, tags, i))
            out.rule.append(float(rule_backtrack_next(texts, i)))
            out.kind.append(step_kind(texts[i]))
            out.first_left.append(float(first_left(texts, i)))
            out.features.append(step_features(texts, tags, i))
            out.labels["correct"].append(float(t["correct"]) if t["finished"] else np.nan)
            out.labels["backtrack_next"].append(back)
            out.labels["backtrack_after_check"].append(back if tags[i] == "verify" else np.nan)
            distance = t["distance"][i]
            out.labels["distance"].append(np.nan if distance is None else float(distance))
            dead = t.get("dead_end", [None] * len(texts))[i]  # absent: a run from before the label
            out.labels["dead_end"].append(np.nan if dead is None else float(dead))
    return out


def baseline_predictions(steps: Steps, keep: np.ndarray, y, groups, label: str, cfg) -> dict:
    """Out-of-fold predictions of each text baseline on the kept steps (same folds as the probe)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import CountVectorizer

    bow = CountVectorizer(token_pattern=r"\w+|[^\w\s]", ngram_range=(1, 2))
    words = bow.fit_transform(steps.text).tocsr()[keep]
    before = CountVectorizer(token_pattern=r"\w+|[^\w\s]").fit_transform(steps.before).tocsr()[keep]
    context = hstack([csr_matrix(np.array(steps.context)[keep]), before, words]).tocsr()
    kind = LABELS[label]
    out = {name: activations.oof_predict(x, y, groups, kind, cfg.folds, cfg.seed)
           for name, x in (("words", words), ("context", context))}
    features = [f for f, k in zip(steps.features, keep) if k]
    out["fitted"] = baselines.fitted_predictions(features, y, groups, kind, cfg.folds, cfg.seed)
    if RULES.get(label) == "search":
        out["rule"] = np.array(steps.rule)[keep]  # a fixed rule: nothing to fit
    if RULES.get(label) == "answer":
        out["rule"] = y.copy()  # the label's definition, computed from the text's numbers
    if label == "dead_end":  # a one-line position rule: nothing to fit
        out["first_left"] = np.array(steps.first_left)[keep]
    return out


def fit_probes(ctx: Context, traces: list[dict]) -> None:
    lm, cfg = ctx.model, ctx.cfg
    texts, positions = [], []
    for t in traces:
        _, ends = activations.step_end_positions(lm, t["prompt"], t["completion"])
        texts.append(t["prompt"] + t["completion"])
        positions.append(ends[: len(t["tags"])])
    steps = collect_steps(traces, [len(p) for p in positions])
    layers = list(range(0, lm.n_layers, cfg.layer_stride))
    acts = {L: a.numpy() for L, a in activations.cache_resid(lm, texts, positions, layers,
                                                             batch_size=cfg.batch_size).items()}
    rng = np.random.default_rng(cfg.seed)
    for label, kind in LABELS.items():
        if ctx.store.done(f"predictions:{label}"):
            continue  # a resumed run: this label's probes are all on disk
        y_all = np.array(steps.labels[label])
        keep = ~np.isnan(y_all)
        y, groups = y_all[keep], np.array(steps.problem)[keep]
        row = {"unit": f"predictions:{label}", "kind": "predictions", "label": label, "task": kind,
               "problems": groups.tolist(), "y": y.tolist(), "predicted": {}, "probe_layers": [],
               "curve": [], "chance": None, "skipped": None,
               "step_kinds": np.array(steps.kind)[keep].tolist()}
        try:
            if not keep.any():
                raise UsageError(f"no step carries `{label}` in these traces (for `dead_end`: "
                                 "no 'Left: a, b.' steps, an organism format)")
            kept = {L: a[keep] for L, a in acts.items()}
            choice = activations.nested_layer_predict(kept, y, groups, kind, cfg.folds,
                                                      cfg.inner_folds, cfg.seed)
            baselines = baseline_predictions(steps, keep, y, groups, label, cfg)
            row["predicted"] = {"probe": [round(p, 5) for p in choice.predicted],
                                **{k: [round(float(v), 5) for v in p]
                                   for k, p in baselines.items()}}
            row["probe_layers"] = choice.layers
            row["curve"] = [{"layer": L, "score": s} for L, s in choice.inner_scores.items()]
            last = max(kept)  # chance: the same probe on shuffled labels, at the last layer
            row["chance"] = activations.probe_score(kept[last], rng.permutation(y), groups, kind,
                                                    cfg.folds, cfg.seed)
        except UsageError as why:  # too few examples of a class (e.g. no wrong answers): say so
            row["skipped"] = str(why)
        ctx.store.append(row)


def run(ctx: Context) -> None:
    problems = get_task_set("countdown").make(ctx.cfg.n_problems, seed=ctx.cfg.seed)
    sample_traces(ctx, problems)
    traces = [r for r in ctx.store.rows() if r.get("kind") == "trace"]
    if ctx.store.pending(f"predictions:{label}" for label in LABELS):
        fit_probes(ctx, traces)


# %% [markdown]
# ## Analyse: per-step accuracy of the probe and of each baseline, paired by problem


# %%
@dataclass
class KindResult:
    """One label's per-step accuracy on one kind of step ("left" or "miss")."""

    n_steps: int  # steps of this kind that carry the label
    positives: stats.Estimate  # share of them labelled 1 (e.g. followed by a backtrack)
    score: dict[str, stats.Estimate]  # per predictor (probe, text baselines, constant)
    strongest: str  # the best baseline here (never an "answer" rule)
    probe_minus_strongest: stats.Estimate  # paired difference, clusters = problems


@dataclass(repr=False)
class LabelResult:
    """One label: probe and baselines scored step by step on the same steps, clusters = problems."""

    label: str  # e.g. "backtrack_after_check"
    task: str  # "classify" (score: accuracy, higher is better) or "regress" (|error|, lower better)
    n_steps: int  # steps with this label
    naive: stats.Estimate  # always the commoner class (classify) / always the mean (regress)
    score: dict[str, stats.Estimate]  # per predictor ("probe", "words", ..., "constant")
    pooled: dict[str, float]  # per predictor: AUROC (classify) or R^2 (regress) over all steps
    strongest: str  # the baseline with the best score (a text baseline or the constant guess)
    probe_minus_strongest: stats.Estimate  # paired difference, cluster bootstrap by problem
    probe_layers: list[int]  # the layer chosen in each outer fold
    curve: dict[int, float]  # layer -> inner-CV AUROC (R^2 for distance), over outer folds
    chance: float  # the same probe on shuffled labels (last layer): what chance scores
    by_kind: dict[str, KindResult] = field(default_factory=dict)  # "left"/"miss" steps (classify)

    @property
    def direction(self) -> int:  # +1: higher score is better (accuracy); -1: lower is (error)
        return 1 if self.task == "classify" else -1

    @property
    def metric(self) -> str:
        return "per-step accuracy" if self.task == "classify" else "per-step |error| in tree edges"

    def __repr__(self) -> str:  # one line for the summary's table
        parts = [f"{name} {e.value:.3f}" for name, e in self.score.items()]
        return f"{self.metric} on {self.n_steps} steps: " + ", ".join(parts)


def step_scores(y, predicted, task: str) -> list[float]:
    """Per step: 1.0 where p >= 0.5 matches a 0/1 label ("classify"); |error| ("regress").

    >>> step_scores([1, 0, 1], [0.9, 0.6, 0.5], "classify")
    [1.0, 0.0, 1.0]
    >>> step_scores([2.0, 3.0], [2.5, 1.0], "regress")
    [0.5, 2.0]
    """
    if task == "classify":
        return [float((p >= 0.5) == bool(t)) for t, p in zip(y, predicted)]
    return [abs(p - t) for t, p in zip(y, predicted)]


def _strongest(score: dict[str, stats.Estimate], label: str, sign: int) -> str:
    """The baseline to beat: the best text baseline or constant guess, never an "answer" rule."""
    present = [name for name in (*BASELINES, "constant") if name in score
               and not (name == "rule" and RULES.get(label) == "answer")]
    return max(present, key=lambda name: sign * score[name].value)


def kind_results(row: dict, per_step: dict[str, list[float]]) -> dict[str, KindResult]:
    """Scores restricted to "left" and to "miss" steps (rows that carry their step kinds)."""
    kinds = row.get("step_kinds") or []
    out = {}
    for kind in ("left", "miss"):
        at = [i for i, k in enumerate(kinds) if k == kind]
        if row["task"] != "classify" or not at:
            continue
        groups = [row["problems"][i] for i in at]
        score = {name: stats.mean_ci([v[i] for i in at], groups) for name, v in per_step.items()}
        strongest = _strongest(score, row["label"], 1)
        out[kind] = KindResult(
            n_steps=len(at), positives=stats.mean_ci([row["y"][i] for i in at], groups),
            score=score, strongest=strongest,
            probe_minus_strongest=stats.difference_ci([per_step["probe"][i] for i in at], groups,
                                                      [per_step[strongest][i] for i in at],
                                                      groups))
    return out


def label_result(row: dict) -> LabelResult:
    y, groups, task = row["y"], row["problems"], row["task"]
    # only the labels in RULES have a rule baseline
    predicted = {name: p for name, p in row["predicted"].items()
                 if name != "rule" or row["label"] in RULES}
    constant = float(np.mean(y) >= 0.5) if task == "classify" else float(np.mean(y))
    predicted["constant"] = [constant] * len(y)  # no text at all: the prior (a held-in mean)
    per_step = {name: step_scores(y, p, task) for name, p in predicted.items()}
    score = {name: stats.mean_ci(values, groups) for name, values in per_step.items()}
    strongest = _strongest(score, row["label"], 1 if task == "classify" else -1)
    return LabelResult(
        label=row["label"], task=task, n_steps=len(y),
        naive=score["constant"], score=score,
        pooled={name: activations.score_predictions(y, p, task)
                for name, p in predicted.items() if name != "constant"},
        strongest=strongest,
        probe_minus_strongest=stats.difference_ci(per_step["probe"], groups, per_step[strongest],
                                                  groups),
        probe_layers=row["probe_layers"],
        curve={point["layer"]: point["score"] for point in row["curve"]}, chance=row["chance"],
        by_kind=kind_results(row, per_step))


@dataclass(frozen=True)
class Metrics:
    """What `analyse` measures; the claims, findings, figure and validation read these fields."""

    n_traces: int  # sampled traces
    n_unfinished: int  # of them, never finished
    accuracy: stats.Estimate  # correct answers among the finished traces
    n_steps: int  # tagged steps in all traces
    distance_traces: int  # traces with at least one step whose tree distance is known
    distance_steps: int  # steps whose tree distance is known
    skipped: dict[str, str]  # label -> why its probe was not fitted
    labels: dict[str, LabelResult]  # label -> the probe and baselines predicting it


def analyse(rows: list[dict]) -> Metrics:
    traces = [r for r in rows if r.get("kind") == "trace"]
    done = [r for r in traces if r["finished"]]
    labelled = [r for r in traces if any(d is not None for d in r["distance"])]
    m: dict = {
        "n_traces": len(traces), "n_unfinished": len(traces) - len(done),
        "accuracy": stats.mean_ci([float(r["correct"]) for r in done],
                                  [r["problem"] for r in done]),
        "n_steps": sum(len(r["tags"]) for r in traces),
        "distance_traces": len(labelled),
        "distance_steps": sum(d is not None for r in traces for d in r["distance"]),
        "skipped": {}, "labels": {}}
    for row in (r for r in rows if r.get("kind") == "predictions"):
        if row["skipped"]:
            m["skipped"][row["label"]] = row["skipped"]
            continue
        m["labels"][row["label"]] = label_result(row)
    return Metrics(**m)


# %% [markdown]
# ## Figure: accuracy per predictor (95% intervals), and the probe's score by layer against chance


# %%
def plot(rows: list[dict], m: Metrics):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 7))
    grid = fig.add_gridspec(2, 3)
    panels = {"classify": fig.add_subplot(grid[0, :2]), "regress": fig.add_subplot(grid[0, 2])}
    names = ["probe", *BASELINES]
    width = 0.8 / len(names)
    for task, ax in panels.items():
        results = [r for r in m.labels.values() if r.task == task]
        for j, name in enumerate(names):
            at = [(i, r.score[name]) for i, r in enumerate(results) if name in r.score]
            estimate_bars(ax, [i + (j - (len(names) - 1) / 2) * width for i, _ in at],
                          [e for _, e in at], width, capsize=2, color=f"C{j}",
                          label=name if name == "probe" else f"{name} (text)")
        ax.scatter(range(len(results)), [r.naive.value for r in results], marker="_", s=300, c="k",
                   zorder=3, label="constant guess")
        ticks = [r.label.replace("_", "\n") for r in results]
        ax.set_xticks(range(len(results)), ticks, fontsize=7)
        ax.set_ylabel("per-step accuracy" if task == "classify" else "per-step |error| (edges)")
    panels["classify"].set(ylim=(0, 1.05), title="probe vs text baselines, held-out problems")
    panels["regress"].set_title("tree distance")
    key = fig.add_subplot(grid[1, 2])  # the bars' legend, off the data
    key.set_axis_off()
    key.legend(*panels["classify"].get_legend_handles_labels(), fontsize=7, loc="center")
    curves = fig.add_subplot(grid[1, :2])
    for i, r in enumerate(m.labels.values()):
        points = sorted(r.curve.items())
        if points:
            curves.plot(*zip(*points), "-o", color=f"C{i}", label=f"{r.label}")
            curves.axhline(r.chance, color=f"C{i}", ls=":", lw=1)
    curves.set(xlabel="layer (residual stream after block)", ylabel="AUROC (R² for distance)",
               title="probe score by layer (inner CV); dotted: shuffled labels")
    curves.set_xticks(sorted({layer for r in m.labels.values() for layer in r.curve}))
    if curves.get_legend_handles_labels()[0]:
        curves.legend(fontsize=7, loc="lower left", ncols=2)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Claims: does the probe beat the strongest text baseline?


# %%
def _claim_text(r) -> str:
    """What beating the strongest baseline shows: reading past the text only when the search rule
    (the whole of what the organism's text determines) was among the baselines tried."""
    head = f"A residual-stream probe predicts `{r.label}` at each step better than the "
    if "rule" in r.score and RULES.get(r.label) == "answer":
        return (head + f"strongest baseline that reads no activations and is not given the "
                f"answer ({r.strongest}): the model holds the property at the step's end, "
                f"though the text's numbers determine it (the arithmetic rule computes it).")
    if "rule" in r.score:
        return (head + f"strongest baseline that reads no activations ({r.strongest}): it reads "
                f"something the text does not show.")
    tried = "/".join(name for name in BASELINES + ("constant",)
                     if name in r.score and name != "rule")
    return (head + f"best baseline tried that reads no activations ({tried}; strongest: "
            f"{r.strongest}), not the search rule, which has no `{r.label}` baseline here.")


def claims(m: Metrics) -> list[Claim]:
    return declare([compare(
        _claim_text(r),
        f"{r.metric} of the probe on `{r.label}`", r.score["probe"],
        f"{r.strongest} baseline (no activations, same held-out problems)", r.metric,
        r.score[r.strongest], r.probe_minus_strongest, direction=r.direction,
        key=f"probe-{r.label}", strongest_baseline=Baseline(_rung_name(r.strongest),
                                                            r.score[r.strongest]))
        for r in m.labels.values()], PRIMARY)


def _rung_name(name: str) -> str:
    """The baseline's name as the ladder calls it."""
    return {"fitted": "fitted text baseline (gradient boosting: step index, position, depth, "
                      "tag, token, context, words)",
            "words": "bag of words (logistic regression)",
            "context": "context model (logistic regression on context features and words)",
            "rule": "the organism's search rule", "constant": "constant guess",
            "first_left": "one-line rule: the trace's first `Left:` state is a dead end"
            }.get(name, name)


def findings(m: Metrics) -> str:
    d = stats.describe
    out = [f"{m.n_traces} sampled traces, {m.n_unfinished} unfinished (no `</think>` and "
           f"answer; left out of `correct`); accuracy of the finished ones {d(m.accuracy)}; "
           f"{m.n_steps} steps. Probes and baselines are scored on problems they never saw "
           f"(split by problem); the probe's layer is chosen inside each training fold. `distance` "
           f"labels: the steps each trace shares with the organism's own search "
           f"({m.distance_steps} steps of {m.distance_traces} traces); later steps have no "
           f"true node."]
    for r in m.labels.values():
        base = ", ".join(f"{name} {d(r.score[name], 3)}" for name in BASELINES if name in r.score)
        diff = r.probe_minus_strongest
        better = diff.excludes_zero and diff.value * r.direction > 0
        verdict = "beats" if better else "is worse than" if diff.excludes_zero else \
            "is not distinguishable from"
        if RULES.get(r.label) == "answer":
            base = ", ".join(f"{name} {d(r.score[name], 3)}" for name in BASELINES
                             if name in r.score and name != "rule")
        out.append(f"\n\n`{r.label}`, {r.metric} ({r.n_steps} steps): probe (layers "
                   f"{r.probe_layers}) {d(r.score['probe'], 3)}; text baselines: {base}; a "
                   f"constant guess {d(r.naive, 3)}. The probe {verdict} the strongest baseline "
                   f"({r.strongest}): difference {diff.value:+.3f}, 95% CI {_ci(diff)}. Pooled "
                   f"{_pooled(r.task)}: probe {r.pooled['probe']:.2f}, shuffled labels "
                   f"{r.chance:.2f}.")
        if RULES.get(r.label) == "answer":
            out.append(f" The arithmetic rule (the label's definition from the state's numbers "
                       f"and the target; given the answer, so not a baseline to beat) scores "
                       f"{d(r.score['rule'], 3)}: the text determines `{r.label}` exactly, but no "
                       f"single token shows it; the question is whether the model computes it.")
    out += _where_decodable(m)
    for label, why in m.skipped.items():
        out.append(f"\n\n`{label}`: not probed ({why}).")
    out.append("\n\nOn the organism the search is a fixed rule over the text, so a probe can at "
               "best match the rule; a label with no rule baseline (`distance`) is compared with "
               "the word, context and fitted text baselines only (the fitted one: gradient "
               "boosting on step index, position, depth, tag, token, context and words), so "
               "beating them does not show the probe reads more than the text. The organism "
               "result is a hypothesis about R1-distill, to test there (gpu preset), where the "
               "organism-specific context features read nothing.")
    return "".join(out)


def _where_decodable(m: Metrics) -> list[str]:
    """Where `backtrack_next` is decodable: at "Left:" steps (before any try of the branch; a
    planned backtrack) and at "Miss." steps (a reactive one)."""
    r = m.labels.get("backtrack_next")
    if r is None or not r.by_kind:
        return []
    d = stats.describe
    out = ["\n\nWhere `backtrack_next` is decodable (per-step accuracy on that kind of step):"]
    for kind, name in (("left", "'Left: a, b.' steps"), ("miss", "'Miss.' steps")):
        k = r.by_kind.get(kind)
        if k is None:
            out.append(f" no {name};")
            continue
        diff = k.probe_minus_strongest
        if k.positives.value == 0:
            read = "no backtrack follows one: nothing to decode there"
        else:
            read = (f"probe {d(k.score['probe'], 3)} against {k.strongest} "
                    f"{d(k.score[k.strongest], 3)}, difference {diff.value:+.3f} (95% CI "
                    f"{_ci(diff)})")
        out.append(f" at {k.n_steps} {name}, a backtrack follows {d(k.positives)} of them; {read};")
    out.append(" a probe that beats the text at 'Left:' steps reads a backtrack planned before "
               "any try of the branch (the planned variant); one that is decodable only at "
               "'Miss.' steps reads a reactive backtrack (the base).")
    return out


def _pooled(task: str) -> str:
    return "AUROC" if task == "classify" else "R²"


def _ci(e: stats.Estimate) -> str:
    return "none" if e.ci is None else f"{e.ci[0]:+.3f} to {e.ci[1]:+.3f}"


# %% [markdown]
# ## Budget: what a preset generates (`mi-starter run cot-probing --preset gpu --dry-run`)


# %%
def budget(cfg: Config) -> list[Generation]:
    """The sampling stage of `run`, for planning (the probes then read activations of these
    traces in forward passes, not counted here)."""
    return [Generation("traces", sequences=cfg.n_problems * cfg.samples,
                       max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)]


# %% [markdown]
# ## Does the method work? (planted truth)
#
# The planned-backtracking variant writes "Wait, backtrack." right after a "Left: a, b." state that
# is a dead end, so it must compute dead-endness at that step; the base tries the branch's final
# operations whatever the state and need not. A probe that reads a computed latent, not the text,
# should beat the strongest text baseline (words, context: never the arithmetic rule, which is
# given the answer) on `dead_end` by more in the planned variant than in the base (order only).


# %%
def measure_dead_end(m: Metrics) -> Measured:
    """Probe accuracy minus the strongest text baseline's on `dead_end` ("Left:" steps)."""
    r = m.labels.get("dead_end")
    if r is None:  # skipped: no "Left:" steps in these traces
        return Measured(value=float("nan"), ci=None, n=0)
    return measured_from(r.probe_minus_strongest)


VALIDATION = Validation(
    quantity="probe minus strongest text baseline, per-step accuracy on dead_end at Left steps",
    arms=(Arm("tinythinker", None, label="base"),  # reactive: need not compute it
          Arm("tinythinker-planned", None, learned="backtrack_at_dead_left")),  # must compute it
    measure=measure_dead_end,
    meaning=("A probe that gains more over the text where the model must compute a hidden "
             "property reads that computation, not the tokens; on R1-distill, a probe that beats "
             "its text baselines is then some evidence of a computed latent."),
    # cpu: three times the cpu preset's problems (48 could not order the arms); ~5 min per arm
    settings={"smoke": (), "cpu": ("n_problems=144",)})

# %% [markdown]
# ## What to try next


# %%
STARTER = Starter.from_module(
    __name__,
    presets=PRESETS,
    concepts=("final answer", "backtracking", "uncertainty"),
    try_next=(
        "Early exit (Zhang et al.): stop the trace when the `correct` probe is confident; tokens "
        "saved vs accuracy.",
        "Fit the probe on the text baseline's residuals (or on activations plus context features): "
        "what does the probe add beyond the text?",
        "Probe at every token instead of step ends: when does `backtrack_next` become decodable?",
        "Steer along the `backtrack_next` probe direction (see the steering starter) and check it "
        "is causal.",
    ),
)

if __name__ == "__main__":
    run_starter(STARTER)
