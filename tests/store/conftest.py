"""Fixtures of the store tests: a store driven from plain (sync) tests, as hypothesis needs,
and a store with a CRM's fields."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from dsl.schema import FieldType
from store.connection import open_store
from store.fields import define_field
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


@pytest_asyncio.fixture
async def crm(store):
    """The store with a CRM's four fields of database `main`: City (text), Age (number),
    Signup (date), Newsletter (boolean)."""
    for name, kind in [("City", FieldType.TEXT), ("Age", FieldType.NUMBER),
                       ("Signup", FieldType.DATE), ("Newsletter", FieldType.BOOLEAN)]:
        await define_field(store.db, "main", name, kind)
    return store
