"""A small contact database shared by the segment, list, export and campaign tests."""

from __future__ import annotations

import datetime as dt

from dsl.schema import FieldType
from store.contacts import upsert_contacts
from store.events import track_events
from store.fields import define_field

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ACTOR = "test:alice"

FIELDS = [("City", FieldType.TEXT), ("Age", FieldType.NUMBER), ("Signup", FieldType.DATE),
          ("Newsletter", FieldType.BOOLEAN)]

CONTACTS = [
    {"id": "c1", "fields": {"Email": "anna@example.com", "MobilePhone": "+48100", "City": "Krakow",
                            "Age": 31, "Signup": "2024-05-01T10:00:00Z", "Newsletter": True},
     "lists": ["VIP"]},
    {"id": "c2", "fields": {"Email": "", "MobilePhone": "+48200", "City": "Warsaw", "Age": 45,
                            "Newsletter": False}},
    {"id": "c3", "fields": {"City": "Krakow", "Age": 22}},
    {"id": "c4", "fields": {"Email": "dan@example.com", "City": "Gdansk", "Age": 60.5},
     "lists": ["VIP"]},
    {"id": "c5", "fields": {"Email": "eve@example.com", "MobilePhone": "", "City": "krakow",
                            "Age": 38}},
    {"id": "c6", "fields": {"Email": "fred@example.com", "Age": 19}},
]


async def seed(db, database: str = "main", contacts: list[dict] | None = None) -> None:
    for name, kind in FIELDS:
        await define_field(db, database, name, kind)
    report = await upsert_contacts(db, database, contacts if contacts is not None else CONTACTS)
    assert not report.rejected, report.rejected


async def seed_events(db, database: str = "main") -> None:
    report = await track_events(db, database, [
        {"id": "e1", "contact": "c1", "type": "MailClick", "time": "2024-05-20T10:00:00Z",
         "attributes": {"campaign": "spring, \"big\"", "url": "https://x/1"}},
        {"contact": "c1", "type": "PageVisit", "time": "2024-05-21T10:00:00Z",
         "attributes": {"url": "/pricing", "sent_at": "2024-05-01"}},
        {"id": "e3", "contact": "c3", "type": "MailOpen", "time": "2024-05-22T10:00:00Z"},
        {"id": "e4", "contact": "c2", "type": "MailOpen", "time": "2024-05-22T10:00:00Z"},
    ])
    assert not report.rejected, report.rejected
