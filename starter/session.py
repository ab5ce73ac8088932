"""One run of a starter, step by step (`Session`: configure -> load -> sample -> analyse ->
claims -> plot -> finish), and the entries that run it whole (`execute` for `mi-starter run`,
`run_starter` for a starter run as a script or in a notebook):

    parse arguments -> validate -> open the run directory (resume if it exists) -> look up
    Neuronpedia latents -> load the model -> run -> analyse results.jsonl -> figure.png + summary.md

Because `analyse` only sees the rows of `results.jsonl`, every number in `summary.md` comes from
that file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union, cast

from starter.errors import StarterError, UsageError
from starter.frame import Context, Shard, Starter, StarterConfig, unit_rows
from starter.latents import latent_rows, lookup_latents
from starter.run_options import parse_overrides, print_plan, resolve_config, server_config
from starter.summary import render_summary

if TYPE_CHECKING:
    from starter.backends.openai import RemoteModel
    from starter.models import LoadedModel
    from starter.neuronpedia import SearchHit
    from starter.results import RunStore


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
    >>> from starter.frame import PRESET_NAMES
    >>> from starter.stats import proportion_ci
    >>> from starter.summary import metric_rows
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
    remote: RemoteModel | None = None  # the same model when it is a server's, set by `load`
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
        server = server_config(starter, args)
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

        if self.loaded and self.model is not None:
            return self.model
        self.device = "remote" if self.server else str(resolve_device(self.cfg.device))
        model: LoadedModel | RemoteModel
        if self.server:
            from starter.backends.openai import load_remote

            model = self.remote = load_remote(self.cfg.model, self.server)  # tokenizer, no weights
        else:
            model = load_model(self.cfg.model, device=self.cfg.device)
        self.model = model
        self.loaded = True
        print(f"[{self.starter.slug}] loaded {self.cfg.model} on {self.device}")
        return model

    def sample(self) -> list[dict]:
        """Open the run directory (resuming it), look up the question's Neuronpedia latents and run
        the starter, one row per unit; return the rows the analysis will read."""
        from starter.models import validate_model_name
        from starter.results import RunStore

        if not self.loaded:
            raise UsageError("session.sample() needs a model: call session.load() first")
        # load() set it (tests stand a fake loader in that may hand back None: no starter of
        # theirs touches the model)
        model = cast("LoadedModel | RemoteModel", self.model)
        slug = self.starter.slug
        store = RunStore.open(self.out, config=self.run_config, model=self.cfg.model,
                              device=self.device)
        self.store = store
        if self.remote:
            store.manifest["backend"] = self.remote.describe()  # settings, whether a key is set
        if self.settings:
            store.manifest["settings"] = list(self.settings)  # the --set overrides, as typed
        print(f"[{slug}] preset={self.preset} model={self.cfg.model} device={self.device} "
              f"out={self.out}")
        spec = validate_model_name(self.cfg.model)
        self.latents, self.note = lookup_latents(self.starter, self.cfg, spec)
        looked_up_rows = latent_rows(self.latents)
        for row in looked_up_rows:
            if not store.done(row["unit"]):
                store.append(row)
        print(f"[{slug}] {self.note}")
        self.starter.run(Context(cfg=self.cfg, store=store, model=model, latents=self.latents,
                                 preset=self.preset, shard=self.shard))
        # A resumed row this config never asked for would change the numbers: fail, naming it.
        # Latent rows of an earlier lookup (online then, offline now) stay on disk, left out.
        store.check_asked(exempt_kinds=("latent",))
        if self.remote:  # again after sampling: now with the model names the server answered
            store.manifest["backend"] = self.remote.describe()
        looked_up = {row["unit"] for row in looked_up_rows}
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

        if self.store is None or self.rows is None:
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
    >>> from starter.frame import PRESET_NAMES
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


def run_starter(starter: Starter, argv: list[str] | None = None) -> Path:
    """Parse `argv` (default: the command line), run the starter end to end and return the run
    directory.

    In a notebook the kernel's own arguments are not ours: options come from `$MI_STARTER_ARGS`
    instead (e.g. "--preset cpu"), and the default is the `smoke` preset.
    """
    if argv is None:
        in_notebook = "ipykernel" in sys.modules
        argv = os.environ.get("MI_STARTER_ARGS", "").split() if in_notebook else sys.argv[1:]
    try:
        return execute(starter, parse_overrides(argv))
    except StarterError as err:  # as a script: the one-line error and exit code of `mi-starter run`
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
