"""DataLoaders: nested fields of many rows cost one query per field, not one per row.

One set per request (never shared: a cache must not outlive the request it was made for).
Each loader collects the keys asked for in one tick of the event loop and answers them with
one query:

- `contacts`: contact documents by `_id` (`<database>:<id>`): event summaries, and the
  contacts of campaign recipients;
- `events`: the newest events of contacts, by (contact `_id`, type or None, how many);
  one aggregation per distinct (type, how many), `$topN` per contact;
- `lists`: static list documents by `_id` (`<database>:<name>`);
- `list_sizes`: how many members lists have, by (database, name), one aggregation;
- `segments`: segments by id (a campaign's target);
- `type_names`: per database, summary key -> event type (to name a contact's summaries).
"""

from __future__ import annotations

from collections import defaultdict

from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader

from dsl.values import summary_key
from store.collections import CONTACTS, EVENT_TYPES, EVENTS, LISTS, SEGMENTS
from store.segments import Segment

EventKey = tuple[str, str | None, int]


class Loaders:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.contacts: DataLoader[str, dict | None] = DataLoader(self._contacts)
        self.events: DataLoader[EventKey, list[dict]] = DataLoader(self._events)
        self.lists: DataLoader[str, dict | None] = DataLoader(self._lists)
        self.list_sizes: DataLoader[tuple[str, str], int] = DataLoader(self._list_sizes)
        self.segments: DataLoader[str, Segment | None] = DataLoader(self._segments)
        self.type_names: DataLoader[str, dict[str, str]] = DataLoader(self._type_names)

    async def _by_id(self, collection: str, keys: list[str],
                     projection: dict | None = None) -> list[dict | None]:
        found = {document["_id"]: document async for document in
                 self.db[collection].find({"_id": {"$in": list(set(keys))}}, projection)}
        return [found.get(key) for key in keys]

    async def _contacts(self, keys: list[str]) -> list[dict | None]:
        return await self._by_id(CONTACTS, keys, {"folded": 0})

    async def _lists(self, keys: list[str]) -> list[dict | None]:
        return await self._by_id(LISTS, keys)

    async def _list_sizes(self, keys: list[tuple[str, str]]) -> list[int]:
        names: dict[str, set[str]] = defaultdict(set)
        for database, name in keys:
            names[database].add(name)
        sizes: dict[tuple[str, str], int] = {}
        for database, wanted in names.items():
            pipeline = [{"$match": {"database": database, "lists": {"$in": sorted(wanted)}}},
                        {"$project": {"_id": 0, "lists": 1}}, {"$unwind": "$lists"},
                        {"$match": {"lists": {"$in": sorted(wanted)}}},
                        {"$group": {"_id": "$lists", "n": {"$sum": 1}}}]
            async for group in await self.db[CONTACTS].aggregate(pipeline):
                sizes[(database, group["_id"])] = group["n"]
        return [sizes.get(key, 0) for key in keys]

    async def _type_names(self, databases: list[str]) -> list[dict[str, str]]:
        names: dict[str, dict[str, str]] = defaultdict(dict)
        async for document in self.db[EVENT_TYPES].find({"database": {"$in": list(set(databases))}},
                                                        {"database": 1, "type": 1}):
            names[document["database"]][summary_key(document["type"])] = document["type"]
        return [names[database] for database in databases]

    async def _segments(self, keys: list[str]) -> list[Segment | None]:
        documents = await self._by_id(SEGMENTS, keys)
        return [Segment.from_document(document) if document else None
                for document in documents]

    async def _events(self, keys: list[EventKey]) -> list[list[dict]]:
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
            async for group in await self.db[EVENTS].aggregate(pipeline):
                answers[(group["_id"], event_type, first)] = group["events"]
        return [answers.get(key, []) for key in keys]
