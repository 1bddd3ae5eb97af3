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

# Where `make run` serves: `make run PORT=8001 HOST=0.0.0.0` (given on the command line;
# a HOST or PORT in the environment is not taken).
HOST := 127.0.0.1
PORT := 8000

# Loads the demo data (once: a second run only checks it is there), then serves GraphQL;
# `segmentql serve` prints the URL and the development API key.
run: setup
	$(BIN)/segmentql demo
	$(BIN)/segmentql serve --host $(HOST) --port $(PORT)

tour: setup
	examples/tour.sh

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m bench.bench_language
