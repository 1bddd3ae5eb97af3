"""Memory and time of streaming a segment's members: CSV export and a campaign send.

    .venv/bin/python bench/bench_segments.py [--contacts 100000]

Loads N contacts (batches of 5 000 through `upsert_contacts`) into a fresh database on the
embedded store (in a temporary folder; or on SEGMENTQL_MONGO_URI when set), saves two
segments of 10 % and 50 % of them, and for each one exports the members as CSV and sends an
email campaign to them. Each step is run twice: once for wall time, once under tracemalloc
for the peak of Python allocations; the peak RSS of the step (Linux: VmHWM after resetting it
through /proc/self/clear_refs) is reported too, and its growth over the RSS the step started
with (the step's own footprint: the starting RSS also holds what earlier work, such as
building the live membership of a new segment, left in the allocator). Flat memory means the 50 % figures match the
10 % ones while the work grows five-fold. Figures are written down in docs/segments.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from dsl.schema import FieldType
from store.campaigns import create_campaign, send_campaign
from store.connection import StoreSettings, open_store
from store.contacts import upsert_contacts
from store.exports import export_csv
from store.fields import define_field
from store.segments import create_segment

BATCH = 5_000
ACTOR = "bench"
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
CITIES = ["Krakow", "Warsaw", "Gdansk", "Poznan", "Wroclaw, PL", 'Lodz "centre"']


def _contact(n: int) -> dict:
    fields: dict = {"City": CITIES[n % len(CITIES)], "Age": 18 + n % 100,
                    "Signup": f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z",
                    "Newsletter": n % 3 == 0, "FirstName": f"Name{n}"}
    if n % 10:  # one in ten has no Email: the email send skips them
        fields["Email"] = f"user{n}@example.com"
    return {"id": f"u{n:07d}", "fields": fields, "lists": ["Bench"] if n % 7 == 0 else []}


async def _load(db, database: str, contacts: int) -> float:
    for name, kind in [("City", FieldType.TEXT), ("Age", FieldType.NUMBER),
                       ("Signup", FieldType.DATE), ("Newsletter", FieldType.BOOLEAN)]:
        await define_field(db, database, name, kind)
    started = time.perf_counter()
    for start in range(0, contacts, BATCH):
        report = await upsert_contacts(db, database, [_contact(n) for n in
                                                      range(start, min(start + BATCH, contacts))])
        assert not report.rejected, report.rejected[:3]
    return time.perf_counter() - started


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(key: str) -> float | None:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


async def _export(db, segment_id: str) -> int:
    rows = 0
    async for text in export_csv(db, segment_id, now=NOW, actor=ACTOR):
        rows += text.count("\r\n")  # consumed and dropped, as a file or socket would
    return rows - 1


async def _send(db, segment_id: str) -> int:
    campaign = await create_campaign(db, name=f"Send {uuid.uuid4().hex[:8]}", channel="email",
                                     segment_id=segment_id, actor=ACTOR)
    return (await send_campaign(db, campaign.id, now=NOW, actor=ACTOR)).recipient_count


async def _measure(step) -> tuple[float, int, float, float | None, float | None]:
    """(wall seconds, result, tracemalloc peak MB, peak RSS MB, the peak's growth over the
    RSS the step started with, MB). The growth is the step's own footprint: the RSS it
    starts from also holds what earlier work left (the allocator keeps freed arenas)."""
    started = time.perf_counter()
    result = await step()
    wall = time.perf_counter() - started
    reset = _reset_peak_rss()
    before = _status_mb("VmRSS")
    tracemalloc.start()
    await step()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    high = _status_mb("VmHWM") if reset else None
    return wall, result, peak, high, (high - before if high is not None and before is not None
                                      else None)


async def main(contacts: int) -> None:
    uri = os.environ.get("SEGMENTQL_MONGO_URI", "").strip() or None
    with tempfile.TemporaryDirectory(prefix="segmentql-bench-") as folder:
        settings = StoreSettings(mongo_uri=uri, data_dir=Path(folder),
                                 db_name=f"bench_{uuid.uuid4().hex[:12]}",
                                 query_timeout_ms=120_000)
        async with open_store(settings) as store:
            try:
                db = store.db
                load = await _load(db, "main", contacts)
                print(f"loaded {contacts:,} contacts in {load:.1f} s "
                      f"({contacts / load:,.0f} contacts/s)")
                print(f"{'members':>8} {'step':<7} {'wall s':>7} {'rows/s':>8} "
                      f"{'py peak MB':>10} {'RSS peak MB':>11} {'RSS growth MB':>13}")
                for share in (10, 50):
                    segment = await create_segment(db, name=f"Age {share}%",
                                                   expression=f"Age < {18 + share}",
                                                   actor=ACTOR)
                    for step_name, step in (("export", _export), ("send", _send)):
                        wall, result, peak, rss, growth = await _measure(
                            lambda step=step: step(db, segment.id))
                        members = contacts * share // 100
                        rss_text = (f"{rss:11.1f} {growth:13.1f}" if rss is not None
                                    else f"{'n/a':>11} {'n/a':>13}")
                        print(f"{members:>8,} {step_name:<7} {wall:7.2f} "
                              f"{members / wall:8,.0f} {peak:10.1f} {rss_text}"
                              + (f"   ({result:,} recipients)" if step_name == "send" else ""))
            finally:
                await store.client.drop_database(settings.db_name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().contacts))
