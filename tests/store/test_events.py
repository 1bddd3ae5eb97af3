"""Event tracking: de-duplication by id, validation, and exact per-type summaries."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.values import summary_key
from store.collections import CONTACTS, EVENTS, MAX_EVENT_TYPE_INDEXES, contact_index_paths
from store.connection import open_store
from store.contacts import upsert_contacts
from store.errors import StoreInputError
from store.events import list_event_types, rebuild_summaries, track_events
from store.fields import ensure_database
from tests.conftest import fresh_settings

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


async def _contacts(store, *ids: str, database: str = "main") -> None:
    report = await upsert_contacts(store.db, database, [{"id": contact} for contact in ids])
    assert report.stored == len(ids)


async def _summary(store, contact: str, database: str = "main") -> dict:
    document = await store.db[CONTACTS].find_one({"_id": f"{database}:{contact}"})
    return document.get("events", {})


@pytest.mark.asyncio
async def test_events_are_stored_and_summarised(store) -> None:
    await _contacts(store, "c1", "c2")
    report = await track_events(store.db, "main", [
        {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-01T10:00:00Z",
         "attributes": {"campaign": "Spring", "url": "https://shop.example/X", "price": 120}},
        {"contact": "c1", "type": "MailClick", "time": "2024-04-01T08:00:00+02:00"},
        {"contact": "c2", "type": "order.completed", "time": "2024-05-02"},
    ])
    assert (report.stored, report.duplicates, report.rejected) == (3, 0, [])
    event = await store.db[EVENTS].find_one({"_id": "main:e1"})
    assert event["database"] == "main" and event["contact"] == "main:c1"
    assert event["type"] == "MailClick" and event["time"] == T0
    assert event["attributes"] == {"campaign": "Spring", "url": "https://shop.example/X",
                                   "price": 120}
    assert event["folded"] == {"campaign": "spring", "url": "https://shop.example/x"}
    assert await store.db[EVENTS].count_documents({"_id": {"$type": "objectId"}}) == 2
    assert await _summary(store, "c1") == {"MailClick": {
        "count": 2, "first": dt.datetime(2024, 4, 1, 6, 0, tzinfo=UTC), "last": T0}}
    key = summary_key("order.completed")
    assert key != "order.completed"  # never a nested path
    assert (await _summary(store, "c2"))[key]["count"] == 1
    assert await list_event_types(store.db, "main") == ["MailClick", "order.completed"]
    paths = await contact_index_paths(store.db)
    assert {"events.MailClick.last", f"events.{key}.last"} <= paths


@pytest.mark.asyncio
async def test_an_event_id_is_stored_once(store) -> None:
    await _contacts(store, "c1")
    row = {"id": "e1", "contact": "c1", "type": "MailOpen", "time": "2024-05-01T10:00:00Z"}
    first = await track_events(store.db, "main", [row, dict(row)])
    assert (first.stored, first.duplicates) == (1, 1)
    retry = await track_events(store.db, "main", [
        {**row, "time": "2020-01-01T00:00:00Z"},  # same id, other content: still a duplicate
        {**row, "id": "e2", "time": "2024-06-01T00:00:00Z"}])
    assert (retry.stored, retry.duplicates, retry.rejected) == (1, 1, [])
    assert await store.db[EVENTS].count_documents({}) == 2
    assert await _summary(store, "c1") == {"MailOpen": {
        "count": 2, "first": T0, "last": dt.datetime(2024, 6, 1, tzinfo=UTC)}}


@pytest.mark.asyncio
async def test_event_ids_are_per_profile_database(store) -> None:
    await ensure_database(store.db, "brand2")
    await _contacts(store, "c1")
    await _contacts(store, "c1", database="brand2")
    row = {"id": "e1", "contact": "c1", "type": "MailOpen", "time": "2024-05-01"}
    assert (await track_events(store.db, "main", [row])).stored == 1
    assert (await track_events(store.db, "brand2", [row])).stored == 1
    assert (await _summary(store, "c1", "brand2"))["MailOpen"]["count"] == 1


@pytest.mark.asyncio
async def test_invalid_events_are_rejected_and_the_rest_stored(store) -> None:
    await _contacts(store, "c1")
    good = {"contact": "c1", "type": "PageVisit", "time": "2024-05-01T10:00:00Z"}
    rows = [
        {**good, "contact": "c9"},
        {**good, "type": ""},
        {**good, "type": "x" * 129},
        {**good, "time": "yesterday"},
        {"contact": "c1", "type": "PageVisit"},
        {**good, "attributes": {"a.b": 1}},
        {**good, "attributes": {"$where": "x"}},
        {**good, "attributes": {"nested": {"x": 1}}},
        {**good, "attributes": ["url"]},
        {**good, "id": ""},
        {**good, "colour": "red"},
        {**good, "contact": 5},
        good,
    ]
    report = await track_events(store.db, "main", rows)
    assert report.stored == 1 and report.duplicates == 0
    by_index = {error.index: error.message for error in report.rejected}
    assert sorted(by_index) == list(range(12))
    assert by_index[0] == "no contact c9 in database main"
    assert "yesterday" in by_index[3]
    assert "a.b" in by_index[5] and "$where" in by_index[6]
    assert "nested" in by_index[7]
    assert "colour" in by_index[10]
    assert (await _summary(store, "c1"))["PageVisit"]["count"] == 1
    with pytest.raises(StoreInputError):
        await track_events(store.db, "nope", [good])


@pytest.mark.asyncio
async def test_iso_attribute_strings_become_dates(store) -> None:
    await _contacts(store, "c1")
    await track_events(store.db, "main", [
        {"id": "e1", "contact": "c1", "type": "order", "time": "2024-05-01T10:00:00Z",
         "attributes": {"sent_at": "2024-05-01", "at": "2024-05-01T12:30:00+02:00",
                        "note": "2024 was good", "flag": True, "none": None, "n": 1.5}}])
    event = await store.db[EVENTS].find_one({"_id": "main:e1"})
    assert event["attributes"]["sent_at"] == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert event["attributes"]["at"] == dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert event["attributes"]["note"] == "2024 was good"
    assert event["attributes"]["flag"] is True and event["attributes"]["none"] is None
    assert event["folded"] == {"note": "2024 was good"}


@pytest.mark.asyncio
async def test_rebuild_repairs_summaries(store) -> None:
    await _contacts(store, "c1", "c2", "c3")
    await track_events(store.db, "main", [
        {"contact": "c1", "type": "A", "time": "2024-01-01"},
        {"contact": "c1", "type": "A", "time": "2024-03-01"},
        {"contact": "c2", "type": "B", "time": "2024-02-01"}])
    expected = {contact: await _summary(store, contact) for contact in ("c1", "c2", "c3")}
    await store.db[CONTACTS].update_many({}, {"$set": {"events": {"A": {"count": 99}}}})
    assert await rebuild_summaries(store.db, "main", ["main:c1"]) == 1
    assert await _summary(store, "c1") == expected["c1"]
    assert (await _summary(store, "c2"))["A"]["count"] == 99  # out of scope
    assert await rebuild_summaries(store.db, "main") == 2
    assert {contact: await _summary(store, contact)
            for contact in ("c1", "c2", "c3")} == expected
    assert expected["c3"] == {}


@pytest.mark.asyncio
async def test_event_type_indexes_are_capped(store, caplog) -> None:
    await _contacts(store, "c1")
    rows = [{"contact": "c1", "type": f"T{number}", "time": "2024-01-01"}
            for number in range(MAX_EVENT_TYPE_INDEXES + 5)]
    with caplog.at_level(logging.WARNING, logger="store.events"):
        assert (await track_events(store.db, "main", rows)).stored == len(rows)
    warned = [record.getMessage() for record in caplog.records if record.name == "store.events"]
    assert len(warned) == 1 and warned[0].startswith("5 event summaries are not indexed"), warned
    paths = await contact_index_paths(store.db)
    assert len([path for path in paths if path.startswith("events.")]) == MAX_EVENT_TYPE_INDEXES
    indexes = [index async for index in await store.db[CONTACTS].list_indexes()]
    assert len(indexes) <= 64
    assert len(await _summary(store, "c1")) == MAX_EVENT_TYPE_INDEXES + 5


# --- summaries are exact under duplicates and any order of arrival --------------------

CONTACTS_POOL = ["c0", "c1", "c2", "ghost"]  # ghost does not exist: its events are refused
TYPES = ["MailClick", "PageVisit", "order.completed"]

event_rows = st.fixed_dictionaries({
    "id": st.one_of(st.none(), st.sampled_from([f"e{n}" for n in range(12)])),
    "contact": st.sampled_from(CONTACTS_POOL),
    "type": st.sampled_from(TYPES),
    "time": st.integers(0, 10_000).map(
        lambda minutes: (T0 + dt.timedelta(minutes=minutes, milliseconds=minutes % 7)
                         ).isoformat()),
})


def _oracle(arrivals: list[dict]) -> dict[str, dict]:
    """The summaries by definition: the first arrival of each event id counts, once."""
    seen: set[str] = set()
    summaries: dict[str, dict] = {contact: {} for contact in CONTACTS_POOL[:3]}
    for row in arrivals:
        if row["contact"] == "ghost":
            continue
        if row["id"] is not None:
            if row["id"] in seen:
                continue
            seen.add(row["id"])
        time = dt.datetime.fromisoformat(row["time"])
        entry = summaries[row["contact"]].setdefault(
            summary_key(row["type"]), {"count": 0, "first": time, "last": time})
        entry["count"] += 1
        entry["first"] = min(entry["first"], time)
        entry["last"] = max(entry["last"], time)
    return summaries


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(event_rows, min_size=1, max_size=40), data=st.data())
def test_summaries_are_exact_under_duplicates_and_disorder(store_server, rows, data) -> None:
    # Retries: some rows are sent again later; then everything arrives shuffled, in batches.
    retries = data.draw(st.lists(st.sampled_from(rows), max_size=10), label="retries")
    arrivals = data.draw(st.permutations(rows + retries), label="arrivals")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(arrivals)), max_size=4), label="cuts"))
    batches = [arrivals[start:end] for start, end in zip([0, *cuts], [*cuts, len(arrivals)])]

    async def scenario() -> None:
        settings = fresh_settings(store_server, db_name=f"test_hyp_{uuid.uuid4().hex[:16]}")
        async with open_store(settings) as store:
            try:
                await _contacts(store, *CONTACTS_POOL[:3])
                stored = duplicates = rejected = 0
                for batch in batches:
                    report = await track_events(store.db, "main", batch)
                    stored += report.stored
                    duplicates += report.duplicates
                    rejected += len(report.rejected)
                assert stored + duplicates + rejected == len(arrivals)
                assert rejected == sum(1 for row in arrivals if row["contact"] == "ghost")
                expected = _oracle(arrivals)
                incremental = {contact: await _summary(store, contact)
                               for contact in expected}
                assert incremental == expected
                await rebuild_summaries(store.db, "main")
                rebuilt = {contact: await _summary(store, contact) for contact in expected}
                assert rebuilt == incremental
            finally:
                await store.client.drop_database(settings.db_name)

    asyncio.run(scenario())
