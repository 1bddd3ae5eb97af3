"""One contact against one live segment: read only that contact (its document with its
event summaries, and its own events of the types a window, `where` or count needs), then
the reference evaluator (dsl/evaluator.py, the pipeline's meaning, proven equal by the
differential tests) and the next instant the answer could change (dsl/next_change.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from dsl.dependencies import summary_events
from dsl.evaluator import evaluate
from dsl.next_change import next_change
from dsl.values import summary_key
from store.collections import CONTACTS, EVENTS
from store.live.registry import LiveSegment
from store.lookups import in_chunks

# Evaluating more pairs than this goes to a worker thread (CPU off the event loop).
_INLINE_PAIRS = 200


@dataclass
class ContactData:
    key: str  # the contact's `_id`
    id: str
    bucket: int
    document: dict  # {"id", "fields", "lists"}
    events: list[dict]  # {"type", "time", "attributes"}


@dataclass(frozen=True)
class Outcome:
    segment: str
    key: str
    contact: str
    bucket: int
    qualifies: bool  # matches the expression within the range (before a maximum)
    next_at: dt.datetime | None
    at: dt.datetime  # the instant evaluated


def _needs(segments: list[LiveSegment]) -> tuple[set[str], set[str], set[str]]:
    """(event types read, those whose events themselves are needed, those read through
    `in last` windows)."""
    types: set[str] = set()
    in_full: set[str] = set()
    in_last: set[str] = set()
    for segment in segments:
        types |= segment.reads.event_types
        in_full |= segment.reads.event_types_in_full
        in_last |= segment.reads.event_types_in_last
    return types, in_full, in_last


def _contact_data(document: dict, types: set[str], in_full: set[str], in_last: set[str],
                  now: dt.datetime | None) -> tuple[ContactData, set[str]]:
    """The contact with the events its summaries stand in for, and the event types whose
    events must be read (the summaries cannot answer for them)."""
    summaries = document.get("events") or {}
    full = set(in_full)
    events = []
    for event_type in types - in_full:
        summary = summaries.get(summary_key(event_type)) or {}
        if (event_type in in_last and summary.get("count")
                and (now is None or summary["last"] > now)):
            full.add(event_type)  # an event later than `now`: the summary cannot say
            continue
        events.extend(summary_events(event_type, summary))
    return ContactData(document["_id"], document["id"], document["bucket"],
                       {"id": document["id"], "fields": document.get("fields") or {},
                        "lists": document.get("lists") or []}, events), full


_PROJECTION = {"id": 1, "bucket": 1, "fields": 1, "lists": 1, "events": 1}


def _projection(segments: list[LiveSegment], types: set[str]) -> dict:
    """Only what the segments read of a contact (a smaller document reads faster)."""
    projection: dict = {"id": 1, "bucket": 1}
    for segment in segments:
        projection.update({f"fields.{name}": 1 for name in segment.reads.fields})
        if segment.reads.lists:
            projection["lists"] = 1
    projection.update({f"events.{summary_key(event_type)}": 1 for event_type in types})
    return projection
_EVENT_PROJECTION = {"_id": 0, "contact": 1, "type": 1, "time": 1, "attributes": 1}


def _attach(found: dict[str, ContactData], event: dict,
            wanted: dict[str, frozenset[str]] | None = None) -> None:
    """Add a read event to its contact; with `wanted`, only if its type is one whose events
    that contact needs (the others are answered by its summaries: adding them would count
    them twice)."""
    contact = found.get(event["contact"])
    if contact is None or (wanted is not None
                           and event["type"] not in wanted.get(event["contact"], ())):
        return
    contact.events.append({"type": event["type"], "time": event["time"],
                           "attributes": event.get("attributes") or {}})


async def read_contacts(db, keys: Iterable[str], segments: list[LiveSegment],
                        now: dt.datetime | None = None, *,
                        segments_by_key: dict[str, list[LiveSegment]] | None = None,
                        ) -> dict[str, ContactData]:
    """The contacts (by `_id`) with the events `segments` need at `now` (or any later
    instant); missing contacts are left out. Events are read only where the contact's
    summaries cannot answer (`dsl.dependencies.summary_events`). `segments_by_key`: the
    segments each contact is evaluated against, when not all of `segments` (a contact's
    events are then read only for the types its own segments need)."""
    keys = list(dict.fromkeys(keys))
    projection = _projection(segments, _needs(segments)[0])
    needs_of: dict[int, tuple[set[str], set[str], set[str]]] = {}

    def needs(key: str) -> tuple[set[str], set[str], set[str]]:
        own = segments if segments_by_key is None else segments_by_key.get(key, [])
        if id(own) not in needs_of:  # contacts share their lists of segments
            needs_of[id(own)] = _needs(own)
        return needs_of[id(own)]

    found: dict[str, ContactData] = {}
    wanted: dict[str, frozenset[str]] = {}
    for chunk in in_chunks(keys):
        async for document in db[CONTACTS].find({"_id": {"$in": chunk}}, projection):
            found[document["_id"]], full = _contact_data(document, *needs(document["_id"]), now)
            if full:
                wanted[document["_id"]] = frozenset(full)
    for chunk in in_chunks(list(wanted)):
        # `contact` first: SecantusDB looks `contact` up in the (contact, type, time) index
        # and filters the types; the types each contact does not need are dropped when
        # attaching.
        types = sorted(set().union(*(wanted[key] for key in chunk)))
        async for event in db[EVENTS].find({"contact": {"$in": chunk}, "type": {"$in": types}},
                                           _EVENT_PROJECTION):
            _attach(found, event, wanted)
    return found


async def scan_contacts(db, database: str, query: dict,
                        segments: list[LiveSegment]) -> dict[str, ContactData]:
    """The contacts of `database` matching `query`, with the events `segments` need, read
    as two scans (the contacts, then the events by type) rather than by contact: a
    rebuild reads most of a database, and one scan is much cheaper than many look-ups."""
    types, in_full, _ = _needs(segments)
    # a scan reads the events of every type the summaries may not answer for (cheaper in
    # one pass than deciding contact by contact)
    in_full = in_full | _needs(segments)[2]
    found = {document["_id"]: _contact_data(document, types, in_full, set(), None)[0]
             async for document in db[CONTACTS].find({"database": database, **query},
                                                     _PROJECTION)}
    if in_full and found:
        async for event in db[EVENTS].find({"database": database, "type": {"$in": sorted(in_full)}},
                                           _EVENT_PROJECTION):
            _attach(found, event)
    return found


def evaluate_one(segment: LiveSegment, contact: ContactData, now: dt.datetime) -> Outcome:
    if not segment.in_range(contact.bucket):
        return Outcome(segment.id, contact.key, contact.id, contact.bucket, False, None, now)
    qualifies = evaluate(segment.expression, contact.document, contact.events, now,
                         zone=segment.zone)
    later = (next_change(segment.expression, contact.document, contact.events, now,
                         zone=segment.zone)
             if segment.reads.time_dependent else None)
    return Outcome(segment.id, contact.key, contact.id, contact.bucket, qualifies, later, now)


def _evaluate_all(pairs: list[tuple[LiveSegment, ContactData, dt.datetime]]) -> list[Outcome]:
    return [evaluate_one(segment, contact, now) for segment, contact, now in pairs]


async def evaluate_pairs(pairs: list[tuple[LiveSegment, ContactData, dt.datetime]]) -> list[Outcome]:
    if len(pairs) <= _INLINE_PAIRS:
        return _evaluate_all(pairs)
    return await asyncio.to_thread(_evaluate_all, pairs)
