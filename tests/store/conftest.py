"""Fixtures for store tests that drive the store from plain (sync) tests, as hypothesis needs."""

from __future__ import annotations

import asyncio

import pytest

from store.connection import open_store
from tests.conftest import fresh_settings


@pytest.fixture(scope="module")
def sync_store(store_server):
    """(runner, store): one store for the module on its own database, and the event loop
    that drives it; `runner.run(coroutine)` calls the store from a sync test."""
    runner = asyncio.Runner()
    settings = fresh_settings(store_server)
    context = open_store(settings)
    store = runner.run(context.__aenter__())
    yield runner, store
    runner.run(store.client.drop_database(settings.db_name))
    runner.run(context.__aexit__(None, None, None))
    runner.close()
