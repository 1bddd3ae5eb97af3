"""Reading the maintained membership: the count a segment has now, and the instant it is
exact for."""

from __future__ import annotations

import datetime as dt

from store.collections import LIVE_SEGMENTS
from store.live.clock import read_clock


async def live_count(db, segment) -> int | None:
    """The maintained member count of a saved segment (a `store.segments.Segment`), or None
    when it is not maintained at its current version (in the bin, or not built yet)."""
    if segment.in_bin:
        return None
    document = await db[LIVE_SEGMENTS].find_one({"_id": segment.id},
                                                {"built_version": 1, "members": 1})
    if document is None or document.get("built_version") != segment.version:
        return None
    return document.get("members", 0)


async def membership_as_of(db, segment) -> dt.datetime | None:
    """The instant the maintained membership is exact for: where the sweep of the segment's
    database has reached (writes are applied as they arrive); None when not maintained."""
    if segment.in_bin:
        return None
    document = await db[LIVE_SEGMENTS].find_one({"_id": segment.id}, {"built_version": 1})
    if document is None or document.get("built_version") != segment.version:
        return None
    return (await read_clock(db, segment.database)).swept_to
