"""Running an expression against a profile database: resolve, compile, aggregate.

`dsl/` builds the pipeline; this module only supplies what the pipeline needs from the
store (the field schema, the referenced segments) and runs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dsl import ast
from dsl.compiler import MAXIMUM_ORDER, EventCounts, compile_segment, event_count_queries
from dsl.json_codec import from_json
from dsl.segments import inline_segments, referenced_segments
from dsl.temporal import normalize_now
from dsl.values import fold
from store.events import latest_event_times, require_exact_summaries
from store.fields import load_schema
from store.offload import run_language, size_of


@dataclass(frozen=True)
class Selection:
    """What to select: an expression with a range and a maximum, at a time `now`."""

    expression: ast.Expression
    now: dt.datetime
    range_from: float = 0
    range_to: float = 100
    maximum: int | None = None

    @classmethod
    def at(cls, expression: ast.Expression, now: dt.datetime | None = None, **settings):
        return cls(expression, normalize_now(now), **settings)


async def resolve_segments(db, database: str, expr: ast.Expression, *,
                           defining: str | None = None) -> ast.Expression:
    """`expr` with `in segment` references replaced by those segments' current definitions
    (by name, case-insensitively, or by id), transitively; a cycle is an error naming it.
    A segment in the bin is not found (so an expression naming it is refused)."""
    definitions: dict[str, ast.Expression] = {}
    names: dict[str, str] = {}
    pending = referenced_segments(expr)
    while pending:
        ref = pending.pop()
        if ref in definitions:
            continue
        found = await db.segments.find_one(
            {"database": database, "in_bin": {"$ne": True},
             "$or": [{"_id": ref}, {"name_folded": fold(ref)}]},
            {"name": 1, "json": 1})
        if found is None:
            continue  # inline_segments reports the unknown name with its position
        definitions[ref] = from_json(found["json"])
        names[ref] = found["name"]
        pending.extend(referenced_segments(definitions[ref]))
    return inline_segments(expr, definitions, names=names, start=defining)


async def pipeline_for(db, database: str, selection: Selection, *,
                       semi_join: bool = True) -> list[dict]:
    """The pipeline selecting the members. With `semi_join` (to run it), the event
    conditions the summaries cannot answer are first counted on the events side
    (`count_events`); without (to show it), the pipeline is the data-independent form that
    joins them."""
    schema = await load_schema(db, database)
    expr = await resolve_segments(db, database, selection.expression)
    event_types = {node.event_type for node in ast.walk(expr)
                   if isinstance(node, ast.EventCondition)}
    if event_types:  # summaries an interrupted import left behind are never read as exact
        await require_exact_summaries(db, database)
    latest = await latest_event_times(db, database, event_types)
    counts = None
    if semi_join:
        counts = await count_events(db, event_count_queries(
            expr, schema, database=database, now=selection.now, latest_events=latest))
    return await run_language(  # CPU work: off the event loop when big
        size_of(expr), compile_segment, expr, schema, database=database, now=selection.now,
        range_from=selection.range_from, range_to=selection.range_to,
        maximum=selection.maximum, latest_events=latest, event_counts=counts)


# A condition whose matching events belong to more contacts than this is joined instead:
# its `_id` list would grow the query past what is reasonable to send (20,000 keys are
# about 0.5 MB of BSON; MongoDB's limit is 16 MB).
SEMI_JOIN_CONTACTS = 20_000


async def count_events(db, queries: list[EventCounts], *,
                       limit: int | None = None) -> dict[int, dict[str, int]]:
    """Each query's contacts with their numbers of matching events, for the queries whose
    contacts are at most `limit` (default SEMI_JOIN_CONTACTS); the others are left out
    (compile_segment joins them). A negative limit counts none."""
    limit = SEMI_JOIN_CONTACTS if limit is None else limit
    counts: dict[int, dict[str, int]] = {}
    if limit < 0:
        return counts
    for query in queries:
        found: dict[str, int] = {}
        async for row in await db.events.aggregate(query.pipeline + [{"$limit": limit + 1}]):
            found[row["_id"]] = row["n"]
        if len(found) <= limit:
            counts[query.index] = found
    return counts


async def count_members(db, database: str, selection: Selection, *,
                        pipeline: list[dict] | None = None) -> int:
    """The number of members. `pipeline`: the selection's `pipeline_for`, when the caller
    has it already (a count and a listing of one evaluation share it, and with it the
    events counted for it)."""
    pipeline = pipeline if pipeline is not None else await pipeline_for(db, database, selection)
    async for row in await db.contacts.aggregate([*pipeline, {"$count": "members"}]):
        return row["members"]
    return 0


async def iter_members(db, database: str, selection: Selection, *,
                       projection: dict | None = None,
                       pipeline: list[dict] | None = None) -> AsyncIterator[dict]:
    """The members in the maximum's order (bucket, then id), streamed from a cursor
    (`pipeline` as for count_members)."""
    pipeline = list(pipeline) if pipeline is not None \
        else await pipeline_for(db, database, selection)
    if selection.maximum is None:
        pipeline.append({"$sort": dict(MAXIMUM_ORDER)})
    pipeline.append({"$project": projection or {"_id": 0, "id": 1}})
    async for document in await db.contacts.aggregate(pipeline, batchSize=1000):
        yield document
