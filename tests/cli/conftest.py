"""`segmentql` driven in-process (typer's CliRunner) against the shared store server, each
test on a MongoDB database of its own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import AsyncMongoClient
from typer.testing import CliRunner

from cli.main import app


async def _drop(uri: str, name: str) -> None:
    client = AsyncMongoClient(uri)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


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
    asyncio.run(_drop(store_server, name))


@pytest.fixture
def offline():
    """The commands that need no store (format, parse, `check --fields`)."""
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(app, list(args), input=input)
