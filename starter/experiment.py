"""The frame every starter runs in: presets, command line, Neuronpedia context, results, figure, summary.

A starter (`starter/questions/<slug>.py`) describes its experiment as a `Starter`: presets (typed configs),
`run` (does the work, appending one row per unit to the results store, skipping units already done),
`analyse` (rows -> metrics, a pure function), `plot` (rows, metrics -> figure) and `findings`
(metrics -> the sentences of the summary). This module does everything around that, once:

    parse arguments -> validate -> open the run directory (resume if it exists) -> look up Neuronpedia latents
    -> load the model -> run -> analyse results.jsonl -> figure.png + summary.md

Because `analyse` only sees the rows of `results.jsonl`, every number in `summary.md` comes from that file.

>>> from starter.experiment import parse_overrides
>>> parse_overrides(["--preset", "smoke", "--seed", "3"]).seed
3
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, Union

from starter.errors import StarterError, UsageError

if TYPE_CHECKING:  # annotations only: the frame imports torch-heavy modules inside functions
    from starter.backends.openai import RemoteModel
    from starter.models import LoadedModel
    from starter.neuronpedia import SearchHit
    from starter.results import RunStore
    from starter.rollouts import SamplingConfig

# A starter's metrics: what its `analyse` returns, a frozen dataclass (or, until a starter is
# converted, a dict); `claims`, `plot` and `findings` receive that same object.
MetricsT = TypeVar("MetricsT")

PRESET_NAMES = ("smoke", "cpu", "gpu")
BACKENDS = ("local", "openai")  # where samples come from: this process, or an OpenAI-compatible server
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # what --device accepts; N: a GPU index
_DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
SEED_LIMIT = 2**63  # seeds are 0 <= seed < 2**63: what numpy and torch generators accept


@dataclass
class StarterConfig:
    """Fields every starter shares; a starter subclasses this with its own fields (one comment each)."""

    model: str = "tinythinker"  # registry name, HF name or local path (see `mi-starter doctor`)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0  # every random choice in the run derives from this; 0 <= seed < 2**63
    offline: bool = False  # Neuronpedia from the cache and shipped fixtures only

    def __post_init__(self) -> None:
        """Checked here, so bad values fail before any model loads.

        >>> StarterConfig(device="cuda:1").device
        'cuda:1'
        >>> StarterConfig(seed=-1)
        Traceback (most recent call last):
        ...
        starter.errors.UsageError: seed -1 is out of range; choose an integer with 0 <= seed < 2**63
        """
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.fullmatch(self.device):
            raise UsageError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UsageError(f"seed {self.seed!r} is not an integer; "
                             "choose one with 0 <= seed < 2**63")
        if not 0 <= self.seed < SEED_LIMIT:
            raise UsageError(f"seed {self.seed} is out of range; "
                             "choose an integer with 0 <= seed < 2**63")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def sampling(self, **overrides: Any) -> SamplingConfig:
        """The `starter.rollouts.SamplingConfig` of this config: its fields named as a sampling
        field (SAMPLING_FIELDS: those the config has), then `overrides`, which win.

        >>> @dataclass
        ... class Config(StarterConfig):
        ...     temperature: float = 0.7  # sampling temperature
        ...     max_new_tokens: int = 64  # per completion
        >>> cfg = Config(seed=3)
        >>> s = cfg.sampling()
        >>> s.temperature, s.max_new_tokens, s.seed, s.top_p  # top_p: SamplingConfig's default
        (0.7, 64, 3, 0.95)
        >>> cfg.sampling(temperature=0.0, max_new_tokens=8).temperature
        0.0
        """
        from starter.rollouts import SamplingConfig

        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name in SAMPLING_FIELDS}
        return SamplingConfig(**{**mine, **overrides})


# The config fields `StarterConfig.sampling` hands to SamplingConfig when a starter's Config has them.
SAMPLING_FIELDS = ("temperature", "top_p", "max_new_tokens", "batch_size", "seed")


@dataclass(frozen=True)
class Shard:
    """Which part of a run's problems this process does: `--shard i/n` (0-based); "0/1" is all.

    >>> Shard.parse("1/3").take(["p0", "p1", "p2", "p3", "p4"])
    ['p1', 'p4']
    >>> Shard.parse("3/3")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --shard 3/3: write i/n with 0 <= i < n, e.g. --shard 0/4
    """

    index: int = 0  # this shard, 0 .. count - 1
    count: int = 1  # how many shards the problems are split into

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, sep, count = str(text).partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = None
        if not sep or shard is None or not 0 <= shard.index < shard.count:
            raise UsageError(f"--shard {text}: write i/n with 0 <= i < n, e.g. --shard 0/4")
        return shard

    def take(self, problems: list) -> list:
        """This shard's problems: every count-th one from index, so shards have equal shares."""
        return list(problems)[self.index::self.count]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class Context:
    """What `run` gets: the config, the open results store, the loaded model and the Neuronpedia latents."""

    cfg: StarterConfig  # the starter's Config (a subclass), its preset with --set applied
    store: RunStore  # the run's resumable rows
    model: Union[LoadedModel, RemoteModel]  # local weights, or a server (--backend openai)
    # Neuronpedia search hits for the question's concepts
    latents: list[SearchHit] = field(default_factory=list)
    preset: str = "smoke"  # smoke | cpu | gpu
    shard: Shard = field(default_factory=Shard)  # the part of the problems this process does

    def my_problems(self, problems: list) -> list:
        """The problems this process runs: all of them, or its shard's share under --shard i/n.

        A shard that gets none (more shards than problems) is one line, not an empty run; most
        configs are refused before the model loads (`check_run_request`), this is the backstop.
        """
        share = self.shard.take(problems)
        if not share and problems:
            count = len(list(problems))
            raise UsageError(f"--shard {self.shard} gets none of the {count} problems; with "
                             f"{count} problems use at most {count} shards (--shard i/{count})")
        return share


@dataclass(frozen=True)
class Starter(Generic[MetricsT]):
    """A question's experiment: its presets and the functions the frame calls, in order
    (`run` -> `analyse` -> `claims`, `plot`, `findings`). A starter module usually ends with
    `STARTER = Starter.from_module(__name__, presets=PRESETS, ...)`."""

    slug: str  # e.g. "lucky-or-steady"; the CLI name and the site page
    presets: dict[str, StarterConfig]  # smoke | cpu | gpu
    run: Callable[[Context], None]  # the experiment and its control; appends rows to ctx.store
    analyse: Callable[[list[dict]], MetricsT]  # rows of results.jsonl -> metrics (pure)
    plot: Callable[[list[dict], MetricsT], Any]  # rows, metrics -> matplotlib Figure
    findings: Callable[[MetricsT], str]  # metrics -> markdown: the finding and its control
    concepts: tuple[str, ...] = ()  # Neuronpedia explanation-search queries
    # metrics -> the run's claims (starter.findings.Claim), written to findings.json and shown first in
    # summary.md; every claim carries its control and a verdict derived from the difference's interval
    claims: Callable[[MetricsT], list] | None = None
    try_next: tuple[str, ...] = ()  # "what to try next" bullets
    # config -> the run's sampling stages (starter.plan.Generation), for `--dry-run`: what a preset
    # will generate, its memory and time, before any weights load
    budget: Callable[[Any], list] | None = None
    # True when the starter only reads sampled text (no hooks, activations or weights), so it can run
    # through `--backend openai` against a serving engine
    black_box: bool = False
    # True when `run` takes its problems through ctx.my_problems and names units per problem, so
    # `--shard i/n` splits it and `mi-starter merge` joins the parts
    shardable: bool = False
    # One line, e.g. "Lucky or steady progress?", and the sub-question, quoted. Left out, both come from
    # starter/questions/questions.yaml, their one home; only a starter not listed there passes them.
    title: str | None = None
    question: str | None = None

    def __post_init__(self) -> None:
        if self.title is None or self.question is None:
            from starter.questions import identity  # package data, no starter module is imported

            known = identity(self.slug)
            object.__setattr__(self, "title", self.title or known.title)
            object.__setattr__(self, "question", self.question or known.quote)
        missing = [p for p in PRESET_NAMES if p not in self.presets]
        if missing:
            raise ValueError(f"starter {self.slug!r} lacks presets {missing}")

    @classmethod
    def from_module(cls, module_name: str, *, presets: dict[str, StarterConfig],
                    **fields: Any) -> Starter:
        """The Starter of module `module_name` (a starter passes `__name__`): its functions `run`,
        `analyse`, `plot`, `findings` and, where defined, `claims` and `budget`, taken by name;
        the slug is the module's name with `-` for `_` unless `slug=` is given; `fields` are the
        other Starter fields (concepts, try_next, black_box, ...).

        >>> import types, sys
        >>> toy = types.ModuleType("toy_question")
        >>> toy.run = toy.plot = print
        >>> toy.analyse = lambda rows: {"n": len(rows)}
        >>> toy.findings = lambda metrics: "Counted."
        >>> sys.modules["toy_question"] = toy
        >>> presets = {p: StarterConfig() for p in PRESET_NAMES}
        >>> s = Starter.from_module("toy_question", presets=presets, title="Toy", question="?")
        >>> s.slug, s.analyse([{}]), s.claims, s.black_box
        ('toy-question', {'n': 1}, None, False)
        >>> del toy.findings
        >>> Starter.from_module("toy_question", presets=presets, title="Toy", question="?")
        Traceback (most recent call last):
        ...
        starter.errors.UsageError: module toy_question defines no `findings`; define \
def findings(metrics) -> str in it (the Starter takes run, analyse, plot and findings by name)
        >>> del sys.modules["toy_question"]
        """
        module = sys.modules.get(module_name)
        if module is None:
            raise UsageError(f"module {module_name} is not imported; call Starter.from_module"
                             "(__name__, ...) from the starter module itself")
        functions: dict[str, Any] = {}
        for name, signature in _STARTER_FUNCTIONS.items():
            function = getattr(module, name, None)
            if function is None and name in _OPTIONAL_FUNCTIONS:
                continue
            if not callable(function):
                raise UsageError(f"module {module_name} defines no `{name}`; define "
                                 f"def {signature} in it (the Starter takes run, analyse, plot "
                                 "and findings by name)")
            functions[name] = function
        slug = fields.pop("slug", None) or module_name.rsplit(".", 1)[-1].replace("_", "-")
        return cls(slug=slug, presets=presets, **functions, **fields)


# The functions `Starter.from_module` takes from a starter module by name, as a starter writes them.
_STARTER_FUNCTIONS = {
    "run": "run(ctx) -> None",
    "analyse": "analyse(rows) -> Metrics",
    "plot": "plot(rows, metrics) -> Figure",
    "findings": "findings(metrics) -> str",
    "claims": "claims(metrics) -> list[Claim]",
    "budget": "budget(cfg) -> list[Generation]",
}
_OPTIONAL_FUNCTIONS = ("claims", "budget")


def metrics_dict(metrics: Any) -> Any:
    """A starter's metrics as plain data, for everything the frame writes, renders or hands on:
    a dataclass becomes a dict of its fields (nested dataclasses, lists and tuples of them
    included), except `starter.stats.Estimate`, kept whole so the summary shows its interval;
    a dict passes through.

    >>> from starter.stats import proportion_ci
    >>> @dataclass(frozen=True)
    ... class Greedy:
    ...     identical: float  # share of identical greedy chains
    >>> @dataclass(frozen=True)
    ... class Metrics:
    ...     solved: object  # an Estimate
    ...     greedy: Greedy  # nested
    ...     n: int  # problems
    >>> metrics_dict(Metrics(proportion_ci(3, 4), Greedy(1.0), 4))["greedy"]
    {'identical': 1.0}
    >>> metrics_dict({"n": 4})
    {'n': 4}
    """
    from starter.stats import Estimate

    if isinstance(metrics, Estimate):
        return metrics
    if dataclasses.is_dataclass(metrics) and not isinstance(metrics, type):
        return {f.name: metrics_dict(getattr(metrics, f.name)) for f in dataclasses.fields(metrics)}
    if isinstance(metrics, dict):
        return {key: metrics_dict(value) for key, value in metrics.items()}
    if type(metrics) in (list, tuple):  # exactly: a named tuple is a value, kept whole
        return type(metrics)(metrics_dict(value) for value in metrics)
    return metrics


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=True)
    p.add_argument("--preset", default="smoke", help=f"one of: {', '.join(PRESET_NAMES)} (default: smoke)")
    p.add_argument("--model", help="override the preset's model (registry name, HF name or local path)")
    p.add_argument("--device", help=f"override the device: {', '.join(DEVICES)}")
    p.add_argument("--out", help="run directory (default: runs/<slug>/<timestamp>); an existing one is resumed")
    p.add_argument("--offline", action="store_true", help="Neuronpedia from cache and shipped fixtures only")
    p.add_argument("--seed", type=int, help="override the preset's seed (0 <= seed < 2**63)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="settings",
                   help="change one field of the starter's Config, e.g. --set n_chains=4 (repeatable; "
                        "tuples comma-separated; sizes above 1,000,000, or a plan above 10M "
                        "sequences, need --set allow_large=true)")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help="local: load the model here; openai: sample from an OpenAI-compatible server "
                        "(vLLM, SGLang, ...; black-box starters only; key from $OPENAI_API_KEY)")
    p.add_argument("--base-url", help="with --backend openai: the API root, e.g. http://HOST:8000/v1")
    p.add_argument("--served-model", help="with --backend openai: the model name the server serves")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="run only shard I of N of the problems (0-based), each into its own --out; "
                        "combine them with `mi-starter merge`")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (generations, tokens, memory, time) without loading weights")
    return p


def parse_overrides(argv: list[str]) -> argparse.Namespace:
    return _parser().parse_args(argv)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the shared starter options to another parser (used by `mi-starter run`)."""
    for action in _parser()._actions:
        if action.dest != "help":
            parser._add_action(action)


def resolve_config(starter: Starter, args: argparse.Namespace) -> StarterConfig:
    if args.preset not in starter.presets:
        raise UsageError(f"unknown preset {args.preset!r}; choose one of: {', '.join(starter.presets)}")
    overrides = {k: getattr(args, k) for k in ("model", "device", "seed") if getattr(args, k, None) is not None}
    if getattr(args, "offline", False):
        overrides["offline"] = True
    from starter.settings import apply_settings, parse_setting

    items = list(getattr(args, "settings", None) or [])
    set_names = {parse_setting(item)[0]: item for item in items}
    for name, value in overrides.items():  # `--seed 5 --set seed=3`: which one? say so
        if name in set_names and name != "offline":
            raise UsageError(f"--{name} {value} and --set {set_names[name]} both set {name}; "
                             "give it once")
    cfg = apply_settings(starter.presets[args.preset], items)
    cfg = dataclasses.replace(cfg, **overrides)
    check_run_request(starter, cfg, getattr(args, "shard", None) or "0/1",
                      allow_large=_allows_large(items))
    return cfg


def _allows_large(items: list[str]) -> bool:
    from starter.settings import allows_large

    return allows_large(items)


# The most sequences a run may plan without `--set allow_large=true` (the gpu presets plan
# well under a million).
MAX_PLANNED_SEQUENCES = 10_000_000
# A Hugging Face repository id: "name" or "owner/name", ASCII letters, digits, "-", "_", ".",
# not starting or ending with "-" or ".", at most 96 characters each (the hub's own rule).
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")


def check_run_request(starter: Starter, cfg: StarterConfig, shard_text: str,
                      allow_large: bool = False) -> None:
    """Checks of a resolved config that need no model, for `run` and `--dry-run` alike: the model
    name is a registry name, a folder or a valid hub id; `--shard` leaves this process at least
    one problem; the plan stays under MAX_PLANNED_SEQUENCES unless allow_large.

    >>> check_run_request(None, StarterConfig(model="modèle-ü"), "0/1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: --model 'modèle-ü' is neither a registry name, a folder nor a \
Hugging Face repository id ...
    """
    from starter.models import validate_model_name

    spec = validate_model_name(cfg.model)
    if spec.source == "hub":
        name = spec.hf_id or ""
        if not _REPO_ID.fullmatch(name) or "--" in name or ".." in name:
            shown = name if len(name) <= 60 else name[:60] + "..."
            raise UsageError(f"--model {shown!r} is neither a registry name, a folder nor a "
                             "Hugging Face repository id (owner/name: ASCII letters, digits, "
                             "-, _ and ., at most 96 characters each; see `mi-starter doctor` "
                             "for the registry)")
    shard = Shard.parse(shard_text)
    problems = _problem_count(cfg)
    if shard.count > 1 and problems is not None and shard.index >= problems:
        raise UsageError(f"--shard {shard} gets none of the {problems} problems; with "
                         f"{problems} problems use at most {problems} shards "
                         f"(--shard i/{problems})")
    if starter is None or starter.budget is None or allow_large:
        return
    from starter import plan

    sequences = plan.make_plan(starter.budget(cfg)).sequences
    if sequences > MAX_PLANNED_SEQUENCES:
        raise UsageError(f"this config plans {sequences:,} sequences, above the ceiling of "
                         f"{MAX_PLANNED_SEQUENCES:,}; lower the sizes, or add --set "
                         "allow_large=true if you mean it")


def _problem_count(cfg: StarterConfig) -> int | None:
    """How many problems a shardable starter splits: its `n_problems`, else its `n_chains` (one
    reference chain per problem); None when the config has neither."""
    for name in ("n_problems", "n_chains"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _lookup_latents(starter: Starter, cfg: StarterConfig, spec) -> tuple[list, str]:
    """Neuronpedia explanations for the question's concepts: (hits, a provenance line for the summary)."""
    from starter import neuronpedia
    from starter.models import reference_sae_model

    # Starters running a model without SAEs (the organism, SmolLM2, R1-Distill-Qwen) still show the
    # latents of the registry's reference SAE model, to look at once you move to it.
    target = spec if spec.neuronpedia_model_id else reference_sae_model()
    client = neuronpedia.NeuronpediaClient(offline=cfg.offline or None)
    try:
        hits = neuronpedia.concept_latents(
            client, target.neuronpedia_model_id, list(starter.concepts), layers=list(target.neuronpedia_sources[:1])
        )
    except neuronpedia.NeuronpediaUnreachable as err:  # only then: a bad key is its own error
        if client.offline:
            raise
        print(f"neuronpedia unreachable ({err}); using the shipped sample fixtures instead",
              file=sys.stderr)
        client = neuronpedia.NeuronpediaClient(offline=True)
        hits = neuronpedia.concept_latents(
            client, target.neuronpedia_model_id, list(starter.concepts), layers=list(target.neuronpedia_sources[:1])
        )
    kinds = sorted({h.provenance.kind for h in hits}) if hits else ["none"]
    note = (
        f"Neuronpedia latents for `{target.neuronpedia_model_id}` ({', '.join(target.neuronpedia_sources[:1])}); "
        f"data: {', '.join(kinds)}"
    )
    if "sample" in kinds:
        note += " (sample data in Neuronpedia's format, not fetched from Neuronpedia: run online for real explanations)"
    return hits, note


def _latent_rows(hits: list) -> list[dict]:
    return [
        {
            "unit": f"latent:{h.source}:{h.index}",
            "kind": "latent",
            "model_id": h.model_id,
            "source": h.source,
            "index": h.index,
            "description": h.description,
            "query": getattr(h, "query", None),
            "url": h.url,
            "provenance": h.provenance.kind,
        }
        for h in hits
    ]


def unit_rows(rows: list[dict]) -> list[dict]:
    """The experiment's own rows: everything but the frame's Neuronpedia lookups (`kind: "latent"`).

    Row convention, shared by every starter: `kind` names what the row is ("reference", "regen",
    "control", ...) and the other fields are typed values, never strings packed with several facts.
    """
    return [r for r in rows if r.get("kind") != "latent"]


def render_summary(starter: Starter, cfg: StarterConfig, preset: str, metrics: Any,
                   rows: list[dict], note: str, claims: list | None = None) -> str:
    """summary.md of a run: title, question, claims, the finding (`starter.findings(metrics)`),
    every number of `metrics_dict(metrics)`, the Neuronpedia latents and what to try next."""
    from starter.findings import render_claims

    latents = [r for r in rows if r.get("kind") == "latent"]
    lines = [
        f"# {starter.title}",
        "",
        f"> {starter.question}",
        "",
        f"Model `{cfg.model}` · preset `{preset}` · seed {cfg.seed}",
        "",
    ]
    if claims:
        lines += ["## Claims", "", render_claims(claims), ""]
    lines += [
        "## Finding",
        "",
        starter.findings(metrics).strip(),
        "",
        "## Numbers",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {text} |" for name, text in metric_rows(metrics_dict(metrics))]
    lines += ["", "## Neuronpedia latents", "", note, ""]
    fetched = [r for r in latents if r.get("provenance") != "sample"]
    # Shipped sample latents illustrate the format only: never list them as if they were findings.
    lines += [f"- [{r['source']}/{r['index']}]({r['url']}) ({r['query']}): {r['description']}"
              for r in fetched]
    if latents and not fetched:
        lines.append("Run online to fetch real explanations for this question's concepts.")
    if starter.try_next:
        lines += ["", "## What to try next", ""] + [f"- {t}" for t in starter.try_next]
    return "\n".join(lines) + "\n"


def metric_rows(metrics: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(name, text) for every number in `metrics`: nested dicts and dataclasses become dotted names,
    estimates are shown with their interval and n (starter.stats.describe).

    >>> from starter.stats import proportion_ci
    >>> metric_rows({"solved": proportion_ci(3, 4), "greedy": {"identical": 1.0}, "n": 4})
    [('solved', '3/4 (n=4 problems)'), ('greedy.identical', '1.000'), ('n', '4')]
    """
    from starter.stats import Estimate, describe

    if isinstance(metrics, Estimate):
        return [(prefix, describe(metrics))]
    if dataclasses.is_dataclass(metrics) and not isinstance(metrics, type):
        metrics = {f.name: getattr(metrics, f.name) for f in dataclasses.fields(metrics)}
    if isinstance(metrics, dict):
        rows: list[tuple[str, str]] = []
        for key, value in metrics.items():
            rows += metric_rows(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(metrics, (list, tuple)) and any(
            isinstance(v, (dict, Estimate)) or dataclasses.is_dataclass(v) for v in metrics):
        rows = []
        for i, value in enumerate(metrics):
            rows += metric_rows(value, f"{prefix}[{i}]")
        return rows
    return [(prefix, format_value(metrics))]


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def run_starter(starter: Starter, argv: list[str] | None = None) -> Path:
    """Parse `argv` (default: the command line), run the starter end to end and return the run directory.

    In a notebook the kernel's own arguments are not ours: options come from `$MI_STARTER_ARGS`
    instead (e.g. "--preset cpu"), and the default is the `smoke` preset.
    """
    if argv is None:
        in_notebook = "ipykernel" in sys.modules
        argv = os.environ.get("MI_STARTER_ARGS", "").split() if in_notebook else sys.argv[1:]
    try:
        return execute(starter, parse_overrides(argv))
    except StarterError as err:  # run as a script: same one-line error and exit code as `mi-starter run`
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(err.exit_code) from None
    except OSError as err:
        if err.filename is None:  # not a filesystem error (a network library's): not ours to print
            raise
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        raise SystemExit(StarterError.exit_code) from None


def os_error_line(err: OSError) -> str:
    """A filesystem error nothing turned into a StarterError, as the one line the CLI prints.

    >>> import errno
    >>> os_error_line(OSError(errno.ENOSPC, "No space left on device", "runs/x/findings.json"))
    ... # doctest: +NORMALIZE_WHITESPACE
    'runs/x/findings.json: No space left on device;
     check that path (permissions, free space) and run again'
    """
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    # Only the path and the operating system's words: never str(err), which may quote a library.
    what = f"{paths or type(err).__name__}: {err.strerror or 'operating-system error'}"
    return f"{what}; check that path (permissions, free space) and run again"


def print_plan(starter: Starter, cfg: StarterConfig, preset: str, spec: Any) -> None:
    """`--dry-run`: the preset's sampling stages, totals, memory and time; nothing loads or is written."""
    from starter import plan

    plan.require_budget(starter)
    device_type = "cpu" if cfg.device == "cpu" else ("cuda" if preset == "gpu" else cfg.device)
    device_type = device_type.split(":")[0] if device_type != "auto" else "cpu"
    print(f"[{starter.slug}] dry run: preset={preset} model={cfg.model} device={cfg.device} "
          "(no weights loaded, nothing written)")
    print(plan.describe_plan(plan.make_plan(starter.budget(cfg)), spec, device_type))


def merge_runs(dirs: list[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Combine the shard folders of one run (`--shard i/n`) into `out`, then analyse it as one run.

    Refused, each in one line, before anything is written: an `out` that exists and holds
    anything (merge writes a new run folder, never into another run); a shard that is not
    complete (`results.check_complete`: never finished, a torn last line, rows added or edited
    since it finished, a NaN the run never wrote); shards whose identity differs
    (`results.RunIdentity`: config, model, seed, backend, commit, library versions); a missing or
    repeated shard; a unit in two shards. The merged manifest records the shards' commit and
    library versions (the rows' provenance) and, under `merged_by`, the merging process's own.
    """
    from starter import questions
    from starter.results import RunIdentity, RunStore, check_complete

    if len(dirs) < 2:
        raise UsageError("merge needs two or more shard folders: mi-starter merge DIR DIR ... --out OUT")
    refuse_existing_out(out, "merge")
    runs = [(Path(d), *check_complete(d)) for d in dirs]
    first_dir, first, _ = runs[0]
    first_identity = RunIdentity.of(first)
    shards = []
    for folder, manifest, _ in runs:
        if "shard" not in manifest["config"]:
            raise UsageError(f"{folder} was not run with --shard; nothing to merge it with")
        differences = first_identity.differences(RunIdentity.of(manifest), ignore_config=("shard",))
        if differences:
            raise UsageError(f"{folder} is not a shard of the same run as {first_dir} (differs in: "
                             f"{'; '.join(differences)}); merge only shards of one command, run "
                             "from one checkout with the same libraries")
        shards.append(Shard.parse(manifest["config"]["shard"]))
    counts = {s.count for s in shards}
    indexes = sorted(s.index for s in shards)
    if len(counts) != 1 or indexes != list(range(counts.pop())):
        raise UsageError(f"the shards given are {', '.join(map(str, shards))}; give each of "
                         f"0/{shards[0].count} .. {shards[0].count - 1}/{shards[0].count} once")
    base = {k: v for k, v in first["config"].items() if k != "shard"}
    starter = questions.load(base["starter"])
    merged: dict = {}
    for folder, _, rows in runs:
        for row in rows:
            unit = row["unit"]
            if unit in merged and row.get("kind") != "latent":
                raise UsageError(f"unit {unit!r} is in more than one shard ({folder}); does "
                                 f"{base['starter']} call ctx.my_problems? merge refused")
            merged.setdefault(unit, row)
    store = RunStore.open(out, config=base, model=first["model"], device=first.get("device", "cpu"),
                          seed=first.get("seed"))
    store.manifest["merged_by"] = {"git_commit": store.manifest.get("git_commit"),
                                   "packages": store.manifest.get("packages")}
    store.manifest["git_commit"] = first_identity.git_commit  # the rows' provenance
    store.manifest["packages"] = first_identity.packages
    store.manifest["merged_from"] = [str(folder) for folder, _, _ in runs]
    for row in merged.values():
        if not store.done(row["unit"]):
            store.append(row)
    fields = {f.name for f in dataclasses.fields(starter.presets[base["preset"]])}
    cfg = dataclasses.replace(starter.presets[base["preset"]],
                              **{k: _from_json(v) for k, v in base.items() if k in fields})
    session = Session(starter, cfg, preset=base["preset"], out=Path(out), run_config=base,
                      store=store, rows=store.rows(), note=f"Merged from {len(runs)} shards.")
    session.finish()
    print(f"[{starter.slug}] merged {len(runs)} shards into {out}")
    return Path(out)


def refuse_existing_out(out: str | os.PathLike, command: str) -> None:
    """`command --out` writes a new folder: one that exists and holds anything is refused (one
    line), so no earlier run, validation or file of the user's is overwritten or mixed into.

    >>> import tempfile
    >>> refuse_existing_out(Path(tempfile.mkdtemp()) / "new", "merge")  # fine: to be created
    >>> folder = Path(tempfile.mkdtemp()); _ = (folder / "summary.md").write_text("mine")
    >>> refuse_existing_out(folder, "merge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: merge --out ... already holds summary.md; ... pass a new --out ...
    """
    path = Path(out)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise UsageError(f"{command} --out {path} is a file, not a folder; pass a new folder "
                         "(nothing was changed)")
    try:
        names = sorted(p.name for p in path.iterdir())
    except OSError as err:
        raise StarterError(f"cannot list {path} ({err.strerror}); pass a new --out") from None
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise UsageError(f"{command} --out {path} already holds {shown}; {command} writes a new "
                         "folder and never into an existing one: pass a new --out (nothing was "
                         "changed)")


def _from_json(value: Any) -> Any:
    """Config values come back from JSON with lists where the dataclass had tuples."""
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


def _server_config(starter: Starter, args: argparse.Namespace):
    """The OpenAI-compatible server to sample from, or None for the local path (checked here)."""
    backend = getattr(args, "backend", "local") or "local"
    if backend == "local":
        if getattr(args, "base_url", None) or getattr(args, "served_model", None):
            raise UsageError("--base-url and --served-model need --backend openai")
        return None
    if not starter.black_box:
        raise UsageError(f"starter {starter.slug!r} reads activations or steers the model, which a "
                         "server cannot give; run it with --backend local")
    if not (args.base_url and args.served_model):
        raise UsageError("--backend openai needs --base-url URL and --served-model NAME")
    from starter.backends.openai import ServerConfig

    return ServerConfig(base_url=args.base_url, served_model=args.served_model)


def execute(starter: Starter, args: argparse.Namespace) -> Path:
    """Run `starter` end to end as `args` say (`mi-starter run`, `run_starter`): the session's
    steps in order (configure, load, sample, then analyse, claims and plot inside `finish`)."""
    if getattr(args, "dry_run", False):
        from starter.models import validate_model_name

        cfg = resolve_config(starter, args)  # preset, seed and device checked here
        print_plan(starter, cfg, args.preset, validate_model_name(cfg.model))
        return Path(args.out) if args.out else Path("runs") / starter.slug
    session = Session.configure(starter, args)
    session.load()
    session.sample()
    out = session.finish()
    print(f"[{starter.slug}] wrote {out}/summary.md and {out}/figure.png")
    return out


@dataclass
class Session:
    """One run of a starter, one step at a time, as a notebook reader steps through it:
    `open_session` (configure) -> `load` -> `sample` -> `analyse` -> `claims` -> `plot` -> `finish`.

    `execute` (the CLI, `run_starter`) calls the same steps, so a notebook's numbers are the CLI's.
    The analysis steps read only `rows` (what `sample` wrote to results.jsonl); on hand-built rows
    they need no model:

    >>> from matplotlib.figure import Figure
    >>> from starter.stats import proportion_ci
    >>> toy = Starter(slug="toy", title="Toy", question="Is it solved?",
    ...               presets={p: StarterConfig() for p in PRESET_NAMES}, run=print,
    ...               analyse=lambda rows: {"solved": proportion_ci(sum(r["ok"] for r in rows), 2)},
    ...               plot=lambda rows, metrics: Figure(), findings=lambda metrics: "Solved.")
    >>> rows = [{"unit": u, "kind": "answer", "ok": 1} for u in ("p0", "p1")]
    >>> session = Session(toy, StarterConfig(), preset="smoke", out=Path("unused"), rows=rows)
    >>> metric_rows(session.analyse())
    [('solved', '2/2 (n=2 problems)')]
    >>> session.claims(), type(session.plot()).__name__
    ([], 'Figure')
    """

    starter: Starter  # the question's Starter (its module's STARTER)
    cfg: StarterConfig  # the preset with --set, --model, --device and --seed applied
    preset: str = "smoke"  # smoke | cpu | gpu
    out: Path = Path("runs")  # the run directory: results.jsonl, figure.png, summary.md, ...
    # the run's identity in manifest.json ("starter", "preset", the config but `offline`, ...):
    # resuming with another is refused
    run_config: dict = field(default_factory=dict)
    server: Any = None  # starter.backends.openai.ServerConfig with --backend openai; None: local
    shard: Shard = field(default_factory=Shard)  # the part of the problems this process does
    settings: tuple[str, ...] = ()  # the --set overrides as typed, recorded in the manifest
    model: Union[LoadedModel, RemoteModel, None] = None  # set by `load`
    device: str = ""  # where the model runs ("remote" for a server), set by `load`
    loaded: bool = False  # whether `load` has run
    store: RunStore | None = None  # the open results store, set by `sample`
    latents: list[SearchHit] = field(default_factory=list)  # Neuronpedia hits, set by `sample`
    note: str = ""  # the latents' provenance line for summary.md, set by `sample`
    rows: list[dict] | None = None  # the rows analysed (this lookup's latents + the units)
    metrics: Any = None  # starter.analyse(rows), set by `analyse`
    claim_list: list | None = None  # starter.claims(metrics), set by `claims`
    figure: Any = None  # starter.plot(rows, metrics), set by `plot`

    @classmethod
    def configure(cls, starter: Starter, args: argparse.Namespace) -> Session:
        """Check everything the options say before any weights load: preset, --set, model name,
        backend, --shard and the --out folder (an existing run of another config is refused)."""
        from starter.models import validate_model_name
        from starter.results import check_run_dir
        from starter.settings import env_flag

        cfg = resolve_config(starter, args)  # preset, seed and device checked here
        validate_model_name(cfg.model)  # a bad --model folder is one line, before anything loads
        env_flag("NEURONPEDIA_OFFLINE")  # read at the lookup; a bad value is refused here, first
        server = _server_config(starter, args)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(args.out) if args.out else Path("runs") / starter.slug / stamp
        # The run's identity: resuming with a different config is refused. Where latents come
        # from is not part of it.
        identity = {k: v for k, v in cfg.to_dict().items() if k != "offline"}
        run_config = {"starter": starter.slug, "preset": args.preset, **identity}
        shard = Shard.parse(getattr(args, "shard", None) or "0/1")
        if shard.count > 1 and not starter.shardable:
            raise UsageError(f"starter {starter.slug!r} cannot be split with --shard yet (its "
                             "units are not all per problem); run it whole")
        if shard.count > 1:  # part of the identity: a shard's folder never takes another's rows
            run_config["shard"] = str(shard)
        if server:  # a server samples with its own random streams: never mix its rows with ours,
            # nor one server's with another's (another --base-url may serve other weights)
            run_config["backend"] = {"kind": "openai", "base_url": server.base_url,
                                     "served_model": server.served_model}
        # Everything that can be wrong with --out is refused now, before the model loads; the
        # folder itself is created by `sample`, so a model that can't load leaves no empty run.
        check_run_dir(out, config=run_config, model=cfg.model)
        return cls(starter, cfg, preset=args.preset, out=out, run_config=run_config,
                   server=server, shard=shard, settings=tuple(getattr(args, "settings", ()) or ()))

    def load(self) -> Union[LoadedModel, RemoteModel]:
        """Load the model (the local weights, or with a server only its tokenizer); once."""
        from starter.models import load_model, resolve_device

        if self.loaded:
            return self.model
        self.device = "remote" if self.server else str(resolve_device(self.cfg.device))
        if self.server:
            from starter.backends.openai import load_remote

            self.model = load_remote(self.cfg.model, self.server)  # the tokenizer only; no weights
        else:
            self.model = load_model(self.cfg.model, device=self.cfg.device)
        self.loaded = True
        print(f"[{self.starter.slug}] loaded {self.cfg.model} on {self.device}")
        return self.model

    def sample(self) -> list[dict]:
        """Open the run directory (resuming it), look up the question's Neuronpedia latents and run
        the starter, one row per unit; return the rows the analysis will read."""
        from starter.models import validate_model_name
        from starter.results import RunStore

        if not self.loaded:
            raise UsageError("session.sample() needs a model: call session.load() first")
        slug = self.starter.slug
        store = RunStore.open(self.out, config=self.run_config, model=self.cfg.model,
                              device=self.device)
        self.store = store
        if self.server:
            store.manifest["backend"] = self.model.describe()  # settings, whether a key is set
        if self.settings:
            store.manifest["settings"] = list(self.settings)  # the --set overrides, as typed
        print(f"[{slug}] preset={self.preset} model={self.cfg.model} device={self.device} "
              f"out={self.out}")
        spec = validate_model_name(self.cfg.model)
        self.latents, self.note = _lookup_latents(self.starter, self.cfg, spec)
        latent_rows = _latent_rows(self.latents)
        for row in latent_rows:
            if not store.done(row["unit"]):
                store.append(row)
        print(f"[{slug}] {self.note}")
        self.starter.run(Context(cfg=self.cfg, store=store, model=self.model, latents=self.latents,
                                 preset=self.preset, shard=self.shard))
        # A resumed row this config never asked for would change the numbers: fail, naming it.
        # Latent rows of an earlier lookup (online then, offline now) stay on disk, left out.
        store.check_asked(exempt_kinds=("latent",))
        if self.server:  # again after sampling: now with the model names the server answered
            store.manifest["backend"] = self.model.describe()
        looked_up = {row["unit"] for row in latent_rows}
        self.rows = [r for r in store.rows() if r.get("kind") != "latent" or r["unit"] in looked_up]
        self.metrics = self.claim_list = self.figure = None  # new rows: analyse again
        return self.rows

    def analyse(self) -> Any:
        """The starter's metrics of the rows (a pure function of results.jsonl)."""
        rows = self._unit_rows("analyse")
        self.metrics = self._reading(lambda: self.starter.analyse(rows))
        return self.metrics

    def claims(self) -> list:
        """The run's claims (starter.findings.Claim: estimate, control, verdict); [] if none."""
        metrics = self.metrics if self.metrics is not None else self.analyse()
        make = self.starter.claims
        self.claim_list = self._reading(lambda: make(metrics) if make else [])
        return self.claim_list

    def plot(self) -> Any:
        """The starter's matplotlib figure of the rows and metrics."""
        metrics = self.metrics if self.metrics is not None else self.analyse()
        rows = self._unit_rows("plot")
        self.figure = self._reading(lambda: self.starter.plot(rows, metrics))
        return self.figure

    def finish(self) -> Path:
        """Write figure.png, findings.json and summary.md (analysing first where not done yet) and
        mark the run finished; return the run directory."""
        from starter.findings import write_findings

        if self.store is None:
            raise UsageError("session.finish() needs a run: call session.sample() first")
        claims = self.claim_list if self.claim_list is not None else self.claims()
        figure = self.figure if self.figure is not None else self.plot()
        self.store.save_figure(figure)
        write_findings(self.store.out, claims)
        self.store.write_summary(render_summary(self.starter, self.cfg, self.preset, self.metrics,
                                                self.rows, self.note, claims))
        self.store.finish()
        return self.out

    def _unit_rows(self, step: str) -> list[dict]:
        if self.rows is None:
            raise UsageError(f"session.{step}() needs rows: call session.sample() first")
        return unit_rows(self.rows)

    def _reading(self, step: Callable[[], Any]) -> Any:
        """Run one analysis step; its failure on resumed rows names their likely cause."""
        from starter.results import RESULTS

        try:
            return step()
        except Exception as err:
            if self.store is None or not self.store.resumed:
                raise  # a bug in the starter itself: the traceback is what its author needs
            # Resumed rows that today's code can't read usually come from an older starter.
            raise StarterError(
                f"{self.store.out}: analysing its results failed ({type(err).__name__}: {err}); "
                f"{self.store.resumed} of the rows were written by an earlier run, perhaps by "
                f"another version of this starter. Start afresh with a new --out (the earlier rows "
                f"stay in {self.store.out / RESULTS})") from err


def open_session(starter: Starter, preset: str = "smoke", out: str | os.PathLike | None = None,
                 argv: list[str] | tuple[str, ...] = ()) -> Session:
    """Configure a run of `starter` to step through (a notebook's cells): `argv` takes any other
    option of `mi-starter run` (e.g. ["--set", "n_chains=4"]); `out` defaults to
    runs/<slug>/<time>, and an existing run there is resumed.

    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> toy = Starter(slug="toy", title="Toy", question="Does it run?",
    ...               presets={p: StarterConfig(device="cpu") for p in PRESET_NAMES},
    ...               run=lambda ctx: ctx.store.append({"unit": "a", "kind": "score", "value": 1}),
    ...               analyse=lambda rows: {"mean": rows[0]["value"]},
    ...               plot=lambda rows, metrics: Figure(), findings=lambda metrics: "One.")
    >>> session = open_session(toy, out=Path(tempfile.mkdtemp()) / "run", argv=["--offline"])
    >>> session.cfg.model, session.run_config["preset"]
    ('tinythinker', 'smoke')
    >>> model = session.load()  # doctest: +SKIP
    >>> session.sample()[-1]  # doctest: +SKIP
    {'unit': 'a', 'kind': 'score', 'value': 1}
    >>> session.analyse(), session.claims()  # doctest: +SKIP
    ({'mean': 1}, [])
    >>> (session.finish() / "summary.md").is_file()  # doctest: +SKIP
    True
    >>> open_session(toy, preset="tiny")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: unknown preset 'tiny'; choose one of: smoke, cpu, gpu
    """
    argv = ["--preset", preset, *(["--out", str(out)] if out is not None else []), *argv]
    return Session.configure(starter, parse_overrides(argv))
