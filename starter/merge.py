"""`mi-starter merge`: the shard folders of one run (`--shard i/n`) joined into one run folder,
then analysed as one run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from starter.errors import StarterError, UsageError
from starter.frame import Shard
from starter.session import Session


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
    from starter import registry
    from starter.results import RunIdentity, RunStore, check_complete

    if len(dirs) < 2:
        raise UsageError("merge needs two or more shard folders: "
                         "mi-starter merge DIR DIR ... --out OUT")
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
    starter = registry.load(base["starter"])
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
    session = Session(starter, preset_config(starter, base), preset=base["preset"], out=Path(out),
                      run_config=base, store=store, rows=store.rows(),
                      note=f"Merged from {len(runs)} shards.")
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


def preset_config(starter: Any, config: dict) -> Any:
    """The starter's Config of a run, from its manifest's `config` (preset plus recorded fields)."""
    fields = {f.name for f in dataclasses.fields(starter.presets[config["preset"]])}
    return dataclasses.replace(starter.presets[config["preset"]],
                               **{k: _from_json(v) for k, v in config.items() if k in fields})


def _from_json(value: Any) -> Any:
    """Config values come back from JSON with lists where the dataclass had tuples."""
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value
