"""The link checker's cache (sitekit/links/cache.py): reuse, expiry, atomic writes, bad files.

A cache file is user input too: hand-edited or truncated entries, timestamps in the future or not
numbers at all, a --cache that is a folder. None may crash a run or be trusted forever.
"""

from __future__ import annotations

import doctest
import json
import time
import warnings

import pytest
from links_server import Answer, check_urls, server, write  # noqa: F401 (fixture)

from sitekit.links import CheckOptions, CorruptCacheWarning, LinkCache, Verdict
from sitekit.links import cache as cache_module
from starter.errors import StarterError, UsageError


def test_second_run_is_served_from_the_cache(server, tmp_path):
    ok = server.route("/cached", Answer(200))
    missing = server.route("/missing", Answer(404))
    cache = tmp_path / "cache" / "links.json"
    check_urls(tmp_path, ok, missing, cache_path=cache)
    first = server.total_hits("/cached"), server.total_hits("/missing")
    results = check_urls(tmp_path, ok, missing, cache_path=cache)
    assert results[ok].result == "ok"
    assert server.total_hits("/cached") == first[0], (
        "a fresh cached verdict must not be fetched again")
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
    assert server.total_hits("/old-entry") == 2, (
        "an entry older than the TTL (24 h) must be re-checked")


def test_corrupt_cache_is_ignored_with_a_warning(server, tmp_path):
    url = server.route("/fine", Answer(200))
    cache = write(tmp_path / "links.json", '{"version": 1, "links": {"half-writ')
    with pytest.warns(CorruptCacheWarning, match="links.json"):
        result = check_urls(tmp_path, url, cache_path=cache)[url]
    assert result.result == "ok"
    assert url in json.loads(cache.read_text())["links"], "the corrupt file should be rewritten"


def test_cache_is_written_during_the_run_not_only_at_the_end(tmp_path):
    cache = LinkCache(tmp_path / "links.json", flush_every=2)
    cache.put("https://a.example/", Verdict("ok", 200))
    assert not cache.path.exists()
    cache.put("https://b.example/", Verdict("ok", 200))
    stored = set(json.loads(cache.path.read_text())["links"])
    assert stored == {"https://a.example/", "https://b.example/"}
    assert [p.name for p in tmp_path.iterdir()] == ["links.json"], "no temp file may be left behind"


GOOD_ENTRY = {"result": "ok", "http_status": 200, "final_url": None, "detail": ""}


@pytest.mark.parametrize(("field", "value"), [
    ("checked_at", "1700000000"),  # a string: `now - "..."` raised TypeError in get()
    ("checked_at", None),
    ("checked_at", True),
    ("http_status", "200"),
    ("result", "fine"),
    ("detail", 3),
])
def test_an_entry_of_the_wrong_type_makes_the_cache_unreadable_not_a_crash(tmp_path, field, value):
    path = write(tmp_path / "links.json", json.dumps(
        {"version": 1, "links": {"https://x.org/": {**GOOD_ENTRY, "checked_at": time.time(),
                                                     field: value}}}))
    with pytest.warns(CorruptCacheWarning, match=field):
        cache = LinkCache(path)
    assert cache.get("https://x.org/") is None


@pytest.mark.parametrize("checked_at", ["1e300", "NaN", "Infinity"])
def test_a_timestamp_in_the_far_future_or_not_finite_is_never_fresh(tmp_path, checked_at):
    """JSON allows NaN and Infinity; 1e300 is in the future: none may keep a verdict forever."""
    text = json.dumps({"version": 1, "links": {"https://x.org/": {**GOOD_ENTRY, "checked_at": 0}}})
    text = text.replace('"checked_at": 0', f'"checked_at": {checked_at}')
    path = write(tmp_path / "links.json", text)
    with warnings.catch_warnings():  # NaN and Infinity are rejected with a warning; 1e300 is not
        warnings.simplefilter("ignore", CorruptCacheWarning)
        cache = LinkCache(path)
    assert cache.get("https://x.org/") is None, f"checked_at {checked_at} must not count as fresh"


def test_a_cache_path_that_is_a_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        CheckOptions(cache_path=tmp_path)


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path):
    blocker = write(tmp_path / "not-a-folder", "a file where the cache's folder should be")
    cache = LinkCache(blocker / "links.json")
    cache.put("https://x.org/", Verdict("ok", 200))
    with pytest.raises(StarterError, match="cannot write the link cache .*not-a-folder"):
        cache.flush()
    assert blocker.read_text().startswith("a file"), "the file in the way must be left alone"


def test_docstring_examples():
    assert doctest.testmod(cache_module).failed == 0
