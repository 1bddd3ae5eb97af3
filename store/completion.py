"""What completion and diagnostics need to know about a profile database, from the store.

`completion_context(db, database, text, offset)` gathers the field schema, the event types
seen, the list names, the live segments' names and, when the cursor stands where a text
field's value goes, that one field's most frequent values. The language functions
(dsl.completion.complete, dsl.diagnostics.diagnose) stay pure and synchronous: a resolver
awaits this, then calls them.
"""

from __future__ import annotations

import re

from pymongo.asynchronous.database import AsyncDatabase

from dsl.completion import CompletionContext, value_request
from dsl.schema import FieldSchema, FieldType
from dsl.values import fold
from store.collections import CONTACTS, SEGMENTS
from store.events import list_event_types
from store.fields import load_schema
from store.lists import list_lists

FREQUENT_VALUES = 20
# Frequent values are counted over at most this many contacts having the field (the first
# ones by the field's index): a bounded cost on any database size, exact on small ones.
SCAN_LIMIT = 50_000


async def frequent_values(db: AsyncDatabase, database: str, field: str, *, prefix: str = "",
                          limit: int = FREQUENT_VALUES, scan_limit: int = SCAN_LIMIT,
                          schema: FieldSchema | None = None) -> list[str]:
    """The most frequent values of a text field, most frequent first (ties by text); values
    that differ only by letter case count as one, shown in their most frequent spelling.
    `prefix` keeps those starting with it, ignoring letter case."""
    schema = schema or await load_schema(db, database)
    definition = schema.get(field)
    if definition is None or definition.type is not FieldType.TEXT:
        return []
    path = f"folded.{field}"
    match: dict = {"database": database, path: {"$type": "string", "$ne": ""}}
    if prefix:
        match[path] = {"$type": "string", "$ne": "", "$regex": "^" + re.escape(fold(prefix))}
    pipeline = [{"$match": match}, {"$limit": scan_limit},
                # each spelling counted, then the spellings of one folded value together,
                # shown as its most frequent spelling
                {"$group": {"_id": {"folded": f"${path}", "value": f"$fields.{field}"},
                            "count": {"$sum": 1}}},
                {"$sort": {"count": -1, "_id.value": 1}},
                {"$group": {"_id": "$_id.folded", "count": {"$sum": "$count"},
                            "value": {"$first": "$_id.value"}}},
                {"$sort": {"count": -1, "_id": 1}}, {"$limit": limit}]
    return [row["value"] async for row in await db[CONTACTS].aggregate(pipeline)
            if isinstance(row.get("value"), str)]


async def segment_names(db: AsyncDatabase, database: str) -> list[str]:
    """The names of the live segments of a database."""
    cursor = db[SEGMENTS].find({"database": database, "in_bin": False}, {"name": 1})
    return sorted([document["name"] async for document in cursor], key=str.casefold)


async def completion_context(db: AsyncDatabase, database: str, text: str | None = None,
                             offset: int | None = None, *,
                             values_limit: int = FREQUENT_VALUES) -> CompletionContext:
    """Everything complete() can offer for this database; with `text` and `offset`, also
    the frequent values (starting with what is typed) of the text field whose value is
    being written at the cursor."""
    schema = await load_schema(db, database)
    values: dict[str, list[str]] = {}
    if text is not None and offset is not None:
        request = value_request(text, offset, schema)
        if request is not None:
            field, typed = request
            values[field] = await frequent_values(db, database, field, prefix=typed,
                                                  limit=values_limit, schema=schema)
    return CompletionContext(
        schema=schema,
        event_types=await list_event_types(db, database),
        lists=[item.name for item in await list_lists(db, database)],
        segments=await segment_names(db, database),
        values=values,
    )
