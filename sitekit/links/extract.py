"""Extract: HTML pages, Markdown files and YAML catalogs -> links and anchors, with line numbers.

Rules that keep theme plumbing out of the report (narrow on purpose):
- In HTML only what a reader clicks or sees is a link: `<a href>`, `<area href>`,
  `<img|iframe|embed|source|video|audio src>`. `<link>` (stylesheets, canonical, rel=alternate
  language versions, icons) and `<script>` belong to the theme; mkdocs-material's search index
  and sitemap.xml are fetched by its JavaScript and never appear as `<a>`.
- In Markdown, fenced code blocks and inline code are not links (they hold example commands).
- In YAML, every string value that is an http(s) URL is a link.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from sitekit.links.records import Citation
from starter.errors import StarterError, UsageError

# tag -> the attribute that holds a reader-facing link (the module docstring says what is left out).
LINK_ATTRIBUTES: dict[str, str] = {
    "a": "href", "area": "href", "img": "src", "iframe": "src", "embed": "src",
    "source": "src", "video": "src", "audio": "src",
}


class Found(NamedTuple):
    """A link as written in a file, and the line it is on."""

    url: str  # the href / URL exactly as written (stripped of surrounding blanks)
    line: int  # 1-based line number


@dataclass(frozen=True)
class PageScan:
    """What one HTML page offers (ids and names, for fragments) and cites (links with lines)."""

    anchors: frozenset[str]  # every id= and name= on the page
    links: tuple[Found, ...]  # reader-facing links, in page order
    canonical: str | None  # href of <link rel="canonical">, when the page has one


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()
        self.links: list[Found] = []
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        for name in ("id", "name"):  # `name` on <a> is the pre-HTML5 anchor; harmless on <input>
            if name in values:
                self.anchors.add(values[name])
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and values.get(attribute, "").strip():
            self.links.append(Found(values[attribute].strip(), self.getpos()[0]))
        if tag == "link" and values.get("rel") == "canonical":
            self.canonical = values.get("href")


def scan_html(text: str) -> PageScan:
    """Anchors and reader-facing links of one HTML page.

    >>> page = scan_html('<h2 id="setup">Setup</h2>\\n'
    ...                  '<a href="guide/#intro">x</a><link href="a.css">')
    >>> sorted(page.anchors), page.links
    (['setup'], (Found(url='guide/#intro', line=2),))
    """
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return PageScan(frozenset(parser.anchors), tuple(parser.links), parser.canonical)


_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_URL = re.compile(r"""(?:https?://|mailto:)[^\s<>"'`\[\]{}|\\^]+""")


def _trim_url(url: str) -> str:
    """Drop prose punctuation and unbalanced closing brackets that a regex match swallows.

    One pass from the end, counting brackets once (a line of 100k `)` stays linear).

    >>> _trim_url("https://en.wikipedia.org/wiki/Tree_(graph))."), _trim_url("https://x.org/a),")
    ('https://en.wikipedia.org/wiki/Tree_(graph)', 'https://x.org/a')
    """
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end:
        last = url[end - 1]
        if last in ".,;:!?*_'":
            end -= 1
        elif last == ")" and closed > opened:
            end -= 1
            closed -= 1
        else:
            break
    return url[:end]


def markdown_urls(text: str) -> list[Found]:
    """External URLs (and mailto:) in Markdown prose with their line numbers; code is not prose.

    One pattern covers inline links, images, reference definitions, <autolinks>, raw HTML attributes
    and bare URLs; Markdown-internal links are left to `mkdocs build --strict` and the site check.

    >>> markdown_urls("See [R1](https://arxiv.org/abs/2501.12948).\\n"
    ...               "```\\ncurl http://127.0.0.1:8000\\n```\\n"
    ...               "Run `open https://x.org`; wiki <https://en.wikipedia.org/wiki/Tree_(graph)>")
    ... # doctest: +NORMALIZE_WHITESPACE
    [Found(url='https://arxiv.org/abs/2501.12948', line=1),
     Found(url='https://en.wikipedia.org/wiki/Tree_(graph)', line=5)]
    """
    found: list[Found] = []
    in_fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence:
            in_fence = None if in_fence == fence.group(1) else (in_fence or fence.group(1))
            continue
        if in_fence:
            continue
        prose = _INLINE_CODE.sub(" ", line)
        urls = map(_trim_url, _URL.findall(prose))
        found.extend(Found(url, number) for url in urls if url)
    return found


def yaml_urls(text: str) -> list[Found]:
    """Every string value of a YAML document that is an http(s) URL, with its line.

    Each node is visited once, so aliases (`*a`), even recursive ones, cost nothing extra.

    >>> yaml_urls("papers:\\n  - title: R1\\n    url: https://arxiv.org/abs/2501.12948\\n"
    ...           "    note: see https://x")
    [Found(url='https://arxiv.org/abs/2501.12948', line=3)]
    >>> yaml_urls("loop: &a [*a, https://x.org]")
    [Found(url='https://x.org', line=1)]
    """
    import yaml  # imported here: the module stays cheap to import for the site build

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C parser when available: 10x faster
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())  # one line: PyYAML's message spans several
        raise StarterError(f"not valid YAML: {problem}") from None
    found: list[Found] = []
    stack = [root] if root is not None else []
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:  # an alias: the same node again (a recursive one would never end)
            continue
        visited.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value).strip()
            if re.fullmatch(r"https?://\S+", value):
                found.append(Found(value, node.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for _key, value in node.value)
    return sorted(found, key=lambda item: item.line)


def display(path: Path) -> str:
    """A path as people will read it in reports: relative to the working directory when inside it.

    Never follows symlinks in a way that can fail: a symlink loop is shown as the path given.

    >>> display(Path.cwd() / "docs" / "index.md")
    'docs/index.md'
    """
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path(os.path.abspath(Path.cwd()))))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    """A file's text (undecodable bytes replaced); an unreadable file is a one-line StarterError."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise StarterError(f"cannot read {path}: {err.strerror or err}") from None


# file suffix -> function text -> [Found], for source files (a built site is handled apart).
SOURCE_EXTRACTORS = {
    ".md": markdown_urls, ".markdown": markdown_urls,
    ".yaml": yaml_urls, ".yml": yaml_urls,
}


def extract_source(path: Path) -> list[Citation]:
    """Citations of one Markdown file or YAML catalog."""
    try:
        pairs = SOURCE_EXTRACTORS[path.suffix.lower()](read_text(path))
    except StarterError as err:
        raise StarterError(f"{path}: {err}") from None
    shown = display(path)
    return [Citation(found.url, f"{shown}:{found.line}") for found in pairs]


@dataclass
class SiteInput:
    """A built site folder and the pages of it to check."""

    root: Path  # the folder that holds index.html (or the page's folder)
    pages: list[Path]  # HTML files under root whose links are checked


@dataclass
class Inputs:
    """What the given paths hold: built sites and source files."""

    sites: list[SiteInput] = field(default_factory=list)  # built sites, in argument order
    sources: list[Path] = field(default_factory=list)  # Markdown and YAML files, each once


def classify_paths(paths: Sequence[Path]) -> Inputs:
    """Sort PATH arguments into built sites (a folder with index.html, or one .html page) and
    sources.

    A folder without index.html is a source tree: its Markdown and YAML files are read; HTML in it
    (theme overrides, Jinja templates) is not a page and is left alone.
    """
    inputs = Inputs()
    seen: set[str] = set()

    def add_source(file: Path) -> None:
        key = os.path.realpath(file)  # realpath, unlike Path.resolve, survives symlink loops
        if key not in seen:
            seen.add(key)
            inputs.sources.append(file)

    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}; give a built site folder, "
                             "Markdown files/folders or YAML catalogs")
        if path.is_dir() and (path / "index.html").is_file():
            # Pages are files, or symlinks (a broken or looping one is reported, not skipped);
            # a folder named `x.html` is not a page, and a named pipe would block the read forever.
            pages = [page for page in path.rglob("*.html") if page.is_symlink() or page.is_file()]
            inputs.sites.append(SiteInput(path, sorted(pages)))
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in file.relative_to(path).parts)
                if file.is_file() and file.suffix.lower() in SOURCE_EXTRACTORS and not hidden:
                    add_source(file)
        elif path.suffix.lower() in (".html", ".htm"):
            inputs.sites.append(SiteInput(path.parent, [path]))
        elif path.suffix.lower() in SOURCE_EXTRACTORS:
            add_source(path)
        else:
            allowed = ", ".join(sorted({*SOURCE_EXTRACTORS, ".html"}))
            raise UsageError(f"cannot check {path}: unsupported file type; "
                             f"allowed: {allowed} or a folder")
    return inputs


def is_file(path: Path) -> bool:
    """Path.is_file that answers False, not OSError, for names the filesystem refuses (too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    """Path.is_dir that answers False, not OSError, for names the filesystem refuses (too long)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


class Site:
    """A built site folder; parses each page once, for its links and for its anchors.

    Absolute paths (`/hub/zh/`, used by material's language switcher and 404 page) are resolved
    against the site root after removing the base path of `site_url`, read from the root page's
    canonical link.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._scans: dict[Path, PageScan] = {}
        index = root / "index.html"
        canonical = self.scan(index).canonical if is_file(index) else None
        # mkdocs writes absolute links as /<base>/...; the base path comes from site_url.
        self.base_path = _url_path(canonical) if canonical else "/"
        if not self.base_path.endswith("/"):
            self.base_path += "/"

    def scan(self, page: Path) -> PageScan:
        """The page's links and anchors (parsed once); StarterError when it cannot be read."""
        if page not in self._scans:
            self._scans[page] = scan_html(read_text(page))
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
            if path.startswith(self.base_path):
                rest = path[len(self.base_path):]
            else:
                rest = path.lstrip("/")
            target = posixpath.normpath(rest or ".")
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page_path), path))
        if target == ".." or target.startswith("../"):
            return None
        if target == "." or path.endswith("/") or is_dir(self.root / target):
            target = posixpath.join("" if target == "." else target, "index.html")
        return target


def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:  # a canonical link that is not a URL: treat the site as served from /
        return "/"
