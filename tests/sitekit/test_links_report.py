"""Reports and the command line (sitekit/links/report.py, scripts/check_links.py).

The documented command lines keep working; every bad argument is one `error:` line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from links_server import Answer, built_site, server, write  # noqa: F401 (fixtures)

from sitekit.links import RESULTS, CheckOptions, LinkResult, Report
from starter.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "check_links.py"




def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow  # six interpreter starts: ~3 s idle, more on a busy machine
def test_cli_exit_codes_and_json_schema(server, built_site, tmp_path):
    good = write(tmp_path / "good.md", f"[ok]({server.route('/cli-ok', Answer(200))})\n")
    bad = write(tmp_path / "bad.md", f"[gone]({server.route('/cli-gone', Answer(404))})\n")
    cache = ["--cache", str(tmp_path / "cache.json")]

    ok = run_cli(str(good), "--json", "out/ok.json", "--markdown", "out/ok.md", *cache,
                 cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("links: 1 checked: 1 ok")
    data = json.loads((tmp_path / "out" / "ok.json").read_text())
    assert set(data) == {"summary", "links"}
    assert set(data["summary"]) == {*RESULTS, "total"}
    (link,) = data["links"]
    assert set(link) == {"url", "result", "http_status", "final_url", "found_in", "detail"}
    assert (link["result"], link["http_status"], link["found_in"]) == ("ok", 200, ["good.md:1"])
    assert "# Link check" in (tmp_path / "out" / "ok.md").read_text()

    broken = run_cli(str(bad), "--markdown", "bad.md.report", *cache, cwd=tmp_path)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and "bad.md:1" in broken.stdout, (
        "broken links are listed with their place")
    markdown = (tmp_path / "bad.md.report").read_text()
    assert "## Broken" in markdown and "`bad.md:1`" in markdown and "404" in markdown

    site = run_cli(str(built_site), "--offline", cwd=tmp_path)
    assert site.returncode == 1 and "missing/index.html" in site.stdout

    # No PATH: the repository's catalogs and docs, found from the script's location.
    default = run_cli("--offline", cwd=tmp_path)
    assert default.returncode in (0, 1) and " checked: " in default.stdout, default.stderr

    for bad_usage in (["no/such/path"], ["--no-such-flag"]):
        usage = run_cli(*bad_usage, cwd=tmp_path)
        assert usage.returncode == 2, (bad_usage, usage.stderr)
        assert usage.stderr.count("\n") == 1 and usage.stderr.startswith("error: "), usage.stderr


@pytest.mark.parametrize("bad", [dict(timeout=0), dict(max_per_host=0), dict(exclude=("(",)),
                                 dict(retries=-1)])
def test_bad_options_are_usage_errors(bad):
    expected = "regular expression" if "exclude" in bad else next(iter(bad))
    with pytest.raises(UsageError, match=expected):
        CheckOptions(**bad)


@pytest.mark.parametrize("args", [["--timeout", "nan"], ["--timeout", "inf"],
                                  ["--cache-ttl", "nan"], ["--timeout", "-1"]])
def test_non_finite_numbers_on_the_command_line_are_one_line(tmp_path, args):
    doc = write(tmp_path / "a.md", "[x](https://example.org)\n")
    usage = run_cli(str(doc), "--offline", *args, cwd=tmp_path)
    assert usage.returncode == 2, (args, usage.stdout, usage.stderr)
    assert usage.stderr.count("\n") == 1 and usage.stderr.startswith("error: "), usage.stderr


@pytest.mark.parametrize("flag", ["--json", "--markdown", "--cache"])
def test_an_output_path_that_is_a_folder_is_one_line(tmp_path, flag):
    doc = write(tmp_path / "a.md", "[x](https://example.org)\n")
    (tmp_path / "taken").mkdir()
    usage = run_cli(str(doc), "--offline", flag, "taken", cwd=tmp_path)
    assert usage.returncode == 2, (flag, usage.stdout, usage.stderr)
    assert usage.stderr.count("\n") == 1 and "taken" in usage.stderr, usage.stderr


def test_markdown_report_lists_broken_before_skipped_and_escapes_pipes():
    report = Report([
        LinkResult("https://a.org/x|y", "broken", 404, None, ["a.md:1"], "HTTP 404 Not Found"),
        LinkResult("mailto:me@x.org", "skipped", None, None, ["a.md:2"],
                   "mailto: links are not checked"),
    ])
    markdown = report.to_markdown()
    assert markdown.index("## Broken") < markdown.index("## Skipped")
    assert "https://a.org/x\\|y" in markdown, "a | in a URL must not split the table cell"
    assert report.exit_code == 1 and report.summary["total"] == 2
