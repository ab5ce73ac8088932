"""The release registry: which public data the kit reads, pinned to a revision with checksums.

The facts live in `releases.yaml` beside this file (package data), read once through a typed
loader that refuses unknown, missing or mistyped keys. `mi-starter data list` prints it and
`mi-starter data fetch NAME` (`starter.releases.fetch`) downloads what it names.

>>> ta = get_release("thought-anchors")
>>> ta.revision[:7], len(ta.files), ta.fetchable
('68acc04', 200, True)
>>> ta.file_url(ta.files[0])  # doctest: +ELLIPSIS
'https://raw.githubusercontent.com/interp-reasoning/thought-anchors.com/68acc04.../problem_1591/...'
>>> get_release("math-rollouts").fetchable
False
>>> get_release("thought-anchor")
Traceback (most recent call last):
...
starter.errors.UsageError: no release 'thought-anchor'; did you mean thought-anchors? Releases: \
thought-anchors, thought-branches, math-rollouts
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import re
from dataclasses import dataclass, fields
from pathlib import PurePosixPath
from typing import Any

import yaml

from starter.errors import StarterError, UsageError

__all__ = ["ReleaseFile", "Release", "parse_releases", "releases", "get_release"]

SOURCES = ("github", "huggingface-dataset")  # where a release can live
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release, as the registry pins it."""

    path: str  # relative to the release's folder, "/"-separated, never leaving it
    size: int  # bytes
    sha256: str  # hex digest of the exact bytes


@dataclass(frozen=True)
class Release:
    """One entry of releases.yaml (see the field notes at its top)."""

    name: str  # what users type: `mi-starter data fetch thought-anchors`
    title: str  # one line: what it is
    source: str  # one of SOURCES
    repository: str  # owner/name on that host
    address: str  # the public page
    revision: str | None  # the pinned commit; None when the project has not pinned one
    folder: str  # the folder inside the repository the files' paths are relative to
    url: str | None  # download address of one file, with {revision} and {path}; None: local only
    licence: str  # as its authors state it, and where
    reads: str  # what the kit reads from it
    reader: str  # module:function that reads a local copy
    local_only: str | None  # why the kit does not download it, or None
    files: tuple[ReleaseFile, ...]  # every file `data fetch` downloads

    @property
    def fetchable(self) -> bool:
        """The kit can download and verify it (a revision, a URL and checksums are pinned)."""
        return self.local_only is None and self.url is not None and bool(self.files)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def file_url(self, file: ReleaseFile, base_url: str | None = None) -> str:
        """Where `file` is downloaded from: the pinned URL, or `base_url`/<path> (a mirror, a test
        server on 127.0.0.1)."""
        if base_url:
            return f"{base_url.rstrip('/')}/{file.path}"
        if self.url is None:
            raise UsageError(f"{self.name} is read from a local copy only: {self.local_only}")
        return self.url.format(revision=self.revision, path=file.path)


_FILE_KEYS = ("path", "size", "sha256")


def _text(where: str, key: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise StarterError(f"{where}: {key} should be text, got {value!r}")
    return value


def _file(where: str, entry: Any) -> ReleaseFile:
    if not isinstance(entry, dict) or sorted(entry) != sorted(_FILE_KEYS):
        raise StarterError(f"{where}: each file needs exactly {', '.join(_FILE_KEYS)}; "
                           f"got {entry!r}")
    path, size, sha = entry["path"], entry["size"], entry["sha256"]
    parts = PurePosixPath(str(path)).parts
    if (not isinstance(path, str) or not parts or path.startswith("/") or "\\" in path
            or any(p in ("..", ".") for p in parts)):
        raise StarterError(f"{where}: file path {path!r} must be relative and stay inside the "
                           "release's folder")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise StarterError(f"{where}: {path}: size should be a whole number of bytes, got {size!r}")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise StarterError(f"{where}: {path}: sha256 should be 64 lower-case hex digits, "
                           f"got {sha!r}")
    return ReleaseFile(path=path, size=size, sha256=sha)


def parse_releases(data: Any, origin: str = "releases.yaml") -> dict[str, Release]:
    """Turn the parsed YAML (name -> fields) into Releases; anything unknown, missing or mistyped
    is an error naming the entry and the key.

    >>> parse_releases({"x": {"title": "t"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    starter.errors.StarterError: releases.yaml, release 'x': missing key(s) address, files, ...
    """
    if not isinstance(data, dict):
        raise StarterError(f"{origin}: expected a mapping of release name -> fields, "
                           f"got {type(data).__name__}")
    allowed = [f.name for f in fields(Release) if f.name != "name"]
    out: dict[str, Release] = {}
    for name, entry in data.items():
        where = f"{origin}, release {name!r}"
        if not isinstance(entry, dict):
            raise StarterError(f"{where}: expected a mapping of fields, got {entry!r}")
        if unknown := sorted(str(k) for k in entry if k not in allowed):
            raise StarterError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                               f"{', '.join(allowed)} (see the header of releases.yaml)")
        if missing := sorted(set(allowed) - set(entry)):
            raise StarterError(f"{where}: missing key(s) {', '.join(missing)}")
        if entry["source"] not in SOURCES:
            raise StarterError(f"{where}: source {entry['source']!r} is not one of "
                               f"{', '.join(SOURCES)}")
        optional = ("revision", "url", "local_only")
        texts = {k: _text(where, k, entry[k], optional=k in optional)
                 for k in allowed if k != "files"}
        if not isinstance(entry["files"], list):
            raise StarterError(f"{where}: files should be a list, got {entry['files']!r}")
        files = tuple(_file(where, f) for f in entry["files"])
        if len({f.path for f in files}) != len(files):
            raise StarterError(f"{where}: a file path is listed twice")
        release = Release(name=str(name), files=files, **texts)  # type: ignore[arg-type]
        if release.source == "github" and not _COMMIT.fullmatch(release.revision or ""):
            raise StarterError(f"{where}: a github release needs revision = a 40-digit commit, "
                               f"got {release.revision!r}")
        if release.local_only is None and (release.url is None or not files):
            raise StarterError(f"{where}: give url and files, or say why in local_only")
        if release.url is not None and "{path}" not in release.url:
            raise StarterError(f"{where}: url must contain {{path}}")
        out[release.name] = release
    return out


@functools.cache
def releases() -> dict[str, Release]:
    """Every release of the registry, in file order (read once)."""
    text = importlib.resources.files("starter.releases").joinpath("releases.yaml").read_text(
        encoding="utf-8")
    return parse_releases(yaml.safe_load(text), origin="starter/releases/releases.yaml")


def get_release(name: str) -> Release:
    """The release called `name`; a UsageError naming the known ones otherwise."""
    known = releases()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise UsageError(f"no release {name!r}; {hint}Releases: {', '.join(known)}")
