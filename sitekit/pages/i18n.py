"""The Chinese edition: the words around the catalog text per language (`Edition`), and what
mkdocs-static-i18n would set on a generated page (`localise`).

mkdocs-static-i18n builds the site once per language into one site_dir. In the `zh` pass every
generated page gets a `zh/` prefix and its i18n metadata (locale, alternates); the renderers take an
`Edition`: getting-started and the question pages use the catalogs' `zh` fields, showing the English
text under a "not translated yet" note where one is missing; the other pages (and hand-written pages
without a `.zh.md`) are shown in English under one such note.

>>> EN.text("Hello", None, "title")
['Hello']
>>> ZH.text("Hello", None, "title")[0]
'!!! note "尚未翻译"'
"""

from __future__ import annotations

from dataclasses import dataclass

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from sitekit.catalog import Zh

GUIDE = "Neel Nanda's MATS application guide"
TRANSLATED = ("getting-started.md", "research/")  # generated pages that have a Chinese rendering


@dataclass(frozen=True)
class Edition:
    """One language of the site. `text` picks a catalog entry's `zh` field, or falls back
    visibly."""

    lang: str
    words: dict[str, str]  # the page's own words, by key

    def __getitem__(self, key: str) -> str:
        return self.words[key]

    def zh(self, zh: Zh | None, name: str):
        """The translation of field `name`, or None (English edition, or not translated yet)."""
        if self.lang == "en" or zh is None:
            return None
        return getattr(zh, name)

    def text(self, english: str, zh: Zh | None, name: str) -> list[str]:
        """Markdown lines: the translation, or the English text under a "not translated yet"
        note."""
        if self.lang == "en":
            return [english]
        translated = self.zh(zh, name)
        return [translated] if translated else [*self.fallback_note(), english]

    def fallback_note(self, page: bool = False) -> list[str]:
        if self.lang == "en":
            return []
        body = self["fallback_page"] if page else self["fallback"]
        return [f'!!! note "{self["fallback_title"]}"', "", f"    {body}", ""]


EN = Edition("en", {
    "guide_quote": f"The question, quoted from {GUIDE}",
    "one_of_eight": "It is one of eight sub-questions of [Understanding thinking models](index.md#thinking-models).",
    "in_area": "It is a question of the area [{title}]({path}) of the guide.",
    "direction_quote": f"The direction it answers, quoted from {GUIDE}",
    "area_quote": f"The direction, quoted from {GUIDE}",
    "not_quoted_title": "Not quoted yet",
    "not_quoted_heading": " (headed “{heading}”)",
    "not_quoted": "The guide's text for this area{heading} is not quoted here yet: it has not been "
                  "checked word for word. Read it in [{label}]({url}).",
    "our_summary": "Our summary",
    "questions": "Questions",
    "no_questions": "No questions with a starter in this area yet.",
    "status_ready": "starter and committed result.",
    "status_planned": "starter being written; no result committed yet.",
    "all_areas": "[All research areas](../../index.md)",
    "why": "Why it matters",
    "prior_work": "Prior work",
    "reading_list": "reading list",
    "hypotheses": "Hypotheses worth testing",
    "starter": "Starter",
    "planned": "Planned",
    "planned_body": "The starter `{starter}` is not written yet. Once it is, these commands run it:",
    "planned_draft": "The starter `{starter}` is being written and not marked ready yet; you can already "
                     "try its draft:",
    "run": "Run `{starter}`:",
    "notebook": "Download the notebook",
    "colab": "Open in Colab",
    "notebook_note": "The notebook's first cell installs this site's version of the package.",
    "code": "The code",
    "result": "Result",
    "no_result": "No result committed yet: run the starter and look in `runs/`.",
    "finished": "Run finished {finished_at} with `{model}`.",
    "result_details": "What the run found, in detail",
    "grid_pending": "Result being re-run: see the page.",
    "grid_runtime": "{runtime} on 2 CPU cores",
    "grid_runtime_resumed": "resumed run: at most {runtime} on 2 CPU cores (time spent "
                            "sampling not recorded)",
    "no_findings": "This run has no findings.json yet (its starter is being re-run); the "
                   "details are under [the starter](#result-details).",
    "card_title": "What the committed run found",
    "no_claims": "The run wrote no claims.",
    "model": "Model",
    "runtime": "Runtime",
    "on_cpu": "on 2 CPU cores",
    "organism_title": "Where the numbers come from.",
    "organism_note": "The numbers on this page come from TinyThinker, a {size} "
                     "[model organism](../organism.md) trained here on Countdown. Read them as "
                     "hypotheses about R1-distill, to be tested there with `--preset gpu`.",
    "other_model_note": "The numbers on this page come from `{model}`, a small model that runs "
                        "on a laptop; read them as hypotheses about R1-distill (see also the "
                        "[model organism](../organism.md)).",
    "numbers": "Numbers: every metric the run recorded",
    "numbers_note": "Raw metric names as the starter writes them.",
    "all_rows": "All rows: results.jsonl",
    "np_title": "Neuronpedia",
    "np_fetched": "fetched",
    "np_offline": "This run was made offline, so it shows no Neuronpedia explanations: run it "
                  "online to fetch real explanations.",
    "np_search": "Search Neuronpedia's own explanations of {model} for:",
    "validation": "Does the method work?",
    "no_validation": "No planted-truth validation committed yet.",
    "no_validation_reason": "No planted-truth validation for this starter: {reason}.",
    "validation_variants": "See the organism's [variants with planted truth]({path}).",
    "validation_intro": "The starter's own metric (the same code as `mi-starter run`), run on "
                        "[TinyThinker variants with planted truth]({path}), each trained or "
                        "hooked (a feature added to its residual stream) so that the right answer "
                        "is known. A method that cannot recover a planted "
                        "answer here is not to be trusted on R1-distill; one that does has passed "
                        "a necessary test, not a sufficient one.",
    "validation_sentences": "What each variant says about the method",
    "validation_overlap": "Only an order was planted here, and it holds for the point estimates "
                          "alone: the 95% intervals overlap, so this pass is weak evidence.",
    "validation_numbers": "All numbers: validation.json",
    "validation_rerun": "rerun: `.venv/bin/mi-starter validate {slug} --preset cpu "
                        "--out docs/results/{slug}/validation`",
    "cli_from_repo": "In the repository folder, after `make demo` (it creates `.venv`); the "
                     "commands run as pasted, no activation needed:",
    "gpu_model": "The `gpu` preset loads `{model}`.",
    "gpu_plan": "Its plan, as `--dry-run` computes it (starter/plan.py, when this page was "
                "built): {plan}. Budgets are maxima: chains that stop early cost less.",
    "gpu_printed": "What `--dry-run` prints",
    "primary_claim": "Primary claim:",
    "runtime_resumed": "not recorded (resumed {times}; at most {wall} from first start to last "
                       "finish)",
    "legend_intro": "How to read it: <code>0.41 [0.22, 0.60]</code> is a value and its 95% "
                    "interval. Verdicts:",
    "legend_supported": "the interval of the difference from the control excludes zero, in "
                        "the predicted direction;",
    "legend_not_distinguishable": "it includes zero: at this n the data cannot tell the claim "
                                  "from its control;",
    "legend_refuted": "it excludes zero in the opposite direction.",
    "card_validation": "Method check",
    "validation_passes": "passes",
    "validation_fails": "fails",
    "validation_none": "none yet",
    "validation_badge_help": "Does the method recover planted truth on organism variants?",
    "gs_title": "Getting started",
    "open": "Open it",
    "skip": "What to skip",
    "next": "Next",
    "next_body": "Pick papers from the [reading list](reading-list.md), install the [libraries](libraries.md), "
                 "then choose one of the [research questions](research/index.md).",
})

ZH = Edition("zh", {
    "guide_quote": f"原文（英文），引自 {GUIDE}",
    "our_translation": "我们的译文（非官方翻译，以英文原文为准）",
    "english_title": "英文标题：{title}",
    "one_of_eight": "这是 [Understanding thinking models（理解思考模型）](index.md#thinking-models)的八个子问题之一。",
    "in_area": "这是指南中研究方向 [{title}]({path})（英文标题）下的一个问题。",
    "direction_quote": f"它所回答的研究方向，原文（英文）引自 {GUIDE}",
    "area_quote": f"研究方向，原文（英文）引自 {GUIDE}",
    "not_quoted_title": "尚未引用",
    "not_quoted_heading": "（标题为“{heading}”）",
    "not_quoted": "指南中这一方向的原文{heading}尚未在此引用：还没有逐字核对。请阅读 [{label}]({url})。",
    "our_summary": "我们的概述",
    "questions": "问题",
    "no_questions": "这个方向还没有带起步代码的问题。",
    "status_ready": "起步代码和已提交的结果。",
    "status_planned": "起步代码正在编写；尚未提交结果。",
    "all_areas": "[全部研究方向](../../index.md)",
    "why": "为什么重要",
    "prior_work": "已有工作",
    "reading_list": "阅读清单",
    "hypotheses": "值得检验的假设",
    "starter": "起步代码",
    "planned": "计划中",
    "planned_body": "起步代码 `{starter}` 还没有写好。写好之后，用下面的命令运行：",
    "planned_draft": "起步代码 `{starter}` 正在编写，尚未标记为可用；可以先试试草稿：",
    "run": "运行 `{starter}`：",
    "notebook": "下载 Jupyter 笔记本",
    "colab": "在 Colab 中打开",
    "notebook_note": "笔记本的第一个单元会安装与本站版本一致的软件包。",
    "code": "代码",
    "result": "结果",
    "no_result": "尚未提交结果：运行起步代码后，到 `runs/` 目录查看。",
    "finished": "运行完成于 {finished_at}，模型为 `{model}`。",
    "result_details": "运行结果详情",
    "grid_pending": "结果正在重新运行：详见问题页。",
    "grid_runtime": "2 个 CPU 核心上运行 {runtime}",
    "grid_in_english": "<span class=\"mi-tag\">英文</span>",
    "grid_runtime_resumed": "续跑的运行：2 个 CPU 核心上最多 {runtime}（未记录实际采样时间）",
    "no_findings": "这次运行还没有 findings.json（起步代码正在重新运行）；详情见[起步代码](#result-details)部分。",
    "card_title": "已提交运行的发现",
    "no_claims": "这次运行没有写出任何结论。",
    "model": "模型",
    "runtime": "运行时间",
    "on_cpu": "（2 个 CPU 核心）",
    "organism_title": "数字从何而来：",
    "organism_note": "本页的数字来自 TinyThinker，一个在本项目中训练、参数量为 {size} 的"
                     "[模式生物模型](../organism.md)。请把它们当作关于 R1-distill 的假设，"
                     "再用 `--preset gpu` 在真实模型上检验。",
    "other_model_note": "本页的数字来自 `{model}`，一个能在笔记本电脑上运行的小模型；请把它们当作关于 "
                        "R1-distill 的假设（另见[模式生物模型](../organism.md)）。",
    "numbers": "数字：这次运行记录的全部指标",
    "numbers_note": "指标名称与起步代码写出的一致（英文）。",
    "all_rows": "全部数据行：results.jsonl",
    "np_title": "Neuronpedia",
    "np_fetched": "获取于",
    "np_offline": "这次运行是离线进行的，因此没有 Neuronpedia 的解释：联网运行即可获取真实的解释。",
    "np_search": "在 Neuronpedia 上搜索 {model} 的特征解释：",
    "result_in_english": "下面的结果摘要由代码自动生成，为英文。",
    "validation": "方法可靠吗？",
    "no_validation": "尚未提交基于预设真值的验证（No planted-truth validation committed yet）。",
    "no_validation_reason": "这个起步代码没有基于预设真值的验证（英文原因）：{reason}。",
    "validation_variants": "参见模式生物模型的[预设真值变体]({path})。",
    "validation_intro": "起步代码自己的指标（与 `mi-starter run` 相同的代码），在[预设真值的 "
                        "TinyThinker 变体]({path})上运行：每个变体的正确答案是已知的。"
                        "在这里无法还原预设答案的方法，不能在 R1-distill 上信任；能还原的方法"
                        "只是通过了必要而非充分的检验。",
    "validation_sentences": "每个变体对方法的说明",
    "validation_overlap": "这里只预设了顺序，而且只有点估计符合这个顺序：95% 置信区间相互重叠，"
                          "所以这次通过只是弱证据。",
    "validation_numbers": "全部数字：validation.json",
    "validation_rerun": "重新运行：`.venv/bin/mi-starter validate {slug} --preset cpu "
                        "--out docs/results/{slug}/validation`",
    "cli_from_repo": "在代码仓库目录中、运行 `make demo`（它会创建 `.venv`）之后执行；"
                     "命令可直接粘贴运行，无需激活虚拟环境：",
    "gpu_model": "`gpu` 预设加载 `{model}`。",
    "gpu_plan": "按 `--dry-run` 的计算（starter/plan.py，在构建本页时运行）：{plan}（英文）。"
                "预算是上限：提前结束的思维链花费更少。",
    "gpu_printed": "`--dry-run` 的输出",
    "primary_claim": "主要结论：",
    "runtime_resumed": "未记录（续跑了 {count} 次；从首次开始到最后结束最多 {wall}）",
    "legend_intro": "读法：<code>0.41 [0.22, 0.60]</code> 是一个数值及其 95% 置信区间。结论：",
    "legend_supported": "与对照之差的区间不含零，且方向与预测一致；",
    "legend_not_distinguishable": "区间包含零：在这个样本量下无法区分结论与对照；",
    "legend_refuted": "区间不含零，但方向与预测相反。",
    "card_validation": "方法检验",
    "validation_passes": "通过",
    "validation_fails": "未通过",
    "validation_none": "暂无",
    "validation_badge_help": "这个方法能否在模式生物变体上还原预设的真值？",
    "gs_title": "入门",
    "open": "打开",
    "skip": "可以跳过的部分",
    "next": "下一步",
    "next_body": "从[阅读清单](reading-list.md)中挑选论文，安装[工具库](libraries.md)，"
                 "然后选择一个[研究问题](research/index.md)。",
    "fallback_title": "尚未翻译",
    "fallback": "这一部分还没有中文译文，下面是英文原文。",
    "fallback_page": "本页还没有中文译文，下面是英文原文。",
})

EDITIONS = {edition.lang: edition for edition in (EN, ZH)}


def current_language(config: MkDocsConfig) -> tuple[str, list[str]]:
    """(language of this build pass, every built language); a site without i18n is English only."""
    i18n = config.plugins.get("i18n")
    if i18n is None:
        return "en", ["en"]
    if i18n.default_language != "en":
        raise PluginError(
            "the i18n plugin's default language must be en: the catalogs are written in English"
        )
    return i18n.current_language or "en", list(i18n.build_languages)


def localise(
    file: File, config: MkDocsConfig, lang: str, languages: list[str], locale: str
) -> None:
    """What mkdocs-static-i18n would have set on a docs file: zh/ prefix, locale, alternates.

    The language switcher reads `alternates[lang].url`; the sitemap lists the page with its
    alternates.
    """
    src = file.src_uri
    if lang != "en":
        file.dest_uri = f"{lang}/{file.dest_uri}"  # url/abs_dest_path derive from it on first use
    # The attributes below are the i18n plugin's, which mkdocs' File does not declare.
    file.alternates = {  # type: ignore[attr-defined]
        alt: file if alt == lang else _page_in(alt, src, config) for alt in languages
    }
    file.locale = locale  # type: ignore[attr-defined]
    file.locale_alternate_of = lang  # type: ignore[attr-defined]
    file.localization = locale if locale != "en" else None  # type: ignore[attr-defined]
    file.norm_src_uri = src  # type: ignore[attr-defined]
    i18n = config.plugins.get("i18n")
    if i18n is not None and file.is_documentation_page():
        i18n.i18n_files_per_language.setdefault(lang, []).append(file)


def _page_in(lang: str, src: str, config: MkDocsConfig) -> File:
    """A stand-in for the same generated page in another language: only its URL is read."""
    other = File.generated(config, src, content="")
    if lang != "en":
        other.dest_uri = f"{lang}/{other.dest_uri}"
    return other
