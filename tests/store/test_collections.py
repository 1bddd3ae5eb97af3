"""The fixed collections and indexes of the store (store/collections.py)."""

from __future__ import annotations

import pytest
from pymongo import ASCENDING

from store.collections import CONTACTS, ensure_collections
from store.contacts import get_contact, upsert_contacts

pytestmark = pytest.mark.asyncio


async def test_contacts_carry_no_unique_index_but_id(store) -> None:
    # A contact's `_id` is `<database>:<id>`, unique by itself; a second unique index costs
    # every contact write a claim and a release on SecantusDB (docs/compatibility.md)
    indexes = await store.db[CONTACTS].index_information()
    unique = sorted(name for name, spec in indexes.items() if spec.get("unique"))
    assert unique == [], unique
    assert "database_id" not in indexes


async def test_a_store_made_before_loses_the_retired_database_id_index(store) -> None:
    await upsert_contacts(store.db, "main", [{"id": "c1", "fields": {"FirstName": "Ann"}}])
    await store.db[CONTACTS].create_index([("database", ASCENDING), ("id", ASCENDING)],
                                          unique=True, name="database_id")
    await ensure_collections(store.db)
    assert "database_id" not in await store.db[CONTACTS].index_information()
    contact = await get_contact(store.db, "main", "c1")
    assert contact["fields"]["FirstName"] == "Ann"


async def test_one_id_stays_one_contact_without_the_index(store) -> None:
    await upsert_contacts(store.db, "main", [{"id": "c1", "fields": {"FirstName": "Ann"}}])
    report = await upsert_contacts(store.db, "main",
                                   [{"id": "c1", "fields": {"LastName": "Lee"}},
                                    {"id": "c1", "fields": {"FirstName": "Anna"}}])
    assert report.stored == 2 and not report.rejected
    assert await store.db[CONTACTS].count_documents({"database": "main", "id": "c1"}) == 1
    contact = await get_contact(store.db, "main", "c1")
    assert contact["fields"]["FirstName"] == "Anna" and contact["fields"]["LastName"] == "Lee"
