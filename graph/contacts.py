"""Contacts: one by id, a search by expression (a Relay connection), and what hangs off a
contact (events, event summaries, list memberships) through the request's loaders."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET, Private

from graph.context import Info, value
from graph.errors import ExpectedErrors, PublicError, SegmentError
from graph.limits import DEFAULT_EVENTS, MAX_EVENTS
from graph.pagination import Connection, Edge, PageInfo, page_size
from graph.permissions import Requires, answers_empty_unless
from graph.scalars import JSON
from store import query
from store.consent import public_consent
from store.contacts import contact_key, get_contact
from store.fields import DEFAULT_DATABASE
from store.pages import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from graph.lists import StaticList

_CURSOR = "contact"
_CONTACT = {"_id": 1, "id": 1, "bucket": 1, "fields": 1, "lists": 1}


@strawberry.type(description="An event of a contact.")
class Event:
    id: str = strawberry.field(description="The integrator's event id, or the stored id of an "
                                           "event sent without one.")
    type: str
    time: dt.datetime
    attributes: JSON


@strawberry.type(description="How many events of a type a contact has, and the first and last.")
class EventSummary:
    type: str
    count: int
    first: dt.datetime | None
    last: dt.datetime | None


def event_from_document(document: dict, database: str) -> Event:
    raw = document["_id"]
    prefix = f"{database}:"
    event_id = raw[len(prefix):] if isinstance(raw, str) and raw.startswith(prefix) else str(raw)
    return Event(id=event_id, type=document["type"], time=document["time"],
                 attributes=document.get("attributes", {}))


@strawberry.type(description="A contact: its id, typed field values, static lists and events.")
class Contact:
    id: strawberry.ID
    database: str
    fields: JSON | None = strawberry.field(description="Field name to value; dates as ISO 8601.")
    lists: list[str] = strawberry.field(description="The names of its static lists.")

    @strawberry.field(description=f"Its newest events first (`first` at most {MAX_EVENTS}), "
                                  "optionally of one type.")
    async def events(self, info: Info, type: str | None = UNSET,
                     first: int | None = DEFAULT_EVENTS) -> list[Event]:
        type, first = value(type), value(first, DEFAULT_EVENTS)
        if not 0 <= first <= MAX_EVENTS:
            raise PublicError(f"first must be from 0 to {MAX_EVENTS}, not {first}")
        documents = await info.context.loaders.events.load(
            (contact_key(self.database, self.id), type, first))
        return [event_from_document(document, self.database) for document in documents]

    @strawberry.field(description='Its subscription state per channel and its suppressions: '
                                  '{"email": "subscribed" | "unsubscribed" | "unknown", "sms": '
                                  '..., "push": ..., "suppressed": {"email": "hard_bounce" | '
                                  '"spam_complaint"}}.')
    async def consent(self, info: Info) -> JSON:
        document = await info.context.loaders.contacts.load(contact_key(self.database, self.id))
        return public_consent(document or {})

    @strawberry.field(description="Per event type: how many, first and last (from the "
                                  "contact's summary).")
    async def event_summary(self, info: Info) -> list[EventSummary]:
        document = await info.context.loaders.contacts.load(contact_key(self.database, self.id))
        summaries = (document or {}).get("events") or {}
        if not summaries:
            return []
        names = await info.context.loaders.type_names.load(self.database)
        return sorted((EventSummary(type=names.get(key, key), count=value.get("count", 0),
                                    first=value.get("first"), last=value.get("last"))
                       for key, value in summaries.items()), key=lambda summary: summary.type)

    @strawberry.field(description="Its static lists, as lists.")
    async def memberships(self, info: Info) -> list[Annotated[StaticList, strawberry.lazy(
            "graph.lists")]]:
        from graph.lists import StaticList

        documents = await info.context.loaders.lists.load_many(
            [f"{self.database}:{name}" for name in self.lists])
        return [StaticList.from_document(document) if document else
                StaticList(database=self.database, name=name, created_at=None)
                for name, document in zip(self.lists, documents)]


def contact_from_document(document: dict, database: str) -> Contact:
    return Contact(id=strawberry.ID(document["id"]), database=database,
                   fields=document.get("fields") or {}, lists=list(document.get("lists") or []))


@strawberry.type(description="A page of contacts. `errors` tells why a search found nothing "
                             "when its expression is wrong.")
class ContactConnection(Connection[Contact]):
    errors: list[SegmentError] = strawberry.field(default_factory=list)
    database: Private[str | None] = None
    prepared: Private[query.PreparedQuery | None] = None  # its plan as the page was read
    list_name: Private[str | None] = None

    @strawberry.field(description="How many contacts match in all (one more query).")
    async def total_count(self, info: Info) -> int:
        if self.errors or self.database is None:
            return 0
        if self.prepared is not None:
            return await info.context.heavy(query.count(self.prepared))
        if self.list_name is not None:
            from store.lists import count_list_members

            return await count_list_members(info.context.db, self.database, self.list_name)
        return 0


def _contact_cursor(document: dict) -> str:
    return encode_cursor(_CURSOR, str(document["bucket"]), document["id"])


async def search(info: Info, database: str, expression: str | None, json: object,
                 now: dt.datetime, range_from: float, range_to: float,
                 maximum: int | None, first: int, after: str | None) -> ContactConnection:
    """A page of what the expression selects (the caller checks the key sees `database`;
    its field's ExpectedErrors answers a wrong expression in `errors`)."""
    first = page_size(first)
    prepared = await info.context.heavy(query.prepare(
        info.context.db, database, expression=expression, json=json, now=now,
        range_from=range_from, range_to=range_to, maximum=maximum))
    position = None
    if after is not None:
        try:
            bucket, contact_id = decode_cursor(_CURSOR, after, 2)
            position = (int(bucket), contact_key(database, contact_id))
        except Exception as error:
            raise PublicError(f"{after[:40]!r} is not a cursor of this list") from error
    documents = await info.context.heavy(
        query.page(prepared, after=position, limit=first + 1, projection=_CONTACT))
    has_next = len(documents) > first
    documents = documents[:first]
    cursors = [_contact_cursor(document) for document in documents]
    return ContactConnection(
        edges=[Edge(node=contact_from_document(document, database), cursor=cursor)
               for document, cursor in zip(documents, cursors)],
        page_info=PageInfo(has_next_page=has_next, end_cursor=cursors[-1] if cursors else None,
                           has_previous_page=after is not None,
                           start_cursor=cursors[0] if cursors else None),
        database=database, prepared=prepared)


@strawberry.type
class ContactQueries:
    @strawberry.field(description="A contact by id (null when there is none, or its database "
                                  "is not open to this API key).",
                      extensions=[answers_empty_unless(database="database"), ExpectedErrors()])
    async def contact(self, info: Info, *, database: str | None = DEFAULT_DATABASE,
                      id: strawberry.ID) -> Contact | None:
        database = value(database, DEFAULT_DATABASE)
        document = await get_contact(info.context.db, database, str(id))
        return contact_from_document(document, database) if document else None

    @strawberry.field(description="The contacts an expression (text or JSON form) selects, a "
                                  "page at a time, in the maximum's order (bucket, then id).",
                      extensions=[Requires(database="database"), ExpectedErrors()])
    async def search_contacts(self, info: Info, database: str | None = DEFAULT_DATABASE,
                              expression: str | None = UNSET, json: JSON | None = UNSET,
                              now: dt.datetime | None = UNSET, range_from: float | None = 0,
                              range_to: float | None = 100, maximum: int | None = UNSET,
                              first: int | None = 50,
                              after: str | None = UNSET) -> ContactConnection:
        return await search(info, value(database, DEFAULT_DATABASE), value(expression),
                            value(json), value(now, info.context.now), value(range_from, 0),
                            value(range_to, 100), value(maximum), value(first, 50),
                            value(after))
