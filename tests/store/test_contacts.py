"""Contact upserts: typing, rejection of rows that do not fit, updates, lists, buckets."""

from __future__ import annotations

import datetime as dt

import pytest

from dsl.values import bucket_of
from store.collections import CONTACTS, LISTS
from store.contacts import get_contact, upsert_contacts
from store.errors import StoreInputError
from store.fields import ensure_database
from store.results import RowError

pytestmark = pytest.mark.asyncio

UTC = dt.timezone.utc


async def _raw(store, contact_id: str, database: str = "main") -> dict:
    return await store.db[CONTACTS].find_one({"_id": f"{database}:{contact_id}"})


async def test_values_are_stored_in_their_type(crm) -> None:
    report = await upsert_contacts(crm.db, "main", [
        {"id": "c1", "fields": {"Email": "Anna@Example.com", "City": "Kraków", "Age": 31,
                                "Signup": "2024-05-01T10:00:00.123456Z", "Newsletter": True},
         "lists": ["VIP"]},
        # CSV cells arrive as text.
        {"id": "c2", "fields": {"City": "STRASSE", "Age": "41.5", "Signup": "2024-05-01",
                                "Newsletter": "no"}},
        {"id": "c3", "fields": {"Age": " 7 ", "Newsletter": "TRUE", "City": ""}},
    ])
    assert report.stored == 3 and report.duplicates == 0 and report.rejected == []
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"]["Age"] == 31 and isinstance(c1["fields"]["Age"], int)
    assert c1["fields"]["Signup"] == dt.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert c1["fields"]["Newsletter"] is True
    assert c1["lists"] == ["VIP"]
    c2 = await get_contact(crm.db, "main", "c2")
    assert c2["fields"]["Age"] == 41.5
    assert c2["fields"]["Signup"] == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert c2["fields"]["Newsletter"] is False
    c3 = await get_contact(crm.db, "main", "c3")
    assert c3["fields"]["Age"] == 7 and c3["fields"]["Newsletter"] is True
    assert c3["fields"]["City"] == ""  # empty text is stored (and counts as no value)


async def test_folded_mirror_of_text_fields(crm) -> None:
    await upsert_contacts(crm.db, "main", [
        {"id": "c1", "fields": {"Email": "Anna@Example.COM", "City": "Straße", "Age": 3}}])
    raw = await _raw(crm, "c1")
    assert raw["folded"] == {"Email": "anna@example.com", "City": "strasse"}
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"City": "KRAKÓW"}}])
    assert (await _raw(crm, "c1"))["folded"]["City"] == "kraków"
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"City": None}}])
    raw = await _raw(crm, "c1")
    assert "City" not in raw["folded"] and "City" not in raw["fields"]


async def test_new_contacts_get_bucket_create_time_and_dates(crm) -> None:
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    await upsert_contacts(crm.db, "main", [{"id": "c1"}, {"id": "c2", "fields": {
        "CreateTime": "2020-01-02T03:04:05Z"}}])
    c1 = await _raw(crm, "c1")
    assert c1["database"] == "main" and c1["id"] == "c1"
    assert c1["bucket"] == bucket_of("main", "c1") and 0 <= c1["bucket"] < 10_000
    assert c1["fields"]["CreateTime"] >= before and c1["created_at"] >= before
    assert c1["lists"] == []
    c2 = await _raw(crm, "c2")
    assert c2["fields"]["CreateTime"] == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    # An update keeps bucket, creation time and created_at.
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"City": "Oslo"}}])
    again = await _raw(crm, "c1")
    assert again["bucket"] == c1["bucket"]
    assert again["fields"]["CreateTime"] == c1["fields"]["CreateTime"]
    assert again["created_at"] == c1["created_at"]
    assert again["updated_at"] >= c1["updated_at"]


async def test_buckets_are_fixed_and_spread(crm) -> None:
    rows = [{"id": f"c{number}"} for number in range(400)]
    assert (await upsert_contacts(crm.db, "main", rows)).stored == 400
    buckets = {document["id"]: document["bucket"]
               async for document in crm.db[CONTACTS].find({"database": "main"})}
    assert all(buckets[f"c{n}"] == bucket_of("main", f"c{n}") for n in range(400))
    assert all(0 <= bucket < 10_000 for bucket in buckets.values())
    low = sum(1 for bucket in buckets.values() if bucket < 5_000)
    assert 140 < low < 260  # about half


async def test_upsert_updates_given_fields_and_adds_lists(crm) -> None:
    await upsert_contacts(crm.db, "main", [
        {"id": "c1", "fields": {"City": "Krakow", "Age": 31}, "lists": ["VIP", "Newsletter"]}])
    report = await upsert_contacts(crm.db, "main", [
        {"id": "c1", "fields": {"Age": 32, "Email": "a@example.com"}, "lists": ["VIP", "B"]}])
    assert report.stored == 1
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"]["City"] == "Krakow"  # not given: unchanged
    assert c1["fields"]["Age"] == 32
    assert c1["fields"]["Email"] == "a@example.com"
    assert c1["lists"] == ["VIP", "Newsletter", "B"]
    # null removes a field
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"Age": None}}])
    assert "Age" not in (await get_contact(crm.db, "main", "c1"))["fields"]
    lists = sorted([document["name"] async for document in crm.db[LISTS].find()])
    assert lists == ["B", "Newsletter", "VIP"]
    assert await crm.db[LISTS].find_one({"_id": "main:VIP"}) is not None


async def test_rows_that_do_not_fit_are_rejected_and_the_rest_stored(crm) -> None:
    rows = [
        {"id": "ok1", "fields": {"City": "Oslo"}},
        {"id": "c2", "fields": {"Citty": "Oslo"}},
        {"id": "c3", "fields": {"Age": "thirty"}},
        {"id": "c4", "fields": {"Signup": "01/05/2024"}},
        {"id": "c5", "fields": {"Newsletter": "maybe"}},
        {"id": "c6", "fields": {"City": ["a"]}},
        {"id": "", "fields": {}},
        {"id": "x" * 257},
        {"id": 17},
        {"id": "c9", "lists": "VIP"},
        {"id": "c10", "lists": [""]},
        {"id": "c11", "feilds": {}},
        "not an object",
        {"id": "c12", "fields": {"CreateTime": None}},
        {"id": "ok2", "fields": {"Age": "12"}},
    ]
    report = await upsert_contacts(crm.db, "main", rows)
    assert report.stored == 2
    by_index = {error.index: error for error in report.rejected}
    assert sorted(by_index) == list(range(1, 14))
    assert by_index[1] == RowError(1, "c2", "contact c2: unknown field Citty (did you mean "
                                            "City?); declare it first")
    for index, contact, field, value in [(2, "c3", "Age", "thirty"),
                                         (3, "c4", "Signup", "01/05/2024"),
                                         (4, "c5", "Newsletter", "maybe")]:
        message = by_index[index].message
        assert by_index[index].id == contact
        assert contact in message and field in message and value in message, message
    assert by_index[8].id is None
    assert "feilds" in by_index[11].message
    assert "CreateTime" in by_index[13].message
    assert await get_contact(crm.db, "main", "ok1") is not None
    assert (await get_contact(crm.db, "main", "ok2"))["fields"]["Age"] == 12
    for missing in ("c2", "c3", "c4", "c5", "c6", "c9", "c10", "c11", "c12"):
        assert await get_contact(crm.db, "main", missing) is None
    assert await crm.db[CONTACTS].count_documents({}) == 2


async def test_ids_are_generated(crm) -> None:
    report = await upsert_contacts(crm.db, "main", [{"fields": {"City": "A"}},
                                                    {"id": None, "fields": {"City": "B"}}])
    assert report.stored == 2
    ids = [document["id"] async for document in crm.db[CONTACTS].find()]
    assert len(set(ids)) == 2 and all(len(contact_id) == 32 for contact_id in ids)


async def test_rows_of_one_id_in_a_batch_apply_in_order(crm) -> None:
    report = await upsert_contacts(crm.db, "main", [
        {"id": "c1", "fields": {"City": "A", "Age": 1}, "lists": ["L1"]},
        {"id": "c1", "fields": {"City": None, "Age": "oops"}},  # rejected: changes nothing
        {"id": "c1", "fields": {"City": "B"}, "lists": ["L2"]},
        {"id": "c1", "fields": {"Age": None}},
    ])
    assert report.stored == 3 and [error.index for error in report.rejected] == [1]
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"]["City"] == "B" and "Age" not in c1["fields"]
    assert c1["lists"] == ["L1", "L2"]


async def test_profile_databases_are_separate(crm) -> None:
    await ensure_database(crm.db, "brand2")
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"City": "Main"}}])
    report = await upsert_contacts(crm.db, "brand2", [{"id": "c1", "fields": {"City": "X"}}])
    assert "unknown field City" in report.rejected[0].message  # City is main's field
    await upsert_contacts(crm.db, "brand2", [{"id": "c1", "fields": {"Email": "b@x.io"}}])
    assert (await get_contact(crm.db, "brand2", "c1"))["fields"].get("City") is None
    assert (await get_contact(crm.db, "main", "c1"))["fields"]["City"] == "Main"
    assert (await _raw(crm, "c1", "brand2"))["bucket"] == bucket_of("brand2", "c1")
    with pytest.raises(StoreInputError):
        await upsert_contacts(crm.db, "nope", [{"id": "c1"}])


async def test_get_contact_missing(crm) -> None:
    assert await get_contact(crm.db, "main", "nobody") is None


async def test_a_batch_of_new_and_existing_contacts_stores_what_was_asked(crm) -> None:
    """New and existing ids in one batch, an id repeated, a null, a given CreateTime and a
    rejected row: each stored document is exactly what the rows ask for, and the same
    import sent again changes nothing."""
    await upsert_contacts(crm.db, "main", [{"id": "c1", "fields": {"City": "Gdansk"}}])
    rows = [{"id": "c1", "fields": {"Age": 40}, "lists": ["VIP"]},
            {"id": "n1", "fields": {"City": "Kraków", "Age": 31}, "lists": ["A", "B", "A"]},
            {"id": "n1", "fields": {"Age": None}, "lists": ["C"]},
            {"id": "n2"},
            {"id": "n3", "fields": {"CreateTime": "2024-01-01T00:00:00Z"}},
            {"id": "bad", "fields": {"Age": "old"}}]
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    report = await upsert_contacts(crm.db, "main", rows)
    assert report.stored == 5 and [error.index for error in report.rejected] == [5]

    def stored(raw: dict) -> dict:
        """The document without the times of writing (checked separately)."""
        return {key: value for key, value in raw.items()
                if key not in ("_id", "created_at", "updated_at")}

    n1, n2, n3 = [await _raw(crm, contact_id) for contact_id in ("n1", "n2", "n3")]
    for raw in (n1, n2, n3):
        assert raw["created_at"] >= before and raw["updated_at"] >= raw["created_at"]
    created_n1, created_n2 = n1["fields"].pop("CreateTime"), n2["fields"].pop("CreateTime")
    assert created_n1 == n1["created_at"] and created_n2 == n2["created_at"]
    assert stored(n1) == {"database": "main", "id": "n1", "bucket": bucket_of("main", "n1"),
                          "fields": {"City": "Kraków"}, "folded": {"City": "kraków"},
                          "lists": ["A", "B", "C"]}
    assert stored(n2) == {"database": "main", "id": "n2", "bucket": bucket_of("main", "n2"),
                          "fields": {}, "lists": []}
    assert stored(n3) == {"database": "main", "id": "n3", "bucket": bucket_of("main", "n3"),
                          "fields": {"CreateTime": dt.datetime(2024, 1, 1, tzinfo=UTC)},
                          "lists": []}
    updated = await get_contact(crm.db, "main", "c1")
    assert updated["fields"]["City"] == "Gdansk" and updated["fields"]["Age"] == 40
    assert updated["lists"] == ["VIP"]
    assert await get_contact(crm.db, "main", "bad") is None

    again = await upsert_contacts(crm.db, "main", rows)  # a retried import: the same contacts
    assert again.stored == 5
    for contact_id, first in (("n1", n1), ("n2", n2), ("n3", n3)):
        raw = await _raw(crm, contact_id)
        assert raw["created_at"] == first["created_at"]
        if contact_id != "n3":  # CreateTime is the time of the first writing, kept
            assert raw["fields"].pop("CreateTime") == first["created_at"]
        assert stored(raw) == stored(first)


@pytest.mark.parametrize("budget", [0.0, 0.002, 60.0])
async def test_the_result_says_exactly_what_was_stored_when_time_runs_out(
        crm, monkeypatch, budget) -> None:
    """A batch written in chunks stops before its deadline: the rows it stored are counted,
    the others are reported as not stored (to send again), and the store agrees."""
    import time

    from store import contacts as contacts_module

    monkeypatch.setattr(contacts_module, "WRITE_CHUNK", 10)
    rows = [{"id": f"t{n:03d}", "fields": {"Email": f"t{n}@example.com"}} for n in range(45)]
    report = await upsert_contacts(crm.db, "main", rows, deadline=time.monotonic() + budget)
    in_store = await crm.db[CONTACTS].count_documents({"database": "main", "id": {"$regex": "^t"}})
    assert report.stored == in_store
    assert report.stored + len(report.rejected) == 45
    assert all("not stored" in error.message and "again" in error.message
               for error in report.rejected)
    if budget == 0.0:
        assert report.stored == 0
    if budget == 60.0:
        assert report.stored == 45
