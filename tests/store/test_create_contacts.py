"""Events for unknown contacts: rejected by default; with create_contacts the contact is
made with only its id (and CreateTime), in the API and in the importer."""

from __future__ import annotations

import json

import pytest

from store.contacts import get_contact, upsert_contacts
from store.events import track_events
from store.fields import ensure_database
from store.importers import import_events

pytestmark = pytest.mark.asyncio

EVENTS = [{"contact": "known", "type": "MailOpen", "time": "2024-05-01T10:00:00Z"},
          {"contact": "stranger", "type": "MailOpen", "time": "2024-05-01T10:00:00Z"},
          {"contact": "stranger", "type": "MailClick", "time": "2024-05-02T10:00:00Z"},
          {"contact": "", "type": "MailOpen", "time": "2024-05-01T10:00:00Z"}]


async def test_unknown_contacts_are_rejected_unless_created(store) -> None:
    await ensure_database(store.db, "main")
    await upsert_contacts(store.db, "main", [{"id": "known"}])
    refused = await track_events(store.db, "main", EVENTS)
    assert (refused.stored, refused.contacts_created) == (1, 0)
    assert [error.message for error in refused.rejected] == [
        "no contact stranger in database main", "no contact stranger in database main",
        "contact (a contact id) must be a non-empty text, not ''"]
    assert await get_contact(store.db, "main", "stranger") is None

    made = await track_events(store.db, "main", EVENTS[1:], create_contacts=True)
    assert (made.stored, made.contacts_created, len(made.rejected)) == (2, 1, 1)
    contact = await get_contact(store.db, "main", "stranger")
    assert list(contact["fields"]) == ["CreateTime"] and contact["lists"] == []
    document = await store.db.contacts.find_one({"_id": "main:stranger"})
    assert document["events"]["MailOpen"]["count"] == 1  # the summary counts them


async def test_the_importer_creates_contacts_on_request(store, tmp_path) -> None:
    await ensure_database(store.db, "main")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(event) for event in EVENTS[1:3]) + "\n")
    refused = await import_events(store, "main", path)
    assert (refused.stored, len(refused.rejected)) == (0, 2)
    report = await import_events(store, "main", path, create_contacts=True)
    assert (report.stored, report.contacts_created, report.rejected) == (2, 1, [])
