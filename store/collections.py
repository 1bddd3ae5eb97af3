"""The collections of the store and their fixed indexes (docs/data-model.md).

Field indexes and event-type indexes are created on demand by store/fields.py and
store/events.py, within caps that keep `contacts` under MongoDB's 64 indexes per
collection: `_id` + 2 fixed + 40 field indexes + 20 event-type indexes = 63.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

PROFILE_DATABASES = "profile_databases"
FIELDS = "fields"
CONTACTS = "contacts"
EVENTS = "events"
EVENT_TYPES = "event_types"
SUMMARY_PENDING = "summary_pending"
LISTS = "lists"
SEGMENTS = "segments"
SEGMENT_VERSIONS = "segment_versions"
SEGMENT_RUNS = "segment_runs"
CAMPAIGNS = "campaigns"
CAMPAIGN_RECIPIENTS = "campaign_recipients"
LIVE_CLOCKS = "live_clocks"
LIVE_SEGMENTS = "live_segments"
LIVE_MEMBERS = "live_members"
LIVE_CHANGES = "live_changes"
LIVE_PENDING = "live_pending"

# Inserts are acknowledged only once they are in the on-disk journal: SecantusDB does not
# flush its log otherwise, and inserts acknowledged just before the store was killed were
# lost (docs/compatibility.md). One flush per insert chunk; MongoDB means the same by it.
JOURNALED = WriteConcern(j=True)
WEBHOOKS = "webhooks"
LOCKS = "locks"  # short leases serialising steps that must not interleave (store/locks.py)

# The one spelling of "a segment not in the bin" (every segment document has `in_bin`).
LIVE_SEGMENT = {"in_bin": False}

MAX_FIELD_INDEXES = 40
MAX_EVENT_TYPE_INDEXES = 20

_NAMESPACE_EXISTS = 48
_INDEX_NOT_FOUND = 27

FIXED_INDEXES: dict[str, list[IndexModel]] = {
    PROFILE_DATABASES: [],
    FIELDS: [
        IndexModel([("database", ASCENDING), ("name_folded", ASCENDING)], unique=True,
                   name="database_name_folded"),
    ],
    CONTACTS: [
        IndexModel([("database", ASCENDING), ("bucket", ASCENDING)], name="database_bucket"),
        IndexModel([("database", ASCENDING), ("lists", ASCENDING)], name="database_lists"),
    ],
    EVENTS: [
        IndexModel([("contact", ASCENDING), ("type", ASCENDING), ("time", ASCENDING)],
                   name="contact_type_time"),
        IndexModel([("database", ASCENDING), ("type", ASCENDING), ("time", ASCENDING)],
                   name="database_type_time"),
    ],
    EVENT_TYPES: [IndexModel([("database", ASCENDING), ("type", ASCENDING)], name="database_type")],
    # sparse: only the markers a repair has claimed (an ingest looks for claims per batch)
    SUMMARY_PENDING: [IndexModel([("repairing_until", ASCENDING)], sparse=True,
                                 name="repairing_until")],
    LISTS: [
        IndexModel([("database", ASCENDING), ("name", ASCENDING)], name="database_name"),
    ],
    # Names are unique among the live segments of a database only: a segment in the bin
    # gives its name up (restoring it is refused while another live segment has it).
    SEGMENTS: [
        IndexModel([("database", ASCENDING), ("name_folded", ASCENDING)], unique=True,
                   partialFilterExpression=LIVE_SEGMENT, name="live_name_unique"),
        IndexModel([("database", ASCENDING), ("in_bin", ASCENDING), ("name_folded", ASCENDING),
                    ("_id", ASCENDING)], name="database_bin_name_id"),
        IndexModel([("references", ASCENDING)], name="references"),
    ],
    SEGMENT_VERSIONS: [
        IndexModel([("segment", ASCENDING), ("version", ASCENDING)], unique=True,
                   name="segment_version"),
    ],
    SEGMENT_RUNS: [
        IndexModel([("segment", ASCENDING), ("at", ASCENDING)], name="segment_at"),
    ],
    CAMPAIGNS: [
        IndexModel([("database", ASCENDING), ("name_folded", ASCENDING)], unique=True,
                   name="database_name_folded"),
        IndexModel([("segment_id", ASCENDING)], name="segment_id"),
    ],
    CAMPAIGN_RECIPIENTS: [
        IndexModel([("campaign", ASCENDING), ("_id", ASCENDING)], name="campaign_id"),
    ],
    # Live segments (docs/live-segments.md)
    LIVE_CLOCKS: [],
    LIVE_SEGMENTS: [IndexModel([("database", ASCENDING)], name="database")],
    LIVE_MEMBERS: [
        IndexModel([("segment", ASCENDING), ("member", ASCENDING)], name="segment_member"),
        IndexModel([("segment", ASCENDING), ("qualifies", ASCENDING), ("bucket", ASCENDING),
                    ("contact", ASCENDING)], name="segment_qualifies_order"),
        IndexModel([("database", ASCENDING), ("next_at", ASCENDING)], name="database_next_at"),
        IndexModel([("database", ASCENDING), ("contact", ASCENDING)], name="database_contact"),
    ],
    LIVE_CHANGES: [
        IndexModel([("segment", ASCENDING), ("seq", ASCENDING)], name="segment_seq"),
        IndexModel([("recorded_at", ASCENDING)], name="recorded_at"),
    ],
    LIVE_PENDING: [],
    WEBHOOKS: [IndexModel([("segment", ASCENDING)], name="segment")],
}

# Fixed indexes of earlier versions, dropped where a store still has them.
# contacts' unique `(database, id)`: `_id` (`<database>:<id>`) is unique already, no query
# reads it, and on SecantusDB a unique index made every contact write about a third
# slower (docs/compatibility.md).
RETIRED_INDEXES: dict[str, list[str]] = {CONTACTS: ["database_id"]}


async def ensure_collections(db: AsyncDatabase) -> None:
    """Create the collections and their fixed indexes, drop retired ones; idempotent,
    safe to race."""
    existing = set(await db.list_collection_names())
    for name, indexes in FIXED_INDEXES.items():
        if name not in existing:
            try:
                await db.create_collection(name)
            except CollectionInvalid:
                pass  # created meanwhile by another process
            except OperationFailure as error:
                if error.code != _NAMESPACE_EXISTS:
                    raise
        if indexes:
            await db[name].create_indexes(indexes)
    for name, retired in RETIRED_INDEXES.items():
        present = set(await db[name].index_information())
        for index in retired:
            if index in present:
                try:
                    await db[name].drop_index(index)
                except OperationFailure as error:
                    if error.code != _INDEX_NOT_FOUND:  # dropped meanwhile by another process
                        raise


async def contact_index_paths(db: AsyncDatabase) -> set[str]:
    """The second key of every `(database, <path>)` index on contacts (the paths are
    named by dsl/values.py `field_index_path` and `summary_index_path`)."""
    paths = set()
    async for index in await db[CONTACTS].list_indexes():
        keys = list(index["key"])
        if len(keys) == 2 and keys[0] == "database":
            paths.add(keys[1])
    return paths
