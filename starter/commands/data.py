"""`mi-starter data list|fetch`: the public releases the kit reads, and their download.

    mi-starter data list                          each release: revision, licence, files, cached?
    mi-starter data list --files thought-branches every file of one release, with size and sha256
    mi-starter data fetch thought-anchors         into the kit's cache, every file checked
    mi-starter data fetch thought-anchors --to data/ta --only 'deepseek-r1-distill-llama-8b/*'

Files are downloaded at the pinned revision and their sha256 checked (`starter.releases.fetch`);
running the same fetch again fetches only what is missing. No torch is imported.
"""

from __future__ import annotations

import argparse
import sys
import textwrap


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="{list,fetch}", required=True)
    listing = sub.add_parser("list", help="the releases: revision, licence, size, whether cached")
    listing.add_argument("--files", metavar="NAME",
                         help="list every file of release NAME with its size and sha256")
    fetch = sub.add_parser("fetch", help="download a release at its pinned revision, checked")
    fetch.add_argument("name", metavar="NAME", help="a release of `mi-starter data list`")
    fetch.add_argument("--to", metavar="DIR",
                       help="download into DIR instead of the kit's cache (nothing there is "
                            "overwritten)")
    fetch.add_argument("--only", metavar="GLOB",
                       help="only the files whose path matches GLOB, e.g. "
                            "'deepseek-r1-distill-llama-8b/*'")


def _row(label: str, text: str) -> None:
    print(textwrap.fill(text, width=100, initial_indent=f"    {label:<10}",
                        subsequent_indent=" " * 14, break_on_hyphens=False))


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _list(files_of: str | None) -> int:
    from starter.releases.fetch import cache_folder
    from starter.releases.registry import get_release, releases

    if files_of:
        release = get_release(files_of)
        if not release.files:
            print(f"{release.name}: no files pinned ({release.local_only})")
        for f in release.files:
            print(f"{f.size:>10}  {f.sha256}  {f.path}")
        return 0
    for release in releases().values():
        print(f"{release.name}  {release.title}")
        _row("address", release.address)
        _row("revision", release.revision or "not pinned by the project")
        _row("licence", release.licence)
        _row("reads", release.reads)
        _row("reader", release.reader)
        if release.fetchable:
            where = cache_folder(release)
            cached = sum((where / f.path).is_file() for f in release.files)
            _row("files", f"{len(release.files)}, {_mb(release.total_size)}; in the cache: "
                          f"{cached} of {len(release.files)} ({where})")
            _row("fetch", f"mi-starter data fetch {release.name}")
        else:
            _row("fetch", f"not fetched by the kit: {release.local_only}")
        print()
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from starter.releases.fetch import fetch_plan, fetch_release

    plan = fetch_plan(args.name, args.to, args.only)
    size = sum(f.size for f in plan.files)
    print(f"{args.name} at {plan.release.revision}: {len(plan.files)} files, {_mb(size)} "
          f"-> {plan.folder}", file=sys.stderr)
    report = fetch_release(args.name, args.to, args.only,
                           progress=lambda line: print(f"  {line}", file=sys.stderr))
    print(f"{args.name}: {len(report.downloaded)} files downloaded ({_mb(report.bytes_downloaded)})"
          f", {len(report.already_present)} already in place; every file's sha256 checked")
    print(report.folder)
    return 0


def main(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return _list(args.files)
    return _fetch(args)
