"""Profile databases and their field schemas, as stored in `profile_databases` and `fields`."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pymongo
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsl.errors import SegmentTypeError
from dsl.schema import STANDARD_FIELDS, FieldDef, FieldSchema, FieldType, validate_field_name
from dsl.temporal import zone_of
from dsl.values import field_index_path, fold
from store.clock import utc_now
from store.collections import (CONTACTS, FIELDS, MAX_FIELD_INDEXES, PROFILE_DATABASES,
                               contact_index_paths)
from store.errors import StoreInputError

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "main"
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPES = ", ".join(kind.value for kind in FieldType)
INDEX_BUILD_TIMEOUT_S = 600  # building an index over many contacts outlasts a query's limit


def validate_database_name(database: str) -> None:
    """Raise StoreInputError unless `database` can name a profile database."""
    if not isinstance(database, str) or not _DATABASE_NAME.fullmatch(database):
        raise StoreInputError(
            f"{database!r} is not a profile database name",
            suggestion="a name has 1 to 64 letters A-Z, digits, _ and -")


async def touch_catalog(db: AsyncDatabase, database: str) -> None:
    """Mark the names the database knows (fields, event types, lists, live segments) changed,
    after the change is written: store/catalog.py caches them by this revision."""
    await db[PROFILE_DATABASES].update_one({"_id": database}, {"$inc": {"catalog_revision": 1}})


async def catalog_revision(db: AsyncDatabase, database: str) -> int:
    """The revision of the database's names (StoreInputError if there is no such database)."""
    return (await catalog_head(db, database))[0]


async def catalog_head(db: AsyncDatabase, database: str) -> tuple[int, str]:
    """(revision of the database's names, its time zone's IANA name), in one read of its
    record: every change of either increments the revision (StoreInputError if there is no
    such database)."""
    validate_database_name(database)
    document = await db[PROFILE_DATABASES].find_one({"_id": database},
                                                    {"catalog_revision": 1, "timezone": 1})
    if document is None:
        await require_database(db, database)  # raises, naming the databases there are
    document = document or {}
    return int(document.get("catalog_revision", 0)), document.get("timezone") or DEFAULT_TIMEZONE


async def require_database(db: AsyncDatabase, database: str) -> None:
    """Raise StoreInputError unless the profile database exists."""
    validate_database_name(database)
    if await db[PROFILE_DATABASES].find_one({"_id": database}, {"_id": 1}) is None:
        raise StoreInputError(f"no profile database {database}", suggestion=_known(
            await list_databases(db)))


def _known(databases: list[str]) -> str:
    return "the profile databases are " + ", ".join(databases) if databases else ""


async def list_databases(db: AsyncDatabase) -> list[str]:
    """The names of the profile databases, sorted."""
    cursor = db[PROFILE_DATABASES].find({}, {"_id": 1})
    return sorted([document["_id"] async for document in cursor])


async def ensure_database(db: AsyncDatabase, database: str) -> bool:
    """Create the profile database with its standard fields (idempotent). True if new."""
    validate_database_name(database)
    now = utc_now()
    result = await db[PROFILE_DATABASES].update_one(
        {"_id": database}, {"$setOnInsert": {"created_at": now}}, upsert=True)
    written = await db[FIELDS].bulk_write([
        UpdateOne({"_id": f"{database}:{field.name}"},
                  {"$setOnInsert": _field_document(database, field, now)}, upsert=True)
        for field in STANDARD_FIELDS
    ], ordered=False)
    if written.upserted_count:
        await touch_catalog(db, database)
    await _ensure_field_indexes(db, list(STANDARD_FIELDS))
    return result.upserted_id is not None


# --- time zones --------------------------------------------------------------------------
# `profile_databases.timezone` (an IANA name; a record without one is UTC) and
# `timezone_log`: every change, `{from, to, at, by}`, oldest first. The zone is part of the
# database's catalog (store/catalog.py): each change increments `catalog_revision` in the
# same update, so a catalog cached under a revision has that revision's zone.

DEFAULT_TIMEZONE = "UTC"


def validate_timezone(timezone: str) -> str:
    """The IANA name, checked (StoreInputError for an unknown one)."""
    try:
        zone_of(timezone)
    except SegmentTypeError as error:
        raise StoreInputError(error.message, suggestion=error.suggestion) from None
    return timezone


async def create_database(db: AsyncDatabase, database: str, timezone: str = DEFAULT_TIMEZONE,
                          *, actor: str | None = None, exist_ok: bool = False) -> bool:
    """A new profile database with its time zone; True if it was made. A name taken is a
    StoreInputError, unless `exist_ok` and the database has that very time zone."""
    validate_database_name(database)
    validate_timezone(timezone)
    if await db[PROFILE_DATABASES].find_one({"_id": database}, {"_id": 1}) is not None:
        current = await database_timezone(db, database)
        if exist_ok and current == timezone:
            return False
        raise StoreInputError(f"a profile database named {database} already exists (time "
                              f"zone {current})",
                              suggestion="pick another name, or change its time zone")
    await ensure_database(db, database)
    now = utc_now()
    await db[PROFILE_DATABASES].update_one({"_id": database, "timezone": {"$exists": False}}, {
        "$set": {"timezone": timezone}, "$inc": {"catalog_revision": 1},
        "$push": {"timezone_log": {"from": None, "to": timezone, "at": now, "by": actor}}})
    return True


async def set_database_timezone(db: AsyncDatabase, database: str, timezone: str, *,
                                actor: str | None = None) -> str:
    """Change the database's time zone (logged); returns the zone it had before."""
    await require_database(db, database)
    validate_timezone(timezone)
    before = await database_timezone(db, database)
    if before != timezone:
        now = utc_now()
        await db[PROFILE_DATABASES].update_one({"_id": database}, {
            "$set": {"timezone": timezone}, "$inc": {"catalog_revision": 1},
            "$push": {"timezone_log": {"from": before, "to": timezone, "at": now, "by": actor}}})
    return before


async def database_timezone(db: AsyncDatabase, database: str) -> str:
    """The IANA name of the database's time zone (UTC when none was set)."""
    document = await db[PROFILE_DATABASES].find_one({"_id": database}, {"timezone": 1})
    return (document or {}).get("timezone") or DEFAULT_TIMEZONE


async def list_database_timezones(db: AsyncDatabase) -> list[tuple[str, str]]:
    """Every profile database with its time zone, by name."""
    cursor = db[PROFILE_DATABASES].find({}, {"timezone": 1})
    return sorted([(document["_id"], document.get("timezone") or DEFAULT_TIMEZONE)
                   async for document in cursor])


async def timezone_log(db: AsyncDatabase, database: str) -> list[dict]:
    """The database's time zone changes, oldest first: `{from, to, at, by}`."""
    await require_database(db, database)
    document = await db[PROFILE_DATABASES].find_one({"_id": database}, {"timezone_log": 1})
    return list((document or {}).get("timezone_log") or [])


def _field_document(database: str, field: FieldDef, now: dt.datetime) -> dict:
    return {"database": database, "name": field.name, "name_folded": fold(field.name),
            "type": field.type.value, "standard": field.standard, "created_at": now}


async def load_schema(db: AsyncDatabase, database: str) -> FieldSchema:
    """The field schema of a profile database (StoreInputError if there is none)."""
    validate_database_name(database)
    fields = [FieldDef(document["name"], FieldType(document["type"]),
                       bool(document.get("standard")))
              async for document in db[FIELDS].find({"database": database})
              .sort("created_at", ASCENDING)]
    if not fields:
        await require_database(db, database)
    return FieldSchema(fields)


async def define_field(db: AsyncDatabase, database: str, name: str,
                       type: FieldType | str) -> FieldDef:
    """Declare a custom field. Defining the same name with the same type again does nothing;
    a name taken (ignoring letter case) or a different type is refused (StoreInputError)."""
    await require_database(db, database)
    validate_field_name(name)
    field_type = _field_type(name, type)
    folded = fold(name)
    existing = await db[FIELDS].find_one({"database": database, "name_folded": folded})
    if existing is None:
        document = _field_document(database, FieldDef(name, field_type),
                                   utc_now())
        try:
            await db[FIELDS].insert_one({"_id": f"{database}:{name}", **document})
        except DuplicateKeyError:  # defined meanwhile by someone else
            existing = await db[FIELDS].find_one({"database": database, "name_folded": folded})
            if existing is None:
                raise
        else:
            await touch_catalog(db, database)
    if existing is not None:
        known = FieldDef(existing["name"], FieldType(existing["type"]),
                         bool(existing.get("standard")))
        if known.name != name:
            raise StoreInputError(
                f"a field named {known.name} already exists ({known.type.value}) in "
                f"profile database {database}",
                suggestion="field names differ by more than letter case; use "
                           f"{known.name} or pick another name")
        if known.type is not field_type:
            raise StoreInputError(
                f"field {known.name} already exists as {known.type.value} in profile "
                f"database {database}; it cannot be redefined as {field_type.value}",
                suggestion="pick another name for the new field")
        field = known
    else:
        field = FieldDef(name, field_type)
    await _ensure_field_indexes(db, [field])
    return field


def _field_type(name: str, type: FieldType | str) -> FieldType:
    if isinstance(type, FieldType):
        return type
    try:
        return FieldType(str(type).lower())
    except ValueError:
        raise StoreInputError(f"field {name}: {type!r} is not a field type",
                              suggestion=f"the types are {_TYPES}") from None


async def _ensure_field_indexes(db: AsyncDatabase, fields: list[FieldDef]) -> None:
    """One `(database, <path>)` index per field name and kind, shared by every profile
    database; at most MAX_FIELD_INDEXES of them (a field beyond is usable, unindexed)."""
    existing = await contact_index_paths(db)
    field_paths = {path for path in existing if path.startswith(("fields.", "folded."))}
    for field in fields:
        path = field_index_path(field.name, field.type is FieldType.TEXT)
        if path in existing:
            continue
        if len(field_paths) >= MAX_FIELD_INDEXES:
            log.warning("field %s is not indexed: the store keeps at most %d field indexes",
                        field.name, MAX_FIELD_INDEXES)
            continue
        with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
            await db[CONTACTS].create_index([("database", ASCENDING), (path, ASCENDING)])
        field_paths.add(path)
        existing.add(path)
