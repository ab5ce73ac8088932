"""The newcomer's first hour (issue 27), checked on the built HTML with a parser (no browser):
commands that run as pasted, the GPU tab's plan equal to starter/plan.py's, the home cards'
primary claim and validation badge, the hero's runtimes, one interval notation, the verdict words,
lists that render as lists, relative links, alt texts that describe the figure, figures that keep
half their width on a phone, badge contrast, one home for the repository address.

One `mkdocs build --strict` for the module, into `<tmp>/<path of site_url>/`.
tests/browser/test_first_hour.py checks the same in chromium where it is installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sitekit import catalog
from sitekit.pages import home, results

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "docs" / "results"
QUESTIONS = catalog.load_research().questions
READY = [q for q in QUESTIONS if (RESULTS / q.slug / "findings.json").is_file()]
VERDICTS = {"supported", "not distinguishable", "refuted"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, site_path) -> Path:
    out = tmp_path_factory.mktemp("newcomer") / site_path
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--strict",
                           "--site-dir", str(out)], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    return out


class Article(HTMLParser):
    """The <article> of a page: its paragraphs' text, code blocks' text, images, links and
    elements carrying data-validation or a verdict badge."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # inside <article> when > 0
        self.stack: list[tuple[str, dict]] = []
        self.paragraphs: list[str] = []
        self.codes: list[str] = []
        self.images: list[dict] = []
        self.badges: list[str] = []  # text of .mi-verdict spans
        self.validation: list[str] = []  # data-validation values
        self.text: list[str] = []
        self._p: list[str] | None = None
        self._code: list[str] | None = None
        self._badge: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self.depth += 1
        if not self.depth:
            return
        if tag == "p":
            self._p = []
        if tag == "code" and self.stack and self.stack[-1][0] == "pre":
            self._code = []
        if tag == "img":
            self.images.append(attrs)
        if "mi-verdict" in (attrs.get("class") or "").split():
            self._badge = []
        if "data-validation" in attrs:
            self.validation.append(attrs["data-validation"])
        if tag not in ("img", "br", "input", "hr"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "article":
            self.depth -= 1
        if tag == "p" and self._p is not None:
            self.paragraphs.append("".join(self._p))
            self._p = None
        if tag == "code" and self._code is not None:
            self.codes.append("".join(self._code))
            self._code = None
        if tag == "span" and self._badge is not None:
            self.badges.append("".join(self._badge).strip())
            self._badge = None
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if not self.depth:
            return
        self.text.append(data)
        for buf in (self._p, self._code, self._badge):
            if buf is not None:
                buf.append(data)


def article(site: Path, path: str) -> Article:
    file = site / path / "index.html"
    assert file.is_file(), f"{path or 'home'} was not built"
    parsed = Article()
    parsed.feed(file.read_text(encoding="utf-8"))
    return parsed


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("index.html"))


# --- commands ----------------------------------------------------------------------------------


def test_every_command_on_a_question_page_runs_as_pasted(site):
    for q in QUESTIONS:
        for prefix in ("", "zh/"):
            page = article(site, f"{prefix}research/{q.slug}")
            lines = [line.strip() for code in page.codes for line in code.splitlines()]
            starts = [line for line in lines if re.match(r"(\$ )?mi-starter\b", line)]
            assert not starts, f"{prefix}{q.slug}: bare `mi-starter` in {starts}"
            assert any(line.startswith(f".venv/bin/mi-starter run {q.slug} --preset cpu")
                       for line in lines), f"{prefix}{q.slug}: no runnable cpu command"
    for path in ("", "zh/"):
        text = "".join(article(site, path).text)
        assert re.search(r"(?<![/\w])mi-starter (run|list)", text) is None, (
            f"{path or 'home'}: a bare `mi-starter` command; write .venv/bin/mi-starter")


def test_make_demo_and_the_demo_script_end_with_a_command_that_runs_as_pasted():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    demo = makefile[makefile.index("\ndemo:"):]
    demo = demo[:demo.index("\n\n")]
    echoes = [line for line in demo.splitlines() if "@echo" in line]
    assert ".venv/bin/mi-starter" in echoes[-1] or ".venv/bin/mi-starter" in echoes[-2], echoes
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import demo as demo_script
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    assert demo_script.NEXT.startswith("Next: .venv/bin/mi-starter ")


def test_gpu_tab_gives_the_model_the_dry_run_plan_and_the_cuda_install(site):
    from starter import plan
    from starter.questions import available, load

    for q in READY:
        if q.slug not in available():
            continue
        starter = load(q.slug)
        cfg = starter.presets["gpu"]
        made = plan.make_plan(starter.budget(cfg))
        text = " ".join("".join(article(site, f"research/{q.slug}").text).split())
        assert f"The gpu preset loads {cfg.model}." in text, q.slug
        assert f"{made.sequences:,} generations, at most {made.tokens_budgeted:,} tokens" in text
        assert re.search(r"memory \d+\.\d GB weights \+ \d+\.\d GB KV cache = \d+\.\d GB",
                         text), f"{q.slug}: no memory in the GPU tab"
        assert "time at most" in text or "time not estimated" in text, q.slug
        assert "make install" in text and "CUDA" in text, f"{q.slug}: no CUDA install line"
        assert f".venv/bin/mi-starter run {q.slug} --preset gpu --dry-run" in text


# --- home --------------------------------------------------------------------------------------


def _cards(site: Path, path: str) -> dict[str, str]:
    """slug -> the card's HTML on the home page."""
    markup = (site / path / "index.html").read_text(encoding="utf-8")
    grid = markup[markup.index("mi-questions"):]
    out = {}
    for item in re.findall(r"<li>(.*?)</li>", grid, flags=re.S):
        slug = re.search(r'href="research/([\w-]+)/"', item)
        if slug:
            out.setdefault(slug.group(1), item)
    return out


def test_home_cards_show_the_primary_claim_its_verdict_metric_and_validation(site):
    cards = _cards(site, "")
    for q in READY:
        claims = json.loads((RESULTS / q.slug / "findings.json").read_text(encoding="utf-8"))
        primary = next((c for c in claims if c.get("primary") is True), claims[0])
        card = cards[q.slug]
        verdict = re.search(r'class="mi-verdict mi-verdict--[a-z-]+">([^<]+)<', card).group(1)
        assert verdict == primary["verdict"], f"{q.slug}: card says {verdict}"
        plain = re.sub(r"<[^>]+>", "", card).replace("&#x27;", "'").replace("&amp;", "&")
        metric = primary["metric"].replace("`", "")
        assert metric in plain, f"{q.slug}: the card names no metric ({metric!r})"
        record = RESULTS / q.slug / "validation" / "validation.json"
        expected = ("none" if not record.is_file() else
                    "passes" if json.loads(record.read_text(encoding="utf-8"))["recovered"]
                    else "fails")
        assert f'data-validation="{expected}"' in card, f"{q.slug}: expected {expected}"


def test_home_card_uses_the_primary_flag_when_a_claim_carries_it(tmp_path):
    folder = tmp_path / "steering"
    folder.mkdir()
    first = {"claim": "Side check.", "metric": "rate", "value": 1.0, "ci": [1.0, 1.0], "n": 5,
             "unit": "problem", "control": {"name": "zero", "value": 0.0, "ci": [0, 0], "n": 5},
             "difference": 1.0, "difference_ci": [1.0, 1.0], "verdict": "supported"}
    second = {**first, "claim": "The real question.", "metric": "premature backtracks",
              "value": 0.95, "control": {"name": "random", "value": 1.2, "ci": [1.0, 1.4],
                                         "n": 5},
              "difference": -0.25, "difference_ci": [-0.5, 0.1],
              "verdict": "not distinguishable", "primary": True, "direction": -1}
    (folder / "findings.json").write_text(json.dumps([first, second]))
    run = results.load_run(folder)
    assert run.primary.claim == "The real question."
    card = home.card_finding(run)
    assert card == ('<span class="mi-verdict mi-verdict--not-distinguishable">not '
                    'distinguishable</span> The real question. (premature backtracks: 0.95 vs '
                    'random 1.20, lower predicted)')
    (folder / "findings.json").write_text(json.dumps([first, {**second, "primary": False}]))
    assert results.load_run(folder).primary.claim == "Side check.", "else the first claim"


def test_zh_home_cards_use_the_zh_titles(site):
    cards = _cards(site, "zh")
    for q in QUESTIONS:
        if q.zh and q.zh.title:
            assert q.zh.title in cards[q.slug], f"zh card of {q.slug} keeps the English title"
    for q in READY:
        assert '<span class="mi-tag">英文</span>' in cards[q.slug], (
            f"zh card of {q.slug}: its English claim needs the 英文 marker")


def test_hero_runtime_matches_the_presets_and_the_committed_runs(site):
    seconds = [results.run_time(json.loads(p.read_text(encoding="utf-8"))).seconds
               for p in RESULTS.glob("*/manifest.json")]
    hero = " ".join("".join(article(site, "").text).split())
    assert "smoke preset runs in 8–15 s on a laptop CPU" in hero
    span = f"{results.duration(min(seconds))} to at most {results.duration(max(seconds))}"
    assert span in hero, f"hero lacks {span!r}"
    assert "in minutes" not in hero


def test_a_resumed_run_shows_no_wall_time_as_its_runtime(site):
    for q in READY:
        manifest = json.loads((RESULTS / q.slug / "manifest.json").read_text(encoding="utf-8"))
        took = results.run_time(manifest)
        text = " ".join("".join(article(site, f"research/{q.slug}").text).split())
        runtime = re.search(r"Runtime: (.*?) on 2 CPU cores", text).group(1)
        if took.one_session:
            assert runtime == results.duration(took.seconds), q.slug
        else:
            assert runtime.startswith("not recorded (resumed"), f"{q.slug}: {runtime}"


# --- reading a result --------------------------------------------------------------------------

OTHER_NOTATIONS = [
    re.compile(r"95% CI:? -?\d[\d.]* (to|–) -?\d"),  # "95% CI 0.80 to 1.00", "95% CI 0.95–1"
    re.compile(r"\(-?\d+\.\d+ ?– ?-?\d+(\.\d+)?\)"),  # "(0.02–0.07)", "(-0.59–-0.53)"
    re.compile(r"\(-?\d+\.\d+ to -?\d+\.\d+\)"),  # "(-0.93 to -0.19)"
]


def test_one_interval_notation_everywhere(site):
    for file in pages(site):
        page = Article()
        page.feed(file.read_text(encoding="utf-8"))
        prose = " ".join(page.paragraphs)
        for pattern in OTHER_NOTATIONS:
            found = pattern.search(prose)
            assert found is None, f"{file.relative_to(site)}: {found.group()!r}; write v [lo, hi]"


def test_verdict_words_and_legend(site):
    for q in READY:
        page = article(site, f"research/{q.slug}")
        assert set(page.badges) <= VERDICTS, f"{q.slug}: badges {set(page.badges) - VERDICTS}"
        text = " ".join("".join(page.text).split())
        assert "How to read it: 0.41 [0.22, 0.60] is a value and its 95% interval." in text
        assert "result below" not in text and "arms right of 1" not in text


def test_lists_render_as_lists(site):
    for file in pages(site):
        page = Article()
        page.feed(file.read_text(encoding="utf-8"))
        for para in page.paragraphs:
            assert not re.search(r"(^|\n)- \S", para), (
                f"{file.relative_to(site)}: a list rendered as text: {para[:120]!r}")


def test_no_link_is_absolute_under_the_site_path(site):
    prefix = f'href="/{site.name}/'
    for file in pages(site):
        markup = file.read_text(encoding="utf-8")
        assert prefix not in markup and f'src="/{site.name}/' not in markup, (
            f"{file.relative_to(site)} links absolutely; served at the root it would 404")


def test_alt_texts_say_what_the_figure_plots(site):
    for q in READY:
        claims = json.loads((RESULTS / q.slug / "findings.json").read_text(encoding="utf-8"))
        for path in (f"research/{q.slug}", ""):
            images = [img for img in article(site, path).images  # ours: the result, validation
                      if re.search(rf"results/{q.slug}/(validation/)?figure\.png$",
                                   img.get("src", ""))]
            assert images, f"{path or 'home'}: no figure of {q.slug}"
            for img in images:
                alt = img.get("alt", "")
                assert 40 <= len(alt) <= 250, f"{q.slug}: alt of {len(alt)} characters: {alt!r}"
                assert not alt.endswith("…"), f"{q.slug}: alt cut off: {alt!r}"
                assert alt.startswith(("Plot", "Planted")), alt
                assert "Look for" in alt, f"{q.slug}: alt says nothing to look for: {alt!r}"
                assert not any(c["claim"][:60] in alt for c in claims), "not the claim text"


def test_figures_keep_half_their_width_on_a_phone(site):
    css = (REPO_ROOT / "docs" / "assets" / "css" / "extra.css").read_text(encoding="utf-8")
    phone = css[css.index("@media screen and (max-width: 44.9375em)"):]
    assert "width: var(--mi-phone-width" in phone[:300] and "max-width: none" in phone[:300]
    assert re.search(r'\[data-md-color-scheme="slate"\][^{]*figure\.mi-figure img[^{]*\{\s*'
                     r"filter: invert", css), "no dark-mode style for figure panels"
    for q in READY:
        for img in article(site, f"research/{q.slug}").images:
            if not re.search(rf"results/{q.slug}/(validation/)?figure\.png$", img.get("src", "")):
                continue  # the result's and the validation's figures (sitekit/pages/*)
            png = (site / "research" / q.slug / img["src"]).resolve()
            natural = results.png_size(png)
            assert natural and int(img["width"]) == natural[0], img
            phone_width = int(re.search(r"--mi-phone-width: (\d+)px", img["style"]).group(1))
            assert phone_width >= natural[0] / 2 - 1, f"{q.slug}: {phone_width} px on a phone"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_badges_are_white_on_colours_with_contrast_of_at_least_4_5():
    css = (REPO_ROOT / "docs" / "assets" / "css" / "extra.css").read_text(encoding="utf-8")
    for rule in (".mi-priority {", ".md-typeset .mi-verdict {"):
        body = css[css.index(rule):]
        assert "color: #fff;" in body[:body.index("}")], f"{rule} must fix its text colour"
    colours = re.findall(r"\.mi-(?:priority|verdict)--[\w-]+ \{ background-color: (#[0-9a-f]{6})",
                         css)
    assert len(colours) >= 6, colours
    for colour in colours:
        ratio = 1.05 / (_luminance(colour) + 0.05)
        assert ratio >= 4.5, f"white on {colour} is {ratio:.1f}:1"


def test_the_repository_address_has_one_home(site):
    config = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    repo_url = re.search(r"^repo_url:\s*(\S+)", config, re.M).group(1).rstrip("/")
    clone = "".join(article(site, "").codes)
    assert f"git clone {repo_url}" in clone
    gpu = "".join(article(site, f"research/{READY[0].slug}").codes)
    assert f"git clone {repo_url}" in gpu
    owner = repo_url.split("github.com/")[1]
    for folder in ("docs", "sitekit", "starter"):
        for file in (REPO_ROOT / folder).rglob("*"):
            if file.suffix in (".md", ".py", ".yaml", ".yml", ".html", ".js") and file.is_file():
                assert owner not in file.read_text(encoding="utf-8", errors="ignore"), (
                    f"{file.relative_to(REPO_ROOT)} names the repository; read mkdocs.yml's "
                    "repo_url instead")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "When publishing" in readme and "repo_url" in readme
