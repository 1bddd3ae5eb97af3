"""Settings and the connection to the store: a configured MongoDB, or the embedded server.

The embedded server is supervised while a store is open (`_supervise`): it is pinged every
SUPERVISE_SECONDS; when it has died (or stops answering) it is started again on its port,
with a growing pause between failed attempts (RESTART_BACKOFF), and the repair of
interrupted imports runs before it is reported up again. `Store.health` says what the
supervisor knows, for /healthz and /readyz and for refusing requests at once while the
store is down instead of letting each wait for its time limit.

The repair of interrupted imports (store.events.repair_interrupted) runs when the store
opens (a reading command on an embedded server prepared before first looks for their
markers, and opens in full only when there are some: `_open_checks`); a server opens it
with `repair_in_background`, so that it serves at once what does
not depend on the summaries being repaired (conditions on events of the databases being
repaired are refused meanwhile, store.events.exact_latest_event_times) and `Store.health`
says a repair is running. A serving process also repairs, within a second or two, what an
import dying beside it (another process, or one of its own requests failing half-way)
left behind (`_repair_loop`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from store import embedded
from store.catalog import CatalogCache
from store.collections import (FIXED_INDEXES, LIVE_PENDING, RETIRED_INDEXES, SUMMARY_PENDING,
                               ensure_collections)
from store.events import abandoned, repair_interrupted
from store.fields import DEFAULT_DATABASE, STANDARD_FIELDS, ensure_database
from store.tasks import REPAIR, SUPERVISOR, stop_if_cancelled

_DB_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}")
log = logging.getLogger(__name__)

SUPERVISE_SECONDS = 1.0
RESTART_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between failed restarts
UNANSWERED_PINGS = 5  # a live process that ignores this many pings in a row is restarted


@dataclass
class StoreHealth:
    """What is known of the store: `state` "up", "down" (not answering) or "restarting";
    `detail` the last problem; `restarts` how many times it was brought back."""

    state: str = "up"
    detail: str | None = None
    restarts: int = 0
    changed_at: float = field(default_factory=time.time)
    # while a repair of interrupted imports runs: what it repairs (the store still serves)
    repairing: str | None = None

    @property
    def available(self) -> bool:
        return self.state == "up"

    def set(self, state: str, detail: str | None = None) -> None:
        if state != self.state:
            log.warning("store %s%s", state, f": {detail}" if detail else "")
            self.changed_at = time.time()
        self.state, self.detail = state, detail

    def describe(self) -> str:
        if self.available:
            notes = [f"restarted {self.restarts} times"] if self.restarts else []
            if self.repairing:
                notes.append(f"repairing {self.repairing}")
            return "up" + (f" ({'; '.join(notes)})" if notes else "")
        return f"{self.state}: {self.detail}" if self.detail else self.state


@dataclass(frozen=True)
class StoreSettings:
    """Where the store is. `mongo_uri` None means the embedded server on `data_dir`."""

    mongo_uri: str | None = None
    data_dir: Path = Path("segmentql-data")
    db_name: str = "segmentql"
    query_timeout_ms: int = 30_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not _DB_NAME.fullmatch(self.db_name):
            raise ValueError(f"{self.db_name!r} is not a MongoDB database name "
                             "(1 to 63 letters A-Z, digits, _ and -)")
        if not isinstance(self.query_timeout_ms, int) or self.query_timeout_ms <= 0:
            raise ValueError(f"the query timeout must be a positive number of milliseconds, "
                             f"not {self.query_timeout_ms!r}")

    @classmethod
    def from_env(cls, **overrides: object) -> StoreSettings:
        """Settings from SEGMENTQL_MONGO_URI, SEGMENTQL_DATA_DIR, SEGMENTQL_MONGO_DB and
        SEGMENTQL_QUERY_TIMEOUT_MS; an explicit override that is not None wins."""
        known = {field.name for field in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown store settings: {', '.join(sorted(unknown))}")
        values: dict[str, object] = {}
        if uri := os.environ.get("SEGMENTQL_MONGO_URI", "").strip():
            values["mongo_uri"] = uri
        if data_dir := os.environ.get("SEGMENTQL_DATA_DIR", "").strip():
            values["data_dir"] = Path(data_dir)
        if db_name := os.environ.get("SEGMENTQL_MONGO_DB", "").strip():
            values["db_name"] = db_name
        if timeout := os.environ.get("SEGMENTQL_QUERY_TIMEOUT_MS", "").strip():
            try:
                values["query_timeout_ms"] = int(timeout)
            except ValueError:
                raise ValueError(f"SEGMENTQL_QUERY_TIMEOUT_MS={timeout!r} is not a number "
                                 "of milliseconds") from None
        values.update({name: value for name, value in overrides.items() if value is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Store:
    """An open store: the client, the SegmentQL database, and the embedded server if any."""

    client: AsyncMongoClient
    db: AsyncDatabase
    settings: StoreSettings
    embedded: embedded.EmbeddedServer | None = None
    # the names each profile database knows, for completion and diagnostics as people type
    catalogs: CatalogCache = field(default_factory=CatalogCache)
    health: StoreHealth = field(default_factory=StoreHealth)
    # one repair of interrupted imports at a time in this process (the supervisor's and
    # the repair loop's); repairs in several processes at once are safe all the same
    repair_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def make_client(uri: str, settings: StoreSettings, *, direct: bool) -> AsyncMongoClient:
    """A client whose every operation has the settings' time limit (CSOT `timeoutMS`)."""
    options: dict[str, object] = {"timeoutMS": settings.query_timeout_ms, "tz_aware": True,
                                  "appname": "segmentql"}
    if direct:
        options["directConnection"] = True
    return AsyncMongoClient(uri, **options)


async def prepare(db: AsyncDatabase, *, repair: bool = True) -> None:
    """Collections, indexes, the `main` profile database and every database's standard
    fields; idempotent. `repair`: repair interrupted imports first (else the caller does)."""
    from store.live.maintenance import repair as repair_live

    await ensure_collections(db)
    if repair:
        await repair_interrupted(db)
    await repair_live(db)
    await ensure_database(db, DEFAULT_DATABASE)
    async for document in db["profile_databases"].find({"_id": {"$ne": DEFAULT_DATABASE}},
                                                       {"_id": 1}):
        await ensure_database(db, document["_id"])


# What `prepare` makes sure of, as one key: a store prepared by a version that made other
# collections, indexes or standard fields is prepared again. Bump PREPARE_STEPS when
# `prepare` gains a step.
PREPARE_STEPS = 1


def _opening_checks_key() -> str:
    made = repr((PREPARE_STEPS, DEFAULT_DATABASE, STANDARD_FIELDS,
                 sorted((name, [index.document for index in indexes])
                        for name, indexes in FIXED_INDEXES.items()),
                 sorted(RETIRED_INDEXES.items())))
    return hashlib.sha256(made.encode()).hexdigest()[:16]


async def _left_unrepaired(db: AsyncDatabase) -> bool:
    """Whether any ingest or live-maintenance marker is in the store (one read): left by
    a process that died, or by one writing now."""
    found = await db[SUMMARY_PENDING].aggregate([
        {"$limit": 1}, {"$project": {"_id": 1}},
        {"$unionWith": {"coll": LIVE_PENDING,
                        "pipeline": [{"$limit": 1}, {"$project": {"_id": 1}}]}},
        {"$limit": 1}])
    return bool(await found.to_list(1))


async def _open_checks(db: AsyncDatabase, lease: embedded.EmbeddedLease | None, *,
                       repair: bool, read_only: bool) -> None:
    """`prepare`, or, for a reading command on an embedded server a process prepared
    before (embedded.json says so), only what a read needs: nothing, when no marker of an
    interrupted write is there; else `prepare` as always (it repairs before anything is
    read, or refuses, store.events.exact_latest_event_times)."""
    if lease is None:  # a MongoDB of its own: nothing records what was checked
        await prepare(db, repair=repair)
        return
    key = _opening_checks_key()
    known = embedded.prepared(lease, db.name)
    if read_only and known == key and not await _left_unrepaired(db):
        return
    await prepare(db, repair=repair)
    if known != key:
        await asyncio.to_thread(embedded.record_prepared, lease, db.name, key)


@asynccontextmanager
async def open_store(settings: StoreSettings | None = None, *,
                     repair_in_background: bool = False,
                     read_only: bool = False) -> AsyncIterator[Store]:
    """Open the store: connect (starting or reusing the embedded server when no URI is
    set), make sure its collections and indexes exist, and close it all on exit.
    `repair_in_background` (a server): the store is yielded before interrupted imports are
    repaired, and they are repaired beside it, as are those left later (`_repair_loop`).
    `read_only` (a command that only reads): on an embedded server whose opening checks
    were made by an earlier process, they are skipped when no interrupted write is left
    (`_open_checks`, docs/data-model.md "Opening the store")."""
    settings = settings or StoreSettings.from_env()
    lease: embedded.EmbeddedLease | None = None
    if settings.mongo_uri:
        client = make_client(settings.mongo_uri, settings, direct=False)
    else:
        lease = await embedded.acquire(settings.data_dir)
        client = make_client(lease.uri, settings, direct=True)
    tasks: list[asyncio.Task] = []
    try:
        db = client[settings.db_name]
        await _open_checks(db, lease, repair=not repair_in_background, read_only=read_only)
        store = Store(client=client, db=db, settings=settings,
                      embedded=lease.server if lease else None)
        if lease is not None:
            tasks.append(asyncio.create_task(_supervise(store, lease), name=SUPERVISOR))
        if repair_in_background:  # served before the repair loop first looks: say so now
            await _note_repair(store)
        if lease is not None or repair_in_background:
            # repaired (or found clean) just now unless in the background: the next look
            # is due in REPAIR_SECONDS
            tasks.append(asyncio.create_task(_repair_loop(
                store, first_look=0 if repair_in_background else REPAIR_SECONDS), name=REPAIR))
        yield store
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await client.close()
        finally:
            if lease is not None:
                await lease.aclose()


async def _supervise(store: Store, lease: embedded.EmbeddedLease) -> None:
    """Keep the embedded server running for `store` (see the module docstring)."""
    unanswered = 0
    failures = 0
    while True:
        await asyncio.sleep(SUPERVISE_SECONDS)
        if await embedded.answers(lease.server.port):
            unanswered = failures = 0
            if not store.health.available:
                store.health.set("up")
            continue
        unanswered += 1
        alive = embedded.process_alive(lease.server.pid)
        if alive and unanswered < UNANSWERED_PINGS:
            store.health.set("down", "the embedded store does not answer")
            continue
        store.health.set("restarting", "the embedded store stopped"
                         if not alive else "the embedded store stopped answering")
        try:
            server = await embedded.revive(lease)
            store.embedded = server
            await run_repair(store)  # what a kill may have left half-written
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported, and tried again later
            pause = RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)]
            failures += 1
            store.health.set("down", f"restarting the embedded store failed ({error}); "
                                     f"trying again in {pause:g} s")
            stop_if_cancelled()
            await asyncio.sleep(pause)
            continue
        unanswered = failures = 0
        store.health.restarts += 1
        store.health.set("up")


REPAIR_SECONDS = 1.0  # how often a serving process looks for imports left half-done


async def run_repair(store: Store) -> int:
    """Repair interrupted imports now (one repair at a time in this process); while it runs
    `store.health.repairing` says so. Returns the number of markers repaired."""
    async with store.repair_lock:
        if not await _note_repair(store):
            store.health.repairing = None
            return 0
        log.warning("repairing %s", store.health.repairing)
        try:
            return await repair_interrupted(store.db)
        finally:
            store.health.repairing = None


async def _note_repair(store: Store) -> bool:
    """Whether interrupted imports wait for repair; if so `store.health.repairing` names
    them (what readiness reports)."""
    waiting = [marker async for marker in store.db[SUMMARY_PENDING].find(
        {}, {"database": 1, "contacts": 1, "owner": 1})]
    waiting = [marker for marker in waiting if abandoned(marker)]
    if not waiting:
        return False
    contacts = sum(len(marker.get("contacts", ())) for marker in waiting)
    databases = sorted({marker["database"] for marker in waiting})
    store.health.repairing = (
        f"the event summaries of {contacts:,} contact{'s' if contacts != 1 else ''} "
        f"after an interrupted import (profile database{'s' if len(databases) > 1 else ''} "
        f"{', '.join(databases)}: conditions on events refused until it is done)")
    return True


async def _repair_loop(store: Store, first_look: float = 0) -> None:
    """Repair at once (after `first_look` seconds) what interrupted imports left, then
    whatever later ones leave (an import that died beside this process, a request of this
    process that failed half-way), so that the answers refused meanwhile come back by
    themselves."""
    await asyncio.sleep(first_look)
    while True:
        try:
            if store.health.available and \
                    await store.db[SUMMARY_PENDING].count_documents({}, limit=1):
                await run_repair(store)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - tried again at the next round
            log.warning("repairing event summaries failed: %s", error)
        stop_if_cancelled()
        await asyncio.sleep(REPAIR_SECONDS)
