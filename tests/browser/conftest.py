"""Real-browser tests of the built site: Debian's /usr/bin/chromium driven by pytest-playwright.

The site is built once per session (`mkdocs build --strict`) into `<tmp>/thinking-models-hub/` and
served over http from 127.0.0.1, at the same path as on GitHub Pages (test_first_hour.py also
serves it at the root of a host: every link is relative). Every page a test opens is watched (`Watch`): a request to
any other host is aborted and fails the test, and so does a console error or a failed request.

No `playwright install`: the browser is the system's chromium (`.ci/run` installs it with apt).
Without it every test here is skipped, and pytest's -ra summary says why.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"  # screenshots; git-ignored
HOST = "127.0.0.1"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
# Material asks for sitemap.xml next to each alternate-language link to map the current page, and
# logs a 404 for the copies that don't exist (see SITE_NOTES): not our error.
IGNORED_404_SUFFIXES = ("/sitemap.xml",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=f"browser tests need {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": str(CHROMIUM), "args": FLAGS}


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory, site_path: str) -> Path:
    """The site, built once with --strict, as GitHub Pages would serve it: <root>/<path of site_url>/."""
    out = tmp_path_factory.mktemp("served") / site_path
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = Path(sys.executable).parent / "mkdocs"
    proc = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(out)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # the tests report failed requests themselves
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """The browser drops connections it no longer needs when a test navigates; that is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def served_url(site_dir: Path) -> str:
    """http://127.0.0.1:<port>/<path of site_url>/: the built site, served from a thread."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir.parent))
    server = _Server((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}/{site_dir.name}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def base_url(served_url: str) -> str:
    """pytest-base-url's fixture, which pytest-playwright reads: pages open relative to the served site."""
    return served_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@dataclass
class Watch:
    """Everything that went wrong on the pages of one browser context."""

    external: list[str] = field(default_factory=list)  # requests to another host (aborted)
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # network failures and HTTP >= 400

    def attach(self, context) -> None:
        context.route("**/*", self._route)
        context.on("console", self._console)
        context.on("requestfailed", self._request_failed)
        context.on("response", lambda res: res.status >= 400 and self._failed(res.url, str(res.status)))

    def _route(self, route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == HOST or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort("blockedbyclient")

    def _console(self, message) -> None:
        if message.type == "error" and not any(s + " " in message.text or message.text.endswith(s)
                                               for s in IGNORED_404_SUFFIXES):
            location = message.location.get("url", "") if message.location else ""
            if not location.endswith(IGNORED_404_SUFFIXES):
                self.console_errors.append(f"{message.text} ({location})")

    def _request_failed(self, request) -> None:
        # ERR_ABORTED: the page moved on while the request was in flight (e.g. the search worker
        # still loading when a test navigates); a missing file shows up as an HTTP status instead.
        if request.failure != "net::ERR_ABORTED":
            self._failed(request.url, request.failure or "failed")

    def _failed(self, url: str, why: str) -> None:
        if url.endswith(IGNORED_404_SUFFIXES) or urlsplit(url).hostname != HOST:
            return  # external requests are reported once, by _route
        self.failed.append(f"{url}: {why}")

    def assert_clean(self) -> None:
        assert not self.external, f"the site requested other hosts (every asset must be local): {self.external}"
        assert not self.failed, f"requests failed: {self.failed}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(new_context, watch: Watch):
    """pytest-playwright's context, watched; the test fails at teardown if anything went wrong."""
    context = new_context()
    watch.attach(context)
    context.set_default_timeout(10_000)
    yield context
    watch.assert_clean()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
