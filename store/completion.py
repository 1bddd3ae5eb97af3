"""What completion and diagnostics need to know about a profile database, from the store.

`completion_context(db, database, text, offset)` gathers the database's catalog (the field
schema, the event types seen, the list names and the live segments' names: store/catalog.py)
and, when the cursor stands where a text field's value goes, that one field's most frequent
values. With `cache` (a server keeps one, `Store.catalogs`) both come from memory while they
are current. The language functions (dsl.completion.complete, dsl.diagnostics.diagnose)
stay pure and synchronous: a resolver awaits this, then calls them.
"""

from __future__ import annotations

import re

from pymongo.asynchronous.database import AsyncDatabase

from dsl.completion import CompletionContext, value_request
from dsl.schema import FieldSchema, FieldType
from dsl.values import fold
from store.catalog import Catalog, CatalogCache, read_catalog
from store.collections import CONTACTS
from store.fields import load_schema

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


async def cached_frequent_values(db: AsyncDatabase, database: str, field: str,
                                 cache: CatalogCache, *, prefix: str = "",
                                 limit: int = FREQUENT_VALUES,
                                 schema: FieldSchema | None = None) -> list[str]:
    """`frequent_values`, answered from the field's kept top values while they are fresh;
    the store is asked for the prefix when the kept values cannot tell."""
    values = cache.values
    kept = values.get(database, field)
    if kept is None:
        top = await frequent_values(db, database, field, limit=values.kept + 1, schema=schema)
        kept = values.put(database, field, top[:values.kept], len(top) <= values.kept)
    found = kept.starting_with(prefix, limit)
    if found is None:
        return await frequent_values(db, database, field, prefix=prefix, limit=limit,
                                     schema=schema)
    return found


async def load_catalog(db: AsyncDatabase, database: str,
                       cache: CatalogCache | None = None) -> Catalog:
    """The database's catalog: from `cache` when it is current, else from the store."""
    return await cache.get(db, database) if cache is not None \
        else await read_catalog(db, database)


async def completion_context(db: AsyncDatabase, database: str, text: str | None = None,
                             offset: int | None = None, *,
                             values_limit: int = FREQUENT_VALUES,
                             cache: CatalogCache | None = None) -> CompletionContext:
    """Everything complete() can offer for this database; with `text` and `offset`, also
    the frequent values (starting with what is typed) of the text field whose value is
    being written at the cursor."""
    catalog = await load_catalog(db, database, cache)
    values: dict[str, list[str]] = {}
    if text is not None and offset is not None:
        request = value_request(text, offset, catalog.schema)
        if request is not None:
            field, typed = request
            if cache is not None:
                values[field] = await cached_frequent_values(
                    db, database, field, cache, prefix=typed, limit=values_limit,
                    schema=catalog.schema)
            else:
                values[field] = await frequent_values(db, database, field, prefix=typed,
                                                      limit=values_limit, schema=catalog.schema)
    return CompletionContext(schema=catalog.schema, event_types=catalog.event_types,
                             lists=catalog.lists, segments=catalog.segments, values=values)
