"""Check: internal links of a built site on disk, external URLs over HTTP, and the whole run.

    check_internal  relative links of a built site -> a file, `#fragment` -> an id/name on that page
    check_external  each unique URL fetched once: HEAD (GET when needed), redirects followed by
                    hand, retries with backoff, per-host concurrency cap, a wall-clock deadline per
                    request and a bounded body (as sent and once inflated)
    check_links     extract, check, cache and report in one call

Fragments `""` and `top` always resolve (HTML spec), so do text fragments (`#:~:text=`); on
github.com `#x` also matches GitHub's `id="user-content-x"` and `#L10-L20` line anchors (rendered
by JavaScript, so not in the HTML we get). Material's `#__codelineno-N-M` line links need no rule:
the page carries those ids, so they are checked like any other anchor.
"""

from __future__ import annotations

import asyncio
import random
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import httpx

from sitekit.links.cache import LinkCache
from sitekit.links.extract import (
    Site,
    SiteInput,
    classify_paths,
    display,
    extract_source,
    is_file,
    scan_html,
)
from sitekit.links.records import RESULTS, CheckOptions, Citation, LinkResult, Verdict
from sitekit.links.report import Report
from starter.errors import StarterError, UsageError
from starter.http import retry_after_seconds as parse_retry_after  # RFC 9110; capped at a day

# URL scheme -> how we treat it. "check": fetch it; "skip": report as skipped; "ignore": not a link.
SCHEMES: dict[str, str] = {
    "http": "check", "https": "check", "mailto": "skip", "tel": "skip", "ftp": "skip",
    "javascript": "ignore", "data": "ignore", "blob": "ignore",
}

# HTML spec: "#" and "#top" scroll to the top with no element.
ALWAYS_VALID_FRAGMENTS = ("", "top")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case ("" for a relative link); never raises, unlike urlsplit.

    >>> scheme_of("HTTP://[::1"), scheme_of("guide/#setup"), scheme_of("//cdn.example/x.js")
    ('http', '', '')
    """
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


def url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be requested, or None when it can.

    Checked with the parser the request will use (ports, IDNA host names, control characters).

    >>> url_problem("https://example.org/a?b#c") is None
    True
    >>> url_problem("http://[::1")
    'invalid URL: Invalid IPv6 URL'
    >>> url_problem("http://xn--/")
    'invalid URL: Malformed A-label, no Punycode eligible content found'
    """
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            return "invalid URL: no host name"
        parsed = httpx.URL(url)
        _ = (parsed.host, parsed.raw_host, parsed.port)  # decoded lazily: IDNA errors show here
    except (ValueError, httpx.InvalidURL) as err:  # idna.IDNAError is a ValueError too
        return f"invalid URL: {_one_line(err)}"
    return None


# --------------------------------------------------------------------------------------------------
# Internal links of a built site
# --------------------------------------------------------------------------------------------------


def _internal_verdict(site: Site, target: str | None, fragment: str) -> Verdict:
    if target is None:
        return Verdict("broken", detail="points outside the site folder")
    file = site.root / target
    if not is_file(file):
        detail = f"no file {target} in the site (a page that was never built?)"
        return Verdict("broken", detail=detail)
    fragment = unquote(fragment)
    if fragment in ALWAYS_VALID_FRAGMENTS or file.suffix.lower() not in (".html", ".htm"):
        return Verdict("ok")
    try:
        anchors = site.scan(file).anchors
    except StarterError as err:
        return Verdict("broken", detail=str(err))
    if fragment in anchors:
        return Verdict("ok")
    return Verdict("broken", detail=f"{target} has no id or name {fragment!r} (renamed heading?)")


def check_internal(site_input: SiteInput) -> tuple[list[LinkResult], list[Citation]]:
    """Check relative links and #anchors of built pages; return their results and the other
    citations.

    Results are keyed by target file ("site/guide/index.html#setup"), so two pages linking the same
    place are one row with two `found_in` entries. Links with a scheme (https:, mailto:) come back
    as citations for the external check. A page that cannot be read (a symlink loop) is a broken row
    of its own.
    """
    site = Site(site_input.root)
    verdicts: dict[str, Verdict] = {}
    found_in: dict[str, list[str]] = defaultdict(list)
    external: list[Citation] = []
    root_shown = display(site_input.root)
    for page in site_input.pages:
        page_shown = display(page)
        try:
            page_links = site.scan(page).links
        except StarterError as err:
            verdicts[page_shown] = Verdict("broken", detail=str(err))  # "cannot read PATH: why"
            found_in[page_shown].append(page_shown)
            continue
        for href, line in page_links:
            where = f"{page_shown}:{line}"
            if scheme_of(href) or href.startswith("//"):
                external.append(Citation("https:" + href if href.startswith("//") else href, where))
                continue
            parts = urlsplit(href)  # no scheme and no "//": nothing here can raise
            target = site.resolve(page, parts.path)
            shown = f"{root_shown}/{target}" if target is not None else href
            key = shown + (f"#{parts.fragment}" if parts.fragment else "")
            if key not in verdicts:
                verdicts[key] = _internal_verdict(site, target, parts.fragment)
            found_in[key].append(where)
    results = [LinkResult.of(key, verdict, found_in[key]) for key, verdict in verdicts.items()]
    return results, external


# --------------------------------------------------------------------------------------------------
# External links: concurrent, polite, bounded, each document fetched once
# --------------------------------------------------------------------------------------------------

PERMANENT_REDIRECTS = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 500, 502, 503, 504}
# HEAD answered with these: ask again with GET (many servers refuse or mishandle HEAD).
HEAD_FALLBACK = {400, 403, 404, 405, 406, 410, 501}
# Final status -> result, where the status class does not decide it: hosts that refuse checkers.
STATUS_RESULTS = {401: "unverified", 403: "unverified", 429: "unverified", 999: "unverified"}
# Content-Encodings we ask for and inflate ourselves, chunk by chunk, within max_body_bytes.
ACCEPT_ENCODING = "gzip, deflate"
# The response header that carries Location past httpx's redirect logic (see _hide_location).
LOCATION_KEPT = "x-sitekit-location"
# Bodies up to this size (by Content-Length) are drained so the connection can be reused.
DRAIN_LIMIT = 65_536


def _github_fragment(fragment: str, anchors: frozenset[str]) -> bool:
    # README headings carry id="user-content-<slug>"; #L10-L20 line anchors are rendered by JS.
    return (f"user-content-{fragment.lower()}" in anchors
            or re.fullmatch(r"L\d+(C\d+)?(-L\d+(C\d+)?)?", fragment) is not None)


# host -> extra rule saying a fragment is present even if no id/name matches literally.
FRAGMENT_RULES = {"github.com": _github_fragment}


def fragment_found(url: str, fragment: str, anchors: frozenset[str]) -> bool:
    """Whether `#fragment` lands somewhere on the page at `url` whose ids/names are `anchors`.

    >>> fragment_found("https://github.com/a/b", "install", frozenset({"user-content-install"}))
    True
    >>> fragment_found("https://example.org/", "missing", frozenset({"present"}))
    False
    """
    fragment = unquote(fragment)
    if fragment in anchors or fragment in ALWAYS_VALID_FRAGMENTS or fragment.startswith(":~:"):
        return True
    try:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return False
    rule = FRAGMENT_RULES.get(host)
    return bool(rule and rule(fragment, anchors))


def retry_wait(retry_after: float | None, backoff: float, options: CheckOptions) -> float | None:
    """Seconds to wait before retrying, or None to give up: the host asks for more patience than
    `max_retry_after`. A Retry-After below `min_retry_after` (0, a past date) waits the floor.

    >>> options = CheckOptions(min_retry_after=1.0, max_retry_after=60.0)
    >>> [retry_wait(after, 0.5, options) for after in (0.0, 30.0, None)]
    [1.0, 30.0, 0.5]
    >>> retry_wait(3600.0, 0.5, options) is None
    True
    """
    if retry_after is None:
        return backoff
    if retry_after > options.max_retry_after:
        return None
    return max(retry_after, options.min_retry_after)


@dataclass(frozen=True)
class _Reply:
    """The parts of one HTTP response we use (the connection is closed before we return)."""

    status: int  # HTTP status code
    location: str | None  # the Location header, for redirects
    retry_after: float | None  # parsed Retry-After, seconds
    anchors: frozenset[str] | None  # ids/names when the body was read as HTML, else None
    unread: str  # why the anchors are None, or what limited them ("" when the whole page was read)


class _Unreachable(Exception):
    """No usable HTTP answer (DNS, refused, timeouts after retries, loops); carries the verdict."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict


class _Inflater:
    """Content-Encoding gzip/deflate/identity, inflated a chunk at a time up to a byte budget."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":  # meant zlib-wrapped; some servers send raw deflate
            self._zlib = zlib.decompressobj()
            self._fresh = True
        elif encoding not in ("", "identity"):
            raise ValueError(f"body encoded with {encoding!r}")

    def feed(self, chunk: bytes, budget: int) -> bytes:
        """At most `budget` inflated bytes of `chunk` (zlib.error when the stream is corrupt)."""
        if self._zlib is None:
            return chunk[:budget]
        if self.encoding == "deflate" and self._fresh:
            self._fresh = False
            try:
                return self._zlib.decompress(chunk, budget)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._zlib.decompress(chunk, budget)


@dataclass(frozen=True)
class _Body:
    """What was read of a response body."""

    data: bytes  # the inflated bytes, at most the limit
    unread: str  # "" when the whole body was read, else why not all of it


async def read_limited(response: httpx.Response, limit: int) -> _Body:
    """The body, inflated, stopping at `limit` bytes as sent or inflated, whichever comes first.

    Reads raw chunks and inflates them with a budget, so a small gzip that inflates to gigabytes
    never lands in memory whole (httpx's own decoder inflates each chunk completely).
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    try:
        inflater = _Inflater(encoding)
    except ValueError as err:
        return _Body(b"", str(err))
    out = bytearray()
    sent = 0
    async for chunk in response.aiter_raw():
        sent += len(chunk)
        try:
            out += inflater.feed(chunk, limit + 1 - len(out))
        except zlib.error as err:
            return _Body(bytes(out), f"{encoding} body could not be inflated ({_one_line(err)})")
        if len(out) > limit or sent > limit:
            return _Body(bytes(out[:limit]), f"only the first {limit} bytes read")
    return _Body(bytes(out), "")


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes to text with the declared charset, else UTF-8; undecodable bytes are replaced.

    >>> decode_text(b"caf\\xc3\\xa9", "rot13")  # not a text encoding: UTF-8 instead of a crash
    'café'
    """
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except (LookupError, UnicodeError):  # unknown charset, or a codec that is not for text
        return data.decode("utf-8", errors="replace")


async def _drain(response: httpx.Response) -> None:
    """Read a small body as sent (never inflated): a drained connection is reused."""
    async for _chunk in response.aiter_raw():
        pass


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _status_result(status: int) -> str:
    if status in STATUS_RESULTS:
        return STATUS_RESULTS[status]
    return "ok" if 200 <= status < 300 else "broken"


def _small_body(response: httpx.Response) -> bool:
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) <= DRAIN_LIMIT


def _with_fragment(url: str, fragment: str) -> str:
    return f"{url}#{fragment}" if fragment else url


class ExternalChecker:
    """Fetches documents over one httpx client, with a per-host concurrency cap and polite
    retries."""

    def __init__(self, options: CheckOptions, client: httpx.AsyncClient) -> None:
        self.options = options
        self.client = client
        self._host_slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(options.max_per_host))
        self._all_slots = asyncio.Semaphore(options.max_total)

    async def check_document(self, url: str, fragments: set[str]) -> dict[str, Verdict]:
        """Verdicts for `url` and for `url#f` for each f in `fragments` (one fetch of the
        document)."""
        try:
            chain, reply = await self._follow(url, want_anchors=bool(fragments))
        except _Unreachable as failure:
            return {_with_fragment(url, f): failure.verdict for f in fragments | {""}}
        verdicts = {}
        for fragment in fragments:
            base = self._verdict(url, chain, reply, fragment)
            verdicts[_with_fragment(url, fragment)] = self._fragment_verdict(base, reply, fragment)
        verdicts.setdefault(url, self._verdict(url, chain, reply))
        return verdicts

    def _verdict(self, url: str, chain: list[tuple[int, str]], reply: _Reply,
                 fragment: str = "") -> Verdict:
        """The document's verdict from its redirect chain and last answer; URLs keep `#fragment`."""
        final_url = _with_fragment(chain[-1][1] if chain else url, fragment)
        hops = "; ".join(f"{status} -> {target}" for status, target in chain)
        if reply.status in REDIRECTS:  # a redirect with no Location header
            detail = f"{_status_text(reply.status)} without a Location"
            return Verdict("broken", reply.status, final_url, detail)
        result = _status_result(reply.status)
        detail = _status_text(reply.status) if result != "ok" else ""
        if result == "ok" and chain and chain[0][0] in PERMANENT_REDIRECTS:
            moved_to = url
            for status, target in chain:  # the new address is where the permanent hops lead
                if status not in PERMANENT_REDIRECTS:
                    break
                moved_to = target
            detail = f"moved permanently: update to {_with_fragment(moved_to, fragment)} ({hops})"
            return Verdict("redirected", reply.status, final_url, detail)
        if hops:
            detail = f"{detail} after redirects ({hops})".strip()
        return Verdict(result, reply.status, final_url, detail)

    def _fragment_verdict(self, base: Verdict, reply: _Reply, fragment: str) -> Verdict:
        """`base` (the page works) narrowed by whether the page has the id/name `fragment`."""
        if base.result not in ("ok", "redirected"):
            return base
        if reply.anchors is None:  # not HTML (a PDF page number, ...): nothing to look for
            detail = f"{base.detail}; #{fragment} not checked ({reply.unread})".strip("; ")
            return Verdict(base.result, base.http_status, base.final_url, detail)
        if fragment_found(urldefrag(base.final_url or "")[0], fragment, reply.anchors):
            return base
        if reply.unread:  # a page longer than max_body_bytes: the id may be further down, so
            # the fragment is neither found nor missing: unverified, never ok
            detail = f"#{fragment} not found in the part read ({reply.unread}); not verified"
            return Verdict("unverified", base.http_status, base.final_url, detail)
        detail = f"page has no id or name {unquote(fragment)!r}"
        return Verdict("broken", base.http_status, base.final_url, detail)

    async def _follow(self, url: str, want_anchors: bool) -> tuple[list[tuple[int, str]], _Reply]:
        """Follow redirects by hand: record the chain; stop on loops and after max_redirects
        hops."""
        chain: list[tuple[int, str]] = []
        seen = {url}
        current = url
        while True:
            reply = await self._fetch(current, want_anchors)
            location = reply.location
            problem: str | None
            if reply.status not in REDIRECTS or not location:
                return chain, reply
            try:
                target = urldefrag(urljoin(current, location))[0]
            except ValueError as err:
                target, problem = location, f"invalid URL: {_one_line(err)}"
            else:
                problem = url_problem(target) if scheme_of(target) in ("http", "https") else None
            if problem:
                detail = f"{_status_text(reply.status)} redirects to {target!r}: {problem}"
                raise _Unreachable(Verdict("broken", reply.status, None, detail))
            chain.append((reply.status, target))
            hops = " -> ".join([url, *(t for _s, t in chain)])
            if target in seen:
                detail = f"redirect loop: {hops}"
                raise _Unreachable(Verdict("broken", reply.status, target, detail))
            if len(chain) > self.options.max_redirects:
                detail = f"more than {self.options.max_redirects} redirects: {hops}"
                raise _Unreachable(Verdict("broken", reply.status, target, detail))
            seen.add(target)
            current = target

    async def _fetch(self, url: str, want_anchors: bool) -> _Reply:
        """One hop: HEAD when only the status matters, GET when HEAD is refused or anchors are
        needed."""
        if not want_anchors:
            reply = await self._request("HEAD", url, read_body=False)
            if reply.status not in HEAD_FALLBACK:
                return reply
        return await self._request("GET", url, read_body=want_anchors)

    async def _request(self, method: str, url: str, read_body: bool) -> _Reply:
        """Send, with retries on 429/5xx/timeouts: exponential backoff + jitter, or the
        Retry-After."""
        options = self.options
        for attempt in range(options.retries + 1):
            last = attempt == options.retries
            try:
                reply = await self._send(method, url, read_body)
            except (httpx.TimeoutException, asyncio.TimeoutError):
                if last:
                    raise _Unreachable(Verdict("broken", detail=(
                        f"timed out {attempt + 1} times ({options.timeout:g} s each)"))) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
                # DNS failure, connection refused, TLS failure: retrying won't help a reader either.
                detail = f"cannot connect: {_one_line(err)}"
                raise _Unreachable(Verdict("broken", detail=detail)) from None
            except httpx.TransportError as err:  # dropped connection, protocol error: transient?
                if last:
                    detail = f"connection failed: {_one_line(err)}"
                    raise _Unreachable(Verdict("broken", detail=detail)) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            except httpx.RequestError as err:  # anything else httpx refuses: not worth a retry
                detail = f"request failed: {_one_line(err)}"
                raise _Unreachable(Verdict("broken", detail=detail)) from None
            if reply.status not in RETRY_STATUSES or last:
                return reply
            wait = retry_wait(reply.retry_after, self._backoff(attempt), options)
            if wait is None:
                return reply  # the host asks for more patience than a link check has
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _backoff(self, attempt: int) -> float:
        base = self.options.backoff * 2**attempt
        return base + random.uniform(0, base)  # jitter: concurrent retries don't stampede together

    async def _send(self, method: str, url: str, read_body: bool) -> _Reply:
        """One request inside the host's slot, within `timeout` seconds of wall clock from connect
        to the last byte read (httpx's timeouts are per read: a byte every second never trips them).
        The slot is kept `delay` seconds afterwards."""
        host = urlsplit(url).netloc.lower()
        # Host slot first: a task waiting for a busy host must not hold one of the global slots.
        async with self._host_slots[host], self._all_slots:
            try:
                exchange = self._exchange(method, url, read_body)
                return await asyncio.wait_for(exchange, self.options.timeout)
            finally:
                if self.options.delay:
                    await asyncio.sleep(self.options.delay)

    async def _exchange(self, method: str, url: str, read_body: bool) -> _Reply:
        async with self.client.stream(method, url) as response:
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            anchors = None
            unread = content_type or "no content type"
            if read_body and 200 <= response.status_code < 300 and "html" in content_type:
                body = await read_limited(response, self.options.max_body_bytes)
                text = decode_text(body.data, response.charset_encoding)
                if body.unread:  # cut mid-page: drop a tag cut in half (`id="deep-sec` would read
                    text = text[:text.rfind(">") + 1]  # as a whole id "deep-sec")
                anchors = scan_html(text).anchors if body.data or not body.unread else None
                unread = body.unread
            elif method == "HEAD" or _small_body(response):
                await _drain(response)  # an unread body closes the connection; drained, it's reused
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            location = response.headers.get(LOCATION_KEPT)
            return _Reply(response.status_code, location, retry_after, anchors, unread)


async def _hide_location(response: httpx.Response) -> None:
    """Response hook: move Location aside so httpx does not parse it (it raises on an invalid one,
    e.g. `http://[::1`, before we see the response); `_follow` joins and validates it instead."""
    location = response.headers.pop("location", None)
    if location is not None:
        response.headers[LOCATION_KEPT] = location


async def _check_external_async(urls: Sequence[str], options: CheckOptions,
                                cache: LinkCache) -> dict[str, Verdict]:
    documents: dict[str, set[str]] = defaultdict(set)
    for url in urls:
        document, fragment = urldefrag(url)
        documents[document].update([fragment] if fragment else [])
    headers = {"User-Agent": options.user_agent, "Accept-Language": "en-US,en;q=0.8",
               "Accept-Encoding": ACCEPT_ENCODING,
               "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    limits = httpx.Limits(max_connections=options.max_total,
                          max_keepalive_connections=options.max_total)
    verdicts: dict[str, Verdict] = {}
    hooks = {"response": [_hide_location]}
    async with httpx.AsyncClient(headers=headers, timeout=options.timeout, limits=limits,
                                 follow_redirects=False, event_hooks=hooks) as client:
        checker = ExternalChecker(options, client)

        async def check(document: str, fragments: set[str]) -> None:
            for url, verdict in (await checker.check_document(document, fragments)).items():
                verdicts[url] = verdict
                cache.put(url, verdict)

        checks = (check(document, fragments) for document, fragments in documents.items())
        await asyncio.gather(*checks)
    return verdicts


def check_external(urls: Iterable[str], options: CheckOptions,
                   cache: LinkCache | None = None) -> dict[str, Verdict]:
    """Verdicts for valid http(s) URLs, fetching each document once (its #fragments share one GET).

    Give URLs that `url_problem` accepts; `check_links` sorts out the others first.
    """
    urls = list(dict.fromkeys(urls))
    if not urls:
        return {}
    cache = cache if cache is not None else LinkCache(None)
    try:
        return _run_coroutine(_check_external_async(urls, options, cache))
    finally:
        cache.flush()


def _run_coroutine(coro):
    """`asyncio.run`, also from code that already runs an event loop (Jupyter, Playwright's sync
    API): there `asyncio.run` refuses to start, so the check gets a loop of its own in a worker
    thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running in this thread: the usual case
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --------------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------------


def _excluded(url: str, options: CheckOptions) -> Verdict | None:
    for pattern in options.exclude:
        if re.search(pattern, url):
            return Verdict("skipped", detail=f"excluded by --exclude {pattern!r}")
    return None


def _pre_verdict(url: str, options: CheckOptions) -> Verdict | None:
    """Verdicts known without the network: excluded, non-http schemes, invalid URLs, offline."""
    if excluded := _excluded(url, options):
        return excluded
    scheme = scheme_of(url)
    policy = SCHEMES.get(scheme, "skip")
    if policy == "skip":
        return Verdict("skipped", detail=f"{scheme}: links are not checked")
    if problem := url_problem(url):
        return Verdict("broken", detail=problem)
    if options.offline:
        return Verdict("skipped", detail="offline: external links not checked")
    return None


def check_links(paths: Sequence[Path], options: CheckOptions | None = None) -> Report:
    """Check every link in `paths` (built sites, Markdown, YAML catalogs) and return the report.

    >>> import tempfile, pathlib
    >>> doc = pathlib.Path(tempfile.mkdtemp()) / "a.md"
    >>> _ = doc.write_text("[x](https://example.org) and <mailto:me@example.org>")
    >>> check_links([doc], CheckOptions(offline=True)).summary
    {'ok': 0, 'redirected': 0, 'broken': 0, 'unverified': 0, 'skipped': 2, 'total': 2}
    """
    options = options or CheckOptions()
    inputs = classify_paths(paths)
    results: list[LinkResult] = []
    citations: list[Citation] = []
    for site_input in inputs.sites:
        internal, external = check_internal(site_input)
        results += internal
        citations += external
    for source in inputs.sources:
        citations += extract_source(source)

    found_in: dict[str, list[str]] = defaultdict(list)
    for citation in citations:
        if SCHEMES.get(scheme_of(citation.url)) != "ignore":
            found_in[citation.url].append(citation.where)
    for index, link in enumerate(results):
        if excluded := _excluded(link.url, options):
            results[index] = LinkResult.of(link.url, excluded, link.found_in)

    verdicts: dict[str, Verdict] = {}
    cache_path = None if options.offline else options.cache_path
    cache = LinkCache(cache_path, options.cache_ttl_hours)
    for url in found_in:
        verdict = _pre_verdict(url, options) or cache.get(url)
        if verdict is not None:
            verdicts[url] = verdict
    verdicts |= check_external([url for url in found_in if url not in verdicts], options, cache)
    results += [LinkResult.of(url, verdicts[url], places) for url, places in found_in.items()]
    return Report(sorted(results, key=lambda link: (RESULTS.index(link.result), link.url)))


def default_paths(repo_root: Path) -> list[Path]:
    """What a bare `check_links.py` checks: the catalogs, docs/ and the built site when present."""
    catalogs = sorted((repo_root / "docs" / "data").glob("*.yaml"))
    candidates = [*catalogs, repo_root / "docs", repo_root / "site"]
    paths = [path for path in candidates if path.exists()]
    if not paths:
        raise UsageError(f"nothing to check under {repo_root}: no docs/data/*.yaml, docs/ or "
                         "site/; pass PATHs explicitly")
    return paths
