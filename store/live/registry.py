"""The live segments of a profile database, with their `in segment` references inlined and
what they read (dsl/dependencies.py), cached per process while the database's live
revision is unchanged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dsl import ast
from dsl.dependencies import Reads, reads
from dsl.errors import SegmentError, SegmentErrors
from dsl.temporal import UTC, Zone
from dsl.values import bucket_bounds
from store.collections import LIVE_SEGMENT, SEGMENTS
from store.live.clock import ClockState, read_clock, wall_now
from store import query
from store.errors import StoreError
from store.segment_definition import Definition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveSegment:
    id: str
    database: str
    version: int
    expression: ast.Expression  # `in segment` inlined
    reads: Reads
    low: int  # the buckets [low, high) of its range
    high: int
    maximum: int | None
    zone: Zone = UTC  # the database's: its calendar days

    def in_range(self, bucket: int) -> bool:
        return self.low <= bucket < self.high


_cache: dict[tuple[str, str], tuple[int, list[LiveSegment]]] = {}


async def load_segment(db, document: dict) -> LiveSegment | None:
    try:  # the one evaluation entry: references inlined, the database's zone read
        prepared = await query.prepare(db, document["database"], now=wall_now(),
                                       definition=Definition.from_document(document),
                                       own_id=document["_id"])
    except (SegmentError, SegmentErrors, StoreError) as error:  # e.g. a purged reference
        log.warning("segment %s is not maintained: %s", document["_id"], error)
        return None
    expr = prepared.inlined
    low, high = bucket_bounds(prepared.range_from, prepared.range_to)
    return LiveSegment(document["_id"], document["database"], document["version"], expr,
                       reads(expr), low, high, prepared.maximum, prepared.zone)


async def live_segments(db, database: str) -> tuple[ClockState, list[LiveSegment]]:
    """The clock of `database` and its live segments (the non-binned ones)."""
    clock = await read_clock(db, database)
    key = (db.name, database)
    cached = _cache.get(key)
    if cached is not None and cached[0] == clock.revision:
        return clock, cached[1]
    segments = []
    async for document in db[SEGMENTS].find({"database": database, **LIVE_SEGMENT}):
        segment = await load_segment(db, document)
        if segment is not None:
            segments.append(segment)
    _cache[key] = (clock.revision, segments)
    return clock, segments
