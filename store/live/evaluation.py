"""One contact against one live segment: read only that contact (its document with its
event summaries, and its own events of the types a window, `where` or count needs), then
the reference evaluator (dsl/evaluator.py, the pipeline's meaning, proven equal by the
differential tests) and the next instant the answer could change (dsl/next_change.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from dsl.dependencies import Reads, summary_events
from dsl.evaluator import evaluate
from dsl.next_change import next_change
from dsl.temporal import Zone
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


@dataclass(frozen=True)
class _Needs:
    """What a list of segments reads of a contact's events."""

    types: frozenset[str]  # the event types read
    in_full: frozenset[str]  # those whose events themselves may be needed
    in_last: frozenset[str]  # those read through `in last` windows
    # with them: what makes events needless (the segments' reads, each with its zone)
    reads: tuple[tuple[Reads, Zone], ...] = ()

    def events_needed(self, event_type: str, summary: dict, now: dt.datetime | None) -> bool:
        """Must a contact's events of this type be read, or can its summary answer?
        Without `reads`, every type in full is read."""
        return event_type in self.in_full and (not self.reads or any(
            reads.events_needed(event_type, summary.get("count") or 0, summary.get("last"),
                                now, zone)
            for reads, zone in self.reads))


def _needs(segments: list[LiveSegment]) -> _Needs:
    reads = tuple((segment.reads, segment.zone) for segment in segments)
    return _Needs(frozenset().union(*(item.event_types for item, _ in reads)),
                  frozenset().union(*(item.event_types_in_full for item, _ in reads)),
                  frozenset().union(*(item.event_types_in_last for item, _ in reads)), reads)


def _contact_data(document: dict, needs: _Needs,
                  now: dt.datetime | None) -> tuple[ContactData, set[str]]:
    """The contact with the events its summaries stand in for, and the event types whose
    events must be read (the summaries cannot answer for them)."""
    summaries = document.get("events") or {}
    full = set()
    events = []
    for event_type in needs.types:
        summary = summaries.get(summary_key(event_type)) or {}
        count = summary.get("count") or 0
        if needs.events_needed(event_type, summary, now) or (
                event_type in needs.in_last and count
                and (now is None or summary["last"] > now)):
            full.add(event_type)  # (or an event later than `now`: the summary cannot say)
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
    projection = _projection(segments, _needs(segments).types)
    needs_of: dict[int, _Needs] = {}

    def needs(key: str) -> _Needs:
        own = segments if segments_by_key is None else segments_by_key.get(key, [])
        if id(own) not in needs_of:  # contacts share their lists of segments
            needs_of[id(own)] = _needs(own)
        return needs_of[id(own)]

    found: dict[str, ContactData] = {}
    wanted: dict[str, frozenset[str]] = {}
    for chunk in in_chunks(keys):
        async for document in db[CONTACTS].find({"_id": {"$in": chunk}}, projection):
            found[document["_id"]], full = _contact_data(document, needs(document["_id"]), now)
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
    # a scan reads the events of every type the summaries may not answer for (cheaper in
    # one pass than deciding contact by contact)
    needs = _needs(segments)
    in_full = needs.in_full | needs.in_last
    needs = _Needs(needs.types, in_full, frozenset())
    found = {document["_id"]: _contact_data(document, needs, None)[0]
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
