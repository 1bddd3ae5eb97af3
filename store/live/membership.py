"""The maintained membership: `live_members` `{_id: "<segment>:<contact _id>", segment,
database, contact, bucket, qualifies, member, flips, next_at}` and the member count kept on
the segment's `live_segments` record.

`qualifies` is the expression within the range; `member` is the same unless the segment has
a maximum (then the first `maximum` qualifying contacts by bucket, then contact id: the
pipeline's order). `flips` counts the contact's entries and exits (the change ids);
`next_at` is the next instant its answer could change with no new data (the sweep's index).

Applying outcomes records the changes first and the new state after: a process that dies
in between leaves the old state, and re-evaluating records the same changes again under the
same ids (no-ops)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from store.collections import LIVE_MEMBERS, LIVE_SEGMENTS
from store.live.changes import change_id, record
from store.live.evaluation import Outcome
from store.live.registry import LiveSegment
from store.lookups import in_chunks
from store.errors import DUPLICATE_KEY

_CHUNK = 1000


def member_id(segment: str, key: str) -> str:
    return f"{segment}:{key}"


async def stored_state(db, database: str, contacts: Iterable[str]) -> dict[str, dict]:
    """The stored state of every pair of these contacts (by contact id), read by contact:
    one look-up per contact, whatever the number of segments."""
    found = {}
    for chunk in in_chunks(sorted(set(contacts))):
        async for document in db[LIVE_MEMBERS].find({"database": database,
                                                     "contact": {"$in": chunk}}):
            found[document["_id"]] = document
    return found


async def apply_outcomes(db, database: str, segments: dict[str, LiveSegment],
                         outcomes: Iterable[Outcome], cause: str,
                         recorded_at: dt.datetime, *,
                         existing: dict[str, dict] | None = None) -> int:
    """Store the outcomes of evaluations: the differences as changes (with `cause`), then
    the state. Returns the number of changes recorded. `existing`: the stored state of the
    outcomes' contacts (`stored_state`), when the caller read it already."""
    outcomes = list(outcomes)
    if not outcomes:
        return 0
    if existing is None:
        existing = await stored_state(db, database, (o.contact for o in outcomes))
    changes: list[dict] = []
    states: list[tuple[str, dict, bool]] = []
    capped: dict[str, dt.datetime] = {}
    for outcome in outcomes:
        doc_id = member_id(outcome.segment, outcome.key)
        old = existing.get(doc_id)
        segment = segments.get(outcome.segment)
        flips = (old or {}).get("flips", 0)
        was_member = bool((old or {}).get("member"))
        member = was_member
        if segment is not None and segment.maximum is not None:
            if bool((old or {}).get("qualifies")) != outcome.qualifies:
                capped[outcome.segment] = max(outcome.at, capped.get(outcome.segment, outcome.at))
        elif outcome.qualifies != was_member:
            member = outcome.qualifies
            flips += 1
            changes.append({"_id": change_id(outcome.segment, outcome.contact, flips),
                            "segment": outcome.segment, "contact": outcome.contact,
                            "change": "entered" if member else "left", "at": outcome.at,
                            "cause": cause})
        state = {"segment": outcome.segment, "database": database, "contact": outcome.contact,
                 "bucket": outcome.bucket, "qualifies": outcome.qualifies, "member": member,
                 "flips": flips, "next_at": outcome.next_at}
        if old is None and not (outcome.qualifies or outcome.next_at):
            continue  # nothing to remember about this contact
        if old is not None and cause != "time" and _earlier_or_same(old.get("next_at"),
                                                                    outcome.next_at):
            # A next change later than the stored one needs no write on the write path: the
            # sweep re-evaluates at the stored instant (early is harmless) and stores the
            # later one then. (The sweep itself always moves it on.)
            state["next_at"] = old.get("next_at")
        if old is not None and all(old.get(name) == value for name, value in state.items()):
            continue  # unchanged: most re-evaluations change nothing
        states.append((doc_id, state, old is None))
        existing[doc_id] = {"flips": flips, "member": member, "qualifies": outcome.qualifies}
    recorded = await record(db, database, changes, recorded_at, count_members=True)
    await save_states(db, states)
    for segment_id, at in capped.items():
        recorded += await settle_maximum(db, database, segments[segment_id], at, cause,
                                         recorded_at)
    return recorded


async def save_states(db, states: list[tuple[str, dict, bool]]) -> None:
    """Store (document id, state, whether no document was read for it) records: the new ones
    inserted (half the cost of an upsert on SecantusDB), the others updated; a new one that
    another writer created meanwhile is updated instead."""
    for start in range(0, len(states), _CHUNK):
        chunk = states[start:start + _CHUNK]
        writes = [InsertOne({"_id": doc_id, **state}) if new
                  else UpdateOne({"_id": doc_id}, {"$set": state}, upsert=True)
                  for doc_id, state, new in chunk]
        try:
            await db[LIVE_MEMBERS].bulk_write(writes, ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                raise
            again = []
            for failed in error.details.get("writeErrors", []):
                if failed.get("code") != DUPLICATE_KEY:
                    raise
                doc_id, state, _ = chunk[failed["index"]]
                again.append(UpdateOne({"_id": doc_id}, {"$set": state}, upsert=True))
            await db[LIVE_MEMBERS].bulk_write(again, ordered=False)


def _earlier_or_same(stored: dt.datetime | None, new: dt.datetime | None) -> bool:
    return stored is not None and (new is None or stored <= new)


async def settle_maximum(db, database: str, segment: LiveSegment, at: dt.datetime, cause: str,
                         recorded_at: dt.datetime) -> int:
    """Members of a segment with a maximum: the first `maximum` qualifying contacts in the
    pipeline's order (bucket, then contact `_id`, which orders like the contact id)."""
    top = {}
    if segment.maximum:
        cursor = (db[LIVE_MEMBERS].find({"segment": segment.id, "qualifies": True},
                                        {"contact": 1, "flips": 1, "member": 1})
                  .sort([("bucket", ASCENDING), ("contact", ASCENDING)]).limit(segment.maximum))
        top = {document["_id"]: document async for document in cursor}
    current = {document["_id"]: document async for document in
               db[LIVE_MEMBERS].find({"segment": segment.id, "member": True},
                                     {"contact": 1, "flips": 1, "member": 1})}
    changes, updates = [], []
    for doc_id, document in [*((k, v) for k, v in top.items() if k not in current),
                             *((k, v) for k, v in current.items() if k not in top)]:
        entering = doc_id in top
        flips = document.get("flips", 0) + 1
        changes.append({"_id": change_id(segment.id, document["contact"], flips),
                        "segment": segment.id, "contact": document["contact"],
                        "change": "entered" if entering else "left", "at": at, "cause": cause})
        updates.append(UpdateOne({"_id": doc_id}, {"$set": {"member": entering, "flips": flips}}))
    recorded = await record(db, database, changes, recorded_at)
    if updates:
        await db[LIVE_MEMBERS].bulk_write(updates, ordered=False)
    await db[LIVE_SEGMENTS].update_one({"_id": segment.id}, {"$set": {"members": len(top)}},
                                       upsert=True)
    return recorded


async def recount(db, segment_id: str) -> int:
    """Set the member count from the membership (after a repair)."""
    count = await db[LIVE_MEMBERS].count_documents({"segment": segment_id, "member": True})
    await db[LIVE_SEGMENTS].update_one({"_id": segment_id}, {"$set": {"members": count}},
                                       upsert=True)
    return count


async def member_ids(db, segment_id: str) -> list[str]:
    """The maintained members' contact ids, sorted."""
    return sorted([document["contact"] async for document in
                   db[LIVE_MEMBERS].find({"segment": segment_id, "member": True},
                                         {"contact": 1})])
