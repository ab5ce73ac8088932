"""External checks (sitekit/links/check.py) against a scripted fault server on 127.0.0.1.

Besides the verdicts (redirects, retries, fragments), the faults a hostile or broken server can
throw: a response dripped a byte at a time, a gzip bomb, absurd Retry-After values, a redirect to
an invalid URL, an unknown charset, a corrupt gzip body. Each must end in a one-line verdict, in
bounded time and memory, never a traceback. No internet.
"""

from __future__ import annotations

import doctest
import gzip
import json
import socket
import threading
import time
import tracemalloc
from collections import Counter

import pytest
from links_server import FAST, HTML, Answer, check_urls, server, write  # noqa: F401 (fixture)

from sitekit.links import CheckOptions, check_links
from sitekit.links import check as check_module


def test_200_is_ok_with_one_head_request(server, tmp_path):
    url = server.route("/ok", Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert (result.result, result.http_status) == ("ok", 200)
    assert server.hits == Counter({("HEAD", "/ok"): 1}), "a plain link needs exactly one HEAD"


def test_permanent_redirect_reports_the_new_url(server, tmp_path):
    url = server.route("/old", Answer(301, {"Location": "/new"}))
    server.route("/new", Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "redirected", result.detail
    assert result.final_url == server.base + "/new"
    assert f"update to {server.base}/new" in result.detail


def test_temporary_redirect_chain_is_ok_and_recorded(server, tmp_path):
    url = server.route("/a", Answer(302, {"Location": "/b"}))
    server.route("/b", Answer(302, {"Location": f"{server.base}/c"}))
    server.route("/c", Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", "temporary redirects (302) are normal, not something to update"
    assert result.final_url == server.base + "/c"
    assert "302 -> " in result.detail and "/b" in result.detail, "the chain should be in the detail"


def test_redirect_loop_is_broken(server, tmp_path):
    url = server.route("/loop1", Answer(301, {"Location": "/loop2"}))
    server.route("/loop2", Answer(302, {"Location": "/loop1"}))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "broken" and "redirect loop" in result.detail
    assert server.total_hits("/loop1") == 1, "a loop must be detected, not followed until the cap"


def test_too_many_redirects_is_broken(server, tmp_path):
    for hop in range(5):
        server.route(f"/hop{hop}", Answer(302, {"Location": f"/hop{hop + 1}"}))
    server.route("/hop5", Answer(200))
    result = check_urls(tmp_path, server.base + "/hop0", max_redirects=3)[server.base + "/hop0"]
    assert result.result == "broken" and "more than 3 redirects" in result.detail


@pytest.mark.parametrize("status", [404, 410])
def test_gone_pages_are_broken(server, tmp_path, status):
    url = server.route("/gone", Answer(status))
    result = check_urls(tmp_path, url)[url]
    assert (result.result, result.http_status) == ("broken", status)
    assert server.hits[("GET", "/gone")] == 1, (
        "a HEAD error must be confirmed with GET before calling it broken")


def test_429_twice_then_200_is_retried(server, tmp_path):
    url = server.route("/busy", Answer(429, {"Retry-After": "0"}), Answer(429), Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", result.detail
    assert server.total_hits("/busy") == 3


def test_429_that_never_ends_is_unverified_not_broken(server, tmp_path):
    url = server.route("/blocked", Answer(429, {"Retry-After": "3600"}))
    started = time.perf_counter()
    result = check_urls(tmp_path, url)[url]
    assert result.result == "unverified", "rate limiting says nothing about the link; don't fail CI"
    assert time.perf_counter() - started < 2, (
        "a Retry-After above max_retry_after must not be waited for")


def test_403_is_unverified(server, tmp_path):
    url = server.route("/forbidden", Answer(403))
    assert check_urls(tmp_path, url)[url].result == "unverified"


def test_500_then_200_is_retried(server, tmp_path):
    url = server.route("/flaky", Answer(500), Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", result.detail
    assert server.total_hits("/flaky") == 2


def test_response_slower_than_timeout_is_broken_after_retries(server, tmp_path):
    url = server.route("/slow", Answer(200, delay=1.0))
    result = check_urls(tmp_path, url, timeout=0.2, retries=1)[url]
    assert result.result == "broken" and "timed out 2 times" in result.detail, result.detail


def test_head_refused_falls_back_to_get(server, tmp_path):
    url = server.route("/nohead", Answer(405), Answer(200))  # HEAD -> 405, then GET -> 200
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", result.detail
    assert server.hits == Counter({("HEAD", "/nohead"): 1, ("GET", "/nohead"): 1})


def test_connection_refused_is_broken(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound then closed: nothing listens there
    url = f"http://127.0.0.1:{port}/x"
    result = check_urls(tmp_path, url)[url]
    assert result.result == "broken" and "cannot connect" in result.detail


def test_fragments_are_checked_on_one_get_of_the_page(server, tmp_path):
    page = '<h2 id="present">x</h2><a name="named"></a>'
    url = server.route("/page", Answer(200, {"Content-Type": HTML}, page))
    results = check_urls(tmp_path, url + "#present", url + "#named", url + "#absent")
    assert results[url + "#present"].result == "ok"
    assert results[url + "#named"].result == "ok", "<a name=...> is a valid fragment target too"
    absent = results[url + "#absent"]
    assert absent.result == "broken" and "absent" in absent.detail
    assert server.hits == Counter({("GET", "/page"): 1}), "three fragments of one page = one GET"


def test_same_url_cited_from_three_files_is_fetched_once(server, tmp_path):
    url = server.route("/shared", Answer(200))
    files = [write(tmp_path / f"page{i}.md", f"intro\n\nsee [it]({url})\n") for i in range(3)]
    report = check_links(files, CheckOptions(**FAST))
    (link,) = report.links
    assert link.found_in == [f"{file}:3" for file in files]
    assert server.total_hits("/shared") == 1


def test_moved_page_keeps_the_fragment_in_the_new_address(server, tmp_path):
    url = server.route("/moved", Answer(308, {"Location": "/home"}))
    server.route("/home", Answer(200, {"Content-Type": HTML}, '<h2 id="usage">Usage</h2>'))
    result = check_urls(tmp_path, url + "#usage")[url + "#usage"]
    assert result.result == "redirected", result.detail
    assert result.final_url == server.base + "/home#usage"
    assert f"update to {server.base}/home#usage" in result.detail


def test_check_works_inside_a_running_event_loop(server, tmp_path):
    """Notebooks and Playwright's sync API run an event loop in the main thread; asyncio.run would
    refuse. The loop is started in a thread of its own, so this test does not depend on what ran
    before it."""
    import asyncio

    url = server.route("/ok", Answer(200))
    results: dict = {}

    async def inside_a_loop():
        results.update(check_urls(tmp_path, url))

    worker = threading.Thread(target=lambda: asyncio.run(inside_a_loop()))
    worker.start()
    worker.join(timeout=30)
    assert results[url].result == "ok"


def test_offline_mode_skips_external_links_without_fetching(server, tmp_path):
    url = server.route("/never", Answer(200))
    result = check_urls(tmp_path, url, offline=True)[url]
    assert result.result == "skipped" and "offline" in result.detail
    assert server.total_hits("/never") == 0


def test_exclude_skips_matching_urls(server, tmp_path):
    url = server.route("/private", Answer(404))
    result = check_urls(tmp_path, url, exclude=("/priv",))[url]
    assert result.result == "skipped" and "--exclude" in result.detail
    assert server.total_hits("/private") == 0


# ------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize("fragment", ["", "#top-of-page"])
def test_a_response_dripped_byte_by_byte_hits_the_wall_clock_deadline(server, tmp_path, fragment):
    """httpx's timeout is per read: a byte every 0.1 s never trips a 0.5 s read timeout, and this
    40-odd-byte answer would hold the check for 4 s. The deadline covers the whole request."""
    body = '<p id="top-of-page">x</p>'
    url = server.route("/drip", Answer(200, {"Content-Type": HTML}, body, drip=0.1)) + fragment
    result = check_urls(tmp_path, url, timeout=0.5, retries=0)[url]
    assert result.result == "broken", f"a dripped answer must time out, got {result}"
    assert "timed out 1 times (0.5 s each)" in result.detail, result.detail


BOMB_BYTES = 50_000_000  # inflated size of the gzip bomb (the compressed body is about 50 KB)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    page = b"<html><body>" + b" " * BOMB_BYTES + b'<a id="deep"></a></body></html>'
    return gzip.compress(page, compresslevel=9)


def _peak_bytes(check) -> int:
    tracemalloc.start()
    try:
        check()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_html_page_is_read_only_up_to_the_limit(server, tmp_path, gzip_bomb,
                                                            monkeypatch):
    """A page whose 50 KB gzip inflates to 50 MB: at most max_body_bytes reach the HTML parser, and
    an id beyond the limit is "not found in the part read", not a broken link."""
    assert len(gzip_bomb) < 100_000
    headers = {"Content-Type": HTML, "Content-Encoding": "gzip"}
    url = server.route("/bomb.html", Answer(200, headers, gzip_bomb)) + "#deep"
    parsed: list[int] = []
    real_scan = check_module.scan_html
    monkeypatch.setattr(check_module, "scan_html", lambda text: parsed.append(len(text))
                        or real_scan(text))
    limit = 1_000_000
    results: dict = {}
    peak = _peak_bytes(lambda: results.update(check_urls(tmp_path, url, max_body_bytes=limit)))
    result = results[url]
    assert parsed and max(parsed) <= limit, f"the parser got {parsed} characters, limit {limit}"
    assert peak < 20_000_000, f"checking a 50 KB gzip bomb peaked at {peak / 1e6:.0f} MB"
    assert result.result == "unverified", result.detail
    assert f"only the first {limit} bytes read" in result.detail, result.detail


@pytest.mark.parametrize("fragment", ["deep", "missing", "deep-sec"])
def test_an_anchor_past_the_read_limit_is_unverified_never_found(server, tmp_path, fragment):
    """Issue 26 item 14: past max_body_bytes the checker cannot know; it says so (unverified),
    whether the id is there (#deep), absent (#missing) or cut in half at the limit (#deep-sec)."""
    limit = 100_000
    filler = b"<p>" + b"x" * (limit - 31)  # the limit falls inside `<h2 id="deep-sec|tion">`
    body = b"<html><body>" + filler + b'<h2 id="deep-section">x</h2><h2 id="deep">y</h2>'
    url = server.route("/long.html", Answer(200, {"Content-Type": HTML}, body))
    result = check_urls(tmp_path, f"{url}#{fragment}", max_body_bytes=limit)[f"{url}#{fragment}"]
    assert result.result == "unverified", result.detail
    assert "not verified" in result.detail


def test_a_small_gzip_bomb_is_never_inflated_when_only_drained(server, tmp_path, gzip_bomb):
    """HEAD refused, GET answers a non-HTML body under 64 KB (as sent): the checker drains it to
    reuse the connection; draining must not inflate it (50 MB)."""
    headers = {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"}
    url = server.route("/bomb.bin", Answer(405), Answer(200, headers, gzip_bomb))
    results: dict = {}
    peak = _peak_bytes(lambda: results.update(check_urls(tmp_path, url)))
    assert results[url].result == "ok", results[url].detail
    assert peak < 20_000_000, f"draining a 50 KB gzip bomb peaked at {peak / 1e6:.0f} MB"


@pytest.mark.parametrize(("header", "expected"), [
    ("3", 3.0),
    ("nan", None),
    ("-5", None),
    ("inf", None),
    ("1e3", None),
    ("9" * 400, 86_400.0),  # huge: capped, finite
    ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # a date in the past: no wait asked
    ("Wed, 21 Oct 2015 07:28:30 GMT", 10.0),  # 10 s after `now`
    ("Fri, 31 Dec 9999 23:59:59 GMT", 86_400.0),  # a far date: capped
    ("Mon, 99 Jan 2020 00:00:00 GMT", None),
])
def test_retry_after_is_parsed_safely(header, expected):
    value = check_module.parse_retry_after(header, now=1445412500.0)
    assert value == expected, f"Retry-After {header[:30]!r} -> {value}, expected {expected}"


def test_a_zero_or_past_retry_after_still_waits_the_floor(server, tmp_path):
    """Retry-After: 0 or a date in the past must not turn into retries with no wait at all."""
    url = server.route("/hurry", Answer(429, {"Retry-After": "0"}),
                       Answer(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}), Answer(200))
    result = check_urls(tmp_path, url, min_retry_after=0.3, retries=3)[url]
    assert result.result == "ok", result.detail
    stamps = server.arrivals["/hurry"]
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    assert len(gaps) == 2 and min(gaps) >= 0.3, f"retries came {gaps} s apart; the floor is 0.3 s"


@pytest.mark.parametrize("header", ["nan", "-5", "inf"])
def test_a_nonsense_retry_after_falls_back_to_backoff(server, tmp_path, header):
    url = server.route("/odd", Answer(429, {"Retry-After": header}), Answer(200))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", result.detail
    assert server.total_hits("/odd") == 2


@pytest.mark.parametrize("location", ["http://[::1", "http://xn--/"])
def test_a_redirect_to_an_invalid_url_is_broken_not_a_crash(server, tmp_path, location):
    url = server.route("/bad-redirect", Answer(302, {"Location": location}))
    result = check_urls(tmp_path, url)[url]
    assert result.result == "broken", result.detail
    assert "invalid URL" in result.detail and "\n" not in result.detail, result.detail


def test_an_unknown_or_non_text_charset_is_read_as_utf8(server, tmp_path):
    headers = {"Content-Type": "text/html; charset=rot13"}  # a codec, but not a text encoding
    url = server.route("/rot13", Answer(200, headers, '<h2 id="here">x</h2>')) + "#here"
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", result.detail


def test_a_corrupt_gzip_body_is_reported_not_raised(server, tmp_path):
    headers = {"Content-Type": HTML, "Content-Encoding": "gzip"}
    url = server.route("/corrupt", Answer(200, headers, b"\x1f\x8bthis is not gzip")) + "#x"
    result = check_urls(tmp_path, url)[url]
    assert result.result == "ok", "the page answered 200; only its anchors could not be read"
    assert "could not be inflated" in result.detail, result.detail


@pytest.mark.parametrize("url", ["http://[::1", "http://xn--/", "http:///no-host", "http://x:abc/",
                                 "https://exa\x00mple.org/"])
def test_invalid_urls_in_a_catalog_are_broken_with_one_line(tmp_path, url):
    catalog = write(tmp_path / "papers.yaml", f"papers:\n  - url: {json.dumps(url)}\n")
    report = check_links([catalog], CheckOptions(**FAST))
    (link,) = report.links
    assert link.result == "broken" and link.detail.startswith("invalid URL"), link
    assert "\n" not in link.detail


@pytest.mark.parametrize("bad", [dict(timeout=float("nan")), dict(timeout=float("inf")),
                                 dict(max_retry_after=float("nan")),
                                 dict(min_retry_after=5.0, max_retry_after=1.0)])
def test_non_finite_or_inverted_options_are_usage_errors(bad):
    from starter.errors import UsageError

    with pytest.raises(UsageError, match=next(iter(bad))):
        CheckOptions(**bad)


def test_docstring_examples():
    assert doctest.testmod(check_module).failed == 0
