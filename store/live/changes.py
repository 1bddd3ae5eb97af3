"""Change records: `live_changes` `{_id: "<segment>:<contact>:<n>", segment, database,
contact, change: "entered"|"left", at, cause, seq, recorded_at}`.

`_id` is stable: the n-th membership flip of that contact in that segment, so recording the
same flip again (a repair after a crash) is a no-op. `seq` orders a segment's changes as
recorded (paging, webhooks and subscriptions follow it); it is allocated from the
segment's `live_segments` record in blocks.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from store.collections import LIVE_CHANGES, LIVE_SEGMENTS
from store.errors import DUPLICATE_KEY, StoreInputError
from store.live import bell
from store.pages import Page, check_first, decode_cursor, encode_cursor

_CURSOR = "segment-change"
CAUSES = ("event", "contact", "list", "time", "definition")
DEFAULT_RETENTION_DAYS = 30


def retention() -> dt.timedelta:
    """How long change records are kept (`SEGMENTQL_LIVE_RETENTION_DAYS`, default 30)."""
    text = os.environ.get("SEGMENTQL_LIVE_RETENTION_DAYS", "").strip()
    try:
        days = float(text) if text else DEFAULT_RETENTION_DAYS
    except ValueError:
        days = DEFAULT_RETENTION_DAYS
    return dt.timedelta(days=max(days, 0))


@dataclass(frozen=True)
class Change:
    id: str
    segment: str
    contact: str
    change: str  # entered | left
    at: dt.datetime
    cause: str
    seq: int

    @classmethod
    def from_document(cls, document: dict) -> Change:
        return cls(document["_id"], document["segment"], document["contact"],
                   document["change"], document["at"], document["cause"], document["seq"])

    def to_json(self) -> dict:
        return {"id": self.id, "contact": self.contact, "change": self.change,
                "at": self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "cause": self.cause}


def change_id(segment: str, contact: str, flip: int) -> str:
    return f"{segment}:{contact}:{flip}"


async def record(db, database: str, changes: list[dict], recorded_at: dt.datetime, *,
                 count_members: bool = False) -> int:
    """Store change documents (without seq), numbered per segment in list order; a change
    recorded before (same `_id`) is skipped. Returns the number newly stored.
    `count_members`: also move the segments' member counts by the entries and exits (in
    the same update as the numbering: one round trip per segment)."""
    if not changes:
        return 0
    by_segment: dict[str, list[dict]] = {}
    for change in changes:
        by_segment.setdefault(change["segment"], []).append(change)
    documents = []
    for segment, items in by_segment.items():
        increments = {"seq": len(items)}
        if count_members:
            increments["members"] = sum(1 if item["change"] == "entered" else -1
                                        for item in items)
        counter = await db[LIVE_SEGMENTS].find_one_and_update(
            {"_id": segment}, {"$inc": increments,
                               "$setOnInsert": {"database": database}},
            upsert=True, return_document=ReturnDocument.AFTER, projection={"seq": 1})
        first = counter["seq"] - len(items) + 1
        for offset, item in enumerate(items):
            documents.append({**item, "database": database, "seq": first + offset,
                              "recorded_at": recorded_at})
    stored = len(documents)
    try:
        await db[LIVE_CHANGES].insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors"):
            raise
        for write_error in error.details.get("writeErrors", []):
            if write_error.get("code") != DUPLICATE_KEY:
                raise
            stored -= 1
    if stored:
        bell.ring()
    return stored


async def list_changes(db, segment_id: str, *, since: dt.datetime | None = None,
                       first: int = 50, after: str | None = None) -> Page[Change]:
    """A page of a segment's changes, oldest (first recorded) first; `since`: only those
    at or after that instant."""
    first = check_first(first)
    query: dict = {"segment": segment_id}
    if after is not None:
        (seq,) = decode_cursor(_CURSOR, after, 1)
        if not seq.isdigit():
            raise StoreInputError(f"{after!r} is not a cursor of this list")
        query["seq"] = {"$gt": int(seq)}
    if since is not None:
        query["at"] = {"$gte": since}
    cursor = db[LIVE_CHANGES].find(query).sort("seq", ASCENDING).limit(first + 1)
    items = [Change.from_document(document) async for document in cursor]
    has_next = len(items) > first
    items = items[:first]
    return Page(items=items, cursors=[encode_cursor(_CURSOR, str(item.seq)) for item in items],
                has_next=has_next)


async def changes_after(db, segment_id: str, seq: int, limit: int) -> list[Change]:
    """The changes recorded after `seq`, in order (delivery and subscriptions)."""
    cursor = (db[LIVE_CHANGES].find({"segment": segment_id, "seq": {"$gt": seq}})
              .sort("seq", ASCENDING).limit(limit))
    return [Change.from_document(document) async for document in cursor]


async def last_seq(db, segment_id: str) -> int:
    document = await db[LIVE_SEGMENTS].find_one({"_id": segment_id}, {"seq": 1})
    return (document or {}).get("seq", 0)


async def purge_expired(db, now: dt.datetime) -> int:
    result = await db[LIVE_CHANGES].delete_many({"recorded_at": {"$lt": now - retention()}})
    return result.deleted_count
