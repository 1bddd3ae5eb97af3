"""Saved segments: create, read, update (each change a new version), rename, clone.

A segment document (`segments`):
```
{_id: "9f2c4e1ab03d7765",            # secrets.token_hex(8)
 database: "main", name: "Active buyers", name_folded: "active buyers",
 description, tags: [...], tags_folded: [...], access_groups: [...],
 expression: "<canonical text>", json: {<JSON form>}, range_from: 0, range_to: 100,
 maximum: null, references: [<ids of the segments it names directly>],
 version: 3, in_bin: false, change: {changed: [...], note},
 created_at, created_by, updated_at, updated_by, binned_at, binned_by,
 last_count: {count, at}}
```
Names are unique among the live segments of a database, ignoring letter case (a partial
unique index on `(database, name_folded)` where `in_bin` is false). The bin, restore and
purge live in store/segment_bin.py; listing in store/segment_search.py.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, replace
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsl.segments import referenced_segments
from dsl.values import fold
from store.clock import utc_now
from store.collections import LIVE_SEGMENT, SEGMENTS
from store.errors import ConflictError, NameTakenError, NotFoundError, StoreInputError
from store.fields import DEFAULT_DATABASE, require_database, touch_catalog
from store.locks import lease
from store.offload import read_saved_form
from store.query.prepare import prepare
from store.segment_definition import (VERSIONED, Definition, canonical, normalize_description,
                                      normalize_labels, normalize_maximum, normalize_name,
                                      normalize_range, parse_off_loop)
from store.segment_history import get_version, record_version


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""The default of every `update_segment` attribute: leave it as it is."""


@dataclass(frozen=True)
class Segment:
    """A saved segment as stored (see the module docstring)."""

    id: str
    database: str
    name: str
    description: str | None
    tags: tuple[str, ...]
    access_groups: tuple[str, ...]
    expression: str
    json: dict
    range_from: float
    range_to: float
    maximum: int | None
    version: int
    in_bin: bool
    references: tuple[str, ...]
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    binned_at: dt.datetime | None = None
    binned_by: str | None = None
    last_count: int | None = None
    last_count_at: dt.datetime | None = None

    @classmethod
    def from_document(cls, document: dict) -> Segment:
        last = document.get("last_count") or {}
        return cls(id=document["_id"], database=document["database"], name=document["name"],
                   description=document.get("description"),
                   tags=tuple(document.get("tags", ())),
                   access_groups=tuple(document.get("access_groups", ())),
                   expression=document["expression"], json=document["json"],
                   range_from=document.get("range_from", 0),
                   range_to=document.get("range_to", 100), maximum=document.get("maximum"),
                   version=document["version"], in_bin=bool(document.get("in_bin")),
                   references=tuple(document.get("references", ())),
                   created_at=document["created_at"], created_by=document["created_by"],
                   updated_at=document["updated_at"], updated_by=document["updated_by"],
                   binned_at=document.get("binned_at"), binned_by=document.get("binned_by"),
                   last_count=last.get("count"), last_count_at=last.get("at"))

    @property
    def definition(self) -> Definition:
        return Definition(name=self.name, description=self.description, tags=self.tags,
                          access_groups=self.access_groups, expression=self.expression,
                          json=self.json, range_from=self.range_from, range_to=self.range_to,
                          maximum=self.maximum)


def require_live(segment: Segment) -> None:
    """Work on a segment's members is refused while it is in the bin."""
    if segment.in_bin:
        raise StoreInputError(f"segment {segment.name} is in the bin",
                              suggestion="restore it first")


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise StoreInputError(f"who asked must be named (actor), not {actor!r}")
    return actor.strip()


def _definition_fields(definition: Definition) -> dict:
    return {**definition.to_document(), "name_folded": fold(definition.name),
            "tags_folded": [fold(tag) for tag in definition.tags]}


# --- reading -------------------------------------------------------------------------------------

async def get_segment(db: AsyncDatabase, segment_id: str) -> Segment | None:
    """The segment with this id (live or in the bin), or None."""
    if not isinstance(segment_id, str):
        return None
    document = await db[SEGMENTS].find_one({"_id": segment_id})
    return Segment.from_document(document) if document else None


async def require_segment(db: AsyncDatabase, segment_id: str) -> Segment:
    segment = await get_segment(db, segment_id)
    if segment is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    return segment


async def find_segment(db: AsyncDatabase, database: str, ref: str, *,
                       in_bin: bool | None = False) -> Segment:
    """The segment of `database` named `ref` (ignoring letter case) or with id `ref`.

    `in_bin`: False looks among live segments, True in the bin, None in both (a live one
    wins). Several binned segments can share a name: that is refused, naming their ids."""
    query: dict = {"database": database,
                   "$or": [{"_id": ref}, {"name_folded": fold(ref)}]}
    if in_bin is not None:
        query["in_bin"] = in_bin
    found = [Segment.from_document(document) async for document in db[SEGMENTS].find(query)]
    by_id = next((segment for segment in found if segment.id == ref), None)
    if by_id is not None:
        return by_id
    live = [segment for segment in found if not segment.in_bin]
    if live:
        return live[0]
    if len(found) > 1:
        raise StoreInputError(
            f"{len(found)} segments named {ref!r} are in the bin",
            suggestion="name one by its id: " + ", ".join(segment.id for segment in found))
    if found:
        return found[0]
    where = {False: "", True: " in the bin", None: ""}[in_bin]
    raise NotFoundError(f"no segment named {ref!r}{where} in profile database {database}",
                        suggestion="segments are named by name or id")


async def live_segment_changed(db: AsyncDatabase, segment_id: str) -> None:
    """Rebuild the segment's live membership (and its referrers'), or stop it in the bin."""
    from store.live.rebuild import segment_changed  # live maintenance imports this module

    await segment_changed(db, segment_id)


# --- creating ------------------------------------------------------------------------------------

async def create_segment(db: AsyncDatabase, *, name: str, expression: str | None = None,
                         json: dict | str | None = None, database: str = DEFAULT_DATABASE,
                         description: str | None = None, tags=(), access_groups=(),
                         range_from: float = 0, range_to: float = 100,
                         maximum: int | None = None, actor: str,
                         note: str | None = None) -> Segment:
    """Save a new segment at version 1. The expression comes as text or as JSON form
    (exactly one; "" is the segment of every contact). Refused with a StoreInputError or a
    language error (line and column for text) when anything does not fit; a name a live
    segment of the database has already (ignoring letter case) is a NameTakenError."""
    actor = _check_actor(actor)
    await require_database(db, database)
    name = normalize_name(name)
    range_from, range_to = normalize_range(range_from, range_to)
    expr, source = await parse_off_loop(expression, json)
    # Saving checks the expression and evaluates nothing (the check's time changes
    # nothing): it is checked at the save's own time, the one its record keeps.
    saved_at = utc_now()
    references = list((await prepare(db, database, parsed=expr, source=source, now=saved_at,
                                     own_names=[name])).references)
    text, form = canonical(expr)
    definition = Definition(name=name, description=normalize_description(description),
                            tags=normalize_labels(tags, "tag"),
                            access_groups=normalize_labels(access_groups, "access group"),
                            expression=text, json=form, range_from=range_from,
                            range_to=range_to, maximum=normalize_maximum(maximum))
    return await _insert(db, database, definition, references, actor=actor,
                         note=note, changed=list(VERSIONED), saved_at=saved_at)


async def _insert(db: AsyncDatabase, database: str, definition: Definition,
                  references: list[str], *, actor: str, note: str | None,
                  changed: list[str], saved_at: dt.datetime) -> Segment:
    await _refuse_taken_name(db, database, definition.name)
    document = {"_id": secrets.token_hex(8), "database": database,
                **_definition_fields(definition), "references": references, "version": 1,
                "in_bin": False, "change": {"changed": changed, "note": note},
                "created_at": saved_at, "created_by": actor, "updated_at": saved_at,
                "updated_by": actor}
    try:
        await db[SEGMENTS].insert_one(document)
    except DuplicateKeyError:  # a live segment took the name meanwhile
        await _refuse_taken_name(db, database, definition.name)
        raise
    await touch_catalog(db, database)
    await record_version(db, document)
    await live_segment_changed(db, document["_id"])
    return Segment.from_document(document)


async def _refuse_taken_name(db: AsyncDatabase, database: str, name: str,
                             exclude: str | None = None) -> None:
    query: dict = {"database": database, "name_folded": fold(name), **LIVE_SEGMENT}
    if exclude is not None:
        query["_id"] = {"$ne": exclude}
    taken = await db[SEGMENTS].find_one(query, {"name": 1})
    if taken is not None:
        raise NameTakenError(
            f"a segment named {taken['name']} already exists in profile database {database}",
            suggestion="segment names are unique ignoring letter case; pick another name")


async def clone_segment(db: AsyncDatabase, segment_id: str, name: str, *,
                        actor: str) -> Segment:
    """A new segment (version 1) with the definition, tags, access groups and database of
    another one, under a new name; its version notes `cloned from <name> v<version>`."""
    actor = _check_actor(actor)
    source = await require_segment(db, segment_id)
    name = normalize_name(name)
    expr = await read_saved_form(source.json)
    saved_at = utc_now()
    references = list((await prepare(db, source.database, parsed=expr, now=saved_at,
                                     own_names=[name])).references)
    definition = replace(source.definition, name=name)
    return await _insert(db, source.database, definition, references, actor=actor,
                         note=f"cloned from {source.name} v{source.version}",
                         changed=list(VERSIONED), saved_at=saved_at)


# --- updating ------------------------------------------------------------------------------------

async def update_segment(db: AsyncDatabase, segment_id: str, *, actor: str,
                         name: str = UNSET, description: str | None = UNSET, tags=UNSET,
                         access_groups=UNSET, expression: str | None = UNSET,
                         json: dict | str | None = UNSET, range_from: float = UNSET,
                         range_to: float = UNSET, maximum: int | None = UNSET,
                         database: str = UNSET, note: str | None = None,
                         expected_version: int | None = None) -> Segment:
    """Change the given attributes (the others stay); a real change makes a new version,
    recording who, when and which attributes changed. Giving the values a segment already
    has changes nothing and makes no version. `maximum=None` removes the maximum.

    Refused: a segment in the bin; another profile database (fixed at creation); a name
    another live segment has; a rename while other live segments refer to this one by its
    name (they would silently lose it: they are listed); anything create_segment refuses.
    `expected_version` (optional) refuses the update when someone saved a newer version."""
    actor = _check_actor(actor)
    stored = await db[SEGMENTS].find_one({"_id": segment_id}) if isinstance(segment_id, str) \
        else None
    if stored is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    current = Segment.from_document(stored)
    if current.in_bin:
        raise StoreInputError(f"segment {current.name} is in the bin",
                              suggestion="restore it before changing it")
    if database is not UNSET and database != current.database:
        raise StoreInputError(
            f"segment {current.name} belongs to profile database {current.database}; a "
            "segment's profile database is fixed when it is created",
            suggestion="clone it into a new segment of the other database instead")
    if expected_version is not None and expected_version != current.version:
        raise ConflictError(f"segment {current.name} is at version {current.version}, not "
                            f"{expected_version}", suggestion="reload it and apply the change again")
    if expression is not UNSET and json is not UNSET:
        raise StoreInputError("give the expression either as text or as JSON form",
                              suggestion="exactly one of expression and json")

    old = current.definition
    new_name = old.name if name is UNSET else normalize_name(name)
    low, high = normalize_range(old.range_from if range_from is UNSET else range_from,
                                old.range_to if range_to is UNSET else range_to)
    if expression is UNSET and json is UNSET:
        text, form = old.expression, old.json
        expr, source = await read_saved_form(form), None
    else:
        expr, source = await parse_off_loop(None if expression is UNSET else expression,
                                            None if json is UNSET else json)
        text, form = canonical(expr)
    new = Definition(
        name=new_name,
        description=old.description if description is UNSET else normalize_description(description),
        tags=old.tags if tags is UNSET else normalize_labels(tags, "tag"),
        access_groups=(old.access_groups if access_groups is UNSET
                       else normalize_labels(access_groups, "access group")),
        expression=text, json=form, range_from=low, range_to=high,
        maximum=old.maximum if maximum is UNSET else normalize_maximum(maximum))
    changed = new.changes_from(old)
    if not changed:
        return current

    if fold(new.name) != fold(old.name):
        await _refuse_taken_name(db, current.database, new.name, exclude=current.id)
        await _refuse_breaking_rename(db, current)
    async def check_and_write() -> Segment:
        saved_at = utc_now()
        references = list(current.references)
        if "expression" in changed:
            references = list((await prepare(
                db, current.database, parsed=expr, source=source, now=saved_at,
                own_id=current.id, own_names=[old.name, new.name])).references)

        # Record the version this starts from (a no-op unless a crash lost it), then move to
        # the next one only if nobody else did meanwhile.
        await record_version(db, stored)
        try:
            document = await db[SEGMENTS].find_one_and_update(
                {"_id": current.id, "version": current.version, **LIVE_SEGMENT},
                {"$set": {**_definition_fields(new), "references": references,
                          "version": current.version + 1,
                          "change": {"changed": changed, "note": note},
                          "updated_at": saved_at, "updated_by": actor}},
                return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            await _refuse_taken_name(db, current.database, new.name, exclude=current.id)
            raise
        if document is None:
            raise ConflictError(f"segment {current.name} was changed or moved to the bin while "
                                "this update was prepared",
                                suggestion="reload it and apply the change again")
        if "name" in changed:
            await touch_catalog(db, current.database)
        await record_version(db, document)
        if set(changed) & {"expression", "range_from", "range_to", "maximum"}:
            await live_segment_changed(db, document["_id"])
        return Segment.from_document(document)

    if "expression" not in changed:
        return await check_and_write()
    # The cycle check reads the other segments' references and the write changes this
    # one's: two updates interleaving could each pass before the other's write and store
    # a cycle (A -> B, B -> A). Within one database they take turns.
    async with lease(db, f"segment-references:{current.database}",
                     doing=f"change segment {current.name}"):
        return await check_and_write()


async def _refuse_breaking_rename(db: AsyncDatabase, segment: Segment) -> None:
    """Refuse renaming a segment that live segments name in `in segment "<name>"`:
    their references would stop resolving. (References by id survive a rename.)"""
    by_name = []
    async for document in db[SEGMENTS].find({"references": segment.id, **LIVE_SEGMENT},
                                            {"name": 1, "json": 1}):
        refs = referenced_segments(await read_saved_form(document["json"]))
        if any(ref != segment.id and fold(ref) == fold(segment.name) for ref in refs):
            by_name.append(document["name"])
    if by_name:
        names = ", ".join(sorted(by_name, key=fold))
        raise StoreInputError(
            f"segment {segment.name} is referred to by name in segment"
            f"{'s' if len(by_name) > 1 else ''} {names}; renaming it would break "
            f"{'them' if len(by_name) > 1 else 'it'}",
            suggestion=f'refer to it by id there (in segment "{segment.id}"), then rename it')


async def restore_version(db: AsyncDatabase, segment_id: str, version: int, *,
                          actor: str) -> Segment:
    """Make an old version's definition current again (as a new version)."""
    old = await get_version(db, segment_id, version)
    definition = old.definition
    return await update_segment(
        db, segment_id, actor=actor, name=definition.name, description=definition.description,
        tags=definition.tags, access_groups=definition.access_groups, json=definition.json,
        range_from=definition.range_from, range_to=definition.range_to,
        maximum=definition.maximum, note=f"restored from v{version}")
