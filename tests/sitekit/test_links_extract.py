"""Extracting links (sitekit/links/extract.py) and checking a built site's internal links on disk.

Includes the inputs a clumsy user or a broken build can produce: an invalid URL in a page or a
catalog, a page that is a symlink to itself, a link name too long for the filesystem, YAML aliases
that loop or explode. Each ends in a one-line verdict, never a traceback or a hang.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import threading
from pathlib import Path

from links_server import built_site, write  # noqa: F401 (fixture)

from sitekit.links import CheckOptions, check_links, extract_source, markdown_urls, yaml_urls
from sitekit.links import extract as extract_module
from sitekit.links import records as records_module

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "check_links.py"


def test_internal_links_and_anchors_of_a_built_site(built_site):
    report = check_links([built_site], CheckOptions(offline=True))
    by_url = {link.url.removeprefix(str(built_site) + "/"): link for link in report.links}
    broken = {url for url, link in by_url.items() if link.result == "broken"}
    assert broken == {"guide/index.html#install", "missing/index.html"}, by_url
    assert "install" in by_url["guide/index.html#install"].detail
    assert by_url["missing/index.html"].found_in == [f"{built_site / 'index.html'}:9"], (
        "file:line of the citation")
    for ok in ("guide/index.html", "guide/index.html#setup", "index.html", "index.html#intro",
               "index.html#top", "img/plot.png"):
        assert by_url[ok].result == "ok", (ok, by_url[ok].detail)
    assert len(by_url["guide/index.html"].found_in) == 2, (
        "'guide/' and '/hub/guide/' are the same page")
    assert by_url["mailto:someone@example.org"].result == "skipped"
    assert not any("css" in url or "javascript" in url for url in by_url), (
        "<link>/javascript: are not links")
    assert report.exit_code == 1


# ------------------------------------------------------------------------------------------ extract


def test_yaml_catalog_urls_with_line_numbers(tmp_path):
    catalog = write(tmp_path / "papers.yaml", """papers:
  - title: R1
    url: https://arxiv.org/abs/2501.12948
    code: {repo: "https://github.com/x/y"}
    note: not a url https://inside.prose
""")
    found = {c.url: c.where for c in extract_source(catalog)}
    assert found == {"https://arxiv.org/abs/2501.12948": f"{catalog}:3",
                     "https://github.com/x/y": f"{catalog}:4"}


def test_markdown_skips_code_and_keeps_real_links():
    text = "\n".join([
        "[a](https://a.org/x) and ![img](https://b.org/p.png \"title\")",
        "[ref]: https://c.org/ref",
        "```bash",
        "mkdocs serve --dev-addr http://127.0.0.1:8000",
        "```",
        "Run `curl https://d.org` then see https://e.org/page.",
    ])
    assert markdown_urls(text) == [("https://a.org/x", 1), ("https://b.org/p.png", 1),
                                         ("https://c.org/ref", 2), ("https://e.org/page", 6)]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def site_with(tmp_path: Path, body: str) -> Path:
    site = tmp_path / "site"
    write(site / "index.html", f"<html><body>\n{body}\n</body></html>")
    return site


def test_an_invalid_url_in_a_page_is_one_broken_line_not_a_traceback(tmp_path):
    site = site_with(tmp_path, '<a href="http://[::1">x</a> <a href="//[::1/y">y</a>')
    report = check_links([site], CheckOptions(offline=True))
    broken = {link.url: link.detail for link in report.of("broken")}
    assert broken == {"http://[::1": "invalid URL: Invalid IPv6 URL",
                      "https://[::1/y": "invalid URL: Invalid IPv6 URL"}, broken
    cli = run_cli("site", "--offline", cwd=tmp_path)
    assert cli.returncode == 1 and cli.stderr == "", cli.stderr
    assert "BROKEN http://[::1  invalid URL: Invalid IPv6 URL" in cli.stdout


def test_a_page_that_is_a_symlink_to_itself_is_reported_not_raised(tmp_path):
    site = site_with(tmp_path, '<a href="loop.html">loop</a>')
    os.symlink("loop.html", site / "loop.html")
    report = check_links([site], CheckOptions(offline=True))
    broken = {link.url.removeprefix(f"{site}/"): link.detail for link in report.of("broken")}
    assert set(broken) == {"loop.html"}, broken
    assert "cannot read" in broken["loop.html"] and "symbolic links" in broken["loop.html"]
    cli = run_cli("site", "--offline", cwd=tmp_path)
    assert cli.returncode == 1 and cli.stderr == "", cli.stderr
    assert "BROKEN site/loop.html" in cli.stdout


def test_a_link_name_too_long_for_the_filesystem_is_broken_not_raised(tmp_path):
    site = site_with(tmp_path, f'<a href="{"a" * 300}/">long</a>')
    (link,) = check_links([site], CheckOptions(offline=True)).of("broken")
    assert "no file" in link.detail, link


def test_yaml_aliases_that_loop_or_explode_are_read_in_bounded_time(tmp_path):
    """`&a [*a]` loops forever in a naive walk; nine levels of ten aliases are 10**9 visits."""
    laughs = ["l0: &l0 [https://x.org/lol]"]
    laughs += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    texts = ["loop: &a [*a, https://x.org/loop]", "\n".join(laughs)]
    found: list = []
    worker = threading.Thread(target=lambda: found.extend(yaml_urls(t) for t in texts),
                              daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "yaml_urls did not finish: aliases are walked again and again"
    assert [[f.url for f in urls] for urls in found] == [["https://x.org/loop"],
                                                          ["https://x.org/lol"]]


def test_a_url_followed_by_a_wall_of_brackets_is_trimmed_in_bounded_time():
    """Trimming re-counted the brackets after each one it dropped: 200k of them took minutes."""
    text = "see https://x.org/a" + ")" * 200_000 + "."
    found: list = []
    worker = threading.Thread(target=lambda: found.extend(markdown_urls(text)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "markdown_urls did not finish: trimming is quadratic"
    assert [link.url for link in found] == ["https://x.org/a"]


def test_invalid_yaml_is_one_line_naming_the_file(tmp_path):
    catalog = write(tmp_path / "bad.yaml", "papers:\n  - url: [unclosed\n")
    cli = run_cli(str(catalog), "--offline", cwd=tmp_path)
    assert cli.returncode == 1, cli.stderr
    assert cli.stderr.startswith(f"error: {catalog}: not valid YAML"), cli.stderr
    assert cli.stderr.count("\n") == 1, cli.stderr


def test_docstring_examples():
    for module in (extract_module, records_module):
        assert doctest.testmod(module).failed == 0, module.__name__
