"""Events: batch tracking with id-based de-duplication, and the per-type summaries of
contacts (`events.<type key>: {count, first, last}`) kept exact under duplicate and
out-of-order arrival."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from dsl.values import (ValueRejected, normalize_attributes, parse_iso_datetime, summary_key,
                        to_millis)
from store.collections import (CONTACTS, EVENTS, MAX_EVENT_TYPE_INDEXES, contact_index_paths,
                               summary_index_path)
from store.contacts import MAX_ID_LENGTH, contact_key
from store.fields import INDEX_BUILD_TIMEOUT_S, load_schema, validate_database_name
from store.results import RowError, WriteReport

__all__ = ["RowError", "WriteReport", "event_key", "list_event_types", "rebuild_summaries",
           "track_events"]

log = logging.getLogger(__name__)

MAX_TYPE_LENGTH = 128
MAX_BATCH = 10_000
_DUPLICATE_KEY = 11000
_ROW_KEYS = frozenset({"id", "contact", "type", "time", "attributes"})
_SUMMARY_BATCH = 1000


class _Rejected(Exception):
    pass


def event_key(database: str, event_id: str) -> str:
    """The `_id` of an event sent with an id: a retry of the same id is then a no-op."""
    return f"{database}:{event_id}"


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return to_millis(value)
    if isinstance(value, str):
        moment = parse_iso_datetime(value)
        if moment is not None:
            return moment
    raise _Rejected(f"time {value!r} is not an ISO 8601 timestamp such as "
                    "2024-05-01T10:00:00Z")


def _parse_row(row: object, database: str) -> tuple[str | None, str, dict]:
    """(event id, contact id, event document without `_id`) of one row; _Rejected if bad."""
    if not isinstance(row, dict):
        raise _Rejected(f"an event is an object with contact, type and time, not "
                        f"{type(row).__name__}")
    unknown_keys = sorted(str(key) for key in row if key not in _ROW_KEYS)
    if unknown_keys:
        raise _Rejected(f"unknown key {', '.join(unknown_keys)}; an event has id, contact, "
                        "type, time and attributes")
    event_id = row.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id
                                 or len(event_id) > MAX_ID_LENGTH):
        raise _Rejected(f"an event id must be a non-empty text of at most {MAX_ID_LENGTH} "
                        f"characters, not {event_id!r}")
    contact = row.get("contact")
    if not isinstance(contact, str) or not contact or len(contact) > MAX_ID_LENGTH:
        raise _Rejected(f"contact must be a contact id (a non-empty text), not {contact!r}")
    event_type = row.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise _Rejected(f"type must be a non-empty text, not {event_type!r}")
    if len(event_type) > MAX_TYPE_LENGTH:
        raise _Rejected(f"the type {event_type[:40]!r}... is longer than {MAX_TYPE_LENGTH} "
                        "characters")
    if "time" not in row:
        raise _Rejected("time is missing (an ISO 8601 timestamp such as 2024-05-01T10:00:00Z)")
    time = _parse_time(row["time"])
    try:
        attributes, folded = normalize_attributes(row.get("attributes"))
    except ValueRejected as error:
        raise _Rejected(str(error)) from None
    return event_id, contact, {"database": database, "contact": contact_key(database, contact),
                               "type": event_type, "time": time, "attributes": attributes,
                               "folded": folded}


async def track_events(db: AsyncDatabase, database: str, rows: list[dict]) -> WriteReport:
    """Store events. An event id seen before (in this database) is a duplicate: stored
    once, counted in `duplicates`, and never counted twice in the contact's summary."""
    if len(rows) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events per call, not {len(rows)}")
    await load_schema(db, database)  # refuses an unknown profile database
    report = WriteReport()
    parsed: list[tuple[int, str | None, str, dict]] = []
    for index, row in enumerate(rows):
        try:
            event_id, contact, document = _parse_row(row, database)
        except _Rejected as error:
            raw_id = row.get("id") if isinstance(row, dict) else None
            report.rejected.append(RowError(index, raw_id if isinstance(raw_id, str) else None,
                                            str(error)))
            continue
        parsed.append((index, event_id, contact, document))

    keys = list({document["contact"] for _, _, _, document in parsed})
    existing = set()
    if keys:
        existing = {document["_id"] async for document in
                    db[CONTACTS].find({"_id": {"$in": keys}}, {"_id": 1})}
    documents: list[dict] = []
    positions: list[tuple[int, str | None]] = []
    for index, event_id, contact, document in parsed:
        if document["contact"] not in existing:
            report.rejected.append(RowError(index, event_id,
                                            f"no contact {contact} in database {database}"))
            continue
        document = {"_id": event_key(database, event_id) if event_id is not None
                    else ObjectId(), **document}
        documents.append(document)
        positions.append((index, event_id))

    failed: dict[int, dict] = {}
    if documents:
        try:
            await db[EVENTS].insert_many(documents, ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                raise
            failed = {write_error["index"]: write_error
                      for write_error in error.details.get("writeErrors", [])}
    inserted: list[dict] = []
    for position, document in enumerate(documents):
        write_error = failed.get(position)
        if write_error is None:
            inserted.append(document)
            report.stored += 1
        elif write_error.get("code") == _DUPLICATE_KEY:
            report.duplicates += 1
        else:
            index, event_id = positions[position]
            report.rejected.append(RowError(
                index, event_id, f"not stored: {write_error.get('errmsg', 'the write failed')}"))
    report.rejected.sort(key=lambda error: error.index)
    if inserted:
        await _add_to_summaries(db, inserted)
        await _ensure_type_indexes(db, {document["type"] for document in inserted})
    return report


async def _add_to_summaries(db: AsyncDatabase, inserted: list[dict]) -> None:
    """Count newly inserted events into their contacts' summaries: one update per contact,
    `$inc` the count, `$min` first and `$max` last (exact in any order of arrival)."""
    per_contact: dict[str, dict[str, list]] = {}
    for document in inserted:
        types = per_contact.setdefault(document["contact"], {})
        key = summary_key(document["type"])
        summary = types.get(key)
        if summary is None:
            types[key] = [1, document["time"], document["time"]]
        else:
            summary[0] += 1
            summary[1] = min(summary[1], document["time"])
            summary[2] = max(summary[2], document["time"])
    operations = []
    for contact, types in per_contact.items():
        increments, minimums, maximums = {}, {}, {}
        for key, (count, first, last) in types.items():
            increments[f"events.{key}.count"] = count
            minimums[f"events.{key}.first"] = first
            maximums[f"events.{key}.last"] = last
        operations.append(UpdateOne({"_id": contact}, {"$inc": increments, "$min": minimums,
                                                       "$max": maximums}))
    for start in range(0, len(operations), _SUMMARY_BATCH):
        await db[CONTACTS].bulk_write(operations[start:start + _SUMMARY_BATCH], ordered=False)


async def _ensure_type_indexes(db: AsyncDatabase, event_types: set[str]) -> None:
    """The `(database, events.<key>.last)` index of each event type, the first time it is
    seen, for at most MAX_EVENT_TYPE_INDEXES types (a type beyond is usable, unindexed)."""
    wanted = {summary_index_path(summary_key(event_type)) for event_type in event_types}
    existing = await contact_index_paths(db)
    missing = sorted(wanted - existing)
    if not missing:
        return
    count = sum(1 for path in existing if path.startswith("events."))
    for path in missing:
        if count >= MAX_EVENT_TYPE_INDEXES:
            log.warning("event summary %s is not indexed: the store keeps at most %d "
                        "event-type indexes", path, MAX_EVENT_TYPE_INDEXES)
            continue
        with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
            await db[CONTACTS].create_index([("database", ASCENDING), (path, ASCENDING)])
        count += 1


async def rebuild_summaries(db: AsyncDatabase, database: str,
                            contact_keys: Iterable[str] | None = None) -> int:
    """Recompute the event summaries from the events collection, for the contacts whose
    `_id`s (`<database>:<id>`) are given, or for every contact of the database. A repair
    tool: run it while no events are tracked for those contacts. Returns the number of
    contacts that have events."""
    validate_database_name(database)
    scope: dict = {"database": database}
    event_scope: dict = {"database": database}
    if contact_keys is not None:
        keys = list(dict.fromkeys(contact_keys))
        scope["_id"] = {"$in": keys}
        event_scope["contact"] = {"$in": keys}
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        await db[CONTACTS].update_many({**scope, "events": {"$exists": True}},
                                       {"$unset": {"events": ""}})
        pipeline = [
            {"$match": event_scope},
            {"$group": {"_id": {"contact": "$contact", "type": "$type"},
                        "count": {"$sum": 1}, "first": {"$min": "$time"},
                        "last": {"$max": "$time"}}},
            {"$group": {"_id": "$_id.contact",
                        "types": {"$push": {"type": "$_id.type", "count": "$count",
                                            "first": "$first", "last": "$last"}}}},
        ]
        contacts = 0
        operations: list[UpdateOne] = []
        async for group in await db[EVENTS].aggregate(pipeline, allowDiskUse=True):
            summaries = {summary_key(item["type"]): {"count": item["count"],
                                                     "first": item["first"],
                                                     "last": item["last"]}
                         for item in group["types"]}
            operations.append(UpdateOne({"_id": group["_id"]}, {"$set": {"events": summaries}}))
            contacts += 1
            if len(operations) >= _SUMMARY_BATCH:
                await db[CONTACTS].bulk_write(operations, ordered=False)
                operations = []
        if operations:
            await db[CONTACTS].bulk_write(operations, ordered=False)
    return contacts


async def list_event_types(db: AsyncDatabase, database: str) -> list[str]:
    """The event types seen in a profile database, sorted."""
    validate_database_name(database)
    return sorted(await db[EVENTS].distinct("type", {"database": database}))
