# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run tour test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# Loads the demo data (once: a second run only checks it is there), then serves GraphQL;
# `segmentql serve` prints the URL and the development API key.
run: setup
	$(BIN)/segmentql demo
	$(BIN)/segmentql serve

tour: setup
	examples/tour.sh

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m bench.bench_language
