# Two commands matter on a fresh clone: `make run` and `make test`.
# Everything they need is installed here, into .venv, from requirements*.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser run test unit functional lint typecheck bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's Chromium through Playwright (which cannot download
# its own browser here); installed once, as root or through sudo.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'

browser: $(CHROMIUM)

## run: the local stack (moto server as AWS, the API on 127.0.0.1:8000, the SQS pump)
run: install
	$(BIN)/python -m localdev.stack

## test: lint, types, then every test (unit, functional on moto, local stack)
test: install browser lint typecheck
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

functional: install
	$(BIN)/python -m pytest tests/functional

## bench: throughput and memory benchmarks, as ratios against a floor measured in the same run
bench: install
	$(BIN)/python -m bench.bench_parse_rules

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
