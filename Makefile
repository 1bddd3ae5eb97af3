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

# The suite runs on TEST_WORKERS processes (each with a store server of its own: the store is
# what the time goes to), a test file per worker at a time; the tests that measure latency
# (marked `serial`) then run alone, so a neighbour's load cannot make them fail.
TEST_WORKERS := 2

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial

bench: setup
	$(BIN)/python -m bench.bench_language
