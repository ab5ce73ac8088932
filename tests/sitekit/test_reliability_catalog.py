"""Issue 26, item 15: catalog YAML cannot inject markup, break a page's HTML or hang the build.

A URL holding `"` or `>` is refused by the schema naming file, line and entry; every catalog string
is HTML-escaped where it is loaded (so `<script>` in a title renders as text on the page); anchors
and aliases (an alias bomb) are refused in one line before anything is built.
"""

from __future__ import annotations

from pathlib import Path

import markdown
import pytest
import yaml

from sitekit import catalog
from sitekit.catalog import CatalogError
from sitekit.pages import render


def _reading_list(title: str = "A paper", url: str = "https://arxiv.org/abs/2401.00001") -> dict:
    return {"sections": [
        {"id": section, "title": section.title(), "intro": "Why these papers.",
         "entries": [{"id": f"{section}-paper", "title": title, "authors": "Doe & Roe",
                      "year": 2024, "url": url, "annotation": "What it shows.",
                      "priority": "core"}]}
        for section in catalog.READING_SECTIONS]}


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "reading_list.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("url", ['https://example.org/a"onmouseover="x',
                                 "https://example.org/a><script>x</script>",
                                 "https://example.org/a<b"])
def test_a_url_that_would_break_the_html_is_refused_naming_file_line_and_entry(tmp_path, url):
    path = _write(tmp_path, _reading_list(url=url))
    with pytest.raises(CatalogError) as err:
        catalog.load_reading_list(path)
    message = str(err.value)
    assert f"{path}:" in message and "(entry 'reasoning-models-paper')" in message
    assert "would break the page's HTML; percent-encode it" in message


def test_markup_in_a_title_renders_as_text(tmp_path):
    title = "<script>alert(1)</script> & more"
    reading = catalog.load_reading_list(_write(tmp_path, _reading_list(title=title)))
    entry = reading.entries[0]
    assert entry.title == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"
    assert entry.authors == "Doe &amp; Roe"
    page = markdown.markdown(render.render_reading_list(reading), extensions=["attr_list"])
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_code_fields_are_not_escaped():
    snippet = catalog.load_libraries().libraries[0]
    assert "&lt;" not in snippet.snippet and "&amp;" not in snippet.install


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "words"), [
    (ALIAS_BOMB, "reading_list.yaml:1: YAML anchor &a is not allowed in a catalog"),
    ("sections:\n  - &s {id: x}\n  - *s\n", "reading_list.yaml:2: YAML anchor &s"),
])
def test_anchors_and_aliases_are_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "reading_list.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        catalog.load_reading_list(path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_named_pipe_as_the_link_cache_is_ignored_not_waited_on(tmp_path):
    """Item 12 for the link checker's cache file: refused at once, never read."""
    import os
    import threading
    import warnings

    from sitekit.links import CorruptCacheWarning, LinkCache

    path = tmp_path / "links.json"
    os.mkfifo(path)
    got: list = []

    def load() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got.append((LinkCache(path).entries, [w.category for w in caught]))

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(20)
    if reader.is_alive():
        with open(path, "wb"):
            pass
        pytest.fail("reading a named pipe as the link cache blocked")
    assert got == [({}, [CorruptCacheWarning])]
