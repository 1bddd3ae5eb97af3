"""Summaries written once per contact, the per-type records, and repair after a crash."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import pytest_asyncio

from store.contacts import upsert_contacts
from store.events import (EventIngest, latest_event_times, list_event_types,
                          rebuild_summaries, repair_interrupted, track_events)

UTC = dt.timezone.utc
pytestmark = pytest.mark.asyncio


def event(n: int, contact: str, kind: str, day: int) -> dict:
    return {"id": f"e{n}", "contact": contact, "type": kind,
            "time": f"2024-05-{day:02d}T10:00:00Z"}


async def summaries(store) -> dict:
    return {document["_id"]: document.get("events") async for document in
            store.db.contacts.find({"database": "main"}, {"events": 1})}


@pytest_asyncio.fixture
async def contacts(store):
    await upsert_contacts(store.db, "main", [{"id": "a"}, {"id": "b"}])
    return store


async def test_an_ingest_applies_each_contact_once_and_exactly(contacts):
    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3), event(2, "a", "MailClick", 1)])
    await ingest.add([event(3, "b", "MailOpen", 9), event(1, "a", "MailClick", 3)])  # e1 again
    assert ingest.pending_contacts == 2
    assert (await summaries(store))["main:a"] is None  # nothing written before apply
    await ingest.apply()
    after = await summaries(store)
    await rebuild_summaries(store.db, "main")
    assert after == await summaries(store)
    assert after["main:a"]["MailClick"]["count"] == 2
    assert await store.db.summary_pending.count_documents({}) == 0


async def test_event_types_record_counts_and_latest_times(contacts):
    store = contacts
    await track_events(store.db, "main", [event(1, "a", "MailClick", 3), event(2, "b", "MailClick", 7),
                                          event(3, "b", "PageVisit", 1)])
    await track_events(store.db, "main", [event(2, "b", "MailClick", 7)])  # a retry: no change
    assert await list_event_types(store.db, "main") == ["MailClick", "PageVisit"]
    latest = await latest_event_times(store.db, "main", ["MailClick", "PageVisit", "Never"])
    assert latest == {"MailClick": dt.datetime(2024, 5, 7, 10, tzinfo=UTC),
                      "PageVisit": dt.datetime(2024, 5, 1, 10, tzinfo=UTC), "Never": None}
    record = await store.db.event_types.find_one({"_id": "main:MailClick"})
    assert record["count"] == 2


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def test_a_crash_between_insert_and_apply_is_repaired(contacts):
    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3), event(2, "b", "MailOpen", 4)])
    # The process "dies" here: events stored, summaries not applied, the marker left.
    await store.db.summary_pending.update_many({}, {"$set": {"owner.pid": dead_pid()}})
    assert (await summaries(store))["main:a"] is None
    assert await repair_interrupted(store.db) == 1
    repaired = await summaries(store)
    assert repaired["main:a"]["MailClick"]["count"] == 1
    assert repaired["main:b"]["MailOpen"]["count"] == 1
    assert await latest_event_times(store.db, "main", ["MailOpen"]) == {
        "MailOpen": dt.datetime(2024, 5, 4, 10, tzinfo=UTC)}
    assert await store.db.summary_pending.count_documents({}) == 0


async def test_a_live_ingest_is_not_repaired_under_it(contacts):
    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3)])
    assert await repair_interrupted(store.db) == 0  # our own, live process
    await ingest.apply()
    assert (await summaries(store))["main:a"]["MailClick"]["count"] == 1


async def test_an_interrupted_repair_is_safe_and_answers_are_refused_until_it_is_done(contacts):
    """Repairs interrupted at many points (twice and more): a contact's summary is always
    a whole one (the old or the repaired), never missing; until the repair finishes, an
    expression on events is refused, never answered from summaries that lag the events."""
    import asyncio
    import contextlib

    from store import query
    from store.errors import SummariesRepairingError

    async def count_members(expression: str) -> int:  # prepared afresh: plans are kept
        return await query.count(await query.prepare(
            store.db, "main", expression=expression, now=dt.datetime(2024, 6, 1, tzinfo=UTC)))

    store = contacts
    await track_events(store.db, "main", [event(1, "a", "MailClick", 3)])
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(2, "a", "MailClick", 4), event(3, "b", "MailOpen", 4)])
    await store.db.summary_pending.update_many({}, {"$set": {"owner.pid": dead_pid()}})
    twice = "event MailClick occurred at least 2 times"
    with pytest.raises(SummariesRepairingError, match="being repaired"):
        await count_members(twice)
    assert await count_members("")  # no events: fine

    interrupted = 0
    for steps in range(0, 5000):  # interrupted after more and more of its work
        if not await store.db.summary_pending.count_documents({}):
            break  # one got through
        repair = asyncio.create_task(repair_interrupted(store.db))
        for _ in range(steps):
            await asyncio.sleep(0)
            if repair.done():
                break
        interrupted += repair.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await repair
        now = await summaries(store)
        assert now["main:a"] is not None and now["main:a"]["MailClick"]["count"] in (1, 2)
        if await store.db.summary_pending.count_documents({}):
            with pytest.raises(SummariesRepairingError):
                await count_members(twice)
    assert interrupted >= 2
    await repair_interrupted(store.db)
    repaired = await summaries(store)
    assert repaired["main:a"]["MailClick"]["count"] == 2
    assert repaired["main:b"]["MailOpen"]["count"] == 1
    assert await count_members(twice) == 1
