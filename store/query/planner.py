"""Planning a prepared query: the MongoDB pipeline that selects its members.

`dsl/compiler.py` builds the pipeline; this module supplies what the pipeline needs from
the store (the latest event times, for the horizon; the contacts counted on the events
side, for the semi-join) and keeps the plan on the query, so the count and the listing of
one evaluation share it.
"""

from __future__ import annotations

from dsl import ast
from dsl.compiler import EventCounts, compile_segment, event_count_queries
from store.collections import EVENTS
from store.events import exact_latest_event_times
from store.offload import run_language, size_of

# A condition whose matching events belong to more contacts than this is joined instead:
# its `_id` list would grow the query past what is reasonable to send (20,000 keys are
# about 0.5 MB of BSON; MongoDB's limit is 16 MB).
SEMI_JOIN_CONTACTS = 20_000


async def plan(query, *, semi_join: bool = True) -> list[dict]:
    """The pipeline over `contacts` selecting the members of `query` (a PreparedQuery), a
    fresh list each call (callers append stages). With `semi_join` (to run it), the event
    conditions the summaries cannot answer are first counted on the events side; without
    (to show it), the pipeline is the data-independent form that joins them."""
    key = "run" if semi_join else "shown"
    if key not in query._plans:
        expr = query.inlined
        event_types = {node.event_type for node in ast.walk(expr)
                       if isinstance(node, ast.EVENT_CONDITIONS)}
        # summaries an interrupted import left behind are never read as exact (one read
        # with the latest times)
        latest = await exact_latest_event_times(query.db, query.database, event_types) \
            if event_types else {}
        counts = None
        if semi_join:
            counts = await count_events(query.db, event_count_queries(
                expr, query.schema, database=query.database, now=query.now,
                latest_events=latest, zone=query.zone, checked=True))
        query._plans[key] = await run_language(  # CPU work: off the event loop when big
            size_of(expr), compile_segment, expr, query.schema, database=query.database,
            now=query.now,
            range_from=query.range_from, range_to=query.range_to, maximum=query.maximum,
            latest_events=latest, event_counts=counts, zone=query.zone,
            events_collection=EVENTS, checked=True)
    return list(query._plans[key])


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
        async for row in await db[EVENTS].aggregate(query.pipeline + [{"$limit": limit + 1}]):
            found[row["_id"]] = row["n"]
        if len(found) <= limit:
            counts[query.index] = found
    return counts
