"""File importers: JSON Lines and CSV, bad lines reported by their line number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from store import importers
from store.collections import CONTACTS, EVENTS
from store.contacts import get_contact
from store.errors import StoreInputError
from store.importers import import_contacts, import_events

pytestmark = pytest.mark.asyncio

UTC = dt.timezone.utc


async def test_contacts_from_json_lines(crm, tmp_path: Path) -> None:
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join([
        '{"id": "c1", "fields": {"Email": "anna@example.com", "City": "Krakow", "Age": 31, '
        '"Signup": "2024-05-01T10:00:00Z", "Newsletter": true}, "lists": ["VIP"]}',
        '{"id": "c2", "fields": {"Citty": "Oslo"}}',
        'not json at all',
        '',
        '["an", "array"]',
        '{"id": "c3", "fields": {"Age": "old"}}',
        '{"id": "c4"}',
    ]) + "\n", encoding="utf-8")
    report = await import_contacts(crm, "main", path, progress=False)
    assert report.stored == 2 and report.duplicates == 0
    assert [(error.index, error.id) for error in report.rejected] == [
        (2, "c2"), (3, None), (5, None), (6, "c3")]
    assert "not valid JSON" in report.rejected[1].message
    assert "array" in report.rejected[2].message
    assert "Citty" in report.rejected[0].message
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"]["Signup"] == dt.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert c1["lists"] == ["VIP"]


async def test_contacts_from_csv(crm, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "\ufeffid,Email,City,Age,Signup,Newsletter,lists\r\n"
        "c1,anna@example.com,Krakow,31,2024-05-01,yes,VIP;Newsletter\r\n"
        'c2,,"Oslo, Norway",,,,\r\n'
        "c3,,,thirty,,,\r\n"
        "c4,only,three\r\n"
        '"c5",,"two\nlines",7,,false, A ; ;B \r\n'
        "\r\n"
        ",gen@example.com,,,,,\r\n", encoding="utf-8")
    report = await import_contacts(crm, "main", path, progress=False)
    assert report.stored == 3
    assert [(error.index, error.id) for error in report.rejected] == [
        (4, "c3"), (5, None), (9, None)]
    assert "thirty" in report.rejected[0].message and "Age" in report.rejected[0].message
    assert "3 cells" in report.rejected[1].message
    assert "id is empty" in report.rejected[2].message
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"] == {"Email": "anna@example.com", "City": "Krakow", "Age": 31,
                            "Signup": dt.datetime(2024, 5, 1, tzinfo=UTC), "Newsletter": True,
                            "CreateTime": c1["fields"]["CreateTime"]}
    assert c1["lists"] == ["VIP", "Newsletter"]
    c5 = await get_contact(crm.db, "main", "c5")
    assert c5["fields"]["City"] == "two\nlines" and c5["lists"] == ["A", "B"]
    assert c5["fields"]["Newsletter"] is False
    assert await crm.db[CONTACTS].count_documents({"fields.Email": "gen@example.com"}) == 0

    # An empty cell changes nothing; a CSV import updates the given fields.
    update = tmp_path / "update.csv"
    update.write_text("id,City,Age,lists\nc1,,32,Gold\n", encoding="utf-8")
    report = await import_contacts(crm, "main", update, progress=True)
    assert report.stored == 1 and report.rejected == []
    c1 = await get_contact(crm.db, "main", "c1")
    assert c1["fields"]["City"] == "Krakow" and c1["fields"]["Age"] == 32
    assert c1["lists"] == ["VIP", "Newsletter", "Gold"]


async def test_csv_header_with_an_unknown_field_is_refused(crm, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("id,Citty\nc1,Oslo\n", encoding="utf-8")
    with pytest.raises(StoreInputError) as caught:
        await import_contacts(crm, "main", path)
    assert "Citty" in str(caught.value) and "City" in str(caught.value)
    assert await crm.db[CONTACTS].count_documents({}) == 0


async def test_the_format_is_sniffed_without_an_extension(crm, tmp_path: Path) -> None:
    csv_file = tmp_path / "contacts.txt"
    csv_file.write_text("id,City\nc1,Oslo\n", encoding="utf-8")
    assert (await import_contacts(crm, "main", csv_file)).stored == 1
    jsonl_file = tmp_path / "contacts.data"
    jsonl_file.write_text('\ufeff{"id": "c2"}\n', encoding="utf-8")
    assert (await import_contacts(crm, "main", jsonl_file)).stored == 1


async def test_large_files_go_in_batches(crm, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(importers, "BATCH_SIZE", 100)
    path = tmp_path / "many.jsonl"
    with path.open("wb") as handle:
        for number in range(1, 351):
            row = {"id": f"c{number}", "fields": {"Age": number}}
            if number in (7, 250):
                row["fields"]["Age"] = "bad"
            handle.write(orjson.dumps(row) + b"\n")
    report = await import_contacts(crm, "main", path, progress=True)
    assert report.stored == 348
    assert [(error.index, error.id) for error in report.rejected] == [(7, "c7"),
                                                                      (250, "c250")]


async def test_events_from_json_lines(crm, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text('{"id": "c1"}\n', encoding="utf-8")
    await import_contacts(crm, "main", contacts)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        '{"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-01T10:00:00Z",'
        ' "attributes": {"campaign": "spring", "url": "https://shop.example/x"}}',
        '{"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-01T10:00:00Z"}',
        '{"contact": "c9", "type": "MailClick", "time": "2024-05-01T10:00:00Z"}',
        '{"contact": "c1", "type": "MailOpen", "time": "2024-05-01T09:00:00Z"',
        '42',
        '{"contact": "c1", "type": "MailOpen", "time": "2024-05-02T09:00:00Z"}',
    ]), encoding="utf-8")
    report = await import_events(crm, "main", path, progress=True)
    assert (report.stored, report.duplicates) == (2, 1)
    assert [error.index for error in report.rejected] == [3, 4, 5]
    assert report.rejected[0].message == "no contact c9 in database main"
    assert "not valid JSON" in report.rejected[1].message
    assert "number" in report.rejected[2].message
    assert await crm.db[EVENTS].count_documents({}) == 2
    summary = (await crm.db[CONTACTS].find_one({"_id": "main:c1"}))["events"]
    assert summary["MailClick"]["count"] == 1 and summary["MailOpen"]["count"] == 1
    again = await import_events(crm, "main", path)
    assert (again.stored, again.duplicates) == (1, 2)  # only the event without an id is new


async def test_events_are_not_read_from_csv(crm, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("contact,type,time\nc1,A,2024-01-01\n", encoding="utf-8")
    with pytest.raises(StoreInputError):
        await import_events(crm, "main", path)


async def test_unknown_database(crm, tmp_path: Path) -> None:
    path = tmp_path / "contacts.jsonl"
    path.write_text('{"id": "c1"}\n', encoding="utf-8")
    with pytest.raises(StoreInputError):
        await import_contacts(crm, "nope", path)


async def test_csv_without_an_id_column_generates_ids(crm, tmp_path: Path) -> None:
    path = tmp_path / "no-ids.csv"
    path.write_text("Email,City\ngen@example.com,Oslo\n", encoding="utf-8")
    report = await import_contacts(crm, "main", path, progress=False)
    assert report.stored == 1 and report.rejected == []
    assert await crm.db[CONTACTS].count_documents({"fields.Email": "gen@example.com"}) == 1


# --- every CSV line is accounted for: stored, duplicate or rejected with its number -------

GOOD = "{id},Town{n},{n}"
BAD_LINES = {
    "unclosed quote": '{id},"Town{n},{n}',
    "not UTF-8": "{id},Town\udcff{n},{n}",
    "cells": "{id},Town{n}",
    "empty id": ",Town{n},{n}",
}


def _write_csv(path: Path, kinds: list[str]) -> tuple[set[int], set[str]]:
    """A file of one row a line after the header; the bad lines and the good ids."""
    lines, bad, good = ["id,City,Age"], set(), set()
    for n, kind in enumerate(kinds):
        row_id = f"r{n}"
        if kind == "multi-line":  # a quoted value over two lines: one good row
            lines.append(f'{row_id},"Town\n{n}",{n}')
            good.add(row_id)
            continue
        lines.append((GOOD if kind == "good" else BAD_LINES[kind]).format(id=row_id, n=n))
        if kind == "good":
            good.add(row_id)
        else:
            bad.add(len("\n".join(lines).split("\n")))
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    return bad, good


@pytest.mark.parametrize("kinds", [
    ["good", "unclosed quote", "good", "good"],
    ["unclosed quote", "good", "multi-line", "good"],
    ["good", "good", "unclosed quote"],
    ["good", "not UTF-8", "good"],
    ["unclosed quote", "unclosed quote", "good", "cells", "multi-line", "empty id", "good"],
    ["multi-line", "unclosed quote", "not UTF-8", "good"],
])
async def test_every_csv_line_is_stored_or_rejected_with_its_number(crm, tmp_path: Path,
                                                                     kinds) -> None:
    bad, good = _write_csv(tmp_path / "rows.csv", kinds)
    report = await import_contacts(crm, "main", tmp_path / "rows.csv", progress=False)
    assert {error.index for error in report.rejected} == bad
    assert report.stored == len(good)
    stored = {row["id"] async for row in crm.db[CONTACTS].find({"database": "main"}, {"id": 1})}
    assert stored == good
    assert all(error.message for error in report.rejected)


# --- text that is no Unicode: refused with its line and a clear reason --------------------

@pytest.mark.parametrize("kind", ["contacts", "events"])
async def test_a_lone_surrogate_in_json_lines_costs_its_line_only(crm, tmp_path: Path,
                                                                  kind) -> None:
    """An escape `\\ud800` (valid JSON syntax, no character), or the bytes of a surrogate
    (no UTF-8): each costs its own line, with a message that says what is wrong."""
    from store.contacts import upsert_contacts

    await upsert_contacts(crm.db, "main", [{"id": "c1"}])
    good = ('{"id": "ok", "fields": {"City": "Oslo"}}' if kind == "contacts" else
            '{"id": "e1", "contact": "c1", "type": "Visit", "time": "2024-05-01T10:00:00Z"}')
    path = tmp_path / f"{kind}.jsonl"
    path.write_bytes(b"\n".join([
        b'{"id": "a\\ud800", "contact": "c1", "type": "Visit", "time": "2024-05-01T10:00:00Z"}',
        good.encode(),
        b'{"id": "b", "fields": {"C\\udc00ity": "x"}, "contact": "c1", "type": "V"}',
        b'{"id": "\xed\xa0\x80"}',
    ]) + b"\n")
    importer = import_contacts if kind == "contacts" else import_events
    report = await importer(crm, "main", path, progress=False)
    assert report.stored == 1
    assert [error.index for error in report.rejected] == [1, 3, 4]
    for error in report.rejected[:2]:
        assert "lone UTF-16 surrogate" in error.message and "column" in error.message, error
    assert "not UTF-8" in report.rejected[2].message
