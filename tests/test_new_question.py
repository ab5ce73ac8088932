"""`mi-starter new`: adding a question is one command (starter/commands/new.py).

Fast tests run the command on a scratch root holding copies of the three YAML files it reads,
then check what it wrote through the same loaders the package and the site use, and run the
generated test file against the generated starter (no model). The slow test is the issue's
example end to end: a copy of the repository, `mi-starter new backtracking-pays --area
thinking-models` (which edits no file but its four), nothing else filled in, the generated test,
its smoke and tiny runs, and the site built with --strict.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sitekit import catalog
from starter import cli, questions
from starter.commands import new
from starter.experiment import metrics_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
INPUTS = (new.QUESTIONS_YAML, new.RESEARCH_YAML, new.READING_LIST_YAML)
SLUG = "backtracking-pays"
MODULE = "backtracking_pays"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A scratch repository root with the files `new` reads; the command writes there."""
    for name in INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setattr(new, "repository_root", lambda: tmp_path)
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_new(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["new", *args])
    out, err = capsys.readouterr()
    return code, out, err


def use_registry_of(root: Path, monkeypatch) -> None:
    """Let the package read the scratch root's questions.yaml (what an edited checkout reads)."""
    from starter import registry  # the registry's home; starter.questions re-exports it

    parsed = questions.parse((root / new.QUESTIONS_YAML).read_text(encoding="utf-8"))
    monkeypatch.setattr(registry, "registry", lambda: parsed)
    monkeypatch.setattr(questions, "registry", lambda: parsed)


def load_file(name: str, path: Path, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("args, message", [
    (["determinism", "--area", "thinking-models"],
     "error: question 'determinism' exists already (starter/questions/questions.yaml line {line}); "
     "choose another slug; nothing written"),
    (["Backtracking_Pays", "--area", "thinking-models"],
     "error: slug 'Backtracking_Pays' must be lower-case words joined by '-', e.g. "
     "'backtracking-pays'; nothing written"),
    (["2fast", "--area", "thinking-models"],
     "error: slug '2fast' must start with a letter and not be a Python keyword (its module is "
     "2fast.py); nothing written"),
    ([SLUG, "--area", "robotics"],
     "error: unknown area 'robotics'; choose one of: thinking-models, sparse-autoencoders, "
     "model-diffing, safety-relevant-behaviour, being-useful, fundamental-assumptions; nothing "
     "written"),
])
def test_refusals_are_one_line_and_write_nothing(root, capsys, args, message):
    before = snapshot(root)
    code, out, err = run_new(capsys, *args)
    line = next(q.line for q in questions.identities() if q.slug == "determinism")
    assert (code, out, err) == (2, "", message.format(line=line) + "\n")
    assert snapshot(root) == before


@pytest.mark.parametrize("path", [f"starter/questions/{MODULE}.py",
                                  f"tests/questions/test_{MODULE}.py"])
def test_a_file_that_exists_is_refused_and_kept(root, capsys, path):
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text("mine\n")
    before = snapshot(root)
    code, out, err = run_new(capsys, SLUG, "--area", "thinking-models")
    assert (code, out) == (2, "")
    assert err == (f"error: {path} exists already; choose another slug or move that file away; "
                   "nothing written\n")
    assert snapshot(root) == before


def test_a_slug_research_yaml_lists_already_is_refused(root, capsys):
    research = root / new.RESEARCH_YAML
    research.write_text(research.read_text().replace("- slug: early-exit", f"- slug: {SLUG}"))
    before = snapshot(root)
    code, _, err = run_new(capsys, SLUG, "--area", "being-useful")
    assert code == 2 and err == (f"error: docs/data/research.yaml has an entry for '{SLUG}' "
                                 "already; delete it or choose another slug; nothing written\n")
    assert snapshot(root) == before


def test_the_example_writes_four_things_and_says_what_to_fill_in(root, capsys, monkeypatch):
    code, out, err = run_new(capsys, SLUG, "--area", "thinking-models",
                             "--title", "Do chains that backtrack more reach the right answer?")
    assert (code, err) == (0, "")
    registry = questions.parse((root / new.QUESTIONS_YAML).read_text(encoding="utf-8"))
    added = next(q for q in registry.questions if q.slug == SLUG)
    sae = next(q for q in registry.questions if q.slug == "sae")
    assert (added.area, added.letter) == ("thinking-models", None)
    assert added.title == "Do chains that backtrack more reach the right answer?"
    assert registry.questions.index(added) == registry.questions.index(sae) + 1, (
        "after the guide's lettered eight, before the next area")
    assert f"added starter/questions/questions.yaml line {added.line}:" in out
    assert out.splitlines()[0] == (f"Added question '{SLUG}' to area 'thinking-models' (no "
                                   "letter: the guide's a..h are taken).")
    assert "Fill in (search for 'FILL IN'):" in out
    assert f"mi-starter run {SLUG} --preset smoke --offline" in out
    # the page's entry, read by the site's schema exactly as the build reads it
    use_registry_of(root, monkeypatch)
    research = catalog.load_research(root / new.RESEARCH_YAML, root=REPO_ROOT)
    page = research.question(SLUG)
    assert (page.status, page.letter, page.area) == ("planned", None, "thinking-models")
    assert [q.slug for q in research.questions_of("thinking-models")][-1] == SLUG
    assert len(research.thinking_models_questions) == 8
    # the starter: percent format, lines <= 100, its H1 the registry's title, no marker left
    source = (root / f"starter/questions/{MODULE}.py").read_text(encoding="utf-8")
    assert source.startswith(f"# %% [markdown]\n# # {added.title}\n#\n# > ")
    assert not re.search(r"__[A-Z]+__", source), "a template marker was left unfilled"
    assert max(map(len, source.splitlines())) <= 100
    assert 'if __name__ == "__main__":' in source and "NO_VALIDATION = (" in source
    # the kit's style (issue #23): typed metrics, the core plotting and sampling helpers, no
    # restated wiring
    assert "@dataclass(frozen=True)\nclass Metrics:" in source
    assert "STARTER = Starter.from_module(\n    __name__," in source
    assert "estimate_bars(" in source and "cfg.sampling()" in source
    for copy in ("SamplingConfig(", "yerr=", "run=run", "analyse=analyse", "slug="):
        assert copy not in source, f"the template restates {copy!r}: use the core helper"


def test_the_generated_test_passes_on_the_generated_starter(root, capsys, monkeypatch):
    assert run_new(capsys, SLUG, "--area", "thinking-models")[0] == 0
    use_registry_of(root, monkeypatch)
    module = load_file(f"starter.questions.{MODULE}",
                       root / f"starter/questions/{MODULE}.py", monkeypatch)
    monkeypatch.setattr(questions, MODULE, module, raising=False)
    assert module.STARTER.title == "Backtracking pays?" and module.STARTER.slug == SLUG
    assert set(module.PRESETS) == {"smoke", "cpu", "gpu", "tiny"}
    tests = load_file(f"test_{MODULE}", root / f"tests/questions/test_{MODULE}.py", monkeypatch)
    names = [name for name in dir(tests) if name.startswith("test_")]
    assert len(names) == 3
    for name in names:
        getattr(tests, name)()
    # typed metrics: a frozen dataclass the frame serialises to the dict the summary shows, and
    # the figure drawn from it with the core plotting helper
    metrics = module.analyse(tests.ROWS)
    assert dataclasses.is_dataclass(metrics) and type(metrics).__dataclass_params__.frozen
    assert list(metrics_dict(metrics)) == [f.name for f in dataclasses.fields(metrics)]
    figure = module.plot(tests.ROWS, metrics)
    heights = [bar.get_height() for bar in figure.axes[0].patches]
    assert heights == pytest.approx([1.0, 1 / 3]), "more and less, the bars of the accuracies"
    import matplotlib.pyplot as plt

    plt.close(figure)


@pytest.mark.parametrize("area", [area.id for area in questions.areas()])
def test_every_area_takes_a_new_question_in_both_files(root, capsys, monkeypatch, area):
    assert run_new(capsys, SLUG, "--area", area)[0] == 0
    use_registry_of(root, monkeypatch)
    added = questions.identity(SLUG)
    assert (added.area, added.letter) == (area, None)
    research = catalog.load_research(root / new.RESEARCH_YAML, root=REPO_ROOT)
    assert research.questions_of(area)[-1].slug == SLUG
    data = yaml.safe_load((root / new.RESEARCH_YAML).read_text(encoding="utf-8"))
    assert [a["id"] for a in data["areas"]] == [a.id for a in questions.areas()]


def tracked_copy(destination: Path) -> None:
    """The working tree's tracked files and the new ones git does not ignore (`git ls-files
    --cached --others --exclude-standard`): the checkout as its author has it; not .venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode()
    listed = listed.split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():  # a file deleted in the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def contents(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes): what an edit would change."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_issue_example_end_to_end_in_a_copy_of_the_repository(tmp_path):
    """Once, not per starter (minutes: the smoke run and a full strict site build)."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout (git ls-files)")
    copy = tmp_path / "repo"
    tracked_copy(copy)
    env = {**os.environ, "NEURONPEDIA_OFFLINE": "1", "PYTHONPATH": str(copy),
           "NO_MKDOCS_2_WARNING": "1"}

    def step(*args: str, timeout: int) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True,
                              text=True, timeout=timeout)
        assert proc.returncode == 0, f"{args}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc

    before = contents(copy)
    made = step("-m", "starter.cli", "new", SLUG, "--area", "thinking-models", timeout=120)
    assert f"wrote starter/questions/{MODULE}.py" in made.stdout
    after = contents(copy)
    changed = {name for name in after if before.get(name) != after[name]} | (before.keys()
                                                                          - after.keys())
    assert changed == {f"starter/questions/{MODULE}.py", f"tests/questions/test_{MODULE}.py",
                       new.QUESTIONS_YAML, new.RESEARCH_YAML}, "no other file is edited"
    # the generated test passes as written, under the repository's own pytest settings
    step("-m", "pytest", f"tests/questions/test_{MODULE}.py", "-q", "-p", "no:cacheprovider",
         timeout=300)
    for preset in ("smoke", "tiny"):  # the organism offline, and the gpu path on R1's shape
        out = tmp_path / f"run-{preset}"
        step("-m", "starter.cli", "run", SLUG, "--preset", preset, "--offline", "--out",
             str(out), timeout=1200)
        for name in ("manifest.json", "results.jsonl", "figure.png", "summary.md",
                     "findings.json"):
            assert (out / name).is_file(), f"{preset}: {name}"
    site = tmp_path / "site"
    step("-m", "mkdocs", "build", "--strict", "-f", str(copy / "mkdocs.yml"), "--site-dir",
         str(site), timeout=1200)
    page = site / "research" / SLUG / "index.html"
    assert page.is_file(), "the new question's page was not built"
    assert "Backtracking pays?" in page.read_text(encoding="utf-8")
    assert (site / "notebooks" / f"{SLUG}.ipynb").is_file()


@pytest.mark.parametrize("title", ['Does "wait" help: yes or no?', "- a dash first", "yes",
                                   "Ist das schön? 思考"])
def test_any_one_line_title_reads_back_exactly(root, capsys, title):
    assert run_new(capsys, SLUG, "--area", "model-diffing", "--title", title)[0] == 0
    registry = questions.parse((root / new.QUESTIONS_YAML).read_text(encoding="utf-8"))
    assert next(q for q in registry.questions if q.slug == SLUG).title == title
    source = (root / f"starter/questions/{MODULE}.py").read_text(encoding="utf-8")
    assert source.splitlines()[1] == f"# # {title}"
