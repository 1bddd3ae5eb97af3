"""Work on a segment's current members: CSV export (escaping, formats, order), event
history export, copy into another profile database, bulk update of a field."""

from __future__ import annotations

import csv
import datetime as dt
import io

import orjson
import pytest
import pytest_asyncio

from dsl.schema import FieldType
from store.clock import utc_now
from store.collections import CONTACTS
from store.contacts import get_contact, upsert_contacts
from store.errors import StoreInputError
from store.exports import export_csv, export_events, write_csv
from store.fields import define_field, ensure_database, load_schema
from store.member_actions import bulk_update_field, copy_to_database
from store.query import run as members_module
from store.segment_bin import delete_segment
from store.segment_runs import list_runs
from store.segments import create_segment
from tests.store.seed import ACTOR, NOW, UTC, seed, seed_events

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(store):
    await seed(store.db)
    return store.db


async def make(db, name: str, expression: str = "", **settings):
    return await create_segment(db, name=name, expression=expression, actor=ACTOR, **settings)


async def text_of(chunks) -> str:
    return "".join([chunk async for chunk in chunks])


async def test_csv_has_every_field_in_schema_order_and_typed_cells(db, monkeypatch) -> None:
    monkeypatch.setattr(members_module, "CHUNK_SIZE", 2)
    segment = await make(db, "All")
    text = await text_of(export_csv(db, segment.id, now=NOW, actor=ACTOR))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    schema = [field.name for field in await load_schema(db, "main")]
    assert rows[0] == ["id", *schema]
    assert rows[0] == ["id", "Email", "MobilePhone", "FirstName", "LastName", "CreateTime",
                       "City", "Age", "Signup", "Newsletter"]
    by_id = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert len(by_id) == 6
    assert by_id["c1"]["Signup"] == "2024-05-01T10:00:00Z"
    assert by_id["c1"]["Newsletter"] == "true" and by_id["c2"]["Newsletter"] == "false"
    assert by_id["c3"]["Newsletter"] == "" and by_id["c3"]["Email"] == ""
    assert by_id["c4"]["Age"] == "60.5" and by_id["c1"]["Age"] == "31"
    assert by_id["c1"]["CreateTime"].endswith("Z")
    assert text.endswith("\r\n")
    runs = await list_runs(db, segment.id)
    assert [(run.purpose, run.count, run.now) for run in runs] == [("export", 6, NOW)]


async def test_csv_escapes_commas_quotes_and_line_breaks(db) -> None:
    tricky = 'Kra"kow, "Old Town"\nline two'
    await upsert_contacts(db, "main", [{"id": "c,7\"", "fields": {"City": tricky,
                                                                  "FirstName": "=1+2"}}])
    segment = await make(db, "Tricky", 'City contains "old town"')
    out = io.BytesIO()
    written = await write_csv(db, segment.id, out, now=utc_now(), actor=ACTOR)
    data = out.getvalue()
    assert written == len(data)
    assert '"Kra""kow, ""Old Town""\nline two"' in data.decode()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert row["id"] == 'c,7"' and row["City"] == tricky and row["FirstName"] == "=1+2"


async def test_csv_follows_range_and_maximum_order(db) -> None:
    segment = await make(db, "Three", "Age > 0", maximum=3)
    rows = list(csv.reader(io.StringIO(await text_of(export_csv(db, segment.id, now=utc_now(), actor=ACTOR)))))
    assert len(rows) == 4
    first_three = [doc["id"] async for doc in db[CONTACTS].find({"database": "main"})
                   .sort([("bucket", 1), ("_id", 1)]).limit(3)]
    assert [row[0] for row in rows[1:]] == first_three


async def test_export_is_refused_for_a_segment_in_the_bin(db) -> None:
    segment = await make(db, "Gone")
    await delete_segment(db, segment.id, actor=ACTOR)
    with pytest.raises(StoreInputError, match="is in the bin"):
        await text_of(export_csv(db, segment.id, now=utc_now(), actor=ACTOR))


async def test_event_history_as_json_lines(db) -> None:
    await seed_events(db)
    segment = await make(db, "Krakow", 'City equals "Krakow"')
    lines = (await text_of(export_events(db, segment.id, now=NOW, actor=ACTOR))).splitlines()
    events = [orjson.loads(line) for line in lines]
    assert [(e["contact"], e["type"]) for e in events] == [
        ("c1", "MailClick"), ("c1", "PageVisit"), ("c3", "MailOpen")]
    click, visit, _ = events
    assert click == {"id": "e1", "contact": "c1", "type": "MailClick",
                     "time": "2024-05-20T10:00:00Z",
                     "attributes": {"campaign": 'spring, "big"', "url": "https://x/1"}}
    assert len(visit["id"]) == 24  # no integrator id: the stored ObjectId
    assert visit["attributes"]["sent_at"] == "2024-05-01T00:00:00Z"
    assert [run.purpose for run in await list_runs(db, segment.id)] == ["events-export"]


async def test_copy_into_another_database(db) -> None:
    await ensure_database(db, "shop")
    await define_field(db, "shop", "Loyalty", FieldType.NUMBER)
    await upsert_contacts(db, "shop", [{"id": "c1", "fields": {"Loyalty": 7, "FirstName": "Old"}}])
    segment = await make(db, "Krakow", 'City equals "Krakow"')
    report = await copy_to_database(db, segment.id, "shop", now=NOW, actor=ACTOR)
    assert (report.members, report.changed, report.rejected) == (3, 3, [])
    shop = {field.name: field.type for field in await load_schema(db, "shop")}
    assert shop["City"] is FieldType.TEXT and shop["Age"] is FieldType.NUMBER
    assert shop["Signup"] is FieldType.DATE and shop["Newsletter"] is FieldType.BOOLEAN
    c1 = await get_contact(db, "shop", "c1")
    assert c1["fields"]["City"] == "Krakow" and c1["fields"]["Loyalty"] == 7  # updated
    assert c1["fields"]["FirstName"] == "Old" and c1["lists"] == ["VIP"]
    assert c1["fields"]["Signup"] == dt.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (await db[CONTACTS].find_one({"_id": "shop:c1"}))["folded"]["City"] == "krakow"
    assert await get_contact(db, "shop", "c5") is not None
    assert await get_contact(db, "shop", "c2") is None
    assert [run.purpose for run in await list_runs(db, segment.id)] == ["copy-to-database"]


async def test_copy_is_refused_before_writing_when_a_field_type_differs(db) -> None:
    await ensure_database(db, "shop")
    await define_field(db, "shop", "Age", FieldType.TEXT)
    segment = await make(db, "All")
    with pytest.raises(StoreInputError) as refused:
        await copy_to_database(db, segment.id, "shop", now=utc_now(), actor=ACTOR)
    assert "field Age is number in profile database main but Age is text in shop" in \
        str(refused.value)
    assert await db[CONTACTS].count_documents({"database": "shop"}) == 0
    assert "City" not in {field.name for field in await load_schema(db, "shop")}
    with pytest.raises(StoreInputError, match="no profile database nowhere"):
        await copy_to_database(db, segment.id, "nowhere", now=utc_now(), actor=ACTOR)
    with pytest.raises(StoreInputError, match="already belongs"):
        await copy_to_database(db, segment.id, "main", now=utc_now(), actor=ACTOR)


async def test_bulk_update_sets_a_typed_value_and_folded_text(db, monkeypatch) -> None:
    monkeypatch.setattr(members_module, "CHUNK_SIZE", 2)
    segment = await make(db, "Krakow", 'City equals "krakow"')
    report = await bulk_update_field(db, segment.id, "City", "KRAKÓW", now=utc_now(), actor=ACTOR)
    assert (report.members, report.changed) == (3, 3)
    raw = await db[CONTACTS].find_one({"_id": "main:c3"})
    assert raw["fields"]["City"] == "KRAKÓW" and raw["folded"]["City"] == "kraków"
    assert (await get_contact(db, "main", "c2"))["fields"]["City"] == "Warsaw"
    adults = await make(db, "Adults", "Age >= 30")
    moved = await bulk_update_field(db, adults.id, "Age", "99", now=utc_now(), actor=ACTOR)
    assert (moved.members, moved.changed) == (4, 4)  # membership kept; each one once
    again = await bulk_update_field(db, adults.id, "Age", 99, now=utc_now(), actor=ACTOR)
    assert (again.members, again.changed) == (4, 0)  # already 99: nothing written
    assert (await get_contact(db, "main", "c5"))["fields"]["Age"] == 99
    cleared = await bulk_update_field(db, adults.id, "Signup", None, now=utc_now(), actor=ACTOR)
    assert cleared.changed == 1 and "Signup" not in (await get_contact(db, "main", "c1"))["fields"]
    await bulk_update_field(db, adults.id, "Newsletter", "yes", now=utc_now(), actor=ACTOR)
    assert (await get_contact(db, "main", "c4"))["fields"]["Newsletter"] is True
    assert [run.purpose for run in await list_runs(db, adults.id)] == ["bulk-update"] * 4
    young = await make(db, "Young", "Age < 30")  # the update empties the segment
    emptied = await bulk_update_field(db, young.id, "Age", 50, now=utc_now(), actor=ACTOR)
    assert (emptied.members, emptied.changed) == (2, 2)
    assert (await get_contact(db, "main", "c6"))["fields"]["Age"] == 50


async def test_bulk_update_refuses_bad_values_before_writing(db) -> None:
    segment = await make(db, "All")
    before = [doc async for doc in db[CONTACTS].find({}, {"fields": 1, "folded": 1})]
    with pytest.raises(StoreInputError, match=r"field Age \(number\): 'old' is not a number"):
        await bulk_update_field(db, segment.id, "Age", "old", now=utc_now(), actor=ACTOR)
    with pytest.raises(StoreInputError, match="is not an ISO 8601 date"):
        await bulk_update_field(db, segment.id, "Signup", "yesterday", now=utc_now(), actor=ACTOR)
    with pytest.raises(StoreInputError, match="unknown field Cty.*did you mean City"):
        await bulk_update_field(db, segment.id, "Cty", "x", now=utc_now(), actor=ACTOR)
    with pytest.raises(StoreInputError, match="CreateTime cannot be removed"):
        await bulk_update_field(db, segment.id, "CreateTime", None, now=utc_now(), actor=ACTOR)
    after = [doc async for doc in db[CONTACTS].find({}, {"fields": 1, "folded": 1})]
    assert after == before
    assert await list_runs(db, segment.id) == []
