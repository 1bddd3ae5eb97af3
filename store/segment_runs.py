"""The computation log of saved segments (`segment_runs`): the segment's analytics.

Every computation of a saved segment's members (count, export, send, copy, bulk update)
writes `{segment, database, at, count, duration_ms, purpose, actor, version, now}`: when
it finished, how many members it found, how long it took, what asked for it, and which
version and evaluation time it used. The segment document keeps the newest count as
`last_count: {count, at}` so showing it costs no extra query; `segment_sizes` gives the
size over time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from dsl.values import to_millis
from store import query
from store.clock import utc_now
from store.collections import SEGMENT_RUNS, SEGMENTS
from store.errors import StoreInputError
from store.segments import Segment, require_segment

PURPOSES = ("count", "export", "events-export", "send", "copy-to-list", "copy-to-database",
            "bulk-update")
MAX_SIZES = 10_000


@dataclass(frozen=True)
class SegmentRun:
    segment_id: str
    at: dt.datetime
    count: int
    duration_ms: int
    purpose: str
    actor: str
    version: int
    now: dt.datetime

    @classmethod
    def from_document(cls, document: dict) -> SegmentRun:
        return cls(segment_id=document["segment"], at=document["at"], count=document["count"],
                   duration_ms=document["duration_ms"], purpose=document["purpose"],
                   actor=document["actor"], version=document["version"], now=document["now"])


async def record_run(db: AsyncDatabase, segment: Segment, *, purpose: str, count: int,
                     duration_ms: int, actor: str, now: dt.datetime) -> SegmentRun:
    """Log one computation and make it the segment's last count unless a newer one is."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; one of {', '.join(PURPOSES)}")
    at = utc_now()
    run = SegmentRun(segment_id=segment.id, at=at, count=count, duration_ms=duration_ms,
                     purpose=purpose, actor=actor, version=segment.version, now=now)
    await db[SEGMENT_RUNS].insert_one({
        "segment": segment.id, "database": segment.database, "at": at, "count": count,
        "duration_ms": duration_ms, "purpose": purpose, "actor": actor,
        "version": segment.version, "now": now})
    await db[SEGMENTS].update_one({"_id": segment.id, "last_count.at": {"$not": {"$gt": at}}},
                                  {"$set": {"last_count": {"count": count, "at": at}}})
    return run


class RunCounter:
    """What a timed computation reports: how many members it went through."""

    count: int = 0


@asynccontextmanager
async def timed_run(db: AsyncDatabase, segment: Segment, *, purpose: str, actor: str,
                    now: dt.datetime) -> AsyncIterator[RunCounter]:
    """Time the body and log it as a run when it completes (a failed one is not logged)."""
    counter = RunCounter()
    started = time.perf_counter()
    yield counter
    await record_run(db, segment, purpose=purpose, count=counter.count,
                     duration_ms=round((time.perf_counter() - started) * 1000), actor=actor,
                     now=now)


LIVE_COUNT_LOG_INTERVAL = dt.timedelta(minutes=1)


async def count_segment(db: AsyncDatabase, segment_id: str, *, now: dt.datetime,
                        actor: str, maintained: bool = False) -> int:
    """The number of members of a saved segment at `now`, logged as a "count" run.
    `maintained`: the maintained live membership's count when the segment has one (read,
    not evaluated, as of the live clock; logged when it differs from the last count or
    that is older than a minute, so the last count and the size over time stay whole
    without a write per read), else the evaluation at `now`."""
    segment = await require_segment(db, segment_id)
    if maintained:
        from store.live.reading import live_count  # live maintenance imports this module

        started = time.perf_counter()
        members = await live_count(db, segment)
        if members is not None:
            from store.live.clock import wall_now

            live_now = wall_now()
            # logged when it says something new: another count, or a minute after the last
            if (segment.last_count != members or segment.last_count_at is None
                    or live_now - segment.last_count_at > LIVE_COUNT_LOG_INTERVAL):
                await record_run(db, segment, purpose="count", count=members,
                                 duration_ms=round((time.perf_counter() - started) * 1000),
                                 actor=actor, now=live_now)
            return members
    prepared = await query.prepare_segment(db, segment, now=now)
    async with timed_run(db, segment, purpose="count", actor=actor,
                         now=prepared.now) as run:
        run.count = await query.count(prepared)
    return run.count


async def list_runs(db: AsyncDatabase, segment_id: str, *, limit: int = 50) -> list[SegmentRun]:
    """The newest runs of a segment first."""
    cursor = db[SEGMENT_RUNS].find({"segment": segment_id}).sort("at", DESCENDING).limit(limit)
    return [SegmentRun.from_document(document) async for document in cursor]


async def segment_sizes(db: AsyncDatabase, segment_id: str, *,
                        since: dt.datetime | None = None,
                        limit: int = 1000) -> list[tuple[dt.datetime, int]]:
    """The segment's size over time: (at, count) of its newest `limit` runs (from `since`
    when given), oldest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_SIZES:
        raise StoreInputError(f"limit must be from 1 to {MAX_SIZES}, not {limit!r}")
    query: dict = {"segment": segment_id}
    if since is not None:
        query["at"] = {"$gte": to_millis(since)}
    cursor = (db[SEGMENT_RUNS].find(query, {"at": 1, "count": 1})
              .sort("at", DESCENDING).limit(limit))
    sizes = [(document["at"], document["count"]) async for document in cursor]
    sizes.reverse()
    return sizes


async def delete_runs(db: AsyncDatabase, segment_id: str) -> None:
    await db[SEGMENT_RUNS].delete_many({"segment": segment_id})
