"""A segment created, updated or restored: its membership rebuilt from the pipeline, the
differences recorded with cause `definition`; binned: no longer maintained. Segments that
refer to it (`in segment`) change meaning with it and are rebuilt too."""

from __future__ import annotations

import logging

from pymongo import UpdateOne

from dsl.values import summary_key
from store.collections import CONTACTS, LIVE_MEMBERS, LIVE_SEGMENTS, SEGMENTS
from store.live.clock import bump_revision, read_clock, wall_now
from store.live.changes import change_id, record
from store.live.entry import qualifying_contacts
from store.live.evaluation import evaluate_pairs, scan_contacts
from store.live.membership import member_id, recount, save_states
from store.live.registry import LiveSegment, live_segments, load_segment

log = logging.getLogger(__name__)


async def segment_changed(db, segment_id: str) -> None:
    """After a segment's definition changed (created, updated, restored, binned): rebuild
    it and the segments that refer to it, or stop maintaining it when it is in the bin."""
    document = await db[SEGMENTS].find_one({"_id": segment_id})
    if document is None:
        return
    await bump_revision(db, document["database"])
    if document.get("in_bin"):
        await stop(db, segment_id)
    else:
        await rebuild(db, document)
    seen = {segment_id}
    pending = [segment_id]
    while pending:  # the referring segments, transitively
        current = pending.pop()
        async for referring in db[SEGMENTS].find({"references": current, "in_bin": False}):
            if referring["_id"] not in seen:
                seen.add(referring["_id"])
                pending.append(referring["_id"])
                await rebuild(db, referring)


async def stop(db, segment_id: str) -> None:
    await db[LIVE_SEGMENTS].update_one({"_id": segment_id},
                                       {"$set": {"built_version": None}}, upsert=True)
    await db[LIVE_MEMBERS].update_many({"segment": segment_id}, {"$set": {"next_at": None}})


async def rebuild(db, document: dict) -> int:
    """Make the segment's maintained membership its pipeline evaluation at the database's
    live time; returns the number of changes recorded."""
    segment = await load_segment(db, document)
    if segment is None:
        return 0
    database = segment.database
    clock = await read_clock(db, database)
    now = clock.now()
    qualifying = await qualifying_contacts(db, document, now=now)
    if segment.maximum is not None:
        ordered = sorted(qualifying, key=lambda contact: (qualifying[contact], contact))
        members = set(ordered[:segment.maximum])
    else:
        members = set(qualifying)
    next_at = await _next_changes(db, segment, now) if segment.reads.time_dependent else {}
    existing = {document["contact"]: document async for document in
                db[LIVE_MEMBERS].find({"segment": segment.id})}
    changes, states = [], []
    for contact in set(existing) | set(qualifying) | set(next_at):
        old = existing.get(contact, {})
        was_member = bool(old.get("member"))
        member = contact in members
        flips = old.get("flips", 0)
        if member != was_member:
            flips += 1
            changes.append({"_id": change_id(segment.id, contact, flips), "segment": segment.id,
                            "contact": contact, "change": "entered" if member else "left",
                            "at": now, "cause": "definition"})
        if not old and not (contact in qualifying or next_at.get(contact)):
            continue
        key = f"{database}:{contact}"
        bucket = qualifying.get(contact, old.get("bucket"))
        states.append((member_id(segment.id, key), {
            "segment": segment.id, "database": database, "contact": contact,
            "bucket": bucket, "qualifies": contact in qualifying, "member": member,
            "flips": flips, "next_at": next_at.get(contact)}, not old))
    recorded = await record(db, database, changes, wall_now())
    await save_states(db, states)
    await _fill_buckets(db, segment.id, database)
    await recount(db, segment.id)
    await db[LIVE_SEGMENTS].update_one(
        {"_id": segment.id}, {"$set": {"database": database,
                                       "built_version": document["version"]}}, upsert=True)
    return recorded


async def _fill_buckets(db, segment_id: str, database: str) -> None:
    """Records created for a contact only because of its next change lack the bucket."""
    missing = [document["contact"] async for document in
               db[LIVE_MEMBERS].find({"segment": segment_id, "bucket": None}, {"contact": 1})]
    for start in range(0, len(missing), 1000):
        keys = [f"{database}:{contact}" for contact in missing[start:start + 1000]]
        updates = [UpdateOne({"_id": member_id(segment_id, document["_id"])},
                             {"$set": {"bucket": document["bucket"]}})
                   async for document in db[CONTACTS].find({"_id": {"$in": keys}}, {"bucket": 1})]
        if updates:
            await db[LIVE_MEMBERS].bulk_write(updates, ordered=False)


async def _next_changes(db, segment: LiveSegment, now) -> dict:
    """{contact id: next change} for the contacts whose answer can move with time: those
    with a value in a field or an event of a type the expression reads (the others have no
    instant to compare)."""
    has_data = [{f"fields.{name}": {"$exists": True}} for name in segment.reads.fields]
    has_data += [{f"events.{summary_key(event_type)}": {"$exists": True}}
                 for event_type in segment.reads.event_types]
    if not has_data:
        return {}
    contacts = await scan_contacts(db, segment.database,
                                   {"$or": has_data,
                                    "bucket": {"$gte": segment.low, "$lt": segment.high}},
                                   [segment])
    outcomes = await evaluate_pairs([(segment, contact, now) for contact in contacts.values()])
    return {outcome.contact: outcome.next_at for outcome in outcomes
            if outcome.next_at is not None}


async def ensure_built(db, database: str | None = None) -> int:
    """Build the live segments not built at their current version (segments saved before
    live maintenance existed, or a rebuild a crash interrupted); returns how many."""
    query: dict = {"in_bin": False}
    if database is not None:
        query["database"] = database
    built = {document["_id"]: document.get("built_version") async for document in
             db[LIVE_SEGMENTS].find({} if database is None else {"database": database},
                                    {"built_version": 1})}
    count = 0
    async for document in db[SEGMENTS].find(query):
        if built.get(document["_id"]) != document["version"]:
            await bump_revision(db, document["database"])
            await rebuild(db, document)
            count += 1
    return count


async def is_built(db, segment) -> bool:
    document = await db[LIVE_SEGMENTS].find_one({"_id": segment.id}, {"built_version": 1})
    return document is not None and document.get("built_version") == segment.version


__all__ = ["ensure_built", "is_built", "live_segments", "rebuild", "segment_changed", "stop"]
