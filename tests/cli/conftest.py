"""`segmentql` driven in-process (typer's CliRunner) against the shared store server, each
test on a MongoDB database of its own."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import drop_database


@pytest.fixture
def segmentql(store_server, monkeypatch):
    """`segmentql(*args, input=None)` runs the command line on this test's database."""
    name = f"test_{uuid.uuid4().hex[:20]}"
    monkeypatch.setenv("SEGMENTQL_MONGO_DB", name)
    monkeypatch.delenv("SEGMENTQL_MONGO_URI", raising=False)
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, [*args, "--mongo-uri", store_server], input=input)

    yield run
    drop_database(store_server, name)


@pytest.fixture
def offline():
    """The commands that need no store (format, parse, `check --fields`)."""
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(app, list(args), input=input)
