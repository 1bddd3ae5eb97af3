"""The live time of a profile database: the later of the wall clock and the instant the
sweep has reached (`live_clocks`: `{_id: database, swept_to, revision, lease}`).

`revision` counts the changes of the database's live segments (created, updated, binned,
restored): the registry's cache is exact while it is unchanged.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo import ReturnDocument

from dsl.temporal import normalize_now
from store.clock import utc_now
from store.collections import LIVE_CLOCKS

_frozen: dt.datetime | None = None


def wall_now() -> dt.datetime:
    """The store's clock (store/clock.py), unless a replay holds it (`frozen_at`)."""
    return _frozen if _frozen is not None else utc_now()


@contextmanager
def frozen_at(moment: dt.datetime):
    """Hold the wall clock at `moment` (replaying a stream of writes at chosen times)."""
    global _frozen
    previous, _frozen = _frozen, normalize_now(moment)
    try:
        yield
    finally:
        _frozen = previous


def set_frozen(moment: dt.datetime | None) -> None:
    global _frozen
    _frozen = None if moment is None else normalize_now(moment)


@dataclass(frozen=True)
class ClockState:
    database: str
    swept_to: dt.datetime | None
    revision: int

    def now(self) -> dt.datetime:
        wall = wall_now()
        return wall if self.swept_to is None or wall > self.swept_to else self.swept_to


async def read_clock(db, database: str) -> ClockState:
    document = await db[LIVE_CLOCKS].find_one({"_id": database}, {"swept_to": 1, "revision": 1})
    document = document or {}
    return ClockState(database, document.get("swept_to"), document.get("revision", 0))


async def bump_revision(db, database: str) -> None:
    await db[LIVE_CLOCKS].update_one({"_id": database}, {"$inc": {"revision": 1}}, upsert=True)


async def advance(db, database: str, to: dt.datetime) -> ClockState:
    """Record that the sweep reached `to` (never moves back)."""
    document = await db[LIVE_CLOCKS].find_one_and_update(
        {"_id": database}, {"$max": {"swept_to": to}}, upsert=True,
        return_document=ReturnDocument.AFTER)
    return ClockState(database, document.get("swept_to"), document.get("revision", 0))
