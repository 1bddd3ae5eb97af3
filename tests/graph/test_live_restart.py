"""Restart safety of live segments: a server SIGKILLed while events stream in, and a sweep
SIGKILLed half-way; after a restart the maintained membership equals a fresh evaluation,
every change seen before the kill is still recorded (under the same id), and the changes
replay to the membership."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import threading
import time
import uuid

import httpx
from pymongo import AsyncMongoClient

from store.live.changes import changes_after
from store.live.clock import read_clock
from store.live.membership import member_ids
from store import query
from store.errors import SummariesRepairingError
from store.segments import Segment
from tests.conftest import drop_database
from tests.serving import SEGMENTQL, free_port, serve, wait_answering

KEY = "sqk_live-restart-" + uuid.uuid4().hex


class Server:
    def __init__(self, store_server: str, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.process = serve(store_server, name, KEY, self.port, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait_answering(self.process, self.port, timeout=60)

    def run(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(self.url, json={"query": query, "variables": variables or {}},
                              headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


async def _state(uri: str, name: str, segment_id: str):
    """(live members, fresh evaluation at the live time, change ids, replayed members)."""
    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client[name]
        segment = await db.segments.find_one({"_id": segment_id})
        now = (await read_clock(db, segment["database"])).now()
        prepared = await query.prepare_segment(db, Segment.from_document(segment), now=now)
        fresh = sorted([row["id"] async for row in query.members(prepared)])
        changes = await changes_after(db, segment_id, 0, 1_000_000)
        replayed: set[str] = set()
        for change in changes:
            (replayed.add if change.change == "entered" else replayed.discard)(change.contact)
        ids = [change.id for change in changes]
        assert len(ids) == len(set(ids))
        return await member_ids(db, segment_id), fresh, set(ids), sorted(replayed)
    finally:
        await client.close()


def _state_after_repair(uri: str, name: str, segment_id: str):
    """`_state` once the restarted server has repaired what the kill left: it repairs
    beside serving, and event conditions are refused (never answered wrongly) until then."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return asyncio.run(_state(uri, name, segment_id))
        except SummariesRepairingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_server_killed_while_events_stream_in_loses_nothing(store_server):
    name = f"test_{uuid.uuid4().hex[:20]}"
    server = Server(store_server, name)
    try:
        contacts = [{"id": f"k{n}"} for n in range(40)]
        server.run("mutation($c: [ContactInput!]!) { upsertContacts(contacts: $c) { stored } }",
                   {"c": contacts})
        server.run("""mutation { trackEvents(events: [{contact: "k0", type: "Buy",
                      time: "2020-01-01T00:00:00Z"}]) { stored } }""")
        segment = server.run("""mutation { createSegment(input: {name: "Repeat buyers",
            expression: "event Buy occurred at least 2 times"}) { segment { id } } }""")
        segment_id = segment["createSegment"]["segment"]["id"]
        acknowledged = []
        stop = threading.Event()

        def stream():
            n = 0
            while not stop.is_set():
                batch = [{"contact": f"k{(n + i) % 40}", "type": "Buy", "id": f"e{n + i}",
                          "time": "2021-01-01T00:00:00Z"} for i in range(7)]
                try:
                    server.run("mutation($e: [EventInput!]!) { trackEvents(events: $e) "
                               "{ stored } }", {"e": batch})
                except (httpx.TransportError, ValueError):
                    return
                acknowledged.append(batch)
                n += 7

        sender = threading.Thread(target=stream)
        sender.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = server.run("""query($id: ID!) { segment(id: $id) { changes(first: 200) {
            edges { node { id } } } } }""", {"id": segment_id})
        seen_ids = {edge["node"]["id"] for edge in seen["segment"]["changes"]["edges"]}
        server.kill()  # while batches are in flight
        stop.set()
        sender.join(30)
        assert acknowledged and seen_ids

        server = Server(store_server, name)  # the restart repairs what the kill left
        live, fresh, ids, replayed = _state_after_repair(store_server, name, segment_id)
        assert live == fresh
        assert replayed == live
        assert seen_ids <= ids
    finally:
        server.stop()
        drop_database(store_server, name)


def test_a_sweep_killed_half_way_is_completed_by_the_next(store_server, tmp_path):
    name = f"test_{uuid.uuid4().hex[:20]}"
    env = {**os.environ, "SEGMENTQL_MONGO_DB": name}
    base = dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc)
    try:
        contacts = tmp_path / "contacts.jsonl"
        contacts.write_text("".join(f'{{"id": "s{n}"}}\n' for n in range(300)))
        events = tmp_path / "events.jsonl"
        events.write_text("".join(
            f'{{"contact": "s{n}", "type": "Visit", "time": '
            f'"{(base + dt.timedelta(minutes=7 * n)).isoformat().replace("+00:00", "Z")}"}}\n'
            for n in range(300)))
        for kind, path in (("contacts", contacts), ("events", events)):
            subprocess.run([SEGMENTQL, "import", kind, str(path), "--mongo-uri", store_server],
                           env=env, check=True, capture_output=True)
        subprocess.run([SEGMENTQL, "segments", "create", "Visited today",
                        "event Visit occurred in last 1 days", "--mongo-uri", store_server],
                       env=env, check=True, capture_output=True)
        until = (base + dt.timedelta(days=3)).isoformat().replace("+00:00", "Z")
        sweep = [SEGMENTQL, "live", "sweep", "--now", until, "--mongo-uri", store_server]
        process = subprocess.Popen(sweep, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(6)  # past the store's opening, into the sweep (300 entries, 300 exits)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        # the dead sweeper's lease must expire before another process takes the database
        time.sleep(31)
        finished = subprocess.run(sweep, env=env, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        client_state = asyncio.run(_segment_state(store_server, name))
        live, fresh, ids, replayed = client_state
        assert live == fresh == []  # every visit left the 1-day window by then
        assert replayed == live
        assert len(ids) == 600  # each contact entered once and left once, recorded once
    finally:
        drop_database(store_server, name)


async def _segment_state(uri: str, name: str):
    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        segment = await client[name].segments.find_one({"name": "Visited today"})
    finally:
        await client.close()
    return await _state(uri, name, segment["_id"])
