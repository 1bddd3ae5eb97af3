"""Why is (or isn't) a contact in a segment? The explain tree of dsl/explain.py, on stored data.

`explain_contact` loads the contact and its events of the types the expression names,
resolves `in segment` references to the referenced segments' current definitions (as the
compiled pipeline does), and explains. For a saved segment it also checks the segment's
range (the contact's fixed bucket) and maximum, so `member` says exactly whether the
contact is among the members `store.query` counts and lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from dsl import ast
from dsl.explain import ExplainNode, explain
from dsl.values import bucket_bounds, bucket_of
from store import query
from store.collections import EVENTS
from store.contacts import contact_key, get_contact
from store.offload import run_language, size_of
from store.segments import Segment, find_segment


@dataclass(frozen=True)
class ContactExplanation:
    """The explanation of one contact against an expression or a saved segment.

    `tree` is None when there is no such contact. `in_range`: the contact's bucket lies in
    the range. `within_maximum`: None without a maximum, or when the conditions or the
    range already leave the contact out; else whether it is among the first `maximum`
    members. `member` = the conditions hold, in range, within the maximum."""

    database: str
    contact_id: str
    now: dt.datetime
    found: bool
    tree: ExplainNode | None
    member: bool
    bucket: int
    range_from: float
    range_to: float
    in_range: bool
    maximum: int | None = None
    within_maximum: bool | None = None
    segment_id: str | None = None
    segment_name: str | None = None
    segment_version: int | None = None


async def explain_contact(prepared: query.PreparedQuery, contact_id: str, *,
                          segment: Segment | None = None) -> ContactExplanation:
    """Explain `contact_id` against a prepared query (its expression, range, maximum and
    `now`); `segment`: the saved segment it was prepared from, named in the answer."""
    db, database = prepared.db, prepared.database
    bucket = bucket_of(database, contact_id)
    low, high = bucket_bounds(prepared.range_from, prepared.range_to)
    common = dict(database=database, contact_id=contact_id, now=prepared.now, bucket=bucket,
                  range_from=prepared.range_from, range_to=prepared.range_to,
                  in_range=low <= bucket < high, maximum=prepared.maximum,
                  segment_id=segment.id if segment else None,
                  segment_name=segment.name if segment else None,
                  segment_version=segment.version if segment else None)
    contact = await get_contact(db, database, contact_id)
    if contact is None:
        return ContactExplanation(found=False, tree=None, member=False, **common)

    event_types = sorted({node.event_type for node in ast.walk(prepared.inlined)
                          if isinstance(node, ast.EVENT_CONDITIONS)})
    events = []
    if event_types:
        cursor = db[EVENTS].find({"contact": contact_key(database, contact_id),
                                  "type": {"$in": event_types}},
                                 {"_id": 0, "type": 1, "time": 1, "attributes": 1})
        events = [event async for event in cursor]
    tree = await run_language(size_of(prepared.expression) + len(events), explain,
                              prepared.expression, contact, events, prepared.now,
                              segments=prepared.definitions, zone=prepared.zone)

    within = None
    if prepared.maximum is not None and tree.held and common["in_range"]:
        within = False
        async for member in query.members(prepared):
            if member["id"] == contact_id:
                within = True
                break
    member = tree.held and common["in_range"] and within is not False
    return ContactExplanation(found=True, tree=tree, member=member, within_maximum=within,
                              **common)


async def explain_saved(db: AsyncDatabase, database: str, ref: str, contact_id: str, *,
                        now: dt.datetime) -> ContactExplanation:
    """Explain `contact_id` against the saved segment of `database` named (or with id) `ref`."""
    segment = await find_segment(db, database, ref)
    return await explain_contact(await query.prepare_segment(db, segment, now=now),
                                 contact_id, segment=segment)
