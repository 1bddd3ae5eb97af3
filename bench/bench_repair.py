"""The repair of an interrupted import against the size of the database.

    .venv/bin/python -m bench.bench_repair [--sizes 20000 200000] [--batch 1000]
                                           [--batch-contacts 100] [--data DIR]

One embedded store (in DIR, default a temporary folder) is filled, size after size, with
events of other contacts (written straight into `events` and `event_types`: the repair
never reads them, which is the point). At each size the same kind of interrupted import is
left behind: `--batch` events over `--batch-contacts` contacts that already have 20 events
each, inserted by an ingest whose process "died" before applying them (its marker's owner
set to a dead process). Then `repair_interrupted` is timed, and, for comparison, the same
repair of a marker of the older format (whose batch cannot be told apart: the database's
whole `event_types` recomputed with a `$group` over all its events).

Each repair is checked: the batch contacts' summaries and the event-type counts equal what
the stored events give. Prints one table row per size.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bson import ObjectId

from store import embedded
from store.connection import StoreSettings, make_client, prepare
from store.contacts import upsert_contacts
from store.events import EventIngest, repair_interrupted, track_events

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TYPES = ["MailOpen", "MailClick", "PageVisit"]
HISTORY = 20  # events each batch contact has before the interrupted import


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def _fill(db, start: int, stop: int) -> None:
    """Events n in [start, stop) of contacts nobody repairs, straight into the store."""
    chunk = 10_000
    for first in range(start, stop, chunk):
        documents = [{"_id": ObjectId(), "database": "main", "contact": f"main:bg{n // 50}",
                      "type": TYPES[n % 3], "time": START + dt.timedelta(minutes=n),
                      "attributes": {}, "folded": {}} for n in range(first, min(stop, first + chunk))]
        await db.events.insert_many(documents, ordered=False)
    for index, kind in enumerate(TYPES):
        added = len(range(start + (index - start) % 3, stop, 3))
        await db.event_types.update_one(
            {"_id": f"main:{kind}"},
            {"$inc": {"count": added}, "$min": {"first": START},
             "$max": {"last": START + dt.timedelta(minutes=stop)},
             "$setOnInsert": {"database": "main", "type": kind}}, upsert=True)


async def _interrupted_import(db, tag: str, batch: int, contacts: int, old_format: bool) -> None:
    ids = [f"{tag}-{n}" for n in range(contacts)]
    await upsert_contacts(db, "main", [{"id": contact} for contact in ids])
    await track_events(db, "main", [
        {"id": f"{tag}-h{n}-{k}", "contact": contact, "type": TYPES[k % 3],
         "time": (START + dt.timedelta(hours=k)).isoformat()}
        for n, contact in enumerate(ids) for k in range(HISTORY)])
    ingest = EventIngest(db, "main")
    await ingest.add([{"id": f"{tag}-b{n}", "contact": ids[n % contacts], "type": TYPES[n % 3],
                       "time": (START + dt.timedelta(days=30, minutes=n)).isoformat()}
                      for n in range(batch)])
    change: dict = {"owner.pid": _dead_pid()}
    await db.summary_pending.update_many({}, {"$set": change} if not old_format else
                                         {"$set": change, "$unset": {"format": ""}})
    ingest.abandon()  # this process's bookkeeping: the marker is a dead process's now


async def _check(db) -> list[str]:
    problems = []
    expected: dict[str, int] = {}
    async for group in await db.events.aggregate([
            {"$match": {"database": "main"}}, {"$group": {"_id": "$type", "n": {"$sum": 1}}}]):
        expected[group["_id"]] = group["n"]
    async for record in db.event_types.find({"database": "main"}):
        if record["count"] != expected.get(record["type"]):
            problems.append(f"event_types {record['type']}: {record['count']}, "
                            f"events {expected.get(record['type'])}")
    async for contact in db.contacts.find({"database": "main"}, {"events": 1}):
        summaries = contact.get("events") or {}
        async for group in await db.events.aggregate([
                {"$match": {"contact": contact["_id"]}},
                {"$group": {"_id": "$type", "n": {"$sum": 1}}}]):
            stored = summaries.get(group["_id"], {}).get("count")
            if stored != group["n"]:
                problems.append(f"{contact['_id']} {group['_id']}: summary {stored}, "
                                f"events {group['n']}")
    if await db.summary_pending.count_documents({}):
        problems.append("markers left")
    return problems


async def main(sizes: list[int], batch: int, contacts: int, data: Path) -> int:
    settings = StoreSettings(data_dir=data, db_name="repair", query_timeout_ms=600_000)
    lease = await embedded.acquire(data)
    client = make_client(lease.uri, settings, direct=True)
    failures = 0
    try:
        db = client[settings.db_name]
        await prepare(db)
        rows = []
        filled = 0
        for size in sorted(sizes):
            await _fill(db, filled, size)
            filled = size
            timings = []
            for old_format in (False, True):
                tag = f"s{size}-{'old' if old_format else 'new'}"
                await _interrupted_import(db, tag, batch, contacts, old_format)
                started = time.perf_counter()
                repaired = await repair_interrupted(db)
                timings.append(time.perf_counter() - started)
                problems = await _check(db)
                if repaired != 1 or problems:
                    failures += 1
                    print(f"{tag}: repaired {repaired}, problems {problems[:3]}", file=sys.stderr)
            total = await db.events.count_documents({"database": "main"})
            rows.append((total, timings))
            print(f"{total:,} events: {timings[0]:.2f} s (batch), {timings[1]:.2f} s (older "
                  "marker, whole database)", file=sys.stderr, flush=True)
        print("| events in the database | interrupted batch | repair | repair, older "
              "marker (event types from all events) |")
        print("|---|---|---|---|")
        for total, (new, old) in rows:
            print(f"| {total:,} | {batch:,} events, {contacts} contacts ({HISTORY} events "
                  f"each before) | {new:.2f} s | {old:.2f} s |")
    finally:
        await client.close()
        await lease.aclose()
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batch-contacts", type=int, default=100)
    parser.add_argument("--data", type=Path, default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segmentql-repair-") as temporary:
        sys.exit(asyncio.run(main(arguments.sizes, arguments.batch, arguments.batch_contacts,
                                  arguments.data or Path(temporary))))
