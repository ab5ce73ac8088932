"""The package stands on its own: built as a wheel, installed outside the repository, it runs.

The wheel is built from a clean copy of what it ships (pyproject.toml, README.md, LICENSE,
starter/), so nothing left in the checkout leaks in. It goes into a fresh virtual environment in a
temporary folder; that environment sees the main environment's third-party packages through a
`.pth` line (no download, no second torch) but not the checkout: `mi-starter list`, `doctor` and
one smoke run then run from a temporary working directory. A generated notebook's install cell is
run too, with pip's `--dry-run`, against the same wheel.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import starter
from sitekit.pages import notebooks

pytestmark = pytest.mark.slow  # builds a wheel and runs a smoke starter (~1 min on 2 cores)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("pyproject.toml", "README.md", "LICENSE")  # with starter/: all a wheel is built from
TIMEOUT = 600  # seconds for any one command (the smoke run takes well under a minute)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; on failure, fail with its command line and output."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{shlex.join(args)}` exited {done.returncode}:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SHIPPED:
        shutil.copy2(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".lock")
    shutil.copytree(REPO_ROOT / "starter", source / "starter", ignore=ignore)
    out = tmp_path_factory.mktemp("wheelhouse")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(source)], cwd=source)
    (built,) = out.glob("mi_starter-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh environment, outside the repository, holding the wheel; returns its bin/ folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                  cwd=env_dir).strip()
    # The main environment's packages (torch, transformers ...), but not its editable `starter`:
    # a directory named in a .pth file is added to sys.path without running its own .pth files.
    main_site = sysconfig.get_path("purelib")
    (Path(purelib) / "main_env.pth").write_text(main_site + "\n", encoding="utf-8")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "-q", str(wheel)], cwd=env_dir)
    return env_dir / "bin"


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No PYTHONPATH into the checkout; no downloads; caches in the test's own folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", NEURONPEDIA_OFFLINE="1", MPLCONFIGDIR=str(tmp_path / "mpl"))
    return env


def test_the_wheel_ships_its_data_and_no_site_tooling(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("starter/questions/questions.yaml", "starter/models.yaml",
                   "starter/releases/releases.yaml",
                   "starter/organism/checkpoint/model.safetensors",
                   "starter/organism/variant_checkpoints/planned/adapter.safetensors",
                   "starter/organism/variant_checkpoints/obfuscating/tokenizer.json"):
        assert needed in names, f"the wheel lacks {needed}: check [tool.setuptools.package-data]"
    assert not [n for n in names if n.startswith(("sitekit/", "docs/", "tests/"))], (
        "site tooling, docs and tests stay out of the wheel")
    metadata = zipfile.ZipFile(wheel).read("mi_starter-0.1.0.dist-info/METADATA").decode()
    torch = re.findall(r"^Requires-Dist: torch\b([^;\n]*)$", metadata, re.M)
    assert torch and "==" not in torch[0], "the base asks for a torch range: Colab keeps its own torch"
    assert 'Requires-Dist: torch==' in metadata, "the `pinned` extra keeps the exact torch for make"


def test_installed_package_runs_outside_the_repository(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = clean_env(tmp_path)
    where = run([str(installed / "python"), "-c", "import starter; print(starter.__file__)"], work, env)
    assert REPO_ROOT not in Path(where.strip()).parents, f"imported the checkout, not the wheel: {where}"

    listed = run([str(installed / "mi-starter"), "list"], work, env)
    assert "Understanding thinking models" in listed
    assert "mi-starter run reasoning-tree --preset smoke" in listed

    doctor = run([str(installed / "mi-starter"), "doctor"], work, env)
    assert "tinythinker" in doctor

    out = tmp_path / "run"
    run([str(installed / "mi-starter"), "run", "reasoning-tree", "--preset", "smoke", "--offline",
         "--out", str(out)], work, env)
    for name in ("manifest.json", "results.jsonl", "figure.png", "summary.md"):
        assert (out / name).is_file(), f"the smoke run from the wheel wrote no {name}"
    assert not list(work.iterdir()), "a run with --out must not write into the working directory"


def test_notebook_install_cell_resolves_against_the_wheel(wheel, tmp_path):
    """Each `%pip install` line of a generated notebook, with the GitHub URL replaced by the built
    wheel, resolves offline (`--dry-run --no-index`) in an environment that already has a torch:
    pip would add the kit and keep that torch."""
    source = notebooks.starter_file(REPO_ROOT, "reasoning-tree")
    nb = notebooks.build_notebook(source, "https://github.com/o/r", starter.__version__)
    lines = nb.cells[0].source.splitlines()
    assert all(line.startswith("%pip install ") for line in lines), lines
    report = ""
    for line in lines:
        args = shlex.split(line.removeprefix("%pip "))
        args = [str(wheel) if arg.startswith("mi-starter @ git+") else arg for arg in args if arg != "-q"]
        assert str(wheel) in args or "--no-deps" in args, f"unexpected install line {line!r}"
        report += run([sys.executable, "-m", "pip", *args, "--dry-run", "--no-index"], tmp_path)
    would = re.findall(r"Would install (.*)", report)
    assert would and "mi-starter-" in would[0], f"pip would not install the kit:\n{report}"
    assert "torch" not in " ".join(would), f"the install cell would replace the runtime's torch:\n{report}"
