"""Short leases in the store that serialise steps which must not interleave, across
coroutines, processes and servers sharing one MongoDB.

`locks`: `{_id: <name>, owner: <token> | None, expires_at}`. Taking a lock is one atomic
upsert that only matches a free or expired lock; when another owner holds it, the upsert's
insert collides on `_id` (DuplicateKeyError) and the taker waits and tries again. A lease
expires by itself (LEASE_SECONDS), so an owner that dies never blocks the others for long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from store.clock import utc_now
from store.collections import LOCKS
from store.errors import ConflictError

LEASE_SECONDS = 30.0
WAIT_SECONDS = 20.0



@asynccontextmanager
async def lease(db: AsyncDatabase, name: str, *, doing: str,
                wait: float = WAIT_SECONDS) -> AsyncIterator[None]:
    """Hold the lock `name` for the body; ConflictError when it stays taken for `wait`
    seconds (`doing` says what waited, for the message)."""
    token = secrets.token_hex(8)
    give_up = time.monotonic() + wait
    pause = 0.005
    while True:
        now = utc_now()
        try:
            await db[LOCKS].update_one(
                {"_id": name, "$or": [{"owner": None}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": token,
                          "expires_at": now + dt.timedelta(seconds=LEASE_SECONDS)}},
                upsert=True)
            break
        except DuplicateKeyError:
            if time.monotonic() > give_up:
                raise ConflictError(f"could not {doing}: another change that must not "
                                    "interleave with it is still in progress",
                                    suggestion="try again in a moment") from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
    try:
        yield
    finally:
        await db[LOCKS].update_one({"_id": name, "owner": token}, {"$set": {"owner": None}})
