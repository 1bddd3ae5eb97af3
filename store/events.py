"""Events: batch tracking with id-based de-duplication, and the per-type summaries of
contacts (`events.<type key>: {count, first, last}`) kept exact under duplicate and
out-of-order arrival."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from dsl.values import (ValueRejected, normalize_attributes, parse_iso_datetime, summary_key,
                        to_millis)
from store.collections import (CONTACTS, EVENT_TYPES, EVENTS, MAX_EVENT_TYPE_INDEXES,
                               SUMMARY_PENDING, contact_index_paths, summary_index_path)
from store.consent import consent_from_event
from store.contacts import contact_key
from store.errors import SummariesRepairingError
from store.embedded import process_alive
from store.fields import (INDEX_BUILD_TIMEOUT_S, load_schema, touch_catalog,
                          validate_database_name)
from store.results import RowError, RowRejected, WriteReport, check_id

__all__ = ["EventIngest", "RowError", "WriteReport", "event_key", "latest_event_times",
           "list_event_types", "rebuild_summaries", "repair_interrupted", "track_events"]

log = logging.getLogger(__name__)

MAX_TYPE_LENGTH = 128
MAX_BATCH = 10_000
_DUPLICATE_KEY = 11000
_ROW_KEYS = frozenset({"id", "contact", "type", "time", "attributes"})
_SUMMARY_BATCH = 1000
_OWNER = {"host": socket.gethostname(), "pid": os.getpid()}




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
    raise RowRejected(f"time {value!r} is not an ISO 8601 timestamp such as "
                    "2024-05-01T10:00:00Z")


def _parse_row(row: object, database: str) -> tuple[str | None, str, dict]:
    """(event id, contact id, event document without `_id`) of one row; RowRejected if bad."""
    if not isinstance(row, dict):
        raise RowRejected(f"an event is an object with contact, type and time, not "
                        f"{type(row).__name__}")
    unknown_keys = sorted(str(key) for key in row if key not in _ROW_KEYS)
    if unknown_keys:
        raise RowRejected(f"unknown key {', '.join(unknown_keys)}; an event has id, contact, "
                        "type, time and attributes")
    event_id = row.get("id")
    if event_id is not None:
        check_id(event_id, "an event id")
    contact = check_id(row.get("contact"), "contact (a contact id)")
    event_type = row.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise RowRejected(f"type must be a non-empty text, not {event_type!r}")
    if len(event_type) > MAX_TYPE_LENGTH:
        raise RowRejected(f"the type {event_type[:40]!r}... is longer than {MAX_TYPE_LENGTH} "
                        "characters")
    if "time" not in row:
        raise RowRejected("time is missing (an ISO 8601 timestamp such as 2024-05-01T10:00:00Z)")
    time = _parse_time(row["time"])
    try:
        attributes, folded = normalize_attributes(row.get("attributes"))
    except ValueRejected as error:
        raise RowRejected(str(error)) from None
    return event_id, contact, {"database": database, "contact": contact_key(database, contact),
                               "type": event_type, "time": time, "attributes": attributes,
                               "folded": folded}


async def track_events(db: AsyncDatabase, database: str, rows: list[dict], *,
                       create_contacts: bool = False) -> WriteReport:
    """Store events. An event id seen before (in this database) is a duplicate: stored
    once, counted in `duplicates`, and never counted twice in the contact's summary.
    An event of an unknown contact is rejected, unless `create_contacts`: then the contact
    is created with only its id (and CreateTime), counted in `contacts_created`."""
    ingest = EventIngest(db, database, create_contacts=create_contacts)
    report = await ingest.add(rows)
    await ingest.apply()
    return report


class EventIngest:
    """Stores events batch by batch and applies their summaries in one pass per contact.

    `add` inserts a batch and adds the newly stored events (never duplicates) to summary
    changes kept in memory; `apply` writes them: one `$inc`/`$min`/`$max` update per
    contact, whatever the number of its events, exact in any order of arrival. Updating a
    contact is the expensive write, so an import applies once at the end (or when
    `pending_contacts` grows large) rather than once per batch.

    Before a batch is inserted a marker naming its contacts is stored in `summary_pending`
    and it is removed after `apply`: a process that dies in between leaves the marker, and
    `repair_interrupted` recomputes those contacts' summaries from their events."""

    def __init__(self, db: AsyncDatabase, database: str, *,
                 create_contacts: bool = False) -> None:
        self.db = db
        self.database = database
        self.create_contacts = create_contacts
        self._checked = False
        self._contacts: dict[str, dict[str, list]] = {}  # contact -> key -> [count, first, last]
        self._types: dict[str, list] = {}  # event type -> [count, first, last]
        self._consent: dict[str, dict[str, str]] = {}  # contact -> consent paths set
        self._markers: list[ObjectId] = []
        # Contacts already seen to exist: an import names the same contacts batch after
        # batch, and checking existence costs a look-up per contact.
        self._known: set[str] = set()

    @property
    def pending_contacts(self) -> int:
        return len(self._contacts)

    async def add(self, rows: list[dict]) -> WriteReport:
        if len(rows) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} events per call, not {len(rows)}")
        if not self._checked:
            await load_schema(self.db, self.database)  # refuses an unknown profile database
            self._checked = True
        report = WriteReport()
        documents, positions = await self._valid_documents(rows, report)
        if documents:
            marker = ObjectId()
            await self.db[SUMMARY_PENDING].insert_one(
                {"_id": marker, "database": self.database, "owner": _OWNER,
                 "contacts": sorted({document["contact"] for document in documents})})
            self._markers.append(marker)
            for document in await self._insert(documents, positions, report):
                self._count(document)
        report.rejected.sort(key=lambda error: error.index)
        return report

    async def apply(self) -> None:
        """Write the pending summary changes, then drop the markers they covered."""
        operations = []
        for contact, types in self._contacts.items():
            update = _summary_update("events.", types)
            if contact in self._consent:
                update["$set"] = self._consent[contact]
            operations.append(UpdateOne({"_id": contact}, update))
        for start in range(0, len(operations), _SUMMARY_BATCH):
            await self.db[CONTACTS].bulk_write(operations[start:start + _SUMMARY_BATCH],
                                               ordered=False)
        if self._types:
            types = list(self._types)
            result = await self.db[EVENT_TYPES].bulk_write([
                UpdateOne({"_id": f"{self.database}:{event_type}"},
                          {**_summary_update("", {"": self._types[event_type]}),
                           "$setOnInsert": {"database": self.database, "type": event_type}},
                          upsert=True)
                for event_type in types], ordered=False)
            if result.upserted_ids:  # a type seen for the first time: give it its index
                await touch_catalog(self.db, self.database)
                await ensure_summary_indexes(self.db, {types[i] for i in result.upserted_ids})
        if self._contacts:
            await _live_after_events(self.db, self.database, self._contacts,
                                     set(self._types))
        if self._markers:
            await self.db[SUMMARY_PENDING].delete_many({"_id": {"$in": self._markers}})
        self._contacts, self._types, self._markers, self._consent = {}, {}, [], {}

    async def _valid_documents(self, rows: list[dict], report: WriteReport):
        parsed: list[tuple[int, str | None, str, dict]] = []
        for index, row in enumerate(rows):
            try:
                event_id, contact, document = _parse_row(row, self.database)
            except RowRejected as error:
                raw_id = row.get("id") if isinstance(row, dict) else None
                report.rejected.append(RowError(index, raw_id if isinstance(raw_id, str) else None,
                                                str(error)))
                continue
            parsed.append((index, event_id, contact, document))
        keys = list({document["contact"] for _, _, _, document in parsed} - self._known)
        if keys:
            self._known.update([document["_id"] async for document in
                                self.db[CONTACTS].find({"_id": {"$in": keys}}, {"_id": 1})])
        if self.create_contacts:
            await self._create_missing(parsed, report)
        existing = self._known
        documents: list[dict] = []
        positions: list[tuple[int, str | None]] = []
        for index, event_id, contact, document in parsed:
            if document["contact"] not in existing:
                report.rejected.append(RowError(
                    index, event_id, f"no contact {contact} in database {self.database}"))
                continue
            documents.append({"_id": event_key(self.database, event_id) if event_id is not None
                              else ObjectId(), **document})
            positions.append((index, event_id))
        return documents, positions

    async def _create_missing(self, parsed, report: WriteReport) -> None:
        """Create the contacts the valid rows name and the database lacks (id only)."""
        from store.contacts import upsert_contacts  # the one way contacts are created

        missing = list(dict.fromkeys(contact for _, _, contact, document in parsed
                                     if document["contact"] not in self._known))
        if not missing:
            return
        created = await upsert_contacts(self.db, self.database,
                                        [{"id": contact} for contact in missing])
        refused = {error.id for error in created.rejected}
        made = [contact for contact in missing if contact not in refused]
        report.contacts_created += created.stored  # an id created meanwhile is stored too
        self._known.update(contact_key(self.database, contact) for contact in made)

    async def _insert(self, documents: list[dict], positions, report: WriteReport) -> list[dict]:
        """Insert; return the documents newly stored (a repeated event id is a duplicate)."""
        failed: dict[int, dict] = {}
        try:
            await self.db[EVENTS].insert_many(documents, ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                raise
            failed = {write_error["index"]: write_error
                      for write_error in error.details.get("writeErrors", [])}
        inserted = []
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
        return inserted

    def _count(self, document: dict) -> None:
        contact = self._contacts.setdefault(document["contact"], {})
        _merge(contact, summary_key(document["type"]), document["time"])
        _merge(self._types, document["type"], document["time"])
        if consent := consent_from_event(document):
            self._consent.setdefault(document["contact"], {}).update(consent)


async def _live_after_events(db: AsyncDatabase, database: str,
                             contacts: dict[str, dict], event_types: set[str]) -> None:
    """Live maintenance of the contacts whose events were applied (one call per applied
    batch; the summary markers still stand, so a crash here is repaired on open).
    `contacts`: {contact _id: {summary key: ...}}, each contact's own event types."""
    from store.live.maintenance import Touched, maintain  # the live modules import this one

    type_of = {summary_key(event_type): event_type for event_type in event_types}
    by_contact = {contact: {type_of[key] for key in keys if key in type_of}
                  for contact, keys in contacts.items()}
    await maintain(db, database, list(contacts), Touched(
        event_types=event_types, event_types_by_contact=by_contact), "event")


def _merge(changes: dict[str, list | None], key: str, time: dt.datetime) -> None:
    change = changes.get(key)
    if change is None:
        changes[key] = [1, time, time]
    else:
        change[0] += 1
        change[1] = min(change[1], time)
        change[2] = max(change[2], time)


def _summary_update(prefix: str, changes: dict[str, list]) -> dict:
    """`$inc` counts, `$min` first and `$max` last: exact whatever the order of arrival."""
    increments, minimums, maximums = {}, {}, {}
    for key, (count, first, last) in changes.items():
        path = f"{prefix}{key}." if key else ""
        increments[f"{path}count"] = count
        minimums[f"{path}first"] = first
        maximums[f"{path}last"] = last
    return {"$inc": increments, "$min": minimums, "$max": maximums}


async def ensure_summary_indexes(db: AsyncDatabase, event_types: set[str]) -> None:
    """The `(database, events.<key>.last)` index of each event type, the first time it is
    seen, for at most MAX_EVENT_TYPE_INDEXES types (a type beyond is usable, unindexed)."""
    wanted = {summary_index_path(summary_key(event_type)) for event_type in event_types}
    existing = await contact_index_paths(db)
    missing = sorted(wanted - existing)
    if not missing:
        return
    room = MAX_EVENT_TYPE_INDEXES - sum(1 for path in existing if path.startswith("events."))
    indexed, unindexed = missing[:max(0, room)], missing[max(0, room):]
    for path in indexed:
        with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
            await db[CONTACTS].create_index([("database", ASCENDING), (path, ASCENDING)])
    if unindexed:  # one line, not one per type: a store open checks every known type
        shown = ", ".join(unindexed[:5]) + (", ..." if len(unindexed) > 5 else "")
        log.warning("%d event summaries are not indexed (the store keeps at most %d "
                    "event-type indexes): %s", len(unindexed), MAX_EVENT_TYPE_INDEXES, shown)


async def rebuild_summaries(db: AsyncDatabase, database: str,
                            contact_keys: Iterable[str] | None = None) -> int:
    """Recompute the event summaries from the events collection, for the contacts whose
    `_id`s (`<database>:<id>`) are given, or for every contact of the database. A repair
    tool: run it while no events are tracked for those contacts. Returns the number of
    contacts that have events.

    For given contacts (what `repair_interrupted` does) it is safe to interrupt at any
    point and to run again: each contact's summary is replaced whole by one write (never
    removed first and rebuilt after), so a contact always has a complete summary, the old
    or the new one; a contact without events left is cleared last."""
    validate_database_name(database)
    scope: dict = {"database": database}
    event_scope: dict = {"database": database}
    if contact_keys is not None:
        keys = list(dict.fromkeys(contact_keys))
        scope["_id"] = {"$in": keys}
        event_scope["contact"] = {"$in": keys}
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        if contact_keys is None:  # the whole database (a manual tool): start from nothing
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
        summarised: list[str] = []
        operations: list[UpdateOne] = []
        async for group in await db[EVENTS].aggregate(pipeline, allowDiskUse=True):
            summarised.append(group["_id"])
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
        if contact_keys is not None:  # the given contacts that have no events (left)
            done = set(summarised)
            await db[CONTACTS].update_many(
                {**scope, "events": {"$exists": True},
                 "_id": {"$in": [key for key in keys if key not in done]}},
                {"$unset": {"events": ""}})
    return contacts


async def require_exact_summaries(db: AsyncDatabase, database: str) -> None:
    """Refuse (SummariesRepairingError) while summaries of `database` wait for a repair:
    markers of ingests whose process died (on this host; `repair_interrupted` repairs
    them). A live ingest's marker is normal: its summaries follow when it applies."""
    waiting = 0
    async for marker in db[SUMMARY_PENDING].find({"database": database},
                                                  {"owner": 1, "contacts": 1}):
        owner = marker.get("owner") or {}
        if owner.get("host") != _OWNER["host"] or owner.get("pid") == os.getpid() \
                or process_alive(owner.get("pid", 0)):
            continue
        waiting += len(marker.get("contacts", ()))
    if waiting:
        raise SummariesRepairingError(
            f"the event summaries of {waiting:,} contact{'s' if waiting != 1 else ''} of "
            f"profile database {database} are being repaired after an interrupted import; "
            "conditions on events are refused until that is done",
            suggestion="try again shortly: the repair resumes by itself")


async def list_event_types(db: AsyncDatabase, database: str) -> list[str]:
    """The event types seen in a profile database, sorted."""
    validate_database_name(database)
    return sorted([document["type"] async for document in
                   db[EVENT_TYPES].find({"database": database}, {"type": 1})])


async def latest_event_times(db: AsyncDatabase, database: str,
                             event_types: Iterable[str]) -> dict[str, dt.datetime | None]:
    """The time of the latest stored event of each type (None: none stored yet)."""
    wanted = sorted(set(event_types))
    latest: dict[str, dt.datetime | None] = dict.fromkeys(wanted)
    async for document in db[EVENT_TYPES].find(
            {"_id": {"$in": [f"{database}:{event_type}" for event_type in wanted]}},
            {"type": 1, "last": 1}):
        latest[document["type"]] = document["last"]
    return latest


async def repair_interrupted(db: AsyncDatabase) -> int:
    """Recompute the summaries a dead ingesting process left unapplied (its markers in
    `summary_pending`); returns the number of markers repaired. Markers of live processes,
    or of other hosts (whose processes this host cannot see), are left alone."""
    repaired = 0
    # A process that died between recording a new type and indexing it left no marker for
    # that; checking every known type here (one small read) covers it.
    await ensure_summary_indexes(db, {document["type"] async for document in
                                      db[EVENT_TYPES].find({}, {"type": 1})})
    async for marker in db[SUMMARY_PENDING].find({"owner.host": _OWNER["host"]}):
        if marker["owner"]["pid"] == os.getpid() or process_alive(marker["owner"]["pid"]):
            continue
        # resumable: an interrupted repair leaves the marker, and the next one starts over
        await rebuild_summaries(db, marker["database"], marker["contacts"])
        await _rebuild_event_types(db, marker["database"])
        from store.live.maintenance import repair_events  # the live modules import this one

        await repair_events(db, marker["database"], marker["contacts"])
        await db[SUMMARY_PENDING].delete_one({"_id": marker["_id"]})
        repaired += 1
    return repaired


async def _rebuild_event_types(db: AsyncDatabase, database: str) -> None:
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        async for group in await db[EVENTS].aggregate([
                {"$match": {"database": database}},
                {"$group": {"_id": "$type", "count": {"$sum": 1}, "first": {"$min": "$time"},
                            "last": {"$max": "$time"}}}], allowDiskUse=True):
            await db[EVENT_TYPES].update_one(
                {"_id": f"{database}:{group['_id']}"},
                {"$set": {"database": database, "type": group["_id"], "count": group["count"],
                          "first": group["first"], "last": group["last"]}}, upsert=True)
    # the dead process may have recorded a new type and died before marking the change
    await touch_catalog(db, database)
