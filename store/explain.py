"""Why is (or isn't) a contact in a segment? The explain tree of dsl/explain.py, on stored data.

`explain_contact` loads the contact and its events of the types the expression names,
resolves `in segment` references to the referenced segments' current definitions (as the
compiled pipeline does), and explains. For a saved segment it also checks the segment's
range (the contact's fixed bucket) and maximum, so `member` says exactly whether the
contact is among the members `count_members` / `iter_members` select.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from dsl import ast
from dsl.explain import ExplainNode, explain
from dsl.segments import referenced_segments
from dsl.values import bucket_bounds, bucket_of
from store.collections import EVENTS
from store.contacts import contact_key, get_contact
from dsl.typecheck import require_valid
from store.fields import database_zone, load_schema, require_database
from store.segments import Segment, find_segment
from store.selection import Selection, iter_members, resolve_segments


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


async def explain_contact(db: AsyncDatabase, database: str,
                          expr_or_segment: ast.Expression | Selection | Segment | str,
                          contact_id: str, now: dt.datetime | None = None, *,
                          source: str | None = None) -> ContactExplanation:
    """Explain `contact_id` against an expression, a Selection (with its range, maximum
    and now), a Segment, or a saved segment's name or id (`str`), at `now` (default: the
    current time; a Selection brings its own).

    An expression must fit the database's schema, as for counting (SegmentErrors with
    every problem otherwise; `source`, its text, places them)."""
    await require_database(db, database)
    segment = None
    if isinstance(expr_or_segment, str):
        segment = await find_segment(db, database, expr_or_segment)
    elif isinstance(expr_or_segment, Segment):
        segment = expr_or_segment
    if segment is not None:
        selection = segment.selection(now)
    elif isinstance(expr_or_segment, Selection):
        selection = expr_or_segment
    else:
        selection = Selection.at(expr_or_segment, now)

    expr = selection.expression
    if segment is None:
        require_valid(expr, await load_schema(db, database), source=source)
    defining = segment.name if segment is not None else None
    inlined = await resolve_segments(db, database, expr, defining=defining)  # cycles, names
    definitions = {ref: await resolve_segments(db, database, ast.InSegment(ref))
                   for ref in referenced_segments(expr)}

    bucket = bucket_of(database, contact_id)
    low, high = bucket_bounds(selection.range_from, selection.range_to)
    common = dict(database=database, contact_id=contact_id, now=selection.now, bucket=bucket,
                  range_from=selection.range_from, range_to=selection.range_to,
                  in_range=low <= bucket < high, maximum=selection.maximum,
                  segment_id=segment.id if segment else None,
                  segment_name=segment.name if segment else None,
                  segment_version=segment.version if segment else None)
    contact = await get_contact(db, database, contact_id)
    if contact is None:
        return ContactExplanation(found=False, tree=None, member=False, **common)

    event_types = sorted({node.event_type for node in ast.walk(inlined)
                          if isinstance(node, ast.EVENT_CONDITIONS)})
    events = []
    if event_types:
        cursor = db[EVENTS].find({"contact": contact_key(database, contact_id),
                                  "type": {"$in": event_types}},
                                 {"_id": 0, "type": 1, "time": 1, "attributes": 1})
        events = [event async for event in cursor]
    tree = explain(expr, contact, events, selection.now, segments=definitions,
                   zone=await database_zone(db, database))

    within = None
    if selection.maximum is not None and tree.held and common["in_range"]:
        within = False
        async for member in iter_members(db, database, selection):
            if member["id"] == contact_id:
                within = True
                break
    member = tree.held and common["in_range"] and within is not False
    return ContactExplanation(found=True, tree=tree, member=member, within_maximum=within,
                              **common)
