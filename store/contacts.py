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
from dsl.values import ValueRejected, bucket_of, coerce_field, fold, to_millis
from store.collections import CONTACTS, LISTS
from store.fields import load_schema, touch_catalog, validate_database_name
from store.results import RowError, RowRejected, WriteReport, check_id

__all__ = ["RowError", "WriteReport", "contact_key", "get_contact", "upsert_contacts"]

MAX_LIST_NAME_LENGTH = 256
MAX_BATCH = 10_000
# Contacts written per bulk write: each chunk is confirmed (and counted) before the next,
# so the report is exact, and stays well inside one operation's time limit on SecantusDB.
WRITE_CHUNK = 200
CREATE_TIME = "CreateTime"
_ROW_KEYS = frozenset({"id", "fields", "lists"})


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
                                                           list[str]]:
    """(id, {field: stored value}, {fields removed}, lists) of one row; RowRejected if bad."""
    if not isinstance(row, dict):
        raise RowRejected(f"a contact is an object with id, fields and lists, not "
                        f"{type(row).__name__}")
    unknown_keys = sorted(str(key) for key in row if key not in _ROW_KEYS)
    if unknown_keys:
        raise RowRejected(f"unknown key {', '.join(unknown_keys)}; a contact has id, fields "
                        "and lists")
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
    return contact_id, sets, unsets, list(dict.fromkeys(lists))


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
            contact_id, sets, unsets, lists = _parse_row(row, schema)
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
    if not changes:
        return report

    now = to_millis(dt.datetime.now(dt.timezone.utc))
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
    slowest = 0.0  # no chunk starts unless twice the slowest one so far fits before deadline
    for start in range(0, len(ordered_changes), WRITE_CHUNK):
        chunk = ordered_changes[start:start + WRITE_CHUNK]
        if deadline is not None and time.monotonic() + 2 * slowest >= deadline:
            for position in range(start, len(ordered_changes)):
                failed[position] = ("the batch ran out of time before this row; send it "
                                    "again (or in a smaller batch)")
            break
        operations = [UpdateOne({"_id": contact_key(database, change.contact_id)},
                                _update(database, change, now), upsert=True)
                      for change in chunk]
        began = time.monotonic()
        try:
            await db[CONTACTS].bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                raise
            for write_error in error.details.get("writeErrors", []):
                failed[start + write_error["index"]] = write_error.get("errmsg",
                                                                       "the write failed")
        except PyMongoError as error:  # a time limit, a lost store: this chunk is unknown
            for position in range(start, len(ordered_changes)):
                failed[position] = (
                    "the store did not confirm this row" if position < start + len(chunk)
                    else "the batch stopped before this row") + (
                    f" ({error}); send it again: an upsert by id is safe to repeat")
            break
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
    """`{"id", "fields", "lists"}` of a contact, or None when there is none."""
    validate_database_name(database)
    document = await db[CONTACTS].find_one({"_id": contact_key(database, contact_id)},
                                           {"id": 1, "fields": 1, "lists": 1})
    if document is None:
        return None
    return {"id": document["id"], "fields": document.get("fields", {}),
            "lists": document.get("lists", [])}
