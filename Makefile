# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint bench dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[emulator]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $@

## demo: install steadyllm into .venv and run a real flow through the public API
demo: $(VENV)/.installed-base
	$(BIN)/steadyllm demo

## test: install the dev tools, run ruff, mypy --strict and pytest with coverage
test: $(VENV)/.installed-dev
	VENV=$(VENV) scripts/run-tests.sh

## bench: steadyllm (in-process and Redis-shared) vs raw aiohttp, raw httpx and the openai SDK
## against a fixed local server, then the Responses API and Gemini against their SDKs;
## prints a table with ratios, writes benchmarks/results.json, appends to benchmarks/RESULTS.md
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench.py --record
	$(BIN)/python benchmarks/wire_families.py --record

## dist: build a wheel and an sdist into dist/ and check them with twine
dist: $(VENV)/.installed-dev
	$(PIP) install build twine
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .coverage htmlcov .mypy_cache .ruff_cache .pytest_cache dist
