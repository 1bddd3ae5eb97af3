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

from functools import partial

from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader

from store import batch_reads
from store.batch_reads import EventKey
from store.segments import Segment


class Loaders:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.contacts: DataLoader[str, dict | None] = DataLoader(
            partial(batch_reads.contacts_by_key, db))
        self.events: DataLoader[EventKey, list[dict]] = DataLoader(
            partial(batch_reads.newest_events, db))
        self.lists: DataLoader[str, dict | None] = DataLoader(
            partial(batch_reads.lists_by_key, db))
        self.list_sizes: DataLoader[tuple[str, str], int] = DataLoader(
            partial(batch_reads.list_sizes, db))
        self.segments: DataLoader[str, Segment | None] = DataLoader(
            partial(batch_reads.segments_by_id, db))
        self.type_names: DataLoader[str, dict[str, str]] = DataLoader(
            partial(batch_reads.event_type_names, db))
