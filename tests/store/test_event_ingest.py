"""Summaries written once per contact, the per-type records, and repair after a crash."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess

import pytest
import pytest_asyncio

from store.contacts import upsert_contacts
from store.events import (EventIngest, exact_latest_event_times, list_event_types,
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
    latest = await exact_latest_event_times(store.db, "main", ["MailClick", "PageVisit", "Never"])
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
    assert await exact_latest_event_times(store.db, "main", ["MailOpen"]) == {
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
    # the per-type records too: each event counted once, however often the repair restarted
    assert await type_counts(store) == {"MailClick": 2, "MailOpen": 1}


async def type_counts(store) -> dict[str, int]:
    return {document["type"]: document["count"] async for document in
            store.db.event_types.find({"database": "main"})}


async def test_a_repair_after_the_summaries_were_applied_counts_nothing_twice(contacts):
    """The process died after applying its summaries and before removing its marker:
    the repair finds the batch already counted in the per-type records."""
    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3), event(2, "b", "MailClick", 4)])
    marker = await store.db.summary_pending.find_one({})
    await ingest.apply()
    # the state just before the marker's removal: the record names the batch as counted
    await store.db.event_types.update_many({}, {"$addToSet": {"applied": marker["_id"]}})
    await store.db.summary_pending.insert_one({**marker, "owner": {**marker["owner"],
                                                                   "pid": dead_pid()}})
    assert await repair_interrupted(store.db) == 1
    assert await type_counts(store) == {"MailClick": 2}
    assert (await summaries(store))["main:a"]["MailClick"]["count"] == 1
    assert await store.db.summary_pending.count_documents({}) == 0
    assert await store.db.event_types.count_documents({"applied": marker["_id"]}) == 0


async def test_a_repair_applies_the_consent_its_batch_carried(contacts):
    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([{"id": "u1", "contact": "a", "type": "Unsubscribe",
                       "time": "2024-05-03T10:00:00Z", "attributes": {"channel": "email"}},
                      {"id": "h1", "contact": "b", "type": "HardBounce",
                       "time": "2024-05-03T10:00:00Z"}])
    await store.db.summary_pending.update_many({}, {"$set": {"owner.pid": dead_pid()}})
    await repair_interrupted(store.db)
    a = await store.db.contacts.find_one({"_id": "main:a"})
    b = await store.db.contacts.find_one({"_id": "main:b"})
    assert a.get("consent") == {"email": "unsubscribed"}
    assert b.get("suppression") == {"email": "hard_bounce"}


async def test_a_repair_reads_only_the_interrupted_batch(contacts, store_server):
    """The repair's reads of events are bounded by the batch's contacts: none reads the
    whole database's events (that work would grow with the database, not with the batch)."""
    from pymongo import AsyncMongoClient, monitoring

    class Commands(monitoring.CommandListener):
        def __init__(self) -> None:
            self.seen: list[dict] = []

        def started(self, event) -> None:
            if event.command_name in ("aggregate", "find", "count", "distinct") \
                    and event.command.get(event.command_name) == "events":
                self.seen.append(event.command)

        def succeeded(self, event) -> None:
            pass

        def failed(self, event) -> None:
            pass

    store = contacts
    await track_events(store.db, "main", [event(n, "a", "PageVisit", 1) for n in range(10, 20)])
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "b", "MailClick", 3)])
    await store.db.summary_pending.update_many({}, {"$set": {"owner.pid": dead_pid()}})
    listener = Commands()
    client = AsyncMongoClient(store_server, event_listeners=[listener], tz_aware=True)
    try:
        assert await repair_interrupted(client[store.db.name]) == 1
    finally:
        await client.close()
    assert listener.seen
    for command in listener.seen:
        scope = (command.get("filter") or command.get("query")
                 or command["pipeline"][0].get("$match", {}))
        assert "contact" in scope or "_id" in scope, command
    assert await type_counts(store) == {"MailClick": 1, "PageVisit": 10}
    assert (await summaries(store))["main:b"]["MailClick"]["count"] == 1


async def test_an_ingest_given_up_by_a_living_process_is_refused_then_repaired(contacts):
    """An ingest of this very process that failed half-way (say the store died under it)
    leaves its marker behind with a living owner: answers on events are refused and the
    repair takes it, as for a dead process."""
    from store import query
    from store.errors import SummariesRepairingError

    store = contacts
    ingest = EventIngest(store.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3)])
    prepared = await query.prepare(store.db, "main", expression="event MailClick occurred",
                                   now=dt.datetime(2024, 6, 1, tzinfo=UTC))
    assert await query.count(prepared) == 0  # a live ingest: its summaries follow
    ingest.abandon()
    with pytest.raises(SummariesRepairingError):
        await query.count(await query.prepare(store.db, "main",
                                              expression="event MailClick occurred",
                                              now=dt.datetime(2024, 6, 1, tzinfo=UTC)))
    assert await repair_interrupted(store.db) == 1
    assert await query.count(await query.prepare(store.db, "main",
                                                 expression="event MailClick occurred",
                                                 now=dt.datetime(2024, 6, 1, tzinfo=UTC))) == 1
    assert await type_counts(store) == {"MailClick": 1}


async def test_batches_named_counted_are_forgotten_once_their_markers_are_gone(contacts):
    from bson import ObjectId

    store = contacts
    await track_events(store.db, "main", [event(1, "a", "MailClick", 3)])
    old = ObjectId.from_datetime(dt.datetime.now(UTC) - dt.timedelta(hours=1))
    young = ObjectId()
    await store.db.event_types.update_one({"_id": "main:MailClick"},
                                          {"$set": {"applied": [old, young]}})
    await repair_interrupted(store.db)
    record = await store.db.event_types.find_one({"_id": "main:MailClick"})
    assert record["applied"] == [young] and record["count"] == 1


async def test_a_repair_and_a_live_ingest_of_the_same_contact_count_each_event_once(contacts):
    """A live ingest's events are stored before its summaries are applied: a repair that
    recomputed the contact from its events meanwhile, then saw the ingest add them again,
    would count them twice. The repair waits for the live ingest of its contacts."""
    import asyncio

    store = contacts
    dead = EventIngest(store.db, "main")
    await dead.add([event(1, "a", "MailClick", 3)])
    dead.abandon()  # the dead ingest's marker: to repair
    live = EventIngest(store.db, "main")
    await live.add([event(2, "a", "MailClick", 4), event(3, "b", "MailClick", 5)])
    repair = asyncio.create_task(repair_interrupted(store.db))
    await asyncio.sleep(1.0)
    assert not repair.done()  # waiting for the live ingest of contact a
    await live.apply()
    assert await repair == 1
    repaired = await summaries(store)
    assert repaired["main:a"]["MailClick"]["count"] == 2
    assert repaired["main:b"]["MailClick"]["count"] == 1
    assert await type_counts(store) == {"MailClick": 3}


async def claimed_by_a_repair(store) -> None:
    """A dead ingest's marker on contact a, claimed by a repair of another process."""
    dead = EventIngest(store.db, "main")
    await dead.add([event(1, "a", "MailClick", 3)])
    dead.abandon()
    marker = await store.db.summary_pending.find_one({})
    until = dt.datetime.now(UTC) + dt.timedelta(seconds=30)
    await store.db.summary_pending.update_one({"_id": marker["_id"]},
                                              {"$set": {"repairing_until": until}})


async def test_an_ingest_waits_while_its_contacts_are_being_repaired(contacts):
    store = contacts
    await claimed_by_a_repair(store)
    ingest = asyncio.create_task(track_events(store.db, "main", [event(2, "a", "MailClick", 4)]))
    await asyncio.sleep(1.0)
    assert not ingest.done()
    assert await store.db.events.count_documents({"_id": "main:e2"}) == 0  # not inserted
    await repair_interrupted(store.db)  # takes the claim over (ours now) and finishes
    report = await ingest
    assert report.stored == 1
    assert (await summaries(store))["main:a"]["MailClick"]["count"] == 2
    assert await type_counts(store) == {"MailClick": 2}


async def test_a_claim_holds_up_only_the_ingests_of_its_own_contacts(contacts):
    store = contacts
    await claimed_by_a_repair(store)
    # contact b is not claimed: its ingest goes through at once, while a's would wait
    report = await asyncio.wait_for(track_events(store.db, "main", [event(2, "b", "MailClick", 4)]),
                                    timeout=20)
    assert report.stored == 1
    held = asyncio.create_task(track_events(store.db, "main", [event(3, "a", "MailClick", 5)]))
    await asyncio.sleep(1.0)
    assert not held.done()
    await repair_interrupted(store.db)
    assert (await held).stored == 1


async def test_a_store_opened_to_repair_beside_serving_says_so_before_it_serves(contacts):
    """Readiness must not say plain "ready" in the moment between the opening and the
    repair loop's first look: the answers on events are refused until the repair ends."""
    from store.connection import open_store

    ingest = EventIngest(contacts.db, "main")
    await ingest.add([event(1, "a", "MailClick", 3)])
    ingest.abandon()
    async with open_store(contacts.settings, repair_in_background=True) as store:
        assert store.health.repairing and "main" in store.health.repairing
    assert await repair_interrupted(contacts.db) <= 1  # repaired there or here, once
