"""The catalog cache (store/catalog.py): every change of a database's names shows at once,
an unchanged catalog is not read again, and cached frequent values answer like the store."""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient, monitoring

from dsl.temporal import UTC, zone_of
from store import query
from store.catalog import CatalogCache, FrequentValuesCache, read_catalog
from store.collections import FIELDS, PROFILE_DATABASES
from store.completion import cached_frequent_values, frequent_values
from store.contacts import upsert_contacts
from store.errors import StoreInputError
from store.events import track_events
from store.fields import (catalog_revision, create_database, define_field, ensure_database,
                          set_database_timezone)
from store.lists import create_list
from store.segment_bin import delete_segment, restore_segment
from store.segments import create_segment, update_segment
from tests.store.seed import ACTOR, NOW, seed

pytestmark = pytest.mark.asyncio


def names(catalog) -> tuple:
    """A catalog as plain values (a FieldSchema compares by identity)."""
    return (tuple(catalog.schema), catalog.event_types, catalog.lists, catalog.segments)


async def test_every_change_of_the_names_shows_at_once(store) -> None:
    db, cache = store.db, CatalogCache()
    await seed(db)
    first = await cache.get(db, "main")
    assert await cache.get(db, "main") is first  # unchanged: the cached object itself
    assert names(first) == names(await read_catalog(db, "main"))

    revision = await catalog_revision(db, "main")
    await define_field(db, "main", "Plan", "text")
    assert await catalog_revision(db, "main") == revision + 1
    assert (await cache.get(db, "main")).schema.get("Plan") is not None
    await define_field(db, "main", "Plan", "text")  # again: nothing changes
    assert await catalog_revision(db, "main") == revision + 1

    await create_list(db, "main", "Gold", actor=ACTOR)
    assert "Gold" in (await cache.get(db, "main")).lists
    await upsert_contacts(db, "main", [{"id": "n1", "lists": ["Silver"]}])
    assert "Silver" in (await cache.get(db, "main")).lists
    await track_events(db, "main", [{"contact": "n1", "type": "TrialStarted",
                                     "time": "2024-05-01T00:00:00Z"}])
    assert "TrialStarted" in (await cache.get(db, "main")).event_types
    revision = await catalog_revision(db, "main")
    await track_events(db, "main", [{"contact": "n1", "type": "TrialStarted",
                                     "time": "2024-05-02T00:00:00Z"}])
    assert await catalog_revision(db, "main") == revision  # a known type: no change

    segment = await create_segment(db, name="Trials", expression="event TrialStarted occurred",
                                   actor=ACTOR)
    assert (await cache.get(db, "main")).segments == ("Trials",)
    segment = await update_segment(db, segment.id, name="Trial users", actor=ACTOR)
    assert (await cache.get(db, "main")).segments == ("Trial users",)
    await delete_segment(db, segment.id, actor=ACTOR)
    assert (await cache.get(db, "main")).segments == ()
    await restore_segment(db, segment.id, actor=ACTOR)
    assert (await cache.get(db, "main")).segments == ("Trial users",)
    assert names(await cache.get(db, "main")) == names(await read_catalog(db, "main"))


async def test_another_process_change_is_seen(store) -> None:
    """Two caches stand for two server processes on one store."""
    db, one, other = store.db, CatalogCache(), CatalogCache()
    await seed(db)
    await one.get(db, "main")
    await define_field(db, "main", "Region", "text")  # written "by the other process"
    assert (await one.get(db, "main")).schema.get("Region") is not None
    assert (await other.get(db, "main")).schema.get("Region") is not None


async def test_unknown_and_new_databases(store) -> None:
    cache = CatalogCache()
    with pytest.raises(StoreInputError, match="no profile database nowhere"):
        await cache.get(store.db, "nowhere")
    await ensure_database(store.db, "brand_c")
    assert (await cache.get(store.db, "brand_c")).schema.get("Email") is not None


async def test_a_database_without_a_revision_yet(store) -> None:
    """Stores written before revisions existed: no `catalog_revision` reads as 0."""
    await seed(store.db)
    await store.db["profile_databases"].update_one({"_id": "main"},
                                                   {"$unset": {"catalog_revision": ""}})
    assert await catalog_revision(store.db, "main") == 0
    cache = CatalogCache()
    assert (await cache.get(store.db, "main")).schema.get("City") is not None
    await define_field(store.db, "main", "Tier", "text")
    assert (await cache.get(store.db, "main")).schema.get("Tier") is not None
    assert await store.db[FIELDS].count_documents({"database": "main", "name": "Tier"}) == 1


@pytest.mark.parametrize("kept", [1, 2, 1000])
async def test_cached_frequent_values_answer_like_the_store(store, kept) -> None:
    await seed(store.db)  # City: Krakow, Warsaw, Krakow, Gdansk, krakow
    await upsert_contacts(store.db, "main", [
        {"id": f"w{n}", "fields": {"City": city}} for n, city in enumerate(
            ["WARSAW", "Warsaw", "Wroclaw", "Poznan", "Gdynia", "Gdynia"])])
    cache = CatalogCache(values=FrequentValuesCache(kept=kept))
    for prefix in ("", "w", "W", "g", "gd", "gdy", "k", "x", "Poz"):
        for limit in (1, 2, 20):
            live = await frequent_values(store.db, "main", "City", prefix=prefix, limit=limit)
            cached = await cached_frequent_values(store.db, "main", "City", cache,
                                                  prefix=prefix, limit=limit)
            assert cached == live, (kept, prefix, limit)
    assert await cached_frequent_values(store.db, "main", "Age", cache) == []


async def test_a_change_of_time_zone_is_seen_by_the_next_prepare(store) -> None:
    """The zone is part of the catalog: changing it increments the revision, so the next
    preparation (here through the process's shared cache, already holding the catalog)
    counts the new zone's calendar days."""
    await seed(store.db)  # c1 signed up at 2024-05-01T10:00Z: May 2 in Pacific/Kiritimati

    async def prepared():
        return await query.prepare(store.db, "main", now=NOW,
                                   expression="Signup equals 2024-05-02")

    before = await prepared()
    assert before.zone is UTC and await query.count(before) == 0
    revision = await catalog_revision(store.db, "main")
    assert await set_database_timezone(store.db, "main", "Pacific/Kiritimati") == "UTC"
    assert await catalog_revision(store.db, "main") == revision + 1
    after = await prepared()
    assert after.zone == zone_of("Pacific/Kiritimati") and await query.count(after) == 1
    catalog = await CatalogCache().get(store.db, "main")  # another process sees it too
    assert (catalog.timezone, catalog.zone) == ("Pacific/Kiritimati", after.zone)
    await set_database_timezone(store.db, "main", "Pacific/Kiritimati")  # unchanged: no new
    assert await catalog_revision(store.db, "main") == revision + 1      # revision

    await create_database(store.db, "east", "Asia/Tokyo")
    prepared = await query.prepare(store.db, "east", now=NOW, expression="Email has value")
    assert prepared.zone == zone_of("Asia/Tokyo")


class _Finds(monitoring.CommandListener):
    """The collections each `find` command reads."""

    def __init__(self) -> None:
        self.collections: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.collections.append(event.command["find"])

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


async def test_a_preparation_reads_the_database_record_once(store) -> None:
    await seed(store.db)
    await set_database_timezone(store.db, "main", "Europe/Warsaw")
    finds = _Finds()
    client = AsyncMongoClient(store.settings.mongo_uri, event_listeners=[finds])
    try:
        db = client[store.db.name]
        for _ in range(2):  # a catalog read, then one from the cache
            finds.collections.clear()
            prepared = await query.prepare(db, "main", now=NOW, expression='City equals "x"')
            assert prepared.zone == zone_of("Europe/Warsaw")
            assert finds.collections.count(PROFILE_DATABASES) == 1, finds.collections
    finally:
        await client.close()
