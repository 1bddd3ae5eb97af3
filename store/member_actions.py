"""Actions on a saved segment's current members, each streamed a chunk at a time and
logged as a run: copy into a static list, copy into another profile database, set one
field on all of them.

Each action checks everything it can before its first write (a bad value, a field typed
differently in the target database), so a refusal leaves the data as it was. An action
that fails midway (the server goes away) leaves the chunks done so far written; running
it again completes it, since every write is idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pymongo.asynchronous.database import AsyncDatabase

from dsl.schema import FieldType
from dsl.values import ValueRejected, coerce_field, fold
from store import query
from store.clock import utc_now
from store.collections import CONTACTS
from store.contacts import CREATE_TIME, contact_key, upsert_contacts
from store.errors import StoreInputError
from store.fields import define_field, list_databases, load_schema, require_database
from store.lists import ensure_list
from store.results import RowError
from store.segment_runs import timed_run
from store.segments import Segment, require_live, require_segment


@dataclass
class ActionReport:
    """`members` the segment's members at the time; `changed` the contacts written
    (added to the list, stored in the target, updated); `rejected` the rows the target
    refused (a copy only), with why."""

    members: int = 0
    changed: int = 0
    rejected: list[RowError] = field(default_factory=list)



async def _live_segment(db: AsyncDatabase, segment_id: str) -> Segment:
    segment = await require_segment(db, segment_id)
    require_live(segment)
    return segment


def _live(db: AsyncDatabase, database: str, keys: list[str], cause: str, **touched):
    """Live maintenance around a direct write of contacts (store/live/maintenance.py)."""
    from store.live.maintenance import Touched, maintained  # it imports the store modules

    return maintained(db, database, keys, Touched(**touched), cause)


async def copy_to_list(db: AsyncDatabase, segment_id: str, list_name: str, *,
                       now: dt.datetime, actor: str) -> ActionReport:
    """Add the members to a static list (created if missing; an existing list is found
    ignoring letter case). `changed`: members that were not in the list yet."""
    segment = await _live_segment(db, segment_id)
    name = await ensure_list(db, segment.database, list_name, actor=actor)
    prepared = await query.prepare_segment(db, segment, now=now)
    report = ActionReport()
    async with timed_run(db, segment, purpose="copy-to-list", actor=actor,
                         now=prepared.now) as run:
        async for members in query.chunks(prepared, projection={"_id": 1}):
            report.members += len(members)
            keys = [member["_id"] for member in members]
            async with _live(db, segment.database, keys, "list", lists={name}):
                result = await db[CONTACTS].update_many(
                    {"_id": {"$in": keys}, "lists": {"$ne": name}},
                    {"$addToSet": {"lists": name}, "$set": {"updated_at": utc_now()}})
            report.changed += result.modified_count
        run.count = report.members
    return report


async def copy_to_database(db: AsyncDatabase, segment_id: str, target: str, *,
                           now: dt.datetime, actor: str) -> ActionReport:
    """Copy the members (fields and lists; not events) into another profile database.

    A field the target lacks is declared there with the same type; a field the target has
    with another type (or under another letter case) refuses the copy before anything is
    written. A contact id the target has already is updated: the copied fields are set
    (CreateTime included: it is the contact's creation time) and the lists added."""
    segment = await _live_segment(db, segment_id)
    if target == segment.database:
        raise StoreInputError(f"segment {segment.name} already belongs to profile database "
                              f"{target}", suggestion="copy into another profile database")
    try:
        await require_database(db, target)
    except StoreInputError:
        known = ", ".join(await list_databases(db))
        raise StoreInputError(f"no profile database {target}",
                              suggestion=f"the profile databases are {known}") from None
    source_schema = await load_schema(db, segment.database)
    target_schema = await load_schema(db, target)
    by_folded = {fold(known.name): known for known in target_schema}
    missing = []
    for source_field in source_schema:
        known = by_folded.get(fold(source_field.name))
        if known is None:
            missing.append(source_field)
        elif known.name != source_field.name or known.type is not source_field.type:
            raise StoreInputError(
                f"field {source_field.name} is {source_field.type.value} in profile database "
                f"{segment.database} but {known.name} is {known.type.value} in {target}; "
                "nothing was copied",
                suggestion="rename or retype one of the two fields first")
    for new_field in missing:
        await define_field(db, target, new_field.name, new_field.type)

    prepared = await query.prepare_segment(db, segment, now=now)
    report = ActionReport()
    async with timed_run(db, segment, purpose="copy-to-database", actor=actor,
                         now=prepared.now) as run:
        async for members in query.chunks(prepared, projection={"_id": 0, "id": 1, "fields": 1,
                                                       "lists": 1}):
            report.members += len(members)
            written = await upsert_contacts(db, target, [
                {"id": member["id"], "fields": member.get("fields", {}),
                 "lists": member.get("lists", [])} for member in members])
            report.changed += written.stored
            report.rejected.extend(written.rejected)
        run.count = report.members
    return report


async def bulk_update_field(db: AsyncDatabase, segment_id: str, field_name: str,
                            value: object, *, now: dt.datetime,
                            actor: str) -> ActionReport:
    """Set one field of every member to `value` (typed like an imported value: "41" for a
    number, "2024-05-01" for a date); `None` removes the field. A value that does not fit
    the field is refused before anything is written. `changed`: contacts whose value
    changed (those that had it already are not written)."""
    segment = await _live_segment(db, segment_id)
    schema = await load_schema(db, segment.database)
    definition = schema.get(field_name)
    if definition is None:
        hint = schema.suggest(field_name)
        raise StoreInputError(f"unknown field {field_name}",
                              suggestion=f"did you mean {hint}?" if hint
                              else "declare the field first")
    try:
        stored = coerce_field(definition.type, value)
    except ValueRejected as error:
        raise StoreInputError(f"field {definition.name} ({definition.type.value}): {error}",
                              suggestion="nothing was changed") from None
    if stored is None and definition.name == CREATE_TIME:
        raise StoreInputError(f"field {CREATE_TIME} cannot be removed (it is set when the "
                              "contact is created)")
    path, folded = f"fields.{definition.name}", f"folded.{definition.name}"
    if stored is None:
        update: dict = {"$unset": {path: "", folded: ""}}
        differs: dict = {"$exists": True}
    elif definition.type is FieldType.TEXT:
        update = {"$set": {path: stored, folded: fold(stored)}}
        differs = {"$ne": stored}
    else:
        update = {"$set": {path: stored}}
        differs = {"$ne": stored}

    prepared = await query.prepare_segment(db, segment, now=now)
    report = ActionReport()
    async with timed_run(db, segment, purpose="bulk-update", actor=actor,
                         now=prepared.now) as run:
        async for members in query.chunks(prepared, projection={"_id": 0, "id": 1}):
            report.members += len(members)
            keys = [contact_key(segment.database, member["id"]) for member in members]
            stamped = {**update, "$set": {**update.get("$set", {}), "updated_at": utc_now()}}
            async with _live(db, segment.database, keys, "contact", fields={definition.name}):
                result = await db[CONTACTS].update_many({"_id": {"$in": keys}, path: differs},
                                                        stamped)
            report.changed += result.modified_count
        run.count = report.members
    return report
