"""Batched reads: many rows' nested data in one query per kind (what the GraphQL loaders
ask for, one tick of the event loop at a time).

- `contacts_by_key`: contact documents by `_id` (`<database>:<id>`);
- `newest_events`: the newest events of contacts, by (contact `_id`, type or None, how
  many); one aggregation per distinct (type, how many), `$topN` per contact;
- `lists_by_key`: static list documents by `_id` (`<database>:<name>`);
- `list_sizes`: how many members lists have, by (database, name), one aggregation;
- `segments_by_id`: segments by id;
- `event_type_names`: per database, summary key -> event type.
"""

from __future__ import annotations

from collections import defaultdict

from pymongo.asynchronous.database import AsyncDatabase

from dsl.values import summary_key
from store.collections import CONTACTS, EVENT_TYPES, EVENTS, LISTS, SEGMENTS
from store.segments import Segment

EventKey = tuple[str, str | None, int]


async def _by_id(db: AsyncDatabase, collection: str, keys: list[str],
                 projection: dict | None = None) -> list[dict | None]:
    found = {document["_id"]: document async for document in
             db[collection].find({"_id": {"$in": list(set(keys))}}, projection)}
    return [found.get(key) for key in keys]


async def contacts_by_key(db: AsyncDatabase, keys: list[str]) -> list[dict | None]:
    return await _by_id(db, CONTACTS, keys, {"folded": 0})


async def lists_by_key(db: AsyncDatabase, keys: list[str]) -> list[dict | None]:
    return await _by_id(db, LISTS, keys)


async def list_sizes(db: AsyncDatabase, keys: list[tuple[str, str]]) -> list[int]:
    names: dict[str, set[str]] = defaultdict(set)
    for database, name in keys:
        names[database].add(name)
    sizes: dict[tuple[str, str], int] = {}
    for database, wanted in names.items():
        pipeline = [{"$match": {"database": database, "lists": {"$in": sorted(wanted)}}},
                    {"$project": {"_id": 0, "lists": 1}}, {"$unwind": "$lists"},
                    {"$match": {"lists": {"$in": sorted(wanted)}}},
                    {"$group": {"_id": "$lists", "n": {"$sum": 1}}}]
        async for group in await db[CONTACTS].aggregate(pipeline):
            sizes[(database, group["_id"])] = group["n"]
    return [sizes.get(key, 0) for key in keys]


async def event_type_names(db: AsyncDatabase, databases: list[str]) -> list[dict[str, str]]:
    names: dict[str, dict[str, str]] = defaultdict(dict)
    async for document in db[EVENT_TYPES].find({"database": {"$in": list(set(databases))}},
                                            {"database": 1, "type": 1}):
        names[document["database"]][summary_key(document["type"])] = document["type"]
    return [names[database] for database in databases]


async def segments_by_id(db: AsyncDatabase, keys: list[str]) -> list[Segment | None]:
    documents = await _by_id(db, SEGMENTS, keys)
    return [Segment.from_document(document) if document else None
            for document in documents]


async def newest_events(db: AsyncDatabase, keys: list[EventKey]) -> list[list[dict]]:
    groups: dict[tuple[str | None, int], set[str]] = defaultdict(set)
    for contact, event_type, first in keys:
        groups[(event_type, first)].add(contact)
    answers: dict[EventKey, list[dict]] = {}
    for (event_type, first), contacts in groups.items():
        if first <= 0:
            continue
        match: dict = {"contact": {"$in": sorted(contacts)}}
        if event_type is not None:
            match["type"] = event_type
        pipeline = [
            {"$match": match},
            {"$group": {"_id": "$contact", "events": {"$topN": {
                "n": first, "sortBy": {"time": -1, "_id": -1},
                "output": {"_id": "$_id", "type": "$type", "time": "$time",
                           "attributes": "$attributes"}}}}},
        ]
        async for group in await db[EVENTS].aggregate(pipeline):
            answers[(group["_id"], event_type, first)] = group["events"]
    return [answers.get(key, []) for key in keys]
