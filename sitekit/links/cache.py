"""Cache: verdicts with timestamps in one JSON file, written atomically in small batches."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path

from sitekit.links.records import RESULTS, Verdict
from starter.errors import StarterError

CACHE_VERSION = 1


class CorruptCacheWarning(UserWarning):
    """The cache file could not be read; the run starts with an empty cache and rewrites it."""


def _check_entry(entry: object) -> None:
    """Raise ValueError unless `entry` is one well-typed cache entry (no field can crash `get`)."""
    if not isinstance(entry, dict):
        raise ValueError(f"an entry is {type(entry).__name__}, expected an object")
    checked_at = entry.get("checked_at")
    if isinstance(checked_at, bool) or not isinstance(checked_at, (int, float)):
        raise ValueError(f"checked_at {checked_at!r} is not a number")
    if not math.isfinite(checked_at):
        raise ValueError(f"checked_at {checked_at!r} is not a finite number")
    status = entry.get("http_status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise ValueError(f"http_status {status!r} is not an integer")
    if entry.get("result") not in RESULTS:
        raise ValueError(f"result {entry.get('result')!r} is not one of {RESULTS}")
    if not isinstance(entry.get("final_url"), (str, type(None))):
        raise ValueError("final_url is not a string")
    if not isinstance(entry.get("detail"), str):
        raise ValueError("detail is not a string")


class LinkCache:
    """`{"version": 1, "links": {url: {result, http_status, final_url, detail, checked_at}}}`.

    A verdict younger than the TTL is reused, except `broken`: broken links are re-checked every
    run.
    A verdict stamped in the future is not trusted (a clock or a hand edit): it is checked again.

    >>> cache = LinkCache(None)
    >>> cache.put("https://x.org/", Verdict("ok", 200))
    >>> cache.get("https://x.org/")
    Verdict(result='ok', http_status=200, final_url=None, detail='')
    """

    def __init__(self, path: Path | None, ttl_hours: float = 24.0, flush_every: int = 25,
                 flush_seconds: float = 2.0) -> None:
        self.path = path  # the JSON file; None keeps verdicts in memory only
        self.ttl_seconds = ttl_hours * 3600  # reuse non-broken verdicts younger than this
        self.flush_every = flush_every  # results per write (and at most flush_seconds between)
        self.flush_seconds = flush_seconds
        self.entries: dict[str, dict] = self._load() if path else {}
        self._pending = 0
        self._last_flush = time.monotonic()

    def _load(self) -> dict[str, dict]:
        assert self.path is not None
        from starter.files import NotRegularFile, read_regular

        try:
            raw = read_regular(self.path)  # a named pipe is refused, never waited on
            if raw is None:
                return {}
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
                raise ValueError(f"expected {{'version': {CACHE_VERSION}, 'links': {{...}}}}")
            entries = data["links"]
            for entry in entries.values():
                _check_entry(entry)
        except (OSError, NotRegularFile, ValueError, KeyError, TypeError, AttributeError) as err:
            warnings.warn(f"ignoring unreadable link cache {self.path} "
                          f"({type(err).__name__}: {err}); every URL is checked again and the "
                          "file is rewritten", CorruptCacheWarning, stacklevel=3)
            return {}
        return entries

    def get(self, url: str, now: float | None = None) -> Verdict | None:
        """The stored verdict if fresh and not broken, else None (meaning: fetch it)."""
        entry = self.entries.get(url)
        now = time.time() if now is None else now
        if entry is None or entry["result"] == "broken":
            return None
        age = now - entry["checked_at"]
        if age > self.ttl_seconds or age < -60:  # a minute of clock skew is tolerated
            return None
        return Verdict(entry["result"], entry["http_status"], entry["final_url"], entry["detail"])

    def put(self, url: str, verdict: Verdict) -> None:
        """Store a verdict (skipped ones are not worth keeping); writes the file every few puts."""
        if verdict.result == "skipped":
            return
        self.entries[url] = {**asdict(verdict), "checked_at": time.time()}
        self._pending += 1
        stale = time.monotonic() - self._last_flush >= self.flush_seconds
        if self._pending >= self.flush_every or stale:
            self.flush()

    def flush(self) -> None:
        """Write the whole cache to a temp file beside it, then os.replace: never a half-written
        file."""
        self._pending, self._last_flush = 0, time.monotonic()
        if self.path is None:
            return
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": CACHE_VERSION, "links": self.entries}, handle, indent=0)
            os.replace(tmp, self.path)
        except OSError as err:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise StarterError(f"cannot write the link cache {self.path}: {err.strerror or err}; "
                               "give another --cache FILE") from None
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise
