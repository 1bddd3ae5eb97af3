"""The live segments of a profile database, with their `in segment` references inlined and
what they read (dsl/dependencies.py), cached per process while the database's live
revision is unchanged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dsl import ast
from dsl.dependencies import Reads, reads
from dsl.errors import SegmentError, SegmentErrors
from dsl.json_codec import from_json
from dsl.values import bucket_bounds
from store.collections import SEGMENTS
from store.live.clock import ClockState, read_clock
from store.selection import resolve_segments

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

    def in_range(self, bucket: int) -> bool:
        return self.low <= bucket < self.high


_cache: dict[tuple[str, str], tuple[int, list[LiveSegment]]] = {}


async def load_segment(db, document: dict) -> LiveSegment | None:
    try:
        expr = await resolve_segments(db, document["database"], from_json(document["json"]),
                                      defining=document["name"])
    except (SegmentError, SegmentErrors) as error:  # e.g. a referenced segment was purged
        log.warning("segment %s is not maintained: %s", document["_id"], error)
        return None
    low, high = bucket_bounds(document.get("range_from", 0), document.get("range_to", 100))
    return LiveSegment(document["_id"], document["database"], document["version"], expr,
                       reads(expr), low, high, document.get("maximum"))


async def live_segments(db, database: str) -> tuple[ClockState, list[LiveSegment]]:
    """The clock of `database` and its live segments (the non-binned ones)."""
    clock = await read_clock(db, database)
    key = (db.name, database)
    cached = _cache.get(key)
    if cached is not None and cached[0] == clock.revision:
        return clock, cached[1]
    segments = []
    async for document in db[SEGMENTS].find({"database": database, "in_bin": False}):
        segment = await load_segment(db, document)
        if segment is not None:
            segments.append(segment)
    _cache[key] = (clock.revision, segments)
    return clock, segments
