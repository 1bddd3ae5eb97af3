"""Shared fixtures: one real store server for the whole run, a fresh database per test.

The server is the embedded SecantusDB, started once (through store/embedded.py) in a
temporary data directory and reached over the wire like any MongoDB. Set
SEGMENTQL_TEST_MONGO_URI to run the same tests against a real MongoDB instead.
Every test gets its own MongoDB database name, dropped afterwards, so tests never see
each other's data.

Hypothesis runs the `ci` profile by default; SEGMENTQL_HYPOTHESIS_PROFILE=thorough runs ten
times the examples (the property and differential tests alike).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings
from pymongo import AsyncMongoClient

from store import embedded
from store.connection import Store, StoreSettings, open_store

# Every embedded store a test starts (here, or in a `segmentql` it runs) stops with its last
# user, as before the idle period existed: a test run leaves no server behind. The tests of
# the idle period set their own.
os.environ[embedded.IDLE_ENV] = "0"

# No per-example deadline (a store round trip is not constant-time); big generated trees are
# the point, so no complaint about them either.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("thorough", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("SEGMENTQL_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of the store server shared by the whole test run."""
    uri = os.environ.get("SEGMENTQL_TEST_MONGO_URI", "").strip()
    if uri:
        yield uri
        return
    lease = asyncio.run(embedded.acquire(tmp_path_factory.mktemp("embedded-store")))
    try:
        yield lease.uri
    finally:
        lease.release()


def fresh_settings(store_server: str, **overrides: object) -> StoreSettings:
    """Settings on the shared server with a database name no other test uses."""
    values: dict[str, object] = {"mongo_uri": store_server,
                                 "db_name": f"test_{uuid.uuid4().hex[:20]}",
                                 "query_timeout_ms": 30_000}
    values.update(overrides)
    return StoreSettings(**values)  # type: ignore[arg-type]


def drop_database(uri: str, name: str) -> None:
    """Drop a test's MongoDB database (for tests that run servers or commands of their own)."""
    async def drop() -> None:
        client = AsyncMongoClient(uri)
        try:
            await client.drop_database(name)
        finally:
            await client.close()
    asyncio.run(drop())


@pytest.fixture
def store_settings(store_server: str, tmp_path) -> StoreSettings:
    """Settings for this test: the shared server, a database of its own."""
    return fresh_settings(store_server, data_dir=tmp_path / "segmentql-data")


@pytest_asyncio.fixture
async def store(store_settings: StoreSettings) -> AsyncIterator[Store]:
    """An open store (collections, indexes, `main` ready) on this test's own database."""
    async with open_store(store_settings) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(store_settings.db_name)
