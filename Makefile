# clawback — two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs clawback, runs the main job on an embedded sample
#   make test   installs the dev tools, runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo demo-estimate test lint typecheck unit install dev bench bench-gateway clean node-clients

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/python -m clawback.audit.sample demo-out
	$(BIN)/clawback audit demo-out/sample-log.jsonl --rules demo-out/audit-rules.toml --report report.html

demo-estimate: install
	$(BIN)/clawback estimate --calls-per-day 50000 --static-tokens 1500 --dynamic-tokens 300 \
	  --output-tokens 50 --model claude-3-5-sonnet-20241022 --target-model claude-3-5-haiku-20241022 \
	  --batch-share 1 --cache-hit-rate 0.85 --target-output-tokens 30 --at 2025-06-01
	$(BIN)/clawback estimate --calls-per-day 50000 --static-tokens 1500 --dynamic-tokens 300 \
	  --output-tokens 50 --model claude-sonnet-5-5 --target-model claude-haiku-5-5 \
	  --batch-share 1 --target-output-tokens 30

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest -n auto -q

test: lint typecheck unit

# Real clients for the end-to-end tests (Claude Code CLI, TypeScript SDK, ccusage); needs node and npm.
node-clients: tests/node/node_modules/.installed
tests/node/node_modules/.installed: tests/node/package.json
	npm install --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $@

# Every benchmark in turn, each updating its section of docs/benchmarks.md (about an hour; run on a quiet
# machine). ARGS="--only NAME ..." for some, ARGS=--list for the names.
bench: dev
	$(BIN)/python benchmarks/run_all.py $(ARGS)

# The gateway beside LiteLLM 1.100.5 and a minimal pass-through (needs wrk; installs its own venvs in .bench/).
# ARGS=--quick for a smoke run, ARGS=--write to update docs/benchmarks.md.
bench-gateway: dev
	$(BIN)/python benchmarks/gateway.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
