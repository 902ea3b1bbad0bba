# Two commands do everything on a fresh machine (see README):  make book   and   make test
# They create a virtual environment in .venv, install torch first (TORCH, below), then dlcore with
# the extras for building and testing the book.

PYTHON ?= python3
VENV   ?= .venv
# The CPU build used by CI. Set TORCH=torch to let pip pick the newest build for your platform
# (on Linux that is the CUDA build, several GB).
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlcore-installed

.PHONY: book test outputs bench sync-repo-url clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)              ## build the HTML book into _build/html
	$(BIN)/jupyter-book build --warningiserror --keep-going .

test: $(STAMP)              ## unit tests + nbval over every chapter
	$(BIN)/python -m pytest

outputs: $(STAMP)           ## re-execute the chapters and store their outputs
	$(BIN)/python scripts/run_notebooks.py

bench: $(STAMP)             ## speed of the NumPy layers against torch
	$(BIN)/python benchmarks/bench_nn.py --markdown benchmarks/bench_nn.md --json benchmarks/bench_nn.json

sync-repo-url: $(STAMP)     ## after editing repository.url in _config.yml
	$(BIN)/python scripts/sync_repo_url.py

clean:
	rm -rf _build .pytest_cache
