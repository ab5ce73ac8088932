"""`mi-starter reanalyse RUN --out NEW`: a finished run's rows analysed again by today's code,
written as a new run folder (the source is never changed).

Why: an analysis fix (a statistic, a claim's wording) should reach results that took an hour to
sample, without sampling again. The new folder holds the same rows byte for byte; its manifest
keeps the rows' provenance (config, model, seed, the commit and libraries that sampled them) and
records, under `reanalysed_by`, the commit and libraries that analysed them.
"""

from __future__ import annotations

import os
from pathlib import Path

from starter.errors import UsageError
from starter.merge import preset_config, refuse_existing_out
from starter.session import Session

NOTE_HEADING = "## Neuronpedia latents\n\n"


def reanalyse_run(src: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Copy the finished run `src` into the new folder `out` and analyse it with today's code:
    figure.png, findings.json and summary.md are written again; results.jsonl is the same.

    Refused, each in one line, before anything is written: an `out` that exists and holds
    anything; a `src` that is not complete (`results.check_complete`: never finished, a torn last
    line, rows added or edited since it finished); a `src` of a starter this kit does not have.
    The Neuronpedia note is the source summary's own (how its latents were looked up then).
    """
    from starter import registry
    from starter.results import RunIdentity, RunStore, check_complete

    refuse_existing_out(out, "reanalyse")
    manifest, rows = check_complete(src)
    base = manifest["config"]
    slug = base.get("starter")
    if slug not in registry.available():
        raise UsageError(f"{src} is a run of {slug!r}, which this kit has no starter for; "
                         f"reanalyse runs of: {', '.join(sorted(registry.available()))}")
    starter = registry.load(slug)
    source = RunIdentity.of(manifest)
    store = RunStore.open(out, config=base, model=manifest["model"],
                          device=manifest.get("device", "cpu"), seed=manifest.get("seed"))
    store.manifest["reanalysed_by"] = {"git_commit": store.manifest.get("git_commit"),
                                       "packages": store.manifest.get("packages")}
    store.manifest["git_commit"] = source.git_commit  # the rows' provenance
    store.manifest["packages"] = source.packages
    store.manifest["reanalysed_from"] = {
        "folder": str(src), "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"), "command": manifest.get("command")}
    for key in ("resumed", "settings", "backend", "nan_fields"):
        if key in manifest:
            store.manifest[key] = manifest[key]
    for row in rows:
        store.append(row)
    session = Session(starter, preset_config(starter, base), preset=base["preset"], out=Path(out),
                      run_config=base, store=store, rows=store.rows(), note=source_note(src))
    session.finish()
    print(f"[{slug}] reanalysed {src} into {out}")
    return Path(out)


def source_note(src: str | os.PathLike) -> str:
    """The Neuronpedia note of the source run's summary.md (its first line under the heading).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "summary.md").write_text("# T\\n\\n## Neuronpedia latents\\n\\nOffline.\\n\\n- x\\n")
    >>> source_note(folder)
    'Offline.'
    """
    path = Path(src) / "summary.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if NOTE_HEADING not in text:
        return "Neuronpedia latents: as recorded in results.jsonl (the source had no note)."
    return text.split(NOTE_HEADING, 1)[1].split("\n", 1)[0].strip()
