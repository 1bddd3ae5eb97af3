"""Planning a prepared query: the MongoDB pipeline that selects its members.

`dsl/compiler.py` builds the pipeline; this module supplies what the pipeline needs from
the store (the latest event times, for the horizon; the contacts counted on the events
side, for the semi-join) and keeps the plan on the query, so the count and the listing of
one evaluation share it. `parts` splits a plan that leads with many counted contacts into
pipelines of ID_CHUNK ids each, which store/query/run.py runs side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast
from dsl.compiler import EventCounts, compile_segment, event_count_queries, maximum_stages
from dsl.values import bucket_bounds, bucket_of
from store.collections import EVENTS
from store.events import exact_latest_event_times
from store.lookups import IN_CHUNK
from store.offload import run_language, size_of

# A condition whose matching events belong to more contacts than this is joined instead:
# its `_id` list would grow the query past what is reasonable to send (20,000 keys are
# about 0.5 MB of BSON; MongoDB's limit is 16 MB).
SEMI_JOIN_CONTACTS = 20_000
# The contacts of a semi-join are read this many ids per query (store/lookups.py: the one
# size of a look-up by many keys), PARALLEL_PARTS queries at a time: SecantusDB checks each
# contact it fetches against the whole `_id $in` list, so one query of n ids costs about n²
# (docs/compatibility.md). 438 ids on the engine bench: 556 ms in one query, 169 ms as 9
# queries of 50 one after the other, 59 ms side by side.
ID_CHUNK = IN_CHUNK
PARALLEL_PARTS = 8


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
        # Every row in the first batch: on SecantusDB a `getMore` for the rest cost about
        # 200 ms more for 843 rows (docs/compatibility.md); at most 20,001 short rows.
        async for row in await db[EVENTS].aggregate(query.pipeline + [{"$limit": limit + 1}],
                                                    batchSize=limit + 1):
            found[row["_id"]] = row["n"]
        if len(found) <= limit:
            counts[query.index] = found
    return counts


@dataclass(frozen=True)
class Part:
    """A pipeline over `contacts` selecting the members among some of a semi-join's
    contacts. `last` is the (bucket, `_id`) key of the last of those contacts: every member
    of a later part comes after it in the maximum's order."""

    pipeline: list[dict]
    last: tuple[int, str]


async def parts(query) -> list[Part] | None:
    """The plan of `query` split by the contacts its events-side counts selected, in the
    maximum's order and without the maximum (the caller applies it across the parts); None
    when the plan runs as one pipeline: no leading `_id $in`, at most ID_CHUNK ids in it,
    or a maximum of 0.

    Exact because every stage after the leading `_id $in`, before the maximum, looks at one
    contact at a time (`$match`, `$addFields`, `$lookup` by the contact, `$project`): a
    partition of the ids partitions the members. The ids are sorted by (bucket, `_id`),
    where a contact's bucket is the hash of its `_id` (dsl.values.bucket_of,
    docs/data-model.md), known before the contact is read; ids outside the range are left
    out (the pipeline tests the range too)."""
    if "parts" not in query._plans:
        query._plans["parts"] = _split(query, await plan(query))
    return query._plans["parts"]


def _split(query, pipeline: list[dict]) -> list[Part] | None:
    tail = maximum_stages(query.maximum)
    if query.maximum == 0 or pipeline[len(pipeline) - len(tail):] != tail:
        return None
    body = pipeline[:len(pipeline) - len(tail)]
    leading = body[0].get("$match") if body else None
    if not isinstance(leading, dict) or list(leading) != ["_id"] \
            or not isinstance(leading["_id"], dict) or list(leading["_id"]) != ["$in"] \
            or len(leading["_id"]["$in"]) <= ID_CHUNK:
        return None
    low, high = bucket_bounds(query.range_from, query.range_to)
    keys = []
    for key in leading["_id"]["$in"]:
        database, _, contact_id = key.partition(":")
        bucket = bucket_of(database, contact_id)
        if low <= bucket < high:
            keys.append((bucket, key))
    keys.sort()
    return [Part([{"$match": {"_id": {"$in": [key for _, key in chunk]}}}, *body[1:]],
                 chunk[-1])
            for chunk in (keys[start:start + ID_CHUNK] for start in range(0, len(keys), ID_CHUNK))]
