"""What the package's two HTTP clients share: one request under a wall-clock deadline, a body read
within a size cap, Retry-After parsed safely, and the retry loop around them.

The Neuronpedia client (`starter.neuronpedia`) and the OpenAI-compatible backend
(`starter.backends.openai`) each keep their own words (errors name their settings and what to do);
the mechanics live here once. No torch; only `requests` and the standard library.

>>> excerpt("HTTP 503:\\n  busy")
"'HTTP 503: busy'"
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable

import requests
import urllib3

from starter.errors import Secret, UsageError

CONNECT_RETRIES = 2  # a refused connection or failed DNS lookup rarely heals in seconds: fail fast
RETRY_AFTER_FLOOR_S = 1.0  # shortest wait Retry-After can ask for (0, past dates)
RETRY_AFTER_CEILING_S = 60.0  # longest wait a Retry-After header can ask for (huge, far dates)
RETRY_AFTER_CAP_S = 86_400.0  # a day: where reading a Retry-After stops, so every wait is finite
REDACTED = "[redacted API key]"  # what a key becomes in any text a client shows or stores
CHUNK_BYTES = 64 * 1024  # read size while streaming a body


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, its body read within the caps (and the key scrubbed)."""

    status: int  # HTTP status of the last hop
    text: str  # body decoded as UTF-8 (invalid bytes replaced), the API key replaced by REDACTED
    retry_after: str | None  # the raw Retry-After header, if any
    url: str = ""  # the URL that answered (differs from the request's after a redirect)
    content_type: str = ""  # the Content-Type header, if any


class DeadlinePassed(Exception):
    """A request's wall-clock deadline passed (the clients turn it into their own error)."""


class BodyRefused(Exception):
    """A body this package will not read; the client words the error (`read_body`)."""


class BodyTooLarge(BodyRefused):
    """More than the cap, declared, on the wire or once inflated."""


class UnreadableEncoding(BodyRefused):
    """A Content-Encoding the client did not ask for or cannot inflate."""

    def __init__(self, encoding: str):
        super().__init__(encoding)
        self.encoding = encoding  # the header's value, lower-cased


class CorruptCompression(BodyRefused):
    """A gzip or deflate body that does not decompress."""

    def __init__(self, encoding: str, detail: str):
        super().__init__(f"{encoding}: {detail}")
        self.encoding = encoding  # the header's value, lower-cased
        self.detail = detail  # zlib's words


def excerpt(text: str, limit: int = 160) -> str:
    """The start of `text` on one line, quoted, for an error message.

    >>> excerpt("a\\n  b" + "c" * 300, limit=5)
    "'a bcc...'"
    """
    snippet = " ".join(text[:limit * 4].split())  # never split a 16 MB body to show 160 characters
    more = len(snippet) > limit or len(text) > limit * 4
    return repr(snippet[:limit] + ("..." if more else ""))


def checked_key(key: str | None, where: str, kind: str = "") -> Secret | None:
    """The key, or None when unset or empty; a UsageError (which never shows the key) when it has
    a character an HTTP header cannot carry. `kind` names the service in the advice.

    >>> checked_key("", "api_key") is None
    True
    >>> checked_key("abc\\n", "MY_KEY")
    Traceback (most recent call last):
    ...
    starter.errors.UsageError: MY_KEY has a space, control or non-ASCII character at position 4 \
of 4 (the key is not shown); remove it (often a trailing newline)
    """
    if not key:
        return None
    bad = next((i for i, ch in enumerate(key) if not "!" <= ch <= "~"), None)
    if bad is not None:
        what = f"a {kind} key is printable ASCII without spaces: " if kind else ""
        raise UsageError(f"{where} has a space, control or non-ASCII character at position "
                         f"{bad + 1} of {len(key)} (the key is not shown); {what}remove it "
                         "(often a trailing newline)")
    return Secret(key)


def run_before_deadline(work: Callable[[threading.Event], Any], deadline: float, name: str) -> Any:
    """`work(abandon)`'s result, or DeadlinePassed once `time.monotonic()` reaches `deadline`.

    `requests` times each socket read, not the whole exchange, so the exchange runs in a worker
    thread that is abandoned at the deadline (`abandon` is set; the work's own reads are bounded
    too, so it ends on its own). An exception in the work is raised in the caller's thread.

    >>> run_before_deadline(lambda abandon: 42, time.monotonic() + 5, "doc")
    42
    """
    abandon = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["reply"] = work(abandon)
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        abandon.set()
        raise DeadlinePassed()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["reply"]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, read as RFC 9110 says, or None.

    Delay-seconds must be digits: "nan", "-5", "inf" and "1e3" are not, and count as absent (the
    caller then uses its own backoff). An HTTP date counts from `now`; a past date is 0 seconds.
    Huge values and far dates are capped at RETRY_AFTER_CAP_S, so the result is always finite.
    Both HTTP clients of the repository (this package's and the site's link checker) read the
    header here and clamp the result to their own floor and ceiling.

    >>> retry_after_seconds("3"), retry_after_seconds("9" * 400)
    (3.0, 86400.0)
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0)
    10.0
    >>> [retry_after_seconds(bad) for bad in ("soon", "nan", "-5", "inf", "1e3", "", None)]
    [None, None, None, None, None, None, None]
    """
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)  # a 400-digit value is inf here, and capped below
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_CAP_S)


def parse_retry_after(value: str | None, now: float | None = None,
                      floor: float = RETRY_AFTER_FLOOR_S,
                      ceiling: float = RETRY_AFTER_CEILING_S) -> float | None:
    """Seconds a `Retry-After` header asks for, clamped to `floor` and `ceiling`.

    None when absent or unreadable (see `retry_after_seconds`); 0 and past dates give the floor,
    huge values and far dates the ceiling.

    >>> parse_retry_after("3"), parse_retry_after("0"), parse_retry_after("9" * 400)
    (3.0, 1.0, 60.0)
    >>> parse_retry_after("-5") is None, parse_retry_after("nan") is None
    (True, True)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:40 GMT", now=10.0)
    30.0
    >>> parse_retry_after("0", floor=0.01, ceiling=0.05)
    0.01
    """
    seconds = retry_after_seconds(value, now)
    if seconds is None:
        return None
    return min(max(seconds, floor), ceiling)


def read_body(response: requests.Response, *, cap: int, deadline: float,
              abandon: threading.Event, inflate: bool) -> bytes:
    """The body of a streamed `response`, at most `cap` bytes on the wire and (with `inflate`:
    gzip or deflate) after inflating, read in chunks between deadline checks.

    Raises BodyTooLarge, UnreadableEncoding (an encoding other than identity, or than gzip and
    deflate with `inflate`), CorruptCompression, or DeadlinePassed.
    """
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge()
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif inflate and encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
    else:
        raise UnreadableEncoding(encoding)
    wire = 0
    out = bytearray()
    try:
        for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
            if abandon.is_set() or time.monotonic() > deadline:
                raise DeadlinePassed()
            wire += len(chunk)
            if wire > cap:
                raise BodyTooLarge()
            out += inflater.decompress(chunk, cap + 1 - len(out)) if inflater else chunk
            if len(out) > cap:
                raise BodyTooLarge()
        if inflater is not None:
            out += inflater.flush()
    except zlib.error as err:
        raise CorruptCompression(encoding, str(err)) from None
    if len(out) > cap:
        raise BodyTooLarge()
    return bytes(out)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a client retries one request."""

    max_retries: int  # tries after the first, for 429, 5xx, timeouts and broken answers
    backoff_s: float  # first wait without Retry-After; doubles per retry, times 0.5-1 jitter
    timeout_problem: str  # what a passed deadline is called in the final error
    max_total_wait_s: float = math.inf  # stop rather than wait longer than this in all
    connect_retries: int = CONNECT_RETRIES  # refused connections are retried at most this often


@dataclass(frozen=True)
class Retry:
    """A `judge`'s verdict on a reply that another try may fix."""

    problem: str  # what went wrong, for the final error
    retry_after: float | None = None  # the wait the server asked for (parsed), if any


class GaveUp(Exception):
    """The retries ran out; the client words the error from these facts."""

    def __init__(self, tries: int, waited_s: float, problem: str):
        super().__init__(problem)
        self.tries = tries  # requests made
        self.waited_s = waited_s  # seconds of backoff in all
        self.problem = problem  # the last thing that went wrong


def send_with_retries(policy: RetryPolicy, attempt: Callable[[], Reply],
                      judge: Callable[[Reply], Any],
                      unrequestable: Callable[[requests.RequestException], Exception],
                      cancel: threading.Event | None = None,
                      cancelled: Callable[[], Exception] | None = None) -> Any:
    """`judge(reply)` of the first reply it does not answer with `Retry`, trying again after
    timeouts, refused connections, broken bodies and `Retry`s, with exponential backoff.

    `unrequestable(err)`: the error for a request no retry can fix (a malformed URL).
    `cancel` set (another request failed): raise `cancelled()` before the next try; the backoff
    wakes early. Raises GaveUp when the tries or the total wait run out.

    >>> def judge(reply):
    ...     return Retry("HTTP 503", 0.0) if reply.status == 503 else reply.text
    >>> replies = iter([Reply(503, "", None), Reply(200, "done", None)])
    >>> policy = RetryPolicy(max_retries=2, backoff_s=0.0, timeout_problem="timed out")
    >>> send_with_retries(policy, lambda: next(replies), judge, ValueError)
    'done'
    """
    waited = 0.0
    problem = ""
    connect_failures = 0
    for number in range(policy.max_retries + 1):
        if cancel is not None and cancel.is_set() and cancelled is not None:
            raise cancelled()
        retry_after = None
        try:
            reply = attempt()
        except (DeadlinePassed, requests.Timeout, urllib3.exceptions.ReadTimeoutError):
            problem = policy.timeout_problem
        except requests.ConnectionError as err:
            problem = f"could not connect ({type(err).__name__})"
            connect_failures += 1
        except requests.RequestException as err:  # a malformed URL and the like: no retry helps
            raise unrequestable(err) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:  # the connection broke mid-body
            problem = f"the connection broke while reading the answer ({type(err).__name__})"
        else:
            verdict = judge(reply)
            if not isinstance(verdict, Retry):
                return verdict
            problem = verdict.problem
            retry_after = verdict.retry_after
            if retry_after is not None:
                problem += f" (Retry-After: {retry_after:g} s)"
        if number == policy.max_retries or connect_failures > policy.connect_retries:
            break
        delay = retry_after
        if delay is None:
            delay = policy.backoff_s * 2**number * random.uniform(0.5, 1.0)
        if waited + delay > policy.max_total_wait_s:
            break
        if cancel is not None:
            cancel.wait(delay)  # wakes early when the call is cancelled
        else:
            time.sleep(delay)
        waited += delay
    raise GaveUp(number + 1, waited, problem)
