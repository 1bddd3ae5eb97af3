"""One contact against one live segment: read only that contact (its document with its
event summaries, and its own events of the types a window, `where` or count needs), then
the reference evaluator (dsl/evaluator.py, the pipeline's meaning, proven equal by the
differential tests) and the next instant the answer could change (dsl/next_change.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from dsl.evaluator import evaluate
from dsl.next_change import next_change
from dsl.values import summary_key
from store.collections import CONTACTS, EVENTS
from store.live.registry import LiveSegment

_CHUNK = 1000
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


async def read_contacts(db, keys: Iterable[str],
                        segments: list[LiveSegment]) -> dict[str, ContactData]:
    """The contacts (by `_id`) with the events `segments` need; missing contacts are left out."""
    keys = list(dict.fromkeys(keys))
    types = set().union(*(segment.reads.event_types for segment in segments)) if segments else set()
    in_full = set().union(*(segment.reads.event_types_in_full for segment in segments)) \
        if segments else set()
    found: dict[str, ContactData] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        async for document in db[CONTACTS].find(
                {"_id": {"$in": chunk}},
                {"id": 1, "bucket": 1, "fields": 1, "lists": 1, "events": 1}):
            summaries = document.get("events") or {}
            # A type read only as "occurred at all" needs no events: its summary says so.
            events = [{"type": event_type, "time": summaries[summary_key(event_type)]["first"],
                       "attributes": {}}
                      for event_type in types - in_full
                      if (summaries.get(summary_key(event_type)) or {}).get("count")]
            found[document["_id"]] = ContactData(
                document["_id"], document["id"], document["bucket"],
                {"id": document["id"], "fields": document.get("fields") or {},
                 "lists": document.get("lists") or []}, events)
        if in_full and found:
            async for event in db[EVENTS].find(
                    {"contact": {"$in": [key for key in chunk if key in found]},
                     "type": {"$in": sorted(in_full)}},
                    {"_id": 0, "contact": 1, "type": 1, "time": 1, "attributes": 1}):
                found[event["contact"]].events.append(
                    {"type": event["type"], "time": event["time"],
                     "attributes": event.get("attributes") or {}})
    return found


def evaluate_one(segment: LiveSegment, contact: ContactData, now: dt.datetime) -> Outcome:
    if not segment.in_range(contact.bucket):
        return Outcome(segment.id, contact.key, contact.id, contact.bucket, False, None, now)
    qualifies = evaluate(segment.expression, contact.document, contact.events, now)
    later = (next_change(segment.expression, contact.document, contact.events, now)
             if segment.reads.time_dependent else None)
    return Outcome(segment.id, contact.key, contact.id, contact.bucket, qualifies, later, now)


def _evaluate_all(pairs: list[tuple[LiveSegment, ContactData, dt.datetime]]) -> list[Outcome]:
    return [evaluate_one(segment, contact, now) for segment, contact, now in pairs]


async def evaluate_pairs(pairs: list[tuple[LiveSegment, ContactData, dt.datetime]]) -> list[Outcome]:
    if len(pairs) <= _INLINE_PAIRS:
        return _evaluate_all(pairs)
    return await asyncio.to_thread(_evaluate_all, pairs)
