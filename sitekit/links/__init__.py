"""Link checker for the hub: internal links and anchors of the built site, and every external URL.

    python scripts/check_links.py site --offline        # what `make test` runs (no network)
    python scripts/check_links.py --markdown report.md  # full check: catalogs, docs/, site/

Site tooling, not part of the installed `starter` package. One module per job:

    records  Citation, Verdict, LinkResult, CheckOptions
    extract  HTML pages, Markdown files and YAML catalogs -> citations (url, "file:line"),
             anchors
    check    internal links on disk; external URLs over HTTP (HEAD, GET when needed, redirects by
             hand, retries with backoff, per-host cap, a deadline and a body limit per request);
             `check_links`, the whole run
    cache    verdicts stored in a JSON file with timestamps, written atomically in small batches
    report   JSON / Markdown / terminal summary; exit status 1 only when something is `broken`

Every link ends in one of RESULTS. `redirected` works but moved permanently (update it),
`unverified` means the host refuses checkers (401/403/429...): reported, never a failure.

>>> from sitekit.links import CheckOptions, check_links
>>> CheckOptions().offline
False
"""

from sitekit.links.cache import CorruptCacheWarning, LinkCache
from sitekit.links.check import (
    check_external,
    check_internal,
    check_links,
    default_paths,
    fragment_found,
    parse_retry_after,
)
from sitekit.links.extract import extract_source, markdown_urls, scan_html, yaml_urls
from sitekit.links.records import RESULTS, CheckOptions, Citation, LinkResult, Verdict
from sitekit.links.report import Report

__all__ = [
    "RESULTS",
    "CheckOptions",
    "Citation",
    "CorruptCacheWarning",
    "LinkCache",
    "LinkResult",
    "Report",
    "Verdict",
    "check_external",
    "check_internal",
    "check_links",
    "default_paths",
    "extract_source",
    "fragment_found",
    "markdown_urls",
    "parse_retry_after",
    "scan_html",
    "yaml_urls",
]
