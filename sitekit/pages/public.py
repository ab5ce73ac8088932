"""A question page's "On a real reasoning model (public data)" section: docs/results/<slug>/r1-public/.

`mi-starter public <slug>` writes the five artefacts there from a public release of R1-distill chains
(Thought Anchors', Thought Branches'); this module renders them above the organism result, which stays
as the method's demonstration. Nothing is rendered when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

from sitekit.pages import i18n, results

FOLDER = "r1-public"  # starter.public.RESULT_FOLDER (the site does not import the package here)
DETAIL_SECTIONS = ("Finding", "Caveats", "What to try next")  # summary.md sections shown, collapsed

WORDS = {
    "en": {
        "title": "On a real reasoning model (public data)",
        "intro": "Measured on {models} from the public release `{repository}` (revision "
                 "`{revision}`), with `.venv/bin/mi-starter public {slug}` (after `.venv/bin/mi-starter data fetch {release}`): no model runs, the kit reads "
                 "the released chains. n counts problems; every interval resamples problems.",
        "primary": "Primary claim:",
        "read_first": "Read this first",
        "details": "Details: what was measured, caveats, what to try next",
        "files": "Artefacts",
        "organism": "Below, the same question on the model organism: the method's demonstration "
                    "where the truth is planted. Organism findings are hypotheses about "
                    "R1-distill; the section above is R1-distill itself.",
        "in_english": "",
    },
    "zh": {
        "title": "真实推理模型上的结果（公开数据）",
        "intro": "在 {models} 上测得，数据来自公开发布 `{repository}`（版本 `{revision}`），命令 "
                 "`.venv/bin/mi-starter public {slug}`（先运行 `.venv/bin/mi-starter data fetch {release}`）：不运行模型，只读取已发布的推理链。n 为题目数；"
                 "所有区间都按题目重抽样。",
        "primary": "主要结论：",
        "read_first": "请先读这一段（英文）",
        "details": "细节：测量了什么、注意事项、下一步（英文）",
        "files": "结果文件",
        "organism": "下面是同一问题在模型有机体上的结果：在已知真相处演示方法。有机体上的发现是关于 "
                    "R1-distill 的假设；上面一节才是 R1-distill 本身。",
        "in_english": "以下结论为英文原文。",
    },
}


def _words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def render_public(slug: str, results_dir: Path, lang: str = "en",
                  legend_words: dict[str, str] | None = None) -> list[str]:
    """Markdown lines for the question page, or [] when docs/results/<slug>/r1-public/ is absent.

    `legend_words`: the page's words for the verdict legend (sitekit.pages.i18n); English if None.
    """
    folder = results_dir / slug / FOLDER
    if not (folder / "findings.json").is_file():
        return []
    words = _words(lang)
    legend_words = legend_words or i18n.EN.words
    run = results.load_run(folder)
    source = run.manifest.get("source") or {}
    models = run.manifest.get("models") or [run.model or "R1-distill"]
    lines = [f"## {words['title']} {{ #r1-public }}", ""]
    lines += [words["intro"].format(
        models=", ".join(f"**{m}**" for m in models), repository=source.get("repository", "?"),
        revision=str(source.get("revision", "?"))[:7], slug=slug,
        release=source.get("release") or source.get("name") or "<release>"), ""]
    if words["in_english"]:
        lines += [words["in_english"], ""]
    first = results.sections(run.summary).get("Read first")
    if first:
        lines += [f'!!! warning "{words["read_first"]}"', ""]
        lines += [f"    {line}" if line else "" for line in first.splitlines()]
        lines.append("")
    lines += ['<div class="result-card" markdown>', ""]
    ordered = sorted(run.claims, key=lambda c: not c.primary)
    for c in ordered:
        lines.append(results.claim_item(c, words["primary"] if c.primary else ""))
    lines.append("")
    lines += results.verdict_legend(legend_words)
    code = Path(__file__).parents[2] / "starter" / "public" / f"{slug.replace('-', '_')}.py"
    lines += results.figure(run, slug, folder=f"{slug}/{FOLDER}",
                            starter=code if code.is_file() else None)
    files = " · ".join(f"[{name}](../results/{slug}/{FOLDER}/{name})"
                       for name in ("findings.json", "results.jsonl", "manifest.json"))
    lines += [f"{words['files']}: {files}", "", "</div>", ""]
    parts = results.sections(run.summary)
    shown = [(title, parts[title]) for title in DETAIL_SECTIONS if parts.get(title)]
    if shown:
        lines += [f'??? info "{words["details"]}"', ""]
        for title, body in shown:
            lines += [f"    **{title}**", ""]
            lines += [f"    {line}" if line else "" for line in body.splitlines()]
            lines.append("")
    lines += [f"*{words['organism']}*", ""]
    return lines
