"""Exports of a saved segment's current members, streamed in chunks.

- CSV (`export_csv`, `write_csv`): a header row `id` then every field of the database's
  schema in schema order (standard fields first, then custom fields in the order they were
  declared); one row per member in the maximum's order. Dates are ISO 8601 UTC with `Z`,
  booleans `true`/`false`, a missing value an empty cell.
- Event history (`export_events`, `write_events`): JSON Lines, one event a line,
  `{"id", "contact", "type", "time", "attributes"}`, for the members a chunk at a time
  (within a chunk: by contact id, then time). `id` is the integrator's event id, or the
  stored ObjectId's hex for an event sent without one (so a re-import is still de-duplicated).

Each completed export is logged as a run ("export", "events-export") with its member count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import BinaryIO

import orjson
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from store import query
from store.collections import EVENTS
from store.contacts import contact_key
from store.csv_out import CsvChunks, cell, iso_utc
from store.fields import load_schema
from store.segment_runs import timed_run
from store.segments import Segment, require_live, require_segment

CSV_ID = "id"
EVENT_CHUNK = 200  # members whose events are read in one query


async def _live_segment(db: AsyncDatabase, segment_id: str) -> Segment:
    segment = await require_segment(db, segment_id)
    require_live(segment)
    return segment


async def export_csv(db: AsyncDatabase, segment_id: str, *, now: dt.datetime,
                     actor: str) -> AsyncIterator[str]:
    """The members as CSV text, in chunks (the header row comes first)."""
    segment = await _live_segment(db, segment_id)
    names = [field.name for field in await load_schema(db, segment.database)]
    prepared = await query.prepare_segment(db, segment, now=now)
    chunks = CsvChunks()
    chunks.add([CSV_ID, *names])
    async with timed_run(db, segment, purpose="export", actor=actor,
                         now=prepared.now) as run:
        async for members in query.chunks(prepared, projection={"_id": 0, "id": 1, "fields": 1}):
            run.count += len(members)
            for member in members:
                values = member.get("fields", {})
                text = chunks.add([member["id"], *(cell(values.get(name)) for name in names)])
                if text:
                    yield text
        text = chunks.flush()
        if text:
            yield text


async def write_csv(db: AsyncDatabase, segment_id: str, out: BinaryIO, *,
                    now: dt.datetime, actor: str) -> int:
    """Write the members as UTF-8 CSV to a binary file; the number of bytes written."""
    return await _write(export_csv(db, segment_id, now=now, actor=actor), out)


async def _write(chunks: AsyncIterator[str], out: BinaryIO) -> int:
    written = 0
    async for text in chunks:
        data = text.encode("utf-8")
        out.write(data)
        written += len(data)
    return written


def _event_line(event: dict, database: str) -> bytes:
    raw_id = event["_id"]
    prefix = f"{database}:"
    event_id = raw_id[len(prefix):] if isinstance(raw_id, str) else str(raw_id)
    attributes = {name: iso_utc(value) if isinstance(value, dt.datetime) else value
                  for name, value in event.get("attributes", {}).items()}
    return orjson.dumps({"id": event_id, "contact": event["contact"][len(prefix):],
                         "type": event["type"], "time": iso_utc(event["time"]),
                         "attributes": attributes}) + b"\n"


async def export_events(db: AsyncDatabase, segment_id: str, *,
                        now: dt.datetime, actor: str) -> AsyncIterator[str]:
    """The members' events as JSON Lines text, in chunks."""
    segment = await _live_segment(db, segment_id)
    prepared = await query.prepare_segment(db, segment, now=now)
    async with timed_run(db, segment, purpose="events-export", actor=actor,
                         now=prepared.now) as run:
        async for members in query.chunks(prepared, projection={"_id": 0, "id": 1}, size=EVENT_CHUNK):
            run.count += len(members)
            keys = [contact_key(segment.database, member["id"]) for member in members]
            cursor = (db[EVENTS].find({"contact": {"$in": keys}},
                                      {"folded": 0, "database": 0})
                      .sort([("contact", ASCENDING), ("time", ASCENDING), ("_id", ASCENDING)]))
            lines = bytearray()
            async for event in cursor:
                lines += _event_line(event, segment.database)
                if len(lines) >= 64 * 1024:
                    yield lines.decode("utf-8")
                    lines = bytearray()
            if lines:
                yield lines.decode("utf-8")


async def write_events(db: AsyncDatabase, segment_id: str, out: BinaryIO, *,
                       now: dt.datetime, actor: str) -> int:
    """Write the members' events as JSON Lines to a binary file; the bytes written."""
    return await _write(export_events(db, segment_id, now=now, actor=actor), out)
