"""Check the hub's links: internal links and anchors of the built site, and every external URL.

    python scripts/check_links.py site --offline          # make test: the built site, no network
    python scripts/check_links.py                          # docs/data/*.yaml, docs/, site/
    python scripts/check_links.py docs/data/papers.yaml --json links.json --markdown links.md

Exit status: 0 nothing broken, 1 something broken, 2 bad usage. `redirected` and `unverified` links
are reported but never fail the run. The logic lives in sitekit/links/ (tested in tests/sitekit/).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # sitekit/ is site tooling, not installed with the package

from sitekit.links import CheckOptions, check_links, default_paths  # noqa: E402
from starter.errors import StarterError, UsageError  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one `error:` line and exit 2, like other usage errors
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    defaults = CheckOptions()
    parser = _Parser(prog="check_links.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="built site folder, Markdown files/folders or YAML catalogs "
                             "(default: docs/data/*.yaml, docs/ and site/ of this repository)")
    parser.add_argument("--offline", action="store_true",
                        help="check only internal links and anchors of built sites; "
                             "skip external URLs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="write a readable Markdown report")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        default=REPO_ROOT / ".cache" / "links.json",
                        help="cache of verdicts (default: .cache/links.json in the repository)")
    parser.add_argument("--cache-ttl", type=float, metavar="HOURS",
                        default=defaults.cache_ttl_hours,
                        help="reuse non-broken verdicts younger than this "
                             "(default: %(default)s; 0 = never)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", default=defaults.timeout,
                        help="wall-clock limit of one request, connect to last byte "
                             "(default: %(default)s)")
    parser.add_argument("--max-per-host", type=int, metavar="N", default=defaults.max_per_host,
                        help="concurrent requests to one host (default: %(default)s)")
    parser.add_argument("--exclude", action="append", default=[], metavar="REGEX",
                        help="skip URLs matching this regular expression (repeatable)")
    return parser


def write_report(path: Path, text: str, flag: str) -> None:
    """Write one report file; a path that cannot be written is one line naming it (exit 2)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot write it ({err.strerror or err}); "
                         "give a file in a writable folder") from None


def main(argv: list[str] | None = None) -> int:
    # Warnings (e.g. an unreadable cache that gets rebuilt): one readable line, no source excerpt.
    warnings.formatwarning = lambda message, *_rest, **_kw: f"warning: {message}\n"
    try:
        args = build_parser().parse_args(argv)
        options = CheckOptions(offline=args.offline, timeout=args.timeout,
                               max_per_host=args.max_per_host, exclude=tuple(args.exclude),
                               cache_path=args.cache, cache_ttl_hours=args.cache_ttl)
        report = check_links(args.paths or default_paths(REPO_ROOT), options)
        if args.json:
            write_report(args.json, json.dumps(report.to_json(), indent=2) + "\n", "--json")
        if args.markdown:
            write_report(args.markdown, report.to_markdown(), "--markdown")
    except StarterError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted: verdicts found so far are in the cache; run again to go on",
              file=sys.stderr)
        return 130
    print(report.to_text())
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
