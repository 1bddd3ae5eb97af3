"""Shared by the store-versus-reference tests: a schema, value pools on every edge, loading
through the store's own ingestion, and the same rows typed for the reference evaluator.

Data sets are drawn to hit the edges: missing fields, nulls, empty text, case variants,
events exactly on window boundaries and after `now`, duplicate event ids and shuffled
arrival. They go in through the store's own ingestion (upsert_contacts, track_events);
the oracle reads the same rows typed by the shared value rules, with the first copy of a
repeated event id winning, as the store promises.
"""

from __future__ import annotations

import datetime as dt

from dsl.schema import FieldType
from dsl.values import coerce_field, normalize_attributes, parse_iso_datetime
from store.consent import consent_from_event
from store.contacts import upsert_contacts
from store.events import track_events
from store.fields import define_field, ensure_database
from tests.dsl.strategies import NUMBERS, STRINGS

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 8, 12, 0, tzinfo=UTC)
FIELDS = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean",
          "Email": "text", "MobilePhone": "text"}
ATTRIBUTES = {"price": "number", "category": "text", "sent": "date", "gift": "boolean"}
EVENT_TYPES = ["MailClick", "product_purchased"]
LISTS = ["VIP", "Gold"]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# Times on the edges of the windows and days the expressions use (see strategies.DATES).
TIMES = [iso(moment) for moment in (
    dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 1, 10, tzinfo=UTC),
    dt.datetime(2024, 5, 1, 23, 59, 59, 999_000, tzinfo=UTC), dt.datetime(2024, 5, 2, tzinfo=UTC),
    dt.datetime(2024, 4, 30, 23, 59, 59, 999_000, tzinfo=UTC), NOW,
    NOW - dt.timedelta(days=7), NOW - dt.timedelta(days=30), NOW - dt.timedelta(hours=12),
    NOW - dt.timedelta(days=30, milliseconds=1), NOW + dt.timedelta(milliseconds=1),
    NOW + dt.timedelta(days=3), dt.datetime(2024, 4, 8, 12, tzinfo=UTC),
    dt.datetime(2024, 5, 8, tzinfo=UTC), dt.datetime(2023, 1, 1, tzinfo=UTC),
)]
FIELD_VALUES = {
    # The expression pools of tests/dsl/strategies.py, plus near misses and no values.
    "City": [*STRINGS, "kraków", "Krakowow", " Krakow", "KRAKOW\n", None],
    "Age": [*NUMBERS, 4, 31, None],
    "Signup": TIMES + [None],
    "Newsletter": [True, False, None],
}
ATTRIBUTE_VALUES = {
    "price": [0, 1, 5, 10, 30, 2.5, "5", True, None],
    "category": ["Krakow", "krak", "WARSAW", "ow", "", 5],
    "sent": TIMES[:6] + ["not a date"],
    "gift": [True, False, "true"],
}

async def load(store, database, contacts, lists, events, consents=()):
    await ensure_database(store.db, database)
    for name, type_ in FIELDS.items():
        await define_field(store.db, database, name, FieldType(type_))
    rows = [{"id": f"c{n}", "fields": fields, "lists": lists[n] if n < len(lists) else [],
             **({"consent": consents[n]} if n < len(consents) else {})}
            for n, fields in enumerate(contacts)]
    report = await upsert_contacts(store.db, database, rows)
    assert report.stored == len(rows) and not report.rejected
    rows = [dict(event, contact=f"c{event['contact']}") for event in events
            if event["contact"] < len(contacts)]
    for start in range(0, len(rows), 7):  # several batches, and one batch sent twice (a retry)
        await track_events(store.db, database, rows[start:start + 7])
    if rows:
        retry = await track_events(store.db, database, rows[:7])
        assert retry.stored == 0 or any("id" not in row for row in rows[:7])
    return rows


def oracle_data(contacts, lists, events, consents=()):
    """Contacts and events typed as stored; consent from the rows, then from the consent
    events in the order the store applies them (arrival order, retried copies last)."""
    typed_contacts = []
    for n, fields in enumerate(contacts):
        stored = {name: coerce_field(FieldType(FIELDS[name]), value) for name, value in fields.items()}
        consent = {channel: state for channel, state in
                   (consents[n] if n < len(consents) else {}).items() if state is not None}
        typed_contacts.append({"id": f"c{n}", "lists": lists[n] if n < len(lists) else [],
                               "fields": {k: v for k, v in stored.items() if v is not None},
                               "consent": consent, "suppression": {}})
    seen, typed_events = set(), []
    # The first of the batches, then the retry of the first batch: only ids decide.
    for event in events:
        if "id" in event and event["id"] in seen:
            continue
        seen.add(event.get("id"))
        attributes, _ = normalize_attributes(event["attributes"])
        typed_events.append({"contact": event["contact"], "type": event["type"],
                             "time": parse_iso_datetime(event["time"]), "attributes": attributes})
    retried = [event for event in events[:7] if "id" not in event]
    for event in retried:  # events without an id are not deduplicated: a retry adds them again
        attributes, _ = normalize_attributes(event["attributes"])
        typed_events.append({"contact": event["contact"], "type": event["type"],
                             "time": parse_iso_datetime(event["time"]), "attributes": attributes})
    by_id = {contact["id"]: contact for contact in typed_contacts}
    for event in typed_events:
        for path, state in consent_from_event(event).items():
            kind, channel = path.split(".")
            by_id[event["contact"]][kind][channel] = state
    return typed_contacts, typed_events


