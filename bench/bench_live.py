"""Live segments: the maintained count against a fresh evaluation, event ingestion with and
without live segments, and the time from trackEvents acknowledged to the webhook.

    .venv/bin/python bench/bench_live.py [--contacts 100000] [--ingest-contacts 3000]
                                         [--latency-samples 40]

1. count: N contacts (batches of 5 000), a saved segment of about 10 % of them; the median
   of `count_segment` without `now` (the maintained membership: what `Segment.count` without
   `now` runs) over 50 calls, against the median of 3 fresh evaluations (`now` given).
2. ingestion: two fresh databases of the same store get the demo's contacts and events
   (cli/demo.py); one then gets 20 live segments (the demo's 8 and 12 more of the same
   kinds). A second wave of demo-like events for the same contacts is tracked into each in
   batches of 500 through `track_events`: events per second of each, and their ratio.
3. latency: a server (uvicorn on 127.0.0.1, live tasks on) and a webhook receiver on
   127.0.0.1; each sample is one trackEvents request that makes one contact enter a segment;
   the time from sending it (an upper bound of "from its answer": the entry is often
   delivered before the answer arrives) to the receiver getting that contact's entry.

On the embedded store in a temporary folder (or SEGMENTQL_MONGO_URI when set). Figures are
written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from cli.demo import FIELDS as DEMO_FIELDS
from cli.demo import SEGMENTS as DEMO_SEGMENTS
from cli.demo import SEED, make_contact, make_events
from dsl.schema import FieldType
from store.connection import StoreSettings, open_store
from store.contacts import upsert_contacts
from store.events import track_events
from store.fields import define_field, ensure_database
from store.lists import ensure_list
from store.segment_runs import count_segment
from store.segments import create_segment

ACTOR = "bench"
BATCH = 5_000
EVENT_BATCH = 500
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
MORE_SEGMENTS = [
    "event MailClick occurred at least 2 times in last 30 days",
    "event PageVisit occurred in last 7 days",
    'visited url contains "/docs" in last 30 days',
    "event product_purchased occurred where category equals \"shoes\"",
    'City equals "Warsaw"',
    "Age > 40 and Newsletter is true",
    'Plan equals "pro"',
    "event SmsClick occurred in last 60 days",
    "event PushClick did not occur in last 30 days",
    'in list "VIP"',
    "event cart_abandoned occurred at least 1 times in last 14 days",
    "event MailOpen occurred at least 5 times in last 90 days",
]


def _contact(n: int) -> dict:
    return {"id": f"u{n:07d}", "fields": {"Age": 18 + n % 100, "City": ["Krakow", "Warsaw"][n % 2]}}


async def bench_count(db, contacts: int) -> None:
    await ensure_database(db, "count")
    await define_field(db, "count", "Age", FieldType.NUMBER)
    await define_field(db, "count", "City", FieldType.TEXT)
    started = time.perf_counter()
    for start in range(0, contacts, BATCH):
        await upsert_contacts(db, "count", [_contact(n) for n in
                                            range(start, min(start + BATCH, contacts))])
    print(f"count: loaded {contacts:,} contacts in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    segment = await create_segment(db, name="Young", expression="Age < 28", database="count",
                                   actor=ACTOR)
    print(f"count: saved (and built) a {contacts // 10:,}-member segment in "
          f"{time.perf_counter() - started:.1f} s")
    live, fresh = [], []
    for _ in range(50):
        started = time.perf_counter()
        live_count = await count_segment(db, segment.id, now=dt.datetime.now(dt.timezone.utc),
                                         maintained=True, actor=ACTOR)
        live.append(time.perf_counter() - started)
    for _ in range(3):
        started = time.perf_counter()
        fresh_count = await count_segment(db, segment.id, now=dt.datetime.now(dt.timezone.utc),
                                          actor=ACTOR)
        fresh.append(time.perf_counter() - started)
    assert live_count == fresh_count, (live_count, fresh_count)
    print(f"count: Segment.count without now (maintained): median "
          f"{statistics.median(live) * 1000:.1f} ms; fresh evaluation: median "
          f"{statistics.median(fresh) * 1000:.0f} ms ({live_count:,} members)")


async def _demo_data(db, database: str, contacts: int) -> list[dict]:
    """The demo's contacts and events loaded; returns a second wave of events for the same
    contacts (what the measured ingestion tracks)."""
    await ensure_database(db, database)
    for name, kind in DEMO_FIELDS.items():
        await define_field(db, database, name, kind)
    for name in ("VIP", "Beta testers"):
        await ensure_list(db, database, name, actor=ACTOR)
    rng = random.Random(SEED)
    anchor = dt.datetime.now(dt.timezone.utc)
    rows = [make_contact(rng, n, anchor) for n in range(contacts)]
    for start in range(0, len(rows), 1000):
        await upsert_contacts(db, database, rows[start:start + 1000])
    first = [event for n in range(contacts) for event in make_events(rng, n, anchor)]
    for start in range(0, len(first), 2000):
        await track_events(db, database, first[start:start + 2000])
    wave = random.Random(SEED + 1)
    return [dict(event, id=f"wave-{n}") for n, event in enumerate(
        event for n in range(contacts) for event in make_events(wave, n, anchor))]


async def _ingest(db, database: str, events: list[dict]) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), EVENT_BATCH):
        report = await track_events(db, database, events[start:start + EVENT_BATCH])
        assert not report.rejected, report.rejected[:2]
    return len(events) / (time.perf_counter() - started)


async def bench_ingest(db, contacts: int) -> None:
    plain = await _demo_data(db, "plain", contacts)
    live = await _demo_data(db, "live", contacts)
    for definition in DEMO_SEGMENTS:
        await create_segment(db, database="live", actor=ACTOR, **definition)
    for n, expression in enumerate(MORE_SEGMENTS):
        await create_segment(db, database="live", name=f"More {n}", expression=expression,
                             actor=ACTOR)
    without = await _ingest(db, "plain", plain)
    with_live = await _ingest(db, "live", live)
    print(f"ingestion: {len(plain):,} more events over {contacts:,} demo contacts (their "
          f"events loaded first), batches of {EVENT_BATCH}: no live segments "
          f"{without:,.0f} events/s; 20 live segments {with_live:,.0f} events/s; "
          f"ratio {with_live / without:.2f}")


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                now = time.perf_counter()
                for change in body["changes"]:
                    receiver.arrivals.setdefault(change["contact"], now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def bench_latency(settings: StoreSettings, samples: int) -> None:
    import socket

    import uvicorn

    from graph.app import create_app

    key = "sqk_bench-live-" + uuid.uuid4().hex
    app = create_app(settings, dev_key=key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/graphql"
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def run(query: str, variables: dict | None = None) -> dict:
        body = client.post(url, json={"query": query, "variables": variables or {}}).json()
        assert "errors" not in body, body
        return body["data"]

    receiver = _Receiver()
    ids = [f"w{n}" for n in range(samples)]
    run("mutation($c: [ContactInput!]!) { upsertContacts(database: \"count\", contacts: $c) "
        "{ stored } }", {"c": [{"id": contact} for contact in ids]})
    run('mutation { trackEvents(database: "count", events: [{contact: "w0", type: "Ping", '
        'time: "2020-01-01T00:00:00Z"}]) { stored } }')
    segment = run('mutation { createSegment(input: {database: "count", name: "Pinged lately", '
                  'expression: "event Ping occurred in last 1 days"}) { segment { id } '
                  'errors { message } } }')["createSegment"]["segment"]["id"]
    run("mutation($s: ID!, $u: String!) { createWebhook(segmentId: $s, url: $u, secret: \"x\") "
        "{ errors { message } } }", {"s": segment, "u": receiver.url})
    latencies = []
    for contact in ids:
        moment = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        sent = time.perf_counter()
        run("mutation($e: [EventInput!]!) { trackEvents(database: \"count\", events: $e) "
            "{ stored } }", {"e": [{"contact": contact, "type": "Ping", "time": moment}]})
        deadline = time.perf_counter() + 30
        while contact not in receiver.arrivals and time.perf_counter() < deadline:
            time.sleep(0.002)
        # measured from the request's start: the entry often arrives before the answer
        latencies.append(receiver.arrivals.get(contact, float("inf")) - sent)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"latency: trackEvents sent -> webhook received, {samples} samples: "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    server.should_exit = True
    thread.join(30)
    receiver.server.shutdown()


async def _with_store(settings: StoreSettings, work) -> None:
    async with open_store(settings) as store:
        await work(store.db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--ingest-contacts", type=int, default=3_000)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--parts", default="count,ingest,latency",
                        help="which measurements, comma-separated (latency needs count's data)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    uri = os.environ.get("SEGMENTQL_MONGO_URI", "").strip() or None
    with tempfile.TemporaryDirectory(prefix="segmentql-bench-live-") as folder:
        settings = StoreSettings(mongo_uri=uri, data_dir=Path(folder),
                                 db_name=f"bench_{uuid.uuid4().hex[:12]}",
                                 query_timeout_ms=300_000)
        try:
            if parts & {"count", "latency"}:
                asyncio.run(_with_store(settings, lambda db: bench_count(db, args.contacts)))
            if "ingest" in parts:
                asyncio.run(_with_store(settings,
                                        lambda db: bench_ingest(db, args.ingest_contacts)))
            if "latency" in parts:
                bench_latency(settings, args.latency_samples)
        finally:
            asyncio.run(_with_store(settings, lambda db: db.client.drop_database(
                settings.db_name)))


if __name__ == "__main__":
    main()
