"""Time passing: the sweep re-evaluates the (segment, contact) pairs whose next change fell
due up to an instant T, each at its own due instant (the change's recorded time is that
instant, not when the sweep ran), until none is due; then the database's live clock is T.

Several processes may share a store: a sweep of a database claims a lease on its
`live_clocks` record first (renewed as it goes; a dead sweeper's lease expires), and what
it records is idempotent (membership.py), so a sweep cut short is simply run again."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from dsl.temporal import normalize_now
from store.collections import LIVE_CLOCKS, LIVE_MEMBERS, SEGMENTS
from store.errors import StoreInputError
from store.live.changes import purge_expired
from store.live.clock import advance, read_clock, wall_now
from store.live.evaluation import evaluate_pairs, read_contacts
from store.live.membership import apply_outcomes
from store.live.rebuild import ensure_built
from store.live.registry import live_segments

LEASE = dt.timedelta(seconds=30)
_BATCH = 500
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SweepBackwards(StoreInputError):
    pass


@dataclass(frozen=True)
class SweepReport:
    database: str
    swept_to: dt.datetime | None
    evaluated: int = 0
    changes: int = 0
    skipped: str | None = None  # why nothing was done


async def _claim(db, database: str, owner: str) -> bool:
    wall = wall_now()
    try:
        await db[LIVE_CLOCKS].find_one_and_update(
            {"_id": database, "$or": [{"lease.until": {"$lt": wall}}, {"lease": None},
                                      {"lease.owner": owner}]},
            {"$set": {"lease": {"owner": owner, "until": wall + LEASE}}}, upsert=True)
    except DuplicateKeyError:  # the record exists and another process holds the lease
        return False
    return True


async def _release(db, database: str, owner: str) -> None:
    await db[LIVE_CLOCKS].update_one({"_id": database, "lease.owner": owner},
                                     {"$set": {"lease": None}})


async def sweep(db, *, now: dt.datetime | None = None, database: str | None = None,
                owner: str = PROCESS) -> list[SweepReport]:
    """Apply the time-based changes due up to `now` (default: the current time) in one or
    every profile database. An explicit `now` earlier than where a database's sweep has
    reached is refused (SweepBackwards); the default time simply skips such a database."""
    target = normalize_now(now) if now is not None else wall_now()
    if database is not None:
        databases = [database]
    else:
        databases = sorted(set(await db[SEGMENTS].distinct("database", {"in_bin": False})))
    reports = []
    for name in databases:
        clock = await read_clock(db, name)
        if clock.swept_to is not None and target < clock.swept_to:
            if now is not None:
                raise SweepBackwards(
                    f"profile database {name} is already swept to "
                    f"{clock.swept_to.isoformat().replace('+00:00', 'Z')}; sweeping to "
                    f"{target.isoformat().replace('+00:00', 'Z')} would move time backwards",
                    suggestion="give a --now at or after that instant (or none for now)")
            reports.append(SweepReport(name, clock.swept_to, skipped="ahead of the clock"))
            continue
        if not await _claim(db, name, owner):
            reports.append(SweepReport(name, clock.swept_to, skipped="another process sweeps"))
            continue
        try:
            reports.append(await _sweep_database(db, name, target, owner))
        finally:
            await _release(db, name, owner)
    await purge_expired(db, wall_now())
    return reports


async def _sweep_database(db, database: str, target: dt.datetime, owner: str) -> SweepReport:
    await ensure_built(db, database)
    _, segments = await live_segments(db, database)
    by_id = {segment.id: segment for segment in segments}
    evaluated = changes = 0
    while True:
        due = [document async for document in db[LIVE_MEMBERS].find(
            {"database": database, "next_at": {"$lte": target}},
            {"segment": 1, "contact": 1, "next_at": 1}).sort("next_at", ASCENDING).limit(_BATCH)]
        if not due:
            break
        orphans = [document["_id"] for document in due if document["segment"] not in by_id]
        if orphans:  # a segment no longer maintained
            await db[LIVE_MEMBERS].update_many({"_id": {"$in": orphans}},
                                               {"$set": {"next_at": None}})
        due = [document for document in due if document["segment"] in by_id]
        keys = {f"{database}:{document['contact']}" for document in due}
        contacts = await read_contacts(db, keys, [by_id[d["segment"]] for d in due],
                                       min(document["next_at"] for document in due))
        pairs = []
        for document in due:
            contact = contacts.get(f"{database}:{document['contact']}")
            if contact is None:
                await db[LIVE_MEMBERS].update_one({"_id": document["_id"]},
                                                  {"$set": {"next_at": None}})
                continue
            pairs.append((by_id[document["segment"]], contact, document["next_at"]))
        outcomes = await evaluate_pairs(pairs)
        evaluated += len(outcomes)
        changes += await apply_outcomes(db, database, by_id, outcomes, "time", wall_now())
        await db[LIVE_CLOCKS].update_one({"_id": database, "lease.owner": owner},
                                         {"$set": {"lease.until": wall_now() + LEASE}})
    state = await advance(db, database, target)
    return SweepReport(database, state.swept_to, evaluated, changes)
