"""Static lists: named, manually managed sets of contacts.

A list is `{_id: "<database>:<name>", database, name, name_folded, created_at, created_by}`
in `lists`; membership is the contact's `lists` array (docs/data-model.md), which the
language's `in list` reads. Names are unique per database ignoring letter case for lists
made here; the importers create a list under the exact name a contact row gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsl.values import fold
from store.clock import utc_now
from store.collections import CONTACTS, LISTS
from store.contacts import MAX_LIST_NAME_LENGTH, contact_key
from store.errors import NameTakenError, NotFoundError, StoreInputError
from store.fields import DEFAULT_DATABASE, require_database, touch_catalog, validate_database_name
from store.pages import Page, check_first, decode_cursor, encode_cursor
from store.results import MAX_ID_LENGTH

_CHUNK = 1000
_CURSOR = "list-member"
_MEMBER = {"_id": 0, "id": 1, "fields": 1, "lists": 1}


@dataclass(frozen=True)
class StaticList:
    database: str
    name: str
    created_at: dt.datetime | None = None


@dataclass
class ListChange:
    """What adding or removing ids did: `changed` contacts added (or removed), `unchanged`
    ones already in (or not in) the list, `unknown` ids with no contact in the database."""

    changed: int = 0
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)



def normalize_list_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreInputError(f"a list name must be a non-empty text, not {name!r}")
    name = name.strip()
    if len(name) > MAX_LIST_NAME_LENGTH:
        raise StoreInputError(f"the list name {name[:40]!r}... is longer than "
                              f"{MAX_LIST_NAME_LENGTH} characters")
    if any(ord(char) < 32 for char in name):
        raise StoreInputError(f"the list name {name[:40]!r} contains a control character")
    return name


async def _same_name(db: AsyncDatabase, database: str, name: str) -> str | None:
    """The stored name of the list called `name` ignoring letter case, if any."""
    exact = await db[LISTS].find_one({"_id": f"{database}:{name}"}, {"name": 1})
    if exact is not None:
        return exact["name"]
    folded = fold(name)
    async for document in db[LISTS].find({"database": database}, {"name": 1}):
        if fold(document["name"]) == folded:
            return document["name"]
    return None


async def create_list(db: AsyncDatabase, database: str, name: str, *,
                      actor: str) -> StaticList:
    """A new, empty static list; a name taken ignoring letter case is a NameTakenError."""
    await require_database(db, database)
    name = normalize_list_name(name)
    existing = await _same_name(db, database, name)
    if existing is not None:
        raise NameTakenError(f"a list named {existing} already exists in profile database "
                             f"{database}", suggestion="list names are unique ignoring letter case")
    now = utc_now()
    try:
        await db[LISTS].insert_one({"_id": f"{database}:{name}", "database": database,
                                    "name": name, "name_folded": fold(name),
                                    "created_at": now, "created_by": actor})
    except DuplicateKeyError:
        raise NameTakenError(f"a list named {name} already exists in profile database "
                             f"{database}") from None
    await touch_catalog(db, database)
    return StaticList(database, name, now)


async def ensure_list(db: AsyncDatabase, database: str, name: str, *, actor: str) -> str:
    """The stored name of the list `name` (ignoring letter case), created if missing."""
    name = normalize_list_name(name)
    existing = await _same_name(db, database, name)
    if existing is not None:
        return existing
    try:
        return (await create_list(db, database, name, actor=actor)).name
    except NameTakenError:  # created meanwhile
        return await find_list(db, database, name)


async def find_list(db: AsyncDatabase, database: str, name: str) -> str:
    """The stored name of the list called `name` ignoring letter case (NotFoundError)."""
    validate_database_name(database)
    existing = await _same_name(db, database, normalize_list_name(name))
    if existing is None:
        raise NotFoundError(f"no list named {name} in profile database {database}",
                            suggestion="create it first")
    return existing


async def list_lists(db: AsyncDatabase, database: str = DEFAULT_DATABASE) -> list[StaticList]:
    """The static lists of a database, by name."""
    validate_database_name(database)
    lists = [StaticList(database, document["name"], document.get("created_at"))
             async for document in db[LISTS].find({"database": database})]
    return sorted(lists, key=lambda item: (fold(item.name), item.name))


def _ids(contact_ids: Iterable[object]) -> list[str]:
    if isinstance(contact_ids, str):
        raise StoreInputError("give a list of contact ids, not one text")
    ids = []
    for contact_id in contact_ids:
        if not isinstance(contact_id, str) or not contact_id or len(contact_id) > MAX_ID_LENGTH:
            raise StoreInputError(f"{contact_id!r} is not a contact id")
        ids.append(contact_id)
    return list(dict.fromkeys(ids))


async def _change(db: AsyncDatabase, database: str, name: str, contact_ids: Iterable[str],
                  add: bool) -> ListChange:
    name = await find_list(db, database, name)
    ids = _ids(contact_ids)
    report = ListChange()
    for start in range(0, len(ids), _CHUNK):
        keys = [contact_key(database, contact_id) for contact_id in ids[start:start + _CHUNK]]
        found = {document["_id"] async for document in
                 db[CONTACTS].find({"_id": {"$in": keys}}, {"_id": 1})}
        report.unknown.extend(key.split(":", 1)[1] for key in keys if key not in found)
        if not found:
            continue
        async with _live_maintained(db, database, list(found), name):
            if add:
                result = await db[CONTACTS].update_many(
                    {"_id": {"$in": list(found)}, "lists": {"$ne": name}},
                    {"$addToSet": {"lists": name}, "$set": {"updated_at": utc_now()}})
            else:
                result = await db[CONTACTS].update_many(
                    {"_id": {"$in": list(found)}, "lists": name},
                    {"$pull": {"lists": name}, "$set": {"updated_at": utc_now()}})
        report.changed += result.modified_count
        report.unchanged += len(found) - result.modified_count
    return report


def _live_maintained(db: AsyncDatabase, database: str, keys: list[str], name: str):
    # imported here: live maintenance reads the store modules that import this one
    from store.live.maintenance import Touched, maintained

    return maintained(db, database, keys, Touched(lists={name}), "list")


async def add_to_list(db: AsyncDatabase, database: str, name: str,
                      contact_ids: Iterable[str]) -> ListChange:
    """Add contacts by id; ids with no contact are reported in `unknown`, not fatal."""
    return await _change(db, database, name, contact_ids, add=True)


async def remove_from_list(db: AsyncDatabase, database: str, name: str,
                           contact_ids: Iterable[str]) -> ListChange:
    """Remove contacts by id; ids with no contact are reported in `unknown`, not fatal."""
    return await _change(db, database, name, contact_ids, add=False)


async def list_members(db: AsyncDatabase, database: str, name: str, *, first: int = 100,
                       after: str | None = None) -> Page[dict]:
    """A page of a list's members (`{"id", "fields", "lists"}`) by contact id."""
    name = await find_list(db, database, name)
    first = check_first(first)
    query: dict = {"database": database, "lists": name}
    if after is not None:
        (contact_id,) = decode_cursor(_CURSOR, after, 1)
        query["_id"] = {"$gt": contact_key(database, contact_id)}
    cursor = db[CONTACTS].find(query, _MEMBER).sort("_id", ASCENDING).limit(first + 1)
    members = [document async for document in cursor]
    has_next = len(members) > first
    members = members[:first]
    for member in members:
        member.setdefault("fields", {})
        member.setdefault("lists", [])
    return Page(items=members, cursors=[encode_cursor(_CURSOR, member["id"])
                                        for member in members], has_next=has_next)


async def count_list_members(db: AsyncDatabase, database: str, name: str) -> int:
    name = await find_list(db, database, name)
    return await db[CONTACTS].count_documents({"database": database, "lists": name})
