"""Download a release of the registry at its pinned revision, checking every file's sha256.

    fetch_release("thought-anchors")                   into the kit's cache (settings.cache_root())
    fetch_release("thought-anchors", to="data/ta")     into a folder of yours
    fetch_release("thought-anchors", only="deepseek-r1-distill-llama-8b/*")

What it promises:
- Every file is streamed into a temporary file beside its destination, its size and sha256 checked
  against the registry, then renamed into place: a file at its final path is always complete and
  verified, and an interrupted fetch leaves nothing half-written.
- Resumable: a file already in place with the pinned size and checksum is not downloaded again,
  so running the same command after a failure fetches only what is missing.
- Never overwrites a file of yours: in a `to` folder, a file that differs from the release is an
  error naming it (in the kit's own cache such a file is replaced).
- One-line errors (`StarterError`): offline (refused connection, failed DNS lookup), an HTTP error,
  a truncated body, a checksum mismatch, a redirect loop or a redirect to another scheme than
  http(s) (or from https down to http). 429, 5xx, timeouts and broken bodies are tried again.
- `base_url` (or $MI_STARTER_DATA_URL, as `<url>/<release name>`) replaces the pinned address:
  a mirror, or a test server on 127.0.0.1. The checksums still come from the registry.

>>> plan = fetch_plan("thought-branches", to="/tmp/tb")
>>> len(plan.files), plan.folder.as_posix()
(8, '/tmp/tb')
>>> fetch_plan("thought-branches", only="*0.5*").files[0].path
'Professor_itc_failure_threshold0.5.json'
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from starter.errors import StarterError, UsageError
from starter.releases.registry import Release, ReleaseFile, get_release

__all__ = ["FetchConfig", "FetchPlan", "FetchReport", "fetch_plan", "fetch_release",
           "cache_folder", "local_copy", "sha256_of", "BASE_URL_ENV"]

BASE_URL_ENV = "MI_STARTER_DATA_URL"  # a mirror: files are read from <url>/<release name>/<path>
CHUNK_BYTES = 256 * 1024  # read and hash size while streaming a file
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class FetchConfig:
    """How files are downloaded (the defaults suit raw.githubusercontent.com)."""

    base_url: str | None = None  # replaces the pinned address: <base_url>/<path>; None: pinned
    tries: int = 3  # attempts per file for 429, 5xx, timeouts, broken or short bodies
    backoff_s: float = 1.0  # first wait between tries; doubles each time (Retry-After wins)
    max_wait_s: float = 30.0  # longest single wait, whatever Retry-After asks
    timeout_s: float = 30.0  # connect timeout and longest silence while reading
    max_redirects: int = 5  # hops followed before giving up

    def __post_init__(self) -> None:
        if self.tries < 1:
            raise UsageError(f"tries={self.tries}: at least 1")
        if self.backoff_s < 0 or self.timeout_s <= 0 or self.max_redirects < 0:
            raise UsageError("backoff_s >= 0, timeout_s > 0 and max_redirects >= 0 are required")


@dataclass(frozen=True)
class FetchPlan:
    """What a fetch would do: which files, from where, into which folder."""

    release: Release  # the registry entry
    folder: Path  # where the files go (their paths are relative to it)
    files: tuple[ReleaseFile, ...]  # the files selected (all, or those matching `only`)
    in_cache: bool  # folder is the kit's cache (a differing file there is replaced)


@dataclass(frozen=True)
class FetchReport:
    """What a fetch did."""

    release: str  # the release's name
    folder: Path  # where its files are
    downloaded: tuple[str, ...]  # paths fetched now
    already_present: tuple[str, ...]  # paths found complete and verified, not fetched again
    bytes_downloaded: int  # sum of the sizes fetched now


class _Transient(Exception):
    """A failure another try may fix (429, 5xx, timeout, a broken or short body)."""

    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


def cache_folder(release: Release) -> Path:
    """Where `data fetch NAME` puts a release in the kit's cache: <root>/releases/<name>/<rev>."""
    from starter.settings import cache_root

    return cache_root() / "releases" / release.name / (release.revision or "unpinned")


def fetch_plan(name: str, to: str | Path | None = None, only: str | None = None) -> FetchPlan:
    """The files `fetch_release` would bring, and where; UsageError for a release the kit does
    not download or a pattern that matches no file."""
    release = get_release(name)
    if not release.fetchable:
        raise UsageError(f"{name} is read from a local copy only: {release.local_only}")
    files = release.files
    if only:
        files = tuple(f for f in files if fnmatch.fnmatchcase(f.path, only))
        if not files:
            example = release.files[0].path
            raise UsageError(f"--only {only!r} matches none of the {len(release.files)} files of "
                             f"{name}; patterns match paths such as {example!r} "
                             "(`mi-starter data list --files NAME` lists them)")
    folder = Path(to).expanduser() if to is not None else cache_folder(release)
    return FetchPlan(release=release, folder=folder, files=files, in_cache=to is None)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
    >>> sha256_of(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _in_place(path: Path, file: ReleaseFile) -> bool:
    """The file is at `path` with the pinned size and checksum."""
    return path.is_file() and path.stat().st_size == file.size and sha256_of(path) == file.sha256


def _base_url(release: Release, config: FetchConfig) -> str | None:
    if config.base_url:
        return config.base_url
    mirror = os.environ.get(BASE_URL_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{release.name}" if mirror else None


def fetch_release(name: str, to: str | Path | None = None, only: str | None = None,
                  config: FetchConfig = FetchConfig(),
                  progress: Callable[[str], None] | None = None) -> FetchReport:
    """Download release `name` (or the files matching `only`) into `to` or the cache; see the
    module's docstring for what it promises. `progress` gets one line per file fetched."""
    import requests

    plan = fetch_plan(name, to, only)
    release = plan.release
    base = _base_url(release, config)
    downloaded: list[str] = []
    present: list[str] = []
    fetched_bytes = 0
    missing: list[ReleaseFile] = []
    differing: list[Path] = []  # files of the user's that differ from the release
    for file in plan.files:  # look at everything first: a conflict stops the fetch before it starts
        dest = plan.folder / file.path
        if dest.exists() and _in_place(dest, file):
            present.append(file.path)
        else:
            missing.append(file)
            if dest.exists() and not plan.in_cache:
                differing.append(dest)
    if differing:
        more = f" and {len(differing) - 1} more" if len(differing) > 1 else ""
        raise UsageError(f"{differing[0]}{more} exist and differ from {name}'s files (size or "
                         "sha256); move them away or choose another --to (nothing is "
                         "overwritten)")
    with requests.Session() as session:
        session.headers["User-Agent"] = "mi-starter (data fetch)"
        for number, file in enumerate(missing, len(present) + 1):
            dest = plan.folder / file.path
            url = release.file_url(file, base)
            try:
                _download(session, url, dest, file, config)
            except StarterError as err:
                done = len(present) + len(downloaded)
                raise StarterError(f"{name}: {file.path}: {err} [{done} of {len(plan.files)} files "
                                   "in place; run the same command again to resume]") from None
            downloaded.append(file.path)
            fetched_bytes += file.size
            if progress is not None:
                progress(f"[{number}/{len(plan.files)}] {file.path} ({file.size:,} bytes)")
    return FetchReport(release=name, folder=plan.folder, downloaded=tuple(downloaded),
                       already_present=tuple(present), bytes_downloaded=fetched_bytes)


def _download(session, url: str, dest: Path, file: ReleaseFile, config: FetchConfig) -> None:
    """One file into `dest` (atomically), with retries for transient failures."""
    problem = ""
    retry_after: float | None = None
    for attempt in range(config.tries):
        if attempt:
            wait = config.backoff_s * 2 ** (attempt - 1)
            time.sleep(min(wait if retry_after is None else retry_after, config.max_wait_s))
        retry_after = None
        try:
            _download_once(session, url, dest, file, config)
            return
        except _Transient as err:
            problem, retry_after = err.problem, err.retry_after
    raise StarterError(f"{problem} after {config.tries} tries ({url})")


def _open(session, url: str, config: FetchConfig):
    """The response to GET `url`, following redirects here so each hop is checked."""
    import requests

    from starter.http import parse_retry_after

    for _ in range(config.max_redirects + 1):
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise StarterError(f"refused to fetch {url!r}: only http and https addresses are read")
        try:
            response = session.get(url, stream=True, allow_redirects=False,
                                   timeout=(config.timeout_s, config.timeout_s))
        except requests.exceptions.Timeout:
            raise _Transient(f"no answer within {config.timeout_s:g} s") from None
        except requests.exceptions.ConnectionError as err:
            reason = _offline_reason(err)
            if reason is None:  # reset or hung up before answering: another try may work
                raise _Transient(f"the connection broke before an answer "
                                 f"({type(err).__name__})") from None
            raise StarterError(f"cannot reach {urlsplit(url).netloc} ({reason}): are you "
                               "offline? `mi-starter data fetch` needs the network; with a copy "
                               "of the files, give its folder to the reader instead") from None
        except requests.RequestException as err:
            raise StarterError(f"cannot request {url!r} ({type(err).__name__})") from None
        status = response.status_code
        if status in _REDIRECTS:
            location = response.headers.get("Location", "")
            response.close()
            if not location:
                raise StarterError(f"HTTP {status} redirect without a Location header from {url}")
            target = urljoin(url, location)
            if scheme == "https" and urlsplit(target).scheme == "http":
                raise StarterError(f"refused a redirect from https down to http ({target})")
            url = target
            continue
        if status == 200:
            return response
        response.close()
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"), floor=0.0,
                                     ceiling=config.max_wait_s)
            raise _Transient(f"HTTP {status}", wait)
        raise StarterError(f"HTTP {status} from {url}: the file is not at its pinned address "
                           "(has the release moved? is the base URL right?)")
    raise StarterError(f"more than {config.max_redirects} redirects, last to {url}")


_OFFLINE = {  # words in a connection error -> what the user is told
    "refused": "connection refused", "Name or service not known": "DNS lookup failed",
    "Temporary failure in name resolution": "DNS lookup failed",
    "nodename nor servname": "DNS lookup failed", "getaddrinfo failed": "DNS lookup failed",
    "Network is unreachable": "network unreachable", "No route to host": "no route to host",
}


def _offline_reason(err: Exception) -> str | None:
    """Why the host could not be reached at all, or None (the connection broke instead)."""
    text = str(err)
    return next((reason for words, reason in _OFFLINE.items() if words in text), None)


def _download_once(session, url: str, dest: Path, file: ReleaseFile, config: FetchConfig) -> None:
    import requests

    response = _open(session, url, config)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        with response, tmp.open("wb") as out:
            try:
                for block in response.iter_content(CHUNK_BYTES):  # gzip is inflated here
                    size += len(block)
                    if size > file.size:
                        raise StarterError(f"longer than the pinned {file.size:,} bytes: not the "
                                           "pinned file (nothing written)")
                    digest.update(block)
                    out.write(block)
            except requests.RequestException as err:  # broken connection, bad chunking, timeout
                raise _Transient(f"truncated: the connection ended before all {file.size:,} "
                                 f"bytes arrived ({type(err).__name__})") from None
        if size < file.size:
            raise _Transient(f"truncated: {size:,} of {file.size:,} bytes arrived")
        if digest.hexdigest() != file.sha256:
            raise StarterError(f"checksum mismatch: sha256 {digest.hexdigest()[:12]}... but the "
                               f"registry pins {file.sha256[:12]}... (nothing written; the file "
                               "served is not the pinned one)")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def local_copy(name: str, folder: str | Path | None = None) -> Path:
    """The folder holding release `name`: `folder` if given (any copy, not checked), else its
    folder in the kit's cache once every file is there (sizes checked, not checksums).

    >>> local_copy("thought-anchors", "/my/copy").as_posix()
    '/my/copy'
    """
    if folder is not None:
        return Path(folder).expanduser()
    release = get_release(name)
    if not release.fetchable:
        raise UsageError(f"{name} is read from a local copy only: give its folder "
                         f"({release.local_only})")
    where = cache_folder(release)
    missing = [f for f in release.files
               if not (where / f.path).is_file() or (where / f.path).stat().st_size != f.size]
    if missing:
        raise UsageError(f"{name} is not in the cache ({len(missing)} of {len(release.files)} "
                         f"files missing under {where}); run `mi-starter data fetch {name}` "
                         "or give the folder of your copy")
    return where
