"""Settings and the connection to the store: a configured MongoDB, or the embedded server."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from store import embedded
from store.catalog import CatalogCache
from store.collections import ensure_collections
from store.events import repair_interrupted
from store.live.maintenance import repair as repair_live
from store.fields import DEFAULT_DATABASE, ensure_database

_DB_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}")


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

    def with_db_name(self, db_name: str) -> StoreSettings:
        return replace(self, db_name=db_name)


@dataclass
class Store:
    """An open store: the client, the SegmentQL database, and the embedded server if any."""

    client: AsyncMongoClient
    db: AsyncDatabase
    settings: StoreSettings
    embedded: embedded.EmbeddedServer | None = None
    # the names each profile database knows, for completion and diagnostics as people type
    catalogs: CatalogCache = field(default_factory=CatalogCache)


def make_client(uri: str, settings: StoreSettings, *, direct: bool) -> AsyncMongoClient:
    """A client whose every operation has the settings' time limit (CSOT `timeoutMS`)."""
    options: dict[str, object] = {"timeoutMS": settings.query_timeout_ms, "tz_aware": True,
                                  "appname": "segmentql"}
    if direct:
        options["directConnection"] = True
    return AsyncMongoClient(uri, **options)


async def prepare(db: AsyncDatabase) -> None:
    """Collections, indexes, the `main` profile database and every database's standard
    fields; idempotent."""
    await ensure_collections(db)
    await repair_interrupted(db)
    await repair_live(db)
    await ensure_database(db, DEFAULT_DATABASE)
    async for document in db["profile_databases"].find({"_id": {"$ne": DEFAULT_DATABASE}},
                                                       {"_id": 1}):
        await ensure_database(db, document["_id"])


@asynccontextmanager
async def open_store(settings: StoreSettings | None = None) -> AsyncIterator[Store]:
    """Open the store: connect (starting or reusing the embedded server when no URI is
    set), make sure its collections and indexes exist, and close it all on exit."""
    settings = settings or StoreSettings.from_env()
    lease: embedded.EmbeddedLease | None = None
    if settings.mongo_uri:
        client = make_client(settings.mongo_uri, settings, direct=False)
    else:
        lease = await embedded.acquire(settings.data_dir)
        client = make_client(lease.uri, settings, direct=True)
    try:
        db = client[settings.db_name]
        await prepare(db)
        yield Store(client=client, db=db, settings=settings,
                    embedded=lease.server if lease else None)
    finally:
        try:
            await client.close()
        finally:
            if lease is not None:
                await lease.aclose()
