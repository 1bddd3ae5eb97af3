"""Crash test of ingestion: events streamed through `trackEvents` while the server is killed.

    .venv/bin/python -m bench.bench_ingest_crash [--events 100000] [--batch 1000]
                                                 [--contacts 200] [--kills 5]
                                                 [--data-dir DIR (default: a new temp dir)]

A client sends `--events` events with event ids, in batches, each batch retried until the
server acknowledges it (HTTP 200 and a WriteResult accounting for every row). Meanwhile
the server (`segmentql serve` on the embedded store) is killed with SIGKILL `--kills` times,
at random moments, and started again each time; the embedded store itself keeps running
(this process holds it), as it would under a supervisor that restarts the API process.

Afterwards, with the server stopped, it checks from the store:
- every acknowledged event is stored exactly once (event ids are the `_id`s, so "once" is
  "present"; the total equals the number of distinct ids sent);
- every contact's per-type summary {count, first, last} equals what its stored events
  give (a killed server leaves a batch's summaries unapplied: its marker in
  `summary_pending` makes `repair_interrupted` recompute them when the next server opens
  the store), and so do the per-type records in `event_types`;
- no marker is left.
It exits 1 when a check fails. Loopback only; the run is bounded by `--max-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.serving import BENCH_KEY, Server

TYPES = ["MailOpen", "MailClick", "PageVisit", "product_purchased", "SmsClick"]
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TRACK = """mutation($events: [EventInput!]!) { trackEvents(events: $events) {
  stored duplicates rejected { index message } errors { message } } }"""
UPSERT = """mutation($contacts: [ContactInput!]!) { upsertContacts(contacts: $contacts) {
  stored rejected { message } errors { message } } }"""


def make_events(total: int, contacts: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for n in range(total):
        kind = rng.choice(TYPES)
        time = START + dt.timedelta(seconds=rng.randrange(180 * 86400))
        attributes = {"campaign": f"c{rng.randrange(10)}"} if kind.startswith(("Mail", "Sms")) \
            else {"url": f"/p{rng.randrange(20)}"} if kind == "PageVisit" \
            else {"price": rng.randrange(5, 500)}
        events.append({"id": f"crash-{n}", "contact": f"k{rng.randrange(contacts)}",
                       "type": kind, "time": time.isoformat().replace("+00:00", "Z"),
                       "attributes": attributes})
    return events


class Client:
    """Sends batches, each retried until acknowledged; counts what the server said."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.acknowledged: set[str] = set()
        self.retries = 0
        self.stored = 0
        self.duplicates = 0
        self.failures: list[str] = []
        self.done = threading.Event()

    def send(self, events: list[dict], batch: int, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {BENCH_KEY}"}
        with httpx.Client(headers=headers, timeout=120) as http:
            for start in range(0, len(events), batch):
                chunk = events[start:start + batch]
                while True:
                    if time.monotonic() > deadline:
                        self.failures.append("the run took longer than --max-seconds")
                        self.done.set()
                        return
                    try:
                        response = http.post(f"{self.server.url}/graphql", json={
                            "query": TRACK, "variables": {"events": chunk}})
                        body = response.json() if response.status_code == 200 else None
                    except (httpx.HTTPError, ValueError):
                        body = None
                    result = (body or {}).get("data", {}) or {}
                    result = result.get("trackEvents")
                    if result and not result["errors"] and not (body or {}).get("errors"):
                        if result["rejected"] or \
                                result["stored"] + result["duplicates"] != len(chunk):
                            self.failures.append(f"batch at {start}: {result}")
                        self.stored += result["stored"]
                        self.duplicates += result["duplicates"]
                        self.acknowledged.update(event["id"] for event in chunk)
                        break
                    self.retries += 1
                    time.sleep(0.2)
        self.done.set()


async def verify(data_dir: Path, sent_ids: set[str], acknowledged: set[str]) -> list[str]:
    from dsl.values import summary_key
    from store.connection import StoreSettings, open_store

    problems: list[str] = []
    async with open_store(StoreSettings(data_dir=data_dir)) as store:
        db = store.db
        stored_ids = set()
        async for document in db.events.find({"database": "main", "_id": {"$regex": "^main:crash-"}},
                                             {"_id": 1}):
            stored_ids.add(document["_id"].split(":", 1)[1])
        total = await db.events.count_documents({"database": "main"})
        missing = acknowledged - stored_ids
        if missing:
            problems.append(f"{len(missing)} acknowledged events are not stored, e.g. "
                            f"{sorted(missing)[:3]}")
        if stored_ids - sent_ids:
            problems.append(f"{len(stored_ids - sent_ids)} stored events were never sent")
        if total != len(stored_ids):
            problems.append(f"{total} events stored for {len(stored_ids)} distinct ids")

        expected: dict[tuple[str, str], tuple[int, dt.datetime, dt.datetime]] = {}
        async for group in await db.events.aggregate([
                {"$match": {"database": "main"}},
                {"$group": {"_id": {"c": "$contact", "t": "$type"}, "n": {"$sum": 1},
                            "first": {"$min": "$time"}, "last": {"$max": "$time"}}}]):
            expected[(group["_id"]["c"], group["_id"]["t"])] = (
                group["n"], group["first"], group["last"])
        names = {summary_key(kind): kind for kind in TYPES}
        actual = {}
        async for contact in db.contacts.find({"database": "main"}, {"events": 1}):
            for key, summary in (contact.get("events") or {}).items():
                actual[(contact["_id"], names.get(key, key))] = (
                    summary["count"], summary["first"], summary["last"])
        wrong = [key for key in set(expected) | set(actual)
                 if expected.get(key) != actual.get(key)]
        if wrong:
            key = wrong[0]
            problems.append(f"{len(wrong)} contact summaries differ from their events, e.g. "
                            f"{key}: stored {actual.get(key)}, events say {expected.get(key)}")
        async for record in db.event_types.find({"database": "main"}):
            counted = sum(value[0] for (contact, kind), value in expected.items()
                          if kind == record["type"])
            if record.get("count") != counted:
                problems.append(f"event_types {record['type']}: count {record.get('count')}, "
                                f"events {counted}")
        markers = await db.summary_pending.count_documents({})
        if markers:
            problems.append(f"{markers} summary markers left")
        print(f"stored events: {total} ({len(stored_ids)} distinct ids); contact summaries "
              f"checked: {len(expected)}")
    return problems


async def _hold(data_dir: Path):
    from store import embedded

    return await embedded.acquire(data_dir)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--events", type=int, default=100_000)
    arguments.add_argument("--batch", type=int, default=1000)
    arguments.add_argument("--contacts", type=int, default=200)
    arguments.add_argument("--kills", type=int, default=5)
    arguments.add_argument("--data-dir", type=Path)
    arguments.add_argument("--max-seconds", type=float, default=3600)
    arguments.add_argument("--seed", type=int, default=5)
    options = arguments.parse_args()
    if not 1 <= options.batch <= 5000 or not 0 <= options.kills <= 50:
        raise SystemExit("--batch 1..5000, --kills 0..50")
    data_dir = (options.data_dir or Path(tempfile.mkdtemp(prefix="segmentql-crash-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(options.seed)
    began = time.monotonic()
    deadline = began + options.max_seconds

    lease = asyncio.run(_hold(data_dir))  # the store outlives every server process
    server = Server(data_dir)
    try:
        server.start()
        contacts = [{"id": f"k{n}"} for n in range(options.contacts)]
        answer = httpx.post(f"{server.url}/graphql", headers={
            "Authorization": f"Bearer {BENCH_KEY}"}, json={
            "query": UPSERT, "variables": {"contacts": contacts}}, timeout=120).json()
        assert answer["data"]["upsertContacts"]["stored"] == options.contacts, answer
        events = make_events(options.events, options.contacts)
        client = Client(server)
        sender = threading.Thread(target=client.send, args=(events, options.batch, deadline),
                                  daemon=True)
        sender.start()
        kills, restart_seconds = 0, []
        # Kill points spread over the run by progress; a random delay after each point lands
        # the kill in the middle of a request (between a batch's insert and its summaries).
        points = sorted(rng.uniform(0.05, 0.95) * options.events for _ in range(options.kills))
        for point in points:
            while len(client.acknowledged) < point and not client.done.is_set():
                time.sleep(0.02)
            if client.done.is_set():
                break
            time.sleep(rng.uniform(0, 0.6))
            server.kill()
            kills += 1
            print(f"  killed the server ({kills}/{options.kills}) with "
                  f"{len(client.acknowledged)} events acknowledged", flush=True)
            started = time.monotonic()
            server.start()
            restart_seconds.append(time.monotonic() - started)
        sender.join(max(1.0, deadline - time.monotonic()))
        server.stop()
        elapsed = time.monotonic() - began
        sent_ids = {event["id"] for event in events}
        problems = list(client.failures)
        if len(client.acknowledged) != len(sent_ids):
            problems.append(f"only {len(client.acknowledged)} of {len(sent_ids)} events were "
                            "acknowledged")
        problems += asyncio.run(verify(data_dir, sent_ids, client.acknowledged))
    finally:
        server.stop()
        lease.release()

    print(f"\nevents sent: {options.events} in batches of {options.batch} over "
          f"{options.contacts} contacts; server killed {kills} times")
    print(f"acknowledged: {len(client.acknowledged)}; reported stored {client.stored}, "
          f"duplicates {client.duplicates} (retried batches); failed attempts retried: "
          f"{client.retries}")
    if restart_seconds:
        print(f"restart to ready: median {sorted(restart_seconds)[len(restart_seconds) // 2]:.1f} s")
    print(f"elapsed {elapsed:.0f} s ({options.events / elapsed:.0f} events/s including the "
          "restarts); data in " + str(data_dir))
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("OK: every acknowledged event stored exactly once; summaries match the events")


if __name__ == "__main__":
    main()
