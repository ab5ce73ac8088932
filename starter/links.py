"""Link checker for the hub: internal links and anchors of the built site, and every external URL.

    python scripts/check_links.py site --offline        # what `make test` runs (no network)
    python scripts/check_links.py --markdown report.md  # full check: catalogs, docs/, site/

The pipeline, one section of this file each:

    extract         HTML pages, Markdown files and YAML catalogs -> citations (url, "file:line")
    check_internal  relative links of a built site -> a file, `#fragment` -> an id/name on that page
    check_external  each unique URL fetched once: HEAD (GET when needed), redirects followed by hand,
                    retries with backoff, per-host concurrency cap
    cache           verdicts stored in a JSON file with timestamps, written atomically in small batches
    report          JSON / Markdown / terminal summary; exit status 1 only when something is `broken`

Every link ends in one of RESULTS. `redirected` works but moved permanently (update it), `unverified`
means the host refuses checkers (401/403/429...): reported, never a failure.

Rules that keep theme plumbing out of the report (narrow on purpose):
- In HTML only what a reader clicks or sees is a link: `<a href>`, `<area href>`, `<img|iframe|embed|
  source|video|audio src>`. `<link>` (stylesheets, canonical, rel=alternate language versions, icons)
  and `<script>` belong to the theme; mkdocs-material's search index and sitemap.xml are fetched by
  its JavaScript and never appear as `<a>`.
- Absolute paths (`/hub/zh/`, used by material's language switcher and 404 page) are resolved against
  the site root after removing the base path of `site_url`, read from the root page's canonical link.
- Fragments `""` and `top` always resolve (HTML spec), so do text fragments (`#:~:text=`); on
  github.com `#x` also matches GitHub's `id="user-content-x"` and `#L10-L20` line anchors (rendered
  by JavaScript, so not in the HTML we get).
- In Markdown, fenced code blocks and inline code are not links (they hold example commands).
No rule is needed for material's `#__codelineno-N-M` line links: the page carries those ids, so they
are checked like any other anchor.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import posixpath
import random
import re
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import httpx

from starter.errors import StarterError, UsageError

RESULTS = ("ok", "redirected", "broken", "unverified", "skipped")

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


# --------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    """One place a URL is cited: `where` is "file:line"."""

    url: str
    where: str


@dataclass(frozen=True)
class Verdict:
    """What checking a link found (the part of a result that the cache stores)."""

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

    url: str
    result: str
    http_status: int | None
    final_url: str | None
    found_in: list[str]
    detail: str

    @classmethod
    def of(cls, url: str, verdict: Verdict, found_in: Iterable[str]) -> LinkResult:
        return cls(url, verdict.result, verdict.http_status, verdict.final_url,
                   list(dict.fromkeys(found_in)), verdict.detail)


@dataclass(frozen=True)
class CheckOptions:
    """Everything that tunes one run. Defaults are polite to real servers; tests shrink the times."""

    offline: bool = False  # check only the built site's internal links and anchors
    timeout: float = 15.0  # seconds for each connect/read of one request
    max_per_host: int = 4  # concurrent requests to one host
    max_total: int = 64  # concurrent requests overall (bounds open sockets)
    delay: float = 0.2  # seconds a host slot stays taken after each request (politeness)
    retries: int = 3  # extra attempts after 429, 5xx, timeouts and dropped connections
    backoff: float = 1.0  # first wait before a retry; doubles each time, plus up to 100% jitter
    max_retry_after: float = 120.0  # longest Retry-After we wait for; longer means give up (unverified)
    max_redirects: int = 10  # hops before "too many redirects"
    max_body_bytes: int = 10_000_000  # how much of an HTML page we read when looking for a #fragment
    exclude: tuple[str, ...] = ()  # regexes (re.search) on the URL; matches are reported as skipped
    cache_path: Path | None = None  # JSON cache file; None keeps verdicts in memory for this run only
    cache_ttl_hours: float = 24.0  # reuse non-broken verdicts younger than this
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        positive = {"timeout": self.timeout, "max_per_host": self.max_per_host,
                    "max_total": self.max_total, "max_body_bytes": self.max_body_bytes}
        for name, value in positive.items():
            if value <= 0:
                raise UsageError(f"{name} must be > 0, got {value}")
        not_negative = {"delay": self.delay, "retries": self.retries, "backoff": self.backoff,
                        "max_retry_after": self.max_retry_after,
                        "max_redirects": self.max_redirects, "cache_ttl_hours": self.cache_ttl_hours}
        for name, value in not_negative.items():
            if value < 0:
                raise UsageError(f"{name} must be >= 0, got {value}")
        for pattern in self.exclude:
            try:
                re.compile(pattern)
            except re.error as err:
                raise UsageError(f"--exclude {pattern!r} is not a valid regular expression: {err}") from None


# --------------------------------------------------------------------------------------------------
# Extract: HTML, Markdown, YAML -> citations
# --------------------------------------------------------------------------------------------------

# tag -> the attribute that holds a reader-facing link (see the module docstring for what is left out).
LINK_ATTRIBUTES: dict[str, str] = {
    "a": "href", "area": "href", "img": "src", "iframe": "src", "embed": "src",
    "source": "src", "video": "src", "audio": "src",
}

# URL scheme -> how we treat it. "check": fetch it; "skip": report as skipped; "ignore": not a link.
SCHEMES: dict[str, str] = {
    "http": "check", "https": "check", "mailto": "skip", "tel": "skip", "ftp": "skip",
    "javascript": "ignore", "data": "ignore", "blob": "ignore",
}


@dataclass(frozen=True)
class PageScan:
    """What one HTML page offers (ids and names, for fragments) and cites (links with line numbers)."""

    anchors: frozenset[str]
    links: tuple[tuple[str, int], ...]  # (href as written, line)
    canonical: str | None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()
        self.links: list[tuple[str, int]] = []
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        for name in ("id", "name"):  # `name` on <a> is the pre-HTML5 anchor; on <input> it's harmless
            if name in values:
                self.anchors.add(values[name])
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and values.get(attribute, "").strip():
            self.links.append((values[attribute].strip(), self.getpos()[0]))
        if tag == "link" and values.get("rel") == "canonical":
            self.canonical = values.get("href")


def scan_html(text: str) -> PageScan:
    """Anchors and reader-facing links of one HTML page.

    >>> page = scan_html('<h2 id="setup">Setup</h2>\\n<a href="guide/#intro">x</a><link href="a.css">')
    >>> sorted(page.anchors), page.links
    (['setup'], (('guide/#intro', 2),))
    """
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return PageScan(frozenset(parser.anchors), tuple(parser.links), parser.canonical)


_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_URL = re.compile(r"""(?:https?://|mailto:)[^\s<>"'`\[\]{}|\\^]+""")


def _trim_url(url: str) -> str:
    """Drop prose punctuation and unbalanced closing brackets that a regex match swallows."""
    while url:
        if url[-1] in ".,;:!?*_'":
            url = url[:-1]
        elif url[-1] == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        else:
            break
    return url


def markdown_urls(text: str) -> list[tuple[str, int]]:
    """External URLs (and mailto:) in Markdown prose with their line numbers; code is not prose.

    One pattern covers inline links, images, reference definitions, <autolinks>, raw HTML attributes
    and bare URLs; Markdown-internal links are left to `mkdocs build --strict` and the site check.

    >>> markdown_urls("See [R1](https://arxiv.org/abs/2501.12948).\\n"
    ...               "```\\ncurl http://127.0.0.1:8000\\n```\\n"
    ...               "Run `open https://x.org`; wiki <https://en.wikipedia.org/wiki/Tree_(graph)>")
    [('https://arxiv.org/abs/2501.12948', 1), ('https://en.wikipedia.org/wiki/Tree_(graph)', 5)]
    """
    found: list[tuple[str, int]] = []
    in_fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence:
            in_fence = None if in_fence == fence.group(1) else (in_fence or fence.group(1))
            continue
        if in_fence:
            continue
        prose = _INLINE_CODE.sub(" ", line)
        found.extend((url, number) for url in map(_trim_url, _URL.findall(prose)) if url)
    return found


def yaml_urls(text: str) -> list[tuple[str, int]]:
    """Every string value of a YAML document that is an http(s) URL, with its line.

    >>> yaml_urls("papers:\\n  - title: R1\\n    url: https://arxiv.org/abs/2501.12948\\n    note: see https://x")
    [('https://arxiv.org/abs/2501.12948', 3)]
    """
    import yaml  # imported here: the module stays cheap to import for the site build

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C parser when available: 10x faster
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as err:
        raise StarterError(f"not valid YAML: {err}") from None
    found: list[tuple[str, int]] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value).strip()
            if re.fullmatch(r"https?://\S+", value):
                found.append((value, node.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for _key, value in node.value)
    return sorted(found, key=lambda item: item[1])


def _display(path: Path) -> str:
    """A path as people will read it in reports: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise StarterError(f"cannot read {path}: {err.strerror}") from None


# file suffix -> function text -> [(url, line)], for source files (a built site is handled apart).
SOURCE_EXTRACTORS = {
    ".md": markdown_urls, ".markdown": markdown_urls,
    ".yaml": yaml_urls, ".yml": yaml_urls,
}


def extract_source(path: Path) -> list[Citation]:
    """Citations of one Markdown file or YAML catalog."""
    try:
        pairs = SOURCE_EXTRACTORS[path.suffix.lower()](_read(path))
    except StarterError as err:
        raise StarterError(f"{path}: {err}") from None
    shown = _display(path)
    return [Citation(url, f"{shown}:{line}") for url, line in pairs]


@dataclass
class Inputs:
    """What the given paths hold: built sites (dir + pages to check) and source files."""

    sites: list[tuple[Path, list[Path]]] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)


def classify_paths(paths: Sequence[Path]) -> Inputs:
    """Sort PATH arguments into built sites (a folder with index.html, or one .html page) and sources.

    A folder without index.html is a source tree: its Markdown and YAML files are read; HTML in it
    (theme overrides, Jinja templates) is not a page and is left alone.
    """
    inputs = Inputs()
    seen: set[Path] = set()

    def add_source(file: Path) -> None:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            inputs.sources.append(file)

    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}; give a built site folder, "
                             "Markdown files/folders or YAML catalogs")
        if path.is_dir() and (path / "index.html").is_file():
            inputs.sites.append((path, sorted(path.rglob("*.html"))))
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in file.relative_to(path).parts)
                if file.is_file() and file.suffix.lower() in SOURCE_EXTRACTORS and not hidden:
                    add_source(file)
        elif path.suffix.lower() in (".html", ".htm"):
            inputs.sites.append((path.parent, [path]))
        elif path.suffix.lower() in SOURCE_EXTRACTORS:
            add_source(path)
        else:
            allowed = ", ".join(sorted({*SOURCE_EXTRACTORS, ".html"}))
            raise UsageError(f"cannot check {path}: unsupported file type; allowed: {allowed} or a folder")
    return inputs


# --------------------------------------------------------------------------------------------------
# Check internal: a built site, offline
# --------------------------------------------------------------------------------------------------

ALWAYS_VALID_FRAGMENTS = ("", "top")  # HTML spec: "#" and "#top" scroll to the top with no element


class Site:
    """A built site folder; parses each page once, for its links and for its anchors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._scans: dict[Path, PageScan] = {}
        canonical = self.scan(root / "index.html").canonical if (root / "index.html").is_file() else None
        # mkdocs writes absolute links as /<base>/...; the base path comes from site_url.
        self.base_path = urlsplit(canonical).path if canonical else "/"
        if not self.base_path.endswith("/"):
            self.base_path += "/"

    def scan(self, page: Path) -> PageScan:
        if page not in self._scans:
            self._scans[page] = scan_html(_read(page))
        return self._scans[page]

    def resolve(self, page: Path, path: str) -> str | None:
        """Site-relative file a link path points to ("guide/index.html"), None if outside the site.

        Directory URLs resolve to their index.html.
        """
        path = unquote(path)
        page_path = page.relative_to(self.root).as_posix()
        if not path:
            return page_path
        if path.startswith("/"):
            rest = path[len(self.base_path):] if path.startswith(self.base_path) else path.lstrip("/")
            target = posixpath.normpath(rest or ".")
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page_path), path))
        if target == ".." or target.startswith("../"):
            return None
        if target == "." or path.endswith("/") or (self.root / target).is_dir():
            target = posixpath.join("" if target == "." else target, "index.html")
        return target


def _internal_verdict(site: Site, target: str | None, fragment: str) -> Verdict:
    if target is None:
        return Verdict("broken", detail="points outside the site folder")
    file = site.root / target
    if not file.is_file():
        return Verdict("broken", detail=f"no file {target} in the site (a page that was never built?)")
    fragment = unquote(fragment)
    if fragment in ALWAYS_VALID_FRAGMENTS or file.suffix.lower() not in (".html", ".htm"):
        return Verdict("ok")
    if fragment in site.scan(file).anchors:
        return Verdict("ok")
    return Verdict("broken", detail=f"{target} has no id or name {fragment!r} (renamed heading?)")


def check_internal(root: Path, pages: Iterable[Path]) -> tuple[list[LinkResult], list[Citation]]:
    """Check relative links and #anchors of built pages; return their results and the other citations.

    Results are keyed by target file ("site/guide/index.html#setup"), so two pages linking the same
    place are one row with two `found_in` entries. Links with a scheme (https:, mailto:) come back
    as citations for the external check.
    """
    site = Site(root)
    verdicts: dict[str, Verdict] = {}
    found_in: dict[str, list[str]] = defaultdict(list)
    external: list[Citation] = []
    root_shown = _display(root)
    for page in pages:
        page_shown = _display(page)
        for href, line in site.scan(page).links:
            where = f"{page_shown}:{line}"
            parts = urlsplit(href)
            if parts.scheme or href.startswith("//"):
                external.append(Citation("https:" + href if href.startswith("//") else href, where))
                continue
            target = site.resolve(page, parts.path)
            shown = f"{root_shown}/{target}" if target is not None else href
            key = shown + (f"#{parts.fragment}" if parts.fragment else "")
            if key not in verdicts:
                verdicts[key] = _internal_verdict(site, target, parts.fragment)
            found_in[key].append(where)
    results = [LinkResult.of(key, verdict, found_in[key]) for key, verdict in verdicts.items()]
    return results, external


# --------------------------------------------------------------------------------------------------
# Check external: concurrent, polite, each document fetched once
# --------------------------------------------------------------------------------------------------

PERMANENT_REDIRECTS = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 500, 502, 503, 504}
# HEAD answered with these: ask again with GET (many servers refuse or mishandle HEAD).
HEAD_FALLBACK = {400, 403, 404, 405, 406, 410, 501}
# Final status -> result, where the status class does not decide it: hosts that refuse checkers.
STATUS_RESULTS = {401: "unverified", 403: "unverified", 429: "unverified", 999: "unverified"}


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
    rule = FRAGMENT_RULES.get((urlsplit(url).hostname or "").removeprefix("www."))
    return bool(rule and rule(fragment, anchors))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent/invalid.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class _Reply:
    """The parts of one HTTP response we use (the connection is closed before we return)."""

    status: int
    location: str | None
    retry_after: float | None
    anchors: frozenset[str] | None  # ids/names when the body was read, else None
    content_type: str


class _Unreachable(Exception):
    """No usable HTTP answer (DNS, refused, timeouts after retries, loops); carries the verdict."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _status_result(status: int) -> str:
    if status in STATUS_RESULTS:
        return STATUS_RESULTS[status]
    return "ok" if 200 <= status < 300 else "broken"


class ExternalChecker:
    """Fetches documents over one httpx client with a per-host concurrency cap and polite retries."""

    def __init__(self, options: CheckOptions, client: httpx.AsyncClient) -> None:
        self.options = options
        self.client = client
        self._host_slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(options.max_per_host))
        self._all_slots = asyncio.Semaphore(options.max_total)

    async def check_document(self, url: str, fragments: set[str]) -> dict[str, Verdict]:
        """Verdicts for `url` and for `url#f` for each f in `fragments` (one fetch of the document)."""
        try:
            chain, reply = await self._follow(url, want_anchors=bool(fragments))
        except _Unreachable as failure:
            return {_with_fragment(url, f): failure.verdict for f in fragments | {""}}
        verdicts = {_with_fragment(url, f): self._fragment_verdict(self._verdict(url, chain, reply, f), reply, f)
                    for f in fragments}
        verdicts.setdefault(url, self._verdict(url, chain, reply))
        return verdicts

    def _verdict(self, url: str, chain: list[tuple[int, str]], reply: _Reply, fragment: str = "") -> Verdict:
        """The document's verdict from its redirect chain and last answer; URLs keep `#fragment`."""
        final_url = _with_fragment(chain[-1][1] if chain else url, fragment)
        hops = "; ".join(f"{status} -> {target}" for status, target in chain)
        if reply.status in REDIRECTS:  # a redirect with no Location header
            return Verdict("broken", reply.status, final_url, f"{_status_text(reply.status)} without a Location")
        result = _status_result(reply.status)
        detail = _status_text(reply.status) if result != "ok" else ""
        if result == "ok" and chain and chain[0][0] in PERMANENT_REDIRECTS:
            moved_to = url
            for status, target in chain:  # the new address is where the permanent hops lead
                if status not in PERMANENT_REDIRECTS:
                    break
                moved_to = target
            return Verdict("redirected", reply.status, final_url,
                           f"moved permanently: update to {_with_fragment(moved_to, fragment)} ({hops})")
        if hops:
            detail = f"{detail} after redirects ({hops})".strip()
        return Verdict(result, reply.status, final_url, detail)

    def _fragment_verdict(self, base: Verdict, reply: _Reply, fragment: str) -> Verdict:
        """`base` (the page works) narrowed by whether the page has the id/name `fragment`."""
        if base.result not in ("ok", "redirected"):
            return base
        if reply.anchors is None:  # not HTML (a PDF page number, ...): nothing to look for
            detail = f"#{fragment} not checked ({reply.content_type or 'no content type'})"
            return Verdict(base.result, base.http_status, base.final_url, f"{base.detail}; {detail}".strip("; "))
        if fragment_found(urldefrag(base.final_url or "")[0], fragment, reply.anchors):
            return base
        return Verdict("broken", base.http_status, base.final_url, f"page has no id or name {unquote(fragment)!r}")

    async def _follow(self, url: str, want_anchors: bool) -> tuple[list[tuple[int, str]], _Reply]:
        """Follow redirects by hand: record the chain, stop on loops and after max_redirects hops."""
        chain: list[tuple[int, str]] = []
        seen = {url}
        current = url
        while True:
            reply = await self._fetch(current, want_anchors)
            if reply.status not in REDIRECTS or not reply.location:
                return chain, reply
            target = urldefrag(urljoin(current, reply.location))[0]
            chain.append((reply.status, target))
            hops = " -> ".join([url, *(t for _s, t in chain)])
            if target in seen:
                raise _Unreachable(Verdict("broken", reply.status, target, f"redirect loop: {hops}"))
            if len(chain) > self.options.max_redirects:
                raise _Unreachable(Verdict("broken", reply.status, target,
                                           f"more than {self.options.max_redirects} redirects: {hops}"))
            seen.add(target)
            current = target

    async def _fetch(self, url: str, want_anchors: bool) -> _Reply:
        """One hop: HEAD when only the status matters, GET when HEAD is refused or anchors are needed."""
        if not want_anchors:
            reply = await self._request("HEAD", url, read_body=False)
            if reply.status not in HEAD_FALLBACK:
                return reply
        return await self._request("GET", url, read_body=want_anchors)

    async def _request(self, method: str, url: str, read_body: bool) -> _Reply:
        """Send with retries on 429/5xx/timeouts: exponential backoff + jitter, or the Retry-After."""
        options = self.options
        for attempt in range(options.retries + 1):
            last = attempt == options.retries
            try:
                reply = await self._send(method, url, read_body)
            except httpx.TimeoutException:
                if last:
                    raise _Unreachable(Verdict("broken", detail=(
                        f"timed out {attempt + 1} times ({options.timeout:g} s each)"))) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
                # DNS failure, connection refused, TLS failure: retrying will not help a reader either.
                raise _Unreachable(Verdict("broken", detail=f"cannot connect: {_error_text(err)}")) from None
            except httpx.TransportError as err:  # dropped connection, protocol error: maybe transient
                if last:
                    raise _Unreachable(Verdict("broken", detail=f"connection failed: {_error_text(err)}")) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            if reply.status not in RETRY_STATUSES or last:
                return reply
            wait = reply.retry_after if reply.retry_after is not None else self._backoff(attempt)
            if wait > options.max_retry_after:
                return reply  # the host asks for more patience than a link check has
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _backoff(self, attempt: int) -> float:
        base = self.options.backoff * 2**attempt
        return base + random.uniform(0, base)  # jitter: concurrent retries don't stampede together

    async def _send(self, method: str, url: str, read_body: bool) -> _Reply:
        """One request inside the host's slot; the slot is kept `delay` seconds afterwards."""
        host = urlsplit(url).netloc.lower()
        # Host slot first: a task waiting for a busy host must not hold one of the global slots.
        async with self._host_slots[host], self._all_slots:
            try:
                async with self.client.stream(method, url) as response:
                    content_type = response.headers.get("content-type", "").split(";")[0].strip()
                    anchors = None
                    if read_body and 200 <= response.status_code < 300 and "html" in content_type:
                        anchors = scan_html(await self._read_text(response)).anchors
                    elif method == "HEAD" or _small_body(response):
                        await response.aread()  # an unread body closes the connection; drained, it's reused
                    return _Reply(response.status_code, response.headers.get("location"),
                                  parse_retry_after(response.headers.get("retry-after")), anchors, content_type)
            finally:
                if self.options.delay:
                    await asyncio.sleep(self.options.delay)

    async def _read_text(self, response: httpx.Response) -> str:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.options.max_body_bytes:
                break
        return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")


def _error_text(err: Exception) -> str:
    return str(err) or type(err).__name__


def _small_body(response: httpx.Response) -> bool:
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) <= 65536


def _with_fragment(url: str, fragment: str) -> str:
    return f"{url}#{fragment}" if fragment else url


async def _check_external_async(urls: Sequence[str], options: CheckOptions,
                                cache: LinkCache) -> dict[str, Verdict]:
    documents: dict[str, set[str]] = defaultdict(set)
    for url in urls:
        document, fragment = urldefrag(url)
        documents[document].update([fragment] if fragment else [])
    headers = {"User-Agent": options.user_agent, "Accept-Language": "en-US,en;q=0.8",
               "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    limits = httpx.Limits(max_connections=options.max_total, max_keepalive_connections=options.max_total)
    verdicts: dict[str, Verdict] = {}
    async with httpx.AsyncClient(headers=headers, timeout=options.timeout, limits=limits,
                                 follow_redirects=False) as client:
        checker = ExternalChecker(options, client)

        async def check(document: str, fragments: set[str]) -> None:
            for url, verdict in (await checker.check_document(document, fragments)).items():
                verdicts[url] = verdict
                cache.put(url, verdict)

        await asyncio.gather(*(check(document, fragments) for document, fragments in documents.items()))
    return verdicts


def check_external(urls: Iterable[str], options: CheckOptions,
                   cache: LinkCache | None = None) -> dict[str, Verdict]:
    """Verdicts for http(s) URLs, fetching each document once (its #fragments share one GET)."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return {}
    cache = cache if cache is not None else LinkCache(None)
    try:
        return _run_coroutine(_check_external_async(urls, options, cache))
    finally:
        cache.flush()


def _run_coroutine(coro):
    """`asyncio.run`, also from code that already runs an event loop (Jupyter, Playwright's sync API):
    there `asyncio.run` refuses to start, so the check gets a loop of its own in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running in this thread: the usual case
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --------------------------------------------------------------------------------------------------
# Cache: verdicts with timestamps in one JSON file, written atomically in small batches
# --------------------------------------------------------------------------------------------------

CACHE_VERSION = 1


class CorruptCacheWarning(UserWarning):
    """The cache file could not be read; the run starts with an empty cache and rewrites it."""


class LinkCache:
    """`{"version": 1, "links": {url: {result, http_status, final_url, detail, checked_at}}}`.

    A verdict younger than the TTL is reused, except `broken`: broken links are re-checked every run.
    """

    def __init__(self, path: Path | None, ttl_hours: float = 24.0, flush_every: int = 25,
                 flush_seconds: float = 2.0) -> None:
        self.path = path
        self.ttl_seconds = ttl_hours * 3600
        self.flush_every = flush_every  # results per write, and at most flush_seconds between writes
        self.flush_seconds = flush_seconds
        self.entries: dict[str, dict] = self._load() if path else {}
        self._pending = 0
        self._last_flush = time.monotonic()

    def _load(self) -> dict[str, dict]:
        assert self.path is not None
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
                raise ValueError(f"expected {{'version': {CACHE_VERSION}, 'links': {{...}}}}")
            entries = data["links"]
            for entry in entries.values():
                Verdict(entry["result"], entry["http_status"], entry["final_url"], entry["detail"])
                float(entry["checked_at"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            warnings.warn(f"ignoring unreadable link cache {self.path} ({type(err).__name__}: {err}); "
                          "every URL is checked again and the file is rewritten", CorruptCacheWarning,
                          stacklevel=3)
            return {}
        return entries

    def get(self, url: str, now: float | None = None) -> Verdict | None:
        """The stored verdict if fresh and not broken, else None (meaning: fetch it)."""
        entry = self.entries.get(url)
        now = time.time() if now is None else now
        if entry is None or entry["result"] == "broken" or now - entry["checked_at"] > self.ttl_seconds:
            return None
        return Verdict(entry["result"], entry["http_status"], entry["final_url"], entry["detail"])

    def put(self, url: str, verdict: Verdict) -> None:
        if verdict.result == "skipped":
            return
        self.entries[url] = {**asdict(verdict), "checked_at": time.time()}
        self._pending += 1
        if self._pending >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the whole cache to a temp file beside it, then os.replace: never a half-written file."""
        self._pending, self._last_flush = 0, time.monotonic()
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": CACHE_VERSION, "links": self.entries}, handle, indent=0)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """All checked links. `exit_code` is 1 when any is broken: nothing else fails a run."""

    links: list[LinkResult]

    @property
    def summary(self) -> dict[str, int]:
        counts = {result: 0 for result in RESULTS}
        for link in self.links:
            counts[link.result] += 1
        return {**counts, "total": len(self.links)}

    @property
    def exit_code(self) -> int:
        return 1 if self.summary["broken"] else 0

    def of(self, result: str) -> list[LinkResult]:
        return [link for link in self.links if link.result == result]

    def to_json(self) -> dict:
        return {"summary": self.summary, "links": [asdict(link) for link in self.links]}

    def summary_line(self) -> str:
        counts = self.summary
        return f"links: {counts['total']} checked: " + ", ".join(f"{counts[r]} {r}" for r in RESULTS)

    def to_text(self, limit: int = 50) -> str:
        """The terminal summary: counts, then each broken link with where it is cited."""
        lines = [self.summary_line()]
        for link in self.of("broken")[:limit]:
            lines.append(f"BROKEN {link.url}  {link.detail}")
            lines.extend(f"    in {where}" for where in link.found_in[:5])
            if len(link.found_in) > 5:
                lines.append(f"    ... and {len(link.found_in) - 5} more places")
        if len(self.of("broken")) > limit:
            lines.append(f"... {len(self.of('broken')) - limit} more broken links in the JSON/Markdown report")
        external = [link for link in self.links if link.url.startswith(("http://", "https://"))
                    and link.result != "skipped"]
        if external and all(link.detail.startswith("cannot connect") for link in external):
            lines.append("hint: no external URL could be reached: is this machine offline? (--offline checks "
                         "only the built site)")
        if self.of("redirected"):
            lines.append(f"moved permanently: {len(self.of('redirected'))} (their new URLs are in the report)")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A readable report for a CI summary or an issue: broken, moved, unverified, then skipped."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        counts = self.summary
        out = [f"# Link check ({stamp})", "",
               "| " + " | ".join(RESULTS) + " | total |", "|" + "---|" * (len(RESULTS) + 1),
               "| " + " | ".join(str(counts[r]) for r in (*RESULTS, "total")) + " |", ""]
        sections = {
            "broken": ("Broken (fix these)", "problem"),
            "redirected": ("Moved permanently (update the link)", "new address"),
            "unverified": ("Unverified (the host refuses checkers; open them by hand)", "answer"),
        }
        for result, (title, column) in sections.items():
            rows = self.of(result)
            if not rows:
                continue
            out += [f"## {title}", "", f"| URL | {column} | found in |", "|---|---|---|"]
            for link in rows:
                where = "<br>".join(f"`{w}`" for w in link.found_in[:10])
                if len(link.found_in) > 10:
                    where += f"<br>... {len(link.found_in) - 10} more"
                out.append(f"| {_md_cell(link.url)} | {_md_cell(link.detail)} | {where} |")
            out.append("")
        skipped = Counter(link.detail for link in self.of("skipped"))
        if skipped:  # counted, not listed: offline runs skip every external URL
            out += ["## Skipped", "", "| why | links |", "|---|---|"]
            out += [f"| {_md_cell(why)} | {count} |" for why, count in skipped.most_common()]
            out.append("")
        return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------------


def _excluded(url: str, options: CheckOptions) -> Verdict | None:
    for pattern in options.exclude:
        if re.search(pattern, url):
            return Verdict("skipped", detail=f"excluded by --exclude {pattern!r}")
    return None


def _pre_verdict(url: str, options: CheckOptions) -> Verdict | None:
    """Verdicts known without the network: excluded, non-http schemes, offline mode."""
    if excluded := _excluded(url, options):
        return excluded
    scheme = urlsplit(url).scheme.lower()
    policy = SCHEMES.get(scheme, "skip")
    if policy == "skip":
        return Verdict("skipped", detail=f"{scheme}: links are not checked")
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
    for root, pages in inputs.sites:
        internal, external = check_internal(root, pages)
        results += internal
        citations += external
    for source in inputs.sources:
        citations += extract_source(source)

    found_in: dict[str, list[str]] = defaultdict(list)
    for citation in citations:
        if SCHEMES.get(urlsplit(citation.url).scheme.lower()) != "ignore":
            found_in[citation.url].append(citation.where)
    results = [LinkResult.of(link.url, _excluded(link.url, options), link.found_in)
               if _excluded(link.url, options) else link for link in results]

    verdicts: dict[str, Verdict] = {}
    cache = LinkCache(options.cache_path, options.cache_ttl_hours) if not options.offline else LinkCache(None)
    for url in found_in:
        verdict = _pre_verdict(url, options) or cache.get(url)
        if verdict is not None:
            verdicts[url] = verdict
    verdicts |= check_external([url for url in found_in if url not in verdicts], options, cache)
    results += [LinkResult.of(url, verdicts[url], places) for url, places in found_in.items()]
    return Report(sorted(results, key=lambda link: (RESULTS.index(link.result), link.url)))


def default_paths(repo_root: Path) -> list[Path]:
    """What a bare `check_links.py` checks: the catalogs, docs/ and the built site when present."""
    candidates = [*sorted((repo_root / "docs" / "data").glob("*.yaml")), repo_root / "docs", repo_root / "site"]
    paths = [path for path in candidates if path.exists()]
    if not paths:
        raise UsageError(f"nothing to check under {repo_root}: no docs/data/*.yaml, docs/ or site/; "
                         "pass PATHs explicitly")
    return paths
