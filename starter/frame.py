"""The frame's records: what a starter declares (`Starter`, its `StarterConfig` presets) and what
its `run` gets (`Context`, with the `Shard` of problems this process does).

A starter (`starter/questions/<slug>.py`) describes its experiment as a `Starter`: presets (typed
configs), `run` (does the work, appending one row per unit to the results store, skipping units
already done), `analyse` (rows -> metrics, a pure function; a frozen dataclass), `plot` (rows,
metrics -> figure) and `findings` (metrics -> the sentences of the summary). The session
(`starter.session`) does everything around that, once.

>>> StarterConfig(seed=3).sampling(temperature=0.0).seed
3
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, Union

from starter.errors import UsageError

if TYPE_CHECKING:  # annotations only: the frame imports torch-heavy modules inside functions
    from starter.backends.openai import RemoteModel
    from starter.models import LoadedModel
    from starter.neuronpedia import SearchHit
    from starter.results import RunStore
    from starter.sampling import SamplingConfig


# A starter's metrics: what its `analyse` returns, a frozen dataclass (or, until a starter is
# converted, a dict); `claims`, `plot` and `findings` receive that same object.
MetricsT = TypeVar("MetricsT")
PRESET_NAMES = ("smoke", "cpu", "gpu")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # what --device accepts; N: a GPU index
_DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
SEED_LIMIT = 2**63  # seeds are 0 <= seed < 2**63: what numpy and torch generators accept


@dataclass
class StarterConfig:
    """Fields every starter shares; a starter subclasses this with its own fields (one comment
    each)."""

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
        from starter.sampling import SamplingConfig

        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name in SAMPLING_FIELDS}
        return SamplingConfig(**{**mine, **overrides})


# The config fields `StarterConfig.sampling` hands to SamplingConfig (those a starter's Config has).
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
    """What `run` gets: the config, the open results store, the loaded model and the Neuronpedia
    latents."""

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
    # metrics -> the run's claims (starter.findings.Claim), written to findings.json and shown first
    # in summary.md; every claim carries its control and a verdict from the difference's interval
    claims: Callable[[MetricsT], list] | None = None
    try_next: tuple[str, ...] = ()  # "what to try next" bullets
    # config -> the run's sampling stages (starter.plan.Generation), for `--dry-run`: what a preset
    # will generate, its memory and time, before any weights load
    budget: Callable[[Any], list] | None = None
    # True when the starter only reads sampled text (no hooks, activations or weights), so it can
    # run through `--backend openai` against a serving engine
    black_box: bool = False
    # True when `run` takes its problems through ctx.my_problems and names units per problem, so
    # `--shard i/n` splits it and `mi-starter merge` joins the parts
    shardable: bool = False
    # One line, e.g. "Lucky or steady progress?", and the sub-question, quoted. Left out, both come
    # from starter/questions/questions.yaml, their one home; only a starter not listed there passes
    # them.
    title: str | None = None
    question: str | None = None

    def __post_init__(self) -> None:
        if self.title is None or self.question is None:
            from starter.registry import identity  # package data; no starter module is imported

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
        from starter.registry import slug_of  # the one module <-> slug rule

        name = module_name
        if name == "__main__":  # run as a script: `python starter/questions/<slug>.py`
            name = Path(getattr(module, "__file__", None) or name).stem
        slug = fields.pop("slug", None) or slug_of(name)
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
    a dict passes through. A dataclass with an `as_dict()` method is what that returns: for
    names that are no identifiers (lucky-or-steady's `entry+0_forced`, from its committed runs).

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
        as_dict = getattr(metrics, "as_dict", None)
        if callable(as_dict):
            return metrics_dict(as_dict())
        return {f.name: metrics_dict(getattr(metrics, f.name)) for f in dataclasses.fields(metrics)}
    if isinstance(metrics, dict):
        return {key: metrics_dict(value) for key, value in metrics.items()}
    if type(metrics) in (list, tuple):  # exactly: a named tuple is a value, kept whole
        return type(metrics)(metrics_dict(value) for value in metrics)
    return metrics


def unit_rows(rows: list[dict]) -> list[dict]:
    """The experiment's own rows: everything but the frame's Neuronpedia lookups (`kind: "latent"`).

    Row convention, shared by every starter: `kind` names what the row is ("reference", "regen",
    "control", ...) and the other fields are typed values, never strings packed with several facts.
    """
    return [r for r in rows if r.get("kind") != "latent"]
