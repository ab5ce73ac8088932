# Two commands do everything: `make demo` and `make test` (see README.md).
# Both create .venv if it is missing and (re)install only when pyproject.toml or this Makefile
# changed, so a second run starts straight away. Every version pin lives in pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `$(PINS) EXTRA` prints one extra of pyproject.toml (the one home of every pin) as pip arguments.
PINS   := $(BIN)/python -m sitekit.pins

# Quiet mkdocs-material's end-of-life banner; keep every test offline (no hub downloads).
export NO_MKDOCS_2_WARNING := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install site demo test serve bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# torch first, exactly as pinned: a dependency asking for plain `torch` would otherwise pull a
	# multi-GB CUDA build. TORCH_INDEX lets CI runners that would otherwise get the CUDA wheel ask for
	# the CPU build, e.g. `make test TORCH_INDEX=https://download.pytorch.org/whl/cpu` (the GitHub
	# workflows do this).
	$(BIN)/python -m pip install -q $$($(PINS) pinned) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[pinned,site,dev]"
	# --no-deps, on purpose (why: pyproject.toml, the `no-deps` extra)
	$(BIN)/python -m pip install -q --no-deps $$($(PINS) no-deps)
	touch $@

site: install
	$(BIN)/mkdocs build --strict --site-dir site

DEMO_OUT := runs/demo/reasoning-tree

# One starter end to end on the CPU, offline: the TinyThinker organism, Neuronpedia sample fixtures.
# Rerunning resumes the same run directory, so a second `make demo` finishes at once.
demo: site
	$(BIN)/mi-starter run reasoning-tree --preset smoke --offline --out $(DEMO_OUT)
	@echo ""
	@echo "Result:  $(DEMO_OUT)/summary.md  and  $(DEMO_OUT)/figure.png"
	@echo "Site:    built in site/ -- run 'make serve' and open the address it prints"
	@echo "Next:    .venv/bin/mi-starter list   (the starters), then for example"
	@echo "         .venv/bin/mi-starter run determinism --preset smoke --offline"

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python scripts/check_links.py site --offline

serve: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

bench: install
	$(BIN)/python scripts/bench_rollouts.py
	$(BIN)/python scripts/bench_links.py
	$(BIN)/python scripts/bench_neuronpedia.py

clean:
	rm -rf site .pytest_cache
