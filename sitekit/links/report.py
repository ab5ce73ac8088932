"""Report: the checked links as JSON, as Markdown (a CI summary, an issue) and for the terminal."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sitekit.links.records import RESULTS, LinkResult


@dataclass
class Report:
    """All checked links. `exit_code` is 1 when any is broken: nothing else fails a run."""

    links: list[LinkResult]

    @property
    def summary(self) -> dict[str, int]:
        counts = {result: 0 for result in RESULTS}
        for link in self.links:
            counts[link.result] += 1
        return {**counts, "total": len(self.links)}

    @property
    def exit_code(self) -> int:
        return 1 if self.summary["broken"] else 0

    def of(self, result: str) -> list[LinkResult]:
        return [link for link in self.links if link.result == result]

    def to_json(self) -> dict:
        return {"summary": self.summary, "links": [asdict(link) for link in self.links]}

    def summary_line(self) -> str:
        """The counts in one line.

        >>> Report([LinkResult("https://x.org", "ok", 200, None, ["a.md:1"], "")]).summary_line()
        'links: 1 checked: 1 ok, 0 redirected, 0 broken, 0 unverified, 0 skipped'
        """
        counts = self.summary
        parts = ", ".join(f"{counts[result]} {result}" for result in RESULTS)
        return f"links: {counts['total']} checked: {parts}"

    def to_text(self, limit: int = 50) -> str:
        """The terminal summary: counts, then each broken link with where it is cited."""
        lines = [self.summary_line()]
        for link in self.of("broken")[:limit]:
            lines.append(f"BROKEN {link.url}  {link.detail}")
            lines.extend(f"    in {where}" for where in link.found_in[:5])
            if len(link.found_in) > 5:
                lines.append(f"    ... and {len(link.found_in) - 5} more places")
        if len(self.of("broken")) > limit:
            more = len(self.of("broken")) - limit
            lines.append(f"... {more} more broken links in the JSON/Markdown report")
        external = [link for link in self.links if link.url.startswith(("http://", "https://"))
                    and link.result != "skipped"]
        if external and all(link.detail.startswith("cannot connect") for link in external):
            lines.append("hint: no external URL could be reached: is this machine offline? "
                         "(--offline checks only the built site)")
        if self.of("redirected"):
            moved = len(self.of("redirected"))
            lines.append(f"moved permanently: {moved} (their new URLs are in the report)")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A readable report for a CI summary or an issue: broken, moved, unverified, skipped."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        counts = self.summary
        out = [f"# Link check ({stamp})", "",
               "| " + " | ".join(RESULTS) + " | total |", "|" + "---|" * (len(RESULTS) + 1),
               "| " + " | ".join(str(counts[r]) for r in (*RESULTS, "total")) + " |", ""]
        sections = {
            "broken": ("Broken (fix these)", "problem"),
            "redirected": ("Moved permanently (update the link)", "new address"),
            "unverified": ("Unverified (the host refuses checkers; open them by hand)", "answer"),
        }
        for result, (title, column) in sections.items():
            rows = self.of(result)
            if not rows:
                continue
            out += [f"## {title}", "", f"| URL | {column} | found in |", "|---|---|---|"]
            for link in rows:
                where = "<br>".join(f"`{w}`" for w in link.found_in[:10])
                if len(link.found_in) > 10:
                    where += f"<br>... {len(link.found_in) - 10} more"
                out.append(f"| {_md_cell(link.url)} | {_md_cell(link.detail)} | {where} |")
            out.append("")
        skipped = Counter(link.detail for link in self.of("skipped"))
        if skipped:  # counted, not listed: offline runs skip every external URL
            out += ["## Skipped", "", "| why | links |", "|---|---|"]
            out += [f"| {_md_cell(why)} | {count} |" for why, count in skipped.most_common()]
            out.append("")
        return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
