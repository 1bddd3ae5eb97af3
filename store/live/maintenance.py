"""Writes → live maintenance: the written contacts are re-evaluated against the live
segments that read what was written, at the database's live time, and the differences
recorded with the write's cause.

Crash safety: a write that changes contacts or lists stores a marker in `live_pending`
(its contacts and cause) before it writes and removes it after the maintenance; events
use the ingestion's own marker (`summary_pending`, store/events.py). Opening the store
repairs the markers a dead process left (`repair`): those contacts are re-evaluated, and
a change recorded before the crash is recorded again under the same id (a no-op)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bson import ObjectId

from store.collections import LIVE_PENDING, SUMMARY_PENDING
from store.embedded import process_alive
from store.live.clock import wall_now
from store.live.evaluation import evaluate_pairs, read_contacts
from store.live.membership import apply_outcomes, recount, stored_state
from store.live.registry import LiveSegment, live_segments
from store.lookups import in_chunks

log = logging.getLogger(__name__)
_OWNER = {"host": socket.gethostname(), "pid": os.getpid()}


@dataclass
class Touched:
    """What a write changed: `everything` for contacts that may be new (a new contact can
    enter any segment, e.g. one with no conditions or a negative one).
    `event_times_by_contact`: an ingest batch's event types per contact (by `_id`), each
    with the time of its latest new event; a contact is then re-evaluated only against the
    segments that read one of its own types and for which that event can matter (not one
    before every `in last` window the segment has over the type): the answer of any other
    cannot have changed for it but by the passing of time, which the sweep records at its
    exact instant."""

    fields: set[str] = field(default_factory=set)
    event_types: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    everything: bool = False
    event_times_by_contact: dict[str, dict[str, dt.datetime]] | None = None

    def affects(self, segment: LiveSegment) -> bool:
        return self.everything or segment.reads.touched_by(
            fields=self.fields, event_types=self.event_types, lists=self.lists)

    def segments_by_contact(self, keys: list[str], affected: list[LiveSegment],
                            now: dt.datetime) -> dict[str, list[LiveSegment]]:
        """The segments each contact is re-evaluated against (contacts given the same
        segments share one list)."""
        if self.everything or self.event_times_by_contact is None:
            return dict.fromkeys(keys, affected)
        shared: dict[tuple[int, ...], list[LiveSegment]] = {}
        chosen = {}
        for key in keys:
            latest = self.event_times_by_contact.get(key)
            picked = [n for n, segment in enumerate(affected) if latest is None
                      or segment.reads.touched_by(fields=self.fields, lists=self.lists)
                      or any(segment.reads.event_matters(event_type, time, now, segment.zone)
                             for event_type, time in latest.items())]
            chosen[key] = shared.setdefault(tuple(picked), [affected[n] for n in picked])
        return chosen


async def maintain(db, database: str, contact_keys: Iterable[str], touched: Touched,
                   cause: str) -> int:
    """Re-evaluate the contacts (by `_id`) against the live segments `touched` affects;
    returns the number of changes recorded."""
    keys = list(dict.fromkeys(contact_keys))
    if not keys:
        return 0
    clock, segments = await live_segments(db, database)
    affected = [segment for segment in segments if touched.affects(segment)]
    if not affected:
        return 0
    now = clock.now()
    segments_by_key = {key: chosen for key, chosen in
                       touched.segments_by_contact(keys, affected, now).items() if chosen}
    if not segments_by_key:
        return 0
    existing: dict[str, dict] = {}
    evaluations = []
    try:
        for chunk in in_chunks(list(segments_by_key)):
            # the contacts and their stored live state are independent reads: overlap them
            contacts, state = await asyncio.gather(
                read_contacts(db, chunk, affected, now, segments_by_key=segments_by_key),
                stored_state(db, database, (key.split(":", 1)[1] for key in chunk)))
            existing.update(state)
            # evaluated (in a worker thread) while the next chunk is read
            evaluations.append(asyncio.ensure_future(evaluate_pairs(
                [(segment, contact, now) for contact in contacts.values()
                 for segment in segments_by_key[contact.key]])))
        outcomes = [outcome for evaluation in evaluations for outcome in await evaluation]
    except BaseException:
        for evaluation in evaluations:
            evaluation.cancel()
        await asyncio.gather(*evaluations, return_exceptions=True)
        raise
    return await apply_outcomes(db, database, {segment.id: segment for segment in affected},
                                outcomes, cause, wall_now(), existing=existing)


async def has_live_segments(db, database: str) -> bool:
    return bool((await live_segments(db, database))[1])


@asynccontextmanager
async def maintained(db, database: str, contact_keys: Iterable[str], touched: Touched,
                     cause: str):
    """Around a write of contacts or list memberships: marker, write, maintenance."""
    keys = list(dict.fromkeys(contact_keys))
    if not keys or not await has_live_segments(db, database):
        yield
        return
    marker = ObjectId()
    await db[LIVE_PENDING].insert_one({
        "_id": marker, "database": database, "owner": _OWNER, "contacts": keys,
        "cause": cause})
    try:
        yield
    finally:  # a write that failed half-way may have stored part: maintain what it did
        await maintain(db, database, keys, touched, cause)
        await db[LIVE_PENDING].delete_one({"_id": marker})


def _dead(owner: dict) -> bool:
    return (owner.get("host") == _OWNER["host"] and owner.get("pid") != os.getpid()
            and not process_alive(owner["pid"]))


async def repair(db) -> int:
    """Re-evaluate what dead processes left unmaintained; returns the markers repaired."""
    repaired = 0
    databases = set()
    async for marker in db[LIVE_PENDING].find({"owner.host": _OWNER["host"]}):
        if not _dead(marker["owner"]):
            continue
        await maintain(db, marker["database"], marker["contacts"], Touched(everything=True),
                       marker["cause"])
        await db[LIVE_PENDING].delete_one({"_id": marker["_id"]})
        databases.add(marker["database"])
        repaired += 1
    for database in databases:
        await recount_database(db, database)
    return repaired


async def repair_events(db, database: str, contact_keys: list[str]) -> None:
    """Called by the event ingestion's repair for a dead batch's contacts (its summaries
    rebuilt): their live maintenance may not have run."""
    await maintain(db, database, contact_keys, Touched(everything=True), "event")
    await recount_database(db, database)


async def recount_database(db, database: str) -> None:
    _, segments = await live_segments(db, database)
    for segment in segments:
        await recount(db, segment.id)


async def events_pending(db) -> bool:
    return await db[SUMMARY_PENDING].count_documents({}) > 0
