"""Live segments: the maintained count against a fresh evaluation, event ingestion with and
without live segments, and the time from trackEvents acknowledged to the webhook.

    .venv/bin/python bench/bench_live.py [--contacts 100000] [--ingest-contacts 3000]
                                         [--latency-samples 40]
    .venv/bin/python bench/bench_live.py --parts latency-load [--load-clients 50]
                                         [--load-duration 90] [--load-data-dir DIR]

1. count: N contacts (batches of 5 000), a saved segment of about 10 % of them; the median
   of `count_segment` without `now` (the maintained membership: what `Segment.count` without
   `now` runs) over 50 calls, against the median of 3 fresh evaluations (`now` given).
2. ingestion: two fresh databases of the same store get the demo's contacts and events
   (cli/demo.py); one then gets 20 live segments (the demo's 8 and 12 more of the same
   kinds). A second wave of demo-like events for the same contacts is tracked into each in
   batches of 500 through `track_events`, the two databases in turn batch by batch (so the
   machine's drift weighs on both alike): events per second of each, and their ratio;
   `--ingest-runs` runs (default 3), each on fresh databases, and the median ratio.
3. latency: a server (uvicorn on 127.0.0.1, live tasks on) and a webhook receiver on
   127.0.0.1; each sample is one trackEvents request that makes one contact enter a segment;
   the time from sending it (an upper bound of "from its answer": the entry is often
   delivered before the answer arrives) to the receiver getting that contact's entry.

4. latency-load: the same measure on the demo data (`segmentql demo`, 3,000 contacts, in
   `--load-data-dir`, kept between runs) served by `segmentql serve`, while the 50 clients of
   bench/bench_graphql_load.py send their mixed load (30 % previews, 50 % segment reads, 20 %
   trackEvents) for `--load-duration` seconds. A sample is sent every 1.5 s from the
   10th second on, each from its own task (a trackEvents answer takes seconds under this
   load): its time from the answer (trackEvents acknowledged) to the receiver getting the
   entry, 0 when the entry came first, and from sending it. Entries still missing 30 s
   after the load ends count as lost.

Parts 1-3 run on the embedded store in a temporary folder (or SEGMENTQL_MONGO_URI when set). Figures are
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
import sys
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


async def _timed_batch(db, database: str, events: list[dict]) -> float:
    started = time.perf_counter()
    report = await track_events(db, database, events)
    assert not report.rejected, report.rejected[:2]
    return time.perf_counter() - started


async def bench_ingest(db, contacts: int, runs: int) -> None:
    """Each run: two fresh databases (one with 20 live segments), their second waves tracked
    batch by batch in turn, so that the machine's drift weighs on both alike."""
    ratios = []
    for run in range(runs):
        plain_db, live_db = f"plain{run}", f"live{run}"
        plain = await _demo_data(db, plain_db, contacts)
        live = await _demo_data(db, live_db, contacts)
        for definition in DEMO_SEGMENTS:
            await create_segment(db, database=live_db, actor=ACTOR, **definition)
        for n, expression in enumerate(MORE_SEGMENTS):
            await create_segment(db, database=live_db, name=f"More {n}", expression=expression,
                                 actor=ACTOR)
        without = with_live = 0.0
        for start in range(0, len(plain), EVENT_BATCH):
            without += await _timed_batch(db, plain_db, plain[start:start + EVENT_BATCH])
            with_live += await _timed_batch(db, live_db, live[start:start + EVENT_BATCH])
        ratios.append(without / with_live)
        print(f"ingestion run {run + 1}: {len(plain):,} more events over {contacts:,} demo "
              f"contacts (their events loaded first), batches of {EVENT_BATCH}, in turn: no "
              f"live segments {len(plain) / without:,.0f} events/s; 20 live segments "
              f"{len(live) / with_live:,.0f} events/s; ratio {ratios[-1]:.2f}")
    print(f"ingestion: ratio median {statistics.median(ratios):.2f} over {runs} runs "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


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


def bench_latency_under_load(data_dir: Path, clients: int, duration: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script
    from bench.bench_graphql_load import CONTACTS, Target, load, segment_ids, summary
    from bench.serving import BENCH_KEY, Server, run_demo
    from store import embedded

    run_demo(data_dir, CONTACTS)
    lease = asyncio.run(embedded.acquire(data_dir))
    server = Server(data_dir)
    server.start()
    receiver = _Receiver()
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    url = f"{server.url}/graphql"
    try:
        with httpx.Client(headers=headers, timeout=120) as client:
            def graphql(text: str, variables: dict | None = None) -> dict:
                body = client.post(url, json={"query": text, "variables": variables or {}}).json()
                assert "errors" not in body, body
                return body["data"]

            samples = int((duration - 10) / 1.5)
            ids = [f"lat-{run}-{n}" for n in range(samples)]
            graphql("mutation($c: [ContactInput!]!) { upsertContacts(contacts: $c) { stored } }",
                    {"c": [{"id": contact} for contact in ids]})
            graphql('mutation($e: [EventInput!]!) { trackEvents(events: $e) { stored } }',
                    {"e": [{"contact": ids[0], "type": "Ping", "time": "2020-01-01T00:00:00Z"}]})
            created = graphql('mutation($n: String!) { createSegment(input: {name: $n, '
                              'expression: "event Ping occurred in last 1 days"}) '
                              '{ segment { id } errors { message } } }',
                              {"n": f"Pinged lately {run}"})["createSegment"]
            segment = created["segment"]["id"]
            webhook = graphql("mutation($s: ID!, $u: String!) { createWebhook(segmentId: $s, "
                              "url: $u, secret: \"x\") { webhook { id } errors { message } } }",
                              {"s": segment, "u": receiver.url})["createWebhook"]["webhook"]["id"]
            load_ids = segment_ids(server.url)
        sent: dict[str, float] = {}
        answered: dict[str, float] = {}

        async def sample(contact: str, http: httpx.AsyncClient) -> None:
            moment = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
            sent[contact] = time.perf_counter()
            response = await http.post(url, json={
                "query": "mutation($e: [EventInput!]!) { trackEvents(events: $e) { stored } }",
                "variables": {"e": [{"contact": contact, "type": "Ping", "time": moment}]}})
            assert response.json()["data"]["trackEvents"]["stored"] == 1, response.text
            answered[contact] = time.perf_counter()

        async def sampler() -> None:
            async with httpx.AsyncClient(headers=headers, timeout=300) as http:
                await asyncio.sleep(10)
                tasks = []
                for contact in ids:
                    tasks.append(asyncio.create_task(sample(contact, http)))
                    await asyncio.sleep(1.5)
                await asyncio.gather(*tasks)

        async def both():
            return (await asyncio.gather(load(Target(server.url, True), clients=clients,
                                              duration=duration, segment_ids=load_ids,
                                              run=f"live-{run}"), sampler()))[0]

        result = asyncio.run(both())
        deadline = time.perf_counter() + 30
        while len(receiver.arrivals) < len(ids) and time.perf_counter() < deadline:
            time.sleep(0.05)
        with httpx.Client(headers=headers, timeout=120) as client:
            client.post(url, json={"query": "mutation($w: ID!) { deleteWebhook(id: $w) "
                                            "{ errors { message } } }", "variables": {"w": webhook}})
            client.post(url, json={"query": "mutation($s: ID!) { deleteSegment(id: $s) "
                                            "{ errors { message } } }", "variables": {"s": segment}})
    finally:
        server.stop()
        lease.release()
        receiver.server.shutdown()
    row = summary("GraphQL (segmentql serve)", result)
    lost = [contact for contact in ids if contact not in receiver.arrivals]
    got = [contact for contact in ids if contact in receiver.arrivals]
    from_answer = sorted(max(0.0, receiver.arrivals[c] - answered[c]) for c in got)
    from_sent = sorted(receiver.arrivals[c] - sent[c] for c in got)
    first = sum(1 for c in got if receiver.arrivals[c] < answered[c])

    def pct(values: list[float], q: float) -> str:
        if not values:
            return "n/a"
        return f"{values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000:.0f} ms"

    track = row["per_operation"].get("track", (0, float("nan"), float("nan")))
    print(f"load: {clients} clients, {duration:.0f} s: {row['requests']} requests, "
          f"{row['errors']} errors, {row['rps']:.1f} requests/s; their trackEvents "
          f"p50 {track[1]:.0f} ms, p99 {track[2]:.0f} ms")
    print(f"latency under load: {len(ids)} samples, {len(got)} entries received, "
          f"{len(lost)} lost; trackEvents acknowledged -> webhook received: "
          f"p50 {pct(from_answer, 0.5)}, p99 {pct(from_answer, 0.99)} ({first} entries came "
          f"before the answer, counted 0); sent -> received: p50 {pct(from_sent, 0.5)}, "
          f"p99 {pct(from_sent, 0.99)}")
    for problem in row["first_errors"]:
        print(f"load error: {problem}")


async def _with_store(settings: StoreSettings, work) -> None:
    async with open_store(settings) as store:
        await work(store.db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--ingest-contacts", type=int, default=3_000)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--ingest-runs", type=int, default=3)
    parser.add_argument("--parts", default="count,ingest,latency",
                        help="which measurements, comma-separated: count, ingest, latency "
                             "(needs count's data), latency-load")
    parser.add_argument("--load-clients", type=int, default=50)
    parser.add_argument("--load-duration", type=float, default=90)
    parser.add_argument("--load-data-dir", type=Path, default=Path("/tmp/bench-live-load-data"))
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "latency-load" in parts:
        bench_latency_under_load(args.load_data_dir.resolve(), args.load_clients,
                                 args.load_duration)
        parts.discard("latency-load")
        if not parts:
            return
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
                                        lambda db: bench_ingest(db, args.ingest_contacts,
                                                                     args.ingest_runs)))
            if "latency" in parts:
                bench_latency(settings, args.latency_samples)
        finally:
            asyncio.run(_with_store(settings, lambda db: db.client.drop_database(
                settings.db_name)))


if __name__ == "__main__":
    main()
