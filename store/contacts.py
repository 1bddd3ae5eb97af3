"""Contacts: batch upserts with per-row validation, and reading one contact back."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError

from dsl.schema import FieldSchema, FieldType
from dsl.values import ValueRejected, bucket_of, coerce_field, fold
from store.clock import utc_now
from store.collections import CONTACTS, JOURNALED, LISTS
from store.consent import parse_consent
from store.fields import load_schema, touch_catalog, validate_database_name
from store.results import RowError, RowRejected, WriteReport, check_id
from store.errors import DUPLICATE_KEY

__all__ = ["RowError", "WriteReport", "contact_key", "get_contact", "upsert_contacts"]

MAX_LIST_NAME_LENGTH = 256
MAX_BATCH = 10_000
# Contacts written per bulk write: each chunk is confirmed (and counted) before the next,
# so the report is exact, and stays well inside one operation's time limit on SecantusDB.
WRITE_CHUNK = 200
CREATE_TIME = "CreateTime"
_ROW_KEYS = frozenset({"id", "fields", "lists", "consent"})


def contact_key(database: str, contact_id: str) -> str:
    """A contact's `_id`: `<database>:<contact id>` (database names have no ':')."""
    return f"{database}:{contact_id}"




@dataclass
class _Change:
    """The merged change of the rows of one contact id in one batch, in row order."""

    contact_id: str
    rows: list[int] = field(default_factory=list)
    sets: dict[str, object] = field(default_factory=dict)
    unsets: set[str] = field(default_factory=set)
    lists: list[str] = field(default_factory=list)

    def set(self, path: str, value: object) -> None:
        self.unsets.discard(path)
        self.sets[path] = value

    def unset(self, path: str) -> None:
        self.sets.pop(path, None)
        self.unsets.add(path)


def _parse_row(row: object, schema: FieldSchema) -> tuple[str, dict[str, object], set[str],
                                                           list[str], dict]:
    """(id, {field: stored value}, {fields removed}, lists, {consent path: state or None})
    of one row; RowRejected if bad."""
    if not isinstance(row, dict):
        raise RowRejected(f"a contact is an object with id, fields and lists, not "
                        f"{type(row).__name__}")
    unknown_keys = sorted(str(key) for key in row if key not in _ROW_KEYS)
    if unknown_keys:
        raise RowRejected(f"unknown key {', '.join(unknown_keys)}; a contact has id, fields, "
                        "lists and consent")
    raw_id = row.get("id")
    contact_id = uuid.uuid4().hex if raw_id is None else check_id(raw_id, "a contact id")
    who = f"contact {contact_id}"
    values = row.get("fields")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RowRejected(f"{who}: fields must be an object of field names and values")
    sets: dict[str, object] = {}
    unsets: set[str] = set()
    for name, value in values.items():
        definition = schema.get(name) if isinstance(name, str) else None
        if definition is None:
            hint = schema.suggest(name) if isinstance(name, str) else None
            did_you_mean = f" (did you mean {hint}?)" if hint else ""
            raise RowRejected(f"{who}: unknown field {name}{did_you_mean}; declare it first")
        try:
            stored = coerce_field(definition.type, value)
        except ValueRejected as error:
            raise RowRejected(f"{who}: field {name} ({definition.type.value}): {error}") from None
        if stored is None:
            if name == CREATE_TIME:
                raise RowRejected(f"{who}: field {CREATE_TIME} cannot be removed "
                                f"(it is set when the contact is created)")
            unsets.add(name)
        else:
            sets[name] = stored
    lists = row.get("lists")
    if lists is None:
        lists = []
    if not isinstance(lists, list):
        raise RowRejected(f"{who}: lists must be an array of list names")
    for name in lists:
        if not isinstance(name, str) or not name.strip():
            raise RowRejected(f"{who}: a list name must be a non-empty text, not {name!r}")
        if len(name) > MAX_LIST_NAME_LENGTH:
            raise RowRejected(f"{who}: the list name {name[:40]!r}... is longer than "
                            f"{MAX_LIST_NAME_LENGTH} characters")
    consent = parse_consent(row.get("consent"), who)
    return contact_id, sets, unsets, list(dict.fromkeys(lists)), consent


async def upsert_contacts(db: AsyncDatabase, database: str, rows: list[dict], *,
                          deadline: float | None = None) -> WriteReport:
    """Store contacts: new ids are created, existing ids get the given fields updated
    (`null` removes a field) and the given lists added. A row that does not fit is
    rejected with the reason; the rest of the batch is still stored.

    The writes go in chunks of WRITE_CHUNK contacts, so that the report says exactly what
    was stored whatever happens: no chunk starts unless twice the slowest chunk so far fits
    before `deadline` (a `time.monotonic()` value: the request is cancelled then), and a
    chunk the store does not confirm in time stops the batch. The rows not
    written (or not confirmed) are reported in `rejected` as "not stored ... send again"
    (an upsert by id is safe to repeat), never counted as stored."""
    if len(rows) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} contacts per call, not {len(rows)}")
    schema = await load_schema(db, database)  # also refuses an unknown profile database
    report = WriteReport()
    changes: dict[str, _Change] = {}
    for index, row in enumerate(rows):
        try:
            contact_id, sets, unsets, lists, consent = _parse_row(row, schema)
        except RowRejected as error:
            raw_id = row.get("id") if isinstance(row, dict) else None
            report.rejected.append(RowError(index, raw_id if isinstance(raw_id, str) else None,
                                            str(error)))
            continue
        change = changes.setdefault(contact_id, _Change(contact_id))
        change.rows.append(index)
        for name, value in sets.items():
            change.set(f"fields.{name}", value)
            if schema.get(name).type is FieldType.TEXT:
                change.set(f"folded.{name}", fold(value))
        for name in unsets:
            change.unset(f"fields.{name}")
            change.unset(f"folded.{name}")
        change.lists.extend(name for name in lists if name not in change.lists)
        for path, state in consent.items():
            change.set(path, state) if state is not None else change.unset(path)
    if not changes:
        return report

    now = utc_now()
    list_names = list(dict.fromkeys(name for change in changes.values() for name in change.lists))
    if list_names:
        written = await db[LISTS].bulk_write([
            UpdateOne({"_id": f"{database}:{name}"},
                      {"$setOnInsert": {"database": database, "name": name, "created_at": now}},
                      upsert=True)
            for name in list_names], ordered=False)
        if written.upserted_count:
            await touch_catalog(db, database)

    ordered_changes = list(changes.values())
    failed: dict[int, str] = {}
    touched = _touched(ordered_changes)
    async with live_maintained(db, database, [contact_key(database, change.contact_id)
                                              for change in ordered_changes], touched, "contact"):
        slowest = 0.0  # no chunk starts unless twice the slowest so far fits before deadline
        for start in range(0, len(ordered_changes), WRITE_CHUNK):
            chunk = ordered_changes[start:start + WRITE_CHUNK]
            if deadline is not None and time.monotonic() + 2 * slowest >= deadline:
                for position in range(start, len(ordered_changes)):
                    failed[position] = ("the batch ran out of time before this row; send it "
                                        "again (or in a smaller batch)")
                break
            began = time.monotonic()
            try:
                chunk_failed, created = await _write_changes(db, database, chunk, now)
            except PyMongoError as error:  # a time limit, a lost store: this chunk is unknown
                touched.everything = True
                for position in range(start, len(ordered_changes)):
                    failed[position] = (
                        "the store did not confirm this row" if position < start + len(chunk)
                        else "the batch stopped before this row") + (
                        f" ({error}); send it again: an upsert by id is safe to repeat")
                break
            touched.everything = touched.everything or created or bool(chunk_failed)
            failed.update({start + position: why for position, why in chunk_failed.items()})
            slowest = max(slowest, time.monotonic() - began)
    for position, change in enumerate(ordered_changes):
        if position in failed:
            for index in change.rows:
                report.rejected.append(RowError(
                    index, change.contact_id,
                    f"contact {change.contact_id}: not stored: {failed[position]}"))
        else:
            report.stored += len(change.rows)
    report.rejected.sort(key=lambda error: error.index)
    return report


async def _write_changes(db: AsyncDatabase, database: str, changes: list[_Change],
                         now: dt.datetime) -> tuple[dict[int, str], bool]:
    """Write the changes: ({position in `changes`: why it failed} for those not written,
    whether a new contact was created).

    New contacts are inserted whole, in one `insert_many`; an id that exists already fails
    that insert with a duplicate key and is then updated by an upsert (`_update`), which
    would also have created it. Both give a new contact the same document, and a retried
    import the same result; an import of new contacts costs an insert per contact instead
    of an upsert (3x as much on the embedded store, docs/benchmarks.md).

    The insert asks for journaled acknowledgement (`j: true`): without it the embedded
    store acknowledged inserts that a SIGKILL right after then lost
    (tests/graph/test_store_faults.py, docs/compatibility.md). On SecantusDB that is one
    log flush per insert chunk, free beside the inserts."""
    failed: dict[int, str] = {}
    existing: list[int] = []
    try:
        await db[CONTACTS].with_options(write_concern=JOURNALED).insert_many(
            [_new_document(database, change, now) for change in changes], ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors"):
            raise
        for write_error in error.details.get("writeErrors", []):
            if write_error.get("code") == DUPLICATE_KEY:
                existing.append(write_error["index"])
            else:
                failed[write_error["index"]] = write_error.get("errmsg", "the write failed")
    created = len(existing) + len(failed) < len(changes)
    if not existing:
        return failed, created
    existing.sort()
    try:
        await db[CONTACTS].bulk_write([UpdateOne({"_id": contact_key(database,
                                                                   changes[position].contact_id)},
                                                 _update(database, changes[position], now),
                                                 upsert=True)
                                       for position in existing], ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors"):
            raise
        created = True  # unknown: as if a new contact could be there
        for write_error in error.details.get("writeErrors", []):
            failed[existing[write_error["index"]]] = write_error.get("errmsg",
                                                                     "the write failed")
    return failed, created


def _new_document(database: str, change: _Change, now: dt.datetime) -> dict:
    """The document `_update` makes when it inserts (an upsert of a new id)."""
    document: dict = {"_id": contact_key(database, change.contact_id), "database": database,
                      "id": change.contact_id, "bucket": bucket_of(database, change.contact_id),
                      "created_at": now, "updated_at": now,
                      "fields": {CREATE_TIME: now}, "lists": list(change.lists)}
    for path, value in change.sets.items():
        parent, name = path.split(".", 1)
        document.setdefault(parent, {})[name] = value
    return document


def live_maintained(db: AsyncDatabase, database: str, keys: list[str], touched, cause: str):
    # imported here: live maintenance reads the store modules that import this one
    from store.live.maintenance import maintained

    return maintained(db, database, keys, touched, cause)


def _touched(changes: list[_Change]):
    """The fields and lists the batch writes (live maintenance re-evaluates the segments
    reading them; a new contact, known after the write, can enter any segment)."""
    from dsl.dependencies import CONSENT_FIELD
    from store.live.maintenance import Touched

    paths = [path for change in changes for path in (*change.sets, *change.unsets)]
    fields = {path.split(".", 1)[1] for path in paths if path.startswith("fields.")}
    if any(path.startswith("consent.") for path in paths):
        fields.add(CONSENT_FIELD)
    return Touched(fields=fields, lists={name for change in changes for name in change.lists})


def _update(database: str, change: _Change, now: dt.datetime) -> dict:
    on_insert: dict[str, object] = {
        "database": database, "id": change.contact_id,
        "bucket": bucket_of(database, change.contact_id), "created_at": now}
    if f"fields.{CREATE_TIME}" not in change.sets:
        on_insert[f"fields.{CREATE_TIME}"] = now
    update: dict[str, dict] = {
        "$set": {**change.sets, "updated_at": now},
        "$setOnInsert": on_insert,
        "$addToSet": {"lists": {"$each": change.lists}},  # also makes `lists: []` on insert
    }
    if change.unsets:
        update["$unset"] = {path: "" for path in sorted(change.unsets)}
    return update


async def get_contact(db: AsyncDatabase, database: str, contact_id: str) -> dict | None:
    """`{"id", "fields", "lists", "consent", "suppression"}` of a contact (the evaluator's
    shape), or None when there is none."""
    validate_database_name(database)
    document = await db[CONTACTS].find_one(
        {"_id": contact_key(database, contact_id)},
        {"id": 1, "fields": 1, "lists": 1, "consent": 1, "suppression": 1})
    if document is None:
        return None
    return {"id": document["id"], "fields": document.get("fields", {}),
            "lists": document.get("lists", []), "consent": document.get("consent", {}),
            "suppression": document.get("suppression", {})}
