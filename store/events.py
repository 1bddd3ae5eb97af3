"""Events: batch tracking with id-based de-duplication, and the per-type summaries of
contacts (`events.<type key>: {count, first, last}`) kept exact under duplicate and
out-of-order arrival."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dsl.consent import CONSENT_EVENT_TYPES
from dsl.values import (ValueRejected, normalize_attributes, parse_iso_datetime, summary_index_path,
                        summary_key, to_millis)
from store.collections import (CONTACTS, EVENT_TYPES, EVENTS, JOURNALED,
                               MAX_EVENT_TYPE_INDEXES, SUMMARY_PENDING, contact_index_paths)
from store.clock import utc_now
from store.consent import consent_from_event
from store.contacts import contact_key
from store.errors import DUPLICATE_KEY, SummariesRepairingError
from store.embedded import process_alive
from store.lookups import in_chunks
from store.fields import (INDEX_BUILD_TIMEOUT_S, load_schema, touch_catalog,
                          validate_database_name)
from store.results import RowError, RowRejected, WriteReport, check_id

__all__ = ["EventIngest", "RowError", "WriteReport", "event_key", "exact_latest_event_times",
           "list_event_types", "rebuild_summaries", "repair_interrupted",
           "track_events"]

log = logging.getLogger(__name__)

MAX_TYPE_LENGTH = 128
MAX_BATCH = 10_000
_ROW_KEYS = frozenset({"id", "contact", "type", "time", "attributes"})
_SUMMARY_BATCH = 1000
_OWNER = {"host": socket.gethostname(), "pid": os.getpid()}
# A marker whose events carry its id (`batch`): its repair reads only the batch's contacts.
_MARKER_FORMAT = 2
# The markers of this process's ingests still in progress; one of this process that is not
# here belongs to an ingest that failed half-way (e.g. the store died under it): repaired.
_LIVE_MARKERS: set[ObjectId] = set()
# An `applied` entry of an event-type record older than this whose marker is gone was left
# by a process that died between removing its marker and that entry (harmless; cleaned).
_STALE_APPLIED = dt.timedelta(minutes=10)
# A repair claims its contacts on its marker (`repairing_until`), renewed while it runs: an
# ingest of those contacts waits meanwhile (a repair recomputes a contact from its events,
# so events stored by an ingest still to apply them would be counted twice). A claim left by
# a repairing process that died expires by itself.
_CLAIM = dt.timedelta(seconds=30)
_CLAIM_RENEW_S = 5.0
_POLL_S = 0.1
# How long a repair waits for the live ingests of its contacts to apply before trying later.
REPAIR_WAIT_S = 30.0


def abandoned(marker: dict) -> bool:
    """Whether `marker` was left by an ingest that will never apply it: its process died
    (on this host: other hosts' processes cannot be seen), or it is this process's and its
    ingest ended without applying."""
    owner = marker.get("owner") or {}
    if owner.get("host") != _OWNER["host"]:
        return False
    if owner.get("pid") == os.getpid():
        return marker["_id"] not in _LIVE_MARKERS
    return not process_alive(owner.get("pid", 0))


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
    try:
        report = await ingest.add(rows)
        await ingest.apply()
    except BaseException:
        ingest.abandon()
        raise
    return report


class EventIngest:
    """Stores events batch by batch and applies their summaries in one pass per contact.

    `add` inserts a batch and adds the newly stored events (never duplicates) to summary
    changes kept in memory; `apply` writes them: one `$inc`/`$min`/`$max` update per
    contact, whatever the number of its events, exact in any order of arrival. Updating a
    contact is the expensive write, so an import applies once at the end (or when
    `pending_contacts` grows large) rather than once per batch.

    Before a batch is inserted a marker naming its contacts is stored in `summary_pending`,
    the batch's events carry its id (`batch`), and it is removed after `apply`: a process
    that dies in between leaves the marker, and `repair_interrupted` repairs from it (the
    contacts' summaries, the batch's counts in `event_types`). An ingest given up half-way
    by a living process (an error) must call `abandon`, so that its markers are repaired."""

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
            _LIVE_MARKERS.add(marker)
            self._markers.append(marker)
            await self._mark(marker, sorted({document["contact"] for document in documents}))
            for document in documents:
                document["batch"] = marker
            for document in await self._insert(documents, positions, report):
                self._count(document)
        report.rejected.sort(key=lambda error: error.index)
        return report

    async def _mark(self, marker: ObjectId, contacts: list[str]) -> None:
        """Store the batch's marker, unless a repair has claimed some of its contacts: then
        wait until it is done, without a marker (the repair waits for live markers)."""
        while True:
            await self.db[SUMMARY_PENDING].insert_one(
                {"_id": marker, "database": self.database, "owner": _OWNER,
                 "format": _MARKER_FORMAT, "contacts": contacts})
            claim = await self._claim_on(contacts)
            if claim is None:
                return
            await self.db[SUMMARY_PENDING].delete_one({"_id": marker})
            while await self.db[SUMMARY_PENDING].find_one(
                    {"_id": claim["_id"], "repairing_until": {"$gt": utc_now()}}, {"_id": 1}):
                await asyncio.sleep(_POLL_S)

    async def _claim_on(self, contacts: list[str]) -> dict | None:
        """A repair's claim on some of these contacts, or None. Read by `repairing_until`
        alone, from its index: claims are rare, while a long import holds a marker with its
        contacts for every batch until it applies, and a query that also tests the contacts
        would read them all at every batch (SecantusDB uses an index only when it covers
        every condition: 130 ms a check with 600 markers, growing with the import)."""
        wanted = set(contacts)
        async for claim in self.db[SUMMARY_PENDING].find(
                {"repairing_until": {"$gt": utc_now()}}, {"database": 1, "contacts": 1}):
            if claim.get("database") == self.database and \
                    not wanted.isdisjoint(claim.get("contacts", ())):
                return claim
        return None

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
        types = list(self._types)
        if types:
            # `applied` names the batches counted, in the same write as the counts: the
            # repair of a marker left after this write must not count its batch again
            result = await self.db[EVENT_TYPES].bulk_write([
                UpdateOne({"_id": f"{self.database}:{event_type}"},
                          {**_summary_update("", {"": self._types[event_type]}),
                           "$addToSet": {"applied": {"$each": self._markers}},
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
            if types:  # after the markers: with a marker left, its batch must read counted
                await self.db[EVENT_TYPES].update_many(
                    {"_id": {"$in": [f"{self.database}:{event_type}" for event_type in types]}},
                    {"$pull": {"applied": {"$in": self._markers}}})
            _LIVE_MARKERS.difference_update(self._markers)
        self._contacts, self._types, self._markers, self._consent = {}, {}, [], {}

    def abandon(self) -> None:
        """Give up this ingest (after an error): its markers become repairable by
        `repair_interrupted` in this process too, and answers on the events of its
        database are refused until then."""
        _LIVE_MARKERS.difference_update(self._markers)
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
        keys = sorted({document["contact"] for _, _, _, document in parsed} - self._known)
        for chunk in in_chunks(keys):
            self._known.update([document["_id"] async for document in
                                self.db[CONTACTS].find({"_id": {"$in": chunk}}, {"_id": 1})])
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
            await self.db[EVENTS].with_options(write_concern=JOURNALED).insert_many(
                documents, ordered=False)
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
            elif write_error.get("code") == DUPLICATE_KEY:
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
    `contacts`: {contact _id: {summary key: [count, first, last]}}, each contact's own
    event types with the times of their new events."""
    from store.live.maintenance import Touched, maintain  # the live modules import this one

    type_of = {summary_key(event_type): event_type for event_type in event_types}
    latest = {contact: {type_of[key]: change[2] for key, change in changes.items()
                        if key in type_of}
              for contact, changes in contacts.items()}
    await maintain(db, database, list(contacts), Touched(
        event_types=event_types, event_times_by_contact=latest), "event")


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
    contacts, _ = await _rebuild(db, database, contact_keys)
    return contacts


async def _rebuild(db: AsyncDatabase, database: str, contact_keys: Iterable[str] | None,
                   batch: ObjectId | None = None) -> tuple[int, dict[str, list]]:
    """`rebuild_summaries`, and in the same pass over those contacts' events the
    [count, first, last] per type of the events that `batch` stored."""
    validate_database_name(database)
    scope: dict = {"database": database}
    event_scope: dict = {"database": database}
    if contact_keys is not None:
        prefix = f"{database}:"
        keys = [key for key in dict.fromkeys(contact_keys) if key.startswith(prefix)]
        scope["_id"] = {"$in": keys}
        # the contact's key names its database: with `database` in the filter too,
        # SecantusDB reads the (database, type, time) index, i.e. all the database's events
        event_scope = {"contact": {"$in": keys}}
    per_type: dict = {"count": {"$sum": 1}, "first": {"$min": "$time"},
                      "last": {"$max": "$time"}}
    pushed = {"type": "$_id.type", "count": "$count", "first": "$first", "last": "$last"}
    if batch is not None:
        in_batch = {"$eq": ["$batch", batch]}
        per_type |= {"batch_count": {"$sum": {"$cond": [in_batch, 1, 0]}},
                     # $min/$max pass over the nulls of the events of other batches
                     "batch_first": {"$min": {"$cond": [in_batch, "$time", None]}},
                     "batch_last": {"$max": {"$cond": [in_batch, "$time", None]}}}
        pushed |= {"batch_count": "$batch_count", "batch_first": "$batch_first",
                   "batch_last": "$batch_last"}
    batch_types: dict[str, list] = {}
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        if contact_keys is None:  # the whole database (a manual tool): start from nothing
            await db[CONTACTS].update_many({**scope, "events": {"$exists": True}},
                                           {"$unset": {"events": ""}})
        pipeline = [
            {"$match": event_scope},
            {"$group": {"_id": {"contact": "$contact", "type": "$type"}, **per_type}},
            {"$group": {"_id": "$_id.contact", "types": {"$push": pushed}}},
        ]
        contacts = 0
        summarised: list[str] = []
        rebuilt: dict[str, dict] = {}
        async for group in await db[EVENTS].aggregate(pipeline, allowDiskUse=True):
            summarised.append(group["_id"])
            rebuilt[group["_id"]] = {summary_key(item["type"]): {"count": item["count"],
                                                                 "first": item["first"],
                                                                 "last": item["last"]}
                                     for item in group["types"]}
            for item in group["types"]:
                if item.get("batch_count"):
                    total = batch_types.setdefault(item["type"], [0, item["batch_first"],
                                                                  item["batch_last"]])
                    total[0] += item["batch_count"]
                    total[1] = min(total[1], item["batch_first"])
                    total[2] = max(total[2], item["batch_last"])
            contacts += 1
            if len(rebuilt) >= _SUMMARY_BATCH:
                await _write_summaries(db, rebuilt, compare=contact_keys is not None)
                rebuilt = {}
        if rebuilt:
            await _write_summaries(db, rebuilt, compare=contact_keys is not None)
        if contact_keys is not None:  # the given contacts that have no events (left)
            done = set(summarised)
            await db[CONTACTS].update_many(
                {**scope, "events": {"$exists": True},
                 "_id": {"$in": [key for key in keys if key not in done]}},
                {"$unset": {"events": ""}})
    return contacts, batch_types


async def _write_summaries(db: AsyncDatabase, rebuilt: dict[str, dict], *,
                           compare: bool) -> None:
    """Replace each contact's summary whole; with `compare`, only where it differs (a
    repair run again after an interruption writes only what the last one did not)."""
    if compare:
        async for document in db[CONTACTS].find({"_id": {"$in": list(rebuilt)}},
                                                {"events": 1}):
            if document.get("events") == rebuilt[document["_id"]]:
                del rebuilt[document["_id"]]
    if rebuilt:
        await db[CONTACTS].bulk_write([UpdateOne({"_id": key}, {"$set": {"events": summaries}})
                                       for key, summaries in rebuilt.items()], ordered=False)


_MARKER_FIELDS = {"owner": 1, "contacts": 1}


def _refuse_abandoned(markers: list[dict], database: str) -> None:
    waiting = sum(len(marker.get("contacts", ())) for marker in markers if abandoned(marker))
    if waiting:
        raise SummariesRepairingError(
            f"the event summaries of {waiting:,} contact{'s' if waiting != 1 else ''} of "
            f"profile database {database} are being repaired after an interrupted import; "
            "conditions on events are refused until that is done",
            suggestion="try again shortly: the repair resumes by itself")


async def exact_latest_event_times(db: AsyncDatabase, database: str,
                                   event_types: Iterable[str]
                                   ) -> dict[str, dt.datetime | None]:
    """The time of the latest stored event of each type (None: none stored yet), refused
    (SummariesRepairingError) while summaries of `database` wait for a repair: markers of
    ingests that will never apply them (their process died, on this host, or an ingest of
    this process failed half-way; `repair_interrupted` repairs them). A live ingest's
    marker is normal: its summaries follow when it applies. One read: the `event_types`
    records of the types, and the database's `summary_pending` markers beside them
    (`$unionWith`)."""
    wanted = sorted(set(event_types))
    latest: dict[str, dt.datetime | None] = dict.fromkeys(wanted)
    markers = []
    async for document in await db[EVENT_TYPES].aggregate([
            {"$match": {"_id": {"$in": [f"{database}:{event_type}" for event_type in wanted]}}},
            {"$project": {"type": 1, "last": 1}},
            {"$unionWith": {"coll": SUMMARY_PENDING, "pipeline": [
                {"$match": {"database": database}},
                {"$project": {**_MARKER_FIELDS, "marker": {"$literal": True}}}]}}]):
        if document.get("marker") is True:
            markers.append(document)
        else:
            latest[document["type"]] = document["last"]
    _refuse_abandoned(markers, database)
    return latest


async def list_event_types(db: AsyncDatabase, database: str) -> list[str]:
    """The event types seen in a profile database, sorted."""
    validate_database_name(database)
    return sorted([document["type"] async for document in
                   db[EVENT_TYPES].find({"database": database}, {"type": 1})])


async def repair_interrupted(db: AsyncDatabase) -> int:
    """Repair what ingests that will never apply left unapplied (their markers in
    `summary_pending`, see `abandoned`); returns the number of markers repaired. Markers
    of live ingests, or of other hosts (whose processes this host cannot see), are left
    alone.

    The work is bounded by each interrupted batch, not by the database: its contacts'
    summaries are recomputed from their events, and the batch's own events (those carrying
    its id) give the counts it adds to `event_types`. Safe to interrupt at any point and
    to run again (also concurrently): summaries are replaced whole, an event type counts a
    batch in the same write that names it in `applied` (and never when it is named there
    already), and the marker is removed last. A repair claims its contacts first and waits
    for the live ingests of those contacts to apply (an ingest steps back from a claim), so
    that no event is both in a recomputed summary and added to it again (see _CLAIM)."""
    repaired = 0
    # A process that died between recording a new type and indexing it left no marker for
    # that; checking every known type here (one small read) covers it.
    await ensure_summary_indexes(db, {document["type"] async for document in
                                      db[EVENT_TYPES].find({}, {"type": 1})})
    markers = [marker async for marker in db[SUMMARY_PENDING].find({"owner.host": _OWNER["host"]})
               if abandoned(marker)]
    for marker in markers:
        if await _repair_claimed(db, marker):
            repaired += 1
    await _clean_applied(db)
    return repaired


async def _repair_claimed(db: AsyncDatabase, marker: dict) -> bool:
    """Repair `marker` under a claim on its contacts (see _CLAIM), once no live ingest of
    them is left (they apply, or step back from the claim); False when they are still
    there after REPAIR_WAIT_S (the marker waits for a later repair)."""
    if not await _claim(db, marker["_id"]):
        return False  # repaired meanwhile (by another process)
    renewing = asyncio.create_task(_renew_claim(db, marker["_id"]))
    done = False
    try:
        if await _live_ingests_gone(db, marker):
            await _repair_marker(db, marker)
            done = True
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        if not done:
            with contextlib.suppress(Exception):  # else it expires by itself
                await db[SUMMARY_PENDING].update_one({"_id": marker["_id"]},
                                                     {"$unset": {"repairing_until": ""}})
    return done


async def _claim(db: AsyncDatabase, marker_id: ObjectId) -> bool:
    """Claim (or renew the claim on) the marker's contacts; False if the marker is gone."""
    result = await db[SUMMARY_PENDING].update_one(
        {"_id": marker_id}, {"$set": {"repairing_until": utc_now() + _CLAIM}})
    return result.matched_count == 1


async def _renew_claim(db: AsyncDatabase, marker_id: ObjectId) -> None:
    while True:
        await asyncio.sleep(_CLAIM_RENEW_S)
        await _claim(db, marker_id)


async def _live_ingests_gone(db: AsyncDatabase, marker: dict) -> bool:
    """Wait (up to REPAIR_WAIT_S) until no live ingest has a marker on the marker's contacts."""
    waited_since = asyncio.get_running_loop().time()
    while True:
        live = [other async for other in db[SUMMARY_PENDING].find(
            {"database": marker["database"], "_id": {"$ne": marker["_id"]},
             "contacts": {"$in": marker["contacts"]}}, {"owner": 1})
            if not abandoned(other)]
        if not live:
            return True
        if asyncio.get_running_loop().time() - waited_since > REPAIR_WAIT_S:
            log.warning("the repair of an interrupted import of profile database %s waits for "
                        "%d live import(s) of its contacts; trying again later",
                        marker["database"], len(live))
            return False
        await asyncio.sleep(_POLL_S)


async def _repair_marker(db: AsyncDatabase, marker: dict) -> None:
    database, contacts, batch = marker["database"], marker["contacts"], marker["_id"]
    if marker.get("format") != _MARKER_FORMAT:  # an older marker: its events carry no id
        await rebuild_summaries(db, database, contacts)
        await _rebuild_event_types(db, database)
        batch_types: dict[str, list] = {}
    else:
        _, batch_types = await _rebuild(db, database, contacts, batch)
        if batch_types.keys() & CONSENT_EVENT_TYPES:
            await _repair_consent(db, contacts, batch, batch_types.keys() & CONSENT_EVENT_TYPES)
        await _count_batch(db, database, batch, batch_types)
    from store.live.maintenance import repair_events  # the live modules import this one

    await repair_events(db, database, contacts)
    await db[SUMMARY_PENDING].delete_one({"_id": batch})
    if batch_types:  # after the marker (see EventIngest.apply)
        await db[EVENT_TYPES].update_many(
            {"_id": {"$in": [f"{database}:{event_type}" for event_type in batch_types]}},
            {"$pull": {"applied": batch}})


async def _repair_consent(db: AsyncDatabase, contacts: list[str], batch: ObjectId,
                          event_types: set[str]) -> None:
    """Set the consent the batch's events carried (what `apply` would have set), in the
    order of their times. Setting it again is harmless: these paths only ever say
    unsubscribed or suppressed."""
    changes: dict[str, dict[str, str]] = {}
    async for document in db[EVENTS].find(
            {"contact": {"$in": contacts}, "type": {"$in": sorted(event_types)},
             "batch": batch}, {"contact": 1, "type": 1, "attributes": 1}).sort("time", ASCENDING):
        if consent := consent_from_event(document):
            changes.setdefault(document["contact"], {}).update(consent)
    if changes:
        await db[CONTACTS].bulk_write([UpdateOne({"_id": contact}, {"$set": paths})
                                       for contact, paths in changes.items()], ordered=False)


async def _count_batch(db: AsyncDatabase, database: str, batch: ObjectId,
                       batch_types: dict[str, list]) -> None:
    """Add the batch's events to `event_types`, unless the record names it as counted."""
    for event_type, (count, first, last) in batch_types.items():
        try:
            await db[EVENT_TYPES].update_one(
                {"_id": f"{database}:{event_type}", "applied": {"$ne": batch}},
                {**_summary_update("", {"": [count, first, last]}),
                 "$addToSet": {"applied": batch},
                 "$setOnInsert": {"database": database, "type": event_type}}, upsert=True)
        except DuplicateKeyError:
            pass  # the record exists and names the batch: counted already
    if batch_types:
        # the dead process may have recorded a new type and died before marking the change
        await touch_catalog(db, database)
        await ensure_summary_indexes(db, set(batch_types))


async def _clean_applied(db: AsyncDatabase) -> None:
    """Remove from `event_types.applied` the batches whose markers are gone (a process
    died between the two writes); young ones are left, their ingest may still be on."""
    young = ObjectId.from_datetime(utc_now() - _STALE_APPLIED)
    records = [record async for record in
               db[EVENT_TYPES].find({"applied": {"$lt": young}}, {"applied": 1})]
    if not records:
        return
    waiting = {marker["_id"] async for marker in db[SUMMARY_PENDING].find({}, {"_id": 1})}
    for record in records:
        stale = [batch for batch in record["applied"] if batch < young and batch not in waiting]
        if stale:
            await db[EVENT_TYPES].update_one({"_id": record["_id"]},
                                             {"$pull": {"applied": {"$in": stale}}})


async def _rebuild_event_types(db: AsyncDatabase, database: str) -> None:
    """The whole database's `event_types` from its events (for markers of the older
    format only: their batch cannot be told apart)."""
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        async for group in await db[EVENTS].aggregate([
                {"$match": {"database": database}},
                {"$group": {"_id": "$type", "count": {"$sum": 1}, "first": {"$min": "$time"},
                            "last": {"$max": "$time"}}}], allowDiskUse=True):
            await db[EVENT_TYPES].update_one(
                {"_id": f"{database}:{group['_id']}"},
                {"$set": {"database": database, "type": group["_id"], "count": group["count"],
                          "first": group["first"], "last": group["last"]}}, upsert=True)
    await touch_catalog(db, database)
