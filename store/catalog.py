"""The names a profile database knows, cached for completion and diagnostics as people type.

A database's *catalog* is its field schema, the event types seen, its list names, its live
segments' names and its time zone. Reading it costs several queries (about 35 ms for 500 fields and 200
segments on the embedded store), too much for every keystroke, and it rarely changes. So each
profile database's record carries a `catalog_revision` number that every change of those
names increments (`store.fields.touch_catalog`, called by the writes of store/fields.py,
lists.py, contacts.py, events.py and the segment modules, *after* they are written; a change
of time zone increments it in the update that writes the zone). A reader asks for the
revision first (one read by `_id`, which brings the time zone along), then uses its cached
catalog when the revision is the same, else loads it and caches it under that revision. Because the revision is read before
the names, a cached catalog is never older than its revision: the cache is exact, across
every server process sharing the store, not a guess with a time limit.

A text field's frequent values are statistics over contacts, which change all the time; they
are cached for `VALUES_SECONDS` instead (see `FrequentValuesCache`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from dsl.schema import FieldSchema
from dsl.temporal import UTC, Zone, zone_of
from dsl.values import fold
from store.collections import LIVE_SEGMENT, SEGMENTS
from store.events import list_event_types
from store.fields import DEFAULT_TIMEZONE, catalog_head, database_timezone, load_schema
from store.lists import list_lists

CATALOGS = 64  # databases kept per process


@dataclass(frozen=True)
class Catalog:
    schema: FieldSchema
    event_types: tuple[str, ...]
    lists: tuple[str, ...]
    segments: tuple[str, ...]
    timezone: str = DEFAULT_TIMEZONE  # the IANA name: its calendar days are the language's
    zone: Zone = UTC  # the same, ready for the compiler and the evaluator


async def segment_names(db: AsyncDatabase, database: str) -> list[str]:
    """The names of the live segments of a database."""
    cursor = db[SEGMENTS].find({"database": database, **LIVE_SEGMENT}, {"name": 1})
    return sorted([document["name"] async for document in cursor], key=str.casefold)


async def read_catalog(db: AsyncDatabase, database: str,
                       timezone: str | None = None) -> Catalog:
    """The catalog as stored now (independent reads, sent together); `timezone`: the
    database's, when already read with its revision."""
    reads = [load_schema(db, database), list_event_types(db, database),
             list_lists(db, database), segment_names(db, database)]
    if timezone is None:
        reads.append(database_timezone(db, database))
    schema, event_types, lists, segments, *read_zone = await asyncio.gather(*reads)
    timezone = read_zone[0] if read_zone else timezone
    return Catalog(schema=schema, event_types=tuple(event_types),
                   lists=tuple(item.name for item in lists), segments=tuple(segments),
                   timezone=timezone, zone=zone_of(timezone))


class CatalogCache:
    """Catalogs by (MongoDB database, profile database), each valid for one revision (see
    the module's text)."""

    def __init__(self, size: int = CATALOGS,
                 values: FrequentValuesCache | None = None) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[int, Catalog]] = OrderedDict()
        self.values = values or FrequentValuesCache()

    async def get(self, db: AsyncDatabase, database: str) -> Catalog:
        # first, and with the zone: see the module's text
        revision, timezone = await catalog_head(db, database)
        key = (db.name, database)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == revision:
            self._entries.move_to_end(key)
            return entry[1]
        catalog = await read_catalog(db, database, timezone)
        self._entries[key] = (revision, catalog)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return catalog


VALUES_SECONDS = 60.0
VALUES_KEPT = 1_000  # distinct values kept per field


@dataclass(frozen=True)
class FieldValues:
    """A text field's most frequent values (at most the cache's `kept`, most frequent first);
    `complete`: they are all its values (among the contacts scanned)."""

    values: tuple[str, ...]
    complete: bool
    at: float

    def starting_with(self, prefix: str, limit: int) -> list[str] | None:
        """The first `limit` values starting with `prefix` (ignoring letter case); None
        when the kept values cannot tell (fewer found, but more values exist)."""
        folded = fold(prefix)
        found = [value for value in self.values if fold(value).startswith(folded)][:limit]
        if len(found) < limit and not self.complete:
            return None
        return found


class FrequentValuesCache:
    """Each text field's top values, refreshed at most every `seconds`: the counts of
    frequent values change slowly, and a value suggested from a minute ago is still a value
    to type. Prefixes are answered from memory; a field with more distinct values than are
    kept asks the store again for a prefix the kept ones do not cover."""

    def __init__(self, seconds: float = VALUES_SECONDS, kept: int = VALUES_KEPT,
                 size: int = CATALOGS * 8) -> None:
        self.seconds = seconds
        self.kept = kept
        self.size = size
        self._entries: OrderedDict[tuple[str, str], FieldValues] = OrderedDict()

    def get(self, database: str, field: str) -> FieldValues | None:
        entry = self._entries.get((database, field))
        if entry is None or time.monotonic() - entry.at > self.seconds:
            return None
        return entry

    def put(self, database: str, field: str, values: list[str], complete: bool) -> FieldValues:
        entry = FieldValues(tuple(values), complete, time.monotonic())
        self._entries[(database, field)] = entry
        self._entries.move_to_end((database, field))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry


# The process's catalogs, read by every evaluation (store/query/prepare.py): exact, so one
# per process is enough.
shared_catalogs = CatalogCache()
