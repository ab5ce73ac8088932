"""The link checker's records: citations, verdicts, results, and the options of a run."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starter.errors import UsageError

RESULTS = ("ok", "redirected", "broken", "unverified", "skipped")

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


@dataclass(frozen=True)
class Citation:
    """One place a URL is cited: `where` is "file:line"."""

    url: str  # the URL as written (an external link, or a page path of a built site)
    where: str  # "file:line" of the citation


@dataclass(frozen=True)
class Verdict:
    """What checking a link found (the part of a result that the cache stores).

    >>> Verdict("broken", 404, detail="HTTP 404 Not Found").result
    'broken'
    """

    result: str  # one of RESULTS
    http_status: int | None = None  # status of the last response, None when there was none
    final_url: str | None = None  # where the redirects ended (external links only)
    detail: str = ""  # one human sentence: why broken, where it moved, what was skipped

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"unknown link result {self.result!r}; expected one of {RESULTS}")


@dataclass
class LinkResult:
    """A checked link and every place that cites it (the rows of the JSON report)."""

    url: str  # the link (internal links: the target file in the site, plus #fragment)
    result: str  # one of RESULTS
    http_status: int | None  # status of the last response, None when there was none
    final_url: str | None  # where the redirects ended (external links only)
    found_in: list[str]  # every "file:line" that cites it, in order, without repeats
    detail: str  # one human sentence: why broken, where it moved, what was skipped

    @classmethod
    def of(cls, url: str, verdict: Verdict, found_in: Iterable[str]) -> LinkResult:
        """A result row from a verdict and the places citing the link.

        >>> LinkResult.of("https://x.org", Verdict("ok", 200), ["a.md:1", "a.md:1"]).found_in
        ['a.md:1']
        """
        return cls(url=url, result=verdict.result, http_status=verdict.http_status,
                   final_url=verdict.final_url, found_in=list(dict.fromkeys(found_in)),
                   detail=verdict.detail)


@dataclass(frozen=True)
class CheckOptions:
    """Everything that tunes one run. Defaults are polite to real servers; tests shrink the times.

    >>> CheckOptions(timeout=float("nan"))
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: timeout must be a finite number > 0, got nan
    """

    offline: bool = False  # check only the built site's internal links and anchors
    timeout: float = 15.0  # wall-clock seconds for one request: connect, headers and body together
    max_per_host: int = 4  # concurrent requests to one host
    max_total: int = 64  # concurrent requests overall (bounds open sockets)
    delay: float = 0.2  # seconds a host slot stays taken after each request (politeness)
    retries: int = 3  # extra attempts after 429, 5xx, timeouts and dropped connections
    backoff: float = 1.0  # first wait before a retry; doubles each time, plus up to 100% jitter
    min_retry_after: float = 1.0  # shortest wait for a retry, whatever Retry-After says (0, past)
    max_retry_after: float = 120.0  # longest Retry-After we wait for; longer: give up (unverified)
    max_redirects: int = 10  # hops before "too many redirects"
    max_body_bytes: int = 10_000_000  # most bytes read of one body, as sent and once inflated
    exclude: tuple[str, ...] = ()  # regexes (re.search) on the URL; matches are reported as skipped
    cache_path: Path | None = None  # JSON cache file; None keeps verdicts in memory for this run
    cache_ttl_hours: float = 24.0  # reuse non-broken verdicts younger than this
    user_agent: str = USER_AGENT  # sent with every request (some hosts refuse unknown agents)

    def __post_init__(self) -> None:
        positive = {"timeout": self.timeout, "max_per_host": self.max_per_host,
                    "max_total": self.max_total, "max_body_bytes": self.max_body_bytes}
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{name} must be a finite number > 0, got {value}")
        not_negative = {"delay": self.delay, "retries": self.retries, "backoff": self.backoff,
                        "min_retry_after": self.min_retry_after,
                        "max_retry_after": self.max_retry_after,
                        "max_redirects": self.max_redirects,
                        "cache_ttl_hours": self.cache_ttl_hours}
        for name, value in not_negative.items():
            if not (math.isfinite(value) and value >= 0):
                raise UsageError(f"{name} must be a finite number >= 0, got {value}")
        if self.min_retry_after > self.max_retry_after:
            raise UsageError(f"min_retry_after ({self.min_retry_after}) must be <= "
                             f"max_retry_after ({self.max_retry_after})")
        for pattern in self.exclude:
            try:
                re.compile(pattern)
            except re.error as err:
                raise UsageError(f"--exclude {pattern!r} is not a valid regular expression: "
                                 f"{err}") from None
        if self.cache_path is not None and self.cache_path.is_dir():
            raise UsageError(f"--cache {self.cache_path} is a folder; give a file path "
                             "(e.g. .cache/links.json)")
