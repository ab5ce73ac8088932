"""Link checker (starter/links.py, scripts/check_links.py) against a local HTTP server: no internet.

The server answers from a script per path (e.g. 429, 429, 200) and counts every request, so tests
can assert both the verdict and how many fetches it cost.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from starter import links
from starter.errors import UsageError
from starter.links import CheckOptions, CorruptCacheWarning, LinkCache, check_links

REPO_ROOT = Path(__file__).resolve().parents[1]

# Small timings so the whole file runs in a few seconds.
FAST = dict(timeout=0.5, retries=2, backoff=0.01, delay=0.0, max_retry_after=1.0)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0


class ScriptedServer(ThreadingHTTPServer):
    """path -> list of answers, consumed in order (the last one repeats); counts (method, path)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[str, list[Answer]] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def route(self, path: str, *answers: Answer) -> str:
        self.scripts[path] = list(answers)
        return self.base + path

    def total_hits(self, path: str) -> int:
        return sum(count for (_method, hit_path), count in self.hits.items() if hit_path == path)

    def next_answer(self, method: str, path: str) -> Answer:
        with self.lock:
            self.hits[(method, path)] += 1
            script = self.scripts.get(path, [Answer(404)])
            return script.pop(0) if len(script) > 1 else script[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        answer = self.server.next_answer(self.command, self.path)
        if answer.delay:
            time.sleep(answer.delay)
        body = answer.body.encode()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    do_GET = do_HEAD = _answer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server():
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_urls(tmp_path: Path, *urls: str, **options) -> dict[str, links.LinkResult]:
    """Check URLs cited from one Markdown file; results by URL."""
    doc = write(tmp_path / "cites.md", "\n".join(f"- <{url}>" for url in urls))
    report = check_links([doc], CheckOptions(**{**FAST, **options}))
    return {link.url: link for link in report.links}


HTML = "text/html; charset=utf-8"


# ------------------------------------------------------------------------------------------ external


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
    assert server.hits[("GET", "/gone")] == 1, "a HEAD error must be confirmed with GET before calling it broken"


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
    assert time.perf_counter() - started < 2, "a Retry-After above max_retry_after must not be waited for"


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
    with ThreadingHTTPServer(("127.0.0.1", 0), _Handler) as closed:
        port = closed.server_address[1]  # bound then closed below: nothing listens there
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


# ------------------------------------------------------------------------------------------ cache


def test_second_run_is_served_from_the_cache(server, tmp_path):
    ok = server.route("/cached", Answer(200))
    missing = server.route("/missing", Answer(404))
    cache = tmp_path / "cache" / "links.json"
    check_urls(tmp_path, ok, missing, cache_path=cache)
    first = server.total_hits("/cached"), server.total_hits("/missing")
    results = check_urls(tmp_path, ok, missing, cache_path=cache)
    assert results[ok].result == "ok"
    assert server.total_hits("/cached") == first[0], "a fresh cached verdict must not be fetched again"
    assert server.total_hits("/missing") > first[1], "broken links are re-checked on every run"
    stored = json.loads(cache.read_text())
    assert stored["links"][ok]["result"] == "ok" and "checked_at" in stored["links"][ok]


def test_expired_cache_entry_is_fetched_again(server, tmp_path):
    url = server.route("/old-entry", Answer(200))
    cache = tmp_path / "links.json"
    check_urls(tmp_path, url, cache_path=cache)
    data = json.loads(cache.read_text())
    data["links"][url]["checked_at"] -= 25 * 3600
    cache.write_text(json.dumps(data))
    check_urls(tmp_path, url, cache_path=cache)
    assert server.total_hits("/old-entry") == 2, "an entry older than the TTL (24 h) must be re-checked"


def test_corrupt_cache_is_ignored_with_a_warning(server, tmp_path):
    url = server.route("/fine", Answer(200))
    cache = write(tmp_path / "links.json", '{"version": 1, "links": {"half-writ')
    with pytest.warns(CorruptCacheWarning, match="links.json"):
        result = check_urls(tmp_path, url, cache_path=cache)[url]
    assert result.result == "ok"
    assert url in json.loads(cache.read_text())["links"], "the corrupt file should be rewritten"


def test_cache_is_written_during_the_run_not_only_at_the_end(tmp_path):
    from starter.links import Verdict

    cache = LinkCache(tmp_path / "links.json", flush_every=2)
    cache.put("https://a.example/", Verdict("ok", 200))
    assert not cache.path.exists()
    cache.put("https://b.example/", Verdict("ok", 200))
    assert set(json.loads(cache.path.read_text())["links"]) == {"https://a.example/", "https://b.example/"}
    assert [p.name for p in tmp_path.iterdir()] == ["links.json"], "no temp file may be left behind"


# ------------------------------------------------------------------------------------------ internal


@pytest.fixture
def built_site(tmp_path) -> Path:
    """A tiny built site: directory URLs, anchors, an absolute link with a base path, 2 breakages."""
    site = tmp_path / "site"
    write(site / "index.html", """<html><head>
<link rel="canonical" href="https://example.org/hub/">
<link rel="alternate" hreflang="zh" href="/hub/zh/">
<link rel="stylesheet" href="assets/missing.css">
</head><body>
<a href="guide/">guide</a>
<a href="guide/#setup">setup</a>
<a href="guide/index.html#install">broken anchor</a>
<a href="missing/">broken page</a>
<a href="#top">top</a> <a href="#intro">intro</a><h2 id="intro">Intro</h2>
<a href="/hub/guide/">absolute with base</a>
<a href="mailto:someone@example.org">mail</a>
<a href="javascript:void(0)">js</a>
</body></html>""")
    write(site / "guide" / "index.html", """<h1 id="guide">Guide</h1><h2 id="setup">Setup</h2>
<a href="../">home</a> <a href="../#intro">home intro</a> <img src="../img/plot.png">""")
    write(site / "img" / "plot.png", "png")
    return site


def test_internal_links_and_anchors_of_a_built_site(built_site):
    report = check_links([built_site], CheckOptions(offline=True))
    by_url = {link.url.removeprefix(str(built_site) + "/"): link for link in report.links}
    broken = {url for url, link in by_url.items() if link.result == "broken"}
    assert broken == {"guide/index.html#install", "missing/index.html"}, by_url
    assert "install" in by_url["guide/index.html#install"].detail
    assert by_url["missing/index.html"].found_in == [f"{built_site / 'index.html'}:9"], "file:line of the citation"
    for ok in ("guide/index.html", "guide/index.html#setup", "index.html", "index.html#intro",
               "index.html#top", "img/plot.png"):
        assert by_url[ok].result == "ok", (ok, by_url[ok].detail)
    assert len(by_url["guide/index.html"].found_in) == 2, "'guide/' and '/hub/guide/' are the same page"
    assert by_url["mailto:someone@example.org"].result == "skipped"
    assert not any("css" in url or "javascript" in url for url in by_url), "<link>/javascript: are not links"
    assert report.exit_code == 1


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


# ------------------------------------------------------------------------------------------ extract


def test_yaml_catalog_urls_with_line_numbers(tmp_path):
    catalog = write(tmp_path / "papers.yaml", """papers:
  - title: R1
    url: https://arxiv.org/abs/2501.12948
    code: {repo: "https://github.com/x/y"}
    note: not a url https://inside.prose
""")
    found = {c.url: c.where for c in links.extract_source(catalog)}
    assert found == {"https://arxiv.org/abs/2501.12948": f"{catalog}:3", "https://github.com/x/y": f"{catalog}:4"}


def test_markdown_skips_code_and_keeps_real_links():
    text = "\n".join([
        "[a](https://a.org/x) and ![img](https://b.org/p.png \"title\")",
        "[ref]: https://c.org/ref",
        "```bash",
        "mkdocs serve --dev-addr http://127.0.0.1:8000",
        "```",
        "Run `curl https://d.org` then see https://e.org/page.",
    ])
    assert links.markdown_urls(text) == [("https://a.org/x", 1), ("https://b.org/p.png", 1),
                                         ("https://c.org/ref", 2), ("https://e.org/page", 6)]


def test_docstring_examples():
    assert doctest.testmod(links).failed == 0


# ------------------------------------------------------------------------------------------ CLI

SCRIPT = REPO_ROOT / "scripts" / "check_links.py"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.slow  # six interpreter starts: ~3 s idle, more on a busy machine
def test_cli_exit_codes_and_json_schema(server, built_site, tmp_path):
    good = write(tmp_path / "good.md", f"[ok]({server.route('/cli-ok', Answer(200))})\n")
    bad = write(tmp_path / "bad.md", f"[gone]({server.route('/cli-gone', Answer(404))})\n")
    cache = ["--cache", str(tmp_path / "cache.json")]

    ok = run_cli(str(good), "--json", "out/ok.json", "--markdown", "out/ok.md", *cache, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("links: 1 checked: 1 ok")
    data = json.loads((tmp_path / "out" / "ok.json").read_text())
    assert set(data) == {"summary", "links"}
    assert set(data["summary"]) == {*links.RESULTS, "total"}
    (link,) = data["links"]
    assert set(link) == {"url", "result", "http_status", "final_url", "found_in", "detail"}
    assert (link["result"], link["http_status"], link["found_in"]) == ("ok", 200, ["good.md:1"])
    assert "# Link check" in (tmp_path / "out" / "ok.md").read_text()

    broken = run_cli(str(bad), "--markdown", "bad.md.report", *cache, cwd=tmp_path)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and "bad.md:1" in broken.stdout, "broken links are listed with their place"
    markdown = (tmp_path / "bad.md.report").read_text()
    assert "## Broken" in markdown and "`bad.md:1`" in markdown and "404" in markdown

    site = run_cli(str(built_site), "--offline", cwd=tmp_path)
    assert site.returncode == 1 and "missing/index.html" in site.stdout

    default = run_cli("--offline", cwd=tmp_path)  # no PATH: the repository's catalogs and docs, found
    assert default.returncode in (0, 1) and " checked: " in default.stdout, default.stderr  # from the script

    for bad_usage in (["no/such/path"], ["--no-such-flag"]):
        usage = run_cli(*bad_usage, cwd=tmp_path)
        assert usage.returncode == 2, (bad_usage, usage.stderr)
        assert usage.stderr.count("\n") == 1 and usage.stderr.startswith("error: "), usage.stderr


@pytest.mark.parametrize("bad", [dict(timeout=0), dict(max_per_host=0), dict(exclude=("(",)), dict(retries=-1)])
def test_bad_options_are_usage_errors(bad):
    with pytest.raises(UsageError, match=next(iter(bad)) if "exclude" not in bad else "regular expression"):
        CheckOptions(**bad)



def test_check_works_inside_a_running_event_loop(server, tmp_path):
    """Notebooks and Playwright's sync API run an event loop in the main thread; asyncio.run would refuse.
    The loop is started in a thread of its own so this test does not depend on what ran before it."""
    import asyncio

    url = server.route("/ok", Answer(200))
    results: dict = {}

    async def inside_a_loop():
        results.update(check_urls(tmp_path, url))

    worker = threading.Thread(target=lambda: asyncio.run(inside_a_loop()))
    worker.start()
    worker.join(timeout=30)
    assert results[url].result == "ok"
