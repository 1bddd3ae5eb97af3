"""Settings and opening the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.collections import CONTACTS, EVENTS, FIELDS, LISTS, PROFILE_DATABASES
from store.connection import StoreSettings, open_store, prepare
from store.fields import list_databases, load_schema


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SEGMENTQL_MONGO_URI", "SEGMENTQL_DATA_DIR", "SEGMENTQL_MONGO_DB",
                 "SEGMENTQL_QUERY_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    default = StoreSettings.from_env()
    assert default == StoreSettings(None, Path("segmentql-data"), "segmentql", 30_000)
    monkeypatch.setenv("SEGMENTQL_MONGO_URI", "mongodb://db.example:27017")
    monkeypatch.setenv("SEGMENTQL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMENTQL_MONGO_DB", "crm")
    monkeypatch.setenv("SEGMENTQL_QUERY_TIMEOUT_MS", "5000")
    settings = StoreSettings.from_env(db_name=None, query_timeout_ms=1000)
    assert settings == StoreSettings("mongodb://db.example:27017", tmp_path, "crm", 1000)
    assert StoreSettings.from_env(data_dir=str(tmp_path / "x")).data_dir == tmp_path / "x"


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        StoreSettings(db_name="bad.name")
    with pytest.raises(ValueError):
        StoreSettings(query_timeout_ms=0)
    with pytest.raises(TypeError):
        StoreSettings.from_env(dbname="x")


@pytest.mark.asyncio
async def test_open_store_prepares_everything(store) -> None:
    names = set(await store.db.list_collection_names())
    assert {PROFILE_DATABASES, FIELDS, CONTACTS, EVENTS, LISTS} <= names
    assert await list_databases(store.db) == ["main"]
    schema = await load_schema(store.db, "main")
    assert schema.to_json() == {"Email": "text", "MobilePhone": "text", "FirstName": "text",
                                "LastName": "text", "CreateTime": "date"}
    indexes = {tuple(index["key"]) async for index in await store.db[CONTACTS].list_indexes()}
    assert ("database", "id") not in indexes  # `_id` is `<database>:<id>`, unique already
    assert ("database", "bucket") in indexes
    assert ("database", "lists") in indexes
    assert ("database", "folded.Email") in indexes
    assert ("database", "fields.CreateTime") in indexes
    event_indexes = {tuple(index["key"]) async for index in await store.db[EVENTS].list_indexes()}
    assert {("contact", "type", "time"), ("database", "type", "time")} <= event_indexes
    # The client carries the time limit and gives aware datetimes.
    assert store.client.options.timeout == 30.0
    assert store.client.codec_options.tz_aware
    # Preparing again changes nothing and fails on nothing.
    await prepare(store.db)
    assert await list_databases(store.db) == ["main"]


@pytest.mark.asyncio
async def test_open_store_on_an_existing_database(store_settings) -> None:
    async with open_store(store_settings) as first:
        await first.db[CONTACTS].insert_one({"_id": "main:x", "database": "main", "id": "x"})
    async with open_store(store_settings) as second:
        try:
            assert await second.db[CONTACTS].count_documents({}) == 1
        finally:
            await second.client.drop_database(store_settings.db_name)


@pytest.mark.asyncio
async def test_a_reading_open_of_a_configured_mongodb_prepares_everything(store_settings) -> None:
    """Only an embedded server records the checks made on it: on a MongoDB given by URI a
    reading open makes them all (here on a new database)."""
    async with open_store(store_settings, read_only=True) as store:
        try:
            assert await list_databases(store.db) == ["main"]
            assert "FirstName" in (await load_schema(store.db, "main")).to_json()
        finally:
            await store.client.drop_database(store_settings.db_name)
