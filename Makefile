# Two commands do everything on a fresh machine (see README):  make book   and   make test
# They create a virtual environment in .venv and install the tested version set,
# constraints.txt: torch first, then dlcore with the extras for building and testing the book.

PYTHON ?= python3
VENV   ?= .venv
# Where torch comes from. Empty: the package index (this project's machines have the CPU build of
# the pinned version locally). A fork's CI on GitHub passes PyTorch's CPU index, so that pip does
# not fetch the several-GB CUDA build: TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu"
TORCH_INDEX ?=
CONSTRAINTS := constraints.txt
# OpenMP threads (torch's CPU build) sleep when idle instead of spinning, so that the book, its
# tests and a neighbour (a second clone's tests, a browser) share the cores without a 3-5x
# slowdown (benchmarks/bench_contention.md). Every command below, and the Jupyter kernels that
# nbval and the book build start, inherit it.
export OMP_WAIT_POLICY ?= PASSIVE
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlcore-installed

.PHONY: book test unit outputs bench contention experiments constraints sync-repo-url clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) $(TORCH_INDEX) torch
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)              ## build the HTML book into _build/html
	$(BIN)/jupyter-book build --warningiserror --keep-going .

test: $(STAMP)              ## unit tests + nbval over every chapter
	$(BIN)/python -m pytest

unit: $(STAMP)              ## the unit tests alone: no book build, browser or notebook run
	$(BIN)/python -m pytest -o addopts=-ra -m "not book" tests

outputs: $(STAMP)           ## re-execute the chapters and store their outputs
	$(BIN)/python scripts/run_notebooks.py

bench: $(STAMP)             ## speed of the NumPy layers against torch, and of the RBM against its peer
	$(BIN)/python benchmarks/bench_nn.py --markdown benchmarks/bench_nn.md --json benchmarks/bench_nn.json
	$(BIN)/python benchmarks/bench_rbm.py --markdown benchmarks/bench_rbm.md --json benchmarks/bench_rbm.json

contention: $(STAMP)        ## threads on a shared machine: one epoch alone and beside a busy core
	env -u OMP_WAIT_POLICY $(BIN)/python benchmarks/bench_contention.py --markdown benchmarks/bench_contention.md --json benchmarks/bench_contention.json

experiments: $(STAMP)       ## re-run every stored experiment's full mode (about 30 min; not part of make test)
	for script in experiments/[a-z]*.py; do $(BIN)/python $$script || exit 1; done

constraints: $(STAMP)       ## after changing a dependency: record the installed set as the tested one
	$(BIN)/python scripts/freeze_constraints.py > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

sync-repo-url: $(STAMP)     ## after editing repository.url in _config.yml or dlcore.__version__
	$(BIN)/python scripts/sync_repo_url.py

clean:
	rm -rf _build .pytest_cache
