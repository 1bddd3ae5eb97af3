"""Contacts and events in (admin): `upsertContacts` and `trackEvents`.

Each answers `WriteResult {stored duplicates rejected {index id message}}`: a row that does
not fit is rejected with its reason and the rest of the batch is stored. An event id sent
again is a duplicate, stored once (so a client retries a batch it got no answer for).
A refusal of the whole batch (a role, a database) is in `errors`.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from graph.context import Info, value
from strawberry import UNSET
from graph.errors import ExpectedErrors, Refused, RowError, SegmentError
from graph.limits import request_deadline
from graph.permissions import Requires
from graph.scalars import JSON
from store.contacts import upsert_contacts
from store.events import MAX_BATCH as MAX_EVENTS
from store.events import track_events
from store.fields import DEFAULT_DATABASE
from store.results import WriteReport

# Contacts per upsertContacts: a batch this size is written well inside the request's time
# limit on the embedded store (about 5 s a thousand on a busy 2-core machine; see
# docs/graphql.md). A bigger one would be cut off at the deadline (and say so per row).
MAX_CONTACTS = 2_000


@strawberry.input(description="A contact: its id (generated when missing), field values "
                              "(null removes a field) and lists to add it to.")
class ContactInput:
    id: strawberry.ID | None = UNSET
    fields: JSON | None = UNSET
    lists: list[str] | None = UNSET
    consent: JSON | None = strawberry.field(
        default=UNSET, description='Per channel: {"email": "subscribed" | "unsubscribed" | '
                                   'null (unknown), "sms": ..., "push": ...}.')


@strawberry.input(description="An event: `id` (optional, makes a retry safe), the contact's "
                              "id, the type, when, and flat attributes.")
class EventInput:
    id: str | None = UNSET
    contact: str
    type: str
    time: dt.datetime
    attributes: JSON | None = UNSET


@strawberry.type(description="Exactly what a batch stored: `stored` rows written, "
                             "`duplicates` already stored before, `rejected` the rest.")
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[RowError] = strawberry.field(default_factory=list)
    contacts_created: int = strawberry.field(
        default=0, description="trackEvents with createContacts: the contacts created.")
    errors: list[SegmentError] = strawberry.field(
        default_factory=list, description="Why nothing was stored, when the whole batch is refused.")


def _result(report: WriteReport) -> WriteResult:
    return WriteResult(stored=report.stored, duplicates=report.duplicates,
                       rejected=[RowError(index=row.index, id=row.id, message=row.message)
                                 for row in report.rejected],
                       contacts_created=report.contacts_created)


def _check_size(rows: list, limit: int, what: str) -> None:
    if len(rows) > limit:
        raise Refused(f"at most {limit} {what} per request, not {len(rows)}", code="INPUT")


@strawberry.type
class IngestionMutations:
    @strawberry.mutation(description="Store contacts (admin): new ids are created, existing "
                                     "ones get the given fields updated and lists added.",
                         extensions=[Requires("admin", "import contacts", database="database"),
                                     ExpectedErrors()])
    async def upsert_contacts(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                              contacts: list[ContactInput]) -> WriteResult:
        _check_size(contacts, MAX_CONTACTS, "contacts")
        rows = [{"id": None if value(row.id) is None else str(row.id),
                 "fields": value(row.fields), "lists": value(row.lists),
                 "consent": value(row.consent)}
                for row in contacts]
        return _result(await info.context.heavy(upsert_contacts(
            info.context.db, value(database, DEFAULT_DATABASE), rows,
            deadline=request_deadline(info.context.request))))

    @strawberry.mutation(description="Store events (admin); an event id seen before is a "
                                     "duplicate, stored once. An event of an unknown contact "
                                     "is rejected, unless createContacts: then the contact is "
                                     "created with only its id.",
                         extensions=[Requires("admin", "track events", database="database"),
                                     ExpectedErrors()])
    async def track_events(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                           events: list[EventInput],
                           create_contacts: bool | None = False) -> WriteResult:
        _check_size(events, MAX_EVENTS, "events")
        rows = []
        for row in events:
            item = {"contact": row.contact, "type": row.type, "time": row.time,
                    "attributes": value(row.attributes)}
            if value(row.id) is not None:
                item["id"] = row.id
            rows.append(item)
        return _result(await info.context.heavy(track_events(
            info.context.db, value(database, DEFAULT_DATABASE), rows,
            create_contacts=bool(value(create_contacts, False)))))
